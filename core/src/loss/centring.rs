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

/// Centres the row-major n×d batch `z` in place (n ≥ 1), writes the
/// corrected column means into `mean` and the column sums of squares of the
/// centred values, Σᵢ z_c,ij², into `squares` (the variances but for their
/// divisor; d each). Down strips of columns ([`lanes::centre_columns`]):
/// the two means, two subtractions and the squares in three passes.
pub(crate) fn centre(lanes: Lanes, z: &mut [f32], d: usize, mean: &mut [f32], squares: &mut [f32]) {
    lanes::centre_columns(lanes, z, d, mean, squares);
}
