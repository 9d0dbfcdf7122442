// Sorting and filtering of the leaderboard tables; no library, works from file://.
(function () {
  "use strict";
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? -Infinity : ""; }
    if (numeric) {
      var v = parseFloat(cell.getAttribute("data-v"));
      return isNaN(v) ? -Infinity : v;
    }
    return cell.textContent.trim().toLowerCase();
  }
  function sortTable(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var numeric = th.getAttribute("data-type") === "num";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(th.parentNode.cells, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return ascending ? order : -order;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  }
  function applyFilters(tableId) {
    var table = document.getElementById(tableId);
    if (!table) { return; }
    var text = document.querySelector('input.filter[data-table="' + tableId + '"]');
    var hw = document.querySelector('select.hw[data-table="' + tableId + '"]');
    var needle = text ? text.value.trim().toLowerCase() : "";
    var hardware = hw ? hw.value : "";
    Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
      var show = (!needle || row.textContent.toLowerCase().indexOf(needle) !== -1) &&
        (!hardware || row.getAttribute("data-hw") === hardware);
      row.hidden = !show;
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.tHead.addEventListener("click", function (event) {
      var th = event.target.closest("th[data-type]");
      if (th) { sortTable(table, th); }
    });
  });
  document.querySelectorAll("input.filter, select.hw").forEach(function (control) {
    control.addEventListener("input", function () { applyFilters(control.getAttribute("data-table")); });
  });
}());
