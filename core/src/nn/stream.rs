//! Streaming: a batch larger than the workspace, in micro-batches, with
//! mergeable statistics ([`Stream`]).

// Row counts live in the state as f32 so that a state is one flat,
// exchangeable buffer; they are exact below 2²⁴, which `absorb` enforces.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

pub(super) mod shards;
mod state;

use super::kind::KindSet;
// The state's header slots, sized with the rest of the network's buffers.
use super::kind::Given;
use super::net::Place;
use super::siamese::{Pass, Regions, Siamese, Span};
use super::sizes::{STREAM_HEAD as HEAD, Sizes};
use crate::error::Error;
use crate::lanes;
use crate::loss::{LossTerms, moments, streamed};
use state::{INVARIANCE, MAX_ROWS, ROWS, STAGE, TERMS, TOTAL, ViewState, count};

/// What a stage computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    /// Batch statistics of the BatchNorm layer at this place.
    Norm(Place),
    /// Moments of the embeddings and the invariance sum.
    Loss,
    /// Gradient sums of the BatchNorm layer at this place, and weight
    /// gradients down to it.
    Sums(Place),
    /// Weight gradients down to the input.
    Last,
}

/// Large effective batches in small RAM: the exact VICReg gradients of a
/// batch of n rows, computed from micro-batches of at most the
/// [`Siamese`]'s capacity, in a few passes over the data.
///
/// Each row's gradient needs only its own row and statistics of the whole
/// batch (the means, the co-moments, BatchNorm's batch statistics and, going
/// back, BatchNorm's sums of gradients), so the batch is streamed once per
/// statistic, in *stages*. With k BatchNorm layers b₁ < … < b_k there are
/// 2k + 2 of them, because each statistic depends on the ones before it:
///
/// | stage | recomputes | accumulates |
/// |---|---|---|
/// | 0 … k−1 | forward up to b_{s+1}, with b₁…b_s on the whole batch's statistics | b_{s+1}'s input mean and co-moment per channel |
/// | k | forward to z | per view: mean and co-moment of z; Σ‖z − z′‖² |
/// | k+1 … 2k | forward, ∂ℓ/∂z, backward down to b_{2k+1−s} (top first) | its Σ∂ℓ/∂y and Σ∂ℓ/∂y⊙x̂; the weight gradients between it and the BatchNorm above |
/// | 2k+1 | forward, ∂ℓ/∂z, backward to the input | the weight gradients below b₁ |
///
/// Moments are merged by Chan's update (see `loss::moments`), never from raw
/// sums of squares. Memory is the capacity's workspace plus
/// [`Stream::state_len`]: it grows with d² and the micro-batch, not with n.
/// The work is (2k + 2) forward passes and k + 1 backward passes per batch.
///
/// A stage's statistics are mergeable: shards (threads, devices) stream
/// their own rows, [`encode`](Stream::encode) their state, and
/// [`merge`](Stream::merge) the others' before [`finish`](Stream::finish);
/// the weight gradients of shards add.
///
/// ```
/// use vicreg::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese, Stream};
/// use vicreg::Pcg32;
///
/// let (encoder, expander) = ([Layer::linear(8), Layer::ReLU, Layer::linear(3)], [Layer::linear(6), Layer::BatchNorm]);
/// let net = Net::new(Shape::Flat(4), &encoder, &expander);
/// let mut places = vec![Place::EMPTY; net.depth()];
/// // Micro-batches of 4 rows.
/// let siamese = Siamese::<AllKinds>::new(&net, 4, &mut places)?;
/// let sizes = siamese.layout().sizes;
/// let (mut params, mut grads) = (vec![0.0; sizes.parameters], vec![0.0; sizes.parameters]);
/// let mut running = vec![0.0; sizes.running];
/// siamese.init(&mut params, &mut running, &mut Pcg32::new(1))?;
/// let mut state = vec![0.0; sizes.stream_state()];
/// let mut stream = Stream::new(&siamese, &mut state)?;
/// let mut workspace = vec![0.0; sizes.workspace];
/// let (mut x_a, mut x_b) = (vec![0.0; 4 * 4], vec![0.0; 4 * 4]);
/// // A batch of 10 rows, regenerated from its row index at every stage.
/// let sample = |row: usize, k: usize| ((row * 4 + k) as f32 * 0.7).sin();
/// let inputs = (&mut x_a[..], &mut x_b[..]);
/// let terms = stream.gradients(&Pass::default(), &params, &mut grads, &mut workspace, inputs, 10, |first, x_a, x_b| {
///     for (i, (a, b)) in x_a.iter_mut().zip(x_b.iter_mut()).enumerate() {
///         *a = sample(first + i / 4, i % 4);
///         *b = 1.1 * *a;
///     }
/// })?;
/// assert!(terms.loss > 0.0 && grads.iter().any(|g| *g != 0.0));
/// # Ok::<(), vicreg::Error>(())
/// ```
///
/// The state is [`Stream::state_len`] values (`Sizes::stream_state`).
#[derive(Debug)]
pub struct Stream<'a, 'n, K: KindSet> {
    siamese: &'a Siamese<'n, K>,
    state: &'a mut [f32],
}

impl<'a, 'n, K: KindSet> Stream<'a, 'n, K> {
    /// Values of a stream's state for a network of these sizes (the same
    /// as [`Sizes::stream_state`]).
    #[must_use]
    pub const fn state_len(sizes: &Sizes) -> usize {
        sizes.stream_state()
    }

    /// A stream over `state`, at stage 0 with nothing absorbed.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `state` is not [`state_len`](Self::state_len) long.
    pub fn new(siamese: &'a Siamese<'n, K>, state: &'a mut [f32]) -> Result<Self, Error> {
        if state.len() != Self::state_len(&siamese.layout().sizes) {
            return Err(Error::ShapeMismatch);
        }
        state.fill(0.0);
        Ok(Self { siamese, state })
    }

    /// A stream over a state written earlier by a stream of the same
    /// network and capacity, as it was left (to fold a finished batch's
    /// statistics into the running ones, or to go on absorbing).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `state` is not [`state_len`](Self::state_len)
    /// long, its stage is not one of this network's, or its row counts are
    /// not whole numbers from 0 to 2²⁴.
    pub fn resume(siamese: &'a Siamese<'n, K>, state: &'a mut [f32]) -> Result<Self, Error> {
        if state.len() != Self::state_len(&siamese.layout().sizes) {
            return Err(Error::ShapeMismatch);
        }
        let whole = [STAGE, ROWS, TOTAL].iter().all(|&slot| count(state[slot]).is_some());
        let stream = Self { siamese, state };
        if !whole || stream.kind(stream.stage()).is_none() {
            return Err(Error::ShapeMismatch);
        }
        Ok(stream)
    }

    /// The stages a batch takes: 2k + 2 for k BatchNorm layers.
    #[must_use]
    pub fn stages(&self) -> usize {
        self.siamese.net().stream_stages()
    }

    /// The current stage.
    #[must_use]
    pub fn stage(&self) -> usize {
        count(self.state[STAGE]).unwrap_or(usize::MAX)
    }

    /// Rows absorbed in the current stage (on this shard, and merged).
    #[must_use]
    pub fn rows(&self) -> usize {
        count(self.state[ROWS]).unwrap_or(0)
    }

    fn norm_layers(&self) -> impl Iterator<Item = Place> + '_ {
        (0..self.siamese.net().depth()).filter_map(|i| self.siamese.place(i)).filter(|p| p.layer.normalises_in::<K>())
    }

    fn kind(&self, stage: usize) -> Option<Stage> {
        let k = self.norm_layers().count();
        match stage {
            s if s < k => self.norm_layers().nth(s).map(Stage::Norm),
            s if s == k => Some(Stage::Loss),
            s if s < 2 * k + 1 => self.norm_layers().nth(2 * k - s).map(Stage::Sums),
            s if s == 2 * k + 1 => Some(Stage::Last),
            _ => None,
        }
    }

    /// The layer above `p` that a backward stage stops its weight gradients
    /// at: the next BatchNorm layer up, or the depth.
    fn next_norm_above(&self, index: usize) -> usize {
        self.norm_layers().map(|p| p.index).find(|&i| i > index).unwrap_or(self.siamese.net().depth())
    }

    fn split(&mut self) -> (&mut [f32], [ViewState<'_>; 2]) {
        let s = &self.siamese.layout().sizes;
        let (r, d) = (s.running, s.embed);
        let (head, rest) = self.state.split_at_mut(HEAD);
        let (a, b) = rest.split_at_mut(rest.len() / 2);
        (head, [ViewState::cut(a, r, d), ViewState::cut(b, r, d)])
    }

    /// Starts `stage` (0 to [`stages`](Self::stages) − 1): clears what it
    /// accumulates. Statistics finished by earlier stages are kept. A batch
    /// takes the stages in order ([`finish`](Self::finish) moves to the
    /// next): each needs the statistics of those before it, and a stage
    /// begun out of order can merge encodings but not absorb rows it has
    /// no statistics for (a backward stage before the loss stage) nor
    /// finish.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] for a stage past the last.
    pub fn begin(&mut self, stage: usize) -> Result<(), Error> {
        let kind = self.kind(stage).ok_or(Error::ShapeMismatch)?;
        let (head, views) = self.split();
        head[ROWS] = 0.0;
        head[STAGE] = stage as f32;
        for v in views {
            match kind {
                Stage::Norm(p) => {
                    let range = p.at.running..p.at.running + 2 * p.at.input.channels();
                    v.norms[range.clone()].fill(0.0);
                    v.norm_lo[range].fill(0.0);
                }
                Stage::Loss => {
                    head[INVARIANCE] = 0.0;
                    v.mean.fill(0.0);
                    v.lo.fill(0.0);
                    v.comoment.fill(0.0);
                }
                Stage::Sums(p) => v.sums[p.at.running..p.at.running + 2 * p.at.input.channels()].fill(0.0),
                Stage::Last => {}
            }
        }
        Ok(())
    }

    /// Absorbs one micro-batch (1 to capacity rows of each view, row i of
    /// both from the same sample) into the current stage. Backward stages
    /// add this micro-batch's share of ∂ℓ/∂θ to `grads` (zero it before the
    /// first backward stage, stage k + 1).
    ///
    /// The rows of every stage must be the same rows, in any order of
    /// micro-batches: regenerate augmented views from a stored seed.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] for buffers of the wrong length,
    /// [`Error::TooManyRows`], [`Error::NonFiniteInput`],
    /// [`Error::InvalidConfig`], [`Error::NonFiniteResult`] if an
    /// activation overflows.
    #[allow(clippy::too_many_arguments)]
    pub fn absorb(
        &mut self,
        pass: &Pass,
        params: &[f32],
        grads: &mut [f32],
        workspace: &mut [f32],
        x_a: &[f32],
        x_b: &[f32],
    ) -> Result<(), Error> {
        let siamese = self.siamese;
        siamese.check_lengths(params.len(), workspace.len())?;
        if grads.len() != params.len() || x_a.len() != x_b.len() {
            return Err(Error::ShapeMismatch);
        }
        let rows = siamese.micro_rows(x_a)?;
        siamese.micro_rows(x_b)?;
        pass.validate()?;
        let kind = self.kind(self.stage()).ok_or(Error::ShapeMismatch)?;
        let upper = self.next_norm_above(match kind {
            Stage::Sums(p) => p.index,
            _ => 0,
        });
        let lowest = self.norm_layers().next().map_or(siamese.net().depth(), |p| p.index);
        let (lanes, norm, depth) = (pass.options.lanes, pass.norm, siamese.net().depth());
        let layout = *siamese.layout();
        let d = layout.sizes.embed;
        let (head, mut views) = self.split();
        let (Some(before), Some(total)) = (count(head[ROWS]), count(head[TOTAL])) else {
            return Err(Error::ShapeMismatch);
        };
        if before + rows > MAX_ROWS {
            return Err(Error::TooManyRows { n: before + rows, capacity: MAX_ROWS });
        }
        // A backward stage needs the loss stage's statistics over its rows.
        if matches!(kind, Stage::Sums(_) | Stage::Last) && total < 2 {
            return Err(Error::ShapeMismatch);
        }
        let mut r = siamese.regions(workspace);
        let until = match kind {
            Stage::Norm(p) => p.index,
            _ => depth,
        };
        let mut sound = true;
        for ((act, x), v) in r.views.iter_mut().zip([x_a, x_b]).zip(&views) {
            sound &= siamese.forward::<true>(
                lanes,
                norm,
                (None, Some(Given { stats: &*v.norms, lo: &*v.norm_lo })),
                params,
                x,
                rows,
                (&mut **act, &mut *r.sums),
                (0, until),
            );
        }
        if !sound {
            return Err(Error::NonFiniteResult);
        }
        match kind {
            Stage::Norm(p) => {
                let (c, t, len) = (p.at.input.channels(), p.at.input.length(), rows * p.at.input.len());
                for ((act, x), v) in r.views.iter().zip([x_a, x_b]).zip(views.iter_mut()) {
                    let input = match p.at.src {
                        Some(src) => &act[src..src + len],
                        None => &x[..len],
                    };
                    let (mean, m2) = v.norms[p.at.running..p.at.running + 2 * c].split_at_mut(c);
                    let lo = &mut v.norm_lo[p.at.running..p.at.running + c];
                    let values = before.checked_mul(t).ok_or(Error::TooManyRows { n: before, capacity: MAX_ROWS })?;
                    p.layer.absorb_moments(input, t, values, (mean, lo), m2);
                }
            }
            Stage::Loss => {
                let z = r.views.each_ref().map(|act| &act[layout.embed..layout.embed + rows * d]);
                head[INVARIANCE] += lanes::sum_sq_diff(lanes, z[0], z[1]);
                let (centred, rest) = r.loss.split_at_mut(rows * d);
                let (mean_b, delta) = rest.split_at_mut(d);
                for (z, v) in z.into_iter().zip(views) {
                    let means = (&mut *v.mean, &mut *v.lo);
                    moments::absorb(lanes, z, before, means, v.comoment, centred, mean_b, &mut delta[..d]);
                }
            }
            Stage::Sums(_) | Stage::Last => {
                let span = match kind {
                    Stage::Sums(p) => (p.index, p.index + 1, upper),
                    _ => (0, 0, lowest),
                };
                Self::backward_stage(siamese, pass, params, grads, &mut r, views, (x_a, x_b, rows), total, span);
            }
        }
        head[ROWS] = (before + rows) as f32;
        Ok(())
    }

    /// A backward stage's share of one micro-batch: ∂ℓ/∂z from the whole
    /// batch's statistics, then backward from the top down to layer `stop`
    /// of `(stop, grads from, grads until)`.
    #[allow(clippy::too_many_arguments)]
    fn backward_stage(
        siamese: &Siamese<'n, K>,
        pass: &Pass,
        params: &[f32],
        grads: &mut [f32],
        r: &mut Regions<'_>,
        views: [ViewState<'_>; 2],
        (x_a, x_b, rows): (&[f32], &[f32], usize),
        total: usize,
        (stop, grads_from, grads_until): (usize, usize, usize),
    ) {
        let (lanes, layout) = (pass.options.lanes, *siamese.layout());
        let d = layout.sizes.embed;
        let [va, vb] = &mut r.views;
        let (acts_a, dz_a) = va.split_at_mut(layout.dz);
        let (acts_b, dz_b) = vb.split_at_mut(layout.dz);
        let z = [&acts_a[layout.embed..][..rows * d], &acts_b[layout.embed..][..rows * d]];
        let (dz_a, dz_b) = (&mut dz_a[..rows * d], &mut dz_b[..rows * d]);
        streamed::invariance_gradient(lanes, &pass.loss, z, d, total, [&mut *dz_a, &mut *dz_b]);
        let centred = &mut r.loss[..rows * d];
        let mut rest = Regions {
            views: [&mut [], &mut []],
            ping: &mut *r.ping,
            pong: &mut *r.pong,
            sums: &mut *r.sums,
            loss: &mut [],
        };
        for (((z, dz), (acts, x)), v) in
            z.into_iter().zip([&mut *dz_a, &mut *dz_b]).zip([(&*acts_a, x_a), (&*acts_b, x_b)]).zip(views)
        {
            streamed::view_gradient(lanes, &pass.loss, z, (v.mean, v.lo), v.comoment, v.weights, total, centred, dz);
            let span = Span { stop, grads: (grads_from, grads_until), global: Some((v.sums, total)) };
            siamese.backward::<true>(lanes, pass.frozen, params, grads, x, rows, acts, dz, &mut rest, span);
        }
    }

    /// Ends the current stage once every row (of every shard) is absorbed:
    /// turns its sums into statistics, and moves to the next stage. After
    /// the last stage returns the batch's loss terms; `grads` then holds
    /// ∂ℓ/∂θ (summed over shards).
    ///
    /// # Errors
    ///
    /// [`Error::TooFewRows`] for fewer than 2 rows, [`Error::ShapeMismatch`]
    /// if a stage saw other rows than the first (BatchNorm stages included),
    /// [`Error::InvalidConfig`], [`Error::NonFiniteResult`] if a statistic
    /// overflowed.
    pub fn finish(&mut self, pass: &Pass) -> Result<Option<LossTerms>, Error> {
        pass.validate()?;
        let stage = self.stage();
        let kind = self.kind(stage).ok_or(Error::ShapeMismatch)?;
        let lanes = pass.options.lanes;
        let d = self.siamese.layout().sizes.embed;
        let last = stage + 1 == self.stages();
        let (head, views) = self.split();
        let (Some(n), Some(total)) = (count(head[ROWS]), count(head[TOTAL])) else {
            return Err(Error::ShapeMismatch);
        };
        if n < 2 {
            return Err(Error::TooFewRows { n });
        }
        // Every stage must see the same rows: the first stage records its
        // count in TOTAL, and every later one is held to it.
        if stage > 0 && n != total {
            return Err(Error::ShapeMismatch);
        }
        head[TOTAL] = n as f32;
        match kind {
            Stage::Norm(p) => {
                let (c, values) = (p.at.input.channels(), n as f32 * p.at.input.length() as f32);
                for v in views {
                    let (mean, m2) = v.norms[p.at.running..p.at.running + 2 * c].split_at_mut(c);
                    let lo = &mut v.norm_lo[p.at.running..p.at.running + c];
                    if !p.layer.settle_statistics((mean, lo), m2, values, pass.norm.eps) {
                        return Err(Error::NonFiniteResult);
                    }
                }
            }
            Stage::Loss => {
                let view_terms = views.map(|v| {
                    for (hi, lo) in v.mean.iter_mut().zip(v.lo.iter_mut()) {
                        moments::settle(hi, lo);
                    }
                    streamed::view_terms(lanes, &pass.loss, v.comoment, d, n, v.weights)
                });
                let t = streamed::terms(&pass.loss, head[INVARIANCE], n, d, view_terms);
                if !t.loss.is_finite() {
                    return Err(Error::NonFiniteResult);
                }
                head[TERMS..TERMS + 4].copy_from_slice(&[t.loss, t.invariance, t.variance, t.covariance]);
            }
            Stage::Sums(_) | Stage::Last => {}
        }
        head[STAGE] = if last { 0.0 } else { (stage + 1) as f32 };
        head[ROWS] = 0.0;
        if last {
            let t = &head[TERMS..TERMS + 4];
            return Ok(Some(LossTerms { loss: t[0], invariance: t[1], variance: t[2], covariance: t[3] }));
        }
        let next = self.stage();
        self.begin(next)?;
        Ok(None)
    }

    /// The whole streamed step on one shard: every stage over n rows, in
    /// micro-batches of the capacity (the last one shorter), `fill(first,
    /// x_a, x_b)` writing rows `first..` of both views into `inputs` (two
    /// buffers of at least capacity × input values). Returns the loss terms,
    /// with ∂ℓ/∂θ written into `grads`.
    ///
    /// # Errors
    ///
    /// As [`absorb`](Self::absorb) and [`finish`](Self::finish),
    /// [`Error::ShapeMismatch`] for input buffers shorter than a
    /// micro-batch, and [`Error::NonFiniteResult`] if a gradient overflows.
    #[allow(clippy::too_many_arguments)]
    pub fn gradients<F>(
        &mut self,
        pass: &Pass,
        params: &[f32],
        grads: &mut [f32],
        workspace: &mut [f32],
        (x_a, x_b): (&mut [f32], &mut [f32]),
        n: usize,
        mut fill: F,
    ) -> Result<LossTerms, Error>
    where
        F: FnMut(usize, &mut [f32], &mut [f32]),
    {
        let (batch, input) = (self.siamese.capacity(), self.siamese.layout().sizes.input);
        if x_a.len() < batch * input || x_b.len() < batch * input {
            return Err(Error::ShapeMismatch);
        }
        grads.fill(0.0);
        self.begin(0)?;
        for _ in 0..self.stages() {
            for first in (0..n).step_by(batch) {
                let rows = batch.min(n - first);
                let (x_a, x_b) = (&mut x_a[..rows * input], &mut x_b[..rows * input]);
                fill(first, x_a, x_b);
                self.absorb(pass, params, grads, workspace, x_a, x_b)?;
            }
            if let Some(terms) = self.finish(pass)? {
                return if grads.iter().all(|g| g.is_finite()) { Ok(terms) } else { Err(Error::NonFiniteResult) };
            }
        }
        // The last stage returns the terms: a state that did not reach it was
        // changed behind the stream's back.
        Err(Error::ShapeMismatch)
    }

    /// Folds the finished batch's BatchNorm statistics (both views) into the
    /// running ones, as [`Siamese::update_running`] does for a full batch:
    /// only if `commit`; returns whether every new value is finite with a
    /// non-negative variance.
    pub fn update_running(&mut self, norm: super::NormConfig, running: &mut [f32], commit: bool) -> bool {
        let places: &[Place] = self.siamese.places();
        if running.len() != self.siamese.layout().sizes.running {
            return false;
        }
        let (head, [va, vb]) = self.split();
        let Some(total) = count(head[TOTAL]) else { return false };
        let mut sound = true;
        for p in places.iter().filter(|p| p.layer.normalises_in::<K>()) {
            let c = p.at.input.channels();
            let Some(values) = total.checked_mul(p.at.input.length()) else { return false };
            let (mean, var) = running[p.at.running..p.at.running + 2 * c].split_at_mut(c);
            let stats = [&*va.norms, &*vb.norms].map(|v| v[p.at.running..p.at.running + 2 * c].split_at(c));
            sound &= p.layer.update_running(stats, norm, values, (mean, var), commit);
        }
        sound
    }
}

#[cfg(test)]
mod tests {
    //! The streaming path on a small Conv1d network with two BatchNorm
    //! layers, for Miri as much as for the host: micro-batches of 1 and 3
    //! against the full batch, merging, and the refusals.

    use super::Stream;
    use crate::error::Error;
    use crate::nn::StreamError;
    use crate::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese};
    use crate::{Lanes, Pcg32};

    const CONV: Net = Net::new(
        Shape::Map { channels: 2, length: 5 },
        &[Layer::conv1d(3, 3).padding(1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(3)],
        &[Layer::linear(4).without_bias(), Layer::BatchNorm, Layer::ReLU, Layer::linear(3)],
    );
    const N: usize = 7;
    const FULL: crate::nn::Sizes = CONV.sizes(N);
    const MICRO: crate::nn::Sizes = CONV.sizes(3);

    fn inputs() -> ([f32; N * 10], [f32; N * 10]) {
        let a: [f32; N * 10] = core::array::from_fn(|i| libm::sinf(i as f32 * 0.9) + 0.1 * (i % 3) as f32);
        let b: [f32; N * 10] = core::array::from_fn(|i| a[i] + 0.2 * libm::cosf(i as f32 * 1.7));
        (a, b)
    }

    #[test]
    fn micro_batches_give_the_full_batch_gradients() {
        let (x_a, x_b) = inputs();
        let mut places = [Place::EMPTY; 9];
        let full = Siamese::<AllKinds>::new(&CONV, N, &mut places).unwrap();
        let mut params = [0.0f32; FULL.parameters];
        let mut running = [0.0f32; FULL.running];
        full.init(&mut params, &mut running, &mut Pcg32::new(5)).unwrap();
        let mut full_ws = [0.0f32; FULL.workspace];
        let mut expected = [0.0f32; FULL.parameters];
        let pass = Pass::default();
        let terms = full.compute_gradients(&pass, &params, &mut expected, &mut full_ws, &x_a, &x_b).unwrap();
        let scale = expected.iter().fold(1e-3f32, |m, g| m.max(g.abs()));

        let mut micro_places = [Place::EMPTY; 9];
        let micro = Siamese::<AllKinds>::new(&CONV, 3, &mut micro_places).unwrap();
        let mut state = [0.0f32; MICRO.stream_state()];
        let mut ws = [0.0f32; MICRO.workspace];
        for rows in [1, 3] {
            let mut stream = Stream::new(&micro, &mut state).unwrap();
            assert_eq!(stream.stages(), 6);
            let mut grads = [0.0f32; FULL.parameters];
            let mut got = None;
            for _ in 0..stream.stages() {
                for first in (0..N).step_by(rows) {
                    let (lo, hi) = (first * 10, (first + rows).min(N) * 10);
                    stream.absorb(&pass, &params, &mut grads, &mut ws, &x_a[lo..hi], &x_b[lo..hi]).unwrap();
                }
                got = stream.finish(&pass).unwrap();
            }
            let got = got.expect("the last stage returns the terms");
            assert!((got.loss - terms.loss).abs() <= 1e-4 * terms.loss.abs().max(1.0), "{rows}: {got:?} {terms:?}");
            for (g, e) in grads.iter().zip(&expected) {
                assert!((g - e).abs() <= 1e-4 * scale, "{rows}: gradient {g} against {e}");
            }
            // The running statistics fold in the whole batch's, as a full
            // batch's step folds in its own (both BatchNorm layers, both
            // views, unbiased variance over n·T values).
            let norm = Pass::default().norm;
            let (mut want, mut have) = (running, running);
            assert!(full.update_running(norm, &full_ws, N, &mut want, true));
            assert!(!stream.update_running(norm, &mut have[..3], true), "a short buffer is refused");
            assert!(stream.update_running(norm, &mut have, false));
            assert!(
                have.iter().zip(&running).all(|(h, r)| h.to_bits() == r.to_bits()),
                "nothing is written without commit"
            );
            assert!(stream.update_running(norm, &mut have, true));
            for (h, w) in have.iter().zip(&want) {
                assert!((h - w).abs() <= 1e-4 * w.abs().max(1.0), "{rows}: running statistic {h} against {w}");
            }
            assert!(have.iter().zip(&running).any(|(h, r)| h.to_bits() != r.to_bits()), "the statistics moved");
        }
    }

    #[test]
    fn a_stream_refuses_what_it_cannot_use() {
        let mut places = [Place::EMPTY; 9];
        let micro = Siamese::<AllKinds>::new(&CONV, 3, &mut places).unwrap();
        let mut short = [0.0f32; 10];
        assert_eq!(Stream::new(&micro, &mut short).err(), Some(Error::ShapeMismatch));
        let mut state = [0.0f32; MICRO.stream_state()];
        let mut stream = Stream::new(&micro, &mut state).unwrap();
        let pass = Pass::default();
        // Nothing absorbed: too few rows to finish.
        assert_eq!(stream.finish(&pass), Err(Error::TooFewRows { n: 0 }));
        let (params, mut grads, mut ws) =
            ([0.1f32; MICRO.parameters], [0.0f32; MICRO.parameters], [0.0f32; MICRO.workspace]);
        let (x_a, x_b) = inputs();
        // Four rows do not fit a capacity of three.
        assert_eq!(
            stream.absorb(&pass, &params, &mut grads, &mut ws, &x_a[..40], &x_b[..40]),
            Err(Error::TooManyRows { n: 4, capacity: 3 })
        );
        let mut bytes = [0u8; 256];
        stream.absorb(&pass, &params, &mut grads, &mut ws, &x_a[..30], &x_b[..30]).unwrap();
        let len = stream.encode(&mut bytes).unwrap();
        assert_eq!(
            stream.encode(&mut bytes[..len - 1]),
            Err(StreamError::BufferTooSmall { needed: len, available: len - 1 })
        );
        let mut corrupt = bytes;
        corrupt[len - 1] ^= 0x40;
        assert_eq!(stream.merge(Lanes::Wide, &corrupt[..len]), Err(StreamError::Corrupt));
        let mut version = bytes;
        version[4] = 9;
        assert_eq!(stream.merge(Lanes::Wide, &version[..len]), Err(StreamError::Version { found: 9 }));
        // Merging its own encoding doubles the rows.
        stream.merge(Lanes::Wide, &bytes[..len]).unwrap();
        assert_eq!(stream.rows(), 6);
        // Every refusal says what it is.
        for e in [StreamError::Magic, StreamError::Corrupt, StreamError::Version { found: 9 }] {
            assert!(crate::error::tests::message(e).len > 10, "{e:?} has no message");
        }
        // A state whose stage is not one of the network's is refused.
        state[2] = 99.0;
        assert_eq!(Stream::resume(&micro, &mut state).err(), Some(Error::ShapeMismatch));
        state[2] = 1.0;
        assert!(Stream::resume(&micro, &mut state).is_ok());
        assert_eq!(Stream::resume(&micro, &mut state[..10]).err(), Some(Error::ShapeMismatch));
    }

    /// The stream of [`CONV`] in micro-batches of 3, its parameters, and
    /// what a test does with them.
    fn with_stream(test: impl FnOnce(&mut Stream<'_, '_, AllKinds>, &mut Absorb<'_>)) {
        let mut places = [Place::EMPTY; 9];
        let micro = Siamese::<AllKinds>::new(&CONV, 3, &mut places).unwrap();
        let mut state = [0.0f32; MICRO.stream_state()];
        let mut stream = Stream::new(&micro, &mut state).unwrap();
        let mut params = [0.0f32; MICRO.parameters];
        let mut running = [0.0f32; MICRO.running];
        micro.init(&mut params, &mut running, &mut Pcg32::new(3)).unwrap();
        let (mut grads, mut ws) = ([0.0f32; MICRO.parameters], [0.0f32; MICRO.workspace]);
        let (x_a, x_b) = inputs();
        let mut absorb = Absorb { params: &params, grads: &mut grads, ws: &mut ws, x: (&x_a, &x_b) };
        test(&mut stream, &mut absorb);
    }

    struct Absorb<'t> {
        params: &'t [f32],
        grads: &'t mut [f32],
        ws: &'t mut [f32],
        x: (&'t [f32], &'t [f32]),
    }

    impl Absorb<'_> {
        /// Absorbs rows `first..first + rows` of the inputs.
        fn rows(&mut self, stream: &mut Stream<'_, '_, AllKinds>, first: usize, rows: usize) -> Result<(), Error> {
            let (lo, hi) = (first * 10, (first + rows) * 10);
            stream.absorb(&Pass::default(), self.params, self.grads, self.ws, &self.x.0[lo..hi], &self.x.1[lo..hi])
        }
    }

    #[test]
    fn stages_are_taken_in_order() {
        with_stream(|stream, absorb| {
            // Stage 3 (a backward one) before the loss stage: its rows are
            // refused, not an underflow of the batch's row count.
            stream.begin(3).unwrap();
            assert_eq!(absorb.rows(stream, 0, 3), Err(Error::ShapeMismatch));
            // Stage 1 (the second BatchNorm's) before the first: it absorbs
            // (on statistics of zero) but cannot finish.
            stream.begin(1).unwrap();
            absorb.rows(stream, 0, 3).unwrap();
            assert_eq!(stream.finish(&Pass::default()), Err(Error::ShapeMismatch));
            // From stage 0, in order, the same rows finish.
            stream.begin(0).unwrap();
            assert_eq!(stream.rows(), 0);
            absorb.rows(stream, 0, 3).unwrap();
            assert_eq!(stream.finish(&Pass::default()), Ok(None));
            absorb.rows(stream, 0, 3).unwrap();
            assert_eq!(stream.finish(&Pass::default()), Ok(None));
        });
        // A state at a backward stage whose loss stage never finished (its
        // batch total is 0) cannot absorb.
        let mut places = [Place::EMPTY; 9];
        let micro = Siamese::<AllKinds>::new(&CONV, 3, &mut places).unwrap();
        let mut state = [0.0f32; MICRO.stream_state()];
        state[super::STAGE] = 3.0;
        let mut stream = Stream::resume(&micro, &mut state).unwrap();
        let (params, mut grads, mut ws) =
            ([0.1f32; MICRO.parameters], [0.0f32; MICRO.parameters], [0.0f32; MICRO.workspace]);
        let (x_a, x_b) = inputs();
        let got = stream.absorb(&Pass::default(), &params, &mut grads, &mut ws, &x_a[..30], &x_b[..30]);
        assert_eq!(got, Err(Error::ShapeMismatch));
    }

    #[test]
    fn every_stage_must_see_the_rows_of_the_first() {
        with_stream(|stream, absorb| {
            // The first BatchNorm stage sees 8 rows, the second only 4.
            for (first, rows) in [(0, 3), (3, 3), (6, 1)] {
                absorb.rows(stream, first, rows).unwrap();
            }
            absorb.rows(stream, 0, 1).unwrap();
            assert_eq!(stream.finish(&Pass::default()), Ok(None));
            absorb.rows(stream, 0, 3).unwrap();
            absorb.rows(stream, 3, 1).unwrap();
            assert_eq!(stream.finish(&Pass::default()), Err(Error::ShapeMismatch));
        });
    }

    /// `bytes` with the f32 at value `i` set to `v` and the checksum sealed
    /// again, as a forger would.
    fn forged(bytes: &[u8], i: usize, v: f32) -> [u8; 512] {
        let mut out = [0u8; 512];
        out[..bytes.len()].copy_from_slice(bytes);
        out[12 + 4 * i..16 + 4 * i].copy_from_slice(&v.to_le_bytes());
        crate::wire::seal(&mut out[..bytes.len()]);
        out
    }

    const FLAT: Net = Net::new(Shape::Flat(3), &[Layer::linear(3)], &[Layer::linear(2)]);

    #[test]
    fn forged_statistics_are_refused_and_change_nothing() {
        with_stream(|stream, absorb| {
            absorb.rows(stream, 0, 3).unwrap();
            absorb.rows(stream, 3, 1).unwrap();
            let mut bytes = [0u8; 512];
            let len = stream.encode(&mut bytes).unwrap();
            let real = &bytes[..len];
            // The first BatchNorm stage: 3 channels, per view (mean, lo, M₂).
            let m2 = 1 + 2 * 3;
            for (i, v) in [(0, 1e30), (0, 2.5), (0, -1.0), (0, 16_777_216.0), (m2, -0.5), (m2 + 9, -1.0)] {
                let bad = forged(real, i, v);
                assert_eq!(stream.merge(Lanes::Wide, &bad[..len]), Err(StreamError::Corrupt), "value {i} = {v}");
                assert_eq!(stream.rows(), 4, "value {i} = {v} changed the stream");
            }
            // Zero rows with statistics.
            let bad = forged(&forged(real, 0, 0.0)[..len], 1, 0.5);
            assert_eq!(stream.merge(Lanes::Wide, &bad[..len]), Err(StreamError::Corrupt));
            // An empty shard (zero rows, all statistics zero) merges as nothing.
            let empty = (1..(len - 16) / 4).fold(forged(real, 0, 0.0), |b, i| forged(&b[..len], i, 0.0));
            stream.merge(Lanes::Wide, &empty[..len]).unwrap();
            assert_eq!(stream.rows(), 4);
            // The same bytes, sealed again untouched, still merge.
            let resealed = forged(real, 0, 4.0);
            stream.merge(Lanes::Wide, &resealed[..len]).unwrap();
            assert_eq!(stream.rows(), 8);
            // Up to 2²⁴ rows in all are counted exactly, and merge.
            let most = forged(real, 0, 16_777_208.0);
            stream.merge(Lanes::Wide, &most[..len]).unwrap();
            assert_eq!(stream.rows(), 16_777_216);
        });
        // The loss stage (no BatchNorm): a negative invariance sum or
        // co-moment diagonal is refused.
        let mut places = [Place::EMPTY; 2];
        let micro = Siamese::<AllKinds>::new(&FLAT, 3, &mut places).unwrap();
        let sizes = FLAT.sizes(3);
        let mut state = [0.0f32; FLAT.sizes(3).stream_state()];
        let mut stream = Stream::new(&micro, &mut state).unwrap();
        let (params, mut grads, mut ws) = ([0.3f32; 20], [0.0f32; 20], [0.0f32; 256]);
        assert!(sizes.parameters <= 20 && sizes.workspace <= 256);
        let (x_a, x_b) = inputs();
        let (params, grads, ws) =
            (&params[..sizes.parameters], &mut grads[..sizes.parameters], &mut ws[..sizes.workspace]);
        stream.absorb(&Pass::default(), params, grads, ws, &x_a[..9], &x_b[..9]).unwrap();
        let mut bytes = [0u8; 512];
        let len = stream.encode(&mut bytes).unwrap();
        // d = 2: values are rows, invariance, then per view the mean (hi,
        // lo: 4 values) and M's upper triangle (3 values, diagonal first).
        for (i, v) in [(1, -1.0), (2 + 4, -1.0), (2 + 4 + 2, -1.0), (2 + 7 + 4 + 2, -0.25)] {
            let bad = forged(&bytes[..len], i, v);
            assert_eq!(stream.merge(Lanes::Wide, &bad[..len]), Err(StreamError::Corrupt), "value {i} = {v}");
        }
        stream.merge(Lanes::Wide, &bytes[..len]).unwrap();
        assert_eq!(stream.rows(), 6);
    }

    /// Running statistics that would not be finite are reported, from
    /// either view's BatchNorm statistics.
    #[test]
    fn running_statistics_from_a_damaged_state_are_refused() {
        with_stream(|stream, absorb| {
            let pass = Pass::default();
            for _ in 0..stream.stages() {
                absorb.rows(stream, 0, 3).unwrap();
                absorb.rows(stream, 3, 3).unwrap();
                stream.finish(&pass).unwrap();
            }
            let mut running = [0.0f32; MICRO.running];
            assert!(stream.update_running(pass.norm, &mut running, false));
            // The first BatchNorm's first inverse deviation, view a.
            stream.state[super::HEAD + 3] = 0.0;
            assert!(!stream.update_running(pass.norm, &mut running, false));
        });
    }

    #[test]
    fn a_resumed_state_with_hostile_counts_is_refused() {
        let mut places = [Place::EMPTY; 9];
        let micro = Siamese::<AllKinds>::new(&CONV, 3, &mut places).unwrap();
        let mut state = [0.0f32; MICRO.stream_state()];
        for (slot, v) in [(super::ROWS, 1e30), (super::TOTAL, -1.0), (super::ROWS, 0.5), (super::STAGE, f32::NAN)] {
            state[..super::HEAD].fill(0.0);
            state[slot] = v;
            assert_eq!(Stream::resume(&micro, &mut state).err(), Some(Error::ShapeMismatch), "slot {slot} = {v}");
        }
        state[..super::HEAD].fill(0.0);
        state[super::TOTAL] = 7.0;
        assert!(Stream::resume(&micro, &mut state).is_ok());
    }
}
