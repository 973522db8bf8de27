//! Optimisers: rules that turn gradients into a parameter update.
//!
//! An optimiser value holds only its hyper-parameters; its state (momentum,
//! moments) is an array of parameter-shaped copies whose type the optimiser
//! names for any parameter buffer ([`Optimizer::State`]), so a trainer sizes
//! it without the optimiser restating the network. Every update kernel works
//! on one flat tensor at a time, compiled once for all networks. Weight
//! decay and (for LARS) the trust ratio apply to Linear and Conv1d weights
//! only: biases and BatchNorm parameters are excluded, as in the official
//! VICReg recipe.

use crate::error::Error;
use crate::lanes::{self, Lanes};
use crate::nn::{Buffer, Frozen, Tensor, Tensors};

/// An optimiser's state: `K` parameter-shaped copies (`[P; K]`).
pub trait State<P: Buffer>: Clone + core::fmt::Debug {
    /// Every copy zero.
    const ZERO: Self;
    /// Copies held.
    const COPIES: usize;
    /// The copies.
    fn copies(&self) -> &[P];
    /// The copies, mutably.
    fn copies_mut(&mut self) -> &mut [P];
}

impl<P: Buffer, const K: usize> State<P> for [P; K] {
    const ZERO: Self = [P::ZERO; K];
    const COPIES: usize = K;

    fn copies(&self) -> &[P] {
        self
    }

    fn copies_mut(&mut self) -> &mut [P] {
        self
    }
}

/// A rule that turns gradients into a parameter update.
///
/// Implemented by [`Sgd`], [`AdamW`] and [`Lars`].
pub trait Optimizer {
    /// A tag stored in checkpoints, distinct for each optimiser (1 to 3 are
    /// this crate's).
    const KIND: u8;

    /// Whether the optimiser counts its steps ([`steps`](Self::steps)); a
    /// checkpoint for one that does not must hold a zero count.
    const COUNTS_STEPS: bool = false;

    /// The state for parameters held in `P`: `[P; 1]` for a velocity,
    /// `[P; 2]` for two moments.
    type State<P: Buffer>: State<P>;

    /// Checks the hyper-parameters (momenta in [0, 1), decays finite and
    /// non-negative, …).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] otherwise.
    fn validate(&self) -> Result<(), Error>;

    /// The update rule itself over every tensor of `tensors` (a network's,
    /// from [`Net::tensors`](crate::nn::Net::tensors)) not in `frozen`:
    /// computes each new parameter and state value (`first` and `second` are
    /// the state copies, empty when unused), writes them only if `commit`,
    /// and returns whether all were finite. Call [`update`](Self::update)
    /// instead, which never commits a non-finite value.
    #[allow(clippy::too_many_arguments)]
    fn apply(
        &mut self,
        tensors: &Tensors<'_>,
        params: &mut [f32],
        grads: &[f32],
        first: &mut [f32],
        second: &mut [f32],
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool;

    /// One update with learning rate `lr`: computed in full without writing,
    /// then applied only if every new parameter and state value is finite.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if a buffer's length is not the network's
    /// parameter count (state copies may also be empty),
    /// [`Error::InvalidConfig`] for bad hyper-parameters or learning rate,
    /// [`Error::NonFiniteResult`] if the update would overflow or produce a
    /// NaN; parameters and state are then untouched.
    #[allow(clippy::too_many_arguments)]
    fn update(
        &mut self,
        tensors: &Tensors<'_>,
        params: &mut [f32],
        grads: &[f32],
        first: &mut [f32],
        second: &mut [f32],
        lr: f32,
        frozen: Frozen,
    ) -> Result<(), Error> {
        let len: usize = tensors.clone().map(|t| t.len()).sum();
        let state_ok = |s: &[f32]| s.is_empty() || s.len() == len;
        if params.len() != len || grads.len() != len || !state_ok(first) || !state_ok(second) {
            return Err(Error::ShapeMismatch);
        }
        self.validate()?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(Error::InvalidConfig);
        }
        if !self.apply(tensors, params, grads, first, second, lr, frozen, false) {
            return Err(Error::NonFiniteResult);
        }
        self.apply(tensors, params, grads, first, second, lr, frozen, true);
        Ok(())
    }

    /// Whether `values` could be state copy `copy` of this optimiser (a
    /// second moment is never negative); checked when a checkpoint loads.
    fn state_valid(_copy: usize, _values: impl Iterator<Item = f32>) -> bool {
        true
    }

    /// Steps taken (AdamW's bias correction needs it); 0 if unused.
    fn steps(&self) -> u32 {
        0
    }

    /// Restores the step count from a checkpoint.
    fn set_steps(&mut self, _steps: u32) {}
}

/// Runs `update(tensor, parameter, gradient, state₁, state₂)` on every
/// tensor of the layers not frozen (a missing state is an empty slice) and
/// returns whether every call reported finite values.
fn for_each_trainable(
    tensors: &Tensors<'_>,
    params: &mut [f32],
    grads: &[f32],
    first: &mut [f32],
    second: &mut [f32],
    frozen: Frozen,
    mut update: impl FnMut(&Tensor, &mut [f32], &[f32], &mut [f32], &mut [f32]) -> bool,
) -> bool {
    let mut finite = true;
    for t in tensors.clone() {
        if frozen.contains(t.layer) {
            continue;
        }
        let r = t.range();
        let (Some(p), Some(g)) = (params.get_mut(r.clone()), grads.get(r.clone())) else {
            return false;
        };
        let m = first.get_mut(r.clone()).unwrap_or(&mut []);
        let v = second.get_mut(r).unwrap_or(&mut []);
        finite &= update(&t, p, g, m, v);
    }
    finite
}

fn momentum_ok(m: f32) -> bool {
    (0.0..1.0).contains(&m)
}

fn decay_ok(wd: f32) -> bool {
    wd.is_finite() && wd >= 0.0
}

/// Stochastic gradient descent with momentum and weight decay (PyTorch's
/// convention): m ← β·m + (g + λ·w), w ← w − lr·m.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Sgd {
    /// Momentum β, in [0, 1).
    pub momentum: f32,
    /// Weight decay λ (weight matrices only).
    pub weight_decay: f32,
}

impl Sgd {
    /// SGD with the given momentum and weight decay.
    #[must_use]
    pub const fn new(momentum: f32, weight_decay: f32) -> Self {
        Self { momentum, weight_decay }
    }
}

impl Optimizer for Sgd {
    const KIND: u8 = 1;
    type State<P: Buffer> = [P; 1];

    fn validate(&self) -> Result<(), Error> {
        if momentum_ok(self.momentum) && decay_ok(self.weight_decay) { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    fn apply(
        &mut self,
        tensors: &Tensors<'_>,
        params: &mut [f32],
        grads: &[f32],
        first: &mut [f32],
        second: &mut [f32],
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool {
        let (momentum, wd) = (self.momentum, self.weight_decay);
        for_each_trainable(tensors, params, grads, first, second, frozen, |t, p, g, m, _| {
            let decay = if t.decays { wd } else { 0.0 };
            let mut finite = m.len() == p.len();
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
}

/// Adam with decoupled weight decay (Loshchilov & Hutter):
/// w ← w − lr·(m̂/(√v̂ + ε) + λ·w), with bias-corrected moments m̂, v̂.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AdamW {
    /// β₁, the first moment's decay, in [0, 1).
    pub beta1: f32,
    /// β₂, the second moment's decay, in [0, 1).
    pub beta2: f32,
    /// ε in the denominator, positive.
    pub eps: f32,
    /// Decoupled weight decay λ (weight matrices only).
    pub weight_decay: f32,
    steps: u32,
}

impl AdamW {
    /// AdamW with PyTorch's defaults β = (0.9, 0.999), ε = 1e-8 and the given
    /// weight decay (0 gives plain Adam).
    #[must_use]
    pub const fn new(weight_decay: f32) -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay, steps: 0 }
    }
}

impl Optimizer for AdamW {
    const KIND: u8 = 2;
    const COUNTS_STEPS: bool = true;
    type State<P: Buffer> = [P; 2];

    fn validate(&self) -> Result<(), Error> {
        let ok = momentum_ok(self.beta1)
            && momentum_ok(self.beta2)
            && self.eps.is_finite()
            && self.eps > 0.0
            && decay_ok(self.weight_decay);
        if ok { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    fn apply(
        &mut self,
        tensors: &Tensors<'_>,
        params: &mut [f32],
        grads: &[f32],
        first: &mut [f32],
        second: &mut [f32],
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
        for_each_trainable(tensors, params, grads, first, second, frozen, |tensor, p, g, m, v| {
            let decay = if tensor.decays { lr * wd } else { 0.0 };
            let mut finite = m.len() == p.len() && v.len() == p.len();
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

    fn state_valid(copy: usize, mut values: impl Iterator<Item = f32>) -> bool {
        copy != 1 || values.all(|v| v >= 0.0)
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
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Lars {
    /// Momentum β, in [0, 1).
    pub momentum: f32,
    /// Weight decay λ.
    pub weight_decay: f32,
    /// Trust coefficient η (official: 0.001).
    pub eta: f32,
}

impl Lars {
    /// LARS with momentum 0.9, η = 0.001 and the given weight decay (official:
    /// 1e-6).
    #[must_use]
    pub const fn new(weight_decay: f32) -> Self {
        Self { momentum: 0.9, weight_decay, eta: 0.001 }
    }
}

impl Optimizer for Lars {
    const KIND: u8 = 3;
    type State<P: Buffer> = [P; 1];

    fn validate(&self) -> Result<(), Error> {
        let ok = momentum_ok(self.momentum) && decay_ok(self.weight_decay) && decay_ok(self.eta);
        if ok { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    fn apply(
        &mut self,
        tensors: &Tensors<'_>,
        params: &mut [f32],
        grads: &[f32],
        first: &mut [f32],
        second: &mut [f32],
        lr: f32,
        frozen: Frozen,
        commit: bool,
    ) -> bool {
        let (momentum, wd, eta) = (self.momentum, self.weight_decay, self.eta);
        for_each_trainable(tensors, params, grads, first, second, frozen, |t, p, g, m, _| {
            // Biases and BatchNorm parameters: plain momentum, no decay, no trust ratio.
            let (decay, trust) = if t.decays {
                // ‖g + λw‖² = ‖g‖² + 2λ⟨g, w⟩ + λ²‖w‖², without a buffer for g + λw.
                let (ww, gw, gg) =
                    (lanes::dot(Lanes::Wide, p, p), lanes::dot(Lanes::Wide, g, p), lanes::dot(Lanes::Wide, g, g));
                let w_norm = libm::sqrtf(ww);
                let u_norm = libm::sqrtf((gg + 2.0 * wd * gw + wd * wd * ww).max(0.0));
                (wd, if w_norm > 0.0 && u_norm > 0.0 { eta * w_norm / u_norm } else { 1.0 })
            } else {
                (0.0, 1.0)
            };
            let mut finite = trust.is_finite() && m.len() == p.len();
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
}
