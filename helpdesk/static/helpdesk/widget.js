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
      failed: "Not sent",
      placeholder: "Write a message…",
      send: "Send",
      message: "Message",
      messages: "Messages",
      close: "Close chat",
      powered: "Powered by Helpdesk",
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
      failed: "发送失败",
      placeholder: "输入消息…",
      send: "发送",
      message: "消息",
      messages: "消息列表",
      close: "关闭聊天",
      powered: "由 Helpdesk 提供支持",
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

  // ---- storage (localStorage, with an in-memory fallback when it is blocked) -------------------
  const memory = new Map();
  const storageKey = (name) => `helpdesk:${SITE_KEY}:${name}`;
  const store = {
    getRaw(name) {
      const key = storageKey(name);
      try {
        return window.localStorage.getItem(key);
      } catch (_) {
        return memory.has(key) ? memory.get(key) : null;
      }
    },
    setRaw(name, value) {
      const key = storageKey(name);
      memory.set(key, value);
      try {
        window.localStorage.setItem(key, value);
      } catch (_) {
        /* memory only */
      }
    },
    remove(name) {
      const key = storageKey(name);
      memory.delete(key);
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
  if (emailForm) {
    document.getElementById("hd-email-label").textContent = t("emailLabel");
    emailForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const email = emailInput.value.trim();
      if (!email || !emailInput.checkValidity()) return;
      emailPending = true;
      sendFrame({ type: "visitor.email", email });
    });
  }
  // Offered while nobody can answer now, until the visitor has left an address.
  function offerEmail(show) {
    if (emailForm) emailForm.hidden = !show || store.getRaw("email") !== null;
  }
  function onEmailSaved(frame) {
    emailPending = false;
    store.setRaw("email", String(frame.email || ""));
    emailStatus.textContent = t("emailSent");
    emailForm.querySelector(".hd-email-row").hidden = true;
    document.getElementById("hd-email-label").hidden = true;
  }

  // A waiting conversation: the truth about the wait, in the visitor's own time zone.
  function setQueue(queue) {
    if (!queue || typeof queue !== "object") return;
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
    if (m.sender === "visitor") setState(li, "sent");
  }

  function setState(li, state, detail) {
    li.dataset.state = state;
    const mark = li.querySelector(".hd-mark");
    if (!mark) return;
    mark.textContent = state === "sending" ? t("sending") : state === "sent" ? t("sent") : detail || t("failed");
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
      if (m.sender === "visitor" && existing.dataset.state !== "sent") setState(existing, "sent");
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
        offerEmail(!frame.agents_online);
        break;
      case "visitor.email":
        onEmailSaved(frame);
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
    applySite(frame.site);
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
    if (document.visibilityState === "visible") socket.wake({ fresh: false });
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
