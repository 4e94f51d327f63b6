from django.contrib import admin

from notifications.models import AgentPreferences, ManagerPreferences, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "reason",
        "recipient",
        "address",
        "channel",
        "level",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["reason", "channel", "status"]
    search_fields = ["recipient", "address", "provider_message_id", "conversation__id"]
    raw_id_fields = ["conversation"]
    readonly_fields = [f.name for f in Notification._meta.fields]
    date_hierarchy = "created_at"

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(AgentPreferences)
class AgentPreferencesAdmin(admin.ModelAdmin):
    list_display = [
        "agent",
        "email",
        "email_after_minutes",
        "language",
        "timezone",
        "quiet_from",
        "quiet_to",
    ]
    raw_id_fields = ["agent"]


@admin.register(ManagerPreferences)
class ManagerPreferencesAdmin(admin.ModelAdmin):
    list_display = ["user", "email", "language"]
    raw_id_fields = ["user"]
