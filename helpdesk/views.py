"""Server-rendered pages: home, agent inbox, the widget frame and the demo host page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import URLPattern
from django.views.decorators.clickjacking import xframe_options_exempt

from helpdesk import access, payloads, selectors, tokens
from helpdesk.env import webhooks_signed
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
    actor = access.actor_for(request.user) if agent is not None else None
    if agent is None or actor is None:
        return render(request, "helpdesk/not_agent.html", status=403)
    selected, messages = None, []
    if conversation_id is not None:
        conversation = access.conversation_for(actor, conversation_id)
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
        **selectors.center_context(actor),
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
        "satisfaction": site.satisfaction,
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


def signed_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An email provider's webhook, answered only when it can be authenticated (a secret or
    the provider's signing key is set): else 400 and nothing is read."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not webhooks_signed(settings.ANYMAIL):
            return HttpResponseBadRequest("Email webhooks are off: no webhook secret is set.")
        return view(request, *args, **kwargs)

    return guarded


def signed_webhooks() -> list[URLPattern]:
    """django-anymail's webhook URLs, each behind ``signed_webhook``."""
    from anymail import urls

    return [
        URLPattern(p.pattern, signed_webhook(p.callback), p.default_args, p.name)
        for p in urls.urlpatterns
        if isinstance(p, URLPattern)
    ]


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


def resume(request: HttpRequest, token: str = "") -> HttpResponse:
    """The link in a follow-up email, ``/r/#<token>``: the token rides in the fragment, which
    browsers never send, so no server, proxy or access log sees it. GET shows a button (mail
    scanners follow links, and this link works once; a script copies the fragment into the
    form); the POST uses it up and swaps it for a fresh visitor token kept by the widget on
    this device. ``/r/<token>/`` (links sent before) works the same way."""
    if request.method == "POST":
        visitor = notification_services.resume_redeem(
            token=token or str(request.POST.get("token", ""))
        )
    elif token:
        visitor = notification_services.resume_visitor(token=token)
    else:
        visitor = None  # the fragment is read in the page: nothing to check yet
    if visitor is None and (token or request.method == "POST"):
        return render(
            request, "helpdesk/email_verified.html", {"ok": False, "expired": True}, status=400
        )
    context: dict[str, object] = {"site": visitor.site if visitor else None}
    if request.method == "POST" and visitor is not None:
        fresh = tokens.issue(site_id=visitor.site_id, visitor_id=visitor.id)
        context["resume"] = {"site_key": visitor.site.widget_key, "token": fresh}
    response = render(request, "helpdesk/resume.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
