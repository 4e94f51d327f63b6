/*
 * Helpdesk embed loader.
 *
 *   <script src="https://HELPDESK/static/helpdesk/embed.js" data-site-key="wk_..." async></script>
 *
 * For a signed-in user, add data-user-id, data-user-hash (HMAC-SHA256 hex of the ID with the
 * site's identity secret, computed on the host's server) and optionally data-user-name.
 *
 * Adds a launcher button (#hd-launcher, with an unread badge #hd-badge) and the chat frame
 * (#hd-frame) to the host page. Defines no globals.
 */
(() => {
  "use strict";

  const script =
    document.currentScript || document.querySelector("script[data-site-key][src*='embed.js']") ||
    document.querySelector("script[data-site-key]");
  if (!script) return;
  const siteKey = (script.getAttribute("data-site-key") || "").trim();
  if (!siteKey || document.getElementById("hd-launcher")) return;

  let src;
  try {
    src = new URL(script.src, document.baseURI);
  } catch (_) {
    return;
  }
  const marker = "/static/helpdesk/";
  const at = src.pathname.lastIndexOf(marker);
  const base = src.origin + (at >= 0 ? src.pathname.slice(0, at) : "");
  const frameOrigin = src.origin;
  const KEPT = ["token", "cursor", "visitor", "outbox", "seen"];

  const DEFAULT_COLOR = "#2563eb";
  const color = validColor(script.getAttribute("data-color")) || DEFAULT_COLOR;

  function validColor(value) {
    const c = (value || "").trim();
    if (!c) return null;
    if (window.CSS && typeof CSS.supports === "function") return CSS.supports("color", c) ? c : null;
    return /^#[0-9a-f]{3,8}$/i.test(c) ? c : null;
  }

  // Dark icon on light brand colours, white otherwise.
  function onColor(c) {
    const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
    if (!m) return "#ffffff";
    let hex = m[1];
    if (hex.length === 3) hex = hex.replace(/./g, (d) => d + d);
    const [r, g, b] = [0, 2, 4].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255);
    const lin = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
    const lum = 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    return lum > 0.45 ? "#111827" : "#ffffff";
  }

  const CSS_TEXT = `
#hd-launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;
  margin:0;padding:0;border:0;border-radius:50%;display:flex;align-items:center;justify-content:center;
  cursor:pointer;box-sizing:border-box;box-shadow:0 6px 20px rgba(15,23,42,.22),0 2px 6px rgba(15,23,42,.14);
  transition:transform .16s ease,box-shadow .16s ease;-webkit-tap-highlight-color:transparent}
#hd-launcher:hover{transform:scale(1.06);box-shadow:0 10px 28px rgba(15,23,42,.26),0 3px 8px rgba(15,23,42,.16)}
#hd-launcher:active{transform:scale(.96)}
#hd-launcher:focus{outline:none}
#hd-launcher:focus-visible{outline:3px solid rgba(37,99,235,.55);outline-offset:3px}
#hd-launcher svg{width:28px;height:28px;fill:currentColor;display:block;transition:transform .2s ease,opacity .2s ease}
#hd-launcher .hd-icon-close{position:absolute;opacity:0;transform:rotate(-90deg) scale(.6)}
#hd-launcher.hd-open .hd-icon-chat{opacity:0;transform:rotate(90deg) scale(.6)}
#hd-launcher.hd-open .hd-icon-close{opacity:1;transform:none}
#hd-badge{position:absolute;top:-3px;right:-3px;min-width:20px;height:20px;padding:0 6px;box-sizing:border-box;
  border-radius:10px;background:#ef4444;color:#fff;font:600 12px/20px -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
  text-align:center;box-shadow:0 0 0 2px #fff;pointer-events:none}
#hd-badge[hidden]{display:none}
#hd-frame{position:fixed;right:20px;bottom:88px;z-index:2147483000;width:370px;height:560px;
  max-width:calc(100vw - 40px);max-height:calc(100vh - 108px);margin:0;padding:0;border:0;border-radius:16px;
  background:#fff;color-scheme:normal;box-shadow:0 16px 48px rgba(15,23,42,.2),0 4px 12px rgba(15,23,42,.1);
  opacity:0;visibility:hidden;transform:translateY(16px) scale(.98);transform-origin:100% 100%;
  transition:opacity .2s ease,transform .2s ease,visibility 0s linear .2s}
#hd-frame.hd-open{opacity:1;visibility:visible;transform:none;transition:opacity .2s ease,transform .2s ease,visibility 0s}
@media (max-width:479px){
  #hd-frame{right:0;bottom:0;left:0;top:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0}
  #hd-launcher.hd-open{display:none}
}
@media (prefers-reduced-motion:reduce){#hd-launcher,#hd-launcher svg,#hd-frame{transition:none}}
`;

  const ICON_CHAT =
    '<svg class="hd-icon-chat" viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path d="M12 3C6.48 3 2 6.92 2 11.75c0 2.47 1.18 4.7 3.08 6.29-.13 1.2-.6 2.5-1.62 3.52a.5.5 0 0 0 .4.85' +
    'c2.05-.15 3.76-.9 4.98-1.73 1 .27 2.06.42 3.16.42 5.52 0 10-3.92 10-8.75S17.52 3 12 3Z"/></svg>';
  const ICON_CLOSE =
    '<svg class="hd-icon-close" viewBox="0 0 24 24" aria-hidden="true" focusable="false">' +
    '<path d="M6.7 8.3a1 1 0 0 0-1.4 1.4l6 6a1 1 0 0 0 1.4 0l6-6a1 1 0 1 0-1.4-1.4L12 13.6 6.7 8.3Z"/></svg>';

  let open = false;
  let launcher;
  let badge;
  let frame;

  function mount() {
    if (document.getElementById("hd-launcher")) return;

    const style = document.createElement("style");
    style.id = "hd-style";
    style.textContent = CSS_TEXT;
    (document.head || document.documentElement).appendChild(style);

    frame = document.createElement("iframe");
    frame.id = "hd-frame";
    frame.title = "Chat";
    // The page the visitor is on and what the host site knows of them (data-attributes, a
    // JSON object of strings) go to the frame, which passes them on in its hello: routing
    // rules can use them.
    const params = new URLSearchParams({ site_key: siteKey, page: location.href.slice(0, 500) });
    const attrs = script.getAttribute("data-attributes");
    if (attrs) params.set("attributes", attrs.slice(0, 4000));
    // A signed-in user of the host site (data-user-id, data-user-hash = HMAC-SHA256 of the
    // ID with the site's identity secret, made on the host's server; data-user-name): in the
    // fragment, which never reaches a server log.
    const identity = new URLSearchParams();
    for (const [attr, key] of [["data-user-id", "user_id"], ["data-user-hash", "user_hash"], ["data-user-name", "name"]]) {
      const value = (script.getAttribute(attr) || "").trim();
      if (value) identity.set(key, value.slice(0, 255));
    }
    // What the widget keeps (token, cursor, unsent messages) also lives here, in the host
    // page's own storage: browsers may block or wipe a third-party frame's storage, and a
    // visitor must find their conversation again when they come back.
    const kept = {};
    for (const name of KEPT) {
      try {
        const value = localStorage.getItem(`helpdesk:${siteKey}:${name}`);
        if (value !== null) kept[name] = value;
      } catch (_) {
        /* storage blocked here too: the frame's own, or memory */
      }
    }
    if (Object.keys(kept).length) identity.set("kept", JSON.stringify(kept));
    frame.src = base + "/widget/?" + params.toString() + (identity.toString() ? "#" + identity.toString() : "");
    frame.setAttribute("aria-hidden", "true");
    frame.tabIndex = -1;

    launcher = document.createElement("button");
    launcher.id = "hd-launcher";
    launcher.type = "button";
    launcher.setAttribute("aria-label", "Chat with us");
    launcher.setAttribute("aria-controls", "hd-frame");
    launcher.setAttribute("aria-expanded", "false");
    launcher.style.backgroundColor = color;
    launcher.style.color = onColor(color);
    launcher.innerHTML = ICON_CHAT + ICON_CLOSE; // static markup only

    badge = document.createElement("span");
    badge.id = "hd-badge";
    badge.hidden = true;
    badge.setAttribute("aria-hidden", "true");
    launcher.appendChild(badge);

    document.body.appendChild(frame);
    document.body.appendChild(launcher);

    launcher.addEventListener("click", () => setOpen(!open));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && open) setOpen(false, true);
    });
    window.addEventListener("message", onMessage);
  }

  function post(type) {
    if (!frame || !frame.contentWindow) return;
    try {
      frame.contentWindow.postMessage({ source: "helpdesk", type }, frameOrigin);
    } catch (_) {
      /* frame not ready yet: it asks again with "ready" */
    }
  }

  function setOpen(next, restoreFocus) {
    open = next;
    frame.classList.toggle("hd-open", open);
    launcher.classList.toggle("hd-open", open);
    launcher.setAttribute("aria-expanded", String(open));
    frame.setAttribute("aria-hidden", String(!open));
    frame.tabIndex = open ? 0 : -1;
    post(open ? "opened" : "closed");
    if (open) {
      setBadge(0);
      try {
        frame.focus({ preventScroll: true });
      } catch (_) {
        /* ignore */
      }
    } else if (restoreFocus) {
      launcher.focus({ preventScroll: true });
    }
  }

  function setBadge(count) {
    const n = Math.max(0, Math.floor(Number(count) || 0));
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = n === 0;
  }

  function onMessage(event) {
    if (!frame || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.source !== "helpdesk") return;
    switch (data.type) {
      case "ready":
        post(open ? "opened" : "closed");
        break;
      case "unread":
        setBadge(open ? 0 : data.count);
        break;
      case "close":
        if (open) setOpen(false, true);
        break;
      case "keep":
        if (event.origin !== frameOrigin || !KEPT.includes(data.name)) break;
        try {
          const key = `helpdesk:${siteKey}:${data.name}`;
          if (typeof data.value === "string") localStorage.setItem(key, data.value);
          else localStorage.removeItem(key);
        } catch (_) {
          /* storage blocked */
        }
        break;
      default:
        break;
    }
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount, { once: true });
})();
