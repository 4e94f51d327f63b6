/*
 * What the client tests share: the server the pytest side started (tests/test_client_js.py),
 * an agent who signs in like the inbox does, a recorder that waits for events with a bound,
 * and a stand-in for the network between the client and the server that can be cut.
 */
"use strict";

const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const net = require("node:net");
const path = require("node:path");
const WebSocket = globalThis.WebSocket || require("ws");
const NodeWebSocket = require("ws"); // the agent's socket sends a cookie and an Origin

const ROOT = path.resolve(__dirname, "..", "..", "..");
const HelpdeskClient = require(path.join(ROOT, "helpdesk/static/helpdesk/client.js"));

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/test_client_js.py`);
  return value;
}

const server = {
  get url() {
    return env("HELPDESK_URL");
  },
  get siteKey() {
    return env("HELPDESK_SITE_KEY");
  },
  get agent() {
    const [username, password] = env("HELPDESK_AGENT").split(":");
    return { username, password };
  },
};

const WAIT_MS = 15000;

// Keeps every event of a client (or any source) and waits for the one wanted, with a bound;
// a wait that runs out says what it waited for and what it saw.
class Recorder {
  constructor() {
    this.events = [];
    this._waiters = [];
  }
  record(type, ...args) {
    const event = { type, args, at: Date.now() };
    this.events.push(event);
    for (const w of this._waiters.slice()) {
      if (w.predicate(event)) {
        this._waiters.splice(this._waiters.indexOf(w), 1);
        clearTimeout(w.timer);
        w.resolve(event);
      }
    }
  }
  // The first event (from `since` on) that satisfies the predicate.
  until(what, predicate, { since = 0, timeout = WAIT_MS } = {}) {
    const past = this.events.slice(since).find(predicate);
    if (past) return Promise.resolve(past);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve };
      waiter.timer = setTimeout(() => {
        this._waiters.splice(this._waiters.indexOf(waiter), 1);
        const seen = this.events.slice(-12).map((e) => `${e.type} ${short(e.args)}`);
        reject(new Error(`waited ${timeout} ms for ${what}; the last events were:\n  ${seen.join("\n  ")}`));
      }, timeout);
      this._waiters.push(waiter);
    });
  }
  mark() {
    return this.events.length;
  }
  of(type) {
    return this.events.filter((e) => e.type === type);
  }
}

function short(args) {
  const text = JSON.stringify(args);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

const CLIENT_EVENTS = ["status", "welcome", "message", "pending", "failed", "seen", "presence", "email", "reset", "error", "device", "wechat", "typing"];

function record(client) {
  const recorder = new Recorder();
  for (const type of CLIENT_EVENTS) client.on(type, (...args) => recorder.record(type, ...args));
  return recorder;
}

const welcomed = (recorder, since) =>
  recorder.until("a welcome", (e) => e.type === "welcome", { since: since || 0 });
const acked = (recorder, clientId) =>
  recorder.until(`the ack of ${clientId}`, (e) => e.type === "message" && e.args[0].client_id === clientId && e.args[1].source !== "cache");
const said = (recorder, body, since) =>
  recorder.until(`a message "${body}"`, (e) => e.type === "message" && e.args[0].body === body, { since: since || 0 });

// ---- the agent: signs in with the login form, speaks on /ws/agent/ like the inbox -----------
class Agent {
  static async login() {
    const { username, password } = server.agent;
    const agent = new Agent();
    let res = await fetch(`${server.url}/accounts/login/`, { headers: { cookie: agent.cookie() } });
    agent.keep(res);
    const html = await res.text();
    const csrf = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(html);
    assert.ok(csrf, "the login page has a CSRF token");
    res = await fetch(`${server.url}/accounts/login/`, {
      method: "POST",
      redirect: "manual",
      headers: { cookie: agent.cookie(), "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ csrfmiddlewaretoken: csrf[1], username, password, next: "/inbox/" }),
    });
    agent.keep(res);
    assert.equal(res.status, 302, `signing in as ${username} redirects`);
    assert.ok(agent.jar.has("sessionid"), "signed in: a session cookie");
    return agent;
  }

  constructor() {
    this.jar = new Map();
    this.frames = new Recorder();
    this.ws = null;
  }
  keep(res) {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(";")[0];
      const at = pair.indexOf("=");
      this.jar.set(pair.slice(0, at), pair.slice(at + 1));
    }
  }
  cookie() {
    return Array.from(this.jar, ([k, v]) => `${k}=${v}`).join("; ");
  }

  // Online: the inbox socket (routing hands waiting conversations to online agents).
  async connect() {
    const url = `${server.url.replace(/^http/, "ws")}/ws/agent/`;
    this.ws = new NodeWebSocket(url, { headers: { cookie: this.cookie() }, origin: server.url });
    this.ws.on("message", (data) => {
      const frame = JSON.parse(String(data));
      this.frames.record(frame.type, frame);
    });
    const since = this.frames.mark();
    await this.frames.until("the agent's inbox snapshot", (e) => e.type === "inbox", { since });
  }
  disconnect() {
    if (this.ws) this.ws.close();
    this.ws = null;
  }

  // A reply over HTTP (the agent API), stored before this returns.
  async reply(conversationId, body) {
    const res = await fetch(`${server.url}/api/v1/agent/conversations/${conversationId}/messages`, {
      method: "POST",
      headers: {
        cookie: this.cookie(),
        "content-type": "application/json",
        "x-csrftoken": this.jar.get("csrftoken"),
      },
      body: JSON.stringify({ client_id: crypto.randomUUID(), body }),
    });
    assert.equal(res.status, 201, `the reply "${body}" is stored: ${await res.clone().text()}`);
    return (await res.json()).message;
  }

  // The agent's open conversations, newest activity first (the message center, first page).
  async conversations() {
    const res = await fetch(`${server.url}/api/v1/agent/conversations?scope=mine&state=open&limit=100`, {
      headers: { cookie: this.cookie() },
    });
    assert.equal(res.status, 200);
    return (await res.json()).conversations;
  }

  // What the server stored in a conversation, as its agents see it.
  async history(conversationId) {
    const res = await fetch(`${server.url}/api/v1/agent/conversations/${conversationId}/messages?after_seq=0`, {
      headers: { cookie: this.cookie() },
    });
    assert.equal(res.status, 200);
    return res.json();
  }
}

// ---- the network between client and server: a TCP relay that can cut and refuse ------------
class Network {
  constructor(target) {
    const url = new URL(target);
    this.targetHost = url.hostname;
    this.targetPort = Number(url.port);
    this.down = false;
    this.muted = false;
    this.pairs = new Set();
    this.server = net.createServer((socket) => this._relay(socket));
  }
  start() {
    return new Promise((resolve) => {
      this.server.listen(0, "127.0.0.1", () => {
        this.url = `http://127.0.0.1:${this.server.address().port}`;
        resolve(this);
      });
    });
  }
  _relay(client) {
    if (this.down) {
      client.destroy(); // the network is down: nothing gets through
      return;
    }
    const upstream = net.connect(this.targetPort, this.targetHost);
    const pair = { client, upstream };
    this.pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.on("data", (chunk) => {
      if (!this.muted) client.write(chunk); // muted: the server's answers are lost on the way
    });
  }
  // Every connection breaks at once (no close frame: the client sees 1006), and new ones fail.
  cut() {
    this.down = true;
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.pairs.clear();
  }
  // The server hears the client, the client hears nothing back (answers lost in transit).
  mute() {
    this.muted = true;
  }
  restore() {
    this.down = false;
    this.muted = false;
  }
  close() {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

// A Web Storage stand-in (what localStorage is in a browser), to hand the browser adapter.
class LocalStorage {
  constructor() {
    this.map = new Map();
  }
  getItem(key) {
    return this.map.has(key) ? this.map.get(key) : null;
  }
  setItem(key, value) {
    this.map.set(key, String(value));
  }
  removeItem(key) {
    this.map.delete(key);
  }
}

const bodiesOf = (messages) => messages.map((m) => m.body);
const count = (list, value) => list.filter((x) => x === value).length;

module.exports = {
  HelpdeskClient,
  WebSocket,
  NodeWebSocket,
  ROOT,
  server,
  Recorder,
  record,
  welcomed,
  acked,
  said,
  Agent,
  Network,
  LocalStorage,
  bodiesOf,
  count,
};
