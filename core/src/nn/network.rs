//! A declared network as a type: [`Network`] carries the declaration and the
//! arrays its sizes call for, so a [`Trainer`](crate::train::Trainer) of it
//! has a size known at compile time and can live in a `static`.
//!
//! Why this shape: stable Rust cannot size an array by arithmetic on a
//! generic parameter, but it can at a concrete declaration site. So the
//! declaration is a `const` [`Net`] (a list of layers, checked by `const fn`s),
//! and [`network!`](crate::network) writes, at that site, a type whose
//! associated arrays are sized by the declaration's `const fn`s. The numeric
//! kernels never see those types: they run on slices, compiled once per kind
//! of layer, so flash grows with the kinds used and not with the number or
//! shapes of the layers (as TensorFlow Lite Micro sizes one arena for a
//! model, but at compile time). The generic trainer is a thin shell that
//! hands its arrays to [`Siamese`](super::Siamese) as slices.

use super::kind::KindSet;
use super::net::{Net, Place};
use super::sizes::Layout;
use super::sizes::Sizes;

/// A fixed-size array of `f32` that a trainer holds: `[f32; L]` for any L.
pub trait Buffer: Copy + core::fmt::Debug + AsRef<[f32]> + AsMut<[f32]> + 'static {
    /// Every element zero (a `static` of it lands in `.bss`).
    const ZERO: Self;

    /// Rows of these as one flat slice.
    fn flatten(rows: &[Self]) -> &[f32];

    /// Rows of these as one flat mutable slice.
    fn flatten_mut(rows: &mut [Self]) -> &mut [f32];

    /// A flat mutable slice as whole rows of these (a partial row at the end
    /// is left out).
    fn rows_mut(flat: &mut [f32]) -> &mut [Self];
}

impl<const L: usize> Buffer for [f32; L] {
    const ZERO: Self = [0.0; L];

    fn flatten(rows: &[Self]) -> &[f32] {
        rows.as_flattened()
    }

    fn flatten_mut(rows: &mut [Self]) -> &mut [f32] {
        rows.as_flattened_mut()
    }

    fn rows_mut(flat: &mut [f32]) -> &mut [Self] {
        flat.as_chunks_mut::<L>().0
    }
}

/// A network declaration with a batch capacity, as a type. Write it with
/// [`network!`](crate::network), which checks the declaration at compile
/// time and sizes every array from it.
pub trait Network: 'static {
    /// The declaration.
    const NET: Net<'static>;
    /// Rows a training batch may hold.
    const BATCH: usize;
    /// Where everything is for that capacity.
    const LAYOUT: Layout;
    /// Every layer's place for that capacity.
    const PLACES: &'static [Place];
    /// The kinds of layer the declaration uses: the passes are compiled with
    /// those kinds' kernels only.
    type Kinds: KindSet;
    /// One input sample, flat (channel-major for a map).
    type Sample: Buffer;
    /// The representation y of one sample.
    type Repr: Buffer;
    /// The embedding z of one sample.
    type Embedding: Buffer;
    /// The trainable parameters (also the shape of the gradients and of each
    /// optimiser state copy).
    type Params: Buffer;
    /// BatchNorm's running statistics.
    type Running: Buffer;
    /// A training step's activations, gradient buffers and loss scratch.
    type Workspace: Buffer;
    /// What a streamed step needs beside the trainer (see
    /// [`Trainer::step_streamed`](crate::Trainer::step_streamed)): the
    /// stream's state and one micro-batch of both views' inputs.
    type Streaming: Buffer;
}

/// Every size of a network type, for memory reports.
#[must_use]
pub const fn sizes<N: Network>() -> Sizes {
    N::LAYOUT.sizes
}

/// Declares a network type from a `const` [`Net`](crate::nn::Net) and a batch
/// capacity: checks the declaration at compile time (a layer that does not
/// fit its input is a compile error naming the problem) and sizes every
/// buffer from it.
///
/// ```
/// use vicreg::nn::{Layer, Net, Shape};
/// use vicreg::train::{Sgd, Trainer};
///
/// const FIRMWARE: Net = Net::new(
///     Shape::Flat(32),
///     &[Layer::linear(24), Layer::ReLU, Layer::linear(8)],
///     &[Layer::linear(24), Layer::BatchNorm, Layer::ReLU, Layer::linear(24)],
/// );
/// vicreg::network!(
///     /// The firmware's encoder and expander, batches of 16.
///     pub Firmware = FIRMWARE, batch 16
/// );
/// type Device = Trainer<Firmware, Sgd>;
/// const _: () = assert!(Device::MEMORY_BYTES < 48 * 1024);
/// ```
///
/// A declaration that is not a network does not compile; the error names
/// the problem ("Conv1d's kernel is longer than the padded window"):
///
/// ```compile_fail
/// use vicreg::nn::{Layer, Net, Shape};
/// const WINDOW: Net = Net::new(Shape::Map { channels: 1, length: 4 }, &[Layer::conv1d(2, 9)], &[]);
/// vicreg::network!(Window = WINDOW, batch 8);
/// ```
///
/// So do a zero width and a batch capacity of zero (a capacity of one row
/// streams and infers; a full-batch step of one row is refused when it
/// runs):
///
/// ```compile_fail
/// use vicreg::nn::{Layer, Net, Shape};
/// const EMPTY: Net = Net::new(Shape::Flat(8), &[Layer::linear(0)], &[]);
/// vicreg::network!(Empty = EMPTY, batch 8);
/// ```
///
/// ```compile_fail
/// use vicreg::nn::{Layer, Net, Shape};
/// const NONE: Net = Net::new(Shape::Flat(8), &[Layer::linear(4)], &[]);
/// vicreg::network!(Nothing = NONE, batch 0);
/// ```
#[macro_export]
macro_rules! network {
    ($(#[$meta:meta])* $vis:vis $name:ident = $net:expr, batch $batch:expr $(,)?) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        $vis struct $name;

        const _: () = $crate::nn::Net::assert_valid(&$net, $batch);

        impl $crate::nn::Network for $name {
            const NET: $crate::nn::Net<'static> = $net;
            const BATCH: usize = $batch;
            const LAYOUT: $crate::nn::Layout = match $crate::nn::Layout::of(&$net, $batch) {
                Some(layout) => layout,
                None => panic!("invalid network"),
            };
            const PLACES: &'static [$crate::nn::Place] =
                &$crate::nn::Net::places::<{ $crate::nn::Net::depth(&$net) }>(&$net, $batch);
            type Kinds = $crate::nn::Kinds<
                { $crate::nn::Net::kind_set(&$net) },
                { $crate::nn::Net::uses_maps(&$net) },
                { $crate::nn::Net::feature_side_fits(&$net, $batch) },
            >;
            type Sample = [f32; $crate::nn::Net::sizes(&$net, $batch).input];
            type Repr = [f32; $crate::nn::Net::sizes(&$net, $batch).repr];
            type Embedding = [f32; $crate::nn::Net::sizes(&$net, $batch).embed];
            type Params = [f32; $crate::nn::Net::sizes(&$net, $batch).parameters];
            type Running = [f32; $crate::nn::Net::sizes(&$net, $batch).running];
            type Workspace = [f32; $crate::nn::Net::sizes(&$net, $batch).workspace];
            type Streaming = [f32; $crate::nn::Net::streaming_len(&$net, $batch)];
        }
    };
}
