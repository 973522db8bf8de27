//! Centring in place, with the column sums of squares, in the order of
//! passes that suits the memory: along the rows where a cache holds them
//! (hosts, WebAssembly), down strips of eight columns where there is no
//! cache but a register file (the Cortex-M4F). A strip's sums stay in
//! registers from the first row to the last, where a pass along the rows
//! loads and stores them once per row; on a host the same strips would walk
//! down a matrix with rows a power of two apart, each step in the same
//! cache set (25-50 % slower on the loss at (256, 1024), measured).
//!
//! Each column's sums run over the rows in order, the same operations in the
//! same order either way, so the two give the same results to the bit.

use super::{Lanes, Portable, Simd, W, add_assign, axpy, mul_acc};

/// Centres the n×d matrix `z` in place by the corrected two-pass algorithm
/// and writes the column means into `mean` and the column sums of squares of
/// the centred values, Σᵢ z_c,ij², into `squares` (each d long).
///
/// Per column: m = (1/n)·Σᵢ zᵢ; zᵢ ← zᵢ − m; c = (1/n)·Σᵢ zᵢ of the new
/// values; zᵢ ← zᵢ − c; the mean is m + c. Down strips, the second mean
/// is summed in the pass that subtracts the first, and the squares in the
/// pass that subtracts the second: three passes where the rows take five.
#[inline]
pub(crate) fn centre_columns(lanes: Lanes, z: &mut [f32], d: usize, mean: &mut [f32], squares: &mut [f32]) {
    let Some(n) = z.len().checked_div(d) else { return };
    let (Some(mean), Some(squares)) = (mean.get_mut(..d), squares.get_mut(..d)) else { return };
    if n == 0 {
        return;
    }
    let z = &mut z[..n * d];
    let inv_n = 1.0 / n as f32;
    if Portable::VECTORS {
        centre_rows(lanes, z, d, inv_n, mean, squares);
    } else {
        centre_strips(z, d, inv_n, mean, squares);
    }
}

/// [`centre_columns`] along the rows, in the lanes asked for: the mean and
/// its correction (in `squares`), each summed and subtracted, then the
/// squares.
fn centre_rows(lanes: Lanes, z: &mut [f32], d: usize, inv_n: f32, mean: &mut [f32], squares: &mut [f32]) {
    for m in [&mut *mean, &mut *squares] {
        m.fill(0.0);
        for row in z.chunks_exact(d) {
            add_assign(lanes, m, row);
        }
        for v in m.iter_mut() {
            *v *= inv_n;
        }
        for row in z.chunks_exact_mut(d) {
            axpy(lanes, -1.0, m, row);
        }
    }
    add_assign(lanes, mean, squares);
    squares.fill(0.0);
    for row in z.chunks_exact(d) {
        mul_acc(lanes, squares, row, row);
    }
}

/// [`centre_columns`] down strips of eight columns in [`Portable`] vectors
/// (eight scalars where it is used), then the columns past the last strip
/// one at a time.
fn centre_strips(z: &mut [f32], d: usize, inv_n: f32, mean: &mut [f32], squares: &mut [f32]) {
    let strips = d / W * W;
    centre_strips_in(Portable, z, d, strips, inv_n, mean, squares);
    for j in strips..d {
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

/// The strips of [`centre_strips`]: the first `strips` columns, a multiple
/// of eight.
#[inline]
fn centre_strips_in<S: Simd>(
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
        let c = s.mul(subtract_down(s, z, d, j0, m, |sum, v| s.add(sum, v)), inv_n);
        let sq = subtract_down(s, z, d, j0, c, |sq, v| s.mul_add(v, v, sq));
        s.store(s.add(m, c), m_out);
        s.store(sq, sq_out);
    }
}

/// zᵢ ← zᵢ − m down the strip of eight columns from `j0`, each new value
/// folded into a running vector by `fold`, which this returns.
#[inline(always)]
fn subtract_down<S: Simd>(
    s: S,
    z: &mut [f32],
    d: usize,
    j0: usize,
    m: S::V,
    fold: impl Fn(S::V, S::V) -> S::V,
) -> S::V {
    let mut acc = s.zero();
    for row in z.chunks_exact_mut(d) {
        let Some(x) = row.get_mut(j0..j0 + W).and_then(|x| <&mut [f32; W]>::try_from(x).ok()) else { break };
        let v = s.sub(s.load(x), m);
        s.store(v, x);
        acc = fold(acc, v);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_match_the_row_passes_to_the_bit() {
        // The scalar row passes round as the strips do wherever the build
        // has no fused multiply-add in its baseline; with one, the strips'
        // squares are fused and round once.
        let fused = cfg!(any(target_feature = "fma", target_feature = "neon"));
        for (n, d) in [(1, 1), (5, 3), (7, 8), (3, 19), (33, 24), (4, 61)] {
            let mut z = [0.0f32; 33 * 64];
            for (i, v) in z.iter_mut().enumerate().take(n * d) {
                // A common offset per column, the case centring is for.
                *v = 1000.0 * (i % d) as f32 + libm::sinf(i as f32 * 1.3) * 3.0;
            }
            let mut rows = z;
            let (mut mean, mut squares, mut m_rows, mut sq_rows) = ([0.0; 64], [0.0; 64], [0.0; 64], [0.0; 64]);
            let inv_n = 1.0 / n as f32;
            centre_strips(&mut z[..n * d], d, inv_n, &mut mean[..d], &mut squares[..d]);
            centre_rows(Lanes::Scalar, &mut rows[..n * d], d, inv_n, &mut m_rows[..d], &mut sq_rows[..d]);
            let same = |x: &[f32], y: &[f32]| x.iter().map(|v| v.to_bits()).eq(y.iter().map(|v| v.to_bits()));
            assert!(same(&z[..n * d], &rows[..n * d]), "({n}, {d}) centred");
            assert!(same(&mean[..d], &m_rows[..d]), "({n}, {d}) means");
            let close = squares.iter().zip(&sq_rows).all(|(s, r)| (s - r).abs() <= 1e-6 * r.abs());
            assert!(if fused { close } else { same(&squares[..d], &sq_rows[..d]) }, "({n}, {d}) squares");
        }
    }
}
