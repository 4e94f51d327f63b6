"""The agent's workspace through the protocol: files both ways, internal notes with
mentions, typing, reopen/snooze/claim, search over message text, the visitor's panel and
saved replies.

People: Alice and Bob (Support, Acme's team), Charlie (Sales, another team), Mia (manages
Support). Visitors: Dana (Acme), Vic (Acme).
"""

from __future__ import annotations

import io
import json
import subprocess
import uuid
from datetime import timedelta

import pytest
import time_machine
from channels.db import database_sync_to_async
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone
from PIL import Image

from helpdesk import access, selectors, services
from helpdesk.models import Attachment, Conversation, Message, Note, SavedReply, Visitor
from notifications.models import Notification
from tests.factories import AgentFactory, UserFactory, VisitorFactory
from tests.ws import agent_socket, latest_welcome, send_message, visitor_socket

pytestmark = pytest.mark.django_db(transaction=True)


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def upload(client: Client, path: str, name: str, data: bytes, kind: str, **headers):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(path, {"file": SimpleUploadedFile(name, data, content_type=kind)}, **headers)


def visitor_session(client: Client, site, **extra):
    return client.post(
        "/api/v1/visitor/session",
        {"site_key": site.widget_key, "channel": "app", **extra},
        content_type="application/json",
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
    ).json()


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# ---- files --------------------------------------------------------------------------------------


def test_a_visitor_sends_a_screenshot_and_only_those_who_see_it_can_open_it(
    acme, alice, charlie, settings, tmp_path
):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    dana = Client()
    token = visitor_session(dana, acme)["token"]
    shot = png()
    uploaded = upload(
        dana, "/api/v1/visitor/attachments", "screen.png", shot, "image/png", **bearer(token)
    )
    assert uploaded.status_code == 201, uploaded.content
    file = uploaded.json()
    assert (file["name"], file["content_type"], file["size"]) == (
        "screen.png",
        "image/png",
        len(shot),
    )
    assert (file["width"], file["height"]) == (800, 600) and file["thumbnail_url"]
    sent = dana.post(
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": "", "attachment_ids": [file["id"]]},
        content_type="application/json",
        **bearer(token),
    )
    assert sent.status_code == 201
    [shown] = sent.json()["message"]["attachments"]
    assert shown["id"] == file["id"]
    # Stored encrypted: the bytes on disk are not the picture.
    stored = Attachment.objects.get(pk=file["id"])
    on_disk = (tmp_path / stored.file).read_bytes()
    assert shot[:64] not in on_disk and not on_disk.startswith(b"\x89PNG")
    # The visitor's URL works as it is (a picture in the widget carries no token).
    assert Client().get(shown["url"]).content == shot
    thumb = Image.open(io.BytesIO(Client().get(shown["thumbnail_url"]).content))
    assert max(thumb.size) <= 320
    # The agent's history carries staff URLs: Alice (Support) opens it, Charlie (Sales) not.
    conv = Conversation.objects.get(pk=sent.json()["message"]["conversation_id"])
    as_alice, as_charlie, nobody = Client(), Client(), Client()
    as_alice.force_login(alice.user)
    as_charlie.force_login(charlie.user)
    history = as_alice.get(f"/api/v1/agent/conversations/{conv.pk}/messages").json()
    [staff] = [a for m in history["messages"] for a in m["attachments"]]
    got = as_alice.get(staff["url"])
    assert got.status_code == 200 and got.content == shot
    assert got["X-Content-Type-Options"] == "nosniff"
    assert as_charlie.get(staff["url"]).status_code == 404
    assert nobody.get(staff["url"]).status_code == 404
    # A forged or expired link says so.
    assert Client().get(shown["url"].replace("/files/", "/files/x")).status_code == 403
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        expired = Client().get(shown["url"])
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "link_expired"


def test_bad_files_are_refused_with_a_reason_and_store_nothing(acme, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    settings.ATTACHMENT_MAX_BYTES = 2048
    dana = Client()
    token = visitor_session(dana, acme)["token"]
    path = "/api/v1/visitor/attachments"
    big = upload(dana, path, "big.txt", b"x" * 4096, "text/plain", **bearer(token))
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    for name, kind, data in [
        ("evil.svg", "image/svg+xml", b"<svg onload=alert(1)>"),
        ("page.html", "text/html", b"<script>alert(1)</script>"),
        ("fake.png", "image/png", b"not a picture at all"),
        ("run.exe", "application/octet-stream", b"MZ\x90\x00"),
    ]:
        refused = upload(dana, path, name, data, kind, **bearer(token))
        assert refused.status_code == 415, name
        assert refused.json()["error"]["code"] == "unsupported_file"
    assert not Attachment.objects.exists()
    assert not any(tmp_path.rglob("*"))


async def test_nobody_sends_someone_elses_file(acme, alice, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    vic, _ = await visitor_socket(acme.widget_key)
    dana = Client()
    token = (await database_sync_to_async(visitor_session)(dana, acme))["token"]
    danas = (
        await database_sync_to_async(upload)(
            dana,
            "/api/v1/visitor/attachments",
            "bill.pdf",
            b"%PDF-1.4 x",
            "application/pdf",
            **bearer(token),
        )
    ).json()
    await vic.send(
        {
            "type": "message.send",
            "client_id": str(uuid.uuid4()),
            "body": "",
            "attachment_ids": [danas["id"]],
        }
    )
    refused = await vic.expect("error")
    assert refused["code"] == "not_found"
    assert not await Message.objects.filter(sender="visitor").aexists()
    assert (await Attachment.objects.aget(pk=danas["id"])).message_id is None
    await vic.close()


async def test_files_go_through_the_offline_store_and_the_catch_up(acme, alice, settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    dana = Client()
    session = await database_sync_to_async(visitor_session)(dana, acme)
    file = (
        await database_sync_to_async(upload)(
            dana,
            "/api/v1/visitor/attachments",
            "order.pdf",
            b"%PDF-1.4 order",
            "application/pdf",
            **bearer(session["token"]),
        )
    ).json()
    await database_sync_to_async(dana.post)(
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": "my invoice", "attachment_ids": [file["id"]]},
        content_type="application/json",
        **bearer(session["token"]),
    )
    sock, _ = await agent_socket(alice.user)  # nobody was online: the flush brings it
    [frame] = await sock.flush_frames()
    [message] = [m for m in frame["messages"] if m["sender"] == "visitor"]
    assert [a["name"] for a in message["attachments"]] == ["order.pdf"]
    # And the visitor's catch-up on another device.
    again, welcome = await visitor_socket(acme.widget_key, session["token"])
    [mine] = [m for m in welcome["messages"] if m["sender"] == "visitor"]
    assert mine["attachments"][0]["id"] == file["id"]
    for s in (sock, again):
        await s.close()


@pytest.fixture
def s3_server(tmp_path):
    """A local S3-compatible server (moto's), on a free port."""
    import socket
    import sys
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "moto.log").open("w"),
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "moto did not start"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def test_attachments_live_in_s3_compatible_storage_encrypted(acme, alice, settings, s3_server):
    import boto3

    options = {
        "bucket_name": "helpdesk-files",
        "endpoint_url": s3_server,
        "region_name": "us-east-1",
        "access_key": "test",
        "secret_key": "test",
        "default_acl": "private",
        "querystring_auth": False,
        "file_overwrite": False,
    }
    boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="helpdesk-files")
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    dana = Client()
    token = visitor_session(dana, acme)["token"]
    shot = png(64, 64)
    file = upload(
        dana, "/api/v1/visitor/attachments", "s.png", shot, "image/png", **bearer(token)
    ).json()
    stored = Attachment.objects.get(pk=file["id"])
    raw = storages["attachments"].open(stored.file, "rb").read()
    assert raw.startswith(b"HDv1") and shot not in raw
    assert Client().get(file["url"]).content == shot
    stored.delete()  # the bytes go with the row
    assert not storages["attachments"].exists(stored.file)


# ---- notes --------------------------------------------------------------------------------------


async def test_a_note_reaches_colleagues_and_mentions_but_no_visitor_path(
    acme, alice, bob, charlie
):
    visitor, welcome = await visitor_socket(acme.widget_key)
    await send_message(visitor, "Where is my parcel?")
    welcome = latest_welcome(visitor)  # the first write's, with the visitor
    conv = await Conversation.objects.aget(visitor_id=welcome["visitor_id"])
    await Conversation.objects.filter(pk=conv.pk).aupdate(assigned_agent=alice)
    alice_sock, _ = await agent_socket(alice.user)
    bob_sock, _ = await agent_socket(bob.user)
    client_id = str(uuid.uuid4())
    await alice_sock.send(
        {
            "type": "note.add",
            "conversation_id": str(conv.pk),
            "client_id": client_id,
            "body": "@bob can you check the depot? @charlie too",
        }
    )
    ack = await alice_sock.expect("note.ack")
    assert [m["name"] for m in ack["note"]["mentions"]] == ["Bob"]  # Charlie cannot see it
    assert (await bob_sock.expect("note"))["note"]["body"].startswith("@bob")
    # Resent: the same note.
    await alice_sock.send(
        {"type": "note.add", "conversation_id": str(conv.pk), "client_id": client_id, "body": "x"}
    )
    assert (await alice_sock.expect("note.ack"))["note"]["id"] == ack["note"]["id"]
    assert await Note.objects.acount() == 1
    mentions = await database_sync_to_async(
        lambda: sorted(
            Notification.objects.filter(reason="mention").values_list("recipient", "channel")
        )
    )()
    assert mentions == [(f"agent:{bob.id}", "email")]  # push: only to browsers that turned it on
    # No visitor path carries it: the socket, a reconnect's catch-up, HTTP, the export's source.
    while not await visitor.nothing(0.5):  # what reached the visitor meanwhile (presence…)
        await visitor.recv()
    assert not any(f["type"] == "note" or "depot" in json.dumps(f) for f in visitor.frames)
    again, caught_up = await visitor_socket(acme.widget_key, welcome["token"])
    bodies = [m["body"] for m in caught_up["messages"]]
    assert not any("depot" in b for b in bodies)
    http = await database_sync_to_async(Client().get)(
        "/api/v1/visitor/messages", HTTP_AUTHORIZATION=f"Bearer {welcome['token']}"
    )
    assert b"depot" not in http.content
    assert not await Message.objects.filter(conversation=conv, sender="agent").aexists()
    # Agents see it in the history.
    await bob_sock.send({"type": "conversation.open", "conversation_id": str(conv.pk)})
    history = await bob_sock.expect("history")
    assert [n["body"][:4] for n in history["notes"]] == ["@bob"]
    for s in (visitor, again, alice_sock, bob_sock):
        await s.close()


async def test_a_visitor_socket_cannot_add_a_note(acme):
    visitor, _ = await visitor_socket(acme.widget_key)
    await visitor.send({"type": "note.add", "conversation_id": str(uuid.uuid4()), "body": "x"})
    assert (await visitor.expect("error"))["code"] == "unknown_type"
    assert not await Note.objects.aexists()
    await visitor.close()


# ---- typing -------------------------------------------------------------------------------------


async def test_typing_goes_both_ways_throttled_never_stored_preview_only_where_allowed(acme, alice):
    visitor, welcome = await visitor_socket(acme.widget_key)
    await send_message(visitor, "hello")
    welcome = latest_welcome(visitor)
    conv = await Conversation.objects.aget(visitor_id=welcome["visitor_id"])
    await Conversation.objects.filter(pk=conv.pk).aupdate(assigned_agent=alice)
    sock, _ = await agent_socket(alice.user)
    stored = await Message.objects.acount()
    await visitor.send({"type": "typing", "active": True, "preview": "my order num"})
    seen = await sock.expect("typing")
    assert seen == {"type": "typing", "conversation_id": str(conv.pk), "active": True}
    await visitor.send({"type": "typing", "active": True, "preview": "my order number is"})
    assert await sock.nothing(0.5)  # within a second: dropped
    acme.typing_preview = True
    await database_sync_to_async(acme.save)()
    await visitor.send({"type": "typing", "active": False})
    assert (await sock.expect("typing"))["active"] is False
    await visitor.send({"type": "typing", "active": True, "preview": "12345"})
    assert (await sock.expect("typing"))["preview"] == "12345"
    await sock.send({"type": "typing", "conversation_id": str(conv.pk), "active": True})
    shown = await visitor.expect("typing")
    assert (shown["active"], shown["agent_name"]) == (True, "Alice")
    assert await Message.objects.acount() == stored
    again, caught_up = await visitor_socket(acme.widget_key, welcome["token"])
    assert all(m["sender"] != "typing" for m in caught_up["messages"])
    for s in (visitor, again, sock):
        await s.close()


# ---- the conversation's life --------------------------------------------------------------------


def as_actor(agent):
    return access.actor_for(agent.user)


def conversation_of(site, body="hello", name="Vic"):
    v = VisitorFactory(site=site, name=name)
    m = services.message_send_by_visitor(visitor=v, client_id=uuid.uuid4(), body=body).message
    return Conversation.objects.get(pk=m.conversation_id)


def test_resolved_reopens_snoozed_wakes_and_the_queue_is_claimed(acme, alice, bob):
    conv = conversation_of(acme)
    services.conversation_claim(conversation_id=conv.pk, agent=alice, actor=as_actor(alice))
    with pytest.raises(services.conversations.routing_services.NotAllowed):
        services.conversation_claim(conversation_id=conv.pk, agent=bob, actor=as_actor(bob))
    services.conversation_resolve(conversation_id=conv.pk, by_name="Alice", actor=as_actor(alice))
    services.conversation_reopen(conversation_id=conv.pk, by_name="Alice", actor=as_actor(alice))
    conv.refresh_from_db()
    assert conv.status == "open" and conv.assigned_agent_id == alice.id
    assert conv.messages.filter(meta__kind="reopened").exists()
    # Snoozed: out of the open list, back when the visitor writes.
    services.conversation_snooze(
        conversation_id=conv.pk, until=timezone.now() + timedelta(hours=3), actor=as_actor(alice)
    )

    def ids(**q):
        return [c["id"] for c in selectors.message_center(as_actor(alice), **q)["conversations"]]

    assert str(conv.pk) not in ids() and ids(state="snoozed") == [str(conv.pk)]
    services.message_send_by_visitor(visitor=conv.visitor, client_id=uuid.uuid4(), body="any news?")
    assert str(conv.pk) in ids(state="unread")
    # Snoozed again, then woken by time.
    services.conversation_mark_read(agent=alice, conversation=conv, seq=99)
    services.conversation_snooze(
        conversation_id=conv.pk, until=timezone.now() + timedelta(minutes=5), actor=as_actor(alice)
    )
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        assert services.conversations_wake() == 1
    assert str(conv.pk) in ids(state="unread")
    # A resolved conversation with a newer one does not reopen.
    services.conversation_resolve(conversation_id=conv.pk, by_name="Alice", actor=as_actor(alice))
    services.message_send_by_visitor(visitor=conv.visitor, client_id=uuid.uuid4(), body="new")
    with pytest.raises(services.conversations.routing_services.NotAllowed):
        services.conversation_reopen(
            conversation_id=conv.pk, by_name="Alice", actor=as_actor(alice)
        )


def test_the_queue_view_lists_my_groups_waiting_conversations(acme, alice, charlie):
    waiting = conversation_of(acme)
    page = selectors.message_center(as_actor(alice), scope="queue")
    assert [c["id"] for c in page["conversations"]] == [str(waiting.pk)]
    assert page["counts"]["scopes"]["queue"] == 1
    assert selectors.message_center(as_actor(charlie), scope="queue")["conversations"] == []


# ---- search -------------------------------------------------------------------------------------


def test_message_text_is_searched_in_english_and_chinese_within_what_one_sees(acme, alice, charlie):
    refund = conversation_of(acme, "I want a refund for my order to Canada", name="Dana")
    chinese = conversation_of(acme, "我要退款，订单还没到", name="Li")
    conversation_of(acme, "just saying hello", name="Vic")

    def found(actor, q):
        return [r["conversation"]["id"] for r in selectors.message_search(actor, q)["results"]]

    assert found(as_actor(alice), "refund") == [str(refund.pk)]
    assert found(as_actor(alice), "CANADA") == [str(refund.pk)]
    assert found(as_actor(alice), "refund canada") == [str(refund.pk)]
    assert found(as_actor(alice), "退款") == [str(chinese.pk)]
    assert found(as_actor(alice), "订单") == [str(chinese.pk)]
    assert found(as_actor(alice), "refund hello") == []  # every word, in one message
    assert found(as_actor(charlie), "refund") == []  # another team's
    center = selectors.message_center(as_actor(alice), scope="groups", q="canada")
    assert [c["id"] for c in center["conversations"]] == [str(refund.pk)]
    # Only hashes are stored.
    from helpdesk.models import MessageToken

    assert not MessageToken.objects.filter(token__icontains="refund").exists()


async def test_search_over_the_socket(acme, alice):
    await database_sync_to_async(conversation_of)(acme, "the parcel never arrived")
    sock, _ = await agent_socket(alice.user)
    await sock.send({"type": "search.messages", "q": "parcel"})
    found = await sock.expect("search.results")
    assert [r["message"]["body"] for r in found["results"]] == ["the parcel never arrived"]
    await sock.send({"type": "search.messages", "q": "zebra"})
    assert (await sock.expect("search.results"))["results"] == []
    await sock.close()


# ---- the visitor beside the thread --------------------------------------------------------------


async def test_the_panel_shows_who_the_visitor_is_and_agents_correct_it(acme, alice):
    visitor, welcome = await visitor_socket(
        acme.widget_key,
        page_url="https://shop.example.com/cart",
        page_title="Your cart",
        referrer="https://www.google.com/",
        language="en-CA",
        timezone="America/Toronto",
    )
    await send_message(visitor, "Is shipping free?")
    welcome = latest_welcome(visitor)
    conv = await Conversation.objects.aget(visitor_id=welcome["visitor_id"])
    await Conversation.objects.filter(pk=conv.pk).aupdate(assigned_agent=alice)
    sock, _ = await agent_socket(alice.user)
    await sock.send({"type": "conversation.open", "conversation_id": str(conv.pk)})
    panel = (await sock.expect("history"))["visitor"]
    assert (
        panel["pages"][0]["title"] == "Your cart" and panel["referrer"] == "https://www.google.com/"
    )
    assert (panel["language"], panel["timezone"]) == ("en-CA", "America/Toronto")
    assert panel["online"] is True and panel["email"] == ""
    await sock.send(
        {
            "type": "visitor.update",
            "conversation_id": str(conv.pk),
            "name": "Dana",
            "email": "dana@example.com",
        }
    )
    corrected = (await sock.expect("visitor"))["visitor"]
    assert (corrected["display_name"], corrected["email_verified"]) == ("Dana", False)
    changed = await sock.expect("conversation")
    assert changed["conversation"]["visitor"]["name"] == "Dana"
    for s in (visitor, sock):
        await s.close()


def test_the_best_name_known_is_shown_everywhere(acme, alice):
    conv = conversation_of(acme, name="")
    visitor = conv.visitor
    visitor.email = "dana@example.com"
    visitor.save(update_fields=["email"])
    [shown] = selectors.message_center(as_actor(alice), scope="groups")["conversations"]
    assert shown["visitor"]["name"] == "dana@example.com"


def test_the_device_is_read_from_the_user_agent(acme):
    client = Client()
    session = visitor_session(client, acme)
    client.post(  # the first write makes the visitor, with what the session's hello told
        "/api/v1/visitor/messages",
        {"client_id": str(uuid.uuid4()), "body": "hi"},
        content_type="application/json",
        **bearer(session["token"]),
    )
    visitor = Visitor.objects.get()
    device = selectors.device_of(visitor.user_agent)
    assert device == {"browser": "Mobile Safari 17", "os": "iOS 17", "device": "iPhone"}


def test_opening_a_conversation_costs_the_same_queries_however_long_its_past(
    acme, alice, django_assert_max_num_queries
):
    conv = conversation_of(acme, "first")
    for n in range(30):
        services.message_send_by_visitor(visitor=conv.visitor, client_id=uuid.uuid4(), body=f"m{n}")
    actor = as_actor(alice)
    with django_assert_max_num_queries(10):
        history = selectors.agent_history(actor, conv.pk, 0)
    assert len(history["messages"]) >= 30


# ---- saved replies ------------------------------------------------------------------------------


async def test_saved_replies_are_mine_and_my_teams(acme, support, alice, bob):
    def make_mia():
        mia = AgentFactory(
            user=UserFactory(username="mia"), display_name="Mia", member_of=[support]
        )
        support.managers.add(mia.user)
        return mia

    mia = await database_sync_to_async(make_mia)()
    alice_sock, inbox = await agent_socket(alice.user)
    assert inbox["replies"] == []
    await alice_sock.send(
        {"type": "replies.save", "title": "Hi", "body": "Hi {visitor_name}!", "shortcut": "hi"}
    )
    mine = (await alice_sock.expect("replies"))["replies"]
    assert [(r["title"], r["team"], r["editable"]) for r in mine] == [("Hi", None, True)]
    await alice_sock.send(
        {"type": "replies.save", "title": "Refund", "body": "…", "group_id": support.pk}
    )
    assert (await alice_sock.expect("error"))["code"] == "not_found"  # not her team to keep
    mia_sock, _ = await agent_socket(mia.user)
    await mia_sock.send(
        {
            "type": "replies.save",
            "title": "Refund",
            "body": "Refunds take 5 days.",
            "group_id": support.pk,
        }
    )
    await mia_sock.expect("replies")
    bob_sock, bob_inbox = await agent_socket(bob.user)
    assert [r["title"] for r in bob_inbox["replies"]] == ["Refund"]  # the team's, not Alice's
    assert bob_inbox["replies"][0]["editable"] is False
    await alice_sock.send({"type": "replies.delete", "id": mine[0]["id"]})
    assert [r["title"] for r in (await alice_sock.expect("replies"))["replies"]] == ["Refund"]
    assert await SavedReply.objects.acount() == 1
    for s in (alice_sock, mia_sock, bob_sock):
        await s.close()
