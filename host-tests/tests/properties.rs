//! Randomised shapes and values: the core against an independent f64
//! implementation, that implementation against central finite differences,
//! and the core's own gradient against a directional difference of its loss.

use host_tests::f64_reference::{self, Config64};
use host_tests::vectors::{LOSS_TOL, LossScalars, array_agreements};
use host_tests::worst;
use proptest::prelude::*;
use vicreg::{Config, CovarianceSide, Lanes, Options, Views};

/// An n×d pair of views with a random per-column offset and scale, so both
/// active and inactive hinges and large offsets occur.
fn views_strategy() -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>)> {
    views_with(-100.0..100.0, 0.05..3.0)
}

fn views_with(
    offsets: std::ops::Range<f32>,
    scales: std::ops::Range<f32>,
) -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>)> {
    (2usize..40, 1usize..40, offsets, scales).prop_flat_map(|(n, d, offset, scale)| {
        let cells = prop::collection::vec(-1.0f32..1.0, n * d);
        let noise = prop::collection::vec(-0.3f32..0.3, n * d);
        (Just(n), Just(d), cells, noise).prop_map(move |(n, d, cells, noise)| {
            let a: Vec<f32> = cells.iter().map(|x| offset + scale * x).collect();
            let b = a.iter().zip(&noise).map(|(x, e)| x + scale * e).collect();
            (n, d, a, b)
        })
    })
}

fn config_strategy() -> impl Strategy<Value = Config> {
    (0.0f32..50.0, 0.0f32..50.0, 0.0f32..5.0, 0.1f32..2.0, 1e-6f32..1e-2).prop_map(
        |(sim_coeff, std_coeff, cov_coeff, gamma, eps)| Config { sim_coeff, std_coeff, cov_coeff, gamma, eps },
    )
}

fn side_strategy() -> impl Strategy<Value = CovarianceSide> {
    prop_oneof![Just(CovarianceSide::Auto), Just(CovarianceSide::FeatureSide), Just(CovarianceSide::BatchSide)]
}

fn lanes_strategy() -> impl Strategy<Value = Lanes> {
    prop_oneof![Just(Lanes::Wide), Just(Lanes::Scalar)]
}

fn widen(x: &[f32]) -> Vec<f64> {
    x.iter().copied().map(f64::from).collect()
}

fn core(a: &[f32], b: &[f32], d: usize, config: &Config, options: Options) -> (vicreg::LossTerms, Vec<f32>, Vec<f32>) {
    let n = a.len() / d;
    let mut scratch = vec![0.0; vicreg::scratch_len(n, d, options.side)];
    let (mut ga, mut gb) = (vec![0.0; a.len()], vec![0.0; a.len()]);
    let views = Views::new(a, b, d).expect("valid views");
    let terms =
        vicreg::loss_and_gradients(views, config, options, &mut scratch, &mut ga, &mut gb).expect("finite loss");
    (terms, ga, gb)
}

/// Whether some column's standard deviation sits so close to γ that f32 and
/// f64 may disagree on which side of the hinge it is (a true discontinuity of
/// the gradient, not an error).
fn near_hinge(r: &[f64], d: usize, config: &Config64) -> bool {
    let n = r.len() / d;
    (0..d).any(|j| {
        let col: Vec<f64> = (0..n).map(|i| r[i * d + j]).collect();
        let mean = col.iter().sum::<f64>() / n as f64;
        let var = col.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
        ((var + config.eps).sqrt() - config.gamma).abs() < 1e-4 * config.gamma.max(1.0)
    })
}

proptest! {
    // Failures are recorded in properties.proptest-regressions, which is
    // committed on purpose: its cases are replayed before new ones.
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn core_matches_f64_reference_on_random_shapes(
        (_n, d, a, b) in views_strategy(),
        config in config_strategy(),
        side in side_strategy(),
        lanes in lanes_strategy(),
    ) {
        let c64 = Config64::from(config);
        let (a64, b64) = (widen(&a), widen(&b));
        prop_assume!(!near_hinge(&a64, d, &c64) && !near_hinge(&b64, d, &c64));
        let want = f64_reference::loss_and_gradients(&a64, &b64, d, &c64);
        let (got, ga, gb) = core(&a, &b, d, &config, Options { side, lanes });

        let expected = LossScalars {
            loss: want.loss,
            invariance: want.invariance,
            variance: want.variance,
            covariance: want.covariance,
        };
        let mut checks = expected.agreements(&got.into(), LOSS_TOL);
        let (ga, gb) = (widen(&ga), widen(&gb));
        checks.extend(array_agreements(&[("grad_a", &want.grad_a, &ga), ("grad_b", &want.grad_b, &gb)], LOSS_TOL));
        let w = worst(&checks).unwrap();
        prop_assert!(w.ratio <= 1.0, "{} off by {:.2}× tolerance (want {:?})", w.what, w.ratio, want.loss);
    }

    #[test]
    fn f64_reference_gradient_matches_central_differences(
        (_n, d, a, b) in views_strategy(),
        config in config_strategy(),
    ) {
        let c64 = Config64::from(config);
        let (a64, b64) = (widen(&a), widen(&b));
        prop_assume!(!near_hinge(&a64, d, &c64) && !near_hinge(&b64, d, &c64));
        let analytic = f64_reference::loss_and_gradients(&a64, &b64, d, &c64);
        let loss = |a: &[f64], b: &[f64]| f64_reference::loss_and_gradients(a, b, d, &c64).loss;
        // Scale the step to the entries so that large offsets do not drown it.
        let h = 1e-6 * a64.iter().chain(&b64).fold(1.0f64, |m, x| m.max(x.abs()));
        let fd = |view: usize, e: usize| {
            let (mut plus, mut minus) = ((a64.clone(), b64.clone()), (a64.clone(), b64.clone()));
            if view == 0 { plus.0[e] += h; minus.0[e] -= h; } else { plus.1[e] += h; minus.1[e] -= h; }
            (loss(&plus.0, &plus.1) - loss(&minus.0, &minus.1)) / (2.0 * h)
        };
        let scale = analytic.grad_a.iter().chain(&analytic.grad_b).fold(1e-3f64, |m, g| m.max(g.abs()));
        for e in (0..a64.len()).step_by(1 + a64.len() / 12) {
            for (view, grad) in [(0, &analytic.grad_a), (1, &analytic.grad_b)] {
                let numeric = fd(view, e);
                let err = (numeric - grad[e]).abs();
                prop_assert!(err <= 1e-4 * scale.max(analytic.loss.abs() * 1e-3),
                    "view {view} element {e}: analytic {} numeric {numeric}", grad[e]);
            }
        }
    }

    #[test]
    fn core_gradient_predicts_the_change_of_its_own_loss(
        // A difference quotient in f32 needs a step far above the rounding of
        // the entries and far below their spread: moderate offsets only (the
        // f64 comparison above covers large ones).
        (_n, d, a, b) in views_with(-2.0..2.0, 0.3..3.0),
        direction_seed in any::<u64>(),
    ) {
        // ⟨∇ℓ, v⟩ ≈ (ℓ(z + hv) − ℓ(z − hv)) / 2h, all in the core's f32.
        let config = Config::default();
        prop_assume!(!near_hinge(&widen(&a), d, &config.into()) && !near_hinge(&widen(&b), d, &config.into()));
        let (terms, ga, _) = core(&a, &b, d, &config, Options::default());
        let mut rng = host_tests::batches::SplitMix::new(direction_seed);
        let v: Vec<f32> = (0..a.len()).map(|_| rng.symmetric()).collect();
        let spread = a.iter().fold(0.0f32, |m, x| m.max(x.abs())).max(1.0);
        let h = 1e-3 * spread;
        let shifted = |s: f32| -> Vec<f32> { a.iter().zip(&v).map(|(x, vi)| x + s * h * vi).collect() };
        let loss_at = |z: &[f32]| core(z, &b, d, &config, Options::default()).0.loss as f64;
        let numeric = (loss_at(&shifted(1.0)) - loss_at(&shifted(-1.0))) / (2.0 * h as f64);
        let analytic: f64 = ga.iter().zip(&v).map(|(g, vi)| f64::from(*g) * f64::from(*vi)).sum();
        let gnorm: f64 = ga.iter().map(|g| f64::from(*g).abs()).sum();
        // f32 rounding of ℓ over 2h, plus O(h²) curvature: generous, but a wrong
        // sign, factor or missing term misses by far more.
        let allowed = 0.05 * gnorm + 1e-6 * f64::from(terms.loss.abs()) / f64::from(h);
        prop_assert!((numeric - analytic).abs() <= allowed, "numeric {numeric}, analytic {analytic}, allowed {allowed}");
    }
}
