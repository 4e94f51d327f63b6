"""Privacy in the back office: the audit log (read-only), and a visitor's export and erasure
(buttons on the visitor's page, wired in ``helpdesk.admin.VisitorAdmin``)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

from helpdesk import access
from helpdesk.access import Actor
from helpdesk.admin_access import ScopedAdmin, actor_of
from helpdesk.models import Conversation, Message, Visitor
from privacy import selectors, services
from privacy.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(ScopedAdmin, admin.ModelAdmin):
    """What managers did (and what the retention task deleted), for those responsible: a
    site's administrators see its entries, a group's managers theirs, everyone their own."""

    def scope(self, actor: Actor) -> Q:
        return (
            Q(site_id__in=sorted(actor.administers))
            | Q(group_id__in=sorted(actor.manages))
            | Q(actor_id=actor.user_id)
        )

    list_display = ["at", "who", "action", "target_repr", "what"]
    list_filter = ["action", "at"]
    search_fields = ["actor_name", "target", "target_repr"]
    date_hierarchy = "at"
    readonly_fields = [
        "at",
        "actor",
        "actor_name",
        "action",
        "target",
        "target_repr",
        "site_id",
        "group_id",
        "detail",
    ]

    @admin.display(description="by", ordering="actor_name")
    def who(self, entry: AuditEntry) -> str:
        return entry.actor_name or "system"

    @admin.display(description="details")
    def what(self, entry: AuditEntry) -> str:
        detail = entry.detail or {}
        if "fields" in detail:
            return "fields: " + ", ".join(detail["fields"])
        if "deleted" in detail:
            return ", ".join(
                f"{n} {label.split('.')[-1]}" for label, n in detail["deleted"].items()
            )
        if entry.action in (AuditEntry.Action.TRANSFER, AuditEntry.Action.TAKEOVER):
            return json.dumps({k: v for k, v in detail.items() if v not in (None, "")})
        return ""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or actor_of(request).oversees_any

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# ---- a visitor's data: export and erase ------------------------------------------------------------


def _visitor_for(request: HttpRequest, visitor_id: Any) -> Visitor:
    """The visitor, if this person sees them (else 404, as if there were none) and may export
    or erase their data (else 403, saying who may)."""
    actor = actor_of(request)
    visitor = access.visible_visitors(actor).select_related("site").filter(pk=visitor_id).first()
    if visitor is None:
        raise Http404("No such visitor.")
    if not selectors.may_handle_visitor(actor, visitor):
        raise PermissionDeniedWithReason
    return visitor


class PermissionDeniedWithReason(Exception):
    pass


REFUSAL = (
    "Only an administrator of the visitor's site, or a manager of every team the visitor "
    "wrote to, may export or erase their data."
)


def _refused(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "admin/privacy/refused.html",
        {
            **admin.site.each_context(request),
            "title": "Not yours to hand out",
            "reason": REFUSAL,
        },
        status=403,
    )


def export_view(request: HttpRequest, visitor_id: Any) -> HttpResponse:
    """Everything held about the visitor, as a JSON download; recorded in the audit log."""
    try:
        visitor = _visitor_for(request, visitor_id)
    except PermissionDeniedWithReason:
        return _refused(request)
    data = selectors.visitor_export(visitor)
    services.visitor_exported(visitor=visitor, user=request.user)
    response = HttpResponse(
        json.dumps(data, ensure_ascii=False, indent=2), content_type="application/json"
    )
    response["Content-Disposition"] = f'attachment; filename="visitor-{visitor.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


def erase_view(request: HttpRequest, visitor_id: Any) -> HttpResponse:
    """GET: what erasing will delete, and a button. POST: erase, and back to the list."""
    try:
        visitor = _visitor_for(request, visitor_id)
    except PermissionDeniedWithReason:
        return _refused(request)
    if request.method == "POST":
        counts = services.visitor_erase(visitor_id=visitor.pk, user=request.user)
        messages.success(
            request,
            format_html(
                "Visitor {} erased: {} conversation(s), {} message(s) and everything kept "
                "about them.",
                visitor.pk,
                counts.get("helpdesk.conversation", 0),
                counts.get("helpdesk.message", 0),
            ),
        )
        return HttpResponseRedirect(reverse("admin:helpdesk_visitor_changelist"))
    return render(
        request,
        "admin/privacy/erase.html",
        {
            **admin.site.each_context(request),
            "title": "Erase this visitor's data",
            "visitor": visitor,
            "conversation_count": Conversation.objects.filter(visitor=visitor).count(),
            "message_count": Message.objects.filter(conversation__visitor=visitor).count(),
            "opts": Visitor._meta,
        },
    )
