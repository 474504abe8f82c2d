//! Typed errors of the binary formats (stream header, v1 and v2 frames, the media stream reader).

use crate::header::StreamId;
use crate::reset::ResetCode;

/// Why bytes are not a valid header, frame or media stream. Every variant is small and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Error {
    /// Fewer bytes than the structure needs (a frame: its header plus its announced payload,
    /// checked before anything is read or allocated).
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The stream header does not start with `DART` (DT5 → reset 0x01).
    #[error("bad magic {0:02x?} (expected \"DART\" 44 41 52 54)")]
    BadMagic([u8; 4]),
    /// A version other than 1 (header: DT5; frame v1; frame v2: DT11).
    #[error("bad version {0} (expected 1)")]
    BadVersion(u8),
    /// A stream header whose stream type is neither 0x00 audio nor 0x01 video (DT2 → reset 0x01).
    #[error("unknown stream type {0:#04x} (0x00 audio, 0x01 video)")]
    UnknownStreamType(u8),
    /// A frame type other than 0 audio, 1 video key, 2 video delta.
    #[error("unknown frame type {0:#04x} (0 audio, 1 video key, 2 video delta)")]
    UnknownFrameType(u8),
    /// DT3: a frame whose stream id differs from its stream header's.
    #[error("frame stream id {found} differs from the stream header's {expected}")]
    StreamIdMismatch {
        /// The stream header's id.
        expected: StreamId,
        /// The frame's.
        found: StreamId,
    },
    /// DT5: FIN before the 32-byte stream header was complete.
    #[error("FIN inside the stream header ({got} of 32 bytes)")]
    FinInHeader {
        /// Header bytes received.
        got: usize,
    },
    /// FIN inside a frame (its 46-byte header or its payload).
    #[error("FIN inside a frame ({got} of {needed} bytes)")]
    FinInFrame {
        /// The frame's length (46 until its header is complete, then 46 + payload length).
        needed: usize,
        /// Bytes of it received.
        got: usize,
    },
}

impl Error {
    /// snake_case name (reports, vectors).
    pub const fn name(&self) -> &'static str {
        match self {
            Error::Truncated { .. } => "truncated",
            Error::BadMagic(_) => "bad_magic",
            Error::BadVersion(_) => "bad_version",
            Error::UnknownStreamType(_) => "unknown_stream_type",
            Error::UnknownFrameType(_) => "unknown_frame_type",
            Error::StreamIdMismatch { .. } => "stream_id_mismatch",
            Error::FinInHeader { .. } => "fin_in_header",
            Error::FinInFrame { .. } => "fin_in_frame",
        }
    }

    /// The reset code a media stream that shows this error is reset with: every format error is
    /// 0x01 invalid stream format (DT2, DT3, DT5; a frame cut short by FIN is this project's
    /// reading of "short header"). On a v2 datagram the answer is to drop it (DT11) instead.
    pub const fn reset_code(&self) -> ResetCode {
        ResetCode::InvalidStreamFormat
    }
}

/// Why a representation could not be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EmitError {
    /// The buffer is shorter than `buffer_len()`.
    #[error("buffer too small: {needed} bytes needed, {got} given")]
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        got: usize,
    },
    /// A payload longer than the u32 payload length can say.
    #[error("payload of {0} bytes does not fit the u32 length field")]
    PayloadTooLong(usize),
}
