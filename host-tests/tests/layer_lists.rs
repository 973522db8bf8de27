//! Random layer lists (depths 1 to 6; random widths, kernels, strides,
//! paddings, biases; vectors, C×T maps and C×H×W images with convolutions
//! and both poolings; BatchNorm anywhere): the core's
//! gradients of every parameter against central differences of an
//! independent f64 forward pass, and the layout's invariants (buffers that
//! fit the workspace, tensors that tile the parameters).

use host_tests::batches::SplitMix;
use host_tests::f64_reference::Config64;
use host_tests::net64;
use proptest::prelude::*;
use vicreg::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese};
use vicreg::{Config, Pcg32};

/// A layer that fits `shape`, from the draws in `pick`.
fn layer_for(shape: Shape, pick: [u8; 5]) -> Layer {
    let [kind, a, b, c, d] = pick.map(u16::from);
    let bias = d % 2 == 0;
    // Every size drawn here is small; as a setting, a 16-bit count.
    let count = |x: usize| u16::try_from(x).expect("a small size");
    let layer = match (shape, kind % 7) {
        (Shape::Map { length, .. }, 0 | 1) => {
            let padding = b % 3;
            let kernel = 1 + usize::from(a) % (length + 2 * usize::from(padding)).min(4);
            let stride = 1 + c % 3;
            Layer::conv1d(1 + usize::from(d % 4), kernel).stride(stride).padding(padding)
        }
        (Shape::Map { .. }, 2) => Layer::MeanTime,
        (Shape::Image { height, width, .. }, 0 | 1) => {
            let padding = [b % 2, c % 2];
            let kernel = [
                1 + a % count((height + 2 * usize::from(padding[0])).min(3)),
                1 + (a / 3) % count((width + 2 * usize::from(padding[1])).min(3)),
            ];
            Layer::conv2d(1 + usize::from(d % 3), kernel).strides([1 + c % 2, 1 + (c / 2) % 2]).paddings(padding)
        }
        (Shape::Image { height, width, .. }, 2) => {
            let kernel = [1 + a % count(height.min(2)), 1 + b % count(width.min(3))];
            let pool = if d % 4 < 2 { Layer::max_pool2d(kernel) } else { Layer::avg_pool2d(kernel) };
            // Overlapping windows as often as side-by-side ones.
            if c % 2 == 0 { pool.strides([1, 1]) } else { pool }
        }
        (Shape::Image { .. }, 5 | 6) if d % 3 == 0 => Layer::MeanSpace,
        (_, 3) => Layer::BatchNorm,
        (_, 4) => Layer::ReLU,
        _ => Layer::linear(1 + usize::from(a % 6)),
    };
    if bias { layer } else { layer.without_bias() }
}

/// A random valid network: an input shape, then layers chosen to fit.
fn network() -> impl Strategy<Value = (Shape, Vec<Layer>, usize)> {
    let input = prop_oneof![
        (1usize..7).prop_map(Shape::Flat),
        (1usize..4, 3usize..12).prop_map(|(channels, length)| Shape::Map { channels, length }),
        (1usize..3, 2usize..6, 2usize..6).prop_map(|(channels, height, width)| Shape::Image {
            channels,
            height,
            width
        }),
    ];
    (input, prop::collection::vec(any::<[u8; 5]>(), 1..=6), any::<u8>()).prop_map(|(input, picks, split)| {
        let mut shape = input;
        let mut layers = Vec::new();
        for pick in picks {
            let layer = layer_for(shape, pick);
            shape = layer.output(shape).expect("chosen to fit");
            layers.push(layer);
        }
        let encoder = 1 + usize::from(split) % layers.len();
        (input, layers, encoder)
    })
}

proptest! {
    // A fixed seed: the same 256 layer lists on every run, so the test
    // command's verdict does not depend on the draw (set PROPTEST_RNG_SEED
    // or change the seed to explore others).
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_1a7e),
        ..ProptestConfig::default()
    })]

    #[test]
    fn gradients_of_random_layer_lists_match_f64_difference_quotients(
        (input, layers, encoder) in network(),
        n in 3usize..7,
        seed in any::<u64>(),
    ) {
        let (enc, exp) = layers.split_at(encoder);
        let net = Net::new(input, enc, exp);
        prop_assert!(net.check().is_ok());
        let mut places = vec![Place::EMPTY; net.depth()];
        let siamese = Siamese::<AllKinds>::new(&net, n, &mut places).unwrap();
        let sizes = siamese.layout().sizes;

        // The tensors tile the parameter vector in order, with no gap.
        let mut at = 0;
        for t in net.tensors() {
            prop_assert_eq!(t.offset, at);
            at += t.len();
        }
        prop_assert_eq!(at, sizes.parameters);

        let mut params = vec![0.0; sizes.parameters];
        let mut running = vec![0.0; sizes.running];
        siamese.init(&mut params, &mut running, &mut Pcg32::new(seed)).unwrap();
        let mut rng = SplitMix::new(seed);
        let x_a: Vec<f32> = (0..n * sizes.input).map(|_| 1.5 * rng.symmetric()).collect();
        let x_b: Vec<f32> = x_a.iter().map(|v| v + 0.3 * rng.symmetric()).collect();
        let mut grads = vec![0.0; sizes.parameters];
        let mut workspace = vec![0.0; sizes.workspace];
        let pass = Pass::default();
        siamese.compute_gradients(&pass, &params, &mut grads, &mut workspace, &x_a, &x_b).unwrap();

        let widen = |v: &[f32]| v.iter().copied().map(f64::from).collect::<Vec<f64>>();
        let cfg = Config64::from(Config::DEFAULT);
        let numeric = net64::gradient(&net, &widen(&params), &widen(&x_a), &widen(&x_b), n, 1e-5, &cfg);
        // A ReLU whose input sits on its kink (a channel that is all
        // negative before it, then constant, then exactly 0 after a
        // BatchNorm) has no derivative to compare: such draws are skipped.
        let margin = [&x_a, &x_b]
            .iter()
            .map(|x| net64::relu_margin(&net, &widen(&params), &widen(x), n, 1e-5))
            .fold(f64::INFINITY, f64::min);
        prop_assume!(margin > 1e-4);
        // And a MaxPool2d window whose two largest values (nearly) tie.
        let ties = [&x_a, &x_b]
            .iter()
            .map(|x| net64::pool_margin(&net, &widen(&params), &widen(x), n, 1e-5))
            .fold(f64::INFINITY, f64::min);
        prop_assume!(ties > 1e-4);
        // Likewise a BatchNorm of a (nearly) constant channel, say one a ReLU
        // zeroed for the whole batch: it divides by about √eps, and what is
        // compared is f32 rounding magnified three hundredfold per layer.
        let spread = [&x_a, &x_b]
            .iter()
            .map(|x| net64::batch_norm_min_variance(&net, &widen(&params), &widen(x), n, 1e-5))
            .fold(f64::INFINITY, f64::min);
        prop_assume!(spread > 1e-3);
        // Each tensor is judged on its own largest gradient, plus f32's
        // rounding of the whole: 1e-4 of the network's largest gradient, and
        // 2e-6 absolute (the loss is of order 10, whose f32 ulp is 1e-6, and
        // every gradient is a sum of such terms). Random lists include
        // ill-conditioned ones (a 1-d input spread over three features, then
        // two BatchNorms: the first layer's gradient is zero but for eps, and
        // f32 rounding is all that is left), so the share of the whole is ten
        // times that of the fixed networks in `network.rs`, which hold every
        // tensor to 1 %. Here a 1 % error in a tensor whose gradient reaches
        // 1.3 % of the largest still exceeds the bound, and a wrong offset,
        // shape or stride is off by far more.
        let global = numeric.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        for t in net.tensors() {
            let r = t.range();
            let own = numeric[r.clone()].iter().fold(0.0f64, |m, g| m.max(g.abs()));
            let allowed = 2e-3 * own + 1e-4 * global + 2e-6;
            let err = grads[r.clone()].iter().zip(&numeric[r]).map(|(g, e)| (f64::from(*g) - e).abs()).fold(0.0, f64::max);
            prop_assert!(
                err <= allowed,
                "{:?}, layers {:?}: layer {} {} off by {:.2e} (its largest gradient {:.2e}, the network's {:.2e})",
                input, layers, t.layer, t.name(), err, own, global
            );
        }
    }
}
