// labelwidgets front end: what every labeling widget shares (put in front of each widget's file).
// Focus that stays, keys from the kernel's key map, the image cache, the send/ack protocol with
// busy and lost-kernel handling, and the status line. See frontend/README.md.

const LW_BUSY_MS = 3000; // no ack for this long: say the kernel is busy, keep the answers
const LW_CACHE = 24; // decoded images kept per view

// ------------------------------------------------------------------ DOM helpers
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// Replace an element's children, leaving out null/undefined/false.
function lwSet(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

// ------------------------------------------------------------------ keys (labelwidgets/keys.py)
const LW_SHOWN = {
  Enter: "Enter", Backspace: "Backspace", Escape: "Esc", ArrowDown: "↓", ArrowUp: "↑",
  ArrowLeft: "←", ArrowRight: "→", Delete: "Delete", " ": "Space",
};

function lwKeyName(e) {
  // keys.normalize_key: letters lower case, Shift+ only before named keys, Ctrl+ for Ctrl/Cmd
  let name = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.shiftKey && e.key.length > 1) name = "Shift+" + name;
  if (e.ctrlKey || e.metaKey) name = "Ctrl+" + name;
  return name;
}

function lwLookup(keymap, e) {
  const name = lwKeyName(e);
  return (keymap || []).find((k) => k.key === name) || null;
}

function lwShown(key) {
  let base = key, prefix = "";
  for (;;) {
    if (base.startsWith("Ctrl+") && base.length > 5) { prefix += "Ctrl+"; base = base.slice(5); }
    else if (base.startsWith("Shift+") && base.length > 6) { prefix += "Shift+"; base = base.slice(6); }
    else break;
  }
  const text = LW_SHOWN[base] || (base.length === 1 ? base.toUpperCase() : base);
  return prefix + text;
}

// keys.shortcut: the key(s) of an action as printed on buttons, e.g. "S" or "Tab / ↓"
function lwShortcut(keymap, action) {
  const names = (keymap || []).filter((k) => k.action === action).map((k) => lwShown(k.key));
  return [...new Set(names)].join(" / ");
}

// keys.DigitBuffer: the option-number rule (digits typed quickly form one number)
class LwDigits {
  constructor(nOptions) { this.n = nOptions; this.width = String(nOptions).length; this.typed = ""; }
  feed(d) {
    this.typed += d;
    const v = parseInt(this.typed, 10);
    if (v * 10 > this.n || this.typed.length >= this.width) return this.flush();
    return null;
  }
  flush() {
    const typed = this.typed; this.typed = "";
    if (!typed) return null;
    const v = parseInt(typed, 10);
    if (!(v >= 1 && v <= this.n)) {
      throw new Error(`Typed ${typed} must be an option number 1-${this.n}. Got ${v} instead.`);
    }
    return v;
  }
}

// ------------------------------------------------------------------ focus that stays
// The root takes keyboard focus on a click anywhere in it (or Tab); keys work while it has focus,
// wherever the mouse is. While it has focus no key reaches the notebook (no cell cut by X, no mode
// change): the root carries data-lm-suppress-shortcuts and keydown propagation is stopped.
// Escape or a click outside releases it.
function lwFocusRoot(root, onKey) {
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.classList.add("lw-root");
  const typing = (t) => t && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
  const down = (e) => {
    if (typing(e.target) && e.target !== root) return; // a text field of the widget gets its keys
    if (e.key === "Escape") {
      e.preventDefault(); e.stopPropagation(); root.blur(); return;
    }
    const handled = onKey(e);
    if (handled) e.preventDefault();
    e.stopPropagation();
  };
  const pointer = (e) => {
    if (typing(e.target)) return;
    if (e.target.closest && e.target.closest("button")) e.preventDefault(); // keep focus on root
    if (document.activeElement !== root) root.focus({ preventScroll: true });
  };
  const keyup = (e) => e.stopPropagation();
  // capture: the root sees keys before a focused child (a canvas) that would keep them
  root.addEventListener("keydown", down, true);
  root.addEventListener("keyup", keyup, true);
  root.addEventListener("mousedown", pointer, true); // capture: a canvas that stops clicks still focuses
  return () => {
    root.removeEventListener("keydown", down, true);
    root.removeEventListener("keyup", keyup, true);
    root.removeEventListener("mousedown", pointer, true);
  };
}

// ------------------------------------------------------------------ images
// Images arrive as {type: "image", item_id, format, width, height} messages with the bytes as a
// buffer, once per item; each view decodes them ahead (createImageBitmap) and asks for what it
// lacks with {type: "need", item_ids}.
class LwImages {
  constructor(model, send) {
    this.model = model; this.send = send;
    this.bitmaps = new Map(); // item_id -> Promise<{bitmap, width, height}>
    this.ready = new Map(); // item_id -> decoded, for a synchronous paint
    this.asked = new Set();
  }
  put(msg, buffers) {
    const buf = buffers && buffers[0];
    if (!buf) return;
    const bytes = buf instanceof DataView ? new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
      : new Uint8Array(buf.buffer ? buf.buffer : buf);
    const blob = new Blob([bytes], { type: `image/${msg.format}` });
    const p = createImageBitmap(blob).then((bitmap) => {
      const entry = { bitmap, width: msg.width, height: msg.height };
      this.ready.set(msg.item_id, entry);
      return entry;
    });
    this.bitmaps.set(msg.item_id, p);
    this.asked.delete(msg.item_id);
    this.trim();
    return p;
  }
  has(id) { return this.bitmaps.has(id); }
  now(id) { return this.ready.get(id) || null; }
  get(id) { return this.bitmaps.get(id) || null; }
  want(ids) {
    const missing = ids.filter((id) => id && !this.bitmaps.has(id) && !this.asked.has(id));
    if (missing.length) {
      missing.forEach((id) => this.asked.add(id));
      this.send({ type: "need", item_ids: missing });
    }
  }
  trim() {
    while (this.bitmaps.size > LW_CACHE) {
      const oldest = this.bitmaps.keys().next().value;
      const entry = this.ready.get(oldest);
      if (entry && entry.bitmap.close) entry.bitmap.close();
      this.bitmaps.delete(oldest); this.ready.delete(oldest);
    }
  }
  forget() {
    for (const e of this.ready.values()) if (e.bitmap.close) e.bitmap.close();
    this.bitmaps.clear(); this.ready.clear();
  }
}

// Draw a decoded image into a canvas (synchronous: the next frame shows it).
function lwPaint(canvas, entry, itemId) {
  canvas.width = entry.bitmap.width;
  canvas.height = entry.bitmap.height;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(entry.bitmap, 0, 0);
  canvas.dataset.item = itemId;
}

// ------------------------------------------------------------------ send / ack
// Every action goes to the kernel as {type, seq, ...}; the kernel commits, updates the traits and
// answers {type: "ack", seq, ok, submission_id | error, status}. Pending actions are kept until
// acked. No ack for LW_BUSY_MS: the kernel is busy (the answers wait, they are not lost). The
// kernel restarting or dying, or the comm closing: the kernel is gone (the answers are listed).
// Each ack is also dispatched as an "lw-ack" DOM event on `el` (benchmarks/latency.py reads it).
class LwSync {
  constructor(model, { onAck, onBusy, onGone, onImage, el }) {
    this.model = model; this.seq = 0; this.pending = new Map(); this.el = el;
    this.onAck = onAck; this.onBusy = onBusy; this.onGone = onGone; this.onImage = onImage;
    this.gone = false; this.busy = false; this.timer = null;
    this.custom = (msg, buffers) => {
      if (!msg || typeof msg !== "object") return;
      if (msg.type === "ack") this.ack(msg);
      else if (msg.type === "image" && this.onImage) this.onImage(msg, buffers);
    };
    model.on("msg:custom", this.custom);
    this.live = () => this.lost("the connection to the kernel closed");
    model.on("comm_live_update", this.live);
    this.watchKernel();
  }
  watchKernel() {
    // JupyterLab, Notebook 7 and Voila expose the kernel on the widget manager; marimo does not
    const wm = this.model.widget_manager;
    let kernel = null;
    try { kernel = wm && wm.kernel; } catch (err) { kernel = null; }
    if (!kernel || !kernel.statusChanged || !kernel.statusChanged.connect) return;
    this.kernel = kernel;
    this.kernelStatus = (_k, status) => {
      if (["dead", "restarting", "autorestarting", "terminating"].includes(status)) {
        this.lost(`the kernel ${status === "dead" ? "died" : "restarted"}`);
      }
    };
    kernel.statusChanged.connect(this.kernelStatus);
  }
  send(type, payload = {}) {
    const seq = ++this.seq;
    const msg = { type, seq, ...payload };
    if (this.gone) return null;
    this.pending.set(seq, { ...msg, t0: performance.now() });
    try {
      this.model.send(msg);
    } catch (err) {
      this.lost(`the message could not be sent (${err && err.message ? err.message : err})`);
      return seq;
    }
    this.arm();
    return seq;
  }
  ack(msg) {
    const sent = this.pending.get(msg.seq);
    if (!sent) return;
    this.pending.delete(msg.seq);
    if (this.busy && this.pending.size === 0) this.busy = false;
    this.arm();
    if (this.el) { // for measurements: {type, seq, ok, ms from send to ack}
      this.el.dispatchEvent(new CustomEvent("lw-ack", { bubbles: true, composed: true,
        detail: { type: sent.type, seq: msg.seq, ok: msg.ok, ms: performance.now() - sent.t0, kernel_ms: msg.kernel_ms } }));
    }
    if (this.onAck) this.onAck(msg, sent);
  }
  arm() {
    clearTimeout(this.timer);
    if (!this.pending.size || this.gone) return;
    const oldest = Math.min(...[...this.pending.values()].map((p) => p.t0));
    const wait = Math.max(50, LW_BUSY_MS - (performance.now() - oldest));
    this.timer = setTimeout(() => {
      if (!this.pending.size || this.gone) return;
      this.busy = true;
      if (this.onBusy) this.onBusy([...this.pending.values()]);
      this.arm2();
    }, wait);
  }
  arm2() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.pending.size && !this.gone && this.onBusy) this.onBusy([...this.pending.values()]);
      if (this.pending.size && !this.gone) this.arm2();
    }, 1000);
  }
  lost(why) {
    if (this.gone) return;
    this.gone = true;
    clearTimeout(this.timer);
    if (this.onGone) this.onGone(why, [...this.pending.values()]);
  }
  dispose() {
    clearTimeout(this.timer);
    this.model.off("msg:custom", this.custom);
    this.model.off("comm_live_update", this.live);
    if (this.kernel && this.kernelStatus) {
      try { this.kernel.statusChanged.disconnect(this.kernelStatus); } catch (err) { /* gone */ }
    }
  }
}

// ------------------------------------------------------------------ status line
function lwStatus(el, status) {
  const s = status || {};
  el.className = `lw-status lw-${s.level || "info"}`;
  el.textContent = s.text || "";
  el.setAttribute("role", "status");
}

function lwProgress(el, progress, saving, gone) {
  const p = progress || {};
  const total = p.total || 0, done = p.done || 0;
  let mark = h("span", { class: "lw-saved", text: done ? "✓ saved" : "" });
  if (saving) mark = h("span", { class: "lw-saving", text: `saving ${saving}…` });
  if (gone) mark = h("span", { class: "lw-unsaved", text: saving ? `${saving} NOT saved` : "kernel gone" });
  lwSet(el,
    h("progress", { class: "lw-progress-bar", max: Math.max(1, total), value: done }),
    h("span", { class: "lw-progress-text" }, h("b", { text: `${done} / ${total}` }),
      ` done by ${p.rater || ""}`),
    mark,
  );
}

// ------------------------------------------------------------------ the frame of a view
// What every labeling view shows around its own part (`main`: elements put in the .lw-main row):
// progress and the focus hint, the header, the end screen, Back/Skip/Undo/Submit (each calls
// act(action)), the status line and the help line. Appended to el; returns the parts.
function lwButton(action, cls, onclick) {
  return h("button", { class: `lw-action ${cls || ""}`, "data-action": action, tabindex: -1, onclick });
}

function lwFrame(el, cls, main, act) {
  const root = h("div", { class: `labelwidgets ${cls}` });
  const progress = h("div", { class: "lw-progress" });
  const hint = h("div", { class: "lw-hint" },
    h("span", { class: "lw-hint-off", text: "Click here to use the keys" }),
    h("span", { class: "lw-hint-on", text: "Keys active · Esc releases" }));
  const header = h("div", { class: "lw-header" });
  const endBox = h("div", { class: "lw-end" });
  const button = (action, extra) => lwButton(action, extra, () => act(action));
  const buttons = { back: button("back"), skip: button("skip"), undo: button("undo"), submit: button("submit", "lw-primary") };
  const statusLine = h("div", { class: "lw-status" });
  const help = h("div", { class: "lw-help" });
  root.append(h("div", { class: "lw-top" }, progress, hint), header, h("div", { class: "lw-main" }, ...main),
    endBox, h("div", { class: "lw-actions" }, buttons.back, buttons.skip, buttons.undo, buttons.submit),
    statusLine, help);
  el.append(root);
  return { root, progress, header, endBox, buttons, statusLine, help };
}

// ------------------------------------------------------------------ the queue a view walks
// What a labeling view does with the kernel's queue, in one place: Submit/Skip show the next
// item at once (optimistic) while the kernel commits; Back/Undo/goto wait for the ack; an answer
// the kernel refused brings its item back with the answers; a busy kernel and a lost one are said
// in the status line. The view supplies hooks:
//   show(id)        paint item id (null: the queue is finished; undefined: waiting for the kernel)
//   repaint()       the same item, new state from the kernel
//   restore(f)      put a refused answer back ({item_id, type, error, sent})
//   saved(msg, sent) an ack arrived (after the bookkeeping, before the view is brought up to date)
//   unsaved(sent)   text naming an answer that was not saved (when the kernel is gone)
//   drafts()        texts naming further unsaved work (optional)
//   chrome()        repaint buttons, progress and status
// and el (for lw-ack events), onImage, noun ("answers", "boxes"), root (gets lw-navigating).
class LwQueueView {
  constructor(model, hooks) {
    this.model = model; this.hooks = hooks;
    this.shown = null; this.waitingAfter = null; this.localStatus = null;
    this.failed = []; this.navWaiting = 0;
    this.sync = new LwSync(model, {
      el: hooks.el, onImage: hooks.onImage,
      onAck: (msg, sent) => this.acked(msg, sent),
      onBusy: (pending) => this.busy(pending),
      onGone: (why, pending) => this.gone(why, pending),
    });
  }
  keymap() { return this.model.get("keymap") || []; }
  windowList() { return this.model.get("window") || []; }
  entry(id) { return this.windowList().find((e) => e.item_id === id) || null; }
  sequence() { return this.windowList().filter((e) => e.role !== "behind"); }
  // the item after id: null when the queue is finished, undefined when not known yet
  nextAfter(id) {
    const seq = this.sequence();
    const i = seq.findIndex((e) => e.item_id === id);
    if (i < 0) return undefined;
    if (i + 1 < seq.length) return seq[i + 1].item_id;
    return seq[i].final ? null : undefined;
  }
  on(id) { return id !== null && id !== undefined; }
  status() { return this.localStatus || this.model.get("status"); }
  say(text, level) {
    if (!text) return;
    this.localStatus = { text, level };
    this.hooks.chrome();
  }
  clearError() {
    if (this.localStatus && this.localStatus.level === "error" && !this.sync.gone) this.localStatus = null;
  }
  saving() {
    return [...this.sync.pending.values()].filter((x) => x.type === "submit" || x.type === "skip").length;
  }
  show(id) {
    if (this.on(id) && !this.entry(id)) { this.waitingAfter = id; id = undefined; }
    this.shown = id;
    this.hooks.show(id);
  }
  // Submit or Skip: send, and show the next item now. False when nothing could be sent.
  commit(type, payload) {
    if (this.sync.gone) return false;
    if (!this.on(this.shown)) {
      const back = lwShortcut(this.keymap(), "back");
      this.say(this.shown === null ? `The queue is finished. Press the Back button (${back}) to edit an earlier item.`
        : "Waiting for the kernel to send the next image…", "info");
      return false;
    }
    if (this.navWaiting) { this.say("Waiting for the kernel…", "info"); return false; }
    const item = this.shown;
    this.localStatus = null;
    this.sync.send(type, { item_id: item, ...payload });
    const nxt = this.nextAfter(item);
    if (nxt === undefined) this.waitingAfter = item;
    this.show(nxt);
    return true;
  }
  // Back, Undo, goto: the kernel decides what comes; the view waits for its ack.
  navigate(type, payload) {
    if (this.sync.gone) return;
    this.navWaiting += 1;
    if (this.hooks.root) this.hooks.root.classList.add("lw-navigating");
    this.sync.send(type, payload || {});
    this.hooks.chrome();
  }
  acked(msg, sent) {
    if (["back", "undo", "goto"].includes(sent.type)) this.navWaiting = Math.max(0, this.navWaiting - 1);
    if (!this.navWaiting && this.hooks.root) this.hooks.root.classList.remove("lw-navigating");
    if ((sent.type === "submit" || sent.type === "skip") && !msg.ok) {
      this.failed.push({ item_id: sent.item_id, type: sent.type, error: msg.error, sent });
    }
    if (this.hooks.saved) this.hooks.saved(msg, sent);
    this.reconcile();
  }
  reconcile() {
    if (this.sync.gone) return;
    if (this.sync.pending.size === 0) {
      if (this.failed.length) { // back to the first answer that was not saved, with its answers
        const f = this.failed[0]; this.failed = [];
        this.hooks.restore(f);
        this.navWaiting += 1;
        this.sync.send("goto", { item_id: f.item_id });
        const submit = lwShortcut(this.keymap(), "submit");
        this.localStatus = { level: "error", text: `Not saved: ${f.item_id}: ${f.error} Your ${this.hooks.noun || "answers"} are shown again; correct them and press ${submit} (Submit).` };
        this.hooks.chrome();
        return;
      }
      const cur = this.model.get("current");
      if (cur !== this.shown) this.show(cur === undefined ? null : cur);
      else if (this.on(this.shown)) this.hooks.repaint();
      else this.hooks.chrome();
      return;
    }
    if (this.shown === undefined && this.waitingAfter) {
      const nxt = this.nextAfter(this.waitingAfter);
      if (nxt !== undefined) this.show(nxt);
    }
    this.hooks.chrome();
  }
  busy(pending) {
    const items = pending.filter((p) => p.type === "submit" || p.type === "skip").map((p) => p.item_id);
    const waited = Math.round((performance.now() - Math.min(...pending.map((p) => p.t0))) / 1000);
    this.say(`The kernel is busy (no reply for ${waited} s): ${items.length} ${this.hooks.noun || "answers"} `
      + `not saved yet${items.length ? ` (${items.join(", ")})` : ""}. They stay here and are saved when it is free; `
      + "if it has stopped, run the cell again.", "warn");
  }
  gone(why, pending) {
    const unsaved = pending.filter((p) => p.type === "submit" || p.type === "skip").map((p) => this.hooks.unsaved(p));
    const list = [...unsaved, ...(this.hooks.drafts ? this.hooks.drafts(pending) : [])];
    if (this.hooks.root) this.hooks.root.classList.add("lw-gone");
    this.localStatus = { level: "error", text: `The kernel is gone (${why}).${list.length ? ` NOT saved: ${list.join(" | ")}.` : " Every answer given before was saved."} `
      + "They stay listed here; run the cell again to go on: it resumes at the first item without an answer." };
    this.hooks.chrome();
  }
  // the end screen, or the wait for the next image
  paintEnd(endBox) {
    const p = this.model.get("progress") || {};
    const n = this.sync.pending.size;
    if (this.shown === undefined) {
      lwSet(endBox, h("p", { class: "lw-wait", text: `Waiting for the kernel to send the next image (${n} saving)…` }));
      return;
    }
    const back = lwShortcut(this.keymap(), "back");
    lwSet(endBox,
      h("h3", { text: `All ${p.total || 0} items are done${n ? ` (${n} still saving…)` : ""}.` }),
      h("p", { text: `Thank you, ${p.rater || ""}! To edit an earlier item press the Back button (${back}).` }));
  }
  // Back / Skip / Undo / Submit buttons with their keys, progress, status and help
  paintChrome(buttons, progressEl, statusEl, helpEl) {
    const km = this.keymap();
    const names = { back: "◀ Back", skip: "Skip", undo: "Undo", submit: "Submit" };
    for (const [a, b] of Object.entries(buttons)) b.textContent = `${names[a] || a} (${lwShortcut(km, a)})`;
    lwProgress(progressEl, this.model.get("progress") || {}, this.saving(), this.sync.gone);
    lwStatus(statusEl, this.status());
    helpEl.textContent = this.model.get("help") || "";
    const off = this.sync.gone;
    for (const b of Object.values(buttons)) b.disabled = off;
    const none = off || !this.on(this.shown);
    if (buttons.submit) buttons.submit.disabled = none;
    if (buttons.skip) buttons.skip.disabled = none;
  }
  // Listen to the model (window, current, status, progress, and the view's own `events`), show
  // the kernel's current item, ask for the window's images; returns render()'s cleanup, which
  // runs the view's `cleanup` first.
  start(images, events, cleanup) {
    const all = [["change:window", () => this.reconcile()], ["change:current", () => this.reconcile()],
      ["change:status", () => this.hooks.chrome()], ["change:progress", () => this.hooks.chrome()], ...events];
    for (const [name, fn] of all) this.model.on(name, fn);
    const first = this.model.get("current");
    this.show(first === undefined ? null : first);
    images.want(this.windowList().map((e) => e.item_id));
    return () => {
      if (cleanup) cleanup();
      this.dispose();
      images.forget();
      for (const [name, fn] of all) this.model.off(name, fn);
    };
  }
  dispose() { this.sync.dispose(); }
}
