//! The digits networks, declared once: the main job (`train-digits`), the
//! WebAssembly module, the `speed` and `memory` tools and the benchmarks all
//! train these, so a change here reaches each of them.
//!
//! [`DIGITS`], the PyTorch anchor's MLP: 64 pixels → 128 → 32 encoder (the
//! representation), 32 → 64 (BatchNorm, ReLU) → 64 expander without a final
//! bias. [`DIGITS_CNN`], a small convolutional encoder of 1×8×8 images.
//! Both in batches of 128.
#![no_std]

use vicreg::augment::{Brightness, Erase, Jitter, Mask, ResizedCrop, Scale, Shift2d};
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

/// Width of the image encoder's representation.
pub const CNN_REPR: usize = 64;

/// The image encoder the paper's kind of views train (the main job's
/// default): conv 1→16 (3×3, padding 1), BatchNorm, ReLU; conv 16→32,
/// BatchNorm, ReLU; max-pool 2×2; conv 32→64, BatchNorm, ReLU; the mean
/// over space; Linear 64→64 (the representation); then the expander
/// 64→256, BatchNorm, ReLU, →256 without a final bias.
pub const DIGITS_CNN: Net = Net::new(
    Shape::Image { channels: 1, height: 8, width: 8 },
    &[
        Layer::conv2d(16, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::conv2d(32, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::max_pool2d([2, 2]),
        Layer::conv2d(64, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::MeanSpace,
        Layer::linear(CNN_REPR),
    ],
    &[Layer::linear(256), Layer::BatchNorm, Layer::ReLU, Layer::linear(256).without_bias()],
);

vicreg::network!(
    /// [`DIGITS_CNN`] for batches of [`BATCH`] images.
    pub DigitsCnn = DIGITS_CNN, batch BATCH
);

/// The views of the MLP, as its PyTorch anchor's: a shift of up to one
/// pixel, a gain of 0.8–1.2, noise σ 0.1, one pixel in ten dropped.
pub const PIXEL_VIEWS: (Shift2d, Scale, Jitter, Mask) = (
    Shift2d { width: 8, height: 8, max_shift: 1 },
    Scale { low: 0.8, high: 1.2 },
    Jitter { sigma: 0.1 },
    Mask { probability: 0.1 },
);

/// The views of the CNN, the paper's kind: one affine resampling (a crop of
/// 0.5–1 of the area, aspect 3/4–4/3, turned by up to 15°), brightness
/// ×0.7–1.3 and ±0.2, noise σ 0.05, and a 2–3 pixel square erased one time
/// in four.
pub const IMAGE_VIEWS: (ResizedCrop<INPUT>, Brightness, Jitter, Erase) = (
    ResizedCrop {
        width: 8,
        height: 8,
        area: (0.5, 1.0),
        aspect: (0.75, 4.0 / 3.0),
        max_angle: 15.0 * (core::f32::consts::PI / 180.0),
    },
    Brightness { low: 0.7, high: 1.3, offset: 0.2 },
    Jitter { sigma: 0.05 },
    Erase { width: 8, height: 8, sides: (2, 3), probability: 0.25 },
);
