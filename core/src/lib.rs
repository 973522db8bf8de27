//! VICReg self-supervised learning for microcontrollers and WASM: no heap,
//! no `std`, fixed capacities.
//!
//! VICReg (Bardes, Ponce, LeCun, ICLR 2022) trains an encoder from pairs of
//! augmented views of unlabelled data, with a loss of three terms on the two
//! views' embeddings Z, Z′ (n rows of d features):
//!
//! ℓ = λ·s(Z, Z′) + μ·(v(Z) + v(Z′)) + ν·(c(Z) + c(Z′))
//!
//! - invariance s = (1/(n·d)) Σᵢⱼ (zᵢⱼ − z′ᵢⱼ)²: the views agree;
//! - variance v(Z) = (1/(2d)) Σⱼ max(0, γ − √(Varⱼ + ε)), Varⱼ the unbiased
//!   variance of feature j: every feature keeps a spread near γ (no collapse);
//! - covariance c(Z) = (1/d) Σ_{j≠k} C_jk², C = Z_cᵀZ_c/(n − 1) with Z_c the
//!   column-centred batch: the features are decorrelated (no dimensional
//!   collapse).
//!
//! The normalisation is the official implementation's (not the paper's
//! printed formula), so that the default coefficients λ = μ = 25, ν = 1 mean
//! what they mean there.
//!
//! # Layout
//!
//! - [`loss()`] and [`loss_and_gradients()`]: kernels on slices with runtime
//!   shapes and caller-provided scratch ([`scratch_len`]), compiled once;
//! - [`VicregLoss`]: the same with buffers sized by const generics, and its
//!   memory as a constant;
//! - [`CovarianceSide`]: the covariance term on the feature side (d×d) or the
//!   batch side (n×n Gram matrix), chosen by shape or by hand;
//! - [`Lanes`]: explicit SIMD lanes or plain scalar code;
//! - [`Trainer`]: the Siamese network (Linear, ReLU, BatchNorm encoder and
//!   expander, [`Parameters`]), its backward pass, an [`Optimizer`]
//!   ([`Sgd`], [`AdamW`], [`Lars`], with a [`Schedule`]) and every buffer of a
//!   training step, with its memory as a constant ([`Trainer::MEMORY`]);
//! - [`augment`]: jitter, scaling, masking, time shift and crop, image shifts,
//!   drawn from any [`rand_core::RngCore`] ([`Pcg32`] when the chip has no
//!   generator);
//! - [`checkpoint`]: parameters and optimiser state to and from bytes, with a
//!   header and a CRC-32.
//!
//! # Example
//!
//! ```
//! use vicreg::{Config, Options, VicregLoss};
//!
//! let mut vicreg = VicregLoss::<8, 4, 4>::new(Config::default(), Options::default());
//! let z_a = [[0.1, 0.9, -0.3, 0.5], [1.2, -0.4, 0.8, 0.0], [-0.7, 0.3, 0.1, -1.1]];
//! let z_b = [[0.2, 0.8, -0.2, 0.4], [1.0, -0.5, 0.9, 0.1], [-0.6, 0.2, 0.0, -1.0]];
//! let (mut g_a, mut g_b) = ([[0.0; 4]; 3], [[0.0; 4]; 3]);
//! let terms = vicreg.loss_and_gradients(&z_a, &z_b, &mut g_a, &mut g_b)?;
//! assert!(terms.loss.is_finite() && terms.variance > 0.0);
//! # Ok::<(), vicreg::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::pedantic)]
#![allow(
    clippy::cast_precision_loss,
    clippy::many_single_char_names,
    clippy::similar_names,
    clippy::module_name_repetitions,
    clippy::doc_markdown
)]

pub mod augment;
mod batch_norm;
mod centring;
pub mod checkpoint;
mod config;
mod covariance;
mod error;
mod fixed;
mod gram;
mod invariance;
pub mod kernels;
mod lanes;
mod linear;
mod loss;
mod network;
mod optim;
mod rng;
mod trainer;
mod variance;

pub use config::Config;
pub use error::Error;
pub use fixed::VicregLoss;
pub use lanes::Lanes;
pub use loss::{CovarianceSide, LossTerms, Options, Views, loss, loss_and_gradients, scratch_len};
pub use network::{Arch, Dims, Frozen, Layer, Parameters, Tensor};
pub use optim::{AdamW, Lars, Optimizer, Schedule, Sgd};
pub use rand_core;
pub use rng::{Pcg32, below, gaussian, symmetric_unit, uniform};
#[cfg(feature = "fault-injection")]
pub use trainer::Fault;
pub use trainer::{Memory, StepReport, Trainer, TrainerConfig};

/// The README's code, compiled and run as doc tests so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
