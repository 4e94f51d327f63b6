/*
 * The composer the widget and the inbox share: Enter sends (Shift+Enter is a new line, and
 * Enter that confirms an IME composition, as when typing Chinese, never sends), the text area
 * grows with its text up to a height, and a counter appears when the text nears its limit.
 *
 *   const composer = HelpdeskComposer.attach(form, textarea, {
 *     maxHeight: 120, maxLength: 4000,
 *     onSubmit(body) { return true; },   // the trimmed text; true: it was taken, clear the box
 *     onTooLong(max) {},                 // optional: the text is over maxLength
 *     onKeydown(event) {},               // optional: any other key
 *     intercept(event) { return false; }, // optional: true when a picker took the key (Enter too)
 *     allowEmpty() { return false; },    // optional: true when an empty text may go (files only)
 *   });
 *   composer.setMaxLength(n); composer.autosize();
 */
(() => {
  "use strict";

  const COUNTER_FROM = 0.9; // the counter shows from this share of the limit

  function attach(form, input, options) {
    const o = Object.assign({ maxHeight: 120, maxLength: 4000 }, options);
    let maxLength = o.maxLength;
    const counter = document.createElement("span");
    counter.className = "composer-count";
    counter.setAttribute("aria-live", "polite");
    counter.hidden = true;
    form.appendChild(counter);

    function autosize() {
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, o.maxHeight)}px`;
    }

    function count() {
      const n = input.value.length;
      const near = n >= Math.floor(maxLength * COUNTER_FROM);
      counter.hidden = !near;
      if (near) counter.textContent = `${n} / ${maxLength}`;
    }

    function submit() {
      const body = input.value.trim();
      if (!body && !(o.allowEmpty && o.allowEmpty())) return;
      if (body.length > maxLength) {
        if (o.onTooLong) o.onTooLong(maxLength);
        return;
      }
      if (o.onSubmit(body) !== true) return;
      input.value = "";
      autosize();
      count();
    }

    function setMaxLength(n) {
      if (!Number.isInteger(n) || n <= 0) return;
      maxLength = n;
      input.maxLength = n;
      count();
    }

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
      input.focus();
    });
    input.addEventListener("keydown", (event) => {
      if (o.intercept && !event.isComposing && event.keyCode !== 229 && o.intercept(event)) return;
      // keyCode 229: the key went to an IME (Safari reports isComposing late).
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      } else if (o.onKeydown) {
        o.onKeydown(event);
      }
    });
    input.addEventListener("input", () => {
      autosize();
      count();
    });
    setMaxLength(maxLength);

    return { submit, autosize, setMaxLength };
  }

  window.HelpdeskComposer = { attach };
})();
