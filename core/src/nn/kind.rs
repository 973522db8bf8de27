//! What a kind of layer is to the rest of the crate: the constant facts the
//! walk, the checkpoints and the importers read ([`Kind`]), and the two
//! calls the passes make ([`Forward`], [`Backward`]). Each kind's module
//! implements these; [`registry`](super::registry) lists the kinds once and
//! generates [`Layer`](super::Layer) and every dispatch on it from them.
//!
//! Shape-dependent facts are `const fn`s (a network is checked at compile
//! time, and trait methods cannot be `const`), written as inherent methods
//! of the same names by every kind: `output`, `weight_dims`, `biases`,
//! `fan_in`, `running`, `scratch`, `record`, `from_record`.

use super::shape::Shape;
use crate::error::Error;
use crate::lanes::Lanes;
use crate::loss::Sides;

/// A set of layer kinds known at compile time, and whether the loss's
/// feature side can be taken ([`Sides`]): the passes are compiled with the
/// kernels of these kinds only, so flash grows with the kinds a firmware
/// uses, not with every kind this crate knows.
pub trait KindSet: Sides + 'static {
    /// The kinds used, one bit each ([`Layer::bit`](super::Layer::bit));
    /// Linear and ReLU are always in.
    const SET: u32;
    /// Whether maps (C×T or C×H×W) flow through the network.
    const MAPS: bool;
}

/// The kind set with these flags; [`network!`](crate::network) names the one
/// its declaration needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds<const SET: u32, const MAPS: bool, const FEATURE: bool>;

impl<const S: u32, const M: bool, const F: bool> KindSet for Kinds<S, M, F> {
    const SET: u32 = S;
    const MAPS: bool = M;
}

impl<const S: u32, const M: bool, const F: bool> Sides for Kinds<S, M, F> {
    const FEATURE: bool = F;
}

/// Every kind: for networks known only at run time.
pub type AllKinds = Kinds<{ u32::MAX }, true, true>;

/// Where one layer reads and writes, from its [`Place`](super::Place).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct At {
    pub(crate) input: Shape,
    pub(crate) output: Shape,
    /// Activation offset of the input; `None` for the caller's input.
    pub(crate) src: Option<usize>,
    /// Activation offset of the output.
    pub(crate) dst: usize,
    /// BatchNorm: activation offset of x̂.
    pub(crate) x_hat: usize,
    /// BatchNorm: activation offset of the batch means, then 1/√(σ² + eps).
    pub(crate) stats: usize,
    /// Offset in the running statistics (and in a stream's statistics).
    pub(crate) running: usize,
}

/// Where a layer writes its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Into a buffer of its own; backward writes ∂ℓ/∂input into the other
    /// gradient buffer.
    Own,
    /// Over its input (ReLU), when the input may be overwritten; backward
    /// works in place.
    OverInput,
    /// Into a buffer of its own, after normalising its input in place into
    /// x̂ when the input may be overwritten (BatchNorm); backward works in
    /// place.
    OwnNormalisingInput,
}

impl Output {
    /// Whether backward leaves ∂ℓ/∂input in the other gradient buffer (the
    /// passes then swap the two): the rule the sizing of those buffers
    /// follows too.
    pub(crate) const fn swaps(self) -> bool {
        matches!(self, Self::Own)
    }
}

/// The settings of every kind that normalises with batch statistics
/// (BatchNorm), shared by all such layers of a network.
///
/// ```
/// use vicreg::nn::NormConfig;
/// assert!(NormConfig::TORCH.validate().is_ok());
/// assert!(NormConfig { momentum: 1.5, ..NormConfig::TORCH }.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct NormConfig {
    /// Added to the variance before the square root (PyTorch: 1e-5).
    pub eps: f32,
    /// Weight of a new batch in the running statistics, in [0, 1]
    /// (PyTorch: 0.1).
    pub momentum: f32,
}

impl NormConfig {
    /// PyTorch's defaults: eps 1e-5, momentum 0.1.
    pub const TORCH: Self = Self { eps: 1e-5, momentum: 0.1 };

    /// Checks that eps is positive and finite and the momentum in [0, 1].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        let ok = self.eps.is_finite() && self.eps > 0.0 && (0.0..=1.0).contains(&self.momentum);
        if ok { Ok(()) } else { Err(Error::InvalidConfig) }
    }
}

impl Default for NormConfig {
    fn default() -> Self {
        Self::TORCH
    }
}

/// How a kind's parameters start (PyTorch's defaults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Init {
    /// Weights and bias uniform in ±1/√fan_in (Linear, Conv1d).
    FanIn,
    /// Weights 1 and bias 0: the identity affine map (BatchNorm's γ, β).
    Identity,
}

/// A weight tensor's shape in PyTorch's layout: the used entries of `dims`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Dims {
    pub(crate) dims: [usize; 4],
    pub(crate) rank: usize,
}

impl Dims {
    /// No weight tensor.
    pub(crate) const NONE: Self = Self { dims: [0; 4], rank: 0 };

    /// Elements (saturating; a network whose sizes overflow is refused).
    pub(crate) const fn len(self) -> usize {
        let [a, b, c, d] = self.dims;
        // Unused dimensions are zero, so no weight tensor has no elements.
        match self.rank {
            1 => a,
            2 => a.saturating_mul(b),
            3 => a.saturating_mul(b).saturating_mul(c),
            _ => a.saturating_mul(b).saturating_mul(c).saturating_mul(d),
        }
    }
}

/// A count as a checkpoint record number: counts past `u32::MAX` are
/// written as `u32::MAX`, which the reader then refuses (no network that
/// wide fits a device this format serves).
pub(crate) const fn record_number(x: usize) -> u32 {
    #[allow(clippy::cast_possible_truncation)] // checked first
    if x > u32::MAX as usize { u32::MAX } else { x as u32 }
}

/// The record of a kind without settings (BatchNorm, ReLU, MeanTime): no
/// flags, no numbers.
macro_rules! settingless {
    ($kind:ident) => {
        // The registry's interface: every kind answers the same calls.
        #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
        impl $kind {
            pub(crate) const fn record(self) -> (u8, [u32; 4]) {
                (0, [0; 4])
            }

            pub(crate) fn from_record(_flags: u8, _numbers: [u32; 4]) -> Option<Self> {
                Some(Self)
            }
        }
    };
}
pub(crate) use settingless;

/// The shape-independent answers of a kind without settings or parameters
/// (ReLU, MeanTime): no weights, bias or running statistics, an empty
/// record. Such a kind's file writes its shape rule (`output`) and this.
macro_rules! parameterless {
    ($kind:ident) => {
        crate::nn::kind::settingless!($kind);

        // The registry's interface: every kind answers the same calls.
        #[allow(clippy::unused_self)]
        impl $kind {
            pub(crate) const fn weight_dims(self, _input: crate::nn::Shape) -> crate::nn::kind::Dims {
                crate::nn::kind::Dims::NONE
            }

            pub(crate) const fn biases(self, _input: crate::nn::Shape) -> usize {
                0
            }

            pub(crate) const fn fan_in(self, input: crate::nn::Shape) -> usize {
                input.len()
            }

            pub(crate) const fn running(self, _input: crate::nn::Shape) -> usize {
                0
            }

            pub(crate) const fn scratch(self, _input: crate::nn::Shape) -> usize {
                0
            }
        }
    };
}
pub(crate) use parameterless;

/// One of a kind's settings as the reference format writes it: a count
/// (`"out": 24`), or a pair of counts, one per axis of an image
/// (`"kernel": [3, 3]`, height then width). A checkpoint record holds a
/// pair in one number, the first count in the low 16 bits, so each count
/// of a pair is at most 65,535.
///
/// ```
/// use vicreg::nn::{Field, Layer};
/// let (fields, numbers, _) = Layer::conv2d(8, [3, 2]).settings();
/// assert_eq!(fields[1], Field::pair("kernel"));
/// assert_eq!(fields[1].counts(numbers[1]), &[3, 2][..]);
/// assert_eq!(Field::one("out").counts(24), &[24][..]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name in the reference format.
    pub name: &'static str,
    /// Whether it is a pair of counts rather than one.
    pub pair: bool,
}

impl Field {
    /// A single count.
    #[must_use]
    pub const fn one(name: &'static str) -> Self {
        Self { name, pair: false }
    }

    /// A pair of counts (height, width).
    #[must_use]
    pub const fn pair(name: &'static str) -> Self {
        Self { name, pair: true }
    }

    /// The counts a record number holds for this field: one, or two.
    #[must_use]
    pub fn counts(self, number: u32) -> Counts {
        if self.pair {
            Counts { values: [number & 0xFFFF, number >> 16], len: 2 }
        } else {
            Counts { values: [number, 0], len: 1 }
        }
    }

    /// The record number of `counts` (as many as the field has), or `None`
    /// if one is missing or a pair's count does not fit in 16 bits.
    pub(crate) fn number(self, mut count: impl FnMut(usize) -> Option<u32>) -> Option<u32> {
        if !self.pair {
            return count(0);
        }
        let (first, second) = (count(0)?, count(1)?);
        (first <= 0xFFFF && second <= 0xFFFF).then_some(first | second << 16)
    }
}

/// The counts of one [`Field`]: dereferences to a slice of one or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    values: [u32; 2],
    len: usize,
}

impl core::ops::Deref for Counts {
    type Target = [u32];

    fn deref(&self) -> &[u32] {
        &self.values[..self.len]
    }
}

impl PartialEq<&[u32]> for Counts {
    fn eq(&self, other: &&[u32]) -> bool {
        **self == **other
    }
}

/// A pair of counts as one record number, the first in the low 16 bits.
pub(crate) const fn record_pair(pair: [u16; 2]) -> u32 {
    pair[0] as u32 | (pair[1] as u32) << 16
}

/// The pair a record number holds.
pub(crate) const fn pair_of(number: u32) -> [u16; 2] {
    #[allow(clippy::cast_possible_truncation)] // each half is 16 bits
    [number as u16, (number >> 16) as u16]
}

/// Record flag: the layer has a bias.
pub(crate) const BIAS: u8 = 1;

/// The constant facts and the kernels of one kind of layer. No fact has a
/// default: a kind that leaves one out does not compile.
pub(crate) trait Kind: Copy {
    /// Checkpoint tag: a file format, so never reuse or renumber one.
    const TAG: u8;
    /// The reference format's `type` (as `torch.nn` modules are named).
    const NAME: &'static str;
    /// The reference format's settings, one per record number, in order
    /// (`out`, or `out_channels`, `kernel`, `stride`, `padding`).
    const FIELDS: &'static [Field];
    /// Whether the bias is optional (record flag [`BIAS`]; JSON `bias`).
    const OPTIONAL_BIAS: bool;
    /// Where the output goes, and so whether backward swaps buffers.
    const OUTPUT: Output;
    /// Whether a later layer may overwrite the output in place (not ReLU's,
    /// whose backward pass reads it).
    const REUSABLE: bool;
    /// Whether the weight tensor takes weight decay and LARS's trust ratio
    /// (the official recipe exempts biases and normalisation parameters).
    const DECAYS: bool;
    /// Whether the kernels are compiled into every network's passes (Linear,
    /// ReLU), or only into those of networks that use the kind.
    const ALWAYS: bool;
    /// Whether forward needs the whole batch's statistics (BatchNorm): a
    /// streamed batch stops at such a layer, and the kind keeps running
    /// statistics for inference.
    const BATCH_STATISTICS: bool;
    /// How its parameters start.
    const INIT: Init;
    /// One layer of the kind, for tests that go through every kind.
    const EXAMPLE: Self;

    /// One layer forward on `n` rows; false if the result cannot be trusted
    /// (BatchNorm's statistics overflowed).
    fn forward<K: KindSet, const STREAM: bool>(self, f: Forward<'_>) -> bool;

    /// One layer backward on `n` rows: ∂ℓ/∂weights (if it trains) and
    /// ∂ℓ/∂input (if asked) from ∂ℓ/∂output.
    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>);

    // The hooks of a kind with batch statistics (`BATCH_STATISTICS`); the
    // passes call them only for such kinds, and the registry's test checks
    // that such a kind has them.

    /// Streaming: folds a micro-batch's input (rows of `length` positions
    /// per channel) into the per-channel mean (hi, lo) and M₂ of the `count`
    /// values already absorbed.
    fn absorb_moments(
        self,
        _x: &[f32],
        _length: usize,
        _count: usize,
        _mean: (&mut [f32], &mut [f32]),
        _m2: &mut [f32],
    ) {
    }

    /// Streaming: the statistics a layer normalises with, from the moments
    /// of `values` values a channel (M₂ becomes 1/√(σ² + eps)); false if one
    /// overflowed.
    fn settle_statistics(self, _mean: (&mut [f32], &mut [f32]), _m2: &mut [f32], _values: f32, _eps: f32) -> bool {
        true
    }

    /// Folds both views' batch statistics (mean, 1/√(σ² + eps) per channel,
    /// over `count` values) into the running mean and variance, only if
    /// `commit`; false if a new value is not finite.
    fn update_running(
        self,
        _views: [(&[f32], &[f32]); 2],
        _norm: NormConfig,
        _count: usize,
        _running: (&mut [f32], &mut [f32]),
        _commit: bool,
    ) -> bool {
        true
    }
}

/// Statistics a streamed pass normalises with: per BatchNorm layer at its
/// running offset, the whole batch's mean and 1/√(σ² + eps), and the
/// mean's low part (the mean is hi + lo, as the corrected two-pass centring
/// has it).
#[derive(Clone, Copy)]
pub(crate) struct Given<'s> {
    pub(crate) stats: &'s [f32],
    pub(crate) lo: &'s [f32],
}

/// One layer's forward call.
pub(crate) struct Forward<'a> {
    pub(crate) lanes: Lanes,
    /// BatchNorm's eps (the network's `NormConfig`).
    pub(crate) eps: f32,
    /// Running statistics: inference.
    pub(crate) running: Option<&'a [f32]>,
    /// The whole batch's statistics: a streamed pass.
    pub(crate) given: Option<Given<'a>>,
    pub(crate) w: &'a [f32],
    pub(crate) b: &'a [f32],
    pub(crate) at: &'a At,
    /// The caller's input, read by the first layer.
    pub(crate) x: &'a [f32],
    pub(crate) n: usize,
    pub(crate) act: &'a mut [f32],
    /// Scratch for a kind that has some (the convolutions), at least one
    /// output position's and at most one sample's: the backward pass's
    /// sums, which no forward pass needs, so that the layers and both views
    /// share one region.
    pub(crate) scratch: &'a mut [f32],
}

impl Forward<'_> {
    /// Values of the input, n rows.
    pub(crate) fn input_len(&self) -> usize {
        self.n * self.at.input.len()
    }

    /// The input (`act[src..]` or the caller's) and `act[dst..]` as the
    /// output: inputs are always placed before outputs.
    pub(crate) fn io(&mut self) -> (&[f32], &mut [f32]) {
        io(self.x, self.act, self.at, self.n)
    }

    /// The input, the scratch, and the output.
    pub(crate) fn io_scratch(&mut self) -> (&[f32], &mut [f32], &mut [f32]) {
        let (input, output) = io(self.x, self.act, self.at, self.n);
        (input, &mut *self.scratch, output)
    }

    /// Copies the input to `act[to..]`, unless it is there.
    pub(crate) fn copy_input(&mut self, to: usize) {
        copy_input(self.x, self.act, self.at.src, to, self.n * self.at.input.len());
    }
}

fn io<'a>(x: &'a [f32], act: &'a mut [f32], at: &At, n: usize) -> (&'a [f32], &'a mut [f32]) {
    let (in_len, out_len) = (n * at.input.len(), n * at.output.len());
    match at.src {
        None => (&x[..in_len], &mut act[at.dst..at.dst + out_len]),
        Some(src) => {
            let (before, from) = act.split_at_mut(at.dst);
            (&before[src..src + in_len], &mut from[..out_len])
        }
    }
}

fn copy_input(x: &[f32], act: &mut [f32], src: Option<usize>, to: usize, len: usize) {
    match src {
        None => act[to..to + len].copy_from_slice(&x[..len]),
        Some(from) if from != to => act.copy_within(from..from + len, to),
        Some(_) => {}
    }
}

/// What a streamed backward stage gives a kind with batch statistics.
pub(crate) struct StreamSums<'a> {
    /// The whole batch's sums at each such layer's running offset.
    pub(crate) sums: &'a mut [f32],
    /// Rows in the whole batch.
    pub(crate) rows: usize,
    /// Whether this layer is the stage's target, whose sums it accumulates.
    pub(crate) target: bool,
}

/// One layer's backward call.
pub(crate) struct Backward<'a> {
    pub(crate) lanes: Lanes,
    pub(crate) at: &'a At,
    pub(crate) w: &'a [f32],
    /// ∂ℓ/∂weights and ∂ℓ/∂bias, accumulated into.
    pub(crate) gw: &'a mut [f32],
    pub(crate) gb: &'a mut [f32],
    /// Whether this pass accumulates the layer's gradients.
    pub(crate) trains: bool,
    /// Whether the layer is frozen.
    pub(crate) frozen: bool,
    /// The layer's input, n rows.
    pub(crate) input: &'a [f32],
    /// Every activation of the forward pass.
    pub(crate) act: &'a [f32],
    /// ∂ℓ/∂output, n rows; in-place kinds leave ∂ℓ/∂input here.
    pub(crate) dy: &'a mut [f32],
    /// Where a kind that swaps writes ∂ℓ/∂input; `None` when it is not
    /// needed (the lowest layer of the pass).
    pub(crate) dx: Option<&'a mut [f32]>,
    /// Scratch, twice: per channel of the widest BatchNorm, and at least
    /// one output position's backward scratch of a kind that has some (the
    /// convolutions, which take as many positions at a time as fit).
    pub(crate) scratch: (&'a mut [f32], &'a mut [f32]),
    /// A streamed stage's sums; `None` for a full batch.
    pub(crate) stream: Option<StreamSums<'a>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_two_counts_of_16_bits_in_one_number() {
        let kernel = Field::pair("kernel");
        assert_eq!(kernel.number(|i| [Some(3), Some(2)][i]), Some(3 | 2 << 16));
        assert_eq!(kernel.counts(3 | 2 << 16), &[3, 2][..]);
        assert!(kernel.counts(3 | 2 << 16) != &[2, 3][..]);
        assert_eq!(record_pair([0xFFFF, 1]), 0xFFFF | 1 << 16);
        assert_eq!(pair_of(0xFFFF | 1 << 16), [0xFFFF, 1]);
        // Either count past 16 bits, or missing, is refused.
        for counts in [[Some(1 << 16), Some(1)], [Some(1), Some(1 << 16)], [Some(1), None]] {
            assert_eq!(kernel.number(|i| counts[i]), None, "{counts:?}");
        }
        let out = Field::one("out");
        assert_eq!(
            (out.number(|_| Some(1 << 20)), out.counts(1 << 20)),
            (Some(1 << 20), Counts { values: [1 << 20, 0], len: 1 })
        );
        assert_eq!(&*out.counts(7), &[7]);
    }
}
