/* The collateral board (collateral/board.html); a static file, as the CSP wants. */
// After a move the board is re-rendered: put the keyboard focus back on the card that moved (or on the
// suggestions card after marking one handled); the marker is dropped so a later swap does not reuse it.
document.body.addEventListener("htmx:afterSwap", function () {
  var card = document.querySelector("#board [data-focus]") || document.querySelector("#suggestions [data-focus]");
  if (card) { card.focus(); card.removeAttribute("data-focus"); }
});
