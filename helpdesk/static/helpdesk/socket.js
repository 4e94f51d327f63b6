/*
 * Helpdesk socket: one reconnecting WebSocket, shared by the widget and the agent inbox.
 *
 * It owns the connection itself: the URL (ws:// or wss:// like the page), JSON frames, the
 * ping every 25 s that keeps presence alive, guards against events of a replaced socket, and
 * reconnecting with exponential backoff (0.5 s to 10 s, with jitter). The page owns the
 * protocol: what to send on open, what each frame means, and what a close code asks for.
 *
 *   const socket = HelpdeskSocket.open("/ws/visitor/", {
 *     onConnecting() {},          // a new socket is being opened
 *     onOpen() {},                // it is open: say hello
 *     onFrame(frame) {},          // a parsed JSON object
 *     onClose(code) { return "retry"; },  // "retry" (with backoff), "now", or "stop"
 *   });
 *   socket.connect(); socket.send({type: "ping"}); socket.settled(); socket.resync();
 */
(() => {
  "use strict";

  const PING_MS = 25000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;

  // A client ID (UUID v4), with a fallback where crypto.randomUUID is missing.
  function uuid() {
    if (window.crypto && typeof crypto.randomUUID === "function") {
      try {
        return crypto.randomUUID();
      } catch (_) {
        /* insecure context: fall through */
      }
    }
    const b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function open(path, handlers) {
    let ws = null;
    let attempt = 0;
    let reconnectTimer = null;
    let pingTimer = null;
    let stopped = false;

    const url = () => (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;

    function send(frame) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      try {
        ws.send(JSON.stringify(frame));
        return true;
      } catch (_) {
        return false;
      }
    }

    function connect() {
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      if (ws || stopped) return;
      if (handlers.onConnecting) handlers.onConnecting();
      let sock;
      try {
        sock = new WebSocket(url());
      } catch (_) {
        closed(1006);
        return;
      }
      ws = sock;
      sock.onopen = () => {
        if (ws !== sock) return;
        clearInterval(pingTimer);
        pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
        handlers.onOpen();
      };
      sock.onmessage = (event) => {
        if (ws !== sock) return;
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch (_) {
          return;
        }
        if (frame && typeof frame === "object") handlers.onFrame(frame);
      };
      sock.onclose = (event) => {
        if (ws !== sock) return;
        ws = null;
        clearInterval(pingTimer);
        closed(event.code);
      };
      sock.onerror = () => {
        /* a close event follows */
      };
    }

    function closed(code) {
      const next = handlers.onClose(code);
      if (next === "stop") stopped = true;
      else if (next === "now") connect();
      else schedule();
    }

    function schedule() {
      if (stopped || reconnectTimer) return;
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
      attempt += 1;
      const delay = ceiling / 2 + Math.random() * (ceiling / 2);
      reconnectTimer = setTimeout(() => {
        reconnectTimer = null;
        connect();
      }, delay);
    }

    function drop() {
      const sock = ws;
      ws = null;
      clearInterval(pingTimer);
      if (sock) {
        try {
          sock.close(1000);
        } catch (_) {
          /* ignore */
        }
      }
    }

    return {
      connect,
      send,
      // Frames were lost: start over, so the page resumes from its cursor.
      resync() {
        drop();
        connect();
      },
      // The server welcomed this socket: the next outage backs off from the start.
      settled() {
        attempt = 0;
      },
      // The network or the tab came back: connect now if no socket is open or opening.
      wake({ fresh = true } = {}) {
        if (ws || stopped) return;
        if (fresh) attempt = 0;
        connect();
      },
    };
  }

  window.HelpdeskSocket = { open, uuid };
})();
