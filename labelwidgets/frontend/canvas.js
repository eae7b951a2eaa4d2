// canvas.js: the box canvas. One image and its boxes; zoom and pan are a view transform only.
//
// Every box is {x, y, w, h, label, attributes, model?} in ORIGINAL image pixels (floats, top-left
// origin), whatever image is drawn: the display copy the kernel sent ahead, or a full-resolution
// crop of the viewport (setDetail) once the view is zoomed past the display copy's pixels.
// The view maps image pixels to CSS pixels: screen = (image - origin) * zoom.
//
// The component knows no keys: a widget maps its key table onto action(name, args). Space held
// while dragging (or the middle button) pans; that is a pointer modifier, not a shortcut.
// Self-contained (no imports) so a widget's ESM can be built by concatenating files.

export const PALETTE = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
];
export const VERDICTS = ["pending", "accepted", "changed", "rejected"];

const HANDLE = 6; // CSS px: grab distance of a resize handle
const CLICK = 3; // CSS px: a press that moves less is a click
const MIN_SIZE = 3; // CSS px: a drawn box smaller than this is a click, not a box
const EPS = 1e-6;

// The fixed-size rule, identical to Python's labelwidgets._geometry.fit_box: a w x h box centred
// on (cx, cy), shifted (never shrunk) to lie inside [0, width] x [0, height]. Same IEEE
// operations in the same order, so both give the same floats. null when it cannot fit.
export function fitBox(cx, cy, w, h, width, height) {
  const finite = [cx, cy, w, h, width, height].every(Number.isFinite);
  if (!finite || !(w > 0 && h > 0 && width > 0 && height > 0) || w > width || h > height) {
    return null;
  }
  const x = Math.min(Math.max(cx - w / 2, 0), width - w);
  const y = Math.min(Math.max(cy - h / 2, 0), height - h);
  return [x, y];
}

const clamp = (v, lo, hi) => Math.min(Math.max(v, lo), hi);

function sameGeometry(a, b) {
  return ["x", "y", "w", "h"].every((k) => Math.abs(a[k] - b[k]) <= EPS) && a.label === b.label;
}

function copyBox(b) {
  const out = { x: b.x, y: b.y, w: b.w, h: b.h, label: b.label, attributes: { ...(b.attributes || {}) } };
  if (b.model) out.model = { ...b.model };
  return out;
}

export class BoxCanvas {
  // host: the element to draw into. options: classes, boxSize ([w, h] or null), attributes
  // (names of per-box flags), maxZoom (times the fitted view, at least 8), maxWidth, height,
  // maxHeight (CSS px), focusRoot (the element whose focus enables wheel zoom), and callbacks
  // onChange(boxes), onSelect(index, box), onDetail({x, y, w, h, scale}), onMessage(text, level).
  constructor(host, options = {}) {
    this.opts = {
      classes: [], boxSize: null, attributes: [], maxZoom: 8, maxWidth: 900, height: null,
      maxHeight: 640, focusRoot: host, ...options,
    };
    this.host = host;
    this.el = document.createElement("div");
    this.el.className = "lw-boxcanvas";
    this.el.style.cssText = "position:relative;line-height:0;user-select:none;touch-action:none;";
    this.canvas = document.createElement("canvas");
    this.canvas.style.cssText = "display:block;cursor:crosshair;";
    this.el.append(this.canvas);
    host.append(this.el);
    this.ctx = this.canvas.getContext("2d");
    this.image = null; // {source, width, height (original px), item}
    this.detail = null; // {source, x, y, w, h, item}: full-resolution crop in original px
    this.boxes = [];
    this.selected = -1;
    this.label = this.opts.classes[0] ?? "";
    this.view = { zoom: 1, ox: 0, oy: 0 };
    this.cssW = 0;
    this.cssH = 0;
    this.drag = null;
    this.pointer = null; // last pointer position in canvas CSS px, null when outside
    this.space = false;
    this.deleted = [];
    this._frame = 0;
    this._detailTimer = 0;
    this._listen();
    this._layout();
  }

  // ------------------------------------------------------------------ image and boxes
  // source: ImageBitmap, HTMLImageElement or canvas (any size: the display copy);
  // width, height: the ORIGINAL image size that the boxes refer to.
  setImage({ source, width, height, item = null, boxes = [] }) {
    this.image = { source, width, height, item };
    this.detail = null;
    this.drag = null;
    this.deleted = [];
    this.boxes = boxes.map((b) => this._clean(b));
    this.selected = -1;
    this._layout();
    this.fit();
    this.draw(); // at once, in the same task as the key press: no frame of the old image
    this._emitSelect();
  }

  setBoxes(boxes) {
    this.boxes = boxes.map((b) => this._clean(b));
    this.selected = -1;
    this._emitSelect();
    this.requestDraw();
  }

  getBoxes() {
    return this.boxes.map(copyBox);
  }

  // A full-resolution crop of the original, rect {x, y, w, h} in original pixels.
  setDetail({ source, x, y, w, h, item = null }) {
    if (!this.image || (item !== null && item !== this.image.item)) return false;
    this.detail = { source, x, y, w, h, item };
    this.requestDraw();
    return true;
  }

  setClasses(classes) {
    this.opts.classes = [...classes];
    if (!classes.includes(this.label)) this.label = classes[0] ?? "";
    this.requestDraw();
  }

  setBoxSize(boxSize) {
    this.opts.boxSize = boxSize ? [...boxSize] : null;
    this.requestDraw();
  }

  _clean(b) {
    const box = copyBox(b);
    for (const a of this.opts.attributes) box.attributes[a] = Boolean(box.attributes[a]);
    if (box.model) box.model.verdict = box.model.verdict || "pending";
    return box;
  }

  // ------------------------------------------------------------------ view transform
  toImage(p) {
    const { zoom, ox, oy } = this.view;
    return { x: ox + p.x / zoom, y: oy + p.y / zoom };
  }

  toScreen(x, y) {
    const { zoom, ox, oy } = this.view;
    return { x: (x - ox) * zoom, y: (y - oy) * zoom };
  }

  fitZoom() {
    if (!this.image) return 1;
    return Math.min(this.cssW / this.image.width, this.cssH / this.image.height);
  }

  // zoom relative to the fitted view (1 = the whole image in view)
  get relativeZoom() {
    return this.view.zoom / this.fitZoom();
  }

  fit() {
    const z = this.fitZoom();
    this.view = { zoom: z, ox: 0, oy: 0 };
    this._clampView();
    this._viewChanged();
  }

  maxZoom() {
    // at least opts.maxZoom times the fitted view, and at least 8 CSS px per image pixel
    return Math.max(this.fitZoom() * this.opts.maxZoom, 8);
  }

  // Zoom by `factor` keeping the image point under p (canvas CSS px) where it is.
  zoomAt(factor, p = null) {
    if (!this.image) return;
    const at = p ?? this.pointer ?? { x: this.cssW / 2, y: this.cssH / 2 };
    const q = this.toImage(at);
    const zoom = clamp(this.view.zoom * factor, this.fitZoom() * 0.5, this.maxZoom());
    this.view = { zoom, ox: q.x - at.x / zoom, oy: q.y - at.y / zoom };
    this._clampView();
    this._viewChanged();
  }

  // Show image point (x, y) at canvas point p with the given zoom (CSS px per image px).
  setView(zoom, x, y, p = null) {
    const at = p ?? { x: this.cssW / 2, y: this.cssH / 2 };
    const z = clamp(zoom, this.fitZoom() * 0.5, this.maxZoom());
    this.view = { zoom: z, ox: x - at.x / z, oy: y - at.y / z };
    this._clampView();
    this._viewChanged();
  }

  panBy(dx, dy) {
    // dx, dy in CSS px: the image moves with them
    this.view.ox -= dx / this.view.zoom;
    this.view.oy -= dy / this.view.zoom;
    this._clampView();
    this._viewChanged();
  }

  _clampView() {
    if (!this.image) return;
    const { width: W, height: H } = this.image;
    const vw = this.cssW / this.view.zoom;
    const vh = this.cssH / this.view.zoom;
    // smaller than the view: centred; larger: no more than a tenth of the view beyond an edge
    this.view.ox = vw >= W ? (W - vw) / 2 : clamp(this.view.ox, -0.1 * vw, W - 0.9 * vw);
    this.view.oy = vh >= H ? (H - vh) / 2 : clamp(this.view.oy, -0.1 * vh, H - 0.9 * vh);
  }

  _viewChanged() {
    if (this.drag && this.pointer) this._dragTo(this.pointer); // drawing continues under a pan/zoom
    this.requestDraw();
    this._scheduleDetail();
  }

  // The full-resolution region worth asking for, or null when the drawn pixels suffice.
  detailWanted() {
    if (!this.image) return null;
    const { width: W, height: H, source } = this.image;
    const dpr = window.devicePixelRatio || 1;
    const need = Math.min(1, this.view.zoom * dpr); // source pixels per image pixel wanted
    const have = (source.width || W) / W;
    if (need <= have * 1.05) return null;
    const a = this.toImage({ x: 0, y: 0 });
    const b = this.toImage({ x: this.cssW, y: this.cssH });
    const padX = (b.x - a.x) * 0.25;
    const padY = (b.y - a.y) * 0.25;
    const x0 = Math.max(0, Math.floor(a.x - padX));
    const y0 = Math.max(0, Math.floor(a.y - padY));
    const x1 = Math.min(W, Math.ceil(b.x + padX));
    const y1 = Math.min(H, Math.ceil(b.y + padY));
    if (x1 <= x0 || y1 <= y0) return null;
    const d = this.detail;
    if (d) {
      const dScale = (d.source.width || d.w) / d.w;
      const covers = d.x <= Math.max(0, a.x) && d.y <= Math.max(0, a.y) &&
        d.x + d.w >= Math.min(W, b.x) && d.y + d.h >= Math.min(H, b.y);
      if (covers && dScale >= need * 0.95) return null;
    }
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0, scale: need, item: this.image.item };
  }

  _scheduleDetail() {
    if (!this.opts.onDetail) return;
    clearTimeout(this._detailTimer);
    this._detailTimer = setTimeout(() => {
      const want = this.detailWanted();
      if (want) this.opts.onDetail(want);
    }, 120);
  }

  // ------------------------------------------------------------------ editing
  select(index) {
    this.selected = index >= 0 && index < this.boxes.length ? index : -1;
    this._emitSelect();
    this.requestDraw();
  }

  // the boxes in order, wrapping; in verify mode the undecided model boxes come first
  selectNext(direction = 1) {
    const n = this.boxes.length;
    if (!n) return null;
    const pending = this.boxes.map((b, i) => (b.model?.verdict === "pending" ? i : -1)).filter((i) => i >= 0);
    let order = [...Array(n).keys()];
    if (pending.length && (this.selected < 0 || pending.includes(this.selected))) order = pending;
    const at = order.indexOf(this.selected);
    const next = at < 0 ? (direction > 0 ? order[0] : order[order.length - 1])
      : order[(at + direction + order.length) % order.length];
    this.select(next);
    this._reveal(next);
    return next;
  }

  // keep a selected box in view when zoomed in
  _reveal(i) {
    const b = this.boxes[i];
    if (!b) return;
    const p0 = this.toScreen(b.x, b.y);
    const p1 = this.toScreen(b.x + b.w, b.y + b.h);
    if (p0.x >= 0 && p0.y >= 0 && p1.x <= this.cssW && p1.y <= this.cssH) return;
    this.setView(this.view.zoom, b.x + b.w / 2, b.y + b.h / 2);
  }

  addBox(box) {
    this.boxes.push(this._clean({ attributes: {}, ...box }));
    this.select(this.boxes.length - 1);
    this._changed();
    return this.boxes.length - 1;
  }

  // A click in fixed-size mode, at image point (x, y): the box that fitBox gives, or null.
  place(x, y, label = this.label) {
    const [w, h] = this.opts.boxSize;
    const at = fitBox(x, y, w, h, this.image.width, this.image.height);
    if (at === null) {
      this._message(
        `The box size ${w} x ${h} must fit inside the image (${this.image.width} x ` +
        `${this.image.height} pixels); choose a smaller box size.`, "error");
      return null;
    }
    this.addBox({ x: at[0], y: at[1], w, h, label });
    return this.boxes[this.boxes.length - 1];
  }

  deleteSelected() {
    const i = this.selected;
    const b = this.boxes[i];
    if (!b) return { done: false, text: "Select a box first (click it, or Tab)." };
    if (b.model) return this.reject(); // a model box is never dropped: rejecting records it
    this.deleted.push({ index: i, box: b });
    this.boxes.splice(i, 1);
    this.select(-1);
    this._changed();
    return { done: true, text: `Deleted box ${i + 1} (${b.label}).` };
  }

  restoreDeleted() {
    const last = this.deleted.pop();
    if (!last) return { done: false, text: "No deleted box to bring back." };
    const i = Math.min(last.index, this.boxes.length);
    this.boxes.splice(i, 0, last.box);
    this.select(i);
    this._changed();
    return { done: true, text: `Brought back box ${i + 1} (${last.box.label}).` };
  }

  accept() {
    const b = this.boxes[this.selected];
    if (!b?.model) return { done: false, text: "Select a model box first (Tab cycles through them)." };
    const i = this.selected;
    b.model.verdict = sameGeometry(b, b.model) ? "accepted" : "changed";
    this._changed();
    this._nextPending();
    return { done: true, text: `Accepted model box ${i + 1} (${b.label}).` };
  }

  reject() {
    const b = this.boxes[this.selected];
    if (!b?.model) return { done: false, text: "Select a model box first (Tab cycles through them)." };
    const i = this.selected;
    b.model.verdict = "rejected";
    this._changed();
    this._nextPending();
    return { done: true, text: `Rejected model box ${i + 1} (${b.label}); accepting it brings it back.` };
  }

  _nextPending() {
    const n = this.boxes.length;
    for (let k = 1; k <= n; k++) {
      const i = (this.selected + k) % n;
      if (this.boxes[i].model?.verdict === "pending") {
        this.select(i);
        this._reveal(i);
        return;
      }
    }
    this.requestDraw();
  }

  // the class of new boxes, and of the selected box
  setLabel(label) {
    if (!this.opts.classes.includes(label)) return { done: false, text: `No class ${label}.` };
    this.label = label;
    const b = this.boxes[this.selected];
    if (b && b.model?.verdict !== "rejected" && b.label !== label) {
      b.label = label;
      this._edited(b);
      this._changed();
      return { done: true, text: `Box ${this.selected + 1} is now ${label}; new boxes too.` };
    }
    this.requestDraw();
    return { done: true, text: `New boxes: ${label}.` };
  }

  setAttribute(name, value, index = this.selected) {
    const b = this.boxes[index];
    if (!b || !this.opts.attributes.includes(name)) return { done: false, text: "Select a box first." };
    b.attributes[name] = value === undefined ? !b.attributes[name] : Boolean(value);
    this._changed();
    this._emitSelect();
    return { done: true, text: `Box ${index + 1}: ${name} ${b.attributes[name] ? "on" : "off"}.` };
  }

  nudge(dx, dy) {
    const b = this.boxes[this.selected];
    if (!b || b.model?.verdict === "rejected") return { done: false, text: "Select a box first." };
    const { width: W, height: H } = this.image;
    b.x = clamp(b.x + dx, 0, W - b.w);
    b.y = clamp(b.y + dy, 0, H - b.h);
    this._edited(b);
    this._changed();
    return { done: true, text: "" };
  }

  // The widget's key table calls these by name; returns {done, text}.
  action(name, args = []) {
    const ok = { done: true, text: "" };
    switch (name) {
      case "zoom": this.zoomAt(args[0] ?? 1.5); return ok;
      case "zoom_in": this.zoomAt(args[0] ?? 1.5); return ok;
      case "zoom_out": this.zoomAt(args[0] ?? 1 / 1.5); return ok;
      case "fit": this.fit(); return ok;
      case "pan": this.panBy(-(args[0] ?? 0) * this.cssW, -(args[1] ?? 0) * this.cssH); return ok;
      case "nudge": return this.nudge(args[0] ?? 0, args[1] ?? 0);
      case "next": return { done: this.selectNext(args[0] ?? 1) !== null, text: "" };
      case "prev": return { done: this.selectNext(-(args[0] ?? 1)) !== null, text: "" };
      case "delete": return this.deleteSelected();
      case "restore": return this.restoreDeleted();
      case "deselect": this.select(-1); return ok;
      case "accept": return this.accept();
      case "reject": return this.reject();
      case "label": return this.setLabel(args[0]);
      case "attribute": return this.setAttribute(args[0]);
      default: return { done: false, text: `Unknown canvas action ${name}.` };
    }
  }

  _edited(b) {
    if (!b.model || b.model.verdict === "rejected") return;
    if (!sameGeometry(b, b.model)) b.model.verdict = "changed";
    else if (b.model.verdict === "changed") b.model.verdict = "accepted";
  }

  _changed() {
    this.requestDraw();
    this.opts.onChange?.(this.getBoxes());
  }

  _emitSelect() {
    const b = this.boxes[this.selected];
    this.opts.onSelect?.(this.selected, b ? copyBox(b) : null);
  }

  _message(text, level = "info") {
    this.opts.onMessage?.(text, level);
  }

  // ------------------------------------------------------------------ pointer
  _listen() {
    const c = this.canvas;
    this._handlers = [
      [c, "pointerdown", (e) => this._down(e)],
      [c, "pointermove", (e) => this._move(e)],
      [c, "pointerup", (e) => this._up(e)],
      [c, "pointercancel", () => { this.drag = null; this.requestDraw(); }],
      [c, "pointerleave", () => { if (!this.drag) { this.pointer = null; this.requestDraw(); } }],
      [c, "wheel", (e) => this._wheel(e), { passive: false }],
      [c, "contextmenu", (e) => e.preventDefault()],
      [c, "auxclick", (e) => e.preventDefault()],
      [this.opts.focusRoot, "keydown", (e) => this._spaceKey(e, true)],
      [this.opts.focusRoot, "keyup", (e) => this._spaceKey(e, false)],
      [this.opts.focusRoot, "blur", () => { this.space = false; }],
    ];
    for (const [target, type, fn, opt] of this._handlers) target.addEventListener(type, fn, opt);
    this._resize = new ResizeObserver(() => {
      const before = this.cssW;
      this._layout();
      if (this.cssW !== before && this.image) {
        this._clampView();
        this.draw();
      }
    });
    this._resize.observe(this.host);
  }

  destroy() {
    for (const [target, type, fn, opt] of this._handlers) target.removeEventListener(type, fn, opt);
    this._resize.disconnect();
    clearTimeout(this._detailTimer);
    cancelAnimationFrame(this._frame);
    this.el.remove();
  }

  _spaceKey(e, down) {
    if (e.key !== " ") return;
    this.space = down;
    e.preventDefault(); // no page scroll while Space is held for panning
    this.canvas.style.cursor = down ? "grab" : "crosshair";
  }

  _local(e) {
    const r = this.canvas.getBoundingClientRect();
    const sx = r.width ? this.cssW / r.width : 1; // CSS transforms around the widget
    const sy = r.height ? this.cssH / r.height : 1;
    return { x: (e.clientX - r.left) * sx, y: (e.clientY - r.top) * sy };
  }

  _hit(q) {
    // the selected box first, then the smallest box holding the point (nested objects)
    const s = this.boxes[this.selected];
    if (s && q.x >= s.x && q.x <= s.x + s.w && q.y >= s.y && q.y <= s.y + s.h) return this.selected;
    let best = -1;
    let area = Infinity;
    this.boxes.forEach((b, i) => {
      if (q.x >= b.x && q.x <= b.x + b.w && q.y >= b.y && q.y <= b.y + b.h && b.w * b.h < area) {
        best = i;
        area = b.w * b.h;
      }
    });
    return best;
  }

  _handleAt(p) {
    const b = this.boxes[this.selected];
    if (!b || this.opts.boxSize || b.model?.verdict === "rejected") return null;
    const a = this.toScreen(b.x, b.y);
    const z = this.toScreen(b.x + b.w, b.y + b.h);
    const nearX = (v) => Math.abs(p.x - v) <= HANDLE;
    const nearY = (v) => Math.abs(p.y - v) <= HANDLE;
    const inX = p.x >= a.x - HANDLE && p.x <= z.x + HANDLE;
    const inY = p.y >= a.y - HANDLE && p.y <= z.y + HANDLE;
    let h = "";
    if (inX && nearY(a.y)) h += "n";
    else if (inX && nearY(z.y)) h += "s";
    if (inY && nearX(a.x)) h += "w";
    else if (inY && nearX(z.x)) h += "e";
    return h || null;
  }

  _down(e) {
    if (!this.image) return;
    const p = this._local(e);
    this.pointer = p;
    this.canvas.setPointerCapture?.(e.pointerId);
    if (e.button === 1 || (e.button === 0 && this.space)) {
      e.preventDefault();
      this.drag = { kind: "pan", p0: p, view: { ...this.view } };
      this.canvas.style.cursor = "grabbing";
      return;
    }
    if (e.button !== 0) return;
    const q = this.toImage(p);
    const handle = this._handleAt(p);
    const sel = this.boxes[this.selected];
    if (handle) {
      this.drag = { kind: "resize", handle, index: this.selected, orig: copyBox(sel) };
      return;
    }
    const hit = this._hit(q);
    if (hit >= 0 && hit === this.selected && sel.model?.verdict !== "rejected") {
      this.drag = { kind: "move", index: hit, q0: q, orig: copyBox(sel), moved: false };
      return;
    }
    this.drag = { kind: "press", p0: p, q0: q, hit, shift: e.shiftKey };
  }

  _move(e) {
    const p = this._local(e);
    this.pointer = p;
    if (!this.drag) {
      this._cursor(p);
      if (this.image) this.requestDraw(); // the crosshair or the fixed-size ghost box follows
      return;
    }
    this._dragTo(p);
  }

  _dragTo(p) {
    const d = this.drag;
    const { width: W, height: H } = this.image;
    if (d.kind === "press") {
      if (Math.hypot(p.x - d.p0.x, p.y - d.p0.y) < CLICK) return;
      if (this.opts.boxSize) {
        // fixed-size mode: a drag on the image pans (boxes come from clicks)
        this.drag = { kind: "pan", p0: d.p0, view: { ...this.view } };
      } else {
        const a = { x: clamp(d.q0.x, 0, W), y: clamp(d.q0.y, 0, H) };
        this.drag = { kind: "draw", anchor: a, cur: a };
      }
      return this._dragTo(p);
    }
    if (d.kind === "pan") {
      this.view.ox = d.view.ox - (p.x - d.p0.x) / this.view.zoom;
      this.view.oy = d.view.oy - (p.y - d.p0.y) / this.view.zoom;
      this._clampView();
      this.requestDraw();
      this._scheduleDetail();
      return;
    }
    const q = this.toImage(p);
    if (d.kind === "draw") {
      d.cur = { x: clamp(q.x, 0, W), y: clamp(q.y, 0, H) };
    } else if (d.kind === "move") {
      const b = this.boxes[d.index];
      b.x = clamp(d.orig.x + (q.x - d.q0.x), 0, W - b.w);
      b.y = clamp(d.orig.y + (q.y - d.q0.y), 0, H - b.h);
      d.moved = true;
    } else if (d.kind === "resize") {
      const b = this.boxes[d.index];
      const o = d.orig;
      let x0 = o.x, y0 = o.y, x1 = o.x + o.w, y1 = o.y + o.h;
      const qx = clamp(q.x, 0, W);
      const qy = clamp(q.y, 0, H);
      if (d.handle.includes("w")) x0 = qx;
      if (d.handle.includes("e")) x1 = qx;
      if (d.handle.includes("n")) y0 = qy;
      if (d.handle.includes("s")) y1 = qy;
      [b.x, b.w] = [Math.min(x0, x1), Math.abs(x1 - x0)];
      [b.y, b.h] = [Math.min(y0, y1), Math.abs(y1 - y0)];
    }
    this.requestDraw();
  }

  _up(e) {
    const d = this.drag;
    if (!d) return;
    this.drag = null;
    this.pointer = this._local(e);
    this._cursor(this.pointer);
    if (d.kind === "press") {
      const { width: W, height: H } = this.image;
      const inside = d.q0.x >= 0 && d.q0.y >= 0 && d.q0.x <= W && d.q0.y <= H;
      if (this.opts.boxSize && inside && (d.hit < 0 || d.shift)) this.place(d.q0.x, d.q0.y);
      else this.select(d.hit);
      return;
    }
    if (d.kind === "draw") {
      const x = Math.min(d.anchor.x, d.cur.x);
      const y = Math.min(d.anchor.y, d.cur.y);
      const w = Math.abs(d.cur.x - d.anchor.x);
      const h = Math.abs(d.cur.y - d.anchor.y);
      if (w * this.view.zoom >= MIN_SIZE && h * this.view.zoom >= MIN_SIZE) {
        this.addBox({ x, y, w, h, label: this.label });
      } else {
        this.requestDraw();
      }
      return;
    }
    if (d.kind === "move" || d.kind === "resize") {
      const b = this.boxes[d.index];
      if (b.w <= 0 || b.h <= 0) Object.assign(b, d.orig); // a resize to nothing is undone
      if (!sameGeometry(b, d.orig)) {
        this._edited(b);
        this._changed();
      } else {
        this.requestDraw();
      }
      return;
    }
    this.canvas.style.cursor = this.space ? "grab" : "crosshair";
    this.requestDraw();
  }

  _cursor(p) {
    if (this.space) return;
    const h = this._handleAt(p);
    const cursors = { n: "ns-resize", s: "ns-resize", e: "ew-resize", w: "ew-resize",
      nw: "nwse-resize", se: "nwse-resize", ne: "nesw-resize", sw: "nesw-resize" };
    if (h) this.canvas.style.cursor = cursors[h];
    else if (this.selected >= 0 && this._hit(this.toImage(p)) === this.selected) this.canvas.style.cursor = "move";
    else this.canvas.style.cursor = this.opts.boxSize ? "pointer" : "crosshair";
  }

  _wheel(e) {
    const root = this.opts.focusRoot;
    const focused = root.contains(document.activeElement);
    if (!focused && !e.ctrlKey) {
      this._message("Click the image first: then the wheel zooms (or hold Ctrl).", "info");
      return; // the page scrolls as usual
    }
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 0.05 : e.deltaMode === 2 ? 1 : 0.002;
    const factor = clamp(Math.exp(-e.deltaY * unit), 0.5, 2);
    const p = this._local(e);
    this.pointer = p;
    this.zoomAt(factor, p);
  }

  // ------------------------------------------------------------------ drawing
  _layout() {
    const avail = Math.max(160, Math.min(this.host.clientWidth || this.opts.maxWidth, this.opts.maxWidth));
    let h = this.opts.height;
    if (!h) {
      const ratio = this.image ? this.image.height / this.image.width : 0.75;
      h = Math.round(clamp(avail * ratio, 160, this.opts.maxHeight));
    }
    const dpr = window.devicePixelRatio || 1;
    if (avail === this.cssW && h === this.cssH && this.canvas.width === Math.round(avail * dpr)) return;
    this.cssW = avail;
    this.cssH = h;
    this.canvas.style.width = `${avail}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.round(avail * dpr);
    this.canvas.height = Math.round(h * dpr);
  }

  requestDraw() {
    if (this._frame) return;
    this._frame = requestAnimationFrame(() => {
      this._frame = 0;
      this.draw();
    });
  }

  draw() {
    if (this._frame) {
      cancelAnimationFrame(this._frame);
      this._frame = 0;
    }
    const ctx = this.ctx;
    const dpr = this.canvas.width / this.cssW;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#2b2b2b";
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!this.image) return;
    const { zoom, ox, oy } = this.view;
    const { source, width: W, height: H } = this.image;
    ctx.setTransform(dpr * zoom, 0, 0, dpr * zoom, -ox * zoom * dpr, -oy * zoom * dpr);
    // past 2 screen pixels per source pixel, show the pixels as squares (exact edges)
    ctx.imageSmoothingEnabled = zoom * dpr * (W / (source.width || W)) < 2;
    ctx.drawImage(source, 0, 0, W, H);
    const d = this.detail;
    if (d) {
      ctx.imageSmoothingEnabled = zoom * dpr * (d.w / (d.source.width || d.w)) < 2;
      ctx.drawImage(d.source, d.x, d.y, d.w, d.h);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const tl = this.toScreen(0, 0);
    ctx.strokeStyle = "rgba(255,255,255,0.35)";
    ctx.lineWidth = 1;
    ctx.strokeRect(tl.x - 0.5, tl.y - 0.5, W * zoom + 1, H * zoom + 1);
    this.boxes.forEach((b, i) => { if (i !== this.selected) this._drawBox(b, i, false); });
    if (this.boxes[this.selected]) this._drawBox(this.boxes[this.selected], this.selected, true);
    this._drawPointer();
    this._drawHud();
  }

  colorOf(label) {
    const i = Math.max(0, this.opts.classes.indexOf(label));
    return PALETTE[i % PALETTE.length];
  }

  _drawBox(b, i, selected) {
    const ctx = this.ctx;
    const a = this.toScreen(b.x, b.y);
    const w = b.w * this.view.zoom;
    const h = b.h * this.view.zoom;
    const verdict = b.model?.verdict;
    const color = verdict === "rejected" ? "#9e9e9e" : this.colorOf(b.label);
    ctx.save();
    if (selected) {
      ctx.fillStyle = color + "33";
      ctx.fillRect(a.x, a.y, w, h);
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 5;
      ctx.strokeRect(a.x, a.y, w, h);
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = selected ? 3 : 2;
    if (verdict === "pending") ctx.setLineDash([7, 4]);
    if (verdict === "rejected") {
      ctx.setLineDash([3, 3]);
      ctx.globalAlpha = 0.8;
    }
    ctx.strokeRect(a.x, a.y, w, h);
    if (verdict === "rejected") {
      ctx.beginPath();
      ctx.moveTo(a.x, a.y); ctx.lineTo(a.x + w, a.y + h);
      ctx.moveTo(a.x + w, a.y); ctx.lineTo(a.x, a.y + h);
      ctx.lineWidth = 1;
      ctx.stroke();
    }
    ctx.setLineDash([]);
    if (selected && verdict !== "rejected") {
      const pts = this.opts.boxSize ? [] : [
        [a.x, a.y], [a.x + w / 2, a.y], [a.x + w, a.y], [a.x + w, a.y + h / 2],
        [a.x + w, a.y + h], [a.x + w / 2, a.y + h], [a.x, a.y + h], [a.x, a.y + h / 2],
      ];
      ctx.fillStyle = "#ffffff";
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      for (const [x, y] of pts) {
        ctx.fillRect(x - 3.5, y - 3.5, 7, 7);
        ctx.strokeRect(x - 3.5, y - 3.5, 7, 7);
      }
    }
    // the tag: number, class, flags and, for a model box, its state
    const mark = { pending: " ? model", accepted: " \u2713 accepted", changed: " \u270e changed",
      rejected: " \u2717 rejected" }[verdict] ?? "";
    const conf = b.model && b.model.confidence != null ? ` ${Number(b.model.confidence).toFixed(2)}` : "";
    const flags = Object.entries(b.attributes || {}).filter(([, v]) => v).map(([k]) => k);
    const text = `${i + 1} ${b.label}${mark}${conf}${flags.length ? " \u00b7 " + flags.join(", ") : ""}`;
    ctx.font = `${selected ? "bold " : ""}12px sans-serif`;
    const tw = ctx.measureText(text).width + 8;
    const ty = a.y >= 17 ? a.y - 17 : a.y + h + 1;
    const tx = clamp(a.x, 1, Math.max(1, this.cssW - tw)); // the whole tag stays in view
    ctx.globalAlpha = verdict === "rejected" ? 0.8 : 1;
    ctx.fillStyle = selected ? color : "rgba(0,0,0,0.6)";
    ctx.fillRect(tx - (selected ? 1.5 : 1), ty, tw, 16);
    ctx.fillStyle = "#ffffff";
    if (!selected) {
      ctx.fillStyle = color;
      ctx.fillRect(tx - 1, ty, 3, 16);
      ctx.fillStyle = "#ffffff";
    }
    ctx.fillText(text, tx + 4, ty + 12);
    ctx.restore();
  }

  _drawPointer() {
    const ctx = this.ctx;
    const d = this.drag;
    if (d?.kind === "draw") {
      const a = this.toScreen(Math.min(d.anchor.x, d.cur.x), Math.min(d.anchor.y, d.cur.y));
      const w = Math.abs(d.cur.x - d.anchor.x) * this.view.zoom;
      const h = Math.abs(d.cur.y - d.anchor.y) * this.view.zoom;
      ctx.save();
      ctx.strokeStyle = "#ffffff";
      ctx.lineWidth = 3;
      ctx.strokeRect(a.x, a.y, w, h);
      ctx.strokeStyle = this.colorOf(this.label);
      ctx.lineWidth = 1.5;
      ctx.strokeRect(a.x, a.y, w, h);
      ctx.restore();
    }
    const p = this.pointer;
    if (!p || (d && d.kind !== "draw")) return;
    ctx.save();
    if (this.opts.boxSize && !d) {
      // where a click would put the box
      const q = this.toImage(p);
      const [bw, bh] = this.opts.boxSize;
      const at = fitBox(q.x, q.y, bw, bh, this.image.width, this.image.height);
      if (at) {
        const s = this.toScreen(at[0], at[1]);
        ctx.setLineDash([4, 4]);
        ctx.strokeStyle = this.colorOf(this.label);
        ctx.lineWidth = 1;
        ctx.strokeRect(s.x, s.y, bw * this.view.zoom, bh * this.view.zoom);
      }
    } else if (!this.opts.boxSize) {
      // crosshair through the pointer: line up both edges of an object before pressing
      ctx.strokeStyle = "rgba(255,255,255,0.55)";
      ctx.setLineDash([4, 4]);
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.moveTo(0, p.y); ctx.lineTo(this.cssW, p.y);
      ctx.moveTo(p.x, 0); ctx.lineTo(p.x, this.cssH);
      ctx.stroke();
    }
    ctx.restore();
  }

  _drawHud() {
    const ctx = this.ctx;
    const rel = this.relativeZoom;
    const { width: W, source } = this.image;
    const fine = this.detail && this.view.zoom * (W / (source.width || W)) > 1.05;
    const text = `${rel >= 10 ? rel.toFixed(0) : rel.toFixed(1)}x` + (fine ? " \u00b7 full resolution" : "");
    this.canvas.dataset.zoom = rel.toFixed(3); // for tests and tools: the zoom and the pixels drawn
    this.canvas.dataset.detail = fine ? "full" : "display";
    if (Math.abs(rel - 1) < 0.01 && !fine) return; // the fitted view needs no label
    ctx.save();
    ctx.font = "11px sans-serif";
    const w = ctx.measureText(text).width + 8;
    ctx.fillStyle = "rgba(0,0,0,0.55)";
    ctx.fillRect(4, this.cssH - 20, w, 16);
    ctx.fillStyle = "#ffffff";
    ctx.fillText(text, 8, this.cssH - 8);
    ctx.restore();
  }
}
