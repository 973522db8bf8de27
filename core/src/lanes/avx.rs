//! AVX2 and FMA, chosen at run time: the one module of the crate with
//! `unsafe` code, compiled only with the `std` feature on x86-64.
//!
//! A build for the default x86-64 target may only assume SSE2, so
//! `wide::f32x8` is two SSE registers and its `mul_add` a multiply then an
//! add. Nearly every x86-64 CPU in use has AVX2 and FMA: this module asks
//! the CPU once and, where it has them, runs the same kernels compiled for
//! them, eight lanes per register and fused multiply-adds, as a
//! `target-cpu=native` build would.
//!
//! Two kinds of `unsafe`, each a consequence of the feature check being a
//! run-time fact the compiler cannot see:
//!
//! - the intrinsics are `#[target_feature]` functions, and calling one from
//!   code not compiled with that feature is `unsafe`. [`Avx2Fma`] has a
//!   private field and one constructor, [`Avx2Fma::detect`], which returns
//!   it only after the CPU reported both features; every intrinsic call is
//!   a method on a value of it, so holding one is the proof the call needs;
//! - unaligned loads and stores take raw pointers: each comes from a
//!   reference to exactly eight `f32`, which is valid for the 32 bytes read
//!   or written, and the `loadu`/`storeu` forms need no alignment.

#![allow(unsafe_code)]

extern crate std;

use core::arch::x86_64::{
    __m256, _MM_HINT_T0, _mm_add_ps, _mm_add_ss, _mm_cvtss_f32, _mm_movehl_ps, _mm_prefetch, _mm_shuffle_ps,
    _mm256_add_ps, _mm256_castps256_ps128, _mm256_div_ps, _mm256_extractf128_ps, _mm256_fmadd_ps, _mm256_loadu_ps,
    _mm256_mul_ps, _mm256_permute2f128_ps, _mm256_set1_ps, _mm256_setzero_ps, _mm256_shuffle_ps, _mm256_sqrt_ps,
    _mm256_storeu_ps, _mm256_sub_ps, _mm256_unpackhi_ps, _mm256_unpacklo_ps,
};
use core::sync::atomic::{AtomicU8, Ordering};

use super::vector::{Simd, W};

/// Proof that the running CPU has AVX2 and FMA.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2Fma(());

/// What [`Avx2Fma::detect`] found: 0 not asked yet, 1 absent, 2 present.
static DETECTED: AtomicU8 = AtomicU8::new(0);

impl Avx2Fma {
    /// The proof, if the CPU has both features. The CPU is asked once; later
    /// calls cost one relaxed load.
    #[inline]
    pub(crate) fn detect() -> Option<Self> {
        match DETECTED.load(Ordering::Relaxed) {
            2 => Some(Self(())),
            1 => None,
            _ => {
                let present = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
                DETECTED.store(if present { 2 } else { 1 }, Ordering::Relaxed);
                present.then_some(Self(()))
            }
        }
    }
}

// SAFETY (every block below): `self` is an `Avx2Fma`, which only `detect`
// makes, after the CPU reported AVX2 and FMA; those are all the features
// these intrinsics need. Pointers are as stated at each load and store.
impl Simd for Avx2Fma {
    type V = __m256;
    const VECTORS: bool = true;
    const TILE_VECTORS: usize = 2;
    const TILE_ROWS: usize = 6;
    const REGISTER_TRANSPOSE: bool = true;

    #[inline(always)]
    fn zero(self) -> __m256 {
        unsafe { _mm256_setzero_ps() }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn load(self, chunk: &[f32; W]) -> __m256 {
        // SAFETY: `chunk` is readable for 8 f32; `loadu` needs no alignment.
        unsafe { _mm256_loadu_ps(chunk.as_ptr()) }
    }
    #[inline(always)]
    fn store(self, v: __m256, chunk: &mut [f32; W]) {
        // SAFETY: `chunk` is writable for 8 f32; `storeu` needs no alignment.
        unsafe { _mm256_storeu_ps(chunk.as_mut_ptr(), v) }
    }
    #[inline(always)]
    fn mul_add(self, a: __m256, b: __m256, c: __m256) -> __m256 {
        unsafe { _mm256_fmadd_ps(a, b, c) }
    }
    #[inline(always)]
    fn sub(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt(self, a: __m256) -> __m256 {
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    fn transpose(self, r: [__m256; W]) -> [__m256; W] {
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit
        // halves exchanged: lane j of row i ends in lane i of row j.
        unsafe {
            let a = [
                _mm256_unpacklo_ps(r[0], r[1]),
                _mm256_unpackhi_ps(r[0], r[1]),
                _mm256_unpacklo_ps(r[2], r[3]),
                _mm256_unpackhi_ps(r[2], r[3]),
                _mm256_unpacklo_ps(r[4], r[5]),
                _mm256_unpackhi_ps(r[4], r[5]),
                _mm256_unpacklo_ps(r[6], r[7]),
                _mm256_unpackhi_ps(r[6], r[7]),
            ];
            let b = [
                _mm256_shuffle_ps::<0x44>(a[0], a[2]),
                _mm256_shuffle_ps::<0xEE>(a[0], a[2]),
                _mm256_shuffle_ps::<0x44>(a[1], a[3]),
                _mm256_shuffle_ps::<0xEE>(a[1], a[3]),
                _mm256_shuffle_ps::<0x44>(a[4], a[6]),
                _mm256_shuffle_ps::<0xEE>(a[4], a[6]),
                _mm256_shuffle_ps::<0x44>(a[5], a[7]),
                _mm256_shuffle_ps::<0xEE>(a[5], a[7]),
            ];
            [
                _mm256_permute2f128_ps::<0x20>(b[0], b[4]),
                _mm256_permute2f128_ps::<0x20>(b[1], b[5]),
                _mm256_permute2f128_ps::<0x20>(b[2], b[6]),
                _mm256_permute2f128_ps::<0x20>(b[3], b[7]),
                _mm256_permute2f128_ps::<0x31>(b[0], b[4]),
                _mm256_permute2f128_ps::<0x31>(b[1], b[5]),
                _mm256_permute2f128_ps::<0x31>(b[2], b[6]),
                _mm256_permute2f128_ps::<0x31>(b[3], b[7]),
            ]
        }
    }
    #[inline(always)]
    fn prefetch(self, x: &[f32]) {
        // SAFETY: a prefetch reads nothing the program sees and cannot
        // fault; the address is that of a live slice (or its end).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(x.as_ptr().cast()) }
    }
    #[inline(always)]
    fn reduce_add(self, v: __m256) -> f32 {
        // (lo + hi) over four lanes, then two, then one.
        unsafe {
            let four = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let two = _mm_add_ps(four, _mm_movehl_ps(four, four));
            _mm_cvtss_f32(_mm_add_ss(two, _mm_shuffle_ps::<1>(two, two)))
        }
    }
}

/// For each kernel, an entry compiled with AVX2 and FMA enabled (so that
/// the kernel, inlined into it, is compiled for them too) and a safe
/// wrapper that takes the proof.
macro_rules! entries {
    ($($(#[$doc:meta])* $name:ident => $kernel:path, ($($arg:ident: $ty:ty),*) $(-> $ret:ty)?;)*) => {$(
        $(#[$doc])*
        #[inline]
        pub(crate) fn $name(proof: Avx2Fma, $($arg: $ty),*) $(-> $ret)? {
            #[target_feature(enable = "avx2,fma")]
            fn compiled_for_avx2_fma(proof: Avx2Fma, $($arg: $ty),*) $(-> $ret)? {
                $kernel(proof, $($arg),*)
            }
            // SAFETY: `proof` exists only where the CPU has AVX2 and FMA,
            // the features the function is compiled for.
            unsafe { compiled_for_avx2_fma(proof, $($arg),*) }
        }
    )*};
}

entries! {
    /// [`super::dot`].
    dot => super::dot_in, (x: &[f32], y: &[f32]) -> f32;
    /// [`super::sum_sq_diff`].
    sum_sq_diff => super::sum_sq_diff_in, (x: &[f32], y: &[f32]) -> f32;
    /// [`super::sum_sq_diff_scaled`].
    sum_sq_diff_scaled => super::sum_sq_diff_scaled_in, (x: &[f32], y: &[f32], s: f32, out: [&mut [f32]; 2]) -> f32;
    /// [`super::axpy`].
    axpy => super::axpy_in, (a: f32, x: &[f32], y: &mut [f32]);
    /// [`super::axpy4`].
    axpy4 => super::axpy4_in, (a: [f32; 4], x: [&[f32]; 4], y: &mut [f32]);
    /// [`super::gram_upper_tiled`].
    gram_upper_tiled => super::gram_upper_tiled_in, (z: &[f32], d: usize, c: &mut [f32]);
    /// [`super::matmul_acc`].
    matmul_acc => super::matmul_acc_in, (s: f32, a: &[f32], m: usize, b: &[f32], out: &mut [f32]);
    /// [`super::matmul_acc_bt`].
    matmul_acc_bt => super::matmul_bt_in, (s: f32, a: &[f32], m: usize, bt: &[f32], out: &mut [f32]);
    /// [`super::matmul_acc_at`].
    matmul_acc_at => super::matmul_at_in, (s: f32, at: &[f32], m: usize, b: &[f32], out: &mut [f32]);
    /// [`super::gram_rows`].
    gram_rows => super::gram_rows_in, (z: &[f32], d: usize, k: &mut [f32]);
    /// [`super::mirror_upper`].
    mirror_upper => super::mirror_upper_in, (c: &mut [f32], d: usize);
    /// [`super::mul_acc`].
    mul_acc => super::mul_acc_in, (y: &mut [f32], x: &[f32], w: &[f32]);
    /// AdamW's update of one tensor.
    adamw => super::adamw_with,
        (c: &super::AdamStep, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], commit: bool) -> bool;
}
