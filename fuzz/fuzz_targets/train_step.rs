//! Training steps on arbitrary bytes: seed, learning rate, optimiser and
//! batch length from the first bytes, the inputs from the rest (any f32 bit
//! pattern).
//!
//! Invariants: no panic; a failed step leaves parameters, running statistics,
//! optimiser state and step count bit for bit as they were; the weights are
//! always finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vicreg::{AdamW, Lars, Optimizer, Pcg32, Sgd, TrainerConfig};

#[path = "common.rs"]
mod common;
use common::{Small, bits, finite_weights};

fn run<O: Optimizer<4, 6, 3, 6, 4>>(mut t: Box<Small<O>>, seed: u64, steps: usize, rows: &[[f32; 4]]) {
    t.init(&mut Pcg32::new(seed));
    let half = rows.len() / 2;
    let (a, b) = rows.split_at(half);
    for _ in 0..steps {
        let before = bits(&t);
        if t.step(a, &b[..half]).is_err() {
            assert_eq!(bits(&t), before, "a failed step changed the state");
        }
        assert!(finite_weights(&t));
    }
    let mut y = vec![[0.0; 3]; a.len()];
    let _ = t.represent(a, &mut y);
    let mut z = vec![[0.0; 4]; a.len()];
    let _ = t.embed(a, &mut z);
}

fuzz_target!(|data: &[u8]| {
    let [opt, seed, steps, lr0, lr1, lr2, lr3, rest @ ..] = data else { return };
    let lr = f32::from_le_bytes([*lr0, *lr1, *lr2, *lr3]);
    let rows: Vec<[f32; 4]> = rest
        .chunks_exact(16)
        .take(20)
        .map(|c| core::array::from_fn(|j| f32::from_le_bytes([c[4 * j], c[4 * j + 1], c[4 * j + 2], c[4 * j + 3]])))
        .collect();
    let config = TrainerConfig::new(lr);
    let (seed, steps) = (u64::from(*seed), usize::from(steps % 4) + 1);
    match opt % 3 {
        0 => run(Box::new(Small::new(config, Sgd::new(0.9, 1e-4))), seed, steps, &rows),
        1 => run(Box::new(Small::new(config, AdamW::new(0.01))), seed, steps, &rows),
        _ => run(Box::new(Small::new(config, Lars::new(1e-6))), seed, steps, &rows),
    }
});
