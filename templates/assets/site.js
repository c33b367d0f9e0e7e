// The site's one script. It draws each chart from the JSON option written
// beside it (so pages carry no inline script), sorts tables, filters the
// audit log and compares two runs. It builds text with textContent only.
(function () {
  "use strict";

  function charts() {
    if (typeof echarts === "undefined") { return []; }
    var drawn = [];
    document.querySelectorAll("div.chart[data-option]").forEach(function (el) {
      var src = document.getElementById(el.getAttribute("data-option"));
      if (!src) { return; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(src.textContent));
      drawn.push(chart);
    });
    var resize = function () { drawn.forEach(function (c) { c.resize(); }); };
    window.addEventListener("resize", resize);
    window.addEventListener("beforeprint", resize);
    return drawn;
  }

  function cellValue(td) {
    var s = td.getAttribute("data-sort");
    if (s === null) { s = td.textContent.trim(); }
    var n = Number(s);
    return s !== "" && !isNaN(n) ? n : s.toLowerCase();
  }

  function sortable() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var heads = table.tHead ? table.tHead.rows[0].cells : [];
      Array.prototype.forEach.call(heads, function (th, col) {
        th.tabIndex = 0;
        var sort = function () {
          var asc = th.getAttribute("aria-sort") !== "ascending";
          Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
          th.setAttribute("aria-sort", asc ? "ascending" : "descending");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          rows.sort(function (a, b) {
            var x = cellValue(a.cells[col]), y = cellValue(b.cells[col]);
            if (typeof x !== typeof y) { x = String(x); y = String(y); }
            return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
          });
          rows.forEach(function (r) { body.appendChild(r); });
        };
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
      });
    });
  }

  // Filters: <input|select data-filter="TABLE-ID" data-column="N">; a row
  // shows when every filter of its table matches (text: contains; select: equals).
  function filters() {
    var inputs = document.querySelectorAll("[data-filter]");
    var apply = function (tableID) {
      var table = document.getElementById(tableID);
      if (!table) { return; }
      var mine = Array.prototype.filter.call(inputs, function (i) { return i.getAttribute("data-filter") === tableID; });
      var shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var ok = mine.every(function (i) {
          var want = i.value.trim().toLowerCase();
          if (want === "") { return true; }
          var col = i.getAttribute("data-column");
          var text = (col === null ? row.textContent : row.cells[Number(col)].textContent).trim().toLowerCase();
          return i.tagName === "SELECT" ? text === want : text.indexOf(want) >= 0;
        });
        row.hidden = !ok;
        if (ok) { shown++; }
      });
      var count = document.querySelector("[data-count='" + tableID + "']");
      if (count) { count.textContent = String(shown); }
    };
    Array.prototype.forEach.call(inputs, function (i) {
      i.addEventListener("input", function () { apply(i.getAttribute("data-filter")); });
      i.addEventListener("change", function () { apply(i.getAttribute("data-filter")); });
    });
  }

  // Compare: checkboxes name="compare" value=RUN-ID in a form with
  // data-compare="DATA-ID" (a JSON list of {id, fields: [[name, value]...]}).
  function compare() {
    document.querySelectorAll("[data-compare]").forEach(function (box) {
      var data = JSON.parse(document.getElementById(box.getAttribute("data-compare")).textContent);
      var out = document.getElementById(box.getAttribute("data-compare-out"));
      var byID = {};
      data.forEach(function (r) { byID[r.id] = r; });
      var draw = function () {
        var picked = Array.prototype.filter.call(box.querySelectorAll("input[name=compare]"), function (c) { return c.checked; })
          .map(function (c) { return byID[c.value]; }).filter(Boolean);
        while (out.firstChild) { out.removeChild(out.firstChild); }
        if (picked.length !== 2) {
          var p = document.createElement("p");
          p.className = "note";
          p.textContent = "Pick two runs to compare them side by side (" + picked.length + " picked).";
          out.appendChild(p);
          return;
        }
        var table = document.createElement("table");
        var head = table.createTHead().insertRow();
        ["", picked[0].id, picked[1].id].forEach(function (t) {
          var th = document.createElement("th"); th.textContent = t; head.appendChild(th);
        });
        var body = table.createTBody();
        var names = [];
        picked.forEach(function (r) { r.fields.forEach(function (f) { if (names.indexOf(f[0]) < 0) { names.push(f[0]); } }); });
        names.forEach(function (name) {
          var row = body.insertRow();
          var vals = picked.map(function (r) {
            var f = r.fields.filter(function (f) { return f[0] === name; })[0];
            return f ? f[1] : "";
          });
          var th = document.createElement("th"); th.scope = "row"; th.textContent = name; row.appendChild(th);
          vals.forEach(function (v) { var td = row.insertCell(); td.textContent = v; });
          if (vals[0] !== vals[1]) { row.className = "differs"; }
        });
        var wrap = document.createElement("div"); wrap.className = "table-wrap"; wrap.appendChild(table);
        out.appendChild(wrap);
      };
      box.addEventListener("change", draw);
      draw();
    });
  }

  // Print every chart's numbers: open the closed tables before printing and
  // close them again after.
  function printTables() {
    var opened = [];
    window.addEventListener("beforeprint", function () {
      document.querySelectorAll("details.chart-table:not([open])").forEach(function (d) { d.open = true; opened.push(d); });
    });
    window.addEventListener("afterprint", function () {
      opened.forEach(function (d) { d.open = false; });
      opened = [];
    });
  }

  function start() {
    printTables();
    sortable();
    filters();
    compare();
    window.mlopsCharts = charts();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
