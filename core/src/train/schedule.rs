//! Learning rate by step: linear warm-up, then a half cosine.

use crate::error::Error;

/// Learning rate over training: linear warm-up from `base_lr / warmup_steps`
/// to `base_lr`, then a half cosine down to `final_lr` at `total_steps`, and
/// `final_lr` after that.
///
/// ```
/// use vicreg::Schedule;
/// let s = Schedule { base_lr: 0.1, final_lr: 0.0, warmup_steps: 10, total_steps: 110 };
/// assert!((s.lr(9) - 0.1).abs() < 1e-7);   // end of warm-up
/// assert!((s.lr(60) - 0.05).abs() < 1e-6); // half-way down the cosine
/// assert_eq!(s.lr(500), 0.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Schedule {
    /// Peak learning rate.
    pub base_lr: f32,
    /// Learning rate at the end of the cosine.
    pub final_lr: f32,
    /// Steps of linear warm-up.
    pub warmup_steps: u32,
    /// Steps until the cosine reaches `final_lr`.
    pub total_steps: u32,
}

impl Schedule {
    /// The same learning rate at every step.
    #[must_use]
    pub const fn constant(lr: f32) -> Self {
        Self { base_lr: lr, final_lr: lr, warmup_steps: 0, total_steps: 0 }
    }

    /// The learning rate of step `step` (counting from 0).
    #[must_use]
    pub fn lr(&self, step: u32) -> f32 {
        if step < self.warmup_steps {
            return self.base_lr * (step + 1) as f32 / self.warmup_steps as f32;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps);
        if span == 0 {
            return self.base_lr;
        }
        let progress = ((step - self.warmup_steps) as f32 / span as f32).min(1.0);
        let cosine = 0.5 * (1.0 + libm::cosf(core::f32::consts::PI * progress));
        self.final_lr + (self.base_lr - self.final_lr) * cosine
    }
}

impl Schedule {
    /// Checks that both learning rates are finite and non-negative.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        let rate = |lr: f32| lr.is_finite() && lr >= 0.0;
        if rate(self.base_lr) && rate(self.final_lr) { Ok(()) } else { Err(Error::InvalidConfig) }
    }
}
