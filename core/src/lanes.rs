//! The vector primitives every O(n·d) and O(n·d²) pass is built from, in two
//! interchangeable forms: plain scalar loops, and explicit 8-lane SIMD with
//! scalar tails.
//!
//! The SIMD form is written once, against [`vector::Simd`], and compiled for
//! the build's target features (`wide::f32x8`, lowered to AVX, SSE, NEON or
//! WASM `simd128`, and to eight scalars where there are no f32 vectors, as on
//! the Cortex-M4F). With the `std` feature on x86-64 it is compiled a second
//! time for AVX2 and FMA, which run wherever the CPU has them
//! ([`avx`]): the default target assumes only SSE2. The scalar form is kept
//! beside it so tests can compare the two, and so a user can pick whichever
//! is faster on a part.
//!
//! Every primitive takes the lengths from its slices and works on the common
//! prefix; callers pass equal lengths, so nothing here can index out of bounds.

// The kernels and the vector operations must inline into each entry of
// `avx` to be compiled for its target features: a call that stayed a call
// would run the baseline code. Where there is no `avx` (every no_std build)
// most kernels are only `#[inline]`, so that a firmware's flash is not spent
// on copies the compiler would not have chosen to make; `dot` and `axpy`
// stay forced, as before they were written once for both, because Conv1d
// calls them on every window (measured on the Cortex-M4F: forcing every
// kernel costs 700 bytes, forcing none 2.4 % more instructions a step).
#![allow(clippy::inline_always)]

mod adamw;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) mod avx;
mod columns;
mod vector;

pub(crate) use adamw::{AdamStep, adamw_with};
pub(crate) use columns::centre_columns;
use vector::W;
pub(crate) use vector::{Portable, Simd};

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
    /// Eight lanes at a time, scalar tails: through `wide::f32x8` for the
    /// build's target features, or AVX2 and FMA where the `std` feature
    /// finds them at run time on x86-64.
    #[default]
    Wide,
}

impl Lanes {
    /// The instructions these lanes run on this machine: `"scalar"`,
    /// `"avx2+fma"` where the `std` feature found them at run time on
    /// x86-64, else `"baseline"` (the build's own target features: SSE2 on
    /// the default x86-64 target, NEON on AArch64, `simd128` where enabled,
    /// scalars on Cortex-M).
    ///
    /// Results are bit-identical between two machines only if this agrees:
    /// fused multiply-adds round once where the baseline rounds twice.
    ///
    /// ```
    /// use vicreg::Lanes;
    /// assert_eq!(Lanes::Scalar.instructions(), "scalar");
    /// assert!(["avx2+fma", "baseline"].contains(&Lanes::Wide.instructions()));
    /// ```
    #[must_use]
    pub fn instructions(self) -> &'static str {
        match self {
            Lanes::Scalar => "scalar",
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            Lanes::Wide if avx::Avx2Fma::detect().is_some() => "avx2+fma",
            Lanes::Wide => "baseline",
        }
    }
}

/// The lanes a primitive runs. Where `f32x8` is eight scalars (Cortex-M,
/// RISC-V, WASM without `simd128`) the two forms do the same scalar work,
/// and the eight-accumulator one is the faster (fewer loop tests, eight
/// independent sums): both names run it, so one copy of each primitive is
/// in flash.
#[inline]
pub(crate) const fn effective(lanes: Lanes) -> Lanes {
    if Portable::VECTORS { lanes } else { Lanes::Wide }
}

/// Runs the SIMD form of a kernel: compiled for AVX2 and FMA where the CPU
/// has them (with `std` on x86-64), else for the build's target features.
macro_rules! simd {
    ($name:ident => $kernel:path, ($($arg:expr),*)) => {{
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if let Some(proof) = $crate::lanes::avx::Avx2Fma::detect() {
            return $crate::lanes::avx::$name(proof, $($arg),*);
        }
        $kernel($crate::lanes::Portable, $($arg),*)
    }};
    ($name:ident => $kernel:ident($($arg:expr),*)) => {
        simd!($name => $kernel, ($($arg),*))
    };
}
pub(crate) use simd;

/// Σ xᵢ·yᵢ.
#[inline]
pub(crate) fn dot(lanes: Lanes, x: &[f32], y: &[f32]) -> f32 {
    match effective(lanes) {
        Lanes::Scalar => {
            let len = x.len().min(y.len());
            x[..len].iter().zip(&y[..len]).map(|(a, b)| a * b).sum()
        }
        Lanes::Wide => simd!(dot => dot_in(x, y)),
    }
}

#[inline(always)]
fn dot_in<S: Simd>(s: S, x: &[f32], y: &[f32]) -> f32 {
    let len = x.len().min(y.len());
    let (xb, xt) = x[..len].as_chunks::<W>();
    let (yb, yt) = y[..len].as_chunks::<W>();
    let mut acc = s.zero();
    for (a, b) in xb.iter().zip(yb) {
        acc = s.mul_add(s.load(a), s.load(b), acc);
    }
    s.reduce_add(acc) + xt.iter().zip(yt).map(|(a, b)| a * b).sum::<f32>()
}

/// Four dot products against one x: [Σ xᵢ·w₀ᵢ, …, Σ xᵢ·w₃ᵢ], in plain
/// loops, one load of x feeding four multiplies: the Linear layers' scalar
/// forward pass (the `Wide` lanes take the packed products).
pub(crate) fn dot4(x: &[f32], w: [&[f32]; 4]) -> [f32; 4] {
    let len = w.iter().fold(x.len(), |m, r| m.min(r.len()));
    let [w0, w1, w2, w3] = w.map(|r| &r[..len]);
    let mut acc = [0.0f32; 4];
    for (k, &xk) in x[..len].iter().enumerate() {
        acc[0] += xk * w0[k];
        acc[1] += xk * w1[k];
        acc[2] += xk * w2[k];
        acc[3] += xk * w3[k];
    }
    acc
}

/// Σ (xᵢ − yᵢ)².
#[inline]
pub(crate) fn sum_sq_diff(lanes: Lanes, x: &[f32], y: &[f32]) -> f32 {
    match effective(lanes) {
        Lanes::Scalar => {
            let len = x.len().min(y.len());
            x[..len].iter().zip(&y[..len]).map(|(a, b)| (a - b) * (a - b)).sum()
        }
        Lanes::Wide => simd!(sum_sq_diff => sum_sq_diff_in(x, y)),
    }
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn sum_sq_diff_in<S: Simd>(s: S, x: &[f32], y: &[f32]) -> f32 {
    let len = x.len().min(y.len());
    let (xb, xt) = x[..len].as_chunks::<W>();
    let (yb, yt) = y[..len].as_chunks::<W>();
    let mut acc = s.zero();
    for (a, b) in xb.iter().zip(yb) {
        let t = s.sub(s.load(a), s.load(b));
        acc = s.mul_add(t, t, acc);
    }
    s.reduce_add(acc) + xt.iter().zip(yt).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()
}

/// Σ (xᵢ − yᵢ)², writing s·(xᵢ − yᵢ) into `out_x` and s·(yᵢ − xᵢ) into
/// `out_y` in the same pass: the invariance term with both its gradients.
#[inline]
pub(crate) fn sum_sq_diff_scaled(lanes: Lanes, x: &[f32], y: &[f32], s: f32, out: [&mut [f32]; 2]) -> f32 {
    match effective(lanes) {
        Lanes::Scalar => {
            let [ox, oy] = out;
            let mut sum = 0.0;
            for (((a, b), gx), gy) in x.iter().zip(y).zip(ox).zip(oy) {
                let t = a - b;
                sum += t * t;
                (*gx, *gy) = (s * t, -s * t);
            }
            sum
        }
        Lanes::Wide => simd!(sum_sq_diff_scaled => sum_sq_diff_scaled_in(x, y, s, out)),
    }
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn sum_sq_diff_scaled_in<S: Simd>(simd: S, x: &[f32], y: &[f32], s: f32, out: [&mut [f32]; 2]) -> f32 {
    let [ox, oy] = out;
    let (sv, neg) = (simd.splat(s), simd.splat(-s));
    let (xb, xt) = x.as_chunks::<W>();
    let (yb, yt) = y.as_chunks::<W>();
    let (gxb, gxt) = ox.as_chunks_mut::<W>();
    let (gyb, gyt) = oy.as_chunks_mut::<W>();
    let mut acc = simd.zero();
    for (((a, b), gx), gy) in xb.iter().zip(yb).zip(gxb).zip(gyb) {
        let t = simd.sub(simd.load(a), simd.load(b));
        acc = simd.mul_add(t, t, acc);
        simd.store(simd.mul(t, sv), gx);
        simd.store(simd.mul(t, neg), gy);
    }
    let mut tail = 0.0;
    for (((a, b), gx), gy) in xt.iter().zip(yt).zip(gxt).zip(gyt) {
        let t = a - b;
        tail += t * t;
        (*gx, *gy) = (s * t, -s * t);
    }
    simd.reduce_add(acc) + tail
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
        Lanes::Wide => simd!(axpy => axpy_in(a, x, y)),
    }
}

#[inline(always)]
fn axpy_in<S: Simd>(s: S, a: f32, x: &[f32], y: &mut [f32]) {
    let av = s.splat(a);
    let (xb, xt) = x.as_chunks::<W>();
    let (yb, yt) = y.as_chunks_mut::<W>();
    for (yc, xc) in yb.iter_mut().zip(xb) {
        s.store(s.mul_add(s.load(xc), av, s.load(yc)), yc);
    }
    for (yi, xi) in yt.iter_mut().zip(xt) {
        *yi += a * xi;
    }
}

/// y ← y + Σ_r a_r·x_r over four rows at once: one pass over y for four
/// rank-one updates, which quarters the memory traffic of an outer-product
/// accumulation.
#[inline]
pub(crate) fn axpy4(lanes: Lanes, a: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
    match effective(lanes) {
        Lanes::Scalar => {
            let len = x.iter().fold(y.len(), |m, r| m.min(r.len()));
            let [x0, x1, x2, x3] = x.map(|r| &r[..len]);
            for (k, yk) in y[..len].iter_mut().enumerate() {
                *yk += a[0] * x0[k] + a[1] * x1[k] + a[2] * x2[k] + a[3] * x3[k];
            }
        }
        Lanes::Wide => simd!(axpy4 => axpy4_in(a, x, y)),
    }
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn axpy4_in<S: Simd>(s: S, a: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
    let len = x.iter().fold(y.len(), |m, r| m.min(r.len()));
    let [x0, x1, x2, x3] = x.map(|r| &r[..len]);
    let [a0, a1, a2, a3] = a.map(|v| s.splat(v));
    let (yb, yt) = y[..len].as_chunks_mut::<W>();
    let (b0, t0) = x0.as_chunks::<W>();
    let (b1, t1) = x1.as_chunks::<W>();
    let (b2, t2) = x2.as_chunks::<W>();
    let (b3, t3) = x3.as_chunks::<W>();
    for ((((yc, c0), c1), c2), c3) in yb.iter_mut().zip(b0).zip(b1).zip(b2).zip(b3) {
        let mut acc = s.load(yc);
        acc = s.mul_add(s.load(c0), a0, acc);
        acc = s.mul_add(s.load(c1), a1, acc);
        acc = s.mul_add(s.load(c2), a2, acc);
        acc = s.mul_add(s.load(c3), a3, acc);
        s.store(acc, yc);
    }
    for (k, yk) in yt.iter_mut().enumerate() {
        *yk += a[0] * t0[k] + a[1] * t1[k] + a[2] * t2[k] + a[3] * t3[k];
    }
}

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
fn register_tile<'a, const R: usize>(m: [&'a [f32]; 2], dims: [usize; 2], j0: usize, k0: usize, c: &mut [f32]) {
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

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn gram_upper_tiled_in<S: Simd>(s: S, z: &[f32], d: usize, c: &mut [f32]) {
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

/// [`product`] with blocks of A copied into [`A_BLOCK`] rows of stack, for
/// the large products of the loss (at d ≥ [`PACK_FROM`], or n ≥
/// [`PACK_ROWS_FROM`]), where C or K alone is 1 MiB or more; without a
/// heap there is nowhere else. 96 KiB, only on hosts and WASM (targets with
/// vectors).
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn packed_product<S: Simd, const TA: bool, const TB: bool>(
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

/// [`gram_upper_tiled`] for rows shorter than [`PACK_FROM`]: register tiles
/// reading Z in place, a block of rows against a block of columns at a time.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn gram_upper_in_place<S: Simd>(s: S, z: &[f32], d: usize, c: &mut [f32]) {
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
fn tile<S: Simd, const R: usize, const V: usize>(s: S, z: &[f32], d: usize, j0: usize, k0: usize, c: &mut [f32]) {
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

/// Rows of Z (or of B, the inner dimension of a product) per pass of the
/// tiled products, and columns of C (or of the output) per pass: 256 rows
/// by 256 columns is 256 KiB, within a core's L2 cache, so a block is
/// read from memory once per pass instead of once per register tile. Tiny
/// in the unit tests, so that their small matrices cross every block edge.
const ROW_BLOCK: usize = if cfg!(test) { 2 } else { 256 };
/// See [`ROW_BLOCK`]; a multiple of two vectors.
const COLUMN_BLOCK: usize = if cfg!(test) { 2 * W } else { 256 };
/// Columns of Z per pass of [`gram_rows`]: long, because every tile ends in
/// twelve sums across lanes added into K (at (1024, 2048) the product ran
/// at 64 GFLOP/s in passes of 512 columns, 79 in passes of 2048).
const DEPTH_BLOCK: usize = if cfg!(test) { W } else { 2048 };
/// Rows l per pass of [`gram_rows`], a multiple of the tiles' three: 48 rows
/// of [`DEPTH_BLOCK`] columns are 384 KiB, in L2 while every row i streams
/// past them.
const PAIR_BLOCK: usize = if cfg!(test) { 3 } else { 48 };

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
fn matmul_bt_in<S: Simd>(simd: S, s: f32, a: &[f32], m: usize, bt: &[f32], out: &mut [f32]) {
    panel_sized::<S, false, true>(simd, s, a, m, bt, out);
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn matmul_at_in<S: Simd>(simd: S, s: f32, at: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
    panel_sized::<S, true, false>(simd, s, at, m, b, out);
}

/// [`matmul_acc`]'s register tiles, for m ≥ 1 and k = len(B)/m ≥ 1.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn matmul_acc_in<S: Simd>(simd: S, s: f32, a: &[f32], m: usize, b: &[f32], out: &mut [f32]) {
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
const PACK_ROWS_FROM: usize = if cfg!(test) { 5 } else { 256 };

/// Rows of a small product's panel: a Linear layer's inner dimension is
/// often this short, and a panel is zeroed on every call (16 KiB at
/// [`ROW_BLOCK`] rows, a measurable share of a small layer's product).
const SMALL_PANEL_ROWS: usize = if cfg!(test) { 2 } else { 64 };

/// [`product`] with a panel of [`SMALL_PANEL_ROWS`] rows where the inner
/// dimension fits it, else of [`ROW_BLOCK`] rows.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn panel_sized<S: Simd, const TA: bool, const TB: bool>(
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
fn product<S: Simd, const TA: bool, const TB: bool, const P: usize>(
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
                let at = Product { s, a, m, j0, depth, panel: &panel, width, k, k0 };
                // A's values for the tile at row i, and the step between
                // successive j: in the packed block, or in place.
                let a_cols = |i: usize| -> (&[f32], usize, usize) {
                    if pack {
                        let (t, r) = ((i - ib) / tile_rows, (i - ib) % tile_rows);
                        (&packed[t * tile_rows * depth..(t + 1) * tile_rows * depth], tile_rows, r)
                    } else {
                        (&a[j0 * rows..(j0 + depth) * rows], rows, i)
                    }
                };
                let mut i0 = ib;
                while i0 < ie {
                    let block = (ie - i0).min(tile_rows);
                    if !(upper && k0 + width <= i0) {
                        let cols = if TA || pack { a_cols(i0) } else { (&[][..], 0, 0) };
                        match (block, width == 2 * W) {
                            (6, true) => product_tile::<S, 6, 2>(simd, &at, i0, cols, out),
                            (6, false) => product_tile::<S, 6, 1>(simd, &at, i0, cols, out),
                            (4, true) => product_tile::<S, 4, 2>(simd, &at, i0, cols, out),
                            (4, false) => product_tile::<S, 4, 1>(simd, &at, i0, cols, out),
                            (_, wide) => (i0..i0 + block).for_each(|i| {
                                let cols = if TA || pack { a_cols(i) } else { (&[][..], 0, 0) };
                                if wide {
                                    product_tile::<S, 1, 2>(simd, &at, i, cols, out);
                                } else {
                                    product_tile::<S, 1, 1>(simd, &at, i, cols, out);
                                }
                            }),
                        }
                    }
                    i0 += block;
                }
                k0 += width;
            }
            ib = ie;
        }
        j0 += depth;
    }
    for i in 0..rows {
        for c in whole.max(if upper { i } else { 0 })..k {
            out[i * k + c] += s * (0..m).map(|j| a_at(i, j) * b_at(j, c)).sum::<f32>();
        }
    }
}

/// Copies rows `block` of A, over columns `cols` of it (the product's inner
/// dimension), into `packed` tile by tile: a tile's `tile_rows` values of A
/// at each column adjacent, rows past the block's end as zeros. A is
/// `dims[0]` rows by `dims[1]`, given transposed (`dims[1]` × `dims[0]`) if
/// `TA`.
fn pack_block<const TA: bool>(
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
fn gather_transposed<S: Simd>(simd: S, bt: &[f32], m: usize, cols: core::ops::Range<usize>, panel: &mut [f32]) {
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
fn copy_fixed<const L: usize>(dst: &mut [f32], src: &[f32]) -> bool {
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
const PACK_FROM: usize = if cfg!(test) { 9 } else { 512 };

/// Rows of A copied per block in the large products: 96 rows (a multiple
/// of the four- and six-row tiles) by a panel's depth (up to 256) is 96 KiB,
/// which stays in L2 while every strip of B passes. Each strip is copied
/// once per block, so the block is as tall as the stack allows: the
/// feature side's Zᵀ·Z ran at 79 GFLOP/s in blocks of 48 rows, 88 in blocks
/// of 96 and 90 of 144 (at (256, 1024) and (1024, 2048) alike).
const A_BLOCK: usize = if cfg!(test) { 12 } else { 96 };

/// One strip of out += s·A·B: rows `j0..j0 + depth` of B, columns
/// `k0..k0 + width`, packed row after row in `panel`.
struct Product<'a> {
    s: f32,
    a: &'a [f32],
    m: usize,
    j0: usize,
    depth: usize,
    panel: &'a [f32],
    width: usize,
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
fn product_tile<S: Simd, const R: usize, const V: usize>(
    simd: S,
    p: &Product<'_>,
    i0: usize,
    cols_a: (&[f32], usize, usize),
    out: &mut [f32],
) {
    let Product { s, a, m, j0, depth, panel, width, k, k0 } = *p;
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
        let row = &mut out[(i0 + r) * k + k0..(i0 + r) * k + k0 + V * W];
        let (chunks, _) = row.as_chunks_mut::<W>();
        for (chunk, acc_rv) in chunks.iter_mut().zip(acc_r) {
            let sum = simd.mul_add(*acc_rv, sv, simd.load(chunk));
            simd.store(sum, chunk);
        }
    }
}

/// acc[r] += a_r[r]·(one row of a panel strip), for every row r of a tile.
/// Always inlined (a closure may not be): compiled outside the AVX2 entry,
/// each multiply-add would become a call.
#[inline(always)]
fn tile_step<S: Simd, const R: usize, const V: usize>(simd: S, acc: &mut [[S::V; V]; R], strip: &[f32], a_r: [f32; R]) {
    let (cols, _) = strip.as_chunks::<W>();
    let x: [S::V; V] = core::array::from_fn(|v| simd.load(&cols[v]));
    for (acc_r, &ar) in acc.iter_mut().zip(&a_r) {
        let av = simd.splat(ar);
        for (acc_rv, xv) in acc_r.iter_mut().zip(&x) {
            *acc_rv = simd.mul_add(*xv, av, *acc_rv);
        }
    }
}

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
fn gram_rows_in<S: Simd>(s: S, z: &[f32], d: usize, k: &mut [f32]) {
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
fn mirror_upper_in<S: Simd>(s: S, c: &mut [f32], d: usize) {
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
const MIRROR_BLOCK: usize = 2 * W;

/// The side from which [`mirror_upper`] goes in blocks: a matrix of 128×128
/// (64 KiB) and more. Small in the unit tests, so that their matrices take
/// both paths.
const MIRROR_FROM: usize = if cfg!(test) { 2 } else { 128 };

/// K[i0..i0+RI, l0..l0+RL] += Z[i0..i0+RI, depth]·Z[l0..l0+RL, depth]ᵀ.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn row_tile<S: Simd, const RI: usize, const RL: usize>(
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

/// `p` + 0·x: a running probe of finiteness. 0·x is ±0 for a finite x and
/// NaN for an infinity or a NaN, and a NaN stays, so a probe that starts at
/// zero is still zero exactly while every value added was finite: one
/// multiply-accumulate per value, where classifying it (`f32::is_finite`)
/// takes several integer instructions on a Cortex-M4F.
#[inline(always)]
pub(crate) fn probe(p: f32, x: f32) -> f32 {
    p + 0.0 * x
}

/// Whether every value is finite ([`probe`], in vectors where there are).
pub(crate) fn all_finite(x: &[f32]) -> bool {
    let (chunks, tail) = x.as_chunks::<W>();
    let p = if Portable::VECTORS {
        let s = Portable;
        let zero = s.zero();
        s.reduce_add(chunks.iter().fold(zero, |acc, c| s.mul_add(s.load(c), zero, acc)))
    } else {
        // Eight values a pass: eight loads at fixed offsets from one pointer.
        chunks.iter().fold(0.0, |p, c| c.iter().fold(p, |p, &v| probe(p, v)))
    };
    tail.iter().fold(p, |p, &v| probe(p, v)) == 0.0
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

/// y ← y + x ⊙ w, element-wise multiply-accumulate.
#[inline]
pub(crate) fn mul_acc(lanes: Lanes, y: &mut [f32], x: &[f32], w: &[f32]) {
    match effective(lanes) {
        Lanes::Scalar => {
            for ((yi, xi), wi) in y.iter_mut().zip(x).zip(w) {
                *yi += xi * wi;
            }
        }
        Lanes::Wide => simd!(mul_acc => mul_acc_in(y, x, w)),
    }
}

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
fn mul_acc_in<S: Simd>(s: S, y: &mut [f32], x: &[f32], w: &[f32]) {
    let (yb, yt) = y.as_chunks_mut::<W>();
    let (xb, xt) = x.as_chunks::<W>();
    let (wb, wt) = w.as_chunks::<W>();
    for ((yc, xc), wc) in yb.iter_mut().zip(xb).zip(wb) {
        s.store(s.mul_add(s.load(xc), s.load(wc), s.load(yc)), yc);
    }
    for ((yi, xi), wi) in yt.iter_mut().zip(xt).zip(wt) {
        *yi += xi * wi;
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
                let four = dot4(x, w);
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
                let mut other = [0.0f32; 40];
                let sq = sum_sq_diff_scaled(lanes, &before[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                let diff = |i: usize| f64::from(before[i]) - yd(i);
                let want: f64 = (0..len).map(|i| diff(i) * diff(i)).sum();
                assert!(agrees(sq, want, want), "sum_sq_diff_scaled's sum {lanes:?} {len}");
                add_assign(lanes, out, y);
                for i in 0..len {
                    let want = 1.5 * diff(i) + yd(i);
                    assert!(agrees(out[i], want, 16.0), "sum_sq_diff_scaled and add_assign {lanes:?} {len} [{i}]");
                    assert!(agrees(other[i], -1.5 * diff(i), 16.0), "sum_sq_diff_scaled {lanes:?} {len} [{i}]");
                }
            }
        }
    }

    /// A deterministic n×d matrix with no two equal entries.
    fn matrix(rows: usize, cols: usize, k: f32) -> [f32; 160] {
        core::array::from_fn(|i| if i < rows * cols { (i as f32 * k + 0.3).sin() } else { 0.0 })
    }

    type GramKernel = fn(&[f32], usize, &mut [f32]);

    #[test]
    fn tiled_gram_accumulates_the_upper_triangle_of_z_transpose_z() {
        let n = 5;
        // Every tile shape: fewer than eight columns, whole and partial
        // blocks of eight and sixteen, row groups of four and the rest.
        // The vector tiles, and the scalar register tiles a target without
        // vectors runs.
        let kernels: [(&str, GramKernel); 2] = [("vectors", gram_upper_tiled), ("registers", gram_upper_registers)];
        for ((name, kernel), d) in
            kernels.into_iter().flat_map(|k| [1, 2, 5, 8, 9, 13, 16, 17, 24, 25, 31].map(|d| (k, d)))
        {
            let z = &matrix(n, d, 0.37)[..n * d];
            // C starts from values of its own, which the product adds to.
            let mut c = [0.0f32; 31 * 31];
            let c = &mut c[..d * d];
            for (i, v) in c.iter_mut().enumerate() {
                *v = (i % 7) as f32 - 3.0;
            }
            kernel(z, d, c);
            for j in 0..d {
                for k in j..d {
                    let terms = |f: &dyn Fn(f64) -> f64| {
                        (0..n).map(|i| f(f64::from(z[i * d + j]) * f64::from(z[i * d + k]))).sum::<f64>()
                    };
                    let want = ((j * d + k) % 7) as f64 - 3.0 + terms(&|t| t);
                    assert!(agrees(c[j * d + k], want, 3.0 + terms(&f64::abs)), "{name} d {d}: C[{j}][{k}]");
                }
            }
        }
    }

    #[test]
    fn finiteness_is_found_at_every_place_and_only_where_it_fails() {
        // The largest and smallest finite values and a negative zero are
        // finite; an infinity of either sign or a NaN anywhere, in a vector
        // or in the tail, is not.
        for len in [0, 1, 7, 8, 9, 17, 24] {
            let mut x = ramp(len, 0.3);
            let x = &mut x[..len];
            x.iter_mut().step_by(3).for_each(|v| *v = f32::MAX);
            x.iter_mut().skip(1).step_by(5).for_each(|v| *v = -f32::MIN_POSITIVE);
            x.iter_mut().skip(2).step_by(4).for_each(|v| *v = -0.0);
            assert!(all_finite(x), "{len}");
            for at in 0..len {
                for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
                    let keep = x[at];
                    x[at] = bad;
                    assert!(!all_finite(x), "{len}: {bad} at {at}");
                    x[at] = keep;
                }
            }
        }
        assert!(probe(probe(0.0, f32::MAX), -3.0) == 0.0, "finite values leave the probe at zero");
        assert!(probe(probe(0.0, f32::NAN), 1.0).is_nan());
    }

    #[test]
    fn mirror_copies_every_upper_value_below_and_keeps_the_upper_triangle() {
        for d in [1, 5, 16, 17, 40] {
            let before: [f32; 1600] = core::array::from_fn(|i| i as f32);
            let mut c = before;
            mirror_upper(&mut c[..d * d], d);
            for j in 0..d {
                for k in 0..d {
                    let want = before[j.min(k) * d + j.max(k)];
                    assert_eq!(c[j * d + k].to_bits(), want.to_bits(), "d = {d}, ({j}, {k})");
                }
            }
        }
    }

    #[test]
    fn transpose_moves_lane_j_of_vector_i_to_lane_i_of_vector_j() {
        fn check<S: Simd>(s: S, name: &str) {
            let rows: [S::V; W] = core::array::from_fn(|i| s.load(&core::array::from_fn(|j| (10 * i + j) as f32)));
            for (j, v) in s.transpose(rows).into_iter().enumerate() {
                let mut lanes = [0.0; W];
                s.store(v, &mut lanes);
                let want: [f32; W] = core::array::from_fn(|i| (10 * i + j) as f32);
                assert_eq!(lanes.map(f32::to_bits), want.map(f32::to_bits), "{name}: vector {j}");
            }
        }
        check(Portable, "portable");
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if let Some(proof) = avx::Avx2Fma::detect() {
            check(proof, "avx2+fma");
        }
    }

    #[test]
    fn row_gram_is_z_times_z_transpose() {
        for n in [1, 2, 3, 5, 7] {
            for d in [1, 5, 8, 9, 16, 17, 22] {
                let z = &matrix(n, d, 0.53)[..n * d];
                let (mut dispatched, mut portable) = ([f32::NAN; 7 * 7], [f32::NAN; 7 * 7]);
                gram_rows(z, d, &mut dispatched[..n * n]);
                gram_rows_in(Portable, z, d, &mut portable[..n * n]);
                for i in 0..n {
                    for l in 0..n {
                        let want: f64 = (0..d).map(|c| f64::from(z[i * d + c]) * f64::from(z[l * d + c])).sum();
                        for k in [&dispatched, &portable] {
                            assert!(agrees(k[i * n + l], want, d as f64), "n {n} d {d} K[{i}][{l}]");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn matrix_product_accumulates_s_times_a_b() {
        let s = -0.75;
        // Both lanes; the scalar register tiles that a target without
        // vectors runs for either; and the vector tiles reading B, or A,
        // transposed (a Linear layer's forward product and weight gradient).
        let forms = ["scalar", "wide", "registers", "B transposed", "A transposed"];
        for form in forms {
            for (rows, m) in [(1, 1), (1, 4), (4, 3), (5, 5), (6, 2), (8, 3), (2, 0)] {
                for k in [0, 1, 7, 8, 9, 16, 17, 25] {
                    let a = &matrix(rows, m, 0.61)[..rows * m];
                    let b = &matrix(m, k, 0.29)[..m * k];
                    let mut at = [0.0f32; 160];
                    let mut bt = [0.0f32; 160];
                    for (i, j) in (0..rows).flat_map(|i| (0..m).map(move |j| (i, j))) {
                        at[j * rows + i] = a[i * m + j];
                    }
                    for (j, c) in (0..m).flat_map(|j| (0..k).map(move |c| (j, c))) {
                        bt[c * m + j] = b[j * k + c];
                    }
                    let (at, bt) = (&at[..rows * m], &bt[..m * k]);
                    let mut out = [0.0f32; 8 * 25];
                    let out = &mut out[..rows * k];
                    for (i, v) in out.iter_mut().enumerate() {
                        *v = (i % 5) as f32 * 0.5;
                    }
                    match form {
                        "scalar" => matmul_acc(Lanes::Scalar, s, a, m, b, out),
                        "wide" => matmul_acc(Lanes::Wide, s, a, m, b, out),
                        "registers" if m > 0 => matmul_registers(s, a, m, b, out),
                        "B transposed" => matmul_acc_bt(s, a, m, bt, out),
                        "A transposed" => matmul_acc_at(s, at, m, b, out),
                        _ => {}
                    }
                    for i in 0..rows {
                        for c in 0..k {
                            let terms = (0..m).map(|j| f64::from(a[i * m + j]) * f64::from(b[j * k + c]));
                            let want = ((i * k + c) % 5) as f64 * 0.5 + f64::from(s) * terms.sum::<f64>();
                            assert!(
                                agrees(out[i * k + c], want, 2.0 + m as f64),
                                "{form} {rows}×{m}·{m}×{k} [{i}][{c}]"
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
                let mut other = [0.0f32; 40];
                let sq = sum_sq_diff_scaled(lanes, &copy[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                add_assign(lanes, out, y);
                axpy(lanes, 0.5 + sq, &other[..len], out);
            }
            for (s, w) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*s, *w), "element-wise primitives, len {len}: {s} vs {w}");
            }
        }
    }

    /// With `std` on x86-64 `Lanes::Wide` runs the AVX2/FMA build of each
    /// kernel where the CPU has it, so the tests above check that one
    /// against f64; this checks the build-feature form (what a CPU without
    /// AVX2 runs, and every other target) against it, kernel by kernel.
    #[test]
    fn the_portable_kernels_agree_with_the_dispatched_ones() {
        let close = |p: f32, w: f32, scale: f32| (p - w).abs() <= 1e-5 * (1.0 + scale);
        for len in 0..40 {
            let (x, y) = (&ramp(len, 0.7)[..len], &ramp(len, 1.3)[..len]);
            let w = [x, y, &ramp(len, 2.1)[..len], &ramp(len, 0.3)[..len]];
            assert!(close(dot_in(Portable, x, y), dot(Lanes::Wide, x, y), 1.0), "dot {len}");
            assert!(close(sum_sq_diff_in(Portable, x, y), sum_sq_diff(Lanes::Wide, x, y), 4.0), "ssd {len}");
            let mut outs = [[0.0f32; 40]; 2];
            for (k, out) in outs.iter_mut().enumerate() {
                let out = &mut out[..len];
                out.copy_from_slice(x);
                let copy: [f32; 40] = core::array::from_fn(|i| x.get(i).copied().unwrap_or(0.0));
                let mut other = [0.0f32; 40];
                if k == 0 {
                    axpy_in(Portable, 0.5, y, out);
                    axpy4_in(Portable, [1.0, -2.0, 0.25, 3.0], w, out);
                    mul_acc_in(Portable, out, x, y);
                    let sq = sum_sq_diff_scaled_in(Portable, &copy[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                    axpy_in(Portable, 0.5 + sq, &other[..len], out);
                } else {
                    axpy(Lanes::Wide, 0.5, y, out);
                    axpy4(Lanes::Wide, [1.0, -2.0, 0.25, 3.0], w, out);
                    mul_acc(Lanes::Wide, out, x, y);
                    let sq = sum_sq_diff_scaled(Lanes::Wide, &copy[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                    axpy(Lanes::Wide, 0.5 + sq, &other[..len], out);
                }
            }
            for (p, d) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*p, *d, 16.0), "element-wise, len {len}: {p} vs {d}");
            }
        }
        for (rows, m, k) in [(5, 3, 25), (4, 7, 16), (1, 2, 8), (6, 5, 17)] {
            let (a, b) = (&matrix(rows, m, 0.61)[..rows * m], &matrix(m, k, 0.29)[..m * k]);
            let mut outs = [[0.25f32; 6 * 25]; 2];
            matmul_acc_in(Portable, -0.75, a, m, b, &mut outs[0][..rows * k]);
            matmul_acc(Lanes::Wide, -0.75, a, m, b, &mut outs[1][..rows * k]);
            for (p, d) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*p, *d, m as f32), "matmul_acc {rows}×{m}·{m}×{k}: {p} vs {d}");
            }
        }
        for d in [5, 13, 24, 31] {
            let z = &matrix(5, d, 0.37)[..5 * d];
            let mut cs = [[0.0f32; 31 * 31]; 2];
            gram_upper_tiled_in(Portable, z, d, &mut cs[0][..d * d]);
            gram_upper_tiled(z, d, &mut cs[1][..d * d]);
            for j in 0..d {
                for k in j..d {
                    let (p, w) = (cs[0][j * d + k], cs[1][j * d + k]);
                    assert!(close(p, w, 5.0), "gram d {d} [{j}][{k}]: {p} vs {w}");
                }
            }
        }
    }

    /// Where the build itself enables AVX2 and FMA (as the Miri step does,
    /// to interpret the AVX2 kernels), detection must find them: otherwise
    /// the tests above would silently test the portable kernels twice.
    #[test]
    #[cfg(all(feature = "std", target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
    fn detection_finds_what_the_build_enables() {
        assert!(avx::Avx2Fma::detect().is_some());
    }
}
