//! Loss and gradients on arbitrary bytes: shape, options and coefficients
//! from the first bytes, then every remaining 4 bytes one f32 of the views
//! (any bit pattern: NaN, ±∞, subnormals, −0.0, 1e38 …).
//!
//! Invariants: no panic; a non-finite input is refused; a success has a
//! finite loss and finite gradients.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vicreg::{Config, CovarianceSide, Error, Lanes, Options, VicregLoss, Views};

fn floats(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

fuzz_target!(|data: &[u8]| {
    let [d, n, side, lanes, custom, short, rest @ ..] = data else { return };
    let d = 1 + usize::from(*d % 40);
    let n = usize::from(*n % 48);
    let side = [CovarianceSide::Auto, CovarianceSide::FeatureSide, CovarianceSide::BatchSide][usize::from(*side % 3)];
    let options = Options { side, lanes: if lanes % 2 == 0 { Lanes::Wide } else { Lanes::Scalar } };
    let (config, rest) = if custom % 2 == 1 && rest.len() >= 20 {
        let c: Vec<f32> = floats(&rest[..20]).collect();
        (Config { sim_coeff: c[0], std_coeff: c[1], cov_coeff: c[2], gamma: c[3], eps: c[4] }, &rest[20..])
    } else {
        (Config::default(), rest)
    };
    let values: Vec<f32> = floats(rest).collect();
    let len = (n * d).min(values.len() / 2);
    let (a, b) = (&values[..len], &values[len..2 * len]);

    match Views::new(a, b, d) {
        Err(_) => {}
        Ok(views) => {
            assert!(a.iter().chain(b).all(|v| v.is_finite()), "a non-finite input was accepted");
            let mut scratch =
                vec![0.0; vicreg::scratch_len(views.n(), d, side).saturating_sub(usize::from(*short % 3))];
            let (mut ga, mut gb) = (vec![0.0; len], vec![0.0; len]);
            match vicreg::loss_and_gradients(views, &config, options, &mut scratch, &mut ga, &mut gb) {
                Ok(t) => {
                    assert!(t.loss.is_finite());
                    assert!(ga.iter().chain(&gb).all(|g| g.is_finite()));
                }
                Err(Error::InvalidConfig) => assert!(config.validate().is_err()),
                Err(_) => {}
            }
            let _ = vicreg::loss(views, &config, options, &mut scratch);
        }
    }

    // The fixed-capacity type: rows of 4, up to 16 of them.
    let rows: Vec<[f32; 4]> = values.chunks_exact(4).take(32).map(|c| [c[0], c[1], c[2], c[3]]).collect();
    let half = rows.len() / 2;
    let mut loss = VicregLoss::<16, 4, 4>::new(config, options);
    let (mut ga, mut gb) = (vec![[0.0; 4]; half], vec![[0.0; 4]; half]);
    if let Ok(t) = loss.loss_and_gradients(&rows[..half], &rows[half..2 * half], &mut ga, &mut gb) {
        assert!(t.loss.is_finite());
    }
});
