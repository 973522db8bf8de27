// Loads the module and the digits, trains step by step (one per animation
// frame, so the page stays responsive) and shows what is learned as it
// learns: the loss terms per step, the test digits' representations on
// their first two principal components coloured by label, and a 5-shot
// accuracy (nearest class mean of 5 labelled training digits per class).
// When the run's steps are done, window.vicregResult holds its figures.
const BATCH = 128, INPUT = 64, SHOTS = 5, EVERY = 20;
// The representation's width: the chosen encoder's (32 for the MLP, 64 for the CNN).
let repr = 32;
// The loss's coefficients (λ, μ, ν): the chart, the status line and the
// command-line jobs all show the weighted terms, which add up to the loss.
const NAMES = ["loss", "λ·invariance", "μ·variance", "ν·covariance"];
// The same colour for each term as the jobs' SVG charts give it.
const COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"];
const DIGIT_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
  "#bcbd22", "#17becf"];

const $ = (id) => document.getElementById(id);
const status = $("status"), fewShot = $("few-shot");

const [{ instance }, csv] = await Promise.all([
  WebAssembly.instantiateStreaming(fetch("vicreg_wasm.wasm"), {}),
  fetch("digits.csv").then((r) => r.text()),
]);
const m = instance.exports;
const rows = csv.trim().split("\n").slice(1).map((l) => {
  const f = l.split(",");
  return { train: f[0] === "train", label: Number(f[1]), pixels: Float32Array.from(f.slice(2), (p) => Number(p) / 16) };
});
const train = rows.filter((r) => r.train), test = rows.filter((r) => !r.train);

let history = [], step = 0, steps = 0, order = [], shots = [], started = 0, run = 0;
let accuracy = { before: NaN, now: NaN };

// A small LCG: the page needs a reproducible order per seed, not cryptography.
function lcg(seed) {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0);
}

function shuffle(seed) {
  const next = lcg(seed);
  order = train.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  // The labelled examples: the first SHOTS training digits of each class in
  // this order.
  shots = [];
  for (let c = 0; c < 10; c++) shots.push(...order.filter((i) => train[i].label === c).slice(0, SHOTS));
}

// The representations of `samples`, BATCH at a time, as arrays of `repr`.
function represent(samples) {
  const out = [];
  for (let at = 0; at < samples.length; at += BATCH) {
    const chunk = samples.slice(at, at + BATCH);
    const input = new Float32Array(m.memory.buffer, m.vicreg_input(), BATCH * INPUT);
    chunk.forEach((s, r) => input.set(s.pixels, r * INPUT));
    const code = m.vicreg_represent(chunk.length);
    if (code !== 0) throw new Error(`vicreg_represent returned ${code}`);
    const y = new Float32Array(m.memory.buffer, m.vicreg_output(), BATCH * repr);
    for (let r = 0; r < chunk.length; r++) out.push(Array.from(y.subarray(r * repr, (r + 1) * repr)));
  }
  return out;
}

// Nearest class mean of the labelled examples' representations.
function fewShotAccuracy(testRepr) {
  const means = Array.from({ length: 10 }, () => new Array(repr).fill(0));
  represent(shots.map((i) => train[i])).forEach((y, k) => {
    const c = train[shots[k]].label;
    y.forEach((v, j) => (means[c][j] += v / SHOTS));
  });
  let correct = 0;
  testRepr.forEach((y, k) => {
    let best = 0, bestDistance = Infinity;
    means.forEach((mu, c) => {
      const d = mu.reduce((s, v, j) => s + (v - y[j]) ** 2, 0);
      if (d < bestDistance) [best, bestDistance] = [c, d];
    });
    correct += best === test[k].label ? 1 : 0;
  });
  return correct / test.length;
}

// The first two principal components (power iteration with deflation).
function pca(points) {
  const n = points.length, d = points[0].length;
  const mean = new Array(d).fill(0);
  points.forEach((p) => p.forEach((v, j) => (mean[j] += v / n)));
  const c = points.map((p) => p.map((v, j) => v - mean[j]));
  const cov = Array.from({ length: d }, (_, j) => Array.from({ length: d }, (_, k) => c.reduce((s, p) => s + p[j] * p[k], 0)));
  const mul = (v) => cov.map((row) => row.reduce((s, x, k) => s + x * v[k], 0));
  const axes = [];
  for (let a = 0; a < 2; a++) {
    let v = Array.from({ length: d }, (_, j) => 1 + ((j * 0.618) % 1));
    for (let it = 0; it < 200; it++) {
      let w = mul(v);
      axes.forEach((u) => { const dot = w.reduce((s, x, j) => s + x * u[j], 0); w = w.map((x, j) => x - dot * u[j]); });
      const norm = Math.hypot(...w) || 1;
      v = w.map((x) => x / norm);
    }
    axes.push(v);
  }
  return c.map((p) => axes.map((u) => p.reduce((s, x, j) => s + x * u[j], 0)));
}

// Axes with ticks: a frame, nice round tick values, and their labels.
function axes(ctx, box, [x0, x1], [y0, y1], xLabel, yLabel) {
  const { left, top, width, height } = box;
  const tick = (lo, hi) => {
    const raw = (hi - lo) / 5, p = 10 ** Math.floor(Math.log10(raw || 1));
    const stepSize = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw) ?? raw;
    const out = [];
    for (let v = Math.ceil(lo / stepSize) * stepSize; v <= hi + 1e-9; v += stepSize) out.push(Number(v.toPrecision(6)));
    return out;
  };
  ctx.strokeStyle = "#444";
  ctx.lineWidth = 1;
  ctx.strokeRect(left, top, width, height);
  ctx.fillStyle = "#333";
  ctx.font = "11px sans-serif";
  ctx.textAlign = "center";
  for (const v of tick(x0, x1)) {
    const x = left + (width * (v - x0)) / (x1 - x0 || 1);
    ctx.beginPath(); ctx.moveTo(x, top + height); ctx.lineTo(x, top + height + 4); ctx.stroke();
    ctx.fillText(String(v), x, top + height + 15);
  }
  ctx.textAlign = "right";
  for (const v of tick(y0, y1)) {
    const y = top + height - (height * (v - y0)) / (y1 - y0 || 1);
    ctx.beginPath(); ctx.moveTo(left - 4, y); ctx.lineTo(left, y); ctx.stroke();
    ctx.fillText(String(v), left - 6, y + 4);
  }
  ctx.textAlign = "center";
  ctx.font = "12px sans-serif";
  ctx.fillText(xLabel, left + width / 2, top + height + 32);
  ctx.save();
  ctx.translate(14, top + height / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(yLabel, 0, 0);
  ctx.restore();
}

function drawLoss() {
  const canvas = $("loss"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const box = { left: 56, top: 12, width: canvas.width - 72, height: canvas.height - 56 };
  const max = Math.max(1, ...history.flat()) * 1.05;
  axes(ctx, box, [1, Math.max(2, steps)], [0, max], "step", "weighted term");
  history[0] && COLOURS.forEach((colour, k) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((t, i) => {
      const x = box.left + (box.width * i) / Math.max(1, steps - 1);
      const y = box.top + box.height - (box.height * t[k]) / max;
      i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}

function drawProjection(points) {
  const canvas = $("projection"), ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const box = { left: 56, top: 12, width: canvas.width - 72, height: canvas.height - 56 };
  const range = (k) => {
    const v = points.map((p) => p[k]), lo = Math.min(...v), hi = Math.max(...v), pad = 0.05 * (hi - lo || 1);
    return [lo - pad, hi + pad];
  };
  const [xr, yr] = [range(0), range(1)];
  axes(ctx, box, xr, yr, "principal component 1", "principal component 2");
  points.forEach(([px, py], k) => {
    ctx.fillStyle = DIGIT_COLOURS[test[k].label];
    const x = box.left + (box.width * (px - xr[0])) / (xr[1] - xr[0]);
    const y = box.top + box.height - (box.height * (py - yr[0])) / (yr[1] - yr[0]);
    ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 2 * Math.PI); ctx.fill();
  });
}

// Measures what the representation has learned: projection and accuracy.
function evaluate() {
  const testRepr = represent(test);
  drawProjection(pca(testRepr));
  accuracy.now = fewShotAccuracy(testRepr);
  if (Number.isNaN(accuracy.before)) accuracy.before = accuracy.now;
  fewShot.textContent = `${SHOTS}-shot accuracy on the ${test.length} test digits (nearest class mean): ` +
    `${accuracy.now.toFixed(3)} at step ${step} (${accuracy.before.toFixed(3)} before training)`;
}

function frame(thisRun) {
  if (thisRun !== run) return;
  const input = new Float32Array(m.memory.buffer, m.vicreg_input(), BATCH * INPUT);
  for (let r = 0; r < BATCH; r++) input.set(train[order[(step * BATCH + r) % order.length]].pixels, r * INPUT);
  const code = m.vicreg_step(BATCH);
  if (code !== 0) {
    status.textContent = `step ${step + 1} failed (code ${code}): try a smaller learning rate`;
    window.vicregResult = { error: code };
    return;
  }
  // The weighted terms, as the module computes them: they add up to the loss.
  history.push(Array.from(new Float32Array(m.memory.buffer, m.vicreg_weighted_terms(), 4)));
  step++;
  drawLoss();
  if (step % EVERY === 0 || step === steps) evaluate();
  const w = history.at(-1).map((v) => v.toFixed(3));
  const rate = step / ((performance.now() - started) / 1000);
  status.textContent = `step ${step}/${steps}: ${NAMES[0]} ${w[0]} (${NAMES.slice(1).map((n, k) => `${n} ${w[k + 1]}`).join(", ")}), ${rate.toFixed(0)} steps/s`;
  if (step < steps) {
    requestAnimationFrame(() => frame(thisRun));
  } else {
    window.vicregResult = { steps: step, first: history[0], last: history.at(-1), stepsPerSecond: rate,
      fewShotBefore: accuracy.before, fewShotAfter: accuracy.now, encoder: Number($("encoder").value), repr };
    status.textContent += " — done";
  }
}

function start() {
  const seed = Number($("seed").value), lrText = $("lr").value.trim(), lr = Number(lrText);
  steps = Math.max(1, Math.floor(Number($("steps").value)));
  run++;
  history = [];
  step = 0;
  accuracy = { before: NaN, now: NaN };
  window.vicregResult = undefined;
  m.vicreg_create_encoder(seed, Number($("encoder").value));
  repr = m.vicreg_repr_width();
  // An empty box reads as 0, which would train nothing: refused, as the
  // command line refuses --lr 0.
  if (lrText === "" || !(lr > 0) || m.vicreg_set_learning_rate(lr) !== 0) {
    status.textContent = `learning rate ${lrText || "(empty)"} refused: it must be a positive number`;
    return;
  }
  shuffle(seed + 1);
  evaluate();
  drawLoss();
  started = performance.now();
  const thisRun = run;
  requestAnimationFrame(() => frame(thisRun));
}

$("legend").innerHTML = NAMES.map((n, k) => `<span><i style="background:${COLOURS[k]}"></i>${n}</span>`).join("");
$("digits").innerHTML = DIGIT_COLOURS.map((c, k) => `<span><b style="background:${c}"></b>${k}</span>`).join("");
// Each encoder's own default rate (the jobs'): 0.001 for the MLP, 0.002 for the CNN.
$("encoder").addEventListener("change", () => { $("lr").value = $("encoder").value === "1" ? "0.002" : "0.001"; });
$("restart").addEventListener("click", start);
start();
