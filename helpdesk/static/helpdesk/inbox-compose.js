/*
 * The inbox composer: a reply to the visitor or an internal note (the Reply / Note toggle),
 * files (the button, a paste, a drop on the thread; images shown before they go), saved
 * replies with "/" and a search, @mentions of colleagues in notes, and "typing" for the
 * visitor (at most one a second, a stop when the box empties or the reply goes).
 */
(() => {
  "use strict";

  const TYPING_EVERY_MS = 2000; // while the agent types, "typing" again this often (the widget shows it 6 s)

  HelpdeskInbox.compose = function compose(app) {
    const { _, fill, el } = HelpdeskInbox.kit;
    const $ = (id) => document.getElementById(id);
    const form = app.els.form;
    const input = app.els.input;
    const sendBtn = $("reply-send");
    const modeReply = $("mode-reply");
    const modeNote = $("mode-note");
    const picker = $("picker");
    const csrf = () => {
      const node = document.querySelector("input[name=csrfmiddlewaretoken]");
      return node ? node.value : "";
    };
    const agents = (app.initial.targets && app.initial.targets.agents) || [];
    let mode = "reply";
    const mentioned = new Map(); // "@Name" -> agent id, picked in this note

    // ---- reply or note ------------------------------------------------------------------------------
    function setMode(next) {
      mode = next;
      const note = mode === "note";
      form.classList.toggle("is-note", note);
      modeReply.setAttribute("aria-pressed", String(!note));
      modeNote.setAttribute("aria-pressed", String(note));
      input.placeholder = note ? _("Write an internal note… @ to mention a colleague") : _("Write a reply… / for saved replies");
      input.setAttribute("aria-label", note ? _("Internal note") : _("Reply"));
      sendBtn.textContent = note ? _("Add note") : _("Send");
      $("reply-attach").hidden = note;
      $("reply-tray").hidden = note || !tray.items.length;
      if (note) stopTyping();
      closePicker();
    }
    modeReply.addEventListener("click", () => {
      setMode("reply");
      input.focus();
    });
    modeNote.addEventListener("click", () => {
      setMode("note");
      input.focus();
    });

    // ---- files --------------------------------------------------------------------------------------
    const tray = new HelpdeskFiles.Tray($("reply-tray"), {
      limits: app.initial.attachments,
      upload(file, onProgress) {
        const id = app.selected();
        return HelpdeskFiles.post(`/api/v1/agent/conversations/${encodeURIComponent(id)}/attachments`, file, { "X-CSRFToken": csrf() }, onProgress);
      },
    });
    const fileInput = $("reply-file");
    fileInput.addEventListener("change", () => {
      if (app.selected()) tray.add(fileInput.files);
      fileInput.value = "";
      input.focus();
    });
    input.addEventListener("paste", (event) => {
      const files = HelpdeskFiles.fromPaste(event);
      if (!files.length || mode !== "reply" || !app.selected()) return;
      event.preventDefault();
      tray.add(files);
    });
    HelpdeskFiles.dropZone(app.els.threadEl, (files) => {
      if (!app.selected() || form.hidden) return;
      if (mode !== "reply") setMode("reply");
      tray.add(files);
    });

    // ---- typing, for the visitor ----------------------------------------------------------------------
    let typingAt = 0;
    let typingIn = null;
    function mayReply(id) {
      const c = app.summary(id);
      return !!c && c.status === "open" && (!c.assigned_agent_id || c.assigned_agent_id === (app.initial.agent && app.initial.agent.id));
    }
    function typing() {
      const id = app.selected();
      if (mode !== "reply" || !id) return;
      if (!input.value.trim()) {
        stopTyping();
        return;
      }
      if (!mayReply(id) || Date.now() - typingAt < TYPING_EVERY_MS) return;
      if (app.send({ type: "typing", conversation_id: id, active: true })) {
        typingAt = Date.now();
        typingIn = id;
      }
    }
    function stopTyping() {
      if (!typingIn) return;
      app.send({ type: "typing", conversation_id: typingIn, active: false });
      typingIn = null;
      typingAt = 0;
    }
    input.addEventListener("input", () => {
      typing();
      updatePicker();
    });
    input.addEventListener("blur", () => {
      if (!input.value.trim()) stopTyping();
    });

    // ---- "/" saved replies and "@" colleagues: one picker above the box -------------------------------
    let pick = null; // {kind, start, items, active}
    function trigger() {
      const before = input.value.slice(0, input.selectionStart);
      const slash = /(^|\s)\/([^\s\/]{0,40})$/.exec(before);
      if (slash) return { kind: "reply", start: before.length - slash[2].length - 1, q: slash[2] };
      if (mode === "note") {
        const at = /(^|\s)@([\p{L}\p{N}_.-]{0,30})$/u.exec(before);
        if (at) return { kind: "mention", start: before.length - at[2].length - 1, q: at[2] };
      }
      return null;
    }

    function updatePicker() {
      const t = trigger();
      if (!t) {
        closePicker();
        return;
      }
      let items;
      if (t.kind === "reply") {
        const panel = app.modules.panel && app.modules.panel.visitor(app.selected());
        items = app.modules.replies.search(t.q, panel && panel.language).slice(0, 8);
      } else {
        const q = t.q.toLocaleLowerCase();
        items = agents.filter((a) => String(a.name || "").toLocaleLowerCase().includes(q)).slice(0, 8);
      }
      pick = { kind: t.kind, start: t.start, items, active: 0 };
      renderPicker(t);
    }

    function renderPicker(t) {
      const rows = pick.items.map((item, i) => {
        const row = el("div", "pick");
        row.id = `pick-${i}`;
        row.setAttribute("role", "option");
        row.setAttribute("aria-selected", String(i === pick.active));
        if (pick.kind === "reply") {
          const top = el("span", "pick-top");
          top.append(el("span", "pick-title", item.title));
          if (item.shortcut) top.append(el("span", "pick-shortcut", `/${item.shortcut}`));
          if (item.team) top.append(el("span", "pick-team", item.team.name));
          row.append(top, el("span", "pick-body", app.modules.replies.filled(item.body)));
        } else {
          row.append(el("span", "pick-title", item.name));
        }
        row.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus in the box
        row.addEventListener("click", () => choose(i));
        return row;
      });
      const label = pick.kind === "reply" ? _("Saved replies") : _("Mention a colleague");
      const head = el("div", "pick-head", label);
      head.id = "picker-head";
      const options = el("div", "pick-options");
      options.id = "picker-list";
      options.setAttribute("role", "listbox");
      options.setAttribute("aria-labelledby", "picker-head");
      options.append(...rows);
      const parts = [head, options];
      if (!rows.length) {
        parts.push(el("p", "pick-empty", pick.kind === "reply"
          ? (t.q ? fill(_("No saved reply matches “%(q)s”."), { q: t.q }) : _("No saved replies yet."))
          : _("No colleague by that name.")));
      }
      if (pick.kind === "reply") {
        const manage = el("button", "pick-manage", _("Manage saved replies…"));
        manage.type = "button";
        manage.addEventListener("mousedown", (event) => event.preventDefault());
        manage.addEventListener("click", () => {
          closePicker();
          app.modules.replies.open();
        });
        parts.push(manage);
      }
      picker.replaceChildren(...parts);
      picker.hidden = false;
      input.setAttribute("aria-controls", "picker-list");
      if (rows.length) input.setAttribute("aria-activedescendant", `pick-${pick.active}`);
      else input.removeAttribute("aria-activedescendant");
      const active = picker.querySelector('[aria-selected="true"]');
      if (active) active.scrollIntoView({ block: "nearest" });
    }

    function closePicker() {
      pick = null;
      picker.hidden = true;
      picker.replaceChildren();
      input.removeAttribute("aria-activedescendant");
      input.removeAttribute("aria-controls");
    }

    function choose(i) {
      if (!pick || !pick.items[i]) return;
      const item = pick.items[i];
      const end = input.selectionStart;
      let text;
      if (pick.kind === "reply") {
        text = app.modules.replies.filled(item.body);
      } else {
        const handle = `@${String(item.name).split(/\s+/)[0]}`;
        mentioned.set(handle, item.id);
        text = `${handle} `;
      }
      input.setRangeText(text, pick.start, end, "end");
      closePicker();
      input.dispatchEvent(new Event("input", { bubbles: true })); // resize, count, typing
      input.focus();
    }

    function intercept(event) {
      if (!pick) return false;
      if (event.key === "Escape") {
        closePicker();
        event.preventDefault();
        event.stopPropagation();
        return true;
      }
      if (!pick.items.length) return false;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        const n = pick.items.length;
        pick.active = (pick.active + (event.key === "ArrowDown" ? 1 : n - 1)) % n;
        renderPicker({ q: "" });
        return true;
      }
      if ((event.key === "Enter" && !event.shiftKey) || event.key === "Tab") {
        event.preventDefault();
        choose(pick.active);
        return true;
      }
      return false;
    }
    input.addEventListener("click", updatePicker);
    input.addEventListener("blur", () => setTimeout(() => {
      if (document.activeElement !== input) closePicker();
    }, 150));

    $("replies-open").addEventListener("click", () => {
      input.focus();
      const at = input.selectionStart;
      const before = input.value.slice(0, at);
      if (!/(^|\s)\/[^\s\/]*$/.test(before)) input.setRangeText(before && !/\s$/.test(before) ? " /" : "/", at, input.selectionEnd, "end");
      updatePicker();
    });

    // ---- sending ------------------------------------------------------------------------------------
    HelpdeskComposer.attach(form, input, {
      maxHeight: 200,
      maxLength: app.maxBody,
      intercept,
      allowEmpty: () => mode === "reply" && tray.ready().length > 0,
      onSubmit(body) {
        if (mode === "note") {
          const ids = Array.from(mentioned).filter(([handle]) => body.includes(handle)).map(([, id]) => id);
          mentioned.clear();
          return app.modules.notes.add(body, ids);
        }
        if (tray.busy()) {
          app.notice(_("Your files are still uploading: send again in a moment."));
          return false;
        }
        const files = tray.ready();
        if (!app.sendReply(body, files)) return false;
        tray.clear();
        stopTyping();
        return true;
      },
      onTooLong: (max) => app.notice(fill(_("A reply can be at most %(max)s characters."), { max })),
      onKeydown(event) {
        if (event.key !== "Escape") return;
        input.blur();
        const a = app.selected() && app.els.listEl.querySelector(`a.conv[data-conversation-id="${CSS.escape(app.selected())}"]`);
        if (a) a.focus();
      },
    });

    setMode("reply");
    return {
      onSelect() {
        stopTyping();
        tray.clear(); // files are uploaded for one conversation
        mentioned.clear();
        closePicker();
        if (mode === "note") setMode("reply");
      },
      // The conversation can take a reply now (open), or not (resolved: the banner says why).
      setEnabled(on) {
        input.disabled = !on;
        sendBtn.disabled = !on;
        fileInput.disabled = !on;
        form.classList.toggle("is-disabled", !on);
      },
    };
  };
})();
