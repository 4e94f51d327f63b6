/*
 * The visitor beside the thread (docs/protocol.md, "The visitor panel"): who they are (name,
 * email and whether it is confirmed, the host site's ID), where they are (their local time,
 * language, device, the page they are on and the ones before, where they came from), their
 * past conversations one click away, tags and transfer. Agents correct the name and email
 * (visitor.update). A third column on wide screens, a sheet (a dialog) on narrower ones.
 */
(() => {
  "use strict";

  HelpdeskInbox.panel = function panel(app) {
    const { _, fill, el, icon, fullTime, avatarHue, nameOf, initialOf, visitorName, LOCALE } = HelpdeskInbox.kit;
    const $ = (id) => document.getElementById(id);
    const detailsEl = $("details");
    const root = $("visitor-panel");
    const panels = new Map(); // conversation id -> Visitor panel
    let editing = false;
    let saving = false;
    let clockTimer = null;

    // ---- words for what the panel shows ---------------------------------------------------------
    const languageNames = (() => {
      try {
        return new Intl.DisplayNames([LOCALE || "en"], { type: "language" });
      } catch (_) {
        return null;
      }
    })();
    function languageName(code) {
      if (!code) return "";
      try {
        const name = languageNames && languageNames.of(code);
        return name && name !== code ? `${name} (${code})` : code;
      } catch (_) {
        return code;
      }
    }

    // The visitor's clock now, in their zone (and the zone's name).
    function localTime(zone) {
      if (!zone) return "";
      try {
        return new Intl.DateTimeFormat(LOCALE, { timeZone: zone, weekday: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(new Date());
      } catch (_) {
        return "";
      }
    }

    function ago(iso) {
      const ms = Date.parse(iso || "");
      if (Number.isNaN(ms)) return "";
      const minutes = Math.max(0, Math.round((Date.now() - ms) / 60000));
      if (minutes < 1) return _("just now");
      if (minutes < 60) return fill(_("%(n)s min ago"), { n: minutes });
      const hours = Math.round(minutes / 60);
      if (hours < 48) return fill(_("%(n)s h ago"), { n: hours });
      return fill(_("%(n)s days ago"), { n: Math.round(hours / 24) });
    }

    const webUrl = (url) => (typeof url === "string" && /^https?:\/\//i.test(url) ? url : null);
    function shortUrl(url) {
      try {
        const u = new URL(url);
        return (u.host + u.pathname + u.search).replace(/\/$/, "");
      } catch (_) {
        return String(url || "");
      }
    }

    function fact(label, value, className) {
      if (value == null || value === "") return null;
      const row = el("div", className || null);
      row.append(el("dt", null, label));
      const dd = el("dd");
      if (value instanceof Node) dd.appendChild(value);
      else dd.textContent = String(value);
      row.appendChild(dd);
      return row;
    }

    function section(title, ...content) {
      const box = el("section", "details-section vp-section");
      box.append(el("h3", null, title), ...content.filter(Boolean));
      return box;
    }

    // ---- the panel --------------------------------------------------------------------------------
    function render() {
      clearInterval(clockTimer);
      const id = app.selected();
      if (!id) {
        root.replaceChildren();
        return;
      }
      const c = app.summary(id);
      const v = panels.get(id) || null;
      const name = v ? nameOf(v.display_name || v.name) : visitorName(c);

      const head = el("div", "vp-head");
      const avatar = el("span", "vp-avatar", initialOf(name));
      avatar.setAttribute("aria-hidden", "true");
      avatar.style.setProperty("--hue", String(avatarHue(v ? v.id : c && c.visitor && c.visitor.id)));
      const who = el("div", "vp-who");
      const title = el("p", "vp-name", name);
      title.id = "vp-name";
      who.appendChild(title);
      if (v && v.email) {
        const email = el("p", "vp-email");
        const link = el("a", null, v.email);
        link.href = `mailto:${v.email}`;
        email.append(link, el("span", `vp-badge ${v.email_verified ? "vp-badge--ok" : "vp-badge--no"}`, v.email_verified ? _("Confirmed") : _("Not confirmed")));
        who.appendChild(email);
      } else if (v) {
        who.appendChild(el("p", "vp-email vp-muted", _("No email address")));
      }
      const online = el("p", "vp-online");
      if (v) {
        online.classList.toggle("is-online", !!v.online);
        online.textContent = v.online ? _("Online now") : fill(_("Last seen %(when)s"), { when: ago(v.last_seen) || "–" });
        who.appendChild(online);
      }
      head.append(avatar, who);
      if (v) {
        const edit = el("button", "icon-btn vp-edit");
        edit.type = "button";
        edit.id = "vp-edit";
        edit.setAttribute("aria-label", _("Edit name and email"));
        edit.setAttribute("aria-expanded", String(editing));
        edit.appendChild(icon("edit"));
        edit.addEventListener("click", () => setEditing(!editing));
        head.appendChild(edit);
      }
      const parts = [head];
      if (v && editing) parts.push(editForm(v));
      if (!v) {
        parts.push(el("p", "vp-muted vp-loading", _("Loading the visitor's details…")));
        root.replaceChildren(...parts);
        return;
      }

      const clock = el("span", "vp-clock");
      const tick = () => {
        const now = localTime(v.timezone);
        clock.textContent = now ? `${now} · ${v.timezone}` : v.timezone || "";
      };
      tick();
      clockTimer = setInterval(tick, 30000);
      const device = v.device ? [v.device.browser, v.device.os, v.device.device].filter(Boolean).join(" · ") : "";
      const verified = v.external_id ? el("span", "vp-verified") : null;
      if (verified) {
        verified.append(el("span", null, v.external_id), el("span", "vp-badge vp-badge--ok", _("Verified by the site")));
      }
      const facts = el("dl", "details-facts vp-facts");
      facts.append(
        ...[
          fact(_("Local time"), v.timezone ? clock : ""),
          fact(_("Language"), languageName(v.language)),
          fact(_("Device"), device),
          fact(_("Channel"), app.channelName(v.channel || (c && c.channel))),
          fact(_("Signed in as"), verified),
          fact(_("Conversation"), c ? [app.stateName(c.status === "resolved" ? "resolved" : c.state)].filter(Boolean).join(" · ") : ""),
          fact(_("First seen"), fullTime(v.first_seen)),
          fact(_("Last seen"), fullTime(v.last_seen)),
        ].filter(Boolean)
      );
      parts.push(facts);

      // Pages: the one they are on (newest first), the ones before, where they came from.
      const pages = Array.isArray(v.pages) && v.pages.length ? v.pages : v.page_url ? [{ url: v.page_url, title: "" }] : [];
      if (pages.length || v.referrer) {
        const list = el("ol", "vp-pages");
        pages.slice(0, 8).forEach((p, i) => {
          const li = el("li", i === 0 ? "is-current" : "");
          const url = webUrl(p.url);
          const label = p.title || shortUrl(p.url);
          const link = url ? el("a", "vp-page-title", label) : el("span", "vp-page-title", label);
          if (url) {
            link.href = url;
            link.target = "_blank";
            link.rel = "noopener noreferrer";
          }
          li.append(link);
          const meta = el("span", "vp-page-meta", p.title ? shortUrl(p.url) : "");
          if (i === 0) meta.prepend(el("span", "vp-now", _("Now")));
          li.appendChild(meta);
          list.appendChild(li);
        });
        const from = v.referrer ? el("p", "vp-referrer", fill(_("Came from %(site)s"), { site: shortUrl(v.referrer) })) : null;
        parts.push(section(_("Pages"), pages.length ? list : null, from));
      }

      const attributes = v.attributes && typeof v.attributes === "object" ? Object.entries(v.attributes) : [];
      if (attributes.length) {
        const dl = el("dl", "details-facts vp-attributes");
        for (const [k, value] of attributes.slice(0, 20)) dl.appendChild(fact(k, String(value)));
        parts.push(section(_("From the site"), dl));
      }

      const past = Array.isArray(v.past_conversations) ? v.past_conversations : [];
      const pastList = el("ul", "vp-past");
      for (const p of past) {
        const li = el("li");
        const a = el("a", "vp-past-link");
        a.href = `/inbox/${encodeURIComponent(p.id)}/`;
        a.append(el("span", "vp-past-when", fullTime(p.last_message_at || p.created_at)), el("span", `conv-state conv-state--${p.status}`, app.stateName(p.status)));
        a.addEventListener("click", (event) => {
          if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
          event.preventDefault();
          show(false, { restoreFocus: false });
          app.select(p.id);
        });
        li.appendChild(a);
        pastList.appendChild(li);
      }
      parts.push(section(_("Past conversations"), past.length ? pastList : el("p", "vp-muted", _("None before this one."))));
      root.replaceChildren(...parts);
    }

    function editForm(v) {
      const f = el("form", "vp-form");
      f.id = "vp-form";
      f.noValidate = true; // our own words for a malformed address, below
      const name = el("input");
      name.id = "vp-name-input";
      name.maxLength = 100;
      name.value = v.name || "";
      name.autocomplete = "off";
      const email = el("input");
      email.id = "vp-email-input";
      email.type = "email";
      email.maxLength = 254;
      email.value = v.email || "";
      email.autocomplete = "off";
      const nameLabel = el("label", null, _("Name"));
      nameLabel.htmlFor = name.id;
      const emailLabel = el("label", null, _("Email"));
      emailLabel.htmlFor = email.id;
      const hint = el("p", "vp-hint", _("A changed address must be confirmed again by the visitor."));
      const error = el("p", "vp-error");
      error.id = "vp-error";
      error.setAttribute("role", "alert");
      const save = el("button", "btn btn-primary btn-sm", _("Save"));
      save.type = "submit";
      save.id = "vp-save";
      const cancel = el("button", "btn btn-ghost btn-sm", _("Cancel"));
      cancel.type = "button";
      cancel.addEventListener("click", () => setEditing(false));
      const row = el("div", "vp-form-actions");
      row.append(save, cancel);
      f.append(nameLabel, name, emailLabel, email, hint, error, row);
      f.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!email.checkValidity()) {
          error.textContent = _("That email address does not look right.");
          email.focus();
          return;
        }
        const id = app.selected();
        if (!id || !app.send({ type: "visitor.update", conversation_id: id, name: name.value.trim(), email: email.value.trim() })) {
          error.textContent = _("Not connected: try again in a moment.");
          return;
        }
        saving = true;
        save.disabled = true;
      });
      setTimeout(() => name.focus(), 0);
      return f;
    }

    function setEditing(on) {
      editing = on;
      saving = false;
      render();
      if (!on) {
        const edit = $("vp-edit");
        if (edit) edit.focus();
      }
    }

    // ---- tags and transfer ------------------------------------------------------------------------
    const tagListEl = $("thread-tag-list");
    const tagAdd = $("tag-add");
    function renderTags(c) {
      const tags = c && Array.isArray(c.tags) ? c.tags : [];
      tagListEl.replaceChildren(
        ...tags.map((t) => {
          const chip = app.tagChip(t);
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
      const id = app.selected();
      if (id) app.send({ type: "conversation.tags", conversation_id: id, tag_ids: ids });
    }
    if (tagAdd) {
      tagAdd.addEventListener("change", () => {
        const tagId = Number(tagAdd.value);
        tagAdd.value = "";
        const c = app.summary(app.selected());
        if (!tagId || !c) return;
        const ids = (c.tags || []).map((t) => t.id);
        if (!ids.includes(tagId)) setTags([...ids, tagId]);
      });
    }
    const transferForm = $("transfer-form");
    if (transferForm) {
      transferForm.addEventListener("submit", (event) => {
        event.preventDefault();
        const [kind, id] = ($("transfer-target").value || "").split(":");
        if (!app.selected() || !id) return;
        const frame = { type: "conversation.transfer", conversation_id: app.selected(), reason: $("transfer-reason").value.trim() };
        frame[kind === "agent" ? "to_agent_id" : "to_group_id"] = Number(id);
        app.send(frame);
        transferForm.reset();
      });
    }

    // ---- a sheet on narrow screens, a column on wide ones -------------------------------------------
    const toggle = $("details-toggle");
    const backdrop = $("details-backdrop");
    const asColumn = window.matchMedia("(min-width: 1200px)");
    let open = false;
    function show(on, { restoreFocus = true } = {}) {
      open = on && !asColumn.matches;
      document.body.classList.toggle("details-open", open);
      toggle.setAttribute("aria-expanded", String(open));
      // Over the thread it is a dialog: the page behind it waits until it closes.
      if (asColumn.matches) {
        detailsEl.removeAttribute("role");
        detailsEl.removeAttribute("aria-modal");
      } else {
        detailsEl.setAttribute("role", "dialog");
        detailsEl.setAttribute("aria-modal", "true");
      }
      for (const node of [document.querySelector(".topbar"), document.querySelector(".sidebar"), app.els.threadEl]) node.inert = open;
      backdrop.hidden = !open;
      if (open) $("details-close").focus();
      else if (restoreFocus && document.activeElement && detailsEl.contains(document.activeElement)) toggle.focus();
    }
    toggle.addEventListener("click", () => show(!open));
    $("details-close").addEventListener("click", () => show(false));
    backdrop.addEventListener("click", () => show(false));
    detailsEl.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && open) {
        event.stopPropagation();
        show(false);
      }
    });
    asColumn.addEventListener("change", () => show(false, { restoreFocus: false }));
    show(false, { restoreFocus: false });

    return {
      modalOpen: () => open,
      visitor: (id) => panels.get(id) || null,
      show,
      onSelect(id) {
        editing = false;
        detailsEl.hidden = !id;
        if (!id) show(false);
        render();
      },
      onHead(c) {
        renderTags(c);
        if (!editing) render();
      },
      onFrame(frame) {
        if ((frame.type === "history" || frame.type === "visitor") && frame.visitor && typeof frame.visitor === "object") {
          const id = frame.type === "history" ? frame.conversation && frame.conversation.id : frame.conversation_id;
          if (!id) return;
          panels.set(id, frame.visitor);
          // The same person in their other conversations held here: the corrected details too.
          for (const [other, v] of panels) if (v.id === frame.visitor.id) panels.set(other, Object.assign({}, frame.visitor, { past_conversations: v.past_conversations }));
          if (frame.type === "visitor" && saving) {
            editing = false;
            saving = false;
            app.notice(_("Saved."));
          }
          if (id === app.selected() && !editing) render();
        }
      },
      // A correction the server refused (a malformed address): said in the form, nothing changed.
      claimsError(frame) {
        if (!saving || frame.client_id || frame.code !== "invalid_message") return false;
        saving = false;
        const error = $("vp-error");
        const save = $("vp-save");
        if (save) save.disabled = false;
        if (error) error.textContent = frame.detail || _("That was not saved.");
        return true;
      },
    };
  };
})();
