/* The person page's activity panel (crm/activities/_panel.html), loaded by crm/person_detail.html. */
// One listener for the page: "l" anywhere outside a text box jumps to the quick-log box.
if (!window.tandemQuickLogKey) {
  window.tandemQuickLogKey = true;
  document.addEventListener("keydown", function (e) {
    if (e.key !== "l" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.getElementById("quicklog-text");
    if (box) { e.preventDefault(); box.focus(); }
  });
}
