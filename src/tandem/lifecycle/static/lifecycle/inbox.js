/* The hand-off inbox (lifecycle/inbox.html); a static file, as the CSP wants. */
(function () {
  // Counts each pending first touch down every second (wall-clock time to the deadline, which the server
  // computed in business hours); rows swapped in by HTMX are picked up on the next tick.
  function pad(n) { return String(n).padStart(2, "0"); }
  function tick() {
    document.querySelectorAll(".sla-timer[data-deadline]").forEach(function (el) {
      var left = Math.floor((Date.parse(el.dataset.deadline) - Date.now()) / 1000);
      if (left <= 0) { el.textContent = "overdue"; el.classList.add("sla-overdue"); return; }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      el.textContent = (h >= 24 ? Math.floor(h / 24) + "d " + (h % 24) + "h " : h + "h ") + pad(m) + "m " + pad(s) + "s left";
    });
  }
  tick();
  setInterval(tick, 1000);
})();
