/*
 * Helpdesk client core: what every client of helpdesk shares, whichever side of the protocol
 * it speaks (docs/protocol.md). The visitor client (client.js: the web widget, apps,
 * mini-programs) and the agent inbox (inbox.js) both stand on it:
 *
 * - Connection: one reconnecting socket with JSON frames, a ping every 25 s, guards against
 *   events of a replaced socket, exponential backoff with jitter, pause and wake;
 * - Outbox: messages written and not yet acknowledged, each with the client_id it keeps until
 *   the server has stored it, kept in a Store and sent again after every reconnect;
 * - Store: storage adapters (synchronous like localStorage and wx, or asynchronous like
 *   React Native's AsyncStorage) behind one interface whose operations run in order.
 *
 * Plain ES2017, no build step: a <script> tag (the global HelpdeskCore) or require().
 */
(function (root, factory) {
  "use strict";
  const api = factory();
  if (typeof module === "object" && module && module.exports) module.exports = api;
  else root.HelpdeskCore = api;
})(typeof self !== "undefined" ? self : typeof globalThis !== "undefined" ? globalThis : this, function () {
  "use strict";

  const PING_MS = 25000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const IDLE_MS = 70000; // an open socket that heard nothing (not even a pong) this long is dead
  const WAKE_CHECK_MS = 10000; // after a wake, a socket that looks open must answer a ping this soon

  // ---- small parts ------------------------------------------------------------------------------
  class HelpdeskError extends Error {
    constructor(code, detail, status) {
      super(detail || code);
      this.name = "HelpdeskError";
      this.code = code;
      this.detail = detail || code;
      this.status = status || 0;
    }
  }

  const isThenable = (v) => !!v && typeof v.then === "function";
  // Synchronous with a synchronous storage (localStorage, wx), ordered promises with an async one.
  const after = (value, fn) => (isThenable(value) ? value.then(fn) : fn(value));
  const now = () => Date.now();

  function parseJSON(text) {
    if (typeof text !== "string" || !text) return null;
    try {
      return JSON.parse(text);
    } catch (_) {
      return null;
    }
  }

  // A client ID (UUID v4): crypto where there is one, else Math.random (mini-programs), which
  // is enough for IDs that only need to differ among one visitor's messages.
  function uuid() {
    const c = typeof crypto !== "undefined" ? crypto : null;
    if (c && typeof c.randomUUID === "function") {
      try {
        return c.randomUUID();
      } catch (_) {
        /* insecure context: fall through */
      }
    }
    const b = new Uint8Array(16);
    if (c && typeof c.getRandomValues === "function") c.getRandomValues(b);
    else for (let i = 0; i < 16; i += 1) b[i] = Math.floor(Math.random() * 256);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => (x < 16 ? "0" : "") + x.toString(16)).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const isCursor = (c) =>
    !!c && typeof c === "object" && typeof c.conversation_id === "string" &&
    Number.isInteger(c.seq) && c.seq >= 0;
  const isMessage = (m) =>
    !!m && typeof m === "object" && typeof m.id === "string" &&
    typeof m.conversation_id === "string" && Number.isInteger(m.seq) &&
    typeof m.body === "string" && typeof m.sender === "string";
  const isEntry = (e) => !!e && typeof e === "object" && typeof e.client_id === "string" && typeof e.body === "string";
  const characters = (text) => Array.from(text).length; // as the server counts (code points)

  // Messages in order: by seq within a conversation, by time across conversations.
  function compareMessages(a, b) {
    if (a.conversation_id === b.conversation_id) return a.seq - b.seq;
    const ta = Date.parse(a.created_at);
    const tb = Date.parse(b.created_at);
    if (ta !== tb && !Number.isNaN(ta) && !Number.isNaN(tb)) return ta - tb;
    return String(a.created_at).localeCompare(String(b.created_at));
  }

  // A listener's mistake must not stop the client: it is reported as an uncaught error, later.
  function report(error) {
    setTimeout(() => {
      throw error;
    }, 0);
  }

  class Emitter {
    constructor() {
      this._listeners = {};
    }
    on(type, fn) {
      (this._listeners[type] = this._listeners[type] || []).push(fn);
      return () => this.off(type, fn);
    }
    off(type, fn) {
      const list = this._listeners[type];
      if (list) this._listeners[type] = list.filter((f) => f !== fn);
    }
    emit(type, ...args) {
      for (const fn of (this._listeners[type] || []).slice()) {
        try {
          fn(...args);
        } catch (error) {
          report(error);
        }
      }
    }
  }

  // ---- storage ------------------------------------------------------------------------------------
  // Adapters keep strings under keys: get(key) → string | null, set(key, value), remove(key),
  // each either synchronous or returning a promise. The store names keys with a prefix and runs
  // every operation after the ones before it, so read-modify-write never interleaves.
  class Store {
    constructor(adapter, prefix) {
      this.adapter = adapter || memoryStorage();
      this.prefix = prefix || "";
      this._tail = null;
    }
    _queue(fn) {
      const guarded = () => {
        try {
          return fn();
        } catch (_) {
          return null; // a storage that throws (quota, blocked) is a storage that forgot
        }
      };
      let result = this._tail ? this._tail.then(guarded) : guarded();
      if (isThenable(result)) {
        const settled = result.then(
          (value) => value,
          () => null
        );
        this._tail = settled;
        settled.then(() => {
          if (this._tail === settled) this._tail = null;
        });
        result = settled;
      }
      return result;
    }
    // Resolves once every operation asked so far has reached the storage.
    settled() {
      return Promise.resolve(this._tail).then(() => undefined);
    }
    getRaw(name) {
      return this._queue(() => this.adapter.get(this.prefix + name));
    }
    get(name) {
      return after(this.getRaw(name), (raw) => (raw == null ? null : parseJSON(raw)));
    }
    setRaw(name, value) {
      return this._queue(() => this.adapter.set(this.prefix + name, value));
    }
    set(name, value) {
      return this.setRaw(name, JSON.stringify(value));
    }
    remove(name) {
      return this._queue(() => this.adapter.remove(this.prefix + name));
    }
    // fn(current) returns the new value, null to remove it, or undefined to leave it as it is.
    update(name, fn) {
      const key = this.prefix + name;
      return this._queue(() =>
        after(this.adapter.get(key), (raw) => {
          const next = fn(raw == null ? null : parseJSON(raw));
          if (next === undefined) return null;
          return next === null ? this.adapter.remove(key) : this.adapter.set(key, JSON.stringify(next));
        })
      );
    }
  }

  function memoryStorage(seed) {
    const map = new Map(seed ? Object.keys(seed).map((k) => [k, String(seed[k])]) : []);
    return {
      get: (key) => (map.has(key) ? map.get(key) : null),
      set: (key, value) => {
        map.set(key, String(value));
      },
      remove: (key) => {
        map.delete(key);
      },
    };
  }

  // A Web Storage (localStorage) that may be blocked or wiped, as in a third-party frame:
  // memory (seeded with what the caller kept elsewhere) stands in for what it cannot keep.
  function webStorage(storage, seed) {
    const memory = memoryStorage(seed);
    return {
      get(key) {
        try {
          const value = storage ? storage.getItem(key) : null;
          if (value !== null && value !== undefined) return value;
        } catch (_) {
          /* blocked: memory */
        }
        return memory.get(key);
      },
      set(key, value) {
        memory.set(key, value);
        try {
          if (storage) storage.setItem(key, value);
        } catch (_) {
          /* memory only */
        }
      },
      remove(key) {
        memory.remove(key);
        try {
          if (storage) storage.removeItem(key);
        } catch (_) {
          /* ignore */
        }
      },
    };
  }

  // ---- outbox -------------------------------------------------------------------------------------
  // Messages written and not yet acknowledged, each with the client_id it keeps until then.
  // The list in memory answers at once; every change is also replayed on the stored list (read
  // afresh), so entries another tab added to a shared storage are never written over.
  class Outbox {
    constructor(store, key) {
      this.store = store || new Store(memoryStorage());
      this.key = key || "outbox";
      this._entries = [];
      this._timers = new Map();
    }
    // What storage holds, joined with what memory holds (a resend too many is harmless: the
    // server answers a known client_id with the message it stored).
    load() {
      return after(this.store.get(this.key), (box) => {
        const stored = Array.isArray(box) ? box.filter(isEntry) : [];
        const known = new Set(stored.map((e) => e.client_id));
        const merged = stored.concat(this._entries.filter((e) => !known.has(e.client_id)));
        merged.sort((a, b) => String(a.created_at || "").localeCompare(String(b.created_at || "")));
        this._entries = merged;
        return this.list();
      });
    }
    list() {
      return this._entries.slice();
    }
    get(clientId) {
      return this._entries.find((e) => e.client_id === clientId) || null;
    }
    has(clientId) {
      return !!this.get(clientId);
    }
    get size() {
      return this._entries.length;
    }
    add(fields) {
      const entry = Object.assign({ client_id: uuid(), created_at: new Date().toISOString() }, fields);
      this._entries = this._entries.filter((e) => e.client_id !== entry.client_id).concat([entry]);
      this.store.update(this.key, (box) => {
        const stored = Array.isArray(box) ? box.filter((e) => isEntry(e) && e.client_id !== entry.client_id) : [];
        return stored.concat([entry]);
      });
      return entry;
    }
    // Stored by the server (or refused for good): out of the outbox. True if it was here.
    remove(clientId) {
      const had = this.has(clientId);
      this._entries = this._entries.filter((e) => e.client_id !== clientId);
      clearTimeout(this._timers.get(clientId));
      this._timers.delete(clientId);
      this.store.update(this.key, (box) => {
        if (!Array.isArray(box)) return undefined;
        const rest = box.filter((e) => isEntry(e) && e.client_id !== clientId);
        if (rest.length === box.length) return undefined;
        return rest.length ? rest : null;
      });
      return had;
    }
    clear() {
      for (const timer of this._timers.values()) clearTimeout(timer);
      this._timers.clear();
      this._entries = [];
      this.store.remove(this.key);
    }
    // An error frame naming one of our client_ids: "later" (rate_limited: nothing was stored;
    // `resend(entry)` runs after retry_after) or "failed" (it will never be accepted: it leaves
    // the outbox). null when the frame names no entry of ours.
    refused(frame, resend) {
      const clientId = frame && typeof frame.client_id === "string" ? frame.client_id : null;
      if (!clientId || !this.has(clientId)) return null;
      if (frame.code === "rate_limited") {
        const wait = Math.min(120, Math.max(1, Number(frame.retry_after) || 5)) * 1000;
        clearTimeout(this._timers.get(clientId));
        this._timers.set(
          clientId,
          setTimeout(() => {
            this._timers.delete(clientId);
            const entry = this.get(clientId);
            if (entry) resend(entry);
          }, wait)
        );
        return "later";
      }
      this.remove(clientId);
      return "failed";
    }
    dispose() {
      for (const timer of this._timers.values()) clearTimeout(timer);
      this._timers.clear();
    }
  }

  // ---- connection ---------------------------------------------------------------------------------
  // One reconnecting socket: JSON frames, a ping every 25 s (presence), guards against events of
  // a replaced socket, reconnecting with exponential backoff (0.5 s to 10 s, with jitter). The
  // owner speaks the protocol: what to send on open, what each frame means, what a close asks
  // for (onClose(code) returns "retry" (with backoff), "now" or "stop").
  //
  // A transport opens sockets: open(url, {onOpen, onMessage(text), onClose(code)}) returns
  // {send(text) → boolean, close(code)}.
  class Connection {
    constructor(options) {
      this.options = Object.assign(
        { pingMs: PING_MS, idleMs: IDLE_MS, wakeCheckMs: WAKE_CHECK_MS, backoffMinMs: BACKOFF_MIN_MS, backoffMaxMs: BACKOFF_MAX_MS },
        options
      );
      this._socket = null;
      this._current = null; // identity of the socket whose events count
      this._open = false;
      this._attempt = 0;
      this._retryTimer = null;
      this._pingTimer = null;
      this._checkTimer = null;
      this._heardAt = 0;
      this._pongs = 0; // pongs heard on this connection, to tell a live socket from a dead one
      this.stopped = false;
      this.paused = false;
    }
    get open() {
      return !!this._socket && this._open;
    }
    connect() {
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
      if (this._socket || this._current || this.stopped || this.paused) return;
      const o = this.options;
      if (o.onConnecting) o.onConnecting();
      const me = {};
      this._current = me;
      this._open = false;
      const mine = () => this._current === me;
      let socket = null;
      try {
        socket = o.transport.open(typeof o.url === "function" ? o.url() : o.url, {
          onOpen: () => {
            if (!mine()) return;
            this._open = true;
            this._heardAt = now();
            this._startPing();
            o.onOpen();
          },
          onMessage: (text) => {
            if (!mine()) return;
            this._heardAt = now();
            const frame = parseJSON(text);
            if (!frame || typeof frame !== "object" || Array.isArray(frame)) return;
            if (frame.type === "pong") this._pongs += 1;
            o.onFrame(frame);
          },
          onClose: (code) => {
            if (!mine()) return;
            this._forget();
            this._closed(Number(code) || 1006);
          },
        });
      } catch (_) {
        socket = null;
      }
      if (!mine()) return; // closed while opening (a transport may say so at once)
      if (!socket) {
        this._forget();
        this._closed(1006);
        return;
      }
      this._socket = socket;
    }
    send(frame) {
      if (!this.open) return false;
      try {
        return this._socket.send(JSON.stringify(frame)) !== false;
      } catch (_) {
        return false;
      }
    }
    // Frames were lost: start over, so the owner resumes from its cursor.
    resync() {
      this._drop();
      this.connect();
    }
    // The server welcomed this socket: the next outage backs off from the start.
    settled() {
      this._attempt = 0;
    }
    // The network, the tab or the app came back: connect now if no socket is open or opening;
    // a socket that looks open must prove it (one that slept through a network change may be
    // dead without knowing).
    wake(options) {
      const fresh = !options || options.fresh !== false;
      this.paused = false;
      if (this.stopped) return;
      if (this._current) {
        if (this.open) this._check();
        return;
      }
      if (fresh) this._attempt = 0;
      this.connect();
    }
    // The app went to the background: close, and stay closed until wake().
    pause() {
      this.paused = true;
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
      this._drop();
    }
    stop() {
      this.stopped = true;
      clearTimeout(this._retryTimer);
      this._retryTimer = null;
      this._drop();
    }
    // A pong must answer this ping: other frames, held back while the app slept, prove nothing.
    _check() {
      const pongs = this._pongs;
      this.send({ type: "ping" });
      clearTimeout(this._checkTimer);
      this._checkTimer = setTimeout(() => {
        if (this.open && this._pongs === pongs) this.resync();
      }, this.options.wakeCheckMs);
    }
    _startPing() {
      clearInterval(this._pingTimer);
      this._pingTimer = setInterval(() => {
        if (now() - this._heardAt > this.options.idleMs) this.resync();
        else this.send({ type: "ping" });
      }, this.options.pingMs);
    }
    _forget() {
      this._socket = null;
      this._current = null;
      this._open = false;
      clearInterval(this._pingTimer);
      clearTimeout(this._checkTimer);
    }
    _drop() {
      const socket = this._socket;
      this._forget();
      if (socket) {
        try {
          socket.close(1000);
        } catch (_) {
          /* already gone */
        }
      }
    }
    _closed(code) {
      const next = this.options.onClose(code);
      if (next === "stop") this.stopped = true;
      else if (next === "now") this.connect();
      else this._schedule();
    }
    _schedule() {
      if (this.stopped || this.paused || this._retryTimer) return;
      const o = this.options;
      const ceiling = Math.min(o.backoffMaxMs, o.backoffMinMs * Math.pow(2, this._attempt));
      this._attempt += 1;
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      this._retryTimer = setTimeout(() => {
        this._retryTimer = null;
        this.connect();
      }, delay);
    }
  }

  // A WebSocket constructor as a transport: the browser's, React Native's, or the `ws` package.
  function webSocketTransport(WebSocketImpl) {
    return {
      open(url, handlers) {
        const WS = WebSocketImpl || (typeof WebSocket !== "undefined" ? WebSocket : null);
        if (!WS) throw new HelpdeskError("unsupported", "No WebSocket here.");
        const ws = new WS(url);
        ws.onopen = () => handlers.onOpen();
        ws.onmessage = (event) => handlers.onMessage(typeof event.data === "string" ? event.data : String(event.data));
        ws.onclose = (event) => handlers.onClose(event && event.code);
        ws.onerror = () => {
          /* a close event follows */
        };
        return {
          send(text) {
            if (ws.readyState !== 1) return false;
            ws.send(text);
            return true;
          },
          close(code) {
            ws.close(code);
          },
        };
      },
    };
  }

  // A page of our own origin: a Connection to one of its socket paths (ws:// or wss:// like it).
  function pageSocket(path, handlers) {
    const url = () => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
    return new Connection(Object.assign({ url, transport: webSocketTransport() }, handlers));
  }

  return {
    HelpdeskError,
    Emitter,
    Store,
    Outbox,
    Connection,
    uuid,
    after,
    parseJSON,
    isCursor,
    isMessage,
    characters,
    compareMessages,
    pageSocket,
    storage: { memory: memoryStorage, web: webStorage },
    transports: { webSocket: webSocketTransport },
  };
});
