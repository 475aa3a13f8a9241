/* The hosted form (capture/intake/hosted.html): put back what the visitor typed after a refused submission,
   so only the named field needs fixing. A static file, as the Content-Security-Policy wants. */
(function () {
  "use strict";
  var source = document.getElementById("tandem-values");
  var form = document.querySelector("form[data-honeypot]");
  if (!source || !form) return;
  var values = JSON.parse(source.textContent || "{}");
  var honeypot = form.dataset.honeypot;
  Object.keys(values).forEach(function (k) {
    var el = form.elements[k];
    if (!el || el.type === "hidden" || k === honeypot) return;
    if (el.type === "checkbox") el.checked = !!values[k]; else el.value = values[k];
  });
})();
