//! A camera-class device that adapts, `no_std`: a small CNN pretrained on
//! the host on 8×8 digits, fine-tuned on the device without labels on
//! images from a camera that sees them as dark ink on a light ground at
//! lower contrast ([`Shift::DEPLOYED`]), in streamed micro-batches of [`MICRO`] images so
//! that each step's batch is [`EFFECTIVE`] images (the batch statistics of
//! VICReg and of BatchNorm over all of them, in the memory of a micro-batch).
//! The firmware (`examples/camera-firmware`) runs this under QEMU; the host
//! tests run the same code.
//!
//! The images live in flash as one byte a pixel (0–16) and one byte of
//! label ([`Images`]): 65 bytes an image.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use digits_net::IMAGE_VIEWS;
use vicreg::augment::Augment;
use vicreg::nn::{Layer, Network, Shape};
use vicreg::{Error, LossTerms, Pcg32, Schedule, Sgd, StepReport, Trainer, TrainerConfig};

/// Pixels of an image.
pub const PIXELS: usize = 64;
/// Digits.
pub const CLASSES: usize = 10;
/// Images per micro-batch: the trainer's capacity.
pub const MICRO: usize = 4;
/// Images per training step, streamed through the trainer [`MICRO`] at a
/// time.
pub const EFFECTIVE: usize = 64;
/// Width of the representation.
pub const REPR: usize = 16;

/// The device's CNN, the main job's at a quarter of the channels: conv 1→4
/// (3×3, padding 1), BatchNorm, ReLU; conv 4→8, BatchNorm, ReLU; max-pool
/// 2×2; conv 8→16, BatchNorm, ReLU; the mean over space; Linear 16→16 (the
/// representation); the expander 16→32, BatchNorm, ReLU, →32 without a
/// final bias.
pub const CAMERA: vicreg::nn::Net = vicreg::nn::Net::new(
    Shape::Image { channels: 1, height: 8, width: 8 },
    &[
        Layer::conv2d(4, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::conv2d(8, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::max_pool2d([2, 2]),
        Layer::conv2d(16, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::MeanSpace,
        Layer::linear(REPR),
    ],
    &[Layer::linear(32), Layer::BatchNorm, Layer::ReLU, Layer::linear(32).without_bias()],
);

vicreg::network!(
    /// [`CAMERA`] with micro-batches of [`MICRO`] images.
    pub Camera = CAMERA, batch MICRO
);

/// The training state on the device: SGD with momentum.
pub type Net = Trainer<Camera, Sgd>;
/// What a streamed step needs beside the trainer.
pub type Streaming = <Camera as Network>::Streaming;
/// Memory of the device's training: the trainer and the streaming state
/// (asserted to fit the part with room for the stack by the firmware).
pub const TRAINING_BYTES: usize = Net::MEMORY_BYTES + Net::STREAMING_BYTES;

/// The fine-tuning configuration: the official loss, SGD at `lr` with a
/// short warm-up and a cosine to a tenth over `total_steps`.
#[must_use]
pub const fn config(lr: f32, total_steps: u32) -> TrainerConfig {
    // The defaults (`TrainerConfig::new`) but for the schedule.
    TrainerConfig {
        schedule: Schedule { base_lr: lr, final_lr: lr * 0.1, warmup_steps: 2, total_steps },
        ..TrainerConfig::new(lr)
    }
}

/// A network ready to fine-tune: SGD with momentum 0.9 and weight decay
/// 1e-4; parameters zero until `load`.
#[must_use]
pub const fn new_net(lr: f32, steps: u32) -> Net {
    Net::new(config(lr, steps), Sgd::new(0.9, 1e-4))
}

/// How the deployed camera sees a pixel: x ← gain·x + offset (x in 0–1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shift {
    /// Multiplies every pixel.
    pub gain: f32,
    /// Then added.
    pub offset: f32,
}

impl Shift {
    /// The camera of pretraining.
    pub const NONE: Self = Self { gain: 1.0, offset: 0.0 };
    /// The deployed camera: dark ink on a light ground (paper, not a
    /// screen) at 60 % of the contrast, x ← 0.7 − 0.6·x.
    pub const DEPLOYED: Self = Self { gain: -0.6, offset: 0.7 };
}

/// Bytes before the images: magic `DIGI`, a u16 count.
pub const HEADER_BYTES: usize = 6;
/// Bytes of one stored image: a label, then 64 pixels of 0–16.
pub const RECORD_BYTES: usize = 1 + PIXELS;

/// Images stored one byte a pixel, read in place from flash.
#[derive(Clone, Copy, Debug)]
pub struct Images<'a> {
    bytes: &'a [u8],
    count: usize,
}

impl<'a> Images<'a> {
    /// The images in `bytes`, or `None` if they are not in this layout (a
    /// label past 9 or a pixel past 16 included).
    #[must_use]
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.get(..4)? != b"DIGI" {
            return None;
        }
        let count = usize::from(u16::from_le_bytes([*bytes.get(4)?, *bytes.get(5)?]));
        if bytes.len() != Self::bytes_for(count) {
            return None;
        }
        let valid = bytes[HEADER_BYTES..]
            .chunks_exact(RECORD_BYTES)
            .all(|r| usize::from(r[0]) < CLASSES && r[1..].iter().all(|&p| p <= 16));
        valid.then_some(Self { bytes, count })
    }

    /// Images held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The digit of image `i` (0 past the end).
    #[must_use]
    pub fn label(&self, i: usize) -> usize {
        self.bytes.get(HEADER_BYTES + i * RECORD_BYTES).map_or(0, |&l| usize::from(l))
    }

    /// Image `i`'s pixels, divided by 16 and seen through `shift`, into
    /// `out` (zeros past the end).
    pub fn read(&self, i: usize, shift: &Shift, out: &mut [f32; PIXELS]) {
        let at = HEADER_BYTES + i * RECORD_BYTES + 1;
        let pixels = self.bytes.get(at..at + PIXELS).unwrap_or(&[]);
        out.fill(0.0);
        for (v, &p) in out.iter_mut().zip(pixels) {
            *v = shift.gain * (f32::from(p) / 16.0) + shift.offset;
        }
    }

    /// Writes `(label, pixels 0–16)` images in this layout into `out`, which
    /// must be exactly [`Images::bytes_for`] long; `None` for a length
    /// mismatch or a value out of range.
    pub fn encode<'p>(images: impl Iterator<Item = (usize, &'p [u8])> + Clone, out: &mut [u8]) -> Option<()> {
        let count = images.clone().count();
        if out.len() != Self::bytes_for(count) || count > usize::from(u16::MAX) {
            return None;
        }
        out[..4].copy_from_slice(b"DIGI");
        out[4..6].copy_from_slice(&u16::try_from(count).ok()?.to_le_bytes());
        for (record, (label, pixels)) in out[HEADER_BYTES..].chunks_exact_mut(RECORD_BYTES).zip(images) {
            if label >= CLASSES || pixels.len() != PIXELS || pixels.iter().any(|&p| p > 16) {
                return None;
            }
            record[0] = u8::try_from(label).ok()?;
            record[1..].copy_from_slice(pixels);
        }
        Some(())
    }

    /// Bytes that `count` images take.
    #[must_use]
    pub const fn bytes_for(count: usize) -> usize {
        HEADER_BYTES + count * RECORD_BYTES
    }
}

/// Images the device fine-tunes on (without their labels); the rest are
/// held out for the few-shot probe.
pub const ADAPT: usize = 160;
/// Labelled held-out images per class that the few-shot probe may use.
pub const SHOTS: usize = 5;
/// Fine-tuning steps on the device, each of [`EFFECTIVE`] images.
pub const FINE_TUNE_STEPS: u32 = 24;
/// The fine-tuning learning rate (SGD with momentum 0.9).
pub const LR: f32 = 0.02;
/// The seed of the evaluation batch's views, the same before and after.
pub const EVAL_SEED: u64 = 99;

/// Row `first + r` of the effective batch drawn with `seed`, for every `r`:
/// an adaptation image and its two views, regenerated from the seed and the
/// row alone, so that every stage of a streamed step sees the same rows.
pub fn fill(
    images: &Images<'_>,
    shift: &Shift,
    seed: u64,
    first: usize,
    a: &mut [[f32; PIXELS]],
    b: &mut [[f32; PIXELS]],
) {
    let pool = u32::try_from(ADAPT.min(images.len())).unwrap_or(0);
    for (r, (va, vb)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        let row = (first + r) as u64;
        let mut rng = Pcg32::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ row);
        images.read(vicreg::below(&mut rng, pool) as usize, shift, va);
        *vb = *va;
        // The views' settings are constants the tests check: they cannot
        // refuse an 8×8 image.
        let _ = IMAGE_VIEWS.apply(va, &mut rng);
        let _ = IMAGE_VIEWS.apply(vb, &mut rng);
    }
}

/// One fine-tuning step: an effective batch of [`EFFECTIVE`] images drawn
/// with `seed`, streamed through the trainer.
///
/// # Errors
///
/// Those of [`Trainer::step_streamed`].
pub fn step(
    net: &mut Net,
    streaming: &mut Streaming,
    images: &Images<'_>,
    shift: &Shift,
    seed: u64,
) -> Result<StepReport, Error> {
    net.step_streamed(streaming, EFFECTIVE, |first, a, b| fill(images, shift, seed, first, a, b))
}

/// What the device does: [`FINE_TUNE_STEPS`] steps (seeds fixed, so every
/// run is the same); `on_step` sees each result. Returns the failed steps.
pub fn fine_tune(
    net: &mut Net,
    streaming: &mut Streaming,
    images: &Images<'_>,
    shift: &Shift,
    mut on_step: impl FnMut(u32, Result<LossTerms, Error>),
) -> u32 {
    let mut failed = 0;
    for s in 0..FINE_TUNE_STEPS {
        let result = step(net, streaming, images, shift, 1000 + u64::from(s)).map(|r| r.terms);
        failed += u32::from(result.is_err());
        on_step(s, result);
    }
    failed
}

/// Before/after figures on the shifted images.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// The VICReg loss terms of one fixed effective batch of adaptation
    /// images ([`EVAL_SEED`]), streamed as training streams it.
    pub terms: LossTerms,
    /// Nearest-class-mean accuracy of the representation on the held-out
    /// images: the class means from the first [`SHOTS`] of each class, the
    /// others scored.
    pub few_shot_accuracy: f32,
}

/// Measures the network on `images` through `shift`.
///
/// # Errors
///
/// The network's errors (a non-finite input or result).
pub fn evaluate(
    net: &mut Net,
    streaming: &mut Streaming,
    images: &Images<'_>,
    shift: &Shift,
) -> Result<Evaluation, Error> {
    let terms = net.compute_gradients_streamed(streaming, EFFECTIVE, |first, a, b| {
        fill(images, shift, EVAL_SEED, first, a, b);
    })?;
    let mut means = [[0.0f32; REPR]; CLASSES];
    let mut taken = [0usize; CLASSES];
    let (mut correct, mut queries) = (0usize, 0usize);
    let (mut image, mut repr) = ([[0.0f32; PIXELS]; 1], [[0.0f32; REPR]; 1]);
    // The labelled images first, then the queries.
    for pass in 0..2 {
        let mut seen = [0usize; CLASSES];
        for i in ADAPT..images.len() {
            let label = images.label(i);
            let labelled = seen[label] < SHOTS;
            seen[label] += 1;
            if labelled != (pass == 0) {
                continue;
            }
            images.read(i, shift, &mut image[0]);
            net.represent(&image, &mut repr)?;
            if pass == 0 {
                taken[label] += 1;
                for (m, v) in means[label].iter_mut().zip(&repr[0]) {
                    *m += v;
                }
            } else {
                let distance = |c: usize| {
                    let n = taken[c].max(1) as f32;
                    means[c].iter().zip(&repr[0]).map(|(m, v)| (m / n - v) * (m / n - v)).sum::<f32>()
                };
                let nearest =
                    (0..CLASSES).filter(|&c| taken[c] > 0).min_by(|&p, &q| distance(p).total_cmp(&distance(q)));
                correct += usize::from(nearest == Some(label));
                queries += 1;
            }
        }
    }
    Ok(Evaluation { terms, few_shot_accuracy: correct as f32 / queries.max(1) as f32 })
}

/// Whether fine-tuning adapted the encoder: the loss of the same effective
/// batch fell, and the few-shot probe on held-out images improved.
#[must_use]
pub fn adapted(before: &Evaluation, after: &Evaluation) -> bool {
    after.terms.loss < before.terms.loss && after.few_shot_accuracy > before.few_shot_accuracy
}

/// The encoder pretrained on the host (`adapt camera-pretrain`), as the
/// firmware embeds it: parameters and running statistics, no optimiser
/// state.
pub static PRETRAINED: &[u8] = include_bytes!("../camera.ckpt");

/// The 360 test digits (`adapt camera-images`), which pretraining never
/// saw, one byte a pixel.
pub static IMAGES: &[u8] = include_bytes!("../test-images.bin");
