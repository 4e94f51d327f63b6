/*
 * The conversation's life in the inbox: Claim from the Unassigned view, Resolve (and go to
 * the next), Reopen, Snooze until a time (an hour, tomorrow 9:00, next Monday 9:00, or a date
 * and time of one's choosing, in the agent's own zone) and wake; a banner that says where a
 * conversation stands (the composer is off while it is resolved). Also the visitor typing
 * (and what they type, on sites that allow it), and the messages a search finds.
 */
(() => {
  "use strict";

  const TYPING_SHOWN_MS = 6000; // without news, "typing…" goes after this long

  HelpdeskInbox.life = function life(app) {
    const { _, fill, el, visitorName, fillTime, timeFmt } = HelpdeskInbox.kit;
    const $ = (id) => document.getElementById(id);
    const claimBtn = $("claim");
    const resolveBtn = $("resolve-send");
    const reopenBtn = $("reopen");
    const moreBtn = $("more-toggle");
    const moreMenu = $("more-menu");
    const banner = $("thread-banner");
    const typingEl = $("thread-typing");
    const snoozedUntil = new Map(); // conversation id -> ISO time (the ones snoozed here)
    const more = HelpdeskInbox.kit.menu(moreBtn, moreMenu);

    const act = (type, extra) => {
      const id = app.selected();
      if (id) app.send(Object.assign({ type, conversation_id: id }, extra || {}));
      more.close();
    };

    // ---- the head's actions and the banner ----------------------------------------------------------
    function render(c) {
      const id = app.selected();
      if (!c || !id) {
        banner.hidden = true;
        return;
      }
      const resolved = c.status === "resolved";
      const snoozed = c.state === "snoozed";
      const queued = c.status === "open" && !c.assigned_agent_id;
      claimBtn.hidden = !queued;
      resolveBtn.hidden = resolved;
      reopenBtn.hidden = !resolved;
      $("resolve-next").hidden = resolved;
      $("snooze-wake").hidden = !snoozed;
      for (const node of moreMenu.querySelectorAll(".snooze-choice")) node.hidden = resolved;
      if (app.modules.compose) app.modules.compose.setEnabled(!resolved);

      let text = "";
      let action = null;
      if (resolved) {
        text = _("This conversation is resolved: the visitor's next message starts a new one. Reopen it to write here again.");
        action = button(_("Reopen"), () => act("conversation.reopen"));
      } else if (snoozed) {
        const until = snoozedUntil.get(id);
        text = until
          ? fill(_("Snoozed until %(when)s. It comes back as unread then, or as soon as the visitor writes."), { when: whenText(until) })
          : _("Snoozed. It comes back as unread at its time, or as soon as the visitor writes.");
        action = button(_("Wake now"), () => act("conversation.snooze", { until: null }));
      } else if (queued) {
        text = _("Unassigned: waiting in the queue. Claim it, or simply reply, to make it yours.");
        action = button(_("Claim"), () => act("conversation.claim"));
      }
      banner.hidden = !text;
      banner.dataset.kind = resolved ? "resolved" : snoozed ? "snoozed" : queued ? "queue" : "";
      banner.replaceChildren(el("span", "banner-text", text), ...(action ? [action] : []));
    }

    function button(label, onClick) {
      const b = el("button", "btn btn-sm banner-action", label);
      b.type = "button";
      b.addEventListener("click", onClick);
      return b;
    }

    const dayFmt = new Intl.DateTimeFormat(HelpdeskInbox.kit.LOCALE, { weekday: "short", day: "numeric", month: "short" });
    function whenText(iso) {
      const d = new Date(iso);
      if (Number.isNaN(d.getTime())) return "";
      return `${dayFmt.format(d)} ${timeFmt.format(d)}`;
    }

    claimBtn.addEventListener("click", () => act("conversation.claim"));
    resolveBtn.addEventListener("click", () => act("conversation.resolve"));
    reopenBtn.addEventListener("click", () => act("conversation.reopen"));
    $("resolve-next").addEventListener("click", () => {
      const id = app.selected();
      const next = id && neighbour(id);
      act("conversation.resolve");
      if (next) app.select(next, { focusReply: window.matchMedia("(pointer: fine)").matches });
    });

    // ---- snooze: in the agent's own time zone (the browser's) -----------------------------------------
    function snooze(date) {
      if (!(date instanceof Date) || Number.isNaN(date.getTime()) || date.getTime() <= Date.now()) {
        app.notice(_("Pick a time in the future."));
        return;
      }
      const id = app.selected();
      const until = date.toISOString();
      if (id) snoozedUntil.set(id, until);
      act("conversation.snooze", { until });
      app.notice(fill(_("Snoozed until %(when)s."), { when: whenText(until) }));
    }
    function at9(daysAhead) {
      const d = new Date();
      d.setDate(d.getDate() + daysAhead);
      d.setHours(9, 0, 0, 0);
      return d;
    }
    $("snooze-hour").addEventListener("click", () => snooze(new Date(Date.now() + 3600 * 1000)));
    $("snooze-tomorrow").addEventListener("click", () => snooze(at9(1)));
    $("snooze-monday").addEventListener("click", () => {
      const day = new Date().getDay(); // 0 Sunday … 6 Saturday
      snooze(at9(((8 - day) % 7) || 7));
    });
    $("snooze-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("snooze-at").value; // local time, "2026-11-26T09:00"
      snooze(value ? new Date(value) : null);
    });
    $("snooze-wake").addEventListener("click", () => act("conversation.snooze", { until: null }));

    // ---- the visitor typing ---------------------------------------------------------------------------
    const typing = new Map(); // conversation id -> {until, preview}
    let typingTimer = null;
    function renderTyping() {
      clearTimeout(typingTimer);
      const now = Date.now();
      for (const [id, t] of typing) if (t.until <= now) typing.delete(id);
      const id = app.selected();
      const t = id && typing.get(id);
      typingEl.hidden = !t;
      if (t) {
        const c = app.summary(id);
        const line = el("span", "typing-who", fill(_("%(name)s is typing…"), { name: visitorName(c) }));
        const dots = el("span", "typing-dots");
        dots.setAttribute("aria-hidden", "true");
        dots.append(el("i"), el("i"), el("i"));
        typingEl.replaceChildren(dots, line, ...(t.preview ? [el("span", "typing-preview", `“${t.preview}”`)] : []));
      }
      if (typing.size) typingTimer = setTimeout(() => {
        renderTyping();
        app.renderList();
      }, 1000);
    }

    // ---- messages a search finds --------------------------------------------------------------------
    let hits = [];
    let hitsQuery = "";
    let jumpTo = null; // {conversation_id, message_id}: show this message once its thread is in
    function renderHits() {
      let box = app.els.listEl.querySelector(".search-hits");
      const q = app.query().q;
      if (!q || !hits.length || hitsQuery !== q) {
        if (box) box.remove();
        return;
      }
      if (!box) {
        box = el("section", "search-hits");
        box.setAttribute("aria-label", _("Messages"));
      }
      const items = hits.map(({ message: m, conversation: c }) => {
        const a = el("a", "hit");
        a.href = `/inbox/${encodeURIComponent(c.id)}/`;
        a.dataset.conversationId = c.id;
        a.dataset.messageId = m.id;
        const top = el("span", "hit-top");
        const time = el("time", "hit-time");
        fillTime(time, m.created_at);
        top.append(el("span", "hit-name", visitorName(c)), time);
        a.append(top, snippet(m.body || "", q));
        a.addEventListener("click", (event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          jumpTo = { conversation_id: c.id, message_id: m.id };
          if (app.selected() === c.id) jump();
          else app.select(c.id);
        });
        return a;
      });
      box.replaceChildren(el("h2", "hits-title", fill(_("Messages that mention “%(q)s”"), { q })), ...items);
      app.els.listEl.appendChild(box);
    }

    // The words of the search marked in the message (text nodes only).
    function snippet(body, q) {
      const box = el("span", "hit-body");
      const words = q.split(/\s+/).filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
      const text = body.replace(/\s+/g, " ");
      const first = words.length ? text.search(new RegExp(words.join("|"), "i")) : -1;
      const start = Math.max(0, first - 40);
      const shown = (start ? "…" : "") + text.slice(start, start + 160);
      if (!words.length) {
        box.textContent = shown;
        return box;
      }
      let at = 0;
      for (const m of shown.matchAll(new RegExp(words.join("|"), "gi"))) {
        box.append(document.createTextNode(shown.slice(at, m.index)), el("mark", null, m[0]));
        at = m.index + m[0].length;
      }
      box.append(document.createTextNode(shown.slice(at)));
      return box;
    }

    function jump() {
      if (!jumpTo || jumpTo.conversation_id !== app.selected()) return;
      const li = app.els.messagesEl.querySelector(`li[data-id="${CSS.escape(jumpTo.message_id)}"]`);
      if (!li) return;
      jumpTo = null;
      li.scrollIntoView({ block: "center" });
      li.classList.add("is-found");
      setTimeout(() => li.classList.remove("is-found"), 2500);
    }

    // ---- delivered and seen, from the visitor's side: under the agent's latest reply ------------------
    function renderReceipts() {
      const id = app.selected();
      const c = id && app.summary(id);
      let last = null;
      for (const li of app.els.messagesEl.querySelectorAll("li.msg--agent[data-seq]")) {
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

    // The conversation after (else before) `id` in the list, for "resolve and go to the next".
    function neighbour(id) {
      const order = app.order().filter((c) => c.status === "open");
      const at = order.findIndex((c) => c.id === id);
      if (at < 0) return order[0] ? order[0].id : null;
      const next = order[at + 1] || order[at - 1];
      return next ? next.id : null;
    }

    return {
      onReceipts: renderReceipts,
      typingText(id) {
        const t = typing.get(id);
        return t && t.until > Date.now() ? _("typing…") : null;
      },
      hitCount: () => (app.query().q && hitsQuery === app.query().q ? hits.length : 0),
      onHead: render,
      onSelect() {
        more.close();
        renderTyping();
      },
      onQuery(query) {
        if (query.q && query.q.length >= 2) app.send({ type: "search.messages", q: query.q });
        else {
          hits = [];
          hitsQuery = "";
          renderHits();
        }
      },
      onFrame(frame) {
        if (frame.type === "typing" && typeof frame.conversation_id === "string") {
          if (frame.active) typing.set(frame.conversation_id, { until: Date.now() + TYPING_SHOWN_MS, preview: frame.preview || "" });
          else typing.delete(frame.conversation_id);
          renderTyping();
          app.renderList();
        } else if (frame.type === "message" && frame.message && frame.message.sender === "visitor") {
          if (typing.delete(frame.message.conversation_id)) renderTyping();
        } else if (frame.type === "search.results") {
          if (frame.query !== app.query().q) return; // an answer to an earlier search
          hits = Array.isArray(frame.results) ? frame.results.filter((r) => r && r.message && r.conversation) : [];
          hitsQuery = frame.query;
          renderHits();
          app.renderList();
        } else if (frame.type === "history") {
          jump();
        } else if (frame.type === "receipt") {
          const c = app.summary(frame.conversation_id);
          if (c) {
            c.visitor_delivered_seq = Math.max(c.visitor_delivered_seq || 0, frame.delivered_seq || 0);
            c.visitor_seen_seq = Math.max(c.visitor_seen_seq || 0, frame.seen_seq || 0);
          }
          if (frame.conversation_id === app.selected()) renderReceipts();
        } else if (frame.type === "conversation" && frame.conversation && frame.conversation.state !== "snoozed") {
          snoozedUntil.delete(frame.conversation.id);
        }
      },
      onThread: () => setTimeout(jump, 0),
    };
  };
})();
