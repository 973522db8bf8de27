//! Reading reference vectors in the schema of `reference/FORMAT.md`, and the
//! tolerance rules that decide agreement.

use serde::Deserialize;

/// The loss coefficients of a case.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct CaseConfig {
    /// λ
    pub sim_coeff: f64,
    /// μ
    pub std_coeff: f64,
    /// ν
    pub cov_coeff: f64,
    /// γ
    pub gamma: f64,
    /// ε
    pub eps: f64,
}

impl CaseConfig {
    /// The same coefficients as the core's f32 configuration.
    pub fn to_core(self) -> vicreg::Config {
        vicreg::Config {
            sim_coeff: self.sim_coeff as f32,
            std_coeff: self.std_coeff as f32,
            cov_coeff: self.cov_coeff as f32,
            gamma: self.gamma as f32,
            eps: self.eps as f32,
        }
    }
}

/// The scalar results every case holds.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq)]
pub struct LossScalars {
    /// ℓ
    pub loss: f64,
    /// s
    pub invariance: f64,
    /// v(Z) + v(Z′)
    pub variance: f64,
    /// c(Z) + c(Z′)
    pub covariance: f64,
}

impl LossScalars {
    /// Named values, in the schema's order.
    pub fn named(&self) -> [(&'static str, f64); 4] {
        [
            ("loss", self.loss),
            ("invariance", self.invariance),
            ("variance", self.variance),
            ("covariance", self.covariance),
        ]
    }
}

impl LossScalars {
    /// How far `got` is from these expected scalars, each under
    /// |g − e| ≤ tol·max(1, |e|).
    pub fn agreements(&self, got: &Self, tol: f64) -> Vec<Agreement> {
        self.named().iter().zip(got.named()).map(|((what, e), (_, g))| scalar_agreement(what, *e, g, tol)).collect()
    }
}

impl From<vicreg::LossTerms> for LossScalars {
    fn from(t: vicreg::LossTerms) -> Self {
        Self {
            loss: t.loss.into(),
            invariance: t.invariance.into(),
            variance: t.variance.into(),
            covariance: t.covariance.into(),
        }
    }
}

/// A matrix as the schema writes it: an array of rows.
pub type Matrix = Vec<Vec<f64>>;

/// A `kind: "loss"` case.
#[derive(Clone, Debug, Deserialize)]
pub struct LossCase {
    /// The file's stem.
    pub name: String,
    /// Rows.
    pub n: usize,
    /// Features.
    pub d: usize,
    /// Coefficients.
    pub config: CaseConfig,
    /// View a, n×d.
    pub z_a: Matrix,
    /// View b, n×d.
    pub z_b: Matrix,
    /// Loss and terms.
    pub expected: LossScalars,
    /// ∂ℓ/∂z_a, n×d.
    pub grad_z_a: Matrix,
    /// ∂ℓ/∂z_b, n×d.
    pub grad_z_b: Matrix,
}

/// Flattens a matrix row by row.
pub fn flatten(m: &Matrix) -> Vec<f64> {
    m.iter().flatten().copied().collect()
}

/// Flattens a matrix into f32 (the schema's inputs are f32 values).
pub fn flatten_f32(m: &Matrix) -> Vec<f32> {
    m.iter().flatten().map(|&x| x as f32).collect()
}

/// Splits a flat row-major buffer into rows of `d`.
pub fn rows(flat: &[f64], d: usize) -> Matrix {
    flat.chunks(d).map(<[f64]>::to_vec).collect()
}

/// One compared quantity: how far the computed value is from the expected
/// one, as a fraction of what the tolerance allows (≤ 1 agrees).
#[derive(Clone, Debug)]
pub struct Agreement {
    /// What was compared.
    pub what: String,
    /// Error divided by the allowed error.
    pub ratio: f64,
}

/// |g − e| ≤ tol·max(1, |e|).
pub fn scalar_agreement(what: &str, expected: f64, got: f64, tol: f64) -> Agreement {
    let ratio = (got - expected).abs() / (tol * expected.abs().max(1.0));
    Agreement { what: what.to_owned(), ratio: if ratio.is_nan() { f64::INFINITY } else { ratio } }
}

/// max|Ĝ − G| ≤ tol·max(1e-3, M) for each pair of arrays, with M the largest
/// |entry| of the expected arrays taken together (pass one pair for an
/// `expected` array, all of a case's gradient arrays for gradients).
pub fn array_agreements(pairs: &[(&str, &[f64], &[f64])], tol: f64) -> Vec<Agreement> {
    let m = pairs.iter().flat_map(|(_, e, _)| e.iter()).fold(0.0f64, |m, x| m.max(x.abs()));
    let allowed = tol * m.max(1e-3);
    pairs
        .iter()
        .map(|(what, e, g)| {
            let worst = if e.len() == g.len() {
                e.iter()
                    .zip(g.iter())
                    .map(|(e, g)| (e - g).abs())
                    .fold(0.0, |w: f64, x| if x.is_nan() { f64::INFINITY } else { w.max(x) })
            } else {
                f64::INFINITY
            };
            Agreement { what: (*what).to_owned(), ratio: worst / allowed }
        })
        .collect()
}

/// The tolerance of `loss` cases.
pub const LOSS_TOL: f64 = 1e-5;
/// The tolerance of `mlp` cases.
pub const MLP_TOL: f64 = 1e-4;
