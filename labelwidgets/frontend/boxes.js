// The box annotator's view (labelwidgets/boxes.py). Needs common.js and canvas.js in front of it.
// The queue (optimistic Submit/Skip, Back/Undo waiting for the kernel, refused answers brought
// back, busy and lost kernels) is common.js's LwQueueView; the drawing is canvas.js's BoxCanvas.
// What is drawn on an image is sent to the kernel as it changes (the `drawn` trait) and kept
// there as the image's draft until it is submitted, so moving away never drops unsaved boxes;
// Skip asks again when boxes are drawn.

const LW_SKIP_CONFIRM_MS = 5000;

function lwBoxSummary(boxes) {
  const live = (boxes || []).filter((b) => b.model?.verdict !== "rejected");
  return live.length ? live.map((b) => b.label).join(", ") : "no boxes";
}

function render({ model, el }) {
  const classes = () => model.get("classes") || [];
  const local = new Map(); // item_id -> boxes edited in this view and not yet saved
  let digits = null, digitTimer = null;
  let skipArmed = null; // {item, until}: S pressed once with boxes drawn

  // ---------------------------------------------------------------- DOM
  const stage = h("div", { class: "lw-stage" });
  const side = h("div", { class: "lw-side" });
  const { root, progress, header, endBox, buttons, statusLine, help } = lwFrame(el, "lw-boxes", [stage, side],
    (action) => act(action));
  const button = (action, cls, onclick) => lwButton(action, cls, onclick || (() => act(action)));

  const images = new LwImages(model, (msg) => model.send(msg));
  const q = new LwQueueView(model, {
    el, root, noun: "boxes",
    onImage: (msg, buffers) => {
      const p = images.put(msg, buffers);
      if (p && msg.item_id === q.shown) p.then(() => { if (q.shown === msg.item_id && !cv.image) paintImage(); });
    },
    show: (id) => show(id),
    repaint: () => { const e = q.entry(q.shown); if (e) paintHeader(e); if (!cv.image) paintImage(); paintSide(); paintChrome(); },
    restore: (f) => { if (f.sent.boxes) local.set(f.item_id, f.sent.boxes); },
    saved: (msg, sent) => {
      if (sent.type === "submit" && msg.ok && q.shown !== sent.item_id) local.delete(sent.item_id);
      if (sent.type === "undo" && msg.ok) local.clear(); // the kernel's answers (and drafts) hold again
    },
    unsaved: (p) => (p.type === "skip" ? `${p.item_id} (skip)` : `${p.item_id} (${lwBoxSummary(p.boxes)})`),
    drafts: (pending) => [...local.entries()].filter(([id]) => !pending.some((p) => p.item_id === id))
      .map(([id, b]) => `${id} (draft: ${lwBoxSummary(b)})`),
    chrome: () => paintChrome(),
  });
  const sync = q.sync;
  const keymap = () => q.keymap();
  const say = (text, level) => q.say(text, level);
  const unfocus = lwFocusRoot(root, onKey);

  const cv = new BoxCanvas(stage, {
    classes: classes(), boxSize: model.get("box_size"), attributes: model.get("attributes") || [],
    focusRoot: root, maxWidth: 1100,
    onChange: (boxes) => edited(boxes),
    onSelect: () => paintSide(),
    onMessage: (text, level) => say(text, level === "error" ? "error" : "info"),
    onDetail: (req) => { if (!sync.gone) model.send({ type: "detail", item_id: req.item, ...req }); },
  });
  const onDetail = (msg, buffers) => {
    if (!msg || msg.type !== "detail" || msg.item_id !== q.shown || !buffers || !buffers[0]) return;
    const buf = buffers[0];
    const bytes = buf instanceof DataView ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
    createImageBitmap(new Blob([bytes], { type: `image/${msg.format}` })).then((source) => {
      cv.setDetail({ source, x: msg.x, y: msg.y, w: msg.w, h: msg.h, item: msg.item_id });
    });
  };

  const boxesOf = (id) => (local.has(id) ? local.get(id) : (q.entry(id)?.boxes || []));

  function edited(boxes) {
    if (!q.on(q.shown)) return;
    local.set(q.shown, boxes);
    skipArmed = null;
    q.clearError();
    if (!sync.gone) {
      model.set("drawn", { item_id: q.shown, boxes });
      model.save_changes();
    }
    const e = q.entry(q.shown);
    if (e) paintHeader(e); // "unsaved draft"
    paintSide();
    paintChrome();
  }

  // ---------------------------------------------------------------- painting
  function paintImage() {
    const id = q.shown;
    const e = q.entry(id);
    const ready = images.now(id);
    if (!e || !ready) {
      stage.classList.add("lw-loading");
      const coming = images.get(id); // arrived but still decoding: paint when it is ready
      if (coming) coming.then(() => { if (q.shown === id && !cv.image) paintImage(); });
      else images.want([id]);
      return false;
    }
    cv.setImage({ source: ready.bitmap, width: e.size[0], height: e.size[1], item: id, boxes: boxesOf(id) });
    cv.canvas.dataset.item = id; // painted: the latency benchmark watches this
    stage.classList.remove("lw-loading");
    return true;
  }

  function show(id) {
    clearDigits();
    skipArmed = null;
    root.classList.toggle("lw-finished", id === null);
    root.classList.toggle("lw-waiting", id === undefined);
    if (!q.on(id)) { cv.image = null; q.paintEnd(endBox); paintChrome(); return; }
    if (!paintImage()) { cv.image = null; cv.draw(); }
    paintHeader(q.entry(id));
    paintSide();
    paintChrome();
    images.want(q.sequence().map((x) => x.item_id)); // decode what comes next now
  }

  function paintHeader(e) {
    const fields = (e.fields || []).map(([k, v]) => h("span", { class: "lw-field" }, `${k}: ${v}`));
    const kept = local.has(e.item_id) || e.source === "draft";
    const src = kept ? "unsaved draft: submit to save it"
      : e.source === "answer" ? "answered before: edit and submit again"
      : e.source === "model" ? `pre-drawn by ${e.model_name}: A accepts, R rejects the selected box, Tab goes to the next` : null;
    lwSet(header,
      h("div", { class: "lw-title" }, h("b", { text: e.item_id }),
        h("span", { class: "lw-position", text: `item ${e.index + 1} of ${e.total}` }),
        h("span", { class: "lw-size", text: `${e.size[0]} × ${e.size[1]} px` }),
        src ? h("span", { class: kept ? "lw-draft" : "lw-earlier", text: src }) : null, ...fields),
      e.note ? h("div", { class: "lw-note", text: e.note }) : null);
  }

  function paintSide() {
    const key = (a) => lwShortcut(keymap(), a);
    const sel = cv.boxes[cv.selected];
    const nClass = classes().length;
    const classButtons = classes().map((c, i) => h("button", {
      class: `lw-option lw-class${c === cv.label ? " lw-chosen" : ""}`, tabindex: -1, "aria-pressed": c === cv.label ? "true" : "false",
      title: `Type ${i + 1}: class of the selected box and of new boxes`,
      onclick: () => { clearDigits(); cv.setLabel(c); paintSide(); },
    }, h("span", { class: "lw-key", text: String(i + 1) }),
    h("span", { class: "lw-swatch", style: { background: PALETTE[i % PALETTE.length] } }),
    h("span", { class: "lw-label", text: c })));
    let selected;
    if (!sel) {
      selected = h("p", { class: "lw-none", text: `No box selected: click one, or press ${key("next")}.` });
    } else {
      const verdict = sel.model ? sel.model.verdict : null;
      const flags = (model.get("attributes") || []).map((a) => h("button", {
        class: `lw-flag${sel.attributes[a] ? " lw-chosen" : ""}`, tabindex: -1, "aria-pressed": sel.attributes[a] ? "true" : "false",
        onclick: () => { cv.setAttribute(a); paintSide(); },
      }, `${sel.attributes[a] ? "☑" : "☐"} ${a}`));
      selected = h("div", {},
        h("div", { class: "lw-selected-name" }, h("span", { class: "lw-swatch", style: { background: cv.colorOf(sel.label) } }),
          h("b", { text: `Box ${cv.selected + 1} · ${sel.label}` }),
          verdict ? h("span", { class: `lw-verdict lw-${verdict}`, text: ` model box: ${verdict}` }) : null),
        h("div", { class: "lw-flags" }, flags),
        sel.model ? h("div", { class: "lw-review" },
          button("accept", "", () => { say(cv.accept().text, "ok"); paintSide(); }),
          button("reject", "", () => { say(cv.reject().text, "info"); paintSide(); })) : null,
        sel.model ? null : button("delete", "lw-small", () => { say(cv.deleteSelected().text, "info"); paintSide(); }));
      selected.querySelectorAll("button[data-action]").forEach((b) => {
        const a = b.dataset.action;
        b.textContent = { accept: "✓ Accept", reject: "✗ Reject", delete: "Delete box" }[a] + ` (${key(a)})`;
      });
    }
    const counts = {};
    for (const b of cv.boxes) if (b.model) counts[b.model.verdict] = (counts[b.model.verdict] || 0) + 1;
    const nLive = cv.boxes.filter((b) => b.model?.verdict !== "rejected").length;
    const review = Object.keys(counts).length
      ? ` · model: ${VERDICTS.filter((v) => counts[v]).map((v) => `${counts[v]} ${v}`).join(", ")}` : "";
    const zoom = h("div", { class: "lw-zoom" },
      button("zoom_out", "lw-small", () => cv.zoomAt(1 / 1.5)), button("fit", "lw-small", () => cv.fit()),
      button("zoom_in", "lw-small", () => cv.zoomAt(1.5)));
    zoom.children[0].textContent = `− (${key("zoom_out")})`;
    zoom.children[1].textContent = `Fit (${key("fit")})`;
    zoom.children[2].textContent = `+ (${key("zoom_in")})`;
    const size = model.get("box_size");
    lwSet(side,
      h("div", { class: "lw-side-title", text: `Class${nClass > 9 ? ` (type 1-${nClass})` : ""}` }),
      h("div", { class: "lw-options lw-classes" }, classButtons),
      h("div", { class: "lw-side-title", text: "Selected box" }), selected,
      h("div", { class: "lw-count-line", text: `${nLive} box(es)${review}` }),
      h("div", { class: "lw-mode", text: size ? `Fixed size: a click places a ${size[0]} × ${size[1]} box` : "Drag on the image to draw a box" }),
      zoom);
  }

  function paintChrome() {
    q.paintChrome(buttons, progress, statusLine, help);
  }

  // ---------------------------------------------------------------- actions
  function clearDigits() { clearTimeout(digitTimer); digitTimer = null; digits = null; }

  function pickClass(n) {
    say(cv.setLabel(classes()[n - 1]).text, "info");
    paintSide();
  }

  function flushDigits() {
    if (!digits || !digits.typed) { clearDigits(); return; }
    const d = digits; clearDigits();
    try { const n = d.flush(); if (n) pickClass(n); } catch (err) { say(`${err.message} (there are ${d.n} classes).`, "error"); }
  }

  function digit(d) {
    if (!q.on(q.shown)) return;
    const n = classes().length;
    if (!digits) digits = new LwDigits(n);
    clearTimeout(digitTimer);
    try {
      const number = digits.feed(d);
      if (number) { clearDigits(); pickClass(number); return; }
    } catch (err) { clearDigits(); say(`${err.message} (there are ${n} classes).`, "error"); return; }
    const k = keymap().find((x) => x.action === "class");
    digitTimer = setTimeout(flushDigits, (k && k.interval_ms) || 600);
  }

  function commit(type) {
    const item = q.shown;
    const boxes = q.on(item) ? cv.getBoxes() : [];
    const live = boxes.filter((b) => b.model?.verdict !== "rejected");
    if (type === "skip" && live.length && !sync.gone && !(skipArmed && skipArmed.item === item && performance.now() < skipArmed.until)) {
      skipArmed = { item, until: performance.now() + LW_SKIP_CONFIRM_MS };
      say(`${live.length} box(es) are drawn on ${item}. Press ${lwShortcut(keymap(), "skip")} again to skip it anyway `
        + `(they are kept as a draft), or ${lwShortcut(keymap(), "submit")} to save them.`, "warn");
      return;
    }
    skipArmed = null;
    if (q.on(item) && type === "skip") local.set(item, boxes); // a skipped image keeps its boxes as a draft
    q.commit(type, type === "submit" ? { boxes } : {});
  }

  function navigate(type) {
    flushDigits();
    if (q.on(q.shown) && local.has(q.shown) && !sync.gone) {
      const n = local.get(q.shown).filter((b) => b.model?.verdict !== "rejected").length;
      say(`Kept your unsaved boxes on ${q.shown} (${n}) as a draft: they are shown when you come back.`, "info");
    }
    q.navigate(type);
  }

  function act(action) {
    if (action === "submit" || action === "skip") commit(action);
    else if (action === "back" || action === "undo") navigate(action);
  }

  function onKey(e) {
    const k = lwLookup(keymap(), e);
    if (!k) return false;
    if (k.action === "class") { digit(k.args[0]); return true; }
    flushDigits();
    if (sync.gone && k.action !== "release") return true;
    if (["submit", "skip", "back", "undo"].includes(k.action)) act(k.action);
    else if (k.action !== "release" && q.on(q.shown)) {
      const r = cv.action(k.action, k.args);
      if (r.text) say(r.text, r.done ? (k.action === "accept" ? "ok" : "info") : "warn");
      paintSide();
    }
    return true;
  }

  // ---------------------------------------------------------------- model events
  const onDrawn = () => {
    const d = model.get("drawn") || {};
    if (d.origin !== "kernel" || d.item_id !== q.shown) return; // a Python twin (click, review) drew
    local.set(q.shown, d.boxes || []);
    cv.setBoxes(d.boxes || []);
    paintSide();
  };
  const onClasses = () => { cv.setClasses(classes()); paintSide(); };
  return q.start(images, [["msg:custom", onDetail], ["change:drawn", onDrawn], ["change:classes", onClasses]],
    () => { unfocus(); clearDigits(); cv.destroy(); });
}

export default { render };
