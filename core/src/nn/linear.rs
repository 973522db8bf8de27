//! A fully connected layer in PyTorch's layout, y = x·Wᵀ + b, with W out×in
//! (row o holds the weights of output o), on batches of n rows. After a C×T
//! feature map the row is the map flattened channel-major (in = C·T), as
//! `torch.nn.Flatten` then `torch.nn.Linear` would see it.
//!
//! Backward: ∂ℓ/∂W = (∂ℓ/∂y)ᵀ·x, ∂ℓ/∂b = Σᵢ ∂ℓ/∂yᵢ, ∂ℓ/∂x = (∂ℓ/∂y)·W.

use super::shape::Shape;
use crate::lanes::{self, Lanes};

/// A Linear layer's declaration: its output width and whether it has a bias;
/// the input width comes from the layer before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Linear {
    /// Output features.
    pub out: usize,
    /// Whether out = x·Wᵀ + b (true) or x·Wᵀ.
    pub bias: bool,
}

impl Linear {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        if self.out == 0 {
            return Err("a Linear layer needs at least one output");
        }
        match input.len().checked_mul(self.out) {
            Some(_) => Ok(Shape::Flat(self.out)),
            None => Err("a Linear layer's weight matrix is too large"),
        }
    }

    /// Weight elements, out×in.
    pub(crate) const fn weights(self, input: Shape) -> usize {
        self.out.saturating_mul(input.len())
    }

    pub(crate) const fn biases(self) -> usize {
        if self.bias { self.out } else { 0 }
    }
}
/// y ← x·Wᵀ + b for every row; `b` may be empty (no bias). x is n×inputs,
/// `w` outputs×inputs, y n×outputs.
pub(crate) fn forward(lanes: Lanes, w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    let outputs = w.len().checked_div(inputs).unwrap_or(0);
    if outputs == 0 {
        return;
    }
    for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
        for (o, (wr, yo)) in w.chunks_exact(inputs).zip(yr.iter_mut()).enumerate() {
            *yo = lanes::dot(lanes, xr, wr) + b.get(o).copied().unwrap_or(0.0);
        }
    }
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x and ∂ℓ/∂b += Σᵢ ∂ℓ/∂yᵢ (skipped when `gb` is empty).
pub(crate) fn accumulate_gradients(lanes: Lanes, x: &[f32], dy: &[f32], inputs: usize, gw: &mut [f32], gb: &mut [f32]) {
    let outputs = gw.len().checked_div(inputs).unwrap_or(0);
    if outputs == 0 {
        return;
    }
    for (xr, dyr) in x.chunks_exact(inputs).zip(dy.chunks_exact(outputs)) {
        for (gwr, &g) in gw.chunks_exact_mut(inputs).zip(dyr) {
            lanes::axpy(lanes, g, xr, gwr);
        }
        lanes::add_assign(lanes, gb, dyr);
    }
}

/// ∂ℓ/∂x ← (∂ℓ/∂y)·W, overwriting `dx` (n×inputs).
pub(crate) fn backward_input(lanes: Lanes, w: &[f32], dy: &[f32], inputs: usize, dx: &mut [f32]) {
    let outputs = w.len().checked_div(inputs).unwrap_or(0);
    if outputs == 0 {
        return;
    }
    for (dxr, dyr) in dx.chunks_exact_mut(inputs).zip(dy.chunks_exact(outputs)) {
        dxr.fill(0.0);
        for (wr, &g) in w.chunks_exact(inputs).zip(dyr) {
            lanes::axpy(lanes, g, wr, dxr);
        }
    }
}
