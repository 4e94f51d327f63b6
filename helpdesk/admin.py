"""The managers' back office (Django admin): sites, teams, agents, visitors, conversations.

Every list, choice and action follows the access rule (``helpdesk.admin_access``) and every
add, change and delete is in the audit log. A site's page shows its widget as it will look
and the embed code for this server; its identity secret is masked, revealed and rotated on
purpose. A visitor's page exports or erases their data (``privacy.admin``).
"""

from __future__ import annotations

from typing import Any

from admin_interface.models import Theme
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from helpdesk import access, admin_labels, site_settings
from helpdesk import services as helpdesk_services
from helpdesk.access import Action, Actor
from helpdesk.admin_access import AuditedAdmin, ScopedAdmin, actor_of
from helpdesk.admin_widgets import ColorInput, TimeZoneMixin
from helpdesk.auth import user_of
from helpdesk.models import (
    Agent,
    AgentGroup,
    Conversation,
    Message,
    Note,
    SavedReply,
    Site,
    SiteText,
    Tag,
    Visitor,
)
from privacy import admin as privacy_admin
from privacy import selectors as privacy_selectors
from routing import services as routing_services
from routing.models import Shift, ShiftException

# The theme's look is set once, in code (migration helpdesk 0015_backoffice_theme): its own
# settings page would be one more global knob with nobody's data behind it.
admin.site.unregister(Theme)
admin_labels.translate_models()  # the back office in the reader's language


class SiteTextInline(admin.TabularInline):
    """The greeting and offline message in each language the widget speaks."""

    model = SiteText
    extra = 0
    fields = ["language", "greeting", "offline"]


@admin.register(Site)
class SiteAdmin(ScopedAdmin, admin.ModelAdmin):
    """A site's settings (its identity secret among them) are its administrators' alone."""

    def scope(self, actor: Actor) -> Q:
        return Q(pk__in=sorted(actor.administers))

    site_widgets = {"color": ColorInput(), "greeting": forms.TextInput(attrs={"size": 60})}

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name in self.site_widgets:
            kwargs["widget"] = self.site_widgets[db_field.name]
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    list_display = ["name", "widget_key", "default_group", "satisfaction", "retention_days"]
    search_fields = ["name", "widget_key"]
    list_select_related = ["default_group"]
    filter_horizontal = ["administrators"]
    inlines = [SiteTextInline]
    readonly_fields = [
        "widget_preview",
        "widget_key",
        "embed_snippet",
        "secret",
        "identity_example",
    ]
    fieldsets = [
        ("Widget", {"fields": ["name", "greeting", "color", "satisfaction", "widget_preview"]}),
        ("On your pages", {"fields": ["embed_snippet", "widget_key", "allowed_origins"]}),
        ("Signed-in users", {"fields": ["secret", "identity_example"]}),
        ("Routing", {"fields": ["default_group", "business_hours"]}),
        ("Privacy", {"fields": ["retention_days", "email_includes_reply"]}),
        ("Administrators", {"fields": ["administrators"]}),
    ]

    class Media:
        css = {"all": ["helpdesk/admin.css"]}
        js = ["helpdesk/site_admin.js"]

    @admin.display(description="Preview")
    def widget_preview(self, site: Site) -> str:
        """The widget as visitors will see it; follows the fields above as they are edited
        (helpdesk/site_admin.js)."""
        return format_html(
            '<div class="hd-preview" id="hd-preview" style="--hd-color: {}">'
            '<div class="hd-preview-panel"><div class="hd-preview-head">'
            '<span class="hd-preview-avatar" id="hd-preview-avatar">{}</span>'
            '<span id="hd-preview-name">{}</span></div>'
            '<div class="hd-preview-body"><p class="hd-preview-bubble" id="hd-preview-greeting">{}</p>'
            '<p class="hd-preview-rating" id="hd-preview-rating" data-scale="{}">'
            '<span class="hd-preview-label">How did we do?</span>'
            '<span class="hd-preview-stars">★★★★★</span><span class="hd-preview-thumbs">👍 👎</span>'
            "</p></div>"
            '<div class="hd-preview-input">Write a message…<span>Send</span></div></div>'
            '<span class="hd-preview-launcher" aria-hidden="true"></span></div>',
            site.color or "#2563eb",
            (site.name or "?")[:1].upper(),
            site.name or "Your site",
            site.greeting,
            site.satisfaction,
        )

    @admin.display(description="Embed code")
    def embed_snippet(self, site: Site) -> str:
        if not site.pk:
            return "Save the site first: its key goes in the code."
        code = (
            f'<script src="{settings.PUBLIC_BASE_URL}/static/helpdesk/embed.js" '
            f'data-site-key="{site.widget_key}" async></script>'
        )
        return format_html(
            '<div class="hd-code"><code id="hd-embed">{}</code>'
            '<button type="button" class="button" data-copy="hd-embed">Copy</button></div>'
            '<p class="help">Paste it before &lt;/body&gt; on every page that shows the chat.</p>',
            code,
        )

    @admin.display(description="Identity secret")
    def secret(self, site: Site) -> str:
        if not site.pk:
            return "Made when the site is saved."
        return format_html(
            '<div class="hd-secret"><code id="hd-secret">{}</code>'
            '<button type="button" class="button" id="hd-secret-reveal" data-url="{}">Reveal</button>'
            '<button type="submit" class="button" id="hd-secret-rotate" formaction="{}" '
            'formmethod="post" formnovalidate>Rotate</button></div>'
            '<p class="help">Only your server may know it. Rotating makes a new one at once: '
            "signed-in visitors then chat anonymously until your server signs with the new "
            "one. Revealing and rotating are recorded in the audit log.</p>",
            site.identity_secret[:3] + "•" * 24,
            reverse("admin:helpdesk_site_secret", args=[site.pk]),
            reverse("admin:helpdesk_site_rotate", args=[site.pk]),
        )

    @admin.display(description="How to sign a user in")
    def identity_example(self, site: Site) -> str:
        return (
            "For a signed-in user, add to the tag: "
            'data-user-id="<your user ID>" data-user-hash="<HMAC-SHA256 hex of the ID, keyed '
            'with the identity secret>" (Python: hmac.new(secret.encode(), user_id.encode(), '
            '"sha256").hexdigest()). That user then sees the same history on every device.'
        )

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:site_id>/secret/", wrap(self.reveal_view), name="helpdesk_site_secret"),
            path("<uuid:site_id>/rotate/", wrap(self.rotate_view), name="helpdesk_site_rotate"),
            *super().get_urls(),
        ]

    def _changeable(self, request: HttpRequest, site_id: Any) -> Site:
        """The site, if this person may change it (else 404: as if it did not exist)."""
        site = self.get_queryset(request).filter(pk=site_id).first()
        if (
            site is None
            or request.method != "POST"
            or not self.has_change_permission(request, site)
        ):
            raise Http404("No such site of yours.")
        return site

    def reveal_view(self, request: HttpRequest, site_id: Any) -> JsonResponse:
        site = self._changeable(request, site_id)
        secret = site_settings.identity_secret_reveal(site=site, user=request.user)
        response = JsonResponse({"secret": secret})
        response["Cache-Control"] = "no-store"
        return response

    def rotate_view(self, request: HttpRequest, site_id: Any) -> HttpResponse:
        site = self._changeable(request, site_id)
        site_settings.identity_secret_rotate(site_id=site.pk, user=request.user)
        self.message_user(request, "A new identity secret is in use: give it to your server.")
        return HttpResponseRedirect(reverse("admin:helpdesk_site_change", args=[site.pk]))


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
        "wait_target_seconds",
        "business_hours",
        "overflow_group",
        "overflow_after_minutes",
    ]
    search_fields = ["name"]
    filter_horizontal = ["managers"]
    list_select_related = ["business_hours", "overflow_group"]
    inlines = [AgentInline]


class ShiftInline(TimeZoneMixin, admin.TabularInline):
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
    visitor of the site). Their data is exported or erased from their page, by those who
    may (``privacy.selectors.may_handle_visitor``)."""

    def scope(self, actor: Actor) -> Q:
        return Q(pk__in=access.visible_visitors(actor).values("pk"))

    change_form_template = "admin/helpdesk/visitor/change_form.html"
    list_display = ["__str__", "site", "channel", "created_at", "last_seen_at"]
    list_filter = ["site", "channel"]
    list_select_related = ["site"]
    readonly_fields = [
        "id",
        "site",
        "channel",
        "external_id",
        "email_verified_at",
        "language",
        "timezone",
        "page_url",
        "created_at",
        "last_seen_at",
    ]
    exclude = ["email_hash", "search_index"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # visitors arrive through the widget or the API

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<uuid:visitor_id>/export/",
                wrap(privacy_admin.export_view),
                name="helpdesk_visitor_export",
            ),
            path(
                "<uuid:visitor_id>/erase/",
                wrap(privacy_admin.erase_view),
                name="helpdesk_visitor_erase",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        visitor = self.get_queryset(request).filter(pk=object_id).first()
        privacy = visitor is not None and privacy_selectors.may_handle_visitor(
            actor_of(request), visitor
        )
        return super().change_view(
            request, object_id, form_url, {**(extra_context or {}), "privacy": privacy}
        )


class MessageInline(admin.TabularInline):
    model = Message
    fields = ["seq", "sender", "agent", "body", "created_at"]
    readonly_fields = ["seq", "sender", "agent", "body", "created_at"]
    extra = 0
    can_delete = False
    ordering = ["seq"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("agent")


class NoteInline(admin.TabularInline):
    """Internal notes, read-only (agents write them in the inbox)."""

    model = Note
    fields = ["created_at", "agent", "body"]
    readonly_fields = ["created_at", "agent", "body"]
    extra = 0
    can_delete = False
    ordering = ["created_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Note]:
        return super().get_queryset(request).select_related("agent")


# What each action is called in the messages above.
ACTION_WORDS = {
    Action.RESOLVE: _("resolve"),
    Action.TRANSFER: _("transfer"),
    Action.TAG: _("tag"),
}


class TransferActionForm(ActionForm):
    to_agent = forms.ModelChoiceField(
        Agent.objects.filter(user__is_active=True), required=False, label=_("to agent")
    )
    to_group = forms.ModelChoiceField(AgentGroup.objects.all(), required=False, label=_("or group"))
    reason = forms.CharField(required=False, max_length=300, label=_("reason"))
    tag = forms.ModelChoiceField(Tag.objects.all(), required=False, label=_("tag"))


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
    # Counters and cursors the system keeps (seqs, receipts, escalation steps) are not shown:
    # they change only through the services, and a hand edit would break them.
    fieldsets = [
        (None, {"fields": ["id", "site", "visitor", "channel", "status", "priority"]}),
        ("Handled by", {"fields": ["group", "assigned_agent", "tag_list"]}),
        (
            "Times",
            {
                "fields": [
                    "created_at",
                    "queued_at",
                    "assigned_at",
                    "first_response_at",
                    "waiting_since",
                    "last_message_at",
                    "resolved_at",
                ]
            },
        ),
        ("Satisfaction", {"fields": ["rating_given"]}),
    ]
    readonly_fields = [
        "id",
        "site",
        "visitor",
        "channel",
        "status",
        "priority",
        "group",
        "assigned_agent",
        "tag_list",
        "created_at",
        "queued_at",
        "assigned_at",
        "first_response_at",
        "waiting_since",
        "last_message_at",
        "resolved_at",
        "rating_given",
    ]

    @admin.display(description="Tags")
    def tag_list(self, conversation: Conversation) -> str:
        return ", ".join(t.name for t in conversation.tags.all()) or "-"

    @admin.display(description="Rating")
    def rating_given(self, conversation: Conversation) -> str:
        rating = getattr(conversation, "rating", None)
        if rating is None:
            return "Not rated"
        scale = "good" if rating.score == 5 else "bad"
        said = f"{rating.score} of 5" if rating.scale == "five" else scale
        return f"{said}" + (f": “{rating.comment}”" if rating.comment else "")

    inlines = [MessageInline, NoteInline]
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
                gettext(
                    "%(count)s conversation(s) left as they were: only its agent or a manager "
                    "of its team may %(action)s it."
                )
                % {
                    "count": len(chosen) - len(allowed),
                    "action": ACTION_WORDS.get(action, action.value),
                },
                messages.WARNING,
            )
        return allowed

    @admin.action(description=_("Resolve"), permissions=["change"])
    def resolve(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        user = user_of(request)
        by = user.get_full_name() or user.get_username()
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
        self.message_user(request, gettext("Resolved %(count)s conversation(s).") % {"count": done})

    @admin.action(description=_("Add the tag chosen"), permissions=["change"])
    def add_tag(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """The same tags as the inbox's; the agents' message centers follow live."""
        form = TransferActionForm(request.POST)
        form.is_valid()
        tag = form.cleaned_data.get("tag")
        if tag is None:
            self.message_user(request, gettext("Choose a tag."), messages.ERROR)
            return
        conversations = self._allowed(request, queryset, Action.TAG)
        for conversation in conversations:
            helpdesk_services.conversation_tag_add(conversation=conversation, tag=tag)
        self.message_user(
            request,
            gettext("Tagged %(count)s conversation(s) %(tag)s.")
            % {"count": len(conversations), "tag": tag},
        )

    @admin.action(description=_("Transfer to the agent or group chosen"), permissions=["change"])
    def transfer(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> None:
        """The same service as the inbox; the history records who moved it and why."""
        form = TransferActionForm(request.POST)
        form.is_valid()
        to_agent, to_group = form.cleaned_data.get("to_agent"), form.cleaned_data.get("to_group")
        if bool(to_agent) == bool(to_group):
            self.message_user(
                request, gettext("Choose an agent or a group (one of them)."), messages.ERROR
            )
            return
        user = user_of(request)
        by = user.get_full_name() or user.get_username()
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
        self.message_user(
            request,
            gettext("Transferred %(count)s conversation(s) to %(to)s.")
            % {"count": done, "to": to_agent or to_group},
        )


@admin.register(Tag)
class TagAdmin(AuditedAdmin, admin.ModelAdmin):
    """Tags are shared by every team (global configuration): agents apply them in the
    inbox, the reports count by them."""

    list_display = ["name", "swatch"]
    search_fields = ["name"]

    @admin.display(description="colour")
    def swatch(self, tag: Tag) -> str:
        return format_html(
            '<span class="hd-swatch" style="background: {}"></span> {}', tag.color, tag.color
        )

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "color":
            kwargs["widget"] = ColorInput()
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    class Media:
        css = {"all": ["helpdesk/admin.css"]}


# Django's people and permission groups, audited like everything else.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(AuditedAdmin, auth_admin.UserAdmin):
    pass


@admin.register(Group)
class GroupAdmin(AuditedAdmin, auth_admin.GroupAdmin):
    pass


@admin.register(SavedReply)
class SavedReplyAdmin(ScopedAdmin, admin.ModelAdmin):
    """Team replies of the groups one manages, and one's own (agents keep theirs in the
    inbox too)."""

    list_display = ["title", "shortcut", "language", "group", "owner"]
    list_filter = ["group", "language"]
    search_fields = ["title", "shortcut", "body"]
    list_select_related = ["group", "owner"]
    raw_id_fields = ["owner"]
    choices = {"group": access.groups_overseen}

    def scope(self, actor: Actor) -> Q:
        return Q(owner_id=actor.user_id) | Q(group__in=access.groups_overseen(actor).values("pk"))
