//! The eight-lane vector the kernels are written against. A kernel takes an
//! instruction set by value: a value of [`Simd`]'s implementing type is the
//! proof that the running CPU has those instructions, so a kernel compiled
//! for a wider set than the build's baseline can only run where it is safe
//! to.

use wide::{f32x4, f32x8};

/// Lanes of a vector.
pub(crate) const W: usize = 8;

/// An instruction set for vectors of eight f32.
pub(crate) trait Simd: Copy {
    /// The register type.
    type V: Copy;
    /// Whether a vector is a real vector register (not eight scalars, as
    /// `f32x8` is on Cortex-M and RISC-V): register tiles pay only then.
    const VECTORS: bool;
    /// Vectors per register-tile row: two where there are registers for
    /// eight accumulators plus operands (AVX's 16 ymm, NEON's 32 q), one
    /// where a vector takes two of SSE's 16 xmm registers. WebAssembly
    /// takes two: its engine allocates the registers, and the larger tiles
    /// measured 4 % faster on the digits step under Node on x86-64.
    const TILE_VECTORS: usize;
    /// Rows of a product's register tile two vectors wide: six where the
    /// twelve accumulators, two operands and a broadcast fit the registers
    /// (AVX's 16 ymm, NEON's 32), four where the engine allocates them
    /// (WebAssembly) or a vector is two registers.
    const TILE_ROWS: usize;
    /// Whether [`Simd::transpose`] stays in registers (AVX's shuffles), so
    /// that copying a transposed operand into panels pays; elsewhere it goes
    /// lane by lane.
    const REGISTER_TRANSPOSE: bool;

    /// All lanes zero.
    fn zero(self) -> Self::V;
    /// All lanes `x`.
    fn splat(self, x: f32) -> Self::V;
    /// Eight consecutive values.
    fn load(self, chunk: &[f32; W]) -> Self::V;
    /// Writes the lanes to eight consecutive values.
    fn store(self, v: Self::V, chunk: &mut [f32; W]);
    /// a·b + c, fused where the instructions have it.
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// a − b.
    fn sub(self, a: Self::V, b: Self::V) -> Self::V;
    /// a·b.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// a + b.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// a / b, correctly rounded.
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// √a, correctly rounded.
    fn sqrt(self, a: Self::V) -> Self::V;
    /// The sum of the lanes.
    fn reduce_add(self, v: Self::V) -> f32;
    /// The 8×8 transpose: lane j of vector i becomes lane i of vector j.
    fn transpose(self, rows: [Self::V; W]) -> [Self::V; W];
    /// Asks for the cache line holding `x[0]` ahead of its use; a hint
    /// only, nothing where the instruction set has none.
    #[inline(always)]
    fn prefetch(self, x: &[f32]) {
        let _ = x;
    }
}

/// The instructions the build's target features give: `wide::f32x8`
/// lowered to AVX, SSE, NEON or `simd128`, or to eight scalars.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl Simd for Portable {
    type V = f32x8;
    const VECTORS: bool =
        cfg!(any(target_feature = "sse2", target_feature = "neon", target_feature = "simd128", target_feature = "avx"));
    const TILE_VECTORS: usize =
        if cfg!(any(target_feature = "avx", target_arch = "aarch64", target_feature = "simd128")) { 2 } else { 1 };
    const TILE_ROWS: usize = if cfg!(any(target_feature = "avx", target_arch = "aarch64")) { 6 } else { 4 };
    const REGISTER_TRANSPOSE: bool = cfg!(target_feature = "avx");

    #[inline(always)]
    fn zero(self) -> f32x8 {
        f32x8::ZERO
    }
    #[inline(always)]
    fn splat(self, x: f32) -> f32x8 {
        f32x8::splat(x)
    }
    #[inline(always)]
    fn load(self, chunk: &[f32; W]) -> f32x8 {
        f32x8::from(*chunk)
    }
    #[inline(always)]
    fn store(self, v: f32x8, chunk: &mut [f32; W]) {
        *chunk = v.to_array();
    }
    #[inline(always)]
    fn mul_add(self, a: f32x8, b: f32x8, c: f32x8) -> f32x8 {
        a.mul_add(b, c)
    }
    #[inline(always)]
    fn sub(self, a: f32x8, b: f32x8) -> f32x8 {
        a - b
    }
    #[inline(always)]
    fn mul(self, a: f32x8, b: f32x8) -> f32x8 {
        a * b
    }
    #[inline(always)]
    fn add(self, a: f32x8, b: f32x8) -> f32x8 {
        a + b
    }
    #[inline(always)]
    fn div(self, a: f32x8, b: f32x8) -> f32x8 {
        a / b
    }
    #[inline(always)]
    fn sqrt(self, a: f32x8) -> f32x8 {
        a.sqrt()
    }
    #[inline(always)]
    fn transpose(self, rows: [f32x8; W]) -> [f32x8; W] {
        f32x8::transpose(rows)
    }
    #[inline(always)]
    fn reduce_add(self, v: f32x8) -> f32 {
        // The halves added as vectors first, then pairs: where f32x8 is two
        // 128-bit registers (SSE2, NEON, `simd128`) that is one vector add
        // and three scalar ones, where `f32x8::reduce_add` sums each half
        // lane by lane (seven scalar adds).
        if cfg!(target_feature = "avx") || !Self::VECTORS {
            return v.reduce_add();
        }
        let [a, b] = halves(v);
        let [s0, s1, s2, s3] = (a + b).to_array();
        (s0 + s2) + (s1 + s3)
    }
}

/// The low and high four lanes.
#[inline(always)]
fn halves(v: f32x8) -> [f32x4; 2] {
    let a = v.to_array();
    [f32x4::from([a[0], a[1], a[2], a[3]]), f32x4::from([a[4], a[5], a[6], a[7]])]
}
