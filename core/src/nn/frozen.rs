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

#[cfg(test)]
mod tests {
    use super::Frozen;

    #[test]
    fn sets_hold_exactly_the_layers_put_in_them() {
        let three = Frozen::first(3);
        assert_eq!(Frozen::first(0), Frozen::NONE);
        assert_eq!(three, Frozen::NONE.with(2).with(0).with(1));
        // Freezing a frozen layer again changes nothing.
        assert_eq!(three.with(1), three);
        assert_eq!((0..66).filter(|&l| three.contains(l)).count(), 3);
        assert!(three.contains(2) && !three.contains(3));
        assert!((0..3).all(|l| three.all_up_to(l)) && !three.all_up_to(3));
        // A gap stops "all up to" at it.
        let gap = three.with(4);
        assert!(gap.contains(4) && !gap.all_up_to(4) && !gap.all_up_to(5));
        assert!(!Frozen::NONE.with(1).all_up_to(1));

        // The top of the 64 layers, and past it.
        for all in [Frozen::first(64), Frozen::first(200)] {
            assert!((0..64).all(|l| all.contains(l)) && all.all_up_to(63));
            assert!(!all.contains(64) && !all.all_up_to(64));
        }
        assert_eq!(Frozen::first(63).with(63), Frozen::first(64));
        assert!(!Frozen::first(63).all_up_to(63) && Frozen::first(63).all_up_to(62));
        assert_eq!(Frozen::NONE.with(64), Frozen::NONE);
        assert_eq!(Frozen::NONE.with(63), Frozen::NONE.with(63).with(70));
        assert!(Frozen::NONE.with(63).contains(63) && !Frozen::NONE.with(63).contains(62));
    }
}
