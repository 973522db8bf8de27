//! Gram matrices of a batch: Zᵀ·Z on and above the diagonal (the feature
//! side's covariance), Z·Zᵀ by register tiles of rows (the batch side's K),
//! and the mirror that completes a symmetric matrix from its upper triangle.

use super::products::{COLUMN_BLOCK, PACK_FROM, PACK_ROWS_FROM, ROW_BLOCK, packed_product, register_tile};
use super::select::{Lanes, simd};
use super::vector::{Portable, Simd, W};

/// C ← C + Zᵀ·Z on and above the diagonal, for row-major n×d `z` and d×d
/// `c` (entries below the diagonal within a block of eight columns are
/// written too; callers mirror the upper triangle over them).
///
/// A register tile of four rows of C by eight or sixteen columns stays in
/// accumulators while the n rows of Z stream past, so each element of C is
/// loaded and stored once instead of once per row.
pub(crate) fn gram_upper_tiled(z: &[f32], d: usize, c: &mut [f32]) {
    if !Portable::VECTORS {
        gram_upper_registers(z, d, c);
        return;
    }
    simd!(gram_upper_tiled => gram_upper_tiled_in(z, d, c));
}

/// [`gram_upper_tiled`] where there are no f32 vectors (Cortex-M4F: 32
/// single-precision registers): tiles of four rows of C by four columns in
/// sixteen scalar accumulators ([`register_tile`]).
pub(crate) fn gram_upper_registers(z: &[f32], d: usize, c: &mut [f32]) {
    let whole = d / 4 * 4;
    let mut j0 = 0;
    while j0 < d {
        let rows = (d - j0).min(4);
        let mut k0 = j0 / 4 * 4;
        while k0 < whole {
            if rows == 4 {
                register_tile::<4>([z, z], [d, d], j0, k0, c);
            } else {
                (j0..j0 + rows).for_each(|j| register_tile::<1>([z, z], [d, d], j, k0, c));
            }
            k0 += 4;
        }
        for j in j0..j0 + rows {
            for k in whole.max(j)..d {
                c[j * d + k] += z.chunks_exact(d).map(|row| row[j] * row[k]).sum::<f32>();
            }
        }
        j0 += rows;
    }
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn gram_upper_tiled_in<S: Simd>(s: S, z: &[f32], d: usize, c: &mut [f32]) {
    let n = z.len().checked_div(d).unwrap_or(0);
    if n == 0 {
        return;
    }
    if d < PACK_FROM {
        gram_upper_in_place(s, z, d, c);
        return;
    }
    // Long rows (2 KiB apart or more): Zᵀ·Z as the product of Z read
    // transposed with Z, upper tiles only, over copied blocks of both.
    let z = &z[..n * d];
    packed_product::<S, true, false>(s, 1.0, z, n, z, c, true);
}

/// [`gram_upper_tiled`] for rows shorter than [`PACK_FROM`]: register tiles
/// reading Z in place, a block of rows against a block of columns at a time.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn gram_upper_in_place<S: Simd>(s: S, z: &[f32], d: usize, c: &mut [f32]) {
    if d == 0 {
        return;
    }
    // Columns the register tiles cover; the rest are summed down the columns.
    let whole = d / W * W;
    // A block of rows of Z against a block of columns of C at a time, so the
    // columns a tile streams stay in cache while every row of C above the
    // block's end takes its turn.
    for block in z.chunks(ROW_BLOCK * d) {
        let mut c0 = 0;
        while c0 < whole {
            let c1 = (c0 + COLUMN_BLOCK).min(whole);
            let mut j0 = 0;
            while j0 < c1 {
                let rows = (d - j0).min(4);
                let mut k0 = (j0 / W * W).max(c0);
                while k0 + W <= c1 {
                    let wide = S::TILE_VECTORS == 2 && k0 + 2 * W <= c1;
                    match (rows, wide) {
                        (4, true) => tile::<S, 4, 2>(s, block, d, j0, k0, c),
                        (4, false) => tile::<S, 4, 1>(s, block, d, j0, k0, c),
                        (_, true) => (j0..j0 + rows).for_each(|j| tile::<S, 1, 2>(s, block, d, j, k0, c)),
                        (_, false) => (j0..j0 + rows).for_each(|j| tile::<S, 1, 1>(s, block, d, j, k0, c)),
                    }
                    k0 += if wide { 2 * W } else { W };
                }
                j0 += rows;
            }
            c0 = c1;
        }
    }
    // Fewer than eight columns left: scalar dot products down the columns.
    for j in 0..d {
        for k in whole.max(j)..d {
            c[j * d + k] += z.chunks_exact(d).map(|row| row[j] * row[k]).sum::<f32>();
        }
    }
}

/// C[j0..j0+R, k0..k0+8·V] += Σᵢ Z[i, j0..j0+R]ᵀ·Z[i, k0..k0+8·V].
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn tile<S: Simd, const R: usize, const V: usize>(
    s: S,
    z: &[f32],
    d: usize,
    j0: usize,
    k0: usize,
    c: &mut [f32],
) {
    let mut acc: [[S::V; V]; R] = core::array::from_fn(|r| {
        let row = &c[(j0 + r) * d + k0..(j0 + r) * d + k0 + V * W];
        let (chunks, _) = row.as_chunks::<W>();
        core::array::from_fn(|v| s.load(&chunks[v]))
    });
    for row in z.chunks_exact(d) {
        let (cols, _) = row[k0..k0 + V * W].as_chunks::<W>();
        let x: [S::V; V] = core::array::from_fn(|v| s.load(&cols[v]));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a = s.splat(row[j0 + r]);
            for (acc_rv, xv) in acc_r.iter_mut().zip(&x) {
                *acc_rv = s.mul_add(*xv, a, *acc_rv);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        let out = &mut c[(j0 + r) * d + k0..(j0 + r) * d + k0 + V * W];
        let (chunks, _) = out.as_chunks_mut::<W>();
        for (chunk, a) in chunks.iter_mut().zip(acc_r) {
            s.store(*a, chunk);
        }
    }
}

/// Columns of Z per pass of [`gram_rows`]: long, because every tile ends in
/// twelve sums across lanes added into K (at (1024, 2048) the product ran
/// at 64 GFLOP/s in passes of 512 columns, 79 in passes of 2048).
pub(super) const DEPTH_BLOCK: usize = if cfg!(test) { W } else { 2048 };
/// Rows l per pass of [`gram_rows`], a multiple of the tiles' three: 48 rows
/// of [`DEPTH_BLOCK`] columns are 384 KiB, in L2 while every row i streams
/// past them.
pub(super) const PAIR_BLOCK: usize = if cfg!(test) { 3 } else { 48 };

/// K ← Z·Zᵀ (n×n, full and symmetric) for row-major n×d `z`, d ≥ 1: the
/// batch side's Gram matrix, for targets with vectors ([`tiles_pay`]).
///
/// A register tile of four rows of Z against two keeps eight accumulators
/// while a block of columns streams past: six loads feed eight
/// multiply-adds, where one dot product at a time needs two loads for each.
pub(crate) fn gram_rows(z: &[f32], d: usize, k: &mut [f32]) {
    simd!(gram_rows => gram_rows_in(z, d, k));
}

/// Whether register tiles pay for `lanes`: with vectors, unless the scalar
/// loops are asked for. Without (Cortex-M), a tile's accumulators would
/// spill, and one dot product at a time is cheaper.
pub(crate) fn tiles_pay(lanes: Lanes) -> bool {
    lanes == Lanes::Wide && Portable::VECTORS
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn gram_rows_in<S: Simd>(s: S, z: &[f32], d: usize, k: &mut [f32]) {
    let n = z.len() / d;
    k[..n * n].fill(0.0);
    if S::REGISTER_TRANSPOSE && n >= PACK_ROWS_FROM {
        // The product of Z with Z read transposed, upper tiles only, in six
        // rows by two vectors (as K·Z_c): 88 GFLOP/s at (1024, 2048), where
        // the tiles below ran at 79.
        packed_product::<S, false, true>(s, 1.0, z, d, z, &mut k[..n * n], true);
        mirror_upper_in(s, k, n);
        return;
    }
    let whole = d / W * W;
    let mut d0 = 0;
    while d0 < whole {
        let depth = d0..(d0 + DEPTH_BLOCK).min(whole);
        // A block of rows l (their columns `depth` stay in L2) against every
        // row i up to the block's end, four i by two l per tile, from the
        // diagonal rightwards: every pair i ≤ l is in one tile (pairs below
        // the diagonal are overwritten below).
        let mut l_block = 0;
        while l_block < n {
            let l_end = (l_block + PAIR_BLOCK).min(n);
            let mut i0 = 0;
            while i0 < l_end {
                let ri = (n - i0).min(4);
                let mut l0 = i0.max(l_block);
                while l0 < l_end {
                    let rl = (l_end - l0).min(if S::TILE_ROWS == 6 { 3 } else { 2 });
                    let at = [i0, l0];
                    match (ri, rl) {
                        (4, 3) => row_tile::<S, 4, 3>(s, z, d, n, at, depth.clone(), k),
                        (4, 2) => row_tile::<S, 4, 2>(s, z, d, n, at, depth.clone(), k),
                        (4, _) => row_tile::<S, 4, 1>(s, z, d, n, at, depth.clone(), k),
                        _ => {
                            for i in i0..i0 + ri {
                                for l in l0..l0 + rl {
                                    row_tile::<S, 1, 1>(s, z, d, n, [i, l], depth.clone(), k);
                                }
                            }
                        }
                    }
                    l0 += rl;
                }
                i0 += ri;
            }
            l_block = l_end;
        }
        d0 = depth.end;
    }
    // The columns past the last whole vector, then the lower triangle from
    // the upper.
    if whole < d {
        for i in 0..n {
            for l in i..n {
                k[i * n + l] += (whole..d).map(|c| z[i * d + c] * z[l * d + c]).sum::<f32>();
            }
        }
    }
    mirror_upper_in(s, k, n);
}

/// Copies the upper triangle of the d×d `c` into its lower one; from d =
/// [`MIRROR_FROM`] where there are vectors, a square block of
/// [`MIRROR_BLOCK`] at a time: read down a whole column, C's rows
/// lie d apart, so each value read would be a cache line (and, from d =
/// 1024, a page) of its own; within a block the lines read stay in cache
/// for the next column. Where transposes stay in registers, each 8×8 square
/// below the diagonal is one load, transpose and store of eight vectors.
pub(crate) fn mirror_upper(c: &mut [f32], d: usize) {
    simd!(mirror_upper => mirror_upper_in(c, d));
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn mirror_upper_in<S: Simd>(s: S, c: &mut [f32], d: usize) {
    let c = &mut c[..d * d];
    if d < MIRROR_FROM || !S::VECTORS {
        // Small enough to stay in cache whole, or a microcontroller's (no
        // vectors), where flash is the scarcer resource: down each column,
        // the plain loop.
        for j in 0..d {
            for k in 0..j {
                c[j * d + k] = c[k * d + j];
            }
        }
        return;
    }
    for j0 in (0..d).step_by(MIRROR_BLOCK) {
        for k0 in (0..=j0).step_by(MIRROR_BLOCK) {
            let rows = j0..(j0 + MIRROR_BLOCK).min(d);
            let cols = k0..(k0 + MIRROR_BLOCK).min(d);
            if S::REGISTER_TRANSPOSE && k0 < j0 && rows.len() == MIRROR_BLOCK && cols.len() == MIRROR_BLOCK {
                // Wholly below the diagonal: four squares of 8×8, each from
                // the square mirrored about it.
                for (jb, kb) in [(0, 0), (0, W), (W, 0), (W, W)] {
                    let (j, k) = (j0 + jb, k0 + kb);
                    let (above, below) = c.split_at_mut(j * d);
                    let upper: [S::V; W] = core::array::from_fn(|r| {
                        let at = (k + r) * d + j;
                        above[at..at + W].as_chunks::<W>().0.first().map_or(s.zero(), |x| s.load(x))
                    });
                    for (r, v) in s.transpose(upper).into_iter().enumerate() {
                        let at = r * d + k;
                        if let Some(dst) = below[at..at + W].as_chunks_mut::<W>().0.first_mut() {
                            s.store(v, dst);
                        }
                    }
                }
                continue;
            }
            for j in rows {
                for k in cols.start..cols.end.min(j) {
                    c[j * d + k] = c[k * d + j];
                }
            }
        }
    }
}

/// The side of [`mirror_upper`]'s blocks: 16 rows of 16 values are 16
/// cache lines, one per row read; two vectors.
pub(super) const MIRROR_BLOCK: usize = 2 * W;

/// The side from which [`mirror_upper`] goes in blocks: a matrix of 128×128
/// (64 KiB) and more. Small in the unit tests, so that their matrices take
/// both paths.
pub(super) const MIRROR_FROM: usize = if cfg!(test) { 2 } else { 128 };

/// K[i0..i0+RI, l0..l0+RL] += Z[i0..i0+RI, depth]·Z[l0..l0+RL, depth]ᵀ.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn row_tile<S: Simd, const RI: usize, const RL: usize>(
    s: S,
    z: &[f32],
    d: usize,
    n: usize,
    [i0, l0]: [usize; 2],
    depth: core::ops::Range<usize>,
    k: &mut [f32],
) {
    let row = |i: usize| z[i * d + depth.start..i * d + depth.end].as_chunks::<W>().0;
    let zi: [&[[f32; W]]; RI] = core::array::from_fn(|a| row(i0 + a));
    let zl: [&[[f32; W]]; RL] = core::array::from_fn(|b| row(l0 + b));
    let mut acc = [[s.zero(); RL]; RI];
    for c in 0..depth.len() / W {
        let xl: [S::V; RL] = core::array::from_fn(|b| s.load(&zl[b][c]));
        for (acc_a, zi_a) in acc.iter_mut().zip(&zi) {
            let xi = s.load(&zi_a[c]);
            for (acc_ab, xl_b) in acc_a.iter_mut().zip(&xl) {
                *acc_ab = s.mul_add(xi, *xl_b, *acc_ab);
            }
        }
    }
    for (a, acc_a) in acc.iter().enumerate() {
        for (b, acc_ab) in acc_a.iter().enumerate() {
            k[(i0 + a) * n + l0 + b] += s.reduce_add(*acc_ab);
        }
    }
}
