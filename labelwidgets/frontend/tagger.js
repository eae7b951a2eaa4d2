// The multi-task tagger's view (labelwidgets/tagging.py). Needs common.js in front of it.
// The browser shows the next item at once on Submit/Skip (optimistic), the kernel commits and
// acks; back, undo and goto wait for the kernel.

function lwAnswerText(tasks, answers) {
  return tasks.map((t) => {
    const v = answers ? answers[t.name] : undefined;
    const text = Array.isArray(v) ? (v.length ? v.join(", ") : "none") : (v ?? "—");
    return `${t.name}: ${text}`;
  }).join("; ");
}

function render({ model, el }) {
  const tasks = () => model.get("tasks_spec") || [];
  const keymap = () => model.get("keymap") || [];
  let shown = null; // the item on screen; null = end screen; undefined = waiting for the kernel
  let waitingAfter = null;
  const local = new Map(); // item_id -> {answers, active}: what the rater picked here
  let localStatus = null;
  let failed = [];
  let navWaiting = 0;
  let digits = null, digitTimer = null;

  const images = new LwImages(model, (msg) => model.send(msg));
  const sync = new LwSync(model, {
    el,
    onAck: (msg, sent) => acked(msg, sent),
    onBusy: (pending) => busy(pending),
    onGone: (why, pending) => gone(why, pending),
    onImage: (msg, buffers) => {
      const p = images.put(msg, buffers);
      if (p && (msg.item_id === shown)) p.then(() => { if (shown === msg.item_id) paintImage(); });
    },
  });

  // ---------------------------------------------------------------- DOM
  const root = h("div", { class: "labelwidgets lw-tagger" });
  const top = h("div", { class: "lw-top" });
  const progress = h("div", { class: "lw-progress" });
  const hint = h("div", { class: "lw-hint" },
    h("span", { class: "lw-hint-off", text: "Click here to use the keys" }),
    h("span", { class: "lw-hint-on", text: "Keys active · Esc releases" }));
  top.append(progress, hint);
  const header = h("div", { class: "lw-header" });
  const canvas = h("canvas", { class: "lw-canvas", role: "img" });
  const figure = h("div", { class: "lw-image" }, canvas);
  const taskBox = h("div", { class: "lw-tasks" });
  const main = h("div", { class: "lw-main" }, figure, taskBox);
  const endBox = h("div", { class: "lw-end" });
  const button = (action, cls) => h("button", { class: `lw-action ${cls || ""}`, "data-action": action, tabindex: -1,
    onclick: () => act(action) });
  const buttons = {
    back: button("back"), skip: button("skip"), undo: button("undo"), submit: button("submit", "lw-primary"),
  };
  const actions = h("div", { class: "lw-actions" }, buttons.back, buttons.skip, buttons.undo, buttons.submit);
  const statusLine = h("div", { class: "lw-status" });
  const help = h("div", { class: "lw-help" });
  root.append(top, header, main, endBox, actions, statusLine, help);
  el.append(root);
  const unfocus = lwFocusRoot(root, onKey);

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

  function selectionOf(id) {
    if (local.has(id)) return local.get(id);
    const sel = model.get("selection") || {};
    if (sel.item_id === id && sync.pending.size === 0) return { answers: sel.answers || {}, active: sel.active || 0 };
    const e = entry(id);
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
    const ready = images.now(shown);
    if (ready) { lwPaint(canvas, ready, shown); figure.classList.remove("lw-loading"); return true; }
    figure.classList.add("lw-loading");
    images.want([shown]);
    return false;
  }

  function show(id) {
    shown = id;
    clearDigits();
    root.classList.toggle("lw-finished", id === null);
    root.classList.toggle("lw-waiting", id === undefined);
    if (id === null || id === undefined) { paintEnd(); paintChrome(); return; }
    const e = entry(id);
    if (!e) { shown = undefined; waitingAfter = id; paintEnd(); paintChrome(); return; }
    paintImage();
    paintHeader(e);
    paintTasks();
    paintChrome();
    // decode what comes next now, so that the next key paints at once
    images.want(sequence().map((x) => x.item_id));
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
    const w = e.width, ht = e.height;
    canvas.style.aspectRatio = `${w} / ${ht}`;
    canvas.classList.toggle("lw-upscaled", (e.scale || [1])[0] > 1);
    canvas.setAttribute("aria-label", e.item_id);
  }

  function paintTasks() {
    const e = entry(shown);
    const sel = selectionOf(shown);
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
          onclick: () => { clearDigits(); pick(t, i, true); },
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

  function paintEnd() {
    const p = model.get("progress") || {};
    const back = lwShortcut(keymap(), "back");
    if (shown === undefined) {
      lwSet(endBox, h("p", { class: "lw-wait", text: `Waiting for the kernel to send the next image (${sync.pending.size} answers saving)…` }));
      return;
    }
    const saving = sync.pending.size ? ` (${sync.pending.size} still saving…)` : "";
    lwSet(endBox, 
      h("h3", { text: `All ${p.total || 0} items are done${saving}.` }),
      h("p", { text: `Thank you, ${p.rater || ""}! To edit an earlier item press the Back button (${back}).` }),
    );
  }

  function paintChrome() {
    const km = keymap();
    const label = (a, text) => `${text} (${lwShortcut(km, a)})`;
    buttons.back.textContent = label("back", "◀ Back");
    buttons.skip.textContent = label("skip", "Skip");
    buttons.undo.textContent = label("undo", "Undo");
    buttons.submit.textContent = label("submit", "Submit");
    const p = model.get("progress") || {};
    lwProgress(progress, p, [...sync.pending.values()].filter((x) => x.type === "submit" || x.type === "skip").length, sync.gone);
    lwStatus(statusLine, localStatus || model.get("status"));
    help.textContent = model.get("help") || "";
    const off = sync.gone;
    for (const b of Object.values(buttons)) b.disabled = off;
    buttons.submit.disabled = off || shown === null || shown === undefined;
    buttons.skip.disabled = buttons.submit.disabled;
  }

  // ---------------------------------------------------------------- actions
  function setActive(t) {
    if (shown === null || shown === undefined) return;
    const n = tasks().length;
    const sel = selectionOf(shown);
    setSelection(shown, { answers: { ...sel.answers }, active: ((t % n) + n) % n });
    clearDigits();
    paintTasks();
  }

  function pick(t, i, byMouse) {
    if (shown === null || shown === undefined || sync.gone) return;
    const task = tasks()[t];
    const sel = selectionOf(shown);
    const answers = { ...sel.answers };
    const option = task.options[i];
    if (task.multi) {
      const now = new Set(answers[task.name] || []);
      if (now.has(option)) now.delete(option); else now.add(option);
      answers[task.name] = task.options.filter((o) => now.has(o));
    } else {
      answers[task.name] = option;
    }
    let active = t;
    if (!task.multi && t < tasks().length - 1) active = t + 1; // a single pick moves on
    if (byMouse && task.multi) active = t;
    setSelection(shown, { answers, active });
    if (localStatus && localStatus.level === "error" && !sync.gone) localStatus = null;
    paintTasks();
    paintChrome();
  }

  function clearDigits() {
    clearTimeout(digitTimer); digitTimer = null; digits = null;
  }

  function flushDigits() {
    if (!digits || !digits.typed) { clearDigits(); return; }
    const d = digits; clearDigits();
    try { const n = d.flush(); if (n) pick(d.task, n - 1, false); } catch (err) { say(err.message + ` (${tasks()[d.task].name} has ${d.n} options).`, "error"); }
  }

  function digit(d) {
    if (shown === null || shown === undefined || navWaiting) return;
    const t = selectionOf(shown).active;
    const n = tasks()[t].options.length;
    if (!digits || digits.task !== t) { clearDigits(); digits = new LwDigits(n); digits.task = t; }
    clearTimeout(digitTimer);
    try {
      const number = digits.feed(d);
      if (number) { clearDigits(); pick(t, number - 1, false); return; }
    } catch (err) {
      clearDigits(); say(err.message + ` (${tasks()[t].name} has ${n} options).`, "error"); return;
    }
    const entryKey = keymap().find((k) => k.action === "digit");
    const ms = (entryKey && entryKey.interval_ms) || 600;
    digitTimer = setTimeout(flushDigits, ms);
  }

  function say(text, level) {
    localStatus = { text, level };
    paintChrome();
  }

  function missingTask(answers) {
    return tasks().findIndex((t) => !t.multi && (answers[t.name] === null || answers[t.name] === undefined));
  }

  function commit(type) {
    if (sync.gone) return;
    if (shown === null || shown === undefined) {
      say(shown === null ? `The queue is finished. Press the Back button (${lwShortcut(keymap(), "back")}) to edit an earlier item.` : "Waiting for the kernel to send the next image…", "info");
      return;
    }
    if (navWaiting) { say("Waiting for the kernel…", "info"); return; }
    const item = shown;
    const payload = { item_id: item };
    if (type === "submit") {
      const sel = selectionOf(item);
      const missing = missingTask(sel.answers);
      if (missing >= 0) {
        const name = tasks()[missing].name;
        setSelection(item, { answers: { ...sel.answers }, active: missing });
        paintTasks();
        say(`Answer "${name}" first: type its number or click an option, then press Enter (Submit).`, "error");
        return;
      }
      payload.answers = sel.answers;
    }
    localStatus = null;
    sync.send(type, payload);
    const nxt = nextAfter(item);
    if (nxt === undefined) waitingAfter = item;
    show(nxt);
  }

  function navigate(type, payload) {
    if (sync.gone) return;
    flushDigits();
    navWaiting += 1;
    root.classList.add("lw-navigating");
    sync.send(type, payload || {});
    paintChrome();
  }

  function act(action) {
    if (action !== "digit") flushDigits();
    if (action === "submit" || action === "skip") commit(action);
    else if (action === "back" || action === "undo") navigate(action);
    else if (action === "next_task") setActive(selectionOf(shown).active + 1);
    else if (action === "prev_task") setActive(selectionOf(shown).active - 1);
  }

  function onKey(e) {
    const k = lwLookup(keymap(), e);
    if (!k) return false;
    if (k.action === "digit") { digit(k.args[0]); return true; }
    if (sync.gone && k.action !== "release") return true;
    act(k.action);
    return true;
  }

  // ---------------------------------------------------------------- kernel answers
  function acked(msg, sent) {
    if (sent.type === "back" || sent.type === "undo" || sent.type === "goto") navWaiting = Math.max(0, navWaiting - 1);
    if (!navWaiting) root.classList.remove("lw-navigating");
    if (sent.type === "submit" || sent.type === "skip") {
      if (!msg.ok) failed.push({ item_id: sent.item_id, answers: sent.answers, type: sent.type, error: msg.error });
      else if (shown !== sent.item_id) local.delete(sent.item_id);
    }
    reconcile();
  }

  function reconcile() {
    if (sync.gone) return;
    if (sync.pending.size === 0) {
      if (failed.length) { // return to the first answer that was not saved, with its answers
        const f = failed[0]; failed = [];
        if (f.answers) local.set(f.item_id, { answers: f.answers, active: 0 });
        navWaiting += 1;
        sync.send("goto", { item_id: f.item_id });
        localStatus = { level: "error", text: `Not saved: ${f.item_id}: ${f.error} Your answers are shown again; correct them and press Enter (Submit).` };
        paintChrome();
        return;
      }
      const cur = model.get("current");
      if (cur !== shown) show(cur === undefined ? null : cur);
      else if (shown !== null && shown !== undefined) { const e = entry(shown); if (e) paintHeader(e); paintTasks(); paintChrome(); }
      else paintChrome();
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
    const unsaved = pending.filter((p) => p.type === "submit" || p.type === "skip").map((p) =>
      p.type === "skip" ? `${p.item_id} (skip)` : `${p.item_id} (${lwAnswerText(tasks(), p.answers)})`);
    const list = unsaved.length ? ` NOT saved: ${unsaved.join(" | ")}.` : " Every answer given before was saved.";
    root.classList.add("lw-gone");
    localStatus = { level: "error", text: `The kernel is gone (${why}).${list} Run the cell again to go on: it resumes at the first item without an answer.` };
    paintChrome();
  }

  // ---------------------------------------------------------------- model events
  const onWindow = () => reconcile();
  const onSelection = () => {
    const sel = model.get("selection") || {};
    if (sync.pending.size === 0 && sel.item_id === shown && shown) {
      local.delete(shown);
      paintTasks();
    }
  };
  const onChrome = () => paintChrome();
  const onTasks = () => { if (shown) paintTasks(); };
  model.on("change:window", onWindow);
  model.on("change:current", onWindow);
  model.on("change:selection", onSelection);
  model.on("change:status", onChrome);
  model.on("change:progress", onChrome);
  model.on("change:option_counts", onTasks);

  const first = model.get("current");
  show(first === undefined ? null : first);
  images.want(windowList().map((e) => e.item_id));

  return () => {
    unfocus();
    sync.dispose();
    clearDigits();
    images.forget();
    model.off("change:window", onWindow);
    model.off("change:current", onWindow);
    model.off("change:selection", onSelection);
    model.off("change:status", onChrome);
    model.off("change:progress", onChrome);
    model.off("change:option_counts", onTasks);
  };
}

export default { render };
