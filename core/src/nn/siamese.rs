//! The Siamese passes on slices: both views through the same weights in
//! training mode, the loss, the backward pass into the parameter gradients,
//! BatchNorm's running statistics, and inference.
//!
//! Everything here takes a [`Net`] and flat buffers whose lengths its
//! [`Sizes`] give, so it is compiled once whatever the network: a trainer of
//! fixed capacity ([`Trainer`](crate::train::Trainer)) is a thin shell over
//! it, and host tools run networks read from files through it directly.
//!
//! Backward, layer by layer from the embedding down, alternates between two
//! gradient buffers; it stops as soon as every layer below is frozen.

use super::frozen::Frozen;
use super::kind::NormConfig;
use super::kind::{AllKinds, Backward, Forward, Given, KindSet, StreamSums};
use super::net::{Net, Place};
use super::sizes::Layout;
use super::tensors::Tensors;
use crate::error::Error;
use crate::lanes::{self, Lanes};
use crate::loss::{self, Config, LossTerms, Options, Views};

/// Everything about a training pass that is not a buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Pass {
    /// The loss coefficients.
    pub loss: Config,
    /// Covariance formulation and lanes (the layers use the same lanes).
    pub options: Options,
    /// BatchNorm's eps and momentum.
    pub norm: NormConfig,
    /// Layers that get no gradient.
    pub frozen: Frozen,
}

impl Pass {
    /// Checks the loss and BatchNorm settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if either refuses.
    pub fn validate(&self) -> Result<(), Error> {
        self.loss.validate()?;
        self.norm.validate()
    }
}

/// Where a crate-internal fault poisons a pass.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
pub(crate) enum Poison {
    None,
    /// The first value of view a's representation, after the encoder.
    Activation(f32),
    /// The first gradient element, after the backward pass.
    Gradient(f32),
}

/// A network and a batch capacity: the passes over caller-provided buffers.
///
/// ```
/// use vicreg::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese};
/// use vicreg::Pcg32;
///
/// let (encoder, expander) = ([Layer::linear(8), Layer::ReLU, Layer::linear(3)], [Layer::linear(6)]);
/// let net = Net::new(Shape::Flat(4), &encoder, &expander);
/// let mut places = vec![Place::EMPTY; net.depth()];
/// let siamese = Siamese::<AllKinds>::new(&net, 8, &mut places)?;
/// let sizes = siamese.layout().sizes;
/// let (mut params, mut grads) = (vec![0.0; sizes.parameters], vec![0.0; sizes.parameters]);
/// let (mut running, mut workspace) = (vec![0.0; sizes.running], vec![0.0; sizes.workspace]);
/// siamese.init(&mut params, &mut running, &mut Pcg32::new(1))?;
/// let x_a: Vec<f32> = (0..32).map(|i| (i as f32 * 0.7).sin()).collect();
/// let x_b: Vec<f32> = x_a.iter().map(|v| v * 1.1).collect();
/// let pass = Pass::default();
/// let terms = siamese.compute_gradients(&pass, &params, &mut grads, &mut workspace, &x_a, &x_b)?;
/// assert!(terms.loss > 0.0 && grads.iter().any(|g| *g != 0.0));
/// # Ok::<(), vicreg::Error>(())
/// ```
///
/// `K` is the set of layer kinds the passes are compiled for: [`AllKinds`]
/// for a network known only at run time, the network's own set (as
/// [`Network::Kinds`](super::Network::Kinds) names it) on a device.
#[derive(Debug)]
pub struct Siamese<'n, K: KindSet = AllKinds> {
    pub(super) net: &'n Net<'n>,
    pub(super) batch: usize,
    pub(super) layout: Layout,
    pub(super) places: &'n [Place],
    kinds: core::marker::PhantomData<K>,
}

impl Default for Pass {
    fn default() -> Self {
        Self { loss: Config::DEFAULT, options: Options::default(), norm: NormConfig::TORCH, frozen: Frozen::NONE }
    }
}

/// What a backward pass covers. A full batch runs every layer with local
/// BatchNorm sums; a streaming stage stops at one BatchNorm layer, whose
/// sums it accumulates, and applies the whole batch's sums above it.
pub(crate) struct Span<'s> {
    /// Lowest layer processed.
    pub(crate) stop: usize,
    /// Layers whose weight gradients accumulate: `grads.0 ≤ i < grads.1`.
    pub(crate) grads: (usize, usize),
    /// The whole batch's BatchNorm sums (Σ∂ℓ/∂y, Σ∂ℓ/∂y⊙x̂ at each layer's
    /// running offset) and its rows; `None` for a full batch.
    pub(crate) global: Option<(&'s mut [f32], usize)>,
}

impl Span<'_> {
    const fn full(depth: usize) -> Self {
        Self { stop: 0, grads: (0, depth), global: None }
    }
}

/// The workspace cut into its regions.
pub(crate) struct Regions<'w> {
    pub(crate) views: [&'w mut [f32]; 2],
    pub(crate) ping: &'w mut [f32],
    pub(crate) pong: &'w mut [f32],
    pub(crate) sums: &'w mut [f32],
    pub(crate) loss: &'w mut [f32],
}

impl<'n, K: KindSet> Siamese<'n, K> {
    /// The passes of `net` for batches of up to `batch` rows; `places`
    /// (the network's depth long, e.g. `[Place::EMPTY; DEPTH]`) receives
    /// where each layer's tensors and buffers are.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidNetwork`] naming the first layer that does not fit
    /// (or whose kind `K` leaves out, or whose buffers for `batch` rows
    /// overflow), [`Error::TooFewRows`] for a capacity of 0 (a capacity
    /// of 1 streams micro-batches of a row and runs inference; a full
    /// batch needs 2 rows),
    /// [`Error::ShapeMismatch`] if `places` is not the network's depth long.
    pub fn new(net: &'n Net<'n>, batch: usize, places: &'n mut [Place]) -> Result<Self, Error> {
        if let Err(e) = net.check() {
            return Err(Error::InvalidNetwork { layer: e.layer });
        }
        if batch == 0 {
            return Err(Error::TooFewRows { n: batch });
        }
        if places.len() != net.depth() {
            return Err(Error::ShapeMismatch);
        }
        if let Some(layer) = (0..net.depth()).find(|&i| net.layer(i).is_some_and(|l| !l.covered_by::<K>())) {
            return Err(Error::InvalidNetwork { layer });
        }
        // Buffers for `batch` rows that overflow are the network's fault at
        // this capacity, at the layer whose buffer does.
        net.fill_places(batch, places).map_err(|e| Error::InvalidNetwork { layer: e.layer })?;
        let layout = Layout::of(net, batch).ok_or(Error::InvalidNetwork { layer: net.depth() })?;
        if layout.sizes.workspace == usize::MAX {
            return Err(Error::InvalidNetwork { layer: net.depth() });
        }
        Ok(Self { net, batch, layout, places, kinds: core::marker::PhantomData })
    }

    /// For a trainer whose layout and places are checked compile-time
    /// constants.
    pub(crate) const fn with_layout(net: &'n Net<'n>, batch: usize, layout: Layout, places: &'n [Place]) -> Self {
        Self { net, batch, layout, places, kinds: core::marker::PhantomData }
    }

    /// The parameter tensors in storage order.
    #[must_use]
    pub fn tensors(&self) -> Tensors<'n> {
        Tensors::of(self.places)
    }

    /// The network.
    #[must_use]
    pub fn net(&self) -> &Net<'n> {
        self.net
    }

    /// Where everything is.
    #[must_use]
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(crate) fn place(&self, i: usize) -> Option<Place> {
        self.places.get(i).copied()
    }

    pub(crate) fn check_lengths(&self, params: usize, workspace: usize) -> Result<(), Error> {
        let s = &self.layout.sizes;
        if params != s.parameters || workspace < s.workspace {
            return Err(Error::ShapeMismatch);
        }
        Ok(())
    }

    /// Every layer's place.
    pub(crate) fn places(&self) -> &'n [Place] {
        self.places
    }

    /// Rows a pass holds.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.batch
    }

    /// Rows of a micro-batch of flat samples, checked: 1 ≤ n ≤ the
    /// capacity, whole samples, finite.
    pub(crate) fn micro_rows(&self, x: &[f32]) -> Result<usize, Error> {
        let n = self.rows(x, true)?;
        if n == 0 {
            return Err(Error::TooFewRows { n });
        }
        if n > self.batch {
            return Err(Error::TooManyRows { n, capacity: self.batch });
        }
        Ok(n)
    }

    /// Rows of a batch of flat samples, checked: whole samples, 2 ≤ n ≤ the
    /// capacity unless `any_count`, finite.
    pub(super) fn rows(&self, x: &[f32], any_count: bool) -> Result<usize, Error> {
        let len = self.layout.sizes.input;
        if len == 0 || !x.len().is_multiple_of(len) {
            return Err(Error::ShapeMismatch);
        }
        let n = x.len() / len;
        if !any_count {
            if n < 2 {
                return Err(Error::TooFewRows { n });
            }
            if n > self.batch {
                return Err(Error::TooManyRows { n, capacity: self.batch });
            }
        }
        if !lanes::all_finite(x) {
            return Err(Error::NonFiniteInput);
        }
        Ok(n)
    }

    pub(crate) fn regions<'w>(&self, ws: &'w mut [f32]) -> Regions<'w> {
        let s = &self.layout.sizes;
        let (a, rest) = ws.split_at_mut(s.view);
        let (b, rest) = rest.split_at_mut(s.view);
        let (ping, rest) = rest.split_at_mut(s.ping);
        let (pong, rest) = rest.split_at_mut(s.pong);
        let (sums, loss) = rest.split_at_mut(s.backward - s.ping - s.pong);
        Regions { views: [a, b], ping, pong, sums, loss }
    }

    /// Layers `from..until` forward for one view, with `scratch` (the
    /// backward region's sums, at least one sample's scratch of every
    /// layer); false if BatchNorm's statistics overflowed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn forward<const STREAM: bool>(
        &self,
        lanes: Lanes,
        norm: NormConfig,
        norms: (Option<&[f32]>, Option<Given<'_>>),
        params: &[f32],
        x: &[f32],
        n: usize,
        (act, scratch): (&mut [f32], &mut [f32]),
        (from, until): (usize, usize),
    ) -> bool {
        let mut sound = true;
        let (running, given) = norms;
        for p in self.places.get(from..until).unwrap_or(&[]) {
            let (weights, biases) = (p.weights(), p.biases());
            let w = &params[p.params..p.params + weights];
            let b = &params[p.params + weights..p.params + weights + biases];
            let (act, scratch) = (&mut *act, &mut *scratch);
            let f = Forward { lanes, eps: norm.eps, running, given, w, b, at: &p.at, x, n, act, scratch };
            sound &= p.layer.forward::<K, STREAM>(f);
        }
        sound
    }

    /// Backward for one view from ∂ℓ/∂z over `span`, accumulating into
    /// `grads`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward<const STREAM: bool>(
        &self,
        lanes: Lanes,
        frozen: Frozen,
        params: &[f32],
        grads: &mut [f32],
        x: &[f32],
        n: usize,
        act: &[f32],
        dz: &[f32],
        r: &mut Regions<'_>,
        mut span: Span<'_>,
    ) {
        let (mut cur, mut other) = (&mut *r.ping, &mut *r.pong);
        cur[..dz.len()].copy_from_slice(dz);
        let half = r.sums.len() / 2;
        let (sum_dy, sum_dy_xhat) = r.sums.split_at_mut(half);
        // A full batch's span is known at compile time: fold it.
        let (stop, grads_from, grads_until) =
            if STREAM { (span.stop, span.grads.0, span.grads.1) } else { (0, 0, usize::MAX) };
        for i in (stop..self.net.depth()).rev() {
            if frozen.all_up_to(i) {
                break;
            }
            let Some(p) = self.place(i) else { break };
            let frozen_here = frozen.contains(i);
            let trains = !frozen_here && grads_from <= i && i < grads_until;
            let need_dx = i > stop;
            let (in_len, out_len) = (n * p.at.input.len(), n * p.at.output.len());
            let (weights, biases) = (p.weights(), p.biases());
            let w = &params[p.params..p.params + weights];
            let (gw, gb) = grads[p.params..p.params + weights + biases].split_at_mut(weights);
            let input = match p.at.src {
                None => &x[..in_len],
                Some(src) => &act[src..src + in_len],
            };
            let dy = &mut cur[..out_len];
            // Only a kind that swaps writes ∂ℓ/∂input into the other buffer
            // (sized by the same rule, `Net::gradient_widths`).
            let swaps = p.layer.output_buffer().swaps();
            let dx = if need_dx && swaps { Some(&mut other[..in_len]) } else { None };
            let stream = match (STREAM, span.global.as_mut()) {
                (true, Some((sums, rows))) => Some(StreamSums { sums, rows: *rows, target: i == stop }),
                _ => None,
            };
            let scratch = (&mut *sum_dy, &mut *sum_dy_xhat);
            let at = &p.at;
            p.layer.backward::<K, STREAM>(Backward {
                lanes,
                at,
                w,
                gw,
                gb,
                trains,
                frozen: frozen_here,
                input,
                act,
                dy,
                dx,
                scratch,
                stream,
            });
            if swaps {
                core::mem::swap(&mut cur, &mut other);
            }
        }
    }

    /// Forward and backward passes of both views (n ≤ capacity rows of
    /// flat samples each, row i of both views from the same sample): the loss
    /// terms, with ∂ℓ/∂θ written into `grads`; `params` are read only.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] for buffers of the wrong length or views of
    /// different lengths, [`Error::TooFewRows`], [`Error::TooManyRows`],
    /// [`Error::NonFiniteInput`], [`Error::InvalidConfig`], and
    /// [`Error::NonFiniteResult`] if an activation, the loss or a gradient
    /// overflows.
    pub fn compute_gradients(
        &self,
        pass: &Pass,
        params: &[f32],
        grads: &mut [f32],
        workspace: &mut [f32],
        x_a: &[f32],
        x_b: &[f32],
    ) -> Result<LossTerms, Error> {
        self.gradients_poisoned(pass, params, grads, workspace, x_a, x_b, Poison::None)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn gradients_poisoned(
        &self,
        pass: &Pass,
        params: &[f32],
        grads: &mut [f32],
        workspace: &mut [f32],
        x_a: &[f32],
        x_b: &[f32],
        poison: Poison,
    ) -> Result<LossTerms, Error> {
        self.check_lengths(params.len(), workspace.len())?;
        if grads.len() != params.len() || x_a.len() != x_b.len() {
            return Err(Error::ShapeMismatch);
        }
        let n = self.rows(x_a, false)?;
        self.rows(x_b, false)?;
        pass.validate()?;
        let lanes = pass.options.lanes;
        let depth = self.net.depth();
        let mut r = self.regions(workspace);
        let mut sound = true;
        for (act, x) in r.views.iter_mut().zip([x_a, x_b]) {
            let buffers = (&mut **act, &mut *r.sums);
            sound &= self.forward::<false>(lanes, pass.norm, (None, None), params, x, n, buffers, (0, depth));
        }
        if let Poison::Activation(value) = poison {
            // Poison the first value of view a's representation and let it
            // flow through the expander, as a glitch would.
            r.views[0][self.layout.repr] = value;
            let encoder = self.net.encoder.len();
            let buffers = (&mut *r.views[0], &mut *r.sums);
            self.forward::<false>(lanes, pass.norm, (None, None), params, x_a, n, buffers, (encoder, depth));
        }
        if !sound {
            return Err(Error::NonFiniteResult);
        }
        let (e, layout) = (self.layout.sizes.embed, &self.layout);
        let [va, vb] = &mut r.views;
        let (acts_a, dz_a) = va.split_at_mut(layout.dz);
        let (acts_b, dz_b) = vb.split_at_mut(layout.dz);
        let (z_a, z_b) = (&acts_a[layout.embed..layout.embed + n * e], &acts_b[layout.embed..layout.embed + n * e]);
        let views = Views::new(z_a, z_b, e).map_err(|_| Error::NonFiniteResult)?;
        let terms = loss::loss_and_gradients_in::<K>(
            views,
            &pass.loss,
            pass.options,
            r.loss,
            &mut dz_a[..n * e],
            &mut dz_b[..n * e],
        )
        .map_err(|err| if err == Error::NonFiniteInput { Error::NonFiniteResult } else { err })?;
        grads.fill(0.0);
        let mut rest = Regions { views: [&mut [], &mut []], ping: r.ping, pong: r.pong, sums: r.sums, loss: &mut [] };
        for ((acts, dz), x) in [(&*acts_a, &*dz_a), (&*acts_b, &*dz_b)].into_iter().zip([x_a, x_b]) {
            self.backward::<false>(
                lanes,
                pass.frozen,
                params,
                grads,
                x,
                n,
                acts,
                &dz[..n * e],
                &mut rest,
                Span::full(depth),
            );
        }
        if let (Poison::Gradient(value), Some(g)) = (poison, grads.first_mut()) {
            *g = value;
        }
        if lanes::all_finite(grads) { Ok(terms) } else { Err(Error::NonFiniteResult) }
    }

    /// Folds the last [`compute_gradients`](Self::compute_gradients)' batch
    /// statistics (both views, n rows) into BatchNorm's running statistics,
    /// only if `commit`; returns whether every new value is finite with a
    /// non-negative variance. Run it first with `commit = false` to refuse a
    /// step before anything is written.
    pub fn update_running(
        &self,
        norm: NormConfig,
        workspace: &[f32],
        n: usize,
        running: &mut [f32],
        commit: bool,
    ) -> bool {
        if running.len() != self.layout.sizes.running || workspace.len() < 2 * self.layout.sizes.view {
            return false;
        }
        let (va, vb) = workspace.split_at(self.layout.sizes.view);
        let mut sound = true;
        for p in self.places {
            if !(p.layer.normalises_in::<K>()) {
                continue;
            }
            let c = p.at.input.channels();
            let (mean, var) = running[p.at.running..p.at.running + 2 * c].split_at_mut(c);
            let count = n * p.at.input.length();
            let stats = [va, vb].map(|v| v[p.at.stats..p.at.stats + 2 * c].split_at(c));
            sound &= p.layer.update_running(stats, norm, count, (mean, var), commit);
        }
        sound
    }
}

#[cfg(test)]
mod tests {
    //! Small networks through every pass, for Miri as much as for the host:
    //! every kind of layer, both covariance sides, inference, running
    //! statistics, and the refusals.

    use super::{Pass, Siamese};
    use crate::error::Error;
    use crate::loss::{CovarianceSide, Options};
    use crate::nn::{AllKinds, Layer, Net, NormConfig, Place, Role, Shape};
    use crate::{Lanes, Pcg32};

    const CONV: Net = Net::new(
        Shape::Map { channels: 2, length: 7 },
        &[Layer::conv1d(3, 3).stride(2).padding(1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(3)],
        &[Layer::linear(5).without_bias(), Layer::BatchNorm, Layer::ReLU, Layer::linear(4)],
    );
    const PLACES: usize = 9;
    const SIZES: crate::nn::Sizes = CONV.sizes(4);

    #[test]
    fn every_pass_runs_on_both_sides_and_lanes_and_refuses_bad_input() {
        let mut places = [Place::EMPTY; PLACES];
        let s = Siamese::<AllKinds>::new(&CONV, 4, &mut places).unwrap();
        let mut params = [0.0f32; SIZES.parameters];
        let mut running = [0.0f32; SIZES.running];
        s.init(&mut params, &mut running, &mut Pcg32::new(3)).unwrap();
        let x_a: [f32; 4 * 14] = core::array::from_fn(|i| libm::sinf(i as f32 * 0.7));
        let x_b: [f32; 4 * 14] = core::array::from_fn(|i| x_a[i] + 0.1 * libm::cosf(i as f32));
        // Room for the feature side's 4×4 matrix too.
        let mut ws = [0.0f32; SIZES.workspace + 16];
        let mut first = None;
        for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
            for lanes in [Lanes::Scalar, Lanes::Wide] {
                let pass = Pass { options: Options { side, lanes }, ..Pass::default() };
                let mut grads = [0.0f32; SIZES.parameters];
                let t = s.compute_gradients(&pass, &params, &mut grads, &mut ws, &x_a, &x_b).unwrap();
                assert!(t.loss.is_finite() && grads.iter().any(|g| *g != 0.0));
                // The four ways agree up to rounding.
                let loss = *first.get_or_insert(t.loss);
                assert!((t.loss - loss).abs() <= 1e-4 * loss.abs().max(1.0));
            }
        }
        assert!(s.update_running(Pass::default().norm, &ws, 4, &mut running, true));
        let mut z = [0.0f32; 5 * 4];
        let x5: [f32; 5 * 14] = core::array::from_fn(|i| libm::cosf(i as f32));
        s.embed(Lanes::Wide, Pass::default().norm, &params, &running, &mut ws, &x5, &mut z).unwrap();
        assert!(z.iter().all(|v| v.is_finite()));

        let pass = Pass::default();
        let mut grads = [0.0f32; SIZES.parameters];
        let mut bad = x_a;
        bad[5] = f32::NAN;
        assert_eq!(s.compute_gradients(&pass, &params, &mut grads, &mut ws, &bad, &x_b), Err(Error::NonFiniteInput));
        assert_eq!(
            s.compute_gradients(&pass, &params, &mut grads, &mut ws, &x_a[..14], &x_b[..14]),
            Err(Error::TooFewRows { n: 1 })
        );
        assert_eq!(
            s.compute_gradients(&pass, &params, &mut grads, &mut ws[..10], &x_a, &x_b),
            Err(Error::ShapeMismatch)
        );
        // Finite inputs whose BatchNorm statistics overflow (a variance of
        // about 1e39): refused, where normalising by 1/√∞ = 0 would hand on β.
        let huge_a = x_a.map(|v| v * 3e19);
        let huge_b = x_b.map(|v| v * 3e19);
        assert_eq!(
            s.compute_gradients(&pass, &params, &mut grads, &mut ws, &huge_a, &huge_b),
            Err(Error::NonFiniteResult)
        );
    }

    #[test]
    #[allow(clippy::float_cmp)] // the constants asserted are set, not computed
    fn initialisation_is_pytorchs_default() {
        let mut places = [Place::EMPTY; PLACES];
        let s = Siamese::<AllKinds>::new(&CONV, 4, &mut places).unwrap();
        assert_eq!(s.capacity(), 4);
        let (mut params, mut running) = ([f32::NAN; SIZES.parameters], [7.0f32; SIZES.running]);
        assert_eq!(s.init(&mut params[1..], &mut running, &mut Pcg32::new(1)), Err(Error::ShapeMismatch));
        assert_eq!(s.init(&mut params, &mut running[1..], &mut Pcg32::new(1)), Err(Error::ShapeMismatch));
        s.init(&mut params, &mut running, &mut Pcg32::new(1)).unwrap();
        // Linear and Conv1d: uniform in ±1/√fan_in, fan_in = inputs ×
        // kernel, biases sharing their weights' bound; BatchNorm: γ = 1,
        // β = 0, running mean 0, variance 1.
        let fan_in = |layer: usize| match layer {
            0 => 2 * 3,
            4 | 5 => 3,
            8 => 5,
            _ => 0,
        };
        let mut largest = [0.0f32; PLACES];
        for t in s.tensors() {
            let values = &params[t.range()];
            if t.kind == Layer::BatchNorm {
                let want = if t.role == Role::Weight { 1.0 } else { 0.0 };
                assert!(values.iter().all(|&v| v == want), "{t:?}");
            } else {
                let bound = 1.0 / libm::sqrtf(fan_in(t.layer) as f32);
                let m = values.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                assert!(m <= bound, "{t:?}: {m} beyond {bound}");
                largest[t.layer] = largest[t.layer].max(m / bound);
            }
        }
        // 12 to 24 draws a layer: the largest is past half the bound (a
        // chance of 1 − 2⁻¹² or better, and this seed's draws are fixed).
        for layer in [0, 4, 5, 8] {
            assert!(largest[layer] > 0.5, "layer {layer}: {}", largest[layer]);
        }
        assert_eq!(running, [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
    }

    #[test]
    // Fifty training passes: minutes under Miri, which the pass above
    // already takes through every layer.
    #[cfg_attr(miri, ignore)]
    fn every_tensor_gradient_is_the_slope_of_the_loss_along_it() {
        // Along u = g_T/|g_T| for one tensor T, the loss rises at |g_T|: the
        // central difference (ℓ(θ + h·u) − ℓ(θ − h·u))/2h must match it to
        // 0.5 % (it does to 0.15 %), on both covariance sides. A gradient
        // scaled by 1 %, transposed, or summed from the wrong rows in any
        // one tensor fails (checked: a Linear weight gradient with one row
        // of ∂ℓ/∂y in four scaled by 1.01, a Linear bias gradient by 0.99).
        // Every bias here reaches the loss through a ReLU (one before a
        // BatchNorm, and the last, have no effect: their gradient is 0).
        const SLOPES: Net = Net::new(
            Shape::Map { channels: 2, length: 7 },
            &[
                Layer::conv1d(3, 3).stride(2).padding(1),
                Layer::ReLU,
                Layer::BatchNorm,
                Layer::MeanTime,
                Layer::linear(3),
                Layer::ReLU,
            ],
            &[Layer::linear(5), Layer::BatchNorm, Layer::ReLU, Layer::linear(4)],
        );
        const SIZES: crate::nn::Sizes = SLOPES.sizes(4);
        let mut places = [Place::EMPTY; 10];
        let s = Siamese::<AllKinds>::new(&SLOPES, 4, &mut places).unwrap();
        let mut params = [0.0f32; SIZES.parameters];
        let mut running = [0.0f32; SIZES.running];
        s.init(&mut params, &mut running, &mut Pcg32::new(5)).unwrap();
        let x_a: [f32; 4 * 14] =
            core::array::from_fn(|i| libm::sinf(i as f32 * 0.9) + 0.3 * libm::cosf(i as f32 * 0.2));
        let x_b: [f32; 4 * 14] = core::array::from_fn(|i| x_a[i] + 0.2 * libm::sinf(i as f32 * 2.3));
        let mut ws = [0.0f32; SIZES.workspace + 16];
        let mut grads = [0.0f32; SIZES.parameters];
        for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
            let pass = Pass { options: Options { side, lanes: Lanes::Wide }, ..Pass::default() };
            s.compute_gradients(&pass, &params, &mut grads, &mut ws, &x_a, &x_b).unwrap();
            let g = grads;
            let overall = libm::sqrtf(g.iter().map(|v| v * v).sum());
            let mut loss_at = |theta: &[f32; SIZES.parameters]| {
                s.compute_gradients(&pass, theta, &mut grads, &mut ws, &x_a, &x_b).unwrap().loss
            };
            let mut tensors = 0;
            for t in s.tensors() {
                let g_t = &g[t.range()];
                let slope = libm::sqrtf(g_t.iter().map(|v| v * v).sum());
                // A bias just before a BatchNorm has no effect, so no
                // gradient: step along its first element instead.
                let zero = slope <= 1e-5 * overall;
                let h = 5e-4;
                let (mut plus, mut minus) = (params, params);
                for (i, gi) in t.range().zip(g_t) {
                    let u = if zero { if i == t.offset { 1.0 } else { 0.0 } } else { gi / slope };
                    plus[i] += h * u;
                    minus[i] -= h * u;
                }
                let fd = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
                let want = if zero { 0.0 } else { slope };
                assert!(
                    (fd - want).abs() <= 5e-3 * slope + 1e-5 * overall,
                    "{side:?}, tensor at {} ({:?} {:?}): slope {want}, central difference {fd}",
                    t.offset,
                    t.kind,
                    t.role
                );
                tensors += 1;
            }
            assert_eq!(tensors, 12);
        }
    }

    /// Running statistics and inference of a network whose first layer is a
    /// BatchNorm, so its input is the caller's: after one training pass the
    /// running mean and variance are torch.nn.BatchNorm1d's (momentum m,
    /// unbiased variance, one update for view a, then one for view b), and
    /// inference normalises by them: y = γ·(x − mean)/√(var + eps) + β.
    /// (Checked: the biased variance in the running statistics fails.)
    fn batch_norm_follows_torch(net: &Net<'_>, channels: usize, length: usize) {
        const N: usize = 5;
        let mut places = [Place::EMPTY; 3];
        let s = Siamese::<AllKinds>::new(net, N, &mut places[..net.depth()]).unwrap();
        let sizes = net.sizes(N);
        let (mut params, mut running) = ([0.0f32; 64], [0.0f32; 8]);
        let (params, running) = (&mut params[..sizes.parameters], &mut running[..sizes.running]);
        s.init(params, running, &mut Pcg32::new(1)).unwrap();
        // γ and β away from 1 and 0, running statistics away from 0 and 1.
        for t in s.tensors().filter(|t| t.kind == Layer::BatchNorm) {
            for (k, v) in params[t.range()].iter_mut().enumerate() {
                *v = if t.role == Role::Weight { 1.5 + k as f32 } else { -0.5 + k as f32 };
            }
        }
        for (k, v) in running.iter_mut().enumerate() {
            *v = 0.25 + k as f32 * 0.5;
        }
        let before: [f32; 8] = core::array::from_fn(|k| running.get(k).copied().unwrap_or(0.0));
        let len = channels * length;
        let x_a: [f32; 30] = core::array::from_fn(|i| libm::sinf(i as f32 * 1.3) * (1.0 + (i % len) as f32));
        let x_b: [f32; 30] = core::array::from_fn(|i| x_a[i] * 0.8 + 0.5 * libm::cosf(i as f32));
        let (x_a, x_b) = (&x_a[..N * len], &x_b[..N * len]);
        let mut ws = [0.0f32; 1024];
        let ws = &mut ws[..sizes.workspace];
        let norm = NormConfig { eps: 1e-2, momentum: 0.3 };
        let pass = Pass { norm, ..Pass::default() };
        let mut grads = [0.0f32; 64];
        s.compute_gradients(&pass, params, &mut grads[..sizes.parameters], ws, x_a, x_b).unwrap();
        assert!(s.update_running(norm, ws, N, running, true));

        // Channel c of sample i at time t is x[i·len + c·length + t].
        let at = |x: &[f32], i: usize, c: usize, t: usize| f64::from(x[i * len + c * length + t]);
        let m = f64::from(norm.momentum);
        let count = (N * length) as f64;
        let mut expected = [(0.0f64, 0.0f64); 2];
        for (c, e) in expected.iter_mut().enumerate().take(channels) {
            let (mut mean, mut var) = (f64::from(before[c]), f64::from(before[channels + c]));
            for x in [x_a, x_b] {
                let each = || (0..N).flat_map(|i| (0..length).map(move |t| (i, t)));
                let mu = each().map(|(i, t)| at(x, i, c, t)).sum::<f64>() / count;
                let unbiased =
                    each().map(|(i, t)| (at(x, i, c, t) - mu) * (at(x, i, c, t) - mu)).sum::<f64>() / (count - 1.0);
                (mean, var) = ((1.0 - m) * mean + m * mu, (1.0 - m) * var + m * unbiased);
            }
            let (got_mean, got_var) = (f64::from(running[c]), f64::from(running[channels + c]));
            assert!(
                (got_mean - mean).abs() <= 1e-5 * (1.0 + mean.abs()),
                "channel {c}: running mean {got_mean} vs {mean}"
            );
            assert!((got_var - var).abs() <= 1e-5 * (1.0 + var), "channel {c}: running variance {got_var} vs {var}");
            *e = (mean, var);
        }

        // Inference on 7 samples (more than the capacity of 5): the
        // representation is the normalised input, averaged over time when
        // the encoder ends with MeanTime.
        let x: [f32; 42] = core::array::from_fn(|i| libm::cosf(i as f32 * 0.7) * 3.0);
        let x = &x[..7 * len];
        let mut y = [0.0f32; 14];
        let y = &mut y[..7 * channels];
        s.represent(Lanes::Wide, norm, params, running, ws, x, y).unwrap();
        let (gamma, beta) = (&params[..channels], &params[channels..2 * channels]);
        for i in 0..7 {
            for c in 0..channels {
                let (mean, var) = expected[c];
                let scale = f64::from(gamma[c]) / (var + f64::from(norm.eps)).sqrt();
                let want = (0..length).map(|t| scale * (at(x, i, c, t) - mean) + f64::from(beta[c])).sum::<f64>()
                    / length as f64;
                let got = f64::from(y[i * channels + c]);
                assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "sample {i}, channel {c}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn batch_norm_on_vectors_follows_torch_in_training_and_inference() {
        const NET: Net = Net::new(Shape::Flat(2), &[Layer::BatchNorm], &[Layer::linear(2)]);
        batch_norm_follows_torch(&NET, 2, 1);
    }

    #[test]
    fn batch_norm_on_maps_follows_torch_in_training_and_inference() {
        const NET: Net =
            Net::new(Shape::Map { channels: 2, length: 3 }, &[Layer::BatchNorm, Layer::MeanTime], &[Layer::linear(2)]);
        batch_norm_follows_torch(&NET, 2, 3);
    }

    /// Shapes and batches whose sizes overflow: the network's fault, named
    /// as such, not a mismatch of the caller's buffers.
    #[test]
    fn sizes_that_overflow_are_an_invalid_network() {
        let wide = Net::new(Shape::Map { channels: usize::MAX / 2, length: 3 }, &[Layer::MeanTime], &[]);
        let mut places = [Place::EMPTY; 1];
        assert_eq!(Siamese::<AllKinds>::new(&wide, 4, &mut places).err(), Some(Error::InvalidNetwork { layer: 0 }));
        let mut places = [Place::EMPTY; PLACES];
        let huge = usize::MAX / 8;
        assert!(matches!(Siamese::<AllKinds>::new(&CONV, huge, &mut places).err(), Some(Error::InvalidNetwork { .. })));
        assert_eq!(super::Layout::of(&CONV, huge), None);
        let mut short = [Place::EMPTY; PLACES - 1];
        assert_eq!(Siamese::<AllKinds>::new(&CONV, 4, &mut short).err(), Some(Error::ShapeMismatch));
    }
}
