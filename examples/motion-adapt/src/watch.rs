//! A watch worn on the other wrist: on-device fine-tuning of the host job's
//! encoder (`train-motions`, the exact layer list of [`MOTION`]) on
//! recordings it never saw, as the firmware runs it (and as the host tests
//! check it).
//!
//! The host trains that network on batches of 20 recordings; the watch
//! trains it on the same effective batch of [`EFFECTIVE`] recordings
//! streamed through a trainer of [`MICRO`] row ([`Trainer::step_streamed`]:
//! the batch statistics of VICReg and of BatchNorm over all 20, in the
//! memory of one row), with gradient descent without momentum
//! ([`PlainSgd`]: a velocity would be another 53 KiB). The convolutions
//! take their output positions in chunks as wide as a row's widest
//! activation, so the whole training state fits a 256 KiB part with room
//! for the stack ([`TRAINING_BYTES`]).
//!
//! The recordings live in flash as i16 with one scale per channel
//! ([`Recordings`]): 1,201 bytes a recording instead of 2,400 as f32. The
//! drift ([`Drift::OTHER_WRIST`]) is what moving the watch to the other wrist
//! does to its axes: turned half a turn about z, so x and y change sign for
//! both sensors, plus per-channel gains as between two units of a sensor.

use crate::motion::{self, MOTION, REPR};
use crate::views::{self, INPUT, RECIPE};
use crate::{CHANNELS, CLASSES, LENGTH};
use vicreg::nn::{Buffer, Layer, Network};
use vicreg::{Error, LossTerms, Pcg32, PlainSgd, Schedule, StepReport, Trainer, TrainerConfig};

/// Recordings per training step: the host job's batch.
pub const EFFECTIVE: usize = motion::BATCH;
/// Rows the trainer holds at a time.
pub const MICRO: usize = 1;

vicreg::network!(
    /// [`MOTION`] with micro-batches of [`MICRO`] recording.
    pub WatchMotion = MOTION, batch MICRO
);

/// The training state on the watch: gradient descent without momentum.
pub type Net = Trainer<WatchMotion, PlainSgd>;
/// What a streamed step needs beside the trainer: the stream's state and
/// one micro-batch of both views.
pub type Streaming = <WatchMotion as Network>::Streaming;
/// One decoded recording (channel-major, 6×100).
pub type Samples = [f32; CHANNELS * LENGTH];

/// What a step needs beside the trainer: the stream's state with one
/// micro-batch of both views, and one decoded recording (44 KiB that a
/// firmware keeps in a `static` rather than on its stack).
#[derive(Clone, Debug)]
pub struct Buffers {
    streaming: Streaming,
    samples: Samples,
}

impl Buffers {
    /// All zero (a `static` of it lands in `.bss`).
    #[must_use]
    pub const fn new() -> Self {
        Self { streaming: Streaming::ZERO, samples: [0.0; CHANNELS * LENGTH] }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// Bytes of the watch's training: the trainer and its [`Buffers`]
/// (asserted by the firmware to fit its part with room for the stack).
pub const TRAINING_BYTES: usize = Net::MEMORY_BYTES + core::mem::size_of::<Buffers>();

/// Floating-point operations of the convolutions in one streamed step of
/// [`EFFECTIVE`] recordings, a multiply-add counted as two (dominant terms
/// only, as the loss's cost is counted). With k BatchNorm layers a step
/// has 2k + 2 stages (see [`vicreg::nn::Stream`]); a convolution at layer
/// i runs forward in the stages that reach past it (one per BatchNorm
/// above it, and the k + 2 that run the whole network), its weight
/// gradient once, and its input gradient (unless it is the first layer) in
/// each backward stage that passes below it (one per BatchNorm below it,
/// and the last). Each pass is T′·O·C·K multiply-adds a row of a view.
pub const CONVOLUTION_FLOPS: usize = {
    let depth = MOTION.depth();
    let k = norms_in(0, depth);
    let mut flops = 0;
    let mut i = 0;
    while let Some(layer) = MOTION.layer(i) {
        if let (Layer::Conv1d(conv), Some(input), Some(output)) =
            (layer, MOTION.shape_before(i), MOTION.shape_before(i + 1))
        {
            let multiply_adds = output.len() * input.channels() * conv.kernel;
            let forward = norms_in(i + 1, depth) + k + 2;
            let input_gradient = if i == 0 { 0 } else { norms_in(0, i) + 1 };
            flops += 2 * (forward + 1 + input_gradient) * multiply_adds * 2 * EFFECTIVE;
        }
        i += 1;
    }
    flops
};

/// BatchNorm layers of [`MOTION`] among layers `from..to`.
const fn norms_in(from: usize, to: usize) -> usize {
    let mut count = 0;
    let mut j = from;
    while j < to {
        if let Some(Layer::BatchNorm) = MOTION.layer(j) {
            count += 1;
        }
        j += 1;
    }
    count
}

/// The training configuration: the official loss, learning rate `lr` with
/// a short warm-up, cosine to a tenth over `total_steps`.
#[must_use]
pub const fn config(lr: f32, total_steps: u32) -> TrainerConfig {
    // The defaults (`TrainerConfig::new`) but for the schedule.
    TrainerConfig {
        schedule: Schedule { base_lr: lr, final_lr: lr * 0.1, warmup_steps: 2, total_steps },
        ..TrainerConfig::new(lr)
    }
}

/// The fine-tuning learning rate.
pub const LR: f32 = 0.05;
/// Weight decay of the fine-tuning (weight matrices only).
pub const WEIGHT_DECAY: f32 = 1e-4;

/// A network ready to fine-tune: [`LR`] over `steps` steps, weight decay
/// [`WEIGHT_DECAY`]; parameters zero until `load`.
#[must_use]
pub const fn new_net(steps: u32) -> Net {
    Net::new(config(LR, steps), PlainSgd::new(WEIGHT_DECAY))
}

/// How the deployed watch's axes differ from the pretraining watch's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    /// Multiplies each channel (the sign of a flipped axis times a gain).
    pub gain: [f32; CHANNELS],
    /// Then added to each channel (a sensor's bias), in units of the
    /// channel's standard deviation.
    pub offset: [f32; CHANNELS],
}

impl Drift {
    /// The pretraining watch.
    pub const NONE: Self = Self { gain: [1.0; CHANNELS], offset: [0.0; CHANNELS] };
    /// The other wrist, on another unit: x and y of both sensors change sign
    /// (half a turn about z), each channel's gain differs by up to 30 %, and
    /// each has a bias of up to 0.6 standard deviations.
    pub const OTHER_WRIST: Self =
        Self { gain: [-1.3, -0.75, 1.15, -0.8, -1.25, 0.9], offset: [0.5, -0.4, 0.6, 0.3, -0.5, 0.4] };

    /// Applies the drift to a recording (channel-major, 6×100).
    pub fn apply(&self, samples: &mut [f32]) {
        for ((channel, g), o) in samples.chunks_exact_mut(LENGTH).zip(self.gain).zip(self.offset) {
            channel.iter_mut().for_each(|v| *v = g * *v + o);
        }
    }
}

/// Bytes of one stored recording: a label, then 600 little-endian i16.
pub const RECORD_BYTES: usize = 1 + 2 * CHANNELS * LENGTH;
/// Bytes before the recordings: magic `MREC`, a u16 count, six f32 scales.
pub const HEADER_BYTES: usize = 4 + 2 + 4 * CHANNELS;

/// Recordings stored compactly (standardised samples as i16 with one f32
/// scale per channel), read in place from flash.
#[derive(Clone, Copy, Debug)]
pub struct Recordings<'a> {
    bytes: &'a [u8],
    count: usize,
    scales: [f32; CHANNELS],
}

impl<'a> Recordings<'a> {
    /// The recordings in `bytes`, or `None` if they are not in this layout.
    #[must_use]
    pub fn parse(bytes: &'a [u8]) -> Option<Self> {
        if bytes.get(..4)? != b"MREC" {
            return None;
        }
        let count = usize::from(u16::from_le_bytes([*bytes.get(4)?, *bytes.get(5)?]));
        if bytes.len() != HEADER_BYTES + count * RECORD_BYTES {
            return None;
        }
        let mut scales = [0.0; CHANNELS];
        for (c, s) in scales.iter_mut().enumerate() {
            let at = 6 + 4 * c;
            *s = f32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
        }
        let labels_ok = (0..count).all(|i| usize::from(bytes[HEADER_BYTES + i * RECORD_BYTES]) < CLASSES);
        (labels_ok && scales.iter().all(|s| s.is_finite() && *s > 0.0)).then_some(Self { bytes, count, scales })
    }

    /// Recordings held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The activity of recording `i` (0 past the end).
    #[must_use]
    pub fn label(&self, i: usize) -> usize {
        self.bytes.get(HEADER_BYTES + i * RECORD_BYTES).map_or(0, |&l| usize::from(l))
    }

    /// Recording `i`'s samples (channel-major, 6×100) into `out`, with
    /// `drift` applied.
    pub fn read(&self, i: usize, drift: &Drift, out: &mut [f32; CHANNELS * LENGTH]) {
        let at = HEADER_BYTES + (i % self.count.max(1)) * RECORD_BYTES + 1;
        let raw = self.bytes.get(at..at + 2 * CHANNELS * LENGTH).unwrap_or(&[]);
        for (k, (v, pair)) in out.iter_mut().zip(raw.chunks_exact(2)).enumerate() {
            *v = f32::from(i16::from_le_bytes([pair[0], pair[1]])) * self.scales[k / LENGTH];
        }
        drift.apply(out);
    }

    /// Writes recordings (label, standardised channel-major samples) in this
    /// layout into `out`, which must be exactly [`Recordings::bytes_for`]
    /// long; each channel's scale maps its largest magnitude to 32,767.
    /// Returns `None` for a length mismatch or a label out of range.
    pub fn encode<'r>(recordings: impl Iterator<Item = (usize, &'r [f32])> + Clone, out: &mut [u8]) -> Option<()> {
        let count = recordings.clone().count();
        if out.len() != Self::bytes_for(count) || count > usize::from(u16::MAX) {
            return None;
        }
        let mut peak = [0.0f32; CHANNELS];
        for (_, samples) in recordings.clone() {
            for (c, channel) in samples.chunks_exact(LENGTH).enumerate().take(CHANNELS) {
                peak[c] = channel.iter().fold(peak[c], |m, v| m.max(v.abs()));
            }
        }
        let scales = peak.map(|p| if p > 0.0 { p / 32767.0 } else { 1.0 });
        out[..4].copy_from_slice(b"MREC");
        out[4..6].copy_from_slice(&u16::try_from(count).ok()?.to_le_bytes());
        for (c, s) in scales.iter().enumerate() {
            out[6 + 4 * c..10 + 4 * c].copy_from_slice(&s.to_le_bytes());
        }
        for (i, (label, samples)) in recordings.enumerate() {
            if label >= CLASSES || samples.len() != CHANNELS * LENGTH {
                return None;
            }
            let record = &mut out[HEADER_BYTES + i * RECORD_BYTES..HEADER_BYTES + (i + 1) * RECORD_BYTES];
            record[0] = u8::try_from(label).ok()?;
            for (k, (pair, v)) in record[1..].chunks_exact_mut(2).zip(samples).enumerate() {
                #[allow(clippy::cast_possible_truncation)] // |v / scale| ≤ 32767 by construction
                let q = libm::roundf(v / scales[k / LENGTH]) as i16;
                pair.copy_from_slice(&q.to_le_bytes());
            }
        }
        Some(())
    }

    /// Bytes that `count` recordings take.
    #[must_use]
    pub const fn bytes_for(count: usize) -> usize {
        HEADER_BYTES + count * RECORD_BYTES
    }
}

/// Row `first + r` of the effective batch drawn with `seed`, for every `r`:
/// a recording through `drift` (decoded into `samples`) and its two views,
/// regenerated from the seed and the row alone, so that every stage of a
/// streamed step sees the same rows.
#[allow(clippy::too_many_arguments)]
pub fn fill(
    recordings: &Recordings<'_>,
    drift: &Drift,
    seed: u64,
    samples: &mut Samples,
    first: usize,
    a: &mut [[f32; INPUT]],
    b: &mut [[f32; INPUT]],
) {
    let count = u32::try_from(recordings.len()).unwrap_or(u32::MAX);
    let pick = |_, rng: &mut Pcg32| vicreg::below(rng, count) as usize;
    views_of_rows(recordings, drift, seed, samples, first, (a, b), pick);
}

/// Rows `first..` of both views: row `row`'s recording is `pick(row, rng)`
/// and its views are drawn from `rng`, seeded by `seed` and the row alone.
fn views_of_rows(
    recordings: &Recordings<'_>,
    drift: &Drift,
    seed: u64,
    samples: &mut Samples,
    first: usize,
    (a, b): (&mut [[f32; INPUT]], &mut [[f32; INPUT]]),
    pick: impl Fn(usize, &mut Pcg32) -> usize,
) {
    for (r, (va, vb)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
        let row = first + r;
        let mut rng = Pcg32::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ row as u64);
        recordings.read(pick(row, &mut rng), drift, samples);
        *va = views::view(samples, &mut rng, &RECIPE);
        *vb = views::view(samples, &mut rng, &RECIPE);
    }
}

/// One fine-tuning step: an effective batch of [`EFFECTIVE`] recordings
/// drawn with `seed`, streamed through the trainer.
///
/// # Errors
///
/// Those of [`Trainer::step_streamed`].
pub fn step(
    net: &mut Net,
    buffers: &mut Buffers,
    recordings: &Recordings<'_>,
    drift: &Drift,
    seed: u64,
) -> Result<StepReport, Error> {
    let Buffers { streaming, samples } = buffers;
    net.step_streamed(streaming, EFFECTIVE, |first, a, b| fill(recordings, drift, seed, samples, first, a, b))
}

/// Before/after figures on the drifted recordings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// VICReg loss terms of fixed pairs of views of every recording (the
    /// mean over effective batches of [`EFFECTIVE`], streamed as training
    /// streams them).
    pub terms: LossTerms,
    /// Nearest-class-mean accuracy of the representation of the centre
    /// windows, the class means from [`LABELLED`] recordings per class,
    /// scored on all the others.
    pub few_shot_accuracy: f32,
}

/// Labelled recordings per class that the few-shot probe may use.
pub const LABELLED: usize = 1;

/// Measures the network on `recordings` through `drift`, building views
/// from `seed` (the same seed gives the same views before and after
/// training).
///
/// # Errors
///
/// The network's errors (a non-finite input or result).
pub fn evaluate(
    net: &mut Net,
    buffers: &mut Buffers,
    recordings: &Recordings<'_>,
    drift: &Drift,
    seed: u64,
) -> Result<Evaluation, Error> {
    let Buffers { streaming, samples } = buffers;
    let mut sums = [0.0f32; 4];
    let batches = recordings.len() / EFFECTIVE;
    for batch in 0..batches {
        // Recording `batch·EFFECTIVE + row` of every row, its views from
        // the seed and the row.
        let t = net.compute_gradients_streamed(streaming, EFFECTIVE, |first, a, b| {
            views_of_rows(recordings, drift, seed, samples, batch * EFFECTIVE + first, (a, b), |row, _| row);
        })?;
        for (s, v) in sums.iter_mut().zip([t.loss, t.invariance, t.variance, t.covariance]) {
            *s += v / batches.max(1) as f32;
        }
    }

    // Few-shot: the first LABELLED recordings of each class give the class
    // means; every other recording is a query.
    let mut centroids = [[0.0f32; REPR]; CLASSES];
    let mut taken = [0usize; CLASSES];
    let mut labelled = [false; 64];
    let (mut correct, mut queries) = (0, 0);
    let mut window = [[0.0; INPUT]; 1];
    let mut repr = [[0.0; REPR]; 1];
    for pass in 0..2 {
        for i in 0..recordings.len() {
            let label = recordings.label(i);
            let is_labelled = if pass == 0 {
                let take = taken[label] < LABELLED && i < labelled.len();
                if take {
                    taken[label] += 1;
                    labelled[i] = true;
                }
                take
            } else {
                labelled.get(i).copied().unwrap_or(false)
            };
            if (pass == 0) != is_labelled {
                continue;
            }
            recordings.read(i, drift, samples);
            window[0] = views::centre(samples);
            net.represent(&window, &mut repr)?;
            if pass == 0 {
                for (c, v) in centroids[label].iter_mut().zip(&repr[0]) {
                    *c += v / LABELLED as f32;
                }
            } else {
                let distance = |c: &[f32; REPR]| c.iter().zip(&repr[0]).map(|(p, q)| (p - q) * (p - q)).sum::<f32>();
                let nearest = (0..CLASSES).min_by(|&p, &q| distance(&centroids[p]).total_cmp(&distance(&centroids[q])));
                correct += usize::from(nearest == Some(label));
                queries += 1;
            }
        }
    }
    Ok(Evaluation {
        terms: LossTerms { loss: sums[0], invariance: sums[1], variance: sums[2], covariance: sums[3] },
        few_shot_accuracy: correct as f32 / queries.max(1) as f32,
    })
}

/// Whether fine-tuning adapted the encoder: the VICReg loss on the same
/// views of the drifted recordings fell, and the few-shot probe improved.
#[must_use]
pub fn adapted(before: &Evaluation, after: &Evaluation) -> bool {
    after.terms.loss < before.terms.loss && after.few_shot_accuracy > before.few_shot_accuracy
}

/// Fine-tuning steps on the watch, each of [`EFFECTIVE`] recordings.
pub const FINE_TUNE_STEPS: u32 = 40;
/// The seed of the evaluation views, the same before and after.
pub const EVAL_SEED: u64 = 99;

/// What the watch does: [`FINE_TUNE_STEPS`] streamed steps on the drifted
/// recordings (seeds from `seed`, fixed in the firmware, so every run is
/// the same); `on_step` sees each result. Returns the failed steps.
pub fn fine_tune(
    net: &mut Net,
    buffers: &mut Buffers,
    recordings: &Recordings<'_>,
    drift: &Drift,
    seed: u64,
    mut on_step: impl FnMut(u32, Result<LossTerms, Error>),
) -> u32 {
    let mut failed = 0;
    for s in 0..FINE_TUNE_STEPS {
        let batch_seed = seed.wrapping_mul(1000).wrapping_add(u64::from(s));
        let result = step(net, buffers, recordings, drift, batch_seed).map(|r| r.terms);
        failed += u32::from(result.is_err());
        on_step(s, result);
    }
    failed
}

/// The seed of the firmware's fine-tuning batches.
pub const FINE_TUNE_SEED: u64 = 3;

/// The host job's encoder (`train-motions` with its defaults, written by
/// `adapt watch-pretrain`), as the firmware embeds it: parameters and
/// running statistics, no optimiser state.
pub static PRETRAINED: &[u8] = include_bytes!("../watch.ckpt");

/// The 40 test recordings (`adapt watch-recordings`), which pretraining
/// never saw, standardised with the training split's statistics and stored
/// as i16.
pub static RECORDINGS: &[u8] = include_bytes!("../test-recordings.bin");
