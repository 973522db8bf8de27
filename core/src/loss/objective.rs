//! The VICReg loss of two views and its gradients, on slices with runtime
//! shapes and caller-provided scratch:
//!
//! ℓ = λ·s(Z, Z′) + μ·(v(Z) + v(Z′)) + ν·(c(Z) + c(Z′)),
//!
//! with the invariance s, variance v and covariance c of the official
//! implementation (the crate documentation gives each).
//!
//! These functions are compiled once for every shape. The fixed-capacity
//! [`VicregLoss`](crate::VicregLoss) wraps them with buffers sized at compile
//! time.

use super::config::Config;
use super::{centring, covariance, gram, invariance, variance};
use crate::error::Error;
use crate::lanes::{self, Lanes};

/// Which formulation computes the covariance term; both are exact.
///
/// ```
/// use vicreg::CovarianceSide;
/// // 16 rows of 64 features: the 16×16 Gram matrix is cheaper than 64×64 C.
/// assert_eq!(CovarianceSide::Auto.resolve(16, 64, usize::MAX), Some(CovarianceSide::BatchSide));
/// assert_eq!(CovarianceSide::Auto.resolve(64, 16, usize::MAX), Some(CovarianceSide::FeatureSide));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CovarianceSide {
    /// The cheaper of the two for the batch's shape (batch side when n < d),
    /// or the one whose square matrix fits the scratch when only one does.
    #[default]
    Auto,
    /// C = Z_cᵀZ_c/(n − 1): d×d memory, O(n·d²) work.
    FeatureSide,
    /// K = Z_cZ_cᵀ: n×n memory, O(n²·d) work.
    BatchSide,
}

impl CovarianceSide {
    /// The formulation used for an n×d batch when `square` elements are
    /// available for its square matrix; `None` if it does not fit.
    #[must_use]
    pub const fn resolve(self, n: usize, d: usize, square: usize) -> Option<Self> {
        const fn fits(side: usize, square: usize) -> bool {
            match side.checked_mul(side) {
                Some(len) => len <= square,
                None => false,
            }
        }
        match self {
            Self::FeatureSide if fits(d, square) => Some(Self::FeatureSide),
            Self::BatchSide if fits(n, square) => Some(Self::BatchSide),
            Self::Auto => {
                let (first, second) =
                    if n < d { (Self::BatchSide, Self::FeatureSide) } else { (Self::FeatureSide, Self::BatchSide) };
                match first.resolve(n, d, square) {
                    Some(side) => Some(side),
                    None => second.resolve(n, d, square),
                }
            }
            _ => None,
        }
    }

    /// The side length of this formulation's square matrix for an n×d batch
    /// (`Auto` takes the smaller).
    #[must_use]
    pub const fn square_side(self, n: usize, d: usize) -> usize {
        match self {
            Self::FeatureSide => d,
            Self::BatchSide => n,
            Self::Auto => {
                if n < d {
                    n
                } else {
                    d
                }
            }
        }
    }
}

/// How a loss is computed: the covariance formulation and the lanes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Options {
    /// Feature side, batch side, or chosen by shape.
    pub side: CovarianceSide,
    /// Scalar or SIMD primitives.
    pub lanes: Lanes,
}

/// The loss and its three unweighted terms.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LossTerms {
    /// ℓ = λ·invariance + μ·variance + ν·covariance.
    pub loss: f32,
    /// s, the mean squared difference of the two views.
    pub invariance: f32,
    /// v(Z) + v(Z′).
    pub variance: f32,
    /// c(Z) + c(Z′).
    pub covariance: f32,
}

impl LossTerms {
    /// The terms as they add up to the loss under `config`'s coefficients:
    /// [λ·invariance, μ·variance, ν·covariance]. What every printer shows,
    /// so that the parts on a screen sum to the loss beside them.
    ///
    /// ```
    /// use vicreg::{Config, LossTerms};
    /// let t = LossTerms { loss: 28.0, invariance: 0.5, variance: 0.4, covariance: 5.5 };
    /// assert_eq!(t.weighted(&Config::default()), [12.5, 10.0, 5.5]);
    /// ```
    #[must_use]
    pub fn weighted(&self, config: &Config) -> [f32; 3] {
        [config.sim_coeff * self.invariance, config.std_coeff * self.variance, config.cov_coeff * self.covariance]
    }
}

/// Two views of a batch: row-major n×d embeddings, checked once.
///
/// ```
/// use vicreg::{Error, Views};
/// let a = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
/// let b = [0.5, 1.0, 2.5, 3.0, 4.5, 5.0];
/// let views = Views::new(&a, &b, 2)?;
/// assert_eq!((views.n(), views.d()), (3, 2));
/// assert_eq!(Views::new(&a, &b[..4], 2), Err(Error::ShapeMismatch));
/// assert_eq!(Views::new(&a[..2], &b[..2], 2), Err(Error::TooFewRows { n: 1 }));
/// # Ok::<(), Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Views<'a> {
    a: &'a [f32],
    b: &'a [f32],
    d: usize,
}

impl<'a> Views<'a> {
    /// Checks that `a` and `b` are both n×d with n ≥ 2, d ≥ 1, and hold only
    /// finite values.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroDimension`], [`Error::ShapeMismatch`] (lengths differ or
    /// are not a multiple of d), [`Error::TooFewRows`], [`Error::NonFiniteInput`].
    pub fn new(a: &'a [f32], b: &'a [f32], d: usize) -> Result<Self, Error> {
        if d != 0 && a.len() != b.len() {
            return Err(Error::ShapeMismatch);
        }
        rows(a, d, 2)?;
        if !(lanes::all_finite(a) && lanes::all_finite(b)) {
            return Err(Error::NonFiniteInput);
        }
        Ok(Self { a, b, d })
    }

    /// Rows in the batch.
    #[must_use]
    pub fn n(&self) -> usize {
        self.a.len() / self.d
    }

    /// Features per row.
    #[must_use]
    pub fn d(&self) -> usize {
        self.d
    }

    /// View a, row-major.
    #[must_use]
    pub fn a(&self) -> &'a [f32] {
        self.a
    }

    /// View b, row-major.
    #[must_use]
    pub fn b(&self) -> &'a [f32] {
        self.b
    }
}

/// Rows of a row-major buffer with rows of d, at least `min` of them.
pub(crate) fn rows(z: &[f32], d: usize, min: usize) -> Result<usize, Error> {
    if d == 0 {
        return Err(Error::ZeroDimension);
    }
    if !z.len().is_multiple_of(d) {
        return Err(Error::ShapeMismatch);
    }
    let n = z.len() / d;
    if n < min { Err(Error::TooFewRows { n }) } else { Ok(n) }
}

/// Elements of scratch that [`loss`] and [`loss_and_gradients`] need for an
/// n×d batch with the given formulation: n·d for the centred batch, 3·d for
/// column statistics, and the square matrix.
///
/// ```
/// use vicreg::{CovarianceSide, scratch_len};
/// assert_eq!(scratch_len(16, 64, CovarianceSide::BatchSide), 16 * 64 + 3 * 64 + 16 * 16);
/// ```
#[must_use]
pub const fn scratch_len(n: usize, d: usize, side: CovarianceSide) -> usize {
    let s = side.square_side(n, d);
    n.saturating_mul(d).saturating_add(d.saturating_mul(3)).saturating_add(s.saturating_mul(s))
}

/// The loss terms, without gradients.
///
/// # Errors
///
/// [`Error::InvalidConfig`] for a configuration [`Config::validate`] refuses,
/// [`Error::ScratchTooSmall`] if `scratch` is shorter than [`scratch_len`]
/// (for the formulation [`CovarianceSide::resolve`] picks), and
/// [`Error::NonFiniteResult`] if finite inputs overflow.
///
/// ```
/// use vicreg::{Config, Options, Views, loss, scratch_len, CovarianceSide};
/// let a = [0.0, 1.0, 1.0, 0.0, 2.0, 2.0];
/// let b = a;
/// let mut scratch = [0.0; scratch_len(3, 2, CovarianceSide::Auto)];
/// let terms = loss(Views::new(&a, &b, 2)?, &Config::default(), Options::default(), &mut scratch)?;
/// assert_eq!(terms.invariance, 0.0);
/// # Ok::<(), vicreg::Error>(())
/// ```
pub fn loss(views: Views<'_>, config: &Config, options: Options, scratch: &mut [f32]) -> Result<LossTerms, Error> {
    compute(views, config, options, scratch, None)
}

/// The loss terms, and ∂ℓ/∂Z and ∂ℓ/∂Z′ written into `grad_a` and `grad_b`
/// (each n·d, row-major, overwritten).
///
/// On any error the gradient buffers hold no meaningful values.
///
/// # Errors
///
/// As [`loss`], and [`Error::ShapeMismatch`] if a gradient buffer's length
/// is not n·d; [`Error::NonFiniteResult`] also covers the gradients.
///
/// ```
/// use vicreg::{Config, Options, Views, loss_and_gradients, scratch_len, CovarianceSide};
/// let a = [0.0, 1.0, 1.0, 0.0, 2.0, 2.0];
/// let b = [0.1, 1.0, 1.0, 0.2, 2.0, 2.1];
/// let (mut ga, mut gb) = ([0.0; 6], [0.0; 6]);
/// let mut scratch = [0.0; scratch_len(3, 2, CovarianceSide::Auto)];
/// let views = Views::new(&a, &b, 2)?;
/// let terms = loss_and_gradients(views, &Config::default(), Options::default(), &mut scratch, &mut ga, &mut gb)?;
/// assert!(terms.loss > 0.0);
/// # Ok::<(), vicreg::Error>(())
/// ```
pub fn loss_and_gradients(
    views: Views<'_>,
    config: &Config,
    options: Options,
    scratch: &mut [f32],
    grad_a: &mut [f32],
    grad_b: &mut [f32],
) -> Result<LossTerms, Error> {
    let len = views.a.len();
    if grad_a.len() != len || grad_b.len() != len {
        return Err(Error::ShapeMismatch);
    }
    compute(views, config, options, scratch, Some((grad_a, grad_b)))
}

/// The parts of the scratch buffer, in the order [`scratch_len`] counts them.
pub(crate) struct Workspace<'s> {
    pub(crate) centred: &'s mut [f32],
    pub(crate) mean: &'s mut [f32],
    pub(crate) var: &'s mut [f32],
    pub(crate) weights: &'s mut [f32],
    pub(crate) square: &'s mut [f32],
}

impl<'s> Workspace<'s> {
    /// Splits a flat scratch buffer for an n×d batch, or says how much is
    /// missing (before the square matrix, which [`CovarianceSide::resolve`]
    /// checks).
    pub(crate) fn split(scratch: &'s mut [f32], n: usize, d: usize, side: CovarianceSide) -> Result<Self, Error> {
        if scratch.len() < n * d + 3 * d {
            return Err(Error::ScratchTooSmall { needed: scratch_len(n, d, side), available: scratch.len() });
        }
        let (centred, rest) = scratch.split_at_mut(n * d);
        let (mean, rest) = rest.split_at_mut(d);
        let (var, rest) = rest.split_at_mut(d);
        let (weights, square) = rest.split_at_mut(d);
        Ok(Self { centred, mean, var, weights, square })
    }
}

/// Which covariance formulations a build compiles: a caller whose scratch
/// can never hold the d×d matrix (a device whose embedding is wider than its
/// batch) leaves the feature side's code out of its flash.
pub trait Sides {
    /// The feature side (d×d) can be taken.
    const FEATURE: bool;
}

/// Both formulations, for callers whose shapes are runtime values.
#[derive(Clone, Copy, Debug)]
pub struct BothSides;

impl Sides for BothSides {
    const FEATURE: bool = true;
}

fn compute(
    views: Views<'_>,
    config: &Config,
    options: Options,
    scratch: &mut [f32],
    grads: Option<(&mut [f32], &mut [f32])>,
) -> Result<LossTerms, Error> {
    let (n, d) = (views.n(), views.d());
    let ws = Workspace::split(scratch, n, d, options.side)?;
    compute_in::<BothSides>(views, config, options, ws, grads)
}

/// [`loss_and_gradients`] compiled for the formulations `S` allows.
pub(crate) fn loss_and_gradients_in<S: Sides>(
    views: Views<'_>,
    config: &Config,
    options: Options,
    scratch: &mut [f32],
    grad_a: &mut [f32],
    grad_b: &mut [f32],
) -> Result<LossTerms, Error> {
    let (n, d, len) = (views.n(), views.d(), views.a.len());
    if grad_a.len() != len || grad_b.len() != len {
        return Err(Error::ShapeMismatch);
    }
    let ws = Workspace::split(scratch, n, d, options.side)?;
    compute_in::<S>(views, config, options, ws, Some((grad_a, grad_b)))
}

/// The loss (and gradients) with the workspace already laid out.
pub(crate) fn compute_in<S: Sides>(
    views: Views<'_>,
    config: &Config,
    options: Options,
    ws: Workspace<'_>,
    mut grads: Option<(&mut [f32], &mut [f32])>,
) -> Result<LossTerms, Error> {
    config.validate()?;
    let (n, d, lanes) = (views.n(), views.d(), options.lanes);
    let available = ws.square.len();
    let too_small =
        Error::ScratchTooSmall { needed: scratch_len(n, d, options.side), available: n * d + 3 * d + available };
    let side = match options.side.resolve(n, d, available) {
        Some(CovarianceSide::FeatureSide) if !S::FEATURE => return Err(too_small),
        Some(side) => side,
        None => return Err(too_small),
    };
    // Without the feature side compiled in, every resolved side is the batch side.
    let batch_side = side == CovarianceSide::BatchSide || !S::FEATURE;

    let inv = match grads.as_mut() {
        Some((ga, gb)) => {
            let scale = config.invariance_scale(views.a.len());
            invariance::invariance_and_gradient(lanes, scale, views.a, views.b, ga, gb)
        }
        None => invariance::invariance(lanes, views.a, views.b),
    };

    let Workspace { centred, mean, var, weights, square } = ws;
    let alpha = config.covariance_scale(n, d);
    let mut var_term = 0.0;
    let mut cov_term = 0.0;
    for branch in 0..2 {
        let z = if branch == 0 { views.a } else { views.b };
        centred.copy_from_slice(z);
        centring::centre(lanes, centred, d, mean, var);
        variance::column_variances(var, n);
        var_term += variance::variance(var, config);

        let square = &mut square[..if batch_side { n * n } else { d * d }];
        cov_term += if batch_side {
            gram::gram(lanes, centred, d, var, square)
        } else {
            covariance::feature_covariance(lanes, centred, d, square)
        } / d as f32;

        let Some((ga, gb)) = grads.as_mut() else {
            continue;
        };
        let grad = if branch == 0 { &mut **ga } else { &mut **gb };
        variance::variance_weights(var, n, config, weights);
        // With one feature there is no off-diagonal covariance and its
        // gradient is exactly zero; computing it anyway could overflow
        // (α·K·Z_c with a huge ν or huge values) where the result is finite.
        if d > 1 {
            if batch_side {
                // Fold −α·Z_c·diag(C) into the per-column weights.
                for (w, v) in weights.iter_mut().zip(var.iter()) {
                    *w -= alpha * v;
                }
                gram::gram_gradient(lanes, centred, d, square, alpha, grad);
            } else {
                covariance::feature_gradient(lanes, centred, d, square, alpha, grad);
            }
        }
        for (g, row) in grad.chunks_exact_mut(d).zip(centred.chunks_exact(d)) {
            crate::lanes::mul_acc(lanes, g, row, weights);
        }
    }

    let terms = LossTerms {
        loss: config.objective(inv, var_term, cov_term),
        invariance: inv,
        variance: var_term,
        covariance: cov_term,
    };
    let grads_finite = grads.is_none_or(|(ga, gb)| lanes::all_finite(ga) && lanes::all_finite(gb));
    if terms.loss.is_finite() && grads_finite { Ok(terms) } else { Err(Error::NonFiniteResult) }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The loss against its definition written out plainly in f64 (the crate
    //! documentation's formulas, nothing shared with the code under test),
    //! and the gradients against that definition's central differences.

    use super::*;

    /// Terms (invariance, variance, covariance) of the definition, in f64,
    /// for n×d views.
    fn definition(a: &[f64], b: &[f64], d: usize, c: &Config) -> [f64; 3] {
        let n = a.len() / d;
        let inv = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>() / (n * d) as f64;
        let (gamma, eps) = (f64::from(c.gamma), f64::from(c.eps));
        let (mut var, mut cov) = (0.0, 0.0);
        for z in [a, b] {
            let mut mean = [0.0f64; 17];
            for (j, m) in mean.iter_mut().enumerate().take(d) {
                *m = (0..n).map(|i| z[i * d + j]).sum::<f64>() / n as f64;
            }
            let cov_jk = |j: usize, k: usize| {
                (0..n).map(|i| (z[i * d + j] - mean[j]) * (z[i * d + k] - mean[k])).sum::<f64>() / (n - 1) as f64
            };
            for j in 0..d {
                var += (gamma - (cov_jk(j, j) + eps).sqrt()).max(0.0) / (2 * d) as f64;
                for k in (0..d).filter(|&k| k != j) {
                    cov += cov_jk(j, k) * cov_jk(j, k) / d as f64;
                }
            }
        }
        [inv, var, cov]
    }

    fn weighted(t: [f64; 3], c: &Config) -> f64 {
        f64::from(c.sim_coeff) * t[0] + f64::from(c.std_coeff) * t[1] + f64::from(c.cov_coeff) * t[2]
    }

    /// Views whose columns spread from 0.3 to about 2.3: the variance hinge
    /// is active for the first columns and not for the rest, none near γ = 1.
    pub(crate) fn sample_views<const L: usize>(n: usize, d: usize) -> ([f32; L], [f32; L]) {
        let value = |i: usize, k: f32| {
            let j = i % d;
            let spread = 0.3 + 2.0 * j as f32 / d as f32 + if j >= d / 3 { 0.5 } else { 0.0 };
            spread * ((i as f32 * k + 0.4).sin() + 0.2 * (i as f32 * 0.37).cos())
        };
        let a = core::array::from_fn(|i| if i < n * d { value(i, 1.7) } else { 0.0 });
        let b = core::array::from_fn(|i| if i < n * d { value(i, 1.7) + 0.3 * (i as f32 * 2.9).sin() } else { 0.0 });
        (a, b)
    }

    const CONFIG: Config = Config { sim_coeff: 2.0, std_coeff: 3.0, cov_coeff: 0.7, gamma: 1.0, eps: 1e-3 };

    #[test]
    // The f64 differences cost Miri minutes; the network tests take it
    // through the same loss code.
    #[cfg_attr(miri, ignore)]
    fn terms_and_gradients_follow_the_definition_on_both_sides_and_lanes() {
        const L: usize = 60;
        for (n, d) in [(5, 6), (4, 9), (6, 2), (3, 17)] {
            let (a, b) = sample_views::<L>(n, d);
            let (a, b) = (&a[..n * d], &b[..n * d]);
            let wide = |z: &[f32]| -> [f64; L] { core::array::from_fn(|i| z.get(i).map_or(0.0, |v| f64::from(*v))) };
            let (a64, b64) = (wide(a), wide(b));
            let (a64, b64) = (&a64[..n * d], &b64[..n * d]);
            let want = definition(a64, b64, d, &CONFIG);
            // Central differences of the definition, with respect to a and b.
            let mut fd = [[0.0f64; L]; 2];
            for (view, out) in fd.iter_mut().enumerate() {
                for e in 0..n * d {
                    let h = 1e-6;
                    let at = |delta: f64| {
                        let (mut x, mut y) = (wide(a), wide(b));
                        if view == 0 {
                            x[e] += delta;
                        } else {
                            y[e] += delta;
                        }
                        weighted(definition(&x[..n * d], &y[..n * d], d, &CONFIG), &CONFIG)
                    };
                    out[e] = (at(h) - at(-h)) / (2.0 * h);
                }
            }
            let largest = fd.iter().flatten().fold(0.0f64, |m, g| m.max(g.abs()));
            for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide, CovarianceSide::Auto] {
                for lanes in [Lanes::Scalar, Lanes::Wide] {
                    let what = (n, d, side, lanes);
                    let views = Views::new(a, b, d).unwrap();
                    let options = Options { side, lanes };
                    let mut scratch = [0.0; 17 * 17 + 3 * 17 + L];
                    let (mut ga, mut gb) = ([0.0f32; L], [0.0f32; L]);
                    let t =
                        loss_and_gradients(views, &CONFIG, options, &mut scratch, &mut ga[..n * d], &mut gb[..n * d])
                            .unwrap();
                    let got = [t.invariance, t.variance, t.covariance];
                    for (term, (g, w)) in got.iter().zip(want).enumerate() {
                        assert!(
                            (f64::from(*g) - w).abs() <= 1e-5 * (1.0 + w.abs()),
                            "{what:?} term {term}: {g} vs {w}"
                        );
                    }
                    let total = weighted(want, &CONFIG);
                    assert!((f64::from(t.loss) - total).abs() <= 1e-5 * total, "{what:?} loss {} vs {total}", t.loss);
                    assert_eq!(loss(views, &CONFIG, options, &mut scratch), Ok(t), "{what:?} loss without gradients");
                    for (g, f) in
                        ga[..n * d].iter().chain(&gb[..n * d]).zip(fd[0][..n * d].iter().chain(&fd[1][..n * d]))
                    {
                        assert!((f64::from(*g) - f).abs() <= 1e-4 * largest, "{what:?} gradient {g} vs {f}");
                    }
                }
            }
        }
    }

    /// The weighted terms a printer shows: each the definition's term times
    /// its own coefficient (three different ones), adding up to the loss.
    #[test]
    fn weighted_terms_are_the_definitions_times_their_coefficients() {
        const L: usize = 30;
        let (n, d) = (5, 6);
        let (a, b) = sample_views::<L>(n, d);
        let views = Views::new(&a[..n * d], &b[..n * d], d).unwrap();
        let mut scratch = [0.0; 6 * 6 + 3 * 6 + L];
        let t = loss(views, &CONFIG, Options::default(), &mut scratch).unwrap();
        let wide = |z: &[f32]| -> [f64; L] { core::array::from_fn(|i| f64::from(z[i])) };
        let want = definition(&wide(&a[..L])[..n * d], &wide(&b[..L])[..n * d], d, &CONFIG);
        let coefficients = [CONFIG.sim_coeff, CONFIG.std_coeff, CONFIG.cov_coeff].map(f64::from);
        let got = t.weighted(&CONFIG);
        for (k, (g, (w, c))) in got.iter().zip(want.iter().zip(coefficients)).enumerate() {
            assert!((f64::from(*g) - c * w).abs() <= 1e-5 * (1.0 + (c * w).abs()), "term {k}: {g} vs {}", c * w);
        }
        let sum: f32 = got.iter().sum();
        assert!((sum - t.loss).abs() <= 1e-5 * t.loss, "{sum} vs {}", t.loss);
    }

    #[test]
    fn the_covariance_side_is_the_smaller_square_that_fits() {
        use CovarianceSide::{Auto, BatchSide, FeatureSide};
        // n < d takes the batch side, n ≥ d the feature side, either falls
        // back to the other when its square does not fit, None when neither.
        assert_eq!(Auto.resolve(3, 4, 16), Some(BatchSide));
        assert_eq!(Auto.resolve(4, 4, 16), Some(FeatureSide));
        assert_eq!(Auto.resolve(5, 4, 16), Some(FeatureSide));
        assert_eq!(Auto.resolve(3, 5, 9), Some(BatchSide));
        assert_eq!(Auto.resolve(5, 3, 9), Some(FeatureSide));
        assert_eq!(Auto.resolve(3, 5, 24), Some(BatchSide));
        assert_eq!(Auto.resolve(5, 3, 24), Some(FeatureSide));
        assert_eq!(Auto.resolve(6, 3, 8), None);
        assert_eq!(FeatureSide.resolve(3, 5, 25), Some(FeatureSide));
        assert_eq!(FeatureSide.resolve(3, 5, 24), None);
        assert_eq!(BatchSide.resolve(5, 3, 24), None);
        assert_eq!(BatchSide.resolve(5, 3, 25), Some(BatchSide));
        // A side whose square overflows never fits.
        assert_eq!(FeatureSide.resolve(2, usize::MAX, usize::MAX), None);
        assert_eq!(Auto.resolve(2, usize::MAX, usize::MAX), Some(BatchSide));
        assert_eq!((Auto.square_side(3, 5), Auto.square_side(5, 3), Auto.square_side(4, 4)), (3, 3, 4));
        assert_eq!((FeatureSide.square_side(3, 5), BatchSide.square_side(3, 5)), (5, 3));
        assert_eq!(scratch_len(3, 5, BatchSide), 15 + 15 + 9);
    }

    #[test]
    fn the_building_blocks_give_the_means_and_covariance_of_their_batch() {
        let (z, _) = sample_views::<20>(4, 5);
        let n = 4;
        for lanes in [Lanes::Scalar, Lanes::Wide] {
            let (mut zc, mut mean, mut ws, mut c) = ([0.0f32; 20], [0.0f32; 5], [0.0f32; 5], [0.0f32; 25]);
            crate::kernels::centre(lanes, &z, 5, &mut zc, &mut mean, &mut ws).unwrap();
            let mut off = 0.0f64;
            for j in 0..5 {
                let m = (0..n).map(|i| f64::from(z[i * 5 + j])).sum::<f64>() / n as f64;
                assert!((f64::from(mean[j]) - m).abs() < 1e-6, "mean {j}");
                for i in 0..n {
                    assert!(
                        (f64::from(zc[i * 5 + j]) - (f64::from(z[i * 5 + j]) - m)).abs() < 1e-6,
                        "centred [{i}][{j}]"
                    );
                }
            }
            let sum = crate::kernels::covariance_matrix(lanes, &zc, 5, &mut c).unwrap();
            for j in 0..5 {
                for k in 0..5 {
                    let want = (0..n).map(|i| f64::from(zc[i * 5 + j]) * f64::from(zc[i * 5 + k])).sum::<f64>() / 3.0;
                    assert!((f64::from(c[j * 5 + k]) - want).abs() < 1e-5, "C[{j}][{k}] {lanes:?}");
                    if j != k {
                        off += want * want;
                    }
                }
            }
            assert!((f64::from(sum) - off).abs() < 1e-5 * off, "Σ C_jk² {sum} vs {off}");
            assert_eq!(
                crate::kernels::centre(lanes, &z, 5, &mut zc[..15], &mut mean, &mut ws),
                Err(Error::ShapeMismatch)
            );
            assert_eq!(
                crate::kernels::centre(lanes, &z, 5, &mut zc, &mut mean[..4], &mut ws),
                Err(Error::ShapeMismatch)
            );
            assert_eq!(
                crate::kernels::centre(lanes, &z, 5, &mut zc, &mut mean, &mut ws[..4]),
                Err(Error::ShapeMismatch)
            );
            assert_eq!(crate::kernels::centre(lanes, &z, 0, &mut zc, &mut mean, &mut ws), Err(Error::ZeroDimension));
            assert_eq!(crate::kernels::covariance_matrix(lanes, &zc, 5, &mut c[..24]), Err(Error::ShapeMismatch));
            assert_eq!(crate::kernels::covariance_matrix(lanes, &zc[..5], 5, &mut c), Err(Error::TooFewRows { n: 1 }));
        }
    }

    #[test]
    fn a_config_out_of_range_is_refused() {
        assert_eq!(Config::DEFAULT.validate(), Ok(()));
        assert_eq!(Config { sim_coeff: 0.0, std_coeff: 0.0, cov_coeff: 0.0, gamma: 0.0, eps: 1e-9 }.validate(), Ok(()));
        let bad = [
            Config { sim_coeff: -1.0, ..Config::DEFAULT },
            Config { std_coeff: -1.0, ..Config::DEFAULT },
            Config { cov_coeff: f32::NAN, ..Config::DEFAULT },
            Config { gamma: f32::INFINITY, ..Config::DEFAULT },
            Config { gamma: -0.5, ..Config::DEFAULT },
            Config { eps: 0.0, ..Config::DEFAULT },
            Config { eps: f32::INFINITY, ..Config::DEFAULT },
        ];
        let (a, b) = sample_views::<12>(4, 3);
        let views = Views::new(&a, &b, 3).unwrap();
        for c in bad {
            assert_eq!(c.validate(), Err(Error::InvalidConfig), "{c:?}");
            assert_eq!(loss(views, &c, Options::default(), &mut [0.0; 64]), Err(Error::InvalidConfig), "{c:?}");
        }
    }

    #[test]
    fn identical_collapsed_views_cost_mu_times_gamma_minus_sqrt_eps() {
        // Every row equal: s = 0, Sⱼ = √ε, C = 0, so ℓ = μ·(γ − √ε) = 24.75.
        let z = [0.5f32, -2.0, 0.5, -2.0, 0.5, -2.0];
        let views = Views::new(&z, &z, 2).unwrap();
        for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide] {
            for lanes in [Lanes::Scalar, Lanes::Wide] {
                let mut scratch = [0.0; 64];
                let (mut ga, mut gb) = ([0.0; 6], [0.0; 6]);
                let t = loss_and_gradients(
                    views,
                    &Config::DEFAULT,
                    Options { side, lanes },
                    &mut scratch,
                    &mut ga,
                    &mut gb,
                )
                .unwrap();
                assert!((t.loss - 24.75).abs() < 1e-5, "{side:?} {lanes:?}: {}", t.loss);
                assert!(ga.iter().chain(&gb).all(|g| g.is_finite()));
            }
        }
    }
}
