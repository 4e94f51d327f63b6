/*
 * Helpdesk embed loader.
 *
 *   <script src="https://HELPDESK/static/helpdesk/embed.js" data-site-key="wk_..." async></script>
 *
 * For a signed-in user, add data-user-id, data-user-hash (HMAC-SHA256 hex of the ID with the
 * site's identity secret, computed on the host's server) and optionally data-user-name.
 *
 * Adds a launcher button (#hd-launcher, with an unread badge #hd-badge), a preview of the
 * latest unread reply (#hd-preview) and the chat frame (#hd-frame) to the host page. The
 * frame tells the launcher its words, in the visitor's language. Defines no globals.
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
#hd-preview{position:fixed;right:20px;bottom:88px;z-index:2147483000;display:flex;align-items:flex-start;
  width:max-content;max-width:min(320px,calc(100vw - 40px));margin:0;padding:0;box-sizing:border-box;
  font:14px/1.4 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,"Helvetica Neue",Arial,"PingFang SC","Microsoft YaHei",sans-serif;
  color:#111827;background:#fff;border-radius:14px;box-shadow:0 12px 32px rgba(15,23,42,.18),0 2px 6px rgba(15,23,42,.1);
  animation:hd-rise .22s ease}
#hd-preview[hidden]{display:none}
#hd-preview-open{all:unset;box-sizing:border-box;display:flex;gap:10px;align-items:flex-start;min-height:44px;
  padding:12px 6px 12px 14px;cursor:pointer;border-radius:14px;flex:1;min-width:0}
#hd-preview-open:focus-visible{outline:3px solid rgba(37,99,235,.55);outline-offset:2px}
.hd-pv-avatar{flex:none;width:32px;height:32px;border-radius:50%;display:flex;align-items:center;justify-content:center;
  font-weight:700;font-size:14px}
.hd-pv-text{min-width:0;display:flex;flex-direction:column;gap:2px}
.hd-pv-name{font-size:12.5px;font-weight:600;color:#4b5563}
.hd-pv-body{display:-webkit-box;-webkit-line-clamp:3;-webkit-box-orient:vertical;overflow:hidden;overflow-wrap:anywhere;white-space:pre-wrap}
#hd-preview-close{all:unset;box-sizing:border-box;flex:none;width:44px;height:44px;display:flex;align-items:center;justify-content:center;
  cursor:pointer;color:#6b7280;border-radius:12px;font-size:20px;line-height:1}
#hd-preview-close:hover{color:#111827}
#hd-preview-close:focus-visible{outline:3px solid rgba(37,99,235,.55);outline-offset:-3px}
@keyframes hd-rise{from{opacity:0;transform:translateY(8px)}to{opacity:1;transform:none}}
@media (max-width:479px){
  #hd-frame{right:0;bottom:0;left:0;top:0;width:100%;height:100%;max-width:none;max-height:none;border-radius:0}
  #hd-launcher.hd-open{display:none}
  #hd-preview{right:16px;bottom:84px;max-width:calc(100vw - 32px)}
}
@media (prefers-reduced-motion:reduce){#hd-launcher,#hd-launcher svg,#hd-frame,#hd-preview{transition:none;animation:none}}
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
  let preview;
  // The launcher's words until the frame tells them in the visitor's language.
  const labels = { open: "Chat with us", close: "Close chat", title: "Chat", dismiss: "Dismiss", reply: "New reply" };
  let unreadLabel = "";
  let shownPreview = null; // the reply previewed, until read or dismissed
  let dismissed = "";

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
    // Its title and where the visitor came from, for the agent's panel.
    if (document.title) params.set("title", document.title.slice(0, 200));
    if (/^https?:\/\//.test(document.referrer)) params.set("referrer", document.referrer.slice(0, 500));
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

    // The latest unread reply, shown by the launcher while the chat is closed.
    preview = document.createElement("div");
    preview.id = "hd-preview";
    preview.hidden = true;
    preview.setAttribute("role", "status");
    const previewOpen = document.createElement("button");
    previewOpen.id = "hd-preview-open";
    previewOpen.type = "button";
    const previewClose = document.createElement("button");
    previewClose.id = "hd-preview-close";
    previewClose.type = "button";
    previewClose.textContent = "×";
    previewClose.setAttribute("aria-label", labels.dismiss);
    preview.append(previewOpen, previewClose);
    previewOpen.addEventListener("click", () => setOpen(true));
    previewClose.addEventListener("click", () => {
      dismissed = shownPreview ? shownPreview.id : "";
      showPreview(null);
      launcher.focus({ preventScroll: true });
    });

    document.body.appendChild(frame);
    document.body.appendChild(preview);
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
    nameLauncher();
    if (open) {
      setBadge(0);
      showPreview(null);
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

  // The launcher's accessible name says what it does, and how many replies wait.
  function nameLauncher() {
    launcher.setAttribute("aria-label", open ? labels.close : unreadLabel || labels.open);
    frame.title = labels.title;
  }

  function text(value, max) {
    return typeof value === "string" ? value.slice(0, max) : "";
  }

  function showPreview(p) {
    shownPreview = p && typeof p === "object" && typeof p.id === "string" ? p : null;
    if (!shownPreview || open || shownPreview.id === dismissed) {
      preview.hidden = true;
      return;
    }
    const hue = Number.isInteger(p.hue) ? p.hue % 360 : 215;
    const avatar = document.createElement("span");
    avatar.className = "hd-pv-avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.style.color = `hsl(${hue} 55% 28%)`;
    avatar.style.background = `hsl(${hue} 75% 90%)`;
    avatar.textContent = text(p.initial, 2);
    const words = document.createElement("span");
    words.className = "hd-pv-text";
    const name = document.createElement("span");
    name.className = "hd-pv-name";
    name.textContent = text(p.name, 80);
    const body = document.createElement("span");
    body.className = "hd-pv-body";
    body.textContent = text(p.body, 140);
    words.append(name, body);
    const button = preview.querySelector("#hd-preview-open");
    button.replaceChildren(avatar, words);
    preview.hidden = false;
  }

  function onMessage(event) {
    if (!frame || event.source !== frame.contentWindow) return;
    const data = event.data;
    if (!data || typeof data !== "object" || data.source !== "helpdesk") return;
    switch (data.type) {
      case "ready":
        if (data.labels && typeof data.labels === "object") {
          for (const key of Object.keys(labels)) {
            const value = text(data.labels[key], 100);
            if (value) labels[key] = value;
          }
          preview.querySelector("#hd-preview-close").setAttribute("aria-label", labels.dismiss);
        }
        nameLauncher();
        post(open ? "opened" : "closed");
        break;
      case "unread":
        setBadge(open ? 0 : data.count);
        unreadLabel = data.count ? text(data.label, 200) : "";
        nameLauncher();
        showPreview(open ? null : data.preview);
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
