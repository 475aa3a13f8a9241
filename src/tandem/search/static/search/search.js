/* The header's search box: results as you type (htmx fetches them), moved through with the arrow keys,
   opened with Enter, closed with Escape or by leaving the box. Without this script the box still submits
   to the full results page. */
(function () {
  "use strict";

  function setup(form) {
    var input = form.querySelector("input[type=search]");
    var pop = form.querySelector(".search-pop");
    if (!input || !pop || form.dataset.searchReady) return;
    form.dataset.searchReady = "1";
    var active = -1;
    var suppressed = false; // after Escape, a late answer must not reopen the list

    function options() { return Array.prototype.slice.call(pop.querySelectorAll("[role=option]")); }
    function open() {
      if (suppressed || !pop.innerHTML.trim()) return close();
      pop.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }
    function close() {
      pop.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      highlight(-1);
    }
    function highlight(index) {
      var opts = options();
      active = index;
      opts.forEach(function (opt, i) { opt.setAttribute("aria-selected", i === index ? "true" : "false"); });
      if (index >= 0 && opts[index]) {
        input.setAttribute("aria-activedescendant", opts[index].id);
        opts[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    input.addEventListener("input", function () { suppressed = false; });
    input.addEventListener("focus", function () { if (input.value.trim()) open(); });
    input.addEventListener("keydown", function (event) {
      var opts = options();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!opts.length) return;
        event.preventDefault();
        suppressed = false;
        open();
        var next = event.key === "ArrowDown" ? active + 1 : active - 1;
        if (next >= opts.length) next = 0;
        if (next < 0) next = opts.length - 1;
        highlight(next);
      } else if (event.key === "Enter" && !pop.hidden && active >= 0 && opts[active]) {
        event.preventDefault();
        window.location.assign(opts[active].href);
      } else if (event.key === "Escape") {
        if (!pop.hidden) {
          event.preventDefault();
          suppressed = true;
          close();
        } else if (input.value) {
          event.preventDefault();
          input.value = "";
        }
      }
    });
    pop.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { suppressed = true; close(); input.focus(); }
    });
    pop.addEventListener("mousemove", function (event) {
      var opt = event.target.closest("[role=option]");
      if (opt) highlight(options().indexOf(opt));
    });
    form.addEventListener("focusout", function (event) {
      if (!form.contains(event.relatedTarget)) close();
    });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === pop) { active = -1; open(); }
    });
  }

  function init() { document.querySelectorAll("[data-search-box]").forEach(setup); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
