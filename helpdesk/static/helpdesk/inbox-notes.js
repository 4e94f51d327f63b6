/*
 * Internal notes (docs/protocol.md, note.add): staff-only lines in the thread, set apart from
 * the replies (a note is not a message: no seq, never seen by the visitor), with @mentions of
 * colleagues. A note written while offline waits here and goes with its client_id on the next
 * connection; the server answers a repeated client_id with the same note. A colleague who is
 * mentioned is told here, in their inbox, with a link to the conversation.
 */
(() => {
  "use strict";

  HelpdeskInbox.notes = function notes(app) {
    const { _, fill, el, fillTime, parseTime, visitorName } = HelpdeskInbox.kit;
    const held = new Map(); // conversation id -> Map(note id -> Note)
    const outbox = new HelpdeskCore.Outbox(); // {conversation_id, client_id, body, mention_ids}
    const pendingEls = new Map(); // client_id -> <li>
    const mentionedIn = new Set(); // conversations with a mention of me not yet opened
    const me = () => (app.initial.agent && app.initial.agent.id) || null;

    function heldFor(id) {
      if (!held.has(id)) held.set(id, new Map());
      return held.get(id);
    }

    // The body with its @mentions marked (text nodes only: a note is never markup).
    function bodyOf(note) {
      const box = el("div", "note-body");
      const names = (Array.isArray(note.mentions) ? note.mentions : []).map((m) => String(m.name || "")).filter(Boolean);
      const text = String(note.body || "");
      if (!names.length) {
        box.textContent = text;
        return box;
      }
      const escaped = names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|");
      const pattern = new RegExp(`@(${escaped})\\b`, "giu");
      let at = 0;
      for (const m of text.matchAll(pattern)) {
        box.append(document.createTextNode(text.slice(at, m.index)), el("mark", "mention", m[0]));
        at = m.index + m[0].length;
      }
      box.append(document.createTextNode(text.slice(at)));
      return box;
    }

    function build(note, pending) {
      const li = el("li", "msg msg--note");
      const head = el("div", "note-head");
      head.append(el("span", "note-label", _("Internal note")), el("span", "note-author", note.agent_name || (app.initial.agent && app.initial.agent.name) || ""));
      const time = el("time", "note-time");
      fillTime(time, note.created_at);
      head.appendChild(time);
      li.append(head, bodyOf(note));
      if (pending) {
        li.dataset.clientId = note.client_id;
        li.dataset.state = "sending";
        head.appendChild(el("span", "msg-mark", _("Saving…")));
      } else {
        li.dataset.id = note.id;
        li.dataset.at = String(parseTime(note.created_at) ?? 0);
      }
      return li;
    }

    function shown(note) {
      return !!app.els.messagesEl.querySelector(`li.msg--note[data-id="${CSS.escape(note.id)}"]`);
    }

    function show(note) {
      if (note.conversation_id !== app.selected() || shown(note)) return;
      const stick = app.nearBottom();
      const pending = note.client_id ? pendingEls.get(note.client_id) : null;
      if (pending) {
        pending.remove();
        pendingEls.delete(note.client_id);
      }
      app.placeByTime(build(note, false), parseTime(note.created_at) ?? Date.now());
      if (stick || pending) app.scrollToBottom();
    }

    function showPending(entry) {
      if (entry.conversation_id !== app.selected() || pendingEls.has(entry.client_id)) return;
      const li = build({ ...entry, mentions: [] }, true);
      pendingEls.set(entry.client_id, li);
      app.els.messagesEl.appendChild(li);
    }

    function store(note) {
      if (!note || typeof note.id !== "string" || typeof note.conversation_id !== "string") return false;
      const map = heldFor(note.conversation_id);
      const fresh = !map.has(note.id);
      map.set(note.id, note);
      if (note.client_id) outbox.remove(note.client_id);
      return fresh;
    }

    function sendEntry(entry) {
      return app.send({ type: "note.add", conversation_id: entry.conversation_id, client_id: entry.client_id, body: entry.body, mention_ids: entry.mention_ids || [] });
    }

    // ---- a colleague mentioned me -------------------------------------------------------------------
    let tray = null;
    function toast(note) {
      if (!tray) {
        tray = el("div", "mention-toasts");
        tray.id = "mention-toasts";
        tray.setAttribute("aria-live", "polite");
        tray.setAttribute("aria-label", _("Mentions"));
        document.body.appendChild(tray);
      }
      const c = app.summary(note.conversation_id);
      const card = el("div", "mention-toast");
      card.dataset.conversationId = note.conversation_id;
      const title = el("p", "mention-title", fill(_("%(name)s mentioned you"), { name: note.agent_name || _("A colleague") }));
      const where = c ? el("p", "mention-where", fill(_("In the conversation with %(visitor)s"), { visitor: visitorName(c) })) : null;
      const excerpt = el("p", "mention-excerpt", String(note.body || "").slice(0, 160));
      const actions = el("div", "mention-actions");
      const openLink = el("a", "btn btn-primary btn-sm mention-open", _("Open"));
      openLink.href = `/inbox/${encodeURIComponent(note.conversation_id)}/`;
      openLink.addEventListener("click", (event) => {
        if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
        event.preventDefault();
        card.remove();
        app.select(note.conversation_id);
      });
      const dismiss = el("button", "btn btn-ghost btn-sm", _("Dismiss"));
      dismiss.type = "button";
      dismiss.addEventListener("click", () => card.remove());
      actions.append(openLink, dismiss);
      card.append(title, ...(where ? [where] : []), excerpt, actions);
      tray.prepend(card);
      while (tray.children.length > 3) tray.lastElementChild.remove();
    }

    return {
      // Called by the composer in note mode: into the outbox, on screen as saving, out now.
      add(body, mentionIds) {
        const id = app.selected();
        if (!id) return false;
        const entry = outbox.add({ conversation_id: id, body, mention_ids: mentionIds || [] });
        showPending(entry);
        app.scrollToBottom();
        if (app.isReady()) sendEntry(entry);
        return true;
      },
      mentioned: (id) => mentionedIn.has(id),
      onThread(id) {
        pendingEls.clear();
        if (!id) return;
        const list = Array.from(heldFor(id).values()).sort((a, b) => (parseTime(a.created_at) ?? 0) - (parseTime(b.created_at) ?? 0));
        for (const note of list) app.placeByTime(build(note, false), parseTime(note.created_at) ?? 0);
        for (const entry of outbox.list()) showPending(entry);
      },
      onSelect(id) {
        if (id && mentionedIn.delete(id)) app.renderList();
        if (id && tray) for (const card of tray.querySelectorAll(`[data-conversation-id="${CSS.escape(id)}"]`)) card.remove();
      },
      onReady() {
        for (const entry of outbox.list()) sendEntry(entry);
      },
      onFrame(frame) {
        if (frame.type === "history" && Array.isArray(frame.notes) && frame.conversation) {
          for (const note of frame.notes) if (store(note)) show(note);
        } else if (frame.type === "note.ack" && frame.note) {
          store(frame.note);
          show(frame.note);
        } else if (frame.type === "note" && frame.note) {
          const note = frame.note;
          const fresh = store(note);
          show(note);
          const forMe = (note.mentions || []).some((m) => m.id === me()) && note.agent_id !== me();
          if (fresh && forMe) {
            if (note.conversation_id !== app.selected() || document.visibilityState !== "visible") {
              mentionedIn.add(note.conversation_id);
              toast(note);
              app.renderList();
            }
          }
        }
      },
      // A note refused for good (too long, the conversation gone): said on the note itself.
      claimsError(frame) {
        const entry = typeof frame.client_id === "string" ? outbox.get(frame.client_id) : null;
        if (!entry) return false;
        outbox.remove(frame.client_id);
        const li = pendingEls.get(frame.client_id);
        if (li) {
          li.dataset.state = "failed";
          const mark = li.querySelector(".msg-mark");
          if (mark) {
            mark.textContent = frame.detail || _("Not saved");
            mark.classList.add("is-failed");
          }
        } else {
          app.notice(frame.detail || _("A note could not be saved."));
        }
        return true;
      },
    };
  };
})();
