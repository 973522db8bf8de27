//! Optimisers and learning-rate schedules over [`Parameters`]-shaped state.
//!
//! Every update kernel works on one flat tensor at a time, so it is compiled
//! once for all network sizes. Weight decay and (for LARS) the trust ratio
//! apply to Linear weight matrices only: biases and BatchNorm parameters are
//! excluded, as in the official VICReg recipe.

use crate::Error;
use crate::lanes::{self, Lanes};
use crate::network::{Frozen, Parameters, Tensor};

/// A rule that turns gradients into a parameter update.
///
/// Implemented by [`Sgd`], [`AdamW`] and [`Lars`]; its state has the
/// parameters' shape, so its memory is known at compile time.
pub trait Optimizer<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> {
    /// A tag stored in checkpoints, distinct for each optimiser.
    const KIND: u8;

    /// How many parameter-shaped state tensors the optimiser keeps.
    const STATE_COPIES: usize;

    /// Whether the optimiser counts its steps ([`steps`](Self::steps)); a
    /// checkpoint for one that does not must hold a zero count.
    const COUNTS_STEPS: bool = false;

    /// One update of the tensors of every layer not in `frozen`, with
    /// learning rate `lr`: first computed without writing, then applied only
    /// if every new parameter and state value is finite.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteResult`] if the update would overflow or produce a
    /// NaN; parameters and state are then untouched.
    fn update(
        &mut self,
        params: &mut Parameters<IN, H, R, EH, E>,
        grads: &Parameters<IN, H, R, EH, E>,
        lr: f32,
        frozen: Frozen,
    ) -> Result<(), Error> {
        if !self.apply(params, grads, lr, frozen, false) {
            return Err(Error::NonFiniteResult);
        }
        self.apply(params, grads, lr, frozen, true);
        Ok(())
    }

    /// The update rule itself: computes every new parameter and state value,
    /// writes them only if `commit`, and returns whether all were finite.
    /// Call [`update`](Self::update) instead, which never commits a
    /// non-finite value.
    fn apply(
        &mut self,
        params: &mut Parameters<IN, H, R, EH, E>,
        grads: &Parameters<IN, H, R, EH, E>,
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool;

    /// Calls `f` on each state tensor, in a fixed order (for checkpoints).
    fn for_each_state(&self, f: &mut dyn FnMut(&[f32]));

    /// Calls `f` on each state tensor, mutably, in the same order.
    fn for_each_state_mut(&mut self, f: &mut dyn FnMut(&mut [f32]));

    /// Steps taken (AdamW's bias correction needs it); 0 if unused.
    fn steps(&self) -> u32 {
        0
    }

    /// Restores the step count from a checkpoint.
    fn set_steps(&mut self, _steps: u32) {}

    /// Zeroes every state tensor and the step count.
    fn reset(&mut self) {
        self.for_each_state_mut(&mut |t| t.fill(0.0));
        self.set_steps(0);
    }
}

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

/// Runs `update(tensor, parameter, gradient, state₁, state₂)` on every
/// tensor of the layers not frozen (a missing state is an empty slice) and
/// returns whether every call reported finite values.
fn for_each_trainable<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize>(
    params: &mut Parameters<IN, H, R, EH, E>,
    grads: &Parameters<IN, H, R, EH, E>,
    frozen: Frozen,
    first: Option<&mut Parameters<IN, H, R, EH, E>>,
    second: Option<&mut Parameters<IN, H, R, EH, E>>,
    mut update: impl FnMut(Tensor, &mut [f32], &[f32], &mut [f32], &mut [f32]) -> bool,
) -> bool {
    let mut finite = true;
    let mut first = first.map(Parameters::tensors_mut);
    let mut second = second.map(Parameters::tensors_mut);
    for (i, ((tensor, p), g)) in Tensor::ALL.into_iter().zip(params.tensors_mut()).zip(grads.tensors()).enumerate() {
        if frozen.contains(tensor.layer()) {
            continue;
        }
        let m: &mut [f32] = match first.as_mut() {
            Some(t) => &mut *t[i],
            None => &mut [],
        };
        let v: &mut [f32] = match second.as_mut() {
            Some(t) => &mut *t[i],
            None => &mut [],
        };
        finite &= update(tensor, p, g, m, v);
    }
    finite
}

/// Stochastic gradient descent with momentum and weight decay (PyTorch's
/// convention): m ← β·m + (g + λ·w), w ← w − lr·m.
#[derive(Clone, Debug)]
pub struct Sgd<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> {
    /// Momentum β.
    pub momentum: f32,
    /// Weight decay λ (weight matrices only).
    pub weight_decay: f32,
    velocity: Parameters<IN, H, R, EH, E>,
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> Sgd<IN, H, R, EH, E> {
    /// SGD with the given momentum and weight decay; state zeroed.
    #[must_use]
    pub const fn new(momentum: f32, weight_decay: f32) -> Self {
        Self { momentum, weight_decay, velocity: Parameters::zeros() }
    }
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> Optimizer<IN, H, R, EH, E>
    for Sgd<IN, H, R, EH, E>
{
    const KIND: u8 = 1;
    const STATE_COPIES: usize = 1;

    fn apply(
        &mut self,
        params: &mut Parameters<IN, H, R, EH, E>,
        grads: &Parameters<IN, H, R, EH, E>,
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool {
        let (momentum, wd) = (self.momentum, self.weight_decay);
        for_each_trainable(params, grads, frozen, Some(&mut self.velocity), None, |tensor, p, g, m, _| {
            let decay = if tensor.is_weight() { wd } else { 0.0 };
            let mut finite = true;
            for ((w, &gi), mi) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                let m_new = momentum * *mi + gi + decay * *w;
                let w_new = *w - lr * m_new;
                finite &= m_new.is_finite() && w_new.is_finite();
                if commit {
                    (*mi, *w) = (m_new, w_new);
                }
            }
            finite
        })
    }

    fn for_each_state(&self, f: &mut dyn FnMut(&[f32])) {
        self.velocity.tensors().into_iter().for_each(f);
    }

    fn for_each_state_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.velocity.tensors_mut().into_iter().for_each(f);
    }
}

/// Adam with decoupled weight decay (Loshchilov & Hutter):
/// w ← w − lr·(m̂/(√v̂ + ε) + λ·w), with bias-corrected moments m̂, v̂.
#[derive(Clone, Debug)]
pub struct AdamW<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> {
    /// β₁, the first moment's decay.
    pub beta1: f32,
    /// β₂, the second moment's decay.
    pub beta2: f32,
    /// ε in the denominator.
    pub eps: f32,
    /// Decoupled weight decay λ (weight matrices only).
    pub weight_decay: f32,
    steps: u32,
    m: Parameters<IN, H, R, EH, E>,
    v: Parameters<IN, H, R, EH, E>,
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> AdamW<IN, H, R, EH, E> {
    /// AdamW with PyTorch's defaults β = (0.9, 0.999), ε = 1e-8 and the given
    /// weight decay (0 gives plain Adam).
    #[must_use]
    pub const fn new(weight_decay: f32) -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay,
            steps: 0,
            m: Parameters::zeros(),
            v: Parameters::zeros(),
        }
    }
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> Optimizer<IN, H, R, EH, E>
    for AdamW<IN, H, R, EH, E>
{
    const KIND: u8 = 2;
    const STATE_COPIES: usize = 2;
    const COUNTS_STEPS: bool = true;

    fn apply(
        &mut self,
        params: &mut Parameters<IN, H, R, EH, E>,
        grads: &Parameters<IN, H, R, EH, E>,
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool {
        let steps = self.steps.saturating_add(1);
        if commit {
            self.steps = steps;
        }
        let (b1, b2, eps, wd) = (self.beta1, self.beta2, self.eps, self.weight_decay);
        let t = i32::try_from(steps).unwrap_or(i32::MAX);
        let (c1, c2) = (1.0 - libm::powf(b1, t as f32), 1.0 - libm::powf(b2, t as f32));
        let step = lr / c1;
        let inv_sqrt_c2 = 1.0 / libm::sqrtf(c2);
        for_each_trainable(params, grads, frozen, Some(&mut self.m), Some(&mut self.v), |tensor, p, g, m, v| {
            let decay = if tensor.is_weight() { lr * wd } else { 0.0 };
            let mut finite = true;
            for (((w, &gi), mi), vi) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                let m_new = b1 * *mi + (1.0 - b1) * gi;
                let v_new = b2 * *vi + (1.0 - b2) * gi * gi;
                let w_new = (*w - decay * *w) - step * m_new / (libm::sqrtf(v_new) * inv_sqrt_c2 + eps);
                finite &= m_new.is_finite() && v_new.is_finite() && w_new.is_finite();
                if commit {
                    (*mi, *vi, *w) = (m_new, v_new, w_new);
                }
            }
            finite
        })
    }

    fn for_each_state(&self, f: &mut dyn FnMut(&[f32])) {
        self.m.tensors().into_iter().chain(self.v.tensors()).for_each(f);
    }

    fn for_each_state_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.m.tensors_mut().into_iter().chain(self.v.tensors_mut()).for_each(f);
    }

    fn steps(&self) -> u32 {
        self.steps
    }

    fn set_steps(&mut self, steps: u32) {
        self.steps = steps;
    }
}

/// LARS as the official VICReg code uses it: for weight matrices,
/// g ← g + λ·w, then g ← η·‖w‖/‖g‖ · g (when both norms are positive); biases
/// and BatchNorm parameters get neither. Then m ← β·m + g, w ← w − lr·m.
#[derive(Clone, Debug)]
pub struct Lars<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> {
    /// Momentum β.
    pub momentum: f32,
    /// Weight decay λ.
    pub weight_decay: f32,
    /// Trust coefficient η (official: 0.001).
    pub eta: f32,
    velocity: Parameters<IN, H, R, EH, E>,
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> Lars<IN, H, R, EH, E> {
    /// LARS with momentum 0.9, η = 0.001 and the given weight decay (official:
    /// 1e-6).
    #[must_use]
    pub const fn new(weight_decay: f32) -> Self {
        Self { momentum: 0.9, weight_decay, eta: 0.001, velocity: Parameters::zeros() }
    }
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> Optimizer<IN, H, R, EH, E>
    for Lars<IN, H, R, EH, E>
{
    const KIND: u8 = 3;
    const STATE_COPIES: usize = 1;

    fn apply(
        &mut self,
        params: &mut Parameters<IN, H, R, EH, E>,
        grads: &Parameters<IN, H, R, EH, E>,
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool {
        let (momentum, wd, eta) = (self.momentum, self.weight_decay, self.eta);
        for_each_trainable(params, grads, frozen, Some(&mut self.velocity), None, |tensor, p, g, m, _| {
            // Biases and BatchNorm parameters: plain momentum, no decay, no trust ratio.
            let (decay, trust) = if tensor.is_weight() {
                // ‖g + λw‖² = ‖g‖² + 2λ⟨g, w⟩ + λ²‖w‖², without a buffer for g + λw.
                let (ww, gw, gg) =
                    (lanes::dot(Lanes::Wide, p, p), lanes::dot(Lanes::Wide, g, p), lanes::dot(Lanes::Wide, g, g));
                let w_norm = libm::sqrtf(ww);
                let u_norm = libm::sqrtf((gg + 2.0 * wd * gw + wd * wd * ww).max(0.0));
                (wd, if w_norm > 0.0 && u_norm > 0.0 { eta * w_norm / u_norm } else { 1.0 })
            } else {
                (0.0, 1.0)
            };
            let mut finite = trust.is_finite();
            for ((w, &gi), mi) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                let m_new = momentum * *mi + trust * (gi + decay * *w);
                let w_new = *w - lr * m_new;
                finite &= m_new.is_finite() && w_new.is_finite();
                if commit {
                    (*mi, *w) = (m_new, w_new);
                }
            }
            finite
        })
    }

    fn for_each_state(&self, f: &mut dyn FnMut(&[f32])) {
        self.velocity.tensors().into_iter().for_each(f);
    }

    fn for_each_state_mut(&mut self, f: &mut dyn FnMut(&mut [f32])) {
        self.velocity.tensors_mut().into_iter().for_each(f);
    }
}
