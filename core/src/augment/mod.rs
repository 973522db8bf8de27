//! Augmentations: random transformations that make the two views of a
//! sample differ in ways the representation should ignore.
//!
//! Each works in place on one sample and draws from any [`RngCore`]; tuples
//! of augmentations apply in order. Samples are laid out as the networks
//! read them ([`Shape`](crate::nn::Shape)): a vector of features, a C×T
//! window channel-major (channel c's T samples at `c·T..(c + 1)·T`), or a
//! C×H×W image channel-major then row-major.
//!
//! - `values`: on every value alike ([`Jitter`], [`Scale`], [`Brightness`],
//!   [`Mask`]);
//! - `window`: on C×T windows ([`TimeShift`], [`TimeCrop`],
//!   [`ChannelScale`], [`ChannelDrop`], [`Rotate3`]);
//! - `image`: on C×H×W images ([`Shift2d`], [`FlipHorizontal`], [`Erase`],
//!   [`Contrast`]);
//! - `resample`: random resized crops with rotation, one bilinear
//!   resampling of each plane ([`ResizedCrop`], [`Crop`]).

mod image;
mod resample;
mod values;
mod window;

pub use image::{Contrast, Erase, FlipHorizontal, Shift2d};
pub use resample::{Crop, ResizedCrop};
pub use values::{Brightness, Jitter, Mask, Scale};
pub use window::{ChannelDrop, ChannelScale, Rotate3, TimeCrop, TimeShift};

use crate::Error;
use crate::rng::below;
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
    /// augmentation's shape (a window of whole channels, an image of whole
    /// width × height planes); the sample is then unchanged.
    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error>;
}

/// Uniform in [−max, max].
pub(crate) fn signed_draw<G: RngCore + ?Sized>(rng: &mut G, max: usize) -> isize {
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
// The transformations move and scale values exactly: the comparisons are
// meant to be exact.
#[allow(clippy::float_cmp)]
mod tests {
    use super::*;
    use crate::rng::Pcg32;

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
        // A batch of exactly the capacity fits.
        assert_eq!(pair.generate(&[[0.5; 2]; 4], &identity, &mut rng).unwrap().0.len(), 4);
    }
}
