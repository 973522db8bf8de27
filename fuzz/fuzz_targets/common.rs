//! What the training-step and checkpoint targets share: small trainers and
//! the bits of their state that a failed call must leave alone.

use vicreg::nn::{Layer, Net, Network, Shape};
use vicreg::{Optimizer, Trainer};

/// 4 → 6 → 3 encoder, 3 → 6 (BatchNorm) → 4 expander, batches of 8.
const SMALL: Net = Net::new(
    Shape::Flat(4),
    &[Layer::linear(6), Layer::ReLU, Layer::linear(3)],
    &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(4).without_bias()],
);
vicreg::network!(pub SmallNet = SMALL, batch 8);

/// A Conv1d encoder over 2×6 windows (stride 2, padding, BatchNorm over the
/// map, mean over time), batches of 8.
const WINDOWS: Net = Net::new(
    Shape::Map { channels: 2, length: 6 },
    &[Layer::conv1d(3, 3).stride(2).padding(1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(3)],
    &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(4)],
);
vicreg::network!(pub WindowNet = WINDOWS, batch 8);

/// The small MLP trainer.
#[allow(dead_code)] // the training-step target names the networks directly
pub type Small<O> = Trainer<SmallNet, O>;

/// Parameters, running statistics, optimiser state and step counts, bit for bit.
pub fn bits<N: Network, O: Optimizer>(t: &Trainer<N, O>) -> Vec<u32> {
    let mut b: Vec<u32> = t.parameters().iter().map(|v| v.to_bits()).collect();
    b.extend(t.running_statistics().iter().map(|x| x.to_bits()));
    for copy in t.optimizer_state() {
        b.extend(copy.as_ref().iter().map(|x| x.to_bits()));
    }
    b.extend([t.steps(), t.optimizer().steps()]);
    b
}

/// Whether every weight is finite.
pub fn finite_weights<N: Network, O: Optimizer>(t: &Trainer<N, O>) -> bool {
    t.parameters().iter().all(|v| v.is_finite())
}
