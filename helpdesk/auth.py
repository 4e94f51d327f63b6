"""Sign-in with a lockout: after repeated failures for a username (or from an address),
sign-in is refused for a while, on the login page and in the back office alike."""

from __future__ import annotations

import contextlib
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.utils.translation import ngettext
from rest_framework.request import Request

from helpdesk import ratelimit
from helpdesk.access import Actor
from helpdesk.models import Agent, Visitor


def user_of(request: HttpRequest) -> User:
    """The signed-in person behind a page that requires signing in (``login_required``, the
    back office). Refuses an anonymous request rather than letting it through untyped."""
    if not request.user.is_authenticated:
        raise PermissionDenied
    return request.user


def visitor_of(request: HttpRequest | Request) -> Visitor:
    """The visitor an API request authenticated as (``api.VisitorTokenAuthentication``)."""
    visitor = getattr(request.user, "visitor", None)
    if not isinstance(visitor, Visitor):
        raise PermissionDenied
    return visitor


def agent_actor(request: HttpRequest | Request) -> Actor:
    """The actor an agent API request was let in as (``api.IsAgent`` sets it)."""
    actor = getattr(request, "actor", None)
    if not isinstance(actor, Actor):
        raise PermissionDenied
    return actor


def _keys(request: HttpRequest | None, username: str | None) -> list[tuple[str, str]]:
    ip = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    return [("login_failures", (username or "").casefold()), ("login_failures_ip", ip)]


def locked_for(request: HttpRequest | None, username: str | None) -> int:
    return max(ratelimit.blocked(name, key) for name, key in _keys(request, username))


class LockoutModelBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if locked_for(request, username):
            raise PermissionDenied  # no other backend either, and no password check at all
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            for name, key in _keys(request, username):
                with contextlib.suppress(ratelimit.RateLimited):  # the next one is refused
                    ratelimit.hit(name, key, what="failed sign-ins")
        return user


class LockoutAuthenticationForm(AuthenticationForm):
    """Says so when sign-in is locked, instead of "wrong password"."""

    def clean(self) -> dict[str, Any]:
        wait = locked_for(self.request, self.data.get("username"))
        if wait:
            minutes = max(1, round(wait / 60))
            raise ValidationError(
                ngettext(
                    "Too many failed sign-ins. Try again in %(minutes)d minute.",
                    "Too many failed sign-ins. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
                code="locked",
            )
        return super().clean()


def request_agent(request: HttpRequest | Request) -> Agent:
    """The agent behind an agent API request."""
    agent_id = agent_actor(request).agent_id
    if agent_id is None:
        raise PermissionDenied
    return Agent.objects.get(pk=agent_id)
