/* /notifications/: the push switch for this browser (staff). */
(() => {
  "use strict";
  const config = JSON.parse(document.getElementById("hd-push").textContent);
  const button = document.getElementById("push-toggle");
  const stateLine = document.getElementById("push-state");
  if (!button || !config.enabled) return;
  const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
  const push = HelpdeskPush.forStaff(config.public_key, csrf);
  const _ = (s) => (window.gettext ? window.gettext(s) : s);
  const fill = (format, values) => (window.interpolate ? window.interpolate(format, values, true) : format);
  const TEXT = {
    on: [_("Turn off on this browser"), _("Push is on for this browser.")],
    off: [_("Turn on push"), _("Push is off for this browser.")],
    denied: [_("Blocked"), _("This browser blocks notifications from this site; allow them in the site settings.")],
    unsupported: [_("Not available"), _("This browser cannot receive Web Push.")],
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
      else show(state, reason === "dismissed" ? _("You dismissed the browser's question.") : fill(_("Could not turn push on: %(reason)s"), { reason }));
    }
  });
  push.state().then(async (s) => {
    if (s === "on") await push.resync().catch(() => {});
    show(s);
  });
})();
