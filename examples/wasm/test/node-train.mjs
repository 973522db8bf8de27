// Trains the WebAssembly module on the digits from Node and checks it against
// the native build of the same code:
//   node test/node-train.mjs MODULE.wasm DIGITS_CSV NATIVE_REFERENCE_BINARY
// Exits non-zero on any failure; prints "N passed, M failed" last.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const [wasmPath, csvPath, nativeBin] = process.argv.slice(2);
if (!nativeBin) {
  console.error("usage: node node-train.mjs MODULE.wasm DIGITS_CSV NATIVE_REFERENCE_BINARY");
  process.exit(2);
}
const STEPS = 60, SEED = 1, BATCH = 128, INPUT = 64, REPR = 32;
let passed = 0, failed = 0;
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  ok ? passed++ : failed++;
}

const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const m = instance.exports;
const f32 = (ptr, len) => new Float32Array(m.memory.buffer, ptr, len);
console.log(`module: ${readFileSync(wasmPath).length} bytes, training state ${m.vicreg_memory_bytes()} bytes`);

// The training images in file order, pixels / 16 (the native reference's order).
const train = readFileSync(csvPath, "utf8").trim().split("\n").slice(1)
  .filter((l) => l.startsWith("train,"))
  .map((l) => Float32Array.from(l.split(",").slice(2), (p) => Number(p) / 16));

function fill(step) {
  const input = f32(m.vicreg_input(), BATCH * INPUT);
  for (let r = 0; r < BATCH; r++) input.set(train[(step * BATCH + r) % train.length], r * INPUT);
}

check(m.vicreg_step(BATCH) === -1, "a step before vicreg_create is refused with NOT_CREATED");
m.vicreg_create(SEED);
const wasmTerms = [];
const start = performance.now();
for (let step = 0; step < STEPS; step++) {
  fill(step);
  const status = m.vicreg_step(BATCH);
  if (status !== 0) { check(false, `step ${step} returned ${status}`); break; }
  wasmTerms.push(Array.from(f32(m.vicreg_terms(), 4)));
}
const seconds = (performance.now() - start) / 1000;
console.log(`${STEPS} steps in ${seconds.toFixed(2)} s (${(STEPS / seconds).toFixed(0)} steps/s), loss ${wasmTerms[0][0].toFixed(3)} → ${wasmTerms.at(-1)[0].toFixed(3)}`);

// The weighted terms the page draws add up to the loss, each the unweighted
// term times its coefficient (λ = μ = 25, ν = 1 by default).
const [terms, weighted] = [f32(m.vicreg_terms(), 4), f32(m.vicreg_weighted_terms(), 4)];
const coefficients = [1, 25, 25, 1];
check(weighted.every((w, k) => Math.abs(w - coefficients[k] * terms[k]) <= 1e-5 * Math.max(1, Math.abs(w))) &&
  Math.abs(weighted[1] + weighted[2] + weighted[3] - weighted[0]) <= 1e-4 * weighted[0],
  `the weighted terms add up to the loss: ${Array.from(weighted).map((w) => w.toFixed(3)).join(", ")}`);

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
check(mean(wasmTerms.slice(-10).map((t) => t[0])) < mean(wasmTerms.slice(0, 10).map((t) => t[0])) - 0.5,
  "the loss falls over training");

// The same steps natively: the terms agree to 1e-5 relative.
const native = JSON.parse(execFileSync(nativeBin, [csvPath, String(STEPS), String(SEED)], { encoding: "utf8" }));
let worst = 0;
for (let s = 0; s < STEPS; s++) for (let k = 0; k < 4; k++) {
  const n = native[s][k], w = wasmTerms[s]?.[k] ?? NaN;
  worst = Math.max(worst, Math.abs(w - n) / Math.max(1, Math.abs(n)));
}
check(worst <= 1e-5, `loss terms agree with the native build over ${STEPS} steps (worst relative difference ${worst.toExponential(2)})`);

// Checkpoint round trip: export, replace the weights, import, same representation.
fill(0);
m.vicreg_represent(BATCH);
const before = Array.from(f32(m.vicreg_output(), BATCH * REPR));
check(m.vicreg_export_checkpoint() === 0, "export checkpoint");
const bytes = new Uint8Array(m.memory.buffer, m.vicreg_checkpoint(), m.vicreg_checkpoint_len()).slice();
m.vicreg_create(SEED + 1);
m.vicreg_represent(BATCH);
const other = Array.from(f32(m.vicreg_output(), BATCH * REPR));
new Uint8Array(m.memory.buffer, m.vicreg_checkpoint(), bytes.length).set(bytes);
check(m.vicreg_import_checkpoint(bytes.length) === 0, "import checkpoint");
m.vicreg_represent(BATCH);
const after = Array.from(f32(m.vicreg_output(), BATCH * REPR));
check(other.some((v, i) => v !== before[i]) && after.every((v, i) => v === before[i]),
  "an imported checkpoint restores the representation exactly");
const corrupt = bytes.slice(); corrupt[100] ^= 1;
new Uint8Array(m.memory.buffer, m.vicreg_checkpoint(), corrupt.length).set(corrupt);
check(m.vicreg_import_checkpoint(corrupt.length) === -5, "a corrupted checkpoint is refused (BAD_CHECKPOINT)");

// A NaN in the input is an error value, not a trap.
fill(0);
f32(m.vicreg_input(), BATCH * INPUT)[5] = NaN;
check(m.vicreg_step(BATCH) === -3, "a NaN input is refused (NON_FINITE_INPUT)");

// The CNN: a 64-d representation, its loss falls on crops, the same terms
// as natively, and a checkpoint of the MLP is not one of the CNN's.
const CNN_STEPS = 12;
check(m.vicreg_create_encoder(SEED, 2) === -6, "an unknown encoder is refused (OTHER)");
check(m.vicreg_create_encoder(SEED, 1) === 0 && m.vicreg_repr_width() === 64, "the CNN has a 64-d representation");
const cnnTerms = [];
const cnnStart = performance.now();
for (let step = 0; step < CNN_STEPS; step++) {
  fill(step);
  const status = m.vicreg_step(BATCH);
  if (status !== 0) { check(false, `CNN step ${step} returned ${status}`); break; }
  cnnTerms.push(Array.from(f32(m.vicreg_terms(), 4)));
}
const cnnSeconds = (performance.now() - cnnStart) / 1000;
console.log(`CNN: ${CNN_STEPS} steps in ${cnnSeconds.toFixed(2)} s (${(CNN_STEPS / cnnSeconds).toFixed(1)} steps/s), loss ${cnnTerms[0][0].toFixed(3)} → ${cnnTerms.at(-1)[0].toFixed(3)}`);
check(cnnTerms.at(-1)[0] < cnnTerms[0][0], "the CNN's loss falls");
const cnnNative = JSON.parse(execFileSync(nativeBin, [csvPath, String(CNN_STEPS), String(SEED), "1"], { encoding: "utf8" }));
let cnnWorst = 0;
for (let s = 0; s < CNN_STEPS; s++) for (let k = 0; k < 4; k++) {
  const n = cnnNative[s][k], w = cnnTerms[s]?.[k] ?? NaN;
  cnnWorst = Math.max(cnnWorst, Math.abs(w - n) / Math.max(1, Math.abs(n)));
}
check(cnnWorst <= 1e-5, `the CNN's terms agree with the native build over ${CNN_STEPS} steps (worst relative difference ${cnnWorst.toExponential(2)})`);
fill(0);
check(m.vicreg_represent(BATCH) === 0 && f32(m.vicreg_output(), BATCH * 64).every(Number.isFinite), "the CNN represents a batch");
new Uint8Array(m.memory.buffer, m.vicreg_checkpoint(), bytes.length).set(bytes);
check(m.vicreg_import_checkpoint(bytes.length) === -5, "the MLP's checkpoint is refused by the CNN (BAD_CHECKPOINT)");
check(m.vicreg_export_checkpoint() === 0 && m.vicreg_checkpoint_len() > bytes.length, "the CNN's checkpoint exports");

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
