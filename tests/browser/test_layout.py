"""Pages at reading size: layout, figure text, accessibility and dark mode (issue 17).

On every page of the toc, at 1280 px (a laptop) and at 390 px (a phone):

* **page scroll** -- the document is not wider than the viewport (asserted);
* **overflow** -- no element in the article reaches past the text column unless a box
  around it scrolls on its own (``overflow-x: auto|scroll``), and no box clips its
  content (``overflow-x: hidden|clip`` with more content than width) (asserted);
* **own scroll boxes** -- the boxes that do scroll sideways inside the column (tables,
  widget apps, display maths), listed with their widths (printed, not asserted);
* **figure text** -- the chapters' matplotlib PNGs (100 dpi) and the apps' frames
  (96 dpi) are drawn for the column with 9.5-10 pt text, so their text shows at about
  ``10 pt x displayed width / natural width``: at least 9 pt (asserted; below 720 px
  the figures keep their natural size and their box scrolls sideways);
* **inline maths** -- no inline formula is cut at the column (asserted: a long one
  belongs in display maths, which scrolls in its own box);
* **text alternatives** -- every figure has alt text (or, for an app's frame, a
  tooltip) that says what it shows, not its file name (asserted).

Plus, at 1280 px: axe-core (the copy bundled by ``axe-playwright-python``, injected
into the page, no network) finds no serious or critical violation on a page; and in
the theme's dark mode
the figures keep a white background without the theme's dimming filter and the text
of the widget apps keeps its contrast (axe's ``color-contrast`` rule on the outputs).

The numbers go to the end-of-session report (``browser_report``); ``-s`` is not
needed.  Run against another build with ``NNDL_BOOK_HTML=/path/to/_build/html``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import toc_docnames

pytestmark = pytest.mark.browser

WIDTHS = {"1280": (1280, 900), "390": (390, 844)}
#: Natural text size of the book's figures (matplotlib, 100 dpi, 9-10 pt fonts).
FIGURE_TEXT_PT = 10.0
#: Smallest readable figure text as displayed (issue 17).
MIN_FIGURE_PT = 9.0
SERIOUS = {"serious", "critical"}

# Settle the page: images decoded, MathJax typeset, widgets rendered, two frames drawn.
SETTLE = """async () => {
  const imgs = Array.from(document.images);
  await Promise.race([
    Promise.all(imgs.map((img) => img.complete ? null : new Promise((ok) => {
      img.addEventListener('load', ok, {once: true});
      img.addEventListener('error', ok, {once: true});
    }))),
    new Promise((ok) => setTimeout(ok, 10000)),
  ]);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await MathJax.startup.promise;
  }
  // Widgets rendered, and every app's SliderVoice (widgets/voice.js) attached: it names
  // the slider handles and gives the frames their alt text once its module has loaded.
  const views = () => Array.from(document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]'));
  const ready = () => views().every((v) => {
    const area = v.previousElementSibling;
    return area && area.classList.contains('widget-subarea') && area.children.length > 0;
  }) && document.querySelectorAll('.nndl-app:not([data-nndl-voice])').length === 0;
  const t0 = performance.now();
  while (!ready() && performance.now() - t0 < 15000) {
    await new Promise((ok) => setTimeout(ok, 50));
  }
  await new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)));
  return true;
}"""

MEASURE = """({figurePt, minPt}) => {
  const doc = document.documentElement;
  const article = document.querySelector('article.bd-article') || document.querySelector('main');
  const out = {
    viewport: doc.clientWidth, scrollWidth: doc.scrollWidth,
    column: 0, overflow: [], clipped: [], inlineMath: [], scrollers: [], figures: [],
  };
  if (!article) return out;
  const acs = getComputedStyle(article);
  const arect = article.getBoundingClientRect();
  const left = arect.left + parseFloat(acs.paddingLeft) + window.scrollX;
  const right = arect.right - parseFloat(acs.paddingRight) + window.scrollX;
  out.column = Math.round(right - left);
  const describe = (el, extra) => Object.assign({
    tag: el.tagName.toLowerCase(),
    cls: (typeof el.className === 'string' ? el.className : '').trim().split(/\\s+/)
         .slice(0, 3).join('.'),
    text: (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50),
  }, extra);
  const visible = (el) => {
    const cs = getComputedStyle(el);
    return cs.display !== 'none' && cs.visibility !== 'hidden' && el.getClientRects().length > 0;
  };
  const ownScroll = (cs) => cs.overflowX === 'auto' || cs.overflowX === 'scroll';
  const clips = (cs) => cs.overflowX === 'hidden' || cs.overflowX === 'clip';
  // An element is contained if an ancestor inside the article scrolls or clips
  // sideways and that ancestor itself fits the column.
  const contained = (el) => {
    for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
      const cs = getComputedStyle(a);
      if (ownScroll(cs) || clips(cs)) return true;
    }
    return false;
  };
  // A clipping box really cuts something off if a visible descendant reaches past its
  // edges (MathJax's assistive MathML is clipped on purpose and is not drawn).
  const cutsOff = (box, r) => {
    for (const d of box.querySelectorAll('*')) {
      if (d.closest('mjx-assistive-mml') || !visible(d)) continue;
      const dr = d.getBoundingClientRect();
      if (dr.width > 0 && (dr.right > r.right + 2 || dr.left < r.left - 2)) return true;
    }
    return false;
  };
  const reported = new Set();
  for (const el of article.querySelectorAll('*')) {
    if (!visible(el)) continue;
    const cs = getComputedStyle(el);
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const x0 = r.left + window.scrollX, x1 = r.right + window.scrollX;
    // (1) sticks out of the column, with no scrolling or clipping box around it
    if ((x1 > right + 1 || x0 < left - 1) && !contained(el)) {
      let inner = false;
      for (let a = el.parentElement; a && a !== article; a = a.parentElement) {
        if (reported.has(a)) { inner = true; break; }
      }
      reported.add(el);
      if (!inner) out.overflow.push(describe(el, {width: Math.round(r.width)}));
    }
    // (2) boxes with more content than width
    if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
      const item = describe(el, {width: el.clientWidth, content: el.scrollWidth});
      if (ownScroll(cs)) out.scrollers.push(item);
      else if (clips(cs) && cutsOff(el, r)) {
        // The theme clips inline maths at the column (span.math: overflow hidden, max-width
        // 100%); MathJax 3 cannot break it.  Chapter content: such a formula belongs in
        // display maths, which scrolls in its own box.
        // An inline formula is cut when the column stops it (its box is as wide as its
        // parent allows), not when an accent overhangs a narrow box (a hat on q).
        if (!el.matches('span.math')) out.clipped.push(item);
        else if (el.parentElement && el.clientWidth >= el.parentElement.clientWidth - 2) {
          out.inlineMath.push(item);
        }
      }
    }
  }
  for (const img of article.querySelectorAll('.cell_output img')) {
    if (!img.naturalWidth || !visible(img)) continue;
    const shown = img.getBoundingClientRect().width;
    if (shown < 40) continue;
    const src = img.currentSrc || img.src;
    out.figures.push({
      src: src.startsWith('data:') ? 'data:' + src.slice(5, 25) : src.split('/').pop(),
      natural: img.naturalWidth, shown: Math.round(shown),
      pt: Math.round(figurePt * shown / img.naturalWidth * 10) / 10,
      // alt text that says something (myst-nb's default alt is the file's path), or an
      // app frame's tooltip
      described: (img.alt && !/\\.(png|jpe?g|svg)$/i.test(img.alt) && img.alt.length > 20)
        || (img.title || '').length > 20,
    });
  }
  return out;
}"""


def layout_pages() -> list[str]:
    return toc_docnames()


def axe_source() -> str:
    """axe-core as bundled by axe-playwright-python (no network at test time)."""
    try:
        import axe_playwright_python
    except ImportError:
        pytest.skip("axe-playwright-python is not installed (pip install -e '.[test]')")
    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def open_page(page_visit, book_server: str, docname: str, size: tuple[int, int]):
    visit = page_visit(book_server + f"{docname}.html")
    page = visit.page
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.evaluate(SETTLE)
    return page


def measure(page) -> dict:
    return page.evaluate(MEASURE, {"figurePt": FIGURE_TEXT_PT, "minPt": MIN_FIGURE_PT})


def short(items: list[dict], n: int = 6) -> str:
    parts = [
        f"{i['tag']}.{i['cls']} {i.get('width')}px"
        + (f" (content {i['content']}px)" if "content" in i else "")
        + (f" '{i['text']}'" if i.get("text") else "")
        for i in items[:n]
    ]
    more = f" ... and {len(items) - n} more" if len(items) > n else ""
    return "; ".join(parts) + more


@pytest.mark.parametrize("width", sorted(WIDTHS))
@pytest.mark.parametrize("docname", layout_pages())
def test_layout_fits_the_column(
    docname, width, built_book, book_server, page_visit, browser_report
):
    assert (built_book / f"{docname}.html").is_file(), f"{docname}.html was not built"
    page = open_page(page_visit, book_server, docname, WIDTHS[width])
    m = measure(page)
    small = [f for f in m["figures"] if f["pt"] < MIN_FIGURE_PT]
    smallest = min((f["pt"] for f in m["figures"]), default=None)
    browser_report(
        f"layout {width}px {docname}: page {m['scrollWidth']}/{m['viewport']}px, "
        f"column {m['column']}px, overflowing {len(m['overflow'])}, clipped "
        f"{len(m['clipped'])}, inline maths cut {len(m['inlineMath'])}, own-scroll boxes "
        f"{len(m['scrollers'])}, figures "
        f"{len(m['figures'])} (smallest text {smallest} pt, {len(small)} under "
        f"{MIN_FIGURE_PT:g} pt)"
    )
    for label, items in (("overflowing", m["overflow"]), ("own-scroll", m["scrollers"])):
        if items:
            browser_report(f"    {label}: {short(items)}")
    if m["clipped"]:
        browser_report(f"    clipped: {short(m['clipped'])}")
    if m["inlineMath"]:
        browser_report(f"    inline maths cut at the column: {short(m['inlineMath'])}")
    if small:
        browser_report(
            "    small figure text: "
            + ", ".join(f"{f['src'][:20]} {f['shown']}/{f['natural']}px {f['pt']}pt" for f in small)
        )
    assert m["scrollWidth"] <= m["viewport"], (
        f"{docname} at {width}px scrolls sideways: document {m['scrollWidth']}px wide in a "
        f"{m['viewport']}px viewport; overflowing: {short(m['overflow'])}"
    )
    assert not m["overflow"], (
        f"{docname} at {width}px: elements wider than the {m['column']}px column outside any "
        f"scroll box: {short(m['overflow'])}"
    )
    assert not m["clipped"], f"{docname} at {width}px: clipped boxes: {short(m['clipped'])}"
    assert not m["inlineMath"], (
        f"{docname} at {width}px: inline maths cut at the column: {short(m['inlineMath'])}"
    )
    assert not small, (
        f"{docname} at {width}px: figure text under {MIN_FIGURE_PT:g} pt: "
        + ", ".join(f"{f['src'][:20]} {f['pt']}pt" for f in small)
    )
    unnamed = [f["src"][:40] for f in m["figures"] if not f["described"]]
    assert not unnamed, f"{docname}: figures without a text alternative: {unnamed}"


def run_axe(page, source: str, context: object = None, rules: list[str] | None = None) -> list:
    page.evaluate(source)
    options: dict = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    script = "async ([ctx, opts]) => (await axe.run(ctx || document, opts)).violations"
    return page.evaluate(script, [context, options])


def summarize(violations: list) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}x: "
        + ", ".join(json.dumps(n["target"][-1] if n["target"] else "") for n in v["nodes"][:3])
        + ")"
        for v in violations
    )


@pytest.mark.parametrize("docname", layout_pages())
def test_axe_no_serious_violations(docname, built_book, book_server, page_visit, browser_report):
    source = axe_source()
    page = open_page(page_visit, book_server, docname, WIDTHS["1280"])
    violations = [v for v in run_axe(page, source) if v["impact"] in SERIOUS]
    browser_report(
        f"axe {docname}: {len(violations)} serious/critical rule(s) failing"
        + (f" [{summarize(violations)}]" if violations else "")
    )
    assert not violations, f"axe on {docname}: {summarize(violations)}"


FIGURES_IN_DARK_MODE = """() => {
  document.documentElement.dataset.theme = 'dark';
  document.documentElement.dataset.mode = 'dark';
  const out = [];
  for (const img of document.querySelectorAll('article .cell_output img')) {
    if (!img.naturalWidth || img.getClientRects().length === 0) continue;
    const cs = getComputedStyle(img);
    out.push({src: (img.currentSrc || img.src).split('/').pop().slice(0, 40),
              background: cs.backgroundColor, filter: cs.filter});
  }
  return {figures: out, page: getComputedStyle(document.body).backgroundColor};
}"""


@pytest.mark.parametrize(
    "docname", [d for d in layout_pages() if d.startswith("book/0")] or ["book/00_preface"]
)
def test_dark_mode_keeps_figures_and_widgets_readable(
    docname, built_book, book_server, page_visit, browser_report
):
    page = open_page(page_visit, book_server, docname, WIDTHS["1280"])
    state = page.evaluate(FIGURES_IN_DARK_MODE)
    # The theme really switched: the page background is dark now.
    rgb = [int(c) for c in state["page"].strip("rgba()").split(",")[:3]]
    assert sum(rgb) < 3 * 96, f"dark mode did not switch the page background: {state['page']}"
    bad = [
        f
        for f in state["figures"]
        if f["background"] not in ("rgb(255, 255, 255)", "rgba(255, 255, 255, 1)")
        or f["filter"] != "none"
    ]
    assert not bad, f"{docname} in dark mode: figures not on white or dimmed: {bad[:5]}"
    contrast = []
    if page.locator("article .cell_output").count():
        contrast = run_axe(
            page, axe_source(), {"include": [["article .cell_output"]]}, ["color-contrast"]
        )
        contrast = [v for v in contrast if v["impact"] in SERIOUS]
    browser_report(
        f"dark mode {docname}: {len(state['figures'])} figures on white, output contrast "
        + (summarize(contrast) if contrast else "ok")
    )
    assert not contrast, f"{docname} in dark mode, outputs: {summarize(contrast)}"
