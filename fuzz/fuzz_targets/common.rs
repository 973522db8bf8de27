//! What the training-step and checkpoint targets share: a small trainer and
//! the bits of its state that a failed call must leave alone.

use vicreg::{Optimizer, Trainer};

/// A small network: 4 → 6 → 3 encoder, 3 → 6 → 4 expander, batches of 8.
pub type Small<O> = Trainer<8, 4, 6, 3, 6, 4, 4, O>;

/// Parameters, running statistics, optimiser state and step counts, bit for bit.
pub fn bits<O: Optimizer<4, 6, 3, 6, 4>>(t: &Small<O>) -> Vec<u32> {
    let mut b: Vec<u32> = t.parameters().tensors().iter().flat_map(|s| s.iter().map(|v| v.to_bits())).collect();
    let (m, v) = t.running_statistics();
    b.extend(m.iter().chain(v.iter()).map(|x| x.to_bits()));
    t.optimizer().for_each_state(&mut |s| b.extend(s.iter().map(|x| x.to_bits())));
    b.extend([t.steps(), t.optimizer().steps()]);
    b
}

/// Whether every weight is finite.
pub fn finite_weights<O: Optimizer<4, 6, 3, 6, 4>>(t: &Small<O>) -> bool {
    t.parameters().tensors().iter().all(|s| s.iter().all(|v| v.is_finite()))
}
