//! A 1-D convolution over a C×T feature map (channel-major), as
//! `torch.nn.Conv1d` computes it: cross-correlation with zero padding P on
//! both ends and stride S,
//!
//! y_{o,t} = b_o + Σ_c Σ_k W_{o,c,k} · x_{c, t·S + k − P},  t < T′ = (T + 2P − K)/S + 1,
//!
//! with W out×in×K and x taken as zero outside [0, T).
//!
//! Backward: ∂ℓ/∂W_{o,c,k} = Σ_t ∂ℓ/∂y_{o,t} · x_{c, t·S + k − P},
//! ∂ℓ/∂b_o = Σ_t ∂ℓ/∂y_{o,t}, ∂ℓ/∂x_{c, t·S + k − P} += W_{o,c,k} · ∂ℓ/∂y_{o,t}.
//!
//! A C×T map is a C×1×T image, so the passes are Conv2d's, with a kernel
//! 1 row high: one sample's taps gathered into scratch, then the packed,
//! register-tiled products (columns of taps on hosts, rows of taps and the
//! Linear layer's kernels on the Cortex-M).

use super::conv2d;
use super::plane::Axis;
use crate::nn::Shape;
use crate::nn::kind::{BIAS, Backward, Dims, Field, Forward, Init, Kind, KindSet, Output, record_number};

/// A Conv1d layer's declaration; the input channels and length come from
/// the layer before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv1d {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel length K.
    pub kernel: usize,
    /// Stride S.
    pub stride: usize,
    /// Zeros added at each end of the window, P.
    pub padding: usize,
    /// Whether each output channel has a bias.
    pub bias: bool,
}

// The registry's interface: every kind answers the same calls, whether or
// not its answer depends on its settings.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
impl Conv1d {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        let Shape::Map { channels, length } = input else {
            return Err("Conv1d needs a C×T feature map (declare the input as Shape::Map)");
        };
        if self.out_channels == 0 || self.kernel == 0 || self.stride == 0 {
            return Err("Conv1d needs at least one output channel, a kernel and a stride of 1 or more");
        }
        if channels == 0 || length == 0 {
            return Err("Conv1d needs a non-empty input map");
        }
        let Some(padded) = length.checked_add(self.padding.saturating_mul(2)) else {
            return Err("Conv1d's padded length overflows");
        };
        if padded < self.kernel {
            return Err("Conv1d's kernel is longer than the padded window");
        }
        let out_length = (padded - self.kernel) / self.stride + 1;
        let fits = match self.out_channels.checked_mul(channels) {
            Some(w) => w.checked_mul(self.kernel).is_some() && self.out_channels.checked_mul(out_length).is_some(),
            None => false,
        };
        if !fits {
            return Err("Conv1d's weights or output are too large");
        }
        Ok(Shape::Map { channels: self.out_channels, length: out_length })
    }

    /// W is out×in×K.
    pub(crate) const fn weight_dims(self, input: Shape) -> Dims {
        Dims { dims: [self.out_channels, input.channels(), self.kernel, 0], rank: 3 }
    }

    pub(crate) const fn biases(self, _input: Shape) -> usize {
        if self.bias { self.out_channels } else { 0 }
    }

    pub(crate) const fn fan_in(self, input: Shape) -> usize {
        input.channels().saturating_mul(self.kernel)
    }

    pub(crate) const fn running(self, _input: Shape) -> usize {
        0
    }

    /// One sample's taps (T′×C·K) and its output by position (T′×O), as
    /// Conv2d's.
    pub(crate) const fn scratch(self, input: Shape) -> usize {
        match self.output(input) {
            Ok(output) => output.length().saturating_mul(self.fan_in(input).saturating_add(self.out_channels)),
            Err(_) => 0,
        }
    }

    pub(crate) const fn record(self) -> (u8, [u32; 4]) {
        let n = record_number;
        (if self.bias { BIAS } else { 0 }, [n(self.out_channels), n(self.kernel), n(self.stride), n(self.padding)])
    }

    pub(crate) fn from_record(flags: u8, numbers: [u32; 4]) -> Option<Self> {
        let [out_channels, kernel, stride, padding] = numbers.map(|x| usize::try_from(x).ok());
        Some(Self {
            out_channels: out_channels?,
            kernel: kernel?,
            stride: stride?,
            padding: padding?,
            bias: flags & BIAS != 0,
        })
    }

    /// The pass's geometry as Conv2d's: one row, the kernel along columns.
    pub(crate) const fn geometry(self, input: Shape, output: Shape) -> conv2d::Geometry {
        let (in_channels, out_channels) = match (input, output) {
            (Shape::Map { channels, .. }, Shape::Map { .. }) => (channels, self.out_channels),
            // The shape rule admits maps only; an empty geometry does nothing.
            _ => (0, 0),
        };
        let row = Axis { input: 1, output: 1, kernel: 1, stride: 1, padding: 0 };
        let columns = Axis {
            input: input.length(),
            output: output.length(),
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        };
        conv2d::Geometry { in_channels, out_channels, rows: row, columns }
    }
}

impl Kind for Conv1d {
    const TAG: u8 = 4;
    const NAME: &'static str = "conv1d";
    const FIELDS: &'static [Field] =
        &[Field::one("out_channels"), Field::one("kernel"), Field::one("stride"), Field::one("padding")];
    const OPTIONAL_BIAS: bool = true;
    const DECAYS: bool = true;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const ALWAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self { out_channels: 5, kernel: 3, stride: 2, padding: 1, bias: true };

    fn forward<K: KindSet, const STREAM: bool>(self, f: Forward<'_>) -> bool {
        conv2d::forward_pass(&self.geometry(f.at.input, f.at.output), f)
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        conv2d::backward_pass(&self.geometry(b.at.input, b.at.output), b);
    }
}

#[cfg(test)]
mod tests {
    //! The three passes against the module's formulas summed term by term in
    //! f64, over strides, paddings and kernels that leave every kind of
    //! edge (taps that fall in the padding, outputs that reach past the
    //! last input).

    use super::*;
    use crate::lanes::Lanes;

    const ROWS: usize = 2;

    fn value(i: usize, k: f32) -> f32 {
        libm::sinf(i as f32 * k + 0.2)
    }

    #[test]
    #[allow(clippy::many_single_char_names)]
    fn every_pass_follows_the_formulas_at_every_stride_padding_and_kernel() {
        let (ci, co, t_in) = (2, 3, 7);
        for (kernel, stride, padding) in [(1, 1, 0), (3, 1, 1), (3, 2, 1), (4, 3, 2), (2, 2, 0), (5, 1, 2), (7, 1, 0)] {
            let conv = Conv1d { out_channels: co, kernel, stride, padding, bias: true };
            let input = Shape::Map { channels: ci, length: t_in };
            let output = conv.output(input).unwrap();
            let t_out = (t_in + 2 * padding - kernel) / stride + 1;
            assert_eq!(output, Shape::Map { channels: co, length: t_out });
            assert_eq!((conv.weight_dims(input).len(), conv.biases(input)), (co * ci * kernel, co));
            let g = conv.geometry(input, output);
            let w: [f32; 3 * 2 * 7] = core::array::from_fn(|i| value(i, 0.7));
            let b = [0.5f32, -0.25, 1.0];
            let x: [f32; ROWS * 2 * 7] = core::array::from_fn(|i| value(i, 1.9));
            let dy: [f32; ROWS * 3 * 9] = core::array::from_fn(|i| value(i, 2.3));
            let (w, x, dy) = (&w[..co * ci * kernel], &x[..ROWS * ci * t_in], &dy[..ROWS * co * t_out]);
            // x_{c, t·S + k − P} of row r, zero in the padding.
            let x_at = |r: usize, c: usize, t: usize, k: usize| {
                (t * stride + k)
                    .checked_sub(padding)
                    .filter(|&u| u < t_in)
                    .map_or(0.0, |u| f64::from(x[r * ci * t_in + c * t_in + u]))
            };
            let taps = || (0..ci).flat_map(|c| (0..kernel).map(move |k| (c, k)));

            // One sample's scratch, and room for 1, 2, 4 or 5 output
            // positions at a time (4 for 5: a multiple of 4).
            let whole = conv.scratch(input);
            assert_eq!(whole, t_out * g.per_position());
            let chunked =
                [whole, g.per_position(), 2 * g.per_position() + 1, 4 * g.per_position(), 5 * g.per_position()];
            for (lanes, len) in [Lanes::Scalar, Lanes::Wide].into_iter().flat_map(|l| chunked.map(|c| (l, c))) {
                let what = (kernel, stride, padding, lanes, len);
                // Room for the longest case: 9 positions × (2·7 taps + 3
                // outputs), stale values that the passes must overwrite.
                let (mut first, mut second) = ([7.0f32; 9 * (2 * 7 + 3)], [7.0f32; 9 * (2 * 7 + 3)]);
                let (first, second) = (&mut first[..len], &mut second[..len]);
                let mut y = [0.0f32; ROWS * 3 * 9];
                conv2d::forward(lanes, &g, w, &b, x, first, &mut y[..ROWS * co * t_out]);
                for (r, o, t) in (0..ROWS).flat_map(|r| (0..co).flat_map(move |o| (0..t_out).map(move |t| (r, o, t)))) {
                    let want = f64::from(b[o])
                        + taps().map(|(c, k)| f64::from(w[(o * ci + c) * kernel + k]) * x_at(r, c, t, k)).sum::<f64>();
                    let got = f64::from(y[r * co * t_out + o * t_out + t]);
                    assert!((got - want).abs() < 1e-5, "{what:?} y[{r}][{o}][{t}]: {got} vs {want}");
                }

                // Gradients add to what the buffers hold.
                let (mut gw, mut gb) = ([1.0f32; 3 * 2 * 7], [2.0f32; 3]);
                let gw_used = &mut gw[..co * ci * kernel];
                conv2d::backward(lanes, &g, (w, x, dy), gw_used, &mut gb, None, (&mut *first, &mut *second));
                let dy_at = |r: usize, o: usize, t: usize| f64::from(dy[r * co * t_out + o * t_out + t]);
                for o in 0..co {
                    let want = 2.0 + (0..ROWS).flat_map(|r| (0..t_out).map(move |t| dy_at(r, o, t))).sum::<f64>();
                    assert!((f64::from(gb[o]) - want).abs() < 1e-5, "{what:?} ∂b[{o}]");
                    for (c, k) in taps() {
                        let want = 1.0
                            + (0..ROWS)
                                .flat_map(|r| (0..t_out).map(move |t| (r, t)))
                                .map(|(r, t)| dy_at(r, o, t) * x_at(r, c, t, k))
                                .sum::<f64>();
                        let got = f64::from(gw[(o * ci + c) * kernel + k]);
                        assert!((got - want).abs() < 1e-5, "{what:?} ∂W[{o}][{c}][{k}]: {got} vs {want}");
                    }
                }

                // The input gradient overwrites its buffer.
                let mut dx = [9.0f32; ROWS * 2 * 7];
                let dx_used = Some(&mut dx[..ROWS * ci * t_in]);
                conv2d::backward(lanes, &g, (w, x, dy), &mut [], &mut [], dx_used, (first, second));
                for (r, c, u) in (0..ROWS).flat_map(|r| (0..ci).flat_map(move |c| (0..t_in).map(move |u| (r, c, u)))) {
                    let mut want = 0.0;
                    for (o, t, k) in
                        (0..co).flat_map(|o| (0..t_out).flat_map(move |t| (0..kernel).map(move |k| (o, t, k))))
                    {
                        if (t * stride + k).checked_sub(padding) == Some(u) {
                            want += f64::from(w[(o * ci + c) * kernel + k]) * dy_at(r, o, t);
                        }
                    }
                    let got = f64::from(dx[r * ci * t_in + c * t_in + u]);
                    assert!((got - want).abs() < 1e-5, "{what:?} ∂x[{r}][{c}][{u}]: {got} vs {want}");
                }
            }
        }
    }

    #[test]
    fn impossible_declarations_are_refused_with_a_reason() {
        let map = Shape::Map { channels: 2, length: 5 };
        let conv = |kernel, stride, padding| Conv1d { out_channels: 3, kernel, stride, padding, bias: false };
        assert_eq!(conv(5, 1, 0).output(map), Ok(Shape::Map { channels: 3, length: 1 }));
        assert_eq!(conv(7, 1, 1).output(map), Ok(Shape::Map { channels: 3, length: 1 }));
        assert_eq!(conv(2, 2, 0).output(map), Ok(Shape::Map { channels: 3, length: 2 }));
        assert_eq!(conv(1, 1, 0).biases(Shape::Flat(1)), 0);
        for bad in
            [conv(6, 1, 0), conv(8, 1, 1), conv(0, 1, 0), conv(3, 0, 0), Conv1d { out_channels: 0, ..conv(3, 1, 0) }]
        {
            assert!(bad.output(map).is_err(), "{bad:?}");
        }
        assert!(conv(3, 1, 0).output(Shape::Flat(10)).is_err());
        assert!(conv(1, 1, 0).output(Shape::Map { channels: 0, length: 5 }).is_err());
        assert!(conv(1, 1, 0).output(Shape::Map { channels: 2, length: 0 }).is_err());
        assert!(conv(1, 1, usize::MAX).output(map).is_err());
        assert!(Conv1d { out_channels: usize::MAX, ..conv(2, 1, 0) }.output(map).is_err());
    }
}
