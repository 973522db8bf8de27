//! Count, mean and co-moment of a stream of rows, merged by Chan's update
//! rather than from raw sums of squares (which lose every digit when a
//! column's mean is large against its spread):
//!
//! δ = m_B − m_A,  m = m_A + δ·n_B/n,  M = M_A + M_B + δδᵀ·n_A·n_B/n,
//!
//! with n = n_A + n_B and M = Σᵢ (zᵢ − m)(zᵢ − m)ᵀ. The covariance of the
//! union is then C = M/(n − 1). Merging is associative and commutative up to
//! rounding, so shards (micro-batches, threads, devices) can be merged in any
//! grouping. Only the upper triangle of M is kept up to date.
//!
//! The mean is kept as an unevaluated sum hi + lo of two f32 (each update
//! added by TwoSum, its rounding error carried in lo). A plain f32 mean
//! updated once per micro-batch drifts by about √(updates)·ε·|mean|; the
//! rows centred on it then no longer sum to zero, and what cancels in a
//! full batch (BatchNorm's Σx̂ = 0, the zero gradient of a bias before a
//! BatchNorm) leaks into the gradients. With the pair, the mean is as good
//! as the full batch's corrected two-pass mean.

use super::covariance;
use crate::lanes::{self, Lanes};

/// hi + lo ← hi + lo + v, the rounding error of the f32 sum carried in lo
/// (Knuth's TwoSum).
fn add_compensated(hi: &mut f32, lo: &mut f32, v: f32) {
    let s = *hi + v;
    let b = s - *hi;
    *lo += (*hi - (s - b)) + (v - b);
    *hi = s;
}

/// Renormalises a pair so that hi is the mean rounded to f32 and lo what
/// rounding left (TwoSum, which holds whatever the magnitudes: a mean near
/// zero can have |lo| > |hi|).
pub(crate) fn settle(hi: &mut f32, lo: &mut f32) {
    let (h, l) = (*hi, *lo);
    (*hi, *lo) = (0.0, 0.0);
    add_compensated(hi, lo, h);
    add_compensated(hi, lo, l);
}

/// Merges one scalar moment pair (n_B values of mean `mean_b` = hi + lo
/// and co-moment `m2_b`) into (`mean` + `lo`, `m2`) over `count` values.
pub(crate) fn merge_scalar(
    count: usize,
    (mean, lo): (&mut f32, &mut f32),
    m2: &mut f32,
    n_b: usize,
    (mean_b, lo_b): (f32, f32),
    m2_b: f32,
) {
    let n = count + n_b;
    if n == 0 {
        return;
    }
    let delta = ((mean_b - *mean) + lo_b) - *lo;
    let share = n_b as f32 / n as f32;
    add_compensated(mean, lo, delta * share);
    *m2 += m2_b + delta * delta * count as f32 * share;
}

/// Merges another shard's mean and co-moment's cross term into (`count`,
/// `mean` + `lo`, `m`), given δ = m_B − m_A for `n_b` rows:
/// m ← m_A + δ·n_B/n, M ← M + δδᵀ·n_A·n_B/n (upper triangle). The caller
/// adds M_B itself.
pub(crate) fn shift(
    lanes: Lanes,
    count: usize,
    (mean, lo): (&mut [f32], &mut [f32]),
    m: &mut [f32],
    n_b: usize,
    delta: &[f32],
) {
    let (d, n) = (mean.len(), count + n_b);
    if n == 0 {
        return;
    }
    let share = n_b as f32 / n as f32;
    let weight = count as f32 * share;
    for j in 0..d {
        let (dj, tail) = (delta[j], &delta[j..]);
        lanes::axpy(lanes, weight * dj, tail, &mut m[j * d + j..(j + 1) * d]);
    }
    for ((hi, lo), dl) in mean.iter_mut().zip(lo.iter_mut()).zip(delta) {
        add_compensated(hi, lo, share * dl);
    }
}

/// Absorbs the rows of `z` (n_B×d) into (`count`, `mean` + `lo`, `m`): the rows are
/// centred on their own mean in `centred` (n_B·d), their co-moment added
/// straight into `m`, and the means merged. `mean_b` and `correction` are d
/// elements of workspace each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn absorb(
    lanes: Lanes,
    z: &[f32],
    count: usize,
    (mean, lo): (&mut [f32], &mut [f32]),
    m: &mut [f32],
    centred: &mut [f32],
    mean_b: &mut [f32],
    correction: &mut [f32],
) {
    let d = mean.len();
    if d == 0 || z.len() < d {
        return;
    }
    let centred = &mut centred[..z.len()];
    centred.copy_from_slice(z);
    super::centring::centre(lanes, centred, d, mean_b, correction);
    covariance::accumulate_upper(lanes, centred, d, m);
    for ((dl, a), l) in mean_b.iter_mut().zip(mean.iter()).zip(lo.iter()) {
        *dl = (*dl - a) - l;
    }
    shift(lanes, count, (mean, lo), m, z.len() / d, mean_b);
}

#[cfg(test)]
// TwoSum is exact: these comparisons are meant to be exact.
#[allow(clippy::float_cmp)]
mod tests {
    use super::{absorb, merge_scalar, settle, shift};
    use crate::lanes::Lanes;

    /// The f64 mean of rows of one column.
    fn mean64(values: &[f32]) -> f64 {
        values.iter().map(|&v| f64::from(v)).sum::<f64>() / values.len() as f64
    }

    #[test]
    fn a_pair_settles_to_the_rounded_mean_and_keeps_the_rest() {
        let (mut hi, mut lo) = (1.0f32, 0.75f32);
        settle(&mut hi, &mut lo);
        assert_eq!((hi, lo), (1.75, 0.0));
        // 1 + 2⁻³⁰ is not an f32: hi keeps 1, lo the remainder. (2⁻³⁰ by a
        // division, which is exact, not `powi`, which Miri models as
        // inexact.)
        let tiny: f32 = 1.0 / 1_073_741_824.0;
        let (mut hi, mut lo) = (1.0f32, tiny);
        settle(&mut hi, &mut lo);
        assert_eq!((hi, lo), (1.0, tiny));
        // Already settled the other way round: the sum moves to hi.
        let (mut hi, mut lo) = (tiny, 1.0f32);
        settle(&mut hi, &mut lo);
        assert_eq!(f64::from(hi) + f64::from(lo), 1.0 + f64::from(tiny));
        assert_eq!(hi, 1.0);
    }

    #[test]
    fn a_mean_merged_row_by_row_stays_as_good_as_f64() {
        // 4,000 values at an offset of 1000 with a spread of 1: an f32 mean
        // updated once per row drifts by about √n·ε·|mean| ≈ 4e-3; the
        // compensated pair stays within a few ulps of the f64 mean.
        let values: [f32; 4000] = core::array::from_fn(|i| 1000.0 + libm::sinf(i as f32 * 0.37));
        let (mut mean, mut lo, mut m2) = (0.0f32, 0.0f32, 0.0f32);
        for (i, &v) in values.iter().enumerate() {
            merge_scalar(i, (&mut mean, &mut lo), &mut m2, 1, (v, 0.0), 0.0);
        }
        let got = f64::from(mean) + f64::from(lo);
        assert!((got - mean64(&values)).abs() < 1e-5, "{got} against {}", mean64(&values));
        // M₂ against the f64 sum of squared deviations, to f32 accuracy.
        let m = mean64(&values);
        let want: f64 = values.iter().map(|&v| (f64::from(v) - m).powi(2)).sum();
        assert!((f64::from(m2) - want).abs() < 1e-3 * want, "{m2} against {want}");
    }

    #[test]
    fn shards_with_compensated_means_merge_into_the_union() {
        // Two shards' means carried as hi + lo merge into the union's mean.
        let a: [f32; 300] = core::array::from_fn(|i| 5000.0 + (i % 7) as f32 * 0.01);
        let b: [f32; 500] = core::array::from_fn(|i| 5000.5 + (i % 5) as f32 * 0.01);
        let pair = |values: &[f32]| {
            let (mut mean, mut lo, mut m2) = (0.0f32, 0.0f32, 0.0f32);
            for (i, &v) in values.iter().enumerate() {
                merge_scalar(i, (&mut mean, &mut lo), &mut m2, 1, (v, 0.0), 0.0);
            }
            (mean, lo, m2)
        };
        let ((ma, la, m2a), (mb, lb, m2b)) = (pair(&a), pair(&b));
        let (mut mean, mut lo, mut m2) = (ma, la, m2a);
        merge_scalar(a.len(), (&mut mean, &mut lo), &mut m2, b.len(), (mb, lb), m2b);
        let all: [f32; 800] = core::array::from_fn(|i| if i < 300 { a[i] } else { b[i - 300] });
        let got = f64::from(mean) + f64::from(lo);
        assert!((got - mean64(&all)).abs() < 1e-5, "{got} against {}", mean64(&all));
        let m = mean64(&all);
        let want: f64 = all.iter().map(|&v| (f64::from(v) - m).powi(2)).sum();
        assert!((f64::from(m2) - want).abs() < 1e-3 * want, "{m2} against {want}");
    }

    #[test]
    fn rows_absorbed_in_batches_give_the_mean_and_co_moment_of_all() {
        // Two columns with large offsets, absorbed 3 rows at a time.
        let d = 2;
        let rows: [f32; 1200] = core::array::from_fn(|k| {
            let i = (k / 2) as f32;
            if k % 2 == 0 { 300.0 + libm::sinf(i) } else { -70.0 + libm::cosf(i * 1.3) }
        });
        let (mut mean, mut lo, mut m) = ([0.0f32; 2], [0.0f32; 2], [0.0f32; 4]);
        let (mut centred, mut mean_b, mut corr) = ([0.0f32; 6], [0.0f32; 2], [0.0f32; 2]);
        for (k, chunk) in rows.chunks(3 * d).enumerate() {
            absorb(Lanes::Wide, chunk, 3 * k, (&mut mean, &mut lo), &mut m, &mut centred, &mut mean_b, &mut corr);
        }
        // An empty batch changes nothing.
        let before = (mean, lo, m);
        absorb(Lanes::Wide, &[], 600, (&mut mean, &mut lo), &mut m, &mut centred, &mut mean_b, &mut corr);
        assert_eq!((mean, lo, m), before);
        let column = |j: usize| -> [f32; 600] { core::array::from_fn(|i| rows[i * d + j]) };
        let (c0, c1) = (column(0), column(1));
        for (j, c) in [&c0[..], &c1[..]].into_iter().enumerate() {
            let got = f64::from(mean[j]) + f64::from(lo[j]);
            assert!((got - mean64(c)).abs() < 1e-5, "column {j}: {got} against {}", mean64(c));
        }
        let (m0, m1) = (mean64(&c0), mean64(&c1));
        let cross: f64 = c0.iter().zip(&c1).map(|(a, b)| (f64::from(*a) - m0) * (f64::from(*b) - m1)).sum();
        let var0: f64 = c0.iter().map(|a| (f64::from(*a) - m0).powi(2)).sum();
        assert!((f64::from(m[1]) - cross).abs() < 1e-3 * var0, "{} against {cross}", m[1]);
        assert!((f64::from(m[0]) - var0).abs() < 1e-3 * var0, "{} against {var0}", m[0]);
        // A shift by another shard's mean of no rows changes nothing either.
        let delta = [1.0f32, 2.0];
        shift(Lanes::Wide, 600, (&mut mean, &mut lo), &mut m, 0, &delta);
        assert_eq!((mean, lo, m), before);
    }
}
