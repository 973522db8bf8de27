// WebAssembly's f32 peak on this machine, to set beside the native FMA peak
// that `speed` prints:
//
//   cd scripts/wasm-peak
//   RUSTFLAGS="-C target-feature=+simd128" cargo build --release --target wasm32-unknown-unknown
//   node run.mjs
import { readFileSync } from 'node:fs';

const url = new URL('target/wasm32-unknown-unknown/release/wasm_peak.wasm', import.meta.url);
const { instance } = await WebAssembly.instantiate(readFileSync(url));
const iterations = 20_000_000;
instance.exports.chains(1000);
const seconds = [];
for (let run = 0; run < 7; run++) {
  const start = performance.now();
  instance.exports.chains(iterations);
  seconds.push((performance.now() - start) / 1e3);
}
seconds.sort((a, b) => a - b);
const flops = iterations * 12 * 4 * 2;
// A peak: the best of seven runs (this machine's load only slows a run).
console.log(`simd128 peak (12 chains of f32x4 multiply then add): ${(flops / seconds[0] / 1e9).toFixed(1)} GFLOP/s, best of 7`);
