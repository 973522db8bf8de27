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

#[cfg(test)]
mod tests {
    //! The generator's bits and the distributions drawn from them, against
    //! their stated ranges and moments over many draws. Integer and float
    //! arithmetic only, no memory to check: Miri skips them (each costs it
    //! tens of seconds).

    use super::*;

    const DRAWS: usize = 8192;

    /// Mean and variance of `DRAWS` values of `f`, and their extremes.
    fn moments(mut f: impl FnMut() -> f32) -> (f32, f32, f32, f32) {
        let (mut sum, mut sum_sq, mut lo, mut hi) = (0.0f64, 0.0f64, f32::MAX, f32::MIN);
        for _ in 0..DRAWS {
            let x = f();
            (sum, sum_sq, lo, hi) = (sum + f64::from(x), sum_sq + f64::from(x) * f64::from(x), lo.min(x), hi.max(x));
        }
        let mean = sum / DRAWS as f64;
        #[allow(clippy::cast_possible_truncation)]
        (mean as f32, (sum_sq / DRAWS as f64 - mean * mean) as f32, lo, hi)
    }

    /// PCG32 as its reference implementation states it (`pcg32_srandom_r`
    /// and `pcg32_random_r` of pcg_basic.c), with the stream's increment
    /// as a parameter: the form whose published outputs the test below
    /// checks first.
    struct Reference {
        state: u64,
        increment: u64,
    }

    impl Reference {
        fn seeded(seed: u64, increment: u64) -> Self {
            let mut r = Self { state: 0, increment };
            r.step();
            r.state = r.state.wrapping_add(seed);
            r.step();
            r
        }

        #[allow(clippy::cast_possible_truncation)] // the reference's casts to uint32_t
        fn step(&mut self) -> u32 {
            let old = self.state;
            self.state = old.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(self.increment);
            let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
            xorshifted.rotate_right((old >> 59) as u32)
        }
    }

    #[test]
    fn outputs_are_the_reference_generators() {
        // pcg_basic's demonstration: seed 42, sequence 54 (increment
        // 2·54 + 1), as published with the reference code.
        let mut demo = Reference::seeded(42, 109);
        let published = [0xa15c_02b7, 0x7b47_f409, 0xba1d_3330, 0x83d2_f293, 0xbfa4_784b, 0xcbed_606e];
        assert_eq!(published.map(|_| demo.step()), published);
        // This generator is that one on the default stream.
        for seed in [0, 1, 42, u64::MAX] {
            let (mut ours, mut reference) = (Pcg32::new(seed), Reference::seeded(seed, Pcg32::INCREMENT));
            for _ in 0..16 {
                assert_eq!(ours.next_u32(), reference.step(), "seed {seed}");
            }
            let (hi, lo) = (reference.step(), reference.step());
            assert_eq!(ours.next_u64(), u64::from(hi) << 32 | u64::from(lo), "seed {seed}");
        }
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn every_output_bit_is_set_half_the_time() {
        let mut rng = Pcg32::new(1);
        let mut ones = [0usize; 64];
        for _ in 0..DRAWS {
            let (x, y) = (u64::from(rng.next_u32()), rng.next_u64());
            for (bit, count) in ones.iter_mut().enumerate() {
                *count += usize::from(y >> bit & 1 == 1) + if bit < 32 { usize::from(x >> bit & 1 == 1) } else { 0 };
            }
        }
        for (bit, count) in ones.iter().enumerate() {
            let draws = if bit < 32 { 2 * DRAWS } else { DRAWS };
            let fraction = *count as f32 / draws as f32;
            assert!((fraction - 0.5).abs() < 0.03, "bit {bit}: set in {fraction} of draws");
        }
        assert_ne!(Pcg32::new(1).next_u32(), Pcg32::new(2).next_u32());
        assert_eq!(Pcg32::new(9), Pcg32::new(9));
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn filled_bytes_take_every_value_to_the_last_one() {
        let mut rng = Pcg32::new(3);
        let mut bytes = [0u8; 4099];
        rng.fill_bytes(&mut bytes);
        let mut seen = [false; 256];
        for b in bytes {
            seen[usize::from(b)] = true;
        }
        assert_eq!(seen, [true; 256]);
        let mut tail = [0u8; 3];
        let zero_tails = (0..64).filter(|_| {
            rng.fill_bytes(&mut tail);
            tail == [0; 3]
        });
        assert_eq!(zero_tails.count(), 0);
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn uniform_draws_fill_their_range_with_the_right_moments() {
        let mut rng = Pcg32::new(5);
        let (mean, var, lo, hi) = moments(|| uniform(&mut rng));
        assert!((0.0..0.002).contains(&lo) && (0.998..1.0).contains(&hi), "[{lo}, {hi}]");
        assert!((mean - 0.5).abs() < 0.01 && (var - 1.0 / 12.0).abs() < 0.003, "mean {mean}, variance {var}");

        let (mean, var, lo, hi) = moments(|| symmetric_unit(&mut rng));
        assert!((-1.0..-0.996).contains(&lo) && (0.996..1.0).contains(&hi), "[{lo}, {hi}]");
        assert!(mean.abs() < 0.02 && (var - 1.0 / 3.0).abs() < 0.012, "mean {mean}, variance {var}");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn gaussian_draws_have_zero_mean_unit_variance_and_bounded_tails() {
        let mut rng = Pcg32::new(6);
        let (mean, var, lo, hi) = moments(|| gaussian(&mut rng));
        assert!(mean.abs() < 0.03 && (var - 1.0).abs() < 0.04, "mean {mean}, variance {var}");
        let bound = 2.0 * 3.0f32.sqrt();
        assert!(lo >= -bound && hi <= bound && lo < -2.5 && hi > 2.5, "[{lo}, {hi}]");
    }

    #[test]
    #[cfg_attr(miri, ignore)]
    fn integers_below_a_bound_are_uniform_over_it() {
        let mut rng = Pcg32::new(7);
        let mut counts = [0usize; 7];
        for _ in 0..7 * 1000 {
            counts[below(&mut rng, 7) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (900..1100).contains(&c)), "{counts:?}");
        assert_eq!(below(&mut rng, 0), 0);
        assert_eq!(below(&mut rng, 1), 0);
    }
}
