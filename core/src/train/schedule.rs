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

#[cfg(test)]
mod tests {
    use super::Schedule;
    use crate::Error;

    #[test]
    fn the_rate_warms_up_linearly_then_follows_a_half_cosine() {
        let s = Schedule { base_lr: 0.4, final_lr: 0.1, warmup_steps: 4, total_steps: 14 };
        let close = |got: f32, want: f64| (f64::from(got) - want).abs() < 1e-6;
        for step in 0..4 {
            assert!(close(s.lr(step), 0.4 * f64::from(step + 1) / 4.0), "warm-up step {step}: {}", s.lr(step));
        }
        for step in 4..=14 {
            let progress = f64::from(step - 4) / 10.0;
            let want = 0.1 + 0.3 * 0.5 * (1.0 + (core::f64::consts::PI * progress).cos());
            assert!(close(s.lr(step), want), "cosine step {step}: {} vs {want}", s.lr(step));
        }
        assert!(close(s.lr(15), 0.1) && close(s.lr(u32::MAX), 0.1));
        // No span after the warm-up: the base rate from then on.
        let flat = Schedule { total_steps: 3, ..s };
        assert!(close(flat.lr(2), 0.3) && close(flat.lr(4), 0.4) && close(flat.lr(100), 0.4));
        let constant = Schedule::constant(0.25);
        assert!([0, 1, 1000].iter().all(|&t| close(constant.lr(t), 0.25)));
    }

    #[test]
    fn negative_or_non_finite_rates_are_refused() {
        let s = Schedule::constant(0.1);
        assert_eq!(s.validate(), Ok(()));
        assert_eq!(Schedule::constant(0.0).validate(), Ok(()));
        for bad in [
            Schedule { base_lr: -0.1, ..s },
            Schedule { final_lr: -0.1, ..s },
            Schedule { base_lr: f32::NAN, ..s },
            Schedule { final_lr: f32::INFINITY, ..s },
        ] {
            assert_eq!(bad.validate(), Err(Error::InvalidConfig), "{bad:?}");
        }
    }
}
