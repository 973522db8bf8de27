//! What every format the crate writes to bytes shares (checkpoints,
//! streamed statistics): a four-byte magic number and a little-endian u16
//! version at the front, little-endian fields, the CRC-32 of every byte
//! before it as the last four, and the ways such bytes are refused
//! ([`Framing`]). It sits below the modules that frame bytes, so none of
//! them imports another for it.

/// A byte format: what its first six bytes must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Format {
    pub(crate) magic: [u8; 4],
    pub(crate) version: u16,
}

/// Why framed bytes were refused, in the terms every format shares; each
/// format's error type has these as its first four variants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// The output buffer is too short.
    BufferTooSmall { needed: usize, available: usize },
    /// The bytes do not start with the format's magic number.
    Magic,
    /// Another version of the format.
    Version { found: u16 },
    /// Wrong length or checksum, or a field this format never writes.
    Corrupt,
}

/// Converts the shared framing failures into a format's error type, whose
/// first four variants are `BufferTooSmall { needed, available }`, `Magic`,
/// `Version { found }` and `Corrupt`.
macro_rules! framing_errors {
    ($error:ty) => {
        impl From<$crate::wire::Framing> for $error {
            fn from(f: $crate::wire::Framing) -> Self {
                use $crate::wire::Framing;
                match f {
                    Framing::BufferTooSmall { needed, available } => Self::BufferTooSmall { needed, available },
                    Framing::Magic => Self::Magic,
                    Framing::Version { found } => Self::Version { found },
                    Framing::Corrupt => Self::Corrupt,
                }
            }
        }
    };
}
pub(crate) use framing_errors;

/// Bytes of the magic number and version.
pub(crate) const HEAD: usize = 6;
/// Bytes of the checksum at the end.
pub(crate) const TRAILER: usize = 4;

impl Format {
    /// Checks that `out` holds `needed` bytes, and writes the magic number
    /// and version at its front.
    pub(crate) fn begin(self, out: &mut [u8], needed: usize) -> Result<(), Framing> {
        if out.len() < needed || needed < HEAD + TRAILER {
            return Err(Framing::BufferTooSmall { needed, available: out.len() });
        }
        out[..4].copy_from_slice(&self.magic);
        out[4..HEAD].copy_from_slice(&self.version.to_le_bytes());
        Ok(())
    }

    /// Checks that `bytes` are at least `min` long and start with this
    /// format's magic number and version. The length and checksum are the
    /// format's to check next ([`sealed`]), once its fields say how long it is.
    pub(crate) fn open(self, bytes: &[u8], min: usize) -> Result<(), Framing> {
        if bytes.len() < min.max(HEAD + TRAILER) {
            return Err(Framing::Corrupt);
        }
        if bytes[..4] != self.magic {
            return Err(Framing::Magic);
        }
        match u16_at(bytes, 4) {
            found if found == self.version => Ok(()),
            found => Err(Framing::Version { found }),
        }
    }
}

/// Writes the CRC-32 of all but the last four bytes into those four.
pub(crate) fn seal(bytes: &mut [u8]) {
    let Some(end) = bytes.len().checked_sub(TRAILER) else { return };
    let crc = crc32(&bytes[..end]);
    bytes[end..].copy_from_slice(&crc.to_le_bytes());
}

/// Whether the last four bytes are the CRC-32 of the others.
pub(crate) fn sealed(bytes: &[u8]) -> bool {
    bytes.len().checked_sub(TRAILER).is_some_and(|end| crc32(&bytes[..end]) == u32_at(bytes, end))
}

/// The little-endian u16 at `at` (the caller checked the length).
pub(crate) fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// The little-endian u32 at `at` (the caller checked the length).
pub(crate) fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The little-endian f32 values of a run of bytes.
pub(crate) fn f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

/// Writes `values` little-endian from `at`; returns the offset after them.
pub(crate) fn put_f32s(out: &mut [u8], at: usize, values: &[f32]) -> usize {
    for (chunk, v) in out[at..].chunks_exact_mut(4).zip(values) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    at + 4 * values.len()
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
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        // The CRC-32/ISO-HDLC check value of the ASCII digits 1–9.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_frame_reads_back_and_each_damage_is_named() {
        const F: Format = Format { magic: *b"TEST", version: 7 };
        let mut out = [0u8; 14];
        assert_eq!(F.begin(&mut out, 15), Err(Framing::BufferTooSmall { needed: 15, available: 14 }));
        assert_eq!(F.begin(&mut out, 9), Err(Framing::BufferTooSmall { needed: 9, available: 14 }));
        // The smallest frame: a head and a checksum, nothing between.
        assert_eq!(F.begin(&mut [0u8; 10], 10), Ok(()));
        F.begin(&mut out, 14).unwrap();
        assert_eq!(put_f32s(&mut out, HEAD, &[1.5]), 10);
        seal(&mut out);
        assert_eq!((F.open(&out, 14), sealed(&out)), (Ok(()), true));
        assert_eq!((u16_at(&out, 4), u32_at(&out, 6), f32s(&out[6..10]).next()), (7, 1.5f32.to_bits(), Some(1.5)));
        assert_eq!(F.open(&out, 15), Err(Framing::Corrupt));
        assert_eq!(F.open(&out[..9], 0), Err(Framing::Corrupt));
        let mut other = out;
        other[0] = b'X';
        assert_eq!(F.open(&other, 14), Err(Framing::Magic));
        let mut newer = out;
        newer[4] = 8;
        assert_eq!(F.open(&newer, 14), Err(Framing::Version { found: 8 }));
        // Every single-bit error breaks the seal.
        for bit in 0..8 * out.len() {
            let mut flipped = out;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(!sealed(&flipped), "bit {bit}");
        }
        assert!(!sealed(&out[..3]));
    }
}
