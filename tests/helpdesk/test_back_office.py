"""The back office a manager works in: the dashboard, a site's settings (preview, embed code,
identity secret), hidden internals, time zone pickers, the rota grid, the audit log.

People: Sam administers the Acme site (staff); Mia manages Support only (staff); Root is a
superuser; Alice and Bob are Support's agents, Charlie Sales'.
"""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client

from helpdesk import services
from helpdesk.admin_access import AuditedAdmin
from helpdesk.models import Conversation
from privacy.models import AuditEntry
from routing.models import Shift
from routing.shift_services import END_OF_DAY, runs, week_of
from tests.conversations import assign, visitor_writes
from tests.factories import SiteFactory, UserFactory

pytestmark = pytest.mark.django_db

STAFF_PERMS = [
    "view_site",
    "change_site",
    "view_conversation",
    "change_conversation",
    "view_agent",
    "change_agent",
    "view_agentgroup",
    "view_auditentry",
]


def staff(username: str) -> object:
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=STAFF_PERMS))
    return user


@pytest.fixture
def sam(acme):
    user = staff("sam")
    acme.administrators.add(user)
    return user


@pytest.fixture
def mia(support):
    user = staff("mia")
    support.managers.add(user)
    return user


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_every_registered_model_admin_writes_the_audit_log():
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, AuditedAdmin), model._meta.label


# ---- a site's settings --------------------------------------------------------------------------


def test_a_sites_page_shows_the_real_embed_code_and_masks_the_secret(acme, sam):
    page = signed_in(sam).get(f"/admin/helpdesk/site/{acme.pk}/change/").content.decode()
    assert f"{settings.PUBLIC_BASE_URL}/static/helpdesk/embed.js" in page
    assert acme.widget_key in page and "YOUR-HELPDESK-HOST" not in page
    assert acme.identity_secret not in page  # masked
    assert 'id="hd-preview"' in page and "helpdesk/site_admin.js" in page
    assert 'type="color"' in page


def test_the_secret_is_revealed_and_rotated_on_purpose_and_recorded(acme, sam, mia):
    client = signed_in(sam)
    reveal = f"/admin/helpdesk/site/{acme.pk}/secret/"
    rotate = f"/admin/helpdesk/site/{acme.pk}/rotate/"
    assert client.get(reveal).status_code == 404  # a GET shows nothing
    shown = client.post(reveal)
    assert shown.status_code == 200 and shown.json() == {"secret": acme.identity_secret}
    assert "no-store" in shown["Cache-Control"]
    old = acme.identity_secret
    assert client.post(rotate).status_code == 302
    acme.refresh_from_db()
    assert acme.identity_secret != old and acme.identity_secret.startswith("is_")
    assert list(
        AuditEntry.objects.order_by("pk").values_list("action", "actor_name", "site_id")
    ) == [
        ("secret_reveal", "sam", acme.pk),
        ("secret_rotate", "sam", acme.pk),
    ]
    for door in (reveal, rotate):  # a group's manager: not her site
        assert signed_in(mia).post(door).status_code == 404
    other = SiteFactory(name="Globex")
    assert client.post(f"/admin/helpdesk/site/{other.pk}/secret/").status_code == 404
    acme.refresh_from_db()
    assert AuditEntry.objects.count() == 2


def test_a_change_is_audited_with_the_fields_never_their_values(acme, sam):
    client = signed_in(sam)
    form = client.get(f"/admin/helpdesk/site/{acme.pk}/change/").context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data |= {
        "name": "Acme",
        "greeting": "Ni hao!",
        "color": "#16a34a",
        "satisfaction": "thumbs",
        "retention_days": "365",
        "default_group": acme.default_group_id,
        "administrators": [sam.pk],
        "allowed_origins": "",
        "email_includes_reply": "on",
    }
    data.pop("business_hours", None)
    saved = client.post(f"/admin/helpdesk/site/{acme.pk}/change/", data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors
    acme.refresh_from_db()
    assert (acme.greeting, acme.satisfaction, acme.retention_days) == ("Ni hao!", "thumbs", 365)
    entry = AuditEntry.objects.get(action="change")
    assert entry.site_id == acme.pk and entry.target == f"helpdesk.site:{acme.pk}"
    assert {"Greeting", "Color", "Satisfaction", "Retention days"} <= set(entry.detail["fields"])
    assert "Ni hao" not in str(entry.detail)


# ---- conversations: no internal counters ----------------------------------------------------------


def test_a_conversations_page_hides_the_counters_the_system_keeps(acme, alice, sam):
    conv = assign(visitor_writes(acme, "hello"), alice)
    services.message_send_by_agent(
        agent=alice, conversation=conv, client_id=uuid.uuid4(), body="Hi!"
    )
    services.conversation_resolve(conversation_id=conv.pk, by_name="Alice")
    page = signed_in(sam).get(f"/admin/helpdesk/conversation/{conv.pk}/change/")
    text = page.content.decode()
    form_fields = set(page.context["adminform"].form.fields)
    for internal in (
        "last_seq",
        "agent_read_seq",
        "last_visitor_seq",
        "last_agent_seq",
        "visitor_delivered_seq",
        "visitor_seen_seq",
        "escalation_level",
    ):
        assert internal not in form_fields and f'name="{internal}"' not in text, internal
    assert "Not rated" in text and "Resolved at" in text


# ---- time zones, the dashboard ------------------------------------------------------------------------


def test_time_zones_are_picked_from_a_list(acme):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    page = signed_in(root).get("/admin/routing/schedule/add/").content.decode()
    assert '<select name="timezone"' in page and '<optgroup label="Asia">' in page
    assert '<option value="Asia/Shanghai">Shanghai</option>' in page


def test_the_dashboard_counts_what_the_manager_sees(acme, support, sales, mia, charlie):
    visitor_writes(acme, "waiting in Support")
    theirs = visitor_writes(acme, "waiting in Sales")
    Conversation.objects.filter(pk=theirs.pk).update(group=sales)
    page = signed_in(mia).get("/admin/").content.decode()
    assert 'id="dashboard"' in page
    waiting = page.split('id="dash-waiting"')[1].split('class="hd-tile-num">')[1].split("<")[0]
    assert waiting == "1"  # Sales' conversation is not hers
    assert "Live supervision" in page and "Audit log" in page


# ---- the rota grid -------------------------------------------------------------------------------


def test_runs_of_whole_hours():
    assert runs({9, 10, 11, 14, 23}) == [(9, 12), (14, 15), (23, 24)]
    assert runs(set()) == []


def test_a_manager_paints_an_agents_week_and_minutes_elsewhere_stay(support, alice, bob, mia):
    from datetime import time

    Shift.objects.create(agent=alice, weekday=2, starts=time(9, 30), ends=time(12), timezone="UTC")
    client = signed_in(mia)
    page = client.get(f"/admin/shifts/?group={support.pk}&agent={alice.pk}").content.decode()
    assert 'id="rota-grid"' in page and 'data-partial="true"' in page
    cells = ["0-9", "0-10", "0-11", "0-14", "4-22", "4-23", "2-10", "2-11"]  # Wednesday as it was
    saved = client.post(
        "/admin/shifts/",
        {"group": support.pk, "agent": alice.pk, "timezone": "Asia/Shanghai", "on": cells},
    )
    assert saved.status_code == 302
    shifts = sorted(
        (s.weekday, s.starts, s.ends, s.timezone) for s in Shift.objects.filter(agent=alice)
    )
    assert shifts == [
        (0, time(9), time(12), "Asia/Shanghai"),
        (0, time(14), time(15), "Asia/Shanghai"),
        (2, time(10), time(12), "Asia/Shanghai"),  # a new zone: every day written again
        (4, time(22), END_OF_DAY, "Asia/Shanghai"),
    ]
    week = week_of(alice.pk)
    assert week.full[4] == {22, 23} and week.zone == "Asia/Shanghai"
    entry = AuditEntry.objects.get(action="shifts")
    assert entry.group_id == support.pk and entry.target_repr == "Alice"

    Shift.objects.create(
        agent=alice, weekday=5, starts=time(8, 15), ends=time(9), timezone="Asia/Shanghai"
    )
    cells_now = [*cells, "6-8"]  # Sunday added; Saturday's 8:15 left alone
    client.post(
        "/admin/shifts/",
        {"group": support.pk, "agent": alice.pk, "timezone": "Asia/Shanghai", "on": cells_now},
    )
    assert Shift.objects.get(agent=alice, weekday=5).starts == time(8, 15)
    assert Shift.objects.get(agent=alice, weekday=6).starts == time(8)


def test_the_rota_is_for_those_who_oversee_the_agents_group(support, sales, alice, charlie, mia):
    client = signed_in(mia)
    # Charlie is in Sales, which Mia does not manage: refused, and nobody else's week changes.
    for group, agent in ((sales, charlie), (support, charlie)):
        refused = client.post(
            "/admin/shifts/",
            {"group": group.pk, "agent": agent.pk, "timezone": "UTC", "on": ["0-9"]},
        )
        assert refused.status_code == 403
    assert not Shift.objects.exists()  # nobody's week changed, Alice's neither
    bad = client.post(
        "/admin/shifts/",
        {"group": support.pk, "agent": alice.pk, "timezone": "Mars/Olympus", "on": ["0-9"]},
    )
    assert bad.status_code == 302 and not Shift.objects.exists()
    client.post(
        "/admin/shifts/",
        {"group": support.pk, "agent": alice.pk, "timezone": "UTC", "on": ["9-99"]},
    )
    assert not Shift.objects.exists()
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_agent"))
    support.managers.add(viewer)
    refused = signed_in(viewer).post(
        "/admin/shifts/", {"group": support.pk, "agent": alice.pk, "timezone": "UTC", "on": ["0-9"]}
    )
    assert refused.status_code == 403 and not Shift.objects.exists()


# ---- the audit log -----------------------------------------------------------------------------------


def test_the_audit_log_is_read_only_and_scoped(acme, support, sales, mia, sam):
    mine = AuditEntry.objects.create(action="transfer", actor_name="x", group_id=support.pk)
    site = AuditEntry.objects.create(action="secret_rotate", actor_name="y", site_id=acme.pk)
    other = AuditEntry.objects.create(action="transfer", actor_name="z", group_id=sales.pk)
    listing = signed_in(mia).get("/admin/privacy/auditentry/").content.decode()
    shown = {
        e.pk for e in (mine, site, other) if f"/admin/privacy/auditentry/{e.pk}/change/" in listing
    }
    assert shown == {mine.pk}
    sams = signed_in(sam).get("/admin/privacy/auditentry/").content.decode()
    assert f"/admin/privacy/auditentry/{site.pk}/change/" in sams
    client = signed_in(mia)
    assert client.get("/admin/privacy/auditentry/add/").status_code == 403
    detail = client.get(f"/admin/privacy/auditentry/{mine.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.post(f"/admin/privacy/auditentry/{mine.pk}/delete/").status_code == 403
    assert AuditEntry.objects.count() == 3
    assert client.get(f"/admin/privacy/auditentry/{other.pk}/change/").status_code == 302
