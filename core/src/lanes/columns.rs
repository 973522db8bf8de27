//! Passes down the columns of a row-major n×d matrix, a strip of eight
//! columns at a time: the strip's sums stay in registers from the first row
//! to the last, where a pass along the rows would load and store them once
//! per row.
//!
//! Each column's sums run over the rows in order, the same operations in the
//! same order as row-by-row passes, so the results are the same to the bit.

use super::{Lanes, Simd, W, effective, simd};

/// Centres the n×d matrix `z` in place by the corrected two-pass algorithm
/// and writes the column means into `mean` and the column sums of squares of
/// the centred values, Σᵢ z_c,ij², into `squares` (each d long).
///
/// Per column: m = (1/n)·Σᵢ zᵢ; zᵢ ← zᵢ − m, with c = (1/n)·Σᵢ zᵢ of the
/// new values in the same pass; zᵢ ← zᵢ − c, with Σᵢ zᵢ² in the same pass;
/// the mean is m + c. Three passes down each strip where separate
/// row-by-row passes took five (two means, two subtractions, the squares).
#[inline]
pub(crate) fn centre_columns(lanes: Lanes, z: &mut [f32], d: usize, mean: &mut [f32], squares: &mut [f32]) {
    let Some(n) = z.len().checked_div(d) else { return };
    if n == 0 || mean.len() < d || squares.len() < d {
        return;
    }
    let z = &mut z[..n * d];
    let inv_n = 1.0 / n as f32;
    let strips = match effective(lanes) {
        Lanes::Scalar => 0,
        Lanes::Wide => d / W * W,
    };
    if strips > 0 {
        centre_strips(z, d, strips, inv_n, mean, squares);
    }
    for j in strips..d {
        // The columns past the last strip, as the row passes' scalar tails.
        let len = z.len();
        let column = || (j..len).step_by(d);
        let m = column().fold(0.0, |sum, i| sum + z[i]) * inv_n;
        let mut sum = 0.0;
        for i in column() {
            z[i] -= m;
            sum += z[i];
        }
        let c = sum * inv_n;
        let mut sq = 0.0;
        for i in column() {
            z[i] -= c;
            sq += z[i] * z[i];
        }
        (mean[j], squares[j]) = (m + c, sq);
    }
}

/// [`centre_columns`] for the first `strips` columns (a multiple of eight),
/// in vectors.
fn centre_strips(z: &mut [f32], d: usize, strips: usize, inv_n: f32, mean: &mut [f32], squares: &mut [f32]) {
    simd!(centre_strips => centre_strips_in(z, d, strips, inv_n, mean, squares));
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn centre_strips_in<S: Simd>(
    s: S,
    z: &mut [f32],
    d: usize,
    strips: usize,
    inv_n: f32,
    mean: &mut [f32],
    squares: &mut [f32],
) {
    let inv_n = s.splat(inv_n);
    let (means, _) = mean.as_chunks_mut::<W>();
    let (sums, _) = squares.as_chunks_mut::<W>();
    for ((j0, m_out), sq_out) in (0..strips).step_by(W).zip(means).zip(sums) {
        // In range: j0 + W ≤ strips ≤ d, the length of every row.
        let mut sum = s.zero();
        for row in z.chunks_exact(d) {
            let Some(x) = row.get(j0..j0 + W).and_then(|x| <&[f32; W]>::try_from(x).ok()) else { break };
            sum = s.add(sum, s.load(x));
        }
        let m = s.mul(sum, inv_n);
        let mut sum = s.zero();
        for row in z.chunks_exact_mut(d) {
            let Some(x) = row.get_mut(j0..j0 + W).and_then(|x| <&mut [f32; W]>::try_from(x).ok()) else { break };
            let v = s.sub(s.load(x), m);
            s.store(v, x);
            sum = s.add(sum, v);
        }
        let c = s.mul(sum, inv_n);
        let mut sq = s.zero();
        for row in z.chunks_exact_mut(d) {
            let Some(x) = row.get_mut(j0..j0 + W).and_then(|x| <&mut [f32; W]>::try_from(x).ok()) else { break };
            let v = s.sub(s.load(x), c);
            s.store(v, x);
            sq = s.mul_add(v, v, sq);
        }
        s.store(s.add(m, c), m_out);
        s.store(sq, sq_out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lanes;

    /// The row-by-row passes the strips replace, written out: two column
    /// means and subtractions, then the squares.
    fn row_passes(lanes: Lanes, z: &mut [f32], d: usize, mean: &mut [f32], squares: &mut [f32]) {
        let n = z.len() / d;
        let mut correction = [0.0f32; 64];
        let correction = &mut correction[..d];
        for m in [&mut *mean, &mut *correction] {
            m.fill(0.0);
            for row in z.chunks_exact(d) {
                lanes::add_assign(lanes, m, row);
            }
            for v in m.iter_mut() {
                *v *= 1.0 / n as f32;
            }
            for row in z.chunks_exact_mut(d) {
                lanes::axpy(lanes, -1.0, m, row);
            }
        }
        lanes::add_assign(lanes, mean, correction);
        squares.fill(0.0);
        for row in z.chunks_exact(d) {
            lanes::mul_acc(lanes, squares, row, row);
        }
    }

    #[test]
    fn strips_match_the_row_passes_to_the_bit() {
        for lanes in [Lanes::Scalar, Lanes::Wide] {
            for (n, d) in [(1, 1), (5, 3), (7, 8), (3, 19), (33, 24), (4, 61)] {
                let mut z = [0.0f32; 33 * 64];
                for (i, v) in z.iter_mut().enumerate().take(n * d) {
                    // A common offset per column, the case centring is for.
                    *v = 1000.0 * (i % d) as f32 + libm::sinf(i as f32 * 1.3) * 3.0;
                }
                let mut expected = z;
                let (mut mean, mut squares, mut m_ref, mut sq_ref) = ([0.0; 64], [0.0; 64], [0.0; 64], [0.0; 64]);
                centre_columns(lanes, &mut z[..n * d], d, &mut mean[..d], &mut squares[..d]);
                row_passes(lanes, &mut expected[..n * d], d, &mut m_ref[..d], &mut sq_ref[..d]);
                let same = |x: &[f32], y: &[f32]| x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits()));
                assert!(same(&z[..n * d], &expected[..n * d]), "{lanes:?} ({n}, {d}) centred");
                assert!(same(&mean[..d], &m_ref[..d]), "{lanes:?} ({n}, {d}) means");
                assert!(same(&squares[..d], &sq_ref[..d]), "{lanes:?} ({n}, {d}) squares");
            }
        }
    }
}
