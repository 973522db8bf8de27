//! A network declared once: the input's shape, the encoder's layers and the
//! expander's layers. Everything else (each layer's shape, where each
//! parameter lives, every buffer of a training step) is computed from the
//! declaration by `const fn`s, so the sizes are compile-time constants at
//! the declaration site and runtime values for a network read from a file.
//!
//! Walking a declaration checks it and places every tensor and buffer
//! ([`Place`]); `sizes.rs` adds up what the walk placed.

use super::kind::{At, Output};
use super::kinds::Layer;
use super::shape::Shape;

/// A Siamese network's declaration. Both views go through the same weights;
/// the encoder's output is the representation y (what a device keeps), the
/// expander's is the embedding z that enters the loss.
///
/// ```
/// use vicreg::nn::{Layer, Net, Shape};
///
/// // 6 channels × 100 samples → two convolutions → mean over time → 32-d y,
/// // then the official expander shape: (Linear–BatchNorm–ReLU) × 2, Linear.
/// const MOTION: Net = Net::new(
///     Shape::Map { channels: 6, length: 100 },
///     &[Layer::conv1d(16, 5).stride(2).padding(2), Layer::BatchNorm, Layer::ReLU,
///       Layer::conv1d(32, 3).padding(1), Layer::ReLU, Layer::MeanTime, Layer::linear(32)],
///     &[Layer::linear(64), Layer::BatchNorm, Layer::ReLU,
///       Layer::linear(64), Layer::BatchNorm, Layer::ReLU, Layer::linear(64).without_bias()],
/// );
/// assert!(MOTION.check().is_ok());
/// assert_eq!((MOTION.repr_len(), MOTION.embed_len()), (32, 64));
/// // Every activation of a training step for batches of 8, known before flashing:
/// const BYTES: usize = 4 * MOTION.workspace_len(8);
/// assert!(BYTES < 400 * 1024);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Net<'a> {
    /// The shape of one input sample.
    pub input: Shape,
    /// The encoder's layers, input first; its output is the representation.
    pub encoder: &'a [Layer],
    /// The expander's layers; its output is the embedding (the
    /// representation itself when empty).
    pub expander: &'a [Layer],
}

/// Why a declaration is not a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NetError {
    /// Index of the layer at fault in the whole list (encoder, then
    /// expander); the number of layers for a fault of the whole.
    pub layer: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl core::fmt::Display for NetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "layer {}: {}", self.layer, self.reason)
    }
}

impl core::error::Error for NetError {}

/// Where one layer's tensors and buffers are, for a batch capacity: what a
/// walk through the declaration computes, kept so that the passes need not
/// walk again. [`network!`](crate::network) computes them at compile time;
/// [`Siamese::new`](super::Siamese::new) fills a caller's slice of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    pub(crate) index: usize,
    pub(crate) layer: Layer,
    /// Offset of the layer's weights in the parameter vector; its bias
    /// follows them.
    pub(crate) params: usize,
    /// Elements of its weight and bias tensors: worked out once by the walk,
    /// so that the passes read them rather than ask every kind again.
    pub(crate) sizes: (usize, usize),
    /// Where the layer reads and writes (its shapes, its buffers, its
    /// running statistics): what its kernels are given.
    pub(crate) at: At,
}

impl Place {
    /// A placeholder, to initialise arrays of places.
    pub const EMPTY: Self = Self {
        index: 0,
        layer: Layer::ReLU,
        params: 0,
        sizes: (0, 0),
        at: At { input: Shape::Flat(0), output: Shape::Flat(0), running: 0, src: None, dst: 0, x_hat: 0, stats: 0 },
    };

    pub(crate) const fn weights(&self) -> usize {
        self.sizes.0
    }

    pub(crate) const fn biases(&self) -> usize {
        self.sizes.1
    }
}

/// Walks a declaration layer by layer, placing tensors and buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Walk<'n> {
    net: &'n Net<'n>,
    batch: usize,
    index: usize,
    pub(crate) shape: Shape,
    pub(crate) params: usize,
    pub(crate) running: usize,
    /// Next free activation offset.
    pub(crate) act: usize,
    /// The current activation's buffer (`None`: the caller's input).
    current: Option<usize>,
    /// Whether a later layer may overwrite the current activation.
    reusable: bool,
    /// Most channels of a BatchNorm layer.
    pub(crate) norm_channels: usize,
    /// Most scratch of one layer, per sample.
    pub(crate) scratch: usize,
    /// Most scratch of one layer, per output position.
    pub(crate) per_position: usize,
    /// The widest activation, per sample.
    pub(crate) widest: usize,
    /// The representation's shape, once the encoder's last layer is placed.
    pub(crate) repr: Shape,
    pub(crate) failed: Option<NetError>,
}

impl<'n> Walk<'n> {
    pub(crate) const fn new(net: &'n Net<'n>, batch: usize) -> Self {
        Self {
            net,
            batch,
            index: 0,
            shape: net.input,
            params: 0,
            running: 0,
            act: 0,
            current: None,
            reusable: false,
            norm_channels: 0,
            scratch: 0,
            per_position: 0,
            widest: net.input.len(),
            repr: net.input,
            failed: None,
        }
    }

    const fn fail(&mut self, reason: &'static str) -> Option<Place> {
        self.failed = Some(NetError { layer: self.index, reason });
        None
    }

    /// Reserves `len` samples' worth of N-row buffer; `None` on overflow.
    const fn reserve(&mut self, len: usize) -> Option<usize> {
        let at = self.act;
        match len.checked_mul(self.batch) {
            Some(size) => match self.act.checked_add(size) {
                Some(end) => {
                    self.act = end;
                    Some(at)
                }
                None => None,
            },
            None => None,
        }
    }

    /// The next layer's place, or `None` after the last layer or a fault
    /// (then [`error`](Self::error) says which).
    pub(crate) const fn next(&mut self) -> Option<Place> {
        if self.failed.is_some() {
            return None;
        }
        let Some(layer) = self.net.layer(self.index) else {
            return None;
        };
        let input = self.shape;
        let output = match layer.output(input) {
            Ok(s) => s,
            Err(reason) => return self.fail(reason),
        };
        if output.checked_len().is_none() {
            return self.fail("the output's size overflows");
        }
        let in_place = self.reusable && self.current.is_some();
        let src = self.current;
        let mut x_hat = 0;
        let mut stats = 0;
        // One sample's scratch: in the backward region, shared by every
        // layer and both views.
        // A kind's scratch is per output position.
        let scratch = layer.scratch(input);
        if scratch > self.scratch {
            self.scratch = scratch;
        }
        if let Some(per_position) = scratch.checked_div(output.length())
            && per_position > self.per_position
        {
            self.per_position = per_position;
        }
        if output.len() > self.widest {
            self.widest = output.len();
        }
        let dst = match layer.output_buffer() {
            Output::OverInput if in_place => match src {
                Some(at) => at,
                None => 0,
            },
            Output::OwnNormalisingInput => {
                if in_place {
                    x_hat = match src {
                        Some(at) => at,
                        None => 0,
                    };
                } else {
                    x_hat = match self.reserve(input.len()) {
                        Some(at) => at,
                        None => return self.fail("activations overflow"),
                    };
                }
                stats = self.act;
                self.act = match self.act.checked_add(input.channels().saturating_mul(2)) {
                    Some(end) => end,
                    None => return self.fail("activations overflow"),
                };
                match self.reserve(output.len()) {
                    Some(at) => at,
                    None => return self.fail("activations overflow"),
                }
            }
            Output::Own | Output::OverInput => match self.reserve(output.len()) {
                Some(at) => at,
                None => return self.fail("activations overflow"),
            },
        };
        let place = Place {
            index: self.index,
            layer,
            params: self.params,
            sizes: (layer.weights(input), layer.biases(input)),
            at: At { input, output, running: self.running, src, dst, x_hat, stats },
        };
        self.params = match self.params.checked_add(layer.parameter_count(input)) {
            Some(p) if layer.parameter_count(input) < usize::MAX => p,
            _ => return self.fail("parameters overflow"),
        };
        self.running += layer.running(input);
        if layer.batch_statistics() && input.channels() > self.norm_channels {
            self.norm_channels = input.channels();
        }
        self.shape = output;
        self.current = Some(dst);
        self.reusable = layer.output_reusable();
        if self.index + 1 == self.net.encoder.len() {
            // The representation is read after the step: nothing may
            // overwrite it.
            self.reusable = false;
            self.repr = output;
        }
        self.index += 1;
        Some(place)
    }

    /// Why the walk stopped short, if it did.
    pub(crate) const fn failed(&self) -> Option<NetError> {
        self.failed
    }

    /// Walks to the end; `Err` if a layer does not fit its input.
    pub(crate) const fn finish(mut self) -> Result<Self, NetError> {
        while self.next().is_some() {}
        match self.failed {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

impl<'a> Net<'a> {
    /// A declaration; [`check`](Self::check) says whether it is a network.
    #[must_use]
    pub const fn new(input: Shape, encoder: &'a [Layer], expander: &'a [Layer]) -> Self {
        Self { input, encoder, expander }
    }

    /// Layers in all, encoder then expander.
    #[must_use]
    pub const fn depth(&self) -> usize {
        self.encoder.len() + self.expander.len()
    }

    /// Layer `i` of the whole list (encoder, then expander).
    #[must_use]
    pub const fn layer(&self, i: usize) -> Option<Layer> {
        if i < self.encoder.len() {
            Some(self.encoder[i])
        } else if i - self.encoder.len() < self.expander.len() {
            Some(self.expander[i - self.encoder.len()])
        } else {
            None
        }
    }

    /// The input shape of layer `i` (the output of the last layer for
    /// `i = depth`); `None` past that or for an invalid network.
    #[must_use]
    pub const fn shape_before(&self, i: usize) -> Option<Shape> {
        let mut walk = Walk::new(self, 1);
        let mut shape = self.input;
        let mut k = 0;
        while k < i {
            match walk.next() {
                Some(p) => shape = p.at.output,
                None => return None,
            }
            k += 1;
        }
        Some(shape)
    }

    /// The most layers a network may have, encoder and expander together:
    /// far more than a network trained on a device has, and few enough that
    /// every reader of a layer list (checkpoints, the importers) bounds its
    /// work before it starts. [`check`](Self::check) refuses deeper lists.
    pub const MAX_DEPTH: usize = 1024;

    /// Checks that every layer takes the shape that reaches it, that every
    /// size fits in memory (no shape, activation or parameter count
    /// overflows `usize`) and that there are at most
    /// [`MAX_DEPTH`](Self::MAX_DEPTH) layers.
    ///
    /// # Errors
    ///
    /// The first layer at fault and why.
    pub const fn check(&self) -> Result<(), NetError> {
        if self.encoder.is_empty() {
            return Err(NetError { layer: 0, reason: "the encoder needs at least one layer" });
        }
        if self.depth() > Self::MAX_DEPTH {
            return Err(NetError { layer: Self::MAX_DEPTH, reason: "more layers than Net::MAX_DEPTH" });
        }
        if self.input.checked_len().is_none() {
            return Err(NetError { layer: 0, reason: "the input shape's size overflows" });
        }
        if self.input.is_empty() {
            return Err(NetError { layer: 0, reason: "the input shape is empty" });
        }
        match Walk::new(self, 1).finish() {
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Values in one input sample.
    #[must_use]
    pub const fn input_len(&self) -> usize {
        self.input.len()
    }

    /// Panics (at compile time, in a `const` item) with the reason if the
    /// declaration is not a network or holds an empty batch. A capacity of
    /// one row serves streamed steps (micro-batches of a row, the batch's
    /// statistics gathered by the stream) and inference; a full-batch step
    /// needs two rows and refuses fewer when it runs.
    ///
    /// # Panics
    ///
    /// As said; meant for `const _: () = NET.assert_valid(N);`, which the
    /// [`network!`](crate::network) macro writes.
    pub const fn assert_valid(&self, batch: usize) {
        assert!(batch >= 1, "a batch needs a capacity of at least 1 row");
        if let Err(e) = self.check() {
            panic!("{}", e.reason);
        }
    }

    /// Every layer's place for batches of up to `batch` rows, as a `const`
    /// array of the network's depth `D` (what [`network!`](crate::network)
    /// stores); [`Place::EMPTY`] past the last layer or for an invalid
    /// network.
    #[must_use]
    pub const fn places<const D: usize>(&self, batch: usize) -> [Place; D] {
        let mut out = [Place::EMPTY; D];
        let mut walk = Walk::new(self, batch);
        let mut i = 0;
        while i < D {
            match walk.next() {
                Some(p) => out[i] = p,
                None => break,
            }
            i += 1;
        }
        out
    }

    /// Fills `out` with every layer's place for batches of up to `batch`
    /// rows.
    ///
    /// # Errors
    ///
    /// The first layer that does not fit, or whose buffers for `batch` rows
    /// overflow; the depth if `out` is not the network's depth long.
    pub(crate) fn fill_places(&self, batch: usize, out: &mut [Place]) -> Result<(), NetError> {
        if out.len() != self.depth() {
            return Err(NetError { layer: self.depth(), reason: "not one place for each layer" });
        }
        let mut walk = Walk::new(self, batch);
        for slot in out.iter_mut() {
            match walk.next() {
                Some(p) => *slot = p,
                None => break,
            }
        }
        match walk.failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether a layer of this kind appears in the network.
    #[must_use]
    pub const fn uses(&self, kind: Layer) -> bool {
        self.count(kind) > 0
    }

    /// Layers of this kind in the network (whatever their sizes).
    #[must_use]
    pub const fn count(&self, kind: Layer) -> usize {
        let (mut i, mut count) = (0, 0);
        while i < self.depth() {
            if let Some(layer) = self.layer(i)
                && layer.same_kind(kind)
            {
                count += 1;
            }
            i += 1;
        }
        count
    }

    /// The passes a streamed batch takes ([`Stream`](super::Stream)):
    /// 2k + 2 for k BatchNorm layers.
    #[must_use]
    pub const fn stream_stages(&self) -> usize {
        let (mut k, mut i) = (0, 0);
        while let Some(layer) = self.layer(i) {
            k += layer.batch_statistics() as usize;
            i += 1;
        }
        2 * k + 2
    }
}

impl Net<'_> {
    /// The kinds the network uses, one bit each ([`Layer::bit`](super::Layer::bit)):
    /// a [`Kinds`](super::Kinds) set's `SET`.
    #[must_use]
    pub const fn kind_set(&self) -> u32 {
        let (mut set, mut i) = (0, 0);
        while let Some(layer) = self.layer(i) {
            set |= layer.bit();
            i += 1;
        }
        set
    }

    /// Whether the input is a map (C×T or C×H×W).
    #[must_use]
    pub const fn uses_maps(&self) -> bool {
        !matches!(self.input, Shape::Flat(_))
    }
}

#[cfg(test)]
mod tests {
    //! Sizes and places worked out by hand from the layout in the module's
    //! documentation, for small declarations that exercise each rule: a
    //! buffer per Linear, ReLU in place, BatchNorm normalising in place or
    //! not, the representation kept intact, the two gradient buffers.

    use super::*;
    use crate::error::tests::message;
    use crate::loss::{CovarianceSide, scratch_len};
    use crate::nn::{Role, Tensor, Tensors};

    const N: usize = 4;

    /// 3 → Linear 4 → ReLU | Linear 2.
    const PLAIN: Net = Net::new(Shape::Flat(3), &[Layer::linear(4), Layer::ReLU], &[Layer::linear(2)]);
    /// 3 → Linear 4 → BatchNorm → ReLU | Linear 2 (no bias).
    const NORMED: Net = Net::new(
        Shape::Flat(3),
        &[Layer::linear(4), Layer::BatchNorm, Layer::ReLU],
        &[Layer::linear(2).without_bias()],
    );
    /// 3 → Linear 4 | BatchNorm → ReLU → Linear 2: the expander's BatchNorm
    /// may not normalise the representation in place.
    const KEPT: Net = Net::new(Shape::Flat(3), &[Layer::linear(4)], &[Layer::BatchNorm, Layer::ReLU, Layer::linear(2)]);

    /// 2×9 map → Conv1d 3, kernel 4, stride 2.
    const CONV: Net = Net::new(Shape::Map { channels: 2, length: 9 }, &[Layer::conv1d(3, 4).stride(2)], &[]);
    /// usize::MAX weights (out × 1) and as many biases: the count
    /// saturates, which is an overflow, not a size.
    const TOO_WIDE: Net = Net::new(Shape::Flat(1), &[Layer::linear(usize::MAX)], &[]);
    /// MeanTime needs a map.
    const MISFIT: Net = Net::new(Shape::Flat(3), &[Layer::linear(4)], &[Layer::ReLU, Layer::MeanTime]);

    #[test]
    fn sizes_follow_the_documented_layout() {
        // PLAIN: Linear 4 owns rows 0..4N, ReLU overwrites them, Linear 2
        // owns 4N..6N, then ∂ℓ/∂z (2N). Backward: ∂ℓ/∂z (width 2) in the
        // first buffer, Linear 2's ∂ℓ/∂input (width 4) in the second; the
        // first layer's is never formed.
        let s = PLAIN.sizes(N);
        assert_eq!((s.input, s.repr, s.embed, s.parameters, s.running), (3, 4, 2, 3 * 4 + 4 + 4 * 2 + 2, 0));
        assert_eq!((s.view, s.ping, s.pong, s.backward), (8 * N, 2 * N, 4 * N, 6 * N));
        assert_eq!(s.loss, scratch_len(N, 2, CovarianceSide::Auto));
        assert_eq!(s.workspace, 2 * s.view + s.backward + s.loss);
        assert_eq!((PLAIN.input_len(), PLAIN.repr_len(), PLAIN.embed_len()), (3, 4, 2));
        assert_eq!((PLAIN.parameter_count(), PLAIN.running_len(), PLAIN.workspace_len(N)), (26, 0, s.workspace));

        // NORMED: BatchNorm normalises Linear's rows in place (x̂ = src), its
        // statistics take 2·4 values, its output 4N; ReLU works over it.
        // Backward adds BatchNorm's sums, 2 per channel.
        let s = NORMED.sizes(N);
        assert_eq!((s.parameters, s.running), (3 * 4 + 4 + 4 + 4 + 4 * 2, 8));
        assert_eq!((s.view, s.ping, s.pong, s.backward), (4 * N + 8 + 4 * N + 2 * N + 2 * N, 2 * N, 4 * N, 6 * N + 8));
        let p: [Place; 4] = NORMED.places(N);
        assert_eq!((p[0].at.src, p[0].at.dst), (None, 0));
        assert_eq!((p[1].at.src, p[1].at.x_hat, p[1].at.stats, p[1].at.dst), (Some(0), 0, 4 * N, 4 * N + 8));
        assert_eq!((p[2].at.src, p[2].at.dst), (Some(4 * N + 8), 4 * N + 8));
        assert_eq!((p[3].at.src, p[3].at.dst, p[3].params), (Some(4 * N + 8), 8 * N + 8, 24));
        assert_eq!((p[1].params, p[1].at.running, p[2].params), (16, 0, 24));
        assert_eq!(NORMED.running_len(), 8);
        // A streamed step keeps the stream's state (a head of 8, then per view
        // three running-sized blocks, 3d for the mean, its low part and the
        // weights, d² for the co-moment; here d = 2) and one micro-batch of
        // both views' inputs (3 values a row).
        let state = 8 + 2 * (3 * 8 + 3 * 2 + 2 * 2);
        assert_eq!(s.stream_state(), state);
        assert_eq!(NORMED.streaming_len(N), state + 2 * N * 3);

        // KEPT: the representation (rows 0..4N) survives; BatchNorm's x̂ gets
        // a buffer of its own.
        let p: [Place; 4] = KEPT.places(N);
        assert_eq!((p[1].at.src, p[1].at.x_hat, p[1].at.stats, p[1].at.dst), (Some(0), 4 * N, 8 * N, 8 * N + 8));
        assert_eq!(KEPT.sizes(N).view, 12 * N + 8 + 2 * N + 2 * N);

        // Past the depth a const array is padded with empty places.
        let padded: [Place; 5] = PLAIN.places(N);
        assert_eq!(padded[3], Place::EMPTY);
        let mut exact = [Place::EMPTY; 3];
        assert!(PLAIN.fill_places(N, &mut exact).is_ok() && exact[..] == padded[..3]);
        assert_eq!(PLAIN.fill_places(N, &mut [Place::EMPTY; 2]).map_err(|e| e.layer), Err(3));
    }

    #[test]
    fn a_convolution_takes_the_scratch_of_a_sample_or_of_the_widest_activation() {
        // Conv1d 2→8 (k3) over 2×10: 8 positions of 2·3 taps + 8 outputs,
        // one sample's scratch 8·14 = 112 values; the widest activation is
        // its output, 8·8 = 64 a row.
        const CONV: Net = Net::new(Shape::Map { channels: 2, length: 10 }, &[Layer::conv1d(8, 3)], &[Layer::MeanTime]);
        const WIDE: Net = Net::new(Shape::Map { channels: 2, length: 3 }, &[Layer::conv1d(1, 3).padding(1)], &[]);
        // Two such layers, the wider per position first (2·3 + 1 against
        // 1 + 1): the scratch is the widest position's.
        const TWO: Net = Net::new(
            Shape::Map { channels: 2, length: 1 },
            &[Layer::conv1d(1, 3).padding(1), Layer::conv1d(1, 1)],
            &[],
        );
        let halves = |batch: usize| {
            let s = CONV.sizes(batch);
            (s.backward - s.ping - s.pong) / 2
        };
        // Rows of 64 values: 2 and more rows hold a sample's scratch;
        // a row of one holds 64 / 14 = 4 positions at a time.
        assert_eq!((halves(4), halves(2), halves(1)), (112, 112, 64));
        // Wider taps than a row of activations: one position at a time.
        let s = WIDE.sizes(1);
        assert_eq!(((s.backward - s.ping - s.pong) / 2, s.view), (2 * 3 + 1, 3 + 3));
        let s = TWO.sizes(1);
        assert_eq!((s.backward - s.ping - s.pong) / 2, 2 * 3 + 1);
    }

    #[test]
    fn tensors_are_named_shaped_and_decayed_as_in_pytorch() {
        let mut t = NORMED.tensors();
        let mut next = || t.next().unwrap();
        let w = next();
        assert_eq!(
            (w.layer, w.role, w.name(), w.offset, &w.dims[..w.rank], w.decays),
            (0, Role::Weight, "weight", 0, &[4, 3][..], true)
        );
        assert_eq!((w.len(), w.is_empty(), w.range()), (12, false, 0..12));
        let b = next();
        assert_eq!(
            (b.role, b.name(), b.offset, &b.dims[..b.rank], b.decays),
            (Role::Bias, "bias", 12, &[4][..], false)
        );
        let (gamma, beta) = (next(), next());
        assert_eq!(
            (gamma.kind, gamma.role, gamma.offset, &gamma.dims[..1], gamma.decays),
            (Layer::BatchNorm, Role::Weight, 16, &[4][..], false)
        );
        assert_eq!((beta.role, beta.offset, beta.decays), (Role::Bias, 20, false));
        let last = next();
        assert_eq!((last.layer, last.offset, &last.dims[..last.rank], last.decays), (3, 24, &[2, 4][..], true));
        assert_eq!(t.next(), None, "the last Linear has no bias");
        // The precomputed places walk the same tensors.
        let places: [Place; 4] = NORMED.places(N);
        assert!(Tensors::of(&places).eq(NORMED.tensors()));

        let w = CONV.tensors().next().unwrap();
        assert_eq!((&w.dims[..w.rank], w.len(), w.decays), (&[3, 2, 4][..], 24, true));
        let empty = Tensor { dims: [0; 4], rank: 1, ..w };
        assert!(empty.is_empty() && empty.range().is_empty());
    }

    #[test]
    fn kinds_are_counted() {
        assert_eq!(
            (NORMED.count(Layer::BatchNorm), NORMED.count(Layer::linear(99)), NORMED.count(Layer::MeanTime)),
            (1, 2, 0)
        );
        assert!(NORMED.uses(Layer::ReLU) && !NORMED.uses(Layer::conv1d(1, 1)) && !PLAIN.uses(Layer::BatchNorm));
        assert_eq!((PLAIN.stream_stages(), NORMED.stream_stages()), (2, 4));
    }

    #[test]
    fn faults_name_their_layer() {
        assert_eq!(TOO_WIDE.check(), Err(NetError { layer: 0, reason: "parameters overflow" }));
        let s = TOO_WIDE.sizes(N);
        assert_eq!((s.input, s.repr, s.parameters, s.workspace), (0, 0, 0, 0), "an invalid network has no sizes");
        let e = MISFIT.check().unwrap_err();
        assert_eq!(e.layer, 2);
        let m = message(e);
        let text = m.as_str();
        assert!(text.starts_with("layer 2: ") && text.len() > 12, "{text}");
    }

    #[test]
    fn a_valid_declaration_passes_its_compile_time_check() {
        PLAIN.assert_valid(2);
    }

    #[test]
    #[should_panic(expected = "at least 1 row")]
    fn an_empty_batch_is_refused() {
        PLAIN.assert_valid(0);
    }

    #[test]
    #[should_panic(expected = "parameters overflow")]
    fn an_invalid_declaration_is_refused() {
        Net::new(Shape::Flat(1), &[Layer::linear(usize::MAX / 4), Layer::linear(3)], &[]).assert_valid(2);
    }

    static RELUS: [Layer; Net::MAX_DEPTH + 1] = [Layer::ReLU; Net::MAX_DEPTH + 1];

    #[test]
    fn sizes_that_overflow_and_lists_too_deep_are_refused() {
        // The input's size overflows: refused by check, and so by sizes.
        let wide = Net::new(Shape::Map { channels: usize::MAX / 2, length: 3 }, &[Layer::MeanTime], &[]);
        assert_eq!(wide.check().map_err(|e| e.layer), Err(0));
        assert_eq!(wide.sizes(2).input, 0);
        // A layer's output overflows.
        let encoder = [Layer::conv1d(usize::MAX / 2, 1)];
        let grown = Net::new(Shape::Map { channels: 1, length: 4 }, &encoder, &[]);
        assert!(grown.check().is_err());
        // Depth: MAX_DEPTH layers are a network, one more is not.
        let relus = &RELUS;
        assert!(Net::new(Shape::Flat(2), &relus[..Net::MAX_DEPTH], &[]).check().is_ok());
        let deep = Net::new(Shape::Flat(2), &relus[..Net::MAX_DEPTH], &relus[..1]);
        assert_eq!(deep.check().map_err(|e| e.layer), Err(Net::MAX_DEPTH));
        assert_eq!(deep.parameter_count(), 0);
    }

    /// The gradient buffers' widths, walked from the bottom, against the
    /// rule walked from the top (as the backward pass takes it), on lists
    /// that mix shape-changing and in-place layers.
    #[test]
    fn gradient_widths_follow_the_backward_pass() {
        fn from_top(net: &Net<'_>) -> (usize, usize) {
            let mut widths = [net.shape_before(net.depth()).unwrap().len(), 0];
            let mut current = 0;
            for i in (1..net.depth()).rev() {
                if net.layer(i).unwrap().output_buffer().swaps() {
                    current = 1 - current;
                    widths[current] = widths[current].max(net.shape_before(i).unwrap().len());
                }
            }
            (widths[0], widths[1])
        }
        let encoder = [Layer::linear(7), Layer::ReLU, Layer::linear(3), Layer::BatchNorm, Layer::linear(9)];
        let expander = [Layer::ReLU, Layer::linear(5), Layer::BatchNorm, Layer::ReLU, Layer::linear(11)];
        for cut in 1..=encoder.len() {
            for top in 0..=expander.len() {
                let net = Net::new(Shape::Flat(4), &encoder[..cut], &expander[..top]);
                assert_eq!(net.gradient_widths(), from_top(&net), "{cut} {top}");
            }
        }
        assert_eq!(CONV.gradient_widths(), from_top(&CONV));
        assert_eq!(KEPT.gradient_widths(), from_top(&KEPT));
    }
}
