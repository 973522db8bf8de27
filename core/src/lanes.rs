//! The vector primitives every O(n·d) and O(n·d²) pass is built from, in two
//! interchangeable forms: plain scalar loops, and explicit 8-lane SIMD
//! ([`wide::f32x8`]) with scalar tails.
//!
//! `wide` lowers `f32x8` to AVX, SSE, NEON or WASM `simd128` according to the
//! target features the crate is compiled with, and to plain arrays elsewhere
//! (Cortex-M4F has no f32 SIMD). The scalar path is kept beside it so tests can
//! compare the two, and so a user can pick whichever is faster on a part.
//!
//! Every primitive takes the lengths from its slices and works on the common
//! prefix; callers pass equal lengths, so nothing here can index out of bounds.

use wide::f32x8;

/// Which implementation of the vector primitives a computation uses.
///
/// Both give the same result up to floating-point reassociation (the SIMD
/// path sums in eight partial sums); tests hold them to agree within the
/// reference tolerance. On targets without f32 vectors both names run the
/// eight-accumulator code, so a firmware carries one copy of each primitive.
///
/// ```
/// use vicreg::Lanes;
/// assert_eq!(Lanes::default(), Lanes::Wide);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Lanes {
    /// Plain scalar loops, one element at a time.
    Scalar,
    /// Eight lanes at a time through `wide::f32x8`, scalar tails.
    #[default]
    Wide,
}

const W: usize = 8;

/// The lanes a primitive runs. Where `f32x8` is eight scalars (Cortex-M,
/// RISC-V, WASM without `simd128`) the two forms do the same scalar work,
/// and the eight-accumulator one is the faster (fewer loop tests, eight
/// independent sums): both names run it, so one copy of each primitive is
/// in flash.
#[inline]
const fn effective(lanes: Lanes) -> Lanes {
    if HAS_VECTORS { lanes } else { Lanes::Wide }
}

#[inline]
fn load(chunk: &[f32; W]) -> f32x8 {
    f32x8::from(*chunk)
}

/// Σ xᵢ·yᵢ.
#[inline]
pub(crate) fn dot(lanes: Lanes, x: &[f32], y: &[f32]) -> f32 {
    let len = x.len().min(y.len());
    let (x, y) = (&x[..len], &y[..len]);
    match effective(lanes) {
        Lanes::Scalar => x.iter().zip(y).map(|(a, b)| a * b).sum(),
        Lanes::Wide => {
            let (xb, xt) = x.as_chunks::<W>();
            let (yb, yt) = y.as_chunks::<W>();
            let mut acc = f32x8::ZERO;
            for (a, b) in xb.iter().zip(yb) {
                acc = load(a).mul_add(load(b), acc);
            }
            acc.reduce_add() + xt.iter().zip(yt).map(|(a, b)| a * b).sum::<f32>()
        }
    }
}

/// Four dot products against one x: [Σ xᵢ·w₀ᵢ, …, Σ xᵢ·w₃ᵢ], x loaded once
/// for four rows of weights. With vectors each product keeps its own eight
/// partial sums, exactly as [`dot`] does; without (Cortex-M), four scalar
/// accumulators stay in registers, one load of x feeding four multiplies.
#[inline]
pub(crate) fn dot4(lanes: Lanes, x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
    let len = w.iter().fold(x.len(), |m, r| m.min(r.len()));
    let x = &x[..len];
    let [w0, w1, w2, w3] = w.map(|r| &r[..len]);
    if lanes == Lanes::Scalar || !HAS_VECTORS {
        let mut acc = [0.0f32; 4];
        for (k, &xk) in x.iter().enumerate() {
            acc[0] += xk * w0[k];
            acc[1] += xk * w1[k];
            acc[2] += xk * w2[k];
            acc[3] += xk * w3[k];
        }
        return acc;
    }
    let (xb, xt) = x.as_chunks::<W>();
    let chunks = [w0, w1, w2, w3].map(|r| r.as_chunks::<W>());
    let mut acc = [f32x8::ZERO; 4];
    for (c, xc) in xb.iter().enumerate() {
        let xv = load(xc);
        for (a, (wb, _)) in acc.iter_mut().zip(&chunks) {
            *a = xv.mul_add(load(&wb[c]), *a);
        }
    }
    let mut out = [0.0f32; 4];
    for ((o, a), (_, wt)) in out.iter_mut().zip(acc).zip(&chunks) {
        *o = a.reduce_add() + xt.iter().zip(*wt).map(|(p, q)| p * q).sum::<f32>();
    }
    out
}

/// Σ (xᵢ − yᵢ)².
#[inline]
pub(crate) fn sum_sq_diff(lanes: Lanes, x: &[f32], y: &[f32]) -> f32 {
    let len = x.len().min(y.len());
    let (x, y) = (&x[..len], &y[..len]);
    match effective(lanes) {
        Lanes::Scalar => x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum(),
        Lanes::Wide => {
            let (xb, xt) = x.as_chunks::<W>();
            let (yb, yt) = y.as_chunks::<W>();
            let mut acc = f32x8::ZERO;
            for (a, b) in xb.iter().zip(yb) {
                let t = load(a) - load(b);
                acc = t.mul_add(t, acc);
            }
            acc.reduce_add() + xt.iter().zip(yt).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()
        }
    }
}

/// y ← y + a·x.
#[inline]
pub(crate) fn axpy(lanes: Lanes, a: f32, x: &[f32], y: &mut [f32]) {
    match effective(lanes) {
        Lanes::Scalar => {
            for (yi, xi) in y.iter_mut().zip(x) {
                *yi += a * xi;
            }
        }
        Lanes::Wide => {
            let av = f32x8::splat(a);
            let (xb, xt) = x.as_chunks::<W>();
            let (yb, yt) = y.as_chunks_mut::<W>();
            for (yc, xc) in yb.iter_mut().zip(xb) {
                *yc = load(xc).mul_add(av, load(yc)).to_array();
            }
            for (yi, xi) in yt.iter_mut().zip(xt) {
                *yi += a * xi;
            }
        }
    }
}

/// y ← y + Σ_r a_r·x_r over four rows at once: one pass over y for four
/// rank-one updates, which quarters the memory traffic of an outer-product
/// accumulation.
#[inline]
pub(crate) fn axpy4(lanes: Lanes, a: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
    let len = x.iter().fold(y.len(), |m, r| m.min(r.len()));
    let y = &mut y[..len];
    let [x0, x1, x2, x3] = x.map(|r| &r[..len]);
    match effective(lanes) {
        Lanes::Scalar => {
            for (k, yk) in y.iter_mut().enumerate() {
                *yk += a[0] * x0[k] + a[1] * x1[k] + a[2] * x2[k] + a[3] * x3[k];
            }
        }
        Lanes::Wide => {
            let [a0, a1, a2, a3] = a.map(f32x8::splat);
            let (yb, yt) = y.as_chunks_mut::<W>();
            let (b0, t0) = x0.as_chunks::<W>();
            let (b1, t1) = x1.as_chunks::<W>();
            let (b2, t2) = x2.as_chunks::<W>();
            let (b3, t3) = x3.as_chunks::<W>();
            for ((((yc, c0), c1), c2), c3) in yb.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3) {
                let mut acc = load(yc);
                acc = load(c0).mul_add(a0, acc);
                acc = load(c1).mul_add(a1, acc);
                acc = load(c2).mul_add(a2, acc);
                acc = load(c3).mul_add(a3, acc);
                *yc = acc.to_array();
            }
            for (k, yk) in yt.iter_mut().enumerate() {
                *yk += a[0] * t0[k] + a[1] * t1[k] + a[2] * t2[k] + a[3] * t3[k];
            }
        }
    }
}

/// Whether `f32x8` maps to vector registers on this target.
const HAS_VECTORS: bool =
    cfg!(any(target_feature = "sse2", target_feature = "neon", target_feature = "simd128", target_feature = "avx"));

/// Vectors of eight per register tile row: two where there are registers for
/// eight 8-lane accumulators plus operands (AVX's 16 ymm, NEON's 32 q), one
/// where an `f32x8` takes two of SSE's 16 xmm registers.
const TILE_VECTORS: usize = if cfg!(any(target_feature = "avx", target_arch = "aarch64")) { 2 } else { 1 };

/// C ← C + Zᵀ·Z on and above the diagonal, for row-major n×d `z` and d×d
/// `c` (entries below the diagonal within a block of eight columns are
/// written too; callers mirror the upper triangle over them).
///
/// A register tile of four rows of C by sixteen columns stays in eight
/// accumulators while the n rows of Z stream past, so each element of C is
/// loaded and stored once instead of once per row.
pub(crate) fn gram_upper_tiled(z: &[f32], d: usize, c: &mut [f32]) {
    let mut j0 = 0;
    while j0 < d {
        let rows = (d - j0).min(4);
        let mut k0 = j0 / W * W;
        while k0 + W <= d {
            let wide = TILE_VECTORS == 2 && k0 + 2 * W <= d;
            match (rows, wide) {
                (4, true) => tile::<4, 2>(z, d, j0, k0, c),
                (4, false) => tile::<4, 1>(z, d, j0, k0, c),
                (_, true) => (j0..j0 + rows).for_each(|j| tile::<1, 2>(z, d, j, k0, c)),
                (_, false) => (j0..j0 + rows).for_each(|j| tile::<1, 1>(z, d, j, k0, c)),
            }
            k0 += if wide { 2 * W } else { W };
        }
        // Fewer than eight columns left: scalar dot products down the columns.
        for j in j0..j0 + rows {
            for k in k0.max(j)..d {
                c[j * d + k] += z.chunks_exact(d).map(|row| row[j] * row[k]).sum::<f32>();
            }
        }
        j0 += rows;
    }
}

/// C[j0..j0+R, k0..k0+8·V] += Σᵢ Z[i, j0..j0+R]ᵀ·Z[i, k0..k0+8·V].
#[inline]
fn tile<const R: usize, const V: usize>(z: &[f32], d: usize, j0: usize, k0: usize, c: &mut [f32]) {
    let mut acc: [[f32x8; V]; R] = core::array::from_fn(|r| {
        let row = &c[(j0 + r) * d + k0..(j0 + r) * d + k0 + V * W];
        let (chunks, _) = row.as_chunks::<W>();
        core::array::from_fn(|v| load(&chunks[v]))
    });
    for row in z.chunks_exact(d) {
        let (cols, _) = row[k0..k0 + V * W].as_chunks::<W>();
        let x: [f32x8; V] = core::array::from_fn(|v| load(&cols[v]));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a = f32x8::splat(row[j0 + r]);
            for (acc_rv, xv) in acc_r.iter_mut().zip(&x) {
                *acc_rv = xv.mul_add(a, *acc_rv);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        let out = &mut c[(j0 + r) * d + k0..(j0 + r) * d + k0 + V * W];
        let (chunks, _) = out.as_chunks_mut::<W>();
        for (chunk, a) in chunks.iter_mut().zip(acc_r) {
            *chunk = a.to_array();
        }
    }
}

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
    // Register tiles pay only where `f32x8` is a real vector: elsewhere (the
    // Cortex-M4F) its 4×8 accumulators spill, and row updates are cheaper.
    if lanes == Lanes::Scalar || k == 0 || !HAS_VECTORS {
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
    let rows = a.len() / m;
    let mut i0 = 0;
    while i0 < rows {
        let block = (rows - i0).min(4);
        let mut k0 = 0;
        while k0 + W <= k {
            let wide = TILE_VECTORS == 2 && k0 + 2 * W <= k;
            match (block, wide) {
                (4, true) => product_tile::<4, 2>(s, a, m, b, k, i0, k0, out),
                (4, false) => product_tile::<4, 1>(s, a, m, b, k, i0, k0, out),
                (_, true) => (i0..i0 + block).for_each(|i| product_tile::<1, 2>(s, a, m, b, k, i, k0, out)),
                (_, false) => (i0..i0 + block).for_each(|i| product_tile::<1, 1>(s, a, m, b, k, i, k0, out)),
            }
            k0 += if wide { 2 * W } else { W };
        }
        for i in i0..i0 + block {
            for c in k0..k {
                out[i * k + c] += s * (0..m).map(|j| a[i * m + j] * b[j * k + c]).sum::<f32>();
            }
        }
        i0 += block;
    }
}

/// out[i0..i0+R, k0..k0+8·V] += s · Σⱼ A[i0..i0+R, j]·B[j, k0..k0+8·V].
#[inline]
#[allow(clippy::too_many_arguments)]
fn product_tile<const R: usize, const V: usize>(
    s: f32,
    a: &[f32],
    m: usize,
    b: &[f32],
    k: usize,
    i0: usize,
    k0: usize,
    out: &mut [f32],
) {
    let mut acc = [[f32x8::ZERO; V]; R];
    for j in 0..m {
        let (cols, _) = b[j * k + k0..j * k + k0 + V * W].as_chunks::<W>();
        let x: [f32x8; V] = core::array::from_fn(|v| load(&cols[v]));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let av = f32x8::splat(a[(i0 + r) * m + j]);
            for (acc_rv, xv) in acc_r.iter_mut().zip(&x) {
                *acc_rv = xv.mul_add(av, *acc_rv);
            }
        }
    }
    let sv = f32x8::splat(s);
    for (r, acc_r) in acc.iter().enumerate() {
        let row = &mut out[(i0 + r) * k + k0..(i0 + r) * k + k0 + V * W];
        let (chunks, _) = row.as_chunks_mut::<W>();
        for (chunk, a) in chunks.iter_mut().zip(acc_r) {
            *chunk = a.mul_add(sv, load(chunk)).to_array();
        }
    }
}

/// Rows i … i+3 of a row-major matrix with rows of length d.
pub(crate) fn four_rows(m: &[f32], d: usize, i: usize) -> [&[f32]; 4] {
    [0, 1, 2, 3].map(|r| &m[(i + r) * d..(i + r + 1) * d])
}

/// y ← y + x, element-wise.
#[inline]
pub(crate) fn add_assign(lanes: Lanes, y: &mut [f32], x: &[f32]) {
    axpy(lanes, 1.0, x, y);
}

/// out ← s·(x − y), element-wise.
#[inline]
pub(crate) fn scaled_diff_into(lanes: Lanes, out: &mut [f32], s: f32, x: &[f32], y: &[f32]) {
    match effective(lanes) {
        Lanes::Scalar => {
            for ((o, xi), yi) in out.iter_mut().zip(x).zip(y) {
                *o = s * (xi - yi);
            }
        }
        Lanes::Wide => {
            let sv = f32x8::splat(s);
            let (ob, ot) = out.as_chunks_mut::<W>();
            let (xb, xt) = x.as_chunks::<W>();
            let (yb, yt) = y.as_chunks::<W>();
            for ((o, xc), yc) in ob.iter_mut().zip(xb).zip(yb) {
                *o = ((load(xc) - load(yc)) * sv).to_array();
            }
            for ((o, xi), yi) in ot.iter_mut().zip(xt).zip(yt) {
                *o = s * (xi - yi);
            }
        }
    }
}

/// y ← y + x ⊙ w, element-wise multiply-accumulate.
#[inline]
pub(crate) fn mul_acc(lanes: Lanes, y: &mut [f32], x: &[f32], w: &[f32]) {
    match effective(lanes) {
        Lanes::Scalar => {
            for ((yi, xi), wi) in y.iter_mut().zip(x).zip(w) {
                *yi += xi * wi;
            }
        }
        Lanes::Wide => {
            let (yb, yt) = y.as_chunks_mut::<W>();
            let (xb, xt) = x.as_chunks::<W>();
            let (wb, wt) = w.as_chunks::<W>();
            for ((yc, xc), wc) in yb.iter_mut().zip(xb).zip(wb) {
                *yc = load(xc).mul_add(load(wc), load(yc)).to_array();
            }
            for ((yi, xi), wi) in yt.iter_mut().zip(xt).zip(wt) {
                *yi += xi * wi;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(len: usize, k: f32) -> [f32; 40] {
        core::array::from_fn(|i| if i < len { (i as f32 * k).sin() } else { 0.0 })
    }

    /// Whether `got` is `want` (computed in f64) to f32 rounding of a sum
    /// whose terms have absolute values adding to `scale`.
    fn agrees(got: f32, want: f64, scale: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-5 * (1.0 + scale)
    }

    const LANES: [Lanes; 2] = [Lanes::Scalar, Lanes::Wide];

    // Each primitive against a plain f64 loop written here, for both lanes
    // and every tail length: comparing the two lanes with each other alone
    // would pass a mistake they share (a primitive returning 0, a tile that
    // is never written).
    #[test]
    #[allow(clippy::needless_range_loop)] // x, y, w, out and the f64 sums in step
    fn reductions_and_updates_match_plain_sums() {
        for lanes in LANES {
            for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 25, 39] {
                let (x, y) = (&ramp(len, 0.7)[..len], &ramp(len, 1.3)[..len]);
                let w = [x, y, &ramp(len, 2.1)[..len], &ramp(len, 0.3)[..len]];
                let sum = |f: &dyn Fn(usize) -> f64| (0..len).map(f).sum::<f64>();
                let (xd, yd) = (|i: usize| f64::from(x[i]), |i: usize| f64::from(y[i]));

                let scale = sum(&|i| (xd(i) * yd(i)).abs());
                assert!(agrees(dot(lanes, x, y), sum(&|i| xd(i) * yd(i)), scale), "dot {lanes:?} {len}");
                let ssd = sum(&|i| (xd(i) - yd(i)) * (xd(i) - yd(i)));
                assert!(agrees(sum_sq_diff(lanes, x, y), ssd, ssd), "sum_sq_diff {lanes:?} {len}");
                let four = dot4(lanes, x, w);
                for (r, got) in four.iter().enumerate() {
                    let want = sum(&|i| xd(i) * f64::from(w[r][i]));
                    assert!(agrees(*got, want, scale + sum(&|i| xd(i).abs())), "dot4 row {r} {lanes:?} {len}");
                }

                // y₀ = x; y₀ += 0.5·y; += Σ a_r·w_r; += x ⊙ y; then out = 1.5·(y₁ − y) + y.
                let a = [1.0f32, -2.0, 0.25, 3.0];
                let mut out = [0.0f32; 40];
                let out = &mut out[..len];
                out.copy_from_slice(x);
                axpy(lanes, 0.5, y, out);
                for i in 0..len {
                    let want = xd(i) + 0.5 * yd(i);
                    assert!(agrees(out[i], want, want.abs()), "axpy {lanes:?} {len} [{i}]");
                }
                axpy4(lanes, a, w, out);
                mul_acc(lanes, out, x, y);
                let mut expected = [0.0f64; 40];
                for i in 0..len {
                    let rows: f64 = (0..4).map(|r| f64::from(a[r]) * f64::from(w[r][i])).sum();
                    expected[i] = xd(i) + 0.5 * yd(i) + rows + xd(i) * yd(i);
                    assert!(agrees(out[i], expected[i], 8.0), "axpy4 and mul_acc {lanes:?} {len} [{i}]");
                }
                let before: [f32; 40] = core::array::from_fn(|i| out.get(i).copied().unwrap_or(0.0));
                scaled_diff_into(lanes, out, 1.5, &before[..len], y);
                add_assign(lanes, out, y);
                for i in 0..len {
                    let want = 1.5 * (f64::from(before[i]) - yd(i)) + yd(i);
                    assert!(agrees(out[i], want, 16.0), "scaled_diff_into and add_assign {lanes:?} {len} [{i}]");
                }
            }
        }
    }

    /// A deterministic n×d matrix with no two equal entries.
    fn matrix(rows: usize, cols: usize, k: f32) -> [f32; 160] {
        core::array::from_fn(|i| if i < rows * cols { (i as f32 * k + 0.3).sin() } else { 0.0 })
    }

    #[test]
    fn tiled_gram_accumulates_the_upper_triangle_of_z_transpose_z() {
        let n = 5;
        // Every tile shape: fewer than eight columns, whole and partial
        // blocks of eight and sixteen, row groups of four and the rest.
        for d in [1, 2, 5, 8, 9, 13, 16, 17, 24, 25, 31] {
            let z = &matrix(n, d, 0.37)[..n * d];
            // C starts from values of its own, which the product adds to.
            let mut c = [0.0f32; 31 * 31];
            let c = &mut c[..d * d];
            for (i, v) in c.iter_mut().enumerate() {
                *v = (i % 7) as f32 - 3.0;
            }
            gram_upper_tiled(z, d, c);
            for j in 0..d {
                for k in j..d {
                    let terms = |f: &dyn Fn(f64) -> f64| {
                        (0..n).map(|i| f(f64::from(z[i * d + j]) * f64::from(z[i * d + k]))).sum::<f64>()
                    };
                    let want = ((j * d + k) % 7) as f64 - 3.0 + terms(&|t| t);
                    assert!(agrees(c[j * d + k], want, 3.0 + terms(&f64::abs)), "d {d}: C[{j}][{k}]");
                }
            }
        }
    }

    #[test]
    fn matrix_product_accumulates_s_times_a_b() {
        let s = -0.75;
        for lanes in LANES {
            for (rows, m) in [(1, 1), (1, 4), (4, 3), (5, 5), (6, 2), (2, 0)] {
                for k in [0, 1, 7, 8, 9, 16, 17, 25] {
                    let a = &matrix(rows, m, 0.61)[..rows * m];
                    let b = &matrix(m, k, 0.29)[..m * k];
                    let mut out = [0.0f32; 6 * 25];
                    let out = &mut out[..rows * k];
                    for (i, v) in out.iter_mut().enumerate() {
                        *v = (i % 5) as f32 * 0.5;
                    }
                    matmul_acc(lanes, s, a, m, b, out);
                    for i in 0..rows {
                        for c in 0..k {
                            let terms = (0..m).map(|j| f64::from(a[i * m + j]) * f64::from(b[j * k + c]));
                            let want = ((i * k + c) % 5) as f64 * 0.5 + f64::from(s) * terms.sum::<f64>();
                            assert!(
                                agrees(out[i * k + c], want, 2.0 + m as f64),
                                "{lanes:?} {rows}×{m}·{m}×{k} [{i}][{c}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wide_primitives_match_scalar_for_every_tail_length() {
        for len in 0..40 {
            let (x, y) = (&ramp(len, 0.7)[..len], &ramp(len, 1.3)[..len]);
            let close = |s: f32, w: f32| (s - w).abs() <= 1e-5 * (1.0 + s.abs());
            assert!(close(dot(Lanes::Scalar, x, y), dot(Lanes::Wide, x, y)), "dot, len {len}");
            assert!(close(sum_sq_diff(Lanes::Scalar, x, y), sum_sq_diff(Lanes::Wide, x, y)), "ssd, len {len}");

            let mut outs = [[0.0f32; 40]; 2];
            for (out, lanes) in outs.iter_mut().zip([Lanes::Scalar, Lanes::Wide]) {
                let out = &mut out[..len];
                out.copy_from_slice(x);
                axpy(lanes, 0.5, y, out);
                axpy4(lanes, [1.0, -2.0, 0.25, 3.0], [x, y, y, x], out);
                mul_acc(lanes, out, x, y);
                let copy: [f32; 40] = core::array::from_fn(|i| out.get(i).copied().unwrap_or(0.0));
                scaled_diff_into(lanes, out, 1.5, &copy[..len], y);
                add_assign(lanes, out, y);
            }
            for (s, w) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*s, *w), "element-wise primitives, len {len}: {s} vs {w}");
            }
        }
    }
}
