from typing import Any

from django.contrib import admin
from django.db.models import Q
from django.http import HttpRequest

from helpdesk import access
from helpdesk.access import Actor
from helpdesk.admin_access import ScopedAdmin
from helpdesk.admin_widgets import TimeZoneMixin
from notifications.forms import ChannelSettingsForm
from notifications.models import (
    AgentPreferences,
    ChannelSettings,
    ManagerPreferences,
    Notification,
    PushSubscription,
)


@admin.register(Notification)
class NotificationAdmin(ScopedAdmin, admin.ModelAdmin):
    """Notifications about conversations one may see, and one's own."""

    def scope(self, actor: Actor) -> Q:
        mine = [f"user:{actor.user_id}"] + ([f"agent:{actor.agent_id}"] if actor.agent_id else [])
        return access.visible_q(actor, prefix="conversation__") | Q(recipient__in=mine)

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

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AgentPreferences)
class AgentPreferencesAdmin(TimeZoneMixin, ScopedAdmin, admin.ModelAdmin):
    def scope(self, actor: Actor) -> Q:
        return Q(agent__groups__in=access.groups_overseen(actor).values("pk")) | Q(
            agent_id=actor.agent_id
        )

    list_display = [
        "agent",
        "email",
        "email_after_minutes",
        "push",
        "push_after_minutes",
        "language",
        "timezone",
        "quiet_from",
        "quiet_to",
    ]
    raw_id_fields = ["agent"]


@admin.register(ManagerPreferences)
class ManagerPreferencesAdmin(ScopedAdmin, admin.ModelAdmin):
    def scope(self, actor: Actor) -> Q:
        return Q(user_id=actor.user_id)

    list_display = ["user", "email", "push", "language"]
    raw_id_fields = ["user"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ScopedAdmin, admin.ModelAdmin):
    """Browsers that receive push. Deleting one stops pushes there (the browser keeps its
    permission; the next visit subscribes it again)."""

    list_display = ["created_at", "user", "visitor", "short_endpoint", "last_success_at"]
    list_select_related = ["user", "visitor"]
    search_fields = ["user__username", "user__email", "endpoint"]
    raw_id_fields = ["user", "visitor"]
    readonly_fields = ["endpoint", "p256dh", "auth", "user_agent", "created_at", "last_success_at"]

    @admin.display(description="Push service")
    def short_endpoint(self, obj: PushSubscription) -> str:
        return obj.endpoint.split("/")[2] if "//" in obj.endpoint else obj.endpoint[:40]

    def has_add_permission(self, request, obj=None):
        return False

    def scope(self, actor: Actor) -> Q:
        """One's own browsers (another's endpoint is theirs alone)."""
        return Q(user_id=actor.user_id)


@admin.register(ChannelSettings)
class ChannelSettingsAdmin(ScopedAdmin, admin.ModelAdmin):
    """A site's app and mini-program credentials: its administrators' alone (like the
    site's identity secret). Secrets are write-only and encrypted at rest."""

    form = ChannelSettingsForm
    choices = {"site": access.sites_administered}
    list_display = ["site", "app_push", "mini_program", "updated_at"]
    list_select_related = ["site"]
    readonly_fields = ["saved", "updated_at"]
    fieldsets = [
        (None, {"fields": ["site", "saved"]}),
        ("Android and iOS through Firebase (FCM)", {"fields": ["fcm_key", "remove_fcm_key"]}),
        (
            "iOS through Apple (APNs)",
            {
                "fields": [
                    "apns_key_text",
                    "remove_apns_key",
                    "apns_key_id",
                    "apns_team_id",
                    "apns_bundle_id",
                    "apns_sandbox",
                ]
            },
        ),
        (
            "WeChat mini-program",
            {
                "fields": [
                    "wechat_appid",
                    "wechat_secret_text",
                    "remove_wechat_secret",
                    "wechat_templates",
                    "wechat_page",
                    "wechat_state",
                    "wechat_customer_service",
                ]
            },
        ),
    ]

    def scope(self, actor: Actor) -> Q:
        return Q(site__in=sorted(actor.administers))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # The site of saved settings does not change (its secrets are sealed to it).
        return [*self.readonly_fields, "site"] if obj else self.readonly_fields

    @admin.display(description="App push")
    def app_push(self, obj: ChannelSettings) -> str:
        return (
            ", ".join(n for n, ok in (("FCM", obj.fcm_ready), ("APNs", obj.apns_ready)) if ok)
            or "—"
        )

    @admin.display(description="Mini-program", boolean=True)
    def mini_program(self, obj: ChannelSettings) -> bool:
        return obj.wechat_ready

    @admin.display(description="Saved credentials")
    def saved(self, obj: ChannelSettings) -> str:
        fcm = obj.fcm_key
        return " · ".join(
            [
                f"FCM: project {fcm.get('project_id')}, {fcm.get('client_email')}"
                if fcm
                else "FCM: none",
                "APNs key: saved" if obj.apns_key else "APNs key: none",
                "AppSecret: saved" if obj.wechat_secret else "AppSecret: none",
            ]
        )
