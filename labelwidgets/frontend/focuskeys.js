// Keyboard focus for an ipywidgets container of class "labelwidgets" (labelwidgets/_widget.py,
// FocusKeys): the container takes focus on a click, keys of the key map go to the kernel as
// {type: "key", key}. Needs common.js in front of it.

function render({ model, el }) {
  const hint = h("div", { class: "lw-help lw-focus-hint" });
  el.append(hint);
  let alive = true, cleanup = null;
  const paint = () => { hint.textContent = model.get("help") || ""; };
  const attach = () => {
    if (!alive) return;
    const root = el.closest(".labelwidgets");
    if (!root) { requestAnimationFrame(attach); return; } // the view is not in the page yet
    cleanup = lwFocusRoot(root, (e) => {
      const k = lwLookup(model.get("keymap"), e);
      if (!k) return false;
      model.send({ type: "key", key: k.key });
      return true;
    });
  };
  paint();
  attach();
  model.on("change:help", paint);
  return () => {
    alive = false;
    if (cleanup) cleanup();
    model.off("change:help", paint);
  };
}

export default { render };
