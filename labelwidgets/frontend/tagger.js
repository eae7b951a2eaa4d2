// The multi-task tagger's view (labelwidgets/tagging.py). Needs common.js in front of it.
// The queue (the next item at once on Submit/Skip while the kernel commits, Back/Undo/goto
// waiting for the ack, refused answers brought back, busy and lost kernels) is common.js's
// LwQueueView; this file draws the item and its tasks and turns keys into picks.

function lwAnswerText(tasks, answers) {
  return tasks.map((t) => {
    const v = answers ? answers[t.name] : undefined;
    const text = Array.isArray(v) ? (v.length ? v.join(", ") : "none") : (v ?? "—");
    return `${t.name}: ${text}`;
  }).join("; ");
}

function render({ model, el }) {
  const tasks = () => model.get("tasks_spec") || [];
  const local = new Map(); // item_id -> {answers, active}: what the rater picked here, not yet saved
  let digits = null, digitTimer = null;

  // ---------------------------------------------------------------- DOM
  const canvas = h("canvas", { class: "lw-canvas", role: "img" });
  const figure = h("div", { class: "lw-image" }, canvas);
  const taskBox = h("div", { class: "lw-tasks" });
  const { root, progress, header, endBox, buttons, statusLine, help } = lwFrame(el, "lw-tagger", [figure, taskBox],
    (action) => act(action));

  const images = new LwImages(model, (msg) => model.send(msg));
  const q = new LwQueueView(model, {
    el, root, noun: "answers",
    onImage: (msg, buffers) => {
      const p = images.put(msg, buffers);
      if (p && msg.item_id === q.shown) p.then(() => { if (q.shown === msg.item_id) paintImage(); });
    },
    show: (id) => show(id),
    repaint: () => { const e = q.entry(q.shown); if (e) paintHeader(e); paintTasks(); paintChrome(); },
    restore: (f) => { if (f.sent.answers) local.set(f.item_id, { answers: f.sent.answers, active: 0 }); },
    saved: (msg, sent) => {
      if (sent.type === "submit" && msg.ok && q.shown !== sent.item_id) local.delete(sent.item_id);
    },
    unsaved: (p) => (p.type === "skip" ? `${p.item_id} (skip)` : `${p.item_id} (${lwAnswerText(tasks(), p.answers)})`),
    chrome: () => paintChrome(),
  });
  const sync = q.sync;
  const keymap = () => q.keymap();
  const unfocus = lwFocusRoot(root, onKey);
  const on = () => q.on(q.shown);

  // ---------------------------------------------------------------- selection
  function selectionOf(id) {
    if (local.has(id)) return local.get(id);
    const sel = model.get("selection") || {};
    if (sel.item_id === id && sync.pending.size === 0) return { answers: sel.answers || {}, active: sel.active || 0 };
    const e = q.entry(id);
    return { answers: e ? { ...(e.initial || {}) } : {}, active: 0 };
  }

  function setSelection(id, sel) {
    local.set(id, sel);
    if (sync.gone) return;
    model.set("selection", { item_id: id, answers: sel.answers, active: sel.active });
    model.save_changes();
  }

  // ---------------------------------------------------------------- painting
  function paintImage() {
    const id = q.shown;
    const ready = images.now(id);
    if (ready) { lwPaint(canvas, ready, id); figure.classList.remove("lw-loading"); return; }
    figure.classList.add("lw-loading");
    const decoding = images.get(id); // arrived, still decoding: paint it when it is ready
    if (decoding) decoding.then(() => { if (q.shown === id && canvas.dataset.item !== id) paintImage(); });
    else images.want([id]);
  }

  function show(id) {
    clearDigits();
    root.classList.toggle("lw-finished", id === null);
    root.classList.toggle("lw-waiting", id === undefined);
    if (!q.on(id)) { q.paintEnd(endBox); paintChrome(); return; }
    paintImage();
    paintHeader(q.entry(id));
    paintTasks();
    paintChrome();
    images.want(q.sequence().map((x) => x.item_id)); // decode what comes next now
  }

  function paintHeader(e) {
    const fields = (e.fields || []).map(([k, v]) => h("span", { class: "lw-field" }, `${k}: ${v}`));
    lwSet(header,
      h("div", { class: "lw-title" }, h("b", { text: e.item_id }),
        h("span", { class: "lw-position", text: `item ${e.index + 1} of ${e.total}` }),
        e.earlier ? h("span", { class: "lw-earlier", text: "answered before: edit and submit again" }) : null,
        ...fields),
      e.note ? h("div", { class: "lw-note", text: e.note }) : null,
    );
    canvas.style.aspectRatio = `${e.width} / ${e.height}`;
    canvas.classList.toggle("lw-upscaled", (e.scale || [1])[0] > 1);
    canvas.setAttribute("aria-label", e.item_id);
  }

  function paintTasks() {
    const e = q.entry(q.shown);
    const sel = selectionOf(q.shown);
    const counts = model.get("option_counts") || {};
    const rows = tasks().map((task, t) => {
      const chosen = sel.answers[task.name];
      const isOn = (o) => (Array.isArray(chosen) ? chosen.includes(o) : chosen === o);
      const suggested = (e && e.suggested && e.suggested[task.name]) || [];
      const many = task.options.length >= 10;
      const opts = task.options.map((o, i) => {
        const n = i + 1;
        const tip = many && n >= 10 ? `Type ${String(n).split("").join(" then ")} quickly` : `Type ${n}`;
        return h("button", {
          class: `lw-option${isOn(o) ? " lw-chosen" : ""}${suggested.includes(o) ? " lw-suggested" : ""}`,
          "aria-pressed": isOn(o) ? "true" : "false", tabindex: -1, title: `${tip} (when this task is active)`,
          onclick: () => { clearDigits(); pick(t, i); },
        }, h("span", { class: "lw-key", text: String(n) }), h("span", { class: "lw-label", text: o }),
        h("span", { class: "lw-count", text: `${(counts[task.name] || [])[i] ?? 0}` }),
        suggested.includes(o) ? h("span", { class: "lw-star", title: "suggested by the model", text: "★" }) : null);
      });
      const answered = task.multi ? Array.isArray(chosen) : chosen !== null && chosen !== undefined;
      return h("div", { class: `lw-task${t === sel.active ? " lw-active" : ""}${answered ? " lw-answered" : ""}`,
        "data-task": task.name, onclick: (ev) => { if (!ev.target.closest("button")) setActive(t); } },
      h("div", { class: "lw-task-name" },
        h("span", { class: "lw-marker", text: t === sel.active ? "▶" : "" }),
        h("span", { text: task.name }),
        h("small", { text: task.multi ? "any number" : "pick one" })),
      h("div", { class: "lw-options" }, opts));
    });
    lwSet(taskBox, rows);
  }

  function paintChrome() {
    q.paintChrome(buttons, progress, statusLine, help);
  }

  // ---------------------------------------------------------------- actions
  function setActive(t) {
    if (!on()) return;
    const n = tasks().length;
    const sel = selectionOf(q.shown);
    setSelection(q.shown, { answers: { ...sel.answers }, active: ((t % n) + n) % n });
    clearDigits();
    paintTasks();
  }

  function pick(t, i) {
    if (!on() || sync.gone) return;
    const task = tasks()[t];
    const answers = { ...selectionOf(q.shown).answers };
    const option = task.options[i];
    if (task.multi) {
      const now = new Set(answers[task.name] || []);
      if (now.has(option)) now.delete(option); else now.add(option);
      answers[task.name] = task.options.filter((o) => now.has(o));
    } else {
      answers[task.name] = option;
    }
    const active = !task.multi && t < tasks().length - 1 ? t + 1 : t; // a single pick moves on
    setSelection(q.shown, { answers, active });
    q.clearError();
    paintTasks();
    paintChrome();
  }

  function clearDigits() {
    clearTimeout(digitTimer); digitTimer = null; digits = null;
  }

  function flushDigits() {
    if (!digits || !digits.typed) { clearDigits(); return; }
    const d = digits; clearDigits();
    try { const n = d.flush(); if (n) pick(d.task, n - 1); } catch (err) { q.say(`${err.message} (${tasks()[d.task].name} has ${d.n} options).`, "error"); }
  }

  function digit(d) {
    if (!on() || q.navWaiting) return;
    const t = selectionOf(q.shown).active;
    const n = tasks()[t].options.length;
    if (!digits || digits.task !== t) { clearDigits(); digits = new LwDigits(n); digits.task = t; }
    clearTimeout(digitTimer);
    try {
      const number = digits.feed(d);
      if (number) { clearDigits(); pick(t, number - 1); return; }
    } catch (err) {
      clearDigits(); q.say(`${err.message} (${tasks()[t].name} has ${n} options).`, "error"); return;
    }
    const entryKey = keymap().find((k) => k.action === "digit");
    digitTimer = setTimeout(flushDigits, (entryKey && entryKey.interval_ms) || 600);
  }

  function submit() {
    if (!on()) { q.commit("submit", {}); return; }
    const sel = selectionOf(q.shown);
    const missing = tasks().findIndex((t) => !t.multi && (sel.answers[t.name] === null || sel.answers[t.name] === undefined));
    if (missing >= 0) { // the kernel would refuse it: say so here, before moving on
      setSelection(q.shown, { answers: { ...sel.answers }, active: missing });
      paintTasks();
      q.say(`Answer "${tasks()[missing].name}" first: type its number or click an option, then press Enter (Submit).`, "error");
      return;
    }
    q.commit("submit", { answers: sel.answers });
  }

  function act(action) {
    if (action !== "digit") flushDigits();
    if (action === "submit") submit();
    else if (action === "skip") q.commit("skip", {});
    else if (action === "back" || action === "undo") q.navigate(action);
    else if (action === "next_task") setActive(selectionOf(q.shown).active + 1);
    else if (action === "prev_task") setActive(selectionOf(q.shown).active - 1);
  }

  function onKey(e) {
    const k = lwLookup(keymap(), e);
    if (!k) return false;
    if (k.action === "digit") { digit(k.args[0]); return true; }
    if (sync.gone && k.action !== "release") return true;
    act(k.action);
    return true;
  }

  // ---------------------------------------------------------------- model events
  const onSelection = () => { // a Python twin changed the selection on screen
    const sel = model.get("selection") || {};
    if (sync.pending.size === 0 && sel.item_id === q.shown && on()) { local.delete(q.shown); paintTasks(); }
  };
  const onTasks = () => { if (on()) paintTasks(); };
  return q.start(images, [["change:selection", onSelection], ["change:option_counts", onTasks]],
    () => { unfocus(); clearDigits(); });
}

export default { render };
