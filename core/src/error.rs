//! Every way a caller's input can be wrong, as a value.

use core::fmt;

/// Why a computation refused its input or could not produce a finite result.
///
/// Nothing in this crate panics on what a caller passes: each check that can
/// fail returns one of these variants instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The batch has fewer than two rows; variance and covariance need n ≥ 2.
    TooFewRows {
        /// Rows given.
        n: usize,
    },
    /// The batch has more rows than the fixed capacity.
    TooManyRows {
        /// Rows given.
        n: usize,
        /// Rows the buffers hold.
        capacity: usize,
    },
    /// The embedding dimension is zero.
    ZeroDimension,
    /// Two buffers that must describe the same shape do not (the two views,
    /// a view and its gradient, or a length that is not a multiple of d).
    ShapeMismatch,
    /// An embedding holds a NaN or an infinity.
    NonFiniteInput,
    /// A loss coefficient, learning rate, weight decay, momentum or eps is
    /// out of its range (negative, non-finite, a momentum of 1 or more).
    InvalidConfig,
    /// The caller's scratch buffer is shorter than the computation needs.
    ScratchTooSmall {
        /// Elements needed.
        needed: usize,
        /// Elements given.
        available: usize,
    },
    /// The inputs were finite but the loss or a gradient overflowed.
    NonFiniteResult,
    /// A network declaration is not a network: layer `layer` does not fit
    /// the shape that reaches it (or, at the depth, the whole is too large).
    InvalidNetwork {
        /// The first layer at fault.
        layer: usize,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooFewRows { n } => write!(f, "batch has {n} rows, at least 2 are needed"),
            Error::TooManyRows { n, capacity } => {
                write!(f, "batch has {n} rows, capacity is {capacity}")
            }
            Error::ZeroDimension => f.write_str("embedding dimension is zero"),
            Error::ShapeMismatch => f.write_str("buffer shapes do not match"),
            Error::NonFiniteInput => f.write_str("input holds a NaN or an infinity"),
            Error::InvalidConfig => {
                f.write_str("invalid configuration (a coefficient, rate, momentum or eps out of range)")
            }
            Error::ScratchTooSmall { needed, available } => {
                write!(f, "scratch holds {available} elements, {needed} are needed")
            }
            Error::NonFiniteResult => f.write_str("loss or gradient is not finite"),
            Error::InvalidNetwork { layer } => write!(f, "layer {layer} does not fit the shape that reaches it"),
        }
    }
}

impl core::error::Error for Error {}

#[cfg(test)]
pub(crate) mod tests {
    use super::Error;
    use core::fmt::Write;

    /// A message written into a fixed buffer (no allocator in the core's
    /// tests): its first 128 bytes, and its whole length.
    pub(crate) struct Message {
        bytes: [u8; 128],
        pub(crate) len: usize,
    }

    impl Message {
        /// What was written, up to the buffer's 128 bytes.
        pub(crate) fn as_str(&self) -> &str {
            core::str::from_utf8(&self.bytes[..self.len.min(self.bytes.len())]).unwrap_or("(not UTF-8)")
        }
    }

    impl Write for Message {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for (slot, b) in self.bytes.iter_mut().skip(self.len).zip(s.bytes()) {
                *slot = b;
            }
            self.len += s.len();
            Ok(())
        }
    }

    /// What `args` format to.
    pub(crate) fn written(args: core::fmt::Arguments<'_>) -> Message {
        let mut m = Message { bytes: [0; 128], len: 0 };
        m.write_fmt(args).unwrap();
        m
    }

    /// What `value` displays.
    pub(crate) fn message(value: impl core::fmt::Display) -> Message {
        written(format_args!("{value}"))
    }

    #[test]
    fn every_error_says_what_was_wrong_with_its_numbers() {
        let cases = [
            (Error::TooFewRows { n: 1 }, "batch has 1 rows, at least 2 are needed"),
            (Error::TooManyRows { n: 9, capacity: 8 }, "batch has 9 rows, capacity is 8"),
            (Error::ScratchTooSmall { needed: 30, available: 12 }, "scratch holds 12 elements, 30 are needed"),
            (Error::InvalidNetwork { layer: 3 }, "layer 3 does not fit the shape that reaches it"),
            (Error::NonFiniteInput, "input holds a NaN or an infinity"),
        ];
        for (e, want) in cases {
            assert_eq!(message(e).as_str(), want);
        }
        for e in [Error::ZeroDimension, Error::ShapeMismatch, Error::InvalidConfig, Error::NonFiniteResult] {
            assert!(message(e).len > 10, "{e:?}");
        }
    }
}
