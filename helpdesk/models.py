"""The conversations domain: sites, agents and their groups, visitors, conversations, messages.

Writes go through ``helpdesk.services``; reads through ``helpdesk.selectors``.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from helpdesk import crypto
from helpdesk.fields import EncryptedJSONField, EncryptedTextField


def new_widget_key() -> str:
    return "wk_" + secrets.token_urlsafe(18)


def normalise_origin(value: str) -> str:
    """``https://Shop.example.com/`` → ``https://shop.example.com`` (default ports dropped)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return ""
        default = {"http": 80, "https": 443}[parts.scheme]
        port = f":{parts.port}" if parts.port and parts.port != default else ""
    except ValueError:  # a malformed port (":99999", ":x") or address: not an origin
        return ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def new_identity_secret() -> str:
    return "is_" + secrets.token_urlsafe(32)


# A site's greeting until it writes its own (translated for each visitor while unchanged).
DEFAULT_GREETING = gettext_noop("Hi! How can we help you today?")


class AgentGroup(models.Model):
    class Strategy(models.TextChoices):
        BALANCED = "balanced", "Balanced (fewest open, then idle longest)"
        ROUND_ROBIN = "round_robin", "Round robin"

    name = models.CharField(max_length=100, unique=True)
    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="managed_agent_groups"
    )
    default_capacity = models.PositiveSmallIntegerField(
        default=5, help_text="Open conversations per agent, unless the agent has their own."
    )
    strategy = models.CharField(max_length=20, choices=Strategy.choices, default=Strategy.BALANCED)
    business_hours = models.ForeignKey(
        "routing.Schedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="groups",
        help_text="Overrides the site's hours for this group.",
    )
    overflow_group = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="overflow_from",
        help_text="Where a conversation goes after waiting too long here.",
    )
    overflow_after_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # Supervision colours a wait amber from half of this, red past it ("at risk").
    wait_target_seconds = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(10)],
        help_text="How long a visitor should wait at most for an answer (supervision).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """An overflow chain must end: no group falls back to itself, directly or not."""
        if self.overflow_group_id is None:
            return
        if not self.overflow_after_minutes:
            raise ValidationError(
                {"overflow_after_minutes": "Say after how many minutes (1 or more)."}
            )
        seen: set[int | None] = {self.pk}
        current: int | None = self.overflow_group_id
        while current is not None:
            if current in seen:
                raise ValidationError(
                    {"overflow_group": "This would send conversations round in a loop."}
                )
            seen.add(current)
            current = (
                AgentGroup.objects.filter(pk=current)
                .values_list("overflow_group", flat=True)
                .first()
            )


class Agent(models.Model):
    """A person who answers conversations; a profile on a Django user."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )

    class Status(models.TextChoices):
        AVAILABLE = "available", "Available"
        AWAY = "away", "Away"

    display_name = models.CharField(max_length=100)
    groups = models.ManyToManyField(AgentGroup, related_name="agents", blank=True)
    skills = models.ManyToManyField("routing.Skill", related_name="agents", blank=True)
    capacity = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Open conversations at most; empty: the group's default."
    )
    # The agent's own status; connection presence is separate (routing.presence).
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.AVAILABLE)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Refreshed on connect, disconnect and (at most once a minute) on ping: "offline since".
    last_seen_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class SatisfactionScale(models.TextChoices):
    """How visitors rate a resolved conversation (helpdesk.satisfaction)."""

    FIVE = "five", "1 to 5 stars"
    THUMBS = "thumbs", "Good or bad"
    OFF = "off", "Not asked"


class Site(models.Model):
    """A customer website (or app) that embeds the widget with its public widget key."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    widget_key = models.CharField(max_length=40, unique=True, default=new_widget_key)
    allowed_origins = models.TextField(
        blank=True,
        help_text=(
            "Where the widget may be embedded and chat sockets may come from: one origin per "
            "line, e.g. https://shop.example.com. Empty: anywhere (fine for trying it out; set "
            "it in production)."
        ),
    )
    # Server-side only: the host site signs its user IDs with it (HMAC-SHA256), so a visitor
    # who proves to be user X sees X's history on every device (docs/protocol.md).
    identity_secret = models.CharField(max_length=64, default=new_identity_secret)
    greeting = models.CharField(max_length=200, default=DEFAULT_GREETING)
    color = models.CharField(max_length=7, default="#2563eb")
    business_hours = models.ForeignKey(
        "routing.Schedule",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sites",
    )
    typing_preview = models.BooleanField(
        default=False,
        help_text="Agents see what the visitor is typing before it is sent. Off by default: "
        "visitors may not expect it (say so in your privacy notice if you turn it on).",
    )
    email_includes_reply = models.BooleanField(
        default=True,
        help_text="Follow-up emails quote the agent's reply; off: only say there is one.",
    )
    default_group = models.ForeignKey(
        AgentGroup,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="default_for_sites",
        help_text="Agents of this group receive the site's new conversations.",
    )
    # Site administrators see and manage every conversation of the site, its visitors and
    # its settings (helpdesk.access); group managers see only their groups'.
    administrators = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="administered_sites",
        help_text="People who see every conversation of this site and manage its settings.",
    )
    satisfaction = models.CharField(
        max_length=6,
        choices=SatisfactionScale.choices,
        default=SatisfactionScale.FIVE,
        help_text="How visitors rate a conversation once it is resolved.",
    )
    # Privacy (privacy.services.retention_prune): how long a conversation is kept after its
    # last message. Empty: kept until erased on request.
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=(
            "Delete a resolved conversation (its messages, rating and records) this many days "
            "after its last message. Empty: keep until erased on request."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        bad = [line for line in self.allowed_origins.split() if not normalise_origin(line)]
        if bad:
            raise ValidationError({"allowed_origins": f"Not an http(s) origin: {bad[0]}"})

    def origins(self) -> list[str]:
        return [o for o in (normalise_origin(v) for v in self.allowed_origins.split()) if o]

    def words(self, language: str) -> dict[str, str]:
        """What the widget says in ``language`` (one of settings.LANGUAGES): the greeting and
        the offline message written for it, else the site's greeting and "" (the widget's own
        offline message). One query."""
        text = self.texts.filter(language=language).first()
        greeting = text.greeting if text and text.greeting else self.greeting
        if greeting == DEFAULT_GREETING:  # never written by the site: ours, in its language
            with translation.override(language):
                greeting = gettext(DEFAULT_GREETING)
        return {
            "greeting": greeting,
            "offline": text.offline if text else "",
        }


class SiteText(models.Model):
    """A site's words for visitors in one language (the widget speaks the visitor's)."""

    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="texts")
    language = models.CharField(max_length=10, choices=settings.LANGUAGES)
    greeting = models.CharField(
        max_length=200, blank=True, help_text="Empty: the site's greeting above."
    )
    offline = models.CharField(
        "offline message",
        max_length=300,
        blank=True,
        help_text="Shown when a visitor writes while nobody can answer, e.g. your hours or "
        "another way to reach you. Empty: the widget's own.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["site", "language"], name="one_text_per_language")
        ]

    def __str__(self) -> str:
        return f"{self.site} ({self.language})"


class Channel(models.TextChoices):
    WEB = "web", "Web"
    APP = "app", "App"
    MINI_PROGRAM = "mini_program", "Mini-program"


class Visitor(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="visitors")
    # Personal data is encrypted at rest (helpdesk/crypto.py); found through blind indexes.
    name = EncryptedTextField(blank=True, default="")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB)
    # What the client told us at its last hello: used by routing rules and for local times.
    language = models.CharField(max_length=35, blank=True)
    timezone = models.CharField(max_length=64, blank=True)
    page_url = models.URLField(max_length=500, blank=True)
    # The pages seen, newest first (at most 10 of {"url", "title", "at"}), where they came
    # from, and their browser: for the agent's panel. Encrypted: URLs can name people.
    pages = EncryptedJSONField(default=list, blank=True, null=True)
    referrer = EncryptedTextField(blank=True, null=True, default="")
    user_agent = models.CharField(max_length=400, blank=True)
    attributes = EncryptedJSONField(default=dict, blank=True)
    # The host site's own user ID, set only when proven with the site's HMAC.
    external_id = models.CharField(max_length=255, blank=True)
    # Left in the widget for follow-up; used only once verified by the emailed link.
    email = EncryptedTextField(blank=True, default="")
    # Blind indexes: the email's keyed hash (exact lookups), and short keyed hashes of the
    # words of the name and email (search in the inbox). Kept by save().
    email_hash = models.CharField(max_length=64, blank=True, db_index=True)
    search_index = models.TextField(blank=True, default="")
    email_verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["site", "external_id"],
                condition=~models.Q(external_id=""),
                name="visitor_one_per_user",
            )
        ]

    def __str__(self) -> str:
        return self.display_name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Keep the blind indexes in step with the encrypted name and email."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"name", "email"} & set(update_fields):
            self.email_hash = crypto.blind(self.email, "email") if self.email else ""
            self.search_index = " ".join(
                sorted(crypto.search_token(w) for w in crypto.search_terms(self.name, self.email))
            )
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "email_hash", "search_index"}
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        """The best name known: the name, else the email address, else a short tag."""
        return self.name or self.email or self.anonymous_name(self.id)

    @staticmethod
    def anonymous_name(pk: uuid.UUID) -> str:
        """What a visitor who gave neither a name nor an email address is called."""
        return gettext("Visitor %(id)s") % {"id": pk.hex[:4]}


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class Conversation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    site = models.ForeignKey(Site, on_delete=models.CASCADE, related_name="conversations")
    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="conversations")
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.WEB)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    assigned_agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    # Set by the routing rule that matched the first message (or the site's default group).
    group = models.ForeignKey(
        AgentGroup, on_delete=models.SET_NULL, null=True, blank=True, related_name="conversations"
    )
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    required_skills = models.ManyToManyField("routing.Skill", blank=True, related_name="+")
    # When it entered the queue; kept when it returns, so it does not lose its place.
    queued_at = models.DateTimeField(null=True, blank=True)
    # When it entered its current group (overflow counts from here).
    group_entered_at = models.DateTimeField(null=True, blank=True)
    # The highest manager-escalation step already taken (notifications).
    escalation_level = models.PositiveSmallIntegerField(default=0)
    # The last allocated message seq: the per-conversation cursor clients resume from.
    last_seq = models.PositiveIntegerField(default=0)
    # The assigned agent's read cursor (the highest seq they have seen). Each agent has their
    # own (ReadCursor); this is the handling agent's, copied from theirs on every handover.
    agent_read_seq = models.PositiveIntegerField(default=0)
    # The seq of the last visitor message and of the last agent reply: with agent_read_seq
    # they give the conversation's state (unread, pending, replied) without a subquery.
    last_visitor_seq = models.PositiveIntegerField(default=0)
    last_agent_seq = models.PositiveIntegerField(default=0)
    # Receipts from the visitor's side: the highest seq a visitor client has received, and
    # the highest it has shown on screen.
    visitor_delivered_seq = models.PositiveIntegerField(default=0)
    visitor_seen_seq = models.PositiveIntegerField(default=0)
    tags: models.ManyToManyField[Tag, Any] = models.ManyToManyField(
        "Tag", blank=True, related_name="conversations"
    )
    # Kept for the reports (no message scans): when the visitor first wrote, when an agent
    # first answered, and whether the first message found nobody online.
    first_visitor_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    first_response_agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_offline = models.BooleanField(default=False)
    # Since when the visitor has been waiting for an answer; null when not waiting.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # When it was last resolved (resolution times and reopen rates in the reports).
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # Snoozed by its agent: out of the open lists until then (or until the visitor writes),
    # then back as unread.
    snoozed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["assigned_agent", "status"], name="conv_agent_status"),
            models.Index(fields=["visitor", "-created_at"], name="conv_visitor_recent"),
            models.Index(fields=["created_at"], name="conv_created"),
            models.Index(
                fields=["group", "-priority", "queued_at"],
                name="conv_waiting_queue",
                condition=models.Q(status="open", assigned_agent__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.id.hex[:8]}"


class Tag(models.Model):
    """Defined by managers in the back office, applied by agents, filtered on in the inbox."""

    name = models.CharField(max_length=40, unique=True)
    color = models.CharField(max_length=7, default="#64748b", help_text="#rrggbb")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ReadCursor(models.Model):
    """How far one agent has read one conversation. A manager or colleague reading does not
    move the handling agent's cursor; a conversation handed to an agent takes theirs."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="read_cursors")
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="read_cursors"
    )
    seq = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "conversation"], name="read_cursor_once")
        ]

    def __str__(self) -> str:
        return f"{self.agent} read {self.conversation} to {self.seq}"


class Message(models.Model):
    class Sender(models.TextChoices):
        VISITOR = "visitor", "Visitor"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=Sender.choices)
    agent = models.ForeignKey(
        Agent, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages"
    )
    body = EncryptedTextField()  # encrypted at rest (helpdesk/crypto.py)
    client_id = models.UUIDField(null=True, blank=True)
    # For an agent reply: how long the visitor had been waiting for it (the reports' reply
    # times), kept when it is stored.
    answered_wait = models.DurationField(null=True, blank=True)
    # System lines carry what they say as data, so clients can word and localise it.
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "seq"]
        # The reports' passes over a period's messages (visitor messages per day; replies per
        # agent and every reply's wait) read these partial indexes, not every message's row.
        indexes = [
            models.Index(
                fields=["created_at", "conversation"],
                name="message_visitor_when",
                condition=models.Q(sender="visitor"),
            ),
            models.Index(
                fields=["created_at", "conversation", "agent", "answered_wait"],
                name="message_agent_when",
                condition=models.Q(sender="agent"),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique"),
            # Resends are idempotent: one message per sender side and client ID.
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_id"],
                name="message_client_id_unique",
                condition=models.Q(client_id__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.conversation_id}#{self.seq}"


class Rating(models.Model):
    """A visitor's rating of a resolved conversation, from the widget, an app or the
    follow-up email: one per conversation (rating again replaces it). Good and bad are kept
    as 5 and 1, so both scales count alike as satisfied (4 or 5) or not."""

    class Source(models.TextChoices):
        WIDGET = "widget", "Widget or app"
        EMAIL = "email", "Follow-up email"

    # A UUID: the encrypted comment is bound to a primary key known before the row is saved.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="rating"
    )
    scale = models.CharField(max_length=6, choices=SatisfactionScale.choices[:2])
    score = models.PositiveSmallIntegerField()
    comment = EncryptedTextField(blank=True, default="")  # the visitor's words: encrypted
    source = models.CharField(max_length=6, choices=Source.choices, default=Source.WIDGET)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__gte=1, score__lte=5), name="rating_score_1_to_5"
            )
        ]

    def __str__(self) -> str:
        return f"{self.score}/5 for {self.conversation_id}"


class Attachment(models.Model):
    """A file a visitor or an agent sent, stored encrypted (AES-GCM, like message bodies)
    through Django's storage API; served only through short-lived signed URLs."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Who uploaded it: a visitor (before their first message it belongs to no conversation
    # yet), or an agent, for one conversation.
    visitor = models.ForeignKey(
        Visitor, on_delete=models.CASCADE, null=True, blank=True, related_name="uploads"
    )
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, blank=True)
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    # Set when a message carries it; until then only its uploader may send it.
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, null=True, blank=True, related_name="attachments"
    )
    uploaded_by = models.CharField(max_length=10, choices=Message.Sender.choices)
    name = EncryptedTextField()
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    file = models.CharField(max_length=200, help_text="Storage name of the encrypted bytes.")
    thumbnail = models.CharField(max_length=200, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.content_type} {self.size} B"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class Note(models.Model):
    """An internal note: staff only, beside the conversation's messages but never one of
    them (no seq, no visitor path can reach it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    agent = models.ForeignKey(Agent, on_delete=models.SET_NULL, null=True, related_name="notes")
    body = EncryptedTextField()
    mentions = models.ManyToManyField(Agent, blank=True, related_name="mentioned_in")
    client_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "agent", "client_id"],
                name="note_client_id_unique",
                condition=models.Q(client_id__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"note on {self.conversation_id}"


class SavedReply(models.Model):
    """A canned answer: an agent's own, or a team's (managed by its managers)."""

    title = models.CharField(max_length=100)
    body = models.TextField(
        max_length=4000,
        help_text="Placeholders: {visitor_name}, {agent_name}, {site_name}.",
    )
    language = models.CharField(
        max_length=10, blank=True, help_text="e.g. en, zh-hans; empty: any language."
    )
    shortcut = models.SlugField(max_length=40, blank=True, help_text="Typed after /, e.g. refund")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="saved_replies",
    )
    group = models.ForeignKey(
        AgentGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="saved_replies"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "saved replies"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner__isnull=False, group__isnull=True)
                | models.Q(owner__isnull=True, group__isnull=False),
                name="saved_reply_one_owner",
            )
        ]

    def __str__(self) -> str:
        return self.title


class MessageToken(models.Model):
    """Search over encrypted bodies: short keyed hashes of a message's words (CJK: of its
    character pairs), written with the message. Equal words hash equal, which is the leak
    docs/security.md describes."""

    token = models.CharField(max_length=12)
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["token", "conversation"], name="message_token")]
        constraints = [
            models.UniqueConstraint(fields=["token", "message"], name="message_token_once")
        ]

    def __str__(self) -> str:
        return self.token
