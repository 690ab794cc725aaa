// report.html's script: sortable tables, waterfalls shown on demand (copied from the hidden
// store, a finding's spans marked), folding of subtrees. It reads only attributes the page
// wrote and never turns text into markup.
"use strict";
(function () {
  function cellValue(row, col) {
    var cell = row.cells[col];
    if (!cell) return "";
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent.trim().toLowerCase() : parseFloat(v);
  }
  function sortBy(th) {
    var table = th.closest("table");
    var col = Array.prototype.indexOf.call(th.parentNode.children, th);
    var descending = th.getAttribute("aria-sort") !== "descending";
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, col), y = cellValue(b, col);
      var c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
      return descending ? -c : c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  // Rows below a folded row are hidden: walk the rows in order, each knowing its parent's row.
  function refold(wf) {
    var rows = wf.querySelectorAll(".wf-row");
    var hidden = [];
    rows.forEach(function (row, i) {
      var p = row.getAttribute("data-parent");
      var parent = p === "" ? -1 : parseInt(p, 10);
      var folded = parent >= 0 && (hidden[parent] || rows[parent].querySelector(".tg[aria-expanded=false]") !== null);
      hidden[i] = folded;
      row.classList.toggle("hidden", folded);
    });
  }
  // Copies waterfall `id` into `slot`, marking the rows of `finding`.
  function show(id, slot, finding) {
    var source = document.getElementById(id);
    if (!source || !slot) return;
    var copy = source.cloneNode(true);
    copy.removeAttribute("id");
    copy.setAttribute("data-source", id);
    copy.querySelectorAll(".wf-row").forEach(function (row) {
      var ids = (row.getAttribute("data-findings") || "").split(" ");
      row.classList.toggle("marked", finding !== "" && ids.indexOf(finding) >= 0);
    });
    while (slot.firstChild) slot.removeChild(slot.firstChild);
    slot.appendChild(copy);
  }
  function openFinding(article, wf) {
    var slot = article.querySelector(".wf-slot");
    var id = wf || article.getAttribute("data-wf");
    if (id) show(id, slot, article.getAttribute("data-finding"));
    article.classList.add("open");
  }
  document.addEventListener("click", function (e) {
    var t = e.target;
    if (!(t instanceof Element)) return;
    var th = t.closest("th");
    if (th && th.closest("table.sortable")) { sortBy(th); return; }
    var tg = t.closest(".tg");
    if (tg) {
      tg.setAttribute("aria-expanded", tg.getAttribute("aria-expanded") === "true" ? "false" : "true");
      refold(tg.closest(".wf"));
      return;
    }
    var button = t.closest("button.show-wf");
    if (button) {
      var article = button.closest("article.finding");
      if (article) {
        openFinding(article, button.getAttribute("data-wf"));
      } else {
        var viewer = document.getElementById("wf-viewer");
        show(button.getAttribute("data-wf"), viewer, "");
        viewer.scrollIntoView({ block: "nearest" });
      }
      return;
    }
    var link = t.closest("a.to-finding");
    if (link) {
      var target = document.getElementById("finding-" + link.getAttribute("data-finding"));
      if (target) openFinding(target, null);
      return;
    }
    var heading = t.closest("article.finding > h3");
    if (heading) openFinding(heading.parentNode, null);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Enter" || !(e.target instanceof Element)) return;
    var t = e.target;
    if (t.matches("th") || t.matches("article.finding > h3")) t.click();
  });
  var viewer = document.getElementById("wf-viewer");
  if (viewer) show(viewer.getAttribute("data-initial"), viewer, "");
  if (location.hash.indexOf("#finding-") === 0) {
    var target = document.getElementById(location.hash.slice(1));
    if (target) openFinding(target, null);
  }
})();
