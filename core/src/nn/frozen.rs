//! Layers that do not train: on a device one often tunes only the last
//! layers, and a frozen layer costs no gradient work and no update.

/// A set of frozen layers, by index in the network's whole list (encoder,
/// then expander; up to 64 layers can be frozen).
///
/// ```
/// use vicreg::nn::Frozen;
/// // Fine-tune all but the first two layers.
/// let frozen = Frozen::first(2);
/// assert!(frozen.contains(0) && frozen.contains(1) && !frozen.contains(2));
/// assert_eq!(frozen, Frozen::NONE.with(0).with(1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Frozen(u64);

impl Frozen {
    /// Every layer trains.
    pub const NONE: Self = Self(0);

    /// The first `count` layers frozen.
    #[must_use]
    pub const fn first(count: usize) -> Self {
        if count >= 64 { Self(u64::MAX) } else { Self((1u64 << count) - 1) }
    }

    /// This set with layer `layer` frozen too (no effect past layer 63).
    #[must_use]
    pub const fn with(self, layer: usize) -> Self {
        if layer < 64 { Self(self.0 | 1 << layer) } else { self }
    }

    /// Whether layer `layer` is frozen.
    #[must_use]
    pub const fn contains(self, layer: usize) -> bool {
        layer < 64 && self.0 & (1 << layer) != 0
    }

    /// Whether layer `layer` and every layer before it are frozen, so that
    /// backpropagation can stop before it.
    #[must_use]
    pub const fn all_up_to(self, layer: usize) -> bool {
        if layer >= 64 {
            return false;
        }
        let mask = if layer == 63 { u64::MAX } else { (1u64 << (layer + 1)) - 1 };
        self.0 & mask == mask
    }
}
