//! The rectifier, y = max(0, x) element-wise; ∂ℓ/∂x = ∂ℓ/∂y where y > 0 and
//! 0 elsewhere (PyTorch's convention at exactly 0). It works in place, so it
//! costs no activation memory of its own unless its input must be kept.

/// y ← max(0, y) in place (a NaN becomes 0, as `f32::max` makes it).
///
/// A compare and select, not `f32::max`: where the instruction set has no
/// IEEE maxNum (WASM, whose `f32.max` propagates NaN; the Cortex-M4F) that
/// is a call to `fmaxf` per element.
pub(crate) fn forward(x: &mut [f32]) {
    for v in x {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// ∂ℓ/∂(input) from ∂ℓ/∂(output) in place, given the layer's output.
pub(crate) fn backward(output: &[f32], grad: &mut [f32]) {
    use crate::lanes::{Portable, Simd};
    // With vectors, a select: it vectorises with any SIMD (compare and
    // mask), where a store under a branch needs masked stores (AVX has them,
    // SSE2 not). Without (Cortex-M), the branch, which skips the store.
    let vectors = <Portable as Simd>::VECTORS;
    for (g, &a) in grad.iter_mut().zip(output) {
        if vectors {
            *g = if a <= 0.0 { 0.0 } else { *g };
        } else if a <= 0.0 {
            *g = 0.0;
        }
    }
}
