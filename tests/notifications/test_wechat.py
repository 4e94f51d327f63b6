"""WeChat mini-programs end to end, against a stand-in for WeChat's API on loopback that keeps
WeChat's rules (one subscribe message per consent, customer-service messages within 48
hours, codes used once): the visitor links with a ``wx.login`` code, reports consents, and
each unseen reply spends exactly one consent, falls back to a customer-service message or to
email, and is never sent twice.

People: Alice (Support agent); Vic, a visitor in Acme's mini-program; Eve, another visitor.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection
from django.test import Client

from helpdesk import services as helpdesk_services
from helpdesk import tokens
from notifications import services
from notifications.models import ChannelSettings, Notification, SubscribeConsent, WechatIdentity
from notifications.services import delivery
from notifications.services.wechat import MAX_CONSENTS
from notifications.transports import WechatTransport
from offline import services as offline_services
from tests.conversations import assign, visitor_writes
from tests.factories import VisitorFactory
from tests.notifications.conftest import START
from tests.wechatapi import CUSTOM, SUBSCRIBE, Wechat

pytestmark = pytest.mark.django_db

REPLY_TEMPLATE = "tmpl-reply-notice-0001"
OTHER_TEMPLATE = "tmpl-order-update-0002"
FIELDS = {"thing1": "site", "thing2": "reply", "time3": "time", "name4": "agent"}


@pytest.fixture
def wechat(settings):
    service = Wechat().start()
    settings.WECHAT_API_BASE_URL = service.base
    yield service
    service.stop()


@pytest.fixture
def mini_program(acme, wechat):
    return ChannelSettings.objects.create(
        site=acme,
        wechat_appid=wechat.appid,
        wechat_secret=wechat.secret,
        wechat_templates=[
            {"id": REPLY_TEMPLATE, "fields": FIELDS},
            {"id": OTHER_TEMPLATE, "fields": {"thing1": "reply"}},
        ],
        wechat_page="pages/chat/chat",
        wechat_state="trial",
    )


def call(method, path, visitor, body=None):
    headers = {
        "Authorization": f"Bearer {tokens.issue(site_id=visitor.site_id, visitor_id=visitor.id)}"
    }
    client = Client()
    if method == "GET":
        return client.get(path, headers=headers)
    return client.post(path, body, content_type="application/json", headers=headers)


def link(visitor, openid):
    response = call(
        "POST", "/api/v1/visitor/wechat/login", visitor, {"code": Wechat.code_for(openid)}
    )
    assert response.status_code == 200, response.content
    return response.json()


def consent(visitor, *templates):
    response = call(
        "POST", "/api/v1/visitor/wechat/consents", visitor, {"accepted": list(templates)}
    )
    assert response.status_code == 200, response.content
    return response.json()


def mini_conversation(site, agent, body="我的包裹在哪里"):
    return assign(
        visitor_writes(
            site, body, channel="mini_program", language="zh-CN", timezone="Asia/Shanghai"
        ),
        agent,
        START,
    )


def reply(agent, conv, body):
    return helpdesk_services.message_send_by_agent(
        agent=agent, conversation=conv, client_id=uuid.uuid4(), body=body
    ).message


def seen(conv):
    """The visitor opened the mini-program and caught up: nothing waits for them."""
    offline_services.offline_mark_delivered_to_visitor(conversation=conv, up_to_seq=10**6)


# ---- linking and consents ---------------------------------------------------------------------


def test_a_mini_program_visitor_links_with_a_login_code_and_reports_consents(
    wechat, mini_program, acme
):
    vic = VisitorFactory(site=acme, channel="mini_program")
    status = link(vic, "o-vic")
    assert status == {
        "linked": True,
        "templates": [REPLY_TEMPLATE, OTHER_TEMPLATE],
        "available": {REPLY_TEMPLATE: 0, OTHER_TEMPLATE: 0},
    }
    [login] = wechat.calls_to("/sns/jscode2session")
    assert (
        login.query["appid"] == wechat.appid and login.query["grant_type"] == "authorization_code"
    )
    assert WechatIdentity.objects.get(visitor=vic).openid == "o-vic"
    with connection.cursor() as cursor:  # the openid is encrypted at rest
        cursor.execute("SELECT openid FROM notifications_wechatidentity")
        (stored,) = cursor.fetchone()
    assert "o-vic" not in stored

    after = consent(vic, REPLY_TEMPLATE, REPLY_TEMPLATE, OTHER_TEMPLATE)
    assert after["available"] == {REPLY_TEMPLATE: 2, OTHER_TEMPLATE: 1}
    assert call("GET", "/api/v1/visitor/wechat/consents", vic).json() == after


def test_a_code_is_exchanged_once_and_a_made_up_one_is_refused(wechat, mini_program, acme):
    vic = VisitorFactory(site=acme)
    code = Wechat.code_for("o-vic")
    first = call("POST", "/api/v1/visitor/wechat/login", vic, {"code": code})
    assert first.status_code == 200
    again = call("POST", "/api/v1/visitor/wechat/login", vic, {"code": code})
    assert again.status_code == 400 and again.json()["error"]["code"] == "invalid_code"
    eve = VisitorFactory(site=acme)
    made_up = call("POST", "/api/v1/visitor/wechat/login", eve, {"code": "nonsense"})
    assert made_up.status_code == 400 and not WechatIdentity.objects.filter(visitor=eve).exists()


def test_consents_need_a_link_known_templates_and_stop_at_the_cap(wechat, mini_program, acme):
    vic = VisitorFactory(site=acme)
    early = call("POST", "/api/v1/visitor/wechat/consents", vic, {"accepted": [REPLY_TEMPLATE]})
    assert early.status_code == 409 and early.json()["error"]["code"] == "wechat_not_linked"
    link(vic, "o-vic")
    unknown = call(
        "POST", "/api/v1/visitor/wechat/consents", vic, {"accepted": [REPLY_TEMPLATE, "tmpl-evil"]}
    )
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "unknown_template"
    assert not SubscribeConsent.objects.exists()  # nothing of a refused report is kept
    for _ in range(3):
        consent(vic, *[REPLY_TEMPLATE] * 10)
    assert SubscribeConsent.objects.count() == MAX_CONSENTS


def test_without_the_sites_mini_program_the_calls_say_so(acme):
    vic = VisitorFactory(site=acme)
    for path, body in [
        ("/api/v1/visitor/wechat/login", {"code": "o.x"}),
        ("/api/v1/visitor/wechat/consents", {"accepted": []}),
    ]:
        response = call("POST", path, vic, body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "channel_not_configured"
    assert Client().get("/api/v1/visitor/wechat/consents").status_code == 401


# ---- subscribe messages -----------------------------------------------------------------------


def test_each_consent_carries_exactly_one_reply_notice(clock, wechat, mini_program, acme, alice):
    conv = mini_conversation(acme, alice)
    vic = conv.visitor
    link(vic, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE, times=2)  # the user tapped "allow" twice
    consent(vic, REPLY_TEMPLATE)
    consent(vic, REPLY_TEMPLATE)

    reply(alice, conv, "今天发货。")
    clock.shift(timedelta(minutes=3))
    services.scan()
    services.scan()
    first = wechat.next()
    assert first.path == SUBSCRIBE
    assert first.body["touser"] == "o-vic" and first.body["template_id"] == REPLY_TEMPLATE
    assert first.body["page"] == f"pages/chat/chat?conversation={conv.id}"
    assert first.body["miniprogram_state"] == "trial" and first.body["lang"] == "zh_CN"
    assert first.body["data"] == {
        "thing1": {"value": acme.name},
        "thing2": {"value": "今天发货。"},
        "time3": {"value": "2026年11月24日 18:00"},  # the reply's time, in Shanghai
        "name4": {"value": "Alice"},
    }
    assert wechat.none_pending()

    # The next reply, once the first was read, spends the second consent; a third has none.
    seen(conv)
    reply(alice, conv, "A second answer, long enough to be cut to twenty characters.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    second = wechat.next()
    assert second.body["data"]["thing2"]["value"] == "A second answer, lo…"
    seen(conv)
    reply(alice, conv, "A third answer")
    clock.shift(timedelta(minutes=3))
    services.scan()
    services.scan()
    assert wechat.none_pending()  # no consent left, no customer service, no email: nothing

    assert SubscribeConsent.objects.filter(used_at__isnull=True).count() == 0
    assert list(Notification.objects.order_by("level").values_list("channel", "status")) == [
        ("wechat", "sent"),
        ("wechat", "sent"),
    ]
    assert len(wechat.calls_to(SUBSCRIBE)) == 2
    assert len(wechat.calls_to("/cgi-bin/stable_token")) == 1  # the token was kept


def test_a_consent_wechat_no_longer_has_fails_for_good_and_the_reply_goes_by_email(
    clock, wechat, mini_program, acme, alice
):
    conv = mini_conversation(acme, alice)
    vic = conv.visitor
    vic.email, vic.email_verified_at = "vic@example.com", START
    vic.save(update_fields=["email", "email_verified_at"])
    link(vic, "o-vic")
    consent(vic, REPLY_TEMPLATE)  # reported, but WeChat holds none (43101)
    consent(vic, REPLY_TEMPLATE)
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    services.scan()
    services.scan()
    row = Notification.objects.get(channel="wechat")
    assert row.status == "failed" and "43101" in row.error
    assert not SubscribeConsent.objects.filter(used_at__isnull=True).exists()  # all stale
    [email] = mail.outbox
    assert email.to == ["vic@example.com"]
    assert len(wechat.calls_to(SUBSCRIBE)) == 1


def test_a_busy_wechat_gives_the_consent_back_and_is_retried_once_it_answers(
    clock, wechat, mini_program, acme, alice
):
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    wechat.fail_next[SUBSCRIBE] = {"errcode": -1, "errmsg": "system error"}
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert SubscribeConsent.objects.get().used_at is None  # given back: nothing was sent
    clock.shift(timedelta(seconds=30))
    services.scan()
    assert wechat.next().body["template_id"] == REPLY_TEMPLATE
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert SubscribeConsent.objects.get().used_at is not None
    services.scan()
    assert wechat.none_pending()


def test_a_stale_access_token_is_fetched_again_once(clock, wechat, mini_program, acme, alice):
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    seen(conv)
    wechat.grant("o-vic", REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    wechat.revoked.add(wechat.tokens[0])  # another system asked for a new one meanwhile
    reply(alice, conv, "And a second thing.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert [wechat.next().body["data"]["thing2"]["value"] for _ in range(2)] == [
        "It ships today.",
        "And a second thing.",
    ]
    assert len(wechat.tokens) == 2
    assert set(Notification.objects.values_list("status", flat=True)) == {"sent"}


def test_no_answer_from_wechat_is_never_sent_again(
    clock, wechat, mini_program, acme, alice, settings
):
    settings.PUSH_TIMEOUT_SECONDS = 1
    wechat.hang_seconds = 2
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE, times=2)
    consent(conv.visitor, REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    wechat.fail_next[SUBSCRIBE] = "hang"  # WeChat takes it, and answers too late
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert wechat.next(timeout=5).body["template_id"] == REPLY_TEMPLATE  # it did arrive
    row = Notification.objects.get()
    assert row.status == "failed" and "not sent again" in row.error
    clock.shift(timedelta(hours=2))
    services.scan()
    assert wechat.none_pending() and len(wechat.calls_to(SUBSCRIBE)) == 1
    assert SubscribeConsent.objects.filter(used_at__isnull=True).count() == 1  # one spent


def test_no_access_token_in_time_sends_nothing_and_keeps_the_consent(
    clock, wechat, mini_program, acme, alice, settings
):
    settings.PUSH_TIMEOUT_SECONDS = 1
    wechat.hang_seconds = 2
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    # The token kept since the link is gone (expired): the send must ask for one.
    cache.delete(WechatTransport(appid=wechat.appid, secret=wechat.secret)._cache_key())
    wechat.fail_next["/cgi-bin/stable_token"] = "hang"
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    row = Notification.objects.get()
    assert (row.status, row.attempts) == ("pending", 1)
    assert SubscribeConsent.objects.get().used_at is None  # asking for a token sent nothing
    clock.shift(timedelta(seconds=30))
    services.scan()
    assert wechat.next().body["template_id"] == REPLY_TEMPLATE
    row.refresh_from_db()
    assert row.status == "sent"


def test_a_send_left_midway_by_a_dead_worker_is_not_repeated(
    clock, wechat, mini_program, acme, alice, settings
):
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    message = reply(alice, conv, "It ships today.")
    Notification.objects.create(
        recipient=f"visitor:{conv.visitor_id}",
        reason="visitor_reply",
        channel="wechat",
        conversation=conv,
        level=message.seq,
        status="sending",
        sending_at=START,
        attempts=1,
        provider_message_id="dead" * 8,
    )
    clock.shift(timedelta(seconds=settings.NOTIFY_SENDING_TIMEOUT_SECONDS + 1))
    services.scan()
    services.scan()
    assert wechat.none_pending()
    row = Notification.objects.get()
    assert row.status == "failed" and "may have arrived" in row.error


# ---- customer-service messages ----------------------------------------------------------------


def test_without_a_consent_a_recent_writer_gets_a_customer_service_message(
    clock, wechat, mini_program, acme, alice
):
    mini_program.wechat_customer_service = True
    mini_program.save(update_fields=["wechat_customer_service"])
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.contacted("o-vic")  # Vic wrote to the mini-program's customer service
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()
    sent = wechat.next()
    assert sent.path == CUSTOM
    assert sent.body == {
        "touser": "o-vic",
        "msgtype": "text",
        "text": {"content": f"{acme.name} 回复了您的消息\nIt ships today."},
    }
    services.scan()
    assert wechat.none_pending()
    assert Notification.objects.get().channel == "wechat_cs"


def test_after_48_hours_no_customer_service_message_is_tried_and_wechats_refusal_falls_back(
    clock, wechat, mini_program, acme, alice
):
    mini_program.wechat_customer_service = True
    mini_program.save(update_fields=["wechat_customer_service"])
    conv = mini_conversation(acme, alice)
    vic = conv.visitor
    vic.email, vic.email_verified_at = "vic@example.com", START
    vic.save(update_fields=["email", "email_verified_at"])
    link(vic, "o-vic")
    # Within our 48 hours, but Vic never wrote to WeChat's customer service: 45015.
    reply(alice, conv, "First answer")
    clock.shift(timedelta(minutes=3))
    services.scan()
    services.scan()
    row = Notification.objects.get(channel="wechat_cs")
    assert row.status == "failed" and "45015" in row.error
    assert [m.to for m in mail.outbox] == [["vic@example.com"]]
    # Two days later the visitor has not written since: email straight away.
    seen(conv)
    clock.shift(timedelta(hours=49))
    reply(alice, conv, "Second answer")
    clock.shift(timedelta(minutes=3))
    services.scan()
    assert len(wechat.calls_to(CUSTOM)) == 1
    assert Notification.objects.filter(channel="email").count() == 2


def test_a_visitor_who_read_the_reply_in_time_gets_nothing(
    clock, wechat, mini_program, acme, alice
):
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=1))
    seen(conv)
    clock.shift(timedelta(minutes=5))
    services.scan()
    assert wechat.none_pending() and not Notification.objects.exists()
    assert SubscribeConsent.objects.get().used_at is None  # kept for a later reply


def test_a_delivery_run_again_finds_the_message_sent_and_spends_nothing(
    clock, wechat, mini_program, acme, alice
):
    conv = mini_conversation(acme, alice)
    link(conv.visitor, "o-vic")
    wechat.grant("o-vic", REPLY_TEMPLATE, times=5)
    consent(conv.visitor, REPLY_TEMPLATE)
    consent(conv.visitor, REPLY_TEMPLATE)
    reply(alice, conv, "It ships today.")
    clock.shift(timedelta(minutes=3))
    services.scan()  # made the row and delivered it
    assert delivery.deliver(recipient=f"visitor:{conv.visitor_id}", channel="wechat") == 0
    assert len(wechat.calls_to(SUBSCRIBE)) == 1
    assert SubscribeConsent.objects.filter(used_at__isnull=True).count() == 1
