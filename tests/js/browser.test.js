/*
 * The browser adapter (WebSocket, fetch, localStorage) against the real server that
 * tests/test_client_js.py started: what the web widget runs on.
 */
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");
const {
  HelpdeskClient,
  WebSocket,
  server,
  record,
  welcomed,
  acked,
  said,
  Agent,
  Network,
  LocalStorage,
  bodiesOf,
  count,
} = require("./support/helpers.js");

function browserClient(localStorage, options) {
  return HelpdeskClient.create(
    Object.assign(
      {
        url: server.url,
        siteKey: server.siteKey,
        adapter: HelpdeskClient.adapters.browser({ WebSocket, localStorage }),
        context: { language: "en-GB", timezone: "Europe/London" },
      },
      options
    )
  );
}

const key = (name) => `helpdesk:${server.siteKey}:${name}`;
const sources = (recorder, source) => recorder.of("message").filter((e) => e.args[1].source === source).map((e) => e.args[0]);

test("a visitor writes, the reply comes live, and a reload shows the thread at once and catches up only what it missed", async (t) => {
  const storage = new LocalStorage();
  const a = browserClient(storage);
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  assert.equal(a.state, "online");
  assert.equal(a.channel, "web");
  assert.equal(a.version, HelpdeskClient.VERSION);
  assert.equal(a.token, null, "a page load stores nothing: no visitor, no token");
  assert.equal(a.visitorId, null);

  assert.throws(() => a.send("   "), { code: "empty_body" });
  assert.throws(() => a.send("x".repeat(a.maxBody + 1)), { code: "body_too_long" });
  const hello = a.send("Hello from the browser adapter");
  assert.equal(ra.of("pending").at(-1).args[0].client_id, hello.client_id); // "sending" at once
  await acked(ra, hello.client_id);
  assert.ok(a.token && a.visitorId, "the first message made the visitor");
  assert.equal(storage.getItem(key("token")), a.token);
  assert.equal(ra.of("welcome").length, 2, "its token came in a second welcome");
  assert.deepEqual(a.pending(), []);
  assert.equal(storage.getItem(key("outbox")), null); // stored, so out of the outbox
  const conversation = a.cursor.conversation_id;

  const alice = await Agent.login();
  await alice.reply(conversation, "Hi! Alice here.");
  const live = await said(ra, "Hi! Alice here.");
  assert.equal(live.args[1].source, "live");
  a.close();

  await alice.reply(conversation, "Are you still there?"); // while the page is closed

  const b = browserClient(storage);
  const rb = record(b);
  t.after(() => b.close());
  await b.start(); // the cached thread, before any frame
  assert.ok(bodiesOf(sources(rb, "cache")).includes("Hi! Alice here."));
  assert.ok(bodiesOf(sources(rb, "cache")).includes("Hello from the browser adapter"));
  await welcomed(rb);
  assert.deepEqual(bodiesOf(sources(rb, "welcome")), ["Are you still there?"]); // only what it missed
  assert.equal(b.visitorId, a.visitorId);
  const ids = rb.of("message").map((e) => e.args[0].id);
  assert.equal(new Set(ids).size, ids.length, "each message announced once");
  const bodies = bodiesOf(b.messages());
  for (const said_ of ["Hello from the browser adapter", "Hi! Alice here.", "Are you still there?"]) {
    assert.equal(count(bodies, said_), 1, said_);
  }
  assert.equal(JSON.parse(storage.getItem(key("cursor"))).seq, b.cursor.seq);
});

test("messages written while the network is down survive a reload and are stored once", async (t) => {
  const network = await new Network(server.url).start();
  t.after(() => network.close());
  const storage = new LocalStorage();
  const a = browserClient(storage, { url: network.url });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  const first = a.send("Sent before the cut");
  await acked(ra, first.client_id);
  const conversation = a.cursor.conversation_id;

  network.cut();
  await ra.until("the client to notice the cut", (e) => e.type === "status" && e.args[0].state === "offline");
  const one = a.send("Written offline, one");
  const two = a.send("Written offline, two");
  assert.deepEqual(a.pending().map((e) => e.client_id), [one.client_id, two.client_id]);
  const kept = JSON.parse(storage.getItem(key("outbox")));
  assert.deepEqual(kept.map((e) => e.client_id), [one.client_id, two.client_id]);
  a.close(); // the tab is reloaded while still offline

  const b = browserClient(storage, { url: network.url });
  const rb = record(b);
  t.after(() => b.close());
  await b.start();
  assert.deepEqual(rb.of("pending").map((e) => e.args[0].client_id), [one.client_id, two.client_id]);
  network.restore();
  b.wake(); // the browser's "online" event
  await acked(rb, one.client_id);
  await acked(rb, two.client_id);
  assert.deepEqual(b.pending(), []);

  const alice = await Agent.login();
  const stored = bodiesOf((await alice.history(conversation)).messages);
  for (const body of ["Sent before the cut", "Written offline, one", "Written offline, two"]) {
    assert.equal(count(stored, body), 1, `"${body}" stored once: ${JSON.stringify(stored)}`);
  }
});

test("an ack lost with the connection: the message is stored and shown once", async (t) => {
  const alice = await Agent.login();
  await alice.connect(); // online: the conversation is hers, her socket hears each message
  t.after(() => alice.disconnect());
  const network = await new Network(server.url).start();
  t.after(() => network.close());
  const a = browserClient(new LocalStorage(), { url: network.url });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);

  network.mute(); // the server hears the client; nothing comes back
  const since = alice.frames.mark();
  const lost = a.send("My ack gets lost");
  await alice.frames.until("the message stored", (e) => e.type === "message" && e.args[0].message.body === "My ack gets lost", { since });
  assert.ok(a.outbox.has(lost.client_id), "no ack: still in the outbox");
  network.cut();
  network.restore();
  a.wake();
  await acked(ra, lost.client_id); // in the catch-up, or acked again for the resend
  assert.deepEqual(a.pending(), []);
  assert.equal(count(bodiesOf(a.messages()), "My ack gets lost"), 1);
  assert.equal(ra.of("message").filter((e) => e.args[0].client_id === lost.client_id).length, 1);
  const stored = bodiesOf((await alice.history(a.cursor.conversation_id)).messages);
  assert.equal(count(stored, "My ack gets lost"), 1);
  // It was this visitor's first write: the hello after the cut (with the pending token)
  // found the visitor that write made, so there is one visitor and one conversation.
  const lostOnes = (await alice.conversations()).filter((c) => c.last_message && c.last_message.body === "My ack gets lost");
  assert.equal(lostOnes.length, 1, "one conversation holds the message");
  assert.equal(lostOnes[0].visitor.id, a.visitorId);
});

test("presence, the queue, and receipts: delivered at once, seen while on screen", async (t) => {
  const a = browserClient(new LocalStorage());
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  assert.equal(a.agentsOnline, false);
  const question = a.send("Is anybody there?");
  await acked(ra, question.client_id);
  await ra.until("the offline notice", (e) => e.type === "message" && e.args[0].sender === "system");

  let since = ra.mark();
  a.connection.resync(); // a reconnect: the welcome tells where the conversation waits
  const again = await welcomed(ra, since);
  assert.deepEqual(again.args[0].queue, { next_open_at: null }); // nobody on duty, no hours set
  assert.deepEqual(a.queue, { next_open_at: null });

  const alice = await Agent.login();
  since = ra.mark();
  await alice.connect();
  t.after(() => alice.disconnect());
  await ra.until("presence: an agent online", (e) => e.type === "presence" && e.args[0].agentsOnline === true, { since });
  assert.equal(a.agentsOnline, true);

  const conversation = a.cursor.conversation_id;
  let frames = alice.frames.mark();
  const reply = await alice.reply(conversation, "Yes, Alice here.");
  await said(ra, "Yes, Alice here.");
  const read = await ra.until("the visitor's message read", (e) => e.type === "seen" && e.args[0].seq >= reply.seq - 1);
  assert.equal(read.args[0].conversation_id, conversation);
  const delivered = await alice.frames.until(
    "a delivered receipt",
    (e) => e.type === "receipt" && e.args[0].delivered_seq >= reply.seq,
    { since: frames }
  );
  assert.equal(delivered.args[0].seen_seq < reply.seq, true, "not seen while not on screen");

  frames = alice.frames.mark();
  a.setVisible(true);
  await alice.frames.until("a seen receipt", (e) => e.type === "receipt" && e.args[0].seen_seq >= reply.seq, { since: frames });
});

test("the email opt-in, and older history page by page over HTTP", async (t) => {
  const storage = new LocalStorage();
  const a = browserClient(storage, { cacheLimit: 2 });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  const lines = [1, 2, 3, 4, 5, 6].map((n) => a.send(`Line ${n}`));
  for (const entry of lines) await acked(ra, entry.client_id);

  await assert.rejects(a.setEmail("not an address"), { code: "invalid_message" });
  assert.deepEqual(await a.setEmail("vic@example.com"), { email: "vic@example.com", verified: false });
  assert.equal(a.email, "vic@example.com");
  const top = a.cursor.seq;
  a.close();

  const b = browserClient(storage, { cacheLimit: 2 });
  const rb = record(b);
  t.after(() => b.close());
  await b.start();
  await welcomed(rb);
  assert.equal(b.email, "vic@example.com"); // kept on the device
  assert.deepEqual(b.messages().map((m) => m.seq), [top - 1, top]); // the cache only

  const first = await b.loadOlder({ limit: 3 });
  assert.deepEqual(first.messages.map((m) => m.seq), [top - 4, top - 3, top - 2]);
  assert.equal(first.hasMore, true);
  let page = first;
  while (page.hasMore) page = await b.loadOlder({ limit: 3 });
  assert.deepEqual(b.messages().map((m) => m.seq), Array.from({ length: top }, (_, i) => i + 1));
  assert.deepEqual(await b.loadOlder(), { messages: [], hasMore: false }); // nothing before seq 1
  const history = sources(rb, "history").map((m) => m.seq);
  assert.equal(new Set(history).size, history.length, "each older message announced once");
  assert.equal(count(bodiesOf(b.messages()), "Line 1"), 1);
});

test("a refused token starts a new visitor; an unknown site stops for good", async (t) => {
  const storage = new LocalStorage();
  storage.setItem(key("token"), "forged.token.value");
  const a = browserClient(storage);
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  assert.ok(ra.of("reset").length >= 1, "what was held for the refused token is dropped");
  assert.notEqual(a.token, "forged.token.value");
  assert.equal(storage.getItem(key("token")), a.token);

  const lost = HelpdeskClient.create({
    url: server.url,
    siteKey: "wk_no_such_site",
    adapter: HelpdeskClient.adapters.browser({ WebSocket, localStorage: new LocalStorage() }),
  });
  const rl = record(lost);
  t.after(() => lost.close());
  await lost.start();
  const stopped = await rl.until("the client to stop", (e) => e.type === "status" && e.args[0].state === "stopped");
  assert.equal(stopped.args[0].code, 4404);
  assert.equal(lost.connection.stopped, true);
  lost.send("Kept, but never sent to a site that does not exist");
  assert.equal(lost.pending().length, 1);
});

test("a message the server refuses for good leaves the outbox and says why", async (t) => {
  const storage = new LocalStorage();
  const a = browserClient(storage, { maxBody: 5000 }); // it believes longer messages pass
  const ra = record(a);
  t.after(() => a.close());
  const long = a.send("x".repeat(4500)); // written before the first welcome: it waits
  await a.start();
  const failed = await ra.until("the refusal", (e) => e.type === "failed");
  assert.equal(failed.args[0].client_id, long.client_id);
  assert.equal(failed.args[0].code, "body_too_long");
  assert.equal(failed.args[0].entry.body.length, 4500);
  assert.equal(a.maxBody, 4000); // what the server said in its welcome
  assert.deepEqual(a.pending(), []);
  assert.equal(storage.getItem(key("outbox")), null);
  assert.throws(() => a.send("x".repeat(4500)), { code: "body_too_long" });
});

// A 40x30 PNG, as a screenshot pasted into the chat would be.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAACgAAAAeCAIAAADRv8uKAAAALElEQVR4nO3NMQEAAAQAMATRP4pYKvg8W4HldMeHelnFYrFYLBaLxWKxWHyyHdwBQE1gaCAAAAAASUVORK5CYII=",
  "base64"
);

test("files: a screenshot uploads and goes with a message (alone, or written offline); refusals say why and store nothing", async (t) => {
  const network = await new Network(server.url).start();
  t.after(() => network.close());
  const storage = new LocalStorage();
  const a = browserClient(storage, { url: network.url });
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);

  const progress = [];
  const shot = await a.uploadFile(new Blob([PNG], { type: "image/png" }), { name: "screen.png", onProgress: (f) => progress.push(f) });
  assert.equal(shot.name, "screen.png");
  assert.equal(shot.content_type, "image/png");
  assert.deepEqual([shot.width, shot.height], [40, 30]);
  assert.ok(shot.url && shot.thumbnail_url, "signed URLs for the file and its thumbnail");
  assert.equal(progress.at(-1), 1, "the upload reported its end");
  const image = await fetch(new URL(shot.url, server.url));
  assert.equal(image.status, 200);
  assert.deepEqual(Buffer.from(await image.arrayBuffer()), PNG);

  // Refused: a type that is not accepted, a file over the limit. Each says why.
  await assert.rejects(a.uploadFile(new Blob(["<svg onload=alert(1)></svg>"], { type: "image/svg+xml" }), { name: "x.svg" }), {
    code: "unsupported_file",
    status: 415,
  });
  await assert.rejects(a.uploadFile(new Blob([Buffer.alloc(10 * 1024 * 1024 + 1)], { type: "application/pdf" }), { name: "big.pdf" }), {
    code: "file_too_large",
    status: 413,
  });

  // A message that is only a file.
  assert.throws(() => a.send("  ", { attachment_ids: [] }), { code: "empty_body" });
  const only = a.send("", { attachment_ids: [shot.id] });
  assert.deepEqual(only.attachments.map((f) => f.name), ["screen.png"], "the entry shows its files while sending");
  const stored = (await acked(ra, only.client_id)).args[0];
  assert.equal(stored.body, "");
  assert.deepEqual(stored.attachments.map((f) => f.id), [shot.id]);

  // Written with a file while the network is down: the outbox keeps the file's ID across a
  // reload, and the message goes with it once the network is back.
  const second = await a.uploadFile(new Blob(["order,total\n1042,99\n"], { type: "text/csv" }), { name: "order.csv" });
  network.cut();
  await ra.until("the client to notice the cut", (e) => e.type === "status" && e.args[0].state === "offline");
  const offline = a.send("Here is the order", { attachment_ids: [second.id] });
  assert.deepEqual(JSON.parse(storage.getItem(key("outbox"))).map((e) => e.extra.attachment_ids), [[second.id]]);
  a.close();
  const b = browserClient(storage, { url: network.url });
  const rb = record(b);
  t.after(() => b.close());
  await b.start();
  assert.deepEqual(b.pending().map((e) => e.extra.attachment_ids), [[second.id]]);
  network.restore();
  b.wake();
  const resent = (await acked(rb, offline.client_id)).args[0];
  assert.equal(resent.body, "Here is the order");
  assert.deepEqual(resent.attachments.map((f) => [f.id, f.name]), [[second.id, "order.csv"]]);

  // The agent sees both messages with their files, each once.
  const alice = await Agent.login();
  const history = (await alice.history(b.cursor.conversation_id)).messages;
  assert.deepEqual(history.flatMap((m) => m.attachments.map((f) => f.name)).sort(), ["order.csv", "screen.png"]);
});

test("typing: the visitor's goes to the agent at most once a second; the agent's arrives as an event", async (t) => {
  const a = browserClient(new LocalStorage());
  const ra = record(a);
  t.after(() => a.close());
  await a.start();
  await welcomed(ra);
  const hello = a.send("Is anyone there?");
  await acked(ra, hello.client_id);
  const alice = await Agent.login();
  const conversation = a.cursor.conversation_id;
  const before = alice.frames.mark();
  await alice.connect();
  t.after(() => alice.disconnect());
  // Alice has it (handed to her as she came online) or takes it (a claim, as the inbox's
  // Unassigned view does): the visitor's typing goes to the conversation's agent.
  alice.ws.send(JSON.stringify({ type: "conversation.claim", conversation_id: conversation }));
  const hers = (c) => c.id === conversation && c.assigned_agent_id;
  await alice.frames.until(
    "the conversation to be Alice's",
    (e) =>
      (e.type === "conversation" && hers(e.args[0].conversation)) ||
      ((e.type === "flush" || e.type === "inbox") && e.args[0].conversations.some(hers)),
    { since: before }
  );
  const since = alice.frames.mark();
  assert.equal(a.typing(true, "my order"), true);
  assert.equal(a.typing(true, "my order number"), false, "within a second: not sent");
  const seen = await alice.frames.until("the visitor typing", (e) => e.type === "typing", { since });
  assert.equal(seen.args[0].conversation_id, conversation);
  assert.equal(a.typing(false), true);
  assert.equal(a.typing(false), false, "a stop goes once");
  await alice.frames.until("the visitor stopped", (e) => e.type === "typing" && e.args[0].active === false, { since });
  alice.ws.send(JSON.stringify({ type: "typing", conversation_id: conversation, active: true }));
  const shown = await ra.until("the agent typing", (e) => e.type === "typing" && e.args[0].active);
  assert.deepEqual(shown.args[0], { conversation_id: conversation, active: true, agent_name: "Alice" });
});
