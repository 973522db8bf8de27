//! The variance term of one branch,
//! v(Z) = (1/(2d)) Σⱼ max(0, γ − Sⱼ),  Sⱼ = √(Varⱼ + ε),
//! with Varⱼ the unbiased (n − 1) variance of column j, and its gradient
//! ∂v/∂zᵢⱼ = −[Sⱼ < γ] · Z_c,ij / (2·d·(n − 1)·Sⱼ).
//!
//! The official code halves each branch's term; the paper's printed formula
//! does not. The halving is kept: the default μ = 25 was tuned with it.

use super::config::Config;

/// Turns the column sums of squares of n centred rows (n ≥ 2, from
/// [`centre`](super::centring::centre)) into the unbiased variances, in
/// place.
pub(crate) fn column_variances(squares: &mut [f32], n: usize) {
    let inv = 1.0 / (n - 1) as f32;
    for v in squares.iter_mut() {
        *v *= inv;
    }
}

/// v(Z) from the column variances.
pub(crate) fn variance(var: &[f32], config: &Config) -> f32 {
    let hinge: f32 = var.iter().map(|&v| (config.gamma - libm::sqrtf(v + config.eps)).max(0.0)).sum();
    hinge / (2.0 * var.len() as f32)
}

/// Writes μ·∂v/∂zᵢⱼ / Z_c,ij (a per-column weight, so the gradient is
/// Z_c ⊙ weights row by row) into `weights`.
pub(crate) fn variance_weights(var: &[f32], n: usize, config: &Config, weights: &mut [f32]) {
    let scale = weight_scale(var.len(), n, config);
    for (w, &v) in weights.iter_mut().zip(var) {
        *w = weight(v, scale, config);
    }
}

/// −μ/(2·d·(n − 1)): the factor of every column's weight.
pub(crate) fn weight_scale(d: usize, n: usize, config: &Config) -> f32 {
    -config.std_coeff / (2.0 * d as f32 * (n - 1) as f32)
}

/// μ·∂v/∂zᵢⱼ / Z_c,ij for a column of variance `var`, given
/// [`weight_scale`].
pub(crate) fn weight(var: f32, scale: f32, config: &Config) -> f32 {
    let s = libm::sqrtf(var + config.eps);
    if s < config.gamma { scale / s } else { 0.0 }
}
