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
    /// A coefficient is negative or non-finite, γ is negative or non-finite,
    /// or ε is not a positive finite number.
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
    /// An output buffer is too short.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        available: usize,
    },
    /// The bytes do not start with a checkpoint's magic number.
    CheckpointMagic,
    /// The checkpoint was written in a format version this crate does not read.
    CheckpointVersion {
        /// The version found.
        found: u16,
    },
    /// The checkpoint's length or checksum is wrong (it is truncated or
    /// corrupted), or it holds values no trained network has (NaN, infinity,
    /// a negative variance).
    CheckpointCorrupt,
    /// The checkpoint is intact but for another network (widths,
    /// architecture) or another optimiser.
    CheckpointShape,
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
            Error::InvalidConfig => f.write_str("invalid loss configuration"),
            Error::ScratchTooSmall { needed, available } => {
                write!(f, "scratch holds {available} elements, {needed} are needed")
            }
            Error::NonFiniteResult => f.write_str("loss or gradient is not finite"),
            Error::BufferTooSmall { needed, available } => {
                write!(f, "buffer holds {available} bytes, {needed} are needed")
            }
            Error::CheckpointMagic => f.write_str("not a checkpoint (bad magic number)"),
            Error::CheckpointVersion { found } => {
                write!(f, "checkpoint format version {found} is not supported (this build reads 1)")
            }
            Error::CheckpointCorrupt => {
                f.write_str("checkpoint is truncated or corrupted (length, checksum or values)")
            }
            Error::CheckpointShape => f.write_str("checkpoint is for another network or optimiser"),
        }
    }
}

impl core::error::Error for Error {}
