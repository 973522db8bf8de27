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
use crate::lanes::{self, Lanes, Ops, Portable, Simd};

/// Where there are no f32 vectors (the Cortex-M4F), each product runs as
/// scalar register tiles, four rows by four columns in sixteen
/// accumulators, whichever `Lanes` is asked for.
const REGISTER_TILES: bool = !Portable::VECTORS;

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
    if REGISTER_TILES {
        forward_registers(w, b, x, inputs, y);
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
    if REGISTER_TILES {
        weight_gradient_registers(x, dy, [n, inputs, outputs], gw);
    } else {
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
    if REGISTER_TILES {
        backward_input_registers(w, dy, [inputs, outputs], dx);
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

/// [`forward`] in scalar register tiles.
fn forward_registers(w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    lanes::matmul_transposed_registers(x, w, inputs, b, y);
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x over `n` rows (`dims` = [n, inputs, outputs]) in
/// scalar register tiles.
fn weight_gradient_registers(x: &[f32], dy: &[f32], dims: [usize; 3], gw: &mut [f32]) {
    let [n, inputs, outputs] = dims;
    lanes::transposed_matmul_registers(&dy[..n * outputs], &x[..n * inputs], [outputs, inputs], gw);
}

/// [`backward_input`] in scalar register tiles (`dims` = [inputs, outputs]).
fn backward_input_registers(w: &[f32], dy: &[f32], dims: [usize; 2], dx: &mut [f32]) {
    let [inputs, outputs] = dims;
    let n = (dx.len() / inputs).min(dy.len() / outputs);
    dx[..n * inputs].fill(0.0);
    lanes::matmul_registers(1.0, &dy[..n * outputs], outputs, w, &mut dx[..n * inputs]);
}

#[cfg(test)]
mod tests {
    //! The scalar register tiles a target without vectors runs, against the
    //! plain scalar loops, on this machine: shapes with and without whole
    //! tiles of four rows, four outputs and four inputs.

    use super::*;

    fn values(len: usize, k: f32) -> [f32; 13 * 13] {
        core::array::from_fn(|i| if i < len { libm::sinf(i as f32 * k + 0.3) } else { 0.0 })
    }

    /// Agreement to f32 rounding; `what` names the pass, `shape` is
    /// [n, inputs, outputs].
    fn close(got: &[f32], want: &[f32], what: &str, shape: [usize; 3]) {
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{what} {shape:?} [{i}]: {g} against {w}");
        }
    }

    #[test]
    fn register_tiles_compute_what_the_scalar_loops_do() {
        for (n, inputs, outputs) in [(1, 1, 1), (4, 4, 4), (5, 3, 9), (8, 13, 4), (9, 8, 7), (3, 12, 13)] {
            let (x, w, b) = (values(n * inputs, 0.7), values(outputs * inputs, 1.3), values(outputs, 2.1));
            let dy = values(n * outputs, 0.9);
            let (x, w, b, dy) = (&x[..n * inputs], &w[..outputs * inputs], &b[..outputs], &dy[..n * outputs]);
            let shape = [n, inputs, outputs];
            for bias in [b, &[][..]] {
                let (mut got, mut want) = ([f32::NAN; 13 * 13], [f32::NAN; 13 * 13]);
                forward_registers(w, bias, x, inputs, &mut got[..n * outputs]);
                forward_with(Lanes::Scalar, w, bias, x, inputs, &mut want[..n * outputs]);
                close(&got[..n * outputs], &want[..n * outputs], "forward", shape);
            }
            // ∂ℓ/∂W accumulates onto what is there.
            let (mut got, mut want) = (values(outputs * inputs, 0.2), values(outputs * inputs, 0.2));
            weight_gradient_registers(x, dy, [n, inputs, outputs], &mut got[..outputs * inputs]);
            let gw = &mut want[..outputs * inputs];
            accumulate_gradients_with(Lanes::Scalar, x, dy, inputs, gw, &mut []);
            close(&got[..outputs * inputs], &want[..outputs * inputs], "weight gradient", shape);
            // ∂ℓ/∂x overwrites.
            let (mut got, mut want) = ([f32::NAN; 13 * 13], [f32::NAN; 13 * 13]);
            backward_input_registers(w, dy, [inputs, outputs], &mut got[..n * inputs]);
            backward_input_with(Lanes::Scalar, w, dy, inputs, &mut want[..n * inputs]);
            close(&got[..n * inputs], &want[..n * inputs], "input gradient", shape);
        }
    }
}
