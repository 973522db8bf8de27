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

/// K ← Z_c·Z_cᵀ (full, symmetric) in scalar 4×4 register tiles on and
/// above the diagonal, mirrored: for targets without vectors.
fn gram_registers(zc: &[f32], d: usize, k: &mut [f32]) {
    let n = zc.len() / d;
    lanes::matmul_transposed_registers(zc, zc, d, &[], k, true);
    lanes::mirror_upper(k, n);
}

/// K ← Z_c·Z_cᵀ (full, symmetric, row-major n×n) for the row-major n×d
/// `zc`, d ≥ 1: with vectors, register tiles unless the scalar loops are
/// asked for; without (Cortex-M4F), scalar 4×4 tiles on and above the
/// diagonal, mirrored.
pub(crate) fn gram_matrix(lanes: Lanes, zc: &[f32], d: usize, k: &mut [f32]) {
    let n = zc.len() / d;
    let k = &mut k[..n * n];
    if !<lanes::Portable as lanes::Simd>::VECTORS {
        gram_registers(zc, d, k);
    } else if lanes::tiles_pay(lanes) {
        lanes::gram_rows(zc, d, k);
    } else {
        for i in 0..n {
            for l in i..n {
                let kil = lanes::dot(lanes, &zc[i * d..(i + 1) * d], &zc[l * d..(l + 1) * d]);
                k[i * n + l] = kil;
                k[l * n + i] = kil;
            }
        }
    }
}

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
    gram_matrix(lanes, zc, d, k);
    let mut frobenius = Compensated::default();
    for i in 0..n {
        for (l, &kil) in k[i * n..(i + 1) * n].iter().enumerate().skip(i) {
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

#[cfg(test)]
mod tests {
    //! The off-diagonal sum against f64 sums written here, on batches where
    //! the cancellation in ‖K‖²_F/(n − 1)² − Σⱼ C_jj² is the whole story.
    #![allow(clippy::float_cmp)] // the exact zeros and sums asserted are exact by construction

    use super::*;

    const N: usize = 8;
    const D: usize = 12;

    /// A centred N×D batch whose columns have variances near `scale²` and
    /// correlations near `rho`, with C = Z_cᵀZ_c/(n − 1) and Σ_{j≠k} C_jk²
    /// in f64.
    fn batch(scale: f32, rho: f32) -> ([f32; N * D], [f32; D], f64) {
        let mut z = [0.0f32; N * D];
        for (i, row) in z.chunks_exact_mut(D).enumerate() {
            let shared = ((i * 7 + 3) as f32 * 0.61).sin();
            for (j, v) in row.iter_mut().enumerate() {
                let own = ((i * D + j) as f32 * 1.37).sin() + ((i + 2 * j) as f32 * 0.29).cos();
                *v = scale * (own + rho * shared);
            }
        }
        for j in 0..D {
            let mean = (0..N).map(|i| z[i * D + j]).sum::<f32>() / N as f32;
            for i in 0..N {
                z[i * D + j] -= mean;
            }
        }
        let cov = |j: usize, k: usize| {
            (0..N).map(|i| f64::from(z[i * D + j]) * f64::from(z[i * D + k])).sum::<f64>() / (N - 1) as f64
        };
        #[allow(clippy::cast_possible_truncation)]
        let var: [f32; D] = core::array::from_fn(|j| cov(j, j) as f32);
        let off = (0..D)
            .flat_map(|j| (0..D).map(move |k| (j, k)))
            .filter(|(j, k)| j != k)
            .map(|(j, k)| cov(j, k) * cov(j, k))
            .sum();
        (z, var, off)
    }

    #[test]
    fn off_diagonal_sum_and_gram_matrix_match_f64() {
        for lanes in [Lanes::Scalar, Lanes::Wide] {
            for (scale, rho) in [(1.0, 0.5), (30.0, 0.05), (1e-3, 2.0)] {
                let (z, var, want) = batch(scale, rho);
                let mut k = [f32::NAN; N * N];
                let got = gram(lanes, &z, D, &var, &mut k);
                let diagonal: f64 = var.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
                // The error is a few roundings of the terms, Σ C_jj², not of
                // the (here up to 400 times smaller) result.
                assert!((f64::from(got) - want).abs() <= 2e-6 * diagonal, "{lanes:?} {scale} {rho}: {got} vs {want}");
                assert!(want > 1e-3 * diagonal, "the case has off-diagonal mass");
                for i in 0..N {
                    for l in 0..N {
                        let kil: f64 = (0..D).map(|j| f64::from(z[i * D + j]) * f64::from(z[l * D + j])).sum();
                        let row_scale: f64 = (0..D).map(|j| f64::from(z[i * D + j]).powi(2)).sum();
                        assert!((f64::from(k[i * N + l]) - kil).abs() <= 1e-5 * row_scale.max(1e-30), "K[{i}][{l}]");
                    }
                }
            }
        }
    }

    /// The Cortex-M4F's Gram matrix (upper register tiles, mirrored) against
    /// f64, exactly symmetric, at sizes with and without whole tiles.
    #[test]
    fn register_gram_matrix_matches_f64_and_is_symmetric() {
        for n in [1, 4, 5, 7, 8, 9] {
            let z: [f32; 9 * D] = core::array::from_fn(|i| ((i as f32) * 0.73 + 0.2).sin());
            let z = &z[..n * D];
            let mut k = [f32::NAN; 9 * 9];
            let k = &mut k[..n * n];
            gram_registers(z, D, k);
            for i in 0..n {
                for l in 0..n {
                    let kil: f64 = (0..D).map(|j| f64::from(z[i * D + j]) * f64::from(z[l * D + j])).sum();
                    assert!((f64::from(k[i * n + l]) - kil).abs() <= 1e-5 * D as f64, "n {n}: K[{i}][{l}]");
                    assert_eq!(
                        k[i * n + l].to_bits(),
                        k[l * n + i].to_bits(),
                        "n {n}: K[{i}][{l}] against K[{l}][{i}]"
                    );
                }
            }
        }
    }

    #[test]
    fn compensated_sums_keep_what_plain_f32_sums_lose() {
        // 1 + 10⁻⁹ + 10⁻⁹ − 1: a plain f32 sum gives 0 (10⁻⁹ is far below
        // half of 1's last place), the compensated one 2·10⁻⁹; whichever of
        // the two magnitudes comes first.
        let tiny = 1e-9;
        for terms in [[1.0, tiny, tiny, -1.0], [tiny, 1.0, tiny, -1.0], [tiny, tiny, 1.0, -1.0]] {
            let mut c = Compensated::default();
            for t in terms {
                c.add(t);
            }
            assert_eq!(c.total(), 2.0 * tiny, "{terms:?}");
        }
    }

    #[test]
    fn only_a_rounding_residue_below_zero_is_clamped() {
        // Variances given a little larger than the batch's make the result
        // negative by about 2·δ·Σ C_jj²: clamped to zero for δ = 10⁻⁵
        // (rounding), returned for δ = 10⁻² (a caller's mistake to refuse).
        // The threshold scales with Σ C_jj², which is large here (about
        // 7·10⁶), so one measured in other units would not clamp.
        // Columns 1–7 of the 8×8 Hadamard matrix, scaled: centred and
        // exactly orthogonal, so C is diagonal and the result is zero up to
        // rounding.
        const H: usize = 7;
        let mut z = [0.0f32; N * H];
        for (i, row) in z.chunks_exact_mut(H).enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                let sign = if ((i & (j + 1)).count_ones() % 2) == 0 { 1.0 } else { -1.0 };
                *v = sign * 30.0 * (0.3 + 0.17 * j as f32);
            }
        }
        let var: [f32; H] = core::array::from_fn(|j| (0..N).map(|i| z[i * H + j] * z[i * H + j]).sum::<f32>() / 7.0);
        let mut k = [0.0f32; N * N];
        let exact = gram(Lanes::Wide, &z, H, &var, &mut k);
        let diagonal: f32 = var.iter().map(|v| v * v).sum();
        assert!((0.0..1e-6 * diagonal).contains(&exact), "{exact}");
        let inflated = |delta: f32| var.map(|v| v * (1.0 + delta));
        assert_eq!(gram(Lanes::Wide, &z, H, &inflated(1e-5), &mut k), 0.0);
        let refused = gram(Lanes::Wide, &z, H, &inflated(1e-2), &mut k);
        assert!(refused < -0.015 * diagonal && refused > -0.025 * diagonal + exact, "{refused}");
        // One feature has no off-diagonal, whatever the variance says.
        assert_eq!(gram(Lanes::Wide, &z[..N], 1, &[5.0], &mut k), 0.0);
    }
}
