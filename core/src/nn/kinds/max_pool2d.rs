//! Max pooling over each channel of a C×H×W image, as
//! `torch.nn.MaxPool2d` (no padding, windows may overlap):
//!
//! y_{c,i,j} = max_{u<K_h, v<K_w} x_{c, i·S_h + u, j·S_w + v}.
//!
//! Backward sends ∂ℓ/∂y_{c,i,j} to the position of that maximum (the first
//! in row-major order on a tie, as PyTorch), adding where windows overlap.
//! The position is found again from the input rather than kept: no memory
//! beyond the input, which the pass keeps anyway.

use super::plane::{Axis, WINDOW_FIELDS, pooling_kind};
use crate::nn::kind::{Backward, Field, Forward, Init, Kind, KindSet, Output};

pooling_kind!(
    /// A MaxPool2d layer: kernel and stride per axis (height, width).
    MaxPool2d
);

impl Kind for MaxPool2d {
    const TAG: u8 = 7;
    const NAME: &'static str = "maxpool2d";
    const FIELDS: &'static [Field] = WINDOW_FIELDS;
    const OPTIONAL_BIAS: bool = false;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const DECAYS: bool = false;
    const ALWAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self { kernel: [3, 2], stride: [2, 1] };

    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let g = self.window().geometry(f.at.input, f.at.output);
        let (input, output) = f.io();
        forward(g, input, output);
        true
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        if let Some(dx) = b.dx {
            backward(self.window().geometry(b.at.input, b.at.output), b.input, b.dy, dx);
        }
    }
}

/// The flat index in `plane` (W columns) of the largest value of the window
/// at output (i, j); the first on a tie.
fn argmax(plane: &[f32], rows: &Axis, columns: &Axis, i: usize, j: usize) -> usize {
    let (top, left) = (i * rows.stride, j * columns.stride);
    let mut best = top * columns.input + left;
    // The best value kept beside its index, and each kernel row one slice:
    // read back through the index at every comparison, with a bounds check
    // for each, the pooling took 12 ns an output.
    let mut most = plane[best];
    for u in 0..rows.kernel {
        let start = (top + u) * columns.input + left;
        for (k, &v) in plane[start..start + columns.kernel].iter().enumerate() {
            if v > most {
                (best, most) = (start + k, v);
            }
        }
    }
    best
}

/// y ← the maximum of each window of every channel of every row of `x`.
fn forward((channels, rows, columns): (usize, Axis, Axis), x: &[f32], y: &mut [f32]) {
    let (in_plane, out_plane) = (rows.input * columns.input, rows.output * columns.output);
    if channels == 0 || out_plane == 0 {
        return;
    }
    for (xc, yc) in x.chunks_exact(in_plane).zip(y.chunks_exact_mut(out_plane)) {
        for (i, yr) in yc.chunks_exact_mut(columns.output).enumerate() {
            for (j, yv) in yr.iter_mut().enumerate() {
                *yv = xc[argmax(xc, &rows, &columns, i, j)];
            }
        }
    }
}

/// ∂ℓ/∂x ← each ∂ℓ/∂y at its window's maximum, overwriting `dx`.
fn backward((channels, rows, columns): (usize, Axis, Axis), x: &[f32], dy: &[f32], dx: &mut [f32]) {
    let (in_plane, out_plane) = (rows.input * columns.input, rows.output * columns.output);
    if channels == 0 || out_plane == 0 {
        return;
    }
    for ((xc, dyc), dxc) in x.chunks_exact(in_plane).zip(dy.chunks_exact(out_plane)).zip(dx.chunks_exact_mut(in_plane))
    {
        dxc.fill(0.0);
        for (i, dyr) in dyc.chunks_exact(columns.output).enumerate() {
            for (j, &d) in dyr.iter().enumerate() {
                dxc[argmax(xc, &rows, &columns, i, j)] += d;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! A hand-worked image: overlapping windows, a tie, and where the
    //! gradient lands.

    use super::*;
    use crate::nn::Shape;

    #[test]
    #[allow(clippy::float_cmp)] // maxima and sums of exact small values
    fn maxima_and_their_gradients_land_where_the_definition_puts_them() {
        let pool = MaxPool2d { kernel: [2, 2], stride: [1, 2] };
        let input = Shape::Image { channels: 1, height: 3, width: 4 };
        let output = pool.output(input).unwrap();
        assert_eq!(output, Shape::Image { channels: 1, height: 2, width: 2 });
        // Two channels' worth: the second is the first negated.
        let plane = [1.0, 5.0, 2.0, 2.0, 3.0, 0.0, 7.0, 1.0, 6.0, 6.0, 0.0, 8.0];
        let mut x = [0.0f32; 24];
        x[..12].copy_from_slice(&plane);
        for (n, p) in x[12..].iter_mut().zip(plane) {
            *n = -p;
        }
        let g = pool.window().geometry(Shape::Image { channels: 2, height: 3, width: 4 }, output);
        let mut y = [0.0f32; 8];
        forward(g, &x, &mut y);
        // Windows rows {0,1}, {1,2} × columns {0,1}, {2,3}.
        assert_eq!(y, [5.0, 7.0, 6.0, 8.0, -0.0, -1.0, 0.0, 0.0]);
        let dy = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
        let mut dx = [9.0f32; 24];
        backward(g, &x, &dy, &mut dx);
        // Channel 1: 5 at (0,1), 7 at (1,2), 6 at (2,0) (the first of the tie), 8 at (2,3).
        assert_eq!(dx[..12], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 3.0, 0.0, 0.0, 4.0]);
        // Channel 2: −0 at (1,1) twice (overlapping windows add), −1 at (1,3)
        // for the second window; the last window's 0 at (2,2).
        assert_eq!(dx[12..], [0.0, 0.0, 0.0, 0.0, 0.0, 10.0 + 30.0, 0.0, 20.0, 0.0, 0.0, 40.0, 0.0]);
    }
}
