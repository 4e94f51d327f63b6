"""Routing configuration: skills, rules, business hours."""

from __future__ import annotations

from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.db import models

from helpdesk.models import AgentGroup, Channel, Priority, Site


class Skill(models.Model):
    name = models.CharField(max_length=50, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """Ordered; the first active rule whose conditions all hold decides. Empty = any."""

    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=100, help_text="Lower runs first.")
    active = models.BooleanField(default=True)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, null=True, blank=True)
    channel = models.CharField(max_length=20, choices=Channel.choices, blank=True)
    language = models.CharField(
        max_length=35, blank=True, help_text="Prefix of the visitor's language, e.g. zh or en-GB."
    )
    url_contains = models.CharField(max_length=200, blank=True)
    keywords = models.CharField(
        max_length=500, blank=True, help_text="Comma-separated; any one in the first message."
    )
    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text='Visitor attributes that must all be equal, e.g. {"plan": "pro"}.',
    )
    group = models.ForeignKey(AgentGroup, on_delete=models.CASCADE, related_name="rules")
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    required_skills = models.ManyToManyField(Skill, blank=True, related_name="rules")

    class Meta:
        ordering = ["order", "pk"]

    def __str__(self) -> str:
        return self.name


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(
            f"{value!r} is not a time zone name (e.g. Europe/Berlin, Asia/Shanghai)."
        )


class Schedule(models.Model):
    """Business hours in their own time zone, with holidays."""

    name = models.CharField(max_length=100)
    timezone = models.CharField(
        max_length=64, default="UTC", help_text="e.g. Asia/Shanghai", validators=[validate_timezone]
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.timezone})"


class OpeningPeriod(models.Model):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="periods")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens = models.TimeField()
    closes = models.TimeField(help_text="Must be after opens; split a night shift in two.")

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")), name="period_closes_after_opens"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["schedule", "date"], name="holiday_once")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()


class Shift(models.Model):
    """A weekly shift of an agent, in the agent's own time zone (a night shift across
    midnight is two shifts)."""

    agent = models.ForeignKey("helpdesk.Agent", on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(choices=OpeningPeriod.Weekday.choices)
    starts = models.TimeField()
    ends = models.TimeField()
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    class Meta:
        ordering = ["agent", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends__gt=models.F("starts")), name="shift_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"


class ShiftException(models.Model):
    """A dated change to an agent's week: a day off (leave, a public holiday), or an extra
    shift. In the time zone of the agent's shifts."""

    class Kind(models.TextChoices):
        OFF = "off", "Day off (leave, holiday)"
        EXTRA = "extra", "Extra shift"

    agent = models.ForeignKey(
        "helpdesk.Agent", on_delete=models.CASCADE, related_name="shift_exceptions"
    )
    date = models.DateField()
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.OFF)
    starts = models.TimeField(null=True, blank=True)
    ends = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.agent} {self.date} {self.get_kind_display()}"

    def clean(self) -> None:
        if self.kind == self.Kind.EXTRA and not (
            self.starts and self.ends and self.ends > self.starts
        ):
            raise ValidationError("An extra shift needs a start and a later end.")


class OnlineSession(models.Model):
    """When an agent was connected (from presence): planned hours against actual ones."""

    agent = models.ForeignKey(
        "helpdesk.Agent", on_delete=models.CASCADE, related_name="online_sessions"
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["agent", "started_at"], name="online_session_agent")]

    def __str__(self) -> str:
        return f"{self.agent} online from {self.started_at:%Y-%m-%d %H:%M}"
