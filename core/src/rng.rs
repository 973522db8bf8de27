//! Random numbers for initialisation and augmentation, from any
//! [`rand_core::RngCore`] (a chip's hardware generator, say), and a small
//! default generator for devices without one.
//!
//! Gaussian noise is drawn as a sum of four uniforms, (u₁ + u₂ + u₃ + u₄ − 2)·√3:
//! mean 0, variance 1, tails bounded at ±2√3. That is close enough to normal
//! for jitter, and costs no logarithm or trigonometry, which are double
//! precision software routines on an FPU-only-single part like the Cortex-M4F.

use rand_core::RngCore;

/// PCG32 (XSH-RR variant): 64 bits of state, 32-bit outputs, statistically
/// solid and a few instructions per draw. Reproducible across targets.
///
/// ```
/// use vicreg::Pcg32;
/// use rand_core::RngCore;
/// let mut a = Pcg32::new(7);
/// let mut b = Pcg32::new(7);
/// assert_eq!(a.next_u32(), b.next_u32());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcg32 {
    state: u64,
}

impl Pcg32 {
    const MULTIPLIER: u64 = 6_364_136_223_846_793_005;
    const INCREMENT: u64 = 1_442_695_040_888_963_407;

    /// A generator from a seed; every seed gives a distinct stream.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        let state = seed.wrapping_add(Self::INCREMENT).wrapping_mul(Self::MULTIPLIER).wrapping_add(Self::INCREMENT);
        Self { state }
    }
}

impl RngCore for Pcg32 {
    fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(Self::MULTIPLIER).wrapping_add(Self::INCREMENT);
        #[allow(clippy::cast_possible_truncation)]
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        #[allow(clippy::cast_possible_truncation)]
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    fn next_u64(&mut self) -> u64 {
        u64::from(self.next_u32()) << 32 | u64::from(self.next_u32())
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(4) {
            let bytes = self.next_u32().to_le_bytes();
            for (d, b) in chunk.iter_mut().zip(bytes) {
                *d = b;
            }
        }
    }
}

/// Uniform in [0, 1), 24 random bits.
pub fn uniform<G: RngCore + ?Sized>(rng: &mut G) -> f32 {
    (rng.next_u32() >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Uniform in [−1, 1).
pub fn symmetric_unit<G: RngCore + ?Sized>(rng: &mut G) -> f32 {
    2.0 * uniform(rng) - 1.0
}

/// Approximately standard normal: the centred, scaled sum of four uniforms.
pub fn gaussian<G: RngCore + ?Sized>(rng: &mut G) -> f32 {
    // Two draws give four 16-bit uniforms.
    let (a, b) = (rng.next_u32(), rng.next_u32());
    let sum = (a & 0xFFFF) + (a >> 16) + (b & 0xFFFF) + (b >> 16);
    (sum as f32 * (1.0 / 65_536.0) - 2.0) * 1.732_050_8
}

/// Uniform integer in [0, bound) for bound ≥ 1 (0 for bound = 0), by
/// Lemire's multiply-shift (bias below 2⁻³² · bound).
pub fn below<G: RngCore + ?Sized>(rng: &mut G, bound: u32) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let r = ((u64::from(rng.next_u32()) * u64::from(bound)) >> 32) as u32;
    r
}
