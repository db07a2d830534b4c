(function () {
  "use strict";
  var errors = document.getElementById("js-errors");
  window.addEventListener("error", function (e) {
    errors.hidden = false;
    errors.textContent += "error: " + e.message + "\n";
  });
  var rows = Array.prototype.slice.call(document.querySelectorAll("#findings-table tbody tr"));
  var filter = document.getElementById("filter");
  var shown = document.getElementById("shown");
  var selected = null;

  function apply() {
    var q = (filter.value || "").toLowerCase();
    var n = 0;
    rows.forEach(function (tr) {
      var ok = q === "" || tr.textContent.toLowerCase().indexOf(q) >= 0;
      if (ok && selected) {
        var t = Date.parse(tr.getAttribute("data-window"));
        ok = tr.getAttribute("data-row") === selected.row && t >= selected.from && t < selected.to;
      }
      tr.hidden = !ok;
      if (ok) { n++; }
    });
    shown.textContent = n + " of " + rows.length + " shown";
  }

  var cells = document.querySelectorAll("#heatmap rect.cell");
  var width = 0;
  if (cells.length > 1) {
    width = Date.parse(cells[1].getAttribute("data-bucket")) - Date.parse(cells[0].getAttribute("data-bucket"));
  }
  Array.prototype.forEach.call(cells, function (c) {
    c.addEventListener("click", function () {
      Array.prototype.forEach.call(cells, function (o) { o.classList.remove("selected"); });
      var from = Date.parse(c.getAttribute("data-bucket"));
      if (selected && selected.cell === c) {
        selected = null;
      } else {
        selected = { cell: c, row: c.getAttribute("data-row"), from: from, to: from + (width > 0 ? width : 1) };
        c.classList.add("selected");
      }
      apply();
    });
  });
  filter.addEventListener("input", apply);
  document.getElementById("clear").addEventListener("click", function () {
    filter.value = "";
    selected = null;
    Array.prototype.forEach.call(cells, function (o) { o.classList.remove("selected"); });
    apply();
  });
  apply();
  document.body.setAttribute("data-ready", "1");
})();
