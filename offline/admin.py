from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest

from helpdesk import access
from helpdesk.access import Actor
from helpdesk.admin_access import ScopedAdmin
from offline.models import OfflineMessage


@admin.register(OfflineMessage)
class OfflineMessageAdmin(ScopedAdmin, admin.ModelAdmin):
    """The offline store's rows of conversations one may see (read-only)."""

    def scope(self, actor: Actor) -> Q:
        return access.visible_q(actor, prefix="conversation__")

    list_display = ["message", "conversation", "audience", "state", "created_at", "delivered_at"]
    list_filter = ["audience", "state"]
    raw_id_fields = ["message", "conversation"]
    list_select_related = ["message", "conversation"]
    readonly_fields = ["message", "conversation", "audience", "state", "created_at", "delivered_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
