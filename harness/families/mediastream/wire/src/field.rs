//! Byte ranges of every field, and the panic-free little-endian accessors the views use.

use core::ops::Range;

/// A field's byte range within the datagram.
pub type Field = Range<usize>;

/// Flag u16 (all kinds but `START`).
pub const FLAG: Field = 0..2;
/// SequenceNumber u64 (headered kinds; zero in control frames).
pub const SEQ: Field = 2..10;
/// QPC u64: the sender's performance counter when the datagram left.
pub const QPC: Field = 10..18;
/// QPF u64: the counter's frequency.
pub const QPF: Field = 18..26;
/// Length of the header shared by DATA, DATA+FRAG and the control frames.
pub const HEADER_LEN: usize = 26;

/// DATA+FRAG FragmentOffset u64.
pub const FRAGMENT_OFFSET: Field = 26..34;
/// DATA+FRAG TotalLength u64.
pub const TOTAL_LENGTH: Field = 34..42;
/// Length of the DATA+FRAG header.
pub const FRAGMENT_HEADER_LEN: usize = 42;

/// Control frame Version u8.
pub const VERSION: usize = 26;
/// Control frame Flags u8 (SYN-ACK bit 0 = Accept).
pub const CONTROL_FLAGS: usize = 27;
/// Control frame Reserved u16.
pub const RESERVED: Field = 28..30;
/// Control frame connection id (Desired / Assigned / Confirmed), 37 bytes.
pub const CONTROL_CONNECTION_ID: Field = 30..67;
/// Length of a control frame without options; TLV options (D14) start here.
pub const CONTROL_LEN: usize = 67;

/// CONNECTION_ID's 37-byte id.
pub const CONNECTION_ID: Field = 2..39;
/// Length of a CONNECTION_ID datagram (longer ones are accepted, the rest ignored).
pub const CONNECTION_ID_DATAGRAM_LEN: usize = 39;

/// Reads a little-endian u16; zero when the range lies outside `bytes` (views never panic).
pub(crate) fn read_u16(bytes: &[u8], at: Field) -> u16 {
    bytes
        .get(at)
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .map_or(0, u16::from_le_bytes)
}

/// Reads a little-endian u64; zero when the range lies outside `bytes`.
pub(crate) fn read_u64(bytes: &[u8], at: Field) -> u64 {
    bytes
        .get(at)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map_or(0, u64::from_le_bytes)
}

/// Reads one byte; zero when outside `bytes`.
pub(crate) fn read_u8(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

/// Writes `value` into `at`; a no-op when the range lies outside `bytes` (emitters size buffers first).
pub(crate) fn write(bytes: &mut [u8], at: Field, value: &[u8]) {
    if let Some(dst) = bytes.get_mut(at) {
        if dst.len() == value.len() {
            dst.copy_from_slice(value);
        }
    }
}
