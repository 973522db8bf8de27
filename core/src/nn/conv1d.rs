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
//! Each (output channel, input channel, tap) is one pass over the valid
//! output positions; with stride 1 that pass is a contiguous axpy or dot
//! product in lanes.

use super::shape::Shape;
use crate::lanes::{self, Lanes};

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

/// The sizes one pass needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub(crate) in_channels: usize,
    pub(crate) in_length: usize,
    pub(crate) out_channels: usize,
    pub(crate) out_length: usize,
    pub(crate) kernel: usize,
    pub(crate) stride: usize,
    pub(crate) padding: usize,
}

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

    /// Weight elements, out×in×K.
    pub(crate) const fn weights(self, input: Shape) -> usize {
        self.out_channels.saturating_mul(input.channels()).saturating_mul(self.kernel)
    }

    pub(crate) const fn biases(self) -> usize {
        if self.bias { self.out_channels } else { 0 }
    }

    pub(crate) const fn geometry(self, input: Shape, output: Shape) -> Geometry {
        Geometry {
            in_channels: input.channels(),
            in_length: input.length(),
            out_channels: self.out_channels,
            out_length: output.length(),
            kernel: self.kernel,
            stride: self.stride,
            padding: self.padding,
        }
    }
}

impl Geometry {
    /// The output positions t whose input position t·S + k − P lies inside
    /// the window, as a range, and that input position for the range's start.
    fn valid(&self, k: usize) -> (usize, usize, usize) {
        let (s, p) = (self.stride, self.padding);
        // t·S + k ≥ P  ⇔  t ≥ ⌈(P − k)/S⌉
        let lo = if p > k { (p - k).div_ceil(s) } else { 0 };
        // t·S + k − P ≤ T − 1  ⇔  t ≤ (T − 1 + P − k)/S
        let hi = match (self.in_length + p).checked_sub(k + 1) {
            Some(last) => (last / s + 1).min(self.out_length),
            None => 0,
        };
        if lo >= hi { (0, 0, 0) } else { (lo, hi, lo * s + k - p) }
    }

    fn in_len(&self) -> usize {
        self.in_channels * self.in_length
    }

    fn out_len(&self) -> usize {
        self.out_channels * self.out_length
    }
}

/// y ← conv(x) + b for every row of `x`; `b` may be empty.
pub(crate) fn forward(lanes: Lanes, g: &Geometry, w: &[f32], b: &[f32], x: &[f32], y: &mut [f32]) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    if in_len == 0 || out_len == 0 {
        return;
    }
    let k_len = g.kernel;
    for (xr, yr) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)) {
        for (o, yo) in yr.chunks_exact_mut(g.out_length).enumerate() {
            yo.fill(b.get(o).copied().unwrap_or(0.0));
            for (c, xc) in xr.chunks_exact(g.in_length).enumerate() {
                let taps = &w[(o * g.in_channels + c) * k_len..][..k_len];
                for (k, &wk) in taps.iter().enumerate() {
                    let (lo, hi, start) = g.valid(k);
                    if g.stride == 1 {
                        lanes::axpy(lanes, wk, &xc[start..start + (hi - lo)], &mut yo[lo..hi]);
                    } else {
                        for (yt, xv) in yo[lo..hi].iter_mut().zip(xc[start..].iter().step_by(g.stride)) {
                            *yt += wk * xv;
                        }
                    }
                }
            }
        }
    }
}

/// ∂ℓ/∂W += Σ_rows ∂ℓ/∂y ⋆ x and ∂ℓ/∂b += Σ ∂ℓ/∂y (skipped when `gb` is empty).
pub(crate) fn accumulate_gradients(lanes: Lanes, g: &Geometry, x: &[f32], dy: &[f32], gw: &mut [f32], gb: &mut [f32]) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    if in_len == 0 || out_len == 0 {
        return;
    }
    let k_len = g.kernel;
    for (xr, dyr) in x.chunks_exact(in_len).zip(dy.chunks_exact(out_len)) {
        for (o, dyo) in dyr.chunks_exact(g.out_length).enumerate() {
            if let Some(gbo) = gb.get_mut(o) {
                *gbo += dyo.iter().sum::<f32>();
            }
            for (c, xc) in xr.chunks_exact(g.in_length).enumerate() {
                let taps = &mut gw[(o * g.in_channels + c) * k_len..][..k_len];
                for (k, gwk) in taps.iter_mut().enumerate() {
                    let (lo, hi, start) = g.valid(k);
                    *gwk += if g.stride == 1 {
                        lanes::dot(lanes, &dyo[lo..hi], &xc[start..start + (hi - lo)])
                    } else {
                        dyo[lo..hi].iter().zip(xc[start..].iter().step_by(g.stride)).map(|(a, b)| a * b).sum()
                    };
                }
            }
        }
    }
}

/// ∂ℓ/∂x ← Σ_o W_o ⋆ᵀ ∂ℓ/∂y_o, overwriting `dx`.
pub(crate) fn backward_input(lanes: Lanes, g: &Geometry, w: &[f32], dy: &[f32], dx: &mut [f32]) {
    let (in_len, out_len) = (g.in_len(), g.out_len());
    if in_len == 0 || out_len == 0 {
        return;
    }
    let k_len = g.kernel;
    for (dxr, dyr) in dx.chunks_exact_mut(in_len).zip(dy.chunks_exact(out_len)) {
        dxr.fill(0.0);
        for (o, dyo) in dyr.chunks_exact(g.out_length).enumerate() {
            for (c, dxc) in dxr.chunks_exact_mut(g.in_length).enumerate() {
                let taps = &w[(o * g.in_channels + c) * k_len..][..k_len];
                for (k, &wk) in taps.iter().enumerate() {
                    let (lo, hi, start) = g.valid(k);
                    if g.stride == 1 {
                        lanes::axpy(lanes, wk, &dyo[lo..hi], &mut dxc[start..start + (hi - lo)]);
                    } else {
                        for (xv, d) in dxc[start..].iter_mut().step_by(g.stride).zip(&dyo[lo..hi]) {
                            *xv += wk * d;
                        }
                    }
                }
            }
        }
    }
}
