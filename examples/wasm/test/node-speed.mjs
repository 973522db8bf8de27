// Times the WebAssembly module's training step under Node against the same
// exports built natively (the native reference binary), both augmenting and
// training on the digits:
//   node test/node-speed.mjs MODULE.wasm DIGITS_CSV NATIVE_REFERENCE_BINARY [STEPS]
// Prints µs per step for each (WebAssembly: the best of five runs of STEPS
// steps after 50 of warm-up; native: STEPS steps in one process, its start
// and the reading of the data included) and their ratio. A benchmark, not a
// test: it fails only if a step does.
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";

const [wasmPath, csvPath, nativeBin, stepsArg] = process.argv.slice(2);
if (!nativeBin) {
  console.error("usage: node node-speed.mjs MODULE.wasm DIGITS_CSV NATIVE_REFERENCE_BINARY [STEPS]");
  process.exit(2);
}
const STEPS = Number(stepsArg ?? 200), BATCH = 128, INPUT = 64;

const { instance } = await WebAssembly.instantiate(readFileSync(wasmPath), {});
const m = instance.exports;
const train = readFileSync(csvPath, "utf8").trim().split("\n").slice(1)
  .filter((l) => l.startsWith("train,"))
  .map((l) => Float32Array.from(l.split(",").slice(2), (p) => Number(p) / 16));
m.vicreg_create(1);
const input = new Float32Array(m.memory.buffer, m.vicreg_input(), BATCH * INPUT);
for (let r = 0; r < BATCH; r++) input.set(train[r % train.length], r * INPUT);
const step = () => {
  const status = m.vicreg_step(BATCH);
  if (status !== 0) throw new Error(`step returned ${status}`);
};
for (let i = 0; i < 50; i++) step();
let wasm = Infinity;
for (let run = 0; run < 5; run++) {
  const start = performance.now();
  for (let i = 0; i < STEPS; i++) step();
  wasm = Math.min(wasm, ((performance.now() - start) * 1000) / STEPS);
}

const start = performance.now();
execFileSync(nativeBin, [csvPath, String(STEPS), "1"], { stdio: ["ignore", "ignore", "inherit"] });
const native = ((performance.now() - start) * 1000) / STEPS;

console.log(`WebAssembly under Node ${process.version}: ${wasm.toFixed(0)} µs per step (${(1e6 / wasm).toFixed(0)} steps/s)`);
console.log(`native (${nativeBin}): ${native.toFixed(0)} µs per step (${(1e6 / native).toFixed(0)} steps/s)`);
console.log(`WebAssembly / native: ${(wasm / native).toFixed(2)}`);
