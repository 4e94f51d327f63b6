/*
 * Helpdesk visitor widget (runs inside the iframe served at /widget/).
 *
 * Speaks the visitor side of docs/protocol.md. The server is the source of truth: this page
 * keeps a cursor (the highest contiguous seq it holds), de-duplicates by message id (and by
 * client_id for the visitor's own messages) and keeps unacknowledged messages in an outbox in
 * localStorage, resending them with the same client_id after every (re)connect.
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
  const CACHE_LIMIT = 200;

  // ---- strings --------------------------------------------------------------------------------
  const STRINGS = {
    en: {
      offline: "We're offline right now. Leave a message and we'll reply as soon as we're back.",
      online: "We're online. We typically reply in a few minutes.",
      queued: (n) => `All our agents are busy. You are number ${n} in the queue.`,
      emailLabel: "Get the reply by email (optional)",
      emailSent: "Check your inbox and confirm: we'll email you our reply.",
      backAt: (when) => `We're offline right now. We're back ${when} and will reply then.`,
      reconnecting: "Reconnecting…",
      unavailable: "Chat is unavailable on this page.",
      sending: "Sending…",
      sent: "Sent",
      seen: "Seen",
      failed: "Not sent",
      placeholder: "Write a message…",
      send: "Send",
      message: "Message",
      messages: "Messages",
      close: "Close chat",
      powered: "Powered by Helpdesk",
      resumeOpen: "On another device before?",
      resumeLabel: "Continue a conversation you started on another device: your confirmed email",
      resumeSent: "If that address is confirmed here, a 6-digit code is on its way. Enter it:",
      resumeBad: "That code is wrong or expired.",
      bellOff: "Notify me of replies",
      bellOn: "Notifications on (click to turn off)",
      bellBlocked: "Notifications are blocked for this site in your browser settings.",
    },
    zh: {
      offline: "我们现在不在线。请留言，我们回来后会尽快回复。",
      online: "我们在线，通常几分钟内回复。",
      queued: (n) => `客服都在忙，您前面排在第 ${n} 位。`,
      emailLabel: "留下邮箱，回复将发送到您的邮箱（可选）",
      emailSent: "请查收邮件并确认，我们会把回复发到您的邮箱。",
      backAt: (when) => `我们现在不在线，将于${when}回来并回复您。`,
      reconnecting: "正在重新连接…",
      unavailable: "此页面暂时无法使用聊天。",
      sending: "发送中…",
      sent: "已发送",
      seen: "已读",
      failed: "发送失败",
      placeholder: "输入消息…",
      send: "发送",
      message: "消息",
      messages: "消息列表",
      close: "关闭聊天",
      powered: "由 Helpdesk 提供支持",
      resumeOpen: "之前在其他设备上咨询过？",
      resumeLabel: "继续您在其他设备上的对话：输入已确认的邮箱",
      resumeSent: "如果该邮箱已在此确认，6 位验证码已发出，请输入：",
      resumeBad: "验证码错误或已过期。",
      bellOff: "有回复时通知我",
      bellOn: "已开启通知（点击关闭）",
      bellBlocked: "您的浏览器已阻止此网站的通知，请在网站设置中允许。",
    },
  };
  const LANG = /^zh\b/i.test(navigator.language || "") ? "zh" : "en";
  const t = (key) => STRINGS[LANG][key] || STRINGS.en[key] || key;
  const timeFormat = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : undefined, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  });
  const fullFormat = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });

  // ---- storage ----------------------------------------------------------------------------------
  // localStorage when the browser allows it; in a third-party frame it may not (or may wipe
  // it), so the host page keeps a copy of what matters (KEPT) in its own storage: it hands it
  // over in the URL fragment when it creates this frame, and takes every change by message.
  const memory = new Map();
  const storageKey = (name) => `helpdesk:${SITE_KEY}:${name}`;
  const KEPT = ["token", "cursor", "visitor", "outbox", "seen"];
  const inFrame = window.parent !== window;
  const parentOrigin = (location.ancestorOrigins && location.ancestorOrigins[0]) || "*";
  try {
    const kept = JSON.parse(new URLSearchParams(location.hash.slice(1)).get("kept") || "{}");
    for (const name of KEPT) if (typeof kept[name] === "string") memory.set(storageKey(name), kept[name]);
  } catch (_) {
    /* nothing kept */
  }
  function tellHost(name, value) {
    if (!inFrame || !KEPT.includes(name)) return;
    try {
      window.parent.postMessage({ source: "helpdesk", type: "keep", name, value }, parentOrigin);
    } catch (_) {
      /* ignore */
    }
  }
  const store = {
    getRaw(name) {
      const key = storageKey(name);
      try {
        const value = window.localStorage.getItem(key);
        if (value !== null) return value;
      } catch (_) {
        /* blocked: the host's copy or memory */
      }
      return memory.has(key) ? memory.get(key) : null;
    },
    setRaw(name, value) {
      const key = storageKey(name);
      memory.set(key, value);
      tellHost(name, value);
      try {
        window.localStorage.setItem(key, value);
      } catch (_) {
        /* memory (and the host's copy) only */
      }
    },
    remove(name) {
      const key = storageKey(name);
      memory.delete(key);
      tellHost(name, null);
      try {
        window.localStorage.removeItem(key);
      } catch (_) {
        /* ignore */
      }
    },
    get(name) {
      const raw = this.getRaw(name);
      if (raw == null) return null;
      try {
        return JSON.parse(raw);
      } catch (_) {
        return null;
      }
    },
    set(name, value) {
      this.setRaw(name, JSON.stringify(value));
    },
  };

  const uuid = HelpdeskSocket.uuid;

  const isCursor = (c) =>
    !!c && typeof c === "object" && typeof c.conversation_id === "string" &&
    Number.isInteger(c.seq) && c.seq >= 0;
  const isMessage = (m) =>
    !!m && typeof m === "object" && typeof m.id === "string" &&
    typeof m.conversation_id === "string" && Number.isInteger(m.seq) &&
    typeof m.body === "string" && typeof m.sender === "string";

  // ---- DOM ------------------------------------------------------------------------------------
  const $ = (id) => document.getElementById(id);
  const list = $("hd-messages");
  const input = $("hd-input");
  const sendButton = $("hd-send");
  const form = $("hd-form");
  const statusLine = $("hd-status");
  const conn = $("hd-conn");
  const closeButton = $("hd-close");
  const embedded = window.parent !== window;

  document.documentElement.lang = LANG === "zh" ? "zh-CN" : "en";
  input.setAttribute("aria-label", t("message"));
  input.placeholder = t("placeholder");
  sendButton.textContent = t("send");
  list.setAttribute("aria-label", t("messages"));
  closeButton.setAttribute("aria-label", t("close"));
  closeButton.hidden = !embedded;
  conn.textContent = t("reconnecting");
  $("hd-footer").textContent = t("powered");

  let maxBody = Number.isInteger(cfg.max_body) && cfg.max_body > 0 ? cfg.max_body : 4000;
  input.maxLength = maxBody;

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
    if (typeof site.greeting === "string") {
      $("hd-greeting-text").textContent = site.greeting;
      $("hd-greeting").hidden = !site.greeting.trim();
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

  function setPresence(online) {
    statusLine.textContent = t(online ? "online" : "offline");
    statusLine.dataset.online = String(!!online);
  }

  // ---- offline form: an email address for the reply -------------------------------------------
  const emailForm = document.getElementById("hd-email-form");
  const emailInput = document.getElementById("hd-email");
  const emailStatus = document.getElementById("hd-email-status");
  let emailPending = false;
  let emailToSend = "";
  if (emailForm) {
    document.getElementById("hd-email-label").textContent = t("emailLabel");
    emailForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const email = emailInput.value.trim();
      if (!email || !emailInput.checkValidity()) return;
      emailPending = true;
      emailToSend = email;
      // Not connected this instant: it goes with the next welcome (nothing typed is lost).
      if (welcomed) sendFrame({ type: "visitor.email", email });
    });
  }
  function resendEmail() {
    if (emailPending && emailToSend) sendFrame({ type: "visitor.email", email: emailToSend });
  }
  // Offered while nobody can answer now, until the visitor has left an address. Once left,
  // its confirmation stays in view for the rest of this visit (a reconnect or a presence
  // change must not take away what the visitor was just told).
  function offerEmail(show) {
    if (!emailForm) return;
    const left = store.getRaw("email") !== null;
    emailForm.hidden = !show || (left && !emailStatus.textContent);
  }
  function onEmailSaved(frame) {
    emailPending = false;
    store.setRaw("email", String(frame.email || ""));
    emailStatus.textContent = t("emailSent");
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
      ? HelpdeskPush.forVisitor(pushConfig.public_key, () => token, () => identityProof)
      : null;
  let bellState = "off";
  function showBell(next) {
    bellState = next;
    bell.setAttribute("aria-pressed", String(next === "on"));
    const label = next === "on" ? t("bellOn") : next === "denied" ? t("bellBlocked") : t("bellOff");
    bell.setAttribute("aria-label", label);
    bell.title = label;
    bell.classList.toggle("is-on", next === "on");
  }
  async function setUpBell() {
    if (!push || !bell || !HelpdeskPush.supported()) return;
    if (inForeignFrame) {
      showBell(store.getRaw("push") === "on" ? "on" : "off");
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
      if (!token) return;
      if (inForeignFrame) {
        const fragment = new URLSearchParams({ t: token, ...(identityProof || {}) });
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
      store.setRaw("push", event.data.state === "on" ? "on" : "off");
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
    resumeOpen.textContent = t("resumeOpen");
    document.getElementById("hd-resume-label").textContent = t("resumeLabel");
    resumeOpen.addEventListener("click", () => {
      resumeForm.hidden = !resumeForm.hidden;
      if (!resumeForm.hidden) resumeEmail.focus();
    });
    resumeForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const email = resumeEmail.value.trim();
      if (!email || !resumeEmail.checkValidity()) return;
      const asking = resumeCode.hidden;
      const body = asking ? { site_key: SITE_KEY, email } : { site_key: SITE_KEY, email, code: resumeCode.value.trim() };
      const response = await fetch(asking ? "/api/v1/visitor/resume" : "/api/v1/visitor/resume/confirm", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      }).catch(() => null);
      if (asking) {
        resumeCode.hidden = false;
        resumeStatus.textContent = t("resumeSent");
        resumeCode.focus();
        return;
      }
      const data = response && response.ok ? await response.json() : null;
      if (!data || typeof data.token !== "string") {
        resumeStatus.textContent = t("resumeBad");
        return;
      }
      // The other device's visitor, from now on here too: start over from the server.
      token = data.token;
      store.setRaw("token", token);
      clearHistory();
      resumeForm.hidden = true;
      resumeOpen.hidden = true;
      resync();
    });
  }
  function offerResume(show) {
    if (resumeOpen) resumeOpen.hidden = !show;
  }

  // A waiting conversation: the truth about the wait, in the visitor's own time zone.
  let queued = false;
  function setQueue(queue) {
    queued = !!queue && typeof queue === "object";
    if (!queued) return;
    if (Number.isInteger(queue.position)) {
      statusLine.textContent = t("queued")(queue.position);
    } else if (typeof queue.next_open_at === "string") {
      const when = new Date(queue.next_open_at);
      if (!Number.isNaN(when.getTime())) {
        const text = new Intl.DateTimeFormat(LANG === "zh" ? "zh-CN" : undefined, { weekday: "long", hour: "2-digit", minute: "2-digit" }).format(when);
        statusLine.textContent = t("backAt")(text);
      }
    }
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

  // ---- message state --------------------------------------------------------------------------
  const held = new Map(); // message id -> Message
  const topSeq = new Map(); // conversation id -> highest seq held
  const seqsHeld = new Set(); // `${conversation_id}:${seq}`
  const liById = new Map(); // message id -> <li>
  const liByClient = new Map(); // client_id -> <li> of an own message
  const liData = new WeakMap(); // <li> -> Message (stored ones)

  let token = store.getRaw("token");
  let cursor = store.get("cursor");
  if (!isCursor(cursor)) cursor = null;

  function compareMessages(a, b) {
    if (a.conversation_id === b.conversation_id) return a.seq - b.seq;
    const ta = Date.parse(a.created_at);
    const tb = Date.parse(b.created_at);
    if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
    return String(a.created_at).localeCompare(String(b.created_at));
  }

  function renderMessage(m) {
    const sender = ["visitor", "agent", "system"].includes(m.sender) ? m.sender : "system";
    const li = el("li", `hd-msg hd-msg--${sender}`);
    if (sender === "agent" && m.agent_name) li.appendChild(el("div", "hd-name", m.agent_name));
    li.appendChild(el("div", "hd-bubble", m.body));
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

  function setStored(li, m) {
    li.dataset.id = m.id;
    li.dataset.seq = String(m.seq);
    liData.set(li, m);
    liById.set(m.id, li);
    if (m.sender === "visitor") setState(li, m.seq <= seenByAgent ? "seen" : "sent");
  }

  // "Seen": the agent read up to this seq (a reply reads everything before it).
  let seenByAgent = 0;
  function markSeen(seq) {
    if (!Number.isInteger(seq) || seq <= seenByAgent) return;
    seenByAgent = seq;
    for (const li of liById.values()) {
      if (li.classList.contains("hd-msg--visitor") && Number(li.dataset.seq) <= seq) setState(li, "seen");
    }
  }

  function setState(li, state, detail) {
    li.dataset.state = state;
    const mark = li.querySelector(".hd-mark");
    if (!mark) return;
    mark.textContent =
      state === "sending" ? t("sending") : state === "sent" ? t("sent") : state === "seen" ? t("seen") : detail || t("failed");
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
      if (compareMessages(other, m) <= 0) break;
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

  // Adds a stored message; returns true when it was new.
  function addMessage(m) {
    if (!isMessage(m)) return false;
    const existing = liById.get(m.id);
    if (existing) {
      if (m.sender === "visitor" && existing.dataset.state === "sending") setState(existing, m.seq <= seenByAgent ? "seen" : "sent");
      if (m.client_id && m.sender === "visitor") removeFromOutbox(m.client_id);
      return false;
    }
    held.set(m.id, m);
    seqsHeld.add(`${m.conversation_id}:${m.seq}`);
    if (m.seq > (topSeq.get(m.conversation_id) || 0)) topSeq.set(m.conversation_id, m.seq);

    let li = m.client_id && m.sender === "visitor" ? liByClient.get(m.client_id) : null;
    if (li && li.dataset.id) li = null;
    if (li) {
      // Our own pending message: it becomes the stored one (keeps its place in the DOM order).
      const time = li.querySelector("time");
      if (time && m.created_at) {
        time.dateTime = m.created_at;
        time.textContent = formatTime(m.created_at);
      }
      li.remove();
    } else {
      li = renderMessage(m);
      if (m.client_id && m.sender === "visitor") liByClient.set(m.client_id, li);
    }
    setStored(li, m);
    place(li, m);
    if (m.client_id && m.sender === "visitor") removeFromOutbox(m.client_id);
    return true;
  }

  function renderPending(entry) {
    let li = liByClient.get(entry.client_id);
    if (li) return li;
    li = renderMessage({
      sender: "visitor",
      body: entry.body,
      created_at: entry.created_at,
      client_id: entry.client_id,
    });
    setState(li, "sending");
    liByClient.set(entry.client_id, li);
    list.appendChild(li);
    regroup(li);
    return li;
  }

  function clearHistory() {
    for (const li of liById.values()) {
      li.remove();
      if (li.dataset.clientId) liByClient.delete(li.dataset.clientId);
    }
    held.clear();
    topSeq.clear();
    seqsHeld.clear();
    liById.clear();
    cursor = null;
    seen = { conversation_id: null, seq: 0 };
    store.remove("cursor");
    store.remove("messages");
    store.set("seen", seen);
  }

  // The cursor is the highest seq held with nothing missing below it (since the last catch-up).
  function advanceCursor() {
    if (!cursor) return;
    while (seqsHeld.has(`${cursor.conversation_id}:${cursor.seq + 1}`)) cursor.seq += 1;
  }

  function persist() {
    if (cursor) store.set("cursor", cursor);
    else store.remove("cursor");
    const messages = Array.from(held.values()).sort(compareMessages).slice(-CACHE_LIMIT);
    store.set("messages", messages);
  }

  // ---- outbox ---------------------------------------------------------------------------------
  function loadOutbox() {
    const box = store.get("outbox");
    return Array.isArray(box)
      ? box.filter((e) => e && typeof e.client_id === "string" && typeof e.body === "string")
      : [];
  }

  function saveOutbox(box) {
    if (box.length) store.set("outbox", box);
    else store.remove("outbox");
  }

  function removeFromOutbox(clientId) {
    const box = loadOutbox();
    const rest = box.filter((e) => e.client_id !== clientId);
    if (rest.length !== box.length) saveOutbox(rest);
  }

  // ---- unread badge ---------------------------------------------------------------------------
  let isOpen = !embedded; // standalone page: always "open"; in a frame: closed until told
  let seen = store.get("seen");
  if (!seen || typeof seen !== "object" || !Number.isInteger(seen.seq)) {
    seen = cursor ? { ...cursor } : { conversation_id: null, seq: 0 };
    store.set("seen", seen);
  }
  let lastPostedUnread = -1;

  function unreadCount() {
    if (isOpen || !cursor) return 0;
    let n = 0;
    for (const m of held.values()) {
      if (m.sender !== "agent" || m.conversation_id !== cursor.conversation_id) continue;
      if (seen.conversation_id !== m.conversation_id || m.seq > seen.seq) n += 1;
    }
    return n;
  }

  function postToParent(message) {
    if (!embedded) return;
    try {
      window.parent.postMessage({ source: "helpdesk", ...message }, "*");
    } catch (_) {
      /* ignore */
    }
  }

  function updateUnread(force) {
    if (isOpen && cursor) {
      const top = topSeq.get(cursor.conversation_id) || 0;
      if (seen.conversation_id !== cursor.conversation_id || seen.seq < top) {
        seen = { conversation_id: cursor.conversation_id, seq: top };
        store.set("seen", seen);
      }
    }
    const count = unreadCount();
    if (force || count !== lastPostedUnread) {
      lastPostedUnread = count;
      postToParent({ type: "unread", count });
    }
    sendReceipt();
  }

  // Receipts for the agent: "Delivered" once this client holds a message, "Seen" once the
  // chat was open and visible with it on screen.
  let receiptSent = { conversation_id: null, delivered: 0, seen: 0 };
  function sendReceipt() {
    if (!welcomed || !cursor || !cursor.conversation_id) return;
    const delivered = cursor.seq;
    const shown = isOpen && document.visibilityState === "visible";
    const seenSeq = seen.conversation_id === cursor.conversation_id ? Math.min(seen.seq, delivered) : 0;
    const same = receiptSent.conversation_id === cursor.conversation_id;
    const seenNow = shown ? seenSeq : same ? receiptSent.seen : 0;
    if (same && delivered <= receiptSent.delivered && seenNow <= receiptSent.seen) return;
    receiptSent = { conversation_id: cursor.conversation_id, delivered, seen: seenNow };
    sendFrame({ type: "receipt", conversation_id: cursor.conversation_id, delivered_seq: delivered, seen_seq: seenNow });
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

  // ---- socket ---------------------------------------------------------------------------------
  let welcomed = false;
  let helloHadToken = false;

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

  const socket = HelpdeskSocket.open(WS_PATH, {
    onConnecting() {
      welcomed = false;
    },
    onOpen() {
      helloHadToken = !!token;
      sendFrame({
        type: "hello",
        site_key: SITE_KEY,
        token: token || null,
        cursor: cursor ? { ...cursor } : null,
        channel: "web",
        ...visitorContext(),
      });
    },
    onFrame: handleFrame,
    onClose(code) {
      welcomed = false;
      return onClosed(code);
    },
  });

  function sendFrame(frame) {
    return socket.send(frame);
  }

  // Frames were lost: start over from the cursor.
  function resync() {
    socket.resync();
  }

  // What a close asks for: "now", "retry" (with backoff) or "stop".
  function onClosed(code) {
    if (code === 4401) {
      // Authenticate again: drop the token and start over as a new visitor.
      token = null;
      store.remove("token");
      clearHistory();
      if (helloHadToken) {
        helloHadToken = false;
        return "now";
      }
      showConn(t("reconnecting"));
      return "retry";
    }
    if (code === 4403 || code === 4404) {
      showConn(t("unavailable")); // origin refused / unknown site: retrying cannot help
      return "stop";
    }
    showConn(t("reconnecting"));
    return "retry";
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "welcome":
        onWelcome(frame);
        break;
      case "message.ack":
        if (isMessage(frame.message)) onMessage(frame.message, frame.client_id);
        break;
      case "message":
        if (isMessage(frame.message)) onMessage(frame.message, null);
        break;
      case "presence":
        setPresence(!!frame.agents_online);
        offerEmail(!frame.agents_online || queued);
        break;
      case "visitor.email":
        onEmailSaved(frame);
        break;
      case "seen":
        if (cursor && frame.conversation_id === cursor.conversation_id) markSeen(frame.seq);
        break;
      case "error":
        onError(frame);
        break;
      default:
        break; // pong and anything newer
    }
  }

  function onWelcome(frame) {
    welcomed = true;
    socket.settled();
    hideConn();
    if (typeof frame.token === "string" && frame.token) {
      token = frame.token;
      store.setRaw("token", token);
    }
    // Another person on this device (the host site's user signed in or out): what this
    // browser kept of the previous one goes. Signing in keeps unsent messages (their
    // anonymous conversation joined the account); signing out drops them.
    const previousVisitor = store.getRaw("visitor");
    if (typeof frame.visitor_id === "string" && previousVisitor && previousVisitor !== frame.visitor_id) {
      clearHistory();
      if (!frame.identified) {
        saveOutbox([]);
        for (const li of Array.from(liByClient.values())) li.remove();
        liByClient.clear();
      }
    }
    if (typeof frame.visitor_id === "string") store.setRaw("visitor", frame.visitor_id);
    applySite(frame.site);
    if (Number.isInteger(frame.read_seq)) markSeen(frame.read_seq);
    if (bell && bell.hidden) setUpBell();
    resendEmail();
    offerResume(!frame.identified && !(Array.isArray(frame.messages) && frame.messages.length) && !frame.conversation_id);
    setPresence(!!frame.agents_online);
    setQueue(frame.queue);
    offerEmail(!frame.agents_online || !!frame.queue);
    if (Number.isInteger(frame.max_body) && frame.max_body > 0) {
      maxBody = frame.max_body;
      input.maxLength = maxBody;
    }

    const conversationId = typeof frame.conversation_id === "string" ? frame.conversation_id : null;
    if (!conversationId) cursor = null;
    else if (!cursor || cursor.conversation_id !== conversationId) cursor = { conversation_id: conversationId, seq: 0 };

    let added = false;
    for (const m of Array.isArray(frame.messages) ? frame.messages : []) added = addMessage(m) || added;
    if (cursor) {
      // The catch-up is complete up to its last message.
      cursor.seq = Math.max(cursor.seq, topSeq.get(cursor.conversation_id) || 0);
      advanceCursor();
    }
    persist();

    // Everything the catch-up did not already contain goes out again, with its own client_id.
    for (const entry of loadOutbox()) {
      renderPending(entry);
      sendFrame({ type: "message.send", client_id: entry.client_id, body: entry.body });
    }
    updateUnread(true);
    if (added || list.querySelector(".hd-msg[data-state='sending']")) scrollToBottom();
  }

  function onMessage(message, ackedClientId) {
    const m = ackedClientId && !message.client_id ? { ...message, client_id: ackedClientId } : message;
    if (m.sender === "agent") markSeen(m.seq - 1);
    const added = addMessage(m);
    if (ackedClientId) removeFromOutbox(ackedClientId);
    if (!cursor || cursor.conversation_id !== m.conversation_id) {
      // The first message of a (new) conversation.
      cursor = { conversation_id: m.conversation_id, seq: 0 };
    }
    advanceCursor();
    persist();
    if (added) {
      updateUnread(false);
      scrollToBottom();
    }
    if ((topSeq.get(cursor.conversation_id) || 0) > cursor.seq) resync(); // a gap: frames were lost
  }

  function onError(frame) {
    const clientId = typeof frame.client_id === "string" ? frame.client_id : null;
    if (!clientId && emailPending && frame.code === "invalid_message") {
      emailPending = false;
      emailStatus.textContent = frame.detail || "";
      return;
    }
    if (!clientId) return;
    if (frame.code === "rate_limited") {
      // Not refused, only early: it stays in the outbox ("Sending…") and goes again later.
      const wait = Math.min(120, Math.max(1, Number(frame.retry_after) || 5)) * 1000;
      setTimeout(() => {
        const entry = loadOutbox().find((e) => e.client_id === clientId);
        if (entry && welcomed) sendFrame({ type: "message.send", client_id: entry.client_id, body: entry.body });
      }, wait);
      return;
    }
    removeFromOutbox(clientId); // it will never be accepted
    const li = liByClient.get(clientId);
    if (li && !li.dataset.id) setState(li, "failed", frame.detail || t("failed"));
  }

  // ---- composer -------------------------------------------------------------------------------
  function submit() {
    const body = input.value.trim();
    if (!body) return;
    if (body.length > maxBody) return;
    const entry = { client_id: uuid(), body, created_at: new Date().toISOString() };
    const box = loadOutbox();
    box.push(entry);
    saveOutbox(box);
    renderPending(entry);
    input.value = "";
    autosize();
    scrollToBottom();
    if (welcomed) sendFrame({ type: "message.send", client_id: entry.client_id, body: entry.body });
  }

  function autosize() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 120)}px`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });
  input.addEventListener("input", autosize);
  closeButton.addEventListener("click", () => postToParent({ type: "close" }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && embedded) postToParent({ type: "close" });
  });
  window.addEventListener("online", () => socket.wake());
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") {
      socket.wake({ fresh: false });
      updateUnread(false);
    }
  });

  // ---- start ----------------------------------------------------------------------------------
  applySite({ name: cfg.site_name, greeting: cfg.greeting, color: cfg.color });

  // What this browser already holds: the cached thread (so a reload shows it at once and the
  // cursor really names messages we hold) and the unsent outbox.
  const cached = store.get("messages");
  if (Array.isArray(cached)) cached.forEach(addMessage);
  if (cursor && cursor.seq > 0 && !seqsHeld.has(`${cursor.conversation_id}:${cursor.seq}`)) {
    cursor = null; // the cache does not match the cursor: ask for the whole conversation
  }
  advanceCursor();
  for (const entry of loadOutbox()) renderPending(entry);
  scrollToBottom();

  postToParent({ type: "ready" });
  updateUnread(true);
  socket.connect();
})();
