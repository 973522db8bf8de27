//! Networks declared as lists of layers, and their Siamese passes.
//!
//! - [`Layer`] (with [`Linear`], [`Conv1d`]) and [`Shape`]: what a network
//!   is made of. Each kind of layer is one file under `kinds/` (its
//!   constant facts, shape rule, record and kernels, behind the `Kind`
//!   trait of `kind.rs`); `kinds.rs` registers each with one line and
//!   generates [`Layer`] and every dispatch on it; `layer.rs` holds the
//!   builders (`Layer::linear(64)`); [`KindSet`] says which kinds' kernels
//!   a network's passes are compiled with;
//! - [`Net`]: a declaration (input shape, encoder, expander) and every size
//!   it implies, as `const fn`s; [`Tensor`]s name its parameters;
//! - [`Siamese`]: the training and inference passes on flat buffers;
//! - [`Network`] and [`network!`](crate::network): a declaration as a type with
//!   compile-time arrays, for [`Trainer`](crate::train::Trainer);
//! - [`Frozen`]: layers that do not train.

mod frozen;
mod inference;
mod init;
pub(crate) mod kind;
mod kinds;
mod layer;
mod net;
mod network;
#[cfg(feature = "std")]
mod parallel;
mod shape;
mod siamese;
mod sizes;
mod stream;
mod tensors;

pub use frozen::Frozen;
pub use kind::{AllKinds, Counts, Field, KindSet, Kinds, NormConfig};
pub use kinds::{AvgPool2d, Conv1d, Conv2d, Layer, Linear, MaxPool2d};
pub use net::{Net, NetError, Place};
pub use network::{Buffer, Network, sizes};
#[cfg(feature = "std")]
pub use parallel::parallel_gradients;
pub use shape::Shape;
pub(crate) use siamese::Poison;
pub use siamese::{Pass, Siamese};
pub use sizes::{Layout, Sizes};
pub use stream::Stream;
pub use stream::shards::StreamError;
pub use tensors::{Role, Tensor, Tensors};
