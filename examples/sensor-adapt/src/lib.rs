//! On-device adaptation, shared by the Cortex-M4F firmware, its portability
//! builds and the host tests: a stream of sensor-like windows, the drift a
//! deployed device sees, and the fine-tuning loop with its before/after
//! figures. `no_std`, no heap.
//!
//! The sensor: 4 channels × 8 time steps (an accelerometer and a microphone
//! envelope, say), each window one of four activities with its own rhythm and
//! per-channel amplitudes, at a random phase, plus noise. On the device the
//! stream drifts: the sensor's gains and offsets change, two channels are
//! swapped (a board mounted the other way round) and the noise grows.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod big_batch;

use vicreg::augment::{Augment, Jitter, Mask, Scale, TimeShift, ViewPair};
use vicreg::nn::{self, Layer, Shape};
use vicreg::{Error, LossTerms, Pcg32, Schedule, Sgd, Trainer, TrainerConfig};

/// Channels per window (a window is channel-major: channel c's steps at
/// `c·STEPS..(c + 1)·STEPS`).
pub const CHANNELS: usize = 4;
/// Time steps per window.
pub const STEPS: usize = 8;
/// Features per window.
pub const INPUT: usize = CHANNELS * STEPS;
/// Rows per training batch.
pub const BATCH: usize = 16;
/// Activities in the stream.
pub const CLASSES: usize = 4;
/// Width of the representation the device keeps.
pub const REPR: usize = 8;

/// The network: a 32 → 24 → 8 encoder and the official expander shape
/// 8 → 24 (BatchNorm, ReLU) → 24 without a final bias.
pub const NETWORK: nn::Net = nn::Net::new(
    Shape::Flat(INPUT),
    &[Layer::linear(24), Layer::ReLU, Layer::linear(REPR)],
    &[Layer::linear(24), Layer::BatchNorm, Layer::ReLU, Layer::linear(24).without_bias()],
);

vicreg::network!(
    /// [`NETWORK`] with batches of [`BATCH`] rows.
    pub Sensor = NETWORK, batch BATCH
);

/// The training state: [`Sensor`] with SGD and momentum.
pub type Net = Trainer<Sensor, Sgd>;

/// A window of the stream.
pub type Window = [f32; INPUT];

/// The two augmented views of a batch, built in place.
pub type Pair = vicreg::augment::ViewPair<BATCH, INPUT>;

/// Bytes of the fine-tuning firmware's training: the trainer and the views
/// of a batch (asserted by the firmware to fit its part with room for the
/// stack).
pub const TRAINING_BYTES: usize = Net::MEMORY_BYTES + core::mem::size_of::<Pair>();

/// How the deployed sensor differs from the one the model was trained on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Drift {
    /// Multiplies each channel.
    pub gain: [f32; CHANNELS],
    /// Added to each channel.
    pub offset: [f32; CHANNELS],
    /// Standard deviation of the noise.
    pub noise: f32,
    /// Channels 0 and 1 swapped.
    pub swap: bool,
}

impl Drift {
    /// The pretraining sensor.
    pub const NONE: Self = Self { gain: [1.0; CHANNELS], offset: [0.0; CHANNELS], noise: 0.1, swap: false };
    /// The deployed sensor.
    pub const DEVICE: Self =
        Self { gain: [2.5, 0.4, 1.6, 0.6], offset: [0.8, -0.5, 0.3, -0.9], noise: 0.2, swap: true };
}

/// A stream of labelled windows (labels are for evaluation only: training
/// never sees them).
#[derive(Clone, Debug)]
pub struct SensorStream {
    rng: Pcg32,
    drift: Drift,
}

/// Per class: cycles per window and each channel's amplitude.
const ACTIVITIES: [(f32, [f32; CHANNELS]); CLASSES] = [
    (0.5, [1.0, 0.2, 0.6, 0.1]),
    (1.0, [0.3, 1.0, 0.2, 0.8]),
    (1.5, [0.8, 0.8, 1.0, 0.3]),
    (2.5, [0.2, 0.4, 0.5, 1.0]),
];

impl SensorStream {
    /// A stream through a sensor with the given drift.
    #[must_use]
    pub fn new(seed: u64, drift: Drift) -> Self {
        Self { rng: Pcg32::new(seed), drift }
    }

    /// The next window and its activity.
    pub fn next_window(&mut self) -> (Window, usize) {
        let label = vicreg::below(&mut self.rng, CLASSES as u32) as usize;
        (self.window(label), label)
    }

    /// A window of activity `label`.
    pub fn window(&mut self, label: usize) -> Window {
        let (cycles, amplitude) = ACTIVITIES[label % CLASSES];
        let phase = core::f32::consts::TAU * vicreg::uniform(&mut self.rng);
        let d = self.drift;
        let mut w = [0.0; INPUT];
        for t in 0..STEPS {
            let angle = core::f32::consts::TAU * cycles * t as f32 / STEPS as f32 + phase;
            // Channels 0 and 2 follow the rhythm, 1 and 3 its quadrature.
            let (s, c) = (libm::sinf(angle), libm::cosf(angle));
            for (ch, amp) in amplitude.iter().enumerate() {
                let clean = amp * if ch % 2 == 0 { s } else { c };
                let source = if d.swap && ch < 2 { 1 - ch } else { ch };
                w[source * STEPS + t] = d.gain[ch] * clean + d.offset[ch] + d.noise * vicreg::gaussian(&mut self.rng);
            }
        }
        w
    }

    /// Fills `batch` with unlabelled windows.
    pub fn fill(&mut self, batch: &mut [Window]) {
        for w in batch {
            *w = self.next_window().0;
        }
    }
}

/// The augmentation both phases use: time shift by a step, gain ×0.8–1.2,
/// jitter, 10 % masking.
pub const AUGMENT: (TimeShift, Scale, Jitter, Mask) = (
    TimeShift { channels: CHANNELS, max_shift: 1 },
    Scale { low: 0.8, high: 1.2 },
    Jitter { sigma: 0.05 },
    Mask { probability: 0.1 },
);

/// The training configuration: official loss and expander, SGD learning
/// rate `lr` with a short warm-up.
#[must_use]
pub const fn config(lr: f32, total_steps: u32) -> TrainerConfig {
    // The defaults (`TrainerConfig::new`) but for the schedule.
    TrainerConfig {
        schedule: Schedule { base_lr: lr, final_lr: lr * 0.1, warmup_steps: 10, total_steps },
        ..TrainerConfig::new(lr)
    }
}

/// `steps` VICReg steps on windows from `stream`; `on_step` sees each
/// report. Returns the number of steps that failed (and were skipped).
pub fn train<A: Augment>(
    net: &mut Net,
    stream: &mut SensorStream,
    pair: &mut ViewPair<BATCH, INPUT>,
    augment: &A,
    steps: u32,
    rng: &mut Pcg32,
    mut on_step: impl FnMut(u32, Result<LossTerms, Error>),
) -> u32 {
    let mut batch = [[0.0; INPUT]; BATCH];
    let mut failed = 0;
    for step in 0..steps {
        stream.fill(&mut batch);
        let result = match pair.generate(&batch, augment, rng) {
            Ok((a, b)) => net.step(a, b).map(|r| r.terms),
            Err(e) => Err(e),
        };
        if result.is_err() {
            failed += 1;
        }
        on_step(step, result);
    }
    failed
}

/// Before/after figures on the drifted stream.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Evaluation {
    /// VICReg loss terms on fixed pairs of augmented views (mean over the
    /// evaluation batches).
    pub terms: LossTerms,
    /// Smallest standard deviation of a representation dimension.
    pub min_repr_std: f32,
    /// Nearest-centroid accuracy on 128 query windows from 4 labelled
    /// windows per activity.
    pub few_shot_accuracy: f32,
}

/// Measures the network on a stream seeded with `seed` (the same seed gives
/// the same windows and views before and after training); `pair` is
/// workspace for the augmented views.
///
/// # Errors
///
/// The network's errors (a non-finite input or result).
pub fn evaluate(
    net: &mut Net,
    pair: &mut ViewPair<BATCH, INPUT>,
    drift: Drift,
    seed: u64,
) -> Result<Evaluation, Error> {
    let mut stream = SensorStream::new(seed, drift);
    let mut rng = Pcg32::new(seed ^ 0x5eed);
    let mut batch = [[0.0; INPUT]; BATCH];
    let mut terms = [0.0f32; 4];
    let batches = 4;
    for _ in 0..batches {
        stream.fill(&mut batch);
        let (a, b) = pair.generate(&batch, &AUGMENT, &mut rng)?;
        let t = net.compute_gradients(a, b)?;
        for (s, v) in terms.iter_mut().zip([t.loss, t.invariance, t.variance, t.covariance]) {
            *s += v / batches as f32;
        }
    }

    // Few-shot probe: class centroids of 4 labelled windows each.
    let mut centroids = [[0.0f32; REPR]; CLASSES];
    const _: () = assert!(CLASSES * 4 == BATCH);
    for (i, w) in batch.iter_mut().enumerate() {
        *w = stream.window(i % CLASSES);
    }
    let mut repr = [[0.0; REPR]; BATCH];
    net.represent(&batch, &mut repr)?;
    for (i, r) in repr.iter().enumerate() {
        for (c, v) in centroids[i % CLASSES].iter_mut().zip(r) {
            *c += v / 4.0;
        }
    }
    let (mut correct, mut total) = (0, 0);
    let (mut sum, mut sum_sq) = ([0.0f32; REPR], [0.0f32; REPR]);
    for _ in 0..8 {
        let mut labels = [0usize; BATCH];
        for (w, l) in batch.iter_mut().zip(labels.iter_mut()) {
            (*w, *l) = stream.next_window();
        }
        let mut r = [[0.0; REPR]; BATCH];
        net.represent(&batch, &mut r)?;
        for (ri, &label) in r.iter().zip(&labels) {
            let distance = |c: &[f32; REPR]| c.iter().zip(ri).map(|(a, b)| (a - b) * (a - b)).sum::<f32>();
            let nearest = (0..CLASSES).min_by(|&a, &b| distance(&centroids[a]).total_cmp(&distance(&centroids[b])));
            correct += usize::from(nearest == Some(label));
            total += 1;
            for j in 0..REPR {
                sum[j] += ri[j];
                sum_sq[j] += ri[j] * ri[j];
            }
        }
    }
    let n = total as f32;
    let min_repr_std = (0..REPR)
        .map(|j| libm::sqrtf(((sum_sq[j] - sum[j] * sum[j] / n) / (n - 1.0)).max(0.0)))
        .fold(f32::INFINITY, f32::min);
    Ok(Evaluation {
        terms: LossTerms { loss: terms[0], invariance: terms[1], variance: terms[2], covariance: terms[3] },
        min_repr_std,
        few_shot_accuracy: correct as f32 / n,
    })
}

/// Pretraining steps on the undrifted stream (on the host).
pub const PRETRAIN_STEPS: u32 = 3000;
/// Fine-tuning steps on the device.
pub const FINE_TUNE_STEPS: u32 = 300;
/// The seed of the evaluation stream, the same before and after.
pub const EVAL_SEED: u64 = 99;

/// The checkpoint pretrained on the host (`adapt pretrain`), as the firmware
/// embeds it: parameters and running statistics, no optimiser state.
pub static PRETRAINED: &[u8] = include_bytes!("../pretrained.ckpt");

/// A network ready to pretrain (`lr` 0.01) or fine-tune (`lr` 0.02): SGD with
/// momentum 0.9 and weight decay 1e-4; parameters zero until `init` or `load`.
#[must_use]
pub const fn new_net(lr: f32, steps: u32) -> Net {
    Net::new(config(lr, steps), Sgd::new(0.9, 1e-4))
}

/// What the host does before deployment: initialise from seed 7 and train
/// [`PRETRAIN_STEPS`] on the undrifted stream, augmentations drawn from their
/// own generator (seed 1007), so that the draws of one never shift the
/// other's. Returns the failed steps.
pub fn pretrain(net: &mut Net, pair: &mut ViewPair<BATCH, INPUT>) -> u32 {
    net.init(&mut Pcg32::new(7));
    let mut rng = Pcg32::new(1007);
    let mut stream = SensorStream::new(1, Drift::NONE);
    train(net, &mut stream, pair, &AUGMENT, PRETRAIN_STEPS, &mut rng, |_, _| {})
}

/// What the device does: [`FINE_TUNE_STEPS`] VICReg steps on the drifted
/// stream (seeds fixed, so every run is the same). Returns the failed steps.
pub fn fine_tune(
    net: &mut Net,
    pair: &mut ViewPair<BATCH, INPUT>,
    on_step: impl FnMut(u32, Result<LossTerms, Error>),
) -> u32 {
    let mut stream = SensorStream::new(2, Drift::DEVICE);
    let mut rng = Pcg32::new(3);
    train(net, &mut stream, pair, &AUGMENT, FINE_TUNE_STEPS, &mut rng, on_step)
}

/// Whether fine-tuning adapted the encoder: the VICReg loss on the drifted
/// stream fell by at least 10 % and the few-shot probe improved.
#[must_use]
pub fn adapted(before: &Evaluation, after: &Evaluation) -> bool {
    after.terms.loss < 0.9 * before.terms.loss && after.few_shot_accuracy > before.few_shot_accuracy
}

/// Floating-point operations of one training step of [`Net`], dominant
/// terms (a multiply-add counts 2): per view and row, the four Linear layers
/// forward (2·Σ in·out), their weight gradients (the same) and the input
/// gradients of all but the first (2·Σ in·out without the first); the loss on
/// the batch side (n = 16 < d = 24): the Gram matrix's upper triangle
/// (n(n+1)·d), K·Z_c (2·n²·d) and about 16 flops per embedding element, per
/// branch; and SGD's 4 flops per parameter.
pub const STEP_FLOPS: u64 = {
    let (h, e) = (24, 24);
    let layers = INPUT * h + h * REPR + REPR * e + e * e;
    let per_row = 2 * layers + 2 * layers + 2 * (layers - INPUT * h);
    let network = 2 * BATCH * per_row;
    let loss = 2 * (BATCH * (BATCH + 1) * e + 2 * BATCH * BATCH * e + 16 * BATCH * e);
    let params = NETWORK.parameter_count();
    (network + loss + 4 * params) as u64
};
