//! Which lanes a computation runs ([`Lanes`]), and the dispatch that runs
//! a kernel's SIMD form compiled for AVX2 and FMA where the CPU has them.

use super::vector::{Portable, Simd};

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
            Lanes::Wide if super::avx::Avx2Fma::detect().is_some() => "avx2+fma",
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
