//! A fully connected layer in PyTorch's layout, y = x·Wᵀ + b, with W out×in
//! (row o holds the weights of output o), on batches of n rows.
//!
//! Backward: ∂ℓ/∂W = (∂ℓ/∂y)ᵀ·x, ∂ℓ/∂b = Σᵢ ∂ℓ/∂yᵢ, ∂ℓ/∂x = (∂ℓ/∂y)·W.

use crate::lanes::{self, Lanes};

/// y ← x·Wᵀ + b for every row; `b` may be empty (no bias). x is n×inputs,
/// `w` outputs×inputs, y n×outputs.
pub(crate) fn forward(lanes: Lanes, w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    let outputs = w.len() / inputs;
    for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
        for (o, (wr, yo)) in w.chunks_exact(inputs).zip(yr.iter_mut()).enumerate() {
            *yo = lanes::dot(lanes, xr, wr) + b.get(o).copied().unwrap_or(0.0);
        }
    }
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x and ∂ℓ/∂b += Σᵢ ∂ℓ/∂yᵢ (skipped when `gb` is empty).
pub(crate) fn accumulate_gradients(lanes: Lanes, x: &[f32], dy: &[f32], inputs: usize, gw: &mut [f32], gb: &mut [f32]) {
    let outputs = gw.len() / inputs;
    for (xr, dyr) in x.chunks_exact(inputs).zip(dy.chunks_exact(outputs)) {
        for (gwr, &g) in gw.chunks_exact_mut(inputs).zip(dyr) {
            lanes::axpy(lanes, g, xr, gwr);
        }
        lanes::add_assign(lanes, gb, dyr);
    }
}

/// ∂ℓ/∂x ← (∂ℓ/∂y)·W, overwriting `dx` (n×inputs).
pub(crate) fn backward_input(lanes: Lanes, w: &[f32], dy: &[f32], inputs: usize, dx: &mut [f32]) {
    let outputs = w.len() / inputs;
    for (dxr, dyr) in dx.chunks_exact_mut(inputs).zip(dy.chunks_exact(outputs)) {
        dxr.fill(0.0);
        for (wr, &g) in w.chunks_exact(inputs).zip(dyr) {
            lanes::axpy(lanes, g, wr, dxr);
        }
    }
}

/// ReLU in place: x ← max(0, x).
pub(crate) fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// ∂ℓ/∂(pre-activation) from ∂ℓ/∂(post-activation) in place: zero where the
/// ReLU's output was zero (PyTorch's convention at exactly 0).
pub(crate) fn relu_backward(activated: &[f32], grad: &mut [f32]) {
    for (g, &a) in grad.iter_mut().zip(activated) {
        if a <= 0.0 {
            *g = 0.0;
        }
    }
}
