//! The v2 media frame (the later design, DT11): a 42-byte header plus payload, one per QUIC
//! (WebTransport) datagram.
//!
//! ```text
//! 0 version 0x01 · 1 frame type · 2..10 user id u64 · 10..14 stream id u32 · 14..22 timestamp µs u64
//! · 22..30 sequence u64 · 30..34 payload length u32 · 34..36 flags u16 · 36..42 reserved · payload
//! ```
//!
//! DT11: a datagram with version ≠ 1, frame type > 2, or fewer bytes than 42 + payload length is
//! dropped and counted. Bytes after the payload are ignored (this project's reading: the length
//! field delimits the payload).

use crate::error::{EmitError, Error};
use crate::field::{
    frame_v2 as f, read_array, read_u16, read_u32, read_u64, read_u8, total_len, write, write_u8,
};
use crate::frame::{Flags, FrameType, FRAME_VERSION};

/// Length of the v2 frame header.
pub const FRAME_V2_HEADER_LEN: usize = f::LEN;

/// A zero-copy view of a v2 frame; [`FrameV2::check_len`] checks header and payload are present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameV2<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FrameV2<T> {
    /// Wraps `buffer` without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        FrameV2 { buffer }
    }

    /// Wraps `buffer` after [`FrameV2::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let view = FrameV2::new_unchecked(buffer);
        view.check_len()?;
        Ok(view)
    }

    /// Checks the buffer holds the header, then header + payload length (DT11).
    pub fn check_len(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < FRAME_V2_HEADER_LEN {
            return Err(Error::Truncated {
                needed: FRAME_V2_HEADER_LEN,
                got,
            });
        }
        let needed = self.frame_len();
        if got < needed {
            return Err(Error::Truncated { needed, got });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Header + announced payload length.
    pub fn frame_len(&self) -> usize {
        total_len(FRAME_V2_HEADER_LEN, self.payload_len())
    }

    /// Version (byte 0).
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), f::VERSION)
    }
    /// Raw frame type (byte 1).
    pub fn frame_type(&self) -> u8 {
        read_u8(self.buffer.as_ref(), f::FRAME_TYPE)
    }
    /// User id (bytes 2..10).
    pub fn user_id(&self) -> u64 {
        read_u64(self.buffer.as_ref(), f::USER_ID)
    }
    /// Stream id (bytes 10..14).
    pub fn stream_id(&self) -> u32 {
        read_u32(self.buffer.as_ref(), f::STREAM_ID)
    }
    /// Timestamp µs (bytes 14..22).
    pub fn timestamp_us(&self) -> u64 {
        read_u64(self.buffer.as_ref(), f::TIMESTAMP)
    }
    /// Sequence (bytes 22..30).
    pub fn sequence(&self) -> u64 {
        read_u64(self.buffer.as_ref(), f::SEQUENCE)
    }
    /// Payload length (bytes 30..34).
    pub fn payload_len(&self) -> u32 {
        read_u32(self.buffer.as_ref(), f::PAYLOAD_LEN)
    }
    /// Raw flags (bytes 34..36).
    pub fn flags(&self) -> u16 {
        read_u16(self.buffer.as_ref(), f::FLAGS)
    }
    /// Reserved (bytes 36..42).
    pub fn reserved(&self) -> [u8; 6] {
        read_array(self.buffer.as_ref(), f::RESERVED)
    }
    /// The payload (what is present of it on an unchecked view).
    pub fn payload(&self) -> &[u8] {
        let bytes = self.buffer.as_ref();
        let end = self.frame_len().min(bytes.len());
        bytes.get(FRAME_V2_HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<'a> FrameV2<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        let end = self.frame_len().min(self.buffer.len());
        self.buffer.get(FRAME_V2_HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FrameV2<T> {
    /// Sets the version.
    pub fn set_version(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), f::VERSION, value);
    }
    /// Sets the raw frame type.
    pub fn set_frame_type(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), f::FRAME_TYPE, value);
    }
    /// Sets the user id.
    pub fn set_user_id(&mut self, value: u64) {
        write(self.buffer.as_mut(), f::USER_ID, &value.to_be_bytes());
    }
    /// Sets the stream id.
    pub fn set_stream_id(&mut self, value: u32) {
        write(self.buffer.as_mut(), f::STREAM_ID, &value.to_be_bytes());
    }
    /// Sets the timestamp.
    pub fn set_timestamp_us(&mut self, value: u64) {
        write(self.buffer.as_mut(), f::TIMESTAMP, &value.to_be_bytes());
    }
    /// Sets the sequence.
    pub fn set_sequence(&mut self, value: u64) {
        write(self.buffer.as_mut(), f::SEQUENCE, &value.to_be_bytes());
    }
    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u32) {
        write(self.buffer.as_mut(), f::PAYLOAD_LEN, &value.to_be_bytes());
    }
    /// Sets the raw flags.
    pub fn set_flags(&mut self, value: u16) {
        write(self.buffer.as_mut(), f::FLAGS, &value.to_be_bytes());
    }
    /// Sets the reserved bytes.
    pub fn set_reserved(&mut self, value: [u8; 6]) {
        write(self.buffer.as_mut(), f::RESERVED, &value);
    }
}

/// A v2 frame's meaning, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FrameV2Repr<'a> {
    /// Audio, video key or video delta.
    pub frame_type: FrameType,
    /// The sending participant.
    pub user_id: u64,
    /// The stream within the participant.
    pub stream_id: u32,
    /// µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Sequence number.
    pub sequence: u64,
    /// Flags (reserved bits dropped).
    pub flags: Flags,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> FrameV2Repr<'a> {
    /// Parses a datagram: length of the header, version, frame type, then 42 + payload length
    /// against the bytes present (DT11). Bytes after the payload are ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<FrameV2Repr<'a>, Error> {
        let view = FrameV2::new_unchecked(bytes);
        if bytes.len() < FRAME_V2_HEADER_LEN {
            return Err(Error::Truncated {
                needed: FRAME_V2_HEADER_LEN,
                got: bytes.len(),
            });
        }
        if view.version() != FRAME_VERSION {
            return Err(Error::BadVersion(view.version()));
        }
        let frame_type = FrameType::from_byte(view.frame_type())?;
        view.check_len()?;
        Ok(FrameV2Repr {
            frame_type,
            user_id: view.user_id(),
            stream_id: view.stream_id(),
            timestamp_us: view.timestamp_us(),
            sequence: view.sequence(),
            flags: Flags::from_bits(view.flags()),
            payload: view.into_payload(),
        })
    }

    /// 42 + payload length.
    pub fn buffer_len(&self) -> usize {
        FRAME_V2_HEADER_LEN.saturating_add(self.payload.len())
    }

    /// Writes the frame into the first `buffer_len()` bytes of `buffer` (reserved zero).
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), EmitError> {
        let payload_len = u32::try_from(self.payload.len())
            .map_err(|_| EmitError::PayloadTooLong(self.payload.len()))?;
        let needed = self.buffer_len();
        if buffer.len() < needed {
            return Err(EmitError::BufferTooSmall {
                needed,
                got: buffer.len(),
            });
        }
        let mut view = FrameV2::new_unchecked(buffer);
        view.set_version(FRAME_VERSION);
        view.set_frame_type(self.frame_type.byte());
        view.set_user_id(self.user_id);
        view.set_stream_id(self.stream_id);
        view.set_timestamp_us(self.timestamp_us);
        view.set_sequence(self.sequence);
        view.set_payload_len(payload_len);
        view.set_flags(self.flags.bits());
        view.set_reserved([0; 6]);
        write(view.into_inner(), FRAME_V2_HEADER_LEN..needed, self.payload);
        Ok(())
    }

    /// The datagram's bytes.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }
}
