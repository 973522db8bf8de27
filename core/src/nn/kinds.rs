//! Which kinds of layer (and of covariance formulation) a network uses, as a
//! type, so that the passes are compiled with only those kernels: flash
//! grows with the kinds a firmware uses, not with every kind this crate
//! knows. Linear and ReLU are always in.

use super::layer::Layer;
use super::net::Net;
use super::shape::Shape;
use crate::loss::Sides;

/// A set of layer kinds known at compile time, and whether the loss's
/// feature side can be taken ([`Sides`]).
pub trait KindSet: Sides + 'static {
    /// BatchNorm is used.
    const BATCH_NORM: bool;
    /// Conv1d is used.
    const CONV1D: bool;
    /// MeanTime is used.
    const MEAN_TIME: bool;
    /// C×T maps flow through the network (the input is a map).
    const MAPS: bool;

    /// Whether the passes compiled for this set run `layer`.
    #[must_use]
    fn covers(layer: Layer) -> bool {
        match layer {
            Layer::Linear(_) | Layer::ReLU => true,
            Layer::BatchNorm => Self::BATCH_NORM,
            Layer::Conv1d(_) => Self::CONV1D,
            Layer::MeanTime => Self::MEAN_TIME,
        }
    }
}

/// The kind set with these flags; [`network!`](crate::network) names the one
/// its declaration needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kinds<
    const BATCH_NORM: bool,
    const CONV1D: bool,
    const MEAN_TIME: bool,
    const MAPS: bool,
    const FEATURE: bool,
>;

impl<const B: bool, const C: bool, const M: bool, const P: bool, const F: bool> KindSet for Kinds<B, C, M, P, F> {
    const BATCH_NORM: bool = B;
    const CONV1D: bool = C;
    const MEAN_TIME: bool = M;
    const MAPS: bool = P;
}

impl<const B: bool, const C: bool, const M: bool, const P: bool, const F: bool> Sides for Kinds<B, C, M, P, F> {
    const FEATURE: bool = F;
}

/// Every kind: for networks known only at run time.
pub type AllKinds = Kinds<true, true, true, true, true>;

impl Net<'_> {
    /// Whether the network holds a BatchNorm layer.
    #[must_use]
    pub const fn uses_batch_norm(&self) -> bool {
        self.uses(Layer::BatchNorm)
    }

    /// Whether the network holds a Conv1d layer.
    #[must_use]
    pub const fn uses_conv1d(&self) -> bool {
        self.uses(Layer::conv1d(1, 1))
    }

    /// Whether the input is a C×T map.
    #[must_use]
    pub const fn uses_maps(&self) -> bool {
        matches!(self.input, Shape::Map { .. })
    }

    /// Whether the loss's scratch for batches of `batch` rows holds the
    /// feature side's d×d matrix (the embedding is no wider than the batch).
    #[must_use]
    pub const fn feature_side_fits(&self, batch: usize) -> bool {
        self.embed_len() <= batch
    }

    /// Whether the network holds a MeanTime layer.
    #[must_use]
    pub const fn uses_mean_time(&self) -> bool {
        self.uses(Layer::MeanTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAT: Net = Net::new(Shape::Flat(4), &[Layer::linear(8), Layer::ReLU], &[Layer::linear(16)]);
    const MAPS: Net = Net::new(
        Shape::Map { channels: 2, length: 8 },
        &[Layer::conv1d(3, 3), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime],
        &[],
    );

    #[test]
    fn a_declaration_names_the_kinds_it_uses() {
        let flags = |n: &Net| (n.uses_batch_norm(), n.uses_conv1d(), n.uses_mean_time(), n.uses_maps());
        assert_eq!(flags(&FLAT), (false, false, false, false));
        assert_eq!(flags(&MAPS), (true, true, true, true));
        // The feature side's d×d scratch fits when d ≤ n.
        assert_eq!((FLAT.feature_side_fits(15), FLAT.feature_side_fits(16)), (false, true));
    }

    #[test]
    fn a_kind_set_covers_its_kinds_and_linear_and_relu() {
        type Plain = Kinds<false, false, false, false, false>;
        for layer in [Layer::BatchNorm, Layer::conv1d(1, 1), Layer::MeanTime] {
            assert!(!Plain::covers(layer) && AllKinds::covers(layer), "{layer:?}");
        }
        assert!(Plain::covers(Layer::linear(1)) && Plain::covers(Layer::ReLU));
        assert!(Kinds::<true, false, false, false, false>::covers(Layer::BatchNorm));
        assert!(Kinds::<false, true, false, true, false>::covers(Layer::conv1d(2, 2)));
        assert!(Kinds::<false, false, true, true, false>::covers(Layer::MeanTime));
    }
}
