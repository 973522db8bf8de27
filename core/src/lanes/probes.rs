//! Finiteness probes: whether values are finite, at one multiply-add a
//! value.

use super::vector::{Portable, Simd, W};

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
