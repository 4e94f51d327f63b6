/*
 * Helpdesk agent inbox: the agent side of docs/protocol.md.
 *
 * The page arrives server-rendered with its data in #inbox-initial; this script takes over the
 * conversation list and the open thread, keeps them live over /ws/agent/, and resumes from the
 * highest seq it holds after every reconnect (de-duplicating by message id). The socket and the
 * outbox are the ones every helpdesk client shares (client-core.js), the composer the widget's
 * (composer.js), files the widget's too (attachments.js).
 *
 * The parts beside the list and the thread live in modules of their own, loaded before this
 * file and started at the end of it with `app` (below): the visitor's panel (inbox-panel.js),
 * the composer's modes, files, saved replies and mentions (inbox-compose.js, inbox-replies.js),
 * internal notes (inbox-notes.js), and the conversation's life, typing and search
 * (inbox-life.js). Each may answer onFrame, onSelect, onHead, onThread and onReady.
 */
(() => {
  "use strict";

  const K = HelpdeskInbox.kit;
  const { _, fill, el, parseTime, fillTime, waitingText, avatarHue, visitorName, initialOf, isMessage, isSummary } = K;

  const initial = JSON.parse(document.getElementById("inbox-initial").textContent);
  const WS_PATH = initial.ws_path || "/ws/agent/";
  const MAX_BODY = Number.isInteger(initial.max_body) && initial.max_body > 0 ? initial.max_body : 4000;
  const CHANNELS = { web: _("Web"), app: _("App"), mini_program: _("Mini-program") };
  const STATUSES = { open: _("Open"), resolved: _("Resolved") };
  const STATE_LABELS = { unread: _("Unread"), pending: _("To answer"), replied: _("Replied"), snoozed: _("Snoozed"), resolved: _("Resolved") };
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

  let noticeTimer = null;
  function notice(text, { action = null, sticky = false } = {}) {
    noticeEl.replaceChildren(document.createTextNode(text));
    if (action) noticeEl.append(" ", action);
    noticeEl.hidden = false;
    clearTimeout(noticeTimer);
    if (!sticky) {
      noticeTimer = setTimeout(() => {
        noticeEl.hidden = true;
      }, 6000);
    }
  }

  // ---- state ----------------------------------------------------------------------------------
  const convs = new Map(); // conversation id -> summary
  const held = new Map(); // conversation id -> Map(message id -> Message)
  const loaded = new Set(); // conversations whose history we have fetched from the start
  const outbox = new HelpdeskCore.Outbox(); // replies not yet stored: {conversation_id, client_id, body, attachments}
  const openPending = new Set(); // conversation.open sent, history not yet received
  const readSent = new Map(); // conversation id -> seq last sent in conversation.read
  let selectedId = initial.selected && initial.selected.id ? initial.selected.id : null;
  let ready = false; // the `inbox` snapshot arrived on the current socket
  // The open conversation keeps the place it had when the agent opened it, however its
  // messages would sort it now; the list sorts it afresh on the next navigation.
  let pinned = null; // {id, index}
  let app = null; // what the modules see (below)

  function upsertSummary(c) {
    if (!isSummary(c)) return;
    convs.set(c.id, c);
    if (c.unread === 0 && app) each("onAllRead", c.id);
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

  // The list as shown: sorted, with the open conversation held where it was.
  function listOrder() {
    const order = sortedConversations();
    if (!pinned || pinned.id !== selectedId) return order;
    const at = order.findIndex((c) => c.id === pinned.id);
    if (at < 0) return order;
    const [open] = order.splice(at, 1);
    order.splice(Math.min(pinned.index, order.length), 0, open);
    return order;
  }

  function pin() {
    const at = sortedConversations().findIndex((c) => c.id === selectedId);
    pinned = selectedId && at >= 0 ? { id: selectedId, index: at } : null;
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

  function previewText(last) {
    if (!last) return _("No messages yet");
    const body = String(last.body || "").replace(/\s+/g, " ");
    return (last.sender === "agent" ? "↩ " : "") + (body || _("File"));
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
    const typing = hook("typingText", c.id);
    preview.textContent = typing || previewText(last);
    preview.classList.toggle("is-typing", !!typing);
    preview.classList.toggle("is-system", !typing && !!last && last.sender === "system");

    const count = a.querySelector(".conv-count");
    count.replaceChildren();
    if (hook("mentioned", c.id)) count.append(el("span", "conv-mention", "@"), el("span", "visually-hidden", ` ${_("You were mentioned")}`));
    if (unread) count.append(el("span", "conv-unread", String(unread)), el("span", "visually-hidden", ` ${_("unread")}`));

    const bottom = a.querySelector(".conv-bottom");
    bottom.replaceChildren();
    if (c.priority === "high" || c.priority === "urgent") {
      bottom.appendChild(el("span", `conv-priority conv-priority--${c.priority}`, c.priority === "urgent" ? _("Urgent") : _("High")));
    }
    if (c.waiting_since && c.state !== "snoozed") {
      const waiting = el("span", "conv-waiting", waitingText(c.waiting_since));
      waiting.dataset.since = c.waiting_since;
      bottom.appendChild(waiting);
    }
    if (c.status === "open" && !c.assigned_agent_id) bottom.appendChild(el("span", "conv-state conv-state--queue", _("Unassigned")));
    if (STATE_LABELS[c.state] && c.state !== "unread") {
      bottom.appendChild(el("span", `conv-state conv-state--${c.state}`, STATE_LABELS[c.state]));
    }
    for (const t of Array.isArray(c.tags) ? c.tags : []) bottom.appendChild(tagChip(t));
    bottom.hidden = !bottom.childElementCount;
  }

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
  const moreBtn = $("center-more");
  const qInput = $("center-q");
  const tagSelect = $("center-tag");
  const queryKey = (q) => JSON.stringify([q.scope, q.state, q.tag, q.q]);
  const isDefaultQuery = () => query.scope === "mine" && query.state === "open" && !query.tag && !query.q;

  // Whether a summary belongs in the current view, as far as the client can tell.
  function matchesQuery(c) {
    if (!initial.agent) return true;
    if (query.scope === "mine" && c.assigned_agent_id !== initial.agent.id) return false;
    if (query.scope === "queue" && (c.assigned_agent_id || c.status !== "open")) return false;
    if (query.state === "open") return c.status === "open" && c.state !== "snoozed";
    return c.state === query.state;
  }

  function requestPage(cursor) {
    if (!ready) return;
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
    if (!q.cursor) pin();
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
    pinned = null; // sorted afresh: the new page pins the open conversation where it lands
    requestPage("");
    each("onQuery", query);
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

  // What an empty list says: nothing yet (the default view), or nothing matched.
  function emptyText() {
    if (query.q) return fill(_("Nothing matched “%(q)s”."), { q: query.q });
    if (!isDefaultQuery()) return _("Nothing here.");
    return EMPTY_TEXT;
  }

  function renderList() {
    const focusedId = document.activeElement && document.activeElement.classList &&
      document.activeElement.classList.contains("conv") ? document.activeElement.dataset.conversationId : null;
    const ordered = listOrder();
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
    // Whatever is left after the entries (server-rendered leftovers, an old empty state) goes;
    // the matching messages of a search stay at the end.
    let extra = cursor ? cursor.nextElementSibling : listEl.firstElementChild;
    while (extra) {
      const next = extra.nextElementSibling;
      if (!extra.classList.contains("search-hits")) extra.remove();
      extra = next;
    }
    const hits = hook("hitCount") || 0;
    if (!ordered.length && !(query.q && hits)) listEl.insertBefore(el("p", "conv-empty", emptyText()), listEl.querySelector(".search-hits"));
    if (focusedId && document.activeElement !== convEls.get(focusedId)) {
      const a = convEls.get(focusedId);
      if (a) a.focus({ preventScroll: true });
    }
    each("onList", Array.from(convs.values()));
  }

  // ---- thread ---------------------------------------------------------------------------------
  const msgEls = new Map(); // message id -> <li> (open thread only)
  const pendingEls = new Map(); // client_id -> <li> (open thread only)
  const liData = new WeakMap(); // <li> -> Message

  function buildMessage(m, pending) {
    const sender = ["visitor", "agent", "system"].includes(m.sender) ? m.sender : "system";
    const li = el("li", `msg msg--${sender}`);
    if (sender === "agent") li.appendChild(el("span", "msg-author", m.agent_name || initial.agent?.name || _("Agent")));
    // System lines in the agent's language, as the visitor read them (from their facts).
    const text = sender === "system" ? HelpdeskSystemText.text(m, { withPosition: true }) : m.body;
    const files = sender !== "system" && Array.isArray(m.attachments) ? m.attachments : [];
    if (text || !files.length) li.appendChild(el("div", "msg-bubble", text));
    if (files.length) li.appendChild(HelpdeskFiles.render(files));
    if (sender === "system") {
      const detail = K.staffDetail(m.meta || {});
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
    li.dataset.at = String(parseTime(m.created_at) ?? 0);
    liData.set(li, m);
    msgEls.set(m.id, li);
    if (li.dataset.state) li.dataset.state = "sent";
    const mark = li.querySelector(".msg-mark");
    if (mark) mark.remove();
  }

  // Messages by seq; notes (no seq) by time among them; pending replies stay last.
  function placeMessage(li, m) {
    const at = parseTime(m.created_at) ?? Date.now();
    let before = null;
    for (let node = messagesEl.lastElementChild; node; node = node.previousElementSibling) {
      const other = liData.get(node);
      if (!other) {
        if (node.classList.contains("msg--note") && node.dataset.id) {
          if (Number(node.dataset.at) <= at) break;
          before = node;
          continue;
        }
        if (node.dataset.state === "failed") break;
        before = node; // pending replies and notes stay last
        continue;
      }
      if (other.seq <= m.seq) break;
      before = node;
    }
    messagesEl.insertBefore(li, before);
  }

  // A node with no seq (a note) at its time among what the thread shows.
  function placeByTime(li, at) {
    let before = null;
    for (let node = messagesEl.lastElementChild; node; node = node.previousElementSibling) {
      if (!node.dataset.id) {
        before = node; // still pending: after everything stored
        continue;
      }
      if (Number(node.dataset.at) <= at) break;
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
      const files = li.querySelector(".att-list");
      if (files && Array.isArray(m.attachments) && m.attachments.length) files.replaceWith(HelpdeskFiles.render(m.attachments));
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
    messagesEl.replaceChildren();
    msgEls.clear();
    pendingEls.clear();
    if (selectedId) {
      const messages = Array.from((held.get(selectedId) || new Map()).values()).sort((a, b) => a.seq - b.seq);
      const frag = document.createDocumentFragment();
      for (const m of messages) frag.appendChild(buildMessage(m, false));
      messagesEl.appendChild(frag);
      for (const entry of outbox.list()) showPending(entry);
    }
    each("onThread", selectedId);
    renderThreadHead(c);
    if (!selectedId) return;
    each("onReceipts");
    scrollToBottom();
  }

  function renderThreadHead(c) {
    if (c && c.id !== selectedId) return;
    const name = visitorName(c);
    threadTitle.textContent = name;
    threadAvatar.textContent = initialOf(name);
    threadAvatar.style.setProperty("--hue", String(avatarHue(c && c.visitor && c.visitor.id)));
    const parts = [];
    const channel = c && c.channel ? CHANNELS[c.channel] || c.channel : "";
    if (channel) parts.push(channel);
    if (c && (c.priority === "high" || c.priority === "urgent")) parts.push(c.priority === "urgent" ? _("Urgent") : _("High"));
    if (c && c.state === "snoozed") parts.push(STATE_LABELS.snoozed);
    else if (c && c.status && c.status !== "open") parts.push(STATUSES[c.status] || c.status);
    if (c && c.waiting_since && c.status === "open") parts.push(waitingText(c.waiting_since));
    threadSub.textContent = parts.join(" · ");
    each("onHead", c || null);
  }

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
    pin();
    if (push) history.pushState({ conversationId: selectedId }, "", pathFor(selectedId));
    renderThread();
    renderList();
    each("onSelect", selectedId);
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
      case "center.page":
        onPage(frame);
        break;
      case "center.counts":
        if (frame.scope === query.scope) renderCounts(frame);
        break;
      case "conversation":
        onConversation(frame.conversation);
        break;
      case "error":
        onError(frame);
        break;
      default:
        break; // pong, and the frames of the modules (below)
    }
    each("onFrame", frame);
  }

  function onConversation(c) {
    scheduleRefresh();
    if (!isSummary(c)) return;
    if (!isDefaultQuery()) {
      if (convs.has(c.id) && !matchesQuery(c) && c.id !== selectedId) convs.delete(c.id);
      else if (convs.has(c.id)) upsertSummary(c);
    } else if (movedAway(c)) {
      convs.delete(c.id);
      if (c.id === selectedId && c.status === "open" && c.state !== "snoozed") {
        notice(_("This conversation was moved to another agent or queue."));
      }
    } else {
      upsertSummary(c);
    }
    if (c.id === selectedId) selectedSummary = c;
    renderList();
    if (c.id === selectedId) renderThreadHead(c);
  }
  // The open conversation's latest summary, also once it has left the list (resolved, snoozed).
  let selectedSummary = null;
  const summaryOf = (id) => convs.get(id) || (selectedSummary && selectedSummary.id === id ? selectedSummary : null);

  // Transferred, returned to the queue, resolved or snoozed: no longer in "my open ones".
  function movedAway(c) {
    return (initial.agent && c.assigned_agent_id !== initial.agent.id) || c.status !== "open" || c.state === "snoozed";
  }

  function onInbox(frame) {
    ready = true;
    socket.settled();
    setConnection("online");
    if (frame.agent && typeof frame.agent === "object") initial.agent = frame.agent;
    const previous = selectedId ? convs.get(selectedId) : null;
    convs.clear();
    if (isDefaultQuery()) {
      for (const c of Array.isArray(frame.conversations) ? frame.conversations : []) upsertSummary(c);
      sendFrame({ type: "center.counts", scope: query.scope });
    } else {
      requestPage(""); // after a reconnect: the current filter's first page, afresh
    }
    if (previous && !convs.has(previous.id) && isDefaultQuery() && !movedAway(previous)) convs.set(previous.id, previous);
    readSent.clear();
    renderList();
    if (selectedId) {
      renderThreadHead(summaryOf(selectedId));
      requestOpen(selectedId);
    }
    for (const entry of outbox.list()) sendEntry(entry);
    each("onReady", frame);
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
    if (convs.has(c.id) || (isDefaultQuery() && !movedAway(c))) upsertSummary(c);
    if (c.id === selectedId) selectedSummary = c;
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
      each("onReceipts");
    }
  }

  function onMessage(frame) {
    scheduleRefresh();
    const c = frame.conversation;
    if (isSummary(c) && (convs.has(c.id) || (isDefaultQuery() && !movedAway(c)))) upsertSummary(c);
    if (isSummary(c) && c.id === selectedId) selectedSummary = c;
    const m = frame.message;
    const stick = nearBottom();
    const fresh = isMessage(m) && storeMessage(m);
    if (fresh) each("onNewMessage", m, c);
    if (fresh && showMessage(m)) {
      if (stick || m.sender === "agent") scrollToBottom();
    }
    renderList();
    if (isMessage(m) && m.conversation_id === selectedId) {
      if (isSummary(c)) renderThreadHead(c);
      checkGap();
      markRead();
      each("onReceipts");
    }
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
      each("onReceipts");
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
    if (hook("claimsError", frame)) return; // a module's own frame was refused: it says so
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
    const frame = { type: "message.send", conversation_id: entry.conversation_id, client_id: entry.client_id, body: entry.body };
    if (Array.isArray(entry.attachments) && entry.attachments.length) frame.attachment_ids = entry.attachments.map((a) => a.id);
    return sendFrame(frame);
  }

  // The composer's trimmed text (and the files uploaded for it): into the outbox, on screen as
  // sending, out now if connected.
  function sendReply(body, attachments) {
    if (!selectedId) return false;
    const entry = outbox.add({ conversation_id: selectedId, body, attachments: attachments || [] });
    showPending(entry);
    scrollToBottom();
    if (ready) sendEntry(entry);
    return true;
  }

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

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    markRead();
    socket.wake();
  });
  window.addEventListener("online", () => socket.wake());

  // Keep "waiting N min" fresh.
  setInterval(() => {
    renderList();
    if (selectedId) renderThreadHead(summaryOf(selectedId));
  }, 30000);

  // ---- the modules ------------------------------------------------------------------------------
  app = {
    initial,
    maxBody: MAX_BODY,
    els: { listEl, threadEl, messagesEl, form, input, threadHead },
    send: sendFrame,
    isReady: () => ready,
    selected: () => selectedId,
    summary: summaryOf,
    order: listOrder,
    rowOf: (id) => convEls.get(id) || null,
    socket,
    query: () => query,
    select,
    notice,
    sendReply,
    scrollToBottom,
    nearBottom,
    placeByTime,
    renderList,
    renderHead: () => renderThreadHead(selectedId ? summaryOf(selectedId) : null),
    tagChip,
    channelName: (c) => CHANNELS[c] || c || "",
    stateName: (s) => STATE_LABELS[s] || STATUSES[s] || s || "",
    showMenu: (open) => app.modules.nav && app.modules.nav.showMenu(open),
    modules: {},
  };
  // A module's answer (the first that has one).
  function hook(name, ...args) {
    for (const m of Object.values(app.modules)) {
      if (m && typeof m[name] === "function") {
        const answer = m[name](...args);
        if (answer) return answer;
      }
    }
    return null;
  }
  function each(name, ...args) {
    for (const m of Object.values(app.modules)) {
      if (m && typeof m[name] === "function") m[name](...args);
    }
  }
  for (const name of ["nav", "replies", "notes", "panel", "compose", "life"]) {
    if (typeof HelpdeskInbox[name] === "function") app.modules[name] = HelpdeskInbox[name](app);
  }

  // ---- start ----------------------------------------------------------------------------------
  for (const c of Array.isArray(initial.conversations) ? initial.conversations : []) upsertSummary(c);
  if (isSummary(initial.selected)) {
    selectedSummary = initial.selected;
    if (!movedAway(initial.selected)) upsertSummary(initial.selected);
    loaded.add(initial.selected.id); // the page came with this thread's history
  }
  for (const m of Array.isArray(initial.messages) ? initial.messages : []) storeMessage(m);
  history.replaceState({ conversationId: selectedId }, "", location.href);
  pin();
  renderList();
  renderThread();
  each("onSelect", selectedId);
  socket.connect();

})();
