//! The Siamese network through the public API: gradients against
//! difference quotients of the loss, frozen layers, failed steps, and
//! checkpoints.

use host_tests::batches::SplitMix;
use vicreg::{AdamW, Arch, Error, Frozen, Layer, Optimizer, Parameters, Pcg32, Sgd, Tensor, Trainer, TrainerConfig};

type Net = Parameters<6, 12, 5, 10, 8>;
type Small<O> = Trainer<16, 6, 12, 5, 10, 8, 8, O>;

fn inputs(n: usize, seed: u64) -> (Vec<[f32; 6]>, Vec<[f32; 6]>) {
    let mut rng = SplitMix::new(seed);
    let a: Vec<[f32; 6]> = (0..n).map(|_| core::array::from_fn(|_| 2.0 * rng.symmetric())).collect();
    let b = a.iter().map(|r| r.map(|v| v + 0.2 * rng.symmetric())).collect();
    (a, b)
}

fn trainer<O: Optimizer<6, 12, 5, 10, 8>>(arch: Arch, optimizer: O, seed: u64) -> Box<Small<O>> {
    let mut t = Box::new(Trainer::new(TrainerConfig { arch, ..TrainerConfig::new(1e-2) }, optimizer));
    t.init(&mut Pcg32::new(seed));
    t
}

const ARCHS: [Arch; 3] = [
    Arch::OFFICIAL,
    Arch { batch_norm: false, final_bias: true, ..Arch::OFFICIAL },
    Arch { batch_norm: true, final_bias: true, ..Arch::OFFICIAL },
];

/// ⟨∂ℓ/∂θ_t, v⟩ against (ℓ(θ + h·v) − ℓ(θ − h·v))/2h for each tensor t and a
/// random direction v, all in the core's f32.
#[test]
fn parameter_gradients_match_difference_quotients_with_and_without_batch_norm() {
    for (case, arch) in ARCHS.into_iter().enumerate() {
        for seed in 0..3u64 {
            let mut t = trainer(arch, Sgd::new(0.0, 0.0), seed);
            let (a, b) = inputs(12, 100 + seed);
            t.compute_gradients(&a, &b).unwrap();
            let grads: Net = t.gradients().clone();
            let base: Net = t.parameters().clone();
            let mut rng = SplitMix::new(seed);
            for (i, tensor) in Tensor::ALL.into_iter().enumerate() {
                let unused = (!arch.batch_norm && tensor.layer() == Layer::Norm)
                    || (!arch.final_bias && tensor == Tensor::Exp2Bias);
                let g = grads.tensors()[i];
                if unused {
                    assert!(g.iter().all(|&x| x == 0.0), "{tensor:?} unused but has a gradient");
                    continue;
                }
                let v: Vec<f32> = g.iter().map(|_| rng.symmetric()).collect();
                let h = 1e-3f32;
                let mut loss_at = |s: f32| {
                    let p = t.parameters_mut();
                    *p = base.clone();
                    for (w, vi) in p.tensors_mut()[i].iter_mut().zip(&v) {
                        *w += s * h * vi;
                    }
                    f64::from(t.compute_gradients(&a, &b).unwrap().loss)
                };
                let numeric = (loss_at(1.0) - loss_at(-1.0)) / (2.0 * f64::from(h));
                let analytic: f64 = g.iter().zip(&v).map(|(g, v)| f64::from(*g) * f64::from(*v)).sum();
                let scale: f64 = g.iter().map(|g| f64::from(g.abs())).sum::<f64>().max(1e-3);
                assert!(
                    (numeric - analytic).abs() <= 0.02 * scale + 2e-3,
                    "arch {case} seed {seed} {tensor:?}: analytic {analytic}, numeric {numeric}"
                );
                *t.parameters_mut() = base.clone();
            }
        }
    }
}

#[test]
fn frozen_layers_get_no_gradient_and_no_update() {
    let frozen = Frozen::NONE.with(Layer::Enc1).with(Layer::Enc2);
    let mut t = trainer(Arch::OFFICIAL, AdamW::new(0.01), 7);
    t.set_config(TrainerConfig { frozen, ..*t.config() });
    let before: Net = t.parameters().clone();
    let (a, b) = inputs(16, 3);
    for _ in 0..5 {
        t.step(&a, &b).unwrap();
    }
    let after = t.parameters();
    for (i, tensor) in Tensor::ALL.into_iter().enumerate() {
        let same = before.tensors()[i] == after.tensors()[i];
        let is_frozen = frozen.contains(tensor.layer());
        let unused = tensor == Tensor::Exp2Bias; // no final bias in the official arch
        assert_eq!(same, is_frozen || unused, "{tensor:?}: frozen {is_frozen}, unchanged {same}");
        if is_frozen {
            assert!(t.gradients().tensors()[i].iter().all(|&g| g == 0.0), "{tensor:?} frozen but has a gradient");
        }
    }
}

#[test]
fn a_failed_step_leaves_parameters_state_and_count_untouched() {
    let mut t = trainer(Arch::OFFICIAL, AdamW::new(0.01), 9);
    let (a, b) = inputs(16, 4);
    t.step(&a, &b).unwrap();
    let snapshot = t.clone();
    let mut bad = a.clone();
    bad[3][2] = f32::NAN;
    assert_eq!(t.step(&bad, &b).unwrap_err(), Error::NonFiniteInput);
    assert_eq!(t.step(&a[..1], &b[..1]).unwrap_err(), Error::TooFewRows { n: 1 });
    assert_eq!(t.step(&a, &b[..15]).unwrap_err(), Error::ShapeMismatch);
    assert_eq!(t.parameters(), snapshot.parameters());
    assert_eq!(t.running_statistics(), snapshot.running_statistics());
    assert_eq!(t.steps(), snapshot.steps());
    let (mut s1, mut s2) = (Vec::new(), Vec::new());
    t.optimizer().for_each_state(&mut |x| s1.extend_from_slice(x));
    snapshot.optimizer().for_each_state(&mut |x| s2.extend_from_slice(x));
    assert_eq!(s1, s2);
}

#[test]
fn a_step_whose_loss_overflows_is_refused() {
    // Without BatchNorm nothing rescales huge activations: finite inputs of
    // 1e37 give embeddings whose squared differences overflow.
    let mut t = trainer(Arch { batch_norm: false, ..Arch::OFFICIAL }, Sgd::new(0.9, 0.0), 10);
    let (a, b) = inputs(16, 4);
    let before = t.parameters().clone();
    let huge: Vec<[f32; 6]> = a.iter().map(|r| r.map(|v| v * 1e37)).collect();
    assert_eq!(t.step(&huge, &b).unwrap_err(), Error::NonFiniteResult);
    assert_eq!(t.parameters(), &before);
    assert_eq!(t.steps(), 0);
}

#[test]
fn checkpoint_round_trip_resumes_training_bit_for_bit() {
    let mut t = trainer(Arch::OFFICIAL, AdamW::new(0.01), 11);
    let (a, b) = inputs(16, 5);
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    let mut bytes = vec![0u8; Small::<AdamW<6, 12, 5, 10, 8>>::checkpoint_bytes(true)];
    let len = t.save(&mut bytes, true).unwrap();
    assert_eq!(len, bytes.len());

    let mut restored = trainer(Arch::OFFICIAL, AdamW::new(0.01), 99);
    restored.load(&bytes).unwrap();
    assert_eq!(restored.parameters(), t.parameters());
    assert_eq!(restored.steps(), 3);
    let next = t.step(&a, &b).unwrap();
    let next_restored = restored.step(&a, &b).unwrap();
    assert_eq!(next, next_restored);
    assert_eq!(restored.parameters(), t.parameters());
}

#[test]
fn checkpoints_of_another_shape_or_damaged_are_refused_and_change_nothing() {
    let t = trainer(Arch::OFFICIAL, Sgd::new(0.9, 0.0), 12);
    let mut bytes = vec![0u8; Small::<Sgd<6, 12, 5, 10, 8>>::checkpoint_bytes(true)];
    t.save(&mut bytes, true).unwrap();

    let mut other = trainer(Arch::OFFICIAL, Sgd::new(0.9, 0.0), 13);
    let before = other.parameters().clone();
    let mut flipped = bytes.clone();
    flipped[100] ^= 0x10;
    assert_eq!(other.load(&flipped), Err(Error::CheckpointCorrupt));
    assert_eq!(other.load(&bytes[..bytes.len() - 1]), Err(Error::CheckpointCorrupt));
    assert_eq!(other.load(&bytes[..10]), Err(Error::CheckpointCorrupt));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(other.load(&magic), Err(Error::CheckpointMagic));
    let mut version = bytes.clone();
    version[4] = 2;
    assert_eq!(other.load(&version), Err(Error::CheckpointVersion { found: 2 }));
    assert_eq!(other.parameters(), &before);

    // Intact, but for another optimiser or architecture.
    let mut adam = trainer(Arch::OFFICIAL, AdamW::new(0.0), 14);
    assert_eq!(adam.load(&bytes), Err(Error::CheckpointShape));
    let mut no_bn = trainer(Arch { batch_norm: false, ..Arch::OFFICIAL }, Sgd::new(0.9, 0.0), 15);
    assert_eq!(no_bn.load(&bytes), Err(Error::CheckpointShape));
    let mut wider: Box<Trainer<16, 7, 12, 5, 10, 8, 8, Sgd<7, 12, 5, 10, 8>>> =
        Box::new(Trainer::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    assert_eq!(wider.load(&bytes), Err(Error::CheckpointShape));

    // Parameters only: accepted by any optimiser, whose state starts afresh.
    let mut params_only = vec![0u8; Small::<Sgd<6, 12, 5, 10, 8>>::checkpoint_bytes(false)];
    t.save(&mut params_only, false).unwrap();
    adam.load(&params_only).unwrap();
    assert_eq!(adam.parameters(), t.parameters());
    assert_eq!(t.save(&mut [0u8; 8], true), Err(Error::BufferTooSmall { needed: bytes.len(), available: 8 }));
}

#[test]
fn representation_and_embedding_in_inference_mode_handle_any_row_count() {
    let mut t = trainer(Arch::OFFICIAL, Sgd::new(0.9, 0.0), 21);
    let (a, b) = inputs(16, 6);
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    let (x, _) = inputs(40, 7); // more than N = 16 rows: processed in chunks
    let mut y = vec![[0.0; 5]; 40];
    t.represent(&x, &mut y).unwrap();
    // The same rows represented alone agree exactly (rows are independent).
    let mut y0 = vec![[0.0; 5]; 1];
    t.represent(&x[33..34], &mut y0).unwrap();
    assert_eq!(y0[0], y[33]);
    let mut z = vec![[0.0; 8]; 40];
    t.embed(&x, &mut z).unwrap();
    assert!(z.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(t.represent(&x, &mut y[..39]), Err(Error::ShapeMismatch));
}
