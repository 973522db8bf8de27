//! A fully connected layer in PyTorch's layout, y = x·Wᵀ + b, with W out×in
//! (row o holds the weights of output o), on batches of n rows. After a C×T
//! feature map the row is the map flattened channel-major (in = C·T), as
//! `torch.nn.Flatten` then `torch.nn.Linear` would see it.
//!
//! Backward: ∂ℓ/∂W = (∂ℓ/∂y)ᵀ·x, ∂ℓ/∂b = Σᵢ ∂ℓ/∂yᵢ, ∂ℓ/∂x = (∂ℓ/∂y)·W.

use crate::lanes::{self, Lanes, Portable, Simd};
use crate::nn::Shape;
use crate::nn::kind::{BIAS, Backward, Dims, Field, Forward, Init, Kind, KindSet, Output, record_number};

/// How each product runs: where there are f32 vectors, the `Wide` lanes
/// take the packed register tiles of the matrix products (four rows by
/// sixteen columns with AVX2), W and the batch read as stored, and the
/// `Scalar` lanes plain loops; where there are none (the Cortex-M4F), both
/// take scalar register tiles, four rows by four columns in sixteen
/// accumulators.
const VECTORS: bool = Portable::VECTORS;

/// (outputs, rows) of a pass over `rows` rows of `inputs` and `outputs`
/// values, W holding `weights` values; `None` if there is nothing to do.
fn sizes(weights: usize, inputs: usize, lens: [usize; 2]) -> Option<(usize, usize)> {
    let outputs = weights.checked_div(inputs)?;
    let n = (lens[0] / inputs).min(lens[1].checked_div(outputs)?);
    (n > 0).then_some((outputs, n))
}

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

// The registry's interface: every kind answers the same calls, whether or
// not its answer depends on its settings.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
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

    /// W is out×in.
    pub(crate) const fn weight_dims(self, input: Shape) -> Dims {
        Dims { dims: [self.out, input.len(), 0, 0], rank: 2 }
    }

    pub(crate) const fn biases(self, _input: Shape) -> usize {
        if self.bias { self.out } else { 0 }
    }

    pub(crate) const fn fan_in(self, input: Shape) -> usize {
        input.len()
    }

    pub(crate) const fn running(self, _input: Shape) -> usize {
        0
    }

    pub(crate) const fn scratch(self, _input: Shape) -> usize {
        0
    }

    pub(crate) const fn record(self) -> (u8, [u32; 4]) {
        (if self.bias { BIAS } else { 0 }, [record_number(self.out), 0, 0, 0])
    }

    pub(crate) fn from_record(flags: u8, [out, ..]: [u32; 4]) -> Option<Self> {
        Some(Self { out: usize::try_from(out).ok()?, bias: flags & BIAS != 0 })
    }
}

impl Kind for Linear {
    const TAG: u8 = 1;
    const NAME: &'static str = "linear";
    const FIELDS: &'static [Field] = &[Field::one("out")];
    const OPTIONAL_BIAS: bool = true;
    const DECAYS: bool = true;
    const ALWAYS: bool = true;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self { out: 7, bias: true };

    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let (lanes, w, b, inputs) = (f.lanes, f.w, f.b, f.at.input.len());
        let (input, output) = f.io();
        forward(lanes, w, b, input, inputs, output);
        true
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        let inputs = b.at.input.len();
        if b.trains {
            accumulate_gradients(b.lanes, b.input, b.dy, inputs, b.gw, b.gb);
        }
        if let Some(dx) = b.dx {
            backward_input(b.lanes, b.w, b.dy, inputs, dx);
        }
    }
}

/// y ← x·Wᵀ + b for every row; `b` may be empty (no bias). x is n×inputs,
/// `w` outputs×inputs, y n×outputs.
pub(crate) fn forward(lanes: Lanes, w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    let Some((outputs, n)) = sizes(w.len(), inputs, [x.len(), y.len()]) else { return };
    let (x, y) = (&x[..n * inputs], &mut y[..n * outputs]);
    if !VECTORS {
        forward_registers(w, b, x, inputs, y);
    } else if lanes == Lanes::Wide {
        // y ← b in every row, then y += x·Wᵀ.
        for row in y.chunks_exact_mut(outputs) {
            if b.len() == outputs { row.copy_from_slice(b) } else { row.fill(0.0) }
        }
        lanes::matmul_acc_bt(1.0, x, inputs, w, y);
    } else {
        forward_loops(w, b, x, inputs, y);
    }
}

/// [`forward`] in plain loops, four outputs at a time sharing each load of
/// x.
fn forward_loops(w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    let outputs = w.len() / inputs;
    let quads = outputs / 4 * 4;
    let bias = |o: usize| b.get(o).copied().unwrap_or(0.0);
    for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(outputs)) {
        for o in (0..quads).step_by(4) {
            let sums = lanes::dot4(xr, lanes::four_rows(w, inputs, o));
            for (k, s) in sums.into_iter().enumerate() {
                yr[o + k] = s + bias(o + k);
            }
        }
        for o in quads..outputs {
            yr[o] = lanes::dot(Lanes::Scalar, xr, &w[o * inputs..(o + 1) * inputs]) + bias(o);
        }
    }
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x and ∂ℓ/∂b += Σᵢ ∂ℓ/∂yᵢ (skipped when `gb` is empty).
pub(crate) fn accumulate_gradients(lanes: Lanes, x: &[f32], dy: &[f32], inputs: usize, gw: &mut [f32], gb: &mut [f32]) {
    let Some((outputs, n)) = sizes(gw.len(), inputs, [x.len(), dy.len()]) else { return };
    let (x, dy) = (&x[..n * inputs], &dy[..n * outputs]);
    if !VECTORS {
        weight_gradient_registers(x, dy, inputs, gw);
    } else if lanes == Lanes::Wide {
        // Both factors as stored: the inner dimension is the batch.
        lanes::matmul_acc_at(1.0, dy, n, x, gw);
    } else {
        weight_gradient_loops(x, dy, inputs, gw);
    }
    for dyr in dy.chunks_exact(outputs) {
        lanes::axpy(lanes, 1.0, dyr, gb);
    }
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x in plain loops, four rows of the batch at a time:
/// each row of ∂ℓ/∂W is read and written once for four rank-one updates.
fn weight_gradient_loops(x: &[f32], dy: &[f32], inputs: usize, gw: &mut [f32]) {
    let outputs = gw.len() / inputs;
    let n = x.len() / inputs;
    let quads = n / 4 * 4;
    for i in (0..quads).step_by(4) {
        let xs = lanes::four_rows(x, inputs, i);
        for (o, gwr) in gw.chunks_exact_mut(inputs).enumerate() {
            let coeffs = [0, 1, 2, 3].map(|r| dy[(i + r) * outputs + o]);
            lanes::axpy4(Lanes::Scalar, coeffs, xs, gwr);
        }
    }
    for i in quads..n {
        let (xr, dyr) = (&x[i * inputs..(i + 1) * inputs], &dy[i * outputs..(i + 1) * outputs]);
        for (gwr, &g) in gw.chunks_exact_mut(inputs).zip(dyr) {
            lanes::axpy(Lanes::Scalar, g, xr, gwr);
        }
    }
}

/// ∂ℓ/∂x ← (∂ℓ/∂y)·W, overwriting `dx` (n×inputs).
pub(crate) fn backward_input(lanes: Lanes, w: &[f32], dy: &[f32], inputs: usize, dx: &mut [f32]) {
    let Some((outputs, n)) = sizes(w.len(), inputs, [dx.len(), dy.len()]) else { return };
    let (dy, dx) = (&dy[..n * outputs], &mut dx[..n * inputs]);
    // The plain product: where there are no vectors `matmul_acc` itself
    // runs the scalar register tiles, whichever lanes are asked for.
    if lanes::effective(lanes) == Lanes::Wide {
        dx.fill(0.0);
        lanes::matmul_acc(lanes, 1.0, dy, outputs, w, dx);
    } else {
        backward_input_loops(w, dy, inputs, dx);
    }
}

/// [`backward_input`] in plain loops: four rows of W per pass over each row
/// of ∂ℓ/∂x.
fn backward_input_loops(w: &[f32], dy: &[f32], inputs: usize, dx: &mut [f32]) {
    let outputs = w.len() / inputs;
    let quads = outputs / 4 * 4;
    for (dxr, dyr) in dx.chunks_exact_mut(inputs).zip(dy.chunks_exact(outputs)) {
        dxr.fill(0.0);
        for o in (0..quads).step_by(4) {
            let coeffs = [dyr[o], dyr[o + 1], dyr[o + 2], dyr[o + 3]];
            lanes::axpy4(Lanes::Scalar, coeffs, lanes::four_rows(w, inputs, o), dxr);
        }
        for o in quads..outputs {
            lanes::axpy(Lanes::Scalar, dyr[o], &w[o * inputs..(o + 1) * inputs], dxr);
        }
    }
}

/// [`forward`] in scalar register tiles.
fn forward_registers(w: &[f32], b: &[f32], x: &[f32], inputs: usize, y: &mut [f32]) {
    lanes::matmul_transposed_registers(x, w, inputs, b, y, false);
}

/// ∂ℓ/∂W += (∂ℓ/∂y)ᵀ·x over every row of `x` in scalar register tiles.
fn weight_gradient_registers(x: &[f32], dy: &[f32], inputs: usize, gw: &mut [f32]) {
    lanes::transposed_matmul_registers(dy, x, [gw.len() / inputs, inputs], gw);
}

#[cfg(test)]
mod tests {
    //! The scalar register tiles a target without vectors runs, and the
    //! vector tiles of the `Wide` lanes, against the plain scalar loops, on
    //! this machine: shapes with and without whole tiles of four rows, four
    //! (or sixteen) outputs and four inputs.

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
    fn tiles_compute_what_the_scalar_loops_do() {
        for (n, inputs, outputs) in [(1, 1, 1), (4, 4, 4), (5, 3, 9), (8, 13, 4), (9, 8, 7), (3, 12, 13)] {
            let (x, w, b) = (values(n * inputs, 0.7), values(outputs * inputs, 1.3), values(outputs, 2.1));
            let dy = values(n * outputs, 0.9);
            let (x, w, b, dy) = (&x[..n * inputs], &w[..outputs * inputs], &b[..outputs], &dy[..n * outputs]);
            let shape = [n, inputs, outputs];
            for bias in [b, &[][..]] {
                let (mut got, mut want) = ([f32::NAN; 13 * 13], [f32::NAN; 13 * 13]);
                forward_loops(w, bias, x, inputs, &mut want[..n * outputs]);
                forward_registers(w, bias, x, inputs, &mut got[..n * outputs]);
                close(&got[..n * outputs], &want[..n * outputs], "forward", shape);
                forward(Lanes::Wide, w, bias, x, inputs, &mut got[..n * outputs]);
                close(&got[..n * outputs], &want[..n * outputs], "forward, wide", shape);
            }
            // ∂ℓ/∂W accumulates onto what is there.
            let (mut got, mut want) = (values(outputs * inputs, 0.2), values(outputs * inputs, 0.2));
            let mut wide = got;
            weight_gradient_registers(x, dy, inputs, &mut got[..outputs * inputs]);
            weight_gradient_loops(x, dy, inputs, &mut want[..outputs * inputs]);
            close(&got[..outputs * inputs], &want[..outputs * inputs], "weight gradient", shape);
            accumulate_gradients(Lanes::Wide, x, dy, inputs, &mut wide[..outputs * inputs], &mut []);
            close(&wide[..outputs * inputs], &want[..outputs * inputs], "weight gradient, wide", shape);
            // ∂ℓ/∂x overwrites.
            let (mut got, mut want) = ([f32::NAN; 13 * 13], [f32::NAN; 13 * 13]);
            // What `matmul_acc` runs where there are no vectors.
            got[..n * inputs].fill(0.0);
            lanes::matmul_registers(1.0, dy, outputs, w, &mut got[..n * inputs]);
            backward_input_loops(w, dy, inputs, &mut want[..n * inputs]);
            close(&got[..n * inputs], &want[..n * inputs], "input gradient", shape);
            backward_input(Lanes::Wide, w, dy, inputs, &mut got[..n * inputs]);
            close(&got[..n * inputs], &want[..n * inputs], "input gradient, wide", shape);
        }
    }
}
