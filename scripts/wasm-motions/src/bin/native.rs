//! The same step natively: `native STEPS` prints µs per step (best of five
//! runs after 50 steps of warm-up, as `run.mjs` times the module).
use std::time::Instant;

fn main() {
    let steps: u32 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(500);
    assert_eq!(wasm_motions::setup(), 0);
    assert_eq!(wasm_motions::steps(50), 0);
    let best = (0..5)
        .map(|_| {
            let t = Instant::now();
            assert_eq!(wasm_motions::steps(steps), 0);
            t.elapsed().as_secs_f64() * 1e6 / f64::from(steps)
        })
        .fold(f64::INFINITY, f64::min);
    println!("{best:.1}");
}
