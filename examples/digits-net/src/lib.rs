//! The digits network, declared once: the main job (`train-digits`), the
//! WebAssembly module, the `speed` and `memory` tools and the benchmarks all
//! train this one, so a change here reaches each of them.
//!
//! The PyTorch anchor's network: 64 pixels → 128 → 32 encoder (the
//! representation), 32 → 64 (BatchNorm, ReLU) → 64 expander without a final
//! bias, in batches of 128.
#![no_std]

use vicreg::nn::{Layer, Net, Shape};

/// Pixels of one 8×8 image.
pub const INPUT: usize = 64;
/// Width of the representation.
pub const REPR: usize = 32;
/// Rows of a training batch.
pub const BATCH: usize = 128;

/// The declaration.
pub const DIGITS: Net = Net::new(
    Shape::Flat(INPUT),
    &[Layer::linear(128), Layer::ReLU, Layer::linear(REPR)],
    &[Layer::linear(64), Layer::BatchNorm, Layer::ReLU, Layer::linear(64).without_bias()],
);

vicreg::network!(
    /// [`DIGITS`] for batches of [`BATCH`] images.
    pub DigitsNet = DIGITS, batch BATCH
);
