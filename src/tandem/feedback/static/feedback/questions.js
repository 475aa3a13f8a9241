/* The person page's question panel (feedback/_person_panel.html), loaded by crm/person_detail.html. */
// One listener for the page: "q" anywhere outside a text box jumps to the question box.
if (!window.tandemQuestionKey) {
  window.tandemQuestionKey = true;
  document.addEventListener("keydown", function (e) {
    if (e.key !== "q" || e.ctrlKey || e.metaKey || e.altKey) return;
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName))) return;
    var box = document.getElementById("question-text");
    if (box) { e.preventDefault(); box.focus(); }
  });
  // "+ question" on an activity row: tie the next question to that call, email or meeting.
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-question-activity]");
    var box = document.getElementById("question-text");
    if (!button || !box) return;
    var select = box.form.querySelector("select[name=activity_id]");
    var id = button.dataset.questionActivity;
    if (select) {
      if (!select.querySelector('option[value="' + id + '"]')) select.add(new Option(button.dataset.questionLabel, id));
      select.value = id;
    } else {
      var hidden = box.form.querySelector("input[name=activity_id]") || box.form.appendChild(Object.assign(document.createElement("input"), {type: "hidden", name: "activity_id"}));
      hidden.value = id;
    }
    box.focus();
  });
}
