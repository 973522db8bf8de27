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
