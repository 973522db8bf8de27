//! Augmentations that treat every value alike, whatever the sample's shape.

use super::Augment;
use crate::Error;
use crate::rng::{gaussian, symmetric_unit, uniform};
use rand_core::RngCore;

/// Additive Gaussian noise of standard deviation `sigma` on every element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Jitter {
    /// Standard deviation of the noise.
    pub sigma: f32,
}

impl Augment for Jitter {
    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        for v in sample {
            *v += self.sigma * gaussian(rng);
        }
        Ok(())
    }
}

/// Multiplies the whole sample by one factor drawn uniformly from
/// [`low`, `high`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    /// Smallest factor.
    pub low: f32,
    /// Largest factor.
    pub high: f32,
}

impl Augment for Scale {
    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let factor = self.low + (self.high - self.low) * uniform(rng);
        for v in sample {
            *v *= factor;
        }
        Ok(())
    }
}

/// Brightness: x ← f·x + b on every element, with one factor f uniform in
/// [`low`, `high`) and one offset b uniform in [−`offset`, `offset`) for
/// the sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Brightness {
    /// Smallest factor.
    pub low: f32,
    /// Largest factor.
    pub high: f32,
    /// Largest offset either way.
    pub offset: f32,
}

impl Augment for Brightness {
    fn fits(&self, _len: usize) -> Result<(), Error> {
        let ok = [self.low, self.high, self.offset].iter().all(|v| v.is_finite())
            && self.low <= self.high
            && self.offset >= 0.0;
        if ok { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        let factor = self.low + (self.high - self.low) * uniform(rng);
        let offset = self.offset * symmetric_unit(rng);
        for v in sample {
            *v = factor * *v + offset;
        }
        Ok(())
    }
}

/// Sets each element to zero with probability `probability`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mask {
    /// Chance that an element is dropped.
    pub probability: f32,
}

impl Augment for Mask {
    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        for v in sample {
            if uniform(rng) < self.probability {
                *v = 0.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::cast_precision_loss)]
mod tests {
    //! Each augmentation against what it promises, with the draw recovered
    //! from the output.

    use super::*;
    use crate::rng::Pcg32;

    /// Moments of the changes `f` makes to a ramp of 64 values, over 50
    /// draws: (mean, variance) of the differences.
    fn change_moments(aug: &impl Augment, f: impl Fn(f32, f32) -> f32) -> (f32, f32) {
        let mut rng = Pcg32::new(11);
        let (mut sum, mut sum_sq, mut count) = (0.0f32, 0.0f32, 0.0f32);
        for _ in 0..50 {
            let original: [f32; 64] = core::array::from_fn(|i| i as f32 * 0.25 - 8.0);
            let mut s = original;
            aug.apply(&mut s, &mut rng).unwrap();
            for (a, b) in s.iter().zip(&original) {
                let c = f(*a, *b);
                (sum, sum_sq, count) = (sum + c, sum_sq + c * c, count + 1.0);
            }
        }
        let mean = sum / count;
        (mean, sum_sq / count - mean * mean)
    }

    #[test]
    fn jitter_adds_zero_mean_noise_of_the_given_spread() {
        let (mean, var) = change_moments(&Jitter { sigma: 0.5 }, |a, b| a - b);
        assert!(mean.abs() < 0.05 && (var - 0.25).abs() < 0.02, "mean {mean}, variance {var}");
    }

    #[test]
    fn mask_zeroes_the_given_fraction_and_leaves_the_rest() {
        let mut rng = Pcg32::new(2);
        let (mut zeroed, mut total) = (0, 0);
        for _ in 0..50 {
            let original: [f32; 64] = core::array::from_fn(|i| i as f32 + 1.0);
            let mut s = original;
            Mask { probability: 0.3 }.apply(&mut s, &mut rng).unwrap();
            for (a, b) in s.iter().zip(&original) {
                assert!(*a == 0.0 || a == b);
                zeroed += usize::from(*a == 0.0);
                total += 1;
            }
        }
        let fraction = zeroed as f32 / total as f32;
        assert!((fraction - 0.3).abs() < 0.03, "{fraction}");
        let mut s = [1.0f32; 8];
        Mask { probability: 0.0 }.apply(&mut s, &mut rng).unwrap();
        assert_eq!(s, [1.0; 8]);
    }

    #[test]
    fn scale_multiplies_by_one_factor_spanning_its_range() {
        let mut rng = Pcg32::new(4);
        let (mut lowest, mut highest) = (f32::MAX, f32::MIN);
        for _ in 0..200 {
            let mut s = [2.0f32, -4.0, 8.0];
            Scale { low: 0.5, high: 1.5 }.apply(&mut s, &mut rng).unwrap();
            let factor = s[0] / 2.0;
            assert_eq!(s, [2.0 * factor, -4.0 * factor, 8.0 * factor]);
            assert!((0.5..1.5).contains(&factor), "{factor}");
            (lowest, highest) = (lowest.min(factor), highest.max(factor));
        }
        assert!(lowest < 0.55 && highest > 1.45, "factors {lowest}…{highest}");
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    fn brightness_is_one_affine_map_spanning_its_ranges() {
        let mut rng = Pcg32::new(6);
        let bright = Brightness { low: 0.7, high: 1.3, offset: 0.2 };
        let (mut factors, mut offsets) = ((f32::MAX, f32::MIN), (f32::MAX, f32::MIN));
        for _ in 0..500 {
            let mut s = [1.0f32, 3.0, -2.0, 0.0];
            bright.apply(&mut s, &mut rng).unwrap();
            let (factor, offset) = ((s[1] - s[0]) / 2.0, s[3]);
            assert!((0.7 - 1e-5..1.3).contains(&factor) && offset.abs() <= 0.2, "{factor} {offset}");
            assert!((s[0] - (factor + offset)).abs() < 1e-5 && (s[2] - (offset - 2.0 * factor)).abs() < 1e-5);
            factors = (factors.0.min(factor), factors.1.max(factor));
            offsets = (offsets.0.min(offset), offsets.1.max(offset));
        }
        assert!(
            factors.0 < 0.72 && factors.1 > 1.28 && offsets.0 < -0.19 && offsets.1 > 0.19,
            "{factors:?} {offsets:?}"
        );
        let mut same = [1.0f32, 3.0];
        Brightness { low: 1.0, high: 1.0, offset: 0.0 }.apply(&mut same, &mut rng).unwrap();
        assert_eq!(same, [1.0, 3.0]);
        for bad in [
            Brightness { low: 1.3, high: 0.7, ..bright },
            Brightness { offset: -0.1, ..bright },
            Brightness { high: f32::NAN, ..bright },
        ] {
            assert_eq!(bad.apply(&mut same, &mut rng), Err(Error::InvalidConfig), "{bad:?}");
        }
        assert_eq!(same, [1.0, 3.0]);
    }
}
