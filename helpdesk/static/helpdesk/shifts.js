/*
 * The weekly rota on /admin/shifts/: each cell holds a checkbox (the form works without this
 * script); here a click switches an hour and a drag paints every hour it crosses the way the
 * first one went. Pointer events, so mouse, pen and touch alike.
 */
(() => {
  "use strict";

  const grid = document.getElementById("rota-grid");
  if (!grid) return;
  const boxes = grid.querySelectorAll("input[type=checkbox]");
  if (!boxes.length || boxes[0].disabled) return;
  grid.classList.add("hd-grid--live");

  let painting = null; // true: switching on; false: off; null: not dragging

  function set(cell, on) {
    const box = cell.querySelector("input");
    if (!box) return;
    box.checked = on;
    cell.setAttribute("aria-checked", String(on));
  }

  function cellAt(x, y) {
    const node = document.elementFromPoint(x, y);
    return node && node.closest ? node.closest("#rota-grid td") : null;
  }

  grid.addEventListener("pointerdown", (event) => {
    const cell = event.target.closest("td");
    if (!cell) return;
    event.preventDefault();
    painting = !cell.querySelector("input").checked;
    set(cell, painting);
  });
  grid.addEventListener("pointermove", (event) => {
    if (painting === null) return;
    const cell = cellAt(event.clientX, event.clientY);
    if (cell) set(cell, painting);
  });
  window.addEventListener("pointerup", () => {
    painting = null;
  });
  // Keyboard: the checkbox itself (Space) keeps the cell's look in step.
  grid.addEventListener("change", (event) => {
    const cell = event.target.closest("td");
    if (cell) cell.setAttribute("aria-checked", String(event.target.checked));
  });
})();
