// Loads the module and the digits, trains step by step (one per animation
// frame, so the page stays responsive) and draws the loss terms live.
// When STEPS steps are done, window.vicregResult holds the run's figures.
const STEPS = 120, BATCH = 128, INPUT = 64;
const COEFFS = [1, 25, 25, 1];
const COLOURS = ["#222", "#1f77b4", "#d62728", "#2ca02c"];

const status = document.getElementById("status");
const chart = document.getElementById("chart");
const ctx = chart.getContext("2d");

const [{ instance }, csv] = await Promise.all([
  WebAssembly.instantiateStreaming(fetch("vicreg_wasm.wasm"), {}),
  fetch("digits.csv").then((r) => r.text()),
]);
const m = instance.exports;
const train = csv.trim().split("\n").slice(1).filter((l) => l.startsWith("train,"))
  .map((l) => Float32Array.from(l.split(",").slice(2), (p) => Number(p) / 16));

let history = [], step = 0, order = [], started = 0, run = 0;

function shuffle(seed) {
  // A small LCG: the page needs a different order each run, not cryptography.
  let s = seed >>> 0;
  order = train.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
}

function draw() {
  ctx.clearRect(0, 0, chart.width, chart.height);
  if (history.length < 2) return;
  const values = history.flatMap((t) => t.map((v, k) => v * COEFFS[k]));
  const max = Math.max(...values) * 1.05;
  ctx.font = "12px sans-serif";
  ctx.fillStyle = "#666";
  ctx.fillText(max.toFixed(1), 4, 14);
  ctx.fillText("0", 4, chart.height - 4);
  for (let k = 0; k < 4; k++) {
    ctx.strokeStyle = COLOURS[k];
    ctx.lineWidth = 2;
    ctx.beginPath();
    history.forEach((t, i) => {
      const x = 30 + (chart.width - 40) * i / (STEPS - 1);
      const y = chart.height - 10 - (chart.height - 20) * (t[k] * COEFFS[k]) / max;
      i === 0 ? ctx.moveTo(x, y) : ctx.lineTo(x, y);
    });
    ctx.stroke();
  }
}

function frame(thisRun) {
  if (thisRun !== run) return;
  const input = new Float32Array(m.memory.buffer, m.vicreg_input(), BATCH * INPUT);
  for (let r = 0; r < BATCH; r++) input.set(train[order[(step * BATCH + r) % order.length]], r * INPUT);
  const code = m.vicreg_step(BATCH);
  if (code !== 0) throw new Error(`vicreg_step returned ${code}`);
  history.push(Array.from(new Float32Array(m.memory.buffer, m.vicreg_terms(), 4)));
  step++;
  draw();
  const t = history.at(-1);
  const rate = step / ((performance.now() - started) / 1000);
  // Weighted terms, as the chart and the command-line jobs show them.
  const w = t.map((v, k) => (v * COEFFS[k]).toFixed(3));
  status.textContent = `step ${step}/${STEPS}: loss ${w[0]} (λ·invariance ${w[1]}, μ·variance ${w[2]}, ν·covariance ${w[3]}), ${rate.toFixed(0)} steps/s`;
  if (step < STEPS) {
    requestAnimationFrame(() => frame(thisRun));
  } else {
    window.vicregResult = { steps: step, first: history[0], last: t, stepsPerSecond: rate };
    status.textContent += " — done";
  }
}

function start() {
  run++;
  history = [];
  step = 0;
  window.vicregResult = undefined;
  m.vicreg_create(run);
  shuffle(run);
  started = performance.now();
  requestAnimationFrame(() => frame(run));
}

document.getElementById("restart").addEventListener("click", start);
start();
