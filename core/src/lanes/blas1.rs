//! Level-1 primitives on vectors: dot products, squared differences,
//! axpy and its four-row form, element-wise accumulation. One pass over
//! memory each; the SIMD form keeps eight partial sums.

use super::select::{Lanes, effective, simd};
use super::vector::{Simd, W};

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

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn dot_in<S: Simd>(s: S, x: &[f32], y: &[f32]) -> f32 {
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
pub(super) fn sum_sq_diff_in<S: Simd>(s: S, x: &[f32], y: &[f32]) -> f32 {
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
pub(super) fn sum_sq_diff_scaled_in<S: Simd>(simd: S, x: &[f32], y: &[f32], s: f32, out: [&mut [f32]; 2]) -> f32 {
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

#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(super) fn axpy_in<S: Simd>(s: S, a: f32, x: &[f32], y: &mut [f32]) {
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
pub(super) fn axpy4_in<S: Simd>(s: S, a: [f32; 4], x: [&[f32]; 4], y: &mut [f32]) {
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

/// y ← y + x, element-wise. Out of line where there is no `avx`: its
/// callers (BatchNorm's streamed sums, the optimisers) call it once per
/// tensor, and one copy is smaller than one per caller.
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline)]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline(never))]
pub(crate) fn add_assign(lanes: Lanes, y: &mut [f32], x: &[f32]) {
    axpy(lanes, 1.0, x, y);
}

/// y ← y + x ⊙ w, element-wise multiply-accumulate; out of line where
/// there is no `avx`, as [`add_assign`].
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline)]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline(never))]
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
pub(super) fn mul_acc_in<S: Simd>(s: S, y: &mut [f32], x: &[f32], w: &[f32]) {
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
