/*
 * What every part of the agent inbox shares (inbox.js and the modules beside it, each loaded
 * with its own <script> tag): the page's words (Django's JavaScript catalogue), times in the
 * agent's language, how a visitor is named, and a few DOM helpers. The modules register on
 * window.HelpdeskInbox; inbox.js starts them once the page's state exists.
 */
(() => {
  "use strict";

  const _ = (s) => (window.gettext ? window.gettext(s) : s);
  const fill = (format, values) => (window.interpolate ? window.interpolate(format, values, true) : format);
  const LOCALE = document.documentElement.lang || undefined;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  // An icon from the inbox's set (24x24 paths, drawn with currentColor).
  const ICONS = {
    clip: "M16.5 6.5 8.9 14.1a1.5 1.5 0 0 0 2.1 2.1l7.3-7.3a3.5 3.5 0 0 0-5-5l-7.6 7.6a5.5 5.5 0 0 0 7.8 7.8l6.4-6.4a1 1 0 1 1 1.4 1.4l-6.4 6.4a7.5 7.5 0 0 1-10.6-10.6l7.6-7.6a5.5 5.5 0 0 1 7.8 7.8l-7.3 7.3a3.5 3.5 0 0 1-5-5l7.6-7.6a1 1 0 1 1 1.4 1.4Z",
    more: "M5 10.5a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3Zm7 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3Zm7 0a1.5 1.5 0 1 1 0 3 1.5 1.5 0 0 1 0-3Z",
    clock: "M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20Zm0 2a8 8 0 1 0 0 16 8 8 0 0 0 0-16Zm0 2.5a1 1 0 0 1 1 1v4.1l2.7 2.7a1 1 0 0 1-1.4 1.4l-3-3a1 1 0 0 1-.3-.7V7.5a1 1 0 0 1 1-1Z",
    edit: "M15.3 4.3a2.4 2.4 0 0 1 3.4 3.4l-9.9 9.9-4.3 1 1-4.3 9.8-10Zm2 1.4a.4.4 0 0 0-.6 0l-9.6 9.6-.4 1.5 1.5-.4 9.6-9.6a.4.4 0 0 0 0-.6l-.5-.5Z",
    check: "M9.5 16.2 5.3 12a1 1 0 1 0-1.4 1.4l4.9 4.9a1 1 0 0 0 1.4 0l10-10a1 1 0 1 0-1.4-1.4l-9.3 9.3Z",
    close: "M6.7 5.3 12 10.6l5.3-5.3a1 1 0 1 1 1.4 1.4L13.4 12l5.3 5.3a1 1 0 0 1-1.4 1.4L12 13.4l-5.3 5.3a1 1 0 0 1-1.4-1.4l5.3-5.3-5.3-5.3a1 1 0 0 1 1.4-1.4Z",
    bolt: "M13 2 4 14h6l-1 8 9-12h-6l1-8Z",
  };
  function icon(name) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", ICONS[name] || "");
    svg.appendChild(path);
    return svg;
  }

  // ---- times ----------------------------------------------------------------------------------
  const timeFmt = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const dayFmt = new Intl.DateTimeFormat(LOCALE, { day: "numeric", month: "short" });
  const fullFmt = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });
  const parseTime = (iso) => {
    const ms = Date.parse(iso || "");
    return Number.isNaN(ms) ? null : ms;
  };
  const isToday = (d) => d.toDateString() === new Date().toDateString();

  function shortTime(iso) {
    const ms = parseTime(iso);
    if (ms == null) return "";
    const d = new Date(ms);
    return isToday(d) ? timeFmt.format(d) : dayFmt.format(d);
  }

  function messageTime(iso) {
    const ms = parseTime(iso);
    if (ms == null) return "";
    const d = new Date(ms);
    return isToday(d) ? timeFmt.format(d) : `${dayFmt.format(d)}, ${timeFmt.format(d)}`;
  }

  function fullTime(iso) {
    const ms = parseTime(iso);
    return ms == null ? "" : fullFmt.format(new Date(ms));
  }

  function fillTime(node, iso) {
    node.textContent = node.classList.contains("conv-time") ? shortTime(iso) : messageTime(iso);
    if (iso) node.dateTime = iso;
    const ms = parseTime(iso);
    if (ms != null) node.title = fullFmt.format(new Date(ms));
  }

  function waitingText(iso) {
    const ms = parseTime(iso);
    if (ms == null) return "";
    const minutes = Math.max(0, Math.floor((Date.now() - ms) / 60000));
    if (minutes < 1) return _("waiting <1 min");
    if (minutes < 60) return fill(_("waiting %(minutes)s min"), { minutes });
    const hours = Math.floor(minutes / 60);
    if (hours < 24) {
      return minutes % 60
        ? fill(_("waiting %(hours)s h %(minutes)s min"), { hours, minutes: minutes % 60 })
        : fill(_("waiting %(hours)s h"), { hours });
    }
    return fill(_("waiting %(days)s d"), { days: Math.floor(hours / 24) });
  }

  // ---- people ---------------------------------------------------------------------------------
  function avatarHue(id) {
    let h = 0;
    for (const ch of String(id || "")) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return h;
  }

  // An anonymous visitor's name comes over the socket in English ("Visitor 1a2b"): in the
  // page's language here.
  function nameOf(name) {
    const anonymous = /^Visitor ([0-9a-f]{4})$/.exec(name || "");
    if (anonymous) return fill(_("Visitor %(id)s"), { id: anonymous[1] });
    return name || _("Visitor");
  }
  const visitorName = (c) => nameOf((c && c.visitor && c.visitor.name) || "");
  const initialOf = (name) => (Array.from(String(name || "?").trim())[0] || "?").toUpperCase();

  const isMessage = (m) =>
    !!m && typeof m === "object" && typeof m.id === "string" &&
    typeof m.conversation_id === "string" && Number.isInteger(m.seq);
  const isSummary = (c) => !!c && typeof c === "object" && typeof c.id === "string";

  // What only staff see of a system line: who moved it and why, who was away.
  function staffDetail(meta) {
    if (meta.kind === "transferred" && meta.by) {
      return meta.reason
        ? fill(_("Moved by %(by)s: %(reason)s"), { by: meta.by, reason: meta.reason })
        : fill(_("Moved by %(by)s"), { by: meta.by });
    }
    if (meta.kind === "requeued" && meta.agent_name) return fill(_("%(name)s was away past the grace period"), { name: meta.agent_name });
    if (meta.kind === "overflowed") return _("Waited past the team's limit");
    if (meta.kind === "resolved" && meta.by) return fill(_("Resolved by %(by)s"), { by: meta.by });
    if (meta.kind === "reopened" && meta.by) return fill(_("Reopened by %(by)s"), { by: meta.by });
    return "";
  }

  // ---- a popover menu: a button that opens a list of actions below it -------------------------
  // Closes on Escape, on a click elsewhere and after an action; the focus returns to the button.
  function menu(button, panel) {
    function show(open) {
      panel.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
      if (open) {
        const first = panel.querySelector("button:not([disabled]), input, a");
        if (first) first.focus();
      }
    }
    button.setAttribute("aria-expanded", "false");
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      show(panel.hidden);
    });
    document.addEventListener("click", (event) => {
      if (!panel.hidden && !panel.contains(event.target) && event.target !== button) show(false);
    });
    panel.addEventListener("keydown", (event) => {
      if (event.key !== "Escape") return;
      event.stopPropagation();
      show(false);
      button.focus();
    });
    return { show, close: () => show(false) };
  }

  window.HelpdeskInbox = Object.assign(window.HelpdeskInbox || {}, {
    kit: {
      _, fill, LOCALE, el, icon, parseTime, shortTime, messageTime, fullTime, fillTime, waitingText,
      avatarHue, nameOf, visitorName, initialOf, isMessage, isSummary, menu, timeFmt, staffDetail,
    },
  });
})();
