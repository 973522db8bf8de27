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
/// rounding left (Fast2Sum; |lo| ≤ |hi| holds for a compensation).
pub(crate) fn settle(hi: &mut f32, lo: &mut f32) {
    let s = *hi + *lo;
    *lo -= s - *hi;
    *hi = s;
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
