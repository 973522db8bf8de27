//! The shape of one sample as it flows through a network: a vector of
//! features, a C×T feature map stored channel-major (element `c·T + t`), or
//! a C×H×W image stored channel-major, row by row (element `(c·H + h)·W + w`,
//! PyTorch's NCHW without the N).

/// One sample's shape between two layers.
///
/// ```
/// use vicreg::nn::Shape;
/// let window = Shape::Map { channels: 6, length: 100 };
/// assert_eq!(window.len(), 600);
/// assert_eq!((window.channels(), window.length()), (6, 100));
/// assert_eq!(Shape::Flat(32).channels(), 32);
/// let digit = Shape::Image { channels: 1, height: 8, width: 8 };
/// assert_eq!((digit.len(), digit.channels(), digit.length()), (64, 1, 64));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shape {
    /// A vector of features.
    Flat(usize),
    /// `channels` rows of `length` samples each, channel-major.
    Map {
        /// Channels C.
        channels: usize,
        /// Samples per channel T.
        length: usize,
    },
    /// `channels` planes of `height` rows of `width` values, channel-major
    /// then row-major.
    Image {
        /// Channels C.
        channels: usize,
        /// Rows H.
        height: usize,
        /// Values per row W.
        width: usize,
    },
}

impl Shape {
    /// Values in one sample (saturating: [`Net::check`](super::Net::check)
    /// refuses shapes whose size overflows, see [`checked_len`](Self::checked_len)).
    #[must_use]
    pub const fn len(self) -> usize {
        match self.checked_len() {
            Some(len) => len,
            None => usize::MAX,
        }
    }

    /// Values in one sample, or `None` if that overflows `usize`.
    ///
    /// ```
    /// use vicreg::nn::Shape;
    /// assert_eq!(Shape::Map { channels: 6, length: 100 }.checked_len(), Some(600));
    /// assert_eq!(Shape::Map { channels: usize::MAX, length: 2 }.checked_len(), None);
    /// ```
    #[must_use]
    pub const fn checked_len(self) -> Option<usize> {
        match self {
            Self::Flat(d) => Some(d),
            Self::Map { channels, length } => channels.checked_mul(length),
            Self::Image { channels, height, width } => match channels.checked_mul(height) {
                Some(rows) => rows.checked_mul(width),
                None => None,
            },
        }
    }

    /// Whether the sample holds no value.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Channels: what BatchNorm normalises separately (the features of a
    /// vector, the channels of a map or an image).
    #[must_use]
    pub const fn channels(self) -> usize {
        match self {
            Self::Flat(d) => d,
            Self::Map { channels, .. } | Self::Image { channels, .. } => channels,
        }
    }

    /// Positions per channel: 1 for a vector, T for a map, H·W for an image
    /// (saturating, as [`len`](Self::len)).
    #[must_use]
    pub const fn length(self) -> usize {
        match self {
            Self::Flat(_) => 1,
            Self::Map { length, .. } => length,
            Self::Image { height, width, .. } => height.saturating_mul(width),
        }
    }
}
