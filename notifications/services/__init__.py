"""Notifications' writes, by concern: the scan that finds what is due (``scan``), delivery
(``delivery``), Web Push subscriptions (``push``), phones registered for app push
(``devices``), WeChat identities and subscribe consents (``wechat``), follow-ups on a
visitor's phone (``mobile``), people's preferences (``preferences``), a visitor's email
address (``visitor_email``), resuming on another device (``resume``).

Callers use ``from notifications import services`` and the names below.
"""

from notifications.services.common import ChannelNotConfigured
from notifications.services.delivery import MAX_ATTEMPTS, RETRY_BASE_SECONDS, deliver
from notifications.services.devices import device_register, device_unregister
from notifications.services.preferences import set_agent_preferences, set_manager_preferences
from notifications.services.push import (
    push_config,
    push_enabled,
    push_subscribe,
    push_unsubscribe,
)
from notifications.services.reminders import scan
from notifications.services.resume import (
    resume_code_confirm,
    resume_code_request,
    resume_link,
    resume_redeem,
    resume_visitor,
)
from notifications.services.visitor_email import (
    VERIFY_SALT,
    visitor_email_set,
    visitor_email_verify,
)
from notifications.services.wechat import (
    UnknownTemplate,
    WechatNotLinked,
    wechat_consents_record,
    wechat_link,
    wechat_status,
)

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_BASE_SECONDS",
    "VERIFY_SALT",
    "ChannelNotConfigured",
    "UnknownTemplate",
    "WechatNotLinked",
    "deliver",
    "device_register",
    "device_unregister",
    "push_config",
    "push_enabled",
    "push_subscribe",
    "push_unsubscribe",
    "resume_code_confirm",
    "resume_code_request",
    "resume_link",
    "resume_redeem",
    "resume_visitor",
    "scan",
    "set_agent_preferences",
    "set_manager_preferences",
    "visitor_email_set",
    "visitor_email_verify",
    "wechat_consents_record",
    "wechat_link",
    "wechat_status",
]
