"""The managers' back office."""

from __future__ import annotations

from typing import Any

from admin_interface.models import Theme
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from helpdesk import access
from helpdesk import services as helpdesk_services
from helpdesk.access import Action, Actor
from helpdesk.admin_access import ScopedAdmin, actor_of
from helpdesk.models import Agent, AgentGroup, Conversation, Message, Site, Tag, Visitor
from routing import services as routing_services
from routing.models import Shift, ShiftException

# The theme's look is set once, in code (migration helpdesk 0013_backoffice_theme): its own
# settings page would be one more global knob with nobody's data behind it.
admin.site.unregister(Theme)


@admin.register(Site)
class SiteAdmin(ScopedAdmin, admin.ModelAdmin):
    """A site's settings (its identity secret among them) are its administrators' alone."""

    filter_horizontal = ["administrators"]

    def scope(self, actor: Actor) -> Q:
        return Q(pk__in=sorted(actor.administers))

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
class AgentGroupAdmin(ScopedAdmin, admin.ModelAdmin):
    """Groups a person manages (and those serving a site they administer); its members are
    added and removed here."""

    def scope(self, actor: Actor) -> Q:
        return Q(pk__in=access.groups_overseen(actor).values("pk"))

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
class AgentAdmin(ScopedAdmin, admin.ModelAdmin):
    """Agents of the groups a person manages. Only superusers change an agent's groups here
    (a manager adds and removes members on their group's page), so nobody can move an agent,
    themselves included, into a team they do not manage."""

    def scope(self, actor: Actor) -> Q:
        return Q(groups__in=access.groups_overseen(actor).values("pk"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        return fields if actor_of(request).superuser else [*fields, "groups", "user"]

    inlines = [ShiftInline, ShiftExceptionInline]
    list_display = ["display_name", "user", "status", "capacity", "last_seen_at"]
    list_filter = ["status", "groups", "skills"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["groups", "skills"]
    readonly_fields = ["status_changed_at", "last_assigned_at", "last_seen_at"]
    raw_id_fields = ["user"]
    list_select_related = ["user"]


@admin.register(Visitor)
class VisitorAdmin(ScopedAdmin, admin.ModelAdmin):
    """Visitors with a conversation this person may see (a site's administrators: every
    visitor of the site)."""

    def scope(self, actor: Actor) -> Q:
        return Q(pk__in=access.visible_visitors(actor).values("pk"))

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
class ConversationAdmin(ScopedAdmin, admin.ModelAdmin):
    def scope(self, actor: Actor) -> Q:
        return access.visible_q(actor)

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

    def _allowed(
        self, request: HttpRequest, queryset: QuerySet[Conversation], action: Action
    ) -> list[Conversation]:
        """The chosen conversations this person may act on; says how many were left out."""
        actor = actor_of(request)
        chosen = list(queryset)
        allowed = [c for c in chosen if access.may(actor, action, c)]
        if len(allowed) < len(chosen):
            self.message_user(
                request,
                f"{len(chosen) - len(allowed)} conversation(s) left as they were: "
                f"only its agent or a manager of its team may {action.value} it.",
                messages.WARNING,
            )
        return allowed

    @admin.action(description="Resolve", permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        by = request.user.get_full_name() or request.user.get_username()
        actor = actor_of(request)
        open_ = queryset.filter(status=Conversation.Status.OPEN)
        done = 0
        for conversation in self._allowed(request, open_, Action.RESOLVE):
            try:
                helpdesk_services.conversation_resolve(
                    conversation_id=conversation.pk, by_name=by, actor=actor
                )
                done += 1
            except routing_services.NotAllowed:
                pass  # changed hands meanwhile
        self.message_user(request, f"Resolved {done} conversation(s).")

    @admin.action(description="Add the tag chosen", permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """The same tags as the inbox's; the agents' message centers follow live."""
        form = TransferActionForm(request.POST)
        form.is_valid()
        tag = form.cleaned_data.get("tag")
        if tag is None:
            self.message_user(request, "Choose a tag.", messages.ERROR)
            return
        conversations = self._allowed(request, queryset, Action.TAG)
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
        actor = actor_of(request)
        done = 0
        for conversation in self._allowed(request, queryset, Action.TRANSFER):
            try:
                routing_services.conversation_transfer(
                    conversation_id=conversation.pk,
                    by_name=by,
                    actor=actor,
                    to_agent_id=to_agent.pk if to_agent else None,
                    to_group_id=to_group.pk if to_group else None,
                    reason=form.cleaned_data.get("reason", ""),
                )
                done += 1
            except routing_services.NotAllowed:
                pass  # changed hands meanwhile
        self.message_user(request, f"Transferred {done} conversation(s) to {to_agent or to_group}.")
