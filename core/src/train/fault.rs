//! Fault injection (feature `fault-injection`): poison the next step's
//! activations or gradients, for testing that a firmware survives what a
//! glitch would do. Off in production builds.

use crate::nn::Poison;

/// Where [`Trainer::inject_fault`](super::Trainer::inject_fault) poisons the
/// next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The first value of view a's representation, after the encoder.
    Activation,
    /// The first gradient element, after the backward pass.
    Gradient,
}

/// The poison for a pending fault, which it consumes.
pub(crate) fn take(pending: &mut Option<(Fault, f32)>) -> Poison {
    match pending.take() {
        Some((Fault::Activation, value)) => Poison::Activation(value),
        Some((Fault::Gradient, value)) => Poison::Gradient(value),
        None => Poison::None,
    }
}
