/*
 * The WeChat mini-program adapter through a stand-in `wx` (support/wx.js) backed by real
 * sockets and requests to the real server: the app going to the background, its socket cut,
 * and coming back with every message exactly once.
 */
"use strict";

const assert = require("node:assert/strict");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { test } = require("node:test");
const { HelpdeskClient, ROOT, Recorder, server, record, welcomed, acked, said, Agent, bodiesOf, count } = require("./support/helpers.js");
const { createWx } = require("./support/wx.js");

function miniProgram(wx, options, adapterOptions) {
  return HelpdeskClient.create(
    Object.assign({ url: server.url, siteKey: server.siteKey, adapter: HelpdeskClient.adapters.wechat(wx, adapterOptions) }, options)
  );
}

const key = (name) => `helpdesk:${server.siteKey}:${name}`;
const announced = (recorder, body) => recorder.of("message").filter((e) => e.args[0].body === body).length;

test("a mini-program visitor chats through wx: its socket, its requests and its storage", async (t) => {
  const wx = createWx();
  const a = miniProgram(wx, { cacheLimit: 1 });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  assert.equal(a.channel, "mini_program");
  for (const text of ["From the mini-program", "A second line", "A third line"]) await acked(ra, a.send(text).client_id);
  assert.equal(wx.getStorageSync(key("token")), a.token);
  assert.equal(JSON.parse(wx.getStorageSync(key("cursor"))).seq, a.cursor.seq);
  assert.equal(wx.getStorageSync(key("outbox")), ""); // nothing waits
  assert.deepEqual(await a.setEmail("mini@example.com"), { email: "mini@example.com", verified: false });

  const alice = await Agent.login();
  const stored = await alice.history(a.cursor.conversation_id);
  assert.equal(stored.conversation.channel, "mini_program");
  a.close();
  assert.equal(wx.listenerCount(), 0, "close() leaves no app listeners behind");

  // The app starts again: the device kept one message; the rest comes over wx.request.
  const b = miniProgram(wx, { cacheLimit: 1 });
  const rb = record(b);
  t.after(() => b.close());
  await b.start();
  await welcomed(rb);
  assert.equal(b.messages().length, 1);
  assert.equal(b.email, "mini@example.com");
  let page = await b.loadOlder({ limit: 2 });
  while (page.hasMore) page = await b.loadOlder({ limit: 2 });
  assert.deepEqual(b.messages().map((m) => m.seq), Array.from({ length: b.cursor.seq }, (_, i) => i + 1));
  const asked = wx.state.requests.filter((r) => r.url.includes("before_seq="));
  assert.ok(asked.length >= 2, "history came through wx.request");
  assert.equal(asked[0].header.Authorization, `Bearer ${b.token}`);
});

test("a mini-program links the visitor to WeChat and reports the consents given inside a tap", async (t) => {
  const wx = createWx();
  const a = miniProgram(wx);
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await acked(ra, a.send("Hello from the mini-program").client_id); // the visitor is made
  const linked = await a.linkWechat(); // waits for the visitor's token, then wx.login
  assert.equal(linked.linked, true, "the server exchanged the wx.login code with WeChat");
  assert.equal(wx.state.logins, 1);
  const [reply, order] = linked.templates;
  assert.ok(reply && order, `the site's templates: ${JSON.stringify(linked.templates)}`);
  assert.deepEqual(linked.available, { [reply]: 0, [order]: 0 });

  // WeChat shows its dialog only in a tap: outside one it fails and nothing is reported.
  await assert.rejects(a.requestConsent(), { code: "consent_failed" });
  wx.state.choices = { [order]: "reject" };
  const answer = await wx.tap(() => a.requestConsent());
  assert.deepEqual(answer.accepted, [reply]);
  assert.deepEqual(answer.status.available, { [reply]: 1, [order]: 0 });
  assert.deepEqual(wx.state.asked, [[reply, order]]);
  wx.state.choices = {};
  await wx.tap(() => a.requestConsent([reply])); // each accept allows one more message
  assert.deepEqual((await a.wechatStatus()).available, { [reply]: 2, [order]: 0 });
  assert.deepEqual(a.wechat.available, { [reply]: 2, [order]: 0 });
  await assert.rejects(a.reportConsent(["tmpl-not-the-sites"]), { code: "unknown_template", status: 400 });
  assert.ok(ra.of("wechat").length >= 4);
});

test("the app goes to the background: the socket is cut; back in the foreground every message arrives exactly once", async (t) => {
  const alice = await Agent.login();
  await alice.connect();
  t.after(() => alice.disconnect());
  const wx = createWx();
  const a = miniProgram(wx);
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  const before = a.send("Before the background");
  await acked(ra, before.client_id);
  const conversation = a.cursor.conversation_id;

  const going = a.send("Sent as the app went away"); // its ack may never arrive
  const opened = wx.state.opened;
  wx.hide();
  await ra.until("the client to pause", (e) => e.type === "status" && e.args[0].state === "paused");

  const away = ["Reply one while you were away", "Reply two while you were away"];
  for (const body of away) await alice.reply(conversation, body);
  const queued = a.send("Written while cut off"); // into the outbox, not onto a socket
  assert.ok(a.outbox.has(queued.client_id));
  assert.equal(wx.state.opened, opened, "no socket opened in the background");

  const since = ra.mark();
  wx.show();
  await welcomed(ra, since);
  await acked(ra, queued.client_id);
  await ra.until("the message sent as the app went away", (e) => e.type === "message" && e.args[0].client_id === going.client_id);
  for (const body of away) await said(ra, body);
  assert.deepEqual(a.pending(), []);

  const everything = ["Before the background", "Sent as the app went away", ...away, "Written while cut off"];
  for (const body of everything) assert.equal(announced(ra, body), 1, `"${body}" announced once`);
  const shown = bodiesOf(a.messages());
  for (const body of everything) assert.equal(count(shown, body), 1, `"${body}" held once`);
  const stored = bodiesOf((await alice.history(conversation)).messages);
  for (const body of everything) assert.equal(count(stored, body), 1, `"${body}" stored once: ${JSON.stringify(stored)}`);
  assert.ok(wx.state.maxOpen <= 2, `one socket at a time (one may still be closing): ${wx.state.maxOpen}`);
});

test("the platform cuts the socket while the app sleeps and never says so: the client finds out on its return", async (t) => {
  const alice = await Agent.login();
  const wx = createWx();
  // The client leaves its socket open in the background; the platform kills it silently.
  const a = miniProgram(wx, { connection: { wakeCheckMs: 500 } }, { closeInBackground: false });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  const first = a.send("Before the freeze");
  await acked(ra, first.client_id);
  const conversation = a.cursor.conversation_id;

  wx.hide({ freeze: true, silent: true });
  await alice.reply(conversation, "Sent while the app was frozen");
  const since = ra.mark();
  wx.show();
  const typed = a.send("Typed the moment it came back"); // onto a socket that is no more
  await welcomed(ra, since); // the wake check found the socket dead and reconnected
  await said(ra, "Sent while the app was frozen");
  await acked(ra, typed.client_id);
  assert.equal(announced(ra, "Sent while the app was frozen"), 1);
  assert.equal(announced(ra, "Typed the moment it came back"), 1);
  const stored = bodiesOf((await alice.history(conversation)).messages);
  assert.equal(count(stored, "Typed the moment it came back"), 1);
  assert.equal(count(stored, "Before the freeze"), 1);
});

test("the example page (examples/miniprogram) chats with the real server", async (t) => {
  // The mini-program as a developer sets it up: the example, with the library in libs/helpdesk/.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "miniprogram-"));
  fs.cpSync(path.join(ROOT, "examples", "miniprogram"), dir, { recursive: true });
  fs.mkdirSync(path.join(dir, "libs", "helpdesk"), { recursive: true });
  for (const file of ["client.js", "client-core.js"]) {
    fs.copyFileSync(path.join(ROOT, "helpdesk", "static", "helpdesk", file), path.join(dir, "libs", "helpdesk", file));
  }
  const wx = Object.assign(createWx(), { setNavigationBarTitle() {}, showToast() {} });
  let definition = null;
  Object.assign(globalThis, {
    wx,
    getApp: () => ({ globalData: { helpdesk: { url: server.url, siteKey: server.siteKey } } }),
    Page: (page) => (definition = page),
  });
  t.after(() => {
    delete globalThis.wx;
    delete globalThis.getApp;
    delete globalThis.Page;
    fs.rmSync(dir, { recursive: true, force: true });
  });
  require(path.join(dir, "pages", "chat", "chat.js"));
  const screen = new Recorder(); // every setData: what the page shows
  const page = Object.assign({}, definition, {
    data: structuredClone(definition.data),
    setData(patch) {
      Object.assign(this.data, patch);
      screen.record("setData", patch);
    },
  });
  const shows = (what, predicate) => screen.until(what, (e) => Array.isArray(e.args[0].items) && predicate(e.args[0].items));

  page.onLoad();
  page.onShow();
  t.after(() => page.onUnload());
  await screen.until("the page online", (e) => e.args[0].state === "online");
  page.onInput({ detail: { value: "Hello from the example page" } });
  page.onSend();
  assert.equal(page.data.draft, "");
  await shows("the message sent", (items) => items.some((i) => i.body === "Hello from the example page" && i.state === "Sent"));

  const alice = await Agent.login();
  const conversation = JSON.parse(wx.getStorageSync(`helpdesk:${server.siteKey}:cursor`)).conversation_id;
  await alice.reply(conversation, "Hello, example page!");
  await shows("the reply", (items) => items.some((i) => i.body === "Hello, example page!" && !i.mine));
  const bodies = page.data.items.map((i) => i.body);
  assert.equal(count(bodies, "Hello from the example page"), 1);
  assert.equal(count(bodies, "Hello, example page!"), 1);

  page.onEmailInput({ detail: { value: "page@example.com" } });
  page.onEmail();
  await screen.until("the email saved", (e) => e.args[0].emailSaved === true);

  // "Notify me of the reply": linked at load, the consent asked in the tap, the notices shown.
  await screen.until("the notify button", (e) => e.args[0].notify === "ask");
  wx.tap(() => page.onNotifyMe());
  const on = await screen.until("the notices promised", (e) => e.args[0].notify === "on");
  assert.equal(on.args[0].notices, 2, "both templates accepted: two notices");
});
