/* /notifications/: the push switch for this browser (staff). */
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("hd-push").textContent);
  const button = document.getElementById("push-toggle");
  const stateLine = document.getElementById("push-state");
  if (!button || !config.enabled) return;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const push = HelpdeskPush.forStaff(config.public_key, csrf);
  const TEXT = {
    on: ["Turn off on this browser", "Push is on for this browser."],
    off: ["Turn on push", "Push is off for this browser."],
    denied: ["Blocked", "This browser blocks notifications from this site; allow them in the site settings."],
    unsupported: ["Not available", "This browser cannot receive Web Push."],
  };
  let state = "off";
  function show(next, note) {
    state = next;
    button.textContent = TEXT[next][0];
    button.disabled = next === "denied" || next === "unsupported";
    button.classList.toggle("btn-ghost", next === "on");
    button.classList.toggle("btn-primary", next !== "on");
    stateLine.textContent = note || TEXT[next][1];
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      if (state === "on") {
        await push.disable();
        show("off");
      } else {
        await push.enable();
        show("on");
      }
    } catch (error) {
      const reason = error && error.message;
      if (reason === "blocked") show("denied");
      else show(state, reason === "dismissed" ? "You dismissed the browser's question." : `Could not turn push on: ${reason}`);
    }
  });
  push.state().then(async (s) => {
    if (s === "on") await push.resync().catch(() => {});
    show(s);
  });
})();
