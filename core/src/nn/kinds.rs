//! The registry of kinds (each in its own file under `kinds/`): every kind of layer is listed here once, by the
//! file that holds it, and this list generates [`Layer`] and every place
//! that dispatches on the kind (its facts, its record, its flag bit, its
//! kernels in the passes). Adding a kind is one new file implementing
//! [`Kind`] (and the `const fn`s its documentation names), its `mod` line
//! and one line in the list here.

use super::kind::{BIAS, Backward, Dims, Field, Forward, Init, Kind, KindSet, NormConfig, Output};
use super::shape::Shape;

pub use avg_pool2d::AvgPool2d;
pub use conv1d::Conv1d;
pub use conv2d::Conv2d;
pub use linear::Linear;
pub use max_pool2d::MaxPool2d;

/// What the kinds that slide a window over an image share.
mod plane;

// The kinds' files, declared outside the macro below: tools that follow
// `mod` statements to find the source (the mutation tester) do not look
// inside a macro, and missed every kind's kernels while the macro declared
// them.
pub(crate) mod avg_pool2d;
pub(crate) mod batch_norm;
pub(crate) mod conv1d;
pub(crate) mod conv2d;
pub(crate) mod linear;
pub(crate) mod max_pool2d;
pub(crate) mod mean_space;
pub(crate) mod mean_time;
pub(crate) mod relu;

/// The kinds, and the module that holds each. A data-carrying kind is
/// written `Variant(Type) in module` (`module::Type` is the declaration);
/// a kind without settings `Variant in module` (`module::Variant` is a unit
/// struct).
macro_rules! kinds {
    ($( $(#[$doc:meta])* $variant:ident $(($data:ident))? in $module:ident; )*) => {

        /// One layer of a network, declared by what it adds to the shape that
        /// reaches it: every width is written once.
        ///
        /// ```
        /// use vicreg::nn::Layer;
        /// // Conv1d: 16 output channels, kernel 5, stride 2, padding 2, no bias.
        /// let conv = Layer::conv1d(16, 5).stride(2).padding(2).without_bias();
        /// let head = [Layer::linear(128), Layer::BatchNorm, Layer::ReLU, Layer::linear(64).without_bias()];
        /// assert_eq!(conv.name(), "conv1d");
        /// assert_eq!(head[3], Layer::Linear(vicreg::nn::Linear { out: 64, bias: false }));
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        pub enum Layer {
            $( $(#[$doc])* $variant $(($module::$data))?, )*
        }

        /// Each kind's position in the list, which gives its flag bit.
        #[derive(Clone, Copy)]
        enum Position { $( $variant, )* }

        impl Layer {
            /// One layer of every kind this crate knows, in the registry's
            /// order (for tests and tools that go through every kind).
            pub const EVERY_KIND: &[Layer] = &[
                $( kinds!(@make $variant $module [$($data)?] <$module::$variant as Kind>::EXAMPLE), )*
            ];

            /// The flags of the kinds that normalise with batch statistics.
            const STATISTICS: u32 = 0 $( | if <$module::$variant as Kind>::BATCH_STATISTICS {
                1 << Position::$variant as u32
            } else {
                0
            } )*;

            /// The kind's checkpoint tag.
            const fn tag(self) -> u8 {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::TAG, )* }
            }

            /// The kind's name, as `torch.nn` modules are named in the
            /// reference format (`linear`, `batchnorm`, `relu`, `conv1d`,
            /// `mean_time`, `conv2d`, `maxpool2d`, `avgpool2d`, `mean_space`).
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::NAME, )* }
            }

            /// The kind's place in the registry, which gives its flag bit.
            const fn position(self) -> u32 {
                match self { $( kinds!(@bind _k $variant $($data)?) => Position::$variant as u32, )* }
            }

            /// Whether the kind's kernels are in every kind set.
            const fn always(self) -> bool {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::ALWAYS, )* }
            }

            /// Whether the weight tensor takes weight decay and LARS's trust
            /// ratio.
            pub(crate) const fn decays_weights(self) -> bool {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::DECAYS, )* }
            }

            /// How the layer's parameters start.
            pub(crate) const fn init(self) -> Init {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::INIT, )* }
            }

            /// Where the layer writes its output.
            pub(crate) const fn output_buffer(self) -> Output {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::OUTPUT, )* }
            }

            /// Whether a later layer may overwrite this layer's output in
            /// place.
            pub(crate) const fn output_reusable(self) -> bool {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::REUSABLE, )* }
            }

            /// Whether the layer normalises with whole-batch statistics (a
            /// streamed batch stops at it; it keeps running statistics).
            pub(crate) const fn batch_statistics(self) -> bool {
                match self { $( kinds!(@bind _k $variant $($data)?) => <$module::$variant as Kind>::BATCH_STATISTICS, )* }
            }

            /// The shape this layer makes of `input`, or why it cannot take it.
            ///
            /// # Errors
            ///
            /// A sentence naming the problem (a zero width, a kernel longer than
            /// the window, a layer that needs a map given a vector, an overflow).
            pub const fn output(self, input: Shape) -> Result<Shape, &'static str> {
                if input.is_empty() {
                    return Err("a layer's input is empty");
                }
                match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).output(input), )*
                }
            }

            /// The weight tensor's shape in PyTorch's layout (out×in for
            /// Linear, out×in×kernel for Conv1d, out×in×K_h×K_w for Conv2d,
            /// C for BatchNorm's γ).
            pub(crate) const fn weight_dims(self, input: Shape) -> Dims {
                match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).weight_dims(input), )*
                }
            }

            /// Elements of the bias tensor (BatchNorm's β).
            pub(crate) const fn biases(self, input: Shape) -> usize {
                match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).biases(input), )*
                }
            }

            /// Inputs that feed one output, which sets PyTorch's default
            /// initialisation bound 1/√fan_in.
            pub(crate) const fn fan_in(self, input: Shape) -> usize {
                match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).fan_in(input), )*
                }
            }

            /// Running statistics kept for inference (BatchNorm's mean and
            /// variance).
            pub(crate) const fn running(self, input: Shape) -> usize {
                match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).running(input), )*
                }
            }

            /// Values of scratch one sample needs in the layer's passes
            /// (Conv2d's rows of taps): once in each view's activations for
            /// forward, and in each of backward's two scratch halves.
            pub(crate) const fn scratch(self, input: Shape) -> usize {
                match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).scratch(input), )*
                }
            }

            /// The layer's checkpoint record: tag, flags, then four numbers.
            pub(crate) const fn record(self) -> (u8, u8, [u32; 4]) {
                let (flags, numbers) = match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).record(), )*
                };
                (self.tag(), flags, numbers)
            }

            /// The layer a checkpoint record describes, if it is one this
            /// crate writes: canonical (the bytes the layer writes, and no
            /// others).
            #[must_use]
            pub(crate) fn from_record(tag: u8, flags: u8, numbers: [u32; 4]) -> Option<Self> {
                let layer = match tag {
                    $( t if t == <$module::$variant as Kind>::TAG =>
                        kinds!(@make $variant $module [$($data)?] $module::$variant::from_record(flags, numbers)?), )*
                    _ => return None,
                };
                (layer.record() == (tag, flags, numbers)).then_some(layer)
            }

            /// The layer the reference format's `type` names, with the
            /// settings its fields give (the [`Field`]s
            /// [`settings`](Self::settings) lists; `count(name, i)` returns
            /// the field's `i`-th count, 0 for a single count and 0, 1 for a
            /// pair, or `None`) and whether it has a bias (ignored by kinds
            /// without one).
            ///
            /// # Errors
            ///
            /// A sentence: an unknown type, a missing field, or a setting
            /// out of range.
            pub fn from_fields(
                name: &str,
                bias: bool,
                mut count: impl FnMut(&str, usize) -> Option<u32>,
            ) -> Result<Self, &'static str> {
                $( if name == <$module::$variant as Kind>::NAME {
                    let fields = <$module::$variant as Kind>::FIELDS;
                    let mut numbers = [0; 4];
                    for (number, field) in numbers.iter_mut().zip(fields) {
                        *number = field.number(|i| count(field.name, i)).ok_or("a layer's field is missing or not a count")?;
                    }
                    let flags = if bias && <$module::$variant as Kind>::OPTIONAL_BIAS { BIAS } else { 0 };
                    return Self::from_record(<$module::$variant as Kind>::TAG, flags, numbers)
                        .ok_or("a layer's field is out of range");
                } )*
                Err("unknown layer type")
            }

            /// The layer's settings as the reference format names them: the
            /// fields (in record order), their record numbers (a pair's two
            /// counts in one: [`Field::counts`]), and whether it has a bias
            /// (`None` for a kind whose bias is not optional).
            ///
            /// ```
            /// use vicreg::nn::Layer;
            /// let layer = Layer::conv1d(4, 5).stride(2).without_bias();
            /// let (fields, numbers, bias) = layer.settings();
            /// let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            /// assert_eq!((&names[..], &numbers[..fields.len()], bias), (&["out_channels", "kernel", "stride", "padding"][..], &[4, 5, 2, 0][..], Some(false)));
            /// let count = |name: &str, i: usize| fields.iter().position(|f| f.name == name).and_then(|j| fields[j].counts(numbers[j]).get(i).copied());
            /// assert_eq!(Layer::from_fields("conv1d", false, count), Ok(layer));
            /// ```
            #[must_use]
            pub fn settings(self) -> (&'static [Field], [u32; 4], Option<bool>) {
                let (flags, numbers) = match self {
                    $( kinds!(@bind k $variant $($data)?) => kinds!(@get k $module $variant $($data)?).record(), )*
                };
                let (fields, optional) = match self {
                    $( kinds!(@bind _k $variant $($data)?) =>
                        (<$module::$variant as Kind>::FIELDS, <$module::$variant as Kind>::OPTIONAL_BIAS), )*
                };
                (fields, numbers, optional.then_some(flags & BIAS != 0))
            }

            /// One layer forward (see [`Kind::forward`]); a kind `K` leaves
            /// out is not run (`Siamese::new` refuses such a network).
            #[inline(always)]
            pub(crate) fn forward<K: KindSet, const STREAM: bool>(self, f: Forward<'_>) -> bool {
                // The test is a constant in each arm, so a kind the set leaves
                // out costs no flash.
                match self {
                    $( kinds!(@bind k $variant $($data)?) => {
                        if <$module::$variant as Kind>::ALWAYS || K::SET & (1 << Position::$variant as u32) != 0 {
                            kinds!(@get k $module $variant $($data)?).forward::<K, STREAM>(f)
                        } else {
                            false
                        }
                    } )*
                }
            }

            /// Streaming: folds a micro-batch into a kind's moments (see
            /// [`Kind::absorb_moments`]).
            pub(crate) fn absorb_moments(self, x: &[f32], length: usize, count: usize, mean: (&mut [f32], &mut [f32]), m2: &mut [f32]) {
                match self {
                    $( kinds!(@bind k $variant $($data)?) =>
                        kinds!(@get k $module $variant $($data)?).absorb_moments(x, length, count, mean, m2), )*
                }
            }

            /// Streaming: the statistics from the moments (see
            /// [`Kind::settle_statistics`]).
            pub(crate) fn settle_statistics(self, mean: (&mut [f32], &mut [f32]), m2: &mut [f32], values: f32, eps: f32) -> bool {
                match self {
                    $( kinds!(@bind k $variant $($data)?) =>
                        kinds!(@get k $module $variant $($data)?).settle_statistics(mean, m2, values, eps), )*
                }
            }

            /// The running statistics (see [`Kind::update_running`]).
            pub(crate) fn update_running(
                self,
                views: [(&[f32], &[f32]); 2],
                norm: NormConfig,
                count: usize,
                running: (&mut [f32], &mut [f32]),
                commit: bool,
            ) -> bool {
                match self {
                    $( kinds!(@bind k $variant $($data)?) =>
                        kinds!(@get k $module $variant $($data)?).update_running(views, norm, count, running, commit), )*
                }
            }

            /// One layer backward (see [`Kind::backward`]).
            #[inline(always)]
            pub(crate) fn backward<K: KindSet, const STREAM: bool>(self, b: Backward<'_>) {
                match self {
                    $( kinds!(@bind k $variant $($data)?) => {
                        if <$module::$variant as Kind>::ALWAYS || K::SET & (1 << Position::$variant as u32) != 0 {
                            kinds!(@get k $module $variant $($data)?).backward::<K, STREAM>(b);
                        }
                    } )*
                }
            }
        }
    };
    (@bind $k:ident $variant:ident $data:ident) => { Layer::$variant($k) };
    (@bind $k:ident $variant:ident) => { Layer::$variant };
    (@get $k:ident $module:ident $variant:ident $data:ident) => { $k };
    (@get $k:ident $module:ident $variant:ident) => { $module::$variant };
    (@make $variant:ident $module:ident [$data:ident] $value:expr) => { Layer::$variant($value) };
    (@make $variant:ident $module:ident [] $value:expr) => {{
        let _: $module::$variant = $value;
        Layer::$variant
    }};
}

kinds! {
    /// out = x·Wᵀ + b over the whole sample (a map is flattened
    /// channel-major).
    Linear(Linear) in linear;
    /// Batch normalisation per channel (per feature of a vector), with
    /// affine γ, β and running statistics for inference.
    BatchNorm in batch_norm;
    /// max(0, x).
    ReLU in relu;
    /// A 1-D convolution over a C×T map.
    Conv1d(Conv1d) in conv1d;
    /// The mean over time of a C×T map: C×T → C.
    MeanTime in mean_time;
    /// A 2-D convolution over a C×H×W image.
    Conv2d(Conv2d) in conv2d;
    /// The largest value of each window of each channel of an image.
    MaxPool2d(MaxPool2d) in max_pool2d;
    /// The mean of each window of each channel of an image.
    AvgPool2d(AvgPool2d) in avg_pool2d;
    /// The mean over space of a C×H×W image: C×H×W → C.
    MeanSpace in mean_space;
}

impl Layer {
    /// The kind's flag in a [`KindSet`]'s `SET`.
    #[must_use]
    pub const fn bit(self) -> u32 {
        1 << self.position()
    }

    /// Whether the passes compiled for the kind set `K` run this layer.
    #[must_use]
    pub fn covered_by<K: KindSet>(self) -> bool {
        self.always() || K::SET & self.bit() != 0
    }

    /// Whether this layer normalises with batch statistics in passes
    /// compiled for `K`: false at compile time for a set without such a
    /// kind, so that the streaming stages and running statistics of those
    /// kinds cost such a firmware nothing.
    pub(crate) fn normalises_in<K: KindSet>(self) -> bool {
        K::SET & Self::STATISTICS != 0 && self.batch_statistics()
    }

    /// Elements of the weight tensor (Linear, Conv1d; BatchNorm's γ).
    pub(crate) const fn weights(self, input: Shape) -> usize {
        self.weight_dims(input).len()
    }

    /// Trainable elements of this layer given its input.
    #[must_use]
    pub const fn parameter_count(self, input: Shape) -> usize {
        self.weights(input).saturating_add(self.biases(input))
    }

    /// Whether `self` and `other` are of the same kind.
    #[must_use]
    pub const fn same_kind(self, other: Self) -> bool {
        self.position() == other.position()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{AllKinds, Kinds};

    /// Every fact the registry holds, checked for every kind: a kind that
    /// misses one (a tag or name reused, fields that do not read back, a
    /// shape rule that takes an empty input) fails here.
    #[test]
    #[allow(clippy::float_cmp)] // a hook either left a value as set, or moved it
    fn every_kind_has_every_fact() {
        let map = Shape::Map { channels: 3, length: 8 };
        let image = Shape::Image { channels: 3, height: 6, width: 5 };
        for (i, &layer) in Layer::EVERY_KIND.iter().enumerate() {
            assert_eq!(layer.position() as usize, i, "{layer:?}");
            assert_eq!(layer.bit(), 1 << i);
            assert!(layer.tag() != 0 && !layer.name().is_empty(), "{layer:?}");
            for earlier in &Layer::EVERY_KIND[..i] {
                assert_ne!(earlier.tag(), layer.tag(), "tag of {layer:?} reused");
                assert_ne!(earlier.name(), layer.name(), "name of {layer:?} reused");
            }
            // The record reads back, and any other flag or tag does not.
            let (tag, flags, numbers) = layer.record();
            assert_eq!(tag, layer.tag());
            assert_eq!(Layer::from_record(tag, flags, numbers), Some(layer), "{layer:?}");
            assert_eq!(Layer::from_record(tag, flags ^ 2, numbers), None, "{layer:?}");
            // The reference format's fields name the record's numbers.
            let (fields, values, bias) = layer.settings();
            assert_eq!((values, bias.unwrap_or(false)), (numbers, flags & BIAS != 0));
            assert!(values[fields.len()..].iter().all(|&v| v == 0), "{layer:?}: a number without a field");
            let value = |name: &str, i: usize| {
                let j = fields.iter().position(|f| f.name == name)?;
                fields[j].counts(numbers[j]).get(i).copied()
            };
            let bias = bias.unwrap_or(true);
            assert_eq!(Layer::from_fields(layer.name(), bias, value), Ok(layer), "{layer:?}");
            if !fields.is_empty() {
                assert!(Layer::from_fields(layer.name(), bias, |_, _| None).is_err());
            }
            // A pair's counts are each at most 65,535.
            if fields.iter().any(|f| f.pair) {
                let wide = |name: &str, i: usize| {
                    if fields.iter().any(|f| f.pair && f.name == name) { Some(1 << 16) } else { value(name, i) }
                };
                assert!(Layer::from_fields(layer.name(), bias, wide).is_err(), "{layer:?}");
            }
            // A shape rule that refuses the empty input, a weight tensor
            // that matches the parameter count, at most one running pair
            // per channel.
            assert!(layer.output(Shape::Flat(0)).is_err());
            let input = [map, image, Shape::Flat(6)].into_iter().find(|&s| layer.output(s).is_ok());
            let input = input.expect("the example takes a map, an image or a vector");
            let output = layer.output(input).expect("found above");
            assert!(!output.is_empty());
            let dims = layer.weight_dims(input);
            assert_eq!(dims.len() + layer.biases(input), layer.parameter_count(input));
            assert!(dims.rank <= 4 && dims.dims[dims.rank..].iter().all(|&d| d == 0), "{layer:?}");
            assert!(layer.fan_in(input) > 0);
            assert_eq!(layer.running(input) > 0, layer.batch_statistics(), "{layer:?}");
            // A kind with batch statistics has its streaming hooks: settled
            // moments give 1/√(M₂/values + eps), absorbed rows move the mean,
            // and the running statistics move towards a batch's.
            let (mut mean, mut lo, mut m2) = ([0.0f32; 1], [0.0f32; 1], [4.0f32; 1]);
            assert!(layer.settle_statistics((&mut mean, &mut lo), &mut m2, 1.0, 0.0));
            layer.absorb_moments(&[2.0, 4.0], 1, 0, (&mut mean, &mut lo), &mut m2);
            let (mut running_mean, mut running_var) = ([0.0f32; 1], [1.0f32; 1]);
            let batch = ([3.0f32], [0.5f32]);
            let views = [(&batch.0[..], &batch.1[..]), (&batch.0[..], &batch.1[..])];
            assert!(layer.update_running(views, NormConfig::TORCH, 4, (&mut running_mean, &mut running_var), true));
            let hooked = (m2[0] != 4.0, mean[0] != 0.0, running_mean[0] != 0.0);
            let expected = layer.batch_statistics();
            assert_eq!(hooked, (expected, expected, expected), "{layer:?}: hooks {hooked:?}");
            assert!(layer.covered_by::<AllKinds>());
            assert_eq!(layer.covered_by::<Kinds<0, false, false>>(), layer.always(), "{layer:?}");
            assert!(layer.same_kind(layer));
        }
        assert!(Layer::from_fields("gelu-that-is-not", true, |_, _| Some(1)).is_err());
        assert_eq!(Layer::from_record(0, 0, [0; 4]), None);
    }
}

#[cfg(test)]
mod sets {
    use crate::nn::{AllKinds, Kinds, Layer, Net, Shape};

    const FLAT: Net = Net::new(Shape::Flat(4), &[Layer::linear(8), Layer::ReLU], &[Layer::linear(16)]);
    const MAPS: Net = Net::new(
        Shape::Map { channels: 2, length: 8 },
        &[Layer::conv1d(3, 3), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime],
        &[],
    );

    #[test]
    fn a_declaration_names_the_kinds_it_uses() {
        let bits = |layers: &[Layer]| layers.iter().fold(0, |set, l| set | l.bit());
        assert_eq!(FLAT.kind_set(), bits(&[Layer::linear(1), Layer::ReLU]));
        let maps = bits(&[Layer::conv1d(1, 1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime]);
        assert_eq!(MAPS.kind_set(), maps);
        assert_eq!((FLAT.uses_maps(), MAPS.uses_maps()), (false, true));
        // The feature side's d×d scratch fits when d ≤ n.
        assert_eq!((FLAT.feature_side_fits(15), FLAT.feature_side_fits(16)), (false, true));
    }

    #[test]
    fn a_kind_set_covers_its_kinds_and_linear_and_relu() {
        const NORM: u32 = Layer::BatchNorm.bit();
        const BOTH: u32 = Layer::MeanTime.bit() | Layer::conv1d(2, 2).bit();
        type Plain = Kinds<0, false, false>;
        for layer in [Layer::BatchNorm, Layer::conv1d(1, 1), Layer::MeanTime] {
            assert!(!layer.covered_by::<Plain>() && layer.covered_by::<AllKinds>(), "{layer:?}");
        }
        assert!(Layer::linear(1).covered_by::<Plain>() && Layer::ReLU.covered_by::<Plain>());
        assert!(Layer::BatchNorm.covered_by::<Kinds<NORM, false, false>>());
        assert!(!Layer::MeanTime.covered_by::<Kinds<NORM, true, false>>());
        assert!(Layer::MeanTime.covered_by::<Kinds<BOTH, true, false>>());
        assert!(Layer::conv1d(2, 2).covered_by::<Kinds<BOTH, true, false>>());
    }
}
