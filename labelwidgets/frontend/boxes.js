// The box annotator's view (labelwidgets/boxes.py). Needs common.js and canvas.js in front of it.
// Submit and Skip paint the next image at once (optimistic) while the kernel commits and acks;
// Back, Undo and goto wait for the kernel. What is drawn on an image is sent to the kernel as it
// changes (the `drawn` trait) and kept there as the image's draft until it is submitted, so
// moving away never drops unsaved boxes. Skip asks again when boxes are drawn.

const LW_SKIP_CONFIRM_MS = 5000;

function lwBoxSummary(boxes) {
  const live = boxes.filter((b) => b.model?.verdict !== "rejected");
  return live.length ? live.map((b) => b.label).join(", ") : "no boxes";
}

function render({ model, el }) {
  const keymap = () => model.get("keymap") || [];
  const classes = () => model.get("classes") || [];
  let shown = null; // the item on screen; null = end screen; undefined = waiting for the kernel
  let waitingAfter = null;
  const local = new Map(); // item_id -> boxes edited in this view and not yet saved
  let localStatus = null;
  let failed = [];
  let navWaiting = 0;
  let digits = null, digitTimer = null;
  let skipArmed = null; // {item, until}: S pressed once with boxes drawn

  const images = new LwImages(model, (msg) => model.send(msg));
  const sync = new LwSync(model, {
    el,
    onAck: (msg, sent) => acked(msg, sent),
    onBusy: (pending) => busy(pending),
    onGone: (why, pending) => gone(why, pending),
    onImage: (msg, buffers) => {
      const p = images.put(msg, buffers);
      if (p && msg.item_id === shown) p.then(() => { if (shown === msg.item_id && !cv.image) paintImage(); });
    },
  });

  // ---------------------------------------------------------------- DOM
  const root = h("div", { class: "labelwidgets lw-boxes" });
  const progress = h("div", { class: "lw-progress" });
  const hint = h("div", { class: "lw-hint" },
    h("span", { class: "lw-hint-off", text: "Click here to use the keys" }),
    h("span", { class: "lw-hint-on", text: "Keys active · Esc releases" }));
  const header = h("div", { class: "lw-header" });
  const stage = h("div", { class: "lw-stage" });
  const side = h("div", { class: "lw-side" });
  const main = h("div", { class: "lw-main" }, stage, side);
  const endBox = h("div", { class: "lw-end" });
  const button = (action, cls, onclick) => h("button", { class: `lw-action ${cls || ""}`, "data-action": action,
    tabindex: -1, onclick: onclick || (() => act(action)) });
  const buttons = {
    back: button("back"), skip: button("skip"), undo: button("undo"), submit: button("submit", "lw-primary"),
  };
  const statusLine = h("div", { class: "lw-status" });
  const help = h("div", { class: "lw-help" });
  root.append(h("div", { class: "lw-top" }, progress, hint), header, main, endBox,
    h("div", { class: "lw-actions" }, buttons.back, buttons.skip, buttons.undo, buttons.submit),
    statusLine, help);
  el.append(root);
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
    if (!msg || msg.type !== "detail" || msg.item_id !== shown || !buffers || !buffers[0]) return;
    const buf = buffers[0];
    const bytes = buf instanceof DataView ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength) : new Uint8Array(buf);
    createImageBitmap(new Blob([bytes], { type: `image/${msg.format}` })).then((source) => {
      cv.setDetail({ source, x: msg.x, y: msg.y, w: msg.w, h: msg.h, item: msg.item_id });
    });
  };
  model.on("msg:custom", onDetail);

  // ---------------------------------------------------------------- state helpers
  const windowList = () => model.get("window") || [];
  const entry = (id) => windowList().find((e) => e.item_id === id) || null;
  const sequence = () => windowList().filter((e) => e.role !== "behind");

  function nextAfter(id) {
    // null: the queue is finished; undefined: not known yet (the kernel sends more)
    const seq = sequence();
    const i = seq.findIndex((e) => e.item_id === id);
    if (i < 0) return undefined;
    if (i + 1 < seq.length) return seq[i + 1].item_id;
    return seq[i].final ? null : undefined;
  }

  const boxesOf = (id) => (local.has(id) ? local.get(id) : (entry(id)?.boxes || []));

  function edited(boxes) {
    if (shown === null || shown === undefined) return;
    local.set(shown, boxes);
    skipArmed = null;
    if (localStatus && localStatus.level === "error" && !sync.gone) localStatus = null;
    if (!sync.gone) {
      model.set("drawn", { item_id: shown, boxes });
      model.save_changes();
    }
    paintSide();
    paintChrome();
  }

  // ---------------------------------------------------------------- painting
  function paintImage() {
    const e = entry(shown);
    const ready = images.now(shown);
    if (!e || !ready) {
      stage.classList.add("lw-loading");
      const id = shown;
      const coming = images.get(id); // arrived but still decoding: paint when it is ready
      if (coming) coming.then(() => { if (shown === id && !cv.image) paintImage(); });
      else images.want([id]);
      return false;
    }
    cv.setImage({ source: ready.bitmap, width: e.size[0], height: e.size[1], item: shown, boxes: boxesOf(shown) });
    cv.canvas.dataset.item = shown; // painted: the latency benchmark watches this
    stage.classList.remove("lw-loading");
    return true;
  }

  function show(id) {
    shown = id;
    clearDigits();
    skipArmed = null;
    root.classList.toggle("lw-finished", id === null);
    root.classList.toggle("lw-waiting", id === undefined);
    if (id === null || id === undefined) { cv.image = null; paintEnd(); paintChrome(); return; }
    const e = entry(id);
    if (!e) { shown = undefined; waitingAfter = id; cv.image = null; paintEnd(); paintChrome(); return; }
    if (!paintImage()) { cv.image = null; cv.draw(); }
    paintHeader(e);
    paintSide();
    paintChrome();
    images.want(sequence().map((x) => x.item_id)); // decode what comes next now
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
    const km = keymap();
    const key = (a) => lwShortcut(km, a);
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
      ? ` · model: ${["pending", "accepted", "changed", "rejected"].filter((v) => counts[v]).map((v) => `${counts[v]} ${v}`).join(", ")}` : "";
    const zoom = h("div", { class: "lw-zoom" },
      button("zoom-out", "lw-small", () => { cv.zoomAt(1 / 1.5); }), button("fit", "lw-small", () => cv.fit()),
      button("zoom-in", "lw-small", () => { cv.zoomAt(1.5); }));
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

  function paintEnd() {
    const p = model.get("progress") || {};
    const back = lwShortcut(keymap(), "back");
    if (shown === undefined) {
      lwSet(endBox, h("p", { class: "lw-wait", text: `Waiting for the kernel to send the next image (${sync.pending.size} saving)…` }));
      return;
    }
    const saving = sync.pending.size ? ` (${sync.pending.size} still saving…)` : "";
    lwSet(endBox,
      h("h3", { text: `All ${p.total || 0} items are done${saving}.` }),
      h("p", { text: `Thank you, ${p.rater || ""}! To edit an earlier item press the Back button (${back}).` }));
  }

  function paintChrome() {
    const km = keymap();
    const label = (a, text) => `${text} (${lwShortcut(km, a)})`;
    buttons.back.textContent = label("back", "◀ Back");
    buttons.skip.textContent = label("skip", "Skip");
    buttons.undo.textContent = label("undo", "Undo");
    buttons.submit.textContent = label("submit", "Submit");
    const saving = [...sync.pending.values()].filter((x) => x.type === "submit" || x.type === "skip").length;
    lwProgress(progress, model.get("progress") || {}, saving, sync.gone);
    lwStatus(statusLine, localStatus || model.get("status"));
    help.textContent = model.get("help") || "";
    const off = sync.gone;
    for (const b of Object.values(buttons)) b.disabled = off;
    buttons.submit.disabled = off || shown === null || shown === undefined;
    buttons.skip.disabled = buttons.submit.disabled;
  }

  function say(text, level) {
    if (!text) return;
    localStatus = { text, level };
    paintChrome();
  }

  // ---------------------------------------------------------------- actions
  function clearDigits() { clearTimeout(digitTimer); digitTimer = null; digits = null; }

  function pickClass(n) {
    const c = classes()[n - 1];
    const r = cv.setLabel(c);
    say(r.text, "info");
    paintSide();
  }

  function flushDigits() {
    if (!digits || !digits.typed) { clearDigits(); return; }
    const d = digits; clearDigits();
    try { const n = d.flush(); if (n) pickClass(n); } catch (err) { say(`${err.message} (there are ${d.n} classes).`, "error"); }
  }

  function digit(d) {
    if (shown === null || shown === undefined) return;
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
    if (sync.gone) return;
    if (shown === null || shown === undefined) {
      say(shown === null ? `The queue is finished. Press the Back button (${lwShortcut(keymap(), "back")}) to edit an earlier item.` : "Waiting for the kernel to send the next image…", "info");
      return;
    }
    if (navWaiting) { say("Waiting for the kernel…", "info"); return; }
    const item = shown;
    const boxes = cv.getBoxes();
    const live = boxes.filter((b) => b.model?.verdict !== "rejected");
    if (type === "skip" && live.length && !(skipArmed && skipArmed.item === item && performance.now() < skipArmed.until)) {
      skipArmed = { item, until: performance.now() + LW_SKIP_CONFIRM_MS };
      const key = lwShortcut(keymap(), "skip");
      say(`${live.length} box(es) are drawn on ${item}. Press ${key} again to skip it anyway (they are kept as a draft), `
        + `or ${lwShortcut(keymap(), "submit")} to save them.`, "warn");
      return;
    }
    skipArmed = null;
    localStatus = null;
    const payload = { item_id: item };
    if (type === "submit") payload.boxes = boxes;
    else local.set(item, boxes); // a skipped image keeps its boxes as a draft
    sync.send(type, payload);
    const nxt = nextAfter(item);
    if (nxt === undefined) waitingAfter = item;
    show(nxt);
  }

  function navigate(type, payload) {
    if (sync.gone) return;
    flushDigits();
    if (shown && local.has(shown)) {
      const n = local.get(shown).filter((b) => b.model?.verdict !== "rejected").length;
      say(`Kept your unsaved boxes on ${shown} (${n}) as a draft: they are shown when you come back.`, "info");
    }
    navWaiting += 1;
    root.classList.add("lw-navigating");
    sync.send(type, payload || {});
    paintChrome();
  }

  function canvasAction(k) {
    if (shown === null || shown === undefined) return;
    const r = cv.action(k.action, k.args);
    if (r.text) say(r.text, r.done ? (k.action === "accept" ? "ok" : "info") : "warn");
    paintSide();
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
    else if (k.action !== "release") canvasAction(k);
    return true;
  }

  // ---------------------------------------------------------------- kernel answers
  function acked(msg, sent) {
    if (sent.type === "back" || sent.type === "undo" || sent.type === "goto") navWaiting = Math.max(0, navWaiting - 1);
    if (!navWaiting) root.classList.remove("lw-navigating");
    if (sent.type === "submit") {
      if (!msg.ok) failed.push({ item_id: sent.item_id, boxes: sent.boxes, error: msg.error });
      else if (shown !== sent.item_id) local.delete(sent.item_id);
    }
    if (sent.type === "undo" && msg.ok) local.clear(); // the kernel's answers are the truth again
    reconcile();
  }

  function reconcile() {
    if (sync.gone) return;
    if (sync.pending.size === 0) {
      if (failed.length) { // back to the first image that was not saved, with its boxes
        const f = failed[0]; failed = [];
        if (f.boxes) local.set(f.item_id, f.boxes);
        navWaiting += 1;
        sync.send("goto", { item_id: f.item_id });
        localStatus = { level: "error", text: `Not saved: ${f.item_id}: ${f.error} Your boxes are shown again; correct them and press ${lwShortcut(keymap(), "submit")} (Submit).` };
        paintChrome();
        return;
      }
      const cur = model.get("current");
      if (cur !== shown) show(cur === undefined ? null : cur);
      else if (shown !== null && shown !== undefined) {
        const e = entry(shown);
        if (e) paintHeader(e);
        if (!cv.image) paintImage();
        paintSide(); paintChrome();
      } else paintChrome();
      return;
    }
    if (shown === undefined && waitingAfter) {
      const nxt = nextAfter(waitingAfter);
      if (nxt !== undefined) show(nxt);
    }
    paintChrome();
  }

  function busy(pending) {
    const items = pending.filter((p) => p.item_id).map((p) => p.item_id);
    say(`The kernel is busy: ${pending.length} action(s) wait to be saved${items.length ? ` (${items.join(", ")})` : ""}. `
      + "They are kept and saved when it is free; nothing is lost.", "warn");
  }

  function gone(why, pending) {
    const unsaved = pending.filter((p) => p.type === "submit").map((p) => `${p.item_id} (${lwBoxSummary(p.boxes || [])})`);
    const drafts = [...local.entries()].filter(([id]) => !pending.some((p) => p.item_id === id))
      .map(([id, b]) => `${id} (draft: ${lwBoxSummary(b)})`);
    const list = [...unsaved, ...drafts];
    root.classList.add("lw-gone");
    localStatus = { level: "error", text: `The kernel is gone (${why}).${list.length ? ` NOT saved: ${list.join(" | ")}.` : " Every box submitted before was saved."} `
      + "The boxes stay on screen; run the cell again to go on: it resumes at the first image without an answer." };
    paintChrome();
  }

  // ---------------------------------------------------------------- model events
  const onWindow = () => reconcile();
  const onDrawn = () => {
    const d = model.get("drawn") || {};
    if (d.origin !== "kernel" || d.item_id !== shown) return; // a Python twin (click, review) drew
    local.set(shown, d.boxes || []);
    cv.setBoxes(d.boxes || []);
    paintSide();
  };
  const onChrome = () => paintChrome();
  const onClasses = () => { cv.setClasses(classes()); paintSide(); };
  model.on("change:window", onWindow);
  model.on("change:current", onWindow);
  model.on("change:drawn", onDrawn);
  model.on("change:status", onChrome);
  model.on("change:progress", onChrome);
  model.on("change:classes", onClasses);

  const first = model.get("current");
  show(first === undefined ? null : first);
  images.want(windowList().map((e) => e.item_id));

  return () => {
    unfocus();
    sync.dispose();
    clearDigits();
    cv.destroy();
    images.forget();
    model.off("msg:custom", onDetail);
    model.off("change:window", onWindow);
    model.off("change:current", onWindow);
    model.off("change:drawn", onDrawn);
    model.off("change:status", onChrome);
    model.off("change:progress", onChrome);
    model.off("change:classes", onClasses);
  };
}

export default { render };
