/* /widget/push/: the first-party window that turns on push for a visitor whose widget sits in
   another site's frame. The visitor token arrives in the URL fragment. */
(() => {
  "use strict";
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
    if (!token) stateLine.textContent = "Open this from the chat window.";
    return;
  }
  const push = HelpdeskPush.forVisitor(config.public_key, () => token, () => proof);
  function tell(state) {
    if (window.opener) window.opener.postMessage({ type: "hd:push", state }, location.origin);
  }
  push.state().then((state) => {
    if (state === "on") {
      button.textContent = "Turn off notifications";
      stateLine.textContent = "Notifications are on.";
    } else if (state === "denied" || state === "unsupported") {
      button.disabled = true;
      stateLine.textContent = state === "denied" ? "Your browser blocks notifications from this site." : "This browser cannot show notifications.";
    }
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if ((await push.state()) === "on") {
        await push.disable();
        tell("off");
        stateLine.textContent = "Notifications are off. You can close this window.";
      } else {
        await push.enable();
        tell("on");
        stateLine.textContent = "Done. You can close this window.";
        setTimeout(() => window.close(), 1500);
      }
    } catch (error) {
      stateLine.textContent = error && error.message === "blocked" ? "Your browser blocks notifications from this site." : `Could not turn them on: ${error && error.message}`;
      button.disabled = false;
    }
  });
})();
