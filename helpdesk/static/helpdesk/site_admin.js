/*
 * A site's page in the back office: the widget preview follows the name, greeting, colour and
 * rating scale as they are typed; the embed code copies; the identity secret is revealed on
 * request (a POST, recorded in the audit log) and rotated after a confirmation.
 */
(() => {
  "use strict";

  // Django admin loads a ModelAdmin's scripts in the head: wait for the form.
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }

  function start() {
    const $ = (id) => document.getElementById(id);
    const preview = $("hd-preview");

    function textOn(c) {
      const m = /^#([0-9a-f]{6})$/i.exec(c || "");
      if (!m) return "#ffffff";
      const lin = (v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
      const [r, g, b] = [0, 2, 4].map((i) => lin(parseInt(m[1].slice(i, i + 2), 16) / 255));
      return 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 ? "#111827" : "#ffffff";
    }

    function follow(id, apply) {
      const input = $(id);
      if (!input || !preview) return;
      const update = () => apply(input.value);
      input.addEventListener("input", update);
      input.addEventListener("change", update);
      update();
    }

    follow("id_name", (v) => {
      $("hd-preview-name").textContent = v || "Your site";
      $("hd-preview-avatar").textContent = (Array.from(v.trim())[0] || "?").toUpperCase();
    });
    follow("id_greeting", (v) => {
      $("hd-preview-greeting").textContent = v;
      $("hd-preview-greeting").hidden = !v.trim();
    });
    follow("id_color", (v) => {
      preview.style.setProperty("--hd-color", v);
      preview.style.setProperty("--hd-on-color", textOn(v));
    });
    follow("id_satisfaction", (v) => {
      $("hd-preview-rating").dataset.scale = v;
    });

    for (const button of document.querySelectorAll("[data-copy]")) {
      button.addEventListener("click", async () => {
        const text = $(button.dataset.copy).textContent;
        try {
          await navigator.clipboard.writeText(text);
          button.textContent = "Copied";
        } catch (_) {
          const range = document.createRange();
          range.selectNodeContents($(button.dataset.copy));
          const selection = window.getSelection();
          selection.removeAllRanges();
          selection.addRange(range);
          button.textContent = "Selected: press Ctrl+C";
        }
      });
    }

    const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";
    const reveal = $("hd-secret-reveal");
    if (reveal) {
      reveal.addEventListener("click", async () => {
        const response = await fetch(reveal.dataset.url, {
          method: "POST",
          headers: { "X-CSRFToken": csrf() },
          credentials: "same-origin",
        });
        if (!response.ok) {
          reveal.textContent = "Not allowed";
          return;
        }
        const data = await response.json();
        $("hd-secret").textContent = data.secret;
        reveal.hidden = true;
      });
    }
    const rotate = $("hd-secret-rotate");
    if (rotate) {
      rotate.addEventListener("click", (event) => {
        const sure = window.confirm(
          "Make a new identity secret now? Signed-in visitors chat anonymously until your server signs with the new one."
        );
        if (!sure) event.preventDefault();
      });
    }
  }
})();
