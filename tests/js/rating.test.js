/*
 * Rating a resolved conversation with the library's rate() (docs/protocol.md, "Satisfaction"),
 * against the real server: refused while open, stored once resolved, replaced when given again.
 */
"use strict";

const assert = require("node:assert/strict");
const { test } = require("node:test");
const { HelpdeskClient, WebSocket, server, record, welcomed, acked, said, Agent, LocalStorage } = require("./support/helpers.js");

test("a visitor rates the conversation once Alice resolved it, and may change the rating", async (t) => {
  const client = HelpdeskClient.create({
    url: server.url,
    siteKey: server.siteKey,
    adapter: HelpdeskClient.adapters.browser({ WebSocket, localStorage: new LocalStorage() }),
  });
  const events = record(client);
  t.after(() => client.close());
  await client.start();
  await welcomed(events);
  assert.ok(["five", "thumbs", "off"].includes(client.site.satisfaction));
  const hello = client.send("The zip on my jacket broke");
  await acked(events, hello.client_id);
  const conversation = client.cursor.conversation_id;

  await assert.rejects(client.rate(conversation, 5), { code: "not_resolved", status: 409 });

  const alice = await Agent.login();
  t.after(() => alice.disconnect());
  await alice.reply(conversation, "A new one is on its way.");
  await alice.connect();
  const since = alice.frames.mark();
  alice.ws.send(JSON.stringify({ type: "conversation.resolve", conversation_id: conversation }));
  await alice.frames.until("the resolved conversation", (e) => e.type === "conversation" && e.args[0].conversation.status === "resolved", { since });
  await said(events, "This conversation is closed. Write again any time and we'll pick it up.");

  const rating = await client.rate(conversation, 4, "Quick, thanks");
  assert.deepEqual([rating.conversation_id, rating.score, rating.comment, rating.scale], [conversation, 4, "Quick, thanks", "five"]);
  const again = await client.rate(conversation, 5);
  assert.equal(again.score, 5);
  assert.equal(again.comment, "");
  await assert.rejects(client.rate(conversation, 6), { code: "invalid_message", status: 400 });
  await assert.rejects(client.rate("00000000-0000-4000-8000-000000000000", 5), { code: "not_found", status: 404 });
});
