"""The back office's admin site: Django admin, with the managers' dashboard on its index."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from helpdesk import dashboard
from helpdesk.admin_access import actor_of
from helpdesk.admin_reports import duration, share


class HelpdeskAdminSite(admin.AdminSite):
    site_header = _("Helpdesk back office")
    site_title = _("Helpdesk back office")
    index_title = _("Today")

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        actor = actor_of(request)
        figures = dashboard.figures(actor)
        context = {
            "dashboard": {
                **figures,
                "first_response": duration(figures["first_response"]),
                "longest_wait": duration(figures["longest_wait"]),
                "satisfied": share(figures["satisfied"]),
            },
            "supervises": actor.oversees_any,
            **(extra_context or {}),
        }
        return super().index(request, context)
