"""The managers' back office."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from helpdesk import selectors as helpdesk_selectors
from helpdesk import services as helpdesk_services
from helpdesk.models import Agent, AgentGroup, Conversation, Message, Site, Tag, Visitor
from routing import services as routing_services
from routing.models import Shift, ShiftException

admin.site.site_header = "Helpdesk back office"
admin.site.site_title = "Helpdesk back office"
admin.site.index_title = "Sites, teams and conversations"


@admin.register(Site)
class SiteAdmin(admin.ModelAdmin):
    list_display = ["name", "widget_key", "default_group", "business_hours", "created_at"]
    search_fields = ["name", "widget_key"]
    readonly_fields = ["widget_key", "embed_snippet", "identity_secret", "identity_example"]
    list_select_related = ["default_group"]

    @admin.display(description="Embed code")
    def embed_snippet(self, site: Site) -> str:
        return (
            f'<script src="https://YOUR-HELPDESK-HOST/static/helpdesk/embed.js" '
            f'data-site-key="{site.widget_key}" async></script>'
        )

    @admin.display(description="Signed-in users (identity verification)")
    def identity_example(self, site: Site) -> str:
        return (
            "Keep the identity secret on your server. For a signed-in user, add to the tag: "
            'data-user-id="<your user ID>" data-user-hash="<HMAC-SHA256 hex of the ID, keyed '
            'with the identity secret>" (Python: hmac.new(secret.encode(), user_id.encode(), '
            '"sha256").hexdigest()). That user then sees the same history on every device.'
        )


class AgentInline(admin.TabularInline):
    model = Agent.groups.through
    extra = 0
    raw_id_fields = ["agent"]


@admin.register(AgentGroup)
class AgentGroupAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "strategy",
        "default_capacity",
        "business_hours",
        "overflow_group",
        "overflow_after_minutes",
    ]
    search_fields = ["name"]
    filter_horizontal = ["managers"]
    list_select_related = ["business_hours", "overflow_group"]
    inlines = [AgentInline]


class ShiftInline(admin.TabularInline):
    model = Shift
    extra = 0
    fields = ["weekday", "starts", "ends", "timezone"]


class ShiftExceptionInline(admin.TabularInline):
    model = ShiftException
    extra = 0
    fields = ["date", "kind", "starts", "ends", "note"]
    ordering = ["-date"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    inlines = [ShiftInline, ShiftExceptionInline]
    list_display = ["display_name", "user", "status", "capacity", "last_seen_at"]
    list_filter = ["status", "groups", "skills"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["groups", "skills"]
    readonly_fields = ["status_changed_at", "last_assigned_at", "last_seen_at"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


class ManagedScope:
    """Managers see their own sites' and groups' conversations and visitors; superusers see
    everything (helpdesk.selectors.managed_conversations)."""

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)  # type: ignore[misc]
        if request.user.is_superuser:
            return qs
        conversations = helpdesk_selectors.managed_conversations(request.user)
        if qs.model is Conversation:
            return qs.filter(pk__in=conversations.values("pk"))
        return qs.filter(pk__in=conversations.values("visitor_id"))


@admin.register(Visitor)
class VisitorAdmin(ManagedScope, admin.ModelAdmin):
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


class TransferActionForm(ActionForm):
    to_agent = forms.ModelChoiceField(
        Agent.objects.filter(user__is_active=True), required=False, label="to agent"
    )
    to_group = forms.ModelChoiceField(AgentGroup.objects.all(), required=False, label="or group")
    reason = forms.CharField(required=False, max_length=300)
    tag = forms.ModelChoiceField(Tag.objects.all(), required=False, label="tag")


@admin.register(Conversation)
class ConversationAdmin(ManagedScope, admin.ModelAdmin):
    list_display = [
        "__str__",
        "site",
        "visitor",
        "status",
        "group",
        "priority",
        "assigned_agent",
        "waiting_since",
        "last_message_at",
    ]
    list_filter = ["status", "priority", "group", "site", "channel", "assigned_agent"]
    list_select_related = ["site", "visitor", "assigned_agent", "group"]
    search_fields = ["id"]
    readonly_fields = [
        "id",
        "site",
        "visitor",
        "channel",
        "status",
        "group",
        "priority",
        "queued_at",
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
    action_form = TransferActionForm
    actions = ["transfer", "resolve", "add_tag"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Resolve", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        by = request.user.get_full_name() or request.user.get_username()
        ids = list(queryset.filter(status=Conversation.Status.OPEN).values_list("pk", flat=True))
        for conversation_id in ids:
            helpdesk_services.conversation_resolve(conversation_id=conversation_id, by_name=by)
        self.message_user(request, f"Resolved {len(ids)} conversation(s).")

    @admin.action(description="Add the tag chosen", permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """The same tags as the inbox's; the agents' message centers follow live."""
        form = TransferActionForm(request.POST)
        form.is_valid()
        tag = form.cleaned_data.get("tag")
        if tag is None:
            self.message_user(request, "Choose a tag.", messages.ERROR)
            return
        conversations = list(queryset)
        for conversation in conversations:
            helpdesk_services.conversation_tag_add(conversation=conversation, tag=tag)
        self.message_user(request, f"Tagged {len(conversations)} conversation(s) {tag}.")

    @admin.action(description="Transfer to the agent or group chosen", permissions=["change"])
    def transfer(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """The same service as the inbox; the history records who moved it and why."""
        form = TransferActionForm(request.POST)
        form.is_valid()
        to_agent, to_group = form.cleaned_data.get("to_agent"), form.cleaned_data.get("to_group")
        if bool(to_agent) == bool(to_group):
            self.message_user(request, "Choose an agent or a group (one of them).", messages.ERROR)
            return
        by = request.user.get_full_name() or request.user.get_username()
        ids = list(queryset.values_list("pk", flat=True))
        for conversation_id in ids:
            routing_services.conversation_transfer(
                conversation_id=conversation_id,
                by_name=by,
                to_agent_id=to_agent.pk if to_agent else None,
                to_group_id=to_group.pk if to_group else None,
                reason=form.cleaned_data.get("reason", ""),
            )
        self.message_user(
            request, f"Transferred {len(ids)} conversation(s) to {to_agent or to_group}."
        )
