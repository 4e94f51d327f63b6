/* The installed app's offline page: back to where the agent was as soon as the server answers
   again: when the device says it is online, and every few seconds while it thinks so (an
   "online" event can come before this script, or the network can be back before the server). */
(() => {
  "use strict";
  const again = () => location.reload();
  const check = () =>
    fetch("/healthz", { cache: "no-store" })
      .then((response) => {
        if (response.ok) again();
      })
      .catch(() => {});
  window.addEventListener("online", check);
  setInterval(() => {
    if (navigator.onLine) check();
  }, 5000);
  document.getElementById("offline-retry").addEventListener("click", again);
})();
