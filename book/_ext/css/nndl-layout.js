/*
 * nndl-lab: a box that scrolls sideways can be reached with the keyboard (issue 17).
 *
 * Below 720 px the figures keep their natural size, so their text stays at
 * 9.5-10 pt, and the output box scrolls sideways instead (nndl-layout.css).
 * A keyboard user scrolls a box only once it has the focus: every output box,
 * table or display-maths box that is wider than its content area gets
 * tabindex="0", a region role and a name; the others lose them again.
 */
(function () {
  "use strict";
  var SELECTOR = [
    ".bd-article .cell_output",
    ".bd-article .cell_output > .output",
    ".bd-article .cell_output .widget-subarea",
    ".bd-article .pst-scrollable-table-container",
    ".bd-article table.docutils",
    ".bd-article mjx-container[display='true']",
    ".bd-article div.math",
  ].join(", ");

  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", "scrolls sideways");
        box.dataset.nndlScroll = "1";
      } else if (!scrolls && box.dataset.nndlScroll) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        delete box.dataset.nndlScroll;
      }
    });
  }
  var queued = false;
  function later() {
    if (queued) return;
    queued = true;
    window.requestAnimationFrame(function () {
      queued = false;
      mark();
    });
  }
  window.addEventListener("load", later);
  window.addEventListener("resize", later);
  // Widgets and MathJax render after load and change the boxes' widths.
  if (window.ResizeObserver) {
    var observer = new ResizeObserver(later);
    document.addEventListener("DOMContentLoaded", function () {
      var article = document.querySelector(".bd-article");
      if (article) observer.observe(article);
    });
  }
  document.addEventListener("DOMContentLoaded", later);
})();
