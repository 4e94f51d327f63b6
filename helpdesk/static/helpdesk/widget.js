/*
 * Helpdesk visitor widget (runs inside the iframe served at /widget/).
 *
 * Only the screen lives here. Everything protocol-related (the socket, hello and resume by
 * cursor, the outbox, receipts, the email opt-in, continuing on another device) is the
 * client library's (client.js, docs/protocol.md); the composer is shared with the inbox
 * (composer.js). This page renders what the client tells it, keeps the unread badge of the
 * host page's launcher, and keeps a copy of what matters in the host page's storage.
 */
(() => {
  "use strict";

  const cfg = JSON.parse(document.getElementById("hd-config").textContent);
  const SITE_KEY = String(cfg.site_key || "");
  // A signed-in user's proof from the host site (embed.js puts it in the fragment): sent at
  // hello, and with the token on the HTTP calls the widget makes.
  const identityProof = (() => {
    const identity = new URLSearchParams(location.hash.slice(1));
    const userId = identity.get("user_id");
    const userHash = identity.get("user_hash");
    return userId && userHash ? { user_id: userId.slice(0, 255), user_hash: userHash.slice(0, 255) } : null;
  })();
  const WS_PATH = String(cfg.ws_path || "/ws/visitor/");

  // ---- strings: the page's language (the visitor's browser's), from the catalogue ------------
  const _ = (text) => (window.gettext ? window.gettext(text) : text);
  const fill = (format, values) => (window.interpolate ? window.interpolate(format, values, true) : format);
  const LOCALE = document.documentElement.lang || undefined;
  const timeFormat = new Intl.DateTimeFormat(LOCALE, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  const fullFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short" });

  // ---- storage ----------------------------------------------------------------------------------
  // localStorage when the browser allows it; in a third-party frame it may not (or may wipe
  // it), so the host page keeps a copy of what matters (KEPT) in its own storage: it hands it
  // over in the URL fragment when it creates this frame, and takes every change by message.
  const PREFIX = `helpdesk:${SITE_KEY}:`;
  const KEPT = ["token", "cursor", "visitor", "outbox", "seen"];
  const inFrame = window.parent !== window;
  const parentOrigin = (location.ancestorOrigins && location.ancestorOrigins[0]) || "*";
  const kept = {};
  try {
    const given = JSON.parse(new URLSearchParams(location.hash.slice(1)).get("kept") || "{}");
    for (const name of KEPT) if (typeof given[name] === "string") kept[PREFIX + name] = given[name];
  } catch (_) {
    /* nothing kept */
  }
  function tellHost(key, value) {
    const name = key.startsWith(PREFIX) ? key.slice(PREFIX.length) : "";
    if (!inFrame || !KEPT.includes(name)) return;
    try {
      window.parent.postMessage({ source: "helpdesk", type: "keep", name, value }, parentOrigin);
    } catch (_) {
      /* ignore */
    }
  }
  const localStore = (() => {
    try {
      return window.localStorage;
    } catch (_) {
      return null; // a sandboxed frame may not even look
    }
  })();
  const web = HelpdeskClient.storage.web(localStore, kept);
  const storage = {
    get: (key) => web.get(key),
    set(key, value) {
      web.set(key, value);
      tellHost(key, value);
    },
    remove(key) {
      web.remove(key);
      tellHost(key, null);
    },
  };
  // What only this page keeps (the unread badge's "seen", the bell in a foreign frame).
  const local = {
    get(name) {
      try {
        return JSON.parse(storage.get(PREFIX + name));
      } catch (_) {
        return null;
      }
    },
    set: (name, value) => storage.set(PREFIX + name, JSON.stringify(value)),
    getRaw: (name) => storage.get(PREFIX + name),
    setRaw: (name, value) => storage.set(PREFIX + name, value),
  };

  // ---- DOM ------------------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  const list = $("hd-messages");
  const input = $("hd-input");
  const form = $("hd-form");
  const statusLine = $("hd-status");
  const conn = $("hd-conn");
  const closeButton = $("hd-close");
  const embedded = window.parent !== window;

  closeButton.hidden = !embedded;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

  function formatTime(iso) {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "" : timeFormat.format(d);
  }

  function applySite(site) {
    if (!site) return;
    if (typeof site.name === "string" && site.name) {
      $("hd-title").textContent = site.name;
      $("hd-avatar").textContent = Array.from(site.name.trim())[0]?.toUpperCase() || "";
    }
    // The greeting in the visitor's language comes with the page (the site's own words for
    // it, else its greeting); the welcome's is the site's default one.
    const greeting = typeof cfg.greeting === "string" && cfg.greeting.trim() ? cfg.greeting : site.greeting;
    if (typeof greeting === "string") {
      $("hd-greeting-text").textContent = greeting;
      $("hd-greeting").hidden = !greeting.trim();
    }
    applyColor(site.color);
  }

  function applyColor(value) {
    const c = typeof value === "string" ? value.trim() : "";
    if (!c || !(window.CSS && CSS.supports && CSS.supports("color", c))) return;
    const root = document.documentElement.style;
    root.setProperty("--hd-color", c);
    root.setProperty("--hd-on-color", textOn(c));
  }

  function textOn(c) {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
    if (!m) return "#ffffff";
    let hex = m[1];
    if (hex.length === 3) hex = hex.replace(/./g, (d) => d + d);
    const lin = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const [r, g, b] = [0, 2, 4].map((i) => lin(parseInt(hex.slice(i, i + 2), 16) / 255));
    return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 ? "#111827" : "#ffffff";
  }

  // The header says where things stand, once: online; busy, with the place in the queue; or
  // offline, with when the team is back in the visitor's own time (the system line in the
  // thread does not say it again).
  let wait = null; // {position} or {next_open_at}, from the welcome and the latest system line
  function renderStatus() {
    const online = !!client.agentsOnline;
    let text;
    if (wait && Number.isInteger(wait.position)) {
      text = fill(_("All our agents are busy. You are number %(position)s in the queue."), { position: wait.position });
    } else if (online) {
      text = _("We're online. We typically reply in a few minutes.");
    } else {
      const next = (wait && wait.next_open_at) || cfg.next_open_at;
      text = HelpdeskSystemText.backAt(next, LOCALE) || _("We're offline right now.");
    }
    statusLine.textContent = text;
    statusLine.dataset.online = String(online);
  }

  // ---- the client: the protocol, for this screen ------------------------------------------------
  // What routing may use: language, time zone (for "we're back at …" in local time), the
  // host page and the host site's attributes for this visitor.
  function visitorContext() {
    const query = new URLSearchParams(location.search);
    const context = { language: (navigator.language || "").slice(0, 35) };
    try {
      context.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (_) {
      context.timezone = "";
    }
    const identity = new URLSearchParams(location.hash.slice(1));
    for (const key of ["user_id", "user_hash", "name"]) {
      const value = identity.get(key);
      if (value) context[key] = value.slice(0, 255);
    }
    const page = query.get("page") || "";
    if (/^https?:\/\//.test(page)) context.page_url = page.slice(0, 500);
    const title = query.get("title") || "";
    if (title) context.page_title = title.slice(0, 200);
    const referrer = query.get("referrer") || "";
    if (/^https?:\/\//.test(referrer)) context.referrer = referrer.slice(0, 500);
    try {
      const attributes = JSON.parse(query.get("attributes") || "{}");
      if (attributes && typeof attributes === "object" && !Array.isArray(attributes)) {
        context.attributes = Object.fromEntries(
          Object.entries(attributes).slice(0, 20).map(([k, v]) => [String(k).slice(0, 50), String(v).slice(0, 200)])
        );
      }
    } catch (_) {
      /* not JSON: ignore the attributes, never the visitor */
    }
    return context;
  }

  const client = HelpdeskClient.create({
    url: location.origin,
    siteKey: SITE_KEY,
    wsPath: WS_PATH,
    adapter: HelpdeskClient.adapters.browser({ storage }),
    channel: "web",
    context: visitorContext,
    storagePrefix: PREFIX,
    maxBody: Number.isInteger(cfg.max_body) && cfg.max_body > 0 ? cfg.max_body : undefined,
  });

  // ---- offline form: an email address for the reply -------------------------------------------
  const emailForm = document.getElementById("hd-email-form");
  const emailInput = document.getElementById("hd-email");
  const emailStatus = document.getElementById("hd-email-status");
  if (emailForm) {
    emailForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const email = emailInput.value.trim();
      if (!email || !emailInput.checkValidity()) return;
      // Not connected this instant: it goes with the next welcome (nothing typed is lost).
      client.setEmail(email).then(onEmailSaved, (error) => {
        emailStatus.textContent = error.detail || "";
      });
    });
  }
  // Offered once the visitor has written and while nobody can answer now, until they have
  // left an address. Once left, its confirmation stays in view for the rest of this visit (a
  // reconnect or a presence change must not take away what the visitor was just told).
  function hasWritten() {
    const cursor = client.cursor;
    if (client.pending().length) return true;
    return client.messages().some((m) => m.sender === "visitor" && (!cursor || m.conversation_id === cursor.conversation_id));
  }
  function offerEmail() {
    if (!emailForm) return;
    const nobody = !client.agentsOnline || !!wait;
    const left = client.email !== null;
    if (left && emailStatus.textContent) return; // the confirmation stays
    emailForm.hidden = !nobody || left || !hasWritten();
  }
  function onEmailSaved() {
    emailStatus.textContent = _("Check your inbox and confirm: we'll email you our reply.");
    emailForm.querySelector(".hd-email-row").hidden = true;
    document.getElementById("hd-email-label").hidden = true;
  }

  // ---- Web Push: "notify me of replies" --------------------------------------------------------
  // In our own page (or a same-origin frame) the widget subscribes in place. In another
  // site's frame browsers refuse to ask for permission, so a small first-party window at
  // /widget/push/ does it, with the visitor token in its URL fragment (never sent anywhere).
  const bell = document.getElementById("hd-bell");
  const pushConfig = cfg.push || {};
  const inForeignFrame = (() => {
    if (window.top === window) return false;
    try {
      return window.top.location.origin !== location.origin;
    } catch (_) {
      return true;
    }
  })();
  const push =
    window.HelpdeskPush && pushConfig.enabled
      ? HelpdeskPush.forVisitor(pushConfig.public_key, () => client.token, () => identityProof)
      : null;
  let bellState = "off";
  function showBell(next) {
    bellState = next;
    bell.setAttribute("aria-pressed", String(next === "on"));
    const label =
      next === "on"
        ? _("Notifications on (click to turn off)")
        : next === "denied"
          ? _("Notifications are blocked for this site in your browser settings.")
          : _("Notify me of replies");
    bell.setAttribute("aria-label", label);
    bell.title = label;
    bell.classList.toggle("is-on", next === "on");
  }
  async function setUpBell() {
    // Push belongs to a visitor: none until the server has one (it may wait for the first
    // message); each welcome asks again.
    if (!push || !bell || !HelpdeskPush.supported() || !client.token) return;
    if (inForeignFrame) {
      showBell(local.getRaw("push") === "on" ? "on" : "off");
    } else {
      const state = await push.state();
      if (state === "unsupported") return;
      if (state === "on") push.resync().catch(() => {});
      showBell(state);
    }
    bell.hidden = false;
  }
  if (bell) {
    bell.addEventListener("click", async () => {
      if (!client.token) return;
      if (inForeignFrame) {
        const fragment = new URLSearchParams({ t: client.token, ...(identityProof || {}) });
        const url = `/widget/push/?site_key=${encodeURIComponent(SITE_KEY)}#${fragment}`;
        window.open(url, "hd-push", "width=440,height=420");
        return;
      }
      try {
        if (bellState === "on") {
          await push.disable();
          showBell("off");
        } else {
          await push.enable();
          showBell("on");
        }
      } catch (error) {
        if (error && error.message === "blocked") showBell("denied");
      }
    });
    window.addEventListener("message", (event) => {
      if (event.origin !== location.origin || !event.data || event.data.type !== "hd:push") return;
      local.setRaw("push", event.data.state === "on" ? "on" : "off");
      showBell(event.data.state === "on" ? "on" : "off");
    });
  }

  // ---- continue on this device: a one-time code sent to a confirmed address ------------------
  const resumeForm = document.getElementById("hd-resume-form");
  const resumeOpen = document.getElementById("hd-resume-open");
  const resumeEmail = document.getElementById("hd-resume-email");
  const resumeCode = document.getElementById("hd-resume-code");
  const resumeStatus = document.getElementById("hd-resume-status");
  if (resumeForm && resumeOpen) {
    resumeOpen.addEventListener("click", () => {
      resumeForm.hidden = !resumeForm.hidden;
      if (!resumeForm.hidden) resumeEmail.focus();
    });
    resumeForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const email = resumeEmail.value.trim();
      if (!email || !resumeEmail.checkValidity()) return;
      if (resumeCode.hidden) {
        await client.requestResumeCode(email).catch(() => null);
        resumeCode.hidden = false;
        resumeStatus.textContent = _("If that address is confirmed here, a 6-digit code is on its way. Enter it:");
        resumeCode.focus();
        return;
      }
      // The other device's visitor, from now on here too: the client starts over from the server.
      const resumed = await client.confirmResumeCode(email, resumeCode.value.trim()).catch(() => null);
      if (!resumed) {
        resumeStatus.textContent = _("That code is wrong or expired.");
        return;
      }
      resumeForm.hidden = true;
      resumeOpen.hidden = true;
    });
  }
  function offerResume(show) {
    if (resumeOpen) resumeOpen.hidden = !show;
  }

  // What the latest system line says about the wait (fresher than the welcome's).
  function noteWait(m) {
    const meta = (m && m.meta) || {};
    if (meta.kind === "queued" && Number.isInteger(meta.position)) wait = { position: meta.position };
    else if (meta.kind === "offline") wait = { next_open_at: meta.next_open_at || null };
    else if (meta.kind) wait = null; // resolved, transferred, requeued: the next welcome tells
  }

  function showConn(text) {
    conn.textContent = text;
    conn.hidden = false;
  }

  function hideConn() {
    conn.hidden = true;
  }

  function scrollToBottom() {
    list.scrollTop = list.scrollHeight;
  }

  // ---- the thread on screen -------------------------------------------------------------------
  const liById = new Map(); // message id -> <li>
  const liByClient = new Map(); // client_id -> <li> of an own message
  const liData = new WeakMap(); // <li> -> Message (stored ones)

  // An agent's initials on a colour of their own (the same name, the same colour).
  function hueOf(name) {
    let h = 0;
    for (const ch of String(name || "")) h = (h * 31 + ch.codePointAt(0)) % 360;
    return h;
  }
  const initialOf = (name) => (Array.from(String(name || "").trim())[0] || "?").toUpperCase();

  function renderMessage(m) {
    const sender = ["visitor", "agent", "system"].includes(m.sender) ? m.sender : "system";
    const li = el("li", `hd-msg hd-msg--${sender}`);
    if (sender === "agent") {
      const name = m.agent_name || cfg.site_name || "";
      const avatar = el("span", "hd-agent-avatar", initialOf(name));
      avatar.setAttribute("aria-hidden", "true");
      avatar.style.setProperty("--hue", String(hueOf(name)));
      li.append(avatar, el("div", "hd-name", name));
    }
    // A system line in the visitor's language, from its facts (the server's words otherwise).
    const text = sender === "system" ? HelpdeskSystemText.text(m, { offline: cfg.offline_text || "" }) : m.body;
    const files = Array.isArray(m.attachments) ? m.attachments : [];
    if (text || !files.length) li.appendChild(el("div", "hd-bubble", text));
    if (files.length && sender !== "system") li.appendChild(HelpdeskFiles.render(files));
    const meta = el("div", "hd-meta");
    const time = el("time", "hd-time", formatTime(m.created_at));
    if (m.created_at) {
      time.dateTime = m.created_at;
      const d = new Date(m.created_at);
      if (!Number.isNaN(d.getTime())) time.title = fullFormat.format(d);
    }
    meta.appendChild(time);
    if (sender === "visitor") meta.appendChild(el("span", "hd-mark"));
    li.appendChild(meta);
    if (m.client_id) li.dataset.clientId = m.client_id;
    return li;
  }

  const readByAgent = (m) => m.seq <= client.readSeq(m.conversation_id);

  function setStored(li, m) {
    li.dataset.id = m.id;
    li.dataset.seq = String(m.seq);
    li.dataset.conversationId = m.conversation_id;
    liData.set(li, m);
    liById.set(m.id, li);
    if (m.sender === "visitor") setState(li, readByAgent(m) ? "seen" : "sent");
  }

  // "Seen": the agent read up to this seq (a reply reads everything before it).
  function markSeen(read) {
    for (const li of liById.values()) {
      if (!li.classList.contains("hd-msg--visitor") || li.dataset.conversationId !== read.conversation_id) continue;
      if (Number(li.dataset.seq) <= read.seq) setState(li, "seen");
    }
  }

  function setState(li, state, detail) {
    li.dataset.state = state;
    const mark = li.querySelector(".hd-mark");
    if (!mark) return;
    mark.textContent =
      state === "sending" ? _("Sending…") : state === "sent" ? _("Sent") : state === "seen" ? _("Seen") : detail || _("Not sent");
    mark.classList.toggle("hd-mark--failed", state === "failed");
  }

  // Stored messages in order; own messages not yet stored stay at the end.
  function place(li, m) {
    let before = null;
    for (let node = list.lastElementChild; node; node = node.previousElementSibling) {
      if (node === li) continue;
      const other = liData.get(node);
      if (!other) {
        if (node.id === "hd-greeting" || node.dataset.state === "failed") break;
        if (node.classList.contains("hd-msg")) before = node; // own message still sending
        continue;
      }
      if (HelpdeskClient.compareMessages(other, m) <= 0) break;
      before = node;
    }
    list.insertBefore(li, before);
    regroup(li);
    if (li.nextElementSibling) regroup(li.nextElementSibling);
  }

  // Consecutive messages from the same side (and agent) sit closer and show the name once.
  function regroup(li) {
    const prev = li.previousElementSibling;
    const sender = (node) => (node.className.match(/hd-msg--(visitor|agent|system)/) || [])[1];
    const name = (node) => node.querySelector(".hd-name")?.textContent || "";
    const same = !!prev && prev.classList.contains("hd-msg") && sender(prev) === sender(li) && name(prev) === name(li);
    li.classList.toggle("hd-msg--cont", same);
  }

  // A message the client holds for the first time.
  function showMessage(m) {
    let li = m.client_id && m.sender === "visitor" ? liByClient.get(m.client_id) : null;
    if (li && li.dataset.id) li = null;
    if (li) {
      // Our own pending message: it becomes the stored one (keeps its place in the DOM order).
      const time = li.querySelector("time");
      if (time && m.created_at) {
        time.dateTime = m.created_at;
        time.textContent = formatTime(m.created_at);
      }
      // The stored files, with the server's signed links (the pending ones may be IDs only).
      const files = li.querySelector(".att-list");
      if (files && Array.isArray(m.attachments) && m.attachments.length) files.replaceWith(HelpdeskFiles.render(m.attachments));
      li.remove();
    } else {
      li = renderMessage(m);
      if (m.client_id && m.sender === "visitor") liByClient.set(m.client_id, li);
    }
    setStored(li, m);
    place(li, m);
  }

  function showPending(entry) {
    let li = liByClient.get(entry.client_id);
    if (li) return li;
    li = renderMessage({
      sender: "visitor",
      body: entry.body,
      created_at: entry.created_at,
      client_id: entry.client_id,
      attachments: entry.attachments,
    });
    setState(li, "sending");
    liByClient.set(entry.client_id, li);
    list.appendChild(li);
    regroup(li);
    return li;
  }

  // The client dropped what it held (another visitor, a refused token, a resumed one).
  function clearHistory(outboxDropped) {
    for (const li of liById.values()) {
      li.remove();
      if (li.dataset.clientId) liByClient.delete(li.dataset.clientId);
    }
    liById.clear();
    if (outboxDropped) {
      for (const li of Array.from(liByClient.values())) li.remove();
      liByClient.clear();
    }
    seen = { conversation_id: null, seq: 0 };
    local.set("seen", seen);
  }

  // ---- unread badge ---------------------------------------------------------------------------
  let isOpen = !embedded; // standalone page: always "open"; in a frame: closed until told
  let seen = { conversation_id: null, seq: 0 }; // how far this visitor has had the thread open
  let lastPostedUnread = "";

  function topSeq(conversationId) {
    let top = 0;
    for (const m of client.messages()) if (m.conversation_id === conversationId && m.seq > top) top = m.seq;
    return top;
  }

  // The replies the visitor has not had on screen yet (the chat closed): for the launcher.
  function unreadReplies() {
    const cursor = client.cursor;
    if (isOpen || !cursor) return [];
    return client.messages().filter(
      (m) =>
        m.sender === "agent" &&
        m.conversation_id === cursor.conversation_id &&
        (seen.conversation_id !== m.conversation_id || m.seq > seen.seq)
    );
  }

  // A preview of the latest unread reply, for the launcher: who wrote, and the start of it.
  function previewOf(m) {
    if (!m) return null;
    const name = m.agent_name || cfg.site_name || "";
    return { id: m.id, name, initial: initialOf(name), hue: hueOf(name), body: String(m.body || "").slice(0, 140) };
  }

  // Only to the page that embeds us where the browser names it (a reply's text is private).
  function postToParent(message, targetOrigin) {
    if (!embedded) return;
    try {
      window.parent.postMessage({ source: "helpdesk", ...message }, targetOrigin || "*");
    } catch (_) {
      /* ignore */
    }
  }

  // The badge, and receipts for the agent: "Delivered" once this client holds a message,
  // "Seen" once the chat was open and visible with it on screen.
  function updateUnread(force) {
    const cursor = client.cursor;
    if (isOpen && cursor) {
      const top = topSeq(cursor.conversation_id);
      if (seen.conversation_id !== cursor.conversation_id || seen.seq < top) {
        seen = { conversation_id: cursor.conversation_id, seq: top };
        local.set("seen", seen);
      }
    }
    const unread = unreadReplies();
    const preview = previewOf(unread[unread.length - 1]);
    const key = `${unread.length}:${preview ? preview.id : ""}`;
    if (force || key !== lastPostedUnread) {
      lastPostedUnread = key;
      const label = unread.length
        ? fill(window.ngettext ? ngettext("Chat with us: %(count)s unread reply", "Chat with us: %(count)s unread replies", unread.length) : "%(count)s", { count: unread.length })
        : _("Chat with us");
      postToParent({ type: "unread", count: unread.length, preview, label }, parentOrigin);
    }
    client.setVisible(isOpen && document.visibilityState === "visible");
  }

  window.addEventListener("message", (event) => {
    if (!embedded || event.source !== window.parent) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.source !== "helpdesk") return;
    if (data.type === "opened") {
      isOpen = true;
      updateUnread(true);
      scrollToBottom();
      if (window.matchMedia && window.matchMedia("(pointer: fine)").matches) {
        input.focus({ preventScroll: true });
      }
    } else if (data.type === "closed") {
      isOpen = false;
      updateUnread(true);
    }
  });

  // ---- what the client says ---------------------------------------------------------------------
  let welcomedAdded = false; // the catch-up brought something new

  client.on("message", (m, info) => {
    showMessage(m);
    if (m.sender === "system" && info.source === "live") noteWait(m);
    else if (m.sender === "agent" && info.source === "live") wait = null; // someone is on it
    if (info.source === "live" || info.source === "ack") {
      renderStatus();
      offerEmail();
    }
    if (info.source === "welcome") {
      welcomedAdded = true;
    } else if (info.source === "live" || info.source === "ack") {
      updateUnread(false);
      scrollToBottom();
    }
  });
  client.on("pending", (entry) => {
    showPending(entry);
    offerEmail();
  });
  client.on("failed", (failure) => {
    const li = liByClient.get(failure.client_id);
    if (!li || li.dataset.id) return;
    // In the visitor's words; the server's English reason stays in the tooltip.
    setState(li, "failed", failure.code === "body_too_long" ? _("Too long to send") : _("Not sent"));
    if (failure.detail) li.querySelector(".hd-mark").title = failure.detail;
  });
  client.on("seen", markSeen);
  client.on("reset", (info) => clearHistory(info.outboxDropped));
  client.on("presence", () => {
    renderStatus();
    offerEmail();
  });
  client.on("status", (status) => {
    if (status.state === "offline") showConn(_("Reconnecting…"));
    else if (status.state === "stopped") showConn(_("Chat is unavailable on this page.")); // retrying cannot help
  });
  client.on("welcome", (frame) => {
    hideConn();
    applySite(frame.site);
    if (bell && bell.hidden) setUpBell();
    offerResume(!frame.identified && !(Array.isArray(frame.messages) && frame.messages.length) && !frame.conversation_id);
    wait = client.queue;
    renderStatus();
    offerEmail();
    composer.setMaxLength(client.maxBody);
    updateUnread(true);
    if (welcomedAdded || list.querySelector(".hd-msg[data-state='sending']")) scrollToBottom();
    welcomedAdded = false;
  });

  // ---- satisfaction: rate a resolved conversation ----------------------------------------------
  // A card after the "resolved" line of the latest conversation, on the site's scale (1-5
  // stars, or good and bad) with a comment, sent by client.rate(). What this device rated is
  // remembered, so the card then says thanks (and can change it).
  const rating = (() => {
    let scale = typeof cfg.satisfaction === "string" ? cfg.satisfaction : "five";
    let card = null;
    let shownFor = null;
    const rated = () => local.get("rated") || {};

    function resolvedLine() {
      const current = client.cursor && client.cursor.conversation_id;
      let found = null;
      for (const li of liById.values()) {
        const m = liData.get(li);
        if (m && m.conversation_id === current && m.sender === "system" && m.meta && m.meta.kind === "resolved") found = li;
      }
      return found;
    }

    function button(label, score, className) {
      const b = el("button", `hd-rate-pick ${className || ""}`.trim(), label);
      b.type = "button";
      b.dataset.score = String(score);
      return b;
    }

    function build(conversationId) {
      const node = el("li", "hd-rate");
      node.id = "hd-rate";
      node.dataset.conversationId = conversationId;
      const done = rated()[conversationId];
      if (done) {
        node.appendChild(el("p", "hd-rate-title", _("Thank you for your rating!")));
        const again = el("button", "hd-link hd-rate-change", _("Change"));
        again.type = "button";
        again.addEventListener("click", () => {
          const kept = rated();
          delete kept[conversationId];
          local.set("rated", kept);
          refresh(true);
        });
        node.appendChild(again);
        return node;
      }
      node.appendChild(el("p", "hd-rate-title", _("How did we do?")));
      const picks = el("div", "hd-rate-picks");
      if (scale === "thumbs") {
        picks.append(button(`👍 ${_("Good")}`, 5), button(`👎 ${_("Bad")}`, 1));
      } else {
        for (let n = 1; n <= 5; n += 1) {
          const star = button("★", n, "hd-rate-star");
          star.setAttribute("aria-label", fill(_("%(n)s of 5"), { n }));
          picks.appendChild(star);
        }
      }
      const form = el("form", "hd-rate-form");
      form.hidden = true;
      const comment = el("textarea", "hd-rate-comment");
      comment.maxLength = 1000;
      comment.rows = 2;
      comment.placeholder = _("Anything to add? (optional)");
      comment.setAttribute("aria-label", _("Anything to add? (optional)"));
      const send = el("button", "hd-rate-send", _("Send"));
      send.type = "submit";
      const status = el("p", "hd-rate-status");
      status.setAttribute("role", "status");
      form.append(comment, send);
      node.append(picks, form, status);
      let score = 0;
      picks.addEventListener("click", (event) => {
        const pick = event.target.closest(".hd-rate-pick");
        if (!pick) return;
        score = Number(pick.dataset.score);
        for (const b of picks.children) b.setAttribute("aria-pressed", String(scale === "thumbs" ? b === pick : Number(b.dataset.score) <= score));
        form.hidden = false;
      });
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!score) return;
        send.disabled = true;
        client.rate(conversationId, score, comment.value.trim()).then(
          () => {
            local.set("rated", { ...rated(), [conversationId]: score });
            refresh(true);
          },
          () => {
            send.disabled = false;
            status.textContent = _("Your rating was not sent. Try again.");
          }
        );
      });
      return node;
    }

    // Put the card after the latest conversation's "resolved" line, or take it away.
    function refresh(rebuild) {
      const line = scale === "off" ? null : resolvedLine();
      const id = line ? line.dataset.conversationId : null;
      if (!line) {
        if (card) card.remove();
        card = shownFor = null;
        return;
      }
      if (!card || rebuild || shownFor !== id) {
        if (card) card.remove();
        card = build(id);
        shownFor = id;
      }
      if (line.nextSibling !== card) list.insertBefore(card, line.nextSibling);
    }

    return {
      setScale(value) {
        if (["five", "thumbs", "off"].includes(value) && value !== scale) {
          scale = value;
          refresh(true);
        }
      },
      refresh,
    };
  })();
  client.on("message", () => rating.refresh(false));
  client.on("reset", () => rating.refresh(false));
  client.on("welcome", (frame) => {
    rating.setScale(frame.site && frame.site.satisfaction);
    rating.refresh(false);
  });

  // ---- composer -------------------------------------------------------------------------------

  // ---- composer: text, files (the button, a paste, a drop), typing -----------------------------
  const tray = new HelpdeskFiles.Tray($("hd-tray"), {
    limits: cfg.attachments,
    upload: (file, onProgress) => client.uploadFile(file, { onProgress }),
    onChange: () => scrollToBottom(),
  });
  const fileInput = $("hd-file");
  fileInput.addEventListener("change", () => {
    tray.add(fileInput.files);
    fileInput.value = "";
    input.focus({ preventScroll: true });
  });
  input.addEventListener("paste", (event) => {
    const files = HelpdeskFiles.fromPaste(event);
    if (!files.length) return;
    event.preventDefault();
    tray.add(files);
  });
  HelpdeskFiles.dropZone(document.querySelector(".hd-app"), (files) => tray.add(files));

  const composer = HelpdeskComposer.attach(form, input, {
    maxHeight: 120,
    maxLength: client.maxBody,
    allowEmpty: () => tray.ready().length > 0,
    onSubmit(body) {
      if (tray.busy()) {
        showComposerNote(_("Your files are still uploading: send again in a moment."));
        return false;
      }
      const files = tray.ready();
      client.send(body, files.length ? { attachment_ids: files.map((f) => f.id) } : undefined);
      tray.clear();
      scrollToBottom();
      return true;
    },
  });

  // A short word under the composer (why a message did not go yet).
  let composerNoteTimer = null;
  function showComposerNote(text) {
    const note = $("hd-typing");
    $("hd-typing-text").textContent = text;
    note.classList.add("is-note");
    note.hidden = false;
    clearTimeout(composerNoteTimer);
    composerNoteTimer = setTimeout(() => {
      note.classList.remove("is-note");
      renderTyping();
    }, 4000);
  }

  // The visitor typing: at most one frame a second (the client throttles), a stop when the box
  // empties (and with every message sent). The agent's: "Alice is typing…" until they stop, a
  // message of theirs arrives, or nothing more is heard for a while.
  // The draft itself goes only to sites that show it to their agents (typing_preview).
  input.addEventListener("input", () =>
    client.typing(input.value.trim() !== "", cfg.typing_preview ? input.value.trim() : "")
  );
  input.addEventListener("blur", () => {
    if (!input.value.trim()) client.typing(false);
  });
  let agentTyping = null; // {name, until}
  let typingTimer = null;
  const TYPING_SHOWN_MS = 6000;
  function renderTyping() {
    const note = $("hd-typing");
    if (note.classList.contains("is-note")) return;
    const on = !!agentTyping && agentTyping.until > Date.now();
    note.hidden = !on;
    if (on) {
      $("hd-typing-text").textContent = agentTyping.name
        ? fill(_("%(name)s is typing…"), { name: agentTyping.name })
        : _("Typing…");
    }
  }
  client.on("typing", (typing) => {
    clearTimeout(typingTimer);
    agentTyping = typing.active ? { name: typing.agent_name || "", until: Date.now() + TYPING_SHOWN_MS } : null;
    renderTyping();
    if (agentTyping) typingTimer = setTimeout(renderTyping, TYPING_SHOWN_MS + 50);
  });
  client.on("message", (m) => {
    if (m.sender === "agent" && agentTyping) {
      agentTyping = null;
      renderTyping();
    }
  });
  closeButton.addEventListener("click", () => postToParent({ type: "close" }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && embedded) postToParent({ type: "close" });
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") updateUnread(false);
  });

  // ---- start ----------------------------------------------------------------------------------
  applySite({ name: cfg.site_name, greeting: cfg.greeting, color: cfg.color });

  // What this browser already holds (the cached thread, so a reload shows it at once, and
  // the unsent outbox) arrives as "message" and "pending" events while the client starts.
  client.start().then(() => {
    const stored = local.get("seen");
    seen = stored && typeof stored === "object" && Number.isInteger(stored.seq)
      ? stored
      : client.cursor ? { ...client.cursor } : { conversation_id: null, seq: 0 };
    local.set("seen", seen);
    scrollToBottom();
    // The launcher on the host page speaks the visitor's language too.
    postToParent({
      type: "ready",
      labels: { open: _("Chat with us"), close: _("Close chat"), title: _("Chat"), dismiss: _("Dismiss"), reply: _("New reply") },
    });
    updateUnread(true);
  });
})();
