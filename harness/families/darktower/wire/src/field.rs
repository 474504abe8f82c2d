//! Byte ranges of every field, and the panic-free big-endian accessors the views use.

use core::ops::Range;

/// A field's byte range.
pub(crate) type Field = Range<usize>;

/// The stream header (32 bytes).
pub(crate) mod header {
    use super::Field;
    pub(crate) const MAGIC: Field = 0..4;
    pub(crate) const VERSION: usize = 4;
    pub(crate) const STREAM_TYPE: usize = 5;
    pub(crate) const STREAM_ID: Field = 6..22;
    pub(crate) const CODEC: Field = 22..26;
    pub(crate) const RESERVED: Field = 26..32;
    pub(crate) const LEN: usize = 32;
}

/// The v1 frame header (46 bytes).
pub(crate) mod frame {
    use super::Field;
    pub(crate) const VERSION: usize = 0;
    pub(crate) const FRAME_TYPE: usize = 1;
    pub(crate) const STREAM_ID: Field = 2..18;
    pub(crate) const TIMESTAMP: Field = 18..26;
    pub(crate) const SEQUENCE: Field = 26..34;
    pub(crate) const PAYLOAD_LEN: Field = 34..38;
    pub(crate) const FLAGS: Field = 38..40;
    pub(crate) const RESERVED: Field = 40..46;
    pub(crate) const LEN: usize = 46;
}

/// The v2 frame header (42 bytes).
pub(crate) mod frame_v2 {
    use super::Field;
    pub(crate) const VERSION: usize = 0;
    pub(crate) const FRAME_TYPE: usize = 1;
    pub(crate) const USER_ID: Field = 2..10;
    pub(crate) const STREAM_ID: Field = 10..14;
    pub(crate) const TIMESTAMP: Field = 14..22;
    pub(crate) const SEQUENCE: Field = 22..30;
    pub(crate) const PAYLOAD_LEN: Field = 30..34;
    pub(crate) const FLAGS: Field = 34..36;
    pub(crate) const RESERVED: Field = 36..42;
    pub(crate) const LEN: usize = 42;
}

/// `N` bytes at `at`; zeros when the range lies outside `bytes` (views never panic).
pub(crate) fn read_array<const N: usize>(bytes: &[u8], at: Field) -> [u8; N] {
    bytes
        .get(at)
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .unwrap_or([0; N])
}

pub(crate) fn read_u8(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

pub(crate) fn read_u16(bytes: &[u8], at: Field) -> u16 {
    u16::from_be_bytes(read_array(bytes, at))
}

pub(crate) fn read_u32(bytes: &[u8], at: Field) -> u32 {
    u32::from_be_bytes(read_array(bytes, at))
}

pub(crate) fn read_u64(bytes: &[u8], at: Field) -> u64 {
    u64::from_be_bytes(read_array(bytes, at))
}

/// Writes `value` into `at`; a no-op when the range lies outside `bytes` (emitters size first).
pub(crate) fn write(bytes: &mut [u8], at: Field, value: &[u8]) {
    if let Some(dst) = bytes.get_mut(at) {
        if dst.len() == value.len() {
            dst.copy_from_slice(value);
        }
    }
}

pub(crate) fn write_u8(bytes: &mut [u8], at: usize, value: u8) {
    if let Some(b) = bytes.get_mut(at) {
        *b = value;
    }
}

/// `fixed + variable` as a length, saturating (a u32 length never overflows a 64-bit usize, but
/// the arithmetic stays panic-free everywhere).
pub(crate) fn total_len(fixed: usize, variable: u32) -> usize {
    fixed.saturating_add(usize::try_from(variable).unwrap_or(usize::MAX))
}
