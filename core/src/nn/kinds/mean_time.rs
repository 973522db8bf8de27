//! The mean over time of a C×T feature map, y_c = (1/T) Σ_t x_{c,t}: global
//! average pooling, which turns a convolutional encoder's map into a vector
//! whatever the window's length. ∂ℓ/∂x_{c,t} = ∂ℓ/∂y_c / T.

use crate::nn::Shape;
use crate::nn::kind::{Backward, Field, Forward, Init, Kind, KindSet, Output, parameterless};

/// The mean over time: no settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MeanTime;

parameterless!(MeanTime);

// The registry's interface: every kind answers the same calls.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
impl MeanTime {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        match input {
            Shape::Map { channels, .. } => Ok(Shape::Flat(channels)),
            _ => Err("MeanTime needs a C×T feature map"),
        }
    }
}

impl Kind for MeanTime {
    const TAG: u8 = 5;
    const NAME: &'static str = "mean_time";
    const FIELDS: &'static [Field] = &[];
    const OPTIONAL_BIAS: bool = false;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const DECAYS: bool = false;
    const ALWAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self;

    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let shape = f.at.input;
        let (input, output) = f.io();
        forward(input, shape, output);
        true
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        if let Some(dx) = b.dx {
            backward(b.dy, b.at.input, dx);
        }
    }
}

/// y ← the mean over time of every channel of every row of `x`.
pub(crate) fn forward(x: &[f32], input: Shape, y: &mut [f32]) {
    let (c, t) = (input.channels(), input.length());
    if c == 0 || t == 0 {
        return;
    }
    let inv_t = 1.0 / t as f32;
    for (xr, yr) in x.chunks_exact(c * t).zip(y.chunks_exact_mut(c)) {
        for (xc, yc) in xr.chunks_exact(t).zip(yr.iter_mut()) {
            *yc = xc.iter().sum::<f32>() * inv_t;
        }
    }
}

/// ∂ℓ/∂x ← ∂ℓ/∂y / T spread over each channel's positions.
pub(crate) fn backward(dy: &[f32], input: Shape, dx: &mut [f32]) {
    let (c, t) = (input.channels(), input.length());
    if c == 0 || t == 0 {
        return;
    }
    let inv_t = 1.0 / t as f32;
    for (dxr, dyr) in dx.chunks_exact_mut(c * t).zip(dy.chunks_exact(c)) {
        for (dxc, &g) in dxr.chunks_exact_mut(t).zip(dyr) {
            dxc.fill(g * inv_t);
        }
    }
}
