/*
 * Helpdesk agent inbox: the agent side of docs/protocol.md.
 *
 * The page arrives server-rendered with its data in #inbox-initial; this script takes over the
 * conversation list and the open thread, keeps them live over /ws/agent/, and resumes from the
 * highest seq it holds after every reconnect (de-duplicating by message id). The socket and the
 * outbox are the ones every helpdesk client shares (client-core.js), the composer the widget's
 * (composer.js).
 */
(() => {
  "use strict";

  // The page's language (the agent's setting, else the browser's) and its catalogue.
  const _ = (s) => (window.gettext ? window.gettext(s) : s);
  const fill = (format, values) => (window.interpolate ? window.interpolate(format, values, true) : format);
  const LOCALE = document.documentElement.lang || undefined;

  const initial = JSON.parse(document.getElementById("inbox-initial").textContent);
  const WS_PATH = initial.ws_path || "/ws/agent/";
  const MAX_BODY = Number.isInteger(initial.max_body) && initial.max_body > 0 ? initial.max_body : 4000;
  const CHANNELS = { web: _("Web"), app: _("App"), mini_program: _("Mini-program") };
  const STATUSES = { open: _("Open"), resolved: _("Resolved") };
  const EMPTY_TEXT = _("No conversations yet. Messages that arrive while you are offline will appear here.");

  const $ = (id) => document.getElementById(id);
  const listEl = $("conversation-list");
  const threadEl = $("thread");
  const threadHead = threadEl.querySelector(".thread-head");
  const threadTitle = $("thread-title");
  const threadSub = $("thread-sub");
  const threadAvatar = $("thread-avatar");
  const placeholder = $("thread-placeholder");
  const messagesEl = $("thread-messages");
  const form = $("reply-form");
  const input = $("reply-input");
  const connEl = $("connection-state");
  const noticeEl = $("inbox-notice");
  const tagListEl = $("thread-tag-list");
  const tagAdd = $("tag-add");

  // ---- helpers --------------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = text;
    return node;
  }

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

  function avatarHue(id) {
    let h = 0;
    for (const ch of String(id || "")) h = (h * 31 + ch.charCodeAt(0)) % 360;
    return h;
  }

  // An anonymous visitor's name comes over the socket in English ("Visitor 1a2b"): in the
  // page's language here.
  const visitorName = (c) => {
    const name = (c && c.visitor && c.visitor.name) || "";
    const anonymous = /^Visitor ([0-9a-f]{4})$/.exec(name);
    if (anonymous) return fill(_("Visitor %(id)s"), { id: anonymous[1] });
    return name || _("Visitor");
  };
  const initialOf = (name) => (Array.from(String(name || "?").trim())[0] || "?").toUpperCase();
  const isMessage = (m) =>
    !!m && typeof m === "object" && typeof m.id === "string" &&
    typeof m.conversation_id === "string" && Number.isInteger(m.seq);
  const isSummary = (c) => !!c && typeof c === "object" && typeof c.id === "string";

  let noticeTimer = null;
  function notice(text) {
    noticeEl.textContent = text;
    noticeEl.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => {
      noticeEl.hidden = true;
    }, 6000);
  }

  // ---- state ----------------------------------------------------------------------------------
  const convs = new Map(); // conversation id -> summary
  const held = new Map(); // conversation id -> Map(message id -> Message)
  const loaded = new Set(); // conversations whose history we have fetched from the start
  const outbox = new HelpdeskCore.Outbox(); // replies not yet stored: {conversation_id, client_id, body, created_at}
  const openPending = new Set(); // conversation.open sent, history not yet received
  const readSent = new Map(); // conversation id -> seq last sent in conversation.read
  let selectedId = initial.selected && initial.selected.id ? initial.selected.id : null;

  function upsertSummary(c) {
    if (!isSummary(c)) return;
    convs.set(c.id, c);
    if (c.unread === 0) clearNotifications(c.id);
  }

  // Read here, or on another device (every tab hears): the push notifications about it go.
  function clearNotifications(conversationId) {
    if (!("serviceWorker" in navigator)) return;
    navigator.serviceWorker.getRegistration("/").then((reg) => {
      if (!reg) return;
      return reg.getNotifications().then((shown) => {
        for (const n of shown) {
          const ids = (n.data && n.data.conversations) || [];
          if (ids.includes(conversationId)) n.close();
        }
      });
    }).catch(() => {});
  }

  function heldFor(id) {
    let map = held.get(id);
    if (!map) {
      map = new Map();
      held.set(id, map);
    }
    return map;
  }

  // Stores a message; returns true when it is new.
  function storeMessage(m) {
    if (!isMessage(m)) return false;
    const map = heldFor(m.conversation_id);
    if (map.has(m.id)) return false;
    map.set(m.id, m);
    if (m.client_id && m.sender === "agent") outbox.remove(m.client_id); // ours, stored
    return true;
  }

  function maxSeq(id) {
    let top = 0;
    for (const m of (held.get(id) || new Map()).values()) top = Math.max(top, m.seq);
    return top;
  }

  // The highest seq held with nothing missing below it: what conversation.open resumes after.
  function heldTop(id) {
    const map = held.get(id);
    if (!map || !map.size) return 0;
    const seqs = Array.from(map.values(), (m) => m.seq).sort((a, b) => a - b);
    if (!loaded.has(id) && seqs[0] !== 1) return 0; // we only hold a tail: fetch everything
    let top = seqs[0];
    for (const s of seqs) {
      if (s > top + 1) break;
      top = Math.max(top, s);
    }
    return top;
  }

  const PRIORITY = { low: 0, normal: 1, high: 2, urgent: 3 };
  // The server's order: priority, then the longest wait, then the latest activity.
  function sortedConversations() {
    return Array.from(convs.values()).sort((a, b) => {
      const pa = PRIORITY[a.priority] ?? 1;
      const pb = PRIORITY[b.priority] ?? 1;
      if (pa !== pb) return pb - pa;
      const wa = parseTime(a.waiting_since);
      const wb = parseTime(b.waiting_since);
      if ((wa != null) !== (wb != null)) return wa != null ? -1 : 1;
      if (wa != null && wb != null && wa !== wb) return wa - wb;
      const la = parseTime(a.last_message && a.last_message.created_at) ?? parseTime(a.created_at) ?? 0;
      const lb = parseTime(b.last_message && b.last_message.created_at) ?? parseTime(b.created_at) ?? 0;
      return lb - la;
    });
  }

  // ---- conversation list ----------------------------------------------------------------------
  const convEls = new Map(); // id -> <a>

  function buildConv(id) {
    const a = el("a", "conv");
    a.dataset.conversationId = id;
    a.href = `/inbox/${encodeURIComponent(id)}/`;
    const avatar = el("span", "conv-avatar");
    avatar.setAttribute("aria-hidden", "true");
    const main = el("span", "conv-main");
    const top = el("span", "conv-top");
    top.append(el("span", "conv-name"), el("time", "conv-time"));
    const mid = el("span", "conv-mid");
    mid.append(el("span", "conv-preview"), el("span", "conv-count"));
    const bottom = el("span", "conv-bottom");
    main.append(top, mid, bottom);
    a.append(avatar, main);
    return a;
  }

  function fillConv(a, c) {
    const name = visitorName(c);
    const selected = c.id === selectedId;
    const unread = Number.isInteger(c.unread) && c.unread > 0 ? c.unread : 0;
    a.classList.toggle("is-selected", selected);
    a.classList.toggle("has-unread", unread > 0);
    if (selected) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");

    const avatar = a.querySelector(".conv-avatar");
    avatar.textContent = initialOf(name);
    avatar.style.setProperty("--hue", String(avatarHue(c.visitor && c.visitor.id)));
    a.querySelector(".conv-name").textContent = name;

    const time = a.querySelector(".conv-time");
    const last = c.last_message;
    if (last && last.created_at) fillTime(time, last.created_at);
    else time.textContent = "";

    const preview = a.querySelector(".conv-preview");
    preview.textContent = last ? (last.sender === "agent" ? "↩ " : "") + String(last.body || "").replace(/\s+/g, " ") : _("No messages yet");
    preview.classList.toggle("is-system", !!last && last.sender === "system");

    const count = a.querySelector(".conv-count");
    count.replaceChildren();
    if (unread) count.append(el("span", "conv-unread", String(unread)), el("span", "visually-hidden", ` ${_("unread")}`));

    const bottom = a.querySelector(".conv-bottom");
    bottom.replaceChildren();
    if (c.waiting_since) {
      const waiting = el("span", "conv-waiting", waitingText(c.waiting_since));
      waiting.dataset.since = c.waiting_since;
      bottom.appendChild(waiting);
    }
    if (c.state === "pending" || c.state === "replied" || c.state === "resolved") {
      const pill = el("span", `conv-state conv-state--${c.state}`, STATE_LABELS[c.state]);
      bottom.appendChild(pill);
    }
    if (c.priority === "high" || c.priority === "urgent") {
      bottom.appendChild(el("span", `conv-priority conv-priority--${c.priority}`, c.priority === "urgent" ? _("Urgent") : _("High")));
    }
    for (const t of Array.isArray(c.tags) ? c.tags : []) bottom.appendChild(tagChip(t));
    bottom.hidden = !bottom.childElementCount;
  }

  const STATE_LABELS = { unread: _("Unread"), pending: _("To answer"), replied: _("Replied"), resolved: _("Resolved") };

  function tagChip(t) {
    const chip = el("span", "tag-chip", String(t.name || ""));
    if (/^#[0-9a-fA-F]{6}$/.test(t.color || "")) chip.style.setProperty("--tag", t.color);
    return chip;
  }

  // ---- message center: filters, counts, pages --------------------------------------------------
  // The default view (my open conversations) is kept live by events alone. Any other filter
  // shows the server's pages; events update entries in place and refresh the first page.
  const query = { scope: "mine", state: "open", tag: null, q: "" };
  let nextCursor = null;
  let pageQueryKey = "";
  const moreBtn = $("center-more");
  const qInput = $("center-q");
  const tagSelect = $("center-tag");
  const queryKey = (q) => JSON.stringify([q.scope, q.state, q.tag, q.q]);
  const isDefaultQuery = () => query.scope === "mine" && query.state === "open" && !query.tag && !query.q;

  // Whether a summary belongs in the current view, as far as the client can tell.
  function matchesQuery(c) {
    if (!initial.agent) return true;
    if (query.scope === "mine" && c.assigned_agent_id !== initial.agent.id) return false;
    if (query.state === "open") return c.status === "open";
    return c.state === query.state;
  }

  function requestPage(cursor) {
    if (!ready) return;
    pageQueryKey = queryKey(query);
    if (!cursor) listEl.setAttribute("aria-busy", "true");
    sendFrame({ type: "center.list", scope: query.scope, state: query.state, tag: query.tag, q: query.q, cursor: cursor || "", limit: 50 });
  }

  let refreshTimer = null;
  // After events: the counts (and, outside the default view, the first page) again, at most
  // a few times a second however busy the inbox is.
  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => {
      if (!ready) return;
      if (isDefaultQuery()) sendFrame({ type: "center.counts", scope: query.scope });
      else requestPage("");
    }, 300);
  }

  function renderCounts(counts) {
    if (!counts || typeof counts !== "object") return;
    const states = counts.states || {};
    const scopes = counts.scopes || {};
    for (const node of document.querySelectorAll("[data-count-state]")) {
      const n = states[node.dataset.countState];
      node.textContent = Number.isInteger(n) ? String(n) : "";
    }
    for (const node of document.querySelectorAll("[data-count-scope]")) {
      const n = scopes[node.dataset.countScope];
      if (Number.isInteger(n)) node.textContent = String(n);
    }
  }

  function onPage(frame) {
    const q = frame.query || {};
    if (queryKey({ scope: q.scope, state: q.state, tag: q.tag ?? null, q: q.q || "" }) !== queryKey(query)) return; // stale
    if (!q.cursor) convs.clear();
    listEl.setAttribute("aria-busy", "false");
    for (const c of Array.isArray(frame.conversations) ? frame.conversations : []) upsertSummary(c);
    nextCursor = typeof frame.next_cursor === "string" ? frame.next_cursor : null;
    moreBtn.hidden = !nextCursor;
    renderCounts(frame.counts);
    renderList();
  }

  function setQuery(change) {
    Object.assign(query, change);
    for (const b of document.querySelectorAll(".scope-tab")) {
      const on = b.dataset.scope === query.scope;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-pressed", String(on));
    }
    for (const b of document.querySelectorAll(".state-chip")) {
      const on = b.dataset.state === query.state;
      b.classList.toggle("is-active", on);
      b.setAttribute("aria-pressed", String(on));
    }
    nextCursor = null;
    moreBtn.hidden = true;
    requestPage("");
  }

  for (const b of document.querySelectorAll(".scope-tab")) b.addEventListener("click", () => setQuery({ scope: b.dataset.scope }));
  for (const b of document.querySelectorAll(".state-chip")) b.addEventListener("click", () => setQuery({ state: b.dataset.state }));
  let searchTimer = null;
  qInput.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => setQuery({ q: qInput.value.trim() }), 250);
  });
  tagSelect.addEventListener("change", () => setQuery({ tag: tagSelect.value ? Number(tagSelect.value) : null }));
  moreBtn.addEventListener("click", () => {
    if (nextCursor) requestPage(nextCursor);
  });

  function renderList() {
    const focusedId = document.activeElement && document.activeElement.classList &&
      document.activeElement.classList.contains("conv") ? document.activeElement.dataset.conversationId : null;
    const ordered = sortedConversations();
    const wanted = new Set(ordered.map((c) => c.id));
    for (const [id, a] of convEls) {
      if (!wanted.has(id)) {
        a.remove();
        convEls.delete(id);
      }
    }
    let cursor = null; // the node the next entry must follow
    for (const c of ordered) {
      let a = convEls.get(c.id);
      if (!a) {
        a = buildConv(c.id);
        convEls.set(c.id, a);
      }
      fillConv(a, c);
      const expected = cursor ? cursor.nextElementSibling : listEl.firstElementChild;
      if (expected !== a) listEl.insertBefore(a, expected);
      cursor = a;
    }
    // Whatever is left after the entries (server-rendered leftovers, the empty state) goes.
    while (cursor ? cursor.nextElementSibling : listEl.firstElementChild) {
      const extra = cursor ? cursor.nextElementSibling : listEl.firstElementChild;
      if (extra.classList.contains("conv-empty") && !ordered.length) break;
      extra.remove();
    }
    if (!ordered.length && !listEl.querySelector(".conv-empty")) {
      listEl.appendChild(el("p", "conv-empty", EMPTY_TEXT));
    }
    if (focusedId && document.activeElement !== convEls.get(focusedId)) {
      const a = convEls.get(focusedId);
      if (a) a.focus({ preventScroll: true });
    }
    updateTitle();
  }

  function updateTitle() {
    let total = 0;
    for (const c of convs.values()) total += Number.isInteger(c.unread) && c.unread > 0 ? c.unread : 0;
    const title = `${_("Inbox")} · Helpdesk`;
    document.title = total ? `(${total}) ${title}` : title;
    // The installed app's icon shows the count too, where the system allows it.
    if (navigator.setAppBadge) {
      (total ? navigator.setAppBadge(total) : navigator.clearAppBadge()).catch(() => {});
    }
  }

  // ---- thread ---------------------------------------------------------------------------------
  const msgEls = new Map(); // message id -> <li> (open thread only)
  const pendingEls = new Map(); // client_id -> <li> (open thread only)
  const liData = new WeakMap(); // <li> -> Message

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
    return "";
  }

  // ---- transfer -------------------------------------------------------------------------------
  const transferForm = $("transfer-form");
  if (transferForm) {
    transferForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const [kind, id] = ($("transfer-target").value || "").split(":");
      if (!selectedId || !id) return;
      const frame = { type: "conversation.transfer", conversation_id: selectedId, reason: $("transfer-reason").value.trim() };
      frame[kind === "agent" ? "to_agent_id" : "to_group_id"] = Number(id);
      sendFrame(frame);
      transferForm.reset();
    });
  }

  const resolveBtn = $("resolve-send");
  if (resolveBtn) {
    resolveBtn.addEventListener("click", () => {
      if (selectedId) sendFrame({ type: "conversation.resolve", conversation_id: selectedId });
    });
  }

  function buildMessage(m, pending) {
    const sender = ["visitor", "agent", "system"].includes(m.sender) ? m.sender : "system";
    const li = el("li", `msg msg--${sender}`);
    if (sender === "agent") li.appendChild(el("span", "msg-author", m.agent_name || initial.agent?.name || _("Agent")));
    // System lines in the agent's language, as the visitor read them (from their facts).
    li.appendChild(el("div", "msg-bubble", sender === "system" ? HelpdeskSystemText.text(m, { withPosition: true }) : m.body));
    if (sender === "system") {
      const detail = staffDetail(m.meta || {});
      if (detail) li.appendChild(el("div", "msg-staff", detail));
    }
    const meta = el("div", "msg-meta");
    const time = el("time");
    fillTime(time, m.created_at);
    meta.appendChild(time);
    li.appendChild(meta);
    if (pending) {
      li.dataset.clientId = m.client_id;
      li.dataset.state = "sending";
      meta.appendChild(el("span", "msg-mark", _("Sending…")));
    } else {
      setStored(li, m);
    }
    return li;
  }

  function setStored(li, m) {
    li.dataset.id = m.id;
    li.dataset.seq = String(m.seq);
    liData.set(li, m);
    msgEls.set(m.id, li);
    if (li.dataset.state) li.dataset.state = "sent";
    const mark = li.querySelector(".msg-mark");
    if (mark) mark.remove();
  }

  function placeMessage(li, m) {
    let before = null;
    for (let node = messagesEl.lastElementChild; node; node = node.previousElementSibling) {
      const other = liData.get(node);
      if (!other) {
        if (node.dataset.state === "failed") break;
        before = node; // pending replies stay last
        continue;
      }
      if (other.seq <= m.seq) break;
      before = node;
    }
    messagesEl.insertBefore(li, before);
  }

  function nearBottom() {
    return messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 120;
  }

  function scrollToBottom() {
    messagesEl.scrollTop = messagesEl.scrollHeight;
  }

  function showMessage(m) {
    if (m.conversation_id !== selectedId || msgEls.has(m.id)) return false;
    const pending = m.client_id ? pendingEls.get(m.client_id) : null;
    let li;
    if (pending) {
      pendingEls.delete(m.client_id);
      pending.remove();
      li = pending;
      const time = li.querySelector("time");
      if (time) fillTime(time, m.created_at);
      if (m.agent_name) {
        const author = li.querySelector(".msg-author");
        if (author) author.textContent = m.agent_name;
      }
      setStored(li, m);
    } else {
      li = buildMessage(m, false);
    }
    placeMessage(li, m);
    return true;
  }

  function showPending(entry) {
    if (entry.conversation_id !== selectedId || pendingEls.has(entry.client_id)) return;
    const li = buildMessage({ ...entry, sender: "agent", agent_name: initial.agent?.name }, true);
    pendingEls.set(entry.client_id, li);
    messagesEl.appendChild(li);
  }

  function markFailed(li, detail) {
    li.dataset.state = "failed";
    let mark = li.querySelector(".msg-mark");
    if (!mark) {
      mark = el("span", "msg-mark");
      li.querySelector(".msg-meta").appendChild(mark);
    }
    mark.textContent = detail || _("Not sent");
    mark.classList.add("is-failed");
  }

  function renderThread() {
    const c = selectedId ? convs.get(selectedId) : null;
    document.body.classList.toggle("has-selection", !!selectedId);
    threadEl.dataset.conversationId = selectedId || "";
    placeholder.hidden = !!selectedId;
    threadHead.hidden = !selectedId;
    messagesEl.hidden = !selectedId;
    form.hidden = !selectedId;
    detailsEl.hidden = !selectedId;
    if (!selectedId) showDetails(false);
    messagesEl.replaceChildren();
    msgEls.clear();
    pendingEls.clear();
    if (!selectedId) return;
    renderThreadHead(c);
    const messages = Array.from((held.get(selectedId) || new Map()).values()).sort((a, b) => a.seq - b.seq);
    const frag = document.createDocumentFragment();
    for (const m of messages) frag.appendChild(buildMessage(m, false));
    messagesEl.appendChild(frag);
    for (const entry of outbox.list()) showPending(entry);
    renderReceipts();
    scrollToBottom();
  }

  function renderThreadHead(c) {
    const name = visitorName(c);
    threadTitle.textContent = name;
    threadAvatar.textContent = initialOf(name);
    threadAvatar.style.setProperty("--hue", String(avatarHue(c && c.visitor && c.visitor.id)));
    const parts = [];
    const channel = c && c.channel ? CHANNELS[c.channel] || c.channel : "";
    const status = c && c.status ? STATUSES[c.status] || c.status : "";
    if (channel) parts.push(channel);
    if (c && c.status && c.status !== "open") parts.push(status);
    if (c && c.waiting_since) parts.push(waitingText(c.waiting_since));
    threadSub.textContent = parts.join(" · ");
    // The visitor's details (the sheet, or the third column on a wide screen).
    $("details-name").textContent = name;
    $("details-channel").textContent = channel || "–";
    $("details-state").textContent = [status, c && c.state && c.state !== "open" ? STATE_LABELS[c.state] || "" : ""]
      .filter(Boolean)
      .join(" · ") || "–";
    const tags = c && Array.isArray(c.tags) ? c.tags : [];
    tagListEl.replaceChildren(
      ...tags.map((t) => {
        const chip = tagChip(t);
        const remove = el("button", "tag-remove", "×");
        remove.type = "button";
        remove.setAttribute("aria-label", fill(_("Remove tag %(name)s"), { name: t.name }));
        remove.addEventListener("click", () => setTags(tags.filter((x) => x.id !== t.id).map((x) => x.id)));
        chip.appendChild(remove);
        return chip;
      })
    );
  }

  function setTags(ids) {
    if (selectedId) sendFrame({ type: "conversation.tags", conversation_id: selectedId, tag_ids: ids });
  }
  if (tagAdd) {
    tagAdd.addEventListener("change", () => {
      const id = Number(tagAdd.value);
      tagAdd.value = "";
      const c = selectedId && convs.get(selectedId);
      if (!id || !c) return;
      const ids = (c.tags || []).map((t) => t.id);
      if (!ids.includes(id)) setTags([...ids, id]);
    });
  }

  // ---- the visitor's details: a sheet on narrow screens, a column on wide ones -----------------
  const detailsEl = $("details");
  const detailsToggle = $("details-toggle");
  const backdrop = $("details-backdrop");
  const asColumn = window.matchMedia("(min-width: 1200px)");
  let detailsOpen = false;

  function showDetails(open, { restoreFocus = true } = {}) {
    detailsOpen = open && !asColumn.matches;
    document.body.classList.toggle("details-open", detailsOpen);
    detailsToggle.setAttribute("aria-expanded", String(detailsOpen));
    // Over the thread it is a dialog: the page behind it waits until it closes.
    if (asColumn.matches) {
      detailsEl.removeAttribute("role");
      detailsEl.removeAttribute("aria-modal");
    } else {
      detailsEl.setAttribute("role", "dialog");
      detailsEl.setAttribute("aria-modal", "true");
    }
    for (const node of [document.querySelector(".topbar"), document.querySelector(".sidebar"), threadEl]) {
      node.inert = detailsOpen;
    }
    backdrop.hidden = !detailsOpen;
    if (detailsOpen) $("details-close").focus();
    else if (restoreFocus && document.activeElement && detailsEl.contains(document.activeElement)) detailsToggle.focus();
  }
  detailsToggle.addEventListener("click", () => showDetails(!detailsOpen));
  $("details-close").addEventListener("click", () => showDetails(false));
  backdrop.addEventListener("click", () => showDetails(false));
  detailsEl.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && detailsOpen) {
      event.stopPropagation();
      showDetails(false);
    }
  });
  asColumn.addEventListener("change", () => showDetails(false, { restoreFocus: false }));
  showDetails(false, { restoreFocus: false });

  // ---- the header's menu (phones) ----------------------------------------------------------------
  const menuToggle = $("menu-toggle");
  const menu = $("topbar-menu");
  function showMenu(open) {
    menu.classList.toggle("is-open", open);
    menuToggle.setAttribute("aria-expanded", String(open));
  }
  menuToggle.addEventListener("click", (event) => {
    event.stopPropagation();
    const open = !menu.classList.contains("is-open");
    showMenu(open);
    if (open) menu.querySelector("a, button").focus();
  });
  document.addEventListener("click", (event) => {
    if (menu.classList.contains("is-open") && !menu.contains(event.target)) showMenu(false);
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    showMenu(false);
    menuToggle.focus();
  });

  // ---- selection ------------------------------------------------------------------------------
  function pathFor(id) {
    return id ? `/inbox/${encodeURIComponent(id)}/` : "/inbox/";
  }

  function idFromPath(pathname) {
    const m = /^\/inbox\/([^/]+)\/?$/.exec(pathname);
    return m ? decodeURIComponent(m[1]) : null;
  }

  function select(id, { push = true, focusReply = false } = {}) {
    if (id === selectedId) {
      if (focusReply && id) input.focus();
      return;
    }
    selectedId = id || null;
    if (push) history.pushState({ conversationId: selectedId }, "", pathFor(selectedId));
    renderThread();
    renderList();
    if (selectedId) {
      requestOpen(selectedId);
      markRead();
      if (focusReply) input.focus();
    }
  }

  function requestOpen(id) {
    if (!ready || !id) return;
    openPending.add(id);
    sendFrame({ type: "conversation.open", conversation_id: id, after_seq: heldTop(id) });
  }

  // Tell the server what the agent has now seen in the open thread.
  function markRead() {
    if (!ready || !selectedId || document.visibilityState !== "visible") return;
    const seq = maxSeq(selectedId);
    const c = convs.get(selectedId);
    const readSeq = c && Number.isInteger(c.read_seq) ? c.read_seq : 0;
    if (seq <= readSeq || seq <= (readSent.get(selectedId) || 0)) return;
    if (!sendFrame({ type: "conversation.read", conversation_id: selectedId, seq })) return;
    readSent.set(selectedId, seq);
    if (c) {
      // Optimistic: the server answers with a `conversation` frame carrying the real numbers.
      c.read_seq = seq;
      if (Number.isInteger(c.last_seq) && seq >= c.last_seq) c.unread = 0;
      renderList();
    }
  }

  // ---- socket ---------------------------------------------------------------------------------
  let ready = false; // the `inbox` snapshot arrived on the current socket

  function setConnection(state) {
    const text = { online: _("Online"), connecting: _("Connecting…"), offline: _("Offline") }[state];
    connEl.dataset.state = state;
    connEl.querySelector(".conn-text").textContent = text;
  }

  const socket = HelpdeskCore.pageSocket(WS_PATH, {
    onConnecting() {
      ready = false;
      setConnection("connecting");
    },
    onOpen() {}, // the server speaks first: the `inbox` snapshot
    onFrame: handleFrame,
    onClose(code) {
      ready = false;
      openPending.clear();
      setConnection("offline");
      if (code === 4401) {
        sessionEnded();
        return "stop";
      }
      if (code === 4403) {
        notice(_("This page's origin is not allowed to connect. Open the inbox from the helpdesk's own address."));
        return "stop";
      }
      return "retry";
    },
  });

  function sendFrame(frame) {
    return socket.send(frame);
  }

  function sessionEnded() {
    noticeEl.replaceChildren(
      document.createTextNode(`${_("Your session has ended.")} `),
      Object.assign(el("a", null, _("Sign in again")), {
        href: `/accounts/login/?next=${encodeURIComponent(location.pathname)}`,
      }),
    );
    noticeEl.hidden = false;
    clearTimeout(noticeTimer);
  }

  function handleFrame(frame) {
    switch (frame.type) {
      case "inbox":
        onInbox(frame);
        break;
      case "flush":
        onFlush(frame);
        break;
      case "history":
        onHistory(frame);
        break;
      case "message":
        onMessage(frame);
        break;
      case "message.ack":
        onAck(frame);
        break;
      case "status":
        setStatus(frame.status);
        break;
      case "receipt":
        onReceipt(frame);
        break;
      case "center.page":
        onPage(frame);
        break;
      case "center.counts":
        if (frame.scope === query.scope) renderCounts(frame);
        break;
      case "conversation":
        scheduleRefresh();
        if (!isDefaultQuery() && isSummary(frame.conversation)) {
          const c = frame.conversation;
          if (convs.has(c.id) && !matchesQuery(c)) convs.delete(c.id);
          else if (convs.has(c.id)) upsertSummary(c);
          renderList();
          if (c.id === selectedId) renderThreadHead(c);
          break;
        }
        if (isSummary(frame.conversation) && movedAway(frame.conversation)) {
          convs.delete(frame.conversation.id);
          renderList();
          if (frame.conversation.id === selectedId) {
            notice(frame.conversation.status === "resolved" ? _("Resolved.") : _("This conversation was moved to another agent or queue."));
          }
        } else if (isSummary(frame.conversation)) {
          upsertSummary(frame.conversation);
          renderList();
          if (frame.conversation.id === selectedId) renderThreadHead(frame.conversation);
        }
        break;
      case "error":
        onError(frame);
        break;
      default:
        break; // pong and anything newer
    }
  }

  // ---- status (available / away) ------------------------------------------------------------------
  const statusEl = $("agent-status");
  function setStatus(status) {
    if (statusEl && (status === "available" || status === "away")) {
      statusEl.value = status;
      statusEl.dataset.status = status;
    }
  }
  if (statusEl) {
    statusEl.addEventListener("change", () => sendFrame({ type: "status.set", status: statusEl.value }));
  }

  // Transferred or returned to the queue: no longer in this agent's inbox.
  function movedAway(c) {
    return (initial.agent && c.assigned_agent_id !== initial.agent.id) || c.status !== "open";
  }

  function onInbox(frame) {
    ready = true;
    socket.settled();
    setConnection("online");
    setStatus(frame.status);
    if (frame.agent && typeof frame.agent === "object") initial.agent = frame.agent;
    const previous = selectedId ? convs.get(selectedId) : null;
    convs.clear();
    if (isDefaultQuery()) {
      for (const c of Array.isArray(frame.conversations) ? frame.conversations : []) upsertSummary(c);
      sendFrame({ type: "center.counts", scope: query.scope });
    } else {
      requestPage(""); // after a reconnect: the current filter's first page, afresh
    }
    if (previous && !convs.has(previous.id)) convs.set(previous.id, previous); // history will refresh it
    readSent.clear();
    renderList();
    if (selectedId) {
      renderThreadHead(convs.get(selectedId));
      requestOpen(selectedId);
    }
    for (const entry of outbox.list()) sendEntry(entry);
  }

  function onFlush(frame) {
    scheduleRefresh();
    for (const c of Array.isArray(frame.conversations) ? frame.conversations : []) {
      if (isDefaultQuery() || convs.has(c.id)) upsertSummary(c);
    }
    let shown = false;
    const stick = nearBottom();
    for (const m of Array.isArray(frame.messages) ? frame.messages : []) {
      if (storeMessage(m)) shown = showMessage(m) || shown;
    }
    renderList();
    if (selectedId && convs.has(selectedId)) renderThreadHead(convs.get(selectedId));
    if (shown) {
      if (stick) scrollToBottom();
      checkGap();
      markRead();
    }
  }

  function onHistory(frame) {
    const c = frame.conversation;
    if (!isSummary(c)) return;
    upsertSummary(c);
    openPending.delete(c.id);
    loaded.add(c.id);
    const stick = nearBottom();
    let shown = false;
    for (const m of Array.isArray(frame.messages) ? frame.messages : []) {
      if (storeMessage(m)) shown = showMessage(m) || shown;
    }
    renderList();
    if (c.id === selectedId) {
      renderThreadHead(c);
      if (shown && stick) scrollToBottom();
      markRead();
      renderReceipts();
    }
  }

  // A visitor's message while this tab is in the background: a short chime, and a desktop
  // notification if the agent allowed notifications (on /notifications/).
  let audio = null;
  function chime() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.08, audio.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + 0.35);
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.35);
    } catch (_) {
      /* no audio here: the title and the notification still tell */
    }
  }
  function alertInBackground(m, c) {
    if (document.visibilityState === "visible" || !m || m.sender !== "visitor") return;
    chime();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const name = c && c.visitor ? visitorName(c) : _("A visitor");
    const n = new Notification(name, { body: String(m.body || "").slice(0, 140), tag: `helpdesk-${m.conversation_id}` });
    n.onclick = () => {
      window.focus();
      select(m.conversation_id);
      n.close();
    };
  }

  function onMessage(frame) {
    scheduleRefresh();
    if (isMessage(frame.message) && !held.get(frame.message.conversation_id)?.has(frame.message.id)) {
      alertInBackground(frame.message, frame.conversation);
    }
    if (isSummary(frame.conversation) && (isDefaultQuery() || convs.has(frame.conversation.id))) {
      upsertSummary(frame.conversation);
    }
    const m = frame.message;
    const stick = nearBottom();
    if (isMessage(m) && storeMessage(m) && showMessage(m)) {
      if (stick || m.sender === "agent") scrollToBottom();
    }
    renderList();
    if (isMessage(m) && m.conversation_id === selectedId) {
      if (isSummary(frame.conversation)) renderThreadHead(frame.conversation);
      checkGap();
      markRead();
      renderReceipts();
    }
  }

  // Delivered and seen, from the visitor's side: shown under the agent's latest reply.
  function onReceipt(frame) {
    const c = convs.get(frame.conversation_id);
    if (c) {
      c.visitor_delivered_seq = Math.max(c.visitor_delivered_seq || 0, frame.delivered_seq || 0);
      c.visitor_seen_seq = Math.max(c.visitor_seen_seq || 0, frame.seen_seq || 0);
    }
    if (frame.conversation_id === selectedId) renderReceipts();
  }

  function renderReceipts() {
    const c = selectedId && convs.get(selectedId);
    let last = null;
    for (const li of messagesEl.querySelectorAll("li.msg--agent[data-seq]")) {
      const mark = li.querySelector(".msg-receipt");
      if (mark) mark.remove();
      if (!last || Number(li.dataset.seq) > Number(last.dataset.seq)) last = li;
    }
    if (!c || !last) return;
    const seq = Number(last.dataset.seq);
    const state = seq <= (c.visitor_seen_seq || 0) ? "seen" : seq <= (c.visitor_delivered_seq || 0) ? "delivered" : "sent";
    const mark = el("span", `msg-receipt msg-receipt--${state}`, { seen: _("Seen"), delivered: _("Delivered"), sent: _("Sent") }[state]);
    last.dataset.receipt = state;
    const meta = last.querySelector(".msg-meta");
    if (meta) meta.appendChild(mark);
  }

  function onAck(frame) {
    const m = frame.message;
    if (!isMessage(m)) return;
    const own = m.client_id ? m : { ...m, client_id: frame.client_id };
    outbox.remove(frame.client_id);
    if (storeMessage(own)) {
      if (showMessage(own)) scrollToBottom();
    } else if (own.client_id && pendingEls.has(own.client_id)) {
      // Stored already through the `message` frame while the reply was still pending here.
      pendingEls.get(own.client_id).remove();
      pendingEls.delete(own.client_id);
    }
    if (own.conversation_id === selectedId) {
      checkGap();
      renderReceipts();
    }
  }

  function onError(frame) {
    const clientId = typeof frame.client_id === "string" ? frame.client_id : null;
    const verdict = outbox.refused(frame, (entry) => {
      if (ready) sendEntry(entry);
    });
    if (verdict === "later") return; // not stored, only early: it goes again after retry_after
    if (verdict === "failed") {
      const li = pendingEls.get(clientId);
      if (li) markFailed(li, frame.detail);
      else notice(frame.detail || _("A reply could not be sent."));
      return;
    }
    if (frame.code === "not_found") {
      notice(frame.detail || _("That conversation is not in your inbox."));
      return;
    }
    if (frame.detail) notice(frame.detail);
  }

  // A seq gap in the open conversation means a lost frame: fetch what is missing.
  function checkGap() {
    if (!selectedId || openPending.has(selectedId)) return;
    if (maxSeq(selectedId) > heldTop(selectedId)) requestOpen(selectedId);
  }

  // ---- reply ----------------------------------------------------------------------------------
  function sendEntry(entry) {
    return sendFrame({ type: "message.send", conversation_id: entry.conversation_id, client_id: entry.client_id, body: entry.body });
  }

  // The composer's trimmed text: into the outbox, on screen as sending, out now if connected.
  function sendReply(body) {
    if (!selectedId) return false;
    const entry = outbox.add({ conversation_id: selectedId, body });
    showPending(entry);
    scrollToBottom();
    if (ready) sendEntry(entry);
    return true;
  }

  HelpdeskComposer.attach(form, input, {
    maxHeight: 200,
    maxLength: MAX_BODY,
    onSubmit: sendReply,
    onTooLong: (max) => notice(fill(_("A reply can be at most %(max)s characters."), { max })),
    onKeydown(event) {
      if (event.key !== "Escape") return;
      input.blur();
      const a = selectedId && convEls.get(selectedId);
      if (a) a.focus();
    },
  });

  // ---- navigation -----------------------------------------------------------------------------
  listEl.addEventListener("click", (event) => {
    const a = event.target.closest("a.conv");
    if (!a || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    select(a.dataset.conversationId, { focusReply: window.matchMedia("(pointer: fine)").matches });
  });

  threadEl.querySelector(".thread-back").addEventListener("click", (event) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const was = selectedId;
    select(null);
    const row = was && convEls.get(was);
    if (row) row.focus({ preventScroll: false }); // back where the agent was in the list
  });

  window.addEventListener("popstate", () => select(idFromPath(location.pathname), { push: false }));

  document.addEventListener("keydown", (event) => {
    if (!["j", "k", "n", "r"].includes(event.key) || detailsOpen) return;
    if (event.metaKey || event.ctrlKey || event.altKey || event.isComposing) return;
    const t = event.target;
    if (t && (t.isContentEditable || /^(TEXTAREA|INPUT|SELECT)$/.test(t.tagName))) return;
    if (event.key === "r") {
      // Reply: into the open conversation's composer.
      if (selectedId) {
        event.preventDefault();
        input.focus();
      }
      return;
    }
    const order = sortedConversations();
    if (!order.length) return;
    if (event.key === "n") {
      // Next unread, after the open one (wrapping round).
      const at = order.findIndex((c) => c.id === selectedId);
      const rotated = [...order.slice(at + 1), ...order.slice(0, at + 1)];
      const unread = rotated.find((c) => c.id !== selectedId && Number(c.unread) > 0);
      if (!unread) return;
      event.preventDefault();
      select(unread.id);
      const a = convEls.get(unread.id);
      if (a) a.scrollIntoView({ block: "nearest" });
      return;
    }
    const at = order.findIndex((c) => c.id === selectedId);
    let next;
    if (at < 0) next = event.key === "j" ? 0 : order.length - 1;
    else next = Math.min(order.length - 1, Math.max(0, at + (event.key === "j" ? 1 : -1)));
    event.preventDefault();
    const id = order[next].id;
    select(id);
    const a = convEls.get(id);
    if (a) {
      a.focus({ preventScroll: true });
      a.scrollIntoView({ block: "nearest" });
    }
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    markRead();
    socket.wake();
  });
  window.addEventListener("online", () => socket.wake());

  // Keep "waiting N min" fresh.
  setInterval(() => {
    renderList();
    if (selectedId && convs.has(selectedId)) renderThreadHead(convs.get(selectedId));
  }, 30000);

  // ---- start ----------------------------------------------------------------------------------
  for (const c of Array.isArray(initial.conversations) ? initial.conversations : []) upsertSummary(c);
  if (isSummary(initial.selected)) {
    upsertSummary(initial.selected);
    loaded.add(initial.selected.id); // the page came with this thread's history
  }
  for (const m of Array.isArray(initial.messages) ? initial.messages : []) storeMessage(m);
  history.replaceState({ conversationId: selectedId }, "", location.href);
  renderList();
  renderThread();
  socket.connect();

  // The installable app: the service worker keeps a shell for when the network is gone (and
  // shows Web Push). Registered on every visit, so installing the app needs nothing else.
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});

  // Web Push is turned on at /notifications/; each visit re-saves this browser's subscription
  // so a rotated key or a cleared record on the server heals itself.
  const pushConfig = initial.push || {};
  if (window.HelpdeskPush && pushConfig.enabled) {
    const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
    HelpdeskPush.forStaff(pushConfig.public_key, csrf && csrf.value)
      .resync()
      .catch(() => {});
  }
})();
