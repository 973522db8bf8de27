//! The two lane kinds agree, and the two covariance formulations agree, on
//! sizes that exercise every SIMD tail (d not a multiple of 8, n not a
//! multiple of 4).

use host_tests::batches::view_pair;
use host_tests::vectors::{LOSS_TOL, LossScalars, array_agreements, scalar_agreement};
use host_tests::worst;
use vicreg::{Config, CovarianceSide, Lanes, LossTerms, Options, Views};

const DIMS: [usize; 10] = [1, 2, 7, 8, 9, 15, 17, 33, 64, 100];
const ROWS: [usize; 7] = [2, 3, 4, 5, 9, 17, 40];

fn run(a: &[f32], b: &[f32], d: usize, options: Options) -> (LossTerms, Vec<f64>, Vec<f64>) {
    let n = a.len() / d;
    let mut scratch = vec![0.0; vicreg::scratch_len(n, d, options.side)];
    let (mut ga, mut gb) = (vec![0.0; a.len()], vec![0.0; a.len()]);
    let views = Views::new(a, b, d).unwrap();
    let terms = vicreg::loss_and_gradients(views, &Config::default(), options, &mut scratch, &mut ga, &mut gb)
        .unwrap_or_else(|e| panic!("n={n} d={d} {options:?}: {e}"));
    let wide = |g: Vec<f32>| g.into_iter().map(f64::from).collect();
    (terms, wide(ga), wide(gb))
}

/// Holds `got` to `want` with the reference vectors' loss tolerance.
fn assert_close(want: &(LossTerms, Vec<f64>, Vec<f64>), got: &(LossTerms, Vec<f64>, Vec<f64>), what: &str) {
    let mut checks = LossScalars::from(want.0).agreements(&got.0.into(), LOSS_TOL);
    checks.extend(array_agreements(&[("grad_a", &want.1, &got.1), ("grad_b", &want.2, &got.2)], LOSS_TOL));
    let w = worst(&checks).unwrap();
    assert!(w.ratio <= 1.0, "{what}: {} off by {:.2}× tolerance", w.what, w.ratio);
}

#[test]
fn scalar_and_simd_lanes_agree_for_odd_sizes() {
    for d in DIMS {
        for n in ROWS {
            let (a, b) = view_pair(n, d, (n * 1000 + d) as u64);
            for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
                let scalar = run(&a, &b, d, Options { side, lanes: Lanes::Scalar });
                let wide = run(&a, &b, d, Options { side, lanes: Lanes::Wide });
                assert_close(&scalar, &wide, &format!("n={n} d={d} {side:?}"));
            }
        }
    }
}

#[test]
fn feature_and_batch_side_covariance_agree() {
    for d in DIMS {
        for n in ROWS {
            let (a, b) = view_pair(n, d, (n * 7919 + d) as u64);
            let feature = run(&a, &b, d, Options { side: CovarianceSide::FeatureSide, lanes: Lanes::Wide });
            let batch = run(&a, &b, d, Options { side: CovarianceSide::BatchSide, lanes: Lanes::Wide });
            assert_close(&feature, &batch, &format!("n={n} d={d}"));
        }
    }
}

#[test]
fn auto_side_takes_the_cheaper_formulation_or_the_one_that_fits() {
    use CovarianceSide::{Auto, BatchSide, FeatureSide};
    assert_eq!(Auto.resolve(8, 64, usize::MAX), Some(BatchSide));
    assert_eq!(Auto.resolve(64, 8, usize::MAX), Some(FeatureSide));
    assert_eq!(Auto.resolve(64, 64, usize::MAX), Some(FeatureSide));
    // Only the feature side's 8×8 fits in 64 elements, though n < d is false…
    assert_eq!(Auto.resolve(64, 8, 64), Some(FeatureSide));
    // …and only the batch side's 4×4 fits in 16 elements when d = 8 > n = 4.
    assert_eq!(Auto.resolve(4, 8, 16), Some(BatchSide));
    // n < d prefers the batch side, but its 12×12 does not fit: feature side.
    assert_eq!(Auto.resolve(12, 10, 100), Some(FeatureSide));
    assert_eq!(Auto.resolve(12, 16, 100), None);
    assert_eq!(FeatureSide.resolve(2, 16, 255), None);
    assert_eq!(BatchSide.resolve(16, 2, 255), None);
}

/// A case the property test once found: one feature, batch side. The Gram
/// formulation's ‖K‖²/(n−1)² − Σ C_jj² cancels to rounding noise where the
/// true covariance term is exactly zero.
#[test]
fn batch_side_covariance_with_one_feature_is_exactly_zero() {
    let a = [-7.758708f32, -8.046806, -10.773856, -8.11348, -11.641782, -11.83532, -12.572902];
    let b = [-6.9891567f32, -7.5205154, -10.949688, -8.855558, -12.002543, -12.298546, -13.207808];
    let config = Config {
        sim_coeff: 48.481148,
        std_coeff: 45.42341,
        cov_coeff: 0.87605804,
        gamma: 0.3638698,
        eps: 0.0062479754,
    };
    for lanes in [Lanes::Scalar, Lanes::Wide] {
        let options = Options { side: CovarianceSide::BatchSide, lanes };
        let mut scratch = vec![0.0; vicreg::scratch_len(7, 1, options.side)];
        let (mut ga, mut gb) = ([0.0; 7], [0.0; 7]);
        let terms = vicreg::loss_and_gradients(
            Views::new(&a, &b, 1).unwrap(),
            &config,
            options,
            &mut scratch,
            &mut ga,
            &mut gb,
        )
        .unwrap();
        assert_eq!(terms.covariance, 0.0, "{lanes:?}");
        let want = host_tests::f64_reference::loss_and_gradients(
            &a.map(f64::from),
            &b.map(f64::from),
            1,
            &host_tests::f64_reference::Config64::from(config),
        );
        assert!(scalar_agreement("loss", want.loss, terms.loss.into(), LOSS_TOL).ratio <= 1.0);
    }
}
