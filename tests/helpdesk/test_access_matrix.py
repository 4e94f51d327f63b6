"""The access rule, enumerated: two sites, their groups, every role, every door.

Acme's conversations go to Support, except refunds, which a rule sends to Billing with the
skill "billing"; Globex's go to Sales. The people:

- Alice: agent in Support.
- Bob: agent in Support and Billing, with the billing skill.
- Dora: agent in Billing, without the skill.
- Charlie: agent in Sales (Globex only).
- Mia: manages Support and answers in it.
- Sam: administers the Acme site (an agent of no group).
- Root: superuser (an agent of no group).

The conversations: ``W`` waits in Support; ``A`` is Alice's and ``B`` Bob's (both Support);
``BW`` waits in Billing and needs the skill; ``T`` was Alice's and was transferred to Billing,
where it waits; ``R`` is Alice's, resolved; ``G`` waits in Globex's Sales.

The expectations are written out by hand below (not computed by ``helpdesk.access``), and
the doors are read from the consumers' handler tables and the URLconf: a new socket action
or URL without a row here fails ``test_every_door_has_a_rule``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import URLPattern, URLResolver

from helpdesk import consumers, supervision, urls
from helpdesk.admin_access import GLOBAL_CONFIGURATION, ScopedAdmin
from helpdesk.models import Conversation, Message, Visitor
from routing.models import RoutingRule, Skill
from tests.factories import (
    AgentFactory,
    ConversationFactory,
    GroupFactory,
    MessageFactory,
    SiteFactory,
    UserFactory,
    VisitorFactory,
)
from tests.ws import agent_socket

pytestmark = pytest.mark.django_db(transaction=True)

CONVERSATIONS = ("W", "A", "B", "BW", "T", "R", "G")

# person: (what they see, what they may reply to (or claim), what they may transfer/resolve)
EXPECTED: dict[str, tuple[set[str], set[str], set[str]]] = {
    "alice": ({"W", "A", "B", "R"}, {"W", "A", "R"}, {"W", "A", "R"}),
    "bob": ({"W", "A", "B", "R", "BW", "T"}, {"W", "B", "BW", "T"}, {"W", "B", "BW", "T"}),
    "dora": ({"BW", "T"}, {"T"}, {"BW", "T"}),  # BW needs a skill Dora lacks
    "charlie": ({"G"}, {"G"}, {"G"}),
    "mia": ({"W", "A", "B", "R"}, {"W"}, {"W", "A", "B", "R"}),
    "sam": (
        {"W", "A", "B", "R", "BW", "T"},
        {"W", "BW", "T"},
        {"W", "A", "B", "R", "BW", "T"},
    ),
    "root": (set(CONVERSATIONS), {"W", "BW", "T", "G"}, set(CONVERSATIONS)),
}

# Every action of the agent socket, by what it touches.
AGENT_DOORS = {
    "conversation.open": "see",
    "conversation.read": "see",
    "conversation.tags": "see",
    "note.add": "see",
    "visitor.update": "see",
    "message.send": "reply",
    "typing": "reply",
    "conversation.claim": "claim",
    "conversation.transfer": "manage",
    "conversation.resolve": "manage",
    "conversation.reopen": "manage",
    "conversation.snooze": "manage",
    "center.list": "list",
    "center.counts": "list",
    "search.messages": "list",
    "status.set": "self",
    "replies.save": "self",
    "replies.delete": "self",
    "ping": "self",
}
# Every action of the supervisor socket (managers, site administrators, superusers only).
SUPERVISOR_DOORS = {
    "conversation.open": "see",
    "conversation.transfer": "manage",
    "conversation.take": "manage (needs an agent profile)",
    "refresh": "self",
    "ping": "self",
}
VISITOR_DOORS = {
    "hello": "session",
    "message.send": "own conversation",
    "visitor.email": "own visitor",
    "receipt": "own conversation (another's: not_found)",
    "typing": "own conversation",
    "rating": "own resolved conversation (another's: not_found; test_satisfaction.py)",
    "visitor.start": "self (makes the pending visitor; counted per address)",
    "ping": "self",
}
# Every URL of the URLconf, and who may use it (tests below and in test_access.py).
HTTP_DOORS = {
    "": "anyone",
    "inbox/": "agent",
    "inbox/<uuid:conversation_id>/": "agent, conversation seen",
    "supervision/": "managers, site administrators, superusers (test_supervision.py)",
    "widget/": "anyone (the site's frame-ancestors)",
    "demo/": "anyone",
    "healthz": "anyone",
    "metrics": "a bearer METRICS_TOKEN (404 without one set)",
    "jsi18n/<str:language>/": "anyone (the pages' strings)",
    "manifest.webmanifest": "anyone (the app's name and icons)",
    "offline/": "anyone (the app's offline page, no data)",
    "accounts/login/": "anyone",
    "accounts/logout/": "anyone",
    "admin/reports/": "staff, within reach",
    "admin/shifts/": "staff, groups managed",
    "admin/": "staff, scoped admins",
    "email/": "the provider, signed",
    "api/schema/": "anyone",
    "api/docs/": "anyone",
    "api/v1/visitor/session": "anyone (rate limited)",
    "api/v1/visitor/messages": "visitor token",
    "api/v1/visitor/email": "visitor token (rate limited)",
    "api/v1/visitor/receipts": "visitor token",
    "api/v1/visitor/resume": "anyone (rate limited)",
    "api/v1/visitor/resume/confirm": "anyone (one code)",
    "api/v1/visitor/rating": "visitor token, own conversation (test_satisfaction.py)",
    "rate/<str:token>/": "the signed link (test_satisfaction.py)",
    "v/verify/<str:token>/": "the signed link",
    "r/": "the signed link (in the fragment)",
    "r/<str:token>/": "the signed link",
    "api/v1/agent/conversations": "agent, visible set",
    "api/v1/agent/conversations/<str:conversation_id>/messages": "agent, conversation seen",
    "api/v1/agent/conversations/<str:conversation_id>/attachments": "agent who may reply",
    "api/v1/agent/conversations/<str:conversation_id>/notes": "agent, conversation seen",
    "api/v1/agent/search": "agent, visible set",
    "api/v1/visitor/attachments": "visitor token (rate limited)",
    "files/<str:token>/": "the signed URL (staff: and a person who sees it)",
    "sw.js": "anyone",
    "widget/sw.js": "anyone",
    "widget/push/": "anyone",
    "notifications/": "agent or staff",
    "api/v1/push/subscriptions": "agent or staff",
    "api/v1/visitor/push": "visitor token",
    "api/v1/visitor/devices": "visitor token (its own phones; tests/notifications/test_app_push.py)",
    "api/v1/visitor/wechat/login": "visitor token (rate limited; test_wechat.py)",
    "api/v1/visitor/wechat/consents": "visitor token (its own consents; test_wechat.py)",
}


@dataclass
class World:
    people: dict[str, Any]
    groups: dict[str, Any]
    sites: dict[str, Any]

    def conversations(self) -> dict[str, Conversation]:
        """A fresh set of the seven conversations (allowed actions change them)."""
        acme, globex = self.sites["acme"], self.sites["globex"]
        support, billing, sales = (self.groups[n] for n in ("support", "billing", "sales"))
        alice, bob = self.people["alice"].agent, self.people["bob"].agent

        def conv(site: Any, group: Any, agent: Any = None, **kw: Any) -> Conversation:
            c = ConversationFactory(
                visitor=VisitorFactory(site=site, name=f"V{uuid.uuid4().hex[:6]}"),
                group=group,
                assigned_agent=agent,
                last_seq=1,
                last_visitor_seq=1,
                **kw,
            )
            MessageFactory(conversation=c, seq=1, body="hello")
            return c

        made = {
            "W": conv(acme, support),
            "A": conv(acme, support, alice),
            "B": conv(acme, support, bob),
            "BW": conv(acme, billing),
            # Transferred away from Alice to Billing, where it waits (made as the transfer
            # leaves it, without routing it to whoever happens to be online).
            "T": conv(acme, billing),
            "R": conv(acme, support, alice, status=Conversation.Status.RESOLVED),
            "G": conv(globex, sales),
        }
        made["BW"].required_skills.add(self.skill)
        MessageFactory(
            conversation=made["T"], seq=2, sender=Message.Sender.AGENT, agent=alice, body="hi"
        )
        Conversation.objects.filter(pk=made["T"].pk).update(last_seq=2, last_agent_seq=2)
        for c in made.values():
            c.refresh_from_db()
        return made

    @property
    def skill(self) -> Skill:
        return Skill.objects.get(name="billing")


@pytest.fixture
def world(settings: Any) -> World:
    # Seven people: hash their (unused) passwords quickly; these tests sign in by session.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    support, billing, sales = (GroupFactory(name=n) for n in ("Support", "Billing", "Sales"))
    acme = SiteFactory(name="Acme", default_group=support)
    globex = SiteFactory(name="Globex", default_group=sales)
    billing_skill = Skill.objects.create(name="billing")
    rule = RoutingRule.objects.create(name="Refunds", keywords="refund", group=billing, site=acme)
    rule.required_skills.add(billing_skill)

    def person(name: str, groups: list[Any], **user: Any) -> Any:
        account = UserFactory(username=name, **user)
        agent = AgentFactory(user=account, display_name=name.title(), member_of=groups)
        return agent.user

    people = {
        "alice": person("alice", [support]),
        "bob": person("bob", [support, billing]),
        "dora": person("dora", [billing]),
        "charlie": person("charlie", [sales]),
        "mia": person("mia", [support], is_staff=True),
        "sam": person("sam", [], is_staff=True),
        "root": person("root", [], is_staff=True, is_superuser=True),
    }
    people["bob"].agent.skills.add(billing_skill)
    support.managers.add(people["mia"])
    acme.administrators.add(people["sam"])
    staff_perms = Permission.objects.filter(
        codename__in=["view_conversation", "change_conversation", "view_visitor", "view_site"]
    )
    for name in ("mia", "sam"):
        people[name].user_permissions.add(*staff_perms)
    return World(
        people=people,
        groups={"support": support, "billing": billing, "sales": sales},
        sites={"acme": acme, "globex": globex},
    )


WAITING = {"W", "BW", "T", "G"}


def outcome(person: str, conv: str, kind: str) -> str:
    """What the door must answer: ``ok``, ``not_found`` or ``not_assigned``."""
    seen, reply, manage = EXPECTED[person]
    if conv not in seen:
        return "not_found"
    claim = reply & WAITING  # a claim is a reply's claim, without the reply
    allowed = {"see": seen, "reply": reply, "manage": manage, "claim": claim}[kind]
    return "ok" if conv in allowed else "not_assigned"


def snapshot(c: Conversation) -> tuple[Any, ...]:
    c = Conversation.objects.get(pk=c.pk)
    return (c.status, c.assigned_agent_id, c.group_id, c.last_seq, c.agent_read_seq)


# ---- the doors are all listed -------------------------------------------------------------------


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    found = []
    for p in patterns:
        if isinstance(p, URLPattern):
            found.append(prefix + str(p.pattern))
        elif isinstance(p, URLResolver):
            found.append(prefix + str(p.pattern))  # an included app (admin, webhooks) is one door
    return found


def test_every_door_has_a_rule():
    agent = consumers.AgentConsumer()
    assert set(agent.handlers()) == set(AGENT_DOORS), "a new agent action needs its rule here"
    visitor = consumers.VisitorConsumer()
    visitor.visitor = Visitor()  # the table once hello has bound the socket
    assert set(visitor.handlers()) == set(VISITOR_DOORS), "a new visitor action needs a rule"
    visitor.visitor, visitor.pending = None, object()  # said hello, has written nothing yet
    assert set(visitor.handlers()) <= set(VISITOR_DOORS), "a pending visitor's too"
    supervisor = supervision.SupervisorConsumer()
    assert set(supervisor.handlers()) == set(SUPERVISOR_DOORS), "a new supervisor action too"
    assert set(_routes(urls.urlpatterns)) == set(HTTP_DOORS), "a new URL needs its rule here"
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        assert isinstance(model_admin, ScopedAdmin) or label in GLOBAL_CONFIGURATION, label


# ---- the agent socket ---------------------------------------------------------------------------


def frame_for(door: str, conv: Conversation, world: World) -> dict[str, Any]:
    frames = {
        "conversation.open": {"after_seq": 0},
        "conversation.read": {"seq": 1},
        "conversation.tags": {"tag_ids": []},
        "note.add": {"client_id": str(uuid.uuid4()), "body": "for the team"},
        "visitor.update": {"name": "Corrected"},
        "message.send": {"client_id": str(uuid.uuid4()), "body": "hi"},
        "typing": {"active": False},
        "conversation.claim": {},
        "conversation.transfer": {"to_group_id": world.groups["sales"].pk, "reason": "x"},
        "conversation.resolve": {},
        "conversation.reopen": {},
        "conversation.snooze": {"until": "2999-01-01T00:00:00Z"},
    }
    return {"type": door, "conversation_id": str(conv.pk), **frames[door]}


ANSWER = {
    "conversation.open": "history",
    "note.add": "note.ack",
    "visitor.update": "visitor",
    "message.send": "message.ack",
    "conversation.claim": "conversation",
    "conversation.transfer": "conversation",
    "conversation.resolve": "conversation",
    "conversation.reopen": "conversation",
    "conversation.snooze": "conversation",
}
# Answered, and nothing the snapshot shows changed: the same conversations go on.
KEEPS = {"conversation.open", "note.add", "visitor.update"}


@pytest.mark.parametrize("person", list(EXPECTED))
async def test_the_agent_socket_follows_the_rule_for_every_action(world, person):
    user = world.people[person]
    sock, _ = await agent_socket(user)
    convs = await database_sync_to_async(world.conversations)()
    doors = [d for d, kind in AGENT_DOORS.items() if kind in ("see", "reply", "manage", "claim")]
    for door in doors:
        for name in CONVERSATIONS:
            expected = outcome(person, name, AGENT_DOORS[door])
            conv = convs[name]
            before = await database_sync_to_async(snapshot)(conv)
            await sock.send(frame_for(door, conv, world))
            try:
                convs = await _answered(sock, world, convs, person, door, name, expected, before)
            except TimeoutError:
                raise AssertionError(
                    f"{person} {door} {name}: no answer for {expected!r}; "
                    f"last frames {sock.frames[-3:]}"
                ) from None
    await sock.close()


async def _answered(sock, world, convs, person, door, name, expected, before):
    """Wait for the door's answer and check it; returns the conversations to go on with."""
    if expected == "ok":
        if door not in ANSWER:  # read and tags answer with an event only when something moved
            await sock.send({"type": "ping"})
            frame = await sock.expect_any(("pong", "error"))
            assert frame["type"] == "pong", (person, door, name, frame)
            return convs
        await sock.expect(ANSWER[door])
        if door in KEEPS:
            return convs
        return await database_sync_to_async(world.conversations)()  # it changed: afresh
    error = await sock.expect("error")
    assert error["code"] == expected, (person, door, name, error)
    after = await database_sync_to_async(snapshot)(convs[name])
    assert after == before, (person, door, name, "changed on refusal")
    return convs


@pytest.mark.parametrize("person", list(EXPECTED))
async def test_the_message_center_lists_and_counts_only_what_one_sees(world, person):
    user = world.people[person]
    convs = await database_sync_to_async(world.conversations)()
    ids = {str(c.pk): name for name, c in convs.items()}
    sock, inbox = await agent_socket(user)
    seen, _, _ = EXPECTED[person]
    scopes = ["mine", "groups", "all"] if inbox["manager"] else ["mine", "groups"]
    assert inbox["manager"] == (person in ("mia", "sam", "root"))
    listed: set[str] = set()
    for scope in scopes:
        for state in ("open", "resolved"):
            await sock.send({"type": "center.list", "scope": scope, "state": state, "limit": 200})
            page = await sock.expect("center.page")
            listed |= {ids[c["id"]] for c in page["conversations"] if c["id"] in ids}
    assert listed <= seen, (person, listed - seen)
    if inbox["manager"]:
        assert listed == seen
    else:
        await sock.send({"type": "center.list", "scope": "all"})
        assert (await sock.expect("error"))["code"] == "invalid_message"
    await sock.close()


# ---- the supervisor socket ------------------------------------------------------------------------


async def _supervisor(user: Any) -> Any:
    from channels.testing import WebsocketCommunicator

    from helpdesk.asgi import application
    from tests.ws import ORIGIN, Socket, session_cookie

    cookie = await database_sync_to_async(session_cookie)(user)
    headers = [(b"cookie", f"sessionid={cookie}".encode()), ORIGIN]
    comm = WebsocketCommunicator(application, "/ws/supervisor/", headers=headers)
    assert (await comm.connect())[0]
    return Socket(comm)


@pytest.mark.parametrize("person", list(EXPECTED))
async def test_the_supervisor_socket_follows_the_rule(world, person):
    """Only those who oversee something get the socket; its view lists only the open
    conversations they oversee; opening follows "see", moving follows "manage"."""
    user = world.people[person]
    sock = await _supervisor(user)
    first = await sock.expect_any(("supervision", "error"))
    if person not in ("mia", "sam", "root"):
        assert first["type"] == "error" and first["code"] == "not_authenticated", person
        return
    convs = await database_sync_to_async(world.conversations)()
    await sock.send({"type": "refresh"})  # made by factories: no event rang
    view = await sock.expect("supervision")
    seen, _, _ = EXPECTED[person]
    listed = {n for n, c in convs.items() if str(c.pk) in str(view)}
    supervised = {  # the open conversations of the groups they manage or that serve their site
        "mia": {"W", "A", "B"},
        "sam": {"W", "A", "B", "BW", "T"},
        "root": {"W", "A", "B", "BW", "T", "G"},
    }
    assert listed == supervised[person], (person, listed)
    assert listed <= seen
    for name in CONVERSATIONS:
        conv = convs[name]
        await sock.send({"type": "conversation.open", "conversation_id": str(conv.pk)})
        frame = await sock.expect_any(("history", "error"))
        assert (frame["type"] == "history") == (name in seen), (person, name, frame)
        before = await database_sync_to_async(snapshot)(conv)
        sales = world.groups["sales"].pk
        await sock.send(
            {"type": "conversation.transfer", "conversation_id": str(conv.pk), "to_group_id": sales}
        )
        frame = await sock.expect_any(("transferred", "error"))
        expected = outcome(person, name, "manage")
        if expected == "ok":
            assert frame["type"] == "transferred", (person, name, frame)
            convs = await database_sync_to_async(world.conversations)()
        else:
            assert frame.get("code") == expected, (person, name, frame)
            assert await database_sync_to_async(snapshot)(conv) == before
    await sock.close()


# ---- HTTP ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("person", list(EXPECTED))
def test_the_agent_http_api_and_pages_follow_the_rule(world, person):
    client = Client()
    client.force_login(world.people[person])
    convs = world.conversations()
    for name in CONVERSATIONS:
        conv = convs[name]
        path = f"/api/v1/agent/conversations/{conv.pk}/messages"
        expected = outcome(person, name, "see")
        got = client.get(path)
        assert got.status_code == {"ok": 200, "not_found": 404}[expected], (person, name)
        page = client.get(f"/inbox/{conv.pk}/")
        assert page.status_code == {"ok": 200, "not_found": 404}[expected], (person, name)
        before = snapshot(conv)
        sent = client.post(
            path, {"client_id": str(uuid.uuid4()), "body": "hi"}, content_type="application/json"
        )
        expected = outcome(person, name, "reply")
        code = {"ok": 201, "not_found": 404, "not_assigned": 403}[expected]
        assert sent.status_code == code, (person, name, sent.content)
        if expected != "ok":
            assert sent.json()["error"]["code"] == expected
            assert snapshot(conv) == before
    seen, _, _ = EXPECTED[person]
    fresh = world.conversations()
    ids = {str(c.pk): name for name, c in fresh.items()}
    scopes = ["mine", "groups"] + (["all"] if person in ("mia", "sam", "root") else [])
    listed = set()
    for scope in scopes:
        for state in ("open", "resolved"):
            page = client.get(f"/api/v1/agent/conversations?scope={scope}&state={state}&limit=200")
            listed |= {ids[c["id"]] for c in page.json()["conversations"] if c["id"] in ids}
    assert listed <= seen
    if "all" in scopes:
        assert listed == seen


def test_nobody_but_agents_uses_the_agent_api(world):
    client = Client()
    dave = UserFactory(username="dave")
    client.force_login(dave)
    assert client.get("/api/v1/agent/conversations").status_code == 403
    assert client.get("/api/v1/agent/conversations?scope=all").status_code == 403


# ---- the back office ----------------------------------------------------------------------------


@pytest.mark.parametrize("person", ["mia", "sam", "root"])
def test_the_back_office_lists_only_what_one_sees(world, person):
    client = Client()
    client.force_login(world.people[person])
    convs = world.conversations()
    seen, _, manage = EXPECTED[person]
    listing = client.get("/admin/helpdesk/conversation/?all=").content.decode()
    shown = {name for name, c in convs.items() if str(c) in listing}
    assert shown == seen, (person, shown ^ seen)
    for name, c in convs.items():
        status = client.get(f"/admin/helpdesk/conversation/{c.pk}/change/").status_code
        assert (status == 200) == (name in seen), (person, name, status)
    visitors = client.get("/admin/helpdesk/visitor/?all=").content.decode()
    names = {name for name, c in convs.items() if c.visitor.name in visitors}
    assert names == seen
    # Acting on everything at once acts only on what one may.
    before = {name: snapshot(c) for name, c in convs.items()}
    client.post(
        "/admin/helpdesk/conversation/",
        {"action": "resolve", "_selected_action": [str(c.pk) for c in convs.values()]},
    )
    for name, c in convs.items():
        changed = snapshot(c) != before[name]
        open_before = before[name][0] == "open"
        assert changed == (name in manage and open_before), (person, name)


def test_a_group_manager_sees_neither_another_sites_settings_nor_its_secret(world):
    client = Client()
    client.force_login(world.people["mia"])
    for site in world.sites.values():
        page = client.get(f"/admin/helpdesk/site/{site.pk}/change/")
        assert page.status_code == 302  # not theirs: as if it did not exist
        assert site.identity_secret not in page.content.decode()
    sam = Client()
    sam.force_login(world.people["sam"])
    assert sam.get(f"/admin/helpdesk/site/{world.sites['acme'].pk}/change/").status_code == 200
    assert sam.get(f"/admin/helpdesk/site/{world.sites['globex'].pk}/change/").status_code == 302


def test_reports_count_only_what_one_sees(world):
    convs = world.conversations()
    for c in convs.values():  # every conversation is in the period, with one message
        Message.objects.filter(conversation=c).update(created_at=c.created_at)
    client = Client()
    client.force_login(world.people["mia"])
    csv = client.get("/admin/reports/?csv=volume").content.decode()
    conversations = sum(int(row.split(",")[1]) for row in csv.strip().splitlines()[1:])
    assert conversations == len(EXPECTED["mia"][0])
    page = client.get("/admin/reports/").content.decode()
    assert "Globex" not in page and "Sales" not in page and "Charlie" not in page


def test_app_and_mini_program_credentials_are_the_site_administrators_alone(world):
    """Like the identity secret: Sam (Acme's administrator) edits Acme's, sees nobody
    else's; Mia, a group manager given the same model permissions, sees none; the secrets are
    never shown back, and are encrypted in the database."""
    from django.db import connection

    from notifications.models import ChannelSettings

    acme, globex = world.sites["acme"], world.sites["globex"]
    perms = Permission.objects.filter(codename__endswith="_channelsettings")
    for name in ("mia", "sam"):
        world.people[name].user_permissions.add(*perms)
    ChannelSettings.objects.create(site=globex, wechat_appid="wxglobex", wechat_secret="g-secret")
    sam = Client()
    sam.force_login(world.people["sam"])
    added = sam.post(
        "/admin/notifications/channelsettings/add/",
        {
            "site": str(acme.pk),
            "wechat_appid": "wxacme",
            "wechat_secret_text": "acme-secret-0123456789",
            "wechat_templates": '[{"id": "tmpl-1", "fields": {"thing1": "reply"}}]',
            "wechat_page": "pages/chat/chat",
            "wechat_state": "formal",
            "apns_key_id": "",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    mine = ChannelSettings.objects.get(site=acme)
    assert mine.wechat_secret == "acme-secret-0123456789" and mine.template_ids() == ["tmpl-1"]
    page = sam.get(f"/admin/notifications/channelsettings/{acme.pk}/change/").content.decode()
    assert "acme-secret-0123456789" not in page and "AppSecret: saved" in page
    listing = sam.get("/admin/notifications/channelsettings/").content.decode()
    assert "Acme" in listing and "Globex" not in listing
    assert sam.get(f"/admin/notifications/channelsettings/{globex.pk}/change/").status_code == 302
    # Sam cannot make settings for a site he does not administer.
    sam.post(
        "/admin/notifications/channelsettings/add/",
        {"site": str(globex.pk), "wechat_appid": "wxevil", "wechat_state": "formal"},
    )
    assert ChannelSettings.objects.get(site=globex).wechat_appid == "wxglobex"
    # Left empty, a secret stays; "remove" deletes it.
    sam.post(
        f"/admin/notifications/channelsettings/{acme.pk}/change/",
        {
            "wechat_appid": "wxacme2",
            "wechat_templates": "[]",
            "wechat_page": "p",
            "wechat_state": "trial",
        },
    )
    mine.refresh_from_db()
    assert (mine.wechat_appid, mine.wechat_secret) == ("wxacme2", "acme-secret-0123456789")
    with connection.cursor() as cursor:
        cursor.execute("SELECT wechat_secret FROM notifications_channelsettings")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert "acme-secret" not in stored and "g-secret" not in stored

    mia = Client()
    mia.force_login(world.people["mia"])
    assert "Acme" not in mia.get("/admin/notifications/channelsettings/").content.decode()
    for site in (acme, globex):
        assert mia.get(f"/admin/notifications/channelsettings/{site.pk}/change/").status_code == 302
    root = Client()
    root.force_login(world.people["root"])
    listing = root.get("/admin/notifications/channelsettings/").content.decode()
    assert "Acme" in listing and "Globex" in listing
