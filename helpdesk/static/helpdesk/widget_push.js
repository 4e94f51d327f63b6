/* /widget/push/: the first-party window that turns on push for a visitor whose widget sits in
   another site's frame. The visitor token arrives in the URL fragment. */
(() => {
  "use strict";
  const _ = (s) => (window.gettext ? window.gettext(s) : s);
  const config = JSON.parse(document.getElementById("hd-push").textContent);
  const button = document.getElementById("push-go");
  const stateLine = document.getElementById("push-state");
  // The fragment: t=<token>, and for a signed-in user the host site's proof.
  const fragment = new URLSearchParams(location.hash.slice(1));
  const token = fragment.get("t") || "";
  const proof = { user_id: fragment.get("user_id"), user_hash: fragment.get("user_hash") };
  history.replaceState(null, "", location.pathname + location.search); // drop the token from the URL
  if (!config.enabled || !token) {
    button.disabled = true;
    if (!token) stateLine.textContent = _("Open this from the chat window.");
    return;
  }
  const push = HelpdeskPush.forVisitor(config.public_key, () => token, () => proof);
  function tell(state) {
    if (window.opener) window.opener.postMessage({ type: "hd:push", state }, location.origin);
  }
  push.state().then((state) => {
    if (state === "on") {
      button.textContent = _("Turn off notifications");
      stateLine.textContent = _("Notifications are on.");
    } else if (state === "denied" || state === "unsupported") {
      button.disabled = true;
      stateLine.textContent = state === "denied" ? _("Your browser blocks notifications from this site.") : _("This browser cannot show notifications.");
    }
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if ((await push.state()) === "on") {
        await push.disable();
        tell("off");
        stateLine.textContent = _("Notifications are off. You can close this window.");
      } else {
        await push.enable();
        tell("on");
        stateLine.textContent = _("Done. You can close this window.");
        setTimeout(() => window.close(), 1500);
      }
    } catch (error) {
      stateLine.textContent = error && error.message === "blocked" ? _("Your browser blocks notifications from this site.") : window.interpolate(_("Could not turn them on: %(reason)s"), { reason: error && error.message }, true);
      button.disabled = false;
    }
  });
})();
