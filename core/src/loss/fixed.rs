//! [`VicregLoss`]: the loss with every buffer sized at compile time.

use super::config::Config;
use super::objective::{BothSides, LossTerms, Options, Views, Workspace, compute_in};
use crate::error::Error;

/// The VICReg loss for batches of up to `N` rows of `D` features, with its
/// whole workspace inside the value: no heap, and a size known before the
/// firmware is flashed ([`VicregLoss::MEMORY_BYTES`]).
///
/// `S` is the side of the square matrix of the covariance term: `S = D`
/// allows the feature side, `S = N` the batch side, and `S = min(N, D)` lets
/// [`CovarianceSide::Auto`](crate::CovarianceSide::Auto) take the cheaper one
/// for every batch length n ≤ N.
///
/// Batches are slices of rows, so a `heapless::Vec<[f32; D], N>` or an array
/// serves directly; the number of rows is the slice's length.
///
/// ```
/// use vicreg::{Config, Options, VicregLoss};
///
/// // Up to 32 rows of 16 features; a 16×16 square matrix (the feature side).
/// const BYTES: usize = VicregLoss::<32, 16, 16>::MEMORY_BYTES;
/// assert_eq!(BYTES, 4 * (32 * 16 + 3 * 16 + 16 * 16) + 24);
///
/// let mut vicreg = VicregLoss::<32, 16, 16>::new(Config::default(), Options::default());
/// let a: [[f32; 16]; 4] = core::array::from_fn(|i| core::array::from_fn(|j| (i * j) as f32));
/// let b = a;
/// let (mut ga, mut gb) = ([[0.0; 16]; 4], [[0.0; 16]; 4]);
/// let terms = vicreg.loss_and_gradients(&a, &b, &mut ga, &mut gb)?;
/// assert_eq!(terms.invariance, 0.0);
/// # Ok::<(), vicreg::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct VicregLoss<const N: usize, const D: usize, const S: usize> {
    config: Config,
    options: Options,
    centred: [[f32; D]; N],
    mean: [f32; D],
    var: [f32; D],
    weights: [f32; D],
    square: [[f32; S]; S],
}

impl<const N: usize, const D: usize, const S: usize> VicregLoss<N, D, S> {
    /// Bytes this value occupies: the configuration and every buffer the loss
    /// and its gradients need.
    pub const MEMORY_BYTES: usize = core::mem::size_of::<Self>();

    /// A loss with the given coefficients and computation options. `const`, so
    /// it can initialise a `static`.
    #[must_use]
    pub const fn new(config: Config, options: Options) -> Self {
        Self {
            config,
            options,
            centred: [[0.0; D]; N],
            mean: [0.0; D],
            var: [0.0; D],
            weights: [0.0; D],
            square: [[0.0; S]; S],
        }
    }

    /// The coefficients.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the coefficients (checked at the next computation).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// The covariance formulation and lanes in use.
    #[must_use]
    pub fn options(&self) -> Options {
        self.options
    }

    /// Replaces the computation options.
    pub fn set_options(&mut self, options: Options) {
        self.options = options;
    }

    /// The loss terms of two views of n ≤ N rows, without gradients.
    ///
    /// # Errors
    ///
    /// [`Error::TooManyRows`] for n > N, [`Error::ShapeMismatch`] if the views
    /// differ in length, and the errors of [`loss`](crate::loss()).
    pub fn loss(&mut self, a: &[[f32; D]], b: &[[f32; D]]) -> Result<LossTerms, Error> {
        let views = Self::views(a, b)?;
        let (config, options) = (self.config, self.options);
        compute_in::<BothSides>(views, &config, options, self.workspace(views.n()), None)
    }

    /// The loss terms, with ∂ℓ/∂Z and ∂ℓ/∂Z′ written into `grad_a` and
    /// `grad_b`, which must have as many rows as the views.
    ///
    /// # Errors
    ///
    /// As [`loss`](Self::loss), and [`Error::ShapeMismatch`] if a gradient
    /// buffer's length differs from the views'.
    pub fn loss_and_gradients(
        &mut self,
        a: &[[f32; D]],
        b: &[[f32; D]],
        grad_a: &mut [[f32; D]],
        grad_b: &mut [[f32; D]],
    ) -> Result<LossTerms, Error> {
        let views = Self::views(a, b)?;
        if grad_a.len() != a.len() || grad_b.len() != a.len() {
            return Err(Error::ShapeMismatch);
        }
        let (config, options) = (self.config, self.options);
        let grads = Some((grad_a.as_flattened_mut(), grad_b.as_flattened_mut()));
        compute_in::<BothSides>(views, &config, options, self.workspace(views.n()), grads)
    }

    fn views<'a>(a: &'a [[f32; D]], b: &'a [[f32; D]]) -> Result<Views<'a>, Error> {
        if a.len() > N {
            return Err(Error::TooManyRows { n: a.len(), capacity: N });
        }
        Views::new(a.as_flattened(), b.as_flattened(), D)
    }

    fn workspace(&mut self, n: usize) -> Workspace<'_> {
        Workspace {
            centred: &mut self.centred.as_flattened_mut()[..n * D],
            mean: &mut self.mean,
            var: &mut self.var,
            weights: &mut self.weights,
            square: self.square.as_flattened_mut(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::objective::tests::sample_views;
    use crate::loss::objective::{CovarianceSide, loss_and_gradients};
    use crate::{Lanes, Views};

    const D: usize = 9;

    fn rows(flat: &[f32]) -> [[f32; D]; 4] {
        core::array::from_fn(|i| core::array::from_fn(|j| flat[i * D + j]))
    }

    // The fixed-capacity value gives what the slice functions give (checked
    // against the definition in `objective`) for the configuration and
    // options it was last set to.
    #[test]
    fn the_fixed_capacity_loss_is_the_slice_loss_with_its_settings() {
        let (a, b) = sample_views::<36>(4, D);
        let (ra, rb) = (rows(&a), rows(&b));
        let mut vicreg = VicregLoss::<6, D, D>::new(Config::DEFAULT, Options::default());
        let config = Config { sim_coeff: 1.5, std_coeff: 4.0, cov_coeff: 0.25, gamma: 0.8, eps: 1e-3 };
        let options = Options { side: CovarianceSide::BatchSide, lanes: Lanes::Scalar };
        vicreg.set_config(config);
        vicreg.set_options(options);
        assert_eq!((vicreg.config(), vicreg.options()), (&config, options));

        let (mut ga, mut gb) = ([[0.0f32; D]; 4], [[0.0f32; D]; 4]);
        let got = vicreg.loss_and_gradients(&ra, &rb, &mut ga, &mut gb).unwrap();
        let (mut wa, mut wb) = ([0.0f32; 36], [0.0f32; 36]);
        let mut scratch = [0.0f32; 4 * D + 3 * D + D * D];
        let views = Views::new(&a, &b, D).unwrap();
        let want = loss_and_gradients(views, &config, options, &mut scratch, &mut wa, &mut wb).unwrap();
        assert_eq!(got, want);
        assert_eq!((ga.as_flattened(), gb.as_flattened()), (&wa[..], &wb[..]));
        assert_eq!(vicreg.loss(&ra, &rb), Ok(want));
        assert_ne!(want, VicregLoss::<6, D, D>::new(Config::DEFAULT, options).loss(&ra, &rb).unwrap());
    }

    #[test]
    fn the_fixed_capacity_loss_refuses_what_does_not_fit() {
        let mut vicreg = VicregLoss::<3, D, D>::new(Config::DEFAULT, Options::default());
        let (a, b) = sample_views::<36>(4, D);
        let (ra, rb) = (rows(&a), rows(&b));
        assert_eq!(vicreg.loss(&ra, &rb), Err(Error::TooManyRows { n: 4, capacity: 3 }));
        let (mut ga, mut gb) = ([[0.0f32; D]; 3], [[0.0f32; D]; 3]);
        assert_eq!(vicreg.loss(&ra[..3], &rb[..3]).map(|_| ()), Ok(()));
        assert_eq!(vicreg.loss_and_gradients(&ra[..3], &rb[..3], &mut ga[..2], &mut gb), Err(Error::ShapeMismatch));
        assert_eq!(vicreg.loss_and_gradients(&ra[..3], &rb[..3], &mut ga, &mut gb[..2]), Err(Error::ShapeMismatch));
        assert_eq!(vicreg.loss_and_gradients(&ra[..3], &rb[..2], &mut ga, &mut gb), Err(Error::ShapeMismatch));
        assert_eq!(vicreg.loss_and_gradients(&ra[..3], &rb[..3], &mut ga, &mut gb).map(|_| ()), Ok(()));
        const { assert!(VicregLoss::<3, D, D>::MEMORY_BYTES >= 4 * (3 * D + 3 * D + D * D)) };
    }
}
