// The sensor job's training step (the `train-motions` network, batch 20,
// AdamW, fixed views) as WebAssembly under Node, beside the same code built
// natively without and with the core's run-time dispatch:
//
//   cd scripts/wasm-motions
//   RUSTFLAGS="-C target-feature=+simd128" cargo build --release --lib --target wasm32-unknown-unknown
//   cargo build --release --bin native && cp target/release/native target/native-sse2
//   cargo build --release --bin native --features std
//   node run.mjs [STEPS]
//
// Each figure is the best of five runs of STEPS steps after 50 of warm-up.
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const STEPS = Number(process.argv[2] ?? 500);
const url = new URL('target/wasm32-unknown-unknown/release/wasm_motions.wasm', import.meta.url);
const { instance } = await WebAssembly.instantiate(readFileSync(url), {});
const m = instance.exports;
if (m.setup() !== 0 || m.steps(50) !== 0) throw new Error('setup failed');
let wasm = Infinity;
for (let run = 0; run < 5; run++) {
  const start = performance.now();
  if (m.steps(STEPS) !== 0) throw new Error('a step failed');
  wasm = Math.min(wasm, ((performance.now() - start) * 1000) / STEPS);
}
const native = (name) => Number(execFileSync(fileURLToPath(new URL(`target/${name}`, import.meta.url)), [String(STEPS)]).toString());
const sse2 = native('native-sse2');
const dispatched = native('release/native');
console.log(`WebAssembly under Node ${process.version}: ${wasm.toFixed(1)} µs per step`);
console.log(`native, the core's default features (SSE2): ${sse2.toFixed(1)} µs (WebAssembly / native ${(wasm / sse2).toFixed(2)})`);
console.log(`native, with std (run-time AVX2 + FMA): ${dispatched.toFixed(1)} µs (WebAssembly / native ${(wasm / dispatched).toFixed(2)})`);
