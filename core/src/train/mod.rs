//! Training: the [`Trainer`] that holds a whole training state in one value,
//! the optimisers and their schedule, and checkpoints.

pub mod checkpoint;
#[cfg(feature = "fault-injection")]
mod fault;
pub(crate) mod optim;
mod schedule;
mod trainer;

#[cfg(feature = "fault-injection")]
pub use fault::Fault;
pub use optim::{AdamW, Lars, Optimizer, PlainSgd, Sgd, State};
pub use schedule::Schedule;
pub use trainer::{Memory, StepReport, Trainer, TrainerConfig};
