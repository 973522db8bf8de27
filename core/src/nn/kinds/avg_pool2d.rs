//! Average pooling over each channel of a C×H×W image, as
//! `torch.nn.AvgPool2d` (no padding, windows may overlap):
//!
//! y_{c,i,j} = (1/(K_h·K_w)) Σ_{u<K_h, v<K_w} x_{c, i·S_h + u, j·S_w + v},
//!
//! and backward spreads ∂ℓ/∂y_{c,i,j}/(K_h·K_w) over its window, adding
//! where windows overlap.

use super::plane::{Axis, WINDOW_FIELDS, pooling_kind};
use crate::nn::kind::{Backward, Field, Forward, Init, Kind, KindSet, Output};

pooling_kind!(
    /// An AvgPool2d layer: kernel and stride per axis (height, width).
    AvgPool2d
);

impl Kind for AvgPool2d {
    const TAG: u8 = 8;
    const NAME: &'static str = "avgpool2d";
    const FIELDS: &'static [Field] = WINDOW_FIELDS;
    const OPTIONAL_BIAS: bool = false;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const DECAYS: bool = false;
    const ALWAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self { kernel: [2, 3], stride: [1, 2] };

    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let g = self.window().geometry(f.at.input, f.at.output);
        let (input, output) = f.io();
        forward(g, input, output);
        true
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        if let Some(dx) = b.dx {
            backward(self.window().geometry(b.at.input, b.at.output), b.dy, dx);
        }
    }
}

/// The flat indices (in a plane of `columns.input` columns) of the window
/// of output (i, j), row by row.
fn window(rows: &Axis, columns: &Axis, i: usize, j: usize) -> impl Iterator<Item = core::ops::Range<usize>> {
    let (top, left, width, kernel) = (i * rows.stride, j * columns.stride, columns.input, columns.kernel);
    (top..top + rows.kernel).map(move |r| r * width + left..r * width + left + kernel)
}

/// y ← the mean of each window of every channel of every row of `x`.
fn forward((channels, rows, columns): (usize, Axis, Axis), x: &[f32], y: &mut [f32]) {
    let (in_plane, out_plane) = (rows.input * columns.input, rows.output * columns.output);
    if channels == 0 || out_plane == 0 {
        return;
    }
    let inv = 1.0 / (rows.kernel * columns.kernel) as f32;
    for (xc, yc) in x.chunks_exact(in_plane).zip(y.chunks_exact_mut(out_plane)) {
        for (i, yr) in yc.chunks_exact_mut(columns.output).enumerate() {
            for (j, yv) in yr.iter_mut().enumerate() {
                *yv = window(&rows, &columns, i, j).map(|span| xc[span].iter().sum::<f32>()).sum::<f32>() * inv;
            }
        }
    }
}

/// ∂ℓ/∂x ← each ∂ℓ/∂y/(K_h·K_w) over its window, overwriting `dx`.
fn backward((channels, rows, columns): (usize, Axis, Axis), dy: &[f32], dx: &mut [f32]) {
    let (in_plane, out_plane) = (rows.input * columns.input, rows.output * columns.output);
    if channels == 0 || out_plane == 0 {
        return;
    }
    let inv = 1.0 / (rows.kernel * columns.kernel) as f32;
    for (dyc, dxc) in dy.chunks_exact(out_plane).zip(dx.chunks_exact_mut(in_plane)) {
        dxc.fill(0.0);
        for (i, dyr) in dyc.chunks_exact(columns.output).enumerate() {
            for (j, &d) in dyr.iter().enumerate() {
                for span in window(&rows, &columns, i, j) {
                    for v in &mut dxc[span] {
                        *v += d * inv;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! A hand-worked image with overlapping windows.

    use super::*;
    use crate::nn::Shape;

    #[test]
    #[allow(clippy::float_cmp)] // means of small integers in powers of two
    fn means_and_their_gradients_follow_the_definition() {
        let pool = AvgPool2d { kernel: [2, 2], stride: [1, 2] };
        let input = Shape::Image { channels: 1, height: 3, width: 4 };
        let output = pool.output(input).unwrap();
        assert_eq!(output, Shape::Image { channels: 1, height: 2, width: 2 });
        let x = [1.0, 5.0, 2.0, 2.0, 3.0, 0.0, 7.0, 1.0, 6.0, 6.0, 0.0, 8.0];
        let g = pool.window().geometry(input, output);
        let mut y = [0.0f32; 4];
        forward(g, &x, &mut y);
        assert_eq!(y, [9.0 / 4.0, 12.0 / 4.0, 15.0 / 4.0, 16.0 / 4.0]);
        let dy = [4.0, 8.0, 12.0, 16.0];
        let mut dx = [9.0f32; 12];
        backward(g, &dy, &mut dx);
        // Row 1 lies in both rows of windows.
        assert_eq!(dx, [1.0, 1.0, 2.0, 2.0, 4.0, 4.0, 6.0, 6.0, 3.0, 3.0, 4.0, 4.0]);
    }
}
