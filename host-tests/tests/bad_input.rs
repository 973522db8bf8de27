//! Bad input gets an error value, never a panic.

use vicreg::{Config, CovarianceSide, Error, Options, VicregLoss, Views};

fn scratch(n: usize, d: usize) -> Vec<f32> {
    vec![0.0; vicreg::scratch_len(n, d, CovarianceSide::Auto)]
}

#[test]
fn fewer_than_two_rows_is_an_error() {
    assert_eq!(Views::new(&[1.0, 2.0], &[1.0, 2.0], 2), Err(Error::TooFewRows { n: 1 }));
    assert_eq!(Views::new(&[], &[], 3), Err(Error::TooFewRows { n: 0 }));
    let mut v = VicregLoss::<4, 2, 2>::new(Config::default(), Options::default());
    assert_eq!(v.loss(&[[1.0, 2.0]], &[[1.0, 2.0]]), Err(Error::TooFewRows { n: 1 }));
}

#[test]
fn rows_above_capacity_are_an_error() {
    let mut v = VicregLoss::<4, 2, 2>::new(Config::default(), Options::default());
    let rows = [[0.0, 1.0]; 5];
    assert_eq!(v.loss(&rows, &rows), Err(Error::TooManyRows { n: 5, capacity: 4 }));
}

#[test]
fn mismatched_shapes_are_an_error() {
    let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    assert_eq!(Views::new(&a, &a[..4], 2), Err(Error::ShapeMismatch));
    assert_eq!(Views::new(&a[..5], &a[..5], 2), Err(Error::ShapeMismatch));
    assert_eq!(Views::new(&a, &a, 0), Err(Error::ZeroDimension));

    let views = Views::new(&a, &a, 2).unwrap();
    let (mut ga, mut gb) = ([0.0; 6], [0.0; 4]);
    let got =
        vicreg::loss_and_gradients(views, &Config::default(), Options::default(), &mut scratch(3, 2), &mut ga, &mut gb);
    assert_eq!(got, Err(Error::ShapeMismatch));

    let mut v = VicregLoss::<4, 2, 2>::new(Config::default(), Options::default());
    let rows = [[0.0, 1.0], [1.0, 0.0], [2.0, 2.0]];
    assert_eq!(v.loss(&rows, &rows[..2]), Err(Error::ShapeMismatch));
    let (mut ga, mut gb) = ([[0.0; 2]; 3], [[0.0; 2]; 2]);
    assert_eq!(v.loss_and_gradients(&rows, &rows, &mut ga, &mut gb), Err(Error::ShapeMismatch));
}

#[test]
fn non_finite_embeddings_are_an_error() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut a = [0.5, 1.0, -1.0, 2.0];
        let b = a;
        a[3] = bad;
        assert_eq!(Views::new(&a, &b, 2), Err(Error::NonFiniteInput), "{bad} in view a");
        assert_eq!(Views::new(&b, &a, 2), Err(Error::NonFiniteInput), "{bad} in view b");
    }
}

#[test]
fn invalid_configurations_are_an_error() {
    let d = Config::default();
    let bad = [
        Config { sim_coeff: -1.0, ..d },
        Config { std_coeff: -0.5, ..d },
        Config { cov_coeff: -1e-9, ..d },
        Config { gamma: -1.0, ..d },
        Config { eps: 0.0, ..d },
        Config { eps: -1e-4, ..d },
        Config { eps: f32::NAN, ..d },
        Config { sim_coeff: f32::INFINITY, ..d },
        Config { std_coeff: f32::NAN, ..d },
        Config { cov_coeff: f32::NEG_INFINITY, ..d },
        Config { gamma: f32::NAN, ..d },
    ];
    let a = [0.0, 1.0, 2.0, 0.5];
    for config in bad {
        assert_eq!(config.validate(), Err(Error::InvalidConfig), "{config:?}");
        let got = vicreg::loss(Views::new(&a, &a, 2).unwrap(), &config, Options::default(), &mut scratch(2, 2));
        assert_eq!(got, Err(Error::InvalidConfig), "{config:?}");
    }
}

#[test]
fn short_scratch_is_an_error_that_names_the_need() {
    let a = [0.0, 1.0, 2.0, 0.5, 1.0, 1.0];
    let views = Views::new(&a, &a, 3).unwrap();
    let need = vicreg::scratch_len(2, 3, CovarianceSide::FeatureSide);
    let mut short = vec![0.0; need - 1];
    let options = Options { side: CovarianceSide::FeatureSide, ..Options::default() };
    assert_eq!(
        vicreg::loss(views, &Config::default(), options, &mut short),
        Err(Error::ScratchTooSmall { needed: need, available: need - 1 })
    );
    assert!(matches!(vicreg::loss(views, &Config::default(), options, &mut []), Err(Error::ScratchTooSmall { .. })));
}

#[test]
fn overflowing_loss_is_an_error_not_infinity() {
    // Finite inputs whose squared differences overflow f32.
    let a = [3e38, -3e38, 1.0, 2.0];
    let b = [-3e38, 3e38, 2.0, 1.0];
    let views = Views::new(&a, &b, 2).unwrap();
    assert_eq!(
        vicreg::loss(views, &Config::default(), Options::default(), &mut scratch(2, 2)),
        Err(Error::NonFiniteResult)
    );
}
