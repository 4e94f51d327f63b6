"""Server-rendered pages: home, agent inbox, the widget frame and the demo host page."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.views.decorators.clickjacking import xframe_options_exempt

from helpdesk import payloads, selectors, tokens
from helpdesk.models import Site
from notifications import services as notification_services


def home(request: HttpRequest) -> HttpResponse:
    links = [
        {"title": "Agent inbox", "url": "/inbox/", "description": "Answer visitors."},
        {
            "title": "Back office",
            "url": "/admin/",
            "description": "Sites, groups, agents, conversations.",
        },
        {"title": "Demo page", "url": "/demo/", "description": "A shop page with the chat widget."},
    ]
    return render(request, "helpdesk/home.html", {"links": links})


@login_required
def inbox(request: HttpRequest, conversation_id: str | None = None) -> HttpResponse:
    agent = selectors.agent_for_user(request.user)
    if agent is None:
        return render(request, "helpdesk/not_agent.html", status=403)
    selected, messages = None, []
    if conversation_id is not None:
        conversation = selectors.conversation_for_agent(agent, conversation_id)
        if conversation is None:
            raise Http404("No such conversation in your inbox.")
        selected = selectors.conversation_summary(conversation.id)
        messages = [
            payloads.message(m, audience="agent")
            for m in selectors.messages_after(conversation.id, 0)
        ]
    initial = {
        "agent": {"id": agent.id, "name": agent.display_name},
        "conversations": selectors.agent_inbox(agent),
        "selected": selected,
        "messages": messages,
        "ws_path": "/ws/agent/",
        "max_body": settings.MESSAGE_MAX_CHARS,
        "targets": selectors.transfer_targets(agent),
        **selectors.center_context(agent),
        "push": notification_services.push_config(),
    }
    return render(request, "helpdesk/inbox.html", {"agent": agent, "initial": initial})


@xframe_options_exempt
def widget(request: HttpRequest) -> HttpResponse:
    site = selectors.site_by_key(request.GET.get("site_key", ""))
    if site is None:
        raise Http404("No site has this widget key.")
    config = {
        "site_key": site.widget_key,
        "ws_path": "/ws/visitor/",
        "max_body": settings.MESSAGE_MAX_CHARS,
        "site_name": site.name,
        "greeting": site.greeting,
        "color": site.color,
        "push": notification_services.push_config(),
    }
    context = {
        "site": site,
        "ws_path": "/ws/visitor/",
        "max_body": settings.MESSAGE_MAX_CHARS,
        "config": config,
    }
    response = render(request, "helpdesk/widget.html", context)
    # Only the site's own pages (and ours, for the demo) may frame its widget.
    response.frame_ancestors = " ".join(["'self'", *site.origins()]) if site.origins() else "*"  # type: ignore[attr-defined]
    return response


def demo(request: HttpRequest) -> HttpResponse:
    site = Site.objects.order_by("created_at").first()
    if site is None:
        raise Http404(
            "No site yet: run `make run` (it seeds a demo) or add one in the back office."
        )
    embed_src = request.build_absolute_uri(static("helpdesk/embed.js"))
    return render(request, "helpdesk/demo.html", {"site": site, "embed_src": embed_src})


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    visitor = notification_services.visitor_email_verify(token=token)
    return render(
        request,
        "helpdesk/email_verified.html",
        {"ok": visitor is not None, "site": visitor.site if visitor else None},
        status=200 if visitor else 400,
    )


def resume(request: HttpRequest, token: str) -> HttpResponse:
    """The link in a follow-up email. GET only shows a button (mail scanners follow links,
    and this link works once); the POST uses it up and swaps it for a fresh visitor token
    kept by the widget on this device (the token itself never goes into a URL)."""
    if request.method == "POST":
        visitor = notification_services.resume_redeem(token=token)
    else:
        visitor = notification_services.resume_visitor(token=token)
    if visitor is None:
        return render(
            request, "helpdesk/email_verified.html", {"ok": False, "expired": True}, status=400
        )
    context: dict[str, object] = {"site": visitor.site}
    if request.method == "POST":
        fresh = tokens.issue(site_id=visitor.site_id, visitor_id=visitor.id)
        context["resume"] = {"site_key": visitor.site.widget_key, "token": fresh}
    response = render(request, "helpdesk/resume.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
