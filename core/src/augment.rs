//! Augmentations: random transformations that make the two views of a
//! sample differ in ways the representation should ignore.
//!
//! Each works in place on one sample (a feature vector, a multichannel time
//! window laid out time-major, `[t][channel]`, or a small single-channel
//! image laid out row-major) and draws from any [`RngCore`]. Tuples of
//! augmentations apply in order.

use crate::Error;
use crate::rng::{below, gaussian, uniform};
use rand_core::RngCore;

/// A random transformation of one sample, in place.
pub trait Augment {
    /// Checks that a sample of `len` values fits this augmentation's shape,
    /// without drawing or writing anything (tuples check every part before
    /// applying any).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] as [`apply`](Self::apply) would return it.
    fn fits(&self, _len: usize) -> Result<(), Error> {
        Ok(())
    }

    /// Transforms `sample`.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the sample's length does not fit the
    /// augmentation's shape (a window of whole time steps, an image of
    /// width × height); the sample is then unchanged.
    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error>;
}

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

/// Shifts a multichannel window in time by a whole number of steps drawn
/// uniformly from [−`max_shift`, `max_shift`], filling with zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeShift {
    /// Channels per time step.
    pub channels: usize,
    /// Largest shift, in steps.
    pub max_shift: usize,
}

impl Augment for TimeShift {
    fn fits(&self, len: usize) -> Result<(), Error> {
        steps_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let steps = time_steps(sample, self.channels)?;
        let shift = signed_draw(rng, self.max_shift.min(steps));
        let offset = shift.unsigned_abs() * self.channels;
        if shift > 0 {
            sample.copy_within(..sample.len() - offset, offset);
            sample[..offset].fill(0.0);
        } else if shift < 0 {
            sample.copy_within(offset.., 0);
            let len = sample.len();
            sample[len - offset..].fill(0.0);
        }
        Ok(())
    }
}

/// Window slicing: keeps a random contiguous stretch of at least
/// `min_fraction` of the window and stretches it back over the whole window
/// by linear interpolation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeCrop {
    /// Channels per time step.
    pub channels: usize,
    /// Shortest kept stretch, as a fraction of the window (0 to 1].
    pub min_fraction: f32,
}

impl Augment for TimeCrop {
    fn fits(&self, len: usize) -> Result<(), Error> {
        steps_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let steps = time_steps(sample, self.channels)?;
        if steps < 2 {
            return Ok(());
        }
        let fraction = self.min_fraction.clamp(0.0, 1.0);
        let fraction = fraction + (1.0 - fraction) * uniform(rng);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let kept = ((fraction * steps as f32) as usize).clamp(2, steps);
        let start = below(rng, u32::try_from(steps - kept + 1).unwrap_or(u32::MAX)) as usize;
        let c = self.channels;
        sample.copy_within(start * c..(start + kept) * c, 0);
        // Output step t reads kept-stretch position p = t·(kept − 1)/(steps − 1)
        // ≤ t: walking t downwards never reads a step already overwritten.
        let ratio = (kept - 1) as f32 / (steps - 1) as f32;
        for t in (0..steps).rev() {
            let p = t as f32 * ratio;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let i = (p as usize).min(kept - 1);
            let (w, next) = (p - i as f32, (i + 1).min(kept - 1));
            for ch in 0..c {
                let lo = sample[i * c + ch];
                // At w = 0 the next step may already be overwritten: skip it.
                sample[t * c + ch] = if w > 0.0 { lo + w * (sample[next * c + ch] - lo) } else { lo };
            }
        }
        Ok(())
    }
}

/// Shifts a single-channel `width` × `height` image (row-major) by up to
/// `max_shift` pixels along each axis, filling with zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift2d {
    /// Pixels per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Largest shift along each axis.
    pub max_shift: usize,
}

impl Augment for Shift2d {
    fn fits(&self, len: usize) -> Result<(), Error> {
        if self.width.checked_mul(self.height) == Some(len) { Ok(()) } else { Err(Error::ShapeMismatch) }
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let (w, h) = (self.width, self.height);
        if w.checked_mul(h) != Some(sample.len()) {
            return Err(Error::ShapeMismatch);
        }
        let dx = signed_draw(rng, self.max_shift.min(w));
        let dy = signed_draw(rng, self.max_shift.min(h));
        // out[y][x] = in[y − dy][x − dx]: walk each axis against the shift so
        // a source pixel is read before it is overwritten.
        for yi in 0..h {
            let y = if dy > 0 { h - 1 - yi } else { yi };
            for xi in 0..w {
                let x = if dx > 0 { w - 1 - xi } else { xi };
                let (sy, sx) = (y.checked_add_signed(-dy), x.checked_add_signed(-dx));
                sample[y * w + x] = match (sy, sx) {
                    (Some(sy), Some(sx)) if sy < h && sx < w => sample[sy * w + sx],
                    _ => 0.0,
                };
            }
        }
        Ok(())
    }
}

/// Time steps in a window of `channels` channels.
fn time_steps(sample: &[f32], channels: usize) -> Result<usize, Error> {
    steps_of(sample.len(), channels)
}

/// Time steps in `len` values of `channels` channels.
fn steps_of(len: usize, channels: usize) -> Result<usize, Error> {
    if channels == 0 || !len.is_multiple_of(channels) {
        return Err(Error::ShapeMismatch);
    }
    Ok(len / channels)
}

/// Uniform in [−max, max].
fn signed_draw<G: RngCore + ?Sized>(rng: &mut G, max: usize) -> isize {
    let span = u32::try_from(2 * max + 1).unwrap_or(u32::MAX);
    let max = isize::try_from(max).unwrap_or(isize::MAX);
    isize::try_from(below(rng, span)).unwrap_or(0) - max
}

macro_rules! augment_tuple {
    ($($name:ident),+) => {
        impl<$($name: Augment),+> Augment for ($($name,)+) {
            #[allow(non_snake_case)]
            fn fits(&self, len: usize) -> Result<(), Error> {
                let ($($name,)+) = self;
                $($name.fits(len)?;)+
                Ok(())
            }

            /// Checks every part first, so a sample that one part refuses is
            /// left unchanged by all of them.
            #[allow(non_snake_case)]
            fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
                self.fits(sample.len())?;
                let ($($name,)+) = self;
                $($name.apply(sample, rng)?;)+
                Ok(())
            }
        }
    };
}

augment_tuple!(A);
augment_tuple!(A, B);
augment_tuple!(A, B, C);
augment_tuple!(A, B, C, D);
augment_tuple!(A, B, C, D, F);

/// Two views of a batch, row i of each from sample i.
pub type Pair<'v, const IN: usize> = (&'v [[f32; IN]], &'v [[f32; IN]]);

/// Two buffers of up to `N` samples of `IN` features, filled with two
/// independently augmented views of a batch.
///
/// ```
/// use vicreg::{Pcg32, augment::{Jitter, Mask, ViewPair}};
/// let batch = [[1.0f32; 4]; 3];
/// let mut pair = ViewPair::<8, 4>::new();
/// let mut rng = Pcg32::new(3);
/// let (a, b) = pair.generate(&batch, &(Jitter { sigma: 0.1 }, Mask { probability: 0.1 }), &mut rng)?;
/// assert_eq!((a.len(), b.len()), (3, 3));
/// assert_ne!(a, b);
/// # Ok::<(), vicreg::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ViewPair<const N: usize, const IN: usize> {
    a: [[f32; IN]; N],
    b: [[f32; IN]; N],
}

impl<const N: usize, const IN: usize> ViewPair<N, IN> {
    /// Empty buffers.
    #[must_use]
    pub const fn new() -> Self {
        Self { a: [[0.0; IN]; N], b: [[0.0; IN]; N] }
    }

    /// Copies `batch` into both buffers and augments every sample of each
    /// independently; returns the two views.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyRows`] for a batch longer than N, and the
    /// augmentation's errors.
    pub fn generate<A: Augment, G: RngCore + ?Sized>(
        &mut self,
        batch: &[[f32; IN]],
        augment: &A,
        rng: &mut G,
    ) -> Result<Pair<'_, IN>, Error> {
        let n = batch.len();
        if n > N {
            return Err(Error::TooManyRows { n, capacity: N });
        }
        for view in [&mut self.a, &mut self.b] {
            view[..n].copy_from_slice(batch);
            for sample in &mut view[..n] {
                augment.apply(sample, rng)?;
            }
        }
        Ok((&self.a[..n], &self.b[..n]))
    }
}

impl<const N: usize, const IN: usize> Default for ViewPair<N, IN> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
// The transformations move and scale values exactly (a shift copies, a
// factor of 1 or 2 is exact): the comparisons are meant to be exact; the
// casts are of small test indices.
#[allow(clippy::float_cmp, clippy::cast_possible_wrap, clippy::cast_sign_loss, clippy::cast_possible_truncation)]
mod tests {
    //! Each augmentation against what it promises, with the draw recovered
    //! from the output: the exact transformation for some draw in range, and
    //! over many draws every value of the range (so a range cut short, or a
    //! sign lost, fails).

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

    /// The shift s with `out[t] = input[t − s]` (zeros where t − s is
    /// outside), for a window of `steps` steps of two channels holding
    /// (t + 1, −(t + 1)); None if no shift explains it.
    fn recovered_shift(out: &[f32], steps: usize) -> Option<isize> {
        (-(steps as isize)..=steps as isize).find(|&s| {
            (0..steps).all(|t| {
                let source = t as isize - s;
                let want = if (0..steps as isize).contains(&source) { source as f32 + 1.0 } else { 0.0 };
                out[2 * t] == want && out[2 * t + 1] == -want
            })
        })
    }

    #[test]
    fn time_shift_moves_whole_steps_by_every_shift_in_range() {
        let mut rng = Pcg32::new(5);
        let mut seen = [false; 7];
        for _ in 0..300 {
            let mut w: [f32; 20] =
                core::array::from_fn(|i| if i % 2 == 0 { (i / 2) as f32 + 1.0 } else { -((i / 2) as f32 + 1.0) });
            TimeShift { channels: 2, max_shift: 3 }.apply(&mut w, &mut rng).unwrap();
            let s = recovered_shift(&w, 10).unwrap_or_else(|| panic!("not a shift: {w:?}"));
            assert!(s.abs() <= 3, "{s}");
            seen[(s + 3) as usize] = true;
        }
        assert_eq!(seen, [true; 7]);
        // A shift longer than the window empties it, never reads outside.
        let mut short = [1.0f32, -1.0, 2.0, -2.0];
        for _ in 0..20 {
            TimeShift { channels: 2, max_shift: 9 }.apply(&mut short, &mut rng).unwrap();
        }
        assert_eq!(TimeShift { channels: 3, max_shift: 1 }.apply(&mut [0.0; 10], &mut rng), Err(Error::ShapeMismatch));
        assert_eq!(TimeShift { channels: 0, max_shift: 1 }.fits(4), Err(Error::ShapeMismatch));
    }

    #[test]
    fn time_crop_stretches_a_contiguous_stretch_linearly_over_the_window() {
        // Channel 0 holds t, channel 1 holds 100 − 2t: after a crop of
        // `kept` steps from `start`, output step t holds the input at
        // p = start + t·(kept − 1)/(steps − 1), in both channels.
        let steps = 10;
        let mut rng = Pcg32::new(8);
        let (mut lengths, mut starts) = ([0usize; 11], [false; 6]);
        for _ in 0..300 {
            let mut w: [f32; 20] =
                core::array::from_fn(|i| if i % 2 == 0 { (i / 2) as f32 } else { 100.0 - 2.0 * (i / 2) as f32 });
            TimeCrop { channels: 2, min_fraction: 0.5 }.apply(&mut w, &mut rng).unwrap();
            let (start, end) = (w[0], w[2 * (steps - 1)]);
            assert_eq!(start.fract(), 0.0, "{w:?}");
            let kept = (end - start) as usize + 1;
            assert!((5..=steps).contains(&kept) && start as usize + kept <= steps, "start {start}, kept {kept}");
            for t in 0..steps {
                let p = start + t as f32 * (kept - 1) as f32 / (steps - 1) as f32;
                assert!((w[2 * t] - p).abs() < 1e-5 && (w[2 * t + 1] - (100.0 - 2.0 * p)).abs() < 1e-4, "t {t}: {w:?}");
            }
            lengths[kept] += 1;
            starts[start as usize] = true;
        }
        // The kept fraction is uniform in [0.5, 1): 5 to 9 of the 10 steps,
        // each about a fifth of the time, never all 10.
        assert!(lengths[5..10].iter().all(|&k| (35..=85).contains(&k)) && lengths[10] == 0, "kept lengths {lengths:?}");
        assert_eq!(starts, [true; 6]);
        // A window of one step is left as it is; a ragged one is refused.
        let mut one = [3.0f32, 4.0];
        TimeCrop { channels: 2, min_fraction: 0.1 }.apply(&mut one, &mut rng).unwrap();
        assert_eq!(one, [3.0, 4.0]);
        assert_eq!(TimeCrop { channels: 2, min_fraction: 0.5 }.fits(5), Err(Error::ShapeMismatch));
    }

    #[test]
    fn shift2d_moves_the_image_by_every_offset_in_range() {
        let (w, h) = (5usize, 4usize);
        let image: [f32; 20] = core::array::from_fn(|i| i as f32 + 1.0);
        let mut rng = Pcg32::new(1);
        let mut seen = [[false; 3]; 3];
        for _ in 0..300 {
            let mut out = image;
            Shift2d { width: w, height: h, max_shift: 1 }.apply(&mut out, &mut rng).unwrap();
            let found = (-1isize..=1).flat_map(|dy| (-1isize..=1).map(move |dx| (dy, dx))).find(|&(dy, dx)| {
                (0..h * w).all(|i| {
                    let (sy, sx) = ((i / w) as isize - dy, (i % w) as isize - dx);
                    let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                    out[i] == if inside { image[sy as usize * w + sx as usize] } else { 0.0 }
                })
            });
            let (dy, dx) = found.unwrap_or_else(|| panic!("not a shift: {out:?}"));
            seen[(dy + 1) as usize][(dx + 1) as usize] = true;
        }
        assert_eq!(seen, [[true; 3]; 3]);
        assert_eq!(Shift2d { width: w, height: h, max_shift: 1 }.fits(20), Ok(()));
        assert_eq!(Shift2d { width: w, height: h, max_shift: 1 }.fits(19), Err(Error::ShapeMismatch));
    }

    struct AddOne;

    impl Augment for AddOne {
        fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], _: &mut G) -> Result<(), Error> {
            for v in sample {
                *v += 1.0;
            }
            Ok(())
        }
    }

    #[test]
    fn a_tuple_refused_by_any_part_changes_nothing() {
        let mut rng = Pcg32::new(3);
        let mut s = [1.0f32, 2.0, 3.0];
        let aug = (Scale { low: 2.0, high: 2.0 }, TimeShift { channels: 2, max_shift: 1 });
        assert_eq!(aug.apply(&mut s, &mut rng), Err(Error::ShapeMismatch));
        assert_eq!(s, [1.0, 2.0, 3.0]);
        // Parts apply in order: ×2 then +1 is not +1 then ×2.
        let double = Scale { low: 2.0, high: 2.0 };
        (double, AddOne).apply(&mut s, &mut rng).unwrap();
        assert_eq!(s, [3.0, 5.0, 7.0]);
        (AddOne, double, AddOne, double, AddOne).apply(&mut s, &mut rng).unwrap();
        assert_eq!(s, [19.0, 27.0, 35.0]);
        (AddOne, AddOne, AddOne, AddOne).apply(&mut s, &mut rng).unwrap();
        (AddOne, AddOne, AddOne).apply(&mut s, &mut rng).unwrap();
        (AddOne,).apply(&mut s, &mut rng).unwrap();
        assert_eq!(s, [27.0, 35.0, 43.0]);
    }

    #[test]
    fn view_pair_copies_the_batch_into_two_independent_views() {
        let batch = [[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
        let mut pair = ViewPair::<4, 2>::default();
        let mut rng = Pcg32::new(9);
        let identity = Scale { low: 1.0, high: 1.0 };
        let (a, b) = pair.generate(&batch, &identity, &mut rng).unwrap();
        assert_eq!((a, b), (&batch[..], &batch[..]));
        let (a, b) = pair.generate(&batch[..2], &Jitter { sigma: 0.1 }, &mut rng).unwrap();
        assert_eq!((a.len(), b.len()), (2, 2));
        assert!(a.iter().zip(b).all(|(x, y)| x[0] != y[0] && x[1] != y[1]));
        assert_eq!(
            pair.generate(&[[0.0; 2]; 5], &identity, &mut rng).unwrap_err(),
            Error::TooManyRows { n: 5, capacity: 4 }
        );
    }
}
