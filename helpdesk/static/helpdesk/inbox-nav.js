/*
 * The page around the list and the thread: the keys (j / k: previous and next, n: next
 * unread, r: reply), the header's menu on phones, the agent's status (available / away), the
 * unread count in the title and on the installed app's icon, a chime and a desktop
 * notification for a visitor's message while the tab is in the background, and the service
 * worker (the offline shell, Web Push).
 */
(() => {
  "use strict";

  HelpdeskInbox.nav = function nav(app) {
    const { _, visitorName } = HelpdeskInbox.kit;
    const $ = (id) => document.getElementById(id);
    const modalOpen = () => Object.values(app.modules).some((m) => m && m !== api && typeof m.modalOpen === "function" && m.modalOpen());

    document.addEventListener("keydown", (event) => {
      if (!["j", "k", "n", "r"].includes(event.key) || modalOpen()) return;
      if (event.metaKey || event.ctrlKey || event.altKey || event.isComposing) return;
      const t = event.target;
      if (t && (t.isContentEditable || /^(TEXTAREA|INPUT|SELECT)$/.test(t.tagName))) return;
      const selectedId = app.selected();
      if (event.key === "r") {
        // Reply: into the open conversation's composer.
        if (selectedId) {
          event.preventDefault();
          app.els.input.focus();
        }
        return;
      }
      const order = app.order();
      if (!order.length) return;
      if (event.key === "n") {
        // Next unread, after the open one (wrapping round).
        const at = order.findIndex((c) => c.id === selectedId);
        const rotated = [...order.slice(at + 1), ...order.slice(0, at + 1)];
        const unread = rotated.find((c) => c.id !== selectedId && Number(c.unread) > 0);
        if (!unread) return;
        event.preventDefault();
        app.select(unread.id);
        const a = app.rowOf(unread.id);
        if (a) a.scrollIntoView({ block: "nearest" });
        return;
      }
      const at = order.findIndex((c) => c.id === selectedId);
      let next;
      if (at < 0) next = event.key === "j" ? 0 : order.length - 1;
      else next = Math.min(order.length - 1, Math.max(0, at + (event.key === "j" ? 1 : -1)));
      event.preventDefault();
      const id = order[next].id;
      app.select(id);
      const a = app.rowOf(id);
      if (a) {
        a.focus({ preventScroll: true });
        a.scrollIntoView({ block: "nearest" });
      }
    });

    // ---- the header's menu (phones) ---------------------------------------------------------------
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

    // ---- status (available / away) ----------------------------------------------------------------
    const statusEl = $("agent-status");
    function setStatus(status) {
      if (statusEl && (status === "available" || status === "away")) {
        statusEl.value = status;
        statusEl.dataset.status = status;
      }
    }
    if (statusEl) statusEl.addEventListener("change", () => app.send({ type: "status.set", status: statusEl.value }));

    // ---- the count of unread messages: the title, the app's icon ------------------------------------
    function updateTitle(conversations) {
      let total = 0;
      for (const c of conversations) total += Number.isInteger(c.unread) && c.unread > 0 ? c.unread : 0;
      const title = `${_("Inbox")} · Helpdesk`;
      document.title = total ? `(${total}) ${title}` : title;
      // The installed app's icon shows the count too, where the system allows it.
      if (navigator.setAppBadge) {
        (total ? navigator.setAppBadge(total) : navigator.clearAppBadge()).catch(() => {});
      }
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
      const n = new Notification(name, { body: String(m.body || _("File")).slice(0, 140), tag: `helpdesk-${m.conversation_id}` });
      n.onclick = () => {
        window.focus();
        app.select(m.conversation_id);
        n.close();
      };
    }

    // The installable app: the service worker keeps a shell for when the network is gone (and
    // shows Web Push). Registered on every visit, so installing the app needs nothing else.
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {});

    // Web Push is turned on at /notifications/; each visit re-saves this browser's subscription
    // so a rotated key or a cleared record on the server heals itself.
    const pushConfig = app.initial.push || {};
    if (window.HelpdeskPush && pushConfig.enabled) {
      const csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
      HelpdeskPush.forStaff(pushConfig.public_key, csrf && csrf.value)
        .resync()
        .catch(() => {});
    }

    const api = {
      showMenu,
      onList: updateTitle,
      onAllRead: clearNotifications,
      onNewMessage: alertInBackground,
      onFrame(frame) {
        if (frame.type === "status" || frame.type === "inbox") setStatus(frame.status);
      },
    };
    return api;
  };
})();
