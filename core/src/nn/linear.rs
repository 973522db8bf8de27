//! A fully connected layer in PyTorch's layout, y = x·Wᵀ + b, with W out×in
//! (row o holds the weights of output o), on batches of n rows. After a C×T
//! feature map the row is the map flattened channel-major (in = C·T), as
//! `torch.nn.Flatten` then `torch.nn.Linear` would see it.
//!
//! Backward: ∂ℓ/∂W = (∂ℓ/∂y)ᵀ·x, ∂ℓ/∂b = Σᵢ ∂ℓ/∂yᵢ, ∂ℓ/∂x = (∂ℓ/∂y)·W.

// Each pass is written once over `Ops` and inlined into the entry compiled
// for each instruction set (`lanes::layer!`): a call that stayed a call
// would run the baseline code. Only `#[inline]` where there is no run-time
// dispatch (every no_std build), to spare a firmware's flash.
#![allow(clippy::inline_always)]

use super::shape::Shape;
use crate::lanes::{self, Lanes, Ops};

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
/// `w` outputs×inputs, y n×outputs. Four outputs at a time share each load
/// of x.
pub(crate) fn forward(lanes: Lanes, w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    lanes::layer!(lanes, linear_forward => forward_with, (w, b, x, inputs, y));
}

/// [`forward`] over the primitives of `lanes`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(crate) fn forward_with<L: Ops>(lanes: L, w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    let outputs = w.len().checked_div(inputs).unwrap_or(0);
    if outputs == 0 {
        return;
    }
    let quads = outputs / 4 * 4;
    let bias = |o: usize| b.get(o).copied().unwrap_or(0.0);
    // Two rows at a time, four outputs at a time: each load of W feeds two
    // rows, each load of x four outputs.
    let pairs = if L::PAIRS { (x.len() / inputs).min(y.len() / outputs) / 2 } else { 0 };
    let (x_pairs, x_rest) = x.split_at(pairs * 2 * inputs);
    let (y_pairs, y_rest) = y.split_at_mut(pairs * 2 * outputs);
    for (xp, yp) in x_pairs.chunks_exact(2 * inputs).zip(y_pairs.chunks_exact_mut(2 * outputs)) {
        let (x0, x1) = xp.split_at(inputs);
        let (y0, y1) = yp.split_at_mut(outputs);
        for o in (0..quads).step_by(4) {
            let [s0, s1] = lanes.dot2x4([x0, x1], lanes::four_rows(w, inputs, o));
            for (k, (a, c)) in s0.into_iter().zip(s1).enumerate() {
                y0[o + k] = a + bias(o + k);
                y1[o + k] = c + bias(o + k);
            }
        }
        for (xr, yr) in [(x0, y0), (x1, y1)] {
            for o in quads..outputs {
                yr[o] = lanes.dot(xr, &w[o * inputs..(o + 1) * inputs]) + bias(o);
            }
        }
    }
    for (xr, yr) in x_rest.chunks_exact(inputs).zip(y_rest.chunks_exact_mut(outputs)) {
        for o in (0..quads).step_by(4) {
            let sums = lanes.dot4(xr, lanes::four_rows(w, inputs, o));
            for (k, s) in sums.into_iter().enumerate() {
                yr[o + k] = s + bias(o + k);
            }
        }
        for o in quads..outputs {
            yr[o] = lanes.dot(xr, &w[o * inputs..(o + 1) * inputs]) + bias(o);
        }
    }
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x and ∂ℓ/∂b += Σᵢ ∂ℓ/∂yᵢ (skipped when `gb` is empty).
/// Four rows of the batch at a time: each row of ∂ℓ/∂W is read and written
/// once for four rank-one updates.
pub(crate) fn accumulate_gradients(lanes: Lanes, x: &[f32], dy: &[f32], inputs: usize, gw: &mut [f32], gb: &mut [f32]) {
    lanes::layer!(lanes, linear_gradients => accumulate_gradients_with, (x, dy, inputs, gw, gb));
}

/// [`accumulate_gradients`] over the primitives of `lanes`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(crate) fn accumulate_gradients_with<L: Ops>(
    lanes: L,
    x: &[f32],
    dy: &[f32],
    inputs: usize,
    gw: &mut [f32],
    gb: &mut [f32],
) {
    let outputs = gw.len().checked_div(inputs).unwrap_or(0);
    if outputs == 0 {
        return;
    }
    let n = (x.len() / inputs).min(dy.len() / outputs);
    let quads = n / 4 * 4;
    for i in (0..quads).step_by(4) {
        let xs = lanes::four_rows(x, inputs, i);
        for (o, gwr) in gw.chunks_exact_mut(inputs).enumerate() {
            let coeffs = [0, 1, 2, 3].map(|r| dy[(i + r) * outputs + o]);
            lanes.axpy4(coeffs, xs, gwr);
        }
    }
    for i in quads..n {
        let (xr, dyr) = (&x[i * inputs..(i + 1) * inputs], &dy[i * outputs..(i + 1) * outputs]);
        for (gwr, &g) in gw.chunks_exact_mut(inputs).zip(dyr) {
            lanes.axpy(g, xr, gwr);
        }
    }
    for dyr in dy.chunks_exact(outputs) {
        lanes.axpy(1.0, dyr, gb);
    }
}

/// ∂ℓ/∂x ← (∂ℓ/∂y)·W, overwriting `dx` (n×inputs): four rows of W per pass
/// over each row of ∂ℓ/∂x.
pub(crate) fn backward_input(lanes: Lanes, w: &[f32], dy: &[f32], inputs: usize, dx: &mut [f32]) {
    lanes::layer!(lanes, linear_backward_input => backward_input_with, (w, dy, inputs, dx));
}

/// [`backward_input`] over the primitives of `lanes`.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(crate) fn backward_input_with<L: Ops>(lanes: L, w: &[f32], dy: &[f32], inputs: usize, dx: &mut [f32]) {
    let outputs = w.len().checked_div(inputs).unwrap_or(0);
    if outputs == 0 {
        return;
    }
    let quads = outputs / 4 * 4;
    for (dxr, dyr) in dx.chunks_exact_mut(inputs).zip(dy.chunks_exact(outputs)) {
        dxr.fill(0.0);
        for o in (0..quads).step_by(4) {
            let coeffs = [dyr[o], dyr[o + 1], dyr[o + 2], dyr[o + 3]];
            lanes.axpy4(coeffs, lanes::four_rows(w, inputs, o), dxr);
        }
        for o in quads..outputs {
            lanes.axpy(dyr[o], &w[o * inputs..(o + 1) * inputs], dxr);
        }
    }
}
