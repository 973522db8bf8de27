//! The kinds of layer a network is declared from, and the one place that
//! dispatches on the kind: shapes, parameter counts, buffers and checkpoint
//! records. A new kind is a file with its kernels and its shape rule, plus
//! a variant and its arms here and in the passes of [`siamese`](super::siamese).

use super::conv1d::Conv1d;
use super::linear::Linear;
use super::shape::Shape;

/// One layer of a network, declared by what it adds to the shape that
/// reaches it: every width is written once.
///
/// ```
/// use vicreg::nn::Layer;
/// // Conv1d: 16 output channels, kernel 5, stride 2, padding 2, no bias.
/// let conv = Layer::conv1d(16, 5).stride(2).padding(2).without_bias();
/// let head = [Layer::linear(128), Layer::BatchNorm, Layer::ReLU, Layer::linear(64).without_bias()];
/// assert_eq!(conv.name(), "conv1d");
/// assert_eq!(head[3], Layer::Linear(vicreg::nn::Linear { out: 64, bias: false }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Layer {
    /// out = x·Wᵀ + b over the whole sample (a map is flattened
    /// channel-major).
    Linear(Linear),
    /// Batch normalisation per channel (per feature of a vector), with
    /// affine γ, β and running statistics for inference.
    BatchNorm,
    /// max(0, x).
    ReLU,
    /// A 1-D convolution over a C×T map.
    Conv1d(Conv1d),
    /// The mean over time of a C×T map: C×T → C.
    MeanTime,
}

/// Where a layer writes its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Into a buffer of its own.
    Own,
    /// Over its input (ReLU), when the input may be overwritten.
    OverInput,
    /// Into a buffer of its own, after normalising its input in place into
    /// x̂ when the input may be overwritten (BatchNorm).
    OwnNormalisingInput,
}

/// Checkpoint tags of the kinds; never reuse one.
const LINEAR: u8 = 1;
const BATCH_NORM: u8 = 2;
const RELU: u8 = 3;
const CONV1D: u8 = 4;
const MEAN_TIME: u8 = 5;
/// Record flag: the layer has a bias.
const BIAS: u8 = 1;

impl Layer {
    /// A Linear layer with `out` outputs and a bias.
    #[must_use]
    pub const fn linear(out: usize) -> Self {
        Self::Linear(Linear { out, bias: true })
    }

    /// A Conv1d layer with `out_channels` outputs and kernel length
    /// `kernel`, stride 1, no padding and a bias.
    #[must_use]
    pub const fn conv1d(out_channels: usize, kernel: usize) -> Self {
        Self::Conv1d(Conv1d { out_channels, kernel, stride: 1, padding: 0, bias: true })
    }

    /// This Conv1d layer with stride `stride` (other kinds unchanged).
    #[must_use]
    pub const fn stride(self, stride: usize) -> Self {
        match self {
            Self::Conv1d(c) => Self::Conv1d(Conv1d { stride, ..c }),
            other => other,
        }
    }

    /// This Conv1d layer with `padding` zeros at each end (other kinds
    /// unchanged).
    #[must_use]
    pub const fn padding(self, padding: usize) -> Self {
        match self {
            Self::Conv1d(c) => Self::Conv1d(Conv1d { padding, ..c }),
            other => other,
        }
    }

    /// This Linear or Conv1d layer without its bias (the official
    /// expander's last Linear has none).
    #[must_use]
    pub const fn without_bias(self) -> Self {
        match self {
            Self::Linear(l) => Self::Linear(Linear { bias: false, ..l }),
            Self::Conv1d(c) => Self::Conv1d(Conv1d { bias: false, ..c }),
            other => other,
        }
    }

    /// The kind's name, as `torch.nn` modules are named in the reference
    /// format (`linear`, `batchnorm`, `relu`, `conv1d`, `mean_time`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Linear(_) => "linear",
            Self::BatchNorm => "batchnorm",
            Self::ReLU => "relu",
            Self::Conv1d(_) => "conv1d",
            Self::MeanTime => "mean_time",
        }
    }

    /// The shape this layer makes of `input`, or why it cannot take it.
    ///
    /// # Errors
    ///
    /// A sentence naming the problem (a zero width, a kernel longer than
    /// the window, a layer that needs a map given a vector, an overflow).
    pub const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        if input.is_empty() {
            return Err("a layer's input is empty");
        }
        match self {
            Self::Linear(l) => l.output(input),
            Self::BatchNorm | Self::ReLU => Ok(input),
            Self::Conv1d(c) => c.output(input),
            Self::MeanTime => super::mean_time::output(input),
        }
    }

    /// Elements of the weight tensor (Linear, Conv1d; BatchNorm's γ).
    pub(crate) const fn weights(self, input: Shape) -> usize {
        match self {
            Self::Linear(l) => l.weights(input),
            Self::Conv1d(c) => c.weights(input),
            Self::BatchNorm => input.channels(),
            Self::ReLU | Self::MeanTime => 0,
        }
    }

    /// Elements of the bias tensor (Linear, Conv1d; BatchNorm's β).
    pub(crate) const fn biases(self, input: Shape) -> usize {
        match self {
            Self::Linear(l) => l.biases(),
            Self::Conv1d(c) => c.biases(),
            Self::BatchNorm => input.channels(),
            Self::ReLU | Self::MeanTime => 0,
        }
    }

    /// Trainable elements of this layer given its input.
    #[must_use]
    pub const fn parameter_count(self, input: Shape) -> usize {
        self.weights(input).saturating_add(self.biases(input))
    }

    /// The weight tensor's shape in PyTorch's layout, and how many entries
    /// of it are used: out×in for Linear, out×in×kernel for Conv1d, C for
    /// BatchNorm's γ.
    pub(crate) const fn weight_dims(self, input: Shape) -> ([usize; 3], usize) {
        match self {
            Self::Linear(l) => ([l.out, input.len(), 0], 2),
            Self::Conv1d(c) => ([c.out_channels, input.channels(), c.kernel], 3),
            _ => ([self.weights(input), 0, 0], 1),
        }
    }

    /// Inputs that feed one output, which sets PyTorch's default
    /// initialisation bound 1/√fan_in.
    pub(crate) const fn fan_in(self, input: Shape) -> usize {
        match self {
            Self::Conv1d(c) => input.channels().saturating_mul(c.kernel),
            _ => input.len(),
        }
    }

    /// Running statistics kept for inference: BatchNorm's mean and variance.
    pub(crate) const fn running(self, input: Shape) -> usize {
        match self {
            Self::BatchNorm => input.channels().saturating_mul(2),
            _ => 0,
        }
    }

    /// Whether the weight tensor takes weight decay and LARS's trust ratio
    /// (the official recipe exempts biases and normalisation parameters).
    pub(crate) const fn decays_weights(self) -> bool {
        matches!(self, Self::Linear(_) | Self::Conv1d(_))
    }

    pub(crate) const fn output_buffer(self) -> Output {
        match self {
            Self::ReLU => Output::OverInput,
            Self::BatchNorm => Output::OwnNormalisingInput,
            Self::Linear(_) | Self::Conv1d(_) | Self::MeanTime => Output::Own,
        }
    }

    /// Whether a later layer may overwrite this layer's output in place: not
    /// ReLU's, whose backward pass reads it.
    pub(crate) const fn output_reusable(self) -> bool {
        !matches!(self, Self::ReLU)
    }

    /// The layer as a checkpoint record: tag, flags, then four numbers.
    pub(crate) const fn record(self) -> (u8, u8, [u32; 4]) {
        const fn n(x: usize) -> u32 {
            #[allow(clippy::cast_possible_truncation)] // checked first
            if x > u32::MAX as usize { u32::MAX } else { x as u32 }
        }
        match self {
            Self::Linear(l) => (LINEAR, if l.bias { BIAS } else { 0 }, [n(l.out), 0, 0, 0]),
            Self::BatchNorm => (BATCH_NORM, 0, [0; 4]),
            Self::ReLU => (RELU, 0, [0; 4]),
            Self::Conv1d(c) => {
                (CONV1D, if c.bias { BIAS } else { 0 }, [n(c.out_channels), n(c.kernel), n(c.stride), n(c.padding)])
            }
            Self::MeanTime => (MEAN_TIME, 0, [0; 4]),
        }
    }

    /// The layer a checkpoint record describes, if it is one this crate
    /// writes.
    #[must_use]
    pub(crate) fn from_record(tag: u8, flags: u8, numbers: [u32; 4]) -> Option<Self> {
        let usize_of = |x: u32| usize::try_from(x).ok();
        let [a, b, c, d] = numbers;
        let bias = match flags {
            0 => false,
            BIAS => true,
            _ => return None,
        };
        let layer = match tag {
            LINEAR => Self::Linear(Linear { out: usize_of(a)?, bias }),
            BATCH_NORM => Self::BatchNorm,
            RELU => Self::ReLU,
            CONV1D => Self::Conv1d(Conv1d {
                out_channels: usize_of(a)?,
                kernel: usize_of(b)?,
                stride: usize_of(c)?,
                padding: usize_of(d)?,
                bias,
            }),
            MEAN_TIME => Self::MeanTime,
            _ => return None,
        };
        // A record is canonical: the bytes a layer writes, and no others.
        (layer.record() == (tag, flags, numbers)).then_some(layer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_KIND: [Layer; 7] = [
        Layer::Linear(Linear { out: 7, bias: true }),
        Layer::Linear(Linear { out: 7, bias: false }),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::Conv1d(Conv1d { out_channels: 5, kernel: 3, stride: 2, padding: 1, bias: true }),
        Layer::Conv1d(Conv1d { out_channels: 5, kernel: 3, stride: 2, padding: 1, bias: false }),
        Layer::MeanTime,
    ];

    #[test]
    fn names_are_the_reference_formats() {
        let names = EVERY_KIND.map(Layer::name);
        assert_eq!(names, ["linear", "linear", "batchnorm", "relu", "conv1d", "conv1d", "mean_time"]);
    }

    #[test]
    fn every_kind_reads_back_from_its_record_and_nothing_else_does() {
        for layer in EVERY_KIND {
            let (tag, flags, numbers) = layer.record();
            assert_eq!(Layer::from_record(tag, flags, numbers), Some(layer));
            // Any other flag, an unknown tag, or a number the kind does not
            // write (all four are Conv1d's) is not a record of ours.
            assert_eq!(Layer::from_record(tag, flags ^ 2, numbers), None, "{layer:?}");
            assert_eq!(Layer::from_record(9, flags, numbers), None);
            if tag != CONV1D {
                let mut other = numbers;
                other[3] ^= 1;
                assert_eq!(Layer::from_record(tag, flags, other), None, "{layer:?}");
            }
        }
        assert_eq!(Layer::linear(3).record(), (1, 1, [3, 0, 0, 0]), "tags are a file format: never renumber");
        assert_eq!(Layer::conv1d(4, 5).stride(6).padding(7).without_bias().record(), (4, 0, [4, 5, 6, 7]));
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_width_past_32_bits_is_recorded_as_the_largest_and_refused_on_reading() {
        let (tag, flags, numbers) = Layer::linear(1 << 33).record();
        assert_eq!(numbers[0], u32::MAX);
        assert_eq!(Layer::from_record(tag, flags, numbers), Some(Layer::linear(u32::MAX as usize)));
        assert_eq!(Layer::linear(u32::MAX as usize).record().2[0], u32::MAX);
    }

    #[test]
    fn fan_in_and_weight_shapes_are_pytorchs() {
        let map = Shape::Map { channels: 6, length: 10 };
        let conv = Layer::conv1d(4, 3);
        assert_eq!((conv.fan_in(map), conv.weight_dims(map)), (18, ([4, 6, 3], 3)));
        assert_eq!((Layer::linear(4).fan_in(map), Layer::linear(4).weight_dims(map)), (60, ([4, 60, 0], 2)));
        assert_eq!(Layer::BatchNorm.weight_dims(map), ([6, 0, 0], 1));
        let decays = EVERY_KIND.map(Layer::decays_weights);
        assert_eq!(decays, [true, true, false, false, true, true, false]);
        let reusable = EVERY_KIND.map(Layer::output_reusable);
        assert_eq!(reusable, [true, true, true, false, true, true, true]);
    }
}
