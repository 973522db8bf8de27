//! The covariance term of one branch on the batch side, through the Gram
//! matrix K = Z_c Z_cᵀ (n×n):
//!
//! Σ_{j,k} C_jk² = ‖K‖²_F / (n − 1)², so c(Z) = (‖K‖²_F/(n − 1)² − Σⱼ C_jj²)/d,
//! and Z_c·G = K·Z_c/(n − 1) − Z_c·diag(C), with diag(C) the column variances.
//!
//! Cost O(n²·d), memory n². When n < d (small batches of wide embeddings, the
//! usual case on a device) this is both cheaper and smaller than the d×d
//! feature side.

use crate::lanes::{self, Lanes};

/// Writes K (full, symmetric, row-major n×n) into `k` and returns
/// Σ_{j≠k} C_jk², given the column variances `var` (= diag C).
///
/// The result is a difference of two sums of squares, so its rounding error
/// scales with Σⱼ C_jj² rather than with the result. Both sums are
/// compensated (Neumaier), which costs a few f32 operations per term where
/// f64 would be a software routine on an FPU-only-single part; a residue
/// below zero within rounding of Σⱼ C_jj² is clamped to zero (anything else
/// is returned for the caller to refuse), and with one feature (no
/// off-diagonal at all) the result is exactly zero. The feature side has no such cancellation: prefer it when C
/// is close to diagonal and its memory allows.
pub(crate) fn gram(lanes: Lanes, zc: &[f32], d: usize, var: &[f32], k: &mut [f32]) -> f32 {
    let n = zc.len() / d;
    let mut frobenius = Compensated::default();
    for i in 0..n {
        let zi = &zc[i * d..(i + 1) * d];
        for l in i..n {
            let kil = lanes::dot(lanes, zi, &zc[l * d..(l + 1) * d]);
            k[i * n + l] = kil;
            k[l * n + i] = kil;
            frobenius.add(if l == i { kil * kil } else { 2.0 * kil * kil });
        }
    }
    if d == 1 {
        return 0.0;
    }
    let nm1 = (n - 1) as f32;
    let mut difference = Compensated::default();
    let mut diagonal = 0.0f32;
    difference.add(frobenius.sum / (nm1 * nm1));
    difference.add(frobenius.compensation / (nm1 * nm1));
    for &v in var {
        difference.add(-(v * v));
        diagonal += v * v;
    }
    let total = difference.total();
    // Only a rounding residue just below zero is clamped. A NaN or an
    // infinity (squares that overflowed), or a large negative value, is
    // passed on so that the caller refuses the result.
    if total.is_finite() && total < 0.0 && total >= -1e-3 * diagonal { 0.0 } else { total }
}

/// A running sum that carries its rounding error (Neumaier's variant of
/// Kahan summation).
#[derive(Default)]
struct Compensated {
    sum: f32,
    compensation: f32,
}

impl Compensated {
    fn add(&mut self, x: f32) {
        let t = self.sum + x;
        self.compensation += if self.sum.abs() >= x.abs() { (self.sum - t) + x } else { (x - t) + self.sum };
        self.sum = t;
    }

    fn total(&self) -> f32 {
        self.sum + self.compensation
    }
}

/// grad ← grad + α/(n − 1)·K·Z_c. The −α·Z_c·diag(C) part is left to the
/// caller, who folds it into the per-column variance weights.
pub(crate) fn gram_gradient(lanes: Lanes, zc: &[f32], d: usize, k: &[f32], alpha: f32, grad: &mut [f32]) {
    let n = zc.len() / d;
    lanes::matmul_acc(lanes, alpha / (n - 1) as f32, k, n, zc, grad);
}
