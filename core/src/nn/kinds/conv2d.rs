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
    let (input, scratch, output) = f.io_scratch();
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

    /// Values of scratch one output position takes: its taps, and its
    /// output (or ∂ℓ/∂output) in the chunk's own order.
    pub(crate) fn per_position(&self) -> usize {
        self.taps() + self.out_channels
    }

    /// Output positions a pass takes at a time in `len` values of scratch:
    /// all of a sample's if they fit (the hosts' buffers), else as many as
    /// fit (a micro-batch of one row on a small device, where one sample's
    /// taps would outweigh its activations), rounded down to whole output
    /// rows if a row fits (every run of taps then a whole row, the cheap
    /// case), else to a multiple of 4 from 4 up (the products' register
    /// tiles are 4 positions tall); 0 if not even one fits.
    fn chunk(&self, len: usize) -> usize {
        // An empty geometry (no taps) fits nothing: its passes do nothing.
        let (fit, width) = (len.checked_div(self.per_position()).unwrap_or(0), self.columns.output);
        if fit >= self.out_plane() {
            self.out_plane()
        } else if fit >= width {
            // A row is narrower than the sample (so at least 1 wide).
            fit - fit % width
        } else if fit >= 4 {
            fit & !3
        } else {
            fit
        }
    }
}

/// Output positions `p0..p1` of a sample, in chunks of `chunk`.
fn chunks(positions: usize, chunk: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..positions).step_by(chunk.max(1)).map(move |p0| (p0, (p0 + chunk).min(positions)))
}

/// Where a chunk's taps lie in scratch: the value tap k = (c, u, v) reads
/// for the chunk's position p at k·`tap` + p·`position`. As columns of
/// taps (K×P, `position` 1) each tap's values for an output row are one
/// run, a copy of an input row with a horizontal stride of 1; as rows of
/// taps (P×K, `tap` 1) each position's are a Linear layer's input row.
#[derive(Clone, Copy, Debug)]
struct Taps {
    tap: usize,
    position: usize,
}

impl Taps {
    /// Columns of taps (K×P) if `COLUMNS`, else rows (P×K), for a chunk of
    /// P positions.
    fn of<const COLUMNS: bool>(g: &Geometry, positions: usize) -> Self {
        if COLUMNS { Self { tap: positions, position: 1 } } else { Self { tap: 1, position: g.taps() } }
    }
}

/// The part of a run that reads inside the image: its positions `lo..hi`
/// read the input at `from`, `from + stride`, ….
#[derive(Clone, Copy, Debug)]
struct Inside {
    from: usize,
    lo: usize,
    hi: usize,
}

/// Visits every (tap, output row) run of the output positions `p0..p1`
/// of one sample: `visit(offset of the run's first value in the layout,
/// the run's length, the part that reads inside the image or `None` where
/// all of it is padding)`. Shared by the gather and its reverse, so the
/// two cannot disagree. `WHOLE` says at compile time that the window is
/// the whole sample (every run a whole output row), which spares each run
/// the clipping to the window: the runs are short on small images, and
/// that clipping cost the Cortex-M4F 9 % of its convolutions.
fn each_run<const WHOLE: bool>(
    g: &Geometry,
    layout: Taps,
    (p0, p1): (usize, usize),
    mut visit: impl FnMut(usize, usize, Option<Inside>),
) {
    let (rows, cols) = (&g.rows, &g.columns);
    let (width, plane, ow, stride) = (cols.input, g.in_plane(), cols.output, cols.stride);
    // The output rows the window reaches (none for an empty geometry).
    let (top, bottom) = match p0.checked_div(ow) {
        _ if WHOLE => (0, rows.output),
        Some(top) => (top, p1.div_ceil(ow)),
        None => return,
    };
    for k in 0..g.taps() {
        let (c, u, v) = g.tap(k);
        let (lo, hi, first) = cols.inside(v);
        for i in top..bottom {
            // The window's columns j0..j1 of output row i, and of those
            // the ones that read inside the image, a..b.
            let (j0, j1, a, b) = if WHOLE {
                (0, ow, lo, hi)
            } else {
                let (j0, j1) = (p0.saturating_sub(i * ow), (p1 - i * ow).min(ow));
                (j0, j1, lo.max(j0).min(j1), hi.max(j0).min(j1))
            };
            let at = k * layout.tap + (i * ow + j0 - p0) * layout.position;
            let inside = match rows.source(i, u) {
                Some(y) if a < b => {
                    Some(Inside { from: c * plane + y * width + first + (a - lo) * stride, lo: a - j0, hi: b - j0 })
                }
                _ => None,
            };
            visit(at, j1 - j0, inside);
        }
    }
}

/// The taps of output positions `window` of one sample (im2col, or
/// im2row), zero in the padding: the convolution of those positions
/// becomes a product with them. `COLUMNS` chooses the layout at compile
/// time, so that a build that only takes one path (the Cortex-M4F's, rows)
/// carries the code of one.
///
/// The zeros of the padding lie at the same places for every sample of a
/// pass that takes all its positions at once, and nothing else writes the
/// taps' scratch during a pass: as columns, `padding` writes them (the
/// pass's first sample), else only the values inside the image are copied;
/// chunks and rows always write them (their callers pass `true`). (For a
/// 3×3 kernel with padding 1 on 8×8 images, the fills were half the
/// gather's library calls.)
fn gather_taps<const COLUMNS: bool>(g: &Geometry, x: &[f32], taps: &mut [f32], window: (usize, usize), padding: bool) {
    let whole = window == (0, g.out_plane());
    if COLUMNS && whole && g.rows.stride == 1 && g.columns.stride == 1 && g.columns.input == g.columns.output {
        gather_same_width(g, x, taps, padding);
        return;
    }
    let layout = Taps::of::<COLUMNS>(g, window.1 - window.0);
    let how = (g.columns.stride, layout.position, padding);
    // A closure for each copy of the walk, so that each is inlined in its
    // copy (one closure called from both was not).
    if whole {
        each_run::<true>(g, layout, window, |at, len, inside| gather_run::<COLUMNS>(x, taps, how, at, len, inside));
    } else {
        each_run::<false>(g, layout, window, |at, len, inside| gather_run::<COLUMNS>(x, taps, how, at, len, inside));
    }
}

/// One run of [`gather_taps`]: `len` values from `at` in the layout, those
/// `inside` copied from the input, the others zero (unless `padding` is
/// off, as columns). Always inlined: called once a run, a call each cost
/// the Cortex-M4F 12 % of its convolutions' forward passes.
#[allow(clippy::inline_always)]
#[inline(always)]
fn gather_run<const COLUMNS: bool>(
    x: &[f32],
    taps: &mut [f32],
    (stride, step, padding): (usize, usize, bool),
    at: usize,
    len: usize,
    inside: Option<Inside>,
) {
    if COLUMNS {
        let run = &mut taps[at..at + len];
        let Some(Inside { from, lo, hi }) = inside else {
            if padding {
                run.fill(0.0);
            }
            return;
        };
        if padding {
            run[..lo].fill(0.0);
            run[hi..].fill(0.0);
        }
        every_stride(&mut run[lo..hi], &x[from..], stride);
    } else {
        // A value every `step`: a load and a store each, the zeros
        // included (skipping them cost the Cortex-M4F more than writing
        // them).
        let mut run = taps[at..].iter_mut().step_by(step).take(len);
        let Some(Inside { from, lo, hi }) = inside else {
            run.for_each(|t| *t = 0.0);
            return;
        };
        run.by_ref().take(lo).for_each(|t| *t = 0.0);
        let values = x[from..].iter().step_by(stride);
        run.by_ref().take(hi - lo).zip(values).for_each(|(t, v)| *t = *v);
        run.for_each(|t| *t = 0.0);
    }
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
fn add_taps<const COLUMNS: bool>(g: &Geometry, taps: &[f32], window: (usize, usize), dx: &mut [f32]) {
    let layout = Taps::of::<COLUMNS>(g, window.1 - window.0);
    let (stride, step) = (g.columns.stride, layout.position);
    if window == (0, g.out_plane()) {
        each_run::<true>(g, layout, window, |at, _, inside| add_run::<COLUMNS>(taps, dx, (stride, step), at, inside));
    } else {
        each_run::<false>(g, layout, window, |at, _, inside| add_run::<COLUMNS>(taps, dx, (stride, step), at, inside));
    }
}

/// One run of [`add_taps`], always inlined as [`gather_run`].
#[allow(clippy::inline_always)]
#[inline(always)]
fn add_run<const COLUMNS: bool>(
    taps: &[f32],
    dx: &mut [f32],
    (stride, step): (usize, usize),
    at: usize,
    inside: Option<Inside>,
) {
    let Some(Inside { from, lo, hi }) = inside else { return };
    let to = &mut dx[from..];
    if COLUMNS {
        add_every_stride(&taps[at + lo..at + hi], to, stride);
    } else {
        let run = taps[at + lo * step..].iter().step_by(step).take(hi - lo);
        to.iter_mut().step_by(stride).zip(run).for_each(|(d, t)| *d += t);
    }
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

/// `to[c·to_stride + r]` ← `from[r·from_stride + c]` for r < `rows`,
/// c < `cols`: a transpose between row-major blocks that may each be part
/// of a wider matrix.
fn transpose(from: &[f32], from_stride: usize, (rows, cols): (usize, usize), to: &mut [f32], to_stride: usize) {
    for r in 0..rows {
        for (c, &v) in from[r * from_stride..][..cols].iter().enumerate() {
            to[c * to_stride + r] = v;
        }
    }
}

/// y ← conv(x) + b for every row of `x`; `b` may be empty. Per sample and
/// chunk of output positions ([`Geometry::chunk`]): Y = W·C + b on its
/// columns of taps where [`by_columns`], else Yᵀ = R·Wᵀ + b on its rows
/// of taps by the Linear layer's product, then Y (O×P) in storage order.
/// `scratch` must hold at least one position's values
/// ([`Geometry::per_position`]); a pass given less does nothing.
// Out of line, as Conv1d's: one copy serves every pass.
#[inline(never)]
pub(crate) fn forward(lanes: Lanes, g: &Geometry, w: &[f32], b: &[f32], x: &[f32], scratch: &mut [f32], y: &mut [f32]) {
    let (in_len, positions, taps, o) = (g.in_channels * g.in_plane(), g.out_plane(), g.taps(), g.out_channels);
    let chunk = g.chunk(scratch.len());
    if in_len == 0 || o == 0 || chunk == 0 {
        return;
    }
    let (rows, rest) = scratch.split_at_mut(chunk * taps);
    let whole = chunk == positions;
    for (s, (xs, ys)) in x.chunks_exact(in_len).zip(y.chunks_exact_mut(o * positions)).enumerate() {
        for (p0, p1) in chunks(positions, chunk) {
            let width = p1 - p0;
            let taps_of = &mut rows[..width * taps];
            if by_columns(lanes) {
                // Y = W·C + b: straight into storage order when the chunk is
                // the whole sample, else through scratch.
                gather_taps::<true>(g, xs, taps_of, (p0, p1), !whole || s == 0);
                let out = if whole { &mut *ys } else { &mut rest[..o * width] };
                for (k, yo) in out.chunks_exact_mut(width).enumerate() {
                    yo.fill(b.get(k).copied().unwrap_or(0.0));
                }
                lanes::matmul_acc(lanes, 1.0, w, taps, taps_of, out);
                if !whole {
                    for (yo, part) in ys.chunks_exact_mut(positions).zip(rest.chunks_exact(width).take(o)) {
                        yo[p0..p1].copy_from_slice(part);
                    }
                }
            } else {
                gather_taps::<false>(g, xs, taps_of, (p0, p1), true);
                let by_position = &mut rest[..width * o];
                linear::forward(lanes, w, b, taps_of, taps, by_position);
                transpose(by_position, o, (width, o), &mut ys[p0..], positions);
            }
        }
    }
}

/// ∂ℓ/∂W += Σ_rows ∂ℓ/∂Y·Cᵀ (or (∂ℓ/∂Yᵀ)ᵀ·R) and ∂ℓ/∂b += Σ ∂ℓ/∂y
/// (skipped when `gb` is empty), if `gw` is not empty; and ∂ℓ/∂x
/// (overwritten) from ∂ℓ/∂C = Wᵀ·∂ℓ/∂Y (or ∂ℓ/∂R = ∂ℓ/∂Yᵀ·W) added back to
/// the positions each tap read, if `dx` is given; per sample and chunk of
/// output positions as [`forward`], the chunk set by the shorter half.
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
    let (in_len, positions, taps, o) = (g.in_channels * g.in_plane(), g.out_plane(), g.taps(), g.out_channels);
    let chunk = g.chunk(first.len().min(second.len()));
    if in_len == 0 || o == 0 || chunk == 0 {
        return;
    }
    let (rows, rest) = first.split_at_mut(chunk * taps);
    let whole = chunk == positions;
    for (s, (xs, dys)) in x.chunks_exact(in_len).zip(dy.chunks_exact(o * positions)).enumerate() {
        let mut dxs = dx.as_deref_mut().map(|dx| &mut dx[s * in_len..(s + 1) * in_len]);
        if let Some(dxs) = dxs.as_deref_mut() {
            dxs.fill(0.0);
        }
        for (p0, p1) in chunks(positions, chunk) {
            let (width, window) = (p1 - p0, (p0, p1));
            let (taps_of, d_taps) = (&mut rows[..width * taps], &mut second[..width * taps]);
            if by_columns(lanes) {
                // ∂ℓ/∂W += ∂ℓ/∂Y·Cᵀ, ∂ℓ/∂C = Wᵀ·∂ℓ/∂Y, on the chunk's
                // columns of ∂ℓ/∂Y (all of them, or a copy).
                let dy_of = if whole {
                    dys
                } else {
                    let part = &mut rest[..o * width];
                    for (to, from) in part.chunks_exact_mut(width).zip(dys.chunks_exact(positions)) {
                        to.copy_from_slice(&from[p0..p1]);
                    }
                    &*part
                };
                if !gw.is_empty() {
                    gather_taps::<true>(g, xs, taps_of, window, !whole || s == 0);
                    lanes::matmul_acc_bt(1.0, dy_of, width, taps_of, gw);
                    for (gbo, dyo) in gb.iter_mut().zip(dy_of.chunks_exact(width)) {
                        *gbo += dyo.iter().sum::<f32>();
                    }
                }
                if let Some(dxs) = dxs.as_deref_mut() {
                    d_taps.fill(0.0);
                    lanes::matmul_acc_at(1.0, w, o, dy_of, d_taps);
                    add_taps::<true>(g, d_taps, window, dxs);
                }
            } else {
                let dy_by_position = &mut rest[..width * o];
                transpose(&dys[p0..], positions, (o, width), dy_by_position, o);
                if !gw.is_empty() {
                    gather_taps::<false>(g, xs, taps_of, window, true);
                    linear::accumulate_gradients(lanes, taps_of, dy_by_position, taps, gw, gb);
                }
                if let Some(dxs) = dxs.as_deref_mut() {
                    linear::backward_input(lanes, w, dy_by_position, taps, d_taps);
                    add_taps::<false>(g, d_taps, window, dxs);
                }
            }
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

            // One sample's scratch, and room for 1, 2 or 3 output
            // positions at a time (chunks that end inside output rows).
            let whole = conv.scratch(input);
            let pp = g.per_position();
            let chunked = [whole, pp, 2 * pp, 3 * pp + 1, 4 * pp + 1, 6 * pp];
            for (lanes, len) in [Lanes::Scalar, Lanes::Wide].into_iter().flat_map(|l| chunked.map(|c| (l, c))) {
                let what = (kernel, stride, padding, lanes, len);
                // Stale values in the scratch: the passes must write every tap.
                let (mut first, mut second) = ([7.0f32; 64 * (CI * 30 + CO)], [7.0f32; 64 * (CI * 30 + CO)]);
                let (first, second) = (&mut first[..len], &mut second[..len]);
                let mut y = [0.0f32; ROWS * CO * 64];
                forward(lanes, &g, w, &b, &x, first, &mut y[..ROWS * CO * oh * ow]);
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
                backward(lanes, &g, (w, &x, dy), &mut gw[..CO * CI * taps], &mut gb, None, (first, second));
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
                backward(lanes, &g, (w, &x, dy), &mut [], &mut [], Some(&mut dx), (first, second));
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
    fn a_geometry_without_inputs_or_outputs_or_scratch_does_nothing() {
        // A row of 4 positions; no input channel, no output channel, or
        // scratch for less than one position: the passes leave every
        // buffer as it was (and do not divide by the empty sizes).
        let row = Axis { input: 1, output: 1, kernel: 1, stride: 1, padding: 0 };
        let columns = Axis { input: 4, output: 4, kernel: 1, stride: 1, padding: 0 };
        let cases = [(0, 3, 64), (2, 0, 64), (2, 3, 4)];
        for (in_channels, out_channels, scratch) in cases {
            let g = Geometry { in_channels, out_channels, rows: row, columns };
            let (w, x, dy) = ([0.5f32; 6], [1.0f32; 8], [1.0f32; 12]);
            let (mut y, mut dx, mut gw) = ([7.0f32; 12], [7.0f32; 8], [7.0f32; 6]);
            let (mut first, mut second) = ([0.0f32; 64], [0.0f32; 64]);
            for lanes in [Lanes::Scalar, Lanes::Wide] {
                forward(lanes, &g, &w, &[], &x, &mut first[..scratch], &mut y);
                let halves = (&mut first[..scratch], &mut second[..scratch]);
                backward(lanes, &g, (&w, &x, &dy), &mut gw, &mut [], Some(&mut dx), halves);
                let untouched = |v: &[f32]| v.iter().all(|v| v.to_bits() == 7.0f32.to_bits());
                assert!(untouched(&y) && untouched(&dx) && untouched(&gw), "{in_channels} {out_channels} {scratch}");
            }
        }
    }

    #[test]
    fn a_pass_takes_whole_rows_or_fours_of_the_positions_that_fit() {
        // 8×8 outputs of a 3×3 kernel over 4 channels into 8: 36 taps and
        // 8 outputs a position.
        let conv = Conv2d { out_channels: 8, kernel: [3, 3], stride: [1, 1], padding: [1, 1], bias: true };
        let input = Shape::Image { channels: 4, height: 8, width: 8 };
        let g = conv.geometry(input, conv.output(input).unwrap());
        assert_eq!(g.per_position(), 44);
        let positions = |fit: usize| g.chunk(44 * fit + 43);
        // All 64, whole rows of 8, fours below a row, and what fits below 4.
        assert_eq!([positions(64), positions(100), positions(47), positions(8)], [64, 64, 40, 8]);
        assert_eq!([positions(7), positions(5), positions(4), positions(3), positions(1)], [4, 4, 4, 3, 1]);
        assert_eq!(g.chunk(43), 0);
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
