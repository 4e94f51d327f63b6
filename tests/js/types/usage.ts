// What an app developer writes against client.d.ts: it must compile under `strict`, and the
// lines marked @ts-expect-error must not (the types refuse what the library refuses).
import HelpdeskClient = require("../../../helpdesk/static/helpdesk/client.js");

declare const wx: HelpdeskClient.WxLike;
declare const AsyncStorage: HelpdeskClient.AsyncStorageLike;

const web = HelpdeskClient.create({
  url: "https://helpdesk.example.com",
  siteKey: "wk_demo",
  adapter: HelpdeskClient.adapters.browser(),
  context: () => ({ language: "zh-CN", attributes: { plan: "pro" } }),
});
const mini = new HelpdeskClient.VisitorClient({
  url: "https://helpdesk.example.com",
  siteKey: "wk_demo",
  adapter: HelpdeskClient.adapters.wechat(wx, { closeInBackground: true }),
});
const app = HelpdeskClient.create({
  siteKey: "wk_demo",
  url: "https://helpdesk.example.com",
  adapter: HelpdeskClient.adapters.reactNative({ AsyncStorage }),
  connection: { wakeCheckMs: 5000 },
});

async function chat(client: HelpdeskClient.VisitorClient): Promise<string> {
  const off = client.on("message", (message, info) => {
    const who: "visitor" | "agent" | "system" = message.sender;
    const where: HelpdeskClient.MessageSource = info.source;
    console.log(who, where, message.seq, message.body);
  });
  client.on("status", ({ state, code }) => console.log(state, code));
  client.on("seen", ({ conversation_id, seq }) => console.log(conversation_id, seq));
  client.on("failed", (failure) => console.log(failure.client_id, failure.code));
  client.on("welcome", (welcome) => console.log(welcome.site.name, welcome.queue));
  client.on("error", (error) => console.log(error.code, error.detail));
  await client.start();
  const file: HelpdeskClient.Attachment = await client.uploadFile(new Blob(["x"]), { name: "a.txt", onProgress: (f) => console.log(f) });
  const entry: HelpdeskClient.OutboxEntry = client.send("", { attachment_ids: [file.id] });
  client.on("typing", ({ active, agent_name }) => console.log(active, agent_name));
  const typed: boolean = client.typing(true, "Where is");
  const saved = await client.setEmail("vic@example.com");
  const older = await client.loadOlder({ limit: 20 });
  const first: HelpdeskClient.Message | undefined = older.messages[0];
  client.setVisible(true);
  const cursor: HelpdeskClient.Cursor | null = client.cursor;
  off();
  await client.close();
  return `${entry.client_id} ${typed} ${saved.verified} ${older.hasMore} ${first?.id} ${cursor?.seq}`;
}

async function push(client: HelpdeskClient.VisitorClient): Promise<number> {
  const device: HelpdeskClient.Device = await client.registerDevice({ platform: "fcm", token: "t" });
  const status: HelpdeskClient.WechatStatus = await client.linkWechat();
  const { accepted } = await client.requestConsent(status.templates);
  await client.reportConsent({ [status.templates[0]]: "accept", errMsg: "requestSubscribeMessage:ok" });
  const after: HelpdeskClient.WechatStatus = await client.reportConsent(accepted);
  client.on("wechat", (s) => console.log(s.available[s.templates[0]] + 1));
  client.on("device", (d) => console.log(d.platform));
  const removed: boolean = await client.unregisterDevice();
  return device.token.length + after.templates.length + (removed ? 1 : 0);
}

const outbox = new HelpdeskClient.Outbox(new HelpdeskClient.Store(HelpdeskClient.storage.memory()));
const kept = outbox.add({ body: "Hi", conversation_id: "c1" });
const verdict: "later" | "failed" | null = outbox.refused({ type: "error", code: "rate_limited", client_id: kept.client_id }, () => {});
const version: string = HelpdeskClient.VERSION;

// @ts-expect-error a message is text
web.send(42);
// @ts-expect-error no such event
web.on("typed", () => {});
// @ts-expect-error the attachments are their IDs
web.send("Hi", { attachment_ids: [{ id: "a1" }] });
// @ts-expect-error a listener of "message" gets a Message, not a number
web.on("message", (n: number) => n);
// @ts-expect-error a phone is "fcm" or "apns"
mini.registerDevice({ platform: "gcm", token: "t" });
// @ts-expect-error the status's counts are numbers
mini.on("wechat", (s) => s.available.x.toUpperCase());
// @ts-expect-error the site key is required
HelpdeskClient.create({ adapter: HelpdeskClient.adapters.browser() });

export { chat, push, mini, app, verdict, version };
