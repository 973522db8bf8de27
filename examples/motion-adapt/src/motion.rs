//! The host job's network (`train-motions`), declared here so that the
//! speed table and the watch can train exactly the same layer list.

use crate::CHANNELS;
use crate::views::WINDOW;
use vicreg::nn::{Layer, Net, Shape};

/// Rows per training batch on the host: half the 40 training recordings.
pub const BATCH: usize = 20;
/// Representation width.
pub const REPR: usize = 32;

/// The anchor's encoder: 6×96 → Conv1d 16 (k5), BatchNorm, ReLU → Conv1d 32
/// (k5, stride 2), BatchNorm, ReLU → Conv1d 32 (k3, stride 2), ReLU → mean
/// over time → Linear 32 (the representation); expander 32 → 64 (BatchNorm,
/// ReLU) → 64 without a final bias.
pub const MOTION: Net = Net::new(
    Shape::Map { channels: CHANNELS, length: WINDOW },
    &[
        Layer::conv1d(16, 5),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::conv1d(32, 5).stride(2),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::conv1d(32, 3).stride(2),
        Layer::ReLU,
        Layer::MeanTime,
        Layer::linear(REPR),
    ],
    &[Layer::linear(64), Layer::BatchNorm, Layer::ReLU, Layer::linear(64).without_bias()],
);

vicreg::network!(
    /// [`MOTION`] for batches of [`BATCH`] recordings.
    pub Motion = MOTION, batch BATCH
);
