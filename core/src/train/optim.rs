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
use crate::lanes::{self, AdamStep, Lanes, adamw_with};
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
/// Implemented by [`Sgd`], [`PlainSgd`], [`AdamW`] and [`Lars`].
pub trait Optimizer {
    /// A tag stored in checkpoints, distinct for each optimiser (1 to 4 are
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
            let mut probe = 0.0;
            for ((w, &gi), mi) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                let m_new = momentum * *mi + gi + decay * *w;
                let w_new = *w - lr * m_new;
                probe = lanes::probe(lanes::probe(probe, m_new), w_new);
                if commit {
                    (*mi, *w) = (m_new, w_new);
                }
            }
            m.len() == p.len() && probe == 0.0
        })
    }
}

/// Stochastic gradient descent without momentum: w ← w − lr·(g + λ·w). It
/// keeps no state, so a trainer of it holds the parameters and gradients
/// only: for a part whose RAM has no room for a velocity.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct PlainSgd {
    /// Weight decay λ (weight matrices only).
    pub weight_decay: f32,
}

impl PlainSgd {
    /// SGD with the given weight decay and no momentum.
    #[must_use]
    pub const fn new(weight_decay: f32) -> Self {
        Self { weight_decay }
    }
}

impl Optimizer for PlainSgd {
    const KIND: u8 = 4;
    type State<P: Buffer> = [P; 0];

    fn validate(&self) -> Result<(), Error> {
        if decay_ok(self.weight_decay) { Ok(()) } else { Err(Error::InvalidConfig) }
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
        let wd = self.weight_decay;
        for_each_trainable(tensors, params, grads, first, second, frozen, |t, p, g, _, _| {
            let decay = if t.decays { wd } else { 0.0 };
            let mut probe = 0.0;
            for (w, &gi) in p.iter_mut().zip(g) {
                let w_new = *w - lr * (gi + decay * *w);
                probe = lanes::probe(probe, w_new);
                if commit {
                    *w = w_new;
                }
            }
            probe == 0.0
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
            if m.len() != p.len() || v.len() != p.len() {
                return false;
            }
            let decay = if tensor.decays { lr * wd } else { 0.0 };
            let c = AdamStep { b1, b2, eps, decay, step, inv_sqrt_c2 };
            lanes::simd!(adamw => adamw_with, (&c, p, g, m, v, commit))
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
            let mut probe = lanes::probe(0.0, trust);
            for ((w, &gi), mi) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                let m_new = momentum * *mi + trust * (gi + decay * *w);
                let w_new = *w - lr * m_new;
                probe = lanes::probe(lanes::probe(probe, m_new), w_new);
                if commit {
                    (*mi, *w) = (m_new, w_new);
                }
            }
            m.len() == p.len() && probe == 0.0
        })
    }
}

#[cfg(test)]
mod tests {
    //! Each optimiser over three steps against its update rule written out
    //! in f64 element by element: decay and the trust ratio on weight
    //! matrices only, bias correction, frozen layers untouched.

    use super::*;
    use crate::nn::{Layer, Net, Place, Role, Shape};

    // Tensors: Linear weight (decays), Linear bias, BatchNorm γ and β, and a
    // Linear weight without bias in the expander (decays).
    const NET: Net =
        Net::new(Shape::Flat(3), &[Layer::linear(4), Layer::BatchNorm], &[Layer::linear(2).without_bias()]);
    const PARAMS: usize = 12 + 4 + 4 + 4 + 8;

    fn places() -> [Place; 3] {
        NET.places(4)
    }

    fn value(i: usize, k: f32) -> f32 {
        libm::sinf(i as f32 * k + 0.5)
    }

    /// Runs `steps` updates of `opt` with gradients that change each step,
    /// and checks parameters and state after each against `rule`, which
    /// maps (step t from 1, w, g, m, v, decays) to the new (w, m, v).
    fn follows<O: Optimizer>(mut opt: O, frozen: Frozen, rule: impl Fn(i32, [f64; 4], bool) -> [f64; 3]) {
        let places = places();
        let tensors = Tensors::of(&places);
        let lr = 0.05;
        let mut params: [f32; PARAMS] = core::array::from_fn(|i| value(i, 0.9));
        let (mut m, mut v) = ([0.0f32; PARAMS], [0.0f32; PARAMS]);
        let copies = <O::State<[f32; PARAMS]> as State<[f32; PARAMS]>>::COPIES;
        for t in 1..=3 {
            let grads: [f32; PARAMS] = core::array::from_fn(|i| value(i, 1.7 + t as f32) * 2.0);
            let before = (params, m, v);
            let (first, second) = match copies {
                0 => (&mut [][..], &mut [][..]),
                1 => (&mut m[..], &mut [][..]),
                _ => (&mut m[..], &mut v[..]),
            };
            opt.update(&tensors, &mut params, &grads, first, second, lr, frozen).unwrap();
            for tensor in tensors.clone() {
                // Decay applies to Linear and Conv1d weights only, decided
                // here from the layer, not from the tensor's own flag.
                let weight_matrix =
                    matches!(tensor.kind, Layer::Linear(_) | Layer::Conv1d(_)) && tensor.role == Role::Weight;
                assert_eq!(tensor.decays, weight_matrix, "{tensor:?}");
                for i in tensor.range() {
                    let want = if frozen.contains(tensor.layer) {
                        [f64::from(before.0[i]), f64::from(before.1[i]), f64::from(before.2[i])]
                    } else {
                        let at = [before.0[i], grads[i], before.1[i], before.2[i]].map(f64::from);
                        rule(t, at, weight_matrix)
                    };
                    let got = [params[i], m[i], v[i]].map(f64::from);
                    for (what, (g, w)) in ["parameter", "first state", "second state"].iter().zip(got.iter().zip(want))
                    {
                        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "step {t}, element {i}: {what} {g} vs {w}");
                    }
                }
            }
        }
    }

    #[test]
    fn sgd_follows_its_rule() {
        let (beta, wd, lr) = (0.8, 0.1, 0.05);
        follows(Sgd::new(0.8, 0.1), Frozen::NONE, |_, [w, g, m, _], decays| {
            let m_new = beta * m + g + if decays { wd * w } else { 0.0 };
            [w - lr * m_new, m_new, 0.0]
        });
    }

    #[test]
    fn plain_sgd_follows_its_rule_and_keeps_no_state() {
        let (wd, lr) = (0.1, 0.05);
        follows(PlainSgd::new(0.1), Frozen::NONE, |_, [w, g, _, _], decays| {
            [w - lr * (g + if decays { wd * w } else { 0.0 }), 0.0, 0.0]
        });
        assert_eq!(<<PlainSgd as Optimizer>::State<[f32; PARAMS]> as State<[f32; PARAMS]>>::COPIES, 0);
        assert!(PlainSgd::new(-1.0).validate().is_err() && PlainSgd::new(f32::NAN).validate().is_err());
        assert!(PlainSgd::new(0.0).validate().is_ok());
    }

    #[test]
    fn adamw_follows_its_rule_with_bias_correction() {
        let (b1, b2, eps, wd, lr) = (0.9f64, 0.999f64, 1e-8f64, 0.2, 0.05);
        let mut opt = AdamW::new(0.2);
        assert_eq!(opt.steps(), 0);
        follows(opt, Frozen::NONE, |t, [w, g, m, v], decays| {
            let (m_new, v_new) = (b1 * m + (1.0 - b1) * g, b2 * v + (1.0 - b2) * g * g);
            let (m_hat, v_hat) = (m_new / (1.0 - b1.powi(t)), v_new / (1.0 - b2.powi(t)));
            let decayed = if decays { w - lr * wd * w } else { w };
            [decayed - lr * m_hat / (v_hat.sqrt() + eps), m_new, v_new]
        });
        // The count drives the correction, and a checkpoint restores it.
        let places = places();
        let mut params = [0.5f32; PARAMS];
        let (mut m, mut v) = ([0.0f32; PARAMS], [0.0f32; PARAMS]);
        opt.update(&Tensors::of(&places), &mut params, &[1.0; PARAMS], &mut m, &mut v, 0.1, Frozen::NONE).unwrap();
        assert_eq!(opt.steps(), 1);
        opt.set_steps(41);
        assert_eq!(opt.steps(), 41);
        assert!(AdamW::state_valid(1, [0.0, 2.0].into_iter()) && !AdamW::state_valid(1, [0.0, -1.0].into_iter()));
        assert!(AdamW::state_valid(0, [-1.0].into_iter()));
    }

    #[test]
    fn lars_scales_weight_matrices_by_the_trust_ratio() {
        // The ratio η‖w‖/‖g + λw‖ is per tensor: the rule needs the whole
        // tensor, so it is computed here from the same values.
        let (beta, wd, eta, lr) = (0.9f64, 0.05f64, 0.01f64, f64::from(0.05f32));
        let places = places();
        let tensors = Tensors::of(&places);
        let mut opt = Lars { momentum: 0.9, weight_decay: 0.05, eta: 0.01 };
        let mut params: [f32; PARAMS] = core::array::from_fn(|i| value(i, 0.9));
        let mut m = [0.0f32; PARAMS];
        for t in 1..=3 {
            let grads: [f32; PARAMS] = core::array::from_fn(|i| value(i, 1.7 + t as f32) * 2.0);
            let before = (params, m);
            opt.update(&tensors, &mut params, &grads, &mut m, &mut [], 0.05, Frozen::NONE).unwrap();
            for tensor in tensors.clone() {
                let r = tensor.range();
                let w = |i: usize| f64::from(before.0[i]);
                let u = |i: usize| f64::from(grads[i]) + if tensor.decays { wd * w(i) } else { 0.0 };
                let norm = |f: &dyn Fn(usize) -> f64| r.clone().map(|i| f(i) * f(i)).sum::<f64>().sqrt();
                let trust = if tensor.decays { eta * norm(&w) / norm(&u) } else { 1.0 };
                for i in r.clone() {
                    let m_new = beta * f64::from(before.1[i]) + trust * u(i);
                    let (gm, gw) = (f64::from(m[i]), f64::from(params[i]));
                    assert!((gm - m_new).abs() <= 1e-5 * (1.0 + m_new.abs()), "step {t}, element {i}: momentum");
                    assert!((gw - (w(i) - lr * m_new)).abs() <= 1e-5, "step {t}, element {i}: parameter");
                }
            }
        }
    }

    #[test]
    fn frozen_layers_keep_their_parameters_and_state() {
        let (beta, lr) = (0.5, 0.05);
        follows(Sgd::new(0.5, 0.0), Frozen::NONE.with(1), |_, [w, g, m, _], _| {
            let m_new = beta * m + g;
            [w - lr * m_new, m_new, 0.0]
        });
    }

    #[test]
    fn bad_settings_and_buffers_are_refused_and_change_nothing() {
        let places = places();
        let tensors = Tensors::of(&places);
        let mut params = [0.5f32; PARAMS];
        let mut m = [0.0f32; PARAMS];
        let g = [1.0f32; PARAMS];
        let mut sgd = Sgd::new(0.9, 0.0);
        for lr in [-0.1, f32::NAN, f32::INFINITY] {
            assert_eq!(
                sgd.update(&tensors, &mut params, &g, &mut m, &mut [], lr, Frozen::NONE),
                Err(Error::InvalidConfig)
            );
        }
        assert_eq!(
            sgd.update(&tensors, &mut params[..5], &g, &mut m, &mut [], 0.1, Frozen::NONE),
            Err(Error::ShapeMismatch)
        );
        assert_eq!(
            sgd.update(&tensors, &mut params, &g[..5], &mut m, &mut [], 0.1, Frozen::NONE),
            Err(Error::ShapeMismatch)
        );
        assert_eq!(
            sgd.update(&tensors, &mut params, &g, &mut m[..5], &mut [], 0.1, Frozen::NONE),
            Err(Error::ShapeMismatch)
        );
        let huge = [f32::MAX; PARAMS];
        assert_eq!(
            sgd.update(&tensors, &mut params, &huge, &mut m, &mut [], 10.0, Frozen::NONE),
            Err(Error::NonFiniteResult)
        );
        assert_eq!((params, m), ([0.5; PARAMS], [0.0; PARAMS]));
        // A state copy that is empty when the rule needs it is not finite.
        assert_eq!(
            sgd.update(&tensors, &mut params, &g, &mut [], &mut [], 0.1, Frozen::NONE),
            Err(Error::NonFiniteResult)
        );

        let bad_sgd = [Sgd::new(1.0, 0.0), Sgd::new(-0.1, 0.0), Sgd::new(0.5, -1.0), Sgd::new(0.5, f32::NAN)];
        assert!(bad_sgd.iter().all(|o| o.validate() == Err(Error::InvalidConfig)));
        assert_eq!(Sgd::new(0.0, 0.0).validate(), Ok(()));
        let adam = AdamW::new(0.0);
        let bad_adam = [
            AdamW { beta1: 1.0, ..adam },
            AdamW { beta2: 1.0, ..adam },
            AdamW { eps: 0.0, ..adam },
            AdamW { eps: f32::INFINITY, ..adam },
            AdamW { weight_decay: -1.0, ..adam },
        ];
        assert!(bad_adam.iter().all(|o| o.validate() == Err(Error::InvalidConfig)));
        assert_eq!(adam.validate(), Ok(()));
        let lars = Lars::new(0.0);
        let bad_lars =
            [Lars { momentum: 1.0, ..lars }, Lars { weight_decay: -1.0, ..lars }, Lars { eta: f32::NAN, ..lars }];
        assert!(bad_lars.iter().all(|o| o.validate() == Err(Error::InvalidConfig)));
        assert_eq!(lars.validate(), Ok(()));
        assert_eq!((Sgd::KIND, AdamW::KIND, Lars::KIND, PlainSgd::KIND), (1, 2, 3, 4));
    }

    #[test]
    fn a_value_overflowing_mid_update_is_refused_and_changes_nothing() {
        let places = places();
        let tensors = Tensors::of(&places);
        // AdamW: g = 1e21 makes (1 − β₂)·g·g, so v, overflow while m and w stay
        // finite (w moves by step·m/√v = 0): only the check of v refuses it.
        let mut params = [0.5f32; PARAMS];
        let (mut m, mut v) = ([0.0f32; PARAMS], [0.0f32; PARAMS]);
        let g = [1e21f32; PARAMS];
        let mut adam = AdamW::new(0.0);
        assert_eq!(
            adam.update(&tensors, &mut params, &g, &mut m, &mut v, 0.01, Frozen::NONE),
            Err(Error::NonFiniteResult)
        );
        assert_eq!((params, m, v), ([0.5; PARAMS], [0.0; PARAMS], [0.0; PARAMS]));
        // LARS: a bias at f32::MAX stepping up overflows w while m = g stays
        // finite: only the check of w refuses it.
        let mut params = [0.5f32; PARAMS];
        params[12..16].fill(f32::MAX);
        let g: [f32; PARAMS] = core::array::from_fn(|i| if (12..16).contains(&i) { -1e38 } else { 0.1 });
        let before = params;
        let mut lars = Lars::new(0.0);
        assert_eq!(
            lars.update(&tensors, &mut params, &g, &mut m, &mut [], 0.05, Frozen::NONE),
            Err(Error::NonFiniteResult)
        );
        assert_eq!((params, m), (before, [0.0; PARAMS]));
    }

    /// An AdamW kernel: (parameters, gradients, first moments, second
    /// moments, commit) → all finite.
    type Kernel<'a> = &'a dyn Fn(&mut [f32], &[f32], &mut [f32], &mut [f32], bool) -> bool;

    /// AdamW's kernel on every instruction set this machine has, against
    /// the update written element by element in f32 in the same order: the
    /// same bits (no fused multiply-adds; division and square root are
    /// correctly rounded), in the vectors and the tail; a value overflowing
    /// at any one place, vector lane or tail, is reported and, without
    /// commit, writes nothing.
    #[test]
    fn adamw_kernel_is_the_scalar_rule_bit_for_bit_on_every_instruction_set() {
        const LEN: usize = 8 * 5 + 3;
        // ε large enough to move the result's bits: its sign is tested too.
        let c = AdamStep { b1: 0.9, b2: 0.999, eps: 0.05, decay: 0.05 * 0.01, step: 0.05 / 0.271, inv_sqrt_c2: 7.3 };
        let p0: [f32; LEN] = core::array::from_fn(|i| value(i, 0.9));
        let g: [f32; LEN] = core::array::from_fn(|i| value(i, 0.37) * 3.0);
        let m0: [f32; LEN] = core::array::from_fn(|i| value(i, 0.11) * 0.1);
        let v0: [f32; LEN] = core::array::from_fn(|i| value(i, 0.23).abs() * 0.01);
        let mut expected = (p0, m0, v0);
        for i in 0..LEN {
            let m = c.b1 * m0[i] + (1.0 - c.b1) * g[i];
            let v = c.b2 * v0[i] + (1.0 - c.b2) * g[i] * g[i];
            expected.0[i] = (p0[i] - c.decay * p0[i]) - c.step * m / (libm::sqrtf(v) * c.inv_sqrt_c2 + c.eps);
            (expected.1[i], expected.2[i]) = (m, v);
        }
        let check = |name: &str, kernel: Kernel<'_>| {
            let (mut p, mut m, mut v) = (p0, m0, v0);
            assert!(kernel(&mut p, &g, &mut m, &mut v, true), "{name}");
            for (got, want) in [(&p, &expected.0), (&m, &expected.1), (&v, &expected.2)] {
                assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits), "{name}");
            }
            for at in [0, 13, 8 * 5 - 1, LEN - 1] {
                let (mut p, mut m, mut v) = (p0, m0, v0);
                let mut g = g;
                g[at] = 1e21;
                assert!(!kernel(&mut p, &g, &mut m, &mut v, false), "{name}: overflow at {at}");
                assert_eq!((p, m, v), (p0, m0, v0), "{name}: written at {at}");
            }
        };
        check("portable", &|p, g, m, v, commit| adamw_with(lanes::Portable, &c, p, g, m, v, commit));
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if let Some(proof) = lanes::avx::Avx2Fma::detect() {
            check("avx2+fma", &|p, g, m, v, commit| lanes::avx::adamw(proof, &c, p, g, m, v, commit));
        }
    }

    #[test]
    fn lars_trusts_the_gradient_where_a_norm_is_zero() {
        // A zero weight matrix (‖w‖ = 0) takes the plain step, trust 1:
        // w = −lr·g; a zero gradient on zero weights leaves them at zero.
        let places = places();
        let tensors = Tensors::of(&places);
        let lr = 0.05;
        let mut params = [0.0f32; PARAMS];
        let g: [f32; PARAMS] = core::array::from_fn(|i| value(i, 0.3));
        let mut m = [0.0f32; PARAMS];
        let mut lars = Lars::new(0.0);
        lars.update(&tensors, &mut params, &g, &mut m, &mut [], lr, Frozen::NONE).unwrap();
        for (i, (w, gi)) in params.iter().zip(&g).enumerate() {
            assert!((w + lr * gi).abs() <= 1e-7, "[{i}]: {w} for g {gi}");
        }
        let mut zeros = [0.0f32; PARAMS];
        let mut m = [0.0f32; PARAMS];
        lars.update(&tensors, &mut zeros, &[0.0; PARAMS], &mut m, &mut [], lr, Frozen::NONE).unwrap();
        assert!(zeros.iter().chain(&m).all(|v| *v == 0.0));
        // Weights with a zero gradient and no decay (‖g + λw‖ = 0): trust 1,
        // no step, not ‖w‖/0.
        let mut params: [f32; PARAMS] = core::array::from_fn(|i| value(i, 0.9));
        let before = params;
        lars.update(&tensors, &mut params, &[0.0; PARAMS], &mut m, &mut [], lr, Frozen::NONE).unwrap();
        assert_eq!(params.map(f32::to_bits), before.map(f32::to_bits));
    }
}
