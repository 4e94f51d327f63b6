"""The back office's admin site: Django admin, with the managers' dashboard on its index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse


class HelpdeskAdminSite(admin.AdminSite):
    site_header = "Helpdesk back office"
    site_title = "Helpdesk back office"
    index_title = "Dashboard"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        return super().index(request, extra_context)
