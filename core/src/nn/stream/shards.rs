//! A stream's statistics as bytes, so that shards (threads, devices) each
//! stream their own rows and merge the others' before a stage finishes:
//! the encoding (the crate's wire format, magic `VRST`), and the merge,
//! which refuses what a forged or damaged encoding could set before it
//! changes anything.

// Row and value counts travel as f32 and u32; they are checked first.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use super::state::{INVARIANCE, MAX_ROWS, ROWS, count};
use super::{HEAD, Stage, Stream};
use crate::lanes::Lanes;
use crate::loss::moments;
use crate::nn::kind::KindSet;
use crate::wire::{self, Format, u16_at, u32_at};

/// Bytes of an encoded stage before its values: magic, version, stage,
/// value count.
const ENCODED_HEAD: usize = 12;
/// The encoding's framing: magic `VRST`, version 1.
const FORMAT: Format = Format { magic: *b"VRST", version: 1 };

/// Why encoded statistics were refused. Nothing was merged when one of these
/// is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StreamError {
    /// The output buffer is too short.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        available: usize,
    },
    /// The bytes do not start with the statistics' magic number.
    Magic,
    /// Another format version.
    Version {
        /// The version found.
        found: u16,
    },
    /// Wrong length or checksum, or a value that is not finite.
    Corrupt,
    /// The statistics are of another stage, or of another network.
    Stage {
        /// The stage (or value count) found.
        found: usize,
        /// The stage (or value count) this stream expects.
        expected: usize,
    },
}

impl core::fmt::Display for StreamError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => {
                write!(f, "buffer holds {available} bytes, the statistics need {needed}")
            }
            Self::Magic => f.write_str("not streamed statistics (bad magic number)"),
            Self::Version { found } => write!(f, "statistics format version {found} is not supported"),
            Self::Corrupt => f.write_str("statistics are truncated or corrupted"),
            Self::Stage { found, expected } => {
                write!(f, "statistics are of stage (or size) {found}, this stream expects {expected}")
            }
        }
    }
}

impl core::error::Error for StreamError {}

wire::framing_errors!(StreamError);

impl<K: KindSet> Stream<'_, '_, K> {
    /// Values of the current stage's encoding: what its merge reads.
    fn stage_values(&self) -> usize {
        let d = self.siamese.layout().sizes.embed;
        match self.kind(self.stage()) {
            // Per view: the means (hi and lo) and M₂ of each channel.
            Some(Stage::Norm(p)) => 1 + 2 * 3 * p.at.input.channels(),
            Some(Stage::Sums(p)) => 1 + 2 * 2 * p.at.input.channels(),
            // Per view: the mean (hi and lo) and M's upper triangle.
            Some(Stage::Loss) => 2 + 2 * (2 * d + d * (d + 1) / 2),
            _ => 1,
        }
    }

    /// Bytes of the current stage's encoding.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        ENCODED_HEAD + 4 * self.stage_values() + 4
    }

    /// Writes what this shard has absorbed in the current stage (its rows,
    /// and the stage's moments or sums: for the loss stage, both views'
    /// means and the upper triangles of their co-moments) into `out`,
    /// versioned and checksummed; returns the bytes written.
    ///
    /// # Errors
    ///
    /// [`StreamError::BufferTooSmall`].
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, StreamError> {
        let len = self.encoded_len();
        FORMAT.begin(out, len)?;
        let (stage, values) = (self.stage(), self.stage_values());
        out[6..8].copy_from_slice(&u16::try_from(stage).unwrap_or(u16::MAX).to_le_bytes());
        out[8..12].copy_from_slice(&u32::try_from(values).unwrap_or(u32::MAX).to_le_bytes());
        let mut at = ENCODED_HEAD;
        let mut put = |xs: &[f32]| at = wire::put_f32s(out, at, xs);
        let (s, d) = (&self.siamese.layout().sizes, self.siamese.layout().sizes.embed);
        let per_view = Self::state_len(s) / 2 - HEAD / 2;
        let view = |k: usize| &self.state[HEAD + k * per_view..HEAD + (k + 1) * per_view];
        put(&self.state[ROWS..=ROWS]);
        match self.kind(stage) {
            Some(Stage::Norm(p)) => {
                let c = p.at.input.channels();
                for k in 0..2 {
                    let (norms, lo) = (&view(k)[p.at.running..], &view(k)[s.running + p.at.running..]);
                    put(&norms[..c]);
                    put(&lo[..c]);
                    put(&norms[c..2 * c]);
                }
            }
            Some(Stage::Sums(p)) => {
                (0..2).for_each(|k| put(&view(k)[2 * s.running + p.at.running..][..2 * p.at.input.channels()]));
            }
            Some(Stage::Loss) => {
                put(&self.state[INVARIANCE..=INVARIANCE]);
                for k in 0..2 {
                    let (means, comoment) = view(k)[3 * s.running..].split_at(2 * d);
                    put(means);
                    (0..d).for_each(|j| put(&comoment[j * d + j..(j + 1) * d]));
                }
            }
            _ => {}
        }
        wire::seal(&mut out[..len]);
        Ok(len)
    }

    /// This stream's rows and the other shard's, if its statistics could be
    /// real: refuses what a forged encoding could set (a row count that is
    /// not a whole number, or more than 2²⁴ rows in all; a negative
    /// co-moment or sum of squares; statistics without rows) before
    /// anything changes.
    fn counts_to_merge(&self, values: usize, value: impl Fn(usize) -> f32) -> Result<(usize, usize), StreamError> {
        let d = self.siamese.layout().sizes.embed;
        let (Some(rows), Some(rows_b)) = (count(self.state[ROWS]), count(value(0))) else {
            return Err(StreamError::Corrupt);
        };
        if rows + rows_b > MAX_ROWS || (rows_b == 0 && (1..values).any(|i| value(i) != 0.0)) {
            return Err(StreamError::Corrupt);
        }
        let negative = |i: usize| value(i) < 0.0;
        let sound = match self.kind(self.stage()) {
            Some(Stage::Norm(p)) => {
                let c = p.at.input.channels();
                (rows + rows_b).checked_mul(p.at.input.length()).is_some()
                    && !(0..2).any(|k| (0..c).any(|j| negative(1 + k * 3 * c + 2 * c + j)))
            }
            Some(Stage::Loss) => {
                // M's upper triangle is stored row by row: row j's first
                // value, its diagonal, is j·d − j(j−1)/2 into it.
                let per_view = 2 * d + d * (d + 1) / 2;
                let diagonal =
                    |k: usize| (0..d).map(move |j| 2 + k * per_view + 2 * d + j * d - j * j.saturating_sub(1) / 2);
                !negative(1) && !(0..2).any(|k| diagonal(k).any(negative))
            }
            _ => true,
        };
        if sound { Ok((rows, rows_b)) } else { Err(StreamError::Corrupt) }
    }

    /// Merges another shard's encoded statistics of the same stage into this
    /// one's, as if its rows had been absorbed here (associative and
    /// independent of order, up to rounding).
    ///
    /// # Errors
    ///
    /// [`StreamError::Magic`], [`StreamError::Version`],
    /// [`StreamError::Corrupt`] (length, checksum, a non-finite value),
    /// [`StreamError::Stage`] for another stage or network.
    pub fn merge(&mut self, lanes: Lanes, bytes: &[u8]) -> Result<(), StreamError> {
        FORMAT.open(bytes, ENCODED_HEAD + 8)?;
        let values = u32_at(bytes, 8) as usize;
        if values.checked_mul(4).is_none_or(|b| b + ENCODED_HEAD + wire::TRAILER != bytes.len()) || !wire::sealed(bytes)
        {
            return Err(StreamError::Corrupt);
        }
        let (stage, expected) = (usize::from(u16_at(bytes, 6)), self.stage());
        if stage != expected {
            return Err(StreamError::Stage { found: stage, expected });
        }
        if values != self.stage_values() {
            return Err(StreamError::Stage { found: values, expected: self.stage_values() });
        }
        let value =
            |i: usize| f32::from_le_bytes([bytes[12 + 4 * i], bytes[13 + 4 * i], bytes[14 + 4 * i], bytes[15 + 4 * i]]);
        if !(0..values).all(|i| value(i).is_finite()) {
            return Err(StreamError::Corrupt);
        }
        let kind = self.kind(stage);
        let d = self.siamese.layout().sizes.embed;
        let (rows, rows_b) = self.counts_to_merge(values, value)?;
        let (head, mut views) = self.split();
        match kind {
            Some(Stage::Norm(p)) => {
                let (c, t) = (p.at.input.channels(), p.at.input.length());
                for (k, v) in views.iter_mut().enumerate() {
                    let (mean, m2) = v.norms[p.at.running..p.at.running + 2 * c].split_at_mut(c);
                    let lo = &mut v.norm_lo[p.at.running..p.at.running + c];
                    let at = 1 + k * 3 * c;
                    for j in 0..c {
                        let (mean_b, m2_b) = ((value(at + j), value(at + c + j)), value(at + 2 * c + j));
                        moments::merge_scalar(
                            rows * t,
                            (&mut mean[j], &mut lo[j]),
                            &mut m2[j],
                            rows_b * t,
                            mean_b,
                            m2_b,
                        );
                    }
                }
            }
            Some(Stage::Sums(p)) => {
                let c2 = 2 * p.at.input.channels();
                for (k, v) in views.iter_mut().enumerate() {
                    for (j, s) in v.sums[p.at.running..p.at.running + c2].iter_mut().enumerate() {
                        *s += value(1 + k * c2 + j);
                    }
                }
            }
            Some(Stage::Loss) => {
                head[INVARIANCE] += value(1);
                let per_view = 2 * d + d * (d + 1) / 2;
                for (k, v) in views.iter_mut().enumerate() {
                    let at = 2 + k * per_view;
                    // δ = m_B − m_A, both as hi + lo, in the weights (free
                    // until the stage finishes); M_B is added row by row.
                    let delta = &mut *v.weights;
                    for (j, dl) in delta.iter_mut().enumerate() {
                        *dl = ((value(at + j) - v.mean[j]) + value(at + d + j)) - v.lo[j];
                    }
                    let mut o = at + 2 * d;
                    for j in 0..d {
                        for x in &mut v.comoment[j * d + j..(j + 1) * d] {
                            *x += value(o);
                            o += 1;
                        }
                    }
                    moments::shift(lanes, rows, (&mut *v.mean, &mut *v.lo), v.comoment, rows_b, delta);
                }
            }
            _ => {}
        }
        head[ROWS] = (rows + rows_b) as f32;
        Ok(())
    }
}
