/*
 * Saved replies in the inbox (docs/protocol.md, "Saved replies"): the agent's own and their
 * teams', found by title, shortcut or text for the composer's "/" picker, their placeholders
 * filled ({visitor_name}, {agent_name}, {site_name}), and managed here: create, edit and
 * delete one's own (and a team's, for its managers); the others are shown read-only.
 */
(() => {
  "use strict";

  HelpdeskInbox.replies = function replies(app) {
    const { _, fill, el, icon, nameOf } = HelpdeskInbox.kit;
    let list = Array.isArray(app.initial.replies) ? app.initial.replies : [];
    let saving = false;
    let editingId = null; // the reply in the form (null: a new one)
    const LANGUAGES = [["", _("Any language")], ["en", "English"], ["zh-hans", "简体中文"]];

    // ---- finding one --------------------------------------------------------------------------------
    const norm = (s) => String(s || "").toLocaleLowerCase();
    // Best first: the shortcut, then the title, then the text; the visitor's language first.
    function search(q, language) {
      const want = norm(q).trim();
      const lang = norm(language).split("-")[0];
      const scored = [];
      for (const r of list) {
        let score = 0;
        if (!want) score = 1;
        else if (norm(r.shortcut) === want) score = 5;
        else if (norm(r.shortcut).startsWith(want)) score = 4;
        else if (norm(r.title).includes(want)) score = 3;
        else if (norm(r.body).includes(want)) score = 2;
        if (!score) continue;
        if (lang && r.language && norm(r.language).split("-")[0] === lang) score += 0.5;
        scored.push([score, r]);
      }
      return scored.sort((a, b) => b[0] - a[0] || String(a[1].title).localeCompare(String(b[1].title))).map((x) => x[1]);
    }

    // The placeholders, from what the inbox knows of this conversation.
    function filled(body) {
      const id = app.selected();
      const panel = app.modules.panel && app.modules.panel.visitor(id);
      const c = app.summary(id);
      const values = {
        visitor_name: panel ? nameOf(panel.name || panel.display_name) : c ? nameOf(c.visitor && c.visitor.name) : "",
        agent_name: (app.initial.agent && app.initial.agent.name) || "",
        site_name: app.initial.site_name || (panel && panel.site_name) || "",
      };
      return String(body || "").replace(/\{(visitor_name|agent_name|site_name)\}/g, (whole, key) => values[key] || whole);
    }

    // ---- managing them ------------------------------------------------------------------------------
    let dialog = null;
    function build() {
      dialog = el("dialog", "replies-dialog");
      dialog.id = "replies-dialog";
      dialog.setAttribute("aria-labelledby", "replies-title");
      const head = el("div", "replies-head");
      const title = el("h2", null, _("Saved replies"));
      title.id = "replies-title";
      const close = el("button", "icon-btn");
      close.type = "button";
      close.setAttribute("aria-label", _("Close"));
      close.appendChild(icon("close"));
      close.addEventListener("click", () => dialog.close());
      head.append(title, close);
      const body = el("div", "replies-body");
      const items = el("div", "replies-list");
      items.id = "replies-list";
      body.append(items, form());
      dialog.append(head, body);
      dialog.addEventListener("close", () => {
        editingId = null;
        saving = false;
      });
      document.body.appendChild(dialog);
    }

    function form() {
      const f = el("form", "replies-form");
      f.id = "replies-form";
      const heading = el("h3", null, _("New saved reply"));
      heading.id = "replies-form-title";
      const field = (label, control) => {
        const wrap = el("label", "replies-field");
        wrap.append(el("span", null, label), control);
        return wrap;
      };
      const title = el("input");
      title.id = "reply-title";
      title.required = true;
      title.maxLength = 100;
      const shortcut = el("input");
      shortcut.id = "reply-shortcut";
      shortcut.maxLength = 40;
      shortcut.pattern = "[-a-zA-Z0-9_]+";
      shortcut.placeholder = _("e.g. refund");
      const language = el("select");
      language.id = "reply-language";
      for (const [value, label] of LANGUAGES) language.appendChild(Object.assign(el("option", null, label), { value }));
      const team = el("select");
      team.id = "reply-team";
      team.appendChild(Object.assign(el("option", null, _("Only me")), { value: "" }));
      for (const g of (app.initial.targets && app.initial.targets.groups) || []) {
        team.appendChild(Object.assign(el("option", null, fill(_("Team: %(name)s"), { name: g.name })), { value: String(g.id) }));
      }
      const text = el("textarea");
      text.id = "reply-body";
      text.required = true;
      text.maxLength = 4000;
      text.rows = 5;
      const hint = el("p", "replies-hint", _("Placeholders: {visitor_name}, {agent_name}, {site_name}"));
      const error = el("p", "replies-error");
      error.id = "replies-error";
      error.setAttribute("role", "alert");
      const save = el("button", "btn btn-primary btn-sm", _("Save reply"));
      save.type = "submit";
      save.id = "reply-save";
      const fresh = el("button", "btn btn-ghost btn-sm", _("New"));
      fresh.type = "button";
      fresh.addEventListener("click", () => edit(null));
      const actions = el("div", "replies-actions");
      actions.append(save, fresh);
      const row = el("div", "replies-row");
      row.append(field(_("Shortcut"), shortcut), field(_("Language"), language));
      const teamField = field(_("Who can use it"), team);
      teamField.hidden = !app.initial.manager; // teams' replies are their managers' to keep
      f.append(heading, field(_("Title"), title), row, teamField, field(_("Text"), text), hint, error, actions);
      f.addEventListener("submit", (event) => {
        event.preventDefault();
        error.textContent = "";
        const frame = {
          type: "replies.save",
          title: title.value.trim(),
          body: text.value.trim(),
          shortcut: shortcut.value.trim(),
          language: language.value,
          group_id: team.value ? Number(team.value) : null,
        };
        if (editingId) frame.id = editingId;
        if (!app.send(frame)) {
          error.textContent = _("Not connected: try again in a moment.");
          return;
        }
        saving = true;
      });
      return f;
    }

    function edit(reply) {
      editingId = reply ? reply.id : null;
      const $ = (id) => document.getElementById(id);
      $("replies-form-title").textContent = reply ? _("Edit saved reply") : _("New saved reply");
      $("reply-title").value = reply ? reply.title : "";
      $("reply-shortcut").value = reply ? reply.shortcut || "" : "";
      $("reply-language").value = reply ? reply.language || "" : "";
      $("reply-team").value = reply && reply.team ? String(reply.team.id) : "";
      $("reply-body").value = reply ? reply.body : "";
      $("replies-error").textContent = "";
      $("reply-title").focus();
    }

    function renderList() {
      if (!dialog) return;
      const box = document.getElementById("replies-list");
      if (!list.length) {
        box.replaceChildren(el("p", "replies-empty", _("No saved replies yet. Write one below; then type / in a reply to use it.")));
        return;
      }
      const items = list.map((r) => {
        const item = el("div", "replies-item");
        const text = el("div", "replies-item-text");
        const top = el("div", "replies-item-top");
        top.append(el("span", "replies-item-title", r.title));
        if (r.shortcut) top.append(el("span", "replies-shortcut", `/${r.shortcut}`));
        top.append(el("span", "replies-owner", r.team ? fill(_("Team: %(name)s"), { name: r.team.name }) : _("Mine")));
        text.append(top, el("p", "replies-item-body", r.body));
        item.appendChild(text);
        if (r.editable) {
          const actions = el("div", "replies-item-actions");
          const change = el("button", "btn btn-ghost btn-sm", _("Edit"));
          change.type = "button";
          change.setAttribute("aria-label", fill(_("Edit %(title)s"), { title: r.title }));
          change.addEventListener("click", () => edit(r));
          const remove = el("button", "btn btn-ghost btn-sm replies-delete", _("Delete"));
          remove.type = "button";
          remove.setAttribute("aria-label", fill(_("Delete %(title)s"), { title: r.title }));
          remove.addEventListener("click", () => {
            if (window.confirm(fill(_("Delete the saved reply “%(title)s”?"), { title: r.title }))) app.send({ type: "replies.delete", id: r.id });
          });
          actions.append(change, remove);
          item.appendChild(actions);
        } else {
          item.appendChild(el("span", "replies-readonly", _("Read only")));
        }
        return item;
      });
      box.replaceChildren(...items);
    }

    function open() {
      if (!dialog) build();
      renderList();
      edit(null);
      if (!dialog.open) dialog.showModal();
    }

    const manage = document.getElementById("replies-manage");
    if (manage) {
      manage.addEventListener("click", () => {
        app.showMenu(false);
        open();
      });
    }

    return {
      all: () => list,
      search,
      filled,
      open,
      modalOpen: () => !!(dialog && dialog.open),
      onFrame(frame) {
        if ((frame.type === "inbox" || frame.type === "replies") && Array.isArray(frame.replies)) {
          list = frame.replies;
          if (frame.type === "replies" && saving) {
            saving = false;
            edit(null);
            app.notice(_("Saved replies updated."));
          }
          renderList();
        }
      },
      claimsError(frame) {
        if (!saving || frame.client_id) return false;
        saving = false;
        const error = document.getElementById("replies-error");
        if (error) {
          error.textContent = frame.code === "not_found" ? _("Only a team's managers may keep its replies.") : frame.detail || _("That was not saved.");
        }
        return true;
      },
    };
  };
})();
