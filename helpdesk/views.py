"""Server-rendered pages: home, agent inbox, the widget frame and the demo host page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import URLPattern, reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET
from django.views.i18n import JavaScriptCatalog

from helpdesk import access, files, i18n, payloads, selectors, tokens
from helpdesk.env import webhooks_signed
from helpdesk.models import Attachment, Site
from notifications import services as notification_services
from routing import selectors as routing_selectors
from routing.hours import is_open as hours_is_open
from routing.hours import next_open


def home(request: HttpRequest) -> HttpResponse:
    links = [
        {"title": _("Agent inbox"), "url": "/inbox/", "description": _("Answer visitors.")},
        {
            "title": _("Back office"),
            "url": "/admin/",
            "description": _("Sites, groups, agents, conversations."),
        },
        {
            "title": _("Demo page"),
            "url": "/demo/",
            "description": _("A shop page with the chat widget."),
        },
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
            raise Http404(_("No such conversation in your inbox."))
        history = selectors.agent_history(actor, conversation.id, 0)
        selected, messages = history["conversation"], history["messages"]
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
        "attachments": files.limits(),
    }
    return render(request, "helpdesk/inbox.html", {"agent": agent, "initial": initial})


@xframe_options_exempt
def widget(request: HttpRequest) -> HttpResponse:
    site = selectors.site_by_key(request.GET.get("site_key", ""))
    if site is None:
        raise Http404(_("No site has this widget key."))
    # The visitor's language (their browser's), and the site's words in it.
    words = site.words(translation.get_language() or settings.LANGUAGE_CODE)
    config = {
        "site_key": site.widget_key,
        "ws_path": "/ws/visitor/",
        "max_body": settings.MESSAGE_MAX_CHARS,
        "site_name": site.name,
        "greeting": words["greeting"],
        "offline_text": words["offline"],
        "color": site.color,
        # When the site's team is next in (None: open now, or no hours set): the widget says
        # so in the visitor's own time before they have written anything.
        "next_open_at": payloads.iso(_next_open(site)),
        "satisfaction": site.satisfaction,
        "push": notification_services.push_config(),
        "attachments": files.limits(),
        # Whether the site's agents see a draft before it is sent: else none is sent.
        "typing_preview": site.typing_preview,
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


def _next_open(site: Site) -> datetime | None:
    hours = routing_selectors.team_hours(site.default_group_id, site.id)
    now = timezone.now()
    if hours is None or hours_is_open(hours, now):
        return None
    return next_open(hours, now)


def demo(request: HttpRequest) -> HttpResponse:
    site = Site.objects.order_by("created_at").first()
    if site is None:
        raise Http404(
            _("No site yet: run `make run` (it seeds a demo) or add one in the back office.")
        )
    embed_src = request.build_absolute_uri(static("helpdesk/embed.js"))
    return render(request, "helpdesk/demo.html", {"site": site, "embed_src": embed_src})


def signed_webhook(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An email provider's webhook, answered only when it can be authenticated (a secret or
    the provider's signing key is set): else 400 and nothing is read."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not webhooks_signed(settings.ANYMAIL):
            return HttpResponseBadRequest(_("Email webhooks are off: no webhook secret is set."))
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


@require_GET
def js_catalog(request: HttpRequest, language: str) -> HttpResponseBase:
    """The JavaScript strings of one language (``gettext()`` in the page), from
    locale/*/LC_MESSAGES/djangojs.po. The URL carries the catalogue's version
    (``i18n.catalog_url``), so it is cached for a long time, and loads as a script of our own
    origin (the CSP allows no inline script)."""
    if language not in i18n.SUPPORTED:
        raise Http404("No such language.")
    with translation.override(language):
        # Our strings only (locale/): not the admin's, which its own pages load.
        response = JavaScriptCatalog.as_view(packages=["helpdesk"])(request)
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: the agents' inbox installs as an app (docs: README, "The inbox
    as an app"). In the language of the browser that asks (manifests are fetched without
    cookies)."""
    icons = [
        {
            "src": static(f"helpdesk/icons/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
        }
        for size in (192, 512)
    ]
    icons.append(
        {
            "src": static("helpdesk/icons/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        }
    )
    data = {
        "id": "/inbox/",
        "name": _("Helpdesk inbox"),
        "short_name": "Helpdesk",
        "description": _("Answer your visitors, wherever you are."),
        "lang": translation.get_language(),
        "start_url": "/inbox/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#f4f6f9",
        "theme_color": "#ffffff",
        "icons": icons,
        "shortcuts": [
            {"name": _("Notifications"), "url": "/notifications/"},
        ],
    }
    response = JsonResponse(data, json_dumps_params={"ensure_ascii": False})
    response["Content-Type"] = "application/manifest+json"
    response["Cache-Control"] = "no-cache"
    return response


def offline(request: HttpRequest) -> HttpResponse:
    """What the installed app shows when the network is gone: the service worker keeps it
    and answers with it for any page it cannot fetch."""
    return render(request, "helpdesk/offline.html")


def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


def verify_email(request: HttpRequest, token: str) -> HttpResponse:
    """The confirmation link: the address is confirmed, and the page leads back to the chat:
    the page the visitor wrote from (where the widget keeps their conversation), or the chat
    on its own page here."""
    visitor = notification_services.visitor_email_verify(token=token)
    context: dict[str, object] = {"ok": visitor is not None, "site": None}
    if visitor is not None:
        page = visitor.page_url if visitor.page_url.startswith(("https://", "http://")) else ""
        context |= {
            "site": visitor.site,
            "back_url": page,
            "chat_url": f"{reverse('widget')}?site_key={visitor.site.widget_key}",
        }
    return render(request, "helpdesk/email_verified.html", context, status=200 if visitor else 400)


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


def attachment_file(request: HttpRequest, token: str) -> HttpResponse:
    """A file behind a signed URL (``helpdesk.files.url_for``), decrypted. A staff URL also
    needs a signed-in person who may see the conversation; a visitor URL is enough on its
    own until it expires. Expired or forged: 403 ``link_expired``; a file one may not see:
    404, as if there were none."""
    grant = files.grant_of(token)
    if grant is None:
        return JsonResponse(
            {"error": {"code": "link_expired", "detail": "This file link has expired."}},
            status=403,
        )
    attachment = Attachment.objects.filter(pk=grant.attachment_id).first()
    if attachment is None:
        raise Http404("No such file.")
    if grant.staff:
        actor = access.actor_for(request.user)
        if (
            actor is None
            or attachment.conversation_id is None
            or access.conversation_for(actor, attachment.conversation_id) is None
        ):
            raise Http404("No such file.")
    data = files.attachment_bytes(attachment, thumbnail=grant.thumbnail)
    thumbnail = grant.thumbnail and bool(attachment.thumbnail)
    kind = (
        ("image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg")
        if thumbnail
        else attachment.content_type
    )
    response = HttpResponse(data, content_type=kind)
    disposition = "inline" if kind.startswith("image/") else "attachment"
    response["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(attachment.name)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cross-Origin-Resource-Policy"] = "cross-origin"  # the widget's frame shows it
    return response
