"""Export and erasure on request, from the back office; pruning what is past retention; all
on PostgreSQL, erasure down to a pg_dump.

People: Vic (a visitor of Acme with an email, answered by Alice, who rated and subscribed to
push), Val (another visitor of Acme, untouched), Mia (manages Support only, staff), Sam
(administers the Acme site, staff), Alice (an agent, not staff).
"""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from helpdesk import satisfaction, services
from helpdesk.models import Conversation, Message, Rating, Visitor
from notifications import services as notifications
from notifications.models import Notification, PushSubscription, ResumeGrant
from offline.models import OfflineMessage
from privacy import services as privacy
from privacy.models import AuditEntry
from routing import services as routing_services
from routing.models import OnlineSession
from tests.conversations import assign, visitor_writes
from tests.factories import UserFactory, VisitorFactory

SECRET = "my card ends 4711-0815"


def staff(username: str, **extra: Any) -> Any:
    user = UserFactory(username=username, is_staff=True, **extra)
    perms = Permission.objects.filter(
        codename__in=["view_visitor", "change_visitor", "view_conversation"]
    )
    user.user_permissions.add(*perms)
    return user


@pytest.fixture
def mia(support):
    user = staff("mia")
    support.managers.add(user)
    return user


@pytest.fixture
def sam(acme):
    user = staff("sam")
    acme.administrators.add(user)
    return user


def make_vic(acme, alice) -> Visitor:
    """Vic's whole footprint: two conversations, a rating, a follow-up email, push, grants."""
    conv = assign(visitor_writes(acme, SECRET, name="Vic Tor", language="en"), alice)
    vic = conv.visitor
    vic.email, vic.email_verified_at = "vic@example.com", timezone.now()
    vic.attributes = {"plan": "gold"}
    vic.save(update_fields=["email", "email_verified_at", "attributes"])
    services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="Thanks Vic Tor, noted."
    )
    services.conversation_resolve(conversation_id=conv.pk, by_name="Alice")
    satisfaction.rating_give(conversation_id=conv.pk, score=5, comment="Vic says: lovely")
    Notification.objects.create(
        recipient=f"visitor:{vic.pk}",
        address="vic@example.com",
        reason=Notification.Reason.VISITOR_REPLY,
        channel=Notification.Channel.EMAIL,
        conversation=conv,
        status=Notification.Status.SENT,
    )
    notifications.push_subscribe(
        endpoint="https://fcm.googleapis.com/fcm/send/vic-device",
        p256dh="p" * 20,
        auth="a" * 16,
        visitor=vic,
    )
    notifications.resume_link(vic)
    services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="one more thing")
    return Visitor.objects.get(pk=vic.pk)


# ---- purge: one statement per table ------------------------------------------------------------


@pytest.mark.django_db
def test_purge_costs_the_same_queries_for_one_message_as_for_many(acme, alice):
    counts = []
    for messages in (1, 40):
        vic = VisitorFactory(site=acme)
        for _ in range(messages):
            services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="hi")
        with CaptureQueriesContext(connection) as queries:
            deleted = privacy.purge(Visitor.objects.filter(pk=vic.pk))
        counts.append(len(queries))
        assert deleted["helpdesk.message"] >= messages
        assert not Message.objects.filter(conversation__visitor=vic).exists()
    assert counts[0] == counts[1], counts


# ---- export ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_administrator_exports_everything_held_about_a_visitor(acme, alice, sam):
    vic = make_vic(acme, alice)
    client = Client()
    client.force_login(sam)
    page = client.get(f"/admin/helpdesk/visitor/{vic.pk}/change/").content.decode()
    assert f"/admin/helpdesk/visitor/{vic.pk}/export/" in page and "/erase/" in page
    got = client.get(f"/admin/helpdesk/visitor/{vic.pk}/export/")
    assert got.status_code == 200 and got["Content-Type"] == "application/json"
    assert got["Content-Disposition"] == f'attachment; filename="visitor-{vic.pk}.json"'
    data = json.loads(got.content)
    assert data["format"] == "helpdesk.visitor-export/1"
    assert data["visitor"]["name"] == "Vic Tor" and data["visitor"]["email"] == "vic@example.com"
    assert data["visitor"]["attributes"] == {"plan": "gold"}
    first, second = data["conversations"]
    assert [m["text"] for m in first["messages"] if m["from"] != "system"] == [
        SECRET,
        "Thanks Vic Tor, noted.",
    ]
    assert first["rating"] == {"scale": "five", "score": 5, "comment": "Vic says: lovely"}
    assert first["messages"][0]["attachments"] == []
    assert second["messages"][0]["text"] == "one more thing"
    assert data["notifications"][0]["address"] == "vic@example.com"
    assert data["push_subscriptions"][0]["endpoint"].endswith("vic-device")
    assert data["resume_grants"][0]["kind"] == "link"
    [entry] = AuditEntry.objects.filter(action="export")
    assert (entry.actor_name, entry.target, entry.site_id) == (
        "sam",
        f"helpdesk.visitor:{vic.pk}",
        acme.pk,
    )
    assert "Vic" not in json.dumps(entry.detail) + entry.target_repr


# ---- erasure ---------------------------------------------------------------------------------------


def dump() -> str:
    db = connection.settings_dict
    return subprocess.run(
        ["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-U", db["USER"] or "postgres", db["NAME"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def tables_holding(dump_text: str, needle: str) -> set[str]:
    """The tables whose rows (COPY sections of the dump) contain ``needle``."""
    found, table = set(), None
    for line in dump_text.splitlines():
        if line.startswith("COPY "):
            table = line.split()[1].split(".")[-1]
        elif line == "\\.":
            table = None
        elif table and needle in line:
            found.add(table)
    return found


def raw_values(table: str, column: str, where: str, value: Any) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE {where} = %s", [value])  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_erasure_from_the_back_office_leaves_nothing_readable(acme, alice, bob, sam):
    vic = make_vic(acme, alice)
    val = visitor_writes(acme, "Val's own question").visitor
    conv = Conversation.objects.filter(visitor=vic).order_by("created_at").first()
    # Traces elsewhere: a back-office edit (Django keeps the visitor's name as its label) and a
    # transfer whose reason names her.
    LogEntry.objects.create(
        user=sam,
        content_type=ContentType.objects.get_for_model(Visitor),
        object_id=str(vic.pk),
        object_repr=str(vic),
        action_flag=CHANGE,
        change_message="[]",
    )
    second = Conversation.objects.filter(visitor=vic).order_by("created_at").last()
    routing_services.conversation_transfer(
        conversation_id=second.pk,
        by_name="Sam",
        to_agent_id=bob.pk,
        reason="Vic Tor asked for Bob",
        actor=__import__("helpdesk.access", fromlist=["x"]).actor_for(sam),
    )
    ciphertexts = raw_values("helpdesk_message", "body", "conversation_id", conv.pk)
    ciphertexts += raw_values("helpdesk_visitor", "name", "id", vic.pk)
    ciphertexts += raw_values("helpdesk_rating", "comment", "conversation_id", conv.pk)
    before = dump()
    for trace in ("vic@example.com", "Vic Tor", *ciphertexts):
        assert trace in before, trace  # the check below can see them while they exist
    client = Client()
    client.force_login(sam)
    confirm = client.get(f"/admin/helpdesk/visitor/{vic.pk}/erase/")
    assert confirm.status_code == 200 and Visitor.objects.filter(pk=vic.pk).exists()
    done = client.post(f"/admin/helpdesk/visitor/{vic.pk}/erase/")
    assert done.status_code == 302

    after = dump()
    for trace in ("vic@example.com", "Vic Tor", "vic-device", vic.pk.hex, *ciphertexts):
        assert trace not in after, trace
    # The ID alone stays where it says what happened: "visitor <id> was erased", and Django's
    # admin history line of the edit (its label now "(erased)").
    assert tables_holding(after, str(vic.pk)) == {"privacy_auditentry", "django_admin_log"}
    assert "(erased)" in after
    for model in (
        Conversation,
        Message,
        Rating,
        OfflineMessage,
        Notification,
        PushSubscription,
        ResumeGrant,
    ):
        assert not model.objects.filter(
            **{
                Conversation: {"visitor_id": vic.pk},
                Message: {"conversation__visitor_id": vic.pk},
                Rating: {"conversation__visitor_id": vic.pk},
                OfflineMessage: {"conversation__visitor_id": vic.pk},
                Notification: {"recipient": f"visitor:{vic.pk}"},
                PushSubscription: {"visitor_id": vic.pk},
                ResumeGrant: {"visitor_id": vic.pk},
            }[model]
        ).exists(), model
    assert (
        Message.objects.get(conversation__visitor=val, sender="visitor").body
        == "Val's own question"
    )
    erased = AuditEntry.objects.get(action="erase")
    assert erased.actor_name == "sam" and erased.detail["deleted"]["helpdesk.message"] >= 4
    assert "reason" not in AuditEntry.objects.get(action="transfer").detail


# ---- who may ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_manager_of_one_group_exports_and_erases_only_visitors_wholly_in_it(
    acme, support, sales, mia, alice, charlie
):
    ours = visitor_writes(acme, "Support only").visitor  # Acme's default group is Support
    both = visitor_writes(acme, "first in Support").visitor
    services.conversation_resolve(
        conversation_id=Conversation.objects.get(visitor=both).pk, by_name="x"
    )
    later = Conversation.objects.get(
        pk=services.message_send_by_visitor(
            visitor=both, client_id=uuid.uuid4(), body="then Sales"
        ).message.conversation_id
    )
    Conversation.objects.filter(pk=later.pk).update(group=sales)
    theirs = visitor_writes(acme, "Sales only").visitor
    Conversation.objects.filter(visitor=theirs).update(group=sales)
    client = Client()
    client.force_login(mia)
    for visitor, status in [(ours, 200), (both, 403), (theirs, 404)]:
        for door in ("export", "erase"):
            got = client.get(f"/admin/helpdesk/visitor/{visitor.pk}/{door}/")
            assert got.status_code == status, (visitor, door, got.status_code)
        page = client.get(f"/admin/helpdesk/visitor/{visitor.pk}/change/")
        shows = f"/{visitor.pk}/erase/" in page.content.decode()
        assert shows == (status == 200), visitor
    assert client.post(f"/admin/helpdesk/visitor/{both.pk}/erase/").status_code == 403
    assert client.post(f"/admin/helpdesk/visitor/{theirs.pk}/erase/").status_code == 404
    assert Visitor.objects.filter(pk__in=[both.pk, theirs.pk]).count() == 2
    assert client.post(f"/admin/helpdesk/visitor/{ours.pk}/erase/").status_code == 302
    assert not Visitor.objects.filter(pk=ours.pk).exists()
    agent = Client()
    agent.force_login(alice.user)  # not staff: no back office at all
    assert agent.get(f"/admin/helpdesk/visitor/{both.pk}/export/").status_code == 302


# ---- retention ----------------------------------------------------------------------------------


def ago(**kwargs: Any):
    return timezone.now() - timedelta(**kwargs)


@pytest.fixture
def history(acme, alice, settings):
    """Acme keeps conversations 30 days; records are kept 400 days (the default)."""
    settings.RETAIN_RECORDS_DAYS = 400
    acme.retention_days = 30
    acme.save(update_fields=["retention_days"])

    def conversation(resolved: bool, last_days: int, messages: int = 2) -> Conversation:
        conv = visitor_writes(acme, "hello")
        for _ in range(messages - 1):
            services.message_send_by_visitor(
                visitor=conv.visitor, client_id=uuid.uuid4(), body="more"
            )
        if resolved:
            services.conversation_resolve(conversation_id=conv.pk, by_name="Alice")
            satisfaction.rating_give(conversation_id=conv.pk, score=4)
        Conversation.objects.filter(pk=conv.pk).update(last_message_at=ago(days=last_days))
        Visitor.objects.filter(pk=conv.visitor_id).update(last_seen_at=ago(days=last_days))
        return conv

    return conversation


@pytest.mark.django_db
def test_the_daily_prune_deletes_what_is_past_retention_and_nothing_else(history, acme, alice):
    old = history(resolved=True, last_days=40)
    recent = history(resolved=True, last_days=10)
    still_open = history(resolved=False, last_days=40)
    stranger = VisitorFactory(site=acme, last_seen_at=ago(days=50))  # wrote nothing, gone
    OfflineMessage.objects.filter(conversation=recent).update(
        state="delivered", delivered_at=ago(days=401)
    )
    OfflineMessage.objects.filter(conversation=still_open).update(created_at=ago(days=500))
    sent = Notification.objects.create(
        recipient="agent:1",
        reason="agent_unread",
        channel="email",
        conversation=recent,
        status="sent",
    )
    pending = Notification.objects.create(
        recipient="agent:1",
        reason="agent_unread",
        channel="email",
        conversation=recent,
        level=9,
    )
    Notification.objects.filter(pk__in=[sent.pk, pending.pk]).update(created_at=ago(days=401))
    used = ResumeGrant.objects.create(
        visitor=recent.visitor,
        kind="code",
        secret_hash="x",
        expires_at=ago(days=-1),
        used_at=ago(days=2),
    )
    expired = ResumeGrant.objects.create(
        visitor=recent.visitor, kind="code", secret_hash="y", expires_at=ago(days=3)
    )
    live = ResumeGrant.objects.create(
        visitor=recent.visitor, kind="link", secret_hash="z", expires_at=ago(days=-20)
    )
    just_expired = ResumeGrant.objects.create(
        visitor=recent.visitor, kind="code", secret_hash="w", expires_at=ago(minutes=1)
    )
    ResumeGrant.objects.filter(pk__in=[used.pk, expired.pk, live.pk]).update(created_at=ago(days=3))
    ended = OnlineSession.objects.create(
        agent=alice, started_at=ago(days=402), ended_at=ago(days=401)
    )
    running = OnlineSession.objects.create(agent=alice, started_at=ago(days=500))

    from privacy.tasks import prune

    counts = prune.delay().get()  # the beat's task, run eagerly
    assert counts["helpdesk.conversation"] == 1 and counts["helpdesk.rating"] == 1
    assert not Conversation.objects.filter(pk=old.pk).exists()
    assert not Message.objects.filter(conversation_id=old.pk).exists()
    assert not Visitor.objects.filter(pk__in=[old.visitor_id, stranger.pk]).exists()
    assert Conversation.objects.filter(pk__in=[recent.pk, still_open.pk]).count() == 2
    assert not OfflineMessage.objects.filter(conversation=recent).exists()  # delivered, old
    assert OfflineMessage.objects.filter(conversation=still_open).exists()  # still pending
    assert list(Notification.objects.values_list("pk", flat=True)) == [pending.pk]
    assert set(ResumeGrant.objects.values_list("pk", flat=True)) == {live.pk, just_expired.pk}
    assert list(OnlineSession.objects.values_list("pk", flat=True)) == [running.pk]
    assert ended.pk != running.pk
    [entry] = AuditEntry.objects.filter(action="prune")
    assert entry.actor is None and entry.detail["deleted"]["helpdesk.conversation"] == 1
    assert prune.delay().get() == {}  # again: nothing left to do, nothing recorded
    assert AuditEntry.objects.filter(action="prune").count() == 1


@pytest.mark.django_db
def test_each_batch_costs_the_same_queries_whatever_its_rows(history):
    """A batch of two conversations with 2 messages each costs what one with 30 messages each
    costs; more conversations cost more batches, each the same."""

    def prune_cost(conversations: int, messages: int = 2) -> int:
        for _ in range(conversations):
            history(resolved=True, last_days=40, messages=messages)
        with CaptureQueriesContext(connection) as queries:
            counts = privacy.retention_prune(batch=2)
        assert counts["helpdesk.conversation"] == conversations
        assert not Conversation.objects.exists()
        return len(queries)

    one_batch = prune_cost(2, messages=2)
    assert prune_cost(2, messages=30) == one_batch
    three_batches, five_batches = prune_cost(6), prune_cost(10)
    per_batch = (three_batches - one_batch) // 2
    assert per_batch > 0 and five_batches == one_batch + 4 * per_batch


def test_the_prune_runs_daily_on_the_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["privacy-prune"]
    assert entry["task"] == "privacy.tasks.prune" and entry["schedule"] == 86400.0
