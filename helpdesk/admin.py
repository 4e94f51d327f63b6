"""The managers' back office."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from helpdesk.models import Agent, AgentGroup, Conversation, Message, Site, Visitor

admin.site.site_header = "Helpdesk back office"
admin.site.site_title = "Helpdesk back office"
admin.site.index_title = "Sites, teams and conversations"


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "widget_key", "default_group", "created_at"]
    search_fields = ["name", "widget_key"]
    readonly_fields = ["widget_key", "embed_snippet"]
    list_select_related = ["default_group"]

    @admin.display(description="Embed code")
    def embed_snippet(self, site: Site) -> str:
        return (
            f'<script src="https://YOUR-HELPDESK-HOST/static/helpdesk/embed.js" '
            f'data-site-key="{site.widget_key}" async></script>'
        )


class AgentInline(admin.TabularInline):
    model = Agent.groups.through
    extra = 0
    raw_id_fields = ["agent"]


@admin.register(AgentGroup)
class AgentGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]
    inlines = [AgentInline]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "created_at"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["groups"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["__str__", "site", "channel", "created_at", "last_seen_at"]
    list_filter = ["site", "channel"]
    list_select_related = ["site"]
    readonly_fields = ["id", "site", "channel", "created_at", "last_seen_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # visitors arrive through the widget or the API


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["seq", "sender", "agent", "body", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("agent")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "site",
        "visitor",
        "status",
        "assigned_agent",
        "waiting_since",
        "last_message_at",
    ]
    list_filter = ["status", "site", "channel", "assigned_agent"]
    list_select_related = ["site", "visitor", "assigned_agent"]
    search_fields = ["id"]
    readonly_fields = [
        "id",
        "site",
        "visitor",
        "channel",
        "status",
        "assigned_agent",
        "assigned_at",
        "last_seq",
        "agent_read_seq",
        "waiting_since",
        "last_message_at",
        "created_at",
    ]
    inlines = [MessageInline]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
