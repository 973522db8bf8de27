//! Checkpoints: a trainer's parameters, BatchNorm running statistics and
//! (optionally) optimiser state as bytes, for flash or for the host.
//!
//! Layout, all little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `VICR` |
//! | 4 | 2 | format version (1) |
//! | 6 | 2 | flags: bit 0 BatchNorm, bit 1 final bias, bit 2 optimiser state present |
//! | 8 | 1 | optimiser kind (0 when no state) |
//! | 9 | 3 | zero |
//! | 12 | 20 | widths: input, hidden, repr, expander_hidden, embed (u32 each) |
//! | 32 | 4 | trainer steps |
//! | 36 | 4 | optimiser steps |
//! | 40 | 4 | payload length P in bytes |
//! | 44 | P | f32 values: the ten tensors in [`Tensor::ALL`](crate::Tensor::ALL) order, running mean, running variance, then the optimiser's state tensors |
//! | 44 + P | 4 | CRC-32 (IEEE) of bytes 0 … 44 + P |
//!
//! Loading checks everything (length, magic, version, checksum, finite
//! values, shapes, non-negative running variances) before it writes a single
//! value, so a bad checkpoint leaves the trainer as
//! it was. CRC-32 detects every single-bit error and every burst up to 32
//! bits.

use crate::{Dims, Error};

/// The bytes `VICR`.
pub const MAGIC: [u8; 4] = *b"VICR";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 1;
/// Bytes before the payload.
pub const HEADER_BYTES: usize = 44;
/// Bytes after the payload (the checksum).
pub const TRAILER_BYTES: usize = 4;

pub(crate) const FLAG_BATCH_NORM: u16 = 1;
pub(crate) const FLAG_FINAL_BIAS: u16 = 2;
pub(crate) const FLAG_OPTIMIZER: u16 = 4;

/// What a checkpoint's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) flags: u16,
    pub(crate) optimizer_kind: u8,
    pub(crate) widths: [u32; 5],
    pub(crate) steps: u32,
    pub(crate) optimizer_steps: u32,
    pub(crate) payload_bytes: u32,
}

impl Header {
    fn write(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&VERSION.to_le_bytes());
        out[6..8].copy_from_slice(&self.flags.to_le_bytes());
        out[8..12].copy_from_slice(&[self.optimizer_kind, 0, 0, 0]);
        for (i, w) in self.widths.iter().enumerate() {
            out[12 + 4 * i..16 + 4 * i].copy_from_slice(&w.to_le_bytes());
        }
        out[32..36].copy_from_slice(&self.steps.to_le_bytes());
        out[36..40].copy_from_slice(&self.optimizer_steps.to_le_bytes());
        out[40..44].copy_from_slice(&self.payload_bytes.to_le_bytes());
    }

    fn read(bytes: &[u8]) -> Self {
        let u32_at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
        Self {
            flags: u16::from_le_bytes([bytes[6], bytes[7]]),
            optimizer_kind: bytes[8],
            widths: [u32_at(12), u32_at(16), u32_at(20), u32_at(24), u32_at(28)],
            steps: u32_at(32),
            optimizer_steps: u32_at(36),
            payload_bytes: u32_at(40),
        }
    }
}

/// What a checkpoint says about itself, read without a trainer of its shape
/// (for host tools that convert checkpoints to other formats and back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    /// The network's widths.
    pub dims: Dims,
    /// BatchNorm in the expander.
    pub batch_norm: bool,
    /// A bias on the expander's last Linear.
    pub final_bias: bool,
    /// The optimiser whose state follows the parameters ([`Optimizer::KIND`](crate::Optimizer::KIND)), 0 for none.
    pub optimizer_kind: u8,
    /// Trainer steps.
    pub steps: u32,
    /// Optimiser steps (AdamW's bias correction).
    pub optimizer_steps: u32,
    /// f32 values in the payload.
    pub values: usize,
}

impl Info {
    /// Values before the optimiser state: the parameters and BatchNorm's
    /// running mean and variance.
    #[must_use]
    pub const fn model_values(&self) -> usize {
        self.dims.parameter_count() + 2 * self.dims.expander_hidden
    }
}

/// Checks a checkpoint (length, magic, version, checksum, finite values) and
/// describes it; its values are `payload(bytes)` in order: the ten tensors
/// of [`Tensor::ALL`](crate::Tensor::ALL), the running mean and variance, then
/// the optimiser's state tensors.
///
/// # Errors
///
/// As [`Trainer::load`](crate::Trainer::load), except for shape errors.
pub fn inspect(bytes: &[u8]) -> Result<Info, Error> {
    let (h, payload) = open(bytes)?;
    let w = |i: usize| h.widths[i] as usize;
    Ok(Info {
        dims: Dims { input: w(0), hidden: w(1), repr: w(2), expander_hidden: w(3), embed: w(4) },
        batch_norm: h.flags & FLAG_BATCH_NORM != 0,
        final_bias: h.flags & FLAG_FINAL_BIAS != 0,
        optimizer_kind: if h.flags & FLAG_OPTIMIZER != 0 { h.optimizer_kind } else { 0 },
        steps: h.steps,
        optimizer_steps: h.optimizer_steps,
        values: payload.len() / 4,
    })
}

/// The payload values of a checkpoint that [`inspect`] accepted.
pub fn payload(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    let end = bytes.len().saturating_sub(TRAILER_BYTES);
    values(bytes.get(HEADER_BYTES..end).unwrap_or(&[]))
}

/// Writes a checkpoint described by `info` holding `values` into `out`;
/// returns its length. The inverse of [`inspect`] and [`payload`].
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if `values` is not `info.values` long or is too
/// short for the widths, [`Error::BufferTooSmall`] if `out` cannot hold it.
pub fn assemble(info: &Info, values: &[f32], out: &mut [u8]) -> Result<usize, Error> {
    let d = info.dims;
    let width = |x: usize| u32::try_from(x).map_err(|_| Error::ShapeMismatch);
    if values.len() != info.values || values.len() < info.model_values() {
        return Err(Error::ShapeMismatch);
    }
    let header = Header {
        flags: if info.batch_norm { FLAG_BATCH_NORM } else { 0 }
            | if info.final_bias { FLAG_FINAL_BIAS } else { 0 }
            | if info.optimizer_kind != 0 { FLAG_OPTIMIZER } else { 0 },
        optimizer_kind: info.optimizer_kind,
        widths: [width(d.input)?, width(d.hidden)?, width(d.repr)?, width(d.expander_hidden)?, width(d.embed)?],
        steps: info.steps,
        optimizer_steps: info.optimizer_steps,
        payload_bytes: width(values.len().saturating_mul(4))?,
    };
    let mut w = Writer::new(out, &header)?;
    w.put(values);
    Ok(w.finish())
}

/// Writes a checkpoint front to back into a caller's buffer.
pub(crate) struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl<'o> Writer<'o> {
    /// Starts a checkpoint with `header`, after checking that `out` holds it
    /// all.
    pub(crate) fn new(out: &'o mut [u8], header: &Header) -> Result<Self, Error> {
        let total = HEADER_BYTES + header.payload_bytes as usize + TRAILER_BYTES;
        if out.len() < total {
            return Err(Error::BufferTooSmall { needed: total, available: out.len() });
        }
        header.write(out);
        Ok(Self { out: &mut out[..total], at: HEADER_BYTES })
    }

    /// Appends values (the buffer was sized for the whole payload).
    pub(crate) fn put(&mut self, values: &[f32]) {
        for (chunk, v) in self.out[self.at..].chunks_exact_mut(4).zip(values) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
        self.at += 4 * values.len();
    }

    /// Appends the checksum; returns the bytes written.
    pub(crate) fn finish(self) -> usize {
        let end = self.out.len() - TRAILER_BYTES;
        let crc = crc32(&self.out[..end]);
        self.out[end..].copy_from_slice(&crc.to_le_bytes());
        self.out.len()
    }
}

/// Checks length, magic, version and checksum; returns the header and the
/// payload bytes.
pub(crate) fn open(bytes: &[u8]) -> Result<(Header, &[u8]), Error> {
    if bytes.len() < HEADER_BYTES + TRAILER_BYTES {
        return Err(Error::CheckpointCorrupt);
    }
    if bytes[0..4] != MAGIC {
        return Err(Error::CheckpointMagic);
    }
    let version = u16::from_le_bytes([bytes[4], bytes[5]]);
    if version != VERSION {
        return Err(Error::CheckpointVersion { found: version });
    }
    let header = Header::read(bytes);
    let payload = header.payload_bytes as usize;
    if bytes.len() != HEADER_BYTES + payload + TRAILER_BYTES || !payload.is_multiple_of(4) {
        return Err(Error::CheckpointCorrupt);
    }
    let end = HEADER_BYTES + payload;
    let stored = u32::from_le_bytes([bytes[end], bytes[end + 1], bytes[end + 2], bytes[end + 3]]);
    if crc32(&bytes[..end]) != stored || bytes[9..12] != [0, 0, 0] {
        return Err(Error::CheckpointCorrupt);
    }
    let payload = &bytes[HEADER_BYTES..end];
    // A checksum proves the bytes arrived as written, not that the writer was
    // sane: a NaN or an infinity is never a weight worth loading.
    if !values(payload).all(f32::is_finite) {
        return Err(Error::CheckpointCorrupt);
    }
    Ok((header, payload))
}

/// The little-endian f32 values of a run of payload bytes.
pub(crate) fn values(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Reads f32 values off the front of a checked payload.
pub(crate) struct PayloadReader<'b> {
    bytes: &'b [u8],
}

impl<'b> PayloadReader<'b> {
    pub(crate) fn new(bytes: &'b [u8]) -> Self {
        Self { bytes }
    }

    /// Fills `dst` from the next 4·len bytes (the caller has checked the
    /// total length, so this never runs short).
    pub(crate) fn read_into(&mut self, dst: &mut [f32]) {
        let (head, rest) = self.bytes.split_at(dst.len().min(self.bytes.len() / 4) * 4);
        for (d, v) in dst.iter_mut().zip(values(head)) {
            *d = v;
        }
        self.bytes = rest;
    }
}

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), four bits at a
/// time from a 16-entry table: 64 bytes of flash.
#[must_use]
pub fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 16] = {
        let mut t = [0u32; 16];
        let mut i = 0;
        while i < 16 {
            #[allow(clippy::cast_possible_truncation)]
            let mut c = i as u32;
            let mut k = 0;
            while k < 4 {
                c = if c & 1 != 0 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        crc = TABLE[(crc & 0xF) as usize] ^ (crc >> 4);
        crc = TABLE[(crc & 0xF) as usize] ^ (crc >> 4);
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32/ISO-HDLC check value of the ASCII digits 1–9.
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(super::crc32(b""), 0);
    }
}
