//! Batch normalisation over the rows of a batch, per feature j:
//! x̂ᵢⱼ = (xᵢⱼ − μⱼ)/√(σ²ⱼ + eps), yᵢⱼ = γⱼ·x̂ᵢⱼ + βⱼ,
//! with μ and σ² the batch mean and biased variance in training, and the
//! running statistics (exponential averages, unbiased variance, as PyTorch
//! keeps them) at inference.
//!
//! Backward through the batch statistics, with g = ∂ℓ/∂y·γ:
//! ∂ℓ/∂xᵢ = (1/√(σ² + eps))·(gᵢ − mean(g) − x̂ᵢ·mean(g ⊙ x̂)),
//! ∂ℓ/∂γ = Σᵢ ∂ℓ/∂yᵢ ⊙ x̂ᵢ, ∂ℓ/∂β = Σᵢ ∂ℓ/∂yᵢ.

use crate::centring;
use crate::lanes::{self, Lanes};

/// Per-feature statistics of one forward pass in training mode.
pub(crate) struct BatchStats<'s> {
    /// Batch means μ.
    pub(crate) mean: &'s mut [f32],
    /// 1/√(σ² + eps).
    pub(crate) inv_std: &'s mut [f32],
}

/// Training forward: `x_hat` holds the n×f input and is overwritten with x̂;
/// y = γ·x̂ + β goes into `y`, the statistics into `stats`; n ≥ 1.
pub(crate) fn forward_train(
    lanes: Lanes,
    x_hat: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    stats: &mut BatchStats<'_>,
) {
    let f = gamma.len();
    let n = x_hat.len() / f;
    centring::centre(lanes, x_hat, f, stats.mean, stats.inv_std);
    stats.inv_std.fill(0.0);
    for row in x_hat.chunks_exact(f) {
        lanes::mul_acc(lanes, stats.inv_std, row, row);
    }
    for s in stats.inv_std.iter_mut() {
        *s = 1.0 / libm::sqrtf(*s / n as f32 + eps);
    }
    for (xr, yr) in x_hat.chunks_exact_mut(f).zip(y.chunks_exact_mut(f)) {
        for j in 0..f {
            xr[j] *= stats.inv_std[j];
            yr[j] = gamma[j] * xr[j] + beta[j];
        }
    }
}

/// Inference in place: x ← γ·(x − running mean)/√(running var + eps) + β.
pub(crate) fn normalise_running(
    x: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    running_mean: &[f32],
    running_var: &[f32],
) {
    let f = gamma.len();
    for row in x.chunks_exact_mut(f) {
        for j in 0..f {
            let inv_std = 1.0 / libm::sqrtf(running_var[j] + eps);
            row[j] = gamma[j] * (row[j] - running_mean[j]) * inv_std + beta[j];
        }
    }
}

/// Folds one batch's statistics into the running ones:
/// r ← (1 − m)·r + m·batch, with the unbiased variance n/(n − 1)·σ².
pub(crate) fn update_running(
    mean: &[f32],
    inv_std: &[f32],
    eps: f32,
    n: usize,
    momentum: f32,
    running_mean: &mut [f32],
    running_var: &mut [f32],
) {
    let unbias = if n > 1 { n as f32 / (n - 1) as f32 } else { 1.0 };
    for j in 0..mean.len() {
        let var = (1.0 / (inv_std[j] * inv_std[j]) - eps).max(0.0);
        running_mean[j] += momentum * (mean[j] - running_mean[j]);
        running_var[j] += momentum * (unbias * var - running_var[j]);
    }
}

/// Backward: given ∂ℓ/∂y in `dy` (n×f), accumulates ∂ℓ/∂γ and ∂ℓ/∂β (when
/// `grads` is given) and overwrites `dy` with ∂ℓ/∂x. `sum_dy` and
/// `sum_dy_xhat` are f elements of workspace each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    lanes: Lanes,
    x_hat: &[f32],
    gamma: &[f32],
    inv_std: &[f32],
    dy: &mut [f32],
    grads: Option<(&mut [f32], &mut [f32])>,
    sum_dy: &mut [f32],
    sum_dy_xhat: &mut [f32],
) {
    let f = gamma.len();
    let n = x_hat.len() / f;
    sum_dy.fill(0.0);
    sum_dy_xhat.fill(0.0);
    for (g, xh) in dy.chunks_exact(f).zip(x_hat.chunks_exact(f)) {
        lanes::add_assign(lanes, sum_dy, g);
        lanes::mul_acc(lanes, sum_dy_xhat, g, xh);
    }
    if let Some((g_gamma, g_beta)) = grads {
        lanes::add_assign(lanes, g_gamma, sum_dy_xhat);
        lanes::add_assign(lanes, g_beta, sum_dy);
    }
    let inv_n = 1.0 / n as f32;
    for (g, xh) in dy.chunks_exact_mut(f).zip(x_hat.chunks_exact(f)) {
        for j in 0..f {
            let k = gamma[j] * inv_std[j];
            g[j] = k * (g[j] - inv_n * sum_dy[j] - xh[j] * inv_n * sum_dy_xhat[j]);
        }
    }
}
