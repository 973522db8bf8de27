//! The covariance term of one branch on the feature side,
//! c(Z) = (1/d) Σ_{j≠k} C_jk²,  C = Z_cᵀ Z_c / (n − 1)  (d×d),
//! and its gradient ∂c/∂Z = 4/(d·(n − 1)) · Z_c·G with G = C − diag(C).
//!
//! Cost O(n·d²), memory d². The accumulation of C is the hot loop: only the
//! upper triangle is accumulated (C is symmetric), four rows of Z_c at a time
//! so each pass over C carries four rank-one updates, in SIMD lanes along the
//! contiguous feature axis.

use crate::lanes::{self, Lanes};

/// Writes C (full, symmetric, row-major d×d) into `c` and returns
/// Σ_{j≠k} C_jk². `zc` is the centred n×d batch (n ≥ 2); `c` holds d² elements.
pub(crate) fn feature_covariance(lanes: Lanes, zc: &[f32], d: usize, c: &mut [f32]) -> f32 {
    if d >= 128 && <lanes::Portable as lanes::Simd>::VECTORS {
        // The lower triangle is written whole by the mirror: only the upper
        // one is summed into, so only it starts at zero (half the stores of
        // a matrix 4 MiB at d = 1024). A small C, or a microcontroller's,
        // takes one fill: fewer instructions and less flash.
        for j in 0..d {
            c[j * d + j..(j + 1) * d].fill(0.0);
        }
    } else {
        c.fill(0.0);
    }
    accumulate_upper(lanes, zc, d, c);
    scale_and_mirror(lanes, c, d, zc.len() / d)
}

/// C = M/(n − 1) from the upper triangle of a co-moment M = Z_cᵀZ_c in `c`,
/// mirrored into the lower one; returns Σ_{j≠k} C_jk² (each off-diagonal
/// entry appears twice).
pub(crate) fn scale_and_mirror(lanes: Lanes, c: &mut [f32], d: usize, n: usize) -> f32 {
    let inv = 1.0 / (n - 1) as f32;
    let mut off = 0.0;
    for j in 0..d {
        let row = &mut c[j * d..(j + 1) * d];
        for x in &mut row[j..] {
            *x *= inv;
        }
        off += lanes::dot(lanes, &row[j + 1..], &row[j + 1..]);
    }
    lanes::mirror_upper(c, d);
    2.0 * off
}

/// C[j, j..] += Σᵢ Z_c[i, j]·Z_c[i, j..] over all rows: register tiles in
/// SIMD lanes (scalar registers where there are no vectors), or four
/// rank-one updates a pass over C in scalar code.
pub(crate) fn accumulate_upper(lanes: Lanes, zc: &[f32], d: usize, c: &mut [f32]) {
    // Where there are no vectors both names take the register tiles, as
    // every primitive does there (one copy in flash, the faster one).
    if lanes::effective(lanes) == Lanes::Wide {
        lanes::gram_upper_tiled(zc, d, c);
        return;
    }
    let full = zc.len() / d / 4 * 4;
    for i in (0..full).step_by(4) {
        let r = lanes::four_rows(zc, d, i);
        for j in 0..d {
            let a = [r[0][j], r[1][j], r[2][j], r[3][j]];
            let tails = [&r[0][j..], &r[1][j..], &r[2][j..], &r[3][j..]];
            lanes::axpy4(lanes, a, tails, &mut c[j * d + j..(j + 1) * d]);
        }
    }
    for row in zc[full * d..].chunks_exact(d) {
        for j in 0..d {
            lanes::axpy(lanes, row[j], &row[j..], &mut c[j * d + j..(j + 1) * d]);
        }
    }
}

/// grad ← grad + α·Z_c·G, G = C with its diagonal zeroed (done here, in
/// place, so `c` is G afterwards).
pub(crate) fn feature_gradient(lanes: Lanes, zc: &[f32], d: usize, c: &mut [f32], alpha: f32, grad: &mut [f32]) {
    for j in 0..d {
        c[j * d + j] = 0.0;
    }
    lanes::matmul_acc(lanes, alpha, zc, d, c, grad);
}
