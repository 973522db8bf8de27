//! What the kinds that slide a window over an image (Conv2d, the two
//! poolings) share: the output extent along an axis,
//! ⌊(in + 2·pad − k)/stride⌋ + 1, and, for one kernel offset k, which output
//! positions read inside the input and where the first of them reads.

use crate::nn::Shape;
use crate::nn::kind::{Field, pair_of, record_pair};

/// A pair setting's count as a size. (Settings per axis are 16 bits: a
/// record holds a pair in one number, and no image this crate serves has a
/// side near 65,536.)
pub(crate) const fn size(count: u16) -> usize {
    count as usize
}

/// The output extent of one axis of `input` positions, or why there is
/// none: `(in + 2·padding − kernel)/stride + 1`.
pub(crate) const fn extent(input: usize, kernel: u16, stride: u16, padding: u16) -> Result<usize, &'static str> {
    let (kernel, stride, padding) = (size(kernel), size(stride), size(padding));
    if kernel == 0 || stride == 0 {
        return Err("a window needs a kernel and a stride of 1 or more on each axis");
    }
    // 2·padding < 2¹⁷: no overflow on any target of 32 bits or more.
    let Some(padded) = input.checked_add(2 * padding) else {
        return Err("a window's padded input overflows");
    };
    if padded < kernel {
        return Err("a window's kernel is larger than the padded input");
    }
    Ok((padded - kernel) / stride + 1)
}

/// One axis of a sliding window: input and output extents, kernel, stride,
/// padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Axis {
    pub(crate) input: usize,
    pub(crate) output: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
}

impl Axis {
    /// The input position that output position `t` reads through kernel
    /// offset `k`, `t·stride + k − padding`, if it lies inside `[0, input)`.
    pub(crate) fn source(&self, t: usize, k: usize) -> Option<usize> {
        (t * self.stride + k).checked_sub(self.padding).filter(|&s| s < self.input)
    }

    /// For kernel offset `k`: the output positions `lo..hi` whose input
    /// position lies inside, and that input position for `lo` (all zero
    /// when there is none). The positions read step by the stride.
    pub(crate) fn inside(&self, k: usize) -> (usize, usize, usize) {
        let (s, p) = (self.stride, self.padding);
        // t·s + k ≥ p  ⇔  t ≥ ⌈(p − k)/s⌉
        let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
        // t·s + k − p ≤ in − 1  ⇔  t ≤ (in − 1 + p − k)/s
        let hi = match (self.input + p).checked_sub(k + 1) {
            Some(last) => (last / s + 1).min(self.output),
            None => 0,
        };
        if lo >= hi { (0, 0, 0) } else { (lo, hi, lo * s + k - p) }
    }
}

/// A pooling window: kernel and stride per axis (height, width), no
/// padding; what the two pooling kinds declare.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Window {
    /// Kernel (K_h, K_w).
    pub kernel: [u16; 2],
    /// Stride (S_h, S_w); PyTorch's default is the kernel.
    pub stride: [u16; 2],
}

impl Window {
    /// The pooled image, or why there is none.
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        let Shape::Image { channels, height, width } = input else {
            return Err("a pooling needs a C×H×W image (declare the input as Shape::Image)");
        };
        if channels == 0 || height == 0 || width == 0 {
            return Err("a pooling needs a non-empty image");
        }
        let (k, s) = (self.kernel, self.stride);
        let height = match extent(height, k[0], s[0], 0) {
            Ok(e) => e,
            Err(why) => return Err(why),
        };
        match extent(width, k[1], s[1], 0) {
            Ok(width) => Ok(Shape::Image { channels, height, width }),
            Err(why) => Err(why),
        }
    }

    /// Kernel and stride, each pair in one number.
    pub(crate) const fn record(self) -> (u8, [u32; 4]) {
        (0, [record_pair(self.kernel), record_pair(self.stride), 0, 0])
    }

    pub(crate) const fn from_record(numbers: [u32; 4]) -> Self {
        Self { kernel: pair_of(numbers[0]), stride: pair_of(numbers[1]) }
    }

    /// Channels, rows and columns of one pass from `input` to `output`
    /// (nothing for shapes the rule refuses).
    pub(crate) const fn geometry(self, input: Shape, output: Shape) -> (usize, Axis, Axis) {
        axes(input, output, self.kernel, self.stride, [0, 0])
    }
}

/// Channels, rows and columns of a window sliding from the image `input`
/// to the image `output` (nothing for other shapes, which the shape rules
/// refuse).
pub(crate) const fn axes(
    input: Shape,
    output: Shape,
    kernel: [u16; 2],
    stride: [u16; 2],
    padding: [u16; 2],
) -> (usize, Axis, Axis) {
    let (k, s, p) = (kernel, stride, padding);
    if let (Shape::Image { channels, height, width }, Shape::Image { height: oh, width: ow, .. }) = (input, output) {
        (
            channels,
            Axis { input: height, output: oh, kernel: size(k[0]), stride: size(s[0]), padding: size(p[0]) },
            Axis { input: width, output: ow, kernel: size(k[1]), stride: size(s[1]), padding: size(p[1]) },
        )
    } else {
        let none = Axis { input: 0, output: 0, kernel: 1, stride: 1, padding: 0 };
        (0, none, none)
    }
}

/// The settings of a pooling kind, as the reference format names them.
pub(crate) const WINDOW_FIELDS: &[Field] = &[Field::pair("kernel"), Field::pair("stride")];

/// A pooling kind's declaration and its shape-dependent answers, all the
/// [`Window`]'s: the kind's file writes its `Kind` constants and kernels.
macro_rules! pooling_kind {
    ($(#[$doc:meta])* $kind:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub struct $kind {
            /// Kernel (K_h, K_w).
            pub kernel: [u16; 2],
            /// Stride (S_h, S_w).
            pub stride: [u16; 2],
        }

        // The registry's interface: every kind answers the same calls.
        #[allow(clippy::unused_self, clippy::unnecessary_wraps)]
        impl $kind {
            const fn window(self) -> $crate::nn::kinds::plane::Window {
                $crate::nn::kinds::plane::Window { kernel: self.kernel, stride: self.stride }
            }

            pub(crate) const fn output(self, input: $crate::nn::Shape) -> Result<$crate::nn::Shape, &'static str> {
                self.window().output(input)
            }

            pub(crate) const fn weight_dims(self, _input: $crate::nn::Shape) -> $crate::nn::kind::Dims {
                $crate::nn::kind::Dims::NONE
            }

            pub(crate) const fn biases(self, _input: $crate::nn::Shape) -> usize {
                0
            }

            pub(crate) const fn fan_in(self, _input: $crate::nn::Shape) -> usize {
                $crate::nn::kinds::plane::size(self.kernel[0]) * $crate::nn::kinds::plane::size(self.kernel[1])
            }

            pub(crate) const fn running(self, _input: $crate::nn::Shape) -> usize {
                0
            }

            pub(crate) const fn scratch(self, _input: $crate::nn::Shape) -> usize {
                0
            }

            pub(crate) const fn record(self) -> (u8, [u32; 4]) {
                self.window().record()
            }

            pub(crate) fn from_record(_flags: u8, numbers: [u32; 4]) -> Option<Self> {
                let $crate::nn::kinds::plane::Window { kernel, stride } =
                    $crate::nn::kinds::plane::Window::from_record(numbers);
                Some(Self { kernel, stride })
            }
        }
    };
}
pub(crate) use pooling_kind;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extent_is_torchs_and_impossible_windows_are_refused() {
        assert_eq!(extent(8, 3, 1, 1), Ok(8));
        assert_eq!(extent(15, 3, 2, 1), Ok(8));
        assert_eq!(extent(7, 2, 2, 0), Ok(3));
        assert_eq!(extent(2, 4, 1, 1), Ok(1));
        for (input, kernel, stride, padding) in [(2, 5, 1, 1), (4, 0, 1, 0), (4, 1, 0, 0)] {
            assert!(extent(input, kernel, stride, padding).is_err(), "{input} {kernel} {stride} {padding}");
        }
        assert!(extent(usize::MAX, 1, 1, 1).is_err());
        assert_eq!(extent(1, u16::MAX, u16::MAX, u16::MAX), Ok(2));
    }

    #[test]
    fn a_window_pools_images_only_and_reads_back_from_its_record() {
        let window = Window { kernel: [3, 2], stride: [2, 1] };
        let image = Shape::Image { channels: 4, height: 7, width: 5 };
        assert_eq!(window.output(image), Ok(Shape::Image { channels: 4, height: 3, width: 4 }));
        assert!(window.output(Shape::Map { channels: 4, length: 7 }).is_err());
        assert!(window.output(Shape::Image { channels: 4, height: 2, width: 5 }).is_err());
        assert!(window.output(Shape::Image { channels: 0, height: 7, width: 5 }).is_err());
        assert!(window.output(Shape::Image { channels: 4, height: 0, width: 5 }).is_err());
        assert!(window.output(Shape::Image { channels: 4, height: 7, width: 0 }).is_err());
        assert!(Window { stride: [0, 1], ..window }.output(image).is_err());
        assert_eq!(window.record(), (0, [3 | 2 << 16, 2 | 1 << 16, 0, 0]));
        assert_eq!(Window::from_record(window.record().1), window);
        let (channels, rows, columns) = window.geometry(image, window.output(image).unwrap());
        assert_eq!((channels, rows.output, columns.output, rows.stride, columns.kernel), (4, 3, 4, 2, 2));
        assert_eq!(window.geometry(Shape::Flat(2), Shape::Flat(2)).0, 0);
    }

    #[test]
    fn a_tap_reads_inside_the_input_or_nowhere() {
        let axis = Axis { input: 5, output: 3, kernel: 3, stride: 2, padding: 1 };
        // Output 0 reads −1 (padding), 0, 1; output 2 reads 3, 4, 5 (padding).
        assert_eq!([0, 1, 2].map(|k| axis.source(0, k)), [None, Some(0), Some(1)]);
        assert_eq!([0, 1, 2].map(|k| axis.source(2, k)), [Some(3), Some(4), None]);
    }

    #[test]
    fn the_inside_range_is_every_position_whose_tap_reads_inside() {
        for (input, kernel, stride, padding) in [(7, 3, 1, 1), (7, 3, 2, 1), (5, 4, 3, 2), (4, 4, 1, 0), (3, 2, 2, 3)] {
            let output = extent(input, kernel, stride, padding).unwrap();
            let (kernel, stride, padding) = (size(kernel), size(stride), size(padding));
            let axis = Axis { input, output, kernel, stride, padding };
            for k in 0..kernel {
                let (lo, hi, first) = axis.inside(k);
                for t in 0..output {
                    assert_eq!((lo..hi).contains(&t), axis.source(t, k).is_some(), "{axis:?} k {k} t {t}");
                }
                if lo < hi {
                    assert_eq!(Some(first), axis.source(lo, k));
                }
            }
        }
    }
}
