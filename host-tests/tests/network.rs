//! Networks declared as layer lists, through the public API: gradients of
//! every kind of layer against an independent f64 implementation, BatchNorm's
//! running statistics and inference against the same, frozen layers, failed
//! steps, and checkpoints that know their network.

use host_tests::batches::SplitMix;
use host_tests::f64_reference::Config64;
use host_tests::net64;
use vicreg::nn::{AllKinds, Frozen, Layer, Net, Pass, Place, Shape, Siamese, Tensor};
use vicreg::train::checkpoint::CheckpointError;
use vicreg::{AdamW, Config, CovarianceSide, Error, Options, Pcg32, Sgd, Trainer, TrainerConfig};

/// The official expander shape after a small encoder.
const OFFICIAL: Net = Net::new(
    Shape::Flat(6),
    &[Layer::linear(12), Layer::ReLU, Layer::linear(5)],
    &[
        Layer::linear(10),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::linear(10),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::linear(16).without_bias(),
    ],
);
/// Conv1d with stride 2 and padding, BatchNorm over a C×T map, a Conv1d
/// without bias, the mean over time.
const CONV_MEAN: Net = Net::new(
    Shape::Map { channels: 3, length: 16 },
    &[
        Layer::conv1d(4, 3).stride(2).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::conv1d(5, 3).without_bias(),
        Layer::ReLU,
        Layer::MeanTime,
        Layer::linear(6),
    ],
    &[Layer::linear(10), Layer::BatchNorm, Layer::ReLU, Layer::linear(12)],
);
/// A Conv1d map flattened into a Linear without bias; no BatchNorm.
const CONV_FLAT: Net = Net::new(
    Shape::Map { channels: 2, length: 10 },
    &[Layer::conv1d(3, 4).stride(2).padding(2), Layer::ReLU, Layer::linear(5).without_bias()],
    &[Layer::linear(8), Layer::ReLU, Layer::linear(8)],
);

fn inputs(len: usize, n: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = SplitMix::new(seed);
    let a: Vec<f32> = (0..n * len).map(|_| 2.0 * rng.symmetric()).collect();
    let b = a.iter().map(|v| v + 0.2 * rng.symmetric()).collect();
    (a, b)
}

fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().copied().map(f64::from).collect()
}

/// The core's gradient of every tensor against f64 central differences of
/// an independent f64 forward pass; returns the worst error of a tensor as a
/// fraction of that tensor's largest gradient.
fn worst_gradient_error(net: &Net<'_>, n: usize, seed: u64, side: CovarianceSide) -> (f64, Tensor) {
    let mut places = vec![Place::EMPTY; net.depth()];
    let siamese = Siamese::<AllKinds>::new(net, n, &mut places).unwrap();
    let sizes = siamese.layout().sizes;
    let mut params = vec![0.0; sizes.parameters];
    let mut running = vec![0.0; sizes.running];
    siamese.init(&mut params, &mut running, &mut Pcg32::new(seed)).unwrap();
    let (a, b) = inputs(sizes.input, n, 100 + seed);
    let pass = Pass { options: Options { side, ..Options::default() }, ..Pass::default() };
    let mut grads = vec![0.0; sizes.parameters];
    let mut workspace = vec![0.0; sizes.workspace + vicreg::scratch_len(n, sizes.embed, side)];
    siamese.compute_gradients(&pass, &params, &mut grads, &mut workspace, &a, &b).unwrap();
    let cfg = Config64::from(Config::DEFAULT);
    let numeric = net64::gradient(net, &widen(&params), &widen(&a), &widen(&b), n, 1e-5, &cfg);
    // A tensor whose true gradient is nearly zero (a bias just before a
    // BatchNorm, which removes any shift) is judged on a thousandth of the
    // network's largest gradient instead of its own.
    let global = numeric.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let mut worst = (0.0, None);
    for t in net.tensors() {
        let r = t.range();
        let scale = numeric[r.clone()].iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-3 * global);
        let err = grads[r.clone()].iter().zip(&numeric[r]).map(|(g, e)| (f64::from(*g) - e).abs()).fold(0.0, f64::max);
        if err / scale >= worst.0 {
            worst = (err / scale, Some(t));
        }
    }
    (worst.0, worst.1.unwrap())
}

/// A scaled gradient of 1 % in any one tensor is more than five times this
/// tolerance; the core's f32 gradients stay well inside it.
const GRADIENT_TOL: f64 = 2e-3;

#[test]
fn gradients_through_every_layer_kind_match_f64_difference_quotients_on_both_covariance_sides() {
    // (network, n): n < d and n > d, so both covariance sides are taken.
    for (name, net, n) in [
        ("official n=12 (d=16)", OFFICIAL, 12),
        ("official n=20 (d=16)", OFFICIAL, 20),
        ("conv+mean n=9 (d=12)", CONV_MEAN, 9),
        ("conv+mean n=16 (d=12)", CONV_MEAN, 16),
        ("conv+flat n=6 (d=8)", CONV_FLAT, 6),
        ("conv+flat n=12 (d=8)", CONV_FLAT, 12),
    ] {
        for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
            for seed in 0..2 {
                let (err, t) = worst_gradient_error(&net, n, seed, side);
                assert!(
                    err <= GRADIENT_TOL,
                    "{name} {side:?} seed {seed}: layer {} {} is off by {:.2e} of its largest gradient",
                    t.layer,
                    t.name(),
                    err
                );
            }
        }
    }
}

vicreg::network!(Official = OFFICIAL, batch 16);
vicreg::network!(ConvMean = CONV_MEAN, batch 16);
type Small<O> = Trainer<Official, O>;

fn trainer<O: vicreg::Optimizer>(optimizer: O, seed: u64) -> Box<Small<O>> {
    let mut t = Box::new(Trainer::new(TrainerConfig::new(1e-2), optimizer));
    t.init(&mut Pcg32::new(seed));
    t
}

fn rows<const L: usize>(flat: &[f32]) -> Vec<[f32; L]> {
    flat.chunks_exact(L).map(|r| r.try_into().unwrap()).collect()
}

fn sample_rows<const L: usize>(n: usize, seed: u64) -> (Vec<[f32; L]>, Vec<[f32; L]>) {
    let (a, b) = inputs(L, n, seed);
    (rows(&a), rows(&b))
}

#[test]
fn running_statistics_and_inference_follow_torch_batch_norm() {
    // With a learning rate of 0 the weights stay fixed, so the running
    // statistics after k steps follow from f64 batch statistics alone:
    // r ← (1 − m)·r + m·batch, view a then view b, unbiased variance over n·T.
    let mut t: Box<Trainer<ConvMean, Sgd>> = Box::new(Trainer::new(TrainerConfig::new(0.0), Sgd::new(0.0, 0.0)));
    t.init(&mut Pcg32::new(3));
    let params = widen(t.parameters());
    let net = CONV_MEAN;
    let (n, m, eps) = (11usize, 0.1f64, 1e-5f64);
    let mut expected: Vec<f64> = widen(t.running_statistics());
    for step in 0..4 {
        let (a, b) = sample_rows::<48>(n, 40 + step);
        t.step(&a, &b).unwrap();
        for x in [&a, &b] {
            let x = widen(x.as_flattened());
            // BatchNorm layers 1 (over 4×8 maps) and 8 (over 10 features).
            for (layer, at) in [(1usize, 0usize), (8, 8)] {
                let input = net64::forward(&net, &params, None, &x, n, eps, layer);
                let shape = net.shape_before(layer).unwrap();
                let (c, len) = (shape.channels(), shape.length());
                let count = (n * len) as f64;
                for ch in 0..c {
                    let v: Vec<f64> = (0..n)
                        .flat_map(|r| (0..len).map(move |p| r * c * len + ch * len + p))
                        .map(|k| input[k])
                        .collect();
                    let mean = v.iter().sum::<f64>() / count;
                    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (count - 1.0);
                    expected[at + ch] += m * (mean - expected[at + ch]);
                    expected[at + c + ch] += m * (var - expected[at + c + ch]);
                }
            }
        }
    }
    let got = t.running_statistics();
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!((f64::from(*g) - e).abs() <= 1e-5 * e.abs().max(1.0), "running statistic {i}: {g} vs {e}");
    }
    // Inference uses them: representation (BatchNorm inside the encoder) and
    // embedding against the f64 forward pass in inference mode.
    let (x, _) = sample_rows::<48>(21, 77);
    let flat = widen(x.as_flattened());
    let mut y = vec![[0.0f32; 6]; 21];
    t.represent(&x, &mut y).unwrap();
    let mut z = vec![[0.0f32; 12]; 21];
    t.embed(&x, &mut z).unwrap();
    for (got, until) in [(y.as_flattened(), 7), (z.as_flattened(), net.depth())] {
        let want = net64::forward(&net, &params, Some(&expected), &flat, 21, eps, until);
        for (g, w) in got.iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() <= 1e-4 * w.abs().max(1.0), "inference after {until} layers: {g} vs {w}");
        }
    }
}

#[test]
fn frozen_layers_get_no_gradient_and_no_update() {
    let frozen = Frozen::first(3).with(4);
    let mut t = trainer(AdamW::new(0.01), 7);
    t.set_config(TrainerConfig { frozen, ..*t.config() });
    let before = t.parameters().to_vec();
    let (a, b) = sample_rows::<6>(16, 3);
    for _ in 0..5 {
        t.step(&a, &b).unwrap();
    }
    for tensor in OFFICIAL.tensors() {
        let r = tensor.range();
        let same = before[r.clone()] == t.parameters()[r.clone()];
        let is_frozen = frozen.contains(tensor.layer);
        assert_eq!(same, is_frozen, "layer {} {}: frozen {is_frozen}, unchanged {same}", tensor.layer, tensor.name());
        if is_frozen {
            assert!(t.gradients()[r].iter().all(|&g| g == 0.0), "layer {} frozen but has a gradient", tensor.layer);
        }
    }
}

#[test]
fn a_failed_step_leaves_parameters_state_and_count_untouched() {
    let mut t = trainer(AdamW::new(0.01), 9);
    let (a, b) = sample_rows::<6>(16, 4);
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
    assert_eq!(t.optimizer_state(), snapshot.optimizer_state());
}

#[test]
fn a_step_whose_loss_overflows_is_refused() {
    // Without BatchNorm nothing rescales huge activations: finite inputs of
    // 1e37 give embeddings whose squared differences overflow.
    const PLAIN: Net =
        Net::new(Shape::Flat(6), &[Layer::linear(12), Layer::ReLU, Layer::linear(5)], &[Layer::linear(8)]);
    vicreg::network!(Plain = PLAIN, batch 16);
    let mut t: Box<Trainer<Plain, Sgd>> = Box::new(Trainer::new(TrainerConfig::new(0.01), Sgd::new(0.9, 0.0)));
    t.init(&mut Pcg32::new(10));
    let (a, b) = sample_rows::<6>(16, 4);
    let before = t.parameters().to_vec();
    let huge: Vec<[f32; 6]> = a.iter().map(|r| r.map(|v| v * 1e37)).collect();
    assert_eq!(t.step(&huge, &b).unwrap_err(), Error::NonFiniteResult);
    assert_eq!(t.parameters(), before);
    assert_eq!(t.steps(), 0);
}

#[test]
fn checkpoint_round_trip_resumes_training_bit_for_bit() {
    let mut t = trainer(AdamW::new(0.01), 11);
    let (a, b) = sample_rows::<6>(16, 5);
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    let mut bytes = vec![0u8; Small::<AdamW>::checkpoint_bytes(true)];
    let len = t.save(&mut bytes, true).unwrap();
    assert_eq!(len, bytes.len());

    let mut restored = trainer(AdamW::new(0.01), 99);
    restored.load(&bytes).unwrap();
    assert_eq!(restored.parameters(), t.parameters());
    assert_eq!(restored.steps(), 3);
    let next = t.step(&a, &b).unwrap();
    let next_restored = restored.step(&a, &b).unwrap();
    assert_eq!(next, next_restored);
    assert_eq!(restored.parameters(), t.parameters());
}

#[test]
fn checkpoints_of_another_network_name_the_first_layer_that_differs() {
    let t = trainer(Sgd::new(0.9, 0.0), 12);
    let mut bytes = vec![0u8; Small::<Sgd>::checkpoint_bytes(true)];
    t.save(&mut bytes, true).unwrap();

    let mut other = trainer(Sgd::new(0.9, 0.0), 13);
    let before = other.parameters().to_vec();
    let mut flipped = bytes.clone();
    flipped[100] ^= 0x10;
    assert_eq!(other.load(&flipped), Err(CheckpointError::Corrupt));
    assert_eq!(other.load(&bytes[..bytes.len() - 1]), Err(CheckpointError::Corrupt));
    assert_eq!(other.load(&bytes[..10]), Err(CheckpointError::Corrupt));
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(other.load(&magic), Err(CheckpointError::Magic));
    let mut version = bytes.clone();
    version[4] = 1;
    assert_eq!(other.load(&version), Err(CheckpointError::Version { found: 1 }));
    assert_eq!(other.parameters(), before);

    // Intact, but another optimiser's state.
    let mut adam = trainer(AdamW::new(0.0), 14);
    assert_eq!(adam.load(&bytes), Err(CheckpointError::Optimizer { found: 1 }));

    // Another network: the first differing layer is named.
    const WIDER_EXPANDER: Net = Net::new(
        Shape::Flat(6),
        &[Layer::linear(12), Layer::ReLU, Layer::linear(5)],
        &[
            Layer::linear(10),
            Layer::BatchNorm,
            Layer::ReLU,
            Layer::linear(11),
            Layer::BatchNorm,
            Layer::ReLU,
            Layer::linear(16).without_bias(),
        ],
    );
    const OTHER_INPUT: Net = Net::new(Shape::Flat(7), OFFICIAL.encoder, OFFICIAL.expander);
    const SHALLOW: Net = Net::new(Shape::Flat(6), OFFICIAL.encoder, &[Layer::linear(16)]);
    vicreg::network!(Wider = WIDER_EXPANDER, batch 16);
    vicreg::network!(OtherInput = OTHER_INPUT, batch 16);
    vicreg::network!(Shallow = SHALLOW, batch 16);
    let mut wider: Box<Trainer<Wider, Sgd>> = Box::new(Trainer::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    assert_eq!(wider.load(&bytes), Err(CheckpointError::Layer { index: 6 }));
    let mut input: Box<Trainer<OtherInput, Sgd>> = Box::new(Trainer::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    assert_eq!(input.load(&bytes), Err(CheckpointError::Input));
    let mut shallow: Box<Trainer<Shallow, Sgd>> = Box::new(Trainer::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    assert_eq!(shallow.load(&bytes), Err(CheckpointError::Depth { found: 10, expected: 4 }));

    // Parameters only: accepted by any optimiser, whose state starts afresh.
    let mut params_only = vec![0u8; Small::<Sgd>::checkpoint_bytes(false)];
    t.save(&mut params_only, false).unwrap();
    adam.load(&params_only).unwrap();
    assert_eq!(adam.parameters(), t.parameters());
    assert_eq!(t.save(&mut [0u8; 8], true), Err(CheckpointError::BufferTooSmall { needed: bytes.len(), available: 8 }));
}

#[test]
fn representation_and_embedding_in_inference_mode_handle_any_row_count() {
    let mut t = trainer(Sgd::new(0.9, 0.0), 21);
    let (a, b) = sample_rows::<6>(16, 6);
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    let (x, _) = sample_rows::<6>(40, 7); // more than N = 16 rows: processed in chunks
    let mut y = vec![[0.0; 5]; 40];
    t.represent(&x, &mut y).unwrap();
    // The same rows represented alone agree exactly (rows are independent).
    let mut y0 = vec![[0.0; 5]; 1];
    t.represent(&x[33..34], &mut y0).unwrap();
    assert_eq!(y0[0], y[33]);
    let mut z = vec![[0.0; 16]; 40];
    t.embed(&x, &mut z).unwrap();
    assert!(z.iter().flatten().all(|v| v.is_finite()));
    assert_eq!(t.represent(&x, &mut y[..39]), Err(Error::ShapeMismatch));
}
