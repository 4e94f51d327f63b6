/*
 * Helpdesk client: the visitor side of docs/protocol.md, written once for the web widget,
 * apps (React Native) and WeChat mini-programs. It stands on client-core.js (the socket, the
 * outbox and the storage the agent inbox shares); load that first, or keep both files side
 * by side for require().
 *
 *   const client = HelpdeskClient.create({
 *     url: "https://helpdesk.example.com", siteKey: "wk_…",
 *     adapter: HelpdeskClient.adapters.browser(),   // or .wechat(wx), .reactNative({…})
 *   });
 *   client.on("message", (m) => show(m));
 *   await client.start();
 *   client.send("Hello!");
 *
 * The rules (docs/protocol.md): the server is the source of truth and a frame is only a
 * doorbell. The client keeps a cursor (the highest seq held with nothing missing below it)
 * and says hello with it on every (re)connect; it de-duplicates by message id; unacknowledged
 * messages wait in an outbox kept in storage and go again, with their own client_id, after
 * every welcome. Plain ES2017, no build step: <script> tags (the global HelpdeskClient) or
 * require() (CommonJS: mini-programs, React Native, Node).
 */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module && module.exports) module.exports = factory(require("./client-core.js"));
  else root.HelpdeskClient = factory(root.HelpdeskCore);
})(typeof self !== "undefined" ? self : typeof globalThis !== "undefined" ? globalThis : this, function (core) {
  "use strict";

  const VERSION = "1.3.1";
  const CACHE_LIMIT = 200;
  const CLOSE_AUTH = 4401;
  const CLOSE_ORIGIN = 4403;
  const CLOSE_UNKNOWN_SITE = 4404;
  const { HelpdeskError, Emitter, Store, Outbox, Connection, after, parseJSON, isCursor, isMessage, characters, compareMessages } = core;
  const webSocketTransport = core.transports.webSocket;
  const memoryStorage = core.storage.memory;
  const webStorage = core.storage.web;

  // ---- the visitor client -------------------------------------------------------------------------
  class VisitorClient extends Emitter {
    constructor(options) {
      super();
      const o = Object.assign({ wsPath: "/ws/visitor/", apiPath: "/api/v1/visitor/", cacheLimit: CACHE_LIMIT }, options);
      if (!o.siteKey) throw new HelpdeskError("invalid_message", "siteKey: required.");
      if (!o.adapter) throw new HelpdeskError("invalid_message", "adapter: required.");
      const base = String(o.url || (typeof location !== "undefined" ? location.origin : "")).replace(/\/+$/, "");
      if (!/^https?:\/\//.test(base)) throw new HelpdeskError("invalid_message", "url: an http(s) address is required.");
      this.options = o;
      this.adapter = o.adapter;
      this.version = VERSION;
      this.siteKey = String(o.siteKey);
      this.channel = o.channel || o.adapter.channel || "web";
      this.apiBase = base + o.apiPath;
      this.socketUrl = base.replace(/^http/, "ws") + o.wsPath;
      this.store = new Store(o.adapter.storage, o.storagePrefix != null ? o.storagePrefix : `helpdesk:${this.siteKey}:`);
      this.outbox = new Outbox(this.store, "outbox");

      this.token = null;
      // Someone who has not written yet: the signed ID their first write will make, said at
      // hello so that a first write whose answer was lost resumes that visitor (no second one).
      this.pendingToken = null;
      this.visitorId = null;
      this.identified = false;
      this.site = null;
      this.agentsOnline = null;
      this.queue = null;
      this.maxBody = Number.isInteger(o.maxBody) && o.maxBody > 0 ? o.maxBody : 4000;
      this.email = null; // the address this visitor left (confirmed or not), once acknowledged
      this.cursor = null;
      this.online = false; // welcomed on the current socket
      this.state = "idle";

      this._held = new Map(); // message id -> Message
      this._topSeq = new Map(); // conversation id -> highest seq held
      this._seqs = new Set(); // `${conversation_id}:${seq}`
      this._read = { conversation_id: null, seq: 0 }; // how far the agent has read
      this._receipt = { conversation_id: null, delivered: 0, seen: 0 };
      this._visible = false;
      this._email = null; // {email, waiters: [[resolve, reject]]} until acknowledged
      this._helloHadToken = false;
      this._started = null;
      this._unlisten = null;
      this._tokenWaiters = []; // calls that need a visitor token, until the first welcome
      this._uploads = new Map(); // attachment id -> Attachment uploaded here (for the screen)
      this._typingAt = 0; // when the last "typing" went (0: stopped)
      this.device = null; // {platform, token, visitor}: this phone, registered for app push
      this.wechat = null; // {linked, templates, available}: the mini-program's WeChat user

      // `connection`: timings of the socket (pingMs, idleMs, wakeCheckMs, backoffMinMs, backoffMaxMs).
      this.connection = new Connection(Object.assign({}, o.connection, {
        url: this.socketUrl,
        transport: o.adapter.transport,
        onConnecting: () => {
          this.online = false;
          this._status("connecting");
        },
        onOpen: () => this._hello(),
        onFrame: (frame) => this._onFrame(frame),
        onClose: (code) => this._onClose(code),
      }));
    }

    // Loads what this device kept (token, cursor, the cached thread, the outbox), tells the
    // listeners about it ("message" with source "cache", "pending"), then connects. Resolves
    // once loaded, before any frame is heard.
    start() {
      if (this._started) return this._started;
      const s = this.store;
      const loaded = Promise.resolve()
        .then(() => after(s.getRaw("token"), (v) => (this.token = v || null)))
        .then(() => after(s.getRaw("pending"), (v) => (this.pendingToken = v || null)))
        .then(() => after(s.getRaw("visitor"), (v) => (this.visitorId = v || null)))
        .then(() => after(s.getRaw("email"), (v) => (this.email = v == null ? null : v)))
        .then(() => after(s.get("device"), (v) => (this.device = v && v.platform && v.token ? v : null)))
        .then(() => after(s.get("cursor"), (v) => (this.cursor = isCursor(v) ? v : null)))
        .then(() => after(s.get("messages"), (v) => (Array.isArray(v) ? v : [])))
        .then((cached) => {
          const added = cached.filter((m) => this._add(m));
          const c = this.cursor;
          // A cache that does not hold the cursor's message: ask for the whole conversation.
          if (c && c.seq > 0 && !this._seqs.has(`${c.conversation_id}:${c.seq}`)) this.cursor = null;
          this._advance();
          this._announce(added, "cache");
          return this.outbox.load();
        })
        .then((entries) => {
          for (const entry of entries) this.emit("pending", entry);
          if (this.adapter.lifecycle) this._unlisten = this.adapter.lifecycle(this) || null;
          this.connection.connect();
        });
      this._started = loaded;
      return loaded;
    }

    // Send a message: it goes into the outbox at once (shown as sending), out now if the
    // socket is welcomed, else after the next welcome. `extra` fields travel in the
    // message.send frame and are kept with the entry (the extension point for attachments).
    //
    // Files: upload each with uploadFile() first, then send(body, {attachment_ids}) (the body
    // may then be empty). The entry keeps the IDs, so a message written offline with files
    // goes out with them after the next welcome, and its `attachments` (what uploadFile
    // answered) for the screen to show while it is sending.
    send(body, extra) {
      const text = String(body == null ? "" : body).trim();
      const ids = extra && Array.isArray(extra.attachment_ids) ? extra.attachment_ids.map(String) : [];
      if (!text && !ids.length) throw new HelpdeskError("empty_body", "A message cannot be empty.");
      if (characters(text) > this.maxBody) {
        throw new HelpdeskError("body_too_long", `A message can be at most ${this.maxBody} characters.`);
      }
      const fields = { body: text };
      if (extra) fields.extra = ids.length ? Object.assign({}, extra, { attachment_ids: ids }) : extra;
      if (ids.length) fields.attachments = ids.map((id) => this._uploads.get(id) || { id });
      const entry = this.outbox.add(fields);
      this._typingAt = 0; // sent: the agent's "typing…" ends with the message
      this.emit("pending", entry);
      if (this.online) this._sendEntry(entry);
      return entry;
    }

    // Upload a file for the next message (docs/protocol.md, "Sending a file"): resolves the
    // Attachment ({id, name, content_type, size, url, …}); rejects a HelpdeskError with the
    // server's code: file_too_large (413), unsupported_file (415), rate_limited (429).
    // `file`: a Blob or File in a browser; {uri, name, type} in React Native; a temporary file
    // path (wx.chooseMedia's tempFilePath) in a mini-program. options: {name, onProgress(0..1)}.
    uploadFile(file, options) {
      const o = options || {};
      const upload = this.adapter.upload;
      if (!upload) return Promise.reject(new HelpdeskError("unsupported", "This adapter cannot upload files."));
      if (!file) return Promise.reject(new HelpdeskError("invalid_message", "file: required."));
      return this._withToken(true)
        .then(() =>
          upload({
            url: `${this.apiBase}attachments`,
            headers: this._authHeaders(),
            file,
            name: o.name || (file && file.name) || "file",
            onProgress: typeof o.onProgress === "function" ? o.onProgress : null,
          })
        )
        .catch((error) => {
          if (error instanceof HelpdeskError) throw error;
          throw new HelpdeskError("network_error", (error && (error.errMsg || error.message)) || "The upload failed.");
        })
        .then((res) => {
          if (res.status >= 200 && res.status < 300 && res.data && typeof res.data.id === "string") {
            this._uploads.set(res.data.id, res.data);
            return res.data;
          }
          const e = (res.data && res.data.error) || {};
          throw new HelpdeskError(e.code || `http_${res.status}`, e.detail || `HTTP ${res.status}`, res.status);
        });
    }

    // The visitor is typing (true) or stopped (false): the agent sees "typing…" (and, on sites
    // that allow it, `preview`). At most one a second goes; a stop always goes, once.
    typing(active, preview) {
      const on = !!active;
      const now = Date.now();
      if (on && now - this._typingAt < 1000) return false;
      if (!on && !this._typingAt) return false;
      this._typingAt = on ? now : 0;
      const frame = { type: "typing", active: on };
      if (on && preview) frame.preview = String(preview).slice(0, 200);
      return this.sendFrame(frame);
    }

    // Everything held, in order (what a screen shows), and what waits to be stored.
    messages() {
      return Array.from(this._held.values()).sort(compareMessages);
    }
    pending() {
      return this.outbox.list();
    }
    // How far the conversation's agent has read the visitor's messages.
    readSeq(conversationId) {
      const id = conversationId || (this.cursor && this.cursor.conversation_id);
      return id && id === this._read.conversation_id ? this._read.seq : 0;
    }

    // Is the conversation on a visible screen? Receipts say "seen" only while it is.
    setVisible(visible) {
      this._visible = !!visible;
      this._sendReceipt();
    }

    // An address for follow-ups while the visitor is away (confirmed by an emailed link).
    // Kept until the server acknowledges it, across reconnects.
    setEmail(email) {
      return new Promise((resolve, reject) => {
        const waiters = this._email ? this._email.waiters : []; // the latest address answers them all
        waiters.push([resolve, reject]);
        this._email = { email: String(email), waiters };
        if (this.online) this._sendFrame({ type: "visitor.email", email: this._email.email });
      });
    }

    // Older history of the current conversation, before the oldest message held (HTTP).
    loadOlder(options) {
      const limit = Math.min(500, Math.max(1, (options && options.limit) || 50));
      const c = this.cursor;
      if (!c) return Promise.resolve({ messages: [], hasMore: false });
      let lowest = c.seq + 1;
      for (const m of this._held.values()) if (m.conversation_id === c.conversation_id && m.seq < lowest) lowest = m.seq;
      if (lowest <= 1) return Promise.resolve({ messages: [], hasMore: false });
      const query = `messages?conversation_id=${encodeURIComponent(c.conversation_id)}&before_seq=${lowest}&limit=${limit}`;
      return this._http("GET", query, null, true).then((data) => {
        const messages = (data && Array.isArray(data.messages) ? data.messages : []).filter(isMessage);
        const added = messages.filter((m) => this._add(m));
        this._advance();
        this._persist();
        this._announce(added, "history");
        return { messages, hasMore: !!(data && data.has_more) };
      });
    }

    // Continue on this device a conversation started on another: a code is emailed to an
    // address that visitor confirmed; confirming it makes this client that visitor.
    requestResumeCode(email) {
      return this._http("POST", "resume", { site_key: this.siteKey, email: String(email) }, false);
    }
    confirmResumeCode(email, code) {
      const body = { site_key: this.siteKey, email: String(email), code: String(code) };
      return this._http("POST", "resume/confirm", body, false).then((data) => {
        if (!data || typeof data.token !== "string") throw new HelpdeskError("invalid_code", "No token came back.");
        this.useToken(data.token);
        return { token: data.token, visitorId: data.visitor_id };
      });
    }
    // Rate a resolved conversation on the site's scale (`site.satisfaction`: "five" takes
    // 1-5, "thumbs" good 5 or bad 1), with an optional comment; rating again replaces it.
    // Over HTTP, so it works whether or not the socket is up. Resolves with the rating;
    // refusals: not_resolved, rating_off, not_found, invalid_message.
    rate(conversationId, score, comment) {
      const body = { conversation_id: String(conversationId), score: Number(score), comment: comment == null ? "" : String(comment) };
      return this._http("POST", "rating", body, true);
    }
    // Become the visitor this token names (a resume link or code): start over from the server.
    useToken(token) {
      this.token = token;
      this.store.setRaw("token", token);
      this._reset(false);
      if (this._started) this.connection.resync();
    }

    // ---- push to apps and mini-programs (docs/protocol.md, "Push to apps and mini-programs") --

    // This phone gets a push when a reply waits unseen: `token` from FCM (platform "fcm":
    // Android, or iOS through Firebase) or APNs ("apns": the device token in hex). Kept on the
    // device and registered again for whoever is the visitor here next (a sign-in, a reset).
    registerDevice(device) {
      const d = { platform: String((device && device.platform) || ""), token: String((device && device.token) || "") };
      return this._withToken().then(() =>
        this._http("POST", "devices", d, true).then((data) => {
          this.device = Object.assign({}, d, { visitor: this.visitorId });
          this.store.set("device", this.device);
          this.emit("device", { platform: d.platform, token: d.token });
          return data;
        })
      );
    }
    // No more pushes to this phone (the app's sign-out).
    unregisterDevice() {
      const d = this.device;
      if (!d) return Promise.resolve(false);
      this.device = null;
      this.store.remove("device");
      const body = { platform: d.platform, token: d.token };
      return this._http("DELETE", "devices", body, true).then(
        () => true,
        (error) => {
          if (error.code === "not_found") return false; // already someone else's, or gone
          throw error;
        }
      );
    }

    // Mini-programs: tell the server who this visitor is to WeChat (a wx.login code, which
    // the server exchanges for the openid). Resolves {linked, templates, available}.
    linkWechat() {
      const login = this.adapter.wechatLogin;
      if (!login) return Promise.reject(new HelpdeskError("unsupported", "This adapter has no wx.login."));
      return this._withToken()
        .then(() => login())
        .then((code) => this._http("POST", "wechat/login", { code }, true))
        .then((status) => this._wechatStatus(status));
    }
    // The templates to ask consent for, and how many messages the consents given still allow.
    wechatStatus() {
      return this._withToken()
        .then(() => this._http("GET", "wechat/consents", null, true))
        .then((status) => this._wechatStatus(status));
    }
    // Call from a tap handler: WeChat shows its consent dialog only for a user's tap, so
    // wx.requestSubscribeMessage is called at once, before anything asynchronous. Resolves
    // {accepted, status} once the server has the consents (each allows one message).
    requestConsent(templateIds) {
      const ids = templateIds || (this.wechat && this.wechat.templates) || [];
      const ask = this.adapter.requestSubscribe;
      if (!ask) return Promise.reject(new HelpdeskError("unsupported", "This adapter cannot ask for consent."));
      if (!ids.length) return Promise.reject(new HelpdeskError("wechat_not_linked", "No templates yet: linkWechat() first."));
      const answer = ask(ids); // synchronously, inside the tap
      return answer.then((result) => this.reportConsent(result).then((status) => ({ accepted: acceptedIn(result), status })));
    }
    // What wx.requestSubscribeMessage answered ({<template id>: "accept" | "reject" | …}), or
    // the accepted template IDs: the server keeps one consent per accepted template.
    reportConsent(result) {
      const accepted = acceptedIn(result);
      return this._withToken()
        .then(() => this._http("POST", "wechat/consents", { accepted }, true))
        .then((status) => this._wechatStatus(status));
    }

    // The app went to the background (the socket closes) and came back (it reconnects now).
    pause() {
      this.online = false;
      this.connection.pause();
      this._status("paused");
    }
    wake(options) {
      this.connection.wake(options);
    }
    // For good: the socket, the timers, the lifecycle listeners. Resolves once what the client
    // wrote has reached the storage (an async storage may still be writing).
    close() {
      this.online = false;
      this.connection.stop();
      this.outbox.dispose();
      if (this._unlisten) this._unlisten();
      this._unlisten = null;
      const waiting = this._tokenWaiters;
      this._tokenWaiters = [];
      for (const w of waiting) w[1](new HelpdeskError("closed", "The client is closed."));
      if (this.state !== "closed") this._status("closed");
      return this.store.settled();
    }

    // Extension point: frames this version does not know arrive as "frame" events (every frame
    // does), and sendFrame() sends any frame on a welcomed socket (false when not sent).
    sendFrame(frame) {
      return this.online ? this._sendFrame(frame) : false;
    }

    // ---- inside ---------------------------------------------------------------------------------
    _status(state, code) {
      this.state = state;
      this.emit("status", { state, code: code || null });
    }

    _sendFrame(frame) {
      return this.connection.send(frame);
    }

    _sendEntry(entry) {
      const frame = Object.assign({}, entry.extra || {}, { type: "message.send", client_id: entry.client_id, body: entry.body });
      return this._sendFrame(frame);
    }

    _hello() {
      this._helloHadToken = !!(this.token || this.pendingToken);
      const context = typeof this.options.context === "function" ? this.options.context() : this.options.context;
      this._sendFrame(
        Object.assign({}, context || {}, {
          type: "hello",
          site_key: this.siteKey,
          token: this.token || this.pendingToken || null,
          cursor: this.cursor ? { conversation_id: this.cursor.conversation_id, seq: this.cursor.seq } : null,
          channel: this.channel,
        })
      );
    }

    _onClose(code) {
      this.online = false;
      if (code === CLOSE_AUTH) {
        // Authenticate again: drop the token and start over as a new visitor.
        this.token = null;
        this.store.remove("token");
        this._setPending(null);
        this._reset(false);
        if (this._helloHadToken) {
          this._helloHadToken = false;
          return "now";
        }
        this._status("offline", code);
        return "retry";
      }
      if (code === CLOSE_ORIGIN || code === CLOSE_UNKNOWN_SITE) {
        this._status("stopped", code); // origin refused, unknown site: retrying cannot help
        return "stop";
      }
      this._status("offline", code);
      return "retry";
    }

    _onFrame(frame) {
      this.emit("frame", frame);
      switch (frame.type) {
        case "welcome":
          this._onWelcome(frame);
          break;
        case "message.ack":
          if (isMessage(frame.message)) this._onMessage(frame.message, typeof frame.client_id === "string" ? frame.client_id : null);
          break;
        case "message":
          if (isMessage(frame.message)) this._onMessage(frame.message, null);
          break;
        case "seen":
          this._markRead(frame.conversation_id, frame.seq);
          break;
        case "presence":
          this.agentsOnline = !!frame.agents_online;
          this.emit("presence", { agentsOnline: this.agentsOnline });
          break;
        case "visitor.email":
          this._onEmail(frame);
          break;
        case "typing":
          this.emit("typing", { conversation_id: frame.conversation_id || null, active: !!frame.active, agent_name: frame.agent_name || null });
          break;
        case "error":
          this._onError(frame);
          break;
        default:
          break; // pong, and frames of later versions ("frame" above)
      }
    }

    _onWelcome(frame) {
      // A second welcome on this socket: the first write made the visitor, and this one
      // brings their token. What waits in the outbox is already on its way on this socket.
      const again = this.online;
      this.online = true;
      this.connection.settled();
      if (typeof frame.token === "string" && frame.token) {
        this.token = frame.token;
        this.store.setRaw("token", frame.token);
        this._setPending(null);
      } else if (typeof frame.pending_token === "string" && frame.pending_token) {
        this._setPending(frame.pending_token);
      }
      if (frame.token === null && this.token) {
        // Nobody yet (a token the server no longer honours, or no proof for a signed-in
        // user's): the first write brings a token.
        this.token = null;
        this.store.remove("token");
      }
      // Another person on this device (the host site's user signed in or out): what was kept
      // of the previous one goes. Signing in keeps unsent messages (their anonymous
      // conversation joined the account); signing out drops them. A visitor_id of null is
      // nobody yet: the one who first writes here next (no reset when they do).
      if (typeof frame.visitor_id === "string") {
        if (this.visitorId && this.visitorId !== frame.visitor_id) this._reset(!frame.identified);
        this.visitorId = frame.visitor_id;
        this.store.setRaw("visitor", frame.visitor_id);
      } else if (frame.visitor_id === null && this.visitorId) {
        this._reset(!frame.identified);
        this.visitorId = null;
        this.store.remove("visitor");
      }
      this.identified = !!frame.identified;
      if (frame.site && typeof frame.site === "object") this.site = frame.site;
      this.agentsOnline = !!frame.agents_online;
      this.queue = frame.queue && typeof frame.queue === "object" ? frame.queue : null;
      if (Number.isInteger(frame.max_body) && frame.max_body > 0) this.maxBody = frame.max_body;

      const conversationId = typeof frame.conversation_id === "string" ? frame.conversation_id : null;
      if (conversationId && Number.isInteger(frame.read_seq)) this._markRead(conversationId, frame.read_seq);
      if (!conversationId) this.cursor = null;
      else if (!this.cursor || this.cursor.conversation_id !== conversationId) this.cursor = { conversation_id: conversationId, seq: 0 };
      const added = (Array.isArray(frame.messages) ? frame.messages : []).filter((m) => this._add(m));
      if (this.cursor) {
        // The catch-up is complete up to its last message.
        this.cursor.seq = Math.max(this.cursor.seq, this._topSeq.get(this.cursor.conversation_id) || 0);
        this._advance();
      }
      this._persist();
      this._announce(added, "welcome");
      if (this._email && !again) this._sendFrame({ type: "visitor.email", email: this._email.email });
      // Everything the catch-up did not already contain goes out again, with its own client_id.
      after(this.outbox.load(), (entries) => {
        for (const entry of entries) {
          this.emit("pending", entry);
          if (this.online && !again) this._sendEntry(entry);
        }
        this._status("online");
        this.emit("welcome", frame);
        this._sendReceipt();
        this._afterWelcome();
      });
    }

    // Calls that waited for a visitor token go now; a phone or a WeChat link made for the
    // previous visitor on this device is made again for this one. Someone who has not
    // written yet has no token: they wait for the first write's welcome.
    _afterWelcome() {
      if (!this.token) {
        if (this._tokenWaiters.some((w) => w[2])) this.sendFrame({ type: "visitor.start" });
        return;
      }
      const waiting = this._tokenWaiters;
      this._tokenWaiters = [];
      for (const w of waiting) w[0]();
      const quiet = (error) => this.emit("error", error);
      const d = this.device;
      if (d && d.visitor !== this.visitorId) {
        this.registerDevice(d).catch((error) => {
          // Refused for good (a bad token, no credentials any more): not tried on every welcome.
          if (error.status === 400 || error.status === 409) {
            this.device = null;
            this.store.remove("device");
          }
          quiet(error);
        });
      }
      if (this.wechat && this.wechat.visitor !== this.visitorId && this.adapter.wechatLogin) {
        this.linkWechat().catch(quiet);
      }
    }

    // Resolves once there is a visitor token. Someone new has none until their first write
    // (docs/protocol.md, "A visitor is made by their first write"): `start` (a file upload,
    // which is a write) asks the server to make the visitor now; the rest wait for it.
    _withToken(start) {
      if (this.token) return Promise.resolve();
      if (this.state === "closed") return Promise.reject(new HelpdeskError("closed", "The client is closed."));
      return new Promise((resolve, reject) => {
        this._tokenWaiters.push([resolve, reject, !!start]);
        if (start) this.sendFrame({ type: "visitor.start" });
      });
    }

    _wechatStatus(status) {
      this.wechat = Object.assign({}, status, { visitor: this.visitorId });
      this.emit("wechat", status);
      return status;
    }

    _onMessage(message, ackedClientId) {
      const m = ackedClientId && !message.client_id ? Object.assign({}, message, { client_id: ackedClientId }) : message;
      if (m.sender === "agent") this._markRead(m.conversation_id, m.seq - 1); // a reply reads what came before
      const added = this._add(m);
      if (ackedClientId) this.outbox.remove(ackedClientId);
      if (!this.cursor || this.cursor.conversation_id !== m.conversation_id) {
        this.cursor = { conversation_id: m.conversation_id, seq: 0 }; // the first message of a new conversation
      }
      this._advance();
      this._persist();
      if (added) {
        this._announce([m], ackedClientId ? "ack" : "live");
        this._sendReceipt();
      }
      if ((this._topSeq.get(this.cursor.conversation_id) || 0) > this.cursor.seq) this.connection.resync(); // a gap
    }

    _onEmail(frame) {
      const pending = this._email;
      this._email = null;
      this.email = String(frame.email || "");
      this.store.setRaw("email", this.email);
      const saved = { email: this.email, verified: !!frame.verified };
      if (pending) for (const w of pending.waiters) w[0](saved);
      this.emit("email", saved);
    }

    _onError(frame) {
      const entry = typeof frame.client_id === "string" ? this.outbox.get(frame.client_id) : null;
      const verdict = this.outbox.refused(frame, (again) => {
        if (this.online) this._sendEntry(again);
      });
      if (verdict === "failed") {
        this.emit("failed", { client_id: frame.client_id, code: frame.code, detail: frame.detail || frame.code, entry });
        return;
      }
      if (verdict === "later") return; // it stays in the outbox ("sending…")
      if (!frame.client_id && frame.code === "rate_limited" && !this.token && this._tokenWaiters.some((w) => w[2])) {
        // visitor.start refused (too many new chats from this address): the upload fails.
        const starting = this._tokenWaiters.filter((w) => w[2]);
        this._tokenWaiters = this._tokenWaiters.filter((w) => !w[2]);
        const error = new HelpdeskError("rate_limited", frame.detail, 429);
        for (const w of starting) w[1](error);
        return;
      }
      if (!frame.client_id && this._email && frame.code === "invalid_message") {
        const pending = this._email;
        this._email = null;
        const error = new HelpdeskError(frame.code, frame.detail);
        for (const w of pending.waiters) w[1](error);
        return;
      }
      this.emit("error", new HelpdeskError(frame.code || "error", frame.detail));
    }

    _markRead(conversationId, seq) {
      if (typeof conversationId !== "string" || !Number.isInteger(seq)) return;
      const r = this._read;
      if (r.conversation_id === conversationId && seq <= r.seq) return;
      if (r.conversation_id !== conversationId && seq <= 0) return;
      this._read = { conversation_id: conversationId, seq };
      this.emit("seen", { conversation_id: conversationId, seq });
    }

    // Holds a message; true when it is new (announced once the cursor has moved).
    _add(m) {
      if (!isMessage(m)) return false;
      if (this._held.has(m.id)) {
        if (m.client_id && m.sender === "visitor") this.outbox.remove(m.client_id);
        return false;
      }
      this._held.set(m.id, m);
      this._seqs.add(`${m.conversation_id}:${m.seq}`);
      if (m.seq > (this._topSeq.get(m.conversation_id) || 0)) this._topSeq.set(m.conversation_id, m.seq);
      if (m.client_id && m.sender === "visitor") this.outbox.remove(m.client_id);
      return true;
    }

    _announce(messages, source) {
      for (const m of messages) this.emit("message", m, { source });
    }

    // The cursor is the highest seq held with nothing missing below it (since the last catch-up).
    _advance() {
      const c = this.cursor;
      if (!c) return;
      while (this._seqs.has(`${c.conversation_id}:${c.seq + 1}`)) c.seq += 1;
    }

    _persist() {
      if (this.cursor) this.store.set("cursor", this.cursor);
      else this.store.remove("cursor");
      if (this.options.cacheLimit > 0) this.store.set("messages", this.messages().slice(-this.options.cacheLimit));
    }

    // Forget every message held (another visitor now, or a token refused); the outbox too
    // when dropOutbox.
    _setPending(token) {
      this.pendingToken = token || null;
      if (this.pendingToken) this.store.setRaw("pending", this.pendingToken);
      else this.store.remove("pending");
    }

    _reset(dropOutbox) {
      this._held.clear();
      this._topSeq.clear();
      this._seqs.clear();
      this.cursor = null;
      this.store.remove("cursor");
      this.store.remove("messages");
      if (dropOutbox) this.outbox.clear();
      this.emit("reset", { outboxDropped: !!dropOutbox });
    }

    // Receipts for the agent: "delivered" up to the cursor, "seen" while the screen shows it.
    _sendReceipt() {
      const c = this.cursor;
      if (!this.online || !c || !c.conversation_id) return;
      const sent = this._receipt;
      const same = sent.conversation_id === c.conversation_id;
      const delivered = c.seq;
      const seen = this._visible ? delivered : same ? sent.seen : 0;
      if (same && delivered <= sent.delivered && seen <= sent.seen) return;
      this._receipt = { conversation_id: c.conversation_id, delivered, seen };
      this._sendFrame({ type: "receipt", conversation_id: c.conversation_id, delivered_seq: delivered, seen_seq: seen });
    }

    // The token, and a signed-in user's proof (a token alone is identity_required for them).
    _authHeaders() {
      const headers = { Accept: "application/json", Authorization: `Bearer ${this.token}` };
      const ctx = typeof this.options.context === "function" ? this.options.context() : this.options.context;
      if (ctx && ctx.user_id && ctx.user_hash) {
        headers["X-Helpdesk-User-Id"] = String(ctx.user_id);
        headers["X-Helpdesk-User-Hash"] = String(ctx.user_hash);
      }
      return headers;
    }

    _http(method, path, body, auth) {
      const http = this.adapter.http;
      if (!http) return Promise.reject(new HelpdeskError("unsupported", "This adapter has no HTTP."));
      const headers = { Accept: "application/json" };
      if (body != null) headers["Content-Type"] = "application/json";
      if (auth) {
        if (!this.token) return Promise.reject(new HelpdeskError("not_authenticated", "No visitor token yet."));
        Object.assign(headers, this._authHeaders());
      }
      return Promise.resolve()
        .then(() => http.request({ method, url: this.apiBase + path, headers, body }))
        .catch((error) => {
          throw new HelpdeskError("network_error", (error && (error.errMsg || error.message)) || "The request failed.");
        })
        .then((res) => {
          if (res.status >= 200 && res.status < 300) return res.data;
          const e = (res.data && res.data.error) || {};
          throw new HelpdeskError(e.code || `http_${res.status}`, e.detail || `HTTP ${res.status}`, res.status);
        });
    }
  }

  // The template IDs accepted, from wx.requestSubscribeMessage's answer or a list.
  function acceptedIn(result) {
    if (Array.isArray(result)) return result.map(String);
    if (!result || typeof result !== "object") return [];
    return Object.keys(result).filter((key) => key !== "errMsg" && result[key] === "accept");
  }

  // ---- adapters -----------------------------------------------------------------------------------
  function fetchHttp(fetchImpl) {
    return {
      request(req) {
        const f = fetchImpl || (typeof fetch !== "undefined" ? (url, init) => fetch(url, init) : null);
        if (!f) return Promise.reject(new Error("No fetch here."));
        const init = { method: req.method, headers: req.headers };
        if (req.body != null) init.body = JSON.stringify(req.body);
        return f(req.url, init).then((res) => res.text().then((text) => ({ status: res.status, data: parseJSON(text) })));
      },
    };
  }

  // multipart/form-data with one field `file`; XMLHttpRequest where there is one (it tells
  // the upload's progress), else fetch.
  function browserUpload(fetchImpl) {
    return function upload(req) {
      const FD = typeof FormData !== "undefined" ? FormData : null;
      if (!FD) return Promise.reject(new Error("No FormData here."));
      const form = new FD();
      form.append("file", req.file, req.name);
      if (typeof XMLHttpRequest !== "undefined" && !fetchImpl) {
        return new Promise((resolve, reject) => {
          const xhr = new XMLHttpRequest();
          xhr.open("POST", req.url);
          for (const name of Object.keys(req.headers)) xhr.setRequestHeader(name, req.headers[name]);
          if (req.onProgress && xhr.upload) {
            xhr.upload.onprogress = (e) => {
              if (e.lengthComputable) req.onProgress(e.loaded / e.total);
            };
          }
          xhr.onload = () => resolve({ status: xhr.status, data: parseJSON(xhr.responseText) });
          xhr.onerror = () => reject(new Error("The upload failed."));
          xhr.onabort = () => reject(new Error("The upload was stopped."));
          xhr.send(form);
        });
      }
      const f = fetchImpl || (typeof fetch !== "undefined" ? (url, init) => fetch(url, init) : null);
      if (!f) return Promise.reject(new Error("No fetch here."));
      return f(req.url, { method: "POST", headers: req.headers, body: form }).then((res) =>
        res.text().then((text) => {
          if (req.onProgress) req.onProgress(1);
          return { status: res.status, data: parseJSON(text) };
        })
      );
    };
  }

  function defaultLocalStorage() {
    try {
      return typeof localStorage !== "undefined" ? localStorage : null;
    } catch (_) {
      return null; // a sandboxed frame may not even look
    }
  }

  // The browser: WebSocket, fetch, localStorage (memory where blocked); reconnects when the
  // network or the tab comes back. Options override each part (Node tests pass `ws`).
  function browserAdapter(options) {
    const o = options || {};
    return {
      name: "browser",
      channel: "web",
      transport: webSocketTransport(o.WebSocket),
      storage: o.storage || webStorage(o.localStorage !== undefined ? o.localStorage : defaultLocalStorage()),
      http: fetchHttp(o.fetch),
      upload: browserUpload(o.fetch),
      lifecycle: o.lifecycle === false ? null : o.lifecycle || browserLifecycle,
    };
  }

  function browserLifecycle(client) {
    if (typeof window === "undefined" || typeof document === "undefined" || !window.addEventListener) return null;
    const online = () => client.wake();
    const visible = () => {
      if (document.visibilityState === "visible") client.wake({ fresh: false });
    };
    window.addEventListener("online", online);
    document.addEventListener("visibilitychange", visible);
    return () => {
      window.removeEventListener("online", online);
      document.removeEventListener("visibilitychange", visible);
    };
  }

  // WeChat mini-programs: wx.connectSocket (a mini-program may hold 5 sockets; this uses one),
  // wx.request, wx.setStorageSync. The platform cuts sockets in the background, so the client
  // closes its own when the app is hidden and reconnects (resuming by cursor) when it shows.
  function wechatAdapter(wx, options) {
    const o = options || {};
    if (!wx || typeof wx.connectSocket !== "function") throw new HelpdeskError("unsupported", "Pass the wx object.");
    return {
      name: "wechat",
      channel: "mini_program",
      transport: {
        open(url, handlers) {
          let open = false;
          let closed = false;
          const close = (code) => {
            if (closed) return;
            closed = true;
            open = false;
            handlers.onClose(code || 1006);
          };
          const task = wx.connectSocket({ url, fail: () => close(1006) });
          task.onOpen(() => {
            if (closed) return;
            open = true;
            handlers.onOpen();
          });
          task.onMessage((res) => {
            if (!closed) handlers.onMessage(typeof res.data === "string" ? res.data : "");
          });
          task.onClose((res) => close(res && res.code));
          task.onError(() => {
            close(1006);
            try {
              task.close({ code: 1000 });
            } catch (_) {
              /* gone */
            }
          });
          return {
            send(text) {
              if (!open || closed) return false;
              task.send({ data: text });
              return true;
            },
            close(code) {
              closed = true;
              open = false;
              task.close({ code: code || 1000 });
            },
          };
        },
      },
      // getStorageSync answers "" for a missing key; nothing this client keeps is empty.
      storage: {
        get(key) {
          const value = wx.getStorageSync(key);
          return value === "" || value == null ? null : String(value);
        },
        set(key, value) {
          wx.setStorageSync(key, value);
        },
        remove(key) {
          wx.removeStorageSync(key);
        },
      },
      http: {
        request(req) {
          return new Promise((resolve, reject) => {
            const call = { url: req.url, method: req.method, header: req.headers, dataType: "text", responseType: "text" };
            if (req.body != null) call.data = JSON.stringify(req.body);
            call.success = (res) => resolve({ status: res.statusCode, data: typeof res.data === "string" ? parseJSON(res.data) : res.data });
            call.fail = (error) => reject(error);
            wx.request(call);
          });
        },
      },
      // wx.uploadFile: `file` is a temporary file path (wx.chooseMedia, wx.chooseMessageFile).
      upload(req) {
        return new Promise((resolve, reject) => {
          const path = typeof req.file === "string" ? req.file : req.file.tempFilePath || req.file.path;
          const task = wx.uploadFile({
            url: req.url,
            filePath: path,
            name: "file",
            header: req.headers,
            success: (res) => resolve({ status: res.statusCode, data: typeof res.data === "string" ? parseJSON(res.data) : res.data }),
            fail: (error) => reject(error),
          });
          if (req.onProgress && task && task.onProgressUpdate) task.onProgressUpdate((p) => req.onProgress(p.progress / 100));
        });
      },
      // wx.login: a code the server exchanges with WeChat for this user's openid.
      wechatLogin() {
        return new Promise((resolve, reject) => {
          wx.login({
            success: (res) => (res && res.code ? resolve(res.code) : reject(new HelpdeskError("wechat_login_failed", "wx.login gave no code."))),
            fail: (error) => reject(new HelpdeskError("wechat_login_failed", (error && error.errMsg) || "wx.login failed.")),
          });
        });
      },
      // wx.requestSubscribeMessage, called at once (it must run inside the user's tap).
      requestSubscribe(tmplIds) {
        return new Promise((resolve, reject) => {
          wx.requestSubscribeMessage({
            tmplIds,
            success: (res) => resolve(res),
            fail: (error) => reject(new HelpdeskError("consent_failed", (error && error.errMsg) || "No consent asked.")),
          });
        });
      },
      lifecycle(client) {
        const hide = () => {
          if (o.closeInBackground !== false) client.pause();
        };
        const show = () => client.wake();
        const network = (res) => {
          if (res && res.isConnected) client.wake();
        };
        if (wx.onAppHide) wx.onAppHide(hide);
        if (wx.onAppShow) wx.onAppShow(show);
        if (wx.onNetworkStatusChange) wx.onNetworkStatusChange(network);
        return () => {
          if (wx.offAppHide) wx.offAppHide(hide);
          if (wx.offAppShow) wx.offAppShow(show);
          if (wx.offNetworkStatusChange) wx.offNetworkStatusChange(network);
        };
      },
    };
  }

  // React Native: its WebSocket and fetch, an AsyncStorage-like storage (getItem, setItem,
  // removeItem returning promises), and AppState: closed in the background, back when active.
  function reactNativeAdapter(options) {
    const o = options || {};
    const storage = o.AsyncStorage || o.storage;
    if (!storage) throw new HelpdeskError("unsupported", "Pass AsyncStorage (or storage).");
    return {
      name: "react-native",
      channel: "app",
      transport: webSocketTransport(o.WebSocket),
      storage: {
        get: (key) => storage.getItem(key),
        set: (key, value) => storage.setItem(key, value),
        remove: (key) => storage.removeItem(key),
      },
      http: fetchHttp(o.fetch),
      upload: browserUpload(o.fetch || (typeof fetch !== "undefined" ? (url, init) => fetch(url, init) : null)),
      lifecycle: o.AppState
        ? (client) => {
            const subscription = o.AppState.addEventListener("change", (state) => {
              if (state === "active") client.wake();
              else if (state === "background" && o.closeInBackground !== false) client.pause();
            });
            return () => {
              if (subscription && subscription.remove) subscription.remove();
            };
          }
        : null,
    };
  }

  return {
    VERSION,
    create: (options) => new VisitorClient(options),
    VisitorClient,
    Connection,
    Outbox,
    Store,
    HelpdeskError,
    uuid: core.uuid,
    compareMessages: core.compareMessages,
    pageSocket: core.pageSocket,
    adapters: { browser: browserAdapter, wechat: wechatAdapter, reactNative: reactNativeAdapter },
    storage: { memory: memoryStorage, web: webStorage },
    transports: { webSocket: webSocketTransport },
  };
});
