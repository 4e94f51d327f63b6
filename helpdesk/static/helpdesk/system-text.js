/*
 * The words of a system line ("transferred", "resolved", "offline"…), in the page's language,
 * from the facts the server sends with it (`meta`, docs/protocol.md). The widget and the inbox
 * share it; the server's English `body` is the fallback for a kind this version does not know.
 * Needs the JavaScript catalogue (gettext, interpolate) loaded first.
 *
 *   HelpdeskSystemText.text(message, { offline: "the site's own offline message" })
 *   HelpdeskSystemText.backAt(iso, locale)  // "We're back tomorrow at 09:00", in local time
 */
(() => {
  "use strict";

  const _ = (s) => (window.gettext ? window.gettext(s) : s);
  const fill = (format, values) => (window.interpolate ? window.interpolate(format, values, true) : format);

  function text(message, options) {
    const meta = (message && message.meta) || {};
    const o = options || {};
    switch (meta.kind) {
      case "offline":
        return o.offline || _("We're offline right now. Your message is saved, and we'll answer it here.");
      case "queued":
        return Number.isInteger(meta.position) && o.withPosition
          ? fill(_("All our agents are busy right now. You are number %(position)s in the queue."), { position: meta.position })
          : _("All our agents are busy right now. We'll be with you shortly.");
      case "resolved":
        return _("This conversation is closed. Write again any time and we'll pick it up.");
      case "requeued":
        return _("We're connecting you with another agent.");
      case "overflowed":
        return meta.group_name ? fill(_("We've passed your conversation to our %(team)s team."), { team: meta.group_name }) : message.body;
      case "transferred":
        if (meta.to_agent) return fill(_("%(name)s will continue this conversation."), { name: meta.to_agent });
        if (meta.to_group) return fill(_("We've passed your conversation to our %(team)s team."), { team: meta.to_group });
        return message.body;
      default:
        return message ? message.body : "";
    }
  }

  // When the team is next in, in the reader's own time zone: today, tomorrow, a weekday
  // within the week, else a date.
  function backAt(iso, locale) {
    const when = new Date(iso || "");
    const now = new Date();
    if (Number.isNaN(when.getTime()) || when <= now) return "";
    const time = new Intl.DateTimeFormat(locale, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(when);
    const midnight = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
    const days = Math.round((midnight(when) - midnight(now)) / 86400000);
    if (days === 0) return fill(_("We're back today at %(time)s"), { time });
    if (days === 1) return fill(_("We're back tomorrow at %(time)s"), { time });
    const day = new Intl.DateTimeFormat(locale, days < 7 ? { weekday: "long" } : { month: "long", day: "numeric" }).format(when);
    return fill(_("We're back on %(day)s at %(time)s"), { day, time });
  }

  window.HelpdeskSystemText = { text, backAt };
})();
