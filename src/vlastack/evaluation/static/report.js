// vlastack evaluation report: sortable tables, enlarged videos, safety timelines that seek the video.
// Inlined into report.html: no library, no network.
"use strict";
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("th").forEach((th, col) => {
    th.addEventListener("click", () => {
      const numeric = th.dataset.kind !== "text";
      const was = th.getAttribute("aria-sort");
      const asc = was ? was === "descending" : th.dataset.kind !== "num"; // first click: numbers high to low, names A to Z, groups easy first
      table.querySelectorAll("th").forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      const body = table.tBodies[0];
      const key = (row) => row.cells[col].dataset.v ?? row.cells[col].textContent;
      const rows = [...body.rows].sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        const c = numeric ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach((r) => body.appendChild(r));
    });
  });
});
const dialog = document.getElementById("enlarged");
document.querySelectorAll("button.enlarge").forEach((button) => {
  button.addEventListener("click", () => {
    const small = button.closest(".episode").querySelector("video");
    const big = dialog.querySelector("video");
    const at = small.currentTime;
    big.addEventListener("loadedmetadata", () => { big.currentTime = at; }, { once: true }); // the new source starts at 0
    big.src = small.currentSrc || small.src;
    dialog.style.setProperty("--ar", small.videoWidth && small.videoHeight ? small.videoWidth / small.videoHeight : 1);
    small.pause();
    dialog.showModal();
    big.play().catch(() => {});
  });
});
if (dialog) dialog.addEventListener("close", () => dialog.querySelector("video").pause());
document.querySelectorAll(".episode").forEach((card) => {
  const video = card.querySelector("video");
  const cursor = card.querySelector(".cursor");
  if (!video) return;
  const fps = parseFloat(card.dataset.fps) || 80;
  const steps = parseFloat(card.dataset.steps) || 1;
  card.querySelectorAll("[data-step]").forEach((el) => {
    el.addEventListener("click", () => { video.currentTime = parseFloat(el.dataset.step) / fps; video.pause(); });
  });
  if (cursor) video.addEventListener("timeupdate", () => {
    cursor.style.left = Math.min(100, (100 * video.currentTime * fps) / steps) + "%";
  });
});
