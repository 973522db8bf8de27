//! Streaming VICReg is exact: a batch of 1024 rows streamed in micro-batches
//! of 1, 7 and 32 gives the loss and every parameter gradient of the
//! full-batch pass, to the `mlp` tolerance of `reference/FORMAT.md`, for a
//! network with BatchNorm in the expander and one with a Conv1d encoder
//! (BatchNorm in both parts). Shards merge in any grouping and order, a
//! data-parallel step over threads equals one thread, and corrupted or
//! mismatched encodings are refused.

use host_tests::batches::SplitMix;
use host_tests::streaming::stream;
use host_tests::vectors::{MLP_TOL, array_agreements, scalar_agreement};
use vicreg::nn::Buffer;
use vicreg::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese, Stream, StreamError, parallel_gradients};
use vicreg::{Lanes, LossTerms, Pcg32};

const N: usize = 1024;

const MLP: Net = Net::new(
    Shape::Flat(16),
    &[Layer::linear(32), Layer::ReLU, Layer::linear(24)],
    &[Layer::linear(32), Layer::BatchNorm, Layer::ReLU, Layer::linear(16).without_bias()],
);

const CONV: Net = Net::new(
    Shape::Map { channels: 3, length: 24 },
    &[
        Layer::conv1d(8, 5).stride(2).padding(2),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::conv1d(8, 3),
        Layer::ReLU,
        Layer::MeanTime,
        Layer::linear(12),
    ],
    &[Layer::linear(16), Layer::BatchNorm, Layer::ReLU, Layer::linear(16).without_bias()],
);

/// Parameters drawn as PyTorch does, and two views of n samples: a random
/// batch and a noisy copy of it.
fn setup(net: &Net<'_>, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut places = vec![Place::EMPTY; net.depth()];
    let siamese = Siamese::<AllKinds>::new(net, 2, &mut places).expect("a network");
    let sizes = siamese.layout().sizes;
    let (mut params, mut running) = (vec![0.0; sizes.parameters], vec![0.0; sizes.running]);
    siamese.init(&mut params, &mut running, &mut Pcg32::new(seed)).expect("sizes");
    let mut rng = SplitMix::new(seed);
    // Offsets comparable to the spread, so the statistics are not centred
    // already. (Offsets much larger than the spread make the first layer's
    // gradient ill-conditioned in f32 itself: Σᵢ∂ℓ/∂xᵢ, zero in exact
    // arithmetic, is multiplied by the offset.)
    let x_a: Vec<f32> = (0..N * sizes.input).map(|i| 0.5 * (i % 5) as f32 - 1.0 + rng.symmetric()).collect();
    let x_b: Vec<f32> = x_a.iter().map(|x| x + 0.3 * rng.symmetric()).collect();
    (params, x_a, x_b)
}

/// The full batch's loss terms and gradients.
fn full_batch(net: &Net<'_>, params: &[f32], x_a: &[f32], x_b: &[f32]) -> (LossTerms, Vec<f32>) {
    let mut places = vec![Place::EMPTY; net.depth()];
    let siamese = Siamese::<AllKinds>::new(net, N, &mut places).expect("a network");
    let sizes = siamese.layout().sizes;
    let mut grads = vec![0.0; sizes.parameters];
    let mut workspace = vec![0.0; sizes.workspace];
    let terms = siamese
        .compute_gradients(&Pass::default(), params, &mut grads, &mut workspace, x_a, x_b)
        .expect("a finite step");
    (terms, grads)
}

/// Worst agreement (as a fraction of the `mlp` tolerance) of the four loss
/// terms and of every parameter tensor, the full batch taken as expected.
fn worst_ratio(net: &Net<'_>, expected: &(LossTerms, Vec<f32>), got: &(LossTerms, Vec<f32>)) -> (f64, String) {
    let (e, g) = (&expected.0, &got.0);
    let mut all: Vec<_> = [
        ("loss", e.loss, g.loss),
        ("invariance", e.invariance, g.invariance),
        ("variance", e.variance, g.variance),
        ("covariance", e.covariance, g.covariance),
    ]
    .iter()
    .map(|(what, e, g)| scalar_agreement(what, f64::from(*e), f64::from(*g), MLP_TOL))
    .collect();
    let widen = |s: &[f32]| s.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
    let arrays: Vec<(String, Vec<f64>, Vec<f64>)> = net
        .tensors()
        .map(|t| (format!("{}.{}", t.layer, t.name()), widen(&expected.1[t.range()]), widen(&got.1[t.range()])))
        .collect();
    let pairs: Vec<(&str, &[f64], &[f64])> =
        arrays.iter().map(|(n, e, g)| (n.as_str(), e.as_slice(), g.as_slice())).collect();
    all.extend(array_agreements(&pairs, MLP_TOL));
    let w = all.into_iter().max_by(|a, b| a.ratio.total_cmp(&b.ratio)).expect("quantities");
    (w.ratio, w.what)
}

fn streamed(net: &Net<'_>, params: &[f32], x_a: &[f32], x_b: &[f32], micro: usize) -> (LossTerms, Vec<f32>) {
    let mut places = vec![Place::EMPTY; net.depth()];
    let siamese = Siamese::<AllKinds>::new(net, micro.max(2), &mut places).expect("a network");
    let out = stream(&siamese, &Pass::default(), params, (x_a, x_b), micro).expect("a finite streamed step");
    (out.terms, out.grads)
}

fn check_streaming_equals_full_batch(net: &Net<'_>, name: &str) {
    let (params, x_a, x_b) = setup(net, 7);
    let full = full_batch(net, &params, &x_a, &x_b);
    let mut failures = Vec::new();
    for micro in [1, 7, 32] {
        let got = streamed(net, &params, &x_a, &x_b, micro);
        let (ratio, what) = worst_ratio(net, &full, &got);
        println!("{name}, micro-batches of {micro}: worst {:.2}% of the tolerance ({what})", 100.0 * ratio);
        if ratio > 1.0 {
            failures.push(format!("micro-batches of {micro}: {what} off by {ratio:.2}× the tolerance"));
        }
    }
    assert!(failures.is_empty(), "{name}: {failures:?}");
}

#[test]
fn a_streamed_batch_of_1024_equals_the_full_batch_with_batch_norm_in_the_expander() {
    check_streaming_equals_full_batch(&MLP, "BatchNorm expander");
}

#[test]
fn a_streamed_batch_of_1024_equals_the_full_batch_with_a_conv1d_encoder() {
    check_streaming_equals_full_batch(&CONV, "Conv1d encoder");
}

#[test]
fn a_wrong_statistic_is_caught_by_the_comparison() {
    // The comparison can fail: streaming with the second view's rows in
    // another order changes the invariance term and every gradient.
    let (params, x_a, x_b) = setup(&MLP, 7);
    let full = full_batch(&MLP, &params, &x_a, &x_b);
    let input = 16;
    let mut shuffled = x_b.clone();
    shuffled[..input].copy_from_slice(&x_b[input..2 * input]);
    shuffled[input..2 * input].copy_from_slice(&x_b[..input]);
    let got = streamed(&MLP, &params, &x_a, &shuffled, 7);
    assert!(worst_ratio(&MLP, &full, &got).0 > 1.0);
}

#[test]
fn threads_give_the_gradients_of_one_thread() {
    for net in [&MLP, &CONV] {
        let (params, x_a, x_b) = setup(net, 11);
        let full = full_batch(net, &params, &x_a, &x_b);
        let mut places = vec![Place::EMPTY; net.depth()];
        let siamese = Siamese::<AllKinds>::new(net, 32, &mut places).expect("a network");
        let input = siamese.layout().sizes.input;
        let fill = |first: usize, a: &mut [f32], b: &mut [f32]| {
            a.copy_from_slice(&x_a[first * input..first * input + a.len()]);
            b.copy_from_slice(&x_b[first * input..first * input + b.len()]);
        };
        let mut one = None;
        for threads in [1, 2, 3, 5] {
            let mut grads = vec![0.0; params.len()];
            let terms = parallel_gradients(&siamese, &Pass::default(), &params, &mut grads, N, threads, fill)
                .expect("a finite step");
            let got = (terms, grads);
            let (ratio, what) = worst_ratio(net, &full, &got);
            assert!(ratio <= 1.0, "{threads} threads against the full batch: {what} off by {ratio:.2}×");
            let one = one.get_or_insert_with(|| got.clone());
            let (ratio, what) = worst_ratio(net, one, &got);
            assert!(ratio <= 1.0, "{threads} threads against one: {what} off by {ratio:.2}×");
        }
    }
}

/// The values of an encoding (after its 12-byte header, before its
/// checksum).
fn values(bytes: &[u8]) -> Vec<f32> {
    bytes[12..bytes.len() - 4].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

#[test]
fn shards_merge_in_any_grouping_and_order_and_bad_encodings_are_refused() {
    let (params, x_a, x_b) = setup(&MLP, 3);
    let mut places = vec![Place::EMPTY; MLP.depth()];
    let siamese = Siamese::<AllKinds>::new(&MLP, 64, &mut places).expect("a network");
    let sizes = siamese.layout().sizes;
    let input = sizes.input;
    let pass = Pass::default();
    let mut workspace = vec![0.0; sizes.workspace];
    let mut grads = vec![0.0; sizes.parameters];
    // Three shards of unequal size, taken to the end of each stage, then
    // encoded; the stage's statistics of the union are compared when merged
    // as ((a b) c), (a (b c)) and (c b a), and against one shard of all rows.
    let bounds = [0, 100, 450, N];
    let mut states: Vec<Vec<f32>> = (0..5).map(|_| vec![0.0; sizes.stream_state()]).collect();
    let [sa, sb, sc, sab, sbc] = &mut states[..] else { unreachable!() };
    let mut single_state = vec![0.0; sizes.stream_state()];
    let mut single = Stream::new(&siamese, &mut single_state).unwrap();
    let mut shards =
        [Stream::new(&siamese, sa).unwrap(), Stream::new(&siamese, sb).unwrap(), Stream::new(&siamese, sc).unwrap()];
    let (mut ab, mut bc) = (Stream::new(&siamese, sab).unwrap(), Stream::new(&siamese, sbc).unwrap());
    let lanes = Lanes::Wide;
    for stage in 0..single.stages() {
        let mut encoded = Vec::new();
        for (k, shard) in shards.iter_mut().enumerate() {
            for first in (bounds[k]..bounds[k + 1]).step_by(64) {
                let end = (first + 64).min(bounds[k + 1]);
                let (a, b) = (&x_a[first * input..end * input], &x_b[first * input..end * input]);
                shard.absorb(&pass, &params, &mut grads, &mut workspace, a, b).unwrap();
                single.absorb(&pass, &params, &mut grads, &mut workspace, a, b).unwrap();
            }
            let mut bytes = vec![0; shard.encoded_len()];
            shard.encode(&mut bytes).unwrap();
            encoded.push(bytes);
        }
        let encode = |s: &Stream<'_, '_, AllKinds>| {
            let mut bytes = vec![0; s.encoded_len()];
            s.encode(&mut bytes).unwrap();
            bytes
        };
        // ((a b) c)
        ab.begin(stage).unwrap();
        ab.merge(lanes, &encoded[0]).unwrap();
        ab.merge(lanes, &encoded[1]).unwrap();
        bc.begin(stage).unwrap();
        bc.merge(lanes, &encoded[1]).unwrap();
        bc.merge(lanes, &encoded[2]).unwrap();
        let ab_bytes = encode(&ab);
        let bc_bytes = encode(&bc);
        let mut orders = Vec::new();
        for parts in [
            [&ab_bytes, &encoded[2], &Vec::new()],
            [&encoded[0], &bc_bytes, &Vec::new()],
            [&encoded[2], &encoded[1], &encoded[0]],
        ] {
            ab.begin(stage).unwrap();
            for p in parts.iter().filter(|p| !p.is_empty()) {
                ab.merge(lanes, p).unwrap();
            }
            orders.push(values(&encode(&ab)));
        }
        let whole = values(&encode(&single));
        for got in &orders {
            assert_eq!(got.len(), whole.len());
            let scale = whole.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
            for (g, w) in got.iter().zip(&whole) {
                assert!((g - w).abs() <= 1e-5 * scale, "stage {stage}: merged {g} against {w} (scale {scale})");
            }
        }
        // Refusals: a flipped bit, another stage, a wrong magic number.
        let mut bad = encoded[0].clone();
        bad[13] ^= 1;
        assert_eq!(ab.merge(lanes, &bad), Err(StreamError::Corrupt));
        let mut magic = encoded[0].clone();
        magic[0] = b'X';
        assert_eq!(ab.merge(lanes, &magic), Err(StreamError::Magic));
        // Every shard takes the union's statistics into the next stage.
        for shard in &mut shards {
            shard.begin(stage).unwrap();
            for bytes in &encoded {
                shard.merge(lanes, bytes).unwrap();
            }
            shard.finish(&pass).unwrap();
        }
        let next = single.finish(&pass).unwrap();
        if stage + 1 < single.stages() {
            assert!(next.is_none());
            ab.begin(stage + 1).unwrap();
            assert!(matches!(ab.merge(lanes, &encoded[0]), Err(StreamError::Stage { .. })));
        }
    }
}

const SMALL: Net = Net::new(
    Shape::Flat(12),
    &[Layer::linear(16), Layer::ReLU, Layer::linear(6)],
    &[Layer::linear(16), Layer::BatchNorm, Layer::ReLU, Layer::linear(10).without_bias()],
);
vicreg::network!(Micro = SMALL, batch 8);
vicreg::network!(Whole = SMALL, batch 64);

#[test]
fn a_streamed_training_step_equals_a_full_batch_step() {
    // SGD, not AdamW: the biases before a BatchNorm get an exactly zero
    // gradient, and AdamW's normalisation would turn its rounding noise
    // (different in the two computations) into full-size steps.
    use vicreg::{Sgd, Trainer, TrainerConfig};
    let mut rng = SplitMix::new(21);
    let x_a: Vec<[f32; 12]> = (0..64).map(|_| core::array::from_fn(|_| rng.symmetric())).collect();
    let x_b: Vec<[f32; 12]> = x_a.iter().map(|r| r.map(|v| v + 0.2 * rng.symmetric())).collect();
    let mut micro = Box::new(Trainer::<Micro, Sgd>::new(TrainerConfig::new(5e-2), Sgd::new(0.9, 1e-3)));
    let mut whole = Box::new(Trainer::<Whole, Sgd>::new(TrainerConfig::new(5e-2), Sgd::new(0.9, 1e-3)));
    micro.init(&mut Pcg32::new(4));
    whole.init(&mut Pcg32::new(4));
    let mut streaming = Box::new(<Micro as vicreg::nn::Network>::Streaming::ZERO);
    for _ in 0..3 {
        let full = whole.step(&x_a, &x_b).expect("a finite step");
        let streamed = micro
            .step_streamed(&mut streaming, 64, |first, a, b| {
                a.copy_from_slice(&x_a[first..first + a.len()]);
                b.copy_from_slice(&x_b[first..first + b.len()]);
            })
            .expect("a finite streamed step");
        assert!((full.terms.loss - streamed.terms.loss).abs() <= 1e-4 * full.terms.loss.abs().max(1.0));
    }
    // Parameters after three SGD steps and the running statistics (the
    // whole batch's mean and unbiased variance per view) agree.
    let (mut cp_micro, mut cp_whole) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let len = micro.save(&mut cp_micro, false).unwrap();
    assert_eq!(whole.save(&mut cp_whole, false).unwrap(), len);
    let floats = |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect::<Vec<_>>();
    let header = vicreg::train::checkpoint::HEADER_BYTES + SMALL.depth() * vicreg::train::checkpoint::RECORD_BYTES;
    let (m, w) = (floats(&cp_micro[header..len - 4]), floats(&cp_whole[header..len - 4]));
    let scale = w.iter().fold(1e-3f32, |s, v| s.max(v.abs()));
    let worst = m.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4 * scale, "streamed and full-batch trainers differ by {worst} (scale {scale})");
}
