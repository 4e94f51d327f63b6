/*
 * The React Native adapter: an AsyncStorage-like storage whose every call is a promise, and
 * AppState for the background, against the real server.
 */
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { HelpdeskClient, WebSocket, server, record, welcomed, acked, said, Agent, Network, bodiesOf, count } = require("./support/helpers.js");

const turn = () => new Promise((resolve) => setImmediate(resolve));

// AsyncStorage: the same three calls, each answered on a later turn of the event loop.
class AsyncStorage {
  constructor() {
    this.map = new Map();
  }
  async getItem(key) {
    await turn();
    return this.map.has(key) ? this.map.get(key) : null;
  }
  async setItem(key, value) {
    await turn();
    this.map.set(key, String(value));
  }
  async removeItem(key) {
    await turn();
    this.map.delete(key);
  }
}

class AppState {
  constructor() {
    this.listeners = new Set();
  }
  addEventListener(type, listener) {
    this.listeners.add(listener);
    return { remove: () => this.listeners.delete(listener) };
  }
  set(state) {
    for (const listener of Array.from(this.listeners)) listener(state);
  }
}

function app(storage, appState, options) {
  const adapter = HelpdeskClient.adapters.reactNative({ AsyncStorage: storage, AppState: appState, WebSocket });
  return HelpdeskClient.create(Object.assign({ url: server.url, siteKey: server.siteKey, adapter }, options));
}

test("five messages written offline keep their order through a restart of the app and are stored once each", async (t) => {
  const network = await new Network(server.url).start();
  t.after(() => network.close());
  const storage = new AsyncStorage();
  const a = app(storage, new AppState(), { url: network.url });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  assert.equal(a.channel, "app");
  await acked(ra, a.send("Online first").client_id);

  network.cut();
  await ra.until("the client to notice the cut", (e) => e.type === "status" && e.args[0].state === "offline");
  const written = [1, 2, 3, 4, 5].map((n) => a.send(`Offline ${n}`)); // five writes racing to storage
  await a.close(); // the app is killed once its storage has what it wrote

  const b = app(storage, new AppState(), { url: network.url });
  const rb = record(b);
  t.after(() => b.close());
  await b.start();
  assert.deepEqual(
    rb.of("pending").map((e) => e.args[0].client_id),
    written.map((e) => e.client_id),
    "every entry kept, in the order written"
  );
  network.restore();
  b.wake();
  for (const entry of written) await acked(rb, entry.client_id);

  const alice = await Agent.login();
  const stored = (await alice.history(b.cursor.conversation_id)).messages;
  const offline = stored.filter((m) => m.body.startsWith("Offline "));
  assert.deepEqual(bodiesOf(offline), ["Offline 1", "Offline 2", "Offline 3", "Offline 4", "Offline 5"]);
  assert.equal((await alice.history(b.cursor.conversation_id)).conversation.channel, "app");
});

test("to the background and back with AppState: the reply written meanwhile arrives once", async (t) => {
  const appState = new AppState();
  const a = app(new AsyncStorage(), appState);
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  await acked(ra, a.send("Hello from the app").client_id);
  const conversation = a.cursor.conversation_id;

  appState.set("background");
  await ra.until("the client to pause", (e) => e.type === "status" && e.args[0].state === "paused");
  const alice = await Agent.login();
  await alice.reply(conversation, "Answered while the app slept");
  const since = ra.mark();
  appState.set("active");
  await welcomed(ra, since);
  await said(ra, "Answered while the app slept", since);
  assert.equal(ra.of("message").filter((e) => e.args[0].body === "Answered while the app slept").length, 1);
  assert.equal(count(bodiesOf(a.messages()), "Hello from the app"), 1);
  await a.close();
  assert.equal(appState.listeners.size, 0, "close() leaves no AppState listener behind");
});

test("app push: the phone registers once the server knows the visitor, follows the next visitor on it, and unregisters", async (t) => {
  const storage = new AsyncStorage();
  const fcmToken = `fcm:${"A".repeat(40)}-${Date.now()}`;
  const a = app(storage, new AppState());
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  // Asked before any welcome: it waits for the visitor's token (their first message), then
  // registers. Opening the app makes no visitor, so nothing is registered for it.
  const registered = a.registerDevice({ platform: "fcm", token: fcmToken });
  await welcomed(ra);
  assert.equal(a.token, null);
  await acked(ra, a.send("Hello from the app, before push").client_id);
  assert.deepEqual(await registered, { platform: "fcm", token: fcmToken });
  assert.ok(a.token, "registered with the token of the welcome");
  await a.store.settled(); // AsyncStorage writes on a later turn
  assert.deepEqual(JSON.parse(storage.map.get(`helpdesk:${server.siteKey}:device`)), {
    platform: "fcm",
    token: fcmToken,
    visitor: a.visitorId,
  });
  await assert.rejects(a.registerDevice({ platform: "apns", token: "not hex" }), { code: "invalid_device", status: 400 });
  const first = { token: a.token, visitor: a.visitorId };
  await a.close();

  // Someone else on this phone: a new visitor (the old token is gone); the phone moves to them.
  storage.map.delete(`helpdesk:${server.siteKey}:token`);
  const b = app(storage, new AppState());
  const rb = record(b);
  t.after(() => b.close());
  await b.start();
  await welcomed(rb);
  assert.equal(b.visitorId, null, "nobody yet: the next one to write");
  await acked(rb, b.send("Someone else on this phone").client_id);
  assert.notEqual(b.visitorId, first.visitor);
  await rb.until("the phone registered for the new visitor", (e) => e.type === "device");
  await b.store.settled();
  assert.equal(JSON.parse(storage.map.get(`helpdesk:${server.siteKey}:device`)).visitor, b.visitorId);
  // The previous visitor may no longer remove it: it is not theirs.
  const old = await fetch(`${server.url}/api/v1/visitor/devices`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${first.token}`, "content-type": "application/json" },
    body: JSON.stringify({ platform: "fcm", token: fcmToken }),
  });
  assert.equal(old.status, 404);
  assert.equal(await b.unregisterDevice(), true);
  assert.equal(b.device, null);
  assert.equal(await storage.getItem(`helpdesk:${server.siteKey}:device`), null);
  assert.equal(await b.unregisterDevice(), false); // nothing left to remove
});
