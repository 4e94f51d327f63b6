"""The back office in the reader's language: the names of the models and their fields, help
texts and choices, as the models spell them in English, translated through the catalogue
(locale/). The models stay as they are: ``translate_models()`` (run once, from admin.py)
turns each of these English strings into a lazy translation of itself, wherever Django shows
it (the index, lists, filters, forms).

``WORDS`` is the list makemessages reads (never evaluated; the context is spelled out, as
makemessages needs it). tests/test_i18n.py checks that it holds every label of every model,
so a new field cannot reach the back office untranslated: add its words here.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Model
from django.utils.translation import pgettext_lazy

APPS = ("helpdesk", "routing", "notifications", "offline", "privacy")
# Our words have a context of their own, so they never replace Django's translation of the
# same English word elsewhere (our "group" is a team of agents; Django's is a permission
# group).
CONTEXT = "back office"

WORDS = [
    pgettext_lazy("back office", "Helpdesk"),
    pgettext_lazy("back office", "agent group"),
    pgettext_lazy("back office", "agent groups"),
    pgettext_lazy("back office", "ID"),
    pgettext_lazy("back office", "name"),
    pgettext_lazy("back office", "default capacity"),
    pgettext_lazy("back office", "Open conversations per agent, unless the agent has their own."),
    pgettext_lazy("back office", "strategy"),
    pgettext_lazy("back office", "Balanced (fewest open, then idle longest)"),
    pgettext_lazy("back office", "Round robin"),
    pgettext_lazy("back office", "business hours"),
    pgettext_lazy("back office", "Overrides the site's hours for this group."),
    pgettext_lazy("back office", "overflow group"),
    pgettext_lazy("back office", "Where a conversation goes after waiting too long here."),
    pgettext_lazy("back office", "overflow after minutes"),
    pgettext_lazy("back office", "created at"),
    pgettext_lazy("back office", "managers"),
    pgettext_lazy("back office", "agent"),
    pgettext_lazy("back office", "agents"),
    pgettext_lazy("back office", "user"),
    pgettext_lazy("back office", "display name"),
    pgettext_lazy("back office", "capacity"),
    pgettext_lazy("back office", "Open conversations at most; empty: the group's default."),
    pgettext_lazy("back office", "status"),
    pgettext_lazy("back office", "Available"),
    pgettext_lazy("back office", "Away"),
    pgettext_lazy("back office", "status changed at"),
    pgettext_lazy("back office", "last assigned at"),
    pgettext_lazy("back office", "last seen at"),
    pgettext_lazy("back office", "groups"),
    pgettext_lazy("back office", "skills"),
    pgettext_lazy("back office", "site"),
    pgettext_lazy("back office", "sites"),
    pgettext_lazy("back office", "id"),
    pgettext_lazy("back office", "widget key"),
    pgettext_lazy("back office", "allowed origins"),
    pgettext_lazy(
        CONTEXT,
        "Where the widget may be embedded and chat sockets may come from: one origin per line, e.g. https://shop.example.com. Empty: anywhere (fine for trying it out; set it in production).",
    ),
    pgettext_lazy("back office", "identity secret"),
    pgettext_lazy("back office", "greeting"),
    pgettext_lazy("back office", "color"),
    pgettext_lazy("back office", "email includes reply"),
    pgettext_lazy(
        "back office", "Follow-up emails quote the agent's reply; off: only say there is one."
    ),
    pgettext_lazy("back office", "default group"),
    pgettext_lazy("back office", "Agents of this group receive the site's new conversations."),
    pgettext_lazy("back office", "administrators"),
    pgettext_lazy(
        CONTEXT, "People who see every conversation of this site and manage its settings."
    ),
    pgettext_lazy("back office", "site text"),
    pgettext_lazy("back office", "site texts"),
    pgettext_lazy("back office", "language"),
    pgettext_lazy("back office", "Empty: the site's greeting above."),
    pgettext_lazy("back office", "offline message"),
    pgettext_lazy(
        CONTEXT,
        "Shown when a visitor writes while nobody can answer, e.g. your hours or another way to reach you. Empty: the widget's own.",
    ),
    pgettext_lazy("back office", "visitor"),
    pgettext_lazy("back office", "visitors"),
    pgettext_lazy("back office", "channel"),
    pgettext_lazy("back office", "Web"),
    pgettext_lazy("back office", "App"),
    pgettext_lazy("back office", "Mini-program"),
    pgettext_lazy("back office", "timezone"),
    pgettext_lazy("back office", "page url"),
    pgettext_lazy("back office", "attributes"),
    pgettext_lazy("back office", "external id"),
    pgettext_lazy("back office", "email"),
    pgettext_lazy("back office", "email hash"),
    pgettext_lazy("back office", "search index"),
    pgettext_lazy("back office", "email verified at"),
    pgettext_lazy("back office", "conversation"),
    pgettext_lazy("back office", "conversations"),
    pgettext_lazy("back office", "Open"),
    pgettext_lazy("back office", "Resolved"),
    pgettext_lazy("back office", "assigned agent"),
    pgettext_lazy("back office", "assigned at"),
    pgettext_lazy("back office", "group"),
    pgettext_lazy("back office", "priority"),
    pgettext_lazy("back office", "Low"),
    pgettext_lazy("back office", "Normal"),
    pgettext_lazy("back office", "High"),
    pgettext_lazy("back office", "Urgent"),
    pgettext_lazy("back office", "queued at"),
    pgettext_lazy("back office", "group entered at"),
    pgettext_lazy("back office", "escalation level"),
    pgettext_lazy("back office", "last seq"),
    pgettext_lazy("back office", "agent read seq"),
    pgettext_lazy("back office", "last visitor seq"),
    pgettext_lazy("back office", "last agent seq"),
    pgettext_lazy("back office", "visitor delivered seq"),
    pgettext_lazy("back office", "visitor seen seq"),
    pgettext_lazy("back office", "first visitor at"),
    pgettext_lazy("back office", "first response at"),
    pgettext_lazy("back office", "first response agent"),
    pgettext_lazy("back office", "started offline"),
    pgettext_lazy("back office", "waiting since"),
    pgettext_lazy("back office", "last message at"),
    pgettext_lazy("back office", "required skills"),
    pgettext_lazy("back office", "tags"),
    pgettext_lazy("back office", "tag"),
    pgettext_lazy("back office", "#rrggbb"),
    pgettext_lazy("back office", "read cursor"),
    pgettext_lazy("back office", "read cursors"),
    pgettext_lazy("back office", "seq"),
    pgettext_lazy("back office", "updated at"),
    pgettext_lazy("back office", "message"),
    pgettext_lazy("back office", "messages"),
    pgettext_lazy("back office", "sender"),
    pgettext_lazy("back office", "Visitor"),
    pgettext_lazy("back office", "Agent"),
    pgettext_lazy("back office", "System"),
    pgettext_lazy("back office", "body"),
    pgettext_lazy("back office", "client id"),
    pgettext_lazy("back office", "answered wait"),
    pgettext_lazy("back office", "meta"),
    pgettext_lazy("back office", "Routing"),
    pgettext_lazy("back office", "skill"),
    pgettext_lazy("back office", "routing rule"),
    pgettext_lazy("back office", "routing rules"),
    pgettext_lazy("back office", "order"),
    pgettext_lazy("back office", "Lower runs first."),
    pgettext_lazy("back office", "active"),
    pgettext_lazy("back office", "Prefix of the visitor's language, e.g. zh or en-GB."),
    pgettext_lazy("back office", "url contains"),
    pgettext_lazy("back office", "keywords"),
    pgettext_lazy("back office", "Comma-separated; any one in the first message."),
    pgettext_lazy(
        "back office", 'Visitor attributes that must all be equal, e.g. {"plan": "pro"}.'
    ),
    pgettext_lazy("back office", "schedule"),
    pgettext_lazy("back office", "schedules"),
    pgettext_lazy("back office", "e.g. Asia/Shanghai"),
    pgettext_lazy("back office", "opening period"),
    pgettext_lazy("back office", "opening periods"),
    pgettext_lazy("back office", "weekday"),
    pgettext_lazy("back office", "Monday"),
    pgettext_lazy("back office", "Tuesday"),
    pgettext_lazy("back office", "Wednesday"),
    pgettext_lazy("back office", "Thursday"),
    pgettext_lazy("back office", "Friday"),
    pgettext_lazy("back office", "Saturday"),
    pgettext_lazy("back office", "Sunday"),
    pgettext_lazy("back office", "opens"),
    pgettext_lazy("back office", "closes"),
    pgettext_lazy("back office", "Must be after opens; split a night shift in two."),
    pgettext_lazy("back office", "holiday"),
    pgettext_lazy("back office", "holidays"),
    pgettext_lazy("back office", "date"),
    pgettext_lazy("back office", "shift"),
    pgettext_lazy("back office", "shifts"),
    pgettext_lazy("back office", "starts"),
    pgettext_lazy("back office", "ends"),
    pgettext_lazy("back office", "shift exception"),
    pgettext_lazy("back office", "shift exceptions"),
    pgettext_lazy("back office", "kind"),
    pgettext_lazy("back office", "Day off (leave, holiday)"),
    pgettext_lazy("back office", "Extra shift"),
    pgettext_lazy("back office", "note"),
    pgettext_lazy("back office", "online session"),
    pgettext_lazy("back office", "online sessions"),
    pgettext_lazy("back office", "started at"),
    pgettext_lazy("back office", "ended at"),
    pgettext_lazy("back office", "Notifications"),
    pgettext_lazy("back office", "notification"),
    pgettext_lazy("back office", "notifications"),
    pgettext_lazy("back office", "recipient"),
    pgettext_lazy("back office", "agent:<id>, user:<id> or visitor:<id>"),
    pgettext_lazy("back office", "address"),
    pgettext_lazy("back office", "reason"),
    pgettext_lazy("back office", "Agent: unread visitor messages"),
    pgettext_lazy("back office", "Manager: conversation waiting"),
    pgettext_lazy("back office", "Manager: waited outside business hours"),
    pgettext_lazy("back office", "Visitor: unseen agent reply"),
    pgettext_lazy("back office", "Email"),
    pgettext_lazy("back office", "Web Push"),
    pgettext_lazy("back office", "level"),
    pgettext_lazy("back office", "Pending"),
    pgettext_lazy("back office", "Sending"),
    pgettext_lazy("back office", "Sent"),
    pgettext_lazy("back office", "Skipped"),
    pgettext_lazy("back office", "Failed"),
    pgettext_lazy("back office", "attempts"),
    pgettext_lazy("back office", "error"),
    pgettext_lazy("back office", "provider message id"),
    pgettext_lazy("back office", "sending at"),
    pgettext_lazy("back office", "sent at"),
    pgettext_lazy("back office", "retry at"),
    pgettext_lazy("back office", "agent preferences"),
    pgettext_lazy("back office", "Email me about unread messages."),
    pgettext_lazy("back office", "email after minutes"),
    pgettext_lazy("back office", "push"),
    pgettext_lazy("back office", "Push to the browsers where I turned notifications on."),
    pgettext_lazy("back office", "push after minutes"),
    pgettext_lazy("back office", "quiet from"),
    pgettext_lazy("back office", "No reminders from…"),
    pgettext_lazy("back office", "quiet to"),
    pgettext_lazy("back office", "…until (in my time zone)."),
    pgettext_lazy("back office", "manager preferences"),
    pgettext_lazy("back office", "Email me escalations."),
    pgettext_lazy("back office", "Push escalations to my browsers."),
    pgettext_lazy("back office", "push subscription"),
    pgettext_lazy("back office", "push subscriptions"),
    pgettext_lazy("back office", "endpoint"),
    pgettext_lazy("back office", "p256dh"),
    pgettext_lazy("back office", "auth"),
    pgettext_lazy("back office", "user agent"),
    pgettext_lazy("back office", "last success at"),
    pgettext_lazy("back office", "resume grant"),
    pgettext_lazy("back office", "resume grants"),
    pgettext_lazy("back office", "Code"),
    pgettext_lazy("back office", "Link"),
    pgettext_lazy("back office", "secret hash"),
    pgettext_lazy("back office", "expires at"),
    pgettext_lazy("back office", "used at"),
    pgettext_lazy("back office", "Offline"),
    pgettext_lazy("back office", "offline messages"),
    pgettext_lazy("back office", "audience"),
    pgettext_lazy("back office", "state"),
    pgettext_lazy("back office", "Delivered"),
    pgettext_lazy("back office", "When the message was stored."),
    pgettext_lazy("back office", "delivered at"),
    pgettext_lazy("back office", "typing preview"),
    pgettext_lazy(
        "back office",
        "Agents see what the visitor is typing before it is sent. Off by default: visitors may not expect it (say so in your privacy notice if you turn it on).",
    ),
    pgettext_lazy("back office", "pages"),
    pgettext_lazy("back office", "referrer"),
    pgettext_lazy("back office", "snoozed until"),
    pgettext_lazy("back office", "attachment"),
    pgettext_lazy("back office", "attachments"),
    pgettext_lazy("back office", "uploaded by"),
    pgettext_lazy("back office", "content type"),
    pgettext_lazy("back office", "size"),
    pgettext_lazy("back office", "file"),
    pgettext_lazy("back office", "Storage name of the encrypted bytes."),
    pgettext_lazy("back office", "thumbnail"),
    pgettext_lazy("back office", "width"),
    pgettext_lazy("back office", "height"),
    pgettext_lazy("back office", "notes"),
    pgettext_lazy("back office", "mentions"),
    pgettext_lazy("back office", "saved reply"),
    pgettext_lazy("back office", "saved replies"),
    pgettext_lazy("back office", "title"),
    pgettext_lazy("back office", "Placeholders: {visitor_name}, {agent_name}, {site_name}."),
    pgettext_lazy("back office", "e.g. en, zh-hans; empty: any language."),
    pgettext_lazy("back office", "shortcut"),
    pgettext_lazy("back office", "Typed after /, e.g. refund"),
    pgettext_lazy("back office", "owner"),
    pgettext_lazy("back office", "message token"),
    pgettext_lazy("back office", "message tokens"),
    pgettext_lazy("back office", "token"),
    pgettext_lazy("back office", "Agent: mentioned in an internal note"),
    pgettext_lazy("back office", "App push"),
    pgettext_lazy("back office", "WeChat subscribe message"),
    pgettext_lazy("back office", "WeChat customer-service message"),
    pgettext_lazy("back office", "device"),
    pgettext_lazy("back office", "devices"),
    pgettext_lazy("back office", "platform"),
    pgettext_lazy("back office", "Firebase Cloud Messaging"),
    pgettext_lazy("back office", "Apple Push Notification service"),
    pgettext_lazy("back office", "wechat identity"),
    pgettext_lazy("back office", "WeChat identities"),
    pgettext_lazy("back office", "appid"),
    pgettext_lazy("back office", "openid"),
    pgettext_lazy("back office", "linked at"),
    pgettext_lazy("back office", "subscribe consent"),
    pgettext_lazy("back office", "subscribe consents"),
    pgettext_lazy("back office", "template id"),
    pgettext_lazy("back office", "granted at"),
    pgettext_lazy("back office", "used by"),
    pgettext_lazy("back office", "app and mini-program settings"),
    pgettext_lazy("back office", "fcm service account"),
    pgettext_lazy(
        "back office", "The Firebase project's service account key (JSON), for FCM HTTP v1."
    ),
    pgettext_lazy("back office", "apns key"),
    pgettext_lazy("back office", "The APNs authentication key (.p8, PEM text)."),
    pgettext_lazy("back office", "APNs key ID"),
    pgettext_lazy("back office", "APNs team ID"),
    pgettext_lazy("back office", "App bundle ID"),
    pgettext_lazy("back office", "The APNs topic, e.g. com.acme.shop."),
    pgettext_lazy("back office", "APNs sandbox"),
    pgettext_lazy("back office", "Development builds of the app: send through Apple's sandbox."),
    pgettext_lazy("back office", "Mini-program AppID"),
    pgettext_lazy("back office", "Mini-program AppSecret"),
    pgettext_lazy("back office", "Subscribe-message templates"),
    pgettext_lazy(
        "back office",
        'Up to three, each {"id": "the template ID", "fields": {"thing1": "site", "thing2": "reply", "time3": "time"}}: which of our values fills each of the template\'s keywords (site, reply, agent, time, count).',
    ),
    pgettext_lazy("back office", "Mini-program page"),
    pgettext_lazy("back office", "The page a subscribe message opens."),
    pgettext_lazy("back office", "Mini-program version"),
    pgettext_lazy("back office", "Which version of the mini-program a subscribe message opens."),
    pgettext_lazy("back office", "Released (formal)"),
    pgettext_lazy("back office", "Trial (trial)"),
    pgettext_lazy("back office", "Developer (developer)"),
    pgettext_lazy("back office", "Customer-service messages"),
    pgettext_lazy(
        "back office",
        "With no subscribe consent left, send a customer-service message (客服消息) to a visitor who wrote in the last 48 hours. WeChat accepts it only within 48 hours of the user's last message to the mini-program's customer service (a button with open-type=contact); turn it on only if your users write there.",
    ),
    pgettext_lazy("back office", "wait target seconds"),
    pgettext_lazy(
        "back office", "How long a visitor should wait at most for an answer (supervision)."
    ),
    pgettext_lazy("back office", "satisfaction"),
    pgettext_lazy("back office", "How visitors rate a conversation once it is resolved."),
    pgettext_lazy("back office", "1 to 5 stars"),
    pgettext_lazy("back office", "Good or bad"),
    pgettext_lazy("back office", "Not asked"),
    pgettext_lazy("back office", "retention days"),
    pgettext_lazy(
        "back office",
        "Delete a resolved conversation (its messages, rating and records) this many days after its last message. Empty: keep until erased on request.",
    ),
    pgettext_lazy("back office", "resolved at"),
    pgettext_lazy("back office", "rating"),
    pgettext_lazy("back office", "ratings"),
    pgettext_lazy("back office", "scale"),
    pgettext_lazy("back office", "score"),
    pgettext_lazy("back office", "comment"),
    pgettext_lazy("back office", "source"),
    pgettext_lazy("back office", "Widget or app"),
    pgettext_lazy("back office", "Follow-up email"),
    # privacy: the audit log
    pgettext_lazy("back office", "Privacy and audit"),
    pgettext_lazy("back office", "audit log entry"),
    pgettext_lazy("back office", "audit log entries"),
    pgettext_lazy("back office", "when"),
    pgettext_lazy("back office", "actor"),
    pgettext_lazy("back office", "actor name"),
    pgettext_lazy("back office", "what"),
    pgettext_lazy("back office", "Transferred a conversation"),
    pgettext_lazy("back office", "Took over a conversation"),
    pgettext_lazy("back office", "Exported a visitor's data"),
    pgettext_lazy("back office", "Erased a visitor's data"),
    pgettext_lazy("back office", "Added a setting"),
    pgettext_lazy("back office", "Changed a setting"),
    pgettext_lazy("back office", "Deleted a setting"),
    pgettext_lazy("back office", "Revealed an identity secret"),
    pgettext_lazy("back office", "Rotated an identity secret"),
    pgettext_lazy("back office", "Changed a weekly rota"),
    pgettext_lazy("back office", "Deleted what was past retention"),
    pgettext_lazy("back office", "target"),
    pgettext_lazy("back office", "about"),
    pgettext_lazy("back office", "site id"),
    pgettext_lazy("back office", "group id"),
    pgettext_lazy("back office", "detail"),
]


def labels() -> list[str]:
    """Every English word of the models that the back office shows (languages' own names
    aside: a language is always named in itself)."""
    found: list[str] = []
    for app in APPS:
        config = apps.get_app_config(app)
        found.append(str(config.verbose_name))
        for model in config.get_models():
            found += [str(model._meta.verbose_name), str(model._meta.verbose_name_plural)]
            for field in _fields(model):
                found.append(str(field.verbose_name))
                if field.help_text:
                    found.append(str(field.help_text))
                if field.choices and list(field.choices) != list(settings.LANGUAGES):
                    found += [str(label) for _, label in field.flatchoices]
    return list(dict.fromkeys(found))


_translated = False


def translate_models() -> None:
    """Once, at start (before any language is active: the English words are the keys)."""
    global _translated
    if _translated:
        return
    _translated = True
    for app in APPS:
        config = apps.get_app_config(app)
        config.verbose_name = pgettext_lazy(CONTEXT, str(config.verbose_name))
        for model in config.get_models():
            opts = model._meta
            opts.verbose_name = pgettext_lazy(CONTEXT, str(opts.verbose_name))
            opts.verbose_name_plural = pgettext_lazy(CONTEXT, str(opts.verbose_name_plural))
            for field in _fields(model):
                field.verbose_name = pgettext_lazy(CONTEXT, str(field.verbose_name))
                if field.help_text:
                    field.help_text = pgettext_lazy(CONTEXT, str(field.help_text))
                if field.choices and list(field.choices) != list(settings.LANGUAGES):
                    field.choices = [
                        (value, pgettext_lazy(CONTEXT, str(label)))
                        for value, label in field.choices
                    ]


def _fields(model: type[Model]) -> list[Any]:
    return [f for f in model._meta.get_fields() if f.concrete or not f.auto_created]
