"""Routing in the back office: skills, rules (with a preview before saving), business hours."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.http import HttpRequest

from helpdesk import access
from helpdesk.access import Actor
from helpdesk.admin_access import AuditedAdmin, ScopedAdmin, actor_of
from helpdesk.admin_widgets import TimeZoneMixin
from helpdesk.models import AgentGroup, Channel, Priority, Site
from routing import rules, selectors
from routing.models import Holiday, OnlineSession, OpeningPeriod, RoutingRule, Schedule, Skill


@admin.register(Skill)
class SkillAdmin(AuditedAdmin, admin.ModelAdmin):
    search_fields = ["name"]


class OpeningPeriodInline(admin.TabularInline):
    model = OpeningPeriod
    extra = 1


class HolidayInline(admin.TabularInline):
    model = Holiday
    extra = 1


@admin.register(Schedule)
class ScheduleAdmin(AuditedAdmin, TimeZoneMixin, admin.ModelAdmin):
    list_display = ["name", "timezone"]
    inlines = [OpeningPeriodInline, HolidayInline]


class RuleForm(forms.ModelForm):
    """The rule, plus an example conversation to try it on before saving."""

    preview_only = forms.BooleanField(
        required=False,
        label="Preview instead of saving",
        help_text="Tick, fill in the example below and press Save: nothing is saved.",
    )
    example_site = forms.ModelChoiceField(Site.objects.all(), required=False)
    example_channel = forms.ChoiceField(
        choices=Channel.choices, initial=Channel.WEB, required=False
    )
    example_language = forms.CharField(required=False, initial="en")
    example_page_url = forms.CharField(required=False)
    example_attributes = forms.CharField(required=False, help_text='JSON, e.g. {"plan": "pro"}')
    example_message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    class Meta:
        model = RoutingRule
        fields = [
            "name",
            "order",
            "active",
            "site",
            "channel",
            "language",
            "url_contains",
            "keywords",
            "attributes",
            "group",
            "priority",
            "required_skills",
        ]

    request: HttpRequest | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("preview_only") or self.errors:
            return data
        try:
            attributes = json.loads(data.get("example_attributes") or "{}")
        except ValueError:
            raise forms.ValidationError("The example attributes are not valid JSON.") from None
        site = data.get("example_site") or Site.objects.first()
        if site is None:
            raise forms.ValidationError("Add a site first: the example needs one.")
        ctx = rules.Context(
            site_id=site.pk,
            channel=data.get("example_channel") or Channel.WEB,
            language=data.get("example_language") or "",
            page_url=data.get("example_page_url") or "",
            attributes=attributes if isinstance(attributes, dict) else {},
            first_message=data.get("example_message") or "",
        )
        if self.request is not None:
            messages.info(self.request, preview_text(self.instance, data, ctx, site))
        raise forms.ValidationError("Preview only: nothing was saved. Untick the box to save.")


def preview_text(
    instance: RoutingRule, data: dict[str, Any], ctx: rules.Context, site: Site
) -> str:
    """Whether this (unsaved) rule matches the example, and what the whole rule list decides."""
    group, rule_site = data.get("group"), data.get("site")
    draft = rules.Rule(
        pk=instance.pk or 0,
        name=data.get("name") or "this rule",
        group_id=group.pk if group else None,
        order=data.get("order") or 0,
        active=bool(data.get("active")),
        site_id=rule_site.pk if rule_site else None,
        channel=data.get("channel") or "",
        language=data.get("language") or "",
        url_contains=data.get("url_contains") or "",
        keywords=data.get("keywords") or "",
        attributes=data.get("attributes") or {},
        priority=data.get("priority") or Priority.NORMAL,
        skill_ids=frozenset(s.pk for s in data.get("required_skills") or []),
    )
    others = [r for r in selectors.active_rules() if r.pk != instance.pk]
    outcome = rules.classify([*others, draft], ctx, site.default_group_id)
    matched = rules.matches(draft, ctx)
    group_name = (
        AgentGroup.objects.filter(pk=outcome.group_id).values_list("name", flat=True).first()
        if outcome.group_id is not None
        else None
    )
    skill_names = (
        ", ".join(s.name for s in Skill.objects.filter(pk__in=outcome.skill_ids)) or "none"
    )
    decided_by = "this rule" if outcome.rule_id == draft.pk else f"“{outcome.rule_name}”"
    return (
        f"This rule {'matches' if matched else 'does not match'} the example. "
        f"The example would go to {group_name or 'no group'} with "
        f"{Priority(outcome.priority).label.lower()} priority, skills: {skill_names} "
        f"(decided by {decided_by})."
    )


@admin.register(RoutingRule)
class RoutingRuleAdmin(ScopedAdmin, admin.ModelAdmin):
    """Rules decide whose queue a site's conversations reach, so they are the site
    administrators' (for their sites only; a rule for every site is a superuser's)."""

    choices = {"site": access.sites_administered}

    def scope(self, actor: Actor) -> Q:
        return Q(site__in=sorted(actor.administers))

    form = RuleForm
    list_display = ["name", "order", "active", "site", "channel", "language", "group", "priority"]
    list_editable = ["order", "active"]
    list_filter = ["active", "group", "site", "priority"]
    list_select_related = ["site", "group"]
    filter_horizontal = ["required_skills"]
    fieldsets = [
        (None, {"fields": ["name", "order", "active"]}),
        (
            "When (empty means any)",
            {"fields": ["site", "channel", "language", "url_contains", "keywords", "attributes"]},
        ),
        ("Then", {"fields": ["group", "priority", "required_skills"]}),
        (
            "Preview on an example conversation",
            {
                "fields": [
                    "preview_only",
                    "example_site",
                    "example_channel",
                    "example_language",
                    "example_page_url",
                    "example_attributes",
                    "example_message",
                ]
            },
        ),
    ]

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if not actor_of(request).superuser and "site" in form.base_fields:
            form.base_fields["site"].required = True  # "every site" is not theirs to decide
        return type("BoundRuleForm", (form,), {"request": request})


@admin.register(OnlineSession)
class OnlineSessionAdmin(ScopedAdmin, admin.ModelAdmin):
    """When agents were connected, from presence (read-only): of the groups one manages."""

    def scope(self, actor: Actor) -> Q:
        return Q(agent__groups__in=access.groups_overseen(actor).values("pk"))

    list_display = ["agent", "started_at", "ended_at"]
    list_filter = ["agent"]
    list_select_related = ["agent"]
    date_hierarchy = "started_at"
    readonly_fields = ["agent", "started_at", "ended_at"]

    def has_add_permission(self, request, obj=None):
        return False
