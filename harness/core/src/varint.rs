//! QUIC variable-length integers (RFC 9000 §16): the two high bits of the first byte give the length
//! (1, 2, 4 or 8 bytes), the rest is the value, big-endian. Here, beneath both QUIC's frames and
//! HTTP/3's, which read them alike.

/// Why a varint could not be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum VarIntError {
    /// The input ends before the varint is complete.
    #[error("input ends before the item is complete")]
    UnexpectedEnd,
    /// A value above 2^62 - 1, or above what the asked length holds.
    #[error("{0:#x} exceeds the largest QUIC varint (2^62 - 1)")]
    TooLarge(u64),
}

/// A value of at most 2^62 - 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct VarInt(u64);

impl VarInt {
    /// The largest value, 2^62 - 1.
    pub const MAX: VarInt = VarInt((1 << 62) - 1);

    /// A value that fits (checked).
    pub const fn new(value: u64) -> Result<VarInt, VarIntError> {
        if value > Self::MAX.0 {
            Err(VarIntError::TooLarge(value))
        } else {
            Ok(VarInt(value))
        }
    }

    /// Any `u32` fits.
    pub const fn from_u32(value: u32) -> VarInt {
        VarInt(value as u64)
    }

    /// The value.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Bytes of its shortest encoding: 1, 2, 4 or 8.
    pub const fn encoded_len(self) -> usize {
        match self.0 {
            0..=0x3f => 1,
            0x40..=0x3fff => 2,
            0x4000..=0x3fff_ffff => 4,
            _ => 8,
        }
    }

    /// Appends the shortest encoding.
    pub fn encode(self, out: &mut Vec<u8>) {
        // Shortest length always fits, so this cannot fail.
        let _ = self.encode_with_len(self.encoded_len(), out);
    }

    /// Appends an encoding of exactly `len` bytes (1, 2, 4 or 8), minimal or not: receivers must
    /// accept non-minimal encodings, and malformed-on-purpose peers want them. `UnexpectedEnd` is
    /// never returned; `VarIntTooLarge` when the value does not fit `len` or `len` is not a length.
    pub fn encode_with_len(self, len: usize, out: &mut Vec<u8>) -> Result<(), VarIntError> {
        let (tag, max) = match len {
            1 => (0u8, 0x3f),
            2 => (0x40, 0x3fff),
            4 => (0x80, 0x3fff_ffff),
            8 => (0xc0, Self::MAX.0),
            _ => return Err(VarIntError::TooLarge(self.0)),
        };
        if self.0 > max {
            return Err(VarIntError::TooLarge(self.0));
        }
        let bytes = self.0.to_be_bytes();
        let start = out.len();
        out.extend_from_slice(&bytes[8 - len..]);
        out[start] |= tag;
        Ok(())
    }

    /// Reads one from the front of `buf`: the value and the bytes it took.
    pub fn decode(buf: &[u8]) -> Result<(VarInt, usize), VarIntError> {
        let first = *buf.first().ok_or(VarIntError::UnexpectedEnd)?;
        let len = 1usize << (first >> 6);
        let bytes = buf.get(..len).ok_or(VarIntError::UnexpectedEnd)?;
        let mut value = u64::from(first & 0x3f);
        for b in &bytes[1..] {
            value = (value << 8) | u64::from(*b);
        }
        Ok((VarInt(value), len))
    }

    /// Reads one from the front of `*buf` and advances it.
    pub fn take(buf: &mut &[u8]) -> Result<VarInt, VarIntError> {
        let (v, n) = VarInt::decode(buf)?;
        *buf = &buf[n..];
        Ok(v)
    }
}

impl From<u32> for VarInt {
    fn from(value: u32) -> Self {
        VarInt::from_u32(value)
    }
}

impl TryFrom<u64> for VarInt {
    type Error = VarIntError;
    fn try_from(value: u64) -> Result<Self, VarIntError> {
        VarInt::new(value)
    }
}

impl From<VarInt> for u64 {
    fn from(v: VarInt) -> u64 {
        v.0
    }
}

impl core::fmt::Display for VarInt {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    // RFC 9000 Appendix A.1's examples, plus the edges of each length.
    #[rstest]
    #[case(&[0x25], 37)]
    #[case(&[0x40, 0x25], 37)]
    #[case(&[0x7b, 0xbd], 15_293)]
    #[case(&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333)]
    #[case(&[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c], 151_288_809_941_952_652)]
    #[case(&[0x3f], 63)]
    #[case(&[0x40, 0x40], 64)]
    #[case(&[0x40, 0x41], 0x41)]
    #[case(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], (1 << 62) - 1)]
    fn decodes(#[case] bytes: &[u8], #[case] value: u64) {
        assert_eq!(VarInt::decode(bytes), Ok((VarInt(value), bytes.len())));
        let mut trailing = bytes.to_vec();
        trailing.push(0xaa);
        assert_eq!(VarInt::decode(&trailing), Ok((VarInt(value), bytes.len())));
    }

    #[rstest]
    #[case(&[])]
    #[case(&[0x40])]
    #[case(&[0x80, 0, 0])]
    #[case(&[0xc0, 0, 0, 0, 0, 0, 0])]
    fn truncated(#[case] bytes: &[u8]) {
        assert_eq!(VarInt::decode(bytes), Err(VarIntError::UnexpectedEnd));
    }

    #[test]
    fn too_large_and_forced_lengths() {
        assert_eq!(VarInt::new(1 << 62), Err(VarIntError::TooLarge(1 << 62)));
        let mut out = Vec::new();
        assert_eq!(VarInt(37).encode_with_len(2, &mut out), Ok(()));
        assert_eq!(out, [0x40, 0x25]);
        assert_eq!(
            VarInt(64).encode_with_len(1, &mut out),
            Err(VarIntError::TooLarge(64))
        );
        assert_eq!(
            VarInt(1).encode_with_len(3, &mut out),
            Err(VarIntError::TooLarge(1))
        );
    }
}
