// The deal board: move a card by dragging it onto a column (the browser's own drag and drop), by focusing it and
// pressing ArrowLeft / ArrowRight, or with its "Move to" menu. Every way ends in the card's own form, posted by
// htmx, so the server decides and re-renders the board; a lost stage first asks for the reason in a dialog.
// Our own small script: no maintained Python wheel ships a drag library we could serve as a static file
// (docs/daily-work.md, "The board").
(function () {
  "use strict";

  function columnOf(el) { return el && el.closest(".deal-column"); }
  function columns() { return Array.prototype.slice.call(document.querySelectorAll("#board .deal-column")); }

  function announce(text) {
    var region = document.getElementById("board-announce");
    if (region && text) { region.textContent = ""; window.setTimeout(function () { region.textContent = text; }, 50); }
  }

  function askLostReason(card, column) {
    var dialog = document.getElementById("lost-dialog");
    if (!dialog) { return; }
    var form = dialog.querySelector("form");
    form.elements.deal.value = card.dataset.deal;
    form.elements.to_stage.value = column.dataset.stage;
    form.elements.lost_reason_id.value = "";
    form.elements.reason.value = "";
    var name = card.querySelector(".deal-card-name");
    dialog.querySelector("[data-lost-deal]").textContent = name ? name.textContent : "the deal";
    dialog.dataset.returnFocus = card.id;
    dialog.showModal();
    form.elements.lost_reason_id.focus();
  }

  function move(card, column) {
    if (!card || !column || column.dataset.stage === card.dataset.stage) { return; }
    if (column.dataset.kind === "lost") { askLostReason(card, column); return; }
    var form = card.querySelector("form.deal-move");
    if (!form) { return; }
    form.elements.to_stage.value = column.dataset.stage;
    card.classList.add("moving");
    if (form.requestSubmit) { form.requestSubmit(); } else { htmx.trigger(form, "submit"); }
  }

  // ---- drag and drop ----
  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card[draggable=true]");
    if (!card) { return; }
    event.dataTransfer.setData("text/plain", card.id);
    event.dataTransfer.effectAllowed = "move";
    card.classList.add("dragging");
  });
  document.addEventListener("dragend", function (event) {
    var card = event.target.closest && event.target.closest(".deal-card");
    if (card) { card.classList.remove("dragging"); }
    columns().forEach(function (c) { c.classList.remove("drop-target"); });
  });
  document.addEventListener("dragover", function (event) {
    var column = columnOf(event.target);
    if (!column) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    columns().forEach(function (c) { c.classList.toggle("drop-target", c === column); });
  });
  document.addEventListener("drop", function (event) {
    var column = columnOf(event.target);
    if (!column) { return; }
    event.preventDefault();
    column.classList.remove("drop-target");
    move(document.getElementById(event.dataTransfer.getData("text/plain")), column);
  });

  // ---- keyboard: arrows on a focused card move it one column ----
  document.addEventListener("keydown", function (event) {
    var card = event.target;
    if (!card.classList || !card.classList.contains("deal-card") || !card.querySelector("form.deal-move")) { return; }
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") { return; }
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    var all = columns();
    var next = all[all.indexOf(columnOf(card)) + (event.key === "ArrowRight" ? 1 : -1)];
    if (!next) { return; }
    event.preventDefault();
    move(card, next);
  });

  // ---- the "Move to" menu: a lost stage asks for the reason first ----
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("deal-move")) { return; }
    var option = form.elements.to_stage.selectedOptions[0];
    if (option && option.dataset.kind === "lost") {
      event.preventDefault();
      event.stopImmediatePropagation();
      var column = document.querySelector('#board .deal-column[data-stage="' + option.value + '"]');
      askLostReason(form.closest(".deal-card"), column || { dataset: { stage: option.value } });
    }
  }, true);

  document.addEventListener("click", function (event) {
    if (event.target.matches && event.target.matches("[data-lost-cancel]")) {
      var dialog = document.getElementById("lost-dialog");
      dialog.close();
      var card = document.getElementById(dialog.dataset.returnFocus || "");
      if (card) { card.focus(); }
    }
  });

  // ---- after the server answers: close the dialog, put the focus back on the moved card, say what happened ----
  document.addEventListener("htmx:beforeRequest", function (event) {
    var dialog = document.getElementById("lost-dialog");
    if (dialog && dialog.open && dialog.contains(event.target)) { dialog.close(); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    var board = document.getElementById("board");
    if (!board || !(event.target === board || board.contains(event.target) || event.target.id === "board")) { return; }
    var card = board.querySelector(".deal-card[data-focus]");
    if (card) { card.focus(); card.removeAttribute("data-focus"); }
    announce(board.dataset.announce);
  });
})();
