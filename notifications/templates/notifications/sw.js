/* Helpdesk service worker: shows Web Push notifications and opens their link on click.
   Served at /sw.js (staff pages) and /widget/sw.js (the visitor widget). The payload is
   {title, body, url, tag, conversations}; one tag per kind, so a newer summary replaces the
   older one instead of stacking. */
"use strict";

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  const title = data.title || "Helpdesk";
  event.waitUntil(
    self.registration.showNotification(title, {
      body: data.body || "",
      tag: data.tag || "helpdesk",
      renotify: true,
      data: { url: data.url || self.registration.scope, conversations: data.conversations || [] },
    })
  );
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
