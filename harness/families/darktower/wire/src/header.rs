//! The v1 media stream header: 32 bytes, first on every media stream.
//!
//! ```text
//! 0..4 magic "DART" · 4 version 0x01 · 5 stream type · 6..22 stream id (UUID) · 22..26 codec FourCC · 26..32 reserved
//! ```

use core::fmt;

use crate::error::{EmitError, Error};
use crate::field::{self, header as f, read_array, read_u8, write, write_u8};

/// The magic, `DART`.
pub const MAGIC: [u8; 4] = *b"DART";
/// The only stream header (and frame) version.
pub const VERSION: u8 = 1;
/// Length of the stream header.
pub const HEADER_LEN: usize = f::LEN;

/// A 16-byte stream id (a UUID), shown as `8-4-4-4-12` lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct StreamId(pub [u8; 16]);

impl StreamId {
    /// Its bytes.
    pub const fn bytes(&self) -> [u8; 16] {
        self.0
    }

    /// Parses `8-4-4-4-12` hex (either case); `None` when it is not that.
    pub fn parse_hyphenated(text: &str) -> Option<StreamId> {
        let bytes = text.as_bytes();
        if bytes.len() != 36 {
            return None;
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0usize;
        for (i, &c) in bytes.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return None;
                }
                continue;
            }
            let v = char::from(c).to_digit(16)?;
            let slot = out.get_mut(nibbles / 2)?;
            // `v` < 16: the cast cannot truncate.
            *slot = (*slot << 4) | v as u8;
            nibbles += 1;
        }
        Some(StreamId(out))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({self})")
    }
}

/// A codec FourCC. Any four bytes are accepted; [`FourCc::is_known`] flags those outside the table
/// (`Opus`, `VP08`, `VP09`, `AV01`, `H264`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct FourCc(pub [u8; 4]);

impl FourCc {
    /// Opus audio.
    pub const OPUS: FourCc = FourCc(*b"Opus");
    /// VP8.
    pub const VP08: FourCc = FourCc(*b"VP08");
    /// VP9.
    pub const VP09: FourCc = FourCc(*b"VP09");
    /// AV1.
    pub const AV01: FourCc = FourCc(*b"AV01");
    /// H.264.
    pub const H264: FourCc = FourCc(*b"H264");
    /// The known table.
    pub const KNOWN: [FourCc; 5] = [
        FourCc::OPUS,
        FourCc::VP08,
        FourCc::VP09,
        FourCc::AV01,
        FourCc::H264,
    ];

    /// Whether it is in the known table (others are accepted but flagged).
    pub fn is_known(&self) -> bool {
        FourCc::KNOWN.contains(self)
    }

    /// Its bytes.
    pub const fn bytes(&self) -> [u8; 4] {
        self.0
    }
}

impl fmt::Display for FourCc {
    /// Printable ASCII as is, anything else as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in &self.0 {
            if b.is_ascii_graphic() || b == b' ' {
                write!(f, "{}", char::from(b))?;
            } else {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for FourCc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FourCc(\"{self}\")")
    }
}

/// A stream header's stream type (DT2: only these two).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum StreamType {
    /// 0x00.
    Audio,
    /// 0x01.
    Video,
}

impl StreamType {
    /// Its byte.
    pub const fn byte(self) -> u8 {
        match self {
            StreamType::Audio => 0,
            StreamType::Video => 1,
        }
    }

    /// The type a byte names (DT2: anything but 0 and 1, including the proto's VIDEO_SCREEN = 2, is
    /// an error).
    pub const fn from_byte(byte: u8) -> Result<StreamType, Error> {
        match byte {
            0 => Ok(StreamType::Audio),
            1 => Ok(StreamType::Video),
            other => Err(Error::UnknownStreamType(other)),
        }
    }

    /// `audio` / `video`.
    pub const fn name(self) -> &'static str {
        match self {
            StreamType::Audio => "audio",
            StreamType::Video => "video",
        }
    }
}

/// A zero-copy view of a stream header. After [`StreamHeader::new_checked`] (or
/// [`StreamHeader::check_len`]) no accessor can panic; unchecked views read missing bytes as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> StreamHeader<T> {
    /// Wraps `buffer` without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        StreamHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds 32 bytes.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let view = StreamHeader::new_unchecked(buffer);
        view.check_len()?;
        Ok(view)
    }

    /// Checks the buffer holds at least the 32 header bytes.
    pub fn check_len(&self) -> Result<(), Error> {
        let got = self.buffer.as_ref().len();
        if got < HEADER_LEN {
            return Err(Error::Truncated {
                needed: HEADER_LEN,
                got,
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Magic (bytes 0..4).
    pub fn magic(&self) -> [u8; 4] {
        read_array(self.buffer.as_ref(), f::MAGIC)
    }
    /// Version (byte 4).
    pub fn version(&self) -> u8 {
        read_u8(self.buffer.as_ref(), f::VERSION)
    }
    /// Raw stream type (byte 5).
    pub fn stream_type(&self) -> u8 {
        read_u8(self.buffer.as_ref(), f::STREAM_TYPE)
    }
    /// Stream id (bytes 6..22).
    pub fn stream_id(&self) -> StreamId {
        StreamId(read_array(self.buffer.as_ref(), f::STREAM_ID))
    }
    /// Codec (bytes 22..26).
    pub fn codec(&self) -> FourCc {
        FourCc(read_array(self.buffer.as_ref(), f::CODEC))
    }
    /// Reserved (bytes 26..32; ignored on receipt).
    pub fn reserved(&self) -> [u8; 6] {
        read_array(self.buffer.as_ref(), f::RESERVED)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> StreamHeader<T> {
    /// Sets the magic.
    pub fn set_magic(&mut self, value: [u8; 4]) {
        write(self.buffer.as_mut(), f::MAGIC, &value);
    }
    /// Sets the version.
    pub fn set_version(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), f::VERSION, value);
    }
    /// Sets the raw stream type.
    pub fn set_stream_type(&mut self, value: u8) {
        write_u8(self.buffer.as_mut(), f::STREAM_TYPE, value);
    }
    /// Sets the stream id.
    pub fn set_stream_id(&mut self, value: StreamId) {
        write(self.buffer.as_mut(), f::STREAM_ID, &value.0);
    }
    /// Sets the codec.
    pub fn set_codec(&mut self, value: FourCc) {
        write(self.buffer.as_mut(), f::CODEC, &value.0);
    }
    /// Sets the reserved bytes.
    pub fn set_reserved(&mut self, value: [u8; 6]) {
        write(self.buffer.as_mut(), f::RESERVED, &value);
    }
}

/// A stream header's meaning (reserved bytes are not part of it: ignored on receipt, emitted zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct StreamHeaderRepr {
    /// Audio or video.
    pub stream_type: StreamType,
    /// The stream's UUID; every frame on the stream must carry it (DT3).
    pub stream_id: StreamId,
    /// The codec (unknown ones accepted, see [`FourCc::is_known`]).
    pub codec: FourCc,
}

impl StreamHeaderRepr {
    /// Parses the first 32 bytes of `bytes` (more are ignored: they are the stream's frames).
    /// Checks, in order: length, magic, version, stream type.
    pub fn parse(bytes: &[u8]) -> Result<StreamHeaderRepr, Error> {
        let view = StreamHeader::new_checked(bytes)?;
        StreamHeaderRepr::parse_view(&view)
    }

    /// Parses a checked view.
    pub fn parse_view<T: AsRef<[u8]>>(view: &StreamHeader<T>) -> Result<StreamHeaderRepr, Error> {
        view.check_len()?;
        let magic = view.magic();
        if magic != MAGIC {
            return Err(Error::BadMagic(magic));
        }
        if view.version() != VERSION {
            return Err(Error::BadVersion(view.version()));
        }
        Ok(StreamHeaderRepr {
            stream_type: StreamType::from_byte(view.stream_type())?,
            stream_id: view.stream_id(),
            codec: view.codec(),
        })
    }

    /// 32.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first 32 bytes of `buffer` (reserved bytes zero).
    pub fn emit(&self, buffer: &mut [u8]) -> Result<(), EmitError> {
        if buffer.len() < HEADER_LEN {
            return Err(EmitError::BufferTooSmall {
                needed: HEADER_LEN,
                got: buffer.len(),
            });
        }
        let mut view = StreamHeader::new_unchecked(buffer);
        view.set_magic(MAGIC);
        view.set_version(VERSION);
        view.set_stream_type(self.stream_type.byte());
        view.set_stream_id(self.stream_id);
        view.set_codec(self.codec);
        view.set_reserved([0; 6]);
        Ok(())
    }

    /// The 32 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        // The array is exactly long enough: emit cannot fail.
        let _ = self.emit(&mut out);
        out
    }
}

#[allow(dead_code)]
const _: () = assert!(field::header::LEN == 32);
