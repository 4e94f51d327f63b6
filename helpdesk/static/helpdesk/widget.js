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
      rateTitle: "How did we do?",
      rateStar: (n) => `${n} of 5`,
      rateGood: "Good",
      rateBad: "Bad",
      rateComment: "Anything to add? (optional)",
      rateSend: "Send",
      rateThanks: "Thank you for your rating!",
      rateChange: "Change",
      rateFailed: "Your rating was not sent. Try again.",
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
      rateTitle: "我们的服务如何？",
      rateStar: (n) => `${n} 分（满分 5 分）`,
      rateGood: "满意",
      rateBad: "不满意",
      rateComment: "还有什么想说的？（可选）",
      rateSend: "提交",
      rateThanks: "感谢您的评价！",
      rateChange: "修改",
      rateFailed: "评价未能提交，请重试。",
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
    document.getElementById("hd-email-label").textContent = t("emailLabel");
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
  // Offered while nobody can answer now, until the visitor has left an address. Once left,
  // its confirmation stays in view for the rest of this visit (a reconnect or a presence
  // change must not take away what the visitor was just told).
  function offerEmail(show) {
    if (!emailForm) return;
    const left = client.email !== null;
    emailForm.hidden = !show || (left && !emailStatus.textContent);
  }
  function onEmailSaved() {
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
      ? HelpdeskPush.forVisitor(pushConfig.public_key, () => client.token, () => identityProof)
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
      if (resumeCode.hidden) {
        await client.requestResumeCode(email).catch(() => null);
        resumeCode.hidden = false;
        resumeStatus.textContent = t("resumeSent");
        resumeCode.focus();
        return;
      }
      // The other device's visitor, from now on here too: the client starts over from the server.
      const resumed = await client.confirmResumeCode(email, resumeCode.value.trim()).catch(() => null);
      if (!resumed) {
        resumeStatus.textContent = t("resumeBad");
        return;
      }
      resumeForm.hidden = true;
      resumeOpen.hidden = true;
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

  // ---- the thread on screen -------------------------------------------------------------------
  const liById = new Map(); // message id -> <li>
  const liByClient = new Map(); // client_id -> <li> of an own message
  const liData = new WeakMap(); // <li> -> Message (stored ones)

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
  let lastPostedUnread = -1;

  function topSeq(conversationId) {
    let top = 0;
    for (const m of client.messages()) if (m.conversation_id === conversationId && m.seq > top) top = m.seq;
    return top;
  }

  function unreadCount() {
    const cursor = client.cursor;
    if (isOpen || !cursor) return 0;
    let n = 0;
    for (const m of client.messages()) {
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
    const count = unreadCount();
    if (force || count !== lastPostedUnread) {
      lastPostedUnread = count;
      postToParent({ type: "unread", count });
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
    if (info.source === "welcome") {
      welcomedAdded = true;
    } else if (info.source === "live" || info.source === "ack") {
      updateUnread(false);
      scrollToBottom();
    }
  });
  client.on("pending", showPending);
  client.on("failed", (failure) => {
    const li = liByClient.get(failure.client_id);
    if (li && !li.dataset.id) setState(li, "failed", failure.detail || t("failed"));
  });
  client.on("seen", markSeen);
  client.on("reset", (info) => clearHistory(info.outboxDropped));
  client.on("presence", (presence) => {
    setPresence(presence.agentsOnline);
    offerEmail(!presence.agentsOnline || queued);
  });
  client.on("status", (status) => {
    if (status.state === "offline") showConn(t("reconnecting"));
    else if (status.state === "stopped") showConn(t("unavailable")); // retrying cannot help
  });
  client.on("welcome", (frame) => {
    hideConn();
    applySite(frame.site);
    if (bell && bell.hidden) setUpBell();
    offerResume(!frame.identified && !(Array.isArray(frame.messages) && frame.messages.length) && !frame.conversation_id);
    setPresence(client.agentsOnline);
    setQueue(client.queue);
    offerEmail(!client.agentsOnline || !!client.queue);
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
        node.appendChild(el("p", "hd-rate-title", t("rateThanks")));
        const again = el("button", "hd-link hd-rate-change", t("rateChange"));
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
      node.appendChild(el("p", "hd-rate-title", t("rateTitle")));
      const picks = el("div", "hd-rate-picks");
      if (scale === "thumbs") {
        picks.append(button(`👍 ${t("rateGood")}`, 5), button(`👎 ${t("rateBad")}`, 1));
      } else {
        for (let n = 1; n <= 5; n += 1) {
          const star = button("★", n, "hd-rate-star");
          star.setAttribute("aria-label", t("rateStar")(n));
          picks.appendChild(star);
        }
      }
      const form = el("form", "hd-rate-form");
      form.hidden = true;
      const comment = el("textarea", "hd-rate-comment");
      comment.maxLength = 1000;
      comment.rows = 2;
      comment.placeholder = t("rateComment");
      comment.setAttribute("aria-label", t("rateComment"));
      const send = el("button", "hd-rate-send", t("rateSend"));
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
            status.textContent = t("rateFailed");
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
  const composer = HelpdeskComposer.attach(form, input, {
    maxHeight: 120,
    maxLength: client.maxBody,
    onSubmit(body) {
      client.send(body);
      scrollToBottom();
      return true;
    },
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
    postToParent({ type: "ready" });
    updateUnread(true);
  });
})();
