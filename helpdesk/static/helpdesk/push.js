/*
 * Helpdesk Web Push, in the page: register the service worker for a scope, ask for
 * permission, subscribe with the server's VAPID key, and hand the subscription to the server.
 * Shared by the staff notification settings, the inbox, the widget and the widget's push
 * window. The page decides how to save (which endpoint, which credentials).
 *
 *   const push = HelpdeskPush.create({ swUrl: "/sw.js", scope: "/", publicKey,
 *                                      save(json) {...}, remove(endpoint) {...} });
 *   await push.state();   // "unsupported" | "denied" | "on" | "off"
 *   await push.enable();  // asks, subscribes, saves; throws Error("blocked"|"dismissed"|…)
 *   await push.disable(); // unsubscribes here and on the server
 *   await push.resync();  // on every visit: re-saves an existing subscription (keys rotate)
 *
 * HelpdeskPush.forStaff(publicKey, csrf) and HelpdeskPush.forVisitor(publicKey, () => token)
 * make the two kinds the pages use.
 */
(() => {
  "use strict";

  function keyBytes(b64) {
    const padded = (b64 + "=".repeat((4 - (b64.length % 4)) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function sameKey(a, b) {
    if (!a || !b) return false;
    const x = new Uint8Array(a);
    if (x.length !== b.length) return false;
    return x.every((v, i) => v === b[i]);
  }

  function supported() {
    return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
  }

  function activated(registration) {
    if (registration.active) return Promise.resolve(registration);
    const worker = registration.installing || registration.waiting;
    return new Promise((resolve) => {
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") resolve(registration);
      });
    });
  }

  function create(options) {
    const key = options.publicKey ? keyBytes(options.publicKey) : null;

    async function registration() {
      const reg = await navigator.serviceWorker.register(options.swUrl, { scope: options.scope });
      return activated(reg);
    }

    async function current() {
      const reg = await navigator.serviceWorker.getRegistration(options.scope);
      return reg ? reg.pushManager.getSubscription() : null;
    }

    return {
      async state() {
        if (!supported() || !key) return "unsupported";
        if (Notification.permission === "denied") return "denied";
        if (Notification.permission !== "granted") return "off";
        return (await current()) ? "on" : "off";
      },

      async enable() {
        if (!supported() || !key) throw new Error("unsupported");
        const permission = await Notification.requestPermission();
        if (permission !== "granted") throw new Error(permission === "denied" ? "blocked" : "dismissed");
        const reg = await registration();
        let sub = await reg.pushManager.getSubscription();
        if (sub && !sameKey(sub.options.applicationServerKey, key)) {
          await sub.unsubscribe(); // made with keys the server no longer has
          sub = null;
        }
        if (!sub) sub = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
        await options.save(sub.toJSON());
        return sub;
      },

      async disable() {
        const sub = await current();
        if (!sub) return;
        const endpoint = sub.endpoint;
        await sub.unsubscribe();
        await options.remove(endpoint);
      },

      async resync() {
        if (!supported() || !key || Notification.permission !== "granted") return false;
        const sub = await current();
        if (!sub || !sameKey(sub.options.applicationServerKey, key)) return false;
        await options.save(sub.toJSON());
        return true;
      },
    };
  }

  async function send(method, url, body, headers) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    if (!response.ok && response.status !== 404) {
      let detail = `HTTP ${response.status}`;
      try {
        detail = (await response.json()).error.detail || detail;
      } catch (_) {
        /* not JSON */
      }
      throw new Error(detail);
    }
  }

  // The two kinds of browser we push to. Staff: the service worker at the root, the session
  // (with its CSRF token) saves the subscription. Visitors: the widget's scope, the visitor
  // token (``token()`` is asked at each save, as the widget may get a new one).
  function forStaff(publicKey, csrfToken) {
    const headers = { "X-CSRFToken": csrfToken || "" };
    return create({
      swUrl: "/sw.js",
      scope: "/",
      publicKey,
      save: (json) => send("POST", "/api/v1/push/subscriptions", json, headers),
      remove: (endpoint) => send("DELETE", "/api/v1/push/subscriptions", { endpoint }, headers),
    });
  }

  // identity(): for a signed-in user, the host site's proof ({user_id, user_hash}), which the
  // server asks for with their token on every request.
  function forVisitor(publicKey, token, identity = () => null) {
    const auth = () => {
      const headers = { Authorization: `Bearer ${token()}` };
      const proof = identity();
      if (proof && proof.user_id && proof.user_hash) {
        headers["X-Helpdesk-User-Id"] = proof.user_id;
        headers["X-Helpdesk-User-Hash"] = proof.user_hash;
      }
      return headers;
    };
    return create({
      swUrl: "/widget/sw.js",
      scope: "/widget/",
      publicKey,
      save: (json) => send("POST", "/api/v1/visitor/push", json, auth()),
      remove: (endpoint) => send("DELETE", "/api/v1/visitor/push", { endpoint }, auth()),
    });
  }

  window.HelpdeskPush = { create, supported, send, forStaff, forVisitor };
})();
