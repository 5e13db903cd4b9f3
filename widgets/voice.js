// Screen-reader names and values for an app's slider handles, in the static book
// and in a live notebook alike (widgets.voice.SliderVoice; issue 15).
//
// noUiSlider, which draws ipywidgets' sliders, gives its handle no name and an
// aria-valuetext that is the slider's index or raw number ("3.00" for the fourth
// option of a selection slider). This view is an empty element inside the app: it
// finds its app and keeps every handle's aria-label equal to the control's label
// and its aria-valuetext equal to the readout. It works in the mutation observer's
// microtask, so no one reads noUiSlider's value between its write and ours; the
// views get their nndl- classes after their content, so class changes count too.
// Our own write equals the readout, so it does not loop. It also gives every frame of
// the app its alt text, from the model's `descriptions` (ipywidgets' Image has none).

function describe(control) {
  const handle = control.querySelector(".noUi-handle");
  if (!handle) return;
  const label = control.querySelector(".widget-label");
  const readout = control.querySelector(".widget-readout");
  const name = label ? label.textContent.trim() : "";
  const text = readout ? readout.textContent.trim() : "";
  if (name && handle.getAttribute("aria-label") !== name) {
    handle.setAttribute("aria-label", name);
  }
  if (text && handle.getAttribute("aria-valuetext") !== text) {
    handle.setAttribute("aria-valuetext", text);
  }
}

function frameKey(img) {
  if (img.classList.contains("nndl-live-frame")) return "live";
  for (const name of img.classList) {
    if (/^nndl-frame-\d/.test(name)) return name;
  }
  return null;
}

function name(app, descriptions) {
  app.querySelectorAll("img.nndl-frame, img.nndl-live-frame").forEach((img) => {
    const key = frameKey(img);
    const text = key && descriptions[key];
    if (text && img.getAttribute("alt") !== text) img.setAttribute("alt", text);
  });
}

function render({ model, el }) {
  el.style.display = "none";
  let observer = null;
  let all = null;
  let frame = 0;
  let tries = 0;
  // Views are built detached and attached later: look for the app until then.
  const attach = () => {
    const app = el.closest(".nndl-app");
    if (!app) {
      if (++tries < 600) frame = requestAnimationFrame(attach);
      return;
    }
    all = () => {
      app.querySelectorAll(".nndl-control").forEach(describe);
      name(app, model.get("descriptions") || {});
    };
    model.on("change:descriptions", all);
    observer = new MutationObserver(all);
    observer.observe(app, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ["aria-valuetext", "class", "alt"],
    });
    all();
    app.setAttribute("data-nndl-voice", "ready"); // (the browser tests wait for it)
  };
  attach();
  return () => {
    cancelAnimationFrame(frame);
    if (observer) observer.disconnect();
    if (all) model.off("change:descriptions", all);
  };
}

export default { render };
