//! Every shipped `loss` vector agrees with the core, with both covariance
//! formulations, both kinds of lanes, and through the fixed-capacity type.

use host_tests::cases::{Case, case_files, read_case};
use host_tests::loss_case::{self, LossOutput};
use host_tests::net_case;
use host_tests::vectors::{LossCase, flatten_f32};
use host_tests::{vectors_dir, worst};
use vicreg::{CovarianceSide, Lanes, Options, VicregLoss};

/// Every shipped file, parsed: each must be a kind this crate checks, and
/// the counts must be exactly those shipped (17 loss, 4 mlp, 10 net cases,
/// four of them image networks),
/// so a file that goes missing or cannot be read fails here.
fn all_cases() -> Vec<Case> {
    let files = case_files(&[vectors_dir()]).expect("reference vectors are shipped");
    assert_eq!(files.len(), 31, "expected the 31 shipped case files");
    let cases: Vec<Case> = files.iter().map(|f| read_case(f).expect("every shipped case parses")).collect();
    let (mut loss, mut mlp, mut net) = (0, 0, 0);
    for case in &cases {
        match case {
            Case::Loss(_) => loss += 1,
            Case::Net(c) if c.kind == "mlp" => mlp += 1,
            Case::Net(_) => net += 1,
            Case::Unsupported { name, kind } => panic!("{name}: kind {kind:?} is not checked"),
        }
    }
    assert_eq!((loss, mlp, net), (17, 4, 10), "cases by kind (loss, mlp, net)");
    cases
}

fn loss_cases() -> Vec<LossCase> {
    all_cases()
        .into_iter()
        .filter_map(|c| match c {
            Case::Loss(c) => Some(c),
            _ => None,
        })
        .collect()
}

fn assert_agrees(case: &LossCase, out: &LossOutput, how: &str) {
    let agreements = loss_case::judge(case, out);
    let w = worst(&agreements).expect("a case has quantities");
    assert!(w.ratio <= 1.0, "{} ({how}): {} is off by {:.1}× the tolerance", case.name, w.what, w.ratio);
}

#[test]
fn every_loss_vector_passes_with_every_side_and_lanes() {
    for case in loss_cases() {
        for side in [CovarianceSide::Auto, CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
            for lanes in [Lanes::Wide, Lanes::Scalar] {
                let options = Options { side, lanes };
                let out = loss_case::compute(&case, options).unwrap_or_else(|e| panic!("{}: {e}", case.name));
                assert_agrees(&case, &out, &format!("{options:?}"));
            }
        }
    }
}

/// The fixed-capacity type with the shape of `random_n32_d32`, run on every
/// case of that width: n ≤ 32 rows of 32 features, auto side.
fn run_fixed<const D: usize>(case: &LossCase) -> LossOutput {
    let to_rows = |m: &Vec<Vec<f64>>| -> Vec<[f32; D]> {
        flatten_f32(m).chunks(D).map(|r| r.try_into().expect("D features")).collect()
    };
    let (a, b) = (to_rows(&case.z_a), to_rows(&case.z_b));
    let mut vicreg = Box::new(VicregLoss::<256, D, D>::new(case.config.to_core(), Options::default()));
    let (mut ga, mut gb) = (vec![[0.0; D]; case.n], vec![[0.0; D]; case.n]);
    let terms = vicreg.loss_and_gradients(&a, &b, &mut ga, &mut gb).expect("a valid case");
    let flat = |g: Vec<[f32; D]>| g.as_flattened().iter().copied().map(f64::from).collect();
    LossOutput { scalars: terms.into(), grad_a: flat(ga), grad_b: flat(gb) }
}

#[test]
fn fixed_capacity_type_passes_the_vectors_it_can_hold() {
    let mut checked = 0;
    for case in loss_cases() {
        let out = match case.d {
            8 => run_fixed::<8>(&case),
            16 => run_fixed::<16>(&case),
            32 => run_fixed::<32>(&case),
            _ => continue,
        };
        assert_agrees(&case, &out, "VicregLoss");
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} cases had d of 8, 16 or 32");
}

#[test]
fn identical_collapsed_views_give_mu_times_gamma_minus_sqrt_eps() {
    // Every row equal in both views: s = 0, S_j = √ε, C = 0, so ℓ = μ·(γ − √ε).
    let row = [0.25f32, -1.0, 3.0];
    let a: Vec<[f32; 3]> = vec![row; 4];
    let mut vicreg = VicregLoss::<4, 3, 3>::new(vicreg::Config::default(), Options::default());
    let (mut ga, mut gb) = ([[0.0; 3]; 4], [[0.0; 3]; 4]);
    let terms = vicreg.loss_and_gradients(&a, &a, &mut ga, &mut gb).expect("a collapsed batch is legal");
    assert!((terms.loss - 24.75).abs() < 1e-4, "loss {}", terms.loss);
    assert!(ga.iter().chain(&gb).flatten().all(|g| g.is_finite()));
}

#[test]
fn every_network_vector_passes_forward_and_gradients_with_every_side_and_lanes() {
    let mut checked = 0;
    for case in all_cases() {
        let Case::Net(case) = case else { continue };
        for side in [CovarianceSide::Auto, CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
            for lanes in [Lanes::Wide, Lanes::Scalar] {
                let options = Options { side, lanes };
                let out = net_case::compute(&case, options, None).unwrap_or_else(|e| panic!("{}: {e}", case.name));
                let agreements = net_case::judge(&case, &out);
                let w = worst(&agreements).expect("a case has quantities");
                assert!(
                    w.ratio <= 1.0,
                    "{} ({options:?}): {} is off by {:.1}× the tolerance",
                    case.name,
                    w.what,
                    w.ratio
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 14, "expected the 4 shipped mlp cases and the 10 net cases");
}

#[test]
fn every_network_vector_passes_streamed_in_micro_batches_of_1_3_and_7() {
    let mut checked = 0;
    for case in all_cases() {
        let Case::Net(case) = case else { continue };
        for micro in [1, 3, 7] {
            for lanes in [Lanes::Wide, Lanes::Scalar] {
                let options = Options { lanes, ..Options::default() };
                let out = net_case::compute(&case, options, Some(micro))
                    .unwrap_or_else(|e| panic!("{} (micro-batch {micro}): {e}", case.name));
                let w = net_case::judge(&case, &out).into_iter().max_by(|a, b| a.ratio.total_cmp(&b.ratio));
                let w = w.expect("a case has quantities");
                assert!(
                    w.ratio <= 1.0,
                    "{} (micro-batch {micro}, {lanes:?}): {} is off by {:.1}× the tolerance",
                    case.name,
                    w.what,
                    w.ratio
                );
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 14, "expected the 4 shipped mlp cases and the 10 net cases");
}
