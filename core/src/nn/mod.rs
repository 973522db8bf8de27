//! Networks declared as lists of layers, and their Siamese passes.
//!
//! - [`Layer`] (with [`Linear`], [`Conv1d`]) and [`Shape`]: what a network
//!   is made of; one file per kind of layer holds its shape rule, forward
//!   and backward kernels (`linear`, `batch_norm`, `relu`, `conv1d`,
//!   `mean_time`);
//! - [`Net`]: a declaration (input shape, encoder, expander) and every size
//!   it implies, as `const fn`s; [`Tensor`]s name its parameters;
//! - [`Siamese`]: the training and inference passes on flat buffers;
//! - [`Network`] and [`network!`](crate::network): a declaration as a type with
//!   compile-time arrays, for [`Trainer`](crate::train::Trainer);
//! - [`Frozen`]: layers that do not train.

mod batch_norm;
mod conv1d;
mod frozen;
mod kinds;
mod layer;
pub(crate) mod linear;
mod mean_time;
mod net;
mod network;
#[cfg(feature = "std")]
mod parallel;
mod relu;
mod shape;
mod siamese;
mod stream;

pub use batch_norm::NormConfig;
pub use conv1d::Conv1d;
pub use frozen::Frozen;
pub use kinds::{AllKinds, KindSet, Kinds};
pub use layer::Layer;
pub use linear::Linear;
pub use net::{Net, NetError, Place, Role, Sizes, Tensor, Tensors};
pub use network::{Buffer, Network, sizes};
#[cfg(feature = "std")]
pub use parallel::parallel_gradients;
pub use shape::Shape;
pub(crate) use siamese::Poison;
pub use siamese::{Layout, Pass, Siamese};
pub use stream::{Stream, StreamError};
