//! Computing a `loss` case with the core and judging it.

use crate::vectors::{Agreement, LOSS_TOL, LossCase, LossScalars, array_agreements, flatten, flatten_f32};
use vicreg::{Error, Options, Views};

/// What the core computed for a loss case.
#[derive(Clone, Debug)]
pub struct LossOutput {
    /// Loss and terms.
    pub scalars: LossScalars,
    /// ∂ℓ/∂z_a, row-major.
    pub grad_a: Vec<f64>,
    /// ∂ℓ/∂z_b, row-major.
    pub grad_b: Vec<f64>,
}

/// Runs the core's slice kernel on a case with the given options.
pub fn compute(case: &LossCase, options: Options) -> Result<LossOutput, Error> {
    let (a, b) = (flatten_f32(&case.z_a), flatten_f32(&case.z_b));
    let views = Views::new(&a, &b, case.d)?;
    let mut scratch = vec![0.0; vicreg::scratch_len(case.n, case.d, options.side)];
    let (mut ga, mut gb) = (vec![0.0; a.len()], vec![0.0; a.len()]);
    let terms = vicreg::loss_and_gradients(views, &case.config.to_core(), options, &mut scratch, &mut ga, &mut gb)?;
    Ok(LossOutput {
        scalars: terms.into(),
        grad_a: ga.into_iter().map(f64::from).collect(),
        grad_b: gb.into_iter().map(f64::from).collect(),
    })
}

/// Compares the output with the case under the `loss` tolerance.
pub fn judge(case: &LossCase, out: &LossOutput) -> Vec<Agreement> {
    let mut all = case.expected.agreements(&out.scalars, LOSS_TOL);
    let (ea, eb) = (flatten(&case.grad_z_a), flatten(&case.grad_z_b));
    all.extend(array_agreements(&[("grad_z_a", &ea, &out.grad_a), ("grad_z_b", &eb, &out.grad_b)], LOSS_TOL));
    all
}
