//! Never panic, never lose the weights: the public API under hostile input
//! (NaN, ±∞, subnormals, 1e38, −0.0), checkpoints under every single-bit flip
//! and truncation, a long training run with injected faults, and batches
//! that are degenerate but legal.

use host_tests::batches::{Clusters, SplitMix};
use proptest::prelude::*;
use vicreg::nn::{Layer, Net, Shape};
use vicreg::train::Fault;
use vicreg::train::checkpoint::{self, CheckpointError};
use vicreg::{
    AdamW, Config, CovarianceSide, Error, Lanes, Optimizer, Options, Pcg32, Sgd, Trainer, TrainerConfig, Views,
};

/// Floats a sensor, a driver bug or a flash glitch can produce.
fn hostile_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -3.0f32..3.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(-0.0f32),
        1 => Just(f32::MIN_POSITIVE / 4.0), // subnormal
        1 => Just(1e38f32),
        1 => Just(-1e38f32),
        1 => Just(f32::MAX),
        1 => -1e4f32..1e4,
    ]
}

const SMALL: Net = Net::new(
    Shape::Flat(4),
    &[Layer::linear(6), Layer::ReLU, Layer::linear(3)],
    &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(4).without_bias()],
);
vicreg::network!(SmallNet = SMALL, batch 8);
type Small<O> = Trainer<SmallNet, O>;

/// Every bit of the state a failed step must not touch.
fn state_bits<O: Optimizer>(t: &Small<O>) -> Vec<u32> {
    let mut bits: Vec<u32> = t.parameters().iter().map(|v| v.to_bits()).collect();
    bits.extend(t.running_statistics().iter().map(|v| v.to_bits()));
    for copy in t.optimizer_state() {
        bits.extend(copy.iter().map(|v| v.to_bits()));
    }
    bits.push(t.optimizer().steps());
    bits.push(t.steps());
    bits
}

fn all_parameters_finite<O: Optimizer>(t: &Small<O>) -> bool {
    t.parameters().iter().all(|v| v.is_finite())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn loss_never_panics_and_refuses_non_finite_input(
        d in 1usize..12,
        n in 0usize..12,
        values in prop::collection::vec(hostile_f32(), 0..288),
        side in prop_oneof![Just(CovarianceSide::Auto), Just(CovarianceSide::FeatureSide), Just(CovarianceSide::BatchSide)],
        lanes in prop_oneof![Just(Lanes::Wide), Just(Lanes::Scalar)],
        config in (hostile_f32(), hostile_f32(), hostile_f32(), hostile_f32(), hostile_f32()),
        scratch_short in 0usize..3,
    ) {
        let len = (n * d).min(values.len() / 2);
        let (a, b) = (&values[..len], &values[len..2 * len]);
        let config = Config { sim_coeff: config.0, std_coeff: config.1, cov_coeff: config.2, gamma: config.3, eps: config.4 };
        let options = Options { side, lanes };
        let mut scratch = vec![0.0; vicreg::scratch_len(n, d, side).saturating_sub(scratch_short)];
        let (mut ga, mut gb) = (vec![0.0; len], vec![0.0; len]);
        match Views::new(a, b, d) {
            Err(e) => {
                let any_bad = a.iter().chain(b).any(|v| !v.is_finite());
                prop_assert!(e != Error::NonFiniteInput || any_bad);
                let shape_error = matches!(e, Error::TooFewRows { .. } | Error::ShapeMismatch);
                prop_assert!(len / d >= 2 || shape_error, "{:?}", e);
            }
            Ok(views) => {
                prop_assert!(a.iter().chain(b).all(|v| v.is_finite()));
                match vicreg::loss_and_gradients(views, &config, options, &mut scratch, &mut ga, &mut gb) {
                    Ok(t) => {
                        prop_assert!(config.validate().is_ok() && scratch_short == 0);
                        prop_assert!(t.loss.is_finite() && ga.iter().chain(&gb).all(|g| g.is_finite()));
                    }
                    Err(Error::InvalidConfig) => prop_assert!(config.validate().is_err()),
                    Err(Error::ScratchTooSmall { .. }) => prop_assert!(scratch_short > 0),
                    Err(e) => prop_assert_eq!(e, Error::NonFiniteResult),
                }
            }
        }
    }

    #[test]
    fn a_training_step_on_hostile_input_fails_cleanly_or_keeps_the_weights_finite(
        rows in 0usize..10,
        a in prop::collection::vec(prop::array::uniform4(hostile_f32()), 10),
        b in prop::collection::vec(prop::array::uniform4(hostile_f32()), 10),
        seed in any::<u64>(),
        adam in any::<bool>(),
        lr in prop_oneof![Just(1e-2f32), Just(10.0f32), Just(1e30f32)],
    ) {
        fn run<O: Optimizer>(mut t: Box<Small<O>>, a: &[[f32; 4]], b: &[[f32; 4]], seed: u64) -> Result<(), TestCaseError> {
            t.init(&mut Pcg32::new(seed));
            let before = state_bits(&t);
            let result = t.step(a, b);
            let any_bad = a.iter().chain(b).flatten().any(|v| !v.is_finite());
            match result {
                Ok(report) => {
                    prop_assert!(!any_bad && report.terms.loss.is_finite());
                }
                Err(e) => {
                    let shape_error = matches!(e, Error::TooFewRows { .. } | Error::TooManyRows { .. });
                    prop_assert!(!any_bad || e == Error::NonFiniteInput || shape_error, "{:?}", e);
                    prop_assert_eq!(state_bits(&t), before, "a failed step ({:?}) changed the state", e);
                }
            }
            prop_assert!(all_parameters_finite(&t));
            Ok(())
        }
        let config = TrainerConfig::new(lr);
        let (a, b) = (&a[..rows], &b[..rows]);
        if adam {
            run(Box::new(Small::new(config, AdamW::new(0.01))), a, b, seed)?;
        } else {
            run(Box::new(Small::new(config, Sgd::new(0.9, 0.01))), a, b, seed)?;
        }
    }

    #[test]
    fn loading_arbitrary_bytes_never_panics_and_changes_nothing_unless_valid(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        splice_valid_header in any::<bool>(),
    ) {
        let mut t: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
        t.init(&mut Pcg32::new(1));
        let mut valid = vec![0u8; Small::<Sgd>::checkpoint_bytes(true)];
        t.save(&mut valid, true).unwrap();
        let mut input = bytes.clone();
        if splice_valid_header {
            // A real header (magic, version, shapes, length) before random bytes.
            let n = valid.len().min(checkpoint::HEADER_BYTES + 7 * checkpoint::RECORD_BYTES);
            input.splice(0..n.min(input.len()), valid[..n].iter().copied());
        }
        let before = state_bits(&t);
        if t.load(&input).is_err() {
            prop_assert_eq!(state_bits(&t), before);
        }
    }
}

fn small_checkpoint() -> (Box<Small<Sgd>>, Vec<u8>) {
    let mut t: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    t.init(&mut Pcg32::new(3));
    let mut data = SplitMix::new(4);
    let a: Vec<[f32; 4]> = (0..8).map(|_| core::array::from_fn(|_| data.symmetric())).collect();
    let b: Vec<[f32; 4]> = a.iter().map(|r| r.map(|v| v + 0.1 * data.symmetric())).collect();
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    let mut bytes = vec![0u8; Small::<Sgd>::checkpoint_bytes(true)];
    t.save(&mut bytes, true).unwrap();
    (t, bytes)
}

#[test]
fn every_single_bit_flip_and_every_truncation_of_a_checkpoint_is_rejected() {
    let (_, bytes) = small_checkpoint();
    let mut fresh: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    fresh.init(&mut Pcg32::new(9));
    let untouched = state_bits(&fresh);
    let mut rejected = 0;
    for byte in 0..bytes.len() {
        for bit in 0..8 {
            let mut flipped = bytes.clone();
            flipped[byte] ^= 1 << bit;
            let e = fresh.load(&flipped).expect_err(&format!("bit {bit} of byte {byte} accepted"));
            assert!(
                matches!(e, CheckpointError::Corrupt | CheckpointError::Magic | CheckpointError::Version { .. }),
                "{e:?}"
            );
            rejected += 1;
        }
    }
    for len in 0..bytes.len() {
        assert_eq!(fresh.load(&bytes[..len]).unwrap_err(), CheckpointError::Corrupt, "truncation to {len} accepted");
        rejected += 1;
    }
    assert_eq!(state_bits(&fresh), untouched);
    assert_eq!(rejected, bytes.len() * 9);
    println!(
        "{} single-bit flips and {} truncations of a {}-byte checkpoint rejected",
        bytes.len() * 8,
        bytes.len(),
        bytes.len()
    );
    fresh.load(&bytes).expect("the intact checkpoint loads");
}

#[test]
fn a_checkpoint_of_another_format_version_is_rejected_with_its_version() {
    let (_, bytes) = small_checkpoint();
    for version in [0u16, 1, 0xFFFF] {
        let mut other = bytes.clone();
        other[4..6].copy_from_slice(&version.to_le_bytes());
        let mut t: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
        let e = t.load(&other).unwrap_err();
        assert_eq!(e, CheckpointError::Version { found: version });
        assert!(e.to_string().contains(&version.to_string()), "{e}");
    }
}

const N: usize = 32;
const FAULTY: Net = Net::new(
    Shape::Flat(16),
    &[Layer::linear(32), Layer::ReLU, Layer::linear(8)],
    &[Layer::linear(16), Layer::BatchNorm, Layer::ReLU, Layer::linear(16).without_bias()],
);
vicreg::network!(FaultyNet = FAULTY, batch N);
type Faulty = Trainer<FaultyNet, AdamW>;

/// Trains on clusters; with `faults`, every step drawn with probability
/// 6 % is poisoned (NaN or ±∞ in an input, an activation or a gradient).
/// Returns the failed steps and the final loss on a fixed evaluation batch.
fn run_with_faults(faults: bool) -> (usize, usize, f64) {
    let mut data = Clusters::<16>::new(6, 4, 4, 77);
    let mut t: Box<Faulty> = Box::new(Trainer::new(TrainerConfig::new(2e-3), AdamW::new(0.0)));
    t.init(&mut Pcg32::new(5));
    let mut chooser = SplitMix::new(6);
    let (mut injected, mut failed) = (0, 0);
    for _ in 0..1500 {
        let (mut a, b, _) = data.pair(N);
        if faults && chooser.next_u64() % 100 < 6 {
            injected += 1;
            let value = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][(chooser.next_u64() % 3) as usize];
            match chooser.next_u64() % 3 {
                0 => a[(chooser.next_u64() % N as u64) as usize][(chooser.next_u64() % 16) as usize] = value,
                1 => t.inject_fault(Fault::Activation, value),
                _ => t.inject_fault(Fault::Gradient, value),
            }
        }
        if t.step(&a, &b).is_err() {
            failed += 1;
        }
        assert!(t.parameters().iter().all(|v| v.is_finite()), "weights went non-finite");
    }
    let mut eval = Clusters::<16>::new(6, 4, 4, 77);
    let mut total = 0.0;
    for _ in 0..8 {
        let (a, b, _) = eval.pair(N);
        total += f64::from(t.compute_gradients(&a, &b).unwrap().loss) / 8.0;
    }
    (injected, failed, total)
}

#[test]
fn training_survives_injected_faults_and_ends_within_five_percent_of_a_clean_run() {
    let (_, clean_failed, clean) = run_with_faults(false);
    let (injected, failed, faulty) = run_with_faults(true);
    println!(
        "clean run: final loss {clean:.4}; faulty run: {injected} faults injected, {failed} steps refused, final loss {faulty:.4}"
    );
    assert_eq!(clean_failed, 0);
    assert!(injected > 50, "only {injected} faults injected");
    assert_eq!(failed, injected, "every poisoned step, and only those, must be refused");
    assert!((faulty - clean).abs() <= 0.05 * clean, "final loss {faulty} vs clean {clean}");
}

#[test]
fn degenerate_but_legal_batches_train_without_non_finite_values() {
    let mut data = SplitMix::new(8);
    let mut random = |scale: f32, offset: f32| -> Vec<[f32; 4]> {
        (0..8).map(|_| core::array::from_fn(|_| offset + scale * data.symmetric())).collect()
    };
    let constant_feature: Vec<[f32; 4]> = random(1.0, 0.0)
        .into_iter()
        .map(|mut r| {
            r[2] = 3.5;
            r
        })
        .collect();
    let duplicated: Vec<[f32; 4]> = {
        let r = random(1.0, 0.0);
        (0..8).map(|i| r[i / 4]).collect()
    };
    let cases: Vec<(&str, Vec<[f32; 4]>)> = vec![
        ("constant feature", constant_feature),
        ("duplicated rows", duplicated),
        ("n = 2", random(1.0, 0.0)[..2].to_vec()),
        ("offset 1e4", random(1.0, 1e4)),
        ("scale 1e-3", random(1e-3, 0.0)),
        ("all rows equal", vec![[0.3, -0.2, 5.0, 1.0]; 8]),
    ];
    for (name, batch) in cases {
        for adam in [false, true] {
            let config = TrainerConfig::new(if adam { 1e-3 } else { 1e-2 });
            let mut t: Box<Small<AdamW>> = Box::new(Small::new(config, AdamW::new(0.0)));
            let mut s: Box<Small<Sgd>> = Box::new(Small::new(config, Sgd::new(0.9, 0.0)));
            t.init(&mut Pcg32::new(1));
            s.init(&mut Pcg32::new(1));
            let jitter = |r: &[f32; 4], k: f32| r.map(|v| v * (1.0 + 1e-3 * k));
            for step in 0..50 {
                let b: Vec<[f32; 4]> = batch.iter().map(|r| jitter(r, (step % 3) as f32)).collect();
                let report = if adam { t.step(&batch, &b) } else { s.step(&batch, &b) };
                let terms = report.unwrap_or_else(|e| panic!("{name}: step {step} failed: {e}")).terms;
                assert!(terms.loss.is_finite(), "{name}: non-finite loss");
            }
            assert!(all_parameters_finite(&t) && all_parameters_finite(&s), "{name}: non-finite weights");
        }
    }
}

#[test]
fn a_checkpoint_with_a_valid_checksum_but_impossible_values_is_rejected() {
    let (_, bytes) = small_checkpoint();
    let reseal = |mut b: Vec<u8>| {
        let end = b.len() - 4;
        let crc = checkpoint::crc32(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    let header = checkpoint::HEADER_BYTES + SMALL.depth() * checkpoint::RECORD_BYTES;
    let params = SMALL.parameter_count();
    let mut fresh: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    let untouched = state_bits(&fresh);
    for (what, offset, value) in [
        ("NaN weight", header, f32::NAN),
        ("infinite momentum", bytes.len() - 8, f32::INFINITY),
        ("negative running variance", header + 4 * (params + 6), -1.0),
    ] {
        let mut forged = bytes.clone();
        forged[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
        assert_eq!(fresh.load(&reseal(forged)), Err(CheckpointError::Corrupt), "{what} accepted");
    }
    assert_eq!(state_bits(&fresh), untouched);
    fresh.load(&reseal(bytes)).expect("resealing an intact checkpoint keeps it valid");
}
