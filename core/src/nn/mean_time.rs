//! The mean over time of a C×T feature map, y_c = (1/T) Σ_t x_{c,t}: global
//! average pooling, which turns a convolutional encoder's map into a vector
//! whatever the window's length. ∂ℓ/∂x_{c,t} = ∂ℓ/∂y_c / T.

use super::shape::Shape;

pub(crate) const fn output(input: Shape) -> Result<Shape, &'static str> {
    match input {
        Shape::Map { channels, .. } => Ok(Shape::Flat(channels)),
        Shape::Flat(_) => Err("MeanTime needs a C×T feature map"),
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
