//! The loss coefficients and their defaults, as in the official implementation.

use crate::error::Error;

/// Coefficients of the VICReg loss
/// ℓ = λ·s + μ·(v(Z) + v(Z′)) + ν·(c(Z) + c(Z′)).
///
/// The defaults are the official implementation's: λ = μ = 25, ν = 1, γ = 1,
/// ε = 1e-4.
///
/// ```
/// use vicreg::Config;
/// let config = Config { cov_coeff: 0.5, ..Config::default() };
/// assert!(config.validate().is_ok());
/// assert!(Config { eps: 0.0, ..config }.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// λ, the weight of the invariance term.
    pub sim_coeff: f32,
    /// μ, the weight of the variance term.
    pub std_coeff: f32,
    /// ν, the weight of the covariance term.
    pub cov_coeff: f32,
    /// γ, the target standard deviation of every embedding dimension.
    pub gamma: f32,
    /// ε, added to each variance before the square root.
    pub eps: f32,
}

impl Config {
    /// The official implementation's coefficients.
    pub const DEFAULT: Self = Self { sim_coeff: 25.0, std_coeff: 25.0, cov_coeff: 1.0, gamma: 1.0, eps: 1e-4 };

    /// Checks that every coefficient is finite and non-negative and that ε is
    /// positive.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        let non_negative = |x: f32| x.is_finite() && x >= 0.0;
        let ok = non_negative(self.sim_coeff)
            && non_negative(self.std_coeff)
            && non_negative(self.cov_coeff)
            && non_negative(self.gamma)
            && self.eps.is_finite()
            && self.eps > 0.0;
        if ok { Ok(()) } else { Err(Error::InvalidConfig) }
    }
}

/// The objective's weights, applied in one place for the full batch and the
/// streamed batch alike.
impl Config {
    /// ℓ = λ·s + μ·v + ν·c from the three unweighted terms.
    pub(crate) fn objective(&self, invariance: f32, variance: f32, covariance: f32) -> f32 {
        self.sim_coeff * invariance + self.std_coeff * variance + self.cov_coeff * covariance
    }

    /// 2λ/(n·d), for `values` = n·d: λ·∂s/∂z = 2λ/(n·d)·(z − z′).
    #[allow(clippy::cast_precision_loss)] // exact below 2²⁴ values, which streaming enforces
    pub(crate) fn invariance_scale(&self, values: usize) -> f32 {
        2.0 * self.sim_coeff / values as f32
    }

    /// α = 4ν/(d(n − 1)): ν·∂c/∂Z_c = α·Z_c·G for a batch of n rows of d.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn covariance_scale(&self, n: usize, d: usize) -> f32 {
        4.0 * self.cov_coeff / (d as f32 * (n - 1) as f32)
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::DEFAULT
    }
}
