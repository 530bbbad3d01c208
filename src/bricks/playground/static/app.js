// bricks playground: the page.
//
// The page keeps no model of its own: it sends commands (HTTP, docs/playground-protocol.md)
// and draws the state frames the server streams over a WebSocket. Reading order:
//   1. helpers (DOM, colours, URL hash)          4. drawing: heatmap, network, charts
//   2. talking to the server (api, sockets)      5. controls -> config (event wiring)
//   3. config -> controls (showConfig)           6. compare mode, classroom mode, start-up
"use strict";

// ---------------------------------------------------------------- 1. helpers

const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
};
const SVG_NS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}) => {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
};
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const fmt = (x, digits = 3) => (x === null || x === undefined ? "\u2013" : Number(x).toFixed(digits));
const pct = (x) => (x === null || x === undefined ? "\u2013" : (100 * x).toFixed(1) + "%");

// TensorFlow Playground's palette: orange for negative / class 0, blue for positive / class 1.
const ORANGE = [245, 147, 34];
const BLUE = [8, 119, 189];
const WHITE = [232, 234, 235];
const CLASS_COLORS = [ORANGE, BLUE, [44, 160, 44], [148, 103, 189], [214, 39, 40],
  [140, 86, 75], [227, 119, 194], [188, 189, 34]];
const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
const mix = (a, b, t) => [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * t));
// t in [-1, 1]: orange -> white -> blue.
const diverging = (t) => (t < 0 ? mix(WHITE, ORANGE, Math.min(1, -t)) : mix(WHITE, BLUE, Math.min(1, t)));

// Learning rates and regularization rates offered, as in TensorFlow Playground.
const LEARNING_RATES = [0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];
const REG_RATES = [0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10];

// Config keys by kind (to read them back from the URL hash, where everything is text).
const INT_KEYS = ["n_classes", "n_points", "seed", "batch_size", "max_layers", "max_neurons",
  "heatmap_size", "fps", "max_epochs"];
const NUM_KEYS = ["noise", "train_ratio", "momentum", "lr", "reg_rate", "target_loss"];
// Old key names still read from links made before the rename (the server accepts them too).
const RENAMED = { learning_rate: "lr" };
const BOOL_KEYS = ["zero_init"];
const PER_LAYER = ["activation", "dropout", "batch_norm"];
const DATA_KEYS = ["dataset", "n_classes", "n_points", "noise", "train_ratio", "seed"];
const UI_KEYS = ["show_test", "discretize", "hide", "compare"];

// Controls a teacher can hide in classroom mode: data-hide value -> what students see.
const HIDEABLE = {
  run: "run buttons", lr: "learning rate", activation: "activation",
  regularization: "regularization", reg_rate: "regularization rate", optimizer: "optimizer",
  momentum: "momentum", loss: "loss", init: "initializer", problem: "problem type",
  dataset: "data sets", n_classes: "classes", train_ratio: "train/test ratio", noise: "noise",
  n_points: "points", batch_size: "batch size", seed: "regenerate / seed",
  custom_data: "your own data", features: "input features", hidden: "layers (+/-)",
  layer_options: "per-layer options", limits: "limits", accuracy: "accuracy", stop: "stop rule",
  confusion: "confusion matrix", gradients: "gradient flow", export: "export", compare: "compare",
  // Hiding the Classroom switch itself locks the choice: students cannot tick it back on.
  classroom: "classroom mode (locks this list)",
};

function parseValue(key, text) {
  if (text === "" || text === "null") return null;
  if (key === "features") return text.split(",").filter(Boolean);
  if (key === "hidden") return text.split(",").filter((s) => s !== "").map(Number);
  if (INT_KEYS.includes(key)) return parseInt(text, 10);
  if (NUM_KEYS.includes(key)) return Number(text);
  if (BOOL_KEYS.includes(key)) return text === "true" || text === "1";
  if (key === "activation") return text.includes(",") ? text.split(",") : text;
  if (key === "dropout") return text.includes(",") ? text.split(",").map(Number) : Number(text);
  if (key === "batch_norm") {
    const b = (s) => s === "true" || s === "1";
    return text.includes(",") ? text.split(",").map(b) : b(text);
  }
  return text;
}

// A per-layer list whose entries are all equal is written as one value.
function squeeze(v) {
  if (Array.isArray(v) && v.length > 0 && v.every((x) => x === v[0])) return v[0];
  return v;
}

function formatValue(key, v) {
  if (v === null || v === undefined) return "";
  if (key === "batch_norm") {
    return Array.isArray(v) ? v.map((b) => (b ? "1" : "0")).join(",") : String(v);
  }
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

function sameValue(a, b) {
  return JSON.stringify(squeeze(a)) === JSON.stringify(squeeze(b));
}

// Config -> URLSearchParams text, leaving out what equals `base` (the defaults).
function encodeConfig(config, base) {
  const params = new URLSearchParams();
  for (const [key, v] of Object.entries(config)) {
    if (base && key in base && sameValue(v, base[key])) continue;
    const value = PER_LAYER.includes(key) ? squeeze(v) : v;
    params.set(key, formatValue(key, value));
  }
  return params.toString();
}

function decodeConfig(text) {
  const config = {};
  const ui = {};
  for (const [name, v] of new URLSearchParams(text)) {
    const key = RENAMED[name] || name;
    if (UI_KEYS.includes(key)) ui[key] = v;
    else config[key] = parseValue(key, v);
  }
  return { config, ui };
}

// ---------------------------------------------------------------- 2. the server

// Every command carries a JSON (or CSV) content type: the server refuses state changes
// without one, as a page on another site could send them (docs/playground-protocol.md).
async function api(method, path, body, contentType = "application/json") {
  const init = { method, headers: {} };
  if (body === undefined && ["POST", "PUT", "PATCH"].includes(method)) body = {};
  if (body !== undefined) {
    init.headers["Content-Type"] = contentType;
    init.body = contentType === "application/json" ? JSON.stringify(body) : body;
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!response.ok) {
    const message = (json && json.error) || `${method} ${path}: HTTP ${response.status}`;
    const err = new Error(message);
    err.status = response.status;
    throw err;
  }
  return json;
}

// A binary heatmap frame (docs/playground-protocol.md): a 24-byte header, then size*size
// u8 values over [vmin, vmax] and, for k classes, as many u8 labels.
function decodeHeatmap(buffer) {
  const view = new DataView(buffer);
  const magic = String.fromCharCode(...new Uint8Array(buffer, 0, 4));
  if (magic !== "BKH1") return null;
  const size = view.getUint16(12, true);
  const hasLabels = (view.getUint8(14) & 1) === 1;
  const vmin = view.getFloat32(16, true);
  const vmax = view.getFloat32(20, true);
  const n = size * size;
  const bytes = new Uint8Array(buffer, 24, n);
  const values = new Float32Array(n);
  const scale = (vmax - vmin) / 255;
  for (let i = 0; i < n; i++) values[i] = vmin + bytes[i] * scale;
  return {
    epoch: view.getUint32(4, true), data_version: view.getUint32(8, true), size, vmin, vmax,
    values, labels: hasLabels ? new Uint8Array(buffer, 24 + n, n) : null,
  };
}

// The heatmap to draw: the newest binary one, else the JSON frame's (HTTP clients, tests).
function heatmapOf(session) {
  if (session.heatmap) return session.heatmap;
  const hm = session.state && session.state.heatmap;
  return hm && hm.values ? hm : null;
}

let messageTimer = null;
function showMessage(text, isError = true) {
  const box = $("message");
  box.textContent = text;
  box.className = isError ? "error" : "info";
  box.hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(() => { box.hidden = true; }, isError ? 8000 : 3000);
}

// One trained network on the server, seen through its WebSocket.
class Session {
  constructor(name, onState, onData, onHeatmap = () => {}) {
    this.name = name;
    this.onHeatmap = onHeatmap;
    this.heatmap = null;
    this.id = null;
    this.config = null;
    this.state = null;
    this.data = null;
    this.dataVersion = -1;
    this.onState = onState;
    this.onData = onData;
    this.socket = null;
    this.closed = false;
    this.gradHistory = [];
  }

  // Create the session; keys the server rejects are dropped one at a time (the page shows why).
  async create(config, compareWith = null) {
    const body = { config: { ...config } };
    if (compareWith) body.compare_with = compareWith;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const reply = await api("POST", "/api/sessions", body);
        this.id = reply.id;
        this.config = reply.config;
        this.connect();
        return reply.config;
      } catch (err) {
        if (err.status !== 400) throw err;
        showMessage(err.message);
        const key = err.message.split(/[:[\s]/)[0];
        if (!(key in body.config)) throw err;
        delete body.config[key];
      }
    }
    throw new Error("could not create a session");
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    // ?heatmap=binary: the heatmap comes as small binary frames, up to 60 a second.
    const socket = new WebSocket(`${scheme}://${location.host}/ws/${this.id}?heatmap=binary`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onmessage = (event) => {
      if (typeof event.data !== "string") {
        this.heatmap = decodeHeatmap(event.data);
        this.heatmapFrames = (this.heatmapFrames || 0) + 1;
        this.onHeatmap(this);
        return;
      }
      const msg = JSON.parse(event.data);
      if (msg.type === "data") {
        this.data = msg;
        this.dataVersion = msg.version;
        this.onData(this);
      } else if (msg.type === "state") {
        this.takeState(msg);
      } else if (msg.type === "error") {
        showMessage(msg.error);
      }
    };
    socket.onclose = (event) => {
      if (this.closed || this.socket !== socket) return;
      if (event.code === 4404) {
        showMessage(`session ${this.name} expired; starting a new one`, false);
        this.create(this.config).catch((err) => showMessage(err.message));
      } else if (event.code === 4429 || event.code === 1008) {
        showMessage(`live updates refused: ${event.reason || "too many open tabs"}`);
      } else {
        setTimeout(() => { if (!this.closed && this.socket === socket) this.connect(); }, 1000);
      }
    };
  }

  takeState(msg) {
    this.state = msg;
    this.recordGradients(msg);
    if (msg.data_version !== undefined && msg.data_version !== this.dataVersion) {
      this.fetchData();
    }
    this.onState(this);
  }

  // After a reset the new network's first frame may have come over the socket before the
  // reply that reset it: ask for the state instead of waiting for a frame already sent.
  async refreshState() {
    this.state = null;
    const msg = await api("GET", `/api/sessions/${this.id}/state`);
    if (!this.state) this.takeState(msg);
  }

  async fetchData() {
    if (this.fetching) return;
    this.fetching = true;
    try {
      const msg = await api("GET", `/api/sessions/${this.id}/data`);
      this.data = msg;
      this.dataVersion = msg.version;
      this.onData(this);
    } finally {
      this.fetching = false;
    }
  }

  recordGradients(msg) {
    if (!msg.grad_norms) return;
    const h = this.gradHistory;
    if (h.length && msg.epoch < h[h.length - 1].epoch) h.length = 0;
    if (!h.length || h[h.length - 1].epoch !== msg.epoch) {
      h.push({ epoch: msg.epoch, norms: msg.grad_norms.slice() });
    }
    if (h.length > 300) h.splice(0, h.length - 300);
  }

  async patch(partial) {
    const reply = await api("PATCH", `/api/sessions/${this.id}/config`, partial);
    this.config = reply.config;
    if (reply.reset !== "none") this.gradHistory = [];
    return reply;
  }

  command(name, body) { return api("POST", `/api/sessions/${this.id}/${name}`, body); }

  close() {
    this.closed = true;
    if (this.socket) this.socket.close();
    if (this.id) api("DELETE", `/api/sessions/${this.id}`).catch(() => {});
  }
}

// ---------------------------------------------------------------- 3. page state

const ui = {
  options: null,
  defaults: null,
  a: null,            // the main session
  b: null,            // compare mode's second session
  bOverrides: {},     // B's config = A's config with these keys replaced
  showTest: false,
  discretize: false,
  hide: [],
  playing: false,
};

function task() {
  const data = ui.a && ui.a.data;
  return data ? data.task : "classification";
}
function nClasses() {
  const data = ui.a && ui.a.data;
  return data ? data.n_classes : 2;
}

// Options come as names, or as {name, label} objects.
function fillSelect(select, values, labels = null) {
  select.replaceChildren(...values.map((v, i) => {
    const name = typeof v === "object" && v !== null ? v.name : v;
    const label = labels ? labels[i] : (typeof v === "object" && v !== null ? v.label || v.name : v);
    return el("option", { value: String(name), text: String(label) });
  }));
}

// Make sure a select offers `value` (a shared link may carry a rate that is not in the list).
function setSelect(select, value) {
  const text = String(value);
  if (![...select.options].some((o) => o.value === text)) {
    select.append(el("option", { value: text, text }));
  }
  select.value = text;
}

// Show a config in the controls (the server's normalized config is the truth).
function showConfig(config) {
  setSelect($("learning-rate"), config.lr);
  const acts = config.activation;
  const same = acts.length === 0 || acts.every((a) => a === acts[0]);
  setSelect($("activation"), same ? (acts[0] || $("activation").value) : "mixed");
  setSelect($("regularization"), config.regularization);
  setSelect($("reg-rate"), config.reg_rate);
  setSelect($("optimizer"), config.optimizer);
  $("momentum").value = config.momentum;
  const opt = (ui.options.optimizers || []).find((o) => o.name === config.optimizer);
  $("momentum-box").classList.toggle("dim", !(opt && opt.momentum));
  setSelect($("loss"), config.loss);
  setSelect($("init"), config.init);
  $("zero-init").checked = config.zero_init;
  for (const [id, key] of [["n-classes", "n_classes"], ["train-ratio", "train_ratio"],
    ["noise", "noise"], ["n-points", "n_points"], ["batch-size", "batch_size"]]) {
    $(id).value = config[key];
  }
  $("n-classes-value").textContent = config.n_classes;
  $("train-ratio-value").textContent = `${config.train_ratio}%`;
  $("noise-value").textContent = config.noise;
  $("n-points-value").textContent = config.n_points;
  $("batch-size-value").textContent = config.batch_size;
  $("seed").value = config.seed;
  $("target-loss").value = config.target_loss === null ? "" : config.target_loss;
  $("max-epochs").value = config.max_epochs === null ? "" : config.max_epochs;
  $("max-layers").value = config.max_layers;
  $("max-neurons").value = config.max_neurons;
  $("n-hidden").textContent = config.hidden.length;
  const info = ui.options.datasets.find((d) => d.name === config.dataset);
  $("n-classes-box").classList.toggle("dim", !(info && info.multiclass));
  for (const tile of document.querySelectorAll(".dataset[data-multiclass='true'] .task")) {
    tile.textContent = tile.parentNode.dataset.name === "custom" ? "your labels"
      : `${config.n_classes} classes`;
  }
  for (const button of document.querySelectorAll(".dataset")) {
    button.classList.toggle("selected", button.dataset.name === config.dataset);
  }
  const id = ui.a && ui.a.id;
  if (id) {
    $("export-script").href = `/api/sessions/${id}/export/script`;
    $("export-weights").href = `/api/sessions/${id}/export/weights`;
    $("export-data").href = `/api/sessions/${id}/export/data`;
    document.body.dataset.sessionId = id;
    $("session-info").textContent = `session ${id}`;
  }
  writeHash();
  drawNetwork();
}

function writeHash() {
  if (!ui.a || !ui.a.config) return;
  let text = encodeConfig(ui.a.config, ui.defaults);
  const extra = new URLSearchParams();
  if (ui.showTest) extra.set("show_test", "true");
  if (ui.discretize) extra.set("discretize", "true");
  if (ui.hide.length) extra.set("hide", ui.hide.join(","));
  if (ui.b) extra.set("compare", encodeConfig(ui.bOverrides, null));
  const rest = extra.toString();
  if (rest) text = text ? `${text}&${rest}` : rest;
  history.replaceState(null, "", `#${text}`);
  $("share-link").value = location.href;
}

// ---------------------------------------------------------------- 4. drawing

// Fill a small canvas (its pixel size = the grid) with colours; CSS scales it up smoothly.
function paintGrid(canvas, size, colorAt) {
  if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  for (let k = 0; k < size * size; k++) {
    const c = colorAt(k);
    image.data[4 * k] = c[0]; image.data[4 * k + 1] = c[1]; image.data[4 * k + 2] = c[2];
    image.data[4 * k + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

// The output heatmap: P(class 1) for two classes, the winning class (shaded by its
// probability) for k classes, the prediction for regression.
function paintHeatmap(canvas, hm, data, discretize) {
  if (!hm) return;
  const k = data ? data.n_classes : 2;
  const kind = data ? data.task : "classification";
  const span = (hm.vmax - hm.vmin) || 1;
  paintGrid(gridCanvas, hm.size, (i) => {
    const v = hm.values[i];
    if (kind === "classification" && hm.labels) {
      const cls = hm.labels[i];
      // Pale enough that the points (same colours, outlined) stay visible on it.
      const strength = discretize ? 0.4 : clamp((v - 1 / k) / (1 - 1 / k), 0, 1) * 0.5;
      return mix(WHITE, CLASS_COLORS[cls % CLASS_COLORS.length], strength);
    }
    let t = 2 * (v - hm.vmin) / span - 1;
    if (discretize) t = t >= 0 ? 1 : -1;
    return mix(diverging(t), WHITE, 0.25);
  });
  // Drawn at the display's resolution with smoothing: the grid's cells are interpolated
  // instead of showing as stair steps.
  const ratio = window.devicePixelRatio || 1;
  const w = Math.max(hm.size, Math.round((canvas.clientWidth || 320) * ratio));
  if (canvas.width !== w) { canvas.width = w; canvas.height = w; }
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  ctx.drawImage(gridCanvas, 0, 0, w, w);
}
const gridCanvas = document.createElement("canvas");

function pointColor(y, data) {
  if (data.task === "regression") {
    const t = clamp(y / (regressionScale(data) || 1), -1, 1);
    return diverging(t);
  }
  if (data.n_classes === 2) return y ? BLUE : ORANGE;
  return CLASS_COLORS[y % CLASS_COLORS.length];
}

function regressionScale(data) {
  if (data._scale === undefined) {
    let m = 0;
    for (const y of data.train.y.concat(data.test.y)) m = Math.max(m, Math.abs(y));
    data._scale = m;
  }
  return data._scale;
}

function paintPoints(canvas, data, showTest) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  const h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  if (!data) return;
  const [lo, hi] = data.domain;
  const sx = (x) => ((x - lo) / (hi - lo)) * w;
  const sy = (x) => h - ((x - lo) / (hi - lo)) * h;
  const r = Math.max(2.5, w / 110);
  // Regression points near 0 are nearly white and k-class points sit on their own colour:
  // a dark outline keeps them visible (a white one suits two classes, as in TF Playground).
  const pale = data.task === "regression" || data.n_classes > 2;
  const draw = (set, stroke, width) => {
    for (let i = 0; i < set.x.length; i++) {
      ctx.beginPath();
      ctx.arc(sx(set.x[i][0]), sy(set.x[i][1]), r, 0, 2 * Math.PI);
      ctx.fillStyle = rgb(pointColor(set.y[i], data));
      ctx.fill();
      ctx.lineWidth = width;
      ctx.strokeStyle = stroke;
      ctx.stroke();
    }
  };
  draw(data.train, pale ? "rgba(40,40,40,0.75)" : "#fff", 1);
  if (showTest) draw(data.test, "#000", pale ? 2 : 1);
  // Axis ticks at the integers of the domain.
  ctx.fillStyle = "rgba(0,0,0,0.45)";
  ctx.font = `${Math.max(9, w / 32)}px sans-serif`;
  // The corner's -6 is written once, for both axes (two used to overlap there).
  for (const v of [lo, 0, hi]) {
    ctx.fillText(String(v), clamp(sx(v) - 6, 1, w - 14), h - 3);
    if (v !== lo) ctx.fillText(String(v), 2, clamp(sy(v) + 4, 10, h - 16));
  }
}

// Size a chart canvas to its displayed size (sharp on any screen); returns its context and
// size in CSS pixels.
function chartContext(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width;
  const h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * ratio) || canvas.height !== Math.round(h * ratio)) {
    canvas.width = Math.round(w * ratio);
    canvas.height = Math.round(h * ratio);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, w, h };
}

function drawLossChart(canvas, history) {
  const { ctx, w, h } = chartContext(canvas);
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 0, w, h);
  if (!history || !history.epoch || history.epoch.length < 2) return;
  const values = history.train_loss.concat(history.test_loss).filter((v) => v !== null && isFinite(v));
  const top = Math.max(1e-9, ...values);
  const n = history.epoch.length;
  const e0 = history.epoch[0];
  const e1 = history.epoch[n - 1] || 1;
  const line = (ys, color, width) => {
    ctx.beginPath();
    let pen = false;
    for (let i = 0; i < n; i++) {
      if (ys[i] === null) { pen = false; continue; }
      const x = ((history.epoch[i] - e0) / Math.max(1, e1 - e0)) * (w - 4) + 2;
      const y = h - 4 - (ys[i] / top) * (h - 14);
      if (pen) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      pen = true;
    }
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.stroke();
  };
  line(history.train_loss, "#9aa0a6", 1.5);
  line(history.test_loss, "#202124", 1.5);
  ctx.fillStyle = "#666";
  ctx.font = "10px sans-serif";
  ctx.fillText(top.toPrecision(2), 3, 10);
  ctx.fillText(`epoch ${e1}`, w - 62, 10);
}

const LAYER_COLORS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02",
  "#a6761d", "#666666", "#1f78b4", "#b2df8a", "#fb9a99"];

// Per-layer gradient norms over time, log scale: a line per Linear layer.
function drawGradChart(canvas, session) {
  const { ctx, w, h } = chartContext(canvas);
  ctx.clearRect(0, 0, w, h);
  ctx.fillStyle = "#fafafa";
  ctx.fillRect(0, 0, w, h);
  const hist = session ? session.gradHistory : [];
  if (!hist.length) return;
  const nLayers = hist[hist.length - 1].norms.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (const f of hist) {
    for (const v of f.norms) {
      if (v > 0 && isFinite(v)) { lo = Math.min(lo, Math.log10(v)); hi = Math.max(hi, Math.log10(v)); }
    }
  }
  if (!isFinite(lo)) return;
  lo = Math.floor(lo); hi = Math.max(lo + 1, Math.ceil(hi));
  const legendW = 96;
  const plotW = w - legendW - 34;
  const yOf = (v) => h - 8 - ((Math.log10(v) - lo) / (hi - lo)) * (h - 18);
  ctx.strokeStyle = "#e3e3e3";
  ctx.fillStyle = "#888";
  ctx.font = "10px sans-serif";
  for (let d = lo; d <= hi; d++) {
    const y = yOf(10 ** d);
    ctx.beginPath(); ctx.moveTo(26, y); ctx.lineTo(26 + plotW, y); ctx.stroke();
    ctx.fillText(`1e${d}`, 1, y + 3);
  }
  for (let l = 0; l < nLayers; l++) {
    ctx.beginPath();
    let pen = false;
    hist.forEach((f, i) => {
      const v = f.norms[l];
      if (!(v > 0)) { pen = false; return; }
      const x = 26 + (hist.length === 1 ? plotW : (i / (hist.length - 1)) * plotW);
      if (pen) ctx.lineTo(x, yOf(v)); else ctx.moveTo(x, yOf(v));
      pen = true;
    });
    ctx.strokeStyle = LAYER_COLORS[l % LAYER_COLORS.length];
    ctx.lineWidth = 1.6;
    ctx.stroke();
    const last = hist[hist.length - 1].norms[l];
    ctx.fillStyle = LAYER_COLORS[l % LAYER_COLORS.length];
    const name = l === nLayers - 1 ? "output" : `layer ${l + 1}`;
    ctx.fillText(`${name}  ${last > 0 ? last.toExponential(1) : "0"}`, w - legendW + 4, 12 + l * 12);
  }
}

function drawConfusion(state) {
  const table = $("confusion");
  const useTest = !!(state.confusion && state.test_loss !== null && state.confusion.test &&
    state.confusion.test.flat().some((v) => v > 0));
  const conf = state.confusion && (useTest ? state.confusion.test : state.confusion.train);
  $("confusion-title").textContent = `Confusion matrix (${useTest ? "test" : "training"})`;
  $("confusion-panel").classList.toggle("dim", !conf);
  if (!conf) { table.replaceChildren(); return; }
  const k = conf.length;
  const total = conf.flat().reduce((a, b) => a + b, 0) || 1;
  const head = el("tr", {}, el("th", { text: "true \\ pred" }), ...conf.map((_, j) => el("th", {}, swatch(j, k))));
  const rows = conf.map((row, i) => el("tr", {}, el("th", {}, swatch(i, k)), ...row.map((v, j) => {
    const cell = el("td", { text: String(v) });
    const a = Math.min(1, (v / total) * k * 0.9);
    const c = i === j ? BLUE : ORANGE;
    cell.style.background = `rgba(${c[0]},${c[1]},${c[2]},${a * 0.6})`;
    return cell;
  })));
  table.replaceChildren(head, ...rows);
}

function swatch(cls, k) {
  const color = k === 2 ? (cls ? BLUE : ORANGE) : CLASS_COLORS[cls % CLASS_COLORS.length];
  return el("span", { class: "class-dot", style: `background:${rgb(color)}`, title: `class ${cls}` }, String(cls));
}

// Thumbnail of one neuron's output over the plane, coloured by its sign around the
// neuron's own range (an output probability is centred at 0.5).
function paintNeuron(canvas, values, size, isProbability) {
  let m = 0.5;
  if (!isProbability) {
    m = 0;
    for (const v of values) m = Math.max(m, Math.abs(v));
    m = m || 1;
  }
  paintGrid(canvas, size, (i) => diverging((isProbability ? values[i] - 0.5 : values[i]) / m));
}

// ----- the network picture

const NODE = 38;      // neuron box, px
const GAP = 14;       // between boxes
let nodeCanvases = [];  // nodeCanvases[l][n]

function layerSizes() {
  const config = ui.a && ui.a.config;
  if (!config) return null;
  const nOut = task() === "classification" && nClasses() > 2 ? nClasses() : 1;
  return [config.features.length, ...config.hidden, nOut];
}

// Node positions: column x for every layer, rows from the top; features show all seven.
function layout() {
  const config = ui.a.config;
  const box = $("network");
  const hidden = config.hidden;
  const nCols = hidden.length + 2;
  // Each layer needs ~100 px for its head (+/-, activation, dropout, BN); a narrower
  // column scrolls the network inside its box instead of overlapping the labels.
  const width = Math.max(box.clientWidth || 600, 100 + nCols * 90);
  const left = 84;  // room for the widest feature label ("sin(X1)") left of its box
  const right = width - 40;
  const colX = (c) => left + (nCols === 1 ? 0 : (c * (right - left)) / (nCols - 1));
  const top = 112;
  const pos = [];
  const allFeatures = ui.options.features.map((f) => f.name);
  pos.push(allFeatures.map((name, r) => ({ x: colX(0), y: top + r * (NODE + GAP), name })));
  hidden.forEach((n, l) => {
    pos.push(Array.from({ length: n }, (_, r) => ({ x: colX(l + 1), y: top + r * (NODE + GAP) })));
  });
  const sizes = layerSizes();
  const nOut = sizes[sizes.length - 1];
  pos.push(Array.from({ length: nOut }, (_, r) => ({ x: colX(nCols - 1), y: top + r * (NODE + GAP) })));
  const rows = Math.max(allFeatures.length, ...hidden, nOut);
  box.style.height = `${top + rows * (NODE + GAP) + 10}px`;
  return { pos, colX, width };
}

function drawNetwork() {
  if (!ui.a || !ui.a.config || !ui.options) return;
  const config = ui.a.config;
  const { pos, colX, width } = layout();
  const nodes = $("nodes");
  const heads = $("layer-heads");
  nodes.replaceChildren();
  heads.replaceChildren();
  if (hovered) { hovered = null; $("hovercard").hidden = true; }
  nodeCanvases = pos.map(() => []);
  const active = config.features;

  // Input features: click to switch on and off.
  heads.append(el("div", { class: "layer-head", style: `left:${colX(0) - 40}px;width:80px`, "data-hide": "features" },
    el("div", { class: "layer-title", text: "Features" }),
    el("div", { class: "hint", text: "click to use" })));
  pos[0].forEach((p, r) => {
    const f = ui.options.features[r];
    const on = active.includes(f.name);
    const canvas = el("canvas", { width: 25, height: 25 });
    const node = el("div", {
      class: `node feature ${on ? "on" : "off"}`, id: `feature-${f.name}`,
      "data-testid": `feature-${f.name}`, "data-active": String(on), title: f.label,
      style: `left:${p.x - NODE / 2}px;top:${p.y}px`,
    }, canvas, el("span", { class: "feature-label", text: f.label }));
    // In classroom mode with "features" hidden, unused features vanish and used ones lock.
    if (!on) node.dataset.hide = "features";
    node.addEventListener("click", () => { if (!ui.hide.includes("features")) toggleFeature(f.name); });
    if (on) {
      const idx = active.indexOf(f.name);
      nodeCanvases[0][idx] = canvas;
      hoverable(node, 0, idx);
    }
    nodes.append(node);
  });

  // Hidden layers: +/- neurons, activation, dropout and batch norm per layer.
  config.hidden.forEach((n, l) => {
    const act = el("select", { id: `activation-${l}`, "data-testid": `activation-${l}`, title: "activation of this layer" });
    fillSelect(act, ui.options.activations);
    act.value = config.activation[l];
    act.addEventListener("change", () => {
      const acts = config.activation.slice();
      acts[l] = act.value;
      change({ activation: acts });
    });
    const drop = el("input", {
      id: `dropout-${l}`, "data-testid": `dropout-${l}`, type: "number", min: "0", max: "0.9",
      step: "0.1", value: String(config.dropout[l]), title: "dropout probability after this layer",
    });
    drop.addEventListener("change", () => {
      const d = config.dropout.slice();
      d[l] = Number(drop.value);
      change({ dropout: d });
    });
    const bn = el("input", { id: `batch-norm-${l}`, "data-testid": `batch-norm-${l}`, type: "checkbox" });
    bn.checked = config.batch_norm[l];
    bn.addEventListener("change", () => {
      const b = config.batch_norm.slice();
      b[l] = bn.checked;
      change({ batch_norm: b });
    });
    heads.append(el("div", { class: "layer-head", style: `left:${colX(l + 1) - 48}px;width:96px` },
      el("div", { class: "plusminus", "data-hide": "hidden" },
        el("button", { class: "round tiny", id: `add-neuron-${l}`, "data-testid": `add-neuron-${l}`, title: "add a neuron", text: "+", onclick: () => setNeurons(l, n + 1) }),
        el("button", { class: "round tiny", id: `remove-neuron-${l}`, "data-testid": `remove-neuron-${l}`, title: "remove a neuron", text: "\u2212", onclick: () => setNeurons(l, n - 1) })),
      el("div", { class: "layer-title", text: `${n} neuron${n === 1 ? "" : "s"}` }),
      el("div", { class: "layer-options", "data-hide": "layer_options" }, act,
        el("div", { class: "mini-row" },
          el("label", { class: "mini", title: "dropout probability after this layer" }, "drop", drop),
          el("label", { class: "mini", title: "batch norm before the activation" }, bn, "BN")))));
    pos[l + 1].forEach((p, r) => nodes.append(neuronNode(l + 1, r, p)));
  });

  const L = pos.length - 1;
  heads.append(el("div", { class: "layer-head", style: `left:${colX(L) - 40}px;width:80px` },
    el("div", { class: "layer-title", text: "Output" }),
    el("div", { class: "hint", text: task() === "regression" ? "linear" : (pos[L].length > 1 ? "softmax" : (config.loss === "mse" ? "tanh" : "sigmoid")) })));
  pos[L].forEach((p, r) => nodes.append(neuronNode(L, r, p)));

  const links = $("links");
  links.setAttribute("width", String(width));
  links.setAttribute("height", $("network").style.height);
  ui.linkLayout = pos;
  drawLinks();
  if (ui.a.state) drawNeurons(ui.a.state);
  applyHidden();
}

function neuronNode(l, r, p) {
  const canvas = el("canvas", { width: 25, height: 25 });
  const bias = el("div", { class: "bias", id: `bias-${l - 1}-${r}`, "data-testid": `bias-${l - 1}-${r}`, title: "bias: click to edit" });
  bias.addEventListener("click", (e) => { e.stopPropagation(); openEditor(e, l - 1, r, null); });
  const node = el("div", {
    class: "node", id: `node-${l}-${r}`, "data-testid": `node-${l}-${r}`,
    style: `left:${p.x - NODE / 2}px;top:${p.y}px`,
  }, canvas, bias);
  nodeCanvases[l][r] = canvas;
  hoverable(node, l, r);
  return node;
}

// Links: one SVG path per weight, colour = sign, width = magnitude; a wide invisible twin
// takes the clicks.
function drawLinks() {
  const links = $("links");
  links.replaceChildren();
  const pos = ui.linkLayout;
  const state = ui.a && ui.a.state;
  if (!pos) return;
  const config = ui.a.config;
  const allFeatures = ui.options.features.map((f) => f.name);
  const sources = [config.features.map((f) => pos[0][allFeatures.indexOf(f)]), ...pos.slice(1)];
  const weights = state && state.weights && state.weights.length === sources.length - 1 ? state.weights : null;
  let wmax = 0;
  if (weights) for (const layer of weights) for (const row of layer.w) for (const v of row) wmax = Math.max(wmax, Math.abs(v));
  for (let l = 0; l + 1 < sources.length; l++) {
    const from = sources[l];
    const to = sources[l + 1];
    for (let i = 0; i < to.length; i++) {
      for (let j = 0; j < from.length; j++) {
        const a = from[j];
        const b = to[i];
        if (!a || !b) continue;
        const x0 = a.x + NODE / 2;
        const y0 = a.y + NODE / 2;
        const x1 = b.x - NODE / 2;
        const y1 = b.y + NODE / 2;
        const mx = (x0 + x1) / 2;
        const d = `M${x0},${y0} C${mx},${y0} ${mx},${y1} ${x1},${y1}`;
        const w = (weights && weights[l].w[i] && Number(weights[l].w[i][j])) || 0;
        const width = weights ? 0.5 + 5.5 * Math.min(1, Math.abs(w) / Math.max(wmax, 1e-9)) : 1;
        const color = w < 0 ? rgb(ORANGE) : rgb(BLUE);
        links.append(svg("path", { d, class: "link", stroke: weights ? color : "#ccc", "stroke-width": width.toFixed(2) }));
        const hit = svg("path", { d, class: "link-hit", id: `link-${l}-${i}-${j}`, "data-testid": `link-${l}-${i}-${j}` });
        hit.addEventListener("click", (e) => openEditor(e, l, i, j));
        hit.addEventListener("mousemove", (e) => tooltip(e, `w[${l}][${i}][${j}] = ${fmt(w, 3)}`));
        hit.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
        links.append(hit);
      }
    }
  }
  if (weights) {
    for (let l = 0; l < weights.length; l++) {
      weights[l].b.forEach((v, i) => {
        const node = $(`bias-${l}-${i}`);
        if (node) {
          node.style.background = v < 0 ? rgb(ORANGE) : rgb(BLUE);
          node.title = `bias = ${fmt(v, 3)} (click to edit)`;
        }
      });
    }
  }
}

function drawNeurons(state) {
  const neurons = state.neurons;
  if (!neurons || !neurons.layers) return;
  const last = neurons.layers.length - 1;
  const probability = task() === "classification";
  neurons.layers.forEach((layer, l) => {
    layer.forEach((values, n) => {
      const canvas = nodeCanvases[l] && nodeCanvases[l][n];
      if (canvas) paintNeuron(canvas, values, neurons.size, probability && l === last);
    });
  });
}

// ----- hovering and editing

let hovered = null;
function hoverable(node, l, n) {
  node.addEventListener("mouseenter", () => { hovered = { l, n, node }; showHover(); });
  node.addEventListener("mouseleave", () => { hovered = null; $("hovercard").hidden = true; });
}

function showHover() {
  const state = ui.a && ui.a.state;
  if (hovered && !hovered.node.isConnected) {
    // The network was redrawn under the pointer: the node is gone, so is its card (it
    // used to stick in the top-left corner, placed by a detached node's empty rectangle).
    hovered = null;
    $("hovercard").hidden = true;
  }
  if (!hovered || !state || !state.neurons) return;
  const { l, n, node } = hovered;
  const values = state.neurons.layers[l] && state.neurons.layers[l][n];
  const card = $("hovercard");
  if (values) {
    const last = state.neurons.layers.length - 1;
    paintNeuron($("hover-canvas"), values, state.neurons.size, task() === "classification" && l === last);
  }
  const formula = state.formulas && state.formulas[l] ? state.formulas[l][n] : "";
  $("hover-formula").textContent = formula || "";
  const rect = node.getBoundingClientRect();
  card.hidden = false;
  const x = rect.right + 12 + 220 > window.innerWidth ? rect.left - 232 : rect.right + 12;
  card.style.left = `${x + window.scrollX}px`;
  card.style.top = `${rect.top + window.scrollY - 20}px`;
}

function tooltip(event, text) {
  const tip = $("tooltip");
  tip.textContent = text;
  tip.hidden = false;
  tip.style.left = `${event.pageX + 12}px`;
  tip.style.top = `${event.pageY + 12}px`;
}

let editing = null;
function openEditor(event, layer, i, j) {
  const state = ui.a.state;
  const weights = state && state.weights && state.weights[layer];
  if (!weights) return;
  const value = j === null ? weights.b[i] : weights.w[i][j];
  editing = { layer, i, j };
  $("editor-label").textContent = j === null ? `bias of neuron ${i} (layer ${layer + 1})` : `weight ${j} \u2192 ${i} (layer ${layer + 1})`;
  const box = $("editor");
  box.hidden = false;
  box.style.left = `${event.pageX + 8}px`;
  box.style.top = `${event.pageY + 8}px`;
  const input = $("editor-input");
  input.value = Number(value).toFixed(3);
  input.focus();
  input.select();
}

async function commitEditor() {
  if (!editing) return;
  const body = { ...editing, value: Number($("editor-input").value) };
  $("editor").hidden = true;
  editing = null;
  try {
    await api("PUT", `/api/sessions/${ui.a.id}/weights`, body);
  } catch (err) {
    showMessage(err.message);
  }
}

// ----- state frames

function onStateA(session) {
  const s = session.state;
  if (!session.heatmap || session.heatmap.epoch <= s.epoch) $("epoch").textContent = formatEpoch(s.epoch);
  $("status").textContent = s.stop_reason ? `stopped: ${s.stop_reason.replace("_", " ")}` : s.status;
  $("status").title = $("status").textContent;
  document.body.dataset.status = s.status;
  updatePlayButton();
  $("test-loss").textContent = fmt(s.test_loss);
  $("train-loss").textContent = fmt(s.train_loss);
  $("test-accuracy").textContent = pct(s.test_accuracy);
  $("train-accuracy").textContent = pct(s.train_accuracy);
  if (s.lr !== undefined && document.activeElement !== $("learning-rate")) {
    setSelect($("learning-rate"), s.lr);
  }
  paintHeatmap($("heatmap"), heatmapOf(session), session.data, ui.discretize);
  drawColorbar(heatmapOf(session));
  drawLossChart($("loss-chart"), s.history);
  drawGradChart($("grad-chart"), session);
  drawConfusion(s);
  // A frame from before a shape change (in flight while the page patched) is not drawn
  // on the new network.
  if (JSON.stringify(s.layers) === JSON.stringify(layerSizes())) {
    drawLinks();
    drawNeurons(s);
  }
  if (hovered) showHover();
  if (ui.b) drawSide("a", session);
}

// Binary heatmap frames repaint at the display's rate: one paint per animation frame, of
// the newest map (frames arriving faster are coalesced, never queued).
const pendingHeatmaps = new Map();
function scheduleHeatmap(name, session) {
  if (!pendingHeatmaps.size) requestAnimationFrame(paintPendingHeatmaps);
  pendingHeatmaps.set(name, session);
}
function paintPendingHeatmaps() {
  for (const [name, session] of pendingHeatmaps) {
    const hm = session.heatmap;
    if (!hm) continue;
    if (name === "a") {
      paintHeatmap($("heatmap"), hm, session.data, ui.discretize);
      drawColorbar(hm);
      $("epoch").textContent = formatEpoch(hm.epoch);
      ui.heatmapPaints = (ui.heatmapPaints || 0) + 1;
      if (ui.b) paintHeatmap($("heatmap-a"), hm, session.data, ui.discretize);
    } else {
      paintHeatmap($("heatmap-b"), hm, session.data || ui.a.data, ui.discretize);
    }
  }
  pendingHeatmaps.clear();
}
function onHeatmapA(session) { scheduleHeatmap("a", session); }
function formatEpoch(epoch) {
  return String(epoch).padStart(6, "0").replace(/(\d{3})(\d{3})$/, "$1,$2");
}

function onDataA(session) {
  const data = session.data;
  $("problem-type").textContent = data.task === "classification"
    ? (data.n_classes > 2 ? `${data.n_classes}-class classification` : "classification")
    : "regression";
  fillAddClass();
  paintPoints($("points"), data, ui.showTest);
  drawNetwork();
  if (ui.b) drawSide("a", session);
}

function drawColorbar(hm) {
  if (!hm) return;
  const canvas = $("colorbar-canvas");
  const ctx = canvas.getContext("2d");
  const multi = !!(hm.labels && nClasses() > 2);
  $("colorbar").hidden = multi;
  $("class-legend").hidden = !multi;
  if (multi && $("class-legend").childElementCount !== nClasses()) {
    $("class-legend").replaceChildren(...Array.from({ length: nClasses() }, (_, c) =>
      el("span", { class: "legend-class" }, swatch(c, nClasses()), `class ${c}`)));
  }
  for (let x = 0; x < canvas.width; x++) {
    ctx.fillStyle = rgb(diverging((2 * x) / (canvas.width - 1) - 1));
    ctx.fillRect(x, 0, 1, canvas.height);
  }
  $("cb-min").textContent = fmt(hm.vmin, 1);
  $("cb-max").textContent = fmt(hm.vmax, 1);
}

function fillAddClass() {
  const select = $("add-class");
  const prev = select.value;
  const regression = task() === "regression";
  const values = ["off", ...(regression ? ["value"] : Array.from({ length: Math.max(2, nClasses()) }, (_, i) => String(i)))];
  const labels = ["off", ...(regression ? ["a point of value"] : values.slice(1).map((v) => `class ${v}`))];
  fillSelect(select, values, labels);
  select.value = values.includes(prev) ? prev : "off";
  $("add-value").hidden = !regression;
}

// ---------------------------------------------------------------- 5. controls -> config

// Send a partial config to A (and to B where B does not override the key).
async function change(partial) {
  try {
    const reply = await ui.a.patch(partial);
    showConfig(reply.config);
    if (reply.reset !== "none") await ui.a.refreshState();
    if (ui.b) {
      if (reply.reset === "data") {
        await startCompare();
      } else {
        const forB = {};
        for (const [k, v] of Object.entries(partial)) if (!(k in ui.bOverrides)) forB[k] = v;
        if (Object.keys(forB).length) await ui.b.patch(forB);
        showCompareForm();
      }
    }
  } catch (err) {
    showMessage(err.message);
    if (ui.a.config) showConfig(ui.a.config);
  }
}

function toggleFeature(name) {
  const order = ui.options.features.map((f) => f.name);
  const set = new Set(ui.a.config.features);
  if (set.has(name)) set.delete(name); else set.add(name);
  if (!set.size) { showMessage("at least one input feature is needed"); return; }
  change({ features: order.filter((f) => set.has(f)) });
}

function setNeurons(l, n) {
  const config = ui.a.config;
  if (n < 1 || n > config.max_neurons) {
    showMessage(`a layer has 1 to ${config.max_neurons} neurons (raise the limit to add more)`);
    return;
  }
  const hidden = config.hidden.slice();
  hidden[l] = n;
  change({ hidden });
}

// Send a command to A and then to B (one after the other: a step trains synchronously).
async function both(command, body) {
  try {
    await ui.a.command(command, body);
    if (ui.b) await ui.b.command(command, body);
  } catch (err) {
    showMessage(err.message);
  }
}

function wireControls() {
  $("play").addEventListener("click", () => both(ui.playing ? "pause" : "play"));
  $("step").addEventListener("click", () => both("step", { epochs: 1 }));
  $("reset").addEventListener("click", () => { ui.a.gradHistory = []; if (ui.b) ui.b.gradHistory = []; both("reset"); });
  const onChange = (id, key, read) => $(id).addEventListener("change", () => change({ [key]: read($(id)) }));
  onChange("learning-rate", "lr", (e) => Number(e.value));
  onChange("regularization", "regularization", (e) => e.value);
  onChange("reg-rate", "reg_rate", (e) => Number(e.value));
  onChange("optimizer", "optimizer", (e) => e.value);
  onChange("momentum", "momentum", (e) => Number(e.value));
  onChange("loss", "loss", (e) => e.value);
  onChange("init", "init", (e) => e.value);
  onChange("zero-init", "zero_init", (e) => e.checked);
  onChange("n-classes", "n_classes", (e) => Number(e.value));
  onChange("train-ratio", "train_ratio", (e) => Number(e.value));
  onChange("noise", "noise", (e) => Number(e.value));
  onChange("n-points", "n_points", (e) => Number(e.value));
  onChange("batch-size", "batch_size", (e) => Number(e.value));
  onChange("seed", "seed", (e) => Number(e.value));
  onChange("target-loss", "target_loss", (e) => (e.value === "" ? null : Number(e.value)));
  onChange("max-epochs", "max_epochs", (e) => (e.value === "" ? null : Number(e.value)));
  onChange("max-layers", "max_layers", (e) => Number(e.value));
  onChange("max-neurons", "max_neurons", (e) => Number(e.value));
  $("activation").addEventListener("change", () => {
    if ($("activation").value !== "mixed") change({ activation: $("activation").value });
  });
  // Sliders show their value while dragging and send it on release.
  for (const [id, suffix] of [["n-classes", ""], ["train-ratio", "%"], ["noise", ""], ["n-points", ""], ["batch-size", ""]]) {
    $(id).addEventListener("input", () => { $(`${id}-value`).textContent = $(id).value + suffix; });
  }
  $("regenerate").addEventListener("click", () => change({ seed: Math.floor(Math.random() * 100000) }));
  $("add-layer").addEventListener("click", () => {
    const config = ui.a.config;
    if (config.hidden.length >= config.max_layers) {
      showMessage(`at most ${config.max_layers} hidden layers (raise the limit to add more)`);
      return;
    }
    change({ hidden: [...config.hidden, Math.min(4, config.max_neurons)] });
  });
  $("remove-layer").addEventListener("click", () => {
    const hidden = ui.a.config.hidden;
    if (hidden.length) change({ hidden: hidden.slice(0, -1) });
  });
  $("show-test").addEventListener("change", () => {
    ui.showTest = $("show-test").checked;
    paintPoints($("points"), ui.a.data, ui.showTest);
    if (ui.b) { drawSide("a", ui.a); drawSide("b", ui.b); }
    writeHash();
  });
  $("discretize").addEventListener("change", () => {
    ui.discretize = $("discretize").checked;
    if (ui.a.state) onStateA(ui.a);
    if (ui.b && ui.b.state) drawSide("b", ui.b);
    writeHash();
  });
  $("upload").addEventListener("change", async () => {
    const file = $("upload").files[0];
    if (!file) return;
    try {
      const text = await file.text();
      const reply = await api("POST", `/api/sessions/${ui.a.id}/upload`, text, "text/csv");
      showConfig(reply.config);
      ui.a.config = reply.config;
      if (reply.warning) showMessage(reply.warning);
      else showMessage(`loaded ${reply.n_train} training and ${reply.n_test} test points`, false);
      if (ui.b) await startCompare();
    } catch (err) {
      showMessage(err.message);
    }
    $("upload").value = "";
  });
  $("clear-points").addEventListener("click", async () => {
    try {
      const reply = await api("DELETE", `/api/sessions/${ui.a.id}/points`);
      ui.a.config = reply.config;
      showConfig(reply.config);
      if ($("add-class").value === "off") $("add-class").value = "0";
      if (ui.b) await startCompare();
    } catch (err) {
      showMessage(err.message);
    }
  });
  $("points").addEventListener("click", addPoint);
  $("editor-ok").addEventListener("click", commitEditor);
  $("editor-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter") commitEditor();
    if (e.key === "Escape") { $("editor").hidden = true; editing = null; }
  });
  document.addEventListener("click", (e) => {
    if (!$("editor").hidden && !$("editor").contains(e.target) && !e.target.classList.contains("link-hit") && !e.target.classList.contains("bias")) {
      $("editor").hidden = true;
    }
  });
  $("share").addEventListener("click", async () => {
    writeHash();
    $("share-link").select();
    try { await navigator.clipboard.writeText(location.href); showMessage("link copied", false); } catch (e) { /* the field is selected */ }
  });
  $("compare-toggle").addEventListener("change", () => {
    if ($("compare-toggle").checked) startCompare(); else stopCompare();
  });
  $("classroom-toggle").addEventListener("change", () => {
    $("classroom").hidden = !$("classroom-toggle").checked;
    if (!$("classroom").hidden) revealPanel($("classroom"));
  });
  $("more-controls").addEventListener("click", () => {
    const open = $("controls").classList.toggle("expanded");
    $("more-controls").textContent = open ? "Fewer settings" : "More settings";
    $("more-controls").setAttribute("aria-expanded", String(open));
  });
  let resizeTimer = null;
  window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(drawNetwork, 150); });
}

async function addPoint(event) {
  const cls = $("add-class").value;
  if (cls === "off" || !ui.a.data) return;
  const canvas = $("points");
  const rect = canvas.getBoundingClientRect();
  const [lo, hi] = ui.a.data.domain;
  const x1 = lo + ((event.clientX - rect.left) / rect.width) * (hi - lo);
  const x2 = hi - ((event.clientY - rect.top) / rect.height) * (hi - lo);
  const label = cls === "value" ? Number($("add-value").value) : Number(cls);
  const point = { x1: Number(x1.toFixed(3)), x2: Number(x2.toFixed(3)), label, split: $("add-split").value };
  try {
    const reply = await api("POST", `/api/sessions/${ui.a.id}/points`, { points: [point] });
    ui.a.config = reply.config;
    showConfig(reply.config);
    if (ui.b) await startCompare();
  } catch (err) {
    showMessage(err.message);
  }
}

// ---------------------------------------------------------------- 6. compare, classroom

const B_FIELDS = [
  ["b-optimizer", "optimizer", (e) => e.value],
  ["b-learning-rate", "lr", (e) => Number(e.value)],
  ["b-activation", "activation", (e) => e.value],
  ["b-hidden", "hidden", (e) => e.value.split(",").map((s) => s.trim()).filter(Boolean).map(Number)],
  ["b-init", "init", (e) => e.value],
  ["b-loss", "loss", (e) => e.value],
  ["b-batch-size", "batch_size", (e) => Number(e.value)],
  ["b-zero-init", "zero_init", (e) => e.checked],
];

// (Re)create B on a copy of A's data, with B's overrides applied.
async function startCompare() {
  if (ui.b) ui.b.close();
  ui.b = new Session("B", (s) => drawSide("b", s), (s) => drawSide("b", s),
    (s) => scheduleHeatmap("b", s));
  const opening = $("compare").hidden;
  $("compare").hidden = false;
  $("compare-toggle").checked = true;
  if (opening && document.body.dataset.ready === "true") revealPanel($("compare"));
  try {
    await ui.b.create(ui.bOverrides, ui.a.id);
    // Keys B could not take are no longer overrides.
    for (const key of Object.keys(ui.bOverrides)) {
      if (!sameValue(ui.b.config[key], ui.bOverrides[key])) delete ui.bOverrides[key];
    }
  } catch (err) {
    showMessage(err.message);
  }
  showCompareForm();
  writeHash();
}

// A panel opened below the fold is scrolled into view, so the click visibly does something.
function revealPanel(panel) {
  const rect = panel.getBoundingClientRect();
  if (rect.top < 0 || rect.top > window.innerHeight - 80) {
    panel.scrollIntoView({ block: "start" });
  }
}

function stopCompare() {
  if (ui.b) ui.b.close();
  ui.b = null;
  $("compare").hidden = true;
  $("compare-toggle").checked = false;
  writeHash();
}

function showCompareForm() {
  if (!ui.b || !ui.b.config) return;
  const c = ui.b.config;
  setSelect($("b-optimizer"), c.optimizer);
  setSelect($("b-learning-rate"), c.lr);
  setSelect($("b-activation"), squeeze(c.activation));
  $("b-hidden").value = c.hidden.join(",");
  setSelect($("b-init"), c.init);
  setSelect($("b-loss"), c.loss);
  $("b-batch-size").value = c.batch_size;
  $("b-zero-init").checked = c.zero_init;
  for (const [id, key] of B_FIELDS) {
    $(id).classList.toggle("differs", key in ui.bOverrides);
  }
  $("summary-a").textContent = summary(ui.a.config);
  $("summary-b").textContent = summary(c);
}

function summary(c) {
  const acts = squeeze(c.activation);
  return `${c.optimizer}, lr ${c.lr}, ${Array.isArray(acts) ? acts.join("/") : acts}, [${c.hidden.join(", ")}]${c.zero_init ? ", zero init" : ""}`;
}

function drawSide(name, session) {
  const s = session.state;
  const data = session.data || ui.a.data;
  paintPoints($(`points-${name}`), data, ui.showTest);
  if (!s) return;
  paintHeatmap($(`heatmap-${name}`), heatmapOf(session), data, ui.discretize);
  drawLossChart($(`loss-chart-${name}`), s.history);
  $(`epoch-${name}`).textContent = s.epoch;
  $(`test-loss-${name}`).textContent = fmt(s.test_loss);
  $(`test-accuracy-${name}`).textContent = pct(s.test_accuracy);
  if (name === "b") updatePlayButton();
}

// Play shows pause while either side trains; a frame from either side can clear it (A's
// frames alone used to decide, so after a pause in compare mode the button stuck).
function updatePlayButton() {
  const sides = ui.b ? [ui.a, ui.b] : [ui.a];
  ui.playing = sides.some((side) => side && side.state && side.state.status === "playing");
  $("play").innerHTML = ui.playing ? "&#10074;&#10074;" : "&#9654;";
  $("play").classList.toggle("playing", ui.playing);
  $("play").dataset.playing = String(ui.playing);
}

function wireCompareForm() {
  for (const [id, key, read] of B_FIELDS) {
    $(id).addEventListener("change", async () => {
      const value = read($(id));
      try {
        await ui.b.patch({ [key]: value });
        if (sameValue(ui.b.config[key], ui.a.config[key])) delete ui.bOverrides[key];
        else ui.bOverrides[key] = value;
      } catch (err) {
        showMessage(err.message);
      }
      showCompareForm();
      writeHash();
    });
  }
  $("b-same").addEventListener("click", () => { ui.bOverrides = {}; startCompare(); });
}

function buildHideList() {
  const list = $("hide-list");
  list.replaceChildren(...Object.entries(HIDEABLE).map(([key, label]) => {
    const box = el("input", { type: "checkbox", id: `hide-${key}`, "data-testid": `hide-${key}` });
    box.checked = ui.hide.includes(key);
    box.addEventListener("change", () => {
      ui.hide = Object.keys(HIDEABLE).filter((k) => $(`hide-${k}`).checked);
      applyHidden();
      writeHash();
    });
    return el("label", { class: "inline" }, box, label);
  }));
}

function applyHidden() {
  for (const node of document.querySelectorAll("[data-hide]")) {
    node.classList.toggle("hidden-by-teacher", ui.hide.includes(node.dataset.hide));
  }
}

// ----- data set thumbnails: small sketches drawn here (the real points come from the server)

function sketchPoints(name) {
  let s = 7;
  const rand = () => { s = (s * 16807) % 2147483647; return s / 2147483647; };
  const gaussian = () => Math.sqrt(-2 * Math.log(rand() + 1e-9)) * Math.cos(2 * Math.PI * rand());
  const pts = [];
  for (let i = 0; i < 160; i++) {
    let x = rand() * 12 - 6;
    let y = rand() * 12 - 6;
    let c = 0;
    if (name === "circle") {
      const r = i % 2 ? rand() * 2.5 : 3.5 + rand() * 2;
      const t = rand() * 2 * Math.PI;
      x = r * Math.cos(t); y = r * Math.sin(t); c = i % 2;
    } else if (name === "xor") {
      c = x * y >= 0 ? 1 : 0;
    } else if (name === "gauss") {
      c = i % 2; x = (c ? 2 : -2) + gaussian(); y = (c ? 2 : -2) + gaussian();
    } else if (name === "spiral") {
      c = i % 2;
      const r = ((i >> 1) / 80) * 5;
      const t = 1.75 * ((i >> 1) / 80) * 2 * Math.PI + c * Math.PI;
      x = r * Math.sin(t); y = r * Math.cos(t);
    } else if (name === "moons") {
      c = i % 2;
      const t = rand() * Math.PI;
      x = c ? 3 * Math.cos(t) - 1.5 : 3 * Math.cos(t) + 1.5;
      y = c ? -3 * Math.sin(t) + 0.8 : 3 * Math.sin(t) - 0.8;
    } else if (name === "blobs") {
      c = i % 3;
      const t = (c * 2 * Math.PI) / 3;
      x = 3 * Math.cos(t) + gaussian() * 0.9; y = 3 * Math.sin(t) + gaussian() * 0.9;
    } else if (name === "plane") {
      c = (x + y) / 12;
    } else if (name === "multi_gauss") {
      c = Math.exp(-((x - 2.5) ** 2 + (y - 2.5) ** 2) / 6) - Math.exp(-((x + 2.5) ** 2 + (y + 2) ** 2) / 6);
    } else {
      return [];
    }
    pts.push([x, y, c]);
  }
  return pts;
}

function drawThumbnail(canvas, info) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width;
  ctx.fillStyle = "#f4f5f6";
  ctx.fillRect(0, 0, w, w);
  const pts = sketchPoints(info.name);
  if (!pts.length) {
    ctx.fillStyle = "#777";
    ctx.font = "bold 22px sans-serif";
    ctx.fillText("+", w / 2 - 6, w / 2 + 8);
    return;
  }
  for (const [x, y, c] of pts) {
    const color = info.task === "regression" ? diverging(clamp(c * 1.5, -1, 1))
      : (info.multiclass ? CLASS_COLORS[c] : (c ? BLUE : ORANGE));
    ctx.fillStyle = rgb(color);
    ctx.beginPath();
    ctx.arc(((x + 6) / 12) * w, w - ((y + 6) / 12) * w, 1.6, 0, 2 * Math.PI);
    ctx.fill();
  }
}

// Switching between classification and regression switches the loss with it: cross-entropy
// has no meaning for regression, so it becomes mse, and comes back on the way back.
function datasetChange(info) {
  const partial = { dataset: info.name };
  const loss = ui.a && ui.a.config ? ui.a.config.loss : "mse";
  if (info.task === "regression" && loss === "cross_entropy") {
    partial.loss = "mse";
    ui.classificationLoss = "cross_entropy";
  } else if (info.task === "classification" && ui.classificationLoss) {
    partial.loss = ui.classificationLoss;
    ui.classificationLoss = null;
  }
  return partial;
}

function buildDatasets() {
  const grid = $("datasets");
  const labels = { multi_gauss: "multi-gauss", custom: "your data", xor: "XOR", blobs: "gaussians" };
  grid.replaceChildren(...ui.options.datasets.map((info) => {
    const canvas = el("canvas", { width: 56, height: 56 });
    drawThumbnail(canvas, info);
    const button = el("button", {
      class: "dataset", id: `dataset-${info.name}`, "data-testid": `dataset-${info.name}`,
      "data-name": info.name, "data-multiclass": String(info.multiclass),
      title: `${info.name} (${info.task}${info.multiclass ? ", 2 to 8 classes" : ""})`,
    }, canvas, el("span", { text: labels[info.name] || info.name }), el("span", { class: "task", text: info.task === "regression" ? "regression" : (info.name === "custom" ? "your labels" : "2 classes") }));
    button.addEventListener("click", async () => {
      if (info.name === "custom") { $("upload").click(); return; }
      await change(datasetChange(info));
    });
    return button;
  }));
}

// ----- start-up

async function main() {
  ui.options = await api("GET", "/api/options");
  ui.defaults = ui.options.defaults;
  fillSelect($("learning-rate"), LEARNING_RATES);
  fillSelect($("b-learning-rate"), LEARNING_RATES);
  fillSelect($("reg-rate"), REG_RATES);
  fillSelect($("activation"), ui.options.activations);
  fillSelect($("b-activation"), ui.options.activations);
  fillSelect($("regularization"), ui.options.regularizations);
  const opt = ui.options.optimizers;
  fillSelect($("optimizer"), opt.map((o) => o.name), opt.map((o) => o.label || o.name));
  fillSelect($("b-optimizer"), opt.map((o) => o.name), opt.map((o) => o.label || o.name));
  fillSelect($("loss"), ui.options.losses);
  fillSelect($("b-loss"), ui.options.losses);
  fillSelect($("init"), ui.options.initializers);
  fillSelect($("b-init"), ui.options.initializers);
  buildDatasets();

  const { config, ui: extra } = decodeConfig(location.hash.slice(1));
  ui.showTest = extra.show_test === "true" || extra.show_test === "1";
  ui.discretize = extra.discretize === "true" || extra.discretize === "1";
  ui.hide = extra.hide ? extra.hide.split(",").map((k) => RENAMED[k] || k).filter((k) => k in HIDEABLE) : [];
  $("show-test").checked = ui.showTest;
  $("discretize").checked = ui.discretize;
  buildHideList();
  wireControls();
  wireCompareForm();

  ui.a = new Session("A", onStateA, onDataA, onHeatmapA);
  const normalized = await ui.a.create(config);
  showConfig(normalized);
  if (extra.compare !== undefined) {
    ui.bOverrides = decodeConfig(extra.compare).config;
    for (const key of DATA_KEYS) delete ui.bOverrides[key];
    await startCompare();
  }
  document.body.dataset.ready = "true";
  window.addEventListener("pagehide", () => { /* the server frees the session after its grace period */ });
}

// For tests and the curious: the page's state from the console.
window.playground = ui;
main().catch((err) => showMessage(`could not start: ${err.message}`));
