"""The back office in the reader's language: the names of the models and their fields, help
texts and choices, as the models spell them in English, translated through the catalogue
(locale/). The models stay as they are: ``translate_models()`` (run once, from admin.py)
turns each of these English strings into a lazy translation of itself, wherever Django shows
it (the index, lists, filters, forms).

``WORDS`` is the list makemessages reads. tests/test_i18n.py checks that it holds every label
of every model, so a new field cannot reach the back office untranslated: add its words here.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.db.models import Model
from django.utils.translation import gettext_lazy, gettext_noop

APPS = ("helpdesk", "routing", "notifications", "offline")

WORDS = [
    gettext_noop("Helpdesk"),
    gettext_noop("agent group"),
    gettext_noop("agent groups"),
    gettext_noop("ID"),
    gettext_noop("name"),
    gettext_noop("default capacity"),
    gettext_noop("Open conversations per agent, unless the agent has their own."),
    gettext_noop("strategy"),
    gettext_noop("Balanced (fewest open, then idle longest)"),
    gettext_noop("Round robin"),
    gettext_noop("business hours"),
    gettext_noop("Overrides the site's hours for this group."),
    gettext_noop("overflow group"),
    gettext_noop("Where a conversation goes after waiting too long here."),
    gettext_noop("overflow after minutes"),
    gettext_noop("created at"),
    gettext_noop("managers"),
    gettext_noop("agent"),
    gettext_noop("agents"),
    gettext_noop("user"),
    gettext_noop("display name"),
    gettext_noop("capacity"),
    gettext_noop("Open conversations at most; empty: the group's default."),
    gettext_noop("status"),
    gettext_noop("Available"),
    gettext_noop("Away"),
    gettext_noop("status changed at"),
    gettext_noop("last assigned at"),
    gettext_noop("last seen at"),
    gettext_noop("groups"),
    gettext_noop("skills"),
    gettext_noop("site"),
    gettext_noop("sites"),
    gettext_noop("id"),
    gettext_noop("widget key"),
    gettext_noop("allowed origins"),
    gettext_noop(
        "Where the widget may be embedded and chat sockets may come from: one origin per line, e.g. https://shop.example.com. Empty: anywhere (fine for trying it out; set it in production)."
    ),
    gettext_noop("identity secret"),
    gettext_noop("greeting"),
    gettext_noop("color"),
    gettext_noop("email includes reply"),
    gettext_noop("Follow-up emails quote the agent's reply; off: only say there is one."),
    gettext_noop("default group"),
    gettext_noop("Agents of this group receive the site's new conversations."),
    gettext_noop("administrators"),
    gettext_noop("People who see every conversation of this site and manage its settings."),
    gettext_noop("site text"),
    gettext_noop("site texts"),
    gettext_noop("language"),
    gettext_noop("Empty: the site's greeting above."),
    gettext_noop("offline message"),
    gettext_noop(
        "Shown when a visitor writes while nobody can answer, e.g. your hours or another way to reach you. Empty: the widget's own."
    ),
    gettext_noop("visitor"),
    gettext_noop("visitors"),
    gettext_noop("channel"),
    gettext_noop("Web"),
    gettext_noop("App"),
    gettext_noop("Mini-program"),
    gettext_noop("timezone"),
    gettext_noop("page url"),
    gettext_noop("attributes"),
    gettext_noop("external id"),
    gettext_noop("email"),
    gettext_noop("email hash"),
    gettext_noop("search index"),
    gettext_noop("email verified at"),
    gettext_noop("conversation"),
    gettext_noop("conversations"),
    gettext_noop("Open"),
    gettext_noop("Resolved"),
    gettext_noop("assigned agent"),
    gettext_noop("assigned at"),
    gettext_noop("group"),
    gettext_noop("priority"),
    gettext_noop("Low"),
    gettext_noop("Normal"),
    gettext_noop("High"),
    gettext_noop("Urgent"),
    gettext_noop("queued at"),
    gettext_noop("group entered at"),
    gettext_noop("escalation level"),
    gettext_noop("last seq"),
    gettext_noop("agent read seq"),
    gettext_noop("last visitor seq"),
    gettext_noop("last agent seq"),
    gettext_noop("visitor delivered seq"),
    gettext_noop("visitor seen seq"),
    gettext_noop("first visitor at"),
    gettext_noop("first response at"),
    gettext_noop("first response agent"),
    gettext_noop("started offline"),
    gettext_noop("waiting since"),
    gettext_noop("last message at"),
    gettext_noop("required skills"),
    gettext_noop("tags"),
    gettext_noop("tag"),
    gettext_noop("#rrggbb"),
    gettext_noop("read cursor"),
    gettext_noop("read cursors"),
    gettext_noop("seq"),
    gettext_noop("updated at"),
    gettext_noop("message"),
    gettext_noop("messages"),
    gettext_noop("sender"),
    gettext_noop("Visitor"),
    gettext_noop("Agent"),
    gettext_noop("System"),
    gettext_noop("body"),
    gettext_noop("client id"),
    gettext_noop("answered wait"),
    gettext_noop("meta"),
    gettext_noop("Routing"),
    gettext_noop("skill"),
    gettext_noop("routing rule"),
    gettext_noop("routing rules"),
    gettext_noop("order"),
    gettext_noop("Lower runs first."),
    gettext_noop("active"),
    gettext_noop("Prefix of the visitor's language, e.g. zh or en-GB."),
    gettext_noop("url contains"),
    gettext_noop("keywords"),
    gettext_noop("Comma-separated; any one in the first message."),
    gettext_noop('Visitor attributes that must all be equal, e.g. {"plan": "pro"}.'),
    gettext_noop("schedule"),
    gettext_noop("schedules"),
    gettext_noop("e.g. Asia/Shanghai"),
    gettext_noop("opening period"),
    gettext_noop("opening periods"),
    gettext_noop("weekday"),
    gettext_noop("Monday"),
    gettext_noop("Tuesday"),
    gettext_noop("Wednesday"),
    gettext_noop("Thursday"),
    gettext_noop("Friday"),
    gettext_noop("Saturday"),
    gettext_noop("Sunday"),
    gettext_noop("opens"),
    gettext_noop("closes"),
    gettext_noop("Must be after opens; split a night shift in two."),
    gettext_noop("holiday"),
    gettext_noop("holidays"),
    gettext_noop("date"),
    gettext_noop("shift"),
    gettext_noop("shifts"),
    gettext_noop("starts"),
    gettext_noop("ends"),
    gettext_noop("shift exception"),
    gettext_noop("shift exceptions"),
    gettext_noop("kind"),
    gettext_noop("Day off (leave, holiday)"),
    gettext_noop("Extra shift"),
    gettext_noop("note"),
    gettext_noop("online session"),
    gettext_noop("online sessions"),
    gettext_noop("started at"),
    gettext_noop("ended at"),
    gettext_noop("Notifications"),
    gettext_noop("notification"),
    gettext_noop("notifications"),
    gettext_noop("recipient"),
    gettext_noop("agent:<id>, user:<id> or visitor:<id>"),
    gettext_noop("address"),
    gettext_noop("reason"),
    gettext_noop("Agent: unread visitor messages"),
    gettext_noop("Manager: conversation waiting"),
    gettext_noop("Manager: waited outside business hours"),
    gettext_noop("Visitor: unseen agent reply"),
    gettext_noop("Email"),
    gettext_noop("Web Push"),
    gettext_noop("level"),
    gettext_noop("Pending"),
    gettext_noop("Sending"),
    gettext_noop("Sent"),
    gettext_noop("Skipped"),
    gettext_noop("Failed"),
    gettext_noop("attempts"),
    gettext_noop("error"),
    gettext_noop("provider message id"),
    gettext_noop("sending at"),
    gettext_noop("sent at"),
    gettext_noop("retry at"),
    gettext_noop("agent preferences"),
    gettext_noop("Email me about unread messages."),
    gettext_noop("email after minutes"),
    gettext_noop("push"),
    gettext_noop("Push to the browsers where I turned notifications on."),
    gettext_noop("push after minutes"),
    gettext_noop("quiet from"),
    gettext_noop("No reminders from…"),
    gettext_noop("quiet to"),
    gettext_noop("…until (in my time zone)."),
    gettext_noop("manager preferences"),
    gettext_noop("Email me escalations."),
    gettext_noop("Push escalations to my browsers."),
    gettext_noop("push subscription"),
    gettext_noop("push subscriptions"),
    gettext_noop("endpoint"),
    gettext_noop("p256dh"),
    gettext_noop("auth"),
    gettext_noop("user agent"),
    gettext_noop("last success at"),
    gettext_noop("resume grant"),
    gettext_noop("resume grants"),
    gettext_noop("Code"),
    gettext_noop("Link"),
    gettext_noop("secret hash"),
    gettext_noop("expires at"),
    gettext_noop("used at"),
    gettext_noop("Offline"),
    gettext_noop("offline messages"),
    gettext_noop("audience"),
    gettext_noop("state"),
    gettext_noop("Delivered"),
    gettext_noop("When the message was stored."),
    gettext_noop("delivered at"),
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


def translate_models() -> None:
    for app in APPS:
        config = apps.get_app_config(app)
        config.verbose_name = gettext_lazy(str(config.verbose_name))
        for model in config.get_models():
            opts = model._meta
            opts.verbose_name = gettext_lazy(str(opts.verbose_name))
            opts.verbose_name_plural = gettext_lazy(str(opts.verbose_name_plural))
            for field in _fields(model):
                field.verbose_name = gettext_lazy(str(field.verbose_name))
                if field.help_text:
                    field.help_text = gettext_lazy(str(field.help_text))
                if field.choices and list(field.choices) != list(settings.LANGUAGES):
                    field.choices = [
                        (value, gettext_lazy(str(label))) for value, label in field.choices
                    ]


def _fields(model: type[Model]) -> list[Any]:
    return [f for f in model._meta.get_fields() if f.concrete or not f.auto_created]
