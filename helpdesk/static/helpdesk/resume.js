/* /r/<link>/: keep the fresh visitor token for the widget on this device, then open the chat. */
(() => {
  "use strict";
  const r = JSON.parse(document.getElementById("hd-resume").textContent);
  try {
    localStorage.setItem(`helpdesk:${r.site_key}:token`, r.token);
    localStorage.removeItem(`helpdesk:${r.site_key}:cursor`);
    localStorage.removeItem(`helpdesk:${r.site_key}:messages`);
  } catch (_) {
    /* storage blocked: the chat starts fresh */
  }
  location.replace(`/widget/?site_key=${encodeURIComponent(r.site_key)}`);
})();
