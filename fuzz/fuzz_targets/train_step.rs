//! Training steps on arbitrary bytes: seed, learning rate, optimiser and
//! batch length from the first bytes, the inputs from the rest (any f32 bit
//! pattern).
//!
//! Invariants: no panic; a failed step leaves parameters, running statistics,
//! optimiser state and step count bit for bit as they were; the weights are
//! always finite.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vicreg::nn::{Buffer, Network};
use vicreg::{AdamW, Lars, Optimizer, Pcg32, Sgd, Trainer, TrainerConfig};

#[path = "common.rs"]
mod common;
use common::{SmallNet, WindowNet, bits, finite_weights};

fn run<N: Network<Sample = [f32; L]>, O: Optimizer, const L: usize>(
    mut t: Box<Trainer<N, O>>,
    seed: u64,
    steps: usize,
    rows: &[[f32; L]],
) {
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
    let mut y = vec![N::Repr::ZERO; a.len()];
    let _ = t.represent(a, &mut y);
    let mut z = vec![N::Embedding::ZERO; a.len()];
    let _ = t.embed(a, &mut z);
}

fn rows<const L: usize>(bytes: &[u8]) -> Vec<[f32; L]> {
    bytes
        .chunks_exact(4 * L)
        .take(20)
        .map(|c| core::array::from_fn(|j| f32::from_le_bytes([c[4 * j], c[4 * j + 1], c[4 * j + 2], c[4 * j + 3]])))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let [opt, seed, steps, lr0, lr1, lr2, lr3, rest @ ..] = data else { return };
    let lr = f32::from_le_bytes([*lr0, *lr1, *lr2, *lr3]);
    let config = TrainerConfig::new(lr);
    let (seed, steps) = (u64::from(*seed), usize::from(steps % 4) + 1);
    let (small, windows) = (rows::<4>(rest), rows::<12>(rest));
    match opt % 6 {
        0 => run(Box::new(Trainer::<SmallNet, _>::new(config, Sgd::new(0.9, 1e-4))), seed, steps, &small),
        1 => run(Box::new(Trainer::<SmallNet, _>::new(config, AdamW::new(0.01))), seed, steps, &small),
        2 => run(Box::new(Trainer::<SmallNet, _>::new(config, Lars::new(1e-6))), seed, steps, &small),
        3 => run(Box::new(Trainer::<WindowNet, _>::new(config, Sgd::new(0.9, 1e-4))), seed, steps, &windows),
        4 => run(Box::new(Trainer::<WindowNet, _>::new(config, AdamW::new(0.01))), seed, steps, &windows),
        _ => run(Box::new(Trainer::<WindowNet, _>::new(config, Lars::new(1e-6))), seed, steps, &windows),
    }
});
