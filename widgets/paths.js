// Optimizer paths and the momentum convergence map, computed in the page.
//
// The front end of widgets.paths.OptimizerPaths (an anywidget).  Everything it
// draws is computed here, in float64, with the same operations in the same order
// as the Python engine:
//   - the surfaces and the gradient noise: nndl_lab/experiments/surfaces.py
//     (make_surface, gradient_noise, optimize_surface);
//   - the update rules: the in-place step functions of nndl_lab/optim.py;
//   - the rates: nndl_lab/experiments/rates.py.
// tests/browser/test_optimizer_paths.py compares the numbers with Python's for
// random settings.  The one operation JavaScript does not share with CPython is
// pow(): Adam's bias corrections beta**t use powInt (exponentiation by squaring in
// double-double arithmetic, correctly rounded but for rare near-ties), where
// CPython calls the C library's pow.
//
// window.nndlOptimizerPaths exposes the arithmetic for tests; each widget's root
// element carries .nndlView (its setting, last runs, redraw times).

// ---------------------------------------------------------------------------
// Arithmetic shared with the engine

const WEYL32 = 0x9e3779b9;
const IRWIN_HALL = 12;

function hash32(x) {
  // lowbias32 (C. Wellons)
  x = x >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

// noise[2 t + d]: coordinate d of step t (surfaces.gradient_noise)
function gradientNoise(seed, numSteps) {
  const key = hash32(seed);
  const out = new Float64Array(2 * numSteps);
  let i = 0;
  for (let j = 0; j < 2 * numSteps; j++) {
    let total = 0.0;
    for (let k = 0; k < IRWIN_HALL; k++, i++) {
      const h = hash32(Math.imul(i, WEYL32) + key);
      total += (h + 0.5) / 4294967296.0;
    }
    out[j] = total - 6.0;
  }
  return out;
}

// Exact product a*b = hi + lo (Dekker; no fused multiply-add in JavaScript).
const SPLIT = 134217729.0; // 2^27 + 1
function twoProduct(a, b) {
  const p = a * b;
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const err = ah * bh - p + ah * bl + al * bh + al * bl;
  return [p, err];
}

function ddMul(ah, al, bh, bl) {
  const [p, e] = twoProduct(ah, bh);
  const lo = e + (ah * bl + al * bh);
  const hi = p + lo;
  return [hi, lo - (hi - p)];
}

// base ** t for an integer t >= 0, to ~2^-100 relative before the final rounding.
function powInt(base, t) {
  let rh = 1.0;
  let rl = 0.0;
  let bh = base;
  let bl = 0.0;
  let n = t;
  while (n > 0) {
    if (n & 1) [rh, rl] = ddMul(rh, rl, bh, bl);
    n = Math.floor(n / 2);
    if (n > 0) [bh, bl] = ddMul(bh, bl, bh, bl);
  }
  return rh + rl;
}

const QUADRATIC_A = 1.0;
const SQRT_HALF = Math.sqrt(0.5);

// f(x, y) and grad(x, y) -> [gx, gy] of make_surface(name, kappa)
function surfaceFunctions(name, kappa) {
  if (name === "quadratic") {
    return {
      f: (x, y) => 0.5 * (QUADRATIC_A * (x * x) + kappa * (y * y)),
      grad: (x, y) => [QUADRATIC_A * x, kappa * y],
      eigen: [
        [1.0, [1.0, 0.0]],
        [kappa, [0.0, 1.0]],
      ],
    };
  }
  if (name === "rotated") {
    const p = 0.5 * (1.0 + kappa);
    const q = 0.5 * (1.0 - kappa);
    return {
      f: (x, y) => 0.5 * (x * (p * x + q * y) + y * (q * x + p * y)),
      grad: (x, y) => [p * x + q * y, q * x + p * y],
      eigen: [
        [1.0, [SQRT_HALF, SQRT_HALF]],
        [kappa, [-SQRT_HALF, SQRT_HALF]],
      ],
    };
  }
  if (name === "rosenbrock") {
    return {
      f: (x, y) => {
        const u = 1.0 - x;
        const v = y - x * x;
        return u * u + 100.0 * (v * v);
      },
      grad: (x, y) => {
        const v = y - x * x;
        return [-2.0 * (1.0 - x) - 400.0 * x * v, 200.0 * v];
      },
      eigen: null,
    };
  }
  if (name === "saddle") {
    return {
      f: (x, y) => {
        const v = y * y - 1.0;
        return 0.5 * (x * x) + 0.25 * (v * v);
      },
      grad: (x, y) => [x, y * (y * y - 1.0)],
      eigen: null,
    };
  }
  throw new Error(`unknown surface ${name}`);
}

const RULES = ["sgd", "sgd_momentum", "sgd_nesterov_momentum", "rmsprop", "adam"];

// The in-place steps of nndl_lab/optim.py on Float64Arrays (any length).
function newState(rule, n) {
  if (rule === "sgd") return {};
  if (rule === "sgd_momentum" || rule === "sgd_nesterov_momentum") {
    return { velocity: new Float64Array(n) };
  }
  if (rule === "rmsprop") return { a: new Float64Array(n) };
  return { v: new Float64Array(n), a: new Float64Array(n), t: 0 };
}

function step(rule, w, dw, config, state) {
  const n = w.length;
  const lr = config.learning_rate;
  if (rule === "sgd") {
    for (let i = 0; i < n; i++) w[i] -= lr * dw[i];
  } else if (rule === "sgd_momentum") {
    const v = state.velocity;
    const mu = config.momentum;
    for (let i = 0; i < n; i++) {
      v[i] *= mu;
      v[i] -= lr * dw[i];
      w[i] += v[i];
    }
  } else if (rule === "sgd_nesterov_momentum") {
    const v = state.velocity;
    const mu = config.momentum;
    const onePlus = 1.0 + mu;
    for (let i = 0; i < n; i++) {
      w[i] -= mu * v[i];
      v[i] *= mu;
      v[i] -= lr * dw[i];
      w[i] += onePlus * v[i];
    }
  } else if (rule === "rmsprop") {
    const a = state.a;
    const rho = config.decay_rate;
    const oneMinus = 1.0 - rho;
    const eps = config.epsilon;
    for (let i = 0; i < n; i++) {
      a[i] *= rho;
      a[i] += oneMinus * (dw[i] * dw[i]);
      let s = Math.sqrt(a[i]);
      s += eps;
      s = dw[i] / s;
      s *= lr;
      w[i] -= s;
    }
  } else {
    const b1 = config.beta1;
    const b2 = config.beta2;
    state.t += 1;
    const t = state.t;
    const first = state.v;
    const second = state.a;
    const c1 = 1.0 - b1;
    const c2 = 1.0 - b2;
    const correction2 = 1.0 - powInt(b2, t);
    const scale = lr / (1.0 - powInt(b1, t));
    const eps = config.epsilon;
    for (let i = 0; i < n; i++) {
      first[i] *= b1;
      first[i] += c1 * dw[i];
      second[i] *= b2;
      second[i] += c2 * (dw[i] * dw[i]);
      let s = second[i] / correction2;
      s = Math.sqrt(s);
      s += eps;
      s = first[i] / s;
      s *= scale;
      w[i] -= s;
    }
  }
}

// surfaces.path_configs
function pathConfigs(s) {
  return {
    sgd: { learning_rate: s.learning_rate },
    sgd_momentum: { learning_rate: s.learning_rate, momentum: s.momentum },
    sgd_nesterov_momentum: { learning_rate: s.learning_rate, momentum: s.momentum },
    rmsprop: {
      learning_rate: s.adaptive_learning_rate,
      decay_rate: s.decay_rate,
      epsilon: s.epsilon,
    },
    adam: {
      learning_rate: s.adaptive_learning_rate,
      beta1: s.beta1,
      beta2: s.beta2,
      epsilon: s.epsilon,
    },
  };
}

// surfaces.optimize_surface: path (2 (n + 1)), loss (n + 1), NaN from divergedAt on
function optimizeSurface(fns, rule, config, start, numSteps, noise, xi) {
  const path = new Float64Array(2 * (numSteps + 1)).fill(NaN);
  const loss = new Float64Array(numSteps + 1).fill(NaN);
  const w = new Float64Array([start[0], start[1]]);
  const g = new Float64Array(2);
  const state = newState(rule, 2);
  let divergedAt = null;
  for (let t = 0; t <= numSteps; t++) {
    const value = fns.f(w[0], w[1]);
    if (!(Number.isFinite(value) && Number.isFinite(w[0]) && Number.isFinite(w[1]))) {
      divergedAt = t;
      break;
    }
    path[2 * t] = w[0];
    path[2 * t + 1] = w[1];
    loss[t] = value;
    if (t < numSteps) {
      const grad = fns.grad(w[0], w[1]);
      g[0] = grad[0];
      g[1] = grad[1];
      if (noise > 0) {
        g[0] = g[0] + noise * xi[2 * t];
        g[1] = g[1] + noise * xi[2 * t + 1];
      }
      step(rule, w, g, config, state);
    }
  }
  return { path, loss, divergedAt };
}

// surfaces.surface_paths for a setting (the widget's traits)
function surfacePaths(s, rules) {
  const fns = surfaceFunctions(s.surface, s.kappa);
  const configs = pathConfigs(s);
  const xi = s.noise > 0 ? gradientNoise(s.seed, s.num_steps) : null;
  const runs = {};
  for (const rule of rules || RULES) {
    runs[rule] = optimizeSurface(fns, rule, configs[rule], s.start, s.num_steps, s.noise, xi);
  }
  return runs;
}

// rates.py
function coefficients(rule, lr, mu, lam) {
  const h = lr * lam;
  if (rule === "sgd_momentum") return [1.0 + mu - h, mu + 0.0 * h];
  const s = 1.0 - h;
  return [(1.0 + mu) * s, mu * s];
}

function largestRootModulus(b, c) {
  const disc = b * b - 4.0 * c;
  if (disc < 0.0) return Math.sqrt(c);
  return (Math.abs(b) + Math.sqrt(disc)) * 0.5;
}

function directionRate(rule, lr, mu, lam) {
  const [b, c] = coefficients(rule, lr, mu, lam);
  return largestRootModulus(b, c);
}

function worstCaseRate(rule, lr, mu, lambdaMin, lambdaMax) {
  const low = directionRate(rule, lr, mu, lambdaMin);
  const high = directionRate(rule, lr, mu, lambdaMax);
  return Number.isNaN(low) || Number.isNaN(high) ? NaN : Math.max(low, high);
}

function stabilityLimit(rule, mu, lambdaMax) {
  if (rule === "sgd_momentum") return (2.0 * (1.0 + mu)) / lambdaMax;
  return (2.0 * (1.0 + mu)) / ((1.0 + 2.0 * mu) * lambdaMax);
}

function criticalMomentum(rule, lr, lam) {
  const r = Math.sqrt(lr * lam);
  let mu;
  if (rule === "sgd_momentum") mu = (1.0 - r) * (1.0 - r);
  else mu = r < 1.0 ? (1.0 - r) / (1.0 + r) : NaN;
  return mu < 1.0 ? mu : NaN;
}

function optimalParameters(rule, lambdaMin, lambdaMax) {
  const kappa = lambdaMax / lambdaMin;
  if (rule === "sgd_momentum") {
    const root = Math.sqrt(kappa);
    const rate = (root - 1.0) / (root + 1.0);
    const rootSum = Math.sqrt(lambdaMax) + Math.sqrt(lambdaMin);
    return { learning_rate: 4.0 / (rootSum * rootSum), momentum: rate * rate, rate };
  }
  const q = Math.sqrt(3.0 * kappa + 1.0);
  return {
    learning_rate: 4.0 / (3.0 * lambdaMax + lambdaMin),
    momentum: (q - 2.0) / (q + 2.0),
    rate: 1.0 - 2.0 / q,
  };
}

// rates.rate_map: rows are momenta
function rateMap(rule, kappa, learningRates, momenta, lambdaMin = 1.0) {
  const out = [];
  for (const mu of momenta) {
    out.push(learningRates.map((lr) => worstCaseRate(rule, lr, mu, lambdaMin, kappa * lambdaMin)));
  }
  return out;
}

// rates.eigen_errors: rows t = 0..numSteps, one column per curvature
function eigenErrors(rule, lr, mu, curvatures, numSteps, start = 1.0) {
  const n = curvatures.length;
  const w = new Float64Array(n);
  for (let k = 0; k < n; k++) w[k] = Array.isArray(start) ? start[k] : start;
  const g = new Float64Array(n);
  const state = newState(rule, n);
  const config = { learning_rate: lr, momentum: mu };
  const rows = [Array.from(w)];
  for (let t = 1; t <= numSteps; t++) {
    for (let k = 0; k < n; k++) g[k] = curvatures[k] * w[k];
    step(rule, w, g, config, state);
    rows.push(Array.from(w));
  }
  return rows;
}

// ---------------------------------------------------------------------------
// Drawing

const COLORS = {
  sgd: "#1f77b4",
  sgd_momentum: "#ff7f0e",
  sgd_nesterov_momentum: "#2ca02c",
  rmsprop: "#d62728",
  adam: "#9467bd",
};
const LABELS = {
  sgd: "SGD",
  sgd_momentum: "momentum",
  sgd_nesterov_momentum: "Nesterov",
  rmsprop: "RMSProp",
  adam: "Adam",
};
const MAP_RULE_LABELS = { sgd_momentum: "heavy ball", sgd_nesterov_momentum: "Nesterov" };
const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const TITLE_FONT = "600 13px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
const MARGIN = { left: 62, right: 12, top: 24, bottom: 40 };

// viridis, 9 anchors
const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];
function viridis(u) {
  const x = Math.min(Math.max(u, 0), 1) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  const f = x - i;
  const a = VIRIDIS[i];
  const b = VIRIDIS[i + 1];
  return [a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])];
}

function niceTicks(lo, hi, count) {
  const span = hi - lo;
  if (!(span > 0)) return [lo];
  const raw = span / count;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const norm = raw / mag;
  const stepSize = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const ticks = [];
  for (let v = Math.ceil(lo / stepSize) * stepSize; v <= hi + 1e-9 * span; v += stepSize) {
    ticks.push(Math.abs(v) < 1e-12 * span ? 0 : v);
  }
  return ticks;
}

function fmt(v, digits = 3) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(Math.max(digits - 1, 0));
  return String(Number(v.toPrecision(digits)));
}

function setupCanvas(canvas, width, height) {
  const dpr = window.devicePixelRatio || 1;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}

class Frame {
  // a plot box inside a canvas with linear or log10 axes
  constructor(width, height, xRange, yRange, { xLog = false, yLog = false } = {}) {
    this.x0 = MARGIN.left;
    this.y0 = MARGIN.top;
    this.w = width - MARGIN.left - MARGIN.right;
    this.h = height - MARGIN.top - MARGIN.bottom;
    this.xRange = xRange;
    this.yRange = yRange;
    this.xLog = xLog;
    this.yLog = yLog;
  }
  px(x) {
    const v = this.xLog ? Math.log10(x) : x;
    return this.x0 + ((v - this.xRange[0]) / (this.xRange[1] - this.xRange[0])) * this.w;
  }
  py(y) {
    const v = this.yLog ? Math.log10(y) : y;
    return this.y0 + this.h - ((v - this.yRange[0]) / (this.yRange[1] - this.yRange[0])) * this.h;
  }
  fromPx(px, py) {
    const u = (px - this.x0) / this.w;
    const v = (this.y0 + this.h - py) / this.h;
    return [
      this.xRange[0] + u * (this.xRange[1] - this.xRange[0]),
      this.yRange[0] + v * (this.yRange[1] - this.yRange[0]),
    ];
  }
  inside(px, py) {
    return px >= this.x0 && px <= this.x0 + this.w && py >= this.y0 && py <= this.y0 + this.h;
  }
  clip(ctx) {
    ctx.beginPath();
    ctx.rect(this.x0, this.y0, this.w, this.h);
    ctx.clip();
  }
  axes(ctx, title, xLabel, yLabel) {
    ctx.save();
    ctx.strokeStyle = "#333";
    ctx.lineWidth = 1;
    ctx.strokeRect(this.x0 + 0.5, this.y0 + 0.5, this.w, this.h);
    ctx.fillStyle = "#222";
    ctx.font = FONT;
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    const xt = this.xLog ? logTicks(this.xRange) : niceTicks(this.xRange[0], this.xRange[1], 5);
    for (const v of xt) {
      const x = this.xLog ? this.x0 + ((v - this.xRange[0]) / (this.xRange[1] - this.xRange[0])) * this.w : this.px(v);
      ctx.fillRect(x, this.y0 + this.h, 1, 4);
      ctx.fillText(this.xLog ? `1e${v}` : fmt(v), x, this.y0 + this.h + 6);
    }
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    const yt = this.yLog ? logTicks(this.yRange) : niceTicks(this.yRange[0], this.yRange[1], 5);
    for (const v of yt) {
      const y = this.yLog
        ? this.y0 + this.h - ((v - this.yRange[0]) / (this.yRange[1] - this.yRange[0])) * this.h
        : this.py(v);
      ctx.fillRect(this.x0 - 4, y, 4, 1);
      ctx.fillText(this.yLog ? `1e${v}` : fmt(v), this.x0 - 6, y);
    }
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(xLabel, this.x0 + this.w / 2, this.y0 + this.h + 36);
    ctx.save();
    ctx.translate(4, this.y0 + this.h / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "top";
    ctx.fillText(yLabel, 0, 0);
    ctx.restore();
    ctx.font = TITLE_FONT;
    ctx.textAlign = "left";
    ctx.textBaseline = "bottom";
    ctx.fillText(title, this.x0, this.y0 - 6);
    ctx.restore();
  }
}

function logTicks(range) {
  const lo = Math.ceil(range[0]);
  const hi = Math.floor(range[1]);
  const every = Math.max(1, Math.ceil((hi - lo + 1) / 6));
  const ticks = [];
  for (let e = lo; e <= hi; e++) if ((e - lo) % every === 0) ticks.push(e);
  return ticks;
}

// ---------------------------------------------------------------------------
// Controls

// kind: "log" (slider on log10 v), "lin", "one-minus" (slider on -log10(1 - v)),
// "sqrt" (slider on sqrt v), "int"
const CONTROL_SPECS = {
  kappa: { label: "condition number κ", kind: "log", min: 1, max: 1000 },
  learning_rate: { label: "learning rate (SGD, momentum, Nesterov)", kind: "log", min: 1e-5, max: 1 },
  momentum: { label: "momentum μ", kind: "lin", min: 0, max: 0.999 },
  adaptive_learning_rate: { label: "learning rate (RMSProp, Adam)", kind: "log", min: 1e-4, max: 1 },
  decay_rate: { label: "RMSProp decay rate ρ", kind: "one-minus", min: 0, max: 0.9999 },
  beta1: { label: "Adam β₁", kind: "one-minus", min: 0, max: 0.9999 },
  beta2: { label: "Adam β₂", kind: "one-minus", min: 0, max: 0.9999 },
  epsilon: { label: "ε (RMSProp, Adam)", kind: "log", min: 1e-10, max: 1 },
  num_steps: { label: "steps", kind: "int", min: 1, max: 1000 },
  noise: { label: "gradient noise σ", kind: "sqrt", min: 0, max: 100 },
};
const PATH_CONTROLS = [
  "learning_rate",
  "momentum",
  "adaptive_learning_rate",
  "decay_rate",
  "beta1",
  "beta2",
  "epsilon",
  "num_steps",
  "noise",
];

function toSlider(spec, v) {
  if (spec.kind === "log") return Math.log10(v);
  if (spec.kind === "one-minus") return -Math.log10(1 - v);
  if (spec.kind === "sqrt") return Math.sqrt(v);
  return v;
}
function fromSlider(spec, p) {
  if (spec.kind === "log") return Math.pow(10, p);
  if (spec.kind === "one-minus") return 1 - Math.pow(10, -p);
  if (spec.kind === "sqrt") return p * p;
  if (spec.kind === "int") return Math.round(p);
  return p;
}
function sliderRange(spec) {
  if (spec.kind === "one-minus") return [0, -Math.log10(1 - spec.max)];
  return [toSlider(spec, spec.min), toSlider(spec, spec.max)];
}
function valueText(name, v) {
  if (name === "num_steps") return String(v);
  if (name === "decay_rate" || name === "beta1" || name === "beta2") {
    return v === 0 ? "0" : String(Number(v.toPrecision(Math.max(3, Math.ceil(-Math.log10(1 - v)) + 2))));
  }
  return fmt(v, 3);
}

// ---------------------------------------------------------------------------
// The view

// two panels side by side fit the book's text column (about 700 px)
const PATH_SIZE = [380, 290];
const LOSS_SIZE = [300, 290];
const MAP_SIZE = [390, 320];
const EIGEN_SIZE = [290, 320];

let uid = 0;

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.appendChild(c);
  return node;
}

class OptimizerPathsView {
  constructor(model, root) {
    this.model = model;
    this.root = root;
    this.id = `nndl-op-${++uid}`;
    this.redrawTimes = [];
    this.runs = null;
    this.pending = false;
    this.backgroundKey = null;
    this.mapKey = null;
    this.build();
  }

  get(name) {
    return this.model.get(name);
  }

  setting() {
    const s = {};
    for (const k of [
      "surface",
      "kappa",
      "learning_rate",
      "momentum",
      "adaptive_learning_rate",
      "decay_rate",
      "beta1",
      "beta2",
      "epsilon",
      "num_steps",
      "noise",
      "seed",
    ]) {
      s[k] = this.get(k);
    }
    const start = this.get("start");
    s.start = start && start.length === 2 ? start : this.surfaceInfo(s.surface).start;
    return s;
  }

  surfaceInfo(name) {
    return this.get("_surfaces")[name];
  }

  set(changes) {
    for (const [k, v] of Object.entries(changes)) this.model.set(k, v);
    this.model.save_changes();
  }

  build() {
    const panels = this.get("panels");
    this.panels = new Set(panels);
    const root = this.root;
    root.classList.add("nndl-optimizer-paths");
    root.nndlView = this;
    const controls = el("div", { class: "nndl-op-controls" });
    root.appendChild(controls);
    this.inputs = {};

    const hasPaths = this.panels.has("paths") || this.panels.has("loss");
    const hasMap = this.panels.has("map") || this.panels.has("eigen");
    if (hasPaths) {
      const select = el("select", { "aria-label": "surface", id: `${this.id}-surface` });
      for (const name of Object.keys(this.get("_surfaces"))) {
        select.appendChild(el("option", { value: name, text: this.surfaceInfo(name).label }));
      }
      select.addEventListener("change", () => {
        const name = select.value;
        this.set({ surface: name, start: this.surfaceInfo(name).start.slice() });
      });
      controls.appendChild(
        el("label", { class: "nndl-op-control", for: select.id }, [
          el("span", { class: "nndl-op-label", text: "surface" }),
          select,
        ]),
      );
      this.inputs.surface = select;
    }
    this.addSlider(controls, "kappa");
    // The rules this widget offers (its legend), and only the controls they use.
    this.available = RULES.filter((r) => this.get("rules").includes(r));
    const uses = {
      learning_rate: ["sgd", "sgd_momentum", "sgd_nesterov_momentum"],
      momentum: ["sgd_momentum", "sgd_nesterov_momentum"],
      adaptive_learning_rate: ["rmsprop", "adam"],
      decay_rate: ["rmsprop"],
      beta1: ["adam"],
      beta2: ["adam"],
      epsilon: ["rmsprop", "adam"],
    };
    const offered = (name) => hasMap && (name === "learning_rate" || name === "momentum")
      ? true
      : !uses[name] || uses[name].some((r) => this.available.includes(r));
    const names = hasPaths ? PATH_CONTROLS : ["learning_rate", "momentum", "num_steps"];
    for (const name of names) if (offered(name)) this.addSlider(controls, name);
    if (hasPaths) {
      const seed = el("input", {
        type: "number",
        min: "0",
        max: "4294967295",
        step: "1",
        "aria-label": "seed of the gradient noise",
        id: `${this.id}-seed`,
        class: "nndl-op-seed",
      });
      seed.addEventListener("input", () => {
        const v = Math.round(Number(seed.value));
        if (Number.isFinite(v) && v >= 0 && v <= 4294967295) this.set({ seed: v });
      });
      controls.appendChild(
        el("label", { class: "nndl-op-control", for: seed.id }, [
          el("span", { class: "nndl-op-label", text: "noise seed" }),
          seed,
        ]),
      );
      this.inputs.seed = seed;
    }
    if (hasMap) {
      const select = el("select", { "aria-label": "rule of the convergence map", id: `${this.id}-maprule` });
      for (const [value, text] of Object.entries(MAP_RULE_LABELS)) {
        select.appendChild(el("option", { value, text }));
      }
      select.addEventListener("change", () => this.set({ map_rule: select.value }));
      controls.appendChild(
        el("label", { class: "nndl-op-control", for: select.id }, [
          el("span", { class: "nndl-op-label", text: "map: rule" }),
          select,
        ]),
      );
      this.inputs.map_rule = select;
    }

    const figures = el("div", { class: "nndl-op-figures" });
    root.appendChild(figures);
    this.canvases = {};
    const addCanvas = (name, size, label) => {
      const wrap = el("figure", { class: `nndl-op-figure nndl-op-${name}` });
      wrap.style.width = `${size[0]}px`; // the legend and notes wrap within the plot's width
      const canvas = el("canvas", { tabindex: "0", role: "img", "aria-label": label });
      wrap.appendChild(canvas);
      figures.appendChild(wrap);
      this.canvases[name] = { canvas, size, ctx: setupCanvas(canvas, size[0], size[1]), wrap };
      return wrap;
    };
    const makers = {
      paths: () => {
        const wrap = addCanvas(
          "paths",
          PATH_SIZE,
          "paths of the update rules over the contours of the loss; drag or click to move the start, arrow keys move it",
        );
        this.legend = el("div", { class: "nndl-op-legend", role: "group", "aria-label": "rules shown" });
        for (const rule of this.available) {
          const id = `${this.id}-rule-${rule}`;
          const box = el("input", { type: "checkbox", id, "data-rule": rule, "aria-label": `show ${LABELS[rule]}` });
          box.addEventListener("change", () => {
            const shown = this.available.filter((r) =>
              r === rule ? box.checked : this.get("rules").includes(r),
            );
            this.set({ rules: shown });
          });
          const swatch = el("span", { class: "nndl-op-swatch" });
          swatch.style.background = COLORS[rule];
          this.legend.appendChild(
            el("label", { for: id, class: "nndl-op-legend-item" }, [box, swatch, el("span", { text: LABELS[rule] })]),
          );
        }
        wrap.appendChild(this.legend);
        wrap.appendChild(
          el("div", {
            class: "nndl-op-note",
            text: "drag or click on the contours to move the start □ (arrow keys when the plot has the focus) · ★ minimum · the boxes show or hide a rule",
          }),
        );
        this.attachStartDrag();
      },
      loss: () => addCanvas("loss", LOSS_SIZE, "loss per step of each rule, log scale"),
      map: () => {
        const wrap = addCanvas(
          "map",
          MAP_SIZE,
          "convergence rate over learning rate and momentum; click to choose them, arrow keys move the choice",
        );
        wrap.appendChild(
          el("div", {
            class: "nndl-op-note",
            text: "white: diverges · solid line: stability limit · dotted: critical damping of the flattest and steepest directions · ★ optimum · ○ current setting (click to move it)",
          }),
        );
        this.attachMapClick();
      },
      eigen: () => addCanvas("eigen", EIGEN_SIZE, "error along each eigen-direction over the steps, log scale"),
    };
    for (const name of panels) makers[name]();
    this.messages = el("div", { class: "nndl-op-messages", "aria-live": "polite" });
    root.appendChild(this.messages);
    this.timing = el("div", { class: "nndl-op-timing" });
    root.appendChild(this.timing);

    const traits = [
      "surface",
      "kappa",
      "learning_rate",
      "momentum",
      "adaptive_learning_rate",
      "decay_rate",
      "beta1",
      "beta2",
      "epsilon",
      "num_steps",
      "noise",
      "seed",
      "start",
      "rules",
      "map_rule",
    ];
    this.onChange = () => this.schedule();
    for (const t of traits) this.model.on(`change:${t}`, this.onChange);
    this.syncInputs();
    this.redraw();
  }

  destroy() {
    const traits = Object.keys(CONTROL_SPECS).concat(["surface", "seed", "start", "rules", "map_rule"]);
    for (const t of traits) this.model.off(`change:${t}`, this.onChange);
  }

  addSlider(parent, name) {
    const spec = CONTROL_SPECS[name];
    const [lo, hi] = sliderRange(spec);
    const id = `${this.id}-${name}`;
    const input = el("input", {
      type: "range",
      min: String(lo),
      max: String(hi),
      step: spec.kind === "int" ? "1" : "any",
      id,
      "aria-label": spec.label,
      "data-trait": name,
    });
    const readout = el("output", { for: id, class: "nndl-op-readout" });
    input.addEventListener("input", () => {
      const v = fromSlider(spec, Number(input.value));
      this.set({ [name]: v });
    });
    // Arrow keys move by 1/200 of the track, Page Up/Down by 1/20 (a step="any"
    // slider has no step of its own), Home/End to the ends.
    input.addEventListener("keydown", (event) => {
      const span = hi - lo;
      const moves = {
        ArrowRight: span / 200,
        ArrowUp: span / 200,
        ArrowLeft: -span / 200,
        ArrowDown: -span / 200,
        PageUp: span / 20,
        PageDown: -span / 20,
      };
      let p;
      if (event.key in moves) p = Number(input.value) + moves[event.key];
      else if (event.key === "Home") p = lo;
      else if (event.key === "End") p = hi;
      else return;
      event.preventDefault();
      if (spec.kind === "int") p = Number(input.value) + Math.sign(p - Number(input.value)) * Math.max(1, Math.round(Math.abs(p - Number(input.value))));
      input.value = String(Math.min(hi, Math.max(lo, p)));
      this.set({ [name]: fromSlider(spec, Number(input.value)) });
    });
    parent.appendChild(
      el("label", { class: "nndl-op-control", for: id }, [
        el("span", { class: "nndl-op-label", text: spec.label }),
        input,
        readout,
      ]),
    );
    this.inputs[name] = { input, readout, spec };
  }

  syncInputs() {
    for (const [name, item] of Object.entries(this.inputs)) {
      const v = this.get(name);
      if (name === "surface" || name === "map_rule") {
        if (item.value !== v) item.value = v;
        continue;
      }
      if (name === "seed") {
        if (document.activeElement !== item) item.value = String(v);
        continue;
      }
      const { input, readout, spec } = item;
      // leave the slider where the reader put it if it already means this value
      if (fromSlider(spec, Number(input.value)) !== v) input.value = String(toSlider(spec, v));
      const text = valueText(name, v);
      readout.textContent = text;
      input.setAttribute("aria-valuetext", `${spec.label} ${text}`);
    }
    if (this.legend) {
      const shown = this.get("rules");
      for (const box of this.legend.querySelectorAll("input[data-rule]")) {
        box.checked = shown.includes(box.dataset.rule);
      }
    }
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.redraw();
    });
  }

  redraw() {
    const t0 = performance.now();
    this.syncInputs();
    const s = this.setting();
    const notes = [];
    if (this.panels.has("paths") || this.panels.has("loss")) {
      this.runs = surfacePaths(s, this.available);
      const shown = this.get("rules");
      for (const rule of this.available) {
        const run = this.runs[rule];
        if (shown.includes(rule) && run.divergedAt !== null) {
          notes.push(`${LABELS[rule]} diverged at step ${run.divergedAt}`);
        }
      }
      if (this.panels.has("paths")) this.drawPaths(s, shown);
      if (this.panels.has("loss")) this.drawLoss(s, shown);
    }
    if (this.panels.has("map")) this.drawMap(s);
    if (this.panels.has("eigen")) this.drawEigen(s);
    this.messages.textContent = notes.join("; ");
    const ms = performance.now() - t0;
    this.redrawTimes.push(ms);
    if (this.redrawTimes.length > 200) this.redrawTimes.shift();
    this.root.dataset.redrawMs = ms.toFixed(3);
    this.redraws = (this.redraws || 0) + 1;
    this.root.dataset.redraws = String(this.redraws);
    this.timing.textContent = `computed and drawn in the page in ${ms.toFixed(1)} ms`;
    return ms;
  }

  // -- paths panel --------------------------------------------------------
  pathFrame(s) {
    const info = this.surfaceInfo(s.surface);
    return new Frame(PATH_SIZE[0], PATH_SIZE[1], info.xlim, info.ylim);
  }

  background(s, frame) {
    const key = `${s.surface}|${s.kappa}`;
    if (this.backgroundKey === key) return this.backgroundCanvas;
    const fns = surfaceFunctions(s.surface, s.kappa);
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(frame.w * dpr);
    const h = Math.round(frame.h * dpr);
    const off = document.createElement("canvas");
    off.width = w;
    off.height = h;
    const ctx = off.getContext("2d");
    const image = ctx.createImageData(w, h);
    const info = this.surfaceInfo(s.surface);
    const [lo, hi] = info.log_levels;
    const bands = 14;
    const level = new Int16Array(w * h);
    for (let j = 0; j < h; j++) {
      const y = info.ylim[1] - ((j + 0.5) / h) * (info.ylim[1] - info.ylim[0]);
      for (let i = 0; i < w; i++) {
        const x = info.xlim[0] + ((i + 0.5) / w) * (info.xlim[1] - info.xlim[0]);
        const v = Math.log10(Math.max(fns.f(x, y), 1e-300));
        level[j * w + i] = Math.max(-1, Math.min(bands, Math.floor(((v - lo) / (hi - lo)) * bands)));
      }
    }
    for (let j = 0; j < h; j++) {
      for (let i = 0; i < w; i++) {
        const k = j * w + i;
        const b = level[k];
        const edge =
          (i + 1 < w && level[k + 1] !== b) || (j + 1 < h && level[k + w] !== b);
        const u = (b + 1) / (bands + 1);
        // light blue (low) to light warm grey (high)
        let r = 235 + 15 * u;
        let g = 242 - 4 * u;
        let bl = 252 - 30 * u;
        if (edge) {
          r = 160;
          g = 165;
          bl = 175;
        }
        image.data[4 * k] = r;
        image.data[4 * k + 1] = g;
        image.data[4 * k + 2] = bl;
        image.data[4 * k + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    this.backgroundKey = key;
    this.backgroundCanvas = off;
    return off;
  }

  drawPaths(s, shown) {
    const { ctx, size } = this.canvases.paths;
    const frame = this.pathFrame(s);
    this.pathFrameCache = frame;
    ctx.clearRect(0, 0, size[0], size[1]);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size[0], size[1]);
    ctx.drawImage(this.background(s, frame), frame.x0, frame.y0, frame.w, frame.h);
    const info = this.surfaceInfo(s.surface);
    ctx.save();
    frame.clip(ctx);
    for (const rule of this.available) {
      if (!shown.includes(rule)) continue;
      const { path, divergedAt } = this.runs[rule];
      const n = divergedAt === null ? path.length / 2 : divergedAt;
      ctx.strokeStyle = COLORS[rule];
      ctx.fillStyle = COLORS[rule];
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      for (let t = 0; t < n; t++) {
        const x = Math.max(-1e6, Math.min(1e6, frame.px(path[2 * t])));
        const y = Math.max(-1e6, Math.min(1e6, frame.py(path[2 * t + 1])));
        if (t === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      }
      ctx.stroke();
      if (n <= 400) {
        // one path of small squares per rule: a single fill, not one call per step
        ctx.beginPath();
        for (let t = 1; t < n; t++) {
          const x = frame.px(path[2 * t]);
          const y = frame.py(path[2 * t + 1]);
          if (x > -10 && x < PATH_SIZE[0] + 10 && y > -10 && y < PATH_SIZE[1] + 10) {
            ctx.rect(x - 1.25, y - 1.25, 2.5, 2.5);
          }
        }
        ctx.fill();
      }
    }
    // minimum and start
    ctx.fillStyle = "#000";
    ctx.font = "16px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText("★", frame.px(info.minimum[0]), frame.py(info.minimum[1]));
    const sx = frame.px(s.start[0]);
    const sy = frame.py(s.start[1]);
    ctx.fillStyle = "#fff";
    ctx.fillRect(sx - 6, sy - 6, 12, 12);
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 2;
    ctx.strokeRect(sx - 5, sy - 5, 10, 10);
    ctx.restore();
    frame.axes(ctx, `${info.label}: paths from □`, "w₀", "w₁");
    this.canvases.paths.canvas.setAttribute(
      "aria-label",
      `paths of the update rules on the ${info.label}, start (${fmt(s.start[0])}, ${fmt(s.start[1])}); drag or click to move the start, arrow keys move it`,
    );
  }

  attachStartDrag() {
    const { canvas } = this.canvases.paths;
    let dragging = false;
    const move = (event) => {
      const frame = this.pathFrameCache;
      if (!frame) return;
      const rect = canvas.getBoundingClientRect();
      const px = event.clientX - rect.left;
      const py = event.clientY - rect.top;
      const [x, y] = frame.fromPx(
        Math.max(frame.x0, Math.min(frame.x0 + frame.w, px)),
        Math.max(frame.y0, Math.min(frame.y0 + frame.h, py)),
      );
      this.set({ start: [x, y] });
    };
    canvas.addEventListener("pointerdown", (event) => {
      const frame = this.pathFrameCache;
      const rect = canvas.getBoundingClientRect();
      if (!frame || !frame.inside(event.clientX - rect.left, event.clientY - rect.top)) return;
      dragging = true;
      canvas.setPointerCapture(event.pointerId);
      move(event);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (dragging) move(event);
    });
    const end = (event) => {
      if (!dragging) return;
      dragging = false;
      if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("keydown", (event) => {
      const keys = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] };
      const d = keys[event.key];
      if (!d) return;
      event.preventDefault();
      const s = this.setting();
      const info = this.surfaceInfo(s.surface);
      const factor = event.shiftKey ? 0.1 : 0.02;
      const x = s.start[0] + d[0] * factor * (info.xlim[1] - info.xlim[0]);
      const y = s.start[1] + d[1] * factor * (info.ylim[1] - info.ylim[0]);
      this.set({
        start: [
          Math.max(info.xlim[0], Math.min(info.xlim[1], x)),
          Math.max(info.ylim[0], Math.min(info.ylim[1], y)),
        ],
      });
    });
  }

  // -- loss panel ---------------------------------------------------------
  drawLoss(s, shown) {
    const { ctx, size } = this.canvases.loss;
    ctx.clearRect(0, 0, size[0], size[1]);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size[0], size[1]);
    let lo = Infinity;
    let hi = -Infinity;
    let first = 0;
    for (const rule of shown) {
      if (!this.runs[rule]) continue;
      const { loss } = this.runs[rule];
      if (loss[0] > 0) first = Math.max(first, loss[0]);
      for (const v of loss) {
        if (v > 0 && Number.isFinite(v)) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
      }
    }
    if (!Number.isFinite(lo)) {
      lo = 1e-3;
      hi = 1;
    }
    lo = Math.max(lo, first * 1e-16, 1e-300);
    hi = Math.min(hi, first * 1e6 || hi);
    let yr = [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
    if (yr[1] - yr[0] < 2) yr = [yr[0] - 1, yr[1] + 1];
    const frame = new Frame(size[0], size[1], [0, s.num_steps], yr, { yLog: true });
    ctx.save();
    frame.clip(ctx);
    for (const rule of this.available) {
      if (!shown.includes(rule)) continue;
      const { loss } = this.runs[rule];
      ctx.strokeStyle = COLORS[rule];
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      let pen = false;
      for (let t = 0; t < loss.length; t++) {
        const v = loss[t];
        if (!(v > 0 && Number.isFinite(v))) {
          pen = false;
          continue;
        }
        const x = frame.px(t);
        const y = Math.max(-1e6, Math.min(1e6, frame.py(v)));
        if (pen) ctx.lineTo(x, y);
        else ctx.moveTo(x, y);
        pen = true;
      }
      ctx.stroke();
    }
    ctx.restore();
    frame.axes(ctx, "loss per step", "step", "loss (log scale)");
  }

  // -- convergence map ----------------------------------------------------
  mapRanges(s) {
    return { lr: [0, 4.0 / s.kappa], mu: [0, 1] };
  }

  mapImage(s, frame) {
    const rule = this.get("map_rule");
    const key = `${rule}|${s.kappa}`;
    if (this.mapKey === key) return this.mapCanvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(frame.w * dpr);
    const h = Math.round(frame.h * dpr);
    const off = document.createElement("canvas");
    off.width = w;
    off.height = h;
    const ctx = off.getContext("2d");
    const image = ctx.createImageData(w, h);
    const { lr, mu } = this.mapRanges(s);
    for (let j = 0; j < h; j++) {
      const m = mu[1] - ((j + 0.5) / h) * (mu[1] - mu[0]);
      for (let i = 0; i < w; i++) {
        const l = lr[0] + ((i + 0.5) / w) * (lr[1] - lr[0]);
        const r = worstCaseRate(rule, l, m, 1.0, s.kappa);
        const k = 4 * (j * w + i);
        if (!(r < 1)) {
          image.data[k] = 255;
          image.data[k + 1] = 255;
          image.data[k + 2] = 255;
        } else {
          const c = viridis(rateColor(r));
          image.data[k] = c[0];
          image.data[k + 1] = c[1];
          image.data[k + 2] = c[2];
        }
        image.data[k + 3] = 255;
      }
    }
    ctx.putImageData(image, 0, 0);
    this.mapKey = key;
    this.mapCanvas = off;
    return off;
  }

  drawMap(s) {
    const { ctx, size } = this.canvases.map;
    const rule = this.get("map_rule");
    const colorbar = 72;
    ctx.clearRect(0, 0, size[0], size[1]);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size[0], size[1]);
    const { lr, mu } = this.mapRanges(s);
    const frame = new Frame(size[0] - colorbar, size[1], lr, mu);
    this.mapFrame = frame;
    ctx.drawImage(this.mapImage(s, frame), frame.x0, frame.y0, frame.w, frame.h);
    ctx.save();
    frame.clip(ctx);
    // stability limit
    ctx.strokeStyle = "#000";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    for (let j = 0; j <= 100; j++) {
      const m = (j / 100) * 0.9999;
      const x = frame.px(stabilityLimit(rule, m, s.kappa));
      if (j === 0) ctx.moveTo(x, frame.py(m));
      else ctx.lineTo(x, frame.py(m));
    }
    ctx.stroke();
    // critical damping of the flattest (1) and steepest (kappa) directions
    ctx.setLineDash([2, 3]);
    ctx.strokeStyle = "#fff";
    for (const lam of [1.0, s.kappa]) {
      ctx.beginPath();
      let pen = false;
      for (let i = 0; i <= 300; i++) {
        const l = lr[0] + (i / 300) * (lr[1] - lr[0]);
        const m = criticalMomentum(rule, l, lam);
        if (Number.isNaN(m)) {
          pen = false;
          continue;
        }
        if (pen) ctx.lineTo(frame.px(l), frame.py(m));
        else ctx.moveTo(frame.px(l), frame.py(m));
        pen = true;
      }
      ctx.stroke();
    }
    ctx.setLineDash([]);
    // optimum and current setting
    const best = optimalParameters(rule, 1.0, s.kappa);
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = "#000";
    ctx.font = "18px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.lineWidth = 3;
    ctx.strokeText("★", frame.px(best.learning_rate), frame.py(best.momentum));
    ctx.fillText("★", frame.px(best.learning_rate), frame.py(best.momentum));
    const cx = frame.px(s.learning_rate);
    const cy = frame.py(s.momentum);
    ctx.lineWidth = 2.5;
    ctx.strokeStyle = "#fff";
    ctx.beginPath();
    ctx.arc(cx, cy, 6, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = "#d62728";
    ctx.beginPath();
    ctx.arc(cx, cy, 6, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.restore();
    const rate = worstCaseRate(rule, s.learning_rate, s.momentum, 1.0, s.kappa);
    frame.axes(
      ctx,
      `${MAP_RULE_LABELS[rule]}, κ = ${fmt(s.kappa)}: rate ${rate < 1 ? fmt(rate, 4) : "≥ 1"} (best ${fmt(best.rate, 4)})`,
      "learning rate η (eigenvalues 1 … κ)",
      "momentum μ",
    );
    // colour bar
    const bx = size[0] - colorbar + 8;
    const by = frame.y0;
    const bh = frame.h;
    const gradient = ctx.createLinearGradient(0, by, 0, by + bh);
    for (let k = 0; k <= 16; k++) {
      const c = viridis(1 - k / 16);
      gradient.addColorStop(k / 16, `rgb(${c[0]},${c[1]},${c[2]})`);
    }
    ctx.fillStyle = gradient;
    ctx.fillRect(bx, by, 12, bh);
    ctx.strokeStyle = "#333";
    ctx.strokeRect(bx + 0.5, by + 0.5, 12, bh);
    ctx.fillStyle = "#222";
    ctx.font = FONT;
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    for (const r of [0, 0.9, 0.99, 0.999]) {
      const y = by + (1 - rateColor(r)) * bh;
      ctx.fillRect(bx + 12, y, 3, 1);
      ctx.fillText(String(r), bx + 16, Math.min(Math.max(y, by + 6), by + bh - 6));
    }
    ctx.save();
    ctx.translate(size[0] - 4, by + bh / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText("rate r", 0, 0);
    ctx.restore();
    this.canvases.map.canvas.setAttribute(
      "aria-label",
      `convergence map of ${MAP_RULE_LABELS[rule]} for condition number ${fmt(s.kappa)}: at learning rate ${fmt(s.learning_rate)} and momentum ${fmt(s.momentum)} the rate is ${fmt(rate, 4)}; click to choose, arrow keys move the choice`,
    );
  }

  attachMapClick() {
    const { canvas } = this.canvases.map;
    let dragging = false;
    const choose = (event) => {
      const frame = this.mapFrame;
      const rect = canvas.getBoundingClientRect();
      const px = Math.max(frame.x0, Math.min(frame.x0 + frame.w, event.clientX - rect.left));
      const py = Math.max(frame.y0, Math.min(frame.y0 + frame.h, event.clientY - rect.top));
      const [l, m] = frame.fromPx(px, py);
      this.set({ learning_rate: Math.max(l, 1e-12), momentum: Math.min(Math.max(m, 0), 0.999) });
    };
    canvas.addEventListener("pointerdown", (event) => {
      const frame = this.mapFrame;
      const rect = canvas.getBoundingClientRect();
      if (!frame || !frame.inside(event.clientX - rect.left, event.clientY - rect.top)) return;
      dragging = true;
      canvas.setPointerCapture(event.pointerId);
      choose(event);
      event.preventDefault();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (dragging) choose(event);
    });
    const end = (event) => {
      dragging = false;
      if (canvas.hasPointerCapture(event.pointerId)) canvas.releasePointerCapture(event.pointerId);
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("keydown", (event) => {
      const s = this.setting();
      const { lr } = this.mapRanges(s);
      const f = event.shiftKey ? 0.1 : 0.01;
      let l = s.learning_rate;
      let m = s.momentum;
      if (event.key === "ArrowLeft") l -= f * lr[1];
      else if (event.key === "ArrowRight") l += f * lr[1];
      else if (event.key === "ArrowUp") m += f;
      else if (event.key === "ArrowDown") m -= f;
      else return;
      event.preventDefault();
      this.set({ learning_rate: Math.max(l, 1e-12), momentum: Math.min(Math.max(m, 0), 0.999) });
    });
  }

  // -- error per eigen-direction ------------------------------------------
  drawEigen(s) {
    const { ctx, size } = this.canvases.eigen;
    const rule = this.get("map_rule");
    ctx.clearRect(0, 0, size[0], size[1]);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size[0], size[1]);
    const lams = [1.0, s.kappa];
    const errors = eigenErrors(rule, s.learning_rate, s.momentum, lams, s.num_steps);
    this.eigen = errors;
    const frame = new Frame(size[0], size[1] - 26, [0, s.num_steps], [-8, 1], { yLog: true });
    const colors = ["#1b9e77", "#7570b3"];
    ctx.save();
    frame.clip(ctx);
    const floor = 1e-9;
    const ceil = 1e2;
    lams.forEach((lam, k) => {
      ctx.strokeStyle = colors[k];
      ctx.lineWidth = 1.6;
      ctx.beginPath();
      for (let t = 0; t < errors.length; t++) {
        const v = Math.abs(errors[t][k]);
        const y = frame.py(Math.min(Math.max(Number.isFinite(v) ? v : ceil, floor), ceil));
        if (t === 0) ctx.moveTo(frame.px(t), y);
        else ctx.lineTo(frame.px(t), y);
      }
      ctx.stroke();
    });
    const rate = worstCaseRate(rule, s.learning_rate, s.momentum, 1.0, s.kappa);
    if (rate > 0 && rate < 1) {
      ctx.setLineDash([5, 4]);
      ctx.strokeStyle = "#444";
      ctx.beginPath();
      ctx.moveTo(frame.px(0), frame.py(1));
      const tEnd = Math.min(s.num_steps, -9 / Math.log10(rate));
      ctx.lineTo(frame.px(tEnd), frame.py(Math.pow(rate, tEnd)));
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.restore();
    frame.axes(ctx, "error per eigen-direction", "step", "|error| (log scale)");
    // legend below the plot
    ctx.font = FONT;
    ctx.textBaseline = "middle";
    ctx.textAlign = "left";
    let x = frame.x0;
    const y = size[1] - 10;
    const entries = [
      [colors[0], "λ = 1", false],
      [colors[1], `λ = κ = ${fmt(s.kappa)}`, false],
      ["#444", "rateᵗ", true],
    ];
    for (const [color, text, dashed] of entries) {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.setLineDash(dashed ? [5, 4] : []);
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(x + 16, y);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#222";
      ctx.fillText(text, x + 20, y);
      x += 30 + ctx.measureText(text).width;
    }
  }
}

// colour position of a rate: -log10(1 - r) / 3, so 0.9, 0.99, 0.999 are evenly spaced
function rateColor(r) {
  return Math.min(Math.max(-Math.log10(1 - Math.min(r, 0.999999)) / 3, 0), 1);
}

const api = {
  RULES,
  hash32,
  gradientNoise,
  powInt,
  surfacePaths,
  directionRate,
  worstCaseRate,
  stabilityLimit,
  criticalMomentum,
  optimalParameters,
  rateMap,
  eigenErrors,
};

function render({ model, el: root }) {
  window.nndlOptimizerPaths = api;
  const view = new OptimizerPathsView(model, root);
  return () => view.destroy();
}

export { api };
export default { render };
