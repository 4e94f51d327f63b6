/* Helpdesk service worker: shows Web Push notifications and opens their link on click.
   Served at /sw.js (staff pages, and the installed inbox app) and /widget/sw.js (the visitor
   widget). The payload is {title, body, url, tag, conversations}; one tag per kind, so a newer
   summary replaces the older one instead of stacking.
   At /sw.js it also keeps the app's offline shell: every request goes to the network first;
   a page that cannot be fetched is answered with the offline page kept at install. */
"use strict";
{% if staff %}
const SHELL = "helpdesk-shell-{{ version }}";
const OFFLINE_URL = "{{ offline_url|escapejs }}";
const PRECACHE = [{% for url in precache %}"{{ url|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(PRECACHE))
      .then(() => self.skipWaiting())
  );
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("helpdesk-shell-") && name !== SHELL) await caches.delete(name);
      }
      await self.clients.claim();
    })()
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // Live pages only (an inbox is never shown stale); the shell when the network is gone.
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE_URL)));
  } else if (PRECACHE.includes(new URL(request.url).pathname)) {
    event.respondWith(fetch(request).catch(() => caches.match(request, { ignoreSearch: true })));
  }
});
{% else %}
self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
{% endif %}
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "Helpdesk";
  const shown = self.registration.showNotification(title, {
    body: data.body || "",
    tag: data.tag || "helpdesk",
    renotify: true,
    icon: "{{ icon|escapejs }}",
    data: { url: data.url || self.registration.scope, conversations: data.conversations || [] },
  });
  {% if staff %}// The installed app's icon counts the conversations waiting (where the system allows it).
  const waiting = Array.isArray(data.conversations) ? data.conversations.length : 0;
  const badge = self.navigator && self.navigator.setAppBadge ? self.navigator.setAppBadge(waiting || undefined).catch(() => {}) : null;
  event.waitUntil(Promise.all([shown, badge]));{% else %}event.waitUntil(shown);{% endif %}
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || self.registration.scope;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      for (const client of windows) {
        if (client.url === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    })()
  );
});
