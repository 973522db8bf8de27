//! AdamW's update of one tensor as a vector primitive: the optimiser
//! (`train::optim`) computes the step's constants, this walks the values,
//! compiled for the build's lanes and, on x86-64 with `std`, for AVX2.

use super::Simd;

/// The constants of one AdamW step for one tensor.
pub(crate) struct AdamStep {
    /// β₁.
    pub(crate) b1: f32,
    /// β₂.
    pub(crate) b2: f32,
    /// ε.
    pub(crate) eps: f32,
    /// lr·λ, or 0 where the tensor does not decay.
    pub(crate) decay: f32,
    /// lr / (1 − β₁ᵗ).
    pub(crate) step: f32,
    /// 1 / √(1 − β₂ᵗ).
    pub(crate) inv_sqrt_c2: f32,
}

/// AdamW over one tensor: m ← β₁·m + (1 − β₁)·g, v ← β₂·v + (1 − β₂)·g²,
/// w ← (w − lr·λ·w) − (lr/c₁)·m / (√v / √c₂ + ε), written only if `commit`;
/// returns whether every new value is finite.
///
/// Each lane performs exactly the scalar tail's operations, in its order and
/// without fused multiply-adds (division and square root are correctly
/// rounded in both), so the result is the same bit for bit on every
/// instruction set. Finiteness is the running probe of
/// [`probe`](super::probe), p + 0·x, in vectors: a multiply-add per value.
// Inlined whole into its AVX2 entry, so it is compiled for AVX2 there.
#[allow(clippy::inline_always)]
#[cfg_attr(all(feature = "std", target_arch = "x86_64"), inline(always))]
#[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), inline)]
pub(crate) fn adamw_with<S: Simd>(
    s: S,
    c: &AdamStep,
    p: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    commit: bool,
) -> bool {
    let scalar = |p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]| {
        let mut probe = 0.0;
        for (((w, &gi), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            let m_new = c.b1 * *mi + (1.0 - c.b1) * gi;
            let v_new = c.b2 * *vi + (1.0 - c.b2) * gi * gi;
            let w_new = (*w - c.decay * *w) - c.step * m_new / (libm::sqrtf(v_new) * c.inv_sqrt_c2 + c.eps);
            probe = super::probe(super::probe(super::probe(probe, m_new), v_new), w_new);
            if commit {
                (*mi, *vi, *w) = (m_new, v_new, w_new);
            }
        }
        probe == 0.0
    };
    if !S::VECTORS {
        return scalar(p, g, m, v);
    }
    let (pb, pt) = p.as_chunks_mut::<8>();
    let (gb, gt) = g.as_chunks::<8>();
    let (mb, mt) = m.as_chunks_mut::<8>();
    let (vb, vt) = v.as_chunks_mut::<8>();
    let (b1, b2) = (s.splat(c.b1), s.splat(c.b2));
    let (a1, a2) = (s.splat(1.0 - c.b1), s.splat(1.0 - c.b2));
    let (eps, decay, step, inv) = (s.splat(c.eps), s.splat(c.decay), s.splat(c.step), s.splat(c.inv_sqrt_c2));
    let (zero, mut probe) = (s.zero(), s.zero());
    for (((wc, gc), mc), vc) in pb.iter_mut().zip(gb).zip(mb.iter_mut()).zip(vb.iter_mut()) {
        let (w, gi) = (s.load(wc), s.load(gc));
        let m_new = s.add(s.mul(b1, s.load(mc)), s.mul(a1, gi));
        let v_new = s.add(s.mul(b2, s.load(vc)), s.mul(s.mul(a2, gi), gi));
        let denominator = s.add(s.mul(s.sqrt(v_new), inv), eps);
        let w_new = s.sub(s.sub(w, s.mul(decay, w)), s.div(s.mul(step, m_new), denominator));
        probe = s.mul_add(w_new, zero, s.mul_add(v_new, zero, s.mul_add(m_new, zero, probe)));
        if commit {
            s.store(m_new, mc);
            s.store(v_new, vc);
            s.store(w_new, wc);
        }
    }
    let tail = scalar(pt, gt, mt, vt);
    s.reduce_add(probe) == 0.0 && tail
}
