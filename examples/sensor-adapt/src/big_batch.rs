//! Training with an effective batch of 512 windows in a 64 KiB part: the
//! trainer holds micro-batches of [`MICRO`] rows, and each step streams the
//! whole effective batch through it ([`Trainer::step_streamed`]), so the
//! variance and covariance terms see 512 rows while the RAM holds 8.
//!
//! The device cannot keep 512 windows (64 KiB alone): it keeps the seed of
//! each in a ring of the last [`EFFECTIVE`] ([`SeedRing`], 2 KiB), and
//! regenerates a window, and its two augmented views, from its seed at every
//! stage of the step. A device with a real sensor would keep the windows in
//! flash, or a compressed copy, and replay them the same way.

use crate::{AUGMENT, Drift, INPUT, NETWORK, SensorStream, Window, config};
use heapless::HistoryBuf;
use vicreg::augment::Augment;
use vicreg::nn::Network;
use vicreg::{Error, LossTerms, Pcg32, Sgd, StepReport, Trainer};

/// Rows the trainer holds at a time.
pub const MICRO: usize = 8;
/// Rows of an effective batch.
pub const EFFECTIVE: usize = 512;

vicreg::network!(
    /// [`NETWORK`] with micro-batches of [`MICRO`] rows.
    pub Micro = NETWORK, batch MICRO
);

/// The training state: [`Micro`] with SGD and momentum.
pub type MicroNet = Trainer<Micro, Sgd>;

/// The stream's state and one micro-batch of inputs.
pub type Streaming = <Micro as Network>::Streaming;

/// The seeds of the windows of the effective batch, oldest first.
pub type SeedRing = HistoryBuf<u32, EFFECTIVE>;

/// Bytes of everything a streamed step keeps: the trainer, the stream's
/// buffers and the seed ring.
pub const STATE_BYTES: usize = MicroNet::MEMORY_BYTES + MicroNet::STREAMING_BYTES + core::mem::size_of::<SeedRing>();

/// Window `seed` of the drifted stream, and its two augmented views drawn
/// from the same seed: the same every time they are asked for.
fn views(seed: u32, drift: Drift) -> (Window, Window) {
    let window = SensorStream::new(u64::from(seed), drift).next_window().0;
    let mut rng = Pcg32::new(u64::from(seed) ^ 0xa5a5_5a5a);
    let (mut a, mut b) = (window, window);
    // `checked_augment` refused an augmentation that can fail before the
    // step started.
    let _ = AUGMENT.apply(&mut a, &mut rng);
    let _ = AUGMENT.apply(&mut b, &mut rng);
    (a, b)
}

/// Runs the augmentation once on a window so that a bad setting is refused
/// before a step streams its batch.
fn checked_augment() -> Result<(), Error> {
    let mut w = [0.0; INPUT];
    AUGMENT.apply(&mut w, &mut Pcg32::new(0))
}

/// Rows `first..` of both views of the effective batch the ring describes.
pub fn fill(ring: &SeedRing, drift: Drift, first: usize, x_a: &mut [Window], x_b: &mut [Window]) {
    for ((seed, a), b) in ring.oldest_ordered().skip(first).zip(x_a.iter_mut()).zip(x_b.iter_mut()) {
        (*a, *b) = views(*seed, drift);
    }
}

/// Fills the ring with the seeds of `EFFECTIVE` new windows, numbered from
/// `start`.
pub fn collect(ring: &mut SeedRing, start: u32) {
    for i in 0..EFFECTIVE as u32 {
        ring.write(start.wrapping_add(i));
    }
}

/// A network ready to fine-tune with effective batches: SGD with momentum
/// 0.9 and weight decay 1e-4 at learning rate `lr` over `steps` steps.
#[must_use]
pub const fn new_net(lr: f32, steps: u32) -> MicroNet {
    MicroNet::new(config(lr, steps), Sgd::new(0.9, 1e-4))
}

/// One training step on the effective batch in `ring`.
///
/// # Errors
///
/// Those of [`Trainer::step_streamed`].
pub fn step(net: &mut MicroNet, streaming: &mut Streaming, ring: &SeedRing, drift: Drift) -> Result<StepReport, Error> {
    checked_augment()?;
    net.step_streamed(streaming, ring.len(), |first, a, b| fill(ring, drift, first, a, b))
}

/// The loss of the effective batch in `ring`, without training.
///
/// # Errors
///
/// Those of [`Trainer::compute_gradients_streamed`].
pub fn loss(net: &mut MicroNet, streaming: &mut Streaming, ring: &SeedRing, drift: Drift) -> Result<LossTerms, Error> {
    checked_augment()?;
    net.compute_gradients_streamed(streaming, ring.len(), |first, a, b| fill(ring, drift, first, a, b))
}

/// What the firmware runs: the loss of a held-out effective batch, `steps`
/// streamed steps on effective batches of new windows (each step a fresh
/// set of 512), the held-out loss again. `on_step` sees each report;
/// returns (loss before, loss after, failed steps).
///
/// # Errors
///
/// The held-out loss's errors.
pub fn fine_tune(
    net: &mut MicroNet,
    streaming: &mut Streaming,
    ring: &mut SeedRing,
    steps: u32,
    mut on_step: impl FnMut(u32, &Result<StepReport, Error>),
) -> Result<(LossTerms, LossTerms, u32), Error> {
    const HELD_OUT: u32 = 0x8000_0000;
    collect(ring, HELD_OUT);
    let before = loss(net, streaming, ring, Drift::DEVICE)?;
    let mut failed = 0;
    for s in 0..steps {
        collect(ring, 1 + s * EFFECTIVE as u32);
        let result = step(net, streaming, ring, Drift::DEVICE);
        failed += u32::from(result.is_err());
        on_step(s, &result);
    }
    collect(ring, HELD_OUT);
    let after = loss(net, streaming, ring, Drift::DEVICE)?;
    Ok((before, after, failed))
}
