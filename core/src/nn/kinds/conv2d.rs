//! A 2-D convolution over a C×H×W image (channel-major, then row-major), as
//! `torch.nn.Conv2d` computes it: cross-correlation with zero padding
//! (P_h, P_w) on both ends of each axis and stride (S_h, S_w),
//!
//! y_{o,i,j} = b_o + Σ_c Σ_{u,v} W_{o,c,u,v} · x_{c, i·S_h + u − P_h, j·S_w + v − P_w},
//!
//! with W out×in×K_h×K_w, x zero outside the image, and each output axis
//! ⌊(in + 2P − K)/S⌋ + 1 long.
//!
//! Backward: ∂ℓ/∂W_{o,c,u,v} = Σ_{i,j} ∂ℓ/∂y_{o,i,j} · x_{c, i·S_h + u − P_h, j·S_w + v − P_w},
//! ∂ℓ/∂b_o = Σ_{i,j} ∂ℓ/∂y_{o,i,j}, and ∂ℓ/∂x at each tap's input position
//! += W_{o,c,u,v} · ∂ℓ/∂y_{o,i,j}.
//!
//! Each sample is turned into the C·K_h·K_w input values each output
//! position reads, and the three passes become products on one sample's
//! scratch (P·(C·K_h·K_w + O) values). On hosts, its columns of taps C
//! (K×P): Y = W·C + b, ∂ℓ/∂W += ∂ℓ/∂Y·Cᵀ, ∂ℓ/∂C = Wᵀ·∂ℓ/∂Y, the output in
//! storage order. Where there are no f32 vectors (or for the scalar lanes),
//! its rows of taps R (P×K) and a Linear layer's kernels: Yᵀ = R·Wᵀ + b,
//! ∂ℓ/∂W += (∂ℓ/∂Yᵀ)ᵀ·R, ∂ℓ/∂R = ∂ℓ/∂Yᵀ·W, in its register tiles.

use super::linear;
use super::plane::{Axis, axes, extent, size};
use crate::lanes::{self, Lanes, Portable, Simd};
use crate::nn::Shape;
use crate::nn::kind::{
    BIAS, Backward, Dims, Field, Forward, Init, Kind, KindSet, Output, pair_of, record_number, record_pair,
};

/// A Conv2d layer's declaration; the input channels, height and width come
/// from the layer before. Each pair is (height, width).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Conv2d {
    /// Output channels.
    pub out_channels: usize,
    /// Kernel (K_h, K_w).
    pub kernel: [u16; 2],
    /// Stride (S_h, S_w).
    pub stride: [u16; 2],
    /// Zeros added at each end of each axis (P_h, P_w).
    pub padding: [u16; 2],
    /// Whether each output channel has a bias.
    pub bias: bool,
}

/// The sizes one pass needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    pub(crate) in_channels: usize,
    pub(crate) out_channels: usize,
    pub(crate) rows: Axis,
    pub(crate) columns: Axis,
}

// The registry's interface: every kind answers the same calls, whether or
// not its answer depends on its settings.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
impl Conv2d {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        let Shape::Image { channels, height, width } = input else {
            return Err("Conv2d needs a C×H×W image (declare the input as Shape::Image)");
        };
        if self.out_channels == 0 {
            return Err("Conv2d needs at least one output channel");
        }
        if channels == 0 || height == 0 || width == 0 {
            return Err("Conv2d needs a non-empty image");
        }
        let (k, s, p) = (self.kernel, self.stride, self.padding);
        let out_height = match extent(height, k[0], s[0], p[0]) {
            Ok(e) => e,
            Err(why) => return Err(why),
        };
        let out_width = match extent(width, k[1], s[1], p[1]) {
            Ok(e) => e,
            Err(why) => return Err(why),
        };
        let fits = match self.out_channels.checked_mul(channels) {
            Some(w) => match w.checked_mul(size(k[0]) * size(k[1])) {
                Some(_) => match out_height.checked_mul(out_width) {
                    Some(plane) => self.out_channels.checked_mul(plane).is_some(),
                    None => false,
                },
                None => false,
            },
            None => false,
        };
        if !fits {
            return Err("Conv2d's weights or output are too large");
        }
        Ok(Shape::Image { channels: self.out_channels, height: out_height, width: out_width })
    }

    /// W is out×in×K_h×K_w.
    pub(crate) const fn weight_dims(self, input: Shape) -> Dims {
        Dims { dims: [self.out_channels, input.channels(), size(self.kernel[0]), size(self.kernel[1])], rank: 4 }
    }

    pub(crate) const fn biases(self, _input: Shape) -> usize {
        if self.bias { self.out_channels } else { 0 }
    }

    pub(crate) const fn fan_in(self, input: Shape) -> usize {
        input.channels().saturating_mul(size(self.kernel[0]) * size(self.kernel[1]))
    }

    pub(crate) const fn running(self, _input: Shape) -> usize {
        0
    }

    /// One sample's rows of taps (P×C·K_h·K_w) and its output by position
    /// (P×O).
    pub(crate) const fn scratch(self, input: Shape) -> usize {
        match self.output(input) {
            Ok(output) => output.length().saturating_mul(self.fan_in(input).saturating_add(self.out_channels)),
            Err(_) => 0,
        }
    }

    pub(crate) const fn record(self) -> (u8, [u32; 4]) {
        let numbers = [
            record_number(self.out_channels),
            record_pair(self.kernel),
            record_pair(self.stride),
            record_pair(self.padding),
        ];
        (if self.bias { BIAS } else { 0 }, numbers)
    }

    pub(crate) fn from_record(flags: u8, numbers: [u32; 4]) -> Option<Self> {
        let [out_channels, kernel, stride, padding] = numbers;
        Some(Self {
            out_channels: usize::try_from(out_channels).ok()?,
            kernel: pair_of(kernel),
            stride: pair_of(stride),
            padding: pair_of(padding),
            bias: flags & BIAS != 0,
        })
    }

    pub(crate) const fn geometry(self, input: Shape, output: Shape) -> Geometry {
        let (in_channels, rows, columns) = axes(input, output, self.kernel, self.stride, self.padding);
        // The shape rule admits images only; an empty geometry does nothing.
        let out_channels = if in_channels == 0 { 0 } else { self.out_channels };
        Geometry { in_channels, out_channels, rows, columns }
    }
}

impl Kind for Conv2d {
    const TAG: u8 = 6;
    const NAME: &'static str = "conv2d";
    const FIELDS: &'static [Field] =
        &[Field::one("out_channels"), Field::pair("kernel"), Field::pair("stride"), Field::pair("padding")];
    const OPTIONAL_BIAS: bool = true;
    const DECAYS: bool = true;
    const OUTPUT: Output = Output::Own;
    const REUSABLE: bool = true;
    const ALWAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self { out_channels: 4, kernel: [3, 2], stride: [2, 1], padding: [1, 0], bias: true };

    fn forward<K: KindSet, const STREAM: bool>(self, f: Forward<'_>) -> bool {
        let g = self.geometry(f.at.input, f.at.output);
        forward_pass(&g, f)
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        backward_pass(&self.geometry(b.at.input, b.at.output), b);
    }
}

/// A convolution's forward pass in the registry's terms (Conv2d's, and
/// Conv1d's through its one-row geometry).
pub(crate) fn forward_pass(g: &Geometry, mut f: Forward<'_>) -> bool {
    let (lanes, w, b) = (f.lanes, f.w, f.b);
    let (input, scratch, output) = f.io_scratch(g.scratch());
    forward(lanes, g, w, b, input, scratch, output);
    true
}

/// A convolution's backward pass in the registry's terms: the weight and
/// bias gradients only where the layer trains.
pub(crate) fn backward_pass(g: &Geometry, b: Backward<'_>) {
    let (gw, gb) = if b.trains { (b.gw, b.gb) } else { (&mut [][..], &mut [][..]) };
    backward(b.lanes, g, (b.w, b.input, b.dy), gw, gb, b.dx, b.scratch);
}

impl Geometry {
    fn in_plane(&self) -> usize {
        self.rows.input * self.columns.input
    }

    fn out_plane(&self) -> usize {
        self.rows.output * self.columns.output
    }

    /// Inputs that feed one output value: C·K_h·K_w.
    fn taps(&self) -> usize {
        self.in_channels * self.rows.kernel * self.columns.kernel
    }

    /// Tap k's input channel c, kernel row u and kernel column v: k =
    /// (c·K_h + u)·K_w + v, the weights' storage order.
    fn tap(&self, k: usize) -> (usize, usize, usize) {
        let (kh, kw) = (self.rows.kernel, self.columns.kernel);
        (k / (kh * kw), k / kw % kh, k % kw)
    }

    /// Values of one sample's scratch: its rows of taps, then one
    /// position-major copy of its output (or of ∂ℓ/∂output).
    pub(crate) fn scratch(&self) -> usize {
        self.out_plane() * (self.taps() + self.out_channels)
    }
}

/// Where one sample's taps lie in scratch: the value tap k = (c, u, v)
/// reads for output position p at k·`tap` + p·`position`. As columns of
/// taps (K×P, `position` 1) each tap's values for an output row are one
/// run, a copy of an input row with a horizontal stride of 1; as rows of
/// taps (P×K, `tap` 1) each position's are a Linear layer's input row.
#[derive(Clone, Copy, Debug)]
struct Taps {
    tap: usize,
    position: usize,
}

impl Taps {
    /// Columns of taps (K×P) if `COLUMNS`, else rows (P×K).
    fn of<const COLUMNS: bool>(g: &Geometry) -> Self {
        if COLUMNS { Self { tap: g.out_plane(), position: 1 } } else { Self { tap: 1, position: g.taps() } }
    }
}

/// Visits every (tap, output row) run of one sample's taps: `visit(offset
/// of the run's first value in the layout, the input offset of the input
/// row it reads, or `None` where the kernel row falls in the padding,
/// positions lo..hi that read inside, the column read at lo)`. Shared by
/// the gather and its reverse, so the two cannot disagree.
fn each_run(g: &Geometry, layout: Taps, mut visit: impl FnMut(usize, Option<usize>, usize, usize, usize)) {
    let (rows, cols) = (&g.rows, &g.columns);
    let (width, plane) = (cols.input, g.in_plane());
    for k in 0..g.taps() {
        let (c, u, v) = g.tap(k);
        let (lo, hi, first) = cols.inside(v);
        for i in 0..rows.output {
            let at = k * layout.tap + i * cols.output * layout.position;
            visit(at, rows.source(i, u).map(|y| c * plane + y * width), lo, hi, first);
        }
    }
}

/// One sample's taps (im2col, or im2row), zero in the padding: the
/// convolution of the sample becomes a product with them.
/// `COLUMNS` chooses the layout at compile time, so that a build that only
/// takes one path (the Cortex-M4F's, rows) carries the code of one.
///
/// The zeros of the padding lie at the same places for every sample, and
/// nothing else writes the taps' scratch during a pass: as columns,
/// `padding` writes them (the pass's first sample), else only the values
/// inside the image are copied; as rows the zeros are always written
/// (the callers pass `true`) (for a 3×3 kernel with padding 1 on 8×8
/// images, the fills were half the gather's library calls).
fn gather_taps<const COLUMNS: bool>(g: &Geometry, x: &[f32], taps: &mut [f32], padding: bool) {
    if COLUMNS && g.rows.stride == 1 && g.columns.stride == 1 && g.columns.input == g.columns.output {
        gather_same_width(g, x, taps, padding);
        return;
    }
    let layout = Taps::of::<COLUMNS>(g);
    let (ow, stride, step) = (g.columns.output, g.columns.stride, layout.position);
    each_run(g, layout, |at, line, lo, hi, first| {
        if COLUMNS {
            let run = &mut taps[at..at + ow];
            let Some(line) = line else {
                if padding {
                    run.fill(0.0);
                }
                return;
            };
            if padding {
                run[..lo].fill(0.0);
                run[hi..].fill(0.0);
            }
            every_stride(&mut run[lo..hi], &x[line + first..], stride);
        } else {
            // A value every `step`: a load and a store each, the zeros
            // included (skipping them cost the Cortex-M4F more than writing
            // them).
            let mut run = taps[at..].iter_mut().step_by(step).take(ow);
            let Some(line) = line else {
                run.for_each(|t| *t = 0.0);
                return;
            };
            run.by_ref().take(lo).for_each(|t| *t = 0.0);
            let from = x[line + first..].iter().step_by(stride);
            run.by_ref().take(hi - lo).zip(from).for_each(|(t, v)| *t = *v);
            run.for_each(|t| *t = 0.0);
        }
    });
}

/// [`gather_taps`] as columns for a convolution whose output rows are as
/// wide as its input rows, both strides 1 (a 3×3 kernel with padding 1):
/// for each tap, the output rows whose kernel row lies inside the image
/// read consecutive input rows, and since the two widths agree their runs
/// are one copy from one place, after which the values it carried across
/// each row's edge are set back to zero. (A copy per run of 8 values was a
/// library call each: the gather was a fifth of the digits CNN's step.)
fn gather_same_width(g: &Geometry, x: &[f32], taps: &mut [f32], padding: bool) {
    let (rows, cols) = (&g.rows, &g.columns);
    let (width, plane, positions) = (cols.input, g.in_plane(), g.out_plane());
    for (k, column) in taps.chunks_exact_mut(positions).take(g.taps()).enumerate() {
        let (c, u, v) = g.tap(k);
        let ((lo, hi, first), (top, bottom, y)) = (cols.inside(v), rows.inside(u));
        if padding {
            column.fill(0.0);
        }
        if lo >= hi || top >= bottom {
            continue;
        }
        // Position (i, j) reads input (y + i − top, first + j − lo): one
        // offset for the whole block, since a row is `width` long on both
        // sides.
        let (start, end) = (top * width + lo, (bottom - 1) * width + hi);
        let from = c * plane + y * width + first;
        column[start..end].copy_from_slice(&x[from..from + end - start]);
        for i in top..bottom - 1 {
            column[i * width + hi..(i + 1) * width + lo].fill(0.0);
        }
    }
}

/// The reverse of [`gather_taps`]: adds each value back to the input
/// position it was read from.
fn add_taps<const COLUMNS: bool>(g: &Geometry, taps: &[f32], dx: &mut [f32]) {
    let layout = Taps::of::<COLUMNS>(g);
    let (stride, step) = (g.columns.stride, layout.position);
    each_run(g, layout, |at, line, lo, hi, first| {
        let Some(line) = line else { return };
        let to = &mut dx[line + first..];
        if COLUMNS {
            add_every_stride(&taps[at + lo..at + hi], to, stride);
        } else {
            let run = taps[at + lo * step..].iter().step_by(step).take(hi - lo);
            to.iter_mut().step_by(stride).zip(run).for_each(|(d, t)| *d += t);
        }
    });
}

/// run[t] ← line[t·stride] for every t of `run` (`line` long enough).
/// Stride 1 is a copy; stride 2, pairs whose first value is kept, which
/// the compiler turns into vector shuffles (taken one by one through a
/// step, the values of a stride-2 convolution's columns cost as much as
/// its products).
fn every_stride(run: &mut [f32], line: &[f32], stride: usize) {
    match stride {
        1 => run.copy_from_slice(&line[..run.len()]),
        2 => {
            // The last value may have no partner in `line`.
            let Some((last, head)) = run.split_last_mut() else { return };
            for (r, pair) in head.iter_mut().zip(line.as_chunks::<2>().0) {
                *r = pair[0];
            }
            *last = line[2 * head.len()];
        }
        _ => {
            for (r, &value) in run.iter_mut().zip(line.iter().step_by(stride)) {
                *r = value;
            }
        }
    }
}

/// line[t·stride] += run[t] for every t of `run`: the reverse of
/// [`every_stride`], with the same cases.
fn add_every_stride(run: &[f32], line: &mut [f32], stride: usize) {
    match stride {
        1 => line.iter_mut().zip(run).for_each(|(d, r)| *d += r),
        2 => {
            let Some((last, head)) = run.split_last() else { return };
            for (pair, r) in line.as_chunks_mut::<2>().0.iter_mut().zip(head) {
                pair[0] += r;
            }
            line[2 * head.len()] += last;
        }
        _ => line.iter_mut().step_by(stride).zip(run).for_each(|(d, r)| *d += r),
    }
}

/// Whether the passes take the columns path: K×P columns of taps and the
/// plain, Aᵀ and Bᵀ products, which need f32 vectors (hosts, WebAssembly
/// with SIMD). Elsewhere, and for the scalar lanes, rows of taps and the
/// Linear layer's kernels (the Cortex-M4F's register tiles).
fn by_columns(lanes: Lanes) -> bool {
    Portable::VECTORS && lanes == Lanes::Wide
}

/// `to` (cols×rows) ← `from` (rows×cols) transposed.
fn transpose(from: &[f32], rows: usize, cols: usize, to: &mut [f32]) {
    for (r, row) in from.chunks_exact(cols).take(rows).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            to[c * rows + r] = v;
        }
    }
}

/// y ← conv(x) + b for every row of `x`; `b` may be empty. Per sample:
/// Y = W·C + b on its columns of taps where [`by_columns`], else
/// Yᵀ = R·Wᵀ + b on its rows of taps by the Linear layer's product, then Y
/// (O×P) in storage order. `scratch` is [`Geometry::scratch`] long.
// Out of line, as Conv1d's: one copy serves every pass.
#[inline(never)]
pub(crate) fn forward(lanes: Lanes, g: &Geometry, w: &[f32], b: &[f32], x: &[f32], scratch: &mut [f32], y: &mut [f32]) {
    let (in_len, positions, taps) = (g.in_channels * g.in_plane(), g.out_plane(), g.taps());
    let out_len = g.out_channels * positions;
    if in_len == 0 || out_len == 0 || scratch.len() < g.scratch() {
        return;
    }
    let (rows, rest) = scratch.split_at_mut(positions * taps);
    if by_columns(lanes) {
        // Y = W·C + b, straight into storage order.
        for (s, (xs, ys)) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)).enumerate() {
            gather_taps::<true>(g, xs, rows, s == 0);
            for (o, yo) in ys.chunks_exact_mut(positions).enumerate() {
                yo.fill(b.get(o).copied().unwrap_or(0.0));
            }
            lanes::matmul_acc(lanes, 1.0, w, taps, rows, ys);
        }
        return;
    }
    let by_position = &mut rest[..out_len];
    for (xs, ys) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(out_len)) {
        gather_taps::<false>(g, xs, rows, true);
        linear::forward(lanes, w, b, rows, taps, by_position);
        transpose(by_position, positions, g.out_channels, ys);
    }
}

/// ∂ℓ/∂W += Σ_rows ∂ℓ/∂Y·Cᵀ (or (∂ℓ/∂Yᵀ)ᵀ·R) and ∂ℓ/∂b += Σ ∂ℓ/∂y
/// (skipped when `gb` is empty), if `gw` is not empty; and ∂ℓ/∂x
/// (overwritten) from ∂ℓ/∂C = Wᵀ·∂ℓ/∂Y (or ∂ℓ/∂R = ∂ℓ/∂Yᵀ·W) added back to
/// the positions each tap read, if `dx` is given.
/// The two scratch halves are each at least [`Geometry::scratch`] long.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    lanes: Lanes,
    g: &Geometry,
    (w, x, dy): (&[f32], &[f32], &[f32]),
    gw: &mut [f32],
    gb: &mut [f32],
    mut dx: Option<&mut [f32]>,
    (first, second): (&mut [f32], &mut [f32]),
) {
    let (in_len, positions, taps) = (g.in_channels * g.in_plane(), g.out_plane(), g.taps());
    let out_len = g.out_channels * positions;
    if in_len == 0 || out_len == 0 || first.len() < g.scratch() || second.len() < positions * taps {
        return;
    }
    let (rows, rest) = first.split_at_mut(positions * taps);
    if by_columns(lanes) {
        // ∂ℓ/∂W += ∂ℓ/∂Y·Cᵀ, ∂ℓ/∂C = Wᵀ·∂ℓ/∂Y.
        let d_columns = &mut second[..positions * taps];
        for (s, (xs, dys)) in x.chunks_exact(in_len).zip(dy.chunks_exact(out_len)).enumerate() {
            if !gw.is_empty() {
                gather_taps::<true>(g, xs, rows, s == 0);
                lanes::matmul_acc_bt(1.0, dys, positions, rows, gw);
                for (gbo, dyo) in gb.iter_mut().zip(dys.chunks_exact(positions)) {
                    *gbo += dyo.iter().sum::<f32>();
                }
            }
            if let Some(dx) = dx.as_deref_mut() {
                d_columns.fill(0.0);
                lanes::matmul_acc_at(1.0, w, g.out_channels, dys, d_columns);
                let dxs = &mut dx[s * in_len..(s + 1) * in_len];
                dxs.fill(0.0);
                add_taps::<true>(g, d_columns, dxs);
            }
        }
        return;
    }
    let (dy_by_position, d_rows) = (&mut rest[..out_len], &mut second[..positions * taps]);
    for (s, (xs, dys)) in x.chunks_exact(in_len).zip(dy.chunks_exact(out_len)).enumerate() {
        transpose(dys, g.out_channels, positions, dy_by_position);
        if !gw.is_empty() {
            gather_taps::<false>(g, xs, rows, true);
            linear::accumulate_gradients(lanes, rows, dy_by_position, taps, gw, gb);
        }
        if let Some(dx) = dx.as_deref_mut() {
            let dxs = &mut dx[s * in_len..(s + 1) * in_len];
            linear::backward_input(lanes, w, dy_by_position, taps, d_rows);
            dxs.fill(0.0);
            add_taps::<false>(g, d_rows, dxs);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The three passes against the module's formulas summed term by term in
    //! f64, over kernels, strides and paddings that leave every kind of edge
    //! on both axes.

    use super::*;

    const ROWS: usize = 2;
    const CI: usize = 2;
    const CO: usize = 3;
    const H: usize = 6;
    const W: usize = 5;

    fn value(i: usize, k: f32) -> f32 {
        libm::sinf(i as f32 * k + 0.2)
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    #[allow(clippy::many_single_char_names, clippy::too_many_lines)]
    fn every_pass_follows_the_formulas_at_every_stride_padding_and_kernel() {
        let cases = [
            ([1, 1], [1, 1], [0, 0]),
            ([3, 3], [1, 1], [1, 1]),
            ([3, 2], [2, 1], [1, 0]),
            ([2, 3], [1, 2], [0, 2]),
            ([4, 1], [3, 3], [2, 1]),
            ([6, 5], [1, 1], [0, 0]),
            ([2, 2], [2, 2], [1, 1]),
            // Output rows as wide as the input's, with a row stride of 2, or
            // a column stride of 2; strides 1 with narrower output rows.
            ([3, 3], [2, 1], [1, 1]),
            ([3, 1], [1, 2], [1, 2]),
            ([3, 3], [1, 1], [0, 0]),
        ];
        for (kernel, stride, padding) in cases {
            let conv = Conv2d { out_channels: CO, kernel, stride, padding, bias: true };
            let input = Shape::Image { channels: CI, height: H, width: W };
            let output = conv.output(input).unwrap();
            let (kernel, stride, padding) = (kernel.map(size), stride.map(size), padding.map(size));
            let oh = (H + 2 * padding[0] - kernel[0]) / stride[0] + 1;
            let ow = (W + 2 * padding[1] - kernel[1]) / stride[1] + 1;
            assert_eq!(output, Shape::Image { channels: CO, height: oh, width: ow });
            let taps = kernel[0] * kernel[1];
            assert_eq!((conv.weight_dims(input).len(), conv.biases(input)), (CO * CI * taps, CO));
            let g = conv.geometry(input, output);
            let w: [f32; CO * CI * 30] = core::array::from_fn(|i| value(i, 0.7));
            let b = [0.5f32, -0.25, 1.0];
            let x: [f32; ROWS * CI * H * W] = core::array::from_fn(|i| value(i, 1.9));
            let dy: [f32; ROWS * CO * 64] = core::array::from_fn(|i| value(i, 2.3));
            let (w, dy) = (&w[..CO * CI * taps], &dy[..ROWS * CO * oh * ow]);
            let w_at =
                |o: usize, c: usize, u: usize, v: usize| f64::from(w[((o * CI + c) * kernel[0] + u) * kernel[1] + v]);
            // The input position a tap reads, if inside the image.
            let at = |i: usize, u: usize, axis: usize, len: usize| {
                (i * stride[axis] + u).checked_sub(padding[axis]).filter(|&p| p < len)
            };
            let x_at =
                |r: usize, c: usize, i: usize, j: usize, u: usize, v: usize| match (at(i, u, 0, H), at(j, v, 1, W)) {
                    (Some(p), Some(q)) => f64::from(x[((r * CI + c) * H + p) * W + q]),
                    _ => 0.0,
                };
            let dy_at = |r: usize, o: usize, i: usize, j: usize| f64::from(dy[((r * CO + o) * oh + i) * ow + j]);
            let every_tap =
                || (0..CI).flat_map(|c| (0..kernel[0]).flat_map(move |u| (0..kernel[1]).map(move |v| (c, u, v))));
            let every_out = || (0..oh).flat_map(|i| (0..ow).map(move |j| (i, j)));

            for lanes in [Lanes::Scalar, Lanes::Wide] {
                let what = (kernel, stride, padding, lanes);
                // Stale values in the scratch: the passes must write every tap.
                let (mut first, mut second) = ([7.0f32; 64 * (CI * 30 + CO)], [7.0f32; 64 * CI * 30]);
                let mut y = [0.0f32; ROWS * CO * 64];
                forward(lanes, &g, w, &b, &x, &mut first, &mut y[..ROWS * CO * oh * ow]);
                for r in 0..ROWS {
                    for o in 0..CO {
                        for (i, j) in every_out() {
                            let want = f64::from(b[o])
                                + every_tap().map(|(c, u, v)| w_at(o, c, u, v) * x_at(r, c, i, j, u, v)).sum::<f64>();
                            let got = f64::from(y[((r * CO + o) * oh + i) * ow + j]);
                            assert!((got - want).abs() < 1e-5, "{what:?} y[{r}][{o}][{i}][{j}]: {got} vs {want}");
                        }
                    }
                }

                // Gradients add to what the buffers hold.
                let (mut gw, mut gb) = ([1.0f32; CO * CI * 30], [2.0f32; CO]);
                backward(lanes, &g, (w, &x, dy), &mut gw[..CO * CI * taps], &mut gb, None, (&mut first, &mut second));
                for o in 0..CO {
                    let want =
                        2.0 + (0..ROWS).flat_map(|r| every_out().map(move |(i, j)| dy_at(r, o, i, j))).sum::<f64>();
                    assert!((f64::from(gb[o]) - want).abs() < 1e-4, "{what:?} ∂b[{o}]");
                    for (c, u, v) in every_tap() {
                        let want = 1.0
                            + (0..ROWS)
                                .flat_map(|r| every_out().map(move |(i, j)| (r, i, j)))
                                .map(|(r, i, j)| dy_at(r, o, i, j) * x_at(r, c, i, j, u, v))
                                .sum::<f64>();
                        let got = f64::from(gw[((o * CI + c) * kernel[0] + u) * kernel[1] + v]);
                        assert!((got - want).abs() < 1e-4, "{what:?} ∂W[{o}][{c}][{u}][{v}]: {got} vs {want}");
                    }
                }

                // The input gradient overwrites its buffer.
                let mut dx = [9.0f32; ROWS * CI * H * W];
                backward(lanes, &g, (w, &x, dy), &mut [], &mut [], Some(&mut dx), (&mut first, &mut second));
                for r in 0..ROWS {
                    for c in 0..CI {
                        for (p, q) in (0..H).flat_map(|p| (0..W).map(move |q| (p, q))) {
                            let mut want = 0.0;
                            for o in 0..CO {
                                for (i, j) in every_out() {
                                    for (u, v) in (0..kernel[0]).flat_map(|u| (0..kernel[1]).map(move |v| (u, v))) {
                                        if at(i, u, 0, H) == Some(p) && at(j, v, 1, W) == Some(q) {
                                            want += w_at(o, c, u, v) * dy_at(r, o, i, j);
                                        }
                                    }
                                }
                            }
                            let got = f64::from(dx[((r * CI + c) * H + p) * W + q]);
                            assert!((got - want).abs() < 1e-5, "{what:?} ∂x[{r}][{c}][{p}][{q}]: {got} vs {want}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn impossible_declarations_are_refused_with_a_reason() {
        let image = Shape::Image { channels: 2, height: 5, width: 4 };
        let conv = |kernel, stride, padding| Conv2d { out_channels: 3, kernel, stride, padding, bias: false };
        assert_eq!(conv([5, 4], [1, 1], [0, 0]).output(image), Ok(Shape::Image { channels: 3, height: 1, width: 1 }));
        assert_eq!(conv([3, 3], [2, 2], [1, 1]).output(image), Ok(Shape::Image { channels: 3, height: 3, width: 2 }));
        for bad in [
            conv([6, 1], [1, 1], [0, 0]),
            conv([1, 5], [1, 1], [0, 0]),
            conv([0, 1], [1, 1], [0, 0]),
            conv([1, 1], [1, 0], [0, 0]),
            Conv2d { out_channels: 0, ..conv([1, 1], [1, 1], [0, 0]) },
            Conv2d { out_channels: usize::MAX, ..conv([1, 1], [1, 1], [0, 0]) },
        ] {
            assert!(bad.output(image).is_err(), "{bad:?}");
        }
        assert!(conv([1, 1], [1, 1], [0, 0]).output(Shape::Map { channels: 2, length: 5 }).is_err());
        assert!(conv([1, 1], [1, 1], [0, 0]).output(Shape::Image { channels: 0, height: 5, width: 4 }).is_err());
        // The record holds each pair in one number and reads back.
        let layer = Conv2d { out_channels: 7, kernel: [3, 2], stride: [2, 1], padding: [1, 0], bias: true };
        assert_eq!(layer.record(), (BIAS, [7, 3 | 2 << 16, 2 | 1 << 16, 1]));
        assert_eq!(Conv2d::from_record(BIAS, layer.record().1), Some(layer));
        assert_eq!(layer.fan_in(image), 2 * 3 * 2);
        assert_eq!(conv([1, 1], [1, 1], [0, 0]).geometry(Shape::Flat(3), Shape::Flat(3)).in_channels, 0);
    }
}
