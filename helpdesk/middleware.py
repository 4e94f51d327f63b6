"""Content-Security-Policy on every page: our own scripts only, no plugins, and framing by
no one, except the widget, which its site's allowed origins may frame (helpdesk.views)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    # Inline style attributes (colours, avatars' hues); no inline scripts anywhere.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
# drf-spectacular's Swagger UI configures itself with an inline script.
EXEMPT = ("/api/docs/",)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" in response or request.path.startswith(EXEMPT):
            return response
        ancestors = getattr(response, "frame_ancestors", "'none'")
        response["Content-Security-Policy"] = "; ".join((*POLICY, f"frame-ancestors {ancestors}"))
        return response
