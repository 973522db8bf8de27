//! How a network is written: the builders of [`Layer`] (`Layer::linear(64)`,
//! `Layer::conv1d(16, 5).stride(2)`, `Layer::conv2d(16, [3, 3]).padding(1)`,
//! `Layer::max_pool2d([2, 2])`, `.without_bias()`). The enum itself, and
//! every fact of each kind, come from the [`registry`](super::registry).

use super::kinds::{AvgPool2d, Conv1d, Conv2d, Layer, Linear, MaxPool2d};

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

    /// A Conv2d layer with `out_channels` outputs and kernel `[K_h, K_w]`,
    /// stride 1, no padding and a bias.
    #[must_use]
    pub const fn conv2d(out_channels: usize, kernel: [u16; 2]) -> Self {
        Self::Conv2d(Conv2d { out_channels, kernel, stride: [1, 1], padding: [0, 0], bias: true })
    }

    /// A MaxPool2d layer with kernel `[K_h, K_w]` and, as PyTorch's
    /// default, the kernel as stride (windows side by side).
    #[must_use]
    pub const fn max_pool2d(kernel: [u16; 2]) -> Self {
        Self::MaxPool2d(MaxPool2d { kernel, stride: kernel })
    }

    /// An AvgPool2d layer with kernel `[K_h, K_w]` and the kernel as stride.
    #[must_use]
    pub const fn avg_pool2d(kernel: [u16; 2]) -> Self {
        Self::AvgPool2d(AvgPool2d { kernel, stride: kernel })
    }

    /// This Conv1d layer with stride `stride`, or this Conv2d or pooling
    /// layer with it on both axes (other kinds unchanged). Settings are
    /// 16-bit, as a checkpoint record holds a 2-D kind's pair in one number.
    #[must_use]
    pub const fn stride(self, stride: u16) -> Self {
        match self {
            Self::Conv1d(c) => Self::Conv1d(Conv1d { stride: stride as usize, ..c }),
            other => other.strides([stride, stride]),
        }
    }

    /// This Conv2d or pooling layer with stride `[S_h, S_w]` (other kinds
    /// unchanged).
    #[must_use]
    pub const fn strides(self, stride: [u16; 2]) -> Self {
        match self {
            Self::Conv2d(c) => Self::Conv2d(Conv2d { stride, ..c }),
            Self::MaxPool2d(p) => Self::MaxPool2d(MaxPool2d { stride, ..p }),
            Self::AvgPool2d(p) => Self::AvgPool2d(AvgPool2d { stride, ..p }),
            other => other,
        }
    }

    /// This Conv1d layer with `padding` zeros at each end, or this Conv2d
    /// layer with them at each end of both axes (other kinds unchanged).
    #[must_use]
    pub const fn padding(self, padding: u16) -> Self {
        match self {
            Self::Conv1d(c) => Self::Conv1d(Conv1d { padding: padding as usize, ..c }),
            other => other.paddings([padding, padding]),
        }
    }

    /// This Conv2d layer with padding `[P_h, P_w]` (other kinds unchanged).
    #[must_use]
    pub const fn paddings(self, padding: [u16; 2]) -> Self {
        match self {
            Self::Conv2d(c) => Self::Conv2d(Conv2d { padding, ..c }),
            other => other,
        }
    }

    /// This Linear, Conv1d or Conv2d layer without its bias (the official
    /// expander's last Linear has none).
    #[must_use]
    pub const fn without_bias(self) -> Self {
        match self {
            Self::Linear(l) => Self::Linear(Linear { bias: false, ..l }),
            Self::Conv1d(c) => Self::Conv1d(Conv1d { bias: false, ..c }),
            Self::Conv2d(c) => Self::Conv2d(Conv2d { bias: false, ..c }),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Shape;
    use crate::nn::kind::Dims;

    /// The checkpoint tag of Conv1d, the one kind with four numbers.
    const CONV1D: u8 = 4;

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
            assert_eq!(Layer::from_record(200, flags, numbers), None);
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
        let dims = |layer: Layer| layer.weight_dims(map);
        let d = |dims, rank| Dims { dims, rank };
        assert_eq!((conv.fan_in(map), dims(conv)), (18, d([4, 6, 3, 0], 3)));
        assert_eq!((Layer::linear(4).fan_in(map), dims(Layer::linear(4))), (60, d([4, 60, 0, 0], 2)));
        assert_eq!(dims(Layer::BatchNorm), d([6, 0, 0, 0], 1));
        assert_eq!(dims(Layer::ReLU), d([0; 4], 0));
        let decays = EVERY_KIND.map(Layer::decays_weights);
        assert_eq!(decays, [true, true, false, false, true, true, false]);
        let reusable = EVERY_KIND.map(Layer::output_reusable);
        assert_eq!(reusable, [true, true, true, false, true, true, true]);
    }

    #[test]
    fn the_builders_set_what_they_name_on_the_image_kinds() {
        use crate::nn::kinds::{AvgPool2d, Conv2d, MaxPool2d};
        let conv = Layer::conv2d(4, [3, 2]).strides([2, 1]).paddings([1, 0]).without_bias();
        assert_eq!(
            conv,
            Layer::Conv2d(Conv2d { out_channels: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 0], bias: false })
        );
        let square = Layer::conv2d(4, [3, 3]).stride(2).padding(1);
        assert_eq!(
            square,
            Layer::Conv2d(Conv2d { out_channels: 4, kernel: [3, 3], stride: [2, 2], padding: [1, 1], bias: true })
        );
        assert_eq!(Layer::max_pool2d([2, 3]), Layer::MaxPool2d(MaxPool2d { kernel: [2, 3], stride: [2, 3] }));
        assert_eq!(
            Layer::max_pool2d([2, 3]).strides([1, 2]),
            Layer::MaxPool2d(MaxPool2d { kernel: [2, 3], stride: [1, 2] })
        );
        assert_eq!(Layer::avg_pool2d([2, 2]).stride(1), Layer::AvgPool2d(AvgPool2d { kernel: [2, 2], stride: [1, 1] }));
        // Settings a kind does not have leave it as it is.
        assert_eq!(Layer::max_pool2d([2, 2]).paddings([1, 1]).without_bias(), Layer::max_pool2d([2, 2]));
        assert_eq!(Layer::linear(3).strides([2, 2]).paddings([1, 1]), Layer::linear(3));
        assert_eq!(Layer::conv1d(2, 3).strides([2, 2]), Layer::conv1d(2, 3));
    }
}
