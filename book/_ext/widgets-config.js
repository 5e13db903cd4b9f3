/*
 * Offline configuration for the ipywidgets HTML manager (embed-amd.js).
 *
 * Loaded by myst-nb on pages that embed widget state, after require.js and
 * before embed-amd.js (see nb_ipywidgets_js in _config.yml).  Copied next to
 * the vendored files by tools/vendor_book_js.py, so this script's own URL
 * tells where they are, whatever the depth of the page that loads it.
 *
 * 1. require.js paths: embed-amd.js derives the URL of its fonts from the
 *    module URL of "@jupyter-widgets/html-manager/dist/libembed-amd"; without
 *    a path it resolves against the page and the fonts 404.  Any other
 *    "@jupyter-widgets/..." module resolves to the vendored folder as well.
 * 2. data-jupyter-widgets-cdn: embed-amd.js falls back to jsdelivr for a widget
 *    module it does not bundle.  Point that fallback at the vendored folder, so
 *    a missing module shows up as a local 404 instead of a request off-site.
 * 3. anywidget: the front end of the widgets.paths widgets, vendored from the
 *    Python package as anywidget/dist/index.js (an anonymous AMD module that
 *    needs only "@jupyter-widgets/base").  Without this path the loader asks the
 *    page's folder, then the cdn fallback, and the widget does not render.
 * 4. MathJax.Hub.Queue: the widget views typeset their descriptions with the
 *    MathJax 2 API whenever window.MathJax exists; the book loads MathJax 3,
 *    which has no Hub, so that call throws "reading 'Queue'".  Whatever object
 *    is assigned to window.MathJax (the Sphinx config, then MathJax 3 itself,
 *    which replaces it) gets a non-enumerable Hub whose Queue typesets the
 *    element with the MathJax 3 API once MathJax has started.
 *
 * The apps' slider handles get their aria-label and aria-valuetext from the
 * apps themselves (widgets/voice.js), in this page and in JupyterLab alike.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  var base = script.src.replace(/[^/]*$/, "");

  // The named modules that embed-amd.js defines compute their font URLs from
  // their own module URLs: map them into html-manager/dist, where the fonts are,
  // or the "@jupyter-widgets" path below sends those font requests to a folder
  // without fonts (404s that came and went with module load order).
  var dist = base + "@jupyter-widgets/html-manager/dist/";
  window.require.config({
    paths: {
      "@jupyter-widgets/html-manager/dist": base + "@jupyter-widgets/html-manager/dist",
      "@jupyter-widgets/base": dist + "base",
      "@jupyter-widgets/base7": dist + "base7",
      "@jupyter-widgets/controls": dist + "controls",
      "@jupyter-widgets/controls7": dist + "controls7",
      "@jupyter-widgets/html-manager": dist + "html-manager",
      "@jupyter-widgets": base + "@jupyter-widgets",
      anywidget: base + "anywidget/dist/index",
    },
  });
  script.setAttribute("data-jupyter-widgets-cdn", base + "npm/");

  var hub = {
    Queue: function (job) {
      var element = Array.isArray(job) ? job[2] : undefined;
      var mj = window.MathJax;
      if (!mj || !mj.startup || !mj.startup.promise) {
        return; // MathJax 3 typesets the whole page when it starts.
      }
      mj.startup.promise
        .then(function () {
          return mj.typesetPromise(element ? [element] : undefined);
        })
        .catch(function (err) {
          console.warn("MathJax typeset of a widget failed:", err);
        });
    },
  };
  function withHub(value) {
    if (value && typeof value === "object" && !value.Hub) {
      Object.defineProperty(value, "Hub", { value: hub, configurable: true });
    }
    return value;
  }
  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () {
      return current;
    },
    set: function (value) {
      current = withHub(value);
    },
  });
})();
