//! Matrix products: the packed, register-tiled products of the linear
//! layers and the loss's gradients on targets with vectors (panels of B,
//! blocks of A copied to the stack for the large shapes, blocking sized
//! for L2), and the scalar register tiles where there are none.

use super::blas1::{axpy, axpy4};
use super::select::{Lanes, simd};
use super::vector::{Portable, Simd, W};

/// C ← C + Aᵀ·B for row-major n×p `a` and n×q `b` (`dims` = [p, q]) and
/// p×q `c`, where there are no f32 vectors: a Linear layer's weight
/// gradient, (∂ℓ/∂y)ᵀ·x. Tiles of four rows of C by four columns
/// ([`register_tile`]); the columns past the last four one at a time.
pub(crate) fn transposed_matmul_registers(a: &[f32], b: &[f32], dims: [usize; 2], c: &mut [f32]) {
    let [p, q] = dims;
    if p == 0 || q == 0 {
        return;
    }
    let whole = q / 4 * 4;
    for j0 in (0..p).step_by(4) {
        let rows = (p - j0).min(4);
        for k0 in (0..whole).step_by(4) {
            if rows == 4 {
                register_tile::<4>([a, b], dims, j0, k0, c);
            } else {
                (j0..j0 + rows).for_each(|j| register_tile::<1>([a, b], dims, j, k0, c));
            }
        }
        for j in j0..j0 + rows {
            for k in whole..q {
                c[j * q + k] += a.chunks_exact(p).zip(b.chunks_exact(q)).map(|(ra, rb)| ra[j] * rb[k]).sum::<f32>();
            }
        }
    }
}

/// C[j0..j0+R, k0..k0+4] += Σᵢ A[i, j0..j0+R]ᵀ·B[i, k0..k0+4] in scalars,
/// for `m` = [A, B] with rows of `dims` = [p, q] and C p×q. A step down the
/// rows is two pointer steps, eight loads at fixed offsets and sixteen
/// multiply-accumulates.
#[inline]
pub(super) fn register_tile<'a, const R: usize>(
    m: [&'a [f32]; 2],
    dims: [usize; 2],
    j0: usize,
    k0: usize,
    c: &mut [f32],
) {
    let ([a, b], [p, q]) = (m, dims);
    if j0 + R > p || k0 + 4 > q {
        return;
    }
    // In range by the check above; `get` lets the compiler see it.
    let tile = |(ra, rb): (&'a [f32], &'a [f32])| ra.get(j0..j0 + R).zip(rb.get(k0..k0 + 4));
    let mut rows = a.chunks_exact(p).zip(b.chunks_exact(q)).map_while(tile);
    // The sums start from the first row's products, not from zeros: a zero
    // start took sixteen moves on each of the three paths into the loop.
    let Some((a, x)) = rows.next() else { return };
    let mut acc: [[f32; 4]; R] = core::array::from_fn(|r| core::array::from_fn(|q| a[r] * x[q]));
    for (a, x) in rows {
        for (acc_r, &ar) in acc.iter_mut().zip(a) {
            for (acc_rq, &xq) in acc_r.iter_mut().zip(x) {
                *acc_rq += ar * xq;
            }
        }
    }
    // A loop of a fixed R rows, which the compiler unrolls: the sums stay in
    // registers (zipped with the rows of C, the loop kept its count open,
    // and the sums went through the stack, 100 instructions a tile).
    for (r, acc_r) in acc.iter().enumerate() {
        let at = (j0 + r) * q + k0;
        for (v, sum) in c.get_mut(at..at + 4).into_iter().flatten().zip(acc_r) {
            *v += sum;
        }
    }
}

/// out ← A·Bᵀ + bias for row-major A (rows×m) and B (k×m), out rows×k:
/// out[i, o] = Σⱼ A[i, j]·B[o, j] + bias[o] (`bias` empty: none), where
/// there are no f32 vectors: a Linear layer's forward product, x·Wᵀ + b.
/// Tiles of four rows of A by four rows of B in sixteen scalar
/// accumulators: a step along j is eight loads for sixteen
/// multiply-accumulates. The rows and columns past the last four are single
/// dot products. Each sum runs in order over j, then adds the bias. With
/// `upper` (out square), only the tiles that reach the diagonal or above it:
/// the caller mirrors.
///
/// One step of j a pass. Two (the eight row addresses formed half as often)
/// took 1.5 % off the fine-tune firmware's step but 48 bytes onto its peak
/// stack; four spilled the loaded values to the stack.
pub(crate) fn matmul_transposed_registers(a: &[f32], b: &[f32], m: usize, bias: &[f32], out: &mut [f32], upper: bool) {
    let Some(k) = b.len().checked_div(m) else { return };
    if k == 0 {
        return;
    }
    let rows = (a.len() / m).min(out.len() / k);
    let (whole_rows, whole) = (rows / 4 * 4, k / 4 * 4);
    let bias = |o: usize| bias.get(o).copied().unwrap_or(0.0);
    for i0 in (0..whole_rows).step_by(4) {
        let x = four_rows(a, m, i0);
        for o0 in (0..whole).step_by(4) {
            if upper && o0 + 4 <= i0 {
                continue;
            }
            let w = four_rows(b, m, o0);
            let mut acc = [[0.0f32; 4]; 4];
            for j in 0..m {
                for (acc_r, xr) in acc.iter_mut().zip(x) {
                    for (acc_ro, wo) in acc_r.iter_mut().zip(w) {
                        *acc_ro += xr[j] * wo[j];
                    }
                }
            }
            let b: [f32; 4] = core::array::from_fn(|o| bias(o0 + o));
            for (row, acc_r) in out[i0 * k..].chunks_exact_mut(k).zip(&acc) {
                for ((v, sum), b) in row[o0..o0 + 4].iter_mut().zip(acc_r).zip(b) {
                    *v = sum + b;
                }
            }
        }
    }
    for i in 0..rows {
        let first = if i < whole_rows { whole } else { 0 };
        for o in first.max(if upper { i } else { 0 })..k {
            let sum: f32 = a[i * m..(i + 1) * m].iter().zip(&b[o * m..(o + 1) * m]).map(|(x, y)| x * y).sum();
            out[i * k + o] = sum + bias(o);
        }
    }
}

/// [`product`] with blocks of A copied into [`A_BLOCK`] rows of stack, for
/// the large products of the loss (at d ≥ [`PACK_FROM`], or n ≥
/// [`PACK_ROWS_FROM`]), where C or K alone is 1 MiB or more; without a
/// heap there is nowhere else. 96 KiB, only on hosts and WASM (targets with
/// vectors).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn packed_product<S: Simd, const TA: bool, const TB: bool>(
    simd: S,
    s: f32,
    a: &[f32],
    m: usize,
    b: &[f32],
    out: &mut [f32],
    upper: bool,
) {
    #[allow(clippy::large_stack_arrays)]
    let mut packed = [0.0f32; A_BLOCK * ROW_BLOCK];
    product::<S, TA, TB, { ROW_BLOCK * 2 * W }>(simd, s, a, m, b, out, upper, &mut packed);
}

/// Rows of Z (or of B, the inner dimension of a product) per pass of the
/// tiled products, and columns of C (or of the output) per pass: 256 rows
/// by 256 columns is 256 KiB, within a core's L2 cache, so a block is
/// read from memory once per pass instead of once per register tile. Tiny
/// in the unit tests, so that their small matrices cross every block edge.
pub(super) const ROW_BLOCK: usize = if cfg!(test) { 2 } else { 256 };
/// See [`ROW_BLOCK`]; a multiple of two vectors.
pub(super) const COLUMN_BLOCK: usize = if cfg!(test) { 2 * W } else { 256 };

/// out ← out + s·A·B for row-major A (rows×m), B (m×k) and out (rows×k):
/// the gradients' Z_c·G and K·Z_c products.
///
/// The SIMD path keeps a tile of four output rows by eight or sixteen
/// columns in registers while it runs down the inner dimension; the scalar
/// path adds four rows of B per pass over each output row.
pub(crate) fn matmul_acc(lanes: Lanes, s: f32, a: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
    if m == 0 {
        return;
    }
    let k = b.len() / m;
    // Vector tiles pay only where a vector is a real vector: elsewhere (the
    // Cortex-M4F) their 4×8 accumulators would spill, and both names run
    // scalar tiles that fit its registers.
    if !Portable::VECTORS {
        matmul_registers(s, a, m, b, out);
        return;
    }
    if lanes == Lanes::Scalar || k == 0 {
        let quads = m / 4 * 4;
        for (ar, o) in a.chunks_exact(m).zip(out.chunks_exact_mut(k.max(1))) {
            for j in (0..quads).step_by(4) {
                let coeffs = [s * ar[j], s * ar[j + 1], s * ar[j + 2], s * ar[j + 3]];
                axpy4(lanes, coeffs, four_rows(b, k, j), o);
            }
            for j in quads..m {
                axpy(lanes, s * ar[j], &b[j * k..(j + 1) * k], o);
            }
        }
        return;
    }
    simd!(matmul_acc => matmul_acc_in(s, a, m, b, out));
}

/// [`matmul_acc`] where there are no f32 vectors (Cortex-M4F): tiles of four
/// rows of A by four columns in sixteen scalar accumulators; a step down
/// the inner dimension is eight loads (four from A's rows, four from B's)
/// for sixteen multiply-accumulates. The rows past the last four and the
/// columns past the last four are summed one at a time.
pub(crate) fn matmul_registers(s: f32, a: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
    let k = b.len() / m;
    if k == 0 {
        return;
    }
    let (rows, whole) = (a.len() / m, k / 4 * 4);
    for i0 in (0..rows / 4 * 4).step_by(4) {
        let [r0, r1, r2, r3] = four_rows(a, m, i0);
        for c0 in (0..whole).step_by(4) {
            // Iterators, not indices: no bounds check stays in the loop, so
            // the five pointers and the accumulators keep to registers.
            let mut steps = r0.iter().zip(r1).zip(r2).zip(r3).zip(b.chunks_exact(k));
            let mut steps = core::iter::from_fn(|| {
                let ((((&a0, &a1), &a2), &a3), row_b) = steps.next()?;
                Some(([a0, a1, a2, a3], row_b.get(c0..c0 + 4)?))
            });
            // From the first step's products, as in `register_tile`.
            let Some((a, x)) = steps.next() else { continue };
            let mut acc: [[f32; 4]; 4] = core::array::from_fn(|r| core::array::from_fn(|q| a[r] * x[q]));
            for (a, x) in steps {
                for (acc_r, ar) in acc.iter_mut().zip(a) {
                    for (acc_rq, &xq) in acc_r.iter_mut().zip(x) {
                        *acc_rq += ar * xq;
                    }
                }
            }
            // Four rows, a fixed count: the sums stay in registers.
            for (r, acc_r) in acc.iter().enumerate() {
                let at = (i0 + r) * k + c0;
                for (v, sum) in out.get_mut(at..at + 4).into_iter().flatten().zip(acc_r) {
                    *v += s * sum;
                }
            }
        }
    }
    for (i, (ar, o)) in a.chunks_exact(m).zip(out.chunks_exact_mut(k)).enumerate() {
        let first = if i < rows / 4 * 4 { whole } else { 0 };
        for (c, v) in o.iter_mut().enumerate().skip(first) {
            *v += s * ar.iter().zip(b.chunks_exact(k)).map(|(aj, row_b)| aj * row_b[c]).sum::<f32>();
        }
    }
}

/// out ← out + s·A·Bᵀ for row-major A (rows×m) and `bt` = B transposed
/// (k×m, row-major), out rows×k: a Linear layer's forward product x·Wᵀ, W
/// as stored. For targets with vectors (the panels gather B's columns from
/// `bt`'s rows); m ≥ 1.
pub(crate) fn matmul_acc_bt(s: f32, a: &[f32], m: usize, bt: &[f32], out: &mut [f32]) {
    if m == 0 || bt.len() < m {
        return;
    }
    simd!(matmul_acc_bt => matmul_bt_in(s, a, m, bt, out));
}

/// out ← out + s·Aᵀ·B for `at` = A transposed (m×rows, row-major) and
/// row-major B (m×k), out rows×k: a Linear layer's weight gradient
/// (∂ℓ/∂y)ᵀ·x, both factors as stored. For targets with vectors; m ≥ 1.
pub(crate) fn matmul_acc_at(s: f32, at: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
    if m == 0 || b.len() < m {
        return;
    }
    simd!(matmul_acc_at => matmul_at_in(s, at, m, b, out));
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn matmul_bt_in<S: Simd>(simd: S, s: f32, a: &[f32], m: usize, bt: &[f32], out: &mut [f32]) {
    panel_sized::<S, false, true>(simd, s, a, m, bt, out);
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn matmul_at_in<S: Simd>(simd: S, s: f32, at: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
    panel_sized::<S, true, false>(simd, s, at, m, b, out);
}

/// [`matmul_acc`]'s register tiles, for m ≥ 1 and k = len(B)/m ≥ 1.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn matmul_acc_in<S: Simd>(simd: S, s: f32, a: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
    if m >= PACK_ROWS_FROM && a.len() / m >= PACK_ROWS_FROM {
        packed_product::<S, false, false>(simd, s, a, m, b, out, false);
    } else {
        panel_sized::<S, false, false>(simd, s, a, m, b, out);
    }
}

/// The rows and depth from which [`matmul_acc`] copies blocks of A (the
/// batch side's K·Z_c from n = 256): read in place, a tile's values of A
/// lie in six rows, whose loads the compiler splits and whose addresses it
/// keeps on the stack. K·Z_c ran at 73 GFLOP/s in place at (1024, 2048), 88
/// copied. Small in the unit tests, so that their matrices take both paths.
pub(super) const PACK_ROWS_FROM: usize = if cfg!(test) { 5 } else { 256 };

/// Rows of a small product's panel: a Linear layer's inner dimension is
/// often this short, and a panel is zeroed on every call (16 KiB at
/// [`ROW_BLOCK`] rows, a measurable share of a small layer's product).
pub(super) const SMALL_PANEL_ROWS: usize = if cfg!(test) { 2 } else { 64 };

/// [`product`] with a panel of [`SMALL_PANEL_ROWS`] rows where the inner
/// dimension fits it, else of [`ROW_BLOCK`] rows.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn panel_sized<S: Simd, const TA: bool, const TB: bool>(
    simd: S,
    s: f32,
    a: &[f32],
    m: usize,
    b: &[f32],
    out: &mut [f32],
) {
    if m <= SMALL_PANEL_ROWS {
        product::<S, TA, TB, { SMALL_PANEL_ROWS * 2 * W }>(simd, s, a, m, b, out, false, &mut []);
    } else {
        product::<S, TA, TB, { ROW_BLOCK * 2 * W }>(simd, s, a, m, b, out, false, &mut []);
    }
}

/// out += s·A·B in register tiles over packed panels of B (`P` values: P/16
/// rows of 16 columns), with A given transposed (m×rows) if `TA` and B
/// transposed (k×m) if `TB`. With `upper`, only the tiles that reach the
/// diagonal or above it (out square, mirrored by the caller). A is copied a
/// block of [`A_BLOCK`] rows at a time into `packed`, tile by tile with a
/// tile's values for each j adjacent (at least `A_BLOCK` × `P`/16 values;
/// empty: read in place).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
#[allow(clippy::too_many_arguments)]
pub(super) fn product<S: Simd, const TA: bool, const TB: bool, const P: usize>(
    simd: S,
    s: f32,
    a: &[f32],
    m: usize,
    b: &[f32],
    out: &mut [f32],
    upper: bool,
    packed: &mut [f32],
) {
    let k = b.len() / m;
    let rows = a.len() / m;
    let whole = k / W * W;
    // Element (j, c) of B and (i, j) of A, in either layout.
    let b_at = |j: usize, c: usize| if TB { b[c * m + j] } else { b[j * k + c] };
    let a_at = |i: usize, j: usize| if TA { a[j * rows + i] } else { a[i * m + j] };
    let max_depth = P / (2 * W);
    let pack = packed.len() >= A_BLOCK * max_depth;
    // Rows per register tile: six by two vectors (twelve accumulators, two
    // operands and a broadcast: AVX's sixteen registers) where tiles are two
    // vectors wide and the product is large, else four. Twelve chains of
    // fused multiply-adds hide their latency where eight barely do; on a
    // Linear layer's short products the four-row tiles measured faster
    // (the digits step took 590 µs with six rows, 430 with four).
    let tile_rows = if S::TILE_VECTORS == 2 && S::TILE_ROWS == 6 && rows >= 256 { 6 } else { 4 };
    // A block of B's rows (the inner dimension) at a time, and within it a
    // strip of one tile's columns, copied into a contiguous panel: read in
    // place, the strip's rows lie a whole row of B apart (a page apart at
    // k = 1024), so every load of every tile would miss the TLB; and a
    // transposed B has the strip's values a row apart. The panel stays in
    // L1 while every row of A takes its turn; each block adds its partial
    // sums into the output. A transposed A has the same trouble: its values
    // for a tile lie a row apart, so a block of its rows is copied too, tile
    // by tile, and stays in L2 while every strip of B passes (an A read
    // along its rows is copied too where the product is large: see
    // `PACK_ROWS_FROM`).
    let mut panel = [0.0f32; P];
    let mut j0 = 0;
    while j0 < m {
        let depth = (m - j0).min(max_depth);
        let block_rows = if pack { A_BLOCK } else { rows.max(1) };
        let mut ib = 0;
        while ib < rows {
            let ie = (ib + block_rows).min(rows);
            if pack {
                pack_block::<TA>(a, [rows, m], ib..ie, j0..j0 + depth, tile_rows, packed);
            }
            // A's values for the tile at row i, and the step between
            // successive j: in the packed block, in place if A is given
            // transposed, or none (the tile reads A's rows in place).
            let a_cols = |i: usize| -> (&[f32], usize, usize) {
                if pack {
                    let (t, r) = ((i - ib) / tile_rows, (i - ib) % tile_rows);
                    (&packed[t * tile_rows * depth..(t + 1) * tile_rows * depth], tile_rows, r)
                } else if TA {
                    (&a[j0 * rows..(j0 + depth) * rows], rows, i)
                } else {
                    (&[][..], 0, 0)
                }
            };
            let mut k0 = 0;
            while k0 + W <= whole {
                let width = if S::TILE_VECTORS == 2 && k0 + 2 * W <= whole { 2 * W } else { W };
                if upper && k0 + width <= ib {
                    k0 += width;
                    continue;
                }
                if TB && S::REGISTER_TRANSPOSE {
                    gather_transposed(simd, &b[k0 * m..(k0 + width) * m], m, j0..j0 + depth, &mut panel);
                } else if TB {
                    for (jj, dst) in panel.chunks_exact_mut(width).take(depth).enumerate() {
                        for (c, v) in dst.iter_mut().enumerate() {
                            *v = b_at(j0 + jj, k0 + c);
                        }
                    }
                } else {
                    for (jj, dst) in panel.chunks_exact_mut(width).take(depth).enumerate() {
                        let src = (j0 + jj) * k + k0;
                        let from = &b[src..src + width];
                        if !copy_fixed::<{ 2 * W }>(dst, from) {
                            dst.copy_from_slice(from);
                        }
                    }
                }
                let at = Product { s, a, m, j0, depth, panel: &panel, width, live: width, k, k0 };
                row_tiles(simd, &at, ib..ie, tile_rows, &a_cols, |i0| upper && k0 + width <= i0, out);
                k0 += width;
            }
            // The last columns, fewer than a vector: a strip padded with
            // zeros, of which the tiles keep the live lanes (summed one
            // column at a time, the last 5 of a 21-position convolution
            // took a quarter of its product's time).
            let tail = k - whole;
            if tail > 0 && !upper {
                for (jj, dst) in panel.chunks_exact_mut(W).take(depth).enumerate() {
                    for (c, v) in dst.iter_mut().enumerate() {
                        *v = if c < tail { b_at(j0 + jj, whole + c) } else { 0.0 };
                    }
                }
                let at = Product { s, a, m, j0, depth, panel: &panel, width: W, live: tail, k, k0: whole };
                row_tiles(simd, &at, ib..ie, tile_rows, &a_cols, |_| false, out);
            }
            ib = ie;
        }
        j0 += depth;
    }
    // With `upper`, the last columns one at a time, from the diagonal on.
    if upper {
        for i in 0..rows {
            for c in whole.max(i)..k {
                out[i * k + c] += s * (0..m).map(|j| a_at(i, j) * b_at(j, c)).sum::<f32>();
            }
        }
    }
}

/// Every register tile of one strip over the rows `block` of A: tiles of
/// `tile_rows` rows, the rows past the last whole tile one at a time;
/// `skip(i0)` leaves out a tile wholly below the diagonal. `a_cols` as in
/// [`product_tile`].
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
#[allow(clippy::too_many_arguments)]
fn row_tiles<'a, S: Simd>(
    simd: S,
    at: &Product<'_>,
    block: core::ops::Range<usize>,
    tile_rows: usize,
    a_cols: &impl Fn(usize) -> (&'a [f32], usize, usize),
    skip: impl Fn(usize) -> bool,
    out: &mut [f32],
) {
    let wide = at.width == 2 * W;
    let mut i0 = block.start;
    while i0 < block.end {
        let rows = (block.end - i0).min(tile_rows);
        if !skip(i0) {
            match (rows, wide) {
                (6, true) => product_tile::<S, 6, 2>(simd, at, i0, a_cols(i0), out),
                (6, false) => product_tile::<S, 6, 1>(simd, at, i0, a_cols(i0), out),
                (4, true) => product_tile::<S, 4, 2>(simd, at, i0, a_cols(i0), out),
                (4, false) => product_tile::<S, 4, 1>(simd, at, i0, a_cols(i0), out),
                (_, true) => (i0..i0 + rows).for_each(|i| product_tile::<S, 1, 2>(simd, at, i, a_cols(i), out)),
                (_, false) => (i0..i0 + rows).for_each(|i| product_tile::<S, 1, 1>(simd, at, i, a_cols(i), out)),
            }
        }
        i0 += rows;
    }
}

/// Copies rows `block` of A, over columns `cols` of it (the product's inner
/// dimension), into `packed` tile by tile: a tile's `tile_rows` values of A
/// at each column adjacent, rows past the block's end as zeros. A is
/// `dims[0]` rows by `dims[1]`, given transposed (`dims[1]` × `dims[0]`) if
/// `TA`.
pub(super) fn pack_block<const TA: bool>(
    a: &[f32],
    [rows, m]: [usize; 2],
    block: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    tile_rows: usize,
    packed: &mut [f32],
) {
    let depth = cols.len();
    let tiles = packed.chunks_exact_mut(tile_rows * depth).take(block.len().div_ceil(tile_rows));
    for (t, tile) in tiles.enumerate() {
        let first = block.start + tile_rows * t;
        let live = (block.end - first).min(tile_rows);
        if TA {
            // The tile's rows of A are adjacent in each row of Aᵀ.
            for (jj, dst) in tile.chunks_exact_mut(tile_rows).enumerate() {
                let src = (cols.start + jj) * rows + first;
                let from = &a[src..src + live];
                if !copy_fixed::<6>(dst, from) && !copy_fixed::<4>(dst, from) {
                    dst[..live].copy_from_slice(from);
                    dst[live..].fill(0.0);
                }
            }
        } else {
            // Row by row of A, each read along and written a tile's height
            // apart.
            for r in 0..tile_rows {
                let column = tile.iter_mut().skip(r).step_by(tile_rows);
                if r < live {
                    let row = &a[(first + r) * m + cols.start..(first + r) * m + cols.end];
                    column.zip(row).for_each(|(v, &x)| *v = x);
                } else {
                    column.for_each(|v| *v = 0.0);
                }
            }
        }
    }
}

/// panel[jj·w + c] ← bt[c·m + cols.start + jj] for the w = len(bt)/m rows
/// of `bt` (a multiple of eight) and jj over `cols`: a strip of a
/// transposed B laid out as a panel, eight rows by eight columns at a time
/// through a register transpose (value by value, the strip's values lie a
/// row apart, and the copy cost a quarter of the product's time).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn gather_transposed<S: Simd>(
    simd: S,
    bt: &[f32],
    m: usize,
    cols: core::ops::Range<usize>,
    panel: &mut [f32],
) {
    let w = bt.len() / m;
    let depth = cols.len();
    for (g, group) in bt.chunks_exact(W * m).enumerate() {
        let rows: [&[f32]; W] = core::array::from_fn(|r| &group[r * m + cols.start..r * m + cols.end]);
        let chunks: [&[[f32; W]]; W] = rows.map(|row| row.as_chunks::<W>().0);
        let whole = chunks[0].len();
        #[allow(clippy::needless_range_loop)] // q indexes all eight rows at once
        for q in 0..whole {
            let columns = simd.transpose(core::array::from_fn(|r| simd.load(&chunks[r][q])));
            for (jj, v) in columns.into_iter().enumerate() {
                let at = (q * W + jj) * w + g * W;
                if let Some(dst) = panel.get_mut(at..at + W).and_then(|d| d.as_chunks_mut::<W>().0.first_mut()) {
                    simd.store(v, dst);
                }
            }
        }
        for jj in whole * W..depth {
            for (r, row) in rows.iter().enumerate() {
                panel[jj * w + g * W + r] = row[jj];
            }
        }
    }
}

/// dst ← src where both are `L` long (and false, untouched, otherwise): a
/// copy of a length known at compile time, inlined as a few moves, where
/// one of a run-time length becomes a call to the library's copy (which
/// costs more than a panel row's 64 bytes).
#[inline(always)]
pub(super) fn copy_fixed<const L: usize>(dst: &mut [f32], src: &[f32]) -> bool {
    match (<&mut [f32; L]>::try_from(dst), <&[f32; L]>::try_from(src)) {
        (Ok(to), Ok(from)) => {
            *to = *from;
            true
        }
        _ => false,
    }
}

/// The row length from which the feature side's Zᵀ·Z copies blocks of Z
/// ([`A_BLOCK`]): its rows lie 2 KiB apart or more. Below, the in-place
/// tiles were faster (measured at d = 32 to 256). Small in the unit tests, so that their
/// matrices take both paths.
pub(super) const PACK_FROM: usize = if cfg!(test) { 9 } else { 512 };

/// Rows of A copied per block in the large products: 96 rows (a multiple
/// of the four- and six-row tiles) by a panel's depth (up to 256) is 96 KiB,
/// which stays in L2 while every strip of B passes. Each strip is copied
/// once per block, so the block is as tall as the stack allows: the
/// feature side's Zᵀ·Z ran at 79 GFLOP/s in blocks of 48 rows, 88 in blocks
/// of 96 and 90 of 144 (at (256, 1024) and (1024, 2048) alike).
pub(super) const A_BLOCK: usize = if cfg!(test) { 12 } else { 96 };

/// One strip of out += s·A·B: rows `j0..j0 + depth` of B, columns
/// `k0..k0 + width`, packed row after row in `panel`.
pub(super) struct Product<'a> {
    s: f32,
    a: &'a [f32],
    m: usize,
    j0: usize,
    depth: usize,
    panel: &'a [f32],
    width: usize,
    /// Columns of the strip that are B's: fewer than `width` in a tail
    /// strip (one vector wide), whose other lanes are zeros and whose sums
    /// are not stored.
    live: usize,
    /// Row length of B and of the output.
    k: usize,
    k0: usize,
}

/// out[i0..i0+R, k0..k0+8·V] += s · Σⱼ A[i0..i0+R, j]·B[j, k0..k0+8·V] over
/// the strip's rows j; A's values from `cols_a` where it is given (A
/// transposed, or copied in tile order: the tile's R values at each j
/// adjacent), else from A's rows in place.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn product_tile<S: Simd, const R: usize, const V: usize>(
    simd: S,
    p: &Product<'_>,
    i0: usize,
    cols_a: (&[f32], usize, usize),
    out: &mut [f32],
) {
    let Product { s, a, m, j0, depth, panel, width, live, k, k0 } = *p;
    // The tile's output lines, wanted after the sums: asked for now, so
    // that they arrive while the sums run (each row is a page of its own
    // where the output is wide).
    for r in 0..R {
        simd.prefetch(&out[(i0 + r) * k + k0..]);
    }
    let mut acc = [[simd.zero(); V]; R];
    let mut step = |strip: &[f32], a_r: [f32; R]| tile_step(simd, &mut acc, strip, a_r);
    if cols_a.0.is_empty() {
        let rows_a: [&[f32]; R] = core::array::from_fn(|r| &a[(i0 + r) * m + j0..(i0 + r) * m + j0 + depth]);
        // `jj` from a range the compiler knows ends at every row's length:
        // no bounds check stays in the loop.
        for (jj, strip) in (0..depth).zip(panel.chunks_exact(width)) {
            step(strip, core::array::from_fn(|r| rows_a[r][jj]));
        }
    } else {
        // (values, step, offset): A's values for step jj of the tile start at
        // jj·step + offset.
        let (cols, stride, offset) = cols_a;
        for (strip, col) in panel.chunks_exact(width).zip(cols.chunks_exact(stride.max(1))) {
            let Some(a_r) = col.get(offset..offset + R) else { break };
            step(strip, core::array::from_fn(|r| a_r[r]));
        }
    }
    let sv = simd.splat(s);
    for (r, acc_r) in acc.iter().enumerate() {
        let start = (i0 + r) * k + k0;
        if live == V * W {
            let row = &mut out[start..start + V * W];
            let (chunks, _) = row.as_chunks_mut::<W>();
            for (chunk, acc_rv) in chunks.iter_mut().zip(acc_r) {
                let sum = simd.mul_add(*acc_rv, sv, simd.load(chunk));
                simd.store(sum, chunk);
            }
        } else if let Some(acc_r0) = acc_r.first() {
            // A tail strip, one vector wide: its live lanes through a
            // vector on the stack.
            let mut lanes = [0.0f32; W];
            simd.store(simd.mul_add(*acc_r0, sv, simd.zero()), &mut lanes);
            out.iter_mut().skip(start).take(live).zip(lanes).for_each(|(o, x)| *o += x);
        }
    }
}

/// acc[r] += a_r[r]·(one row of a panel strip), for every row r of a tile.
/// Always inlined (a closure may not be): compiled outside the AVX2 entry,
/// each multiply-add would become a call.
#[inline(always)]
pub(super) fn tile_step<S: Simd, const R: usize, const V: usize>(
    simd: S,
    acc: &mut [[S::V; V]; R],
    strip: &[f32],
    a_r: [f32; R],
) {
    let (cols, _) = strip.as_chunks::<W>();
    let x: [S::V; V] = core::array::from_fn(|v| simd.load(&cols[v]));
    for (acc_r, &ar) in acc.iter_mut().zip(&a_r) {
        let av = simd.splat(ar);
        for (acc_rv, xv) in acc_r.iter_mut().zip(&x) {
            *acc_rv = simd.mul_add(*xv, av, *acc_rv);
        }
    }
}

/// Rows i … i+3 of a row-major matrix with rows of length d.
pub(crate) fn four_rows(m: &[f32], d: usize, i: usize) -> [&[f32]; 4] {
    [0, 1, 2, 3].map(|r| &m[(i + r) * d..(i + r + 1) * d])
}
