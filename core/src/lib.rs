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
//! The folders are the architecture:
//!
//! - [`loss`](mod@loss): the objective. [`loss()`] and [`loss_and_gradients()`] are
//!   kernels on slices with runtime shapes and caller-provided scratch
//!   ([`scratch_len`]), compiled once; [`VicregLoss`] holds the same with
//!   buffers sized by const generics; [`CovarianceSide`] picks the feature
//!   side (d×d) or the batch side (n×n Gram matrix) of the covariance term;
//! - [`nn`]: networks declared once as lists of layers (Linear, BatchNorm,
//!   ReLU, Conv1d, MeanTime) with every size a `const fn` of the declaration,
//!   and the Siamese training and inference passes on slices;
//! - [`train`]: the [`Trainer`] that holds a whole training state in one
//!   value of compile-time size, the optimisers ([`Sgd`], [`PlainSgd`], [`AdamW`],
//!   [`Lars`], with a [`Schedule`]) and [`checkpoint`](train::checkpoint)s;
//! - [`augment`]: jitter, scaling, masking, time shift and crop, image
//!   shifts, drawn from any [`rand_core::RngCore`] ([`Pcg32`] when the chip
//!   has no generator);
//! - [`Lanes`]: explicit SIMD lanes or plain scalar code, for every heavy
//!   loop.
//!
//! # Stack
//!
//! Nothing is allocated; the kernels' working space is the caller's
//! scratch, except for what a product copies while it runs. Without f32
//! vectors (Cortex-M, RISC-V microcontrollers) the register tiles need a
//! few hundred bytes of stack. With vectors (hosts, WASM), a matrix product
//! copies a panel of its right operand to the stack (4 KiB, 16 KiB for an
//! inner dimension over 64), and the loss's large products, the feature
//! side's Zᵀ·Z from d = 512 and the batch side's K·Z_c and K = Z_c·Z_cᵀ from
//! n = 256, copy blocks of their left operand too: 112 KiB in all, within a
//! host thread's or a WASM module's default stack.
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
// `unsafe` lives in one module, `lanes::avx` (run-time AVX2/FMA dispatch,
// `std` on x86-64 only); everywhere else, and in every other build, none.
#![cfg_attr(not(all(feature = "std", target_arch = "x86_64")), forbid(unsafe_code))]
#![cfg_attr(all(feature = "std", target_arch = "x86_64"), deny(unsafe_code))]
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
mod error;
mod lanes;
pub mod loss;
pub mod nn;
mod rng;
pub mod train;
mod wire;

pub use error::Error;
pub use lanes::Lanes;
pub use loss::{
    Config, CovarianceSide, LossTerms, Options, VicregLoss, Views, kernels, loss, loss_and_gradients, scratch_len,
};
pub use rand_core;
pub use rng::{Pcg32, below, gaussian, symmetric_unit, uniform};
pub use train::{AdamW, Lars, Optimizer, PlainSgd, Schedule, Sgd, StepReport, Trainer, TrainerConfig};

/// The README's code, compiled and run as doc tests so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
