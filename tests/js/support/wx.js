/*
 * A stand-in for the `wx` object of a WeChat mini-program, backed by real sockets (the `ws`
 * package) and real HTTP requests (fetch): what the mini-program adapter of client.js uses,
 * with the platform's habits that matter here:
 *
 * - wx.getStorageSync answers "" for a missing key; storage survives the app (a new client on
 *   the same stand-in is the app started again);
 * - at most 5 sockets at once (connectSocket fails beyond);
 * - hide() is the app going to the background: onAppHide listeners run, then the platform cuts
 *   every socket still open (no close frame). With freeze, the app's JavaScript is suspended:
 *   every callback waits until show(); with silent, a cut socket never reports its close
 *   (its task still looks open, the worst the platform can do).
 * - wx.login gives a new code each time, "<openid>.<nonce>": the WeChat API stand-in of the
 *   Python side (tests/wechatapi.py) exchanges it, once, for this user's openid;
 * - wx.requestSubscribeMessage works only inside a tap (tap(fn) is the user's finger) and
 *   answers what the user chooses (state.choices: template ID → "accept" / "reject"; accept
 *   by default).
 */
"use strict";

const NodeWebSocket = require("ws");

const MAX_SOCKETS = 5;

function createWx() {
  const storage = new Map();
  const listeners = { show: new Set(), hide: new Set(), network: new Set() };
  const held = []; // callbacks waiting for the app to come back (frozen)
  const tasks = new Set();
  const state = {
    frozen: false,
    background: false,
    maxOpen: 0,
    opened: 0,
    requests: [],
    openid: `o-${Math.random().toString(36).slice(2, 12)}`,
    logins: 0,
    tapping: false,
    choices: {},
    asked: [],
  };

  function deliver(fn) {
    if (state.frozen) held.push(fn);
    else fn();
  }

  class SocketTask {
    constructor(url) {
      this.url = url;
      this.open = false;
      this.closed = false;
      this.silent = false;
      this.handlers = { open: [], message: [], close: [], error: [] };
      this.ws = new NodeWebSocket(url); // an app sends no Origin
      this.ws.on("open", () => {
        this.open = true;
        this._emit("open", { header: {} });
      });
      this.ws.on("message", (data, isBinary) => this._emit("message", { data: isBinary ? new Uint8Array(data).buffer : String(data) }));
      this.ws.on("close", (code, reason) => {
        this.open = false;
        this.closed = true;
        tasks.delete(this);
        if (!this.silent) this._emit("close", { code, reason: String(reason) });
      });
      this.ws.on("error", (error) => {
        if (!this.silent) this._emit("error", { errMsg: error.message });
      });
    }
    _emit(type, res) {
      deliver(() => {
        for (const cb of this.handlers[type]) cb(res);
      });
    }
    onOpen(cb) {
      this.handlers.open.push(cb);
    }
    onMessage(cb) {
      this.handlers.message.push(cb);
    }
    onClose(cb) {
      this.handlers.close.push(cb);
    }
    onError(cb) {
      this.handlers.error.push(cb);
    }
    send({ data, success, fail }) {
      if (!this.open || this.ws.readyState !== NodeWebSocket.OPEN) {
        deliver(() => fail && fail({ errMsg: "sendSocketMessage:fail WebSocket is not connected" }));
        return;
      }
      this.ws.send(data, (error) => deliver(() => (error ? fail && fail({ errMsg: error.message }) : success && success({}))));
    }
    close({ code = 1000, reason = "" } = {}) {
      try {
        this.ws.close(code, reason);
      } catch (_) {
        this.ws.terminate();
      }
    }
    cut(silent) {
      this.silent = !!silent;
      this.ws.terminate();
    }
  }

  const wx = {
    connectSocket({ url, fail }) {
      if (tasks.size >= MAX_SOCKETS) {
        deliver(() => fail && fail({ errMsg: "connectSocket:fail exceed max task count" }));
        return { onOpen() {}, onMessage() {}, onClose() {}, onError() {}, send() {}, close() {} };
      }
      const task = new SocketTask(url);
      tasks.add(task);
      state.opened += 1;
      state.maxOpen = Math.max(state.maxOpen, tasks.size);
      return task;
    },
    request({ url, method = "GET", header = {}, data, dataType = "json", success, fail, complete }) {
      state.requests.push({ url, method, header });
      const init = { method, headers: header };
      if (data != null && method !== "GET") init.body = typeof data === "string" ? data : JSON.stringify(data);
      fetch(url, init)
        .then(async (res) => {
          const text = await res.text();
          let body = text;
          if (dataType === "json") {
            try {
              body = JSON.parse(text);
            } catch (_) {
              /* as text, like wx */
            }
          }
          deliver(() => {
            if (success) success({ statusCode: res.status, data: body, header: Object.fromEntries(res.headers) });
            if (complete) complete();
          });
        })
        .catch((error) =>
          deliver(() => {
            if (fail) fail({ errMsg: `request:fail ${error.message}` });
            if (complete) complete();
          })
        );
      return { abort() {} };
    },
    login({ success, fail } = {}) {
      state.logins += 1;
      const code = `${state.openid}.${Math.random().toString(36).slice(2, 10)}`;
      setTimeout(() => deliver(() => (success ? success({ code, errMsg: "login:ok" }) : fail && fail({}))), 0);
    },
    requestSubscribeMessage({ tmplIds, success, fail } = {}) {
      if (!state.tapping) {
        const errMsg = "requestSubscribeMessage:fail can only be invoked by user TAP gesture.";
        setTimeout(() => deliver(() => fail && fail({ errMsg, errCode: 10003 })), 0);
        return;
      }
      state.asked.push(tmplIds.slice());
      const res = { errMsg: "requestSubscribeMessage:ok" };
      for (const id of tmplIds) res[id] = state.choices[id] || "accept";
      setTimeout(() => deliver(() => success && success(res)), 0);
    },
    getStorageSync: (key) => (storage.has(key) ? storage.get(key) : ""),
    setStorageSync: (key, value) => {
      storage.set(key, value);
    },
    removeStorageSync: (key) => {
      storage.delete(key);
    },
    onAppShow: (cb) => listeners.show.add(cb),
    offAppShow: (cb) => listeners.show.delete(cb),
    onAppHide: (cb) => listeners.hide.add(cb),
    offAppHide: (cb) => listeners.hide.delete(cb),
    onNetworkStatusChange: (cb) => listeners.network.add(cb),
    offNetworkStatusChange: (cb) => listeners.network.delete(cb),

    // ---- the test's hands -----------------------------------------------------------------
    storage,
    state,
    openSockets: () => Array.from(tasks).filter((t) => !t.closed),
    hide({ freeze = false, silent = false } = {}) {
      state.background = true;
      for (const cb of Array.from(listeners.hide)) cb();
      if (freeze) state.frozen = true;
      for (const task of Array.from(tasks)) task.cut(silent); // the platform takes the rest
    },
    show() {
      state.background = false;
      state.frozen = false;
      while (held.length) held.shift()();
      for (const cb of Array.from(listeners.show)) cb({ scene: 1001, path: "pages/chat/chat" });
    },
    listenerCount: () => listeners.show.size + listeners.hide.size + listeners.network.size,
    // The user's finger: what runs synchronously inside fn runs "in a tap".
    tap(fn) {
      state.tapping = true;
      try {
        return fn();
      } finally {
        state.tapping = false;
      }
    },
  };
  return wx;
}

module.exports = { createWx };
