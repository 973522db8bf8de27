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

use super::covariance;
use crate::lanes::{self, Lanes};

/// Merges one scalar moment pair (n_B values of mean `mean_b` and
/// co-moment `m2_b`) into (`mean`, `m2`) over `count` values.
pub(crate) fn merge_scalar(count: usize, mean: &mut f32, m2: &mut f32, n_b: usize, mean_b: f32, m2_b: f32) {
    let n = count + n_b;
    if n == 0 {
        return;
    }
    let delta = mean_b - *mean;
    let share = n_b as f32 / n as f32;
    *mean += delta * share;
    *m2 += m2_b + delta * delta * count as f32 * share;
}

/// Merges another shard's mean and co-moment's cross term into (`count`,
/// `mean`, `m`): `delta` holds the other mean m_B of `n_b` rows on entry and
/// δ = m_B − m_A on return; m ← m_A + δ·n_B/n, M ← M + δδᵀ·n_A·n_B/n (upper
/// triangle). The caller adds M_B itself.
pub(crate) fn shift(lanes: Lanes, count: usize, mean: &mut [f32], m: &mut [f32], n_b: usize, delta: &mut [f32]) {
    let (d, n) = (mean.len(), count + n_b);
    if n == 0 {
        return;
    }
    for (dl, a) in delta.iter_mut().zip(mean.iter()) {
        *dl -= a;
    }
    let share = n_b as f32 / n as f32;
    let weight = count as f32 * share;
    for j in 0..d {
        let (dj, tail) = (delta[j], &delta[j..]);
        lanes::axpy(lanes, weight * dj, tail, &mut m[j * d + j..(j + 1) * d]);
    }
    lanes::axpy(lanes, share, delta, mean);
}

/// Absorbs the rows of `z` (n_B×d) into (`count`, `mean`, `m`): the rows are
/// centred on their own mean in `centred` (n_B·d), their co-moment added
/// straight into `m`, and the means merged. `mean_b` and `correction` are d
/// elements of workspace each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn absorb(
    lanes: Lanes,
    z: &[f32],
    count: usize,
    mean: &mut [f32],
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
    shift(lanes, count, mean, m, z.len() / d, mean_b);
}

