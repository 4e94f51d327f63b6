"""Web Push: the service workers, the subscription endpoints, and the two pages where people
turn push on (staff: /notifications/; visitors in a third-party frame: /widget/push/)."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from helpdesk import i18n, schema, selectors
from helpdesk.api import ApiError, IsVisitor, VisitorTokenAuthentication
from helpdesk.auth import user_of, visitor_of
from notifications import services
from notifications.forms import AgentPreferencesForm, ManagerPreferencesForm, timezone_names
from notifications.models import AgentPreferences, ManagerPreferences
from notifications.validation import (
    EndpointIn,
    SubscriptionIn,
    check_endpoint,
    check_subscription,
)


def _may_receive_push(user: Any) -> bool:
    """Agents (reminders) and staff (escalations); nobody else has anything to be told."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_staff or selectors.agent_for_user(user))


# What the installed inbox keeps for when the network is gone: the offline page and what it
# needs (static files by their path inside STATIC_URL).
SHELL_STATIC = ("helpdesk/app.css", "helpdesk/offline.js", "helpdesk/icons/icon.svg")


@cache
def _shell_version() -> str:
    """Changes with the files of the shell, so browsers install the new worker (and drop the
    old cache) after a release that changed them."""
    digest = hashlib.sha256()
    for path in SHELL_STATIC:
        found = finders.find(path)
        if found:
            digest.update(Path(found).read_bytes())
    return digest.hexdigest()[:12]


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """Served from the scope it controls (/ for staff pages, /widget/ for the widget): a
    service worker cannot control pages above its own path. The staff one also keeps the
    installed app's offline shell."""
    context = {
        "staff": request.path == "/sw.js",
        "version": _shell_version(),
        "offline_url": "/offline/",
        "precache": ["/offline/", *(static(path) for path in SHELL_STATIC)],
        "icon": static("helpdesk/icons/icon-192.png"),
    }
    response = render(request, "notifications/sw.js", context, content_type="text/javascript")
    response["Cache-Control"] = "no-cache"
    return response


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """Staff: turn push on for this browser, and choose what to be told, when and how."""
    if not _may_receive_push(request.user):
        return render(request, "helpdesk/not_agent.html", status=403)
    agent = selectors.agent_for_user(request.user)
    agent_prefs = AgentPreferences.objects.filter(agent=agent).first() if agent else None
    user = user_of(request)
    manager_prefs = ManagerPreferences.objects.filter(user=user).first()
    is_manager = user.is_superuser or user.managed_agent_groups.exists()
    data = request.POST if request.method == "POST" else None
    # Someone choosing for the first time starts from the language they are reading now.
    speaking = {"language": translation.get_language()}
    agent_form = (
        AgentPreferencesForm(
            data, instance=agent_prefs, prefix="agent", initial=None if agent_prefs else speaking
        )
        if agent
        else None
    )
    manager_form = (
        ManagerPreferencesForm(
            data,
            instance=manager_prefs,
            prefix="manager",
            initial=None if manager_prefs else speaking,
        )
        if is_manager
        else None
    )
    saved = False
    if data is not None:
        forms = [f for f in (agent_form, manager_form) if f is not None]
        if all(f.is_valid() for f in forms):
            if agent_form is not None and agent is not None:
                services.set_agent_preferences(agent=agent, **agent_form.cleaned_data)
            if manager_form is not None:
                services.set_manager_preferences(user=request.user, **manager_form.cleaned_data)
            # Every page speaks the chosen language from now on.
            i18n.remember(request, i18n.user_language(request.user))
            return redirect(f"{request.path}?saved=1")
    else:
        saved = request.GET.get("saved") == "1"
    context = {
        "push": services.push_config(),
        "agent": agent,
        "agent_form": agent_form,
        "manager_form": manager_form,
        "saved": saved,
        "devices": user.push_subscriptions.order_by("-created_at"),
        "timezones": timezone_names(),
        "defaults": {
            "push": settings.NOTIFY_AGENT_PUSH_AFTER_SECONDS // 60,
            "email": settings.NOTIFY_AGENT_EMAIL_AFTER_SECONDS // 60,
        },
    }
    return render(request, "notifications/settings.html", context)


def widget_push_page(request: HttpRequest) -> HttpResponse:
    """A first-party window the widget opens when it lives in another site's frame, where
    browsers refuse to ask for notification permission. The visitor token comes in the URL
    fragment, which is never sent to any server."""
    site = selectors.site_by_key(request.GET.get("site_key", ""))
    context = {"push": services.push_config(), "site": site}
    response = render(request, "notifications/widget_push.html", context)
    response["Referrer-Policy"] = "no-referrer"
    return response


class IsStaffOrAgent(BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if not _may_receive_push(request.user):
            raise ApiError("not_authenticated", _("Sign in as an agent or a manager first."), 403)
        return True


def _subscribe(request: Request, owner: dict[str, Any]) -> Response:
    if not services.push_enabled():
        raise ApiError("push_disabled", _("Web Push is not configured on this server."), 409)
    fields: dict[str, Any] = check_subscription(request.data)
    services.push_subscribe(**fields, **owner, user_agent=request.META.get("HTTP_USER_AGENT", ""))
    return Response({"endpoint": fields["endpoint"]}, status=status.HTTP_201_CREATED)


def _unsubscribe(request: Request, owner: dict[str, Any]) -> Response:
    deleted = services.push_unsubscribe(endpoint=check_endpoint(request.data), **owner)
    if not deleted:
        raise ApiError("not_found", _("No such subscription of yours."), 404)
    return Response(status=status.HTTP_204_NO_CONTENT)


class StaffSubscriptionsView(APIView):
    """Session-authenticated (with CSRF): the inbox and the back office."""

    permission_classes = [IsStaffOrAgent]

    @extend_schema(
        request=SubscriptionIn,
        responses={201: schema.EndpointOut, **schema.errors(400, 403, 409)},
        summary="Web Push for this browser (agents and managers)",
    )
    def post(self, request: Request) -> Response:
        return _subscribe(request, {"user": request.user})

    @extend_schema(request=EndpointIn, responses={204: None, **schema.errors(400, 403, 404)})
    def delete(self, request: Request) -> Response:
        return _unsubscribe(request, {"user": request.user})


class VisitorSubscriptionsView(APIView):
    """``Authorization: Bearer <visitor token>``: the widget, apps, the push window."""

    authentication_classes = [VisitorTokenAuthentication]
    permission_classes = [IsVisitor]

    @extend_schema(
        request=SubscriptionIn,
        responses={201: schema.EndpointOut, **schema.errors(400, 401, 409)},
        summary="Web Push for this visitor's browser or app",
    )
    def post(self, request: Request) -> Response:
        return _subscribe(request, {"visitor": visitor_of(request)})

    @extend_schema(request=EndpointIn, responses={204: None, **schema.errors(400, 401, 404)})
    def delete(self, request: Request) -> Response:
        return _unsubscribe(request, {"visitor": visitor_of(request)})
