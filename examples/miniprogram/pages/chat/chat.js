// A chat page on helpdesk's client library (docs/protocol.md, "Apps and mini-programs").
// Copy helpdesk/static/helpdesk/client.js and client-core.js into libs/helpdesk/ of the
// mini-program; app.js says which helpdesk and site. The library keeps the conversation in
// wx storage, closes its socket when the app goes to the background and, back in front,
// catches up by cursor and sends what was written meanwhile: every message exactly once.
//
// Replies while the mini-program is closed: the page links the visitor to their WeChat user
// (wx.login) and offers "Notify me of the reply", which asks WeChat's consent for the site's
// subscribe-message templates. Each consent lets the helpdesk send one subscribe message, so
// the button stays for more. The site's AppID, AppSecret and templates are set in the
// helpdesk's back office (docs/protocol.md, "Push to apps and mini-programs").
const HelpdeskClient = require("../../libs/helpdesk/client.js");

let client = null;

Page({
  data: {
    items: [], // what the page shows: stored messages, then those still on their way
    draft: "",
    state: "connecting",
    agentsOnline: false,
    maxBody: 4000,
    email: "",
    emailSaved: false,
    hasMore: true,
    bottom: "",
    notify: "", // "": the site sends no WeChat notices; "ask": none promised; "on": some
    notices: 0, // replies WeChat will let us tell the visitor of
  },

  onLoad() {
    const { url, siteKey } = getApp().globalData.helpdesk;
    this.failed = []; // refused for good: shown with the reason, never sent again
    client = HelpdeskClient.create({ url, siteKey, adapter: HelpdeskClient.adapters.wechat(wx) });
    const render = () => this.render();
    client.on("message", render);
    client.on("pending", render);
    client.on("seen", render);
    client.on("reset", render);
    client.on("failed", (failure) => {
      this.failed.push({ key: failure.client_id, mine: true, body: failure.entry.body, state: failure.detail });
      this.render();
    });
    client.on("status", ({ state }) => this.setData({ state }));
    client.on("presence", ({ agentsOnline }) => this.setData({ agentsOnline }));
    client.on("welcome", (welcome) => {
      this.setData({ agentsOnline: welcome.agents_online, maxBody: client.maxBody, emailSaved: client.email !== null });
      wx.setNavigationBarTitle({ title: welcome.site.name });
    });
    client.on("wechat", (status) => this.showNotices(status));
    client.start();
    client.linkWechat().catch(() => this.setData({ notify: "" })); // no mini-program settings yet
  },

  // Tapped: WeChat's consent dialog shows only inside a tap, so the client asks at once.
  onNotifyMe() {
    client.requestConsent().then(
      ({ accepted }) => {
        if (!accepted.length) wx.showToast({ title: "No notice then", icon: "none" });
      },
      (error) => wx.showToast({ title: error.detail, icon: "none" })
    );
  },

  showNotices(status) {
    const notices = Object.keys(status.available).reduce((sum, id) => sum + status.available[id], 0);
    this.setData({ notify: status.templates.length ? (notices ? "on" : "ask") : "", notices });
  },

  // Receipts: "seen" only while the page is on screen.
  onShow() {
    if (client) client.setVisible(true);
  },
  onHide() {
    if (client) client.setVisible(false);
  },
  onUnload() {
    if (client) client.close();
    client = null;
  },

  render() {
    const stored = client.messages().map((m) => ({
      key: m.id,
      mine: m.sender === "visitor",
      system: m.sender === "system",
      name: m.sender === "agent" ? m.agent_name || "" : "",
      body: m.body,
      state: m.sender !== "visitor" ? "" : m.seq <= client.readSeq(m.conversation_id) ? "Seen" : "Sent",
    }));
    const waiting = client.pending().map((e) => ({ key: e.client_id, mine: true, body: e.body, state: "Sending…" }));
    const items = stored.concat(waiting, this.failed);
    this.setData({ items, bottom: items.length ? `m${items.length - 1}` : "" });
  },

  onInput(event) {
    this.setData({ draft: event.detail.value });
  },

  onSend() {
    const body = this.data.draft.trim();
    if (!body) return;
    try {
      client.send(body); // into the outbox at once ("Sending…"), out when connected
      this.setData({ draft: "" });
    } catch (error) {
      wx.showToast({ title: error.detail, icon: "none" });
    }
  },

  // Scrolled to the top: older messages, over HTTP.
  onOlder() {
    if (!this.data.hasMore) return;
    client.loadOlder({ limit: 50 }).then(
      ({ hasMore }) => this.setData({ hasMore }),
      () => {} // offline: the next scroll tries again
    );
  },

  onEmailInput(event) {
    this.setData({ email: event.detail.value });
  },

  onEmail() {
    client.setEmail(this.data.email.trim()).then(
      () => this.setData({ emailSaved: true }),
      (error) => wx.showToast({ title: error.detail, icon: "none" })
    );
  },
});
