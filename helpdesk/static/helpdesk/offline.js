/* The installed app's offline page: back to where the agent was as soon as the network is. */
(() => {
  "use strict";
  const again = () => location.reload();
  window.addEventListener("online", again);
  document.getElementById("offline-retry").addEventListener("click", again);
})();
