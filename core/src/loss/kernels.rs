//! The building blocks of the loss, exposed for callers who want the batch
//! statistics themselves (to monitor collapse on a device, say) and for
//! benchmarks. Each checks its slice shapes and returns an error rather than
//! panicking.

use super::objective::rows;
use super::{centring, covariance, gram};
use crate::error::Error;
use crate::lanes::Lanes;

/// Centres an n×d row-major batch `z` into `centred` (n·d) and writes the
/// column means into `mean` (d), by the corrected two-pass algorithm; needs d
/// elements of `workspace`, which holds the centred columns' sums of
/// squares, Σᵢ z_c,ij², afterwards.
///
/// ```
/// use vicreg::{Lanes, kernels::centre};
/// let z = [1.0, 10.0, 3.0, 20.0];
/// let (mut zc, mut mean, mut ws) = ([0.0; 4], [0.0; 2], [0.0; 2]);
/// centre(Lanes::Wide, &z, 2, &mut zc, &mut mean, &mut ws)?;
/// assert_eq!((zc, mean), ([-1.0, -5.0, 1.0, 5.0], [2.0, 15.0]));
/// # Ok::<(), vicreg::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ZeroDimension`] for d = 0, [`Error::TooFewRows`] for an empty
/// batch, [`Error::ShapeMismatch`] for any other length disagreement.
pub fn centre(
    lanes: Lanes,
    z: &[f32],
    d: usize,
    centred: &mut [f32],
    mean: &mut [f32],
    workspace: &mut [f32],
) -> Result<(), Error> {
    let n = rows(z, d, 1)?;
    if centred.len() != n * d || mean.len() != d || workspace.len() != d {
        return Err(Error::ShapeMismatch);
    }
    centred.copy_from_slice(z);
    centring::centre(lanes, centred, d, mean, workspace);
    Ok(())
}

/// Writes the covariance matrix C = Z_cᵀZ_c/(n − 1) (d×d, row-major) of a
/// centred n×d batch into `c`, and returns Σ_{j≠k} C_jk² (d times the
/// covariance term). This is the O(n·d²) accumulation at the heart of the
/// loss: upper triangle only, four rows a pass, in lanes.
///
/// # Errors
///
/// [`Error::ZeroDimension`] for d = 0, [`Error::TooFewRows`] for n < 2,
/// [`Error::ShapeMismatch`] if `c` is not d² long.
pub fn covariance_matrix(lanes: Lanes, centred: &[f32], d: usize, c: &mut [f32]) -> Result<f32, Error> {
    rows(centred, d, 2)?;
    if Some(c.len()) != d.checked_mul(d) {
        return Err(Error::ShapeMismatch);
    }
    Ok(covariance::feature_covariance(lanes, centred, d, c))
}

/// Writes the Gram matrix K = Z_c·Z_cᵀ (n×n, row-major, symmetric) of a
/// centred n×d batch into `k`: the batch side's O(n²·d) product, whose
/// squared entries give the covariance term without the d×d matrix
/// (Σ_{j,k} C_jk² = ‖K‖²_F/(n − 1)²). Entry (i, l) is the dot product of
/// rows i and l.
///
/// ```
/// use vicreg::{Lanes, kernels::gram_matrix};
/// let zc = [1.0, 2.0, -1.0, 0.5];
/// let mut k = [0.0; 4];
/// gram_matrix(Lanes::Wide, &zc, 2, &mut k)?;
/// assert_eq!(k, [5.0, 0.0, 0.0, 1.25]);
/// # Ok::<(), vicreg::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ZeroDimension`] for d = 0, [`Error::TooFewRows`] for an empty
/// batch, [`Error::ShapeMismatch`] if `k` is not n² long.
pub fn gram_matrix(lanes: Lanes, centred: &[f32], d: usize, k: &mut [f32]) -> Result<(), Error> {
    let n = rows(centred, d, 1)?;
    if Some(k.len()) != n.checked_mul(n) {
        return Err(Error::ShapeMismatch);
    }
    gram::gram_matrix(lanes, centred, d, k);
    Ok(())
}

/// out ← out + s·A·B for row-major A (r×m), B (m×c) and out (r×c): the
/// product the gradients are made of (Z_c·G on the feature side, K·Z_c on
/// the batch side), in the same register tiles, on any shapes. r and c
/// follow from the lengths of A and B.
///
/// ```
/// use vicreg::{Lanes, kernels::matrix_product};
/// let a = [1.0, 2.0, 3.0, 4.0]; // 2×2
/// let b = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]; // 2×3
/// let mut out = [1.0; 6];
/// matrix_product(Lanes::Wide, 2.0, &a, 2, &b, &mut out)?;
/// assert_eq!(out, [3.0, 5.0, 7.0, 7.0, 9.0, 15.0]);
/// # Ok::<(), vicreg::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::ZeroDimension`] for m = 0, [`Error::ShapeMismatch`] if A's or
/// B's length is not a multiple of m, or out's is not r·c.
pub fn matrix_product(lanes: Lanes, s: f32, a: &[f32], m: usize, b: &[f32], out: &mut [f32]) -> Result<(), Error> {
    if m == 0 {
        return Err(Error::ZeroDimension);
    }
    if !a.len().is_multiple_of(m) || !b.len().is_multiple_of(m) {
        return Err(Error::ShapeMismatch);
    }
    if Some(out.len()) != (a.len() / m).checked_mul(b.len() / m) {
        return Err(Error::ShapeMismatch);
    }
    crate::lanes::matmul_acc(lanes, s, a, m, b, out);
    Ok(())
}
