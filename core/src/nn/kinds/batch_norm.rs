//! Batch normalisation per channel j, over the n rows of a batch (and the T
//! positions of a C×T map, as `torch.nn.BatchNorm1d` normalises a 3-D input):
//! x̂ = (x − μⱼ)/√(σ²ⱼ + eps), y = γⱼ·x̂ + βⱼ,
//! with μ and σ² the batch mean and biased variance over the m = n·T values
//! of the channel in training, and the running statistics (exponential
//! averages, unbiased variance m/(m − 1)·σ², as PyTorch keeps them) at
//! inference.
//!
//! Backward through the batch statistics, with g = ∂ℓ/∂y·γ:
//! ∂ℓ/∂xᵢ = (1/√(σ² + eps))·(gᵢ − mean(g) − x̂ᵢ·mean(g ⊙ x̂)),
//! ∂ℓ/∂γ = Σᵢ ∂ℓ/∂yᵢ ⊙ x̂ᵢ, ∂ℓ/∂β = Σᵢ ∂ℓ/∂yᵢ.

use crate::lanes::{self, Lanes};
use crate::loss::{centring, moments};
use crate::nn::Shape;
use crate::nn::kind::{
    Backward, Dims, Field, Forward, Given, Init, Kind, KindSet, NormConfig, Output, StreamSums, settingless,
};

/// Batch normalisation: its settings (eps, momentum) are the network's
/// [`NormConfig`], shared by every BatchNorm layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BatchNorm;

settingless!(BatchNorm);

// The registry's interface: every kind answers the same calls, whether or
// not its answer depends on its settings.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
impl BatchNorm {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        Ok(input)
    }

    /// γ, one per channel.
    pub(crate) const fn weight_dims(self, input: Shape) -> Dims {
        Dims { dims: [input.channels(), 0, 0, 0], rank: 1 }
    }

    /// β, one per channel.
    pub(crate) const fn biases(self, input: Shape) -> usize {
        input.channels()
    }

    pub(crate) const fn fan_in(self, input: Shape) -> usize {
        input.len()
    }

    /// The running mean and variance per channel.
    pub(crate) const fn running(self, input: Shape) -> usize {
        input.channels().saturating_mul(2)
    }

    pub(crate) const fn scratch(self, _input: Shape) -> usize {
        0
    }
}

impl Kind for BatchNorm {
    const TAG: u8 = 2;
    const NAME: &'static str = "batchnorm";
    const FIELDS: &'static [Field] = &[];
    const OUTPUT: Output = Output::OwnNormalisingInput;
    const BATCH_STATISTICS: bool = true;
    const OPTIONAL_BIAS: bool = false;
    const REUSABLE: bool = true;
    const DECAYS: bool = false;
    const ALWAYS: bool = false;
    const INIT: Init = Init::Identity;
    const EXAMPLE: Self = Self;

    fn absorb_moments(self, x: &[f32], length: usize, count: usize, mean: (&mut [f32], &mut [f32]), m2: &mut [f32]) {
        absorb_moments(x, length, count, mean, m2);
    }

    fn settle_statistics(self, mean: (&mut [f32], &mut [f32]), m2: &mut [f32], values: f32, eps: f32) -> bool {
        settle_statistics(mean, m2, values, eps)
    }

    fn update_running(
        self,
        views: [(&[f32], &[f32]); 2],
        norm: NormConfig,
        count: usize,
        (mean, var): (&mut [f32], &mut [f32]),
        commit: bool,
    ) -> bool {
        update_running(views, norm, count, mean, var, commit)
    }

    /// Normalises with the running statistics if given (inference), else
    /// with the `given` whole-batch statistics (streaming), else with the
    /// batch's own; in training and streaming it keeps them for backward.
    /// (Two options, not one enum: with an enum LLVM no longer splits the
    /// training path out of the loop, and a training step on the Cortex-M4F
    /// costs 2 % more.) `STREAM` compiles the streaming statistics in: a
    /// firmware that never streams carries none of that code.
    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let at = f.at;
        let (c, t, len) = (at.input.channels(), at.input.length(), f.input_len());
        let (w, b, eps) = (f.w, f.b, f.eps);
        if let Some(running) = f.running {
            f.copy_input(at.dst);
            let (mean, var) = (&running[at.running..at.running + c], &running[at.running + c..at.running + 2 * c]);
            let y = &mut f.act[at.dst..at.dst + len];
            if t == 1 || !K::MAPS {
                normalise_running(y, w, b, eps, mean, var);
            } else {
                normalise_running_map(y, t, w, b, eps, mean, var);
            }
            return true;
        }
        f.copy_input(at.x_hat);
        let (before, from) = f.act.split_at_mut(at.stats);
        let x_hat = &mut before[at.x_hat..at.x_hat + len];
        let (stats, after) = from.split_at_mut(2 * c);
        let (mean, inv_std) = stats.split_at_mut(c);
        let y = &mut after[at.dst - at.stats - 2 * c..][..len];
        if let (true, Some(Given { stats, lo })) = (STREAM, f.given) {
            mean.copy_from_slice(&stats[at.running..at.running + c]);
            inv_std.copy_from_slice(&stats[at.running + c..at.running + 2 * c]);
            let lo = &lo[at.running..at.running + c];
            normalise_given(x_hat, t, w, b, (mean, lo), inv_std, y);
            return true;
        }
        let mut s = BatchStats { mean, inv_std };
        if t == 1 || !K::MAPS {
            forward_train(f.lanes, x_hat, w, b, eps, y, &mut s);
        } else {
            forward_train_map(x_hat, t, w, b, eps, y, &mut s);
        }
        // An overflowing sum of squares gives 1/√∞ = 0: refuse it here,
        // before running statistics or weights could take it in.
        s.mean.iter().all(|m| m.is_finite()) && s.inv_std.iter().all(|v| v.is_finite() && *v > 0.0)
    }

    /// Backward through the batch statistics; in a streamed stage, the
    /// target layer accumulates its micro-batch's share of the sums (which
    /// are also ∂ℓ/∂β and ∂ℓ/∂γ) and the layers above apply the whole
    /// batch's.
    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        let at = b.at;
        let (c, t) = (at.input.channels(), at.input.length());
        let x_hat = &b.act[at.x_hat..at.x_hat + b.input.len()];
        let inv_std = &b.act[at.stats + c..at.stats + 2 * c];
        let (sum_dy, sum_dy_xhat) = (&mut b.scratch.0[..c], &mut b.scratch.1[..c]);
        if let (true, Some(StreamSums { sums: whole, rows, target })) = (STREAM, b.stream) {
            let (s, sx) = whole[at.running..at.running + 2 * c].split_at_mut(c);
            if target {
                sum_dy.fill(0.0);
                sum_dy_xhat.fill(0.0);
                sums(x_hat, t, b.dy, sum_dy, sum_dy_xhat);
                lanes::add_assign(b.lanes, s, sum_dy);
                lanes::add_assign(b.lanes, sx, sum_dy_xhat);
                if !b.frozen {
                    lanes::add_assign(b.lanes, b.gw, sum_dy_xhat);
                    lanes::add_assign(b.lanes, b.gb, sum_dy);
                }
            } else {
                apply_sums(x_hat, t, b.w, inv_std, b.dy, s, sx, rows * t);
            }
            return;
        }
        let g = if b.trains { Some((b.gw, b.gb)) } else { None };
        if t == 1 || !K::MAPS {
            backward(b.lanes, x_hat, b.w, inv_std, b.dy, g, sum_dy, sum_dy_xhat);
        } else {
            backward_map(x_hat, t, b.w, inv_std, b.dy, g, sum_dy, sum_dy_xhat);
        }
    }
}

/// Per-feature statistics of one forward pass in training mode.
pub(crate) struct BatchStats<'s> {
    /// Batch means μ.
    pub(crate) mean: &'s mut [f32],
    /// 1/√(σ² + eps).
    pub(crate) inv_std: &'s mut [f32],
}

/// A streamed batch's statistics from its moments over `values` values a
/// channel (rows × positions): the mean settled (hi + lo), and M₂ turned
/// into 1/√(σ² + eps) with the biased variance σ² = M₂/values, as
/// training-mode BatchNorm normalises. False if one overflowed.
pub(crate) fn settle_statistics((mean, lo): (&mut [f32], &mut [f32]), m2: &mut [f32], values: f32, eps: f32) -> bool {
    for (hi, lo) in mean.iter_mut().zip(lo) {
        moments::settle(hi, lo);
    }
    for s in m2 {
        *s = 1.0 / libm::sqrtf(*s / values + eps);
        if !(s.is_finite() && *s > 0.0) {
            return false;
        }
    }
    true
}

/// Training forward: `x_hat` holds the n×f input and is overwritten with x̂;
/// y = γ·x̂ + β goes into `y`, the statistics into `stats`; n ≥ 1.
pub(crate) fn forward_train(
    lanes: Lanes,
    x_hat: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    stats: &mut BatchStats<'_>,
) {
    let f = gamma.len();
    if f == 0 {
        return;
    }
    let n = x_hat.len() / f;
    // inv_std holds the sums of squares, then 1/σ.
    centring::centre(lanes, x_hat, f, stats.mean, stats.inv_std);
    for s in stats.inv_std.iter_mut() {
        *s = 1.0 / libm::sqrtf(*s / n as f32 + eps);
    }
    for (xr, yr) in x_hat.chunks_exact_mut(f).zip(y.chunks_exact_mut(f)) {
        let affine = gamma.iter().zip(beta);
        for (((x, y), &is), (&g, &b)) in xr.iter_mut().zip(yr.iter_mut()).zip(stats.inv_std.iter()).zip(affine) {
            *x *= is;
            *y = g * *x + b;
        }
    }
}

/// Inference in place: x ← γ·(x − running mean)/√(running var + eps) + β.
pub(crate) fn normalise_running(
    x: &mut [f32],
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    running_mean: &[f32],
    running_var: &[f32],
) {
    let f = gamma.len();
    if f == 0 {
        return;
    }
    for row in x.chunks_exact_mut(f) {
        for j in 0..f {
            let inv_std = 1.0 / libm::sqrtf(running_var[j] + eps);
            row[j] = gamma[j] * (row[j] - running_mean[j]) * inv_std + beta[j];
        }
    }
}

/// Folds both views' batch statistics (over `count` values per channel),
/// view a then view b as the official code's two forward calls do, into the
/// running ones: r ← (1 − m)·r + m·batch, with the unbiased variance
/// count/(count − 1)·σ². Computes every new value first and writes them only
/// if `commit`; returns whether all are finite with non-negative variances,
/// so a caller can refuse a batch whose statistics overflowed before it
/// changes anything.
// Out of line: the registry's dispatch reaches it from every pass that
// keeps statistics, and one copy is smaller.
#[inline(never)]
pub(crate) fn update_running(
    views: [(&[f32], &[f32]); 2],
    norm: NormConfig,
    count: usize,
    running_mean: &mut [f32],
    running_var: &mut [f32],
    commit: bool,
) -> bool {
    let unbias = if count > 1 { count as f32 / (count - 1) as f32 } else { 1.0 };
    let momentum = norm.momentum;
    let mut sound = true;
    for (j, (rm, rv)) in running_mean.iter_mut().zip(running_var.iter_mut()).enumerate() {
        let (mut m, mut v) = (*rm, *rv);
        for (mean, inv_std) in views {
            let (Some(&mean), Some(&inv_std)) = (mean.get(j), inv_std.get(j)) else {
                return false;
            };
            let var = (1.0 / (inv_std * inv_std) - norm.eps).max(0.0);
            m += momentum * (mean - m);
            v += momentum * (unbias * var - v);
        }
        sound &= m.is_finite() && v.is_finite() && v >= 0.0;
        if commit {
            (*rm, *rv) = (m, v);
        }
    }
    sound
}

/// Backward: given ∂ℓ/∂y in `dy` (n×f), accumulates ∂ℓ/∂γ and ∂ℓ/∂β (when
/// `grads` is given) and overwrites `dy` with ∂ℓ/∂x. `sum_dy` and
/// `sum_dy_xhat` are f elements of workspace each.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    lanes: Lanes,
    x_hat: &[f32],
    gamma: &[f32],
    inv_std: &[f32],
    dy: &mut [f32],
    grads: Option<(&mut [f32], &mut [f32])>,
    sum_dy: &mut [f32],
    sum_dy_xhat: &mut [f32],
) {
    let f = gamma.len();
    if f == 0 {
        return;
    }
    let n = x_hat.len() / f;
    sum_dy.fill(0.0);
    sum_dy_xhat.fill(0.0);
    for (g, xh) in dy.chunks_exact(f).zip(x_hat.chunks_exact(f)) {
        lanes::add_assign(lanes, sum_dy, g);
        lanes::mul_acc(lanes, sum_dy_xhat, g, xh);
    }
    if let Some((g_gamma, g_beta)) = grads {
        lanes::add_assign(lanes, g_gamma, sum_dy_xhat);
        lanes::add_assign(lanes, g_beta, sum_dy);
    }
    let inv_n = 1.0 / n as f32;
    for (g, xh) in dy.chunks_exact_mut(f).zip(x_hat.chunks_exact(f)) {
        // Zipped, not indexed: no bounds check stays in the loop.
        let scale = gamma.iter().zip(inv_std);
        let sums = sum_dy.iter().zip(sum_dy_xhat.iter());
        for (((gj, &x), (&gm, &is)), (&sd, &sdx)) in g.iter_mut().zip(xh).zip(scale).zip(sums) {
            *gj = gm * is * (*gj - inv_n * sd - x * inv_n * sdx);
        }
    }
}

/// Values of one channel across the batch: for each row, the T positions
/// of channel `c` in a channel-major C×T map.
fn channel(x: &[f32], channels: usize, length: usize, c: usize) -> impl Iterator<Item = &[f32]> {
    x.chunks_exact(channels * length).map(move |row| &row[c * length..(c + 1) * length])
}

fn channel_mut(x: &mut [f32], channels: usize, length: usize, c: usize) -> impl Iterator<Item = &mut [f32]> {
    x.chunks_exact_mut(channels * length).map(move |row| &mut row[c * length..(c + 1) * length])
}

/// [`forward_train`] for C×T maps (T > 1): statistics per channel over the
/// n·T values, centred by the corrected two-pass algorithm.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_train_map(
    x_hat: &mut [f32],
    length: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    y: &mut [f32],
    stats: &mut BatchStats<'_>,
) {
    let channels = gamma.len();
    if channels == 0 || length == 0 {
        return;
    }
    // n·T values per channel.
    let count = (x_hat.len() / channels) as f32;
    for c in 0..channels {
        // The corrected two-pass moments: around a first mean m₀,
        // mean = m₀ + Σ(v − m₀)/m and σ² = Σ(v − m₀)²/m − (Σ(v − m₀)/m)².
        let m0 = paired_sums(x_hat, x_hat, channels, length, c, |v, _| (v, 0.0)).0 / count;
        let (d, d2) = paired_sums(x_hat, x_hat, channels, length, c, |v, _| (v - m0, (v - m0) * (v - m0)));
        let mean = m0 + d / count;
        let var = (d2 / count - (d / count) * (d / count)).max(0.0);
        let inv_std = 1.0 / libm::sqrtf(var + eps);
        // x̂ and y in one pass.
        for (ys, xs) in channel_mut(y, channels, length, c).zip(channel_mut(x_hat, channels, length, c)) {
            for (yv, xv) in ys.iter_mut().zip(xs) {
                *xv = (*xv - mean) * inv_std;
                *yv = gamma[c] * *xv + beta[c];
            }
        }
        stats.mean[c] = mean;
        stats.inv_std[c] = inv_std;
    }
}

/// [`normalise_running`] for C×T maps.
pub(crate) fn normalise_running_map(
    x: &mut [f32],
    length: usize,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    running_mean: &[f32],
    running_var: &[f32],
) {
    let channels = gamma.len();
    if channels == 0 || length == 0 {
        return;
    }
    for row in x.chunks_exact_mut(channels * length) {
        for (c, xs) in row.chunks_exact_mut(length).enumerate() {
            let inv_std = 1.0 / libm::sqrtf(running_var[c] + eps);
            for v in xs {
                *v = gamma[c] * (*v - running_mean[c]) * inv_std + beta[c];
            }
        }
    }
}

/// [`backward`] for C×T maps.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward_map(
    x_hat: &[f32],
    length: usize,
    gamma: &[f32],
    inv_std: &[f32],
    dy: &mut [f32],
    grads: Option<(&mut [f32], &mut [f32])>,
    sum_dy: &mut [f32],
    sum_dy_xhat: &mut [f32],
) {
    let channels = gamma.len();
    if channels == 0 || length == 0 {
        return;
    }
    let inv_count = channels as f32 / x_hat.len() as f32;
    // Channel by channel, the sums and then their use: one pass of each over
    // the channel's values while they are fresh.
    for c in 0..channels {
        let (s, sx) = channel_sums(x_hat, length, dy, channels, c);
        (sum_dy[c], sum_dy_xhat[c]) = (s, sx);
        apply_channel(x_hat, length, dy, channels, c, gamma[c] * inv_std[c], (s, sx), inv_count);
    }
    if let Some((g_gamma, g_beta)) = grads {
        lanes::add_assign(Lanes::Scalar, g_gamma, sum_dy_xhat);
        lanes::add_assign(Lanes::Scalar, g_beta, sum_dy);
    }
}

/// Σ∂ℓ/∂y and Σ∂ℓ/∂y⊙x̂ over channel `c`'s values.
fn channel_sums(x_hat: &[f32], length: usize, dy: &[f32], channels: usize, c: usize) -> (f32, f32) {
    paired_sums(dy, x_hat, channels, length, c, |g, x| (g, g * x))
}

/// (Σ s, Σ t) over channel `c` of every row of `a` and `b` (C×T maps), where
/// (s, t) = f(a value, the b value at the same place): in eight
/// interleaved partial sums, which the compiler keeps in vector registers
/// (one running sum is a chain of dependent adds, a value at a time).
fn paired_sums(
    a: &[f32],
    b: &[f32],
    channels: usize,
    length: usize,
    c: usize,
    f: impl Fn(f32, f32) -> (f32, f32),
) -> (f32, f32) {
    // One sum where there are no f32 vectors (the Cortex-M4F): eight
    // would be eight registers and twice the code, for no speed.
    const L: usize = if <crate::lanes::Portable as crate::lanes::Simd>::VECTORS { 8 } else { 1 };
    let (mut s, mut t) = ([0.0f32; L], [0.0f32; L]);
    for (xa, xb) in channel(a, channels, length, c).zip(channel(b, channels, length, c)) {
        let ((ca, ra), (cb, rb)) = (xa.as_chunks::<L>(), xb.as_chunks::<L>());
        for (u, v) in ca.iter().zip(cb) {
            for l in 0..L {
                let (p, q) = f(u[l], v[l]);
                s[l] += p;
                t[l] += q;
            }
        }
        for (l, (&u, &v)) in ra.iter().zip(rb).enumerate() {
            let (p, q) = f(u, v);
            s[l] += p;
            t[l] += q;
        }
    }
    (s.iter().sum(), t.iter().sum())
}

/// dy ← k·(dy − s/m − x̂·sx/m) over channel `c`'s values, 1/m = `inv_count`.
#[allow(clippy::too_many_arguments)]
fn apply_channel(
    x_hat: &[f32],
    length: usize,
    dy: &mut [f32],
    channels: usize,
    c: usize,
    k: f32,
    (s, sx): (f32, f32),
    inv_count: f32,
) {
    for (gs, xs) in channel_mut(dy, channels, length, c).zip(channel(x_hat, channels, length, c)) {
        for (g, x) in gs.iter_mut().zip(xs) {
            *g = k * (*g - inv_count * s - x * inv_count * sx);
        }
    }
}

/// Adds this batch's Σ∂ℓ/∂y and Σ∂ℓ/∂y⊙x̂ per channel to `sum_dy` and
/// `sum_dy_xhat` (features or C×T maps, `length` = T).
pub(crate) fn sums(x_hat: &[f32], length: usize, dy: &[f32], sum_dy: &mut [f32], sum_dy_xhat: &mut [f32]) {
    let channels = sum_dy.len();
    if channels == 0 || length == 0 {
        return;
    }
    for c in 0..channels {
        let (s, sx) = channel_sums(x_hat, length, dy, channels, c);
        sum_dy[c] += s;
        sum_dy_xhat[c] += sx;
    }
}

/// dy ← γ/√(σ² + eps)·(dy − Σdy/m − x̂·Σ(dy⊙x̂)/m) with the sums over the
/// `count` = m values per channel of the whole batch, which may be larger
/// than this one (a micro-batch of a streamed batch).
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_sums(
    x_hat: &[f32],
    length: usize,
    gamma: &[f32],
    inv_std: &[f32],
    dy: &mut [f32],
    sum_dy: &[f32],
    sum_dy_xhat: &[f32],
    count: usize,
) {
    let channels = gamma.len();
    if channels == 0 || length == 0 || count == 0 {
        return;
    }
    let inv_count = 1.0 / count as f32;
    for c in 0..channels {
        let k = gamma[c] * inv_std[c];
        apply_channel(x_hat, length, dy, channels, c, k, (sum_dy[c], sum_dy_xhat[c]), inv_count);
    }
}

/// `x_hat` holds the input and becomes x̂ = ((x − mean) − lo)·inv_std, and
/// y = γ·x̂ + β, with statistics given rather than the batch's own (the
/// mean as hi + lo, subtracted in two steps as the corrected two-pass
/// centring does).
pub(crate) fn normalise_given(
    x_hat: &mut [f32],
    length: usize,
    gamma: &[f32],
    beta: &[f32],
    (mean, lo): (&[f32], &[f32]),
    inv_std: &[f32],
    y: &mut [f32],
) {
    let channels = gamma.len();
    if channels == 0 || length == 0 {
        return;
    }
    let rows = x_hat.chunks_exact_mut(channels * length).zip(y.chunks_exact_mut(channels * length));
    for (x_row, y_row) in rows {
        for (c, (xs, ys)) in x_row.chunks_exact_mut(length).zip(y_row.chunks_exact_mut(length)).enumerate() {
            for (x, y) in xs.iter_mut().zip(ys) {
                *x = ((*x - mean[c]) - lo[c]) * inv_std[c];
                *y = gamma[c] * *x + beta[c];
            }
        }
    }
}

/// Merges the values of `x` (rows of C×T, `length` = T) into per-channel
/// moments over `count` earlier values: `mean` (+ its compensation `lo`)
/// and `m2` = Σ(v − mean)².
/// The batch's own mean and co-moment come first (corrected two-pass), then
/// Chan's update: δ = m_B − m_A, m ← m_A + δ·n_B/n, M₂ ← M₂,A + M₂,B + δ²·n_A·n_B/n.
pub(crate) fn absorb_moments(
    x: &[f32],
    length: usize,
    count: usize,
    (mean, lo): (&mut [f32], &mut [f32]),
    m2: &mut [f32],
) {
    let channels = mean.len();
    if channels == 0 || length == 0 {
        return;
    }
    let n_b = x.len() / channels;
    if n_b == 0 {
        return;
    }
    let values = |c: usize| channel(x, channels, length, c).flatten();
    for c in 0..channels {
        let mut m_b = values(c).sum::<f32>() / n_b as f32;
        m_b += values(c).map(|v| v - m_b).sum::<f32>() / n_b as f32;
        let m2_b = values(c).map(|v| (v - m_b) * (v - m_b)).sum::<f32>();
        crate::loss::moments::merge_scalar(count, (&mut mean[c], &mut lo[c]), &mut m2[c], n_b, (m_b, 0.0), m2_b);
    }
}
