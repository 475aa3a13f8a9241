/* What pages ask for with data- attributes, so that no page needs inline JavaScript (an onchange="..." or a
   <script> block), which the Content-Security-Policy refuses (docs/security.md). Loaded by base.html.
     <select data-autosubmit>        submits its form when the choice changes
     <form data-confirm="Sure?">     asks before it is sent
     <button data-print>             opens the print dialog */
(function () {
  "use strict";
  document.addEventListener("change", function (e) {
    var el = e.target;
    if (el && el.form && el.matches && el.matches("[data-autosubmit]")) el.form.submit();
  });
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form && form.matches && form.matches("[data-confirm]") && !window.confirm(form.dataset.confirm)) {
      e.preventDefault();
    }
  });
  document.addEventListener("click", function (e) {
    if (e.target && e.target.closest && e.target.closest("[data-print]")) window.print();
  });
})();
