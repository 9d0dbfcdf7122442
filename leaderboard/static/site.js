// Sorting and filtering of the leaderboard tables; no library, works from file://.
// Headers are buttons (keyboard: Tab, then Enter or Space); the sorted header carries aria-sort.
(function () {
  "use strict";
  function cellKey(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) { return numeric ? [-Infinity, -Infinity] : [""]; }
    if (numeric) {
      var v = parseFloat(cell.getAttribute("data-v"));
      var v2 = parseFloat(cell.getAttribute("data-v2"));
      return [isNaN(v) ? -Infinity : v, isNaN(v2) ? 0 : v2];
    }
    return [cell.textContent.trim().toLowerCase()];
  }
  function compare(x, y) {
    for (var i = 0; i < x.length; i++) {
      if (x[i] < y[i]) { return -1; }
      if (x[i] > y[i]) { return 1; }
    }
    return 0;
  }
  function sortTable(table, button) {
    var th = button.closest("th");
    var index = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var numeric = button.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var ascending = current ? current !== "ascending" : button.getAttribute("data-first") !== "desc";
    Array.prototype.forEach.call(th.parentNode.cells, function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var order = compare(cellKey(a, index, numeric), cellKey(b, index, numeric));
      if (order !== 0) { return ascending ? order : -order; }
      // Ties (same stars, same date) keep the most efficient first (the second column), whichever the direction.
      return compare(cellKey(a, 1, true), cellKey(b, 1, true));
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
  }
  function applyFilter(input) {
    var section = document.getElementById(input.getAttribute("data-section"));
    if (!section) { return; }
    var needle = input.value.trim().toLowerCase();
    section.querySelectorAll("table.board").forEach(function (table) {
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var name = row.cells[0] ? row.cells[0].textContent.toLowerCase() : "";
        var show = !needle || name.indexOf(needle) !== -1;
        row.hidden = !show;
        if (show) { shown += 1; }
      });
      var wrapper = table.closest(".scroll") || table;
      var message = wrapper.nextElementSibling;
      if (message && message.classList.contains("no-match")) { message.hidden = shown > 0; }
    });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.tHead.addEventListener("click", function (event) {
      var button = event.target.closest("button.sort");
      if (button) { sortTable(table, button); }
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    input.addEventListener("input", function () { applyFilter(input); });
  });
  // Served runs: for each model, mark its least-energy configuration whose inter-token latency p50 is within the
  // limit (ms; empty: no limit). The figures are the rows' data attributes; rows without them are never picked.
  function applyLimit(control) {
    var table = document.getElementById(control.getAttribute("data-table"));
    var input = control.querySelector("input.limit");
    if (!table || !input) { return; }
    var text = input.value.trim();
    var limit = text === "" ? Infinity : parseFloat(text);
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var best = {};
    var order = [];
    var names = {};
    rows.forEach(function (row) {
      var group = row.getAttribute("data-group");
      if (!(group in names)) { order.push(group); names[group] = row.getAttribute("data-group-name"); }
      row.classList.remove("picked");
      var old = row.querySelector(".pick-mark");
      if (old) { old.parentNode.removeChild(old); }
      var itl = parseFloat(row.getAttribute("data-itl-ms"));
      var energy = parseFloat(row.getAttribute("data-j"));
      if (isNaN(itl) || isNaN(energy) || !(itl <= limit)) { return; }
      var current = best[group];
      if (!current || energy < current.energy || (energy === current.energy && itl < current.itl)) {
        best[group] = {row: row, energy: energy, itl: itl};
      }
    });
    var list = control.querySelector("ul.picks");
    while (list.firstChild) { list.removeChild(list.firstChild); }
    order.forEach(function (group) {
      var item = document.createElement("li");
      var pick = best[group];
      if (pick) {
        pick.row.classList.add("picked");
        var mark = document.createElement("span");
        mark.className = "pick-mark";
        mark.textContent = " — least energy within the limit";
        pick.row.cells[0].appendChild(mark);
        item.textContent = names[group] + ": " + pick.row.getAttribute("data-config") + ", " +
          pick.row.getAttribute("data-summary");
      } else {
        item.className = "none";
        item.textContent = names[group] + ": none meets it";
      }
      list.appendChild(item);
    });
  }
  document.querySelectorAll("div.latency-limit").forEach(function (control) {
    var input = control.querySelector("input.limit");
    control.hidden = false;
    input.addEventListener("input", function () { applyLimit(control); });
    applyLimit(control);
  });
}());
