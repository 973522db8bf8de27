//! The Siamese network: one set of weights applied to both views.
//!
//! ```text
//! encoder f:  x ─ Linear ─ ReLU ─ Linear ─► y   (the representation, kept)
//! expander h: y ─ Linear ─ [BatchNorm] ─ ReLU ─ Linear ─► z   (the embedding, for the loss)
//! ```
//!
//! The forward and backward passes here work on slices with runtime sizes
//! ([`Dims`]), so they are compiled once; [`Parameters`] holds the tensors in
//! arrays sized by const generics.

use crate::lanes::Lanes;
use crate::{batch_norm, linear};

/// The widths of the five layers' inputs and outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dims {
    /// Features of an input x.
    pub input: usize,
    /// Width of the encoder's hidden layer.
    pub hidden: usize,
    /// Width of the representation y.
    pub repr: usize,
    /// Width of the expander's hidden layer.
    pub expander_hidden: usize,
    /// Width of the embedding z.
    pub embed: usize,
}

impl Dims {
    /// Elements of one tensor.
    #[must_use]
    pub const fn len(&self, tensor: Tensor) -> usize {
        let (rows, cols) = self.shape(tensor);
        rows * cols
    }

    /// (rows, columns) of a tensor: out×in for weights, (width, 1) for vectors.
    #[must_use]
    pub const fn shape(&self, tensor: Tensor) -> (usize, usize) {
        let Self { input, hidden, repr, expander_hidden: eh, embed } = *self;
        match tensor {
            Tensor::Enc1Weight => (hidden, input),
            Tensor::Enc1Bias => (hidden, 1),
            Tensor::Enc2Weight => (repr, hidden),
            Tensor::Enc2Bias => (repr, 1),
            Tensor::Exp1Weight => (eh, repr),
            Tensor::Exp1Bias | Tensor::NormScale | Tensor::NormShift => (eh, 1),
            Tensor::Exp2Weight => (embed, eh),
            Tensor::Exp2Bias => (embed, 1),
        }
    }

    /// Elements of all tensors together.
    #[must_use]
    pub const fn parameter_count(&self) -> usize {
        let mut total = 0;
        let mut i = 0;
        while i < Tensor::ALL.len() {
            total += self.len(Tensor::ALL[i]);
            i += 1;
        }
        total
    }
}

/// Choices of architecture that do not change the tensors' sizes.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Arch {
    /// BatchNorm between the expander's first Linear and its ReLU.
    pub batch_norm: bool,
    /// A bias on the expander's last Linear. The official code has none: a
    /// bias shared by both views gets exactly zero gradient from the loss.
    pub final_bias: bool,
    /// BatchNorm's eps (PyTorch: 1e-5).
    pub bn_eps: f32,
    /// Weight of a new batch in BatchNorm's running statistics (PyTorch: 0.1).
    pub bn_momentum: f32,
}

impl Arch {
    /// The official expander: BatchNorm, no final bias.
    pub const OFFICIAL: Self = Self { batch_norm: true, final_bias: false, bn_eps: 1e-5, bn_momentum: 0.1 };
}

impl Default for Arch {
    fn default() -> Self {
        Self::OFFICIAL
    }
}

/// The ten parameter tensors, in storage and checkpoint order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tensor {
    /// Encoder layer 1 weights, hidden×input.
    Enc1Weight,
    /// Encoder layer 1 bias.
    Enc1Bias,
    /// Encoder layer 2 weights, repr×hidden.
    Enc2Weight,
    /// Encoder layer 2 bias.
    Enc2Bias,
    /// Expander layer 1 weights, expander_hidden×repr.
    Exp1Weight,
    /// Expander layer 1 bias.
    Exp1Bias,
    /// BatchNorm scale γ.
    NormScale,
    /// BatchNorm shift β.
    NormShift,
    /// Expander layer 2 weights, embed×expander_hidden.
    Exp2Weight,
    /// Expander layer 2 bias (unused unless [`Arch::final_bias`]).
    Exp2Bias,
}

impl Tensor {
    /// Every tensor, in order.
    pub const ALL: [Self; 10] = [
        Self::Enc1Weight,
        Self::Enc1Bias,
        Self::Enc2Weight,
        Self::Enc2Bias,
        Self::Exp1Weight,
        Self::Exp1Bias,
        Self::NormScale,
        Self::NormShift,
        Self::Exp2Weight,
        Self::Exp2Bias,
    ];

    /// The layer the tensor belongs to.
    #[must_use]
    pub const fn layer(self) -> Layer {
        match self {
            Self::Enc1Weight | Self::Enc1Bias => Layer::Enc1,
            Self::Enc2Weight | Self::Enc2Bias => Layer::Enc2,
            Self::Exp1Weight | Self::Exp1Bias => Layer::Exp1,
            Self::NormScale | Self::NormShift => Layer::Norm,
            Self::Exp2Weight | Self::Exp2Bias => Layer::Exp2,
        }
    }

    /// Whether this is a Linear weight matrix (as opposed to a bias or a
    /// normalisation parameter, which LARS and weight decay leave alone in
    /// the official recipe).
    #[must_use]
    pub const fn is_weight(self) -> bool {
        matches!(self, Self::Enc1Weight | Self::Enc2Weight | Self::Exp1Weight | Self::Exp2Weight)
    }
}

/// The five layers that hold parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Layer {
    /// Encoder Linear 1.
    Enc1,
    /// Encoder Linear 2.
    Enc2,
    /// Expander Linear 1.
    Exp1,
    /// Expander BatchNorm.
    Norm,
    /// Expander Linear 2.
    Exp2,
}

/// A set of frozen layers: no gradient is computed for them and no optimiser
/// touches them.
///
/// ```
/// use vicreg::{Frozen, Layer};
/// // Fine-tune only the encoder's last layer and the expander.
/// let frozen = Frozen::NONE.with(Layer::Enc1);
/// assert!(frozen.contains(Layer::Enc1) && !frozen.contains(Layer::Exp2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Frozen(u8);

impl Frozen {
    /// Every layer trains.
    pub const NONE: Self = Self(0);

    /// This set with `layer` frozen too.
    #[must_use]
    pub const fn with(self, layer: Layer) -> Self {
        Self(self.0 | 1 << layer as u8)
    }

    /// Whether `layer` is frozen.
    #[must_use]
    pub const fn contains(self, layer: Layer) -> bool {
        self.0 & (1 << layer as u8) != 0
    }

    /// Whether every layer before `layer` (closer to the input) is frozen, so
    /// backpropagation can stop after it.
    const fn all_before(self, layer: Layer) -> bool {
        let below = (1u8 << layer as u8) - 1;
        self.0 & below == below
    }
}

/// Every parameter tensor of the network, in arrays sized at compile time:
/// `IN` inputs, `H` encoder hidden units, `R` representation width, `EH`
/// expander hidden units, `E` embedding width. The same shape also holds
/// gradients and optimiser moments.
#[derive(Clone, Debug, PartialEq)]
pub struct Parameters<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> {
    /// Encoder Linear 1 weights (H×IN).
    pub enc1_weight: [[f32; IN]; H],
    /// Encoder Linear 1 bias.
    pub enc1_bias: [f32; H],
    /// Encoder Linear 2 weights (R×H).
    pub enc2_weight: [[f32; H]; R],
    /// Encoder Linear 2 bias.
    pub enc2_bias: [f32; R],
    /// Expander Linear 1 weights (EH×R).
    pub exp1_weight: [[f32; R]; EH],
    /// Expander Linear 1 bias.
    pub exp1_bias: [f32; EH],
    /// BatchNorm γ.
    pub norm_scale: [f32; EH],
    /// BatchNorm β.
    pub norm_shift: [f32; EH],
    /// Expander Linear 2 weights (E×EH).
    pub exp2_weight: [[f32; EH]; E],
    /// Expander Linear 2 bias.
    pub exp2_bias: [f32; E],
}

impl<const IN: usize, const H: usize, const R: usize, const EH: usize, const E: usize> Parameters<IN, H, R, EH, E> {
    /// The network's widths.
    pub const DIMS: Dims = Dims { input: IN, hidden: H, repr: R, expander_hidden: EH, embed: E };

    /// Every tensor zero. `const`, so a `static` of it lands in `.bss`.
    #[must_use]
    pub const fn zeros() -> Self {
        Self {
            enc1_weight: [[0.0; IN]; H],
            enc1_bias: [0.0; H],
            enc2_weight: [[0.0; H]; R],
            enc2_bias: [0.0; R],
            exp1_weight: [[0.0; R]; EH],
            exp1_bias: [0.0; EH],
            norm_scale: [0.0; EH],
            norm_shift: [0.0; EH],
            exp2_weight: [[0.0; EH]; E],
            exp2_bias: [0.0; E],
        }
    }

    /// The tensors as flat slices, in [`Tensor::ALL`] order.
    #[must_use]
    pub fn tensors(&self) -> [&[f32]; 10] {
        [
            self.enc1_weight.as_flattened(),
            &self.enc1_bias,
            self.enc2_weight.as_flattened(),
            &self.enc2_bias,
            self.exp1_weight.as_flattened(),
            &self.exp1_bias,
            &self.norm_scale,
            &self.norm_shift,
            self.exp2_weight.as_flattened(),
            &self.exp2_bias,
        ]
    }

    /// The tensors as mutable flat slices, in [`Tensor::ALL`] order.
    pub fn tensors_mut(&mut self) -> [&mut [f32]; 10] {
        [
            self.enc1_weight.as_flattened_mut(),
            &mut self.enc1_bias,
            self.enc2_weight.as_flattened_mut(),
            &mut self.enc2_bias,
            self.exp1_weight.as_flattened_mut(),
            &mut self.exp1_bias,
            &mut self.norm_scale,
            &mut self.norm_shift,
            self.exp2_weight.as_flattened_mut(),
            &mut self.exp2_bias,
        ]
    }

    /// Sets every element to zero.
    pub fn fill_zero(&mut self) {
        for t in self.tensors_mut() {
            t.fill(0.0);
        }
    }

    /// PyTorch's default initialisation: every Linear weight and bias uniform
    /// in ±1/√fan_in, BatchNorm γ = 1 and β = 0.
    pub fn init<G: rand_core::RngCore + ?Sized>(&mut self, rng: &mut G) {
        let dims = Self::DIMS;
        for (tensor, t) in Tensor::ALL.into_iter().zip(self.tensors_mut()) {
            match tensor {
                Tensor::NormScale => t.fill(1.0),
                Tensor::NormShift => t.fill(0.0),
                _ => {
                    let fan_in = match tensor {
                        Tensor::Enc1Weight | Tensor::Enc1Bias => dims.input,
                        Tensor::Enc2Weight | Tensor::Enc2Bias => dims.hidden,
                        Tensor::Exp1Weight | Tensor::Exp1Bias => dims.repr,
                        _ => dims.expander_hidden,
                    };
                    let bound = 1.0 / libm::sqrtf(fan_in as f32);
                    for w in t.iter_mut() {
                        *w = bound * crate::rng::symmetric_unit(rng);
                    }
                }
            }
        }
    }
}

/// What one view's forward pass keeps for its backward pass (all n-row,
/// row-major).
pub(crate) struct Cache<'c> {
    /// Encoder hidden activations after ReLU, n×hidden.
    pub(crate) h: &'c mut [f32],
    /// Representation, n×repr.
    pub(crate) y: &'c mut [f32],
    /// BatchNorm's x̂, n×expander_hidden (unused without BatchNorm).
    pub(crate) x_hat: &'c mut [f32],
    /// Expander hidden activations after ReLU, n×expander_hidden.
    pub(crate) a: &'c mut [f32],
    /// Embedding, n×embed.
    pub(crate) z: &'c mut [f32],
    /// BatchNorm batch means.
    pub(crate) mean: &'c mut [f32],
    /// BatchNorm 1/√(σ² + eps).
    pub(crate) inv_std: &'c mut [f32],
}

/// The encoder alone: y = W₂·relu(W₁·x + b₁) + b₂ for every row, with
/// `hidden` (n×hidden) as workspace.
pub(crate) fn encode(lanes: Lanes, dims: Dims, p: &[&[f32]; 10], x: &[f32], hidden: &mut [f32], y: &mut [f32]) {
    let [e1w, e1b, e2w, e2b, ..] = *p;
    linear::forward(lanes, e1w, e1b, x, dims.input, hidden);
    linear::relu(hidden);
    linear::forward(lanes, e2w, e2b, hidden, dims.hidden, y);
}

/// The forward pass of one view in training mode (BatchNorm on batch
/// statistics). `x` is n×input.
pub(crate) fn forward(lanes: Lanes, dims: Dims, arch: &Arch, p: &[&[f32]; 10], x: &[f32], c: &mut Cache<'_>) {
    let [e1w, e1b, ..] = *p;
    linear::forward(lanes, e1w, e1b, x, dims.input, c.h);
    linear::relu(c.h);
    forward_from_hidden(lanes, dims, arch, p, c);
}

/// The rest of the forward pass from the encoder's hidden activations `c.h`.
pub(crate) fn forward_from_hidden(lanes: Lanes, dims: Dims, arch: &Arch, p: &[&[f32]; 10], c: &mut Cache<'_>) {
    let [_, _, e2w, e2b, x1w, x1b, gamma, beta, x2w, x2b] = *p;
    linear::forward(lanes, e2w, e2b, c.h, dims.hidden, c.y);
    if arch.batch_norm {
        linear::forward(lanes, x1w, x1b, c.y, dims.repr, c.x_hat);
        let mut stats = batch_norm::BatchStats { mean: c.mean, inv_std: c.inv_std };
        batch_norm::forward_train(lanes, c.x_hat, gamma, beta, arch.bn_eps, c.a, &mut stats);
    } else {
        linear::forward(lanes, x1w, x1b, c.y, dims.repr, c.a);
    }
    linear::relu(c.a);
    let x2b = if arch.final_bias { x2b } else { &[] };
    linear::forward(lanes, x2w, x2b, c.a, dims.expander_hidden, c.z);
}

/// Workspace of a backward pass, shared by the two views.
pub(crate) struct BackScratch<'s> {
    /// ∂ℓ/∂a, n×expander_hidden.
    pub(crate) da: &'s mut [f32],
    /// ∂ℓ/∂y, n×repr.
    pub(crate) dy: &'s mut [f32],
    /// ∂ℓ/∂h, n×hidden.
    pub(crate) dh: &'s mut [f32],
    /// expander_hidden elements for BatchNorm's Σ ∂ℓ/∂y.
    pub(crate) sums: &'s mut [f32],
    /// expander_hidden elements for BatchNorm's Σ ∂ℓ/∂y ⊙ x̂.
    pub(crate) sums_xhat: &'s mut [f32],
}

/// The backward pass of one view from ∂ℓ/∂z, accumulating into the gradients
/// of the layers that are not frozen; stops as soon as every layer closer to
/// the input is frozen.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward(
    lanes: Lanes,
    dims: Dims,
    arch: &Arch,
    p: &[&[f32]; 10],
    g: &mut [&mut [f32]; 10],
    frozen: Frozen,
    x: &[f32],
    c: &Cache<'_>,
    dz: &[f32],
    s: &mut BackScratch<'_>,
) {
    let [_, _, e2w, _, x1w, _, gamma, _, x2w, _] = *p;
    let [ge1w, ge1b, ge2w, ge2b, gx1w, gx1b, ggamma, gbeta, gx2w, gx2b] = g;
    if !frozen.contains(Layer::Exp2) {
        let gb: &mut [f32] = if arch.final_bias { gx2b } else { &mut [] };
        linear::accumulate_gradients(lanes, c.a, dz, dims.expander_hidden, gx2w, gb);
    }
    if frozen.all_before(Layer::Exp2) {
        return;
    }
    linear::backward_input(lanes, x2w, dz, dims.expander_hidden, s.da);
    linear::relu_backward(c.a, s.da);
    if arch.batch_norm {
        let grads = if frozen.contains(Layer::Norm) { None } else { Some((&mut **ggamma, &mut **gbeta)) };
        batch_norm::backward(lanes, c.x_hat, gamma, c.inv_std, s.da, grads, s.sums, s.sums_xhat);
    }
    if !frozen.contains(Layer::Exp1) {
        linear::accumulate_gradients(lanes, c.y, s.da, dims.repr, gx1w, gx1b);
    }
    if frozen.all_before(Layer::Exp1) {
        return;
    }
    linear::backward_input(lanes, x1w, s.da, dims.repr, s.dy);
    if !frozen.contains(Layer::Enc2) {
        linear::accumulate_gradients(lanes, c.h, s.dy, dims.hidden, ge2w, ge2b);
    }
    if frozen.all_before(Layer::Enc2) {
        return;
    }
    linear::backward_input(lanes, e2w, s.dy, dims.hidden, s.dh);
    linear::relu_backward(c.h, s.dh);
    linear::accumulate_gradients(lanes, x, s.dh, dims.input, ge1w, ge1b);
}
