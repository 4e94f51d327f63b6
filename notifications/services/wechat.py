"""WeChat mini-programs: who a visitor is to WeChat (their openid, from a ``wx.login`` code)
and the subscribe-message consents they gave, one message each.

The mini-program calls ``wx.requestSubscribeMessage`` with the site's template IDs when the
visitor taps, then reports the ones accepted. Each accept lets us send one subscribe message
(订阅消息); a consent is spent before its message leaves, by the send that took it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import transaction
from django.utils import timezone

from helpdesk.models import Visitor
from notifications.models import ChannelSettings, SubscribeConsent, WechatIdentity
from notifications.services.common import ChannelNotConfigured, channel_settings
from notifications.transports import TransportError, WechatTransport

# Consents kept per visitor and template; more are not stored (a client cannot make us try
# thousands of messages WeChat would refuse).
MAX_CONSENTS = 20


class WechatNotLinked(Exception):
    """The visitor has not signed in with ``wx.login`` yet (no openid)."""


class UnknownTemplate(Exception):
    """A template ID that is not one of the site's."""


def _ready(visitor: Visitor) -> ChannelSettings:
    conf = channel_settings(visitor.site_id)
    if conf is None or not conf.wechat_ready:
        raise ChannelNotConfigured("wechat")
    return conf


def wechat_link(*, visitor: Visitor, code: str) -> dict[str, Any]:
    """Learn the visitor's openid from a ``wx.login`` code (asked of WeChat, never taken
    from the client). ``TransportError``: WeChat refused the code (permanent) or did not
    answer."""
    conf = _ready(visitor)
    openid = WechatTransport(appid=conf.wechat_appid, secret=conf.wechat_secret).openid_for(code)
    identity = WechatIdentity.objects.filter(visitor=visitor).first() or WechatIdentity(
        visitor=visitor
    )
    identity.appid, identity.openid = conf.wechat_appid, openid
    identity.save()
    return wechat_status(visitor=visitor, conf=conf)


def wechat_status(*, visitor: Visitor, conf: ChannelSettings | None = None) -> dict[str, Any]:
    """What the mini-program needs: the template IDs to ask consent for, and how many
    messages each consent given so far still allows."""
    conf = conf or _ready(visitor)
    templates = conf.template_ids()
    unused = Counter(
        SubscribeConsent.objects.filter(
            visitor=visitor, used_at__isnull=True, template_id__in=templates
        ).values_list("template_id", flat=True)
    )
    return {
        "linked": WechatIdentity.objects.filter(visitor=visitor, appid=conf.wechat_appid).exists(),
        "templates": templates,
        "available": {t: unused.get(t, 0) for t in templates},
    }


@transaction.atomic
def wechat_consents_record(*, visitor: Visitor, accepted: list[str]) -> dict[str, Any]:
    """One consent per template ID the visitor accepted. ``UnknownTemplate`` (nothing
    stored) for an ID the site does not use; ``WechatNotLinked`` before ``wechat_link``."""
    conf = _ready(visitor)
    unknown = sorted(set(accepted) - set(conf.template_ids()))
    if unknown:
        raise UnknownTemplate(unknown[0])
    if not WechatIdentity.objects.filter(visitor=visitor, appid=conf.wechat_appid).exists():
        raise WechatNotLinked()
    # Locked so two reports at once cannot both pass the cap.
    Visitor.objects.select_for_update().filter(pk=visitor.pk).first()
    held = Counter(
        SubscribeConsent.objects.filter(
            visitor=visitor, used_at__isnull=True, template_id__in=accepted
        ).values_list("template_id", flat=True)
    )
    rows = []
    for template in accepted:
        if held[template] < MAX_CONSENTS:
            held[template] += 1
            rows.append(SubscribeConsent(visitor=visitor, template_id=template))
    SubscribeConsent.objects.bulk_create(rows)
    return wechat_status(visitor=visitor, conf=conf)


def consent_take(*, visitor_id: Any, templates: list[str], message_id: str) -> SubscribeConsent:
    """Spend one unused consent on the message ``message_id`` (committed before the message
    is sent, so two sends never spend one consent). ``TransportError`` when none is left."""
    with transaction.atomic():
        consent = (
            SubscribeConsent.objects.select_for_update(skip_locked=True)
            .filter(visitor_id=visitor_id, used_at__isnull=True, template_id__in=templates)
            .order_by("granted_at", "pk")
            .first()
        )
        if consent is None:
            raise TransportError("no subscribe-message consent left", permanent=True)
        consent.used_at, consent.used_by = timezone.now(), message_id
        consent.save(update_fields=["used_at", "used_by"])
    return consent


def consent_settle(consent: SubscribeConsent, error: TransportError) -> None:
    """After a failed send. WeChat says the user has no consent for this template (43101):
    any we hold are stale and spent too. WeChat answered and sent nothing: the consent is
    given back. No answer (it may have arrived): it stays spent."""
    if error.reason == "43101":
        SubscribeConsent.objects.filter(
            visitor_id=consent.visitor_id, template_id=consent.template_id, used_at__isnull=True
        ).update(used_at=timezone.now(), used_by="stale")
    elif not error.maybe_sent:
        SubscribeConsent.objects.filter(pk=consent.pk).update(used_at=None, used_by="")
