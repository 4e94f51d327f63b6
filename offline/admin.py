from django.contrib import admin

from offline.models import OfflineMessage


@admin.register(OfflineMessage)
class OfflineMessageAdmin(admin.ModelAdmin):
    list_display = ["message", "conversation", "audience", "state", "created_at", "delivered_at"]
    list_filter = ["audience", "state"]
    raw_id_fields = ["message", "conversation"]
    list_select_related = ["message", "conversation"]
    readonly_fields = ["message", "conversation", "audience", "state", "created_at", "delivered_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
