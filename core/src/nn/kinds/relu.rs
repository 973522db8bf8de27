//! The rectifier, y = max(0, x) element-wise; ∂ℓ/∂x = ∂ℓ/∂y where y > 0 and
//! 0 elsewhere (PyTorch's convention at exactly 0). It works in place, so it
//! costs no activation memory of its own unless its input must be kept.

use crate::nn::Shape;
use crate::nn::kind::{Backward, Field, Forward, Init, Kind, KindSet, Output, parameterless};

/// The rectifier: no settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReLU;

parameterless!(ReLU);

// The registry's interface: every kind answers the same calls.
#[allow(clippy::unused_self, clippy::unnecessary_wraps)]
impl ReLU {
    pub(crate) const fn output(self, input: Shape) -> Result<Shape, &'static str> {
        Ok(input)
    }
}

impl Kind for ReLU {
    const TAG: u8 = 3;
    const NAME: &'static str = "relu";
    const FIELDS: &'static [Field] = &[];
    const OUTPUT: Output = Output::OverInput;
    // Backward reads the output.
    const REUSABLE: bool = false;
    const ALWAYS: bool = true;
    const OPTIONAL_BIAS: bool = false;
    const DECAYS: bool = false;
    const BATCH_STATISTICS: bool = false;
    const INIT: Init = Init::FanIn;
    const EXAMPLE: Self = Self;

    fn forward<K: KindSet, const STREAM: bool>(self, mut f: Forward<'_>) -> bool {
        let (dst, len) = (f.at.dst, f.input_len());
        f.copy_input(dst);
        forward(&mut f.act[dst..dst + len]);
        true
    }

    fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
        let dst = b.at.dst;
        backward(&b.act[dst..dst + b.dy.len()], b.dy);
    }
}

/// y ← max(0, y) in place (a NaN becomes 0, as `f32::max` makes it).
///
/// A compare and select, not `f32::max`: where the instruction set has no
/// IEEE maxNum (WASM, whose `f32.max` propagates NaN; the Cortex-M4F) that
/// is a call to `fmaxf` per element.
fn forward(x: &mut [f32]) {
    for v in x {
        *v = if *v > 0.0 { *v } else { 0.0 };
    }
}

/// ∂ℓ/∂(input) from ∂ℓ/∂(output) in place, given the layer's output.
fn backward(output: &[f32], grad: &mut [f32]) {
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
