//! The v1 media frame: a 46-byte header plus payload, one after another on a media stream.
//!
//! ```text
//! 0 version 0x01 · 1 frame type · 2..18 stream id · 18..26 timestamp µs u64 · 26..34 sequence u64
//! · 34..38 payload length u32 · 38..40 flags u16 · 40..46 reserved · payload
//! ```

use crate::error::{EmitError, Error};
use crate::field::{
    frame as f, read_array, read_u16, read_u32, read_u64, read_u8, total_len, write, write_u8,
};
use crate::header::{StreamId, VERSION};

/// Length of the v1 frame header.
pub const FRAME_HEADER_LEN: usize = f::LEN;
/// The frame version (both v1 and v2 frames carry 1).
pub const FRAME_VERSION: u8 = VERSION;

/// A frame's type (v1 and v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum FrameType {
    /// 0.
    Audio,
    /// 1.
    VideoKey,
    /// 2.
    VideoDelta,
}

impl FrameType {
    /// Its byte.
    pub const fn byte(self) -> u8 {
        match self {
            FrameType::Audio => 0,
            FrameType::VideoKey => 1,
            FrameType::VideoDelta => 2,
        }
    }

    /// The type a byte names (> 2 is an error).
    pub const fn from_byte(byte: u8) -> Result<FrameType, Error> {
        match byte {
            0 => Ok(FrameType::Audio),
            1 => Ok(FrameType::VideoKey),
            2 => Ok(FrameType::VideoDelta),
            other => Err(Error::UnknownFrameType(other)),
        }
    }

    /// `audio`, `video_key`, `video_delta`.
    pub const fn name(self) -> &'static str {
        match self {
            FrameType::Audio => "audio",
            FrameType::VideoKey => "video_key",
            FrameType::VideoDelta => "video_delta",
        }
    }
}

/// The meaningful flag bits (DT4: bit 0 is the LSB; the other 14 are reserved: ignored on receipt,
/// emitted as zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Flags {
    /// Bit 0 (0x0001): the last frame of a media frame.
    pub end_of_frame: bool,
    /// Bit 1 (0x0002): may be dropped.
    pub discardable: bool,
}

impl Flags {
    /// Bit 0.
    pub const END_OF_FRAME: u16 = 0x0001;
    /// Bit 1.
    pub const DISCARDABLE: u16 = 0x0002;

    /// The flags of a raw u16 (reserved bits ignored).
    pub const fn from_bits(bits: u16) -> Flags {
        Flags {
            end_of_frame: bits & Flags::END_OF_FRAME != 0,
            discardable: bits & Flags::DISCARDABLE != 0,
        }
    }

    /// The u16 as sent (reserved bits zero).
    pub const fn bits(self) -> u16 {
        (if self.end_of_frame {
            Flags::END_OF_FRAME
        } else {
            0
        }) | (if self.discardable {
            Flags::DISCARDABLE
        } else {
            0
        })
    }
}

/// A zero-copy view of a v1 frame. [`Frame::check_len`] checks the 46-byte header **and** the
/// announced payload are present; after it no accessor can panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Frame { buffer }
    }

    /// Wraps `buffer` after [`Frame::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let view = Frame::new_unchecked(buffer);
        view.check_len()?;
        Ok(view)
    }

    /// Checks the buffer holds the header, then header + payload length.
    pub fn check_len(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < FRAME_HEADER_LEN {
            return Err(Error::Truncated {
                needed: FRAME_HEADER_LEN,
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
        total_len(FRAME_HEADER_LEN, self.payload_len())
    }

    /// Version (byte 0).
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), f::VERSION)
    }
    /// Raw frame type (byte 1).
    pub fn frame_type(&self) -> u8 {
        read_u8(self.buffer.as_ref(), f::FRAME_TYPE)
    }
    /// Stream id (bytes 2..18).
    pub fn stream_id(&self) -> StreamId {
        StreamId(read_array(self.buffer.as_ref(), f::STREAM_ID))
    }
    /// Timestamp, µs since the Unix epoch (bytes 18..26).
    pub fn timestamp_us(&self) -> u64 {
        read_u64(self.buffer.as_ref(), f::TIMESTAMP)
    }
    /// Sequence (bytes 26..34).
    pub fn sequence(&self) -> u64 {
        read_u64(self.buffer.as_ref(), f::SEQUENCE)
    }
    /// Payload length (bytes 34..38).
    pub fn payload_len(&self) -> u32 {
        read_u32(self.buffer.as_ref(), f::PAYLOAD_LEN)
    }
    /// Raw flags (bytes 38..40), reserved bits included.
    pub fn flags(&self) -> u16 {
        read_u16(self.buffer.as_ref(), f::FLAGS)
    }
    /// Reserved (bytes 40..46).
    pub fn reserved(&self) -> [u8; 6] {
        read_array(self.buffer.as_ref(), f::RESERVED)
    }
    /// The payload: the announced length, or what is present of it on an unchecked view.
    pub fn payload(&self) -> &[u8] {
        let bytes = self.buffer.as_ref();
        let end = self.frame_len().min(bytes.len());
        bytes.get(FRAME_HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<'a> Frame<&'a [u8]> {
    /// The payload, borrowed for the buffer's lifetime.
    pub fn into_payload(self) -> &'a [u8] {
        let end = self.frame_len().min(self.buffer.len());
        self.buffer.get(FRAME_HEADER_LEN..end).unwrap_or(&[])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the version.
    pub fn set_version(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), f::VERSION, value);
    }
    /// Sets the raw frame type.
    pub fn set_frame_type(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), f::FRAME_TYPE, value);
    }
    /// Sets the stream id.
    pub fn set_stream_id(&mut self, value: StreamId) {
        write(self.buffer.as_mut(), f::STREAM_ID, &value.0);
    }
    /// Sets the timestamp.
    pub fn set_timestamp_us(&mut self, value: u64) {
        write(self.buffer.as_mut(), f::TIMESTAMP, &value.to_be_bytes());
    }
    /// Sets the sequence.
    pub fn set_sequence(&mut self, value: u64) {
        write(self.buffer.as_mut(), f::SEQUENCE, &value.to_be_bytes());
    }
    /// Sets the payload length (a later `payload()` follows it: the view may then be unchecked).
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
    /// The payload, writable (as much of the announced length as the buffer holds).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = self.frame_len().min(self.buffer.as_ref().len());
        self.buffer
            .as_mut()
            .get_mut(FRAME_HEADER_LEN..end)
            .unwrap_or(&mut [])
    }
}

/// The 46-byte header's meaning, without the payload (what [`crate::MediaStreamReader`] reports
/// before the payload arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FrameHeaderRepr {
    /// Audio, video key or video delta.
    pub frame_type: FrameType,
    /// Must equal the stream header's (DT3).
    pub stream_id: StreamId,
    /// µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Per stream, from 0, +1 per frame (DT10; judged by the checker, not here).
    pub sequence: u64,
    /// Payload length.
    pub payload_len: u32,
    /// Flags (reserved bits dropped).
    pub flags: Flags,
}

impl FrameHeaderRepr {
    /// Parses a 46-byte frame header (the payload is not looked at). Checks length, version, type.
    pub fn parse(bytes: &[u8]) -> Result<FrameHeaderRepr, Error> {
        let view = Frame::new_unchecked(bytes);
        if bytes.len() < FRAME_HEADER_LEN {
            return Err(Error::Truncated {
                needed: FRAME_HEADER_LEN,
                got: bytes.len(),
            });
        }
        if view.version() != FRAME_VERSION {
            return Err(Error::BadVersion(view.version()));
        }
        Ok(FrameHeaderRepr {
            frame_type: FrameType::from_byte(view.frame_type())?,
            stream_id: view.stream_id(),
            timestamp_us: view.timestamp_us(),
            sequence: view.sequence(),
            payload_len: view.payload_len(),
            flags: Flags::from_bits(view.flags()),
        })
    }

    /// Header + payload length.
    pub fn frame_len(&self) -> usize {
        total_len(FRAME_HEADER_LEN, self.payload_len)
    }
}

/// A v1 frame's meaning, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FrameRepr<'a> {
    /// Audio, video key or video delta.
    pub frame_type: FrameType,
    /// Must equal the stream header's (DT3).
    pub stream_id: StreamId,
    /// µs since the Unix epoch.
    pub timestamp_us: u64,
    /// Per stream sequence number.
    pub sequence: u64,
    /// Flags (reserved bits dropped).
    pub flags: Flags,
    /// The payload (its length is the payload length field).
    pub payload: &'a [u8],
}

impl<'a> FrameRepr<'a> {
    /// Parses the frame at the start of `bytes`: header checks first (length, version, type), then
    /// the announced payload length against the bytes present. Bytes after the frame are ignored
    /// (they are the next frame): the frame used [`FrameRepr::buffer_len`] bytes.
    pub fn parse(bytes: &'a [u8]) -> Result<FrameRepr<'a>, Error> {
        let header = FrameHeaderRepr::parse(bytes)?;
        let needed = header.frame_len();
        if bytes.len() < needed {
            return Err(Error::Truncated {
                needed,
                got: bytes.len(),
            });
        }
        Ok(FrameRepr {
            frame_type: header.frame_type,
            stream_id: header.stream_id,
            timestamp_us: header.timestamp_us,
            sequence: header.sequence,
            flags: header.flags,
            payload: Frame::new_unchecked(bytes).into_payload(),
        })
    }

    /// Parses the frame at the start of `bytes` and returns the bytes after it.
    pub fn parse_prefix(bytes: &'a [u8]) -> Result<(FrameRepr<'a>, &'a [u8]), Error> {
        let frame = FrameRepr::parse(bytes)?;
        let rest = bytes.get(frame.buffer_len()..).unwrap_or(&[]);
        Ok((frame, rest))
    }

    /// 46 + payload length.
    pub fn buffer_len(&self) -> usize {
        FRAME_HEADER_LEN.saturating_add(self.payload.len())
    }

    /// Its header alone (`PayloadTooLong` when the payload exceeds u32).
    pub fn header(&self) -> Result<FrameHeaderRepr, EmitError> {
        let payload_len = u32::try_from(self.payload.len())
            .map_err(|_| EmitError::PayloadTooLong(self.payload.len()))?;
        Ok(FrameHeaderRepr {
            frame_type: self.frame_type,
            stream_id: self.stream_id,
            timestamp_us: self.timestamp_us,
            sequence: self.sequence,
            payload_len,
            flags: self.flags,
        })
    }

    /// Writes the frame into the first `buffer_len()` bytes of `buffer` (reserved zero).
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), EmitError> {
        let header = self.header()?;
        let needed = self.buffer_len();
        if buffer.len() < needed {
            return Err(EmitError::BufferTooSmall {
                needed,
                got: buffer.len(),
            });
        }
        let mut view = Frame::new_unchecked(buffer);
        view.set_version(FRAME_VERSION);
        view.set_frame_type(header.frame_type.byte());
        view.set_stream_id(header.stream_id);
        view.set_timestamp_us(header.timestamp_us);
        view.set_sequence(header.sequence);
        view.set_payload_len(header.payload_len);
        view.set_flags(header.flags.bits());
        view.set_reserved([0; 6]);
        write(view.into_inner(), FRAME_HEADER_LEN..needed, self.payload);
        Ok(())
    }

    /// The frame's bytes.
    pub fn to_vec(&self) -> Result<Vec<u8>, EmitError> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out)?;
        Ok(out)
    }
}
