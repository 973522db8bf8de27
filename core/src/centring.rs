//! Column centring, Z_c = Z − 1·mᵀ, by the corrected two-pass algorithm.
//!
//! A one-pass E[x²] − E[x]² loses every digit when a column has a large common
//! offset. Centring first fixes that, but an f32 mean of such a column is
//! itself off by up to half an ulp of the offset, which shifts every centred
//! value. So the mean of the centred values is computed and subtracted once
//! more: m ← m + mean(Z_c), Z_c ← Z_c − mean(Z_c). After that the columns of
//! Z_c sum to zero to rounding, which the gradients rely on (the centring
//! Jacobian drops out of ∂c/∂Z only because they do).

use crate::lanes::{self, Lanes};

/// Writes Z_c (row-major n×d) into `zc` and the corrected column means into
/// `mean`; `correction` is d elements of workspace. `z` and `zc` hold n·d
/// elements, `mean` and `correction` d; n ≥ 1.
pub(crate) fn centre(
    lanes: Lanes,
    z: &[f32],
    d: usize,
    zc: &mut [f32],
    mean: &mut [f32],
    correction: &mut [f32],
) {
    let n = z.len() / d;
    let inv_n = 1.0 / n as f32;

    column_mean(lanes, z, d, inv_n, mean);
    for (out, row) in zc.chunks_exact_mut(d).zip(z.chunks_exact(d)) {
        lanes::sub_into(lanes, out, row, mean);
    }

    column_mean(lanes, zc, d, inv_n, correction);
    for row in zc.chunks_exact_mut(d) {
        // row ← row − correction, in place.
        lanes::axpy(lanes, -1.0, correction, row);
    }
    lanes::add_assign(lanes, mean, correction);
}

/// mean ← (1/n) Σᵢ zᵢ over the rows of `z`.
fn column_mean(lanes: Lanes, z: &[f32], d: usize, inv_n: f32, mean: &mut [f32]) {
    mean.fill(0.0);
    for row in z.chunks_exact(d) {
        lanes::add_assign(lanes, mean, row);
    }
    for m in mean.iter_mut() {
        *m *= inv_n;
    }
}
