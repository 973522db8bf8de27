//! The building blocks of the loss, exposed for callers who want the batch
//! statistics themselves (to monitor collapse on a device, say) and for
//! benchmarks. Each checks its slice shapes and returns an error rather than
//! panicking.

use super::objective::rows;
use super::{centring, covariance};
use crate::error::Error;
use crate::lanes::Lanes;

/// Centres an n×d row-major batch `z` into `centred` (n·d) and writes the
/// column means into `mean` (d), by the corrected two-pass algorithm; needs d
/// elements of `workspace`.
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
