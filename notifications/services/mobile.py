"""Follow-ups on the visitor's own phone: a push to their app (FCM, APNs), or a message to
their WeChat mini-program: a subscribe message (one per consent) or a customer-service
message (within 48 hours). Which one a visitor can get (``native_channels``), and sending it
(``send_native``)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from helpdesk.models import Message
from notifications.models import (
    ChannelSettings,
    Device,
    Notification,
    SubscribeConsent,
    WechatIdentity,
)
from notifications.services.common import channel_settings, recipient_language, send_to_each
from notifications.services.devices import platform_ready
from notifications.services.wechat import consent_settle, consent_take
from notifications.transports import (
    ApnsTransport,
    AppPush,
    FcmTransport,
    TransportError,
    WechatMessage,
    WechatTransport,
)

log = logging.getLogger(__name__)
Reason, Status, Channel = Notification.Reason, Notification.Status, Notification.Channel

NATIVE = (Channel.APP, Channel.WECHAT, Channel.WECHAT_CS)
# WeChat takes customer-service messages for 48 hours after the user's last message.
SERVICE_WINDOW = timedelta(hours=48)


def native_channels(visitor_ids: Iterable[uuid.UUID], now: datetime) -> dict[uuid.UUID, str]:
    """The phone channel of each visitor who has one, in this order: a push to the app (a
    registered phone of a platform the site has credentials for), a subscribe message (a
    consent left for one of the site's templates), a customer-service message (turned on for
    the site, and the visitor wrote within 48 hours). Five queries, however many visitors."""
    ids = set(visitor_ids)
    devices = list(
        Device.objects.filter(visitor_id__in=ids).values_list(
            "visitor_id", "visitor__site_id", "platform"
        )
    )
    identities = dict(
        WechatIdentity.objects.filter(visitor_id__in=ids).values_list(
            "visitor_id", "visitor__site_id"
        )
    )
    sites = {site for _, site, _ in devices} | set(identities.values())
    confs = {c.site_id: c for c in ChannelSettings.objects.filter(site_id__in=sites)}
    chosen: dict[uuid.UUID, str] = {}
    for visitor_id, site_id, platform in devices:
        if platform_ready(confs.get(site_id), platform):
            chosen[visitor_id] = Channel.APP
    wechat = {
        v: confs[s]
        for v, s in identities.items()
        if v not in chosen and s in confs and confs[s].wechat_ready
    }
    consents = SubscribeConsent.objects.filter(visitor_id__in=wechat, used_at__isnull=True)
    for visitor_id, template in consents.values_list("visitor_id", "template_id"):
        if template in wechat[visitor_id].template_ids():
            chosen[visitor_id] = Channel.WECHAT
    service = {v for v, conf in wechat.items() if v not in chosen and conf.wechat_customer_service}
    for visitor_id in _wrote_since(service, now - SERVICE_WINDOW):
        chosen[visitor_id] = Channel.WECHAT_CS
    return chosen


def _wrote_since(visitor_ids: set[uuid.UUID], since: datetime) -> set[uuid.UUID]:
    if not visitor_ids:
        return set()
    last = (
        Message.objects.filter(
            conversation__visitor_id__in=visitor_ids, sender=Message.Sender.VISITOR
        )
        .values("conversation__visitor_id")
        .annotate(last=Max("created_at"))
        .filter(last__gte=since)
    )
    return {row["conversation__visitor_id"] for row in last}


def send_native(
    channel: str, recipient: str, items: list[Notification], message_id: str
) -> tuple[str, str]:
    """Send the follow-up in ``items`` on ``channel``; returns (provider ID, errors of the
    phones that did not take it). ``TransportError`` when it did not go out."""
    conv = items[0].conversation
    conf = channel_settings(conv.site_id)
    if conf is None:
        raise TransportError("the site has no app or mini-program settings", permanent=True)
    text = _texts(recipient, items, conf)
    if channel == Channel.APP:
        return _send_app_push(conv.visitor_id, conf, text, message_id)
    return _send_wechat(channel, conv.visitor_id, conf, text, message_id), ""


def _texts(recipient: str, items: list[Notification], conf: ChannelSettings) -> dict[str, Any]:
    """What every phone channel says: the follow-up email's subject as a title, and the
    reply's text as the body (or only that there is one, if the site keeps replies private)."""
    kind, _, ident = recipient.partition(":")
    conv = items[0].conversation
    latest = (
        conv.messages.filter(sender=Message.Sender.AGENT)
        .select_related("agent")
        .order_by("-seq")
        .first()
    )
    context = {
        "lang": recipient_language(kind, ident),
        "site": conv.site,
        "show_text": conv.site.email_includes_reply,
        "latest": latest,
        "name": "visitor_reply",
        "items": items,
    }
    conversations = sorted({str(n.conversation_id) for n in items})
    return {
        "lang": context["lang"],
        "title": render_to_string("notifications/visitor_reply_subject.txt", context).strip(),
        "body": render_to_string("notifications/push_body.txt", context).strip()[:300],
        "latest": latest,
        "conversation": str(conv.pk),
        "conversations": conversations,
        "visitor": conv.visitor,
    }


def _send_app_push(
    visitor_id: uuid.UUID, conf: ChannelSettings, text: dict[str, Any], collapse_id: str
) -> tuple[str, str]:
    """One push to each of the visitor's phones. A phone whose app is gone (FCM
    UNREGISTERED, APNs 410 or BadDeviceToken) is forgotten and never retried. Sent if any
    phone took it (the others' errors are kept on the row); else the errors decide."""
    devices = list(Device.objects.filter(visitor_id=visitor_id).order_by("pk"))
    if not devices:
        raise TransportError("no phone of this visitor is registered for push", permanent=True)
    push = AppPush(
        token="",
        title=text["title"],
        body=text["body"],
        data={
            "helpdesk": "visitor_reply",
            "conversation_id": text["conversation"],
            "conversations": ",".join(text["conversations"]),
        },
        collapse_id=collapse_id,
    )
    return send_to_each(
        devices,
        lambda device: _app_transport(conf, device.platform).send(
            replace(push, token=device.token)
        ),
        fallback=collapse_id,
        what="app push device",
    )


def _app_transport(conf: ChannelSettings, platform: str) -> FcmTransport | ApnsTransport:
    if not platform_ready(conf, platform):
        raise TransportError(f"the site has no {platform} credentials", permanent=True)
    if platform == Device.Platform.FCM:
        return FcmTransport(conf.fcm_key)
    return ApnsTransport(
        key=conf.apns_key,
        key_id=conf.apns_key_id,
        team_id=conf.apns_team_id,
        bundle_id=conf.apns_bundle_id,
        sandbox=conf.apns_sandbox,
    )


def _send_wechat(
    channel: str,
    visitor_id: uuid.UUID,
    conf: ChannelSettings,
    text: dict[str, Any],
    message_id: str,
) -> str:
    """A subscribe message (spending one consent, committed first) or a customer-service
    text. WeChat has no idempotency key, so a message that may have arrived (no answer) is
    never sent again: the row fails, and the scan falls back to email."""
    identity = WechatIdentity.objects.filter(visitor_id=visitor_id).first()
    if not conf.wechat_ready or identity is None or identity.appid != conf.wechat_appid:
        raise TransportError("the visitor is not linked to the site's mini-program", permanent=True)
    lang = "zh_CN" if text["lang"] == "zh-hans" else "en_US"
    consent = None
    if channel == Channel.WECHAT:
        consent = consent_take(
            visitor_id=visitor_id, templates=conf.template_ids(), message_id=message_id
        )
        template = next(t for t in conf.wechat_templates if t.get("id") == consent.template_id)
        message = WechatMessage(
            openid=identity.openid,
            template_id=consent.template_id,
            data=template_data(template.get("fields") or {}, text),
            page=f"{conf.wechat_page}?conversation={text['conversation']}",
            state=conf.wechat_state,
            lang=lang,
        )
    else:
        if not _wrote_since({visitor_id}, timezone.now() - SERVICE_WINDOW):
            raise TransportError("48 hours have passed since the visitor wrote", permanent=True)
        message = WechatMessage(openid=identity.openid, text=f"{text['title']}\n{text['body']}")
    try:
        return WechatTransport(appid=conf.wechat_appid, secret=conf.wechat_secret).send(message)
    except TransportError as exc:
        if consent is not None:
            consent_settle(consent, exc)
        if exc.gone:
            WechatIdentity.objects.filter(pk=identity.pk).delete()
        if exc.maybe_sent:
            raise TransportError(
                f"{exc} (it may have arrived: not sent again)", permanent=True, maybe_sent=True
            ) from exc
        raise


# The longest value of each kind of template keyword (WeChat refuses longer ones).
KEYWORD_LIMITS = {
    "thing": 20,
    "name": 10,
    "phrase": 5,
    "symbol": 5,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "amount": 32,
}
VALUES = ("site", "reply", "agent", "time", "count")


def template_data(fields: dict[str, str], text: dict[str, Any]) -> dict[str, str]:
    """Fill the template's keywords (``thing1``, ``time2`` …) with our values, cut to the
    length WeChat allows for the keyword's kind."""
    latest, visitor = text["latest"], text["visitor"]
    when = latest.created_at if latest else timezone.now()
    values = {
        "site": visitor.site.name,
        "reply": text["body"],
        "agent": (latest.agent.display_name if latest and latest.agent else visitor.site.name),
        "time": when.astimezone(_zone(visitor.timezone)).strftime("%Y年%m月%d日 %H:%M"),
        "count": str(len(text["conversations"])),
    }
    data = {}
    for keyword, value_name in fields.items():
        value = values.get(value_name, "")
        kind = keyword.rstrip("0123456789")
        limit = KEYWORD_LIMITS.get(kind)
        if limit and len(value) > limit:
            value = value[: limit - 1] + "…"
        data[keyword] = value
    return data


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "Asia/Shanghai")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")
