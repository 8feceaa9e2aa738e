// The run report's only script: sortable tables, and a PE's rows and node highlighted together.
// It marks the page ready when it has run (tests of the page read body[data-ready]).
(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (e) {
    errors.push(String(e.message));
    document.body.setAttribute("data-errors", errors.join(" | "));
  });
  function cellValue(row, i) {
    var cell = row.cells[i];
    var v = cell.getAttribute("data-v");
    if (v !== null) { return parseFloat(v); }
    return cell.textContent.trim();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, i) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var asc = !th.classList.contains("sorted-asc");
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove("sorted-asc", "sorted-desc"); });
        th.classList.add(asc ? "sorted-asc" : "sorted-desc");
        rows.sort(function (a, b) {
          var x = cellValue(a, i), y = cellValue(b, i);
          var c = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  function highlight(pe, on) {
    Array.prototype.forEach.call(document.querySelectorAll("[data-pe]"), function (el) {
      if (el.getAttribute("data-pe") === pe) { el.classList.toggle("hl", on); }
    });
    Array.prototype.forEach.call(document.querySelectorAll("svg.graph .node"), function (el) {
      if (el.getAttribute("data-name") === pe) { el.classList.toggle("hl", on); }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("tr[data-pe]"), function (row) {
    row.addEventListener("mouseenter", function () { highlight(row.getAttribute("data-pe"), true); });
    row.addEventListener("mouseleave", function () { highlight(row.getAttribute("data-pe"), false); });
  });
  document.body.setAttribute("data-ready", "1");
})();
