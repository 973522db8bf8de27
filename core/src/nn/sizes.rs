//! The size of everything a network needs, in one place: the parameters,
//! running statistics, activations, gradient buffers and loss scratch of a
//! training step for a batch capacity ([`Sizes`]), where each region of the
//! workspace starts ([`Layout`]), and the state a streamed batch keeps.
//! All `const fn`: the sizes are compile-time constants at a declaration
//! site, and runtime values for a network read from a file.
//!
//! # Layout of the buffers
//!
//! The parameters are one flat vector, layer by layer, each layer's weight
//! tensor (PyTorch's layout) then its bias. BatchNorm's running statistics
//! are a second vector, mean then variance per BatchNorm layer. A training
//! step's workspace, for a batch capacity N, holds in order: each view's
//! activations (one N-row buffer per layer that needs its own, BatchNorm's
//! batch statistics, then ∂ℓ/∂z), two N-row gradient buffers that the
//! backward pass alternates between, BatchNorm's backward sums or the
//! convolutions' scratch (two halves, each one sample's worth of the
//! layer that needs most, or the batch's widest activation if that is
//! less; the forward passes of every layer and both views use it too,
//! since no forward pass needs the sums), and the loss's
//! scratch ([`scratch_len`](crate::loss::scratch_len) for N rows of
//! the embedding). ReLU works in place, and BatchNorm normalises its input in
//! place, whenever nothing later needs that input: a Linear–ReLU pair costs
//! one buffer.

use super::net::{Net, Walk};
use crate::loss::{CovarianceSide, scratch_len};

/// Header slots of a streaming state: the rows absorbed, the invariance
/// sum, the stage, the batch's rows and the four loss terms.
pub(crate) const STREAM_HEAD: usize = 8;

/// Every size a declaration implies for a batch capacity, in f32 elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizes {
    /// One input sample.
    pub input: usize,
    /// The representation y of one sample.
    pub repr: usize,
    /// The embedding z of one sample.
    pub embed: usize,
    /// Trainable parameters (also the gradients, and each optimiser state
    /// copy).
    pub parameters: usize,
    /// BatchNorm's running means and variances.
    pub running: usize,
    /// One view's activations, ∂ℓ/∂z included.
    pub view: usize,
    /// The first of the backward pass's two gradient buffers (it starts
    /// with ∂ℓ/∂z).
    pub ping: usize,
    /// The second.
    pub pong: usize,
    /// The backward pass's gradient buffers and BatchNorm sums.
    pub backward: usize,
    /// The loss's scratch.
    pub loss: usize,
    /// The whole workspace of a training step: two views, backward, loss.
    pub workspace: usize,
}

impl Sizes {
    /// Values of a streaming state ([`Stream`](super::Stream)): per view,
    /// BatchNorm's statistics, their means' low parts and sums (3 × running) and the embedding's
    /// mean and its compensation, co-moment and weights (3d + d²), and a
    /// header of 8. It does not grow with the batch.
    #[must_use]
    pub const fn stream_state(&self) -> usize {
        let d = self.embed;
        STREAM_HEAD + 2 * (3 * self.running + 3 * d + d * d)
    }
}

impl Net<'_> {
    /// Values a streamed step needs beside the training state, for
    /// micro-batches of up to `batch` rows: the stream's state and one
    /// micro-batch of both views' inputs. It does not grow with the
    /// effective batch.
    #[must_use]
    pub const fn streaming_len(&self, batch: usize) -> usize {
        let s = self.sizes(batch);
        s.stream_state().saturating_add(batch.saturating_mul(s.input).saturating_mul(2))
    }

    /// Every size for batches of up to `batch` rows; all zero for an invalid
    /// network.
    #[must_use]
    pub const fn sizes(&self, batch: usize) -> Sizes {
        const NONE: Sizes = Sizes {
            input: 0,
            repr: 0,
            embed: 0,
            parameters: 0,
            running: 0,
            view: 0,
            ping: 0,
            pong: 0,
            backward: 0,
            loss: 0,
            workspace: 0,
        };
        if self.check().is_err() {
            return NONE;
        }
        let Ok(walk) = Walk::new(self, batch).finish() else {
            return NONE;
        };
        let repr = walk.repr;
        let embed = walk.shape.len();
        let view = walk.act.saturating_add(batch.saturating_mul(embed));
        let (ping, pong) = self.gradient_widths();
        let (ping, pong) = (ping.saturating_mul(batch), pong.saturating_mul(batch));
        // Backward's two scratch halves: a BatchNorm's channels, or the
        // convolutions' scratch, whichever is more. The latter is one
        // sample's of the layer that needs most, unless that is wider than
        // the batch's widest activation (a micro-batch of a row on a small
        // device, where a sample's taps would outweigh its activations):
        // then that width, and the convolutions take as many output
        // positions at a time as fit (at least one).
        let cap = walk.widest.saturating_mul(batch);
        let conv = if walk.scratch <= cap {
            walk.scratch
        } else if cap > walk.per_position {
            cap
        } else {
            walk.per_position
        };
        let halves = if conv > walk.norm_channels { conv } else { walk.norm_channels };
        let backward = ping.saturating_add(pong).saturating_add(halves.saturating_mul(2));
        let loss = scratch_len(batch, embed, CovarianceSide::Auto);
        Sizes {
            input: self.input.len(),
            repr: repr.len(),
            embed,
            parameters: walk.params,
            running: walk.running,
            view,
            ping,
            pong,
            backward,
            loss,
            workspace: view.saturating_mul(2).saturating_add(backward).saturating_add(loss),
        }
    }

    /// The widest gradient each of the backward pass's two buffers holds,
    /// per sample. The pass starts with ∂ℓ/∂z in the first; a layer that
    /// changes the shape (Linear, Conv1d, MeanTime) writes ∂ℓ/∂input into
    /// the other and the two swap roles, while ReLU and BatchNorm work in
    /// place; the first layer's ∂ℓ/∂input is never needed.
    ///
    /// Walked from the bottom (linear in depth): layer i writes into the
    /// buffer the top's has become after the flips of the shape-changing
    /// layers from i up, so the side alternates from the lowest of them.
    pub(crate) const fn gradient_widths(&self) -> (usize, usize) {
        // The side the lowest shape-changing layer above the first writes:
        // the parity of how many there are.
        let mut side = 0;
        let mut i = 1;
        while let Some(layer) = self.layer(i) {
            if layer.output_buffer().swaps() {
                side = 1 - side;
            }
            i += 1;
        }
        let mut walk = Walk::new(self, 1);
        let mut widths = [0, 0];
        let mut input = self.input;
        let mut i = 0;
        while let Some(place) = walk.next() {
            if i > 0 && place.layer.output_buffer().swaps() {
                if input.len() > widths[side] {
                    widths[side] = input.len();
                }
                side = 1 - side;
            }
            input = place.at.output;
            i += 1;
        }
        if walk.failed.is_some() {
            return (0, 0);
        }
        if input.len() > widths[0] {
            widths[0] = input.len();
        }
        (widths[0], widths[1])
    }

    /// Width of the representation y.
    #[must_use]
    pub const fn repr_len(&self) -> usize {
        self.sizes(1).repr
    }

    /// Width of the embedding z.
    #[must_use]
    pub const fn embed_len(&self) -> usize {
        self.sizes(1).embed
    }

    /// Trainable parameters.
    #[must_use]
    pub const fn parameter_count(&self) -> usize {
        self.sizes(1).parameters
    }

    /// BatchNorm running statistics (means and variances).
    #[must_use]
    pub const fn running_len(&self) -> usize {
        self.sizes(1).running
    }

    /// Elements of a training step's workspace for batches of up to `batch`
    /// rows.
    #[must_use]
    pub const fn workspace_len(&self, batch: usize) -> usize {
        self.sizes(batch).workspace
    }

    /// Whether the loss's scratch for batches of `batch` rows holds the
    /// feature side's d×d matrix (the embedding is no wider than the batch).
    #[must_use]
    pub const fn feature_side_fits(&self, batch: usize) -> bool {
        self.embed_len() <= batch
    }
}

/// Where the outputs sit in a view's activations, for a batch capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Every size.
    pub sizes: Sizes,
    /// Offset of the representation y in a view's activations.
    pub repr: usize,
    /// Offset of the embedding z.
    pub embed: usize,
    /// Offset of ∂ℓ/∂z.
    pub dz: usize,
}

impl Layout {
    /// The layout of `net` for batches of up to `batch` rows; `None` for an
    /// invalid network, or one whose buffers for `batch` rows overflow.
    #[must_use]
    pub const fn of(net: &Net<'_>, batch: usize) -> Option<Self> {
        if net.check().is_err() {
            return None;
        }
        let mut walk = Walk::new(net, batch);
        let mut repr = 0;
        let mut embed = 0;
        while let Some(place) = walk.next() {
            if place.index + 1 == net.encoder.len() {
                repr = place.at.dst;
            }
            embed = place.at.dst;
        }
        if walk.failed().is_some() {
            return None;
        }
        let sizes = net.sizes(batch);
        let dz = sizes.view - batch * sizes.embed;
        Some(Self { sizes, repr, embed, dz })
    }
}
