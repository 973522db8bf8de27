//! The VICReg objective: its three terms, their gradients, and the two exact
//! formulations of the covariance term.
//!
//! - `objective`: ℓ and ∂ℓ/∂Z on slices with runtime shapes and a caller's
//!   scratch ([`loss()`], [`loss_and_gradients()`], [`scratch_len`]);
//! - `centring`, `invariance`, `variance`, `covariance`, `gram`: one term or
//!   step each, with its equation and gradient in the module's first lines;
//! - `moments` and `streamed`: the same objective from a batch's moments,
//!   accumulated one micro-batch at a time (the passes of `nn::Stream`);
//! - [`VicregLoss`]: the same with buffers sized by const generics;
//! - [`kernels`]: the batch statistics on their own, for monitoring and
//!   benchmarks.

pub(crate) mod centring;
mod config;
pub(crate) mod covariance;
mod fixed;
mod gram;
mod invariance;
pub mod kernels;
pub(crate) mod moments;
mod objective;
pub(crate) mod streamed;
pub(crate) mod variance;

pub use config::Config;
pub use fixed::VicregLoss;
pub(crate) use objective::loss_and_gradients_in;
pub use objective::{
    BothSides, CovarianceSide, LossTerms, Options, Sides, Views, loss, loss_and_gradients, scratch_len,
};
