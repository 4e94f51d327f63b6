"""Encryption at rest: AES-256-GCM bound to each row, rotation while running, and a database
dump that holds none of a conversation's words or the visitor's email.

People: Vic (a visitor with an email), Alice (the agent who answers her).
"""

from __future__ import annotations

import subprocess
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import isolate_apps

from helpdesk import crypto, services
from helpdesk.models import Conversation, Message, Visitor
from tests.factories import VisitorFactory

pytestmark = pytest.mark.django_db

SECRET_WORDS = "my account number is 4711-0815"


def raw(table: str, column: str, pk) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def write_raw(table: str, column: str, pk, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [value, pk])  # noqa: S608


@pytest.fixture
def vic(acme):
    return VisitorFactory(
        site=acme, name="Vic Tor", email="vic@example.com", attributes={"plan": "gold"}
    )


def test_values_are_stored_encrypted_and_read_back(vic):
    msg = services.message_send_by_visitor(
        visitor=vic, client_id=uuid.uuid4(), body=SECRET_WORDS
    ).message
    stored = raw("helpdesk_message", "body", msg.pk)
    assert stored.startswith("v1:t1:") and "4711" not in stored
    assert "Vic" not in raw("helpdesk_visitor", "name", vic.pk)
    assert "gold" not in raw("helpdesk_visitor", "attributes", vic.pk)
    fresh = Visitor.objects.get(pk=vic.pk)
    assert (fresh.name, fresh.email, fresh.attributes) == (
        "Vic Tor",
        "vic@example.com",
        {"plan": "gold"},
    )
    assert Message.objects.get(pk=msg.pk).body == SECRET_WORDS
    again = services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body=SECRET_WORDS)
    assert raw("helpdesk_message", "body", again.message.pk) != stored  # a fresh nonce each time


def test_a_ciphertext_copied_to_another_row_or_tampered_with_is_a_clear_error(vic):
    first, second = (
        services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body=b).message
        for b in ("first", "second")
    )
    write_raw("helpdesk_message", "body", second.pk, raw("helpdesk_message", "body", first.pk))
    with pytest.raises(crypto.CryptoError, match=f"helpdesk.message.body:{second.pk}"):
        Message.objects.get(pk=second.pk).body  # noqa: B018
    stored = raw("helpdesk_message", "body", first.pk)
    flipped = stored[:-2] + ("A" if stored[-2] != "A" else "B") + stored[-1]
    write_raw("helpdesk_message", "body", first.pk, flipped)
    with pytest.raises(crypto.CryptoError, match="does not decrypt"):
        Message.objects.get(pk=first.pk).body  # noqa: B018


def test_an_unknown_key_is_named(vic, settings):
    msg = services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body="hi").message
    settings.FIELD_ENCRYPTION_KEYS = [f"t9:{crypto.new_key()}"]
    with pytest.raises(crypto.CryptoError, match="key 't1', which is not configured"):
        Message.objects.get(pk=msg.pk).body  # noqa: B018


def test_plaintext_cannot_sneak_in_through_update_or_lookups(vic):
    with pytest.raises(TypeError, match="encrypted"):
        Visitor.objects.filter(pk=vic.pk).update(email="x@example.com")
    with pytest.raises(TypeError, match="blind index"):
        list(Message.objects.filter(body="hello"))


def test_keys_rotate_in_resumable_batches_while_everything_stays_readable(vic, settings):
    bodies = [f"message {i}" for i in range(7)]
    for body in bodies:
        services.message_send_by_visitor(visitor=vic, client_id=uuid.uuid4(), body=body)
    old = list(settings.FIELD_ENCRYPTION_KEYS)
    settings.FIELD_ENCRYPTION_KEYS = [f"t2:{crypto.new_key()}", *old]
    call_command("rotate_keys", batch=3, max_batches=1)  # interrupted after one batch
    keys = {crypto.key_id(raw("helpdesk_message", "body", m.pk)) for m in Message.objects.all()}
    assert keys == {"t1", "t2"}
    call_command("rotate_keys", batch=3)  # and resumed
    keys = {crypto.key_id(raw("helpdesk_message", "body", m.pk)) for m in Message.objects.all()}
    assert keys == {"t2"}
    assert crypto.key_id(raw("helpdesk_visitor", "email", vic.pk)) == "t2"
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # the old key retired
    conv = Conversation.objects.get()
    assert [m.body for m in conv.messages.filter(sender="visitor").order_by("seq")] == bodies
    assert Visitor.objects.get(pk=vic.pk).email == "vic@example.com"


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_conversation_text_and_no_email(acme, alice, vic):
    from notifications import services as notifications

    conv = Conversation.objects.get(
        pk=services.message_send_by_visitor(
            visitor=vic, client_id=uuid.uuid4(), body=SECRET_WORDS
        ).message.conversation_id
    )
    services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="Thanks, Vic Tor, noted."
    )
    Visitor.objects.filter(pk=vic.pk).update(email_verified_at=conv.created_at)
    notifications.resume_link(vic)
    db = connection.settings_dict
    dump = subprocess.run(
        ["pg_dump", "-h", db["HOST"] or "127.0.0.1", "-U", db["USER"] or "postgres", db["NAME"]],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "helpdesk_message" in dump and len(dump) > 10_000  # a real dump of the real data
    for secret in ("4711-0815", "account number", "noted.", "vic@example.com", "Vic Tor", "gold"):
        assert secret not in dump, secret


@isolate_apps("helpdesk")
def test_an_encrypted_field_on_an_auto_increment_model_fails_the_system_check():
    """Its value would be bound to a primary key of None and never decrypt again."""
    from django.db import models

    from helpdesk.fields import EncryptedTextField

    class Careless(models.Model):  # noqa: DJ008
        secret = EncryptedTextField()

        class Meta:
            app_label = "helpdesk"

    class Careful(models.Model):  # noqa: DJ008
        id = models.UUIDField(primary_key=True, default=uuid.uuid4)
        secret = EncryptedTextField()

        class Meta:
            app_label = "helpdesk"

    assert [e.id for e in Careless._meta.get_field("secret").check()] == ["helpdesk.E001"]
    assert Careful._meta.get_field("secret").check() == []
