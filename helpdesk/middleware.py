"""Content-Security-Policy on every page: our own scripts only, no plugins, and framing by
no one, except the widget, which its site's allowed origins may frame (helpdesk.views).
And the HTTP API's size limit: a body over 64 KiB is refused before anything reads it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

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


class ApiBodyLimitMiddleware:
    """``/api/`` bodies at most ``FRAME_MAX_BYTES`` (as a socket frame): 413
    ``frame_too_large``, nothing read or stored. A body without a Content-Length is not read
    by the API at all (it answers as if empty)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            # Uploads: a file of ATTACHMENT_MAX_BYTES and its multipart wrapping.
            limit = (
                settings.ATTACHMENT_MAX_BYTES + 64 * 1024
                if request.path.endswith("/attachments")
                else settings.FRAME_MAX_BYTES
            )
            if length > limit:
                return JsonResponse(
                    {
                        "error": {
                            "code": "file_too_large"
                            if request.path.endswith("/attachments")
                            else "frame_too_large",
                            "detail": f"A request body can be at most {limit // 1024} KiB.",
                        }
                    },
                    status=413,
                )
        return self.get_response(request)
