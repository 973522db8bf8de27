//! Checkpoints: a network's declaration, parameters, BatchNorm running
//! statistics and (optionally) optimiser state as bytes, for flash or for
//! the host.
//!
//! Layout, all little-endian:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `VICR` |
//! | 4 | 2 | format version (2) |
//! | 6 | 2 | flags: bit 0 optimiser state present |
//! | 8 | 1 | optimiser kind ([`Optimizer::KIND`](super::Optimizer::KIND); 0 without state) |
//! | 9 | 1 | zero |
//! | 10 | 2 | layers L |
//! | 12 | 2 | layers in the encoder |
//! | 14 | 2 | input height H of a C×H×W image (0 for a vector or a C×T map) |
//! | 16 | 4 | input channels (features of a vector) |
//! | 20 | 4 | input length T of a map, width W of an image (0 for a vector) |
//! | 24 | 4 | trainer steps |
//! | 28 | 4 | optimiser steps |
//! | 32 | 4 | payload length P in bytes |
//! | 36 | 20·L | one record per layer: kind tag (each kind's `Kind::TAG`: 1 Linear, 2 BatchNorm, 3 ReLU, 4 Conv1d, 5 MeanTime, 6 Conv2d, 7 MaxPool2d, 8 AvgPool2d, 9 MeanSpace), flags (bit 0 bias), two zero bytes, then four u32: the output width or channels, and a Conv1d's kernel, stride and padding; a Conv2d's output channels, kernel, stride and padding, or a pooling's kernel and stride, each pair (height, width) as height + 65,536·width (zero where a kind has no number) |
//! | 36 + 20·L | P | f32 values: the parameters in storage order ([`Net::tensors`]), the running statistics, then each optimiser state copy |
//! | 36 + 20·L + P | 4 | CRC-32 (IEEE) of every byte before it |
//!
//! Opening a checkpoint checks everything before anything is written:
//! lengths (with checked arithmetic: a length field cannot make a size wrap
//! on a 32-bit target), magic, version, checksum, that the layer records
//! form a valid network whose sizes give exactly P, that every value is
//! finite and every running variance non-negative. CRC-32 detects every
//! single-bit error and every burst up to 32 bits.

use crate::nn::kind::record_number;
use crate::nn::{Layer, Net, Shape, Sizes};
/// CRC-32 (IEEE 802.3), the checksum that seals a checkpoint (and streamed
/// statistics): for tools that reseal bytes they changed.
pub use crate::wire::crc32;
use crate::wire::{self, Format, u16_at, u32_at};

/// The bytes `VICR`.
pub const MAGIC: [u8; 4] = *b"VICR";
/// The format version this crate writes and reads.
pub const VERSION: u16 = 2;
/// Bytes before the layer records.
pub const HEADER_BYTES: usize = 36;
/// Bytes of one layer record.
pub const RECORD_BYTES: usize = 20;
/// Bytes after the payload (the checksum).
pub const TRAILER_BYTES: usize = wire::TRAILER;

const FLAG_OPTIMIZER: u16 = 1;

/// Why a checkpoint was refused. Nothing was written when one of these is
/// returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum CheckpointError {
    /// The output buffer is too short.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        available: usize,
    },
    /// The bytes do not start with a checkpoint's magic number.
    Magic,
    /// The checkpoint was written in a format version this crate does not read.
    Version {
        /// The version found.
        found: u16,
    },
    /// The length or checksum is wrong (truncated or corrupted), a field
    /// holds a value this format never writes, or a value no trained network
    /// has (NaN, infinity, a negative variance or second moment).
    Corrupt,
    /// The checkpoint's input shape is not this network's.
    Input,
    /// The checkpoint has another number of layers, or another split
    /// between encoder and expander.
    Depth {
        /// Layers in the checkpoint.
        found: usize,
        /// Layers in this network.
        expected: usize,
    },
    /// Layer `index` (in the whole list) differs from this network's.
    Layer {
        /// The first layer that differs.
        index: usize,
    },
    /// The checkpoint holds another optimiser's state.
    Optimizer {
        /// Its kind tag.
        found: u8,
    },
}

impl core::fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Self::BufferTooSmall { needed, available } => {
                write!(f, "buffer holds {available} bytes, the checkpoint needs {needed}")
            }
            Self::Magic => f.write_str("not a checkpoint (bad magic number)"),
            Self::Version { found } => {
                write!(f, "checkpoint format version {found} is not supported (this build reads {VERSION})")
            }
            Self::Corrupt => f.write_str("checkpoint is truncated or corrupted (length, checksum, fields or values)"),
            Self::Input => f.write_str("checkpoint is for another input shape"),
            Self::Depth { found, expected } => {
                write!(f, "checkpoint has {found} layers (or another encoder/expander split), this network {expected}")
            }
            Self::Layer { index } => write!(f, "checkpoint's layer {index} differs from this network's"),
            Self::Optimizer { found } => write!(f, "checkpoint holds the state of another optimiser (kind {found})"),
        }
    }
}

impl core::error::Error for CheckpointError {}

/// The parts of a checkpoint that are not the network or the values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Meta {
    /// The optimiser whose state follows the model values, 0 for none.
    pub optimizer_kind: u8,
    /// Trainer steps.
    pub steps: u32,
    /// Optimiser steps (AdamW's bias correction).
    pub optimizer_steps: u32,
}

/// What a checkpoint says about itself, read without a trainer of its
/// network (for host tools that convert checkpoints to other formats).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info<'b> {
    /// Optimiser kind and step counts.
    pub meta: Meta,
    /// The input shape.
    pub input: Shape,
    /// Layers in the encoder.
    pub encoder_layers: usize,
    /// Trainable parameters.
    pub parameters: usize,
    /// BatchNorm running statistics.
    pub running: usize,
    /// Optimiser state copies (each as long as the parameters).
    pub optimizer_copies: usize,
    records: &'b [u8],
}

impl Info<'_> {
    /// Layers in all.
    #[must_use]
    pub fn depth(&self) -> usize {
        self.records.len() / RECORD_BYTES
    }

    /// Layer `i` (encoder, then expander).
    #[must_use]
    pub fn layer(&self, i: usize) -> Option<Layer> {
        let r = self.records.get(i * RECORD_BYTES..(i + 1) * RECORD_BYTES)?;
        decode_layer(r)
    }

    /// Every layer, in order.
    pub fn layers(&self) -> impl Iterator<Item = Layer> + '_ {
        (0..self.depth()).filter_map(|i| self.layer(i))
    }

    /// Values before the optimiser state: the parameters and the running
    /// statistics.
    #[must_use]
    pub const fn model_values(&self) -> usize {
        self.parameters + self.running
    }

    /// Values in the payload.
    #[must_use]
    pub const fn values(&self) -> usize {
        self.model_values() + self.optimizer_copies * self.parameters
    }
}

/// The checkpoint's framing: magic `VICR`, version [`VERSION`].
const FORMAT: Format = Format { magic: MAGIC, version: VERSION };

wire::framing_errors!(CheckpointError);

fn decode_layer(r: &[u8]) -> Option<Layer> {
    if r.len() != RECORD_BYTES || r[2] != 0 || r[3] != 0 {
        return None;
    }
    Layer::from_record(r[0], r[1], [u32_at(r, 4), u32_at(r, 8), u32_at(r, 12), u32_at(r, 16)])
}

fn encode_layer(layer: Layer, out: &mut [u8]) {
    let (tag, flags, numbers) = layer.record();
    out[..4].copy_from_slice(&[tag, flags, 0, 0]);
    for (chunk, n) in out[4..RECORD_BYTES].chunks_exact_mut(4).zip(numbers) {
        chunk.copy_from_slice(&n.to_le_bytes());
    }
}

/// (height, channels, length or width) as the header stores them: a count
/// that does not fit is written as the largest value its field holds (no
/// device holds such a network; loading it back fails with
/// [`CheckpointError::Input`]).
fn encode_input(input: Shape) -> (u16, [u32; 2]) {
    let n = record_number;
    match input {
        Shape::Flat(d) => (0, [n(d), 0]),
        Shape::Map { channels, length } => (0, [n(channels), n(length)]),
        Shape::Image { channels, height, width } => {
            (u16::try_from(height).unwrap_or(u16::MAX), [n(channels), n(width)])
        }
    }
}

/// The input shape a header's fields describe.
fn decode_input(height: usize, channels: usize, length: usize) -> Option<Shape> {
    match (height, length) {
        (0, 0) => Some(Shape::Flat(channels)),
        (0, _) => Some(Shape::Map { channels, length }),
        (_, 0) => None,
        (_, width) => Some(Shape::Image { channels, height, width }),
    }
}

/// Bytes of a checkpoint of `net` with `optimizer_copies` state copies
/// (0 for the model alone); saturates for sizes no memory holds.
#[must_use]
pub const fn len(net: &Net<'_>, optimizer_copies: usize) -> usize {
    sized_len(net.depth(), &net.sizes(1), optimizer_copies)
}

const fn sized_len(depth: usize, s: &Sizes, optimizer_copies: usize) -> usize {
    let values = s.parameters.saturating_mul(optimizer_copies + 1).saturating_add(s.running);
    HEADER_BYTES
        .saturating_add(RECORD_BYTES.saturating_mul(depth))
        .saturating_add(values.saturating_mul(4))
        .saturating_add(TRAILER_BYTES)
}

/// Writes a checkpoint front to back into a caller's buffer.
pub(crate) struct Writer<'o> {
    out: &'o mut [u8],
    at: usize,
}

impl<'o> Writer<'o> {
    /// Starts a checkpoint of `net` (whose sizes are `sizes`) with `copies`
    /// optimiser state copies, after checking that `out` holds it all.
    pub(crate) fn new(
        out: &'o mut [u8],
        net: &Net<'_>,
        sizes: &Sizes,
        meta: &Meta,
        copies: usize,
    ) -> Result<Self, CheckpointError> {
        let total = sized_len(net.depth(), sizes, copies);
        let values = sizes.parameters.saturating_mul(copies + 1).saturating_add(sizes.running);
        let (Ok(payload), Ok(depth), Ok(encoder)) =
            (u32::try_from(values.saturating_mul(4)), u16::try_from(net.depth()), u16::try_from(net.encoder.len()))
        else {
            return Err(CheckpointError::BufferTooSmall { needed: total, available: out.len() });
        };
        FORMAT.begin(out, total)?;
        let flags = if copies > 0 { FLAG_OPTIMIZER } else { 0 };
        let (height, [channels, length]) = encode_input(net.input);
        out[6..8].copy_from_slice(&flags.to_le_bytes());
        out[8..10].copy_from_slice(&[if copies > 0 { meta.optimizer_kind } else { 0 }, 0]);
        out[10..12].copy_from_slice(&depth.to_le_bytes());
        out[12..14].copy_from_slice(&encoder.to_le_bytes());
        out[14..16].copy_from_slice(&height.to_le_bytes());
        for (o, v) in [(16, channels), (20, length), (24, meta.steps), (28, meta.optimizer_steps), (32, payload)] {
            out[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
        let records = &mut out[HEADER_BYTES..HEADER_BYTES + RECORD_BYTES * net.depth()];
        for (chunk, i) in records.chunks_exact_mut(RECORD_BYTES).zip(0..) {
            if let Some(layer) = net.layer(i) {
                encode_layer(layer, chunk);
            }
        }
        let at = HEADER_BYTES + RECORD_BYTES * net.depth();
        Ok(Self { out: &mut out[..total], at })
    }

    /// Appends values (the buffer was sized for the whole payload).
    pub(crate) fn put(&mut self, values: &[f32]) {
        self.at = wire::put_f32s(self.out, self.at, values);
    }

    /// Appends the checksum; returns the bytes written.
    pub(crate) fn finish(self) -> usize {
        wire::seal(self.out);
        self.out.len()
    }
}

/// A checkpoint whose framing is checked (lengths, magic, version, checksum,
/// flags, finite values) but whose layer records are not yet read.
#[derive(Clone, Copy)]
pub(crate) struct Raw<'b> {
    pub(crate) meta: Meta,
    pub(crate) with_state: bool,
    pub(crate) input: Shape,
    pub(crate) encoder_layers: usize,
    pub(crate) records: &'b [u8],
    pub(crate) payload: &'b [u8],
}

/// Checks the framing of a checkpoint (see the module documentation).
pub(crate) fn open_raw(bytes: &[u8]) -> Result<Raw<'_>, CheckpointError> {
    use CheckpointError::Corrupt;
    FORMAT.open(bytes, HEADER_BYTES + TRAILER_BYTES)?;
    let depth = usize::from(u16_at(bytes, 10));
    if depth > crate::nn::Net::MAX_DEPTH {
        return Err(Corrupt);
    }
    let payload = usize::try_from(u32_at(bytes, 32)).map_err(|_| Corrupt)?;
    let records_end = RECORD_BYTES.checked_mul(depth).and_then(|r| r.checked_add(HEADER_BYTES)).ok_or(Corrupt)?;
    let end = records_end.checked_add(payload).ok_or(Corrupt)?;
    if end.checked_add(TRAILER_BYTES) != Some(bytes.len()) || !payload.is_multiple_of(4) {
        return Err(Corrupt);
    }
    if !wire::sealed(bytes) {
        return Err(Corrupt);
    }
    // The checksum proves the bytes arrived as written, not that the writer
    // was sane: every field must hold what this format writes.
    let flags = u16_at(bytes, 6);
    let kind = bytes[8];
    let with_state = flags == FLAG_OPTIMIZER;
    let padding_zero = bytes[9] == 0;
    if !(flags == 0 || with_state) || with_state == (kind == 0) || !padding_zero {
        return Err(Corrupt);
    }
    let encoder_layers = usize::from(u16_at(bytes, 12));
    let to_usize = |x: u32| usize::try_from(x).map_err(|_| Corrupt);
    let (channels, length) = (to_usize(u32_at(bytes, 16))?, to_usize(u32_at(bytes, 20))?);
    let input = decode_input(usize::from(u16_at(bytes, 14)), channels, length).ok_or(Corrupt)?;
    if encoder_layers == 0 || encoder_layers > depth || input.checked_len().is_none_or(|len| len == 0) {
        return Err(Corrupt);
    }
    let payload = &bytes[records_end..end];
    if !wire::f32s(payload).all(f32::is_finite) {
        return Err(Corrupt);
    }
    let meta = Meta { optimizer_kind: kind, steps: u32_at(bytes, 24), optimizer_steps: u32_at(bytes, 28) };
    Ok(Raw { meta, with_state, input, encoder_layers, records: &bytes[HEADER_BYTES..records_end], payload })
}

/// Whether the payload holds the model values and whole state copies (as
/// many as `copies`, at least one exactly when the flag says so).
pub(crate) fn copies_of(raw: &Raw<'_>, parameters: usize, running: usize) -> Result<usize, CheckpointError> {
    let values = raw.payload.len() / 4;
    let extra = values.checked_sub(parameters.saturating_add(running)).ok_or(CheckpointError::Corrupt)?;
    let copies = extra.checked_div(parameters).unwrap_or(0);
    let exact = if raw.with_state { copies > 0 && extra == copies * parameters } else { extra == 0 };
    if exact { Ok(copies) } else { Err(CheckpointError::Corrupt) }
}

/// Whether the running variances, at `variances` (offset, channels) in the
/// running statistics after `parameters` values, are all non-negative: a
/// negative one would make inference take the root of a negative number.
pub(crate) fn variances_sound(
    payload: &[u8],
    parameters: usize,
    variances: impl Iterator<Item = (usize, usize)>,
) -> bool {
    variances.into_iter().all(|(at, c)| {
        payload.get(4 * (parameters + at)..4 * (parameters + at + c)).is_some_and(|v| wire::f32s(v).all(|x| x >= 0.0))
    })
}

/// Reads the layer records of a framed checkpoint as a network: each must
/// decode, fit its input, and the sizes must give the payload's length
/// exactly.
pub(crate) fn describe(raw: Raw<'_>) -> Result<Info<'_>, CheckpointError> {
    use CheckpointError::Corrupt;
    let (mut shape, mut parameters, mut running) = (raw.input, 0usize, 0usize);
    for r in raw.records.chunks_exact(RECORD_BYTES) {
        let layer = decode_layer(r).ok_or(Corrupt)?;
        let out = layer.output(shape).map_err(|_| Corrupt)?;
        if out.checked_len().is_none() {
            return Err(Corrupt);
        }
        parameters = parameters.checked_add(layer.parameter_count(shape)).ok_or(Corrupt)?;
        running = running.checked_add(layer.running(shape)).ok_or(Corrupt)?;
        shape = out;
    }
    let optimizer_copies = copies_of(&raw, parameters, running)?;
    // Running statistics are mean then variance per BatchNorm layer.
    let mut shape = raw.input;
    let mut at = 0;
    for r in raw.records.chunks_exact(RECORD_BYTES) {
        let layer = decode_layer(r).ok_or(Corrupt)?;
        let c = layer.running(shape) / 2;
        if !variances_sound(raw.payload, parameters, core::iter::once((at + c, c))) {
            return Err(Corrupt);
        }
        at += 2 * c;
        shape = layer.output(shape).map_err(|_| Corrupt)?;
    }
    Ok(Info {
        meta: raw.meta,
        input: raw.input,
        encoder_layers: raw.encoder_layers,
        parameters,
        running,
        optimizer_copies,
        records: raw.records,
    })
}

/// Compares a framed checkpoint's network with `net`, naming the first
/// difference (without decoding the records: each is compared with the
/// bytes `net`'s layer writes).
pub(crate) fn same_network(raw: &Raw<'_>, net: &Net<'_>) -> Result<(), CheckpointError> {
    if raw.input != net.input {
        return Err(CheckpointError::Input);
    }
    let depth = raw.records.len() / RECORD_BYTES;
    if depth != net.depth() || raw.encoder_layers != net.encoder.len() {
        return Err(CheckpointError::Depth { found: depth, expected: net.depth() });
    }
    for (index, record) in raw.records.chunks_exact(RECORD_BYTES).enumerate() {
        let mut expected = [0u8; RECORD_BYTES];
        if let Some(layer) = net.layer(index) {
            encode_layer(layer, &mut expected);
        }
        if record != expected {
            return Err(CheckpointError::Layer { index });
        }
    }
    Ok(())
}

/// Checks a checkpoint (see the module documentation) and describes it; its
/// values are [`payload`] in order.
///
/// # Errors
///
/// As [`Trainer::load`](super::Trainer::load), except for the comparisons
/// with a trainer's network and optimiser.
pub fn inspect(bytes: &[u8]) -> Result<Info<'_>, CheckpointError> {
    describe(open_raw(bytes)?)
}

/// The payload values of a checkpoint that [`inspect`] accepted.
pub fn payload(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    let start = inspect(bytes).map_or(bytes.len(), |i| HEADER_BYTES + RECORD_BYTES * i.depth());
    let end = bytes.len().saturating_sub(TRAILER_BYTES);
    wire::f32s(bytes.get(start..end).unwrap_or(&[]))
}

/// Writes a checkpoint of `net` with `meta` holding `values` (parameters,
/// running statistics, then any optimiser state copies) into `out`; returns
/// its length. With [`inspect`] and [`payload`], a checkpoint goes to other
/// formats and back byte for byte.
///
/// # Errors
///
/// [`CheckpointError::Corrupt`] if `net` is not a valid network or `values`
/// is not the model's length plus whole state copies (with a non-zero
/// optimiser kind exactly when there are copies),
/// [`CheckpointError::BufferTooSmall`] if `out` cannot hold it.
pub fn assemble(net: &Net<'_>, meta: &Meta, values: &[f32], out: &mut [u8]) -> Result<usize, CheckpointError> {
    if net.check().is_err() {
        return Err(CheckpointError::Corrupt);
    }
    let (params, model) = (net.parameter_count(), net.parameter_count() + net.running_len());
    let extra = values.len().checked_sub(model).ok_or(CheckpointError::Corrupt)?;
    let copies = extra.checked_div(params).unwrap_or(0);
    if extra != copies * params || (copies > 0) != (meta.optimizer_kind != 0) {
        return Err(CheckpointError::Corrupt);
    }
    let mut w = Writer::new(out, net, &net.sizes(1), meta, copies)?;
    w.put(values);
    Ok(w.finish())
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
        for (d, v) in dst.iter_mut().zip(wire::f32s(head)) {
            *d = v;
        }
        self.bytes = rest;
    }

    /// The next `len` values without consuming them.
    pub(crate) fn peek(&self, len: usize) -> impl Iterator<Item = f32> + '_ {
        wire::f32s(self.bytes.get(..4 * len).unwrap_or(&[]))
    }

    /// Skips `len` values.
    pub(crate) fn skip(&mut self, len: usize) {
        self.bytes = self.bytes.get(4 * len..).unwrap_or(&[]);
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::seal;

    /// A checkpoint of `Map { 2, 2 }` → MeanTime whose header is resealed
    /// with the input (65536, 65536): 2³² values a sample, which a 32-bit
    /// target cannot count. Refused there; elsewhere it is what
    /// `Net::check` says of the same layers.
    #[test]
    fn an_input_whose_size_overflows_is_refused() {
        use crate::nn::{Layer, Net, Shape};
        let net = Net::new(Shape::Map { channels: 2, length: 2 }, &[Layer::MeanTime], &[]);
        let meta = super::Meta { optimizer_kind: 0, steps: 0, optimizer_steps: 0 };
        let mut bytes = [0u8; 256];
        let len = super::assemble(&net, &meta, &[], &mut bytes).unwrap();
        assert!(super::inspect(&bytes[..len]).is_ok());
        bytes[16..20].copy_from_slice(&65536u32.to_le_bytes());
        bytes[20..24].copy_from_slice(&65536u32.to_le_bytes());
        seal(&mut bytes[..len]);
        let huge = Net::new(Shape::Map { channels: 65536, length: 65536 }, &[Layer::MeanTime], &[]);
        let got = super::inspect(&bytes[..len]).map(|i| i.input);
        match huge.check() {
            Ok(()) => assert_eq!(got, Ok(huge.input)),
            Err(_) => assert_eq!(got, Err(super::CheckpointError::Corrupt)),
        }
        assert_eq!(usize::BITS == 32, huge.check().is_err());
        // A record list deeper than Net::MAX_DEPTH is refused before it is read.
        bytes[10..12].copy_from_slice(&u16::try_from(Net::MAX_DEPTH + 1).unwrap().to_le_bytes());
        assert_eq!(super::inspect(&bytes[..len]).err(), Some(super::CheckpointError::Corrupt));
    }

    /// `Net::MAX_DEPTH` layers load; one more, in an otherwise sound
    /// checkpoint (records, lengths and checksum all consistent), does not.
    #[test]
    #[allow(clippy::large_stack_arrays)] // 20 KiB of test bytes on a host's stack
    fn a_checkpoint_deeper_than_the_limit_is_refused() {
        use crate::nn::{Layer, Net, Shape};
        static RELUS: [Layer; Net::MAX_DEPTH] = [Layer::ReLU; Net::MAX_DEPTH];
        let net = Net::new(Shape::Flat(2), &RELUS, &[]);
        let meta = super::Meta { optimizer_kind: 0, steps: 0, optimizer_steps: 0 };
        let len = super::len(&net, 0);
        let mut bytes = [0u8; super::HEADER_BYTES + super::RECORD_BYTES * (Net::MAX_DEPTH + 1) + 4];
        assert_eq!(super::assemble(&net, &meta, &[], &mut bytes).unwrap(), len);
        assert_eq!(super::inspect(&bytes[..len]).map(|i| i.depth()), Ok(Net::MAX_DEPTH));
        // One more ReLU record, the depth and the encoder's length raised.
        let deeper = len + super::RECORD_BYTES;
        bytes.copy_within(len - 4 - super::RECORD_BYTES..len - 4, len - 4);
        let depth = u16::try_from(Net::MAX_DEPTH + 1).unwrap().to_le_bytes();
        bytes[10..12].copy_from_slice(&depth);
        bytes[12..14].copy_from_slice(&depth);
        seal(&mut bytes[..deeper]);
        assert_eq!(super::inspect(&bytes[..deeper]).err(), Some(super::CheckpointError::Corrupt));
    }

    /// Every truncation of a checkpoint, from no bytes to all but its last,
    /// is refused as corrupt, never read past its end.
    #[test]
    fn every_truncation_is_corrupt() {
        use crate::nn::{Layer, Net, Shape};
        let net = Net::new(Shape::Flat(2), &[Layer::ReLU], &[]);
        let meta = super::Meta { optimizer_kind: 0, steps: 0, optimizer_steps: 0 };
        let mut bytes = [0u8; 128];
        let len = super::assemble(&net, &meta, &[], &mut bytes).unwrap();
        assert!(super::inspect(&bytes[..len]).is_ok());
        for cut in 0..len {
            assert_eq!(super::inspect(&bytes[..cut]).err(), Some(super::CheckpointError::Corrupt), "{cut} bytes");
        }
    }

    /// An empty input (no values a sample) is refused however the rest
    /// reads, and so is an encoder length the layer list cannot have.
    #[test]
    fn an_empty_input_is_refused() {
        use crate::nn::{Layer, Net, Shape};
        let net = Net::new(Shape::Flat(2), &[Layer::ReLU], &[]);
        let meta = super::Meta { optimizer_kind: 0, steps: 0, optimizer_steps: 0 };
        let mut bytes = [0u8; 128];
        let len = super::assemble(&net, &meta, &[], &mut bytes).unwrap();
        let sound = bytes;
        bytes[16..20].copy_from_slice(&0u32.to_le_bytes());
        seal(&mut bytes[..len]);
        assert_eq!(super::inspect(&bytes[..len]).err(), Some(super::CheckpointError::Corrupt));
        // So is an encoder of no layers, or of more than the network has.
        for encoder in [0u16, 2] {
            let mut bytes = sound;
            bytes[12..14].copy_from_slice(&encoder.to_le_bytes());
            seal(&mut bytes[..len]);
            assert_eq!(super::inspect(&bytes[..len]).err(), Some(super::CheckpointError::Corrupt), "{encoder}");
        }
    }

    /// Each of the three input shapes reads back as written; an image's
    /// height without a width is not a shape.
    #[test]
    fn every_input_shape_reads_back() {
        use crate::nn::{Layer, Net, Shape};
        let meta = super::Meta { optimizer_kind: 0, steps: 0, optimizer_steps: 0 };
        let shapes = [
            Shape::Flat(12),
            Shape::Map { channels: 3, length: 4 },
            Shape::Image { channels: 1, height: 3, width: 4 },
            Shape::Image { channels: 2, height: 2, width: 3 },
        ];
        for input in shapes {
            let layers = [Layer::BatchNorm, Layer::linear(2)];
            let net = Net::new(input, &layers, &[]);
            let params = [0.5f32; 128];
            let values = &params[..net.parameter_count() + net.running_len()];
            let mut bytes = [0u8; 512];
            let len = super::assemble(&net, &meta, values, &mut bytes).unwrap();
            assert_eq!(super::inspect(&bytes[..len]).map(|info| info.input), Ok(input));
            if let Shape::Image { height, .. } = input {
                assert_eq!(bytes[14..16], [u8::try_from(height).unwrap(), 0]);
                let mut no_width = bytes;
                no_width[20..24].fill(0);
                seal(&mut no_width[..len]);
                assert_eq!(super::inspect(&no_width[..len]).err(), Some(super::CheckpointError::Corrupt));
            }
        }
    }
}
