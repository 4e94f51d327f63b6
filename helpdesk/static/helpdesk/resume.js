/* /r/#<link>: the link's token rides in the URL fragment (never sent to a server); it goes
   into the form, which uses it once. After that POST: keep the fresh visitor token for the
   widget on this device, then open the chat. */
(() => {
  "use strict";
  const field = document.getElementById("resume-token");
  if (field && location.hash.length > 1) {
    field.value = decodeURIComponent(location.hash.slice(1));
    history.replaceState(null, "", location.pathname + location.search); // out of the URL bar
  }
  const data = document.getElementById("hd-resume");
  if (!data) return;
  const r = JSON.parse(data.textContent);
  try {
    localStorage.setItem(`helpdesk:${r.site_key}:token`, r.token);
    localStorage.removeItem(`helpdesk:${r.site_key}:cursor`);
    localStorage.removeItem(`helpdesk:${r.site_key}:messages`);
  } catch (_) {
    /* storage blocked: the chat starts fresh */
  }
  location.replace(`/widget/?site_key=${encodeURIComponent(r.site_key)}`);
})();
