//! The covariance term of one branch on the batch side, through the Gram
//! matrix K = Z_c Z_cᵀ (n×n):
//!
//! Σ_{j,k} C_jk² = ‖K‖²_F / (n − 1)², so c(Z) = (‖K‖²_F/(n − 1)² − Σⱼ C_jj²)/d,
//! and Z_c·G = K·Z_c/(n − 1) − Z_c·diag(C), with diag(C) the column variances.
//!
//! Cost O(n²·d), memory n². When n < d (small batches of wide embeddings, the
//! usual case on a device) this is both cheaper and smaller than the d×d
//! feature side.

use crate::covariance::four_rows;
use crate::lanes::{self, Lanes};

/// Writes K (full, symmetric, row-major n×n) into `k` and returns
/// Σ_{j≠k} C_jk², given the column variances `var` (= diag C).
pub(crate) fn gram(lanes: Lanes, zc: &[f32], d: usize, var: &[f32], k: &mut [f32]) -> f32 {
    let n = zc.len() / d;
    let mut frobenius = 0.0;
    for i in 0..n {
        let zi = &zc[i * d..(i + 1) * d];
        for l in i..n {
            let kil = lanes::dot(lanes, zi, &zc[l * d..(l + 1) * d]);
            k[i * n + l] = kil;
            k[l * n + i] = kil;
            frobenius += if l == i { kil * kil } else { 2.0 * kil * kil };
        }
    }
    let nm1 = (n - 1) as f32;
    frobenius / (nm1 * nm1) - lanes::dot(lanes, var, var)
}

/// grad ← grad + α/(n − 1)·K·Z_c. The −α·Z_c·diag(C) part is left to the
/// caller, who folds it into the per-column variance weights.
pub(crate) fn gram_gradient(lanes: Lanes, zc: &[f32], d: usize, k: &[f32], alpha: f32, grad: &mut [f32]) {
    let n = zc.len() / d;
    let scale = alpha / (n - 1) as f32;
    let quads = n / 4 * 4;
    for (i, g) in grad.chunks_exact_mut(d).enumerate() {
        let ki = &k[i * n..(i + 1) * n];
        for l in (0..quads).step_by(4) {
            let a = [scale * ki[l], scale * ki[l + 1], scale * ki[l + 2], scale * ki[l + 3]];
            lanes::axpy4(lanes, a, four_rows(zc, d, l), g);
        }
        for l in quads..n {
            lanes::axpy(lanes, scale * ki[l], &zc[l * d..(l + 1) * d], g);
        }
    }
}
