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

/// Centres the row-major n×d batch `z` in place (n ≥ 1) and writes the
/// corrected column means into `mean`; `correction` is d elements of
/// workspace.
pub(crate) fn centre(lanes: Lanes, z: &mut [f32], d: usize, mean: &mut [f32], correction: &mut [f32]) {
    let inv_n = 1.0 / (z.len() / d) as f32;
    column_mean(lanes, z, d, inv_n, mean);
    subtract_from_rows(lanes, z, d, mean);
    column_mean(lanes, z, d, inv_n, correction);
    subtract_from_rows(lanes, z, d, correction);
    lanes::add_assign(lanes, mean, correction);
}

fn subtract_from_rows(lanes: Lanes, z: &mut [f32], d: usize, m: &[f32]) {
    for row in z.chunks_exact_mut(d) {
        lanes::axpy(lanes, -1.0, m, row);
    }
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
