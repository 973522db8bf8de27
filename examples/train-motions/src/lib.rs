//! The BasicMotions recordings as the sensor job reads them, and the job's
//! training recipe (also used by the host tools that prepare the watch
//! firmware's data and checkpoint: the watch fine-tunes the job's own
//! encoder).

pub mod data;

use data::Recording;
use linear_probe::shuffle;
use motion_adapt::motion::{BATCH, Motion};
use motion_adapt::views::{self, RECIPE};
use vicreg::{AdamW, Error, Pcg32, Schedule, StepReport, Trainer, TrainerConfig};

/// The job's training state: the sensor network with AdamW.
pub type Motions = Trainer<Motion, AdamW>;

/// The job's defaults: epochs, seed and peak learning rate.
pub const EPOCHS: usize = 300;
/// The job's default seed.
pub const SEED: u64 = 0;
/// The job's default peak learning rate.
pub const LR: f32 = 1e-3;

/// A trainer with the job's recipe for `epochs` over `recordings` training
/// recordings: AdamW without weight decay, a warm-up of 20 steps, then a
/// cosine down to a hundredth (the encoder settles at the end of the run
/// instead of wandering with the last batches). Parameters zero until
/// `init` or `load`.
#[must_use]
pub fn trainer(lr: f32, epochs: usize, recordings: usize) -> Box<Motions> {
    let total = u32::try_from(epochs * recordings.div_ceil(BATCH)).unwrap_or(u32::MAX);
    let schedule = Schedule { base_lr: lr, final_lr: lr * 0.01, warmup_steps: 20, total_steps: total };
    let config = TrainerConfig { schedule, ..TrainerConfig::new(lr) };
    Box::new(Trainer::new(config, AdamW::new(0.0)))
}

/// What an epoch's step tells its caller.
pub enum Tick<'r> {
    /// A step's report.
    Step(&'r StepReport),
    /// An epoch ended.
    Epoch,
}

/// The job's training: `epochs` passes over `train` in shuffled batches of
/// [`BATCH`] recordings (a last batch of one is skipped), two views of each
/// drawn from `rng`. `on` sees every step and the end of every epoch, and
/// stops the run by returning `false`.
///
/// # Errors
///
/// A step's error, with the step it failed at.
pub fn train(
    trainer: &mut Motions,
    train: &[&Recording],
    epochs: usize,
    rng: &mut Pcg32,
    mut on: impl FnMut(Tick<'_>) -> bool,
) -> Result<(), (u32, Error)> {
    let mut order: Vec<usize> = (0..train.len()).collect();
    let (mut a, mut b) = (Vec::with_capacity(BATCH), Vec::with_capacity(BATCH));
    for _ in 0..epochs {
        shuffle(&mut order, rng);
        for chunk in order.chunks(BATCH).filter(|c| c.len() >= 2) {
            a.clear();
            b.clear();
            for &i in chunk {
                a.push(views::view(&train[i].samples, rng, &RECIPE));
                b.push(views::view(&train[i].samples, rng, &RECIPE));
            }
            let report = trainer.step(&a, &b).map_err(|e| (trainer.steps(), e))?;
            if !on(Tick::Step(&report)) {
                return Ok(());
            }
        }
        if !on(Tick::Epoch) {
            return Ok(());
        }
    }
    Ok(())
}
