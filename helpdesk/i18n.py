"""Which language a page speaks, and the JavaScript catalogue that goes with it.

Staff: their own setting (the language in their notification preferences), else their
browser's. Visitors: their browser's. The setting is read once at sign-in and kept in the
session, so no page pays a query for it; saving the preferences updates it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import translation

from notifications.models import AgentPreferences, ManagerPreferences

SESSION_KEY = "helpdesk_language"
SUPPORTED = frozenset(code for code, _ in settings.LANGUAGES)


def supported(language: str) -> str:
    """Our language for a browser's or a setting's code (``zh-CN`` → ``zh-hans``), or ""."""
    try:
        return translation.get_supported_language_variant((language or "").strip().lower())
    except LookupError:
        return ""


def user_language(user: Any) -> str:
    """A signed-in person's chosen language: as an agent, else as a manager; "" for none."""
    if not getattr(user, "is_authenticated", False):
        return ""
    chosen = (
        AgentPreferences.objects.filter(agent__user=user).values_list("language", flat=True).first()
        or ManagerPreferences.objects.filter(user=user).values_list("language", flat=True).first()
    )
    return supported(chosen or "")


def remember(request: HttpRequest, language: str) -> None:
    """Speak ``language`` to this session from now on ("": the browser's)."""
    request.session[SESSION_KEY] = supported(language)
    if request.session[SESSION_KEY]:
        translation.activate(request.session[SESSION_KEY])
        request.LANGUAGE_CODE = translation.get_language()


@receiver(user_logged_in)
def language_on_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = user_language(user)


class UserLanguageMiddleware:
    """After ``LocaleMiddleware`` (the browser's choice) and authentication: a signed-in
    person's own setting wins. Sessions from before this setting existed look it up once."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and settings.SESSION_COOKIE_NAME in request.COOKIES:
            language = session.get(SESSION_KEY)
            if language is None and request.user.is_authenticated:
                language = session[SESSION_KEY] = user_language(request.user)
            if language in SUPPORTED:
                translation.activate(language)
                request.LANGUAGE_CODE = language
        return self.get_response(request)


@cache
def catalog_version() -> str:
    """Changes whenever a compiled JavaScript catalogue does: the catalogue's URL carries it,
    so browsers may keep a catalogue for a long time and still never use a stale one."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in settings.LOCALE_PATHS):
        for mo in sorted(path.glob("*/LC_MESSAGES/djangojs.mo")):
            digest.update(mo.read_bytes())
    return digest.hexdigest()[:12]


def catalog_url(language: str) -> str:
    return f"{reverse('js-catalog', args=[language])}?v={catalog_version()}"


def context(request: HttpRequest) -> dict[str, str]:
    """Template context: the JavaScript catalogue of the page's language."""
    return {"js_catalog_url": catalog_url(translation.get_language() or settings.LANGUAGE_CODE)}
