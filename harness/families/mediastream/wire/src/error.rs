//! Typed parse and emit errors: small `Copy` values that say what was wrong and where.

use core::fmt;

use super::{flag, Kind};

/// Why a datagram could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Fewer bytes than the kind needs (`kind: None`: not even the 2-byte flag).
    TooShort {
        /// The kind the flag announced, if one was read.
        kind: Option<Kind>,
        /// Bytes the kind needs at least.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The flag is none of the protocol's.
    UnknownFlag {
        /// The flag, read little-endian from bytes 0..2.
        flag: u16,
    },
    /// A control frame whose Version is not 1.
    BadVersion {
        /// SYN, SYN-ACK or ACK.
        kind: Kind,
        /// The version found.
        version: u8,
    },
    /// A TLV option (D14) whose header or value runs past the end of the datagram.
    TlvOverrun {
        /// The control frame's kind.
        kind: Kind,
        /// Byte offset of the TLV within the datagram.
        offset: usize,
        /// Bytes the TLV needs from `offset` (3 when its header itself is cut, else 3 + length).
        needed: usize,
        /// Bytes left from `offset` to the end.
        available: usize,
    },
    /// A known TLV type whose value has the wrong length.
    TlvBadLength {
        /// The control frame's kind.
        kind: Kind,
        /// The TLV type.
        tlv_type: u8,
        /// The length the type requires.
        expected: usize,
        /// The length found.
        actual: usize,
    },
}

impl Error {
    /// snake_case name of the error, as in JSON output and vectors.
    pub const fn name(&self) -> &'static str {
        match self {
            Error::TooShort { .. } => "too_short",
            Error::UnknownFlag { .. } => "unknown_flag",
            Error::BadVersion { .. } => "bad_version",
            Error::TlvOverrun { .. } => "tlv_overrun",
            Error::TlvBadLength { .. } => "tlv_bad_length",
        }
    }

    /// The datagram kind the error concerns, when one was recognised.
    pub const fn kind(&self) -> Option<Kind> {
        match *self {
            Error::TooShort { kind, .. } => kind,
            Error::UnknownFlag { .. } => None,
            Error::BadVersion { kind, .. }
            | Error::TlvOverrun { kind, .. }
            | Error::TlvBadLength { kind, .. } => Some(kind),
        }
    }

    /// Places a TLV error (offsets relative to the options) within a control frame of `kind`.
    pub(crate) const fn from_tlv(kind: Kind, options_offset: usize, error: TlvError) -> Error {
        match error {
            TlvError::Overrun {
                offset,
                needed,
                available,
            } => Error::TlvOverrun {
                kind,
                offset: options_offset + offset,
                needed,
                available,
            },
            TlvError::BadLength {
                tlv_type,
                expected,
                actual,
            } => Error::TlvBadLength {
                kind,
                tlv_type,
                expected,
                actual,
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::TooShort {
                kind: None,
                needed,
                actual,
            } => write!(
                f,
                "too short for a flag: needed {needed} bytes, got {actual}"
            ),
            Error::TooShort {
                kind: Some(kind),
                needed,
                actual,
            } => write!(f, "{kind} too short: needed {needed} bytes, got {actual}"),
            Error::UnknownFlag { flag } => {
                write!(f, "unknown flag 0x{flag:04x}")?;
                if flag == flag::START_AS_FLAG {
                    // The bytes "ST": most likely a START that is not exactly 5 bytes, or a 3-way-only reader.
                    f.write_str(" (\"ST\": a START is exactly the 5 bytes `START`, and only legacy-accepting receivers take it)")?;
                }
                Ok(())
            }
            Error::BadVersion { kind, version } => {
                write!(f, "{kind} has version {version}, expected 1")
            }
            Error::TlvOverrun {
                kind,
                offset,
                needed,
                available,
            } => write!(
                f,
                "{kind} TLV option at byte {offset} overruns the datagram: needs {needed} bytes, {available} left"
            ),
            Error::TlvBadLength {
                kind,
                tlv_type,
                expected,
                actual,
            } => write!(
                f,
                "{kind} TLV option type {tlv_type} has length {actual}, expected {expected}"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Why a TLV option list is invalid; offsets are relative to the start of the options.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlvError {
    /// The TLV's header or value runs past the end.
    Overrun {
        /// Offset of the TLV within the options.
        offset: usize,
        /// Bytes the TLV needs from `offset`.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A known type with the wrong value length.
    BadLength {
        /// The TLV type.
        tlv_type: u8,
        /// The length the type requires.
        expected: usize,
        /// The length found.
        actual: usize,
    },
}

impl fmt::Display for TlvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TlvError::Overrun {
                offset,
                needed,
                available,
            } => write!(
                f,
                "TLV option at offset {offset} needs {needed} bytes, {available} left"
            ),
            TlvError::BadLength {
                tlv_type,
                expected,
                actual,
            } => write!(
                f,
                "TLV option type {tlv_type} has length {actual}, expected {expected}"
            ),
        }
    }
}

impl std::error::Error for TlvError {}

/// Why a representation could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EmitError {
    /// The caller's buffer is smaller than the datagram.
    BufferTooSmall {
        /// Bytes the datagram takes.
        needed: usize,
        /// Bytes in the buffer.
        available: usize,
    },
    /// An option list that would not parse back (an `Unknown` option using a known type code with
    /// another width).
    InvalidOptions(TlvError),
    /// A TLV value longer than its u16 length field can say.
    OptionTooLong {
        /// The TLV type.
        tlv_type: u8,
        /// The value's length.
        len: usize,
    },
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EmitError::BufferTooSmall { needed, available } => write!(
                f,
                "buffer too small: the datagram needs {needed} bytes, the buffer has {available}"
            ),
            EmitError::InvalidOptions(e) => write!(f, "options would not parse back: {e}"),
            EmitError::OptionTooLong { tlv_type, len } => write!(
                f,
                "TLV option type {tlv_type} value of {len} bytes exceeds 65535"
            ),
        }
    }
}

impl std::error::Error for EmitError {}
