//! The objective from a streamed batch's moments: a batch seen one
//! micro-batch at a time keeps, per view, the mean m (as hi + lo) and the
//! co-moment M = Σᵢ (zᵢ − m)(zᵢ − m)ᵀ ([`moments`](super::moments)) and the
//! sum of squared differences between the views. From them, exactly as the
//! full batch would have them:
//!
//! C = M/(n − 1),  v = (1/(2d)) Σⱼ max(0, γ − √(Cⱼⱼ + ε)),
//! c = (1/d) Σ_{j≠k} C_jk²,  s = Σ (z − z′)²/(n·d),
//!
//! and, on a second pass over the rows, each row's gradient
//! ∂ℓ/∂zᵢ = λ·∂s/∂zᵢ + (zᵢ − m) ⊙ w + α·G·(zᵢ − m), with G = C − diag(C)
//! and w the variance term's per-column weights.

use super::config::Config;
use super::{covariance, variance};
use crate::lanes::{self, Lanes};

/// One view's variance and covariance terms from its co-moment's upper
/// triangle over `n` rows (d×d in `comoment`), leaving G = C − diag(C)
/// (mirrored) in `comoment` and the per-column weights in `weights`.
pub(crate) fn view_terms(
    lanes: Lanes,
    config: &Config,
    comoment: &mut [f32],
    d: usize,
    n: usize,
    weights: &mut [f32],
) -> (f32, f32) {
    let covariance = covariance::scale_and_mirror(lanes, comoment, d, n) / d as f32;
    for (j, w) in weights.iter_mut().enumerate() {
        *w = comoment[j * d + j];
        comoment[j * d + j] = 0.0;
    }
    let variance = variance::variance(weights, config);
    let scale = variance::weight_scale(d, n, config);
    for w in weights.iter_mut() {
        *w = variance::weight(*w, scale, config);
    }
    (variance, covariance)
}

/// The objective's terms of the whole batch: the invariance from the sum
/// of squared differences over `n` rows of `d` values, and both views'
/// (variance, covariance) from [`view_terms`].
pub(crate) fn terms(
    config: &Config,
    squared_differences: f32,
    n: usize,
    d: usize,
    views: [(f32, f32); 2],
) -> super::LossTerms {
    let invariance = squared_differences / (n * d) as f32;
    let (variance, covariance) = (views[0].0 + views[1].0, views[0].1 + views[1].1);
    super::LossTerms { loss: config.objective(invariance, variance, covariance), invariance, variance, covariance }
}

/// The invariance part of ∂ℓ/∂z for a micro-batch's rows (of `d` values)
/// of a batch of `total` rows: λ·∂s/∂z into `dz[0]`, λ·∂s/∂z′ into `dz[1]`
/// (overwritten).
pub(crate) fn invariance_gradient(
    lanes: Lanes,
    config: &Config,
    z: [&[f32]; 2],
    d: usize,
    total: usize,
    dz: [&mut [f32]; 2],
) {
    let scale = config.invariance_scale(total * d);
    // The sum is the invariance term, which the first pass took.
    let _ = lanes::sum_sq_diff_scaled(lanes, z[0], z[1], scale, dz);
}

/// Adds the variance and covariance parts of ∂ℓ/∂z for one view's
/// micro-batch rows `z` of a batch of `total` rows, from its whole-batch
/// mean (hi + lo, subtracted in two steps), G and weights ([`view_terms`]):
/// dz += (z − m) ⊙ w + α·(z − m)·G. `centred` is scratch as long as `z`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn view_gradient(
    lanes: Lanes,
    config: &Config,
    z: &[f32],
    (mean, lo): (&[f32], &[f32]),
    g: &[f32],
    weights: &[f32],
    total: usize,
    centred: &mut [f32],
    dz: &mut [f32],
) {
    let d = mean.len();
    centred.copy_from_slice(z);
    for row in centred.chunks_exact_mut(d) {
        lanes::axpy(lanes, -1.0, mean, row);
        lanes::axpy(lanes, -1.0, lo, row);
    }
    if d > 1 {
        lanes::matmul_acc(lanes, config.covariance_scale(total, d), centred, d, g, dz);
    }
    for (g, row) in dz.chunks_exact_mut(d).zip(centred.chunks_exact(d)) {
        lanes::mul_acc(lanes, g, row, weights);
    }
}
