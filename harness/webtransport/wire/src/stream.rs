//! What starts a QUIC stream, and an incremental reader for a stream's bytes.
//!
//! - A unidirectional stream starts with a stream type varint (RFC 9114 §6.2): control 0x00, push
//!   0x01 (then a push id), QPACK encoder 0x02 and decoder 0x03 (RFC 9204 §4.2), WebTransport 0x54
//!   then the session id (draft-ietf-webtrans-http3).
//! - A bidirectional stream is a request stream (frames), or a WebTransport stream: the signal 0x41
//!   then the session id, then raw bytes to the end. Both aioquic 1.2 and web-transport-quinn 0.13
//!   write 0x41 as the two bytes `40 41`.

use crate::frame::{frame_type, Frame, OwnedFrame};
use crate::varint::VarInt;
use crate::Error;

/// Unidirectional stream type values.
pub mod uni_type {
    /// Control stream.
    pub const CONTROL: u64 = 0x00;
    /// Push stream.
    pub const PUSH: u64 = 0x01;
    /// QPACK encoder stream.
    pub const QPACK_ENCODER: u64 = 0x02;
    /// QPACK decoder stream.
    pub const QPACK_DECODER: u64 = 0x03;
    /// WebTransport stream.
    pub const WEBTRANSPORT: u64 = 0x54;
}

/// The prefix of a unidirectional stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UniStreamType {
    /// 0x00.
    Control,
    /// 0x01 and its push id.
    Push(VarInt),
    /// 0x02.
    QpackEncoder,
    /// 0x03.
    QpackDecoder,
    /// 0x54 and its session id (the stream id of the session's CONNECT).
    WebTransport(VarInt),
    /// Any other type (GREASE included): the receiver must ignore the stream (RFC 9114 §6.2).
    Unknown(VarInt),
}

impl UniStreamType {
    /// Reads the prefix from the front of `buf`: the type and the bytes it took.
    pub fn parse(buf: &[u8]) -> Result<(UniStreamType, usize), Error> {
        let mut rest = buf;
        let ty = VarInt::take(&mut rest)?;
        let parsed = match ty.get() {
            uni_type::CONTROL => UniStreamType::Control,
            uni_type::PUSH => UniStreamType::Push(VarInt::take(&mut rest)?),
            uni_type::QPACK_ENCODER => UniStreamType::QpackEncoder,
            uni_type::QPACK_DECODER => UniStreamType::QpackDecoder,
            uni_type::WEBTRANSPORT => UniStreamType::WebTransport(VarInt::take(&mut rest)?),
            _ => UniStreamType::Unknown(ty),
        };
        Ok((parsed, buf.len() - rest.len()))
    }

    /// Appends the prefix (shortest varints).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let (ty, arg) = match *self {
            UniStreamType::Control => (uni_type::CONTROL, None),
            UniStreamType::Push(id) => (uni_type::PUSH, Some(id)),
            UniStreamType::QpackEncoder => (uni_type::QPACK_ENCODER, None),
            UniStreamType::QpackDecoder => (uni_type::QPACK_DECODER, None),
            UniStreamType::WebTransport(id) => (uni_type::WEBTRANSPORT, Some(id)),
            UniStreamType::Unknown(t) => (t.get(), None),
        };
        // Constants and VarInts always fit.
        let _ = crate::varint::write(ty, out);
        if let Some(arg) = arg {
            arg.encode(out);
        }
    }

    /// Its bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }
}

/// How a bidirectional stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BidiPrefix {
    /// 0x41 and the session id: a WebTransport stream; the rest is application bytes.
    WebTransport(VarInt),
    /// Anything else: an HTTP/3 request stream; nothing was consumed, frames start here.
    Request,
}

impl BidiPrefix {
    /// Looks at the front of `buf`: the prefix and the bytes it took (0 for `Request`).
    pub fn parse(buf: &[u8]) -> Result<(BidiPrefix, usize), Error> {
        let mut rest = buf;
        let ty = VarInt::take(&mut rest)?;
        if ty.get() != frame_type::WEBTRANSPORT_STREAM {
            return Ok((BidiPrefix::Request, 0));
        }
        let session = VarInt::take(&mut rest)?;
        Ok((BidiPrefix::WebTransport(session), buf.len() - rest.len()))
    }

    /// Appends the prefix (nothing for `Request`).
    pub fn emit(&self, out: &mut Vec<u8>) {
        if let BidiPrefix::WebTransport(session) = self {
            VarInt::from_u32(0x41).encode(out);
            session.encode(out);
        }
    }
}

/// The default payload limit of [`StreamReader`]: 64 KiB, as web-transport-proto enforces.
pub const DEFAULT_FRAME_LIMIT: u64 = 65_536;

/// Reads a stream's bytes as they arrive, in chunks of any size: first (optionally) the prefix, then
/// frames. Bytes are buffered until an item is complete; `FrameTooLarge` is reported as soon as a
/// frame header declares more than the limit, before the payload is buffered.
#[derive(Debug, Clone, Default)]
pub struct StreamReader {
    buf: Vec<u8>,
    start: usize,
    limit: Option<u64>,
    finished: bool,
}

impl StreamReader {
    /// A reader with [`DEFAULT_FRAME_LIMIT`].
    pub fn new() -> StreamReader {
        StreamReader::default()
    }

    /// A reader with another payload limit.
    pub fn with_limit(limit: u64) -> StreamReader {
        StreamReader {
            limit: Some(limit),
            ..StreamReader::default()
        }
    }

    /// Adds the next bytes of the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Marks the end of the stream (FIN): from now on an incomplete item is an error
    /// (`UnexpectedEnd`) instead of `Ok(None)`.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Bytes received and not yet consumed.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// `true` when the stream ended and everything was consumed.
    pub fn is_done(&self) -> bool {
        self.finished && self.pending().is_empty()
    }

    fn step<T>(
        &mut self,
        parse: impl FnOnce(&[u8]) -> Result<(T, usize), Error>,
    ) -> Result<Option<T>, Error> {
        match parse(&self.buf[self.start..]) {
            Ok((item, used)) => {
                self.start += used;
                Ok(Some(item))
            }
            Err(Error::UnexpectedEnd) if !self.finished => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The unidirectional stream prefix, once complete.
    pub fn uni_type(&mut self) -> Result<Option<UniStreamType>, Error> {
        self.step(UniStreamType::parse)
    }

    /// The bidirectional stream prefix, once decidable.
    pub fn bidi_prefix(&mut self) -> Result<Option<BidiPrefix>, Error> {
        self.step(BidiPrefix::parse)
    }

    /// The next frame, once complete (`Ok(None)`: wait, or the stream ended cleanly).
    pub fn next_frame(&mut self) -> Result<Option<OwnedFrame>, Error> {
        if self.finished && self.pending().is_empty() {
            return Ok(None);
        }
        let limit = self.limit.unwrap_or(DEFAULT_FRAME_LIMIT);
        self.step(|b| Frame::parse(b, limit).map(|(f, n)| (f.to_owned_frame(), n)))
    }

    /// The next frame whose type is not unknown: unknown and GREASE types are skipped as RFC 9114
    /// §9 requires (HTTP/2-reserved types are returned, they are errors for the caller to judge).
    pub fn next_known_frame(&mut self) -> Result<Option<OwnedFrame>, Error> {
        loop {
            match self.next_frame()? {
                Some(OwnedFrame::Other { frame_type, .. })
                    if frame_type::is_unknown(frame_type.get()) => {}
                other => return Ok(other),
            }
        }
    }

    /// Everything buffered and unconsumed (the application bytes of a WebTransport stream).
    pub fn take_pending(&mut self) -> Vec<u8> {
        let out = self.buf[self.start..].to_vec();
        self.buf.clear();
        self.start = 0;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&[0x00], UniStreamType::Control)]
    #[case(&[0x01, 0x05], UniStreamType::Push(5u32.into()))]
    #[case(&[0x02], UniStreamType::QpackEncoder)]
    #[case(&[0x03], UniStreamType::QpackDecoder)]
    #[case(&[0x40, 0x54, 0x00], UniStreamType::WebTransport(0u32.into()))]
    #[case(&[0x40, 0x54, 0x04], UniStreamType::WebTransport(4u32.into()))]
    #[case(&[0x21], UniStreamType::Unknown(0x21u32.into()))]
    fn uni_prefixes(#[case] bytes: &[u8], #[case] ty: UniStreamType) {
        assert_eq!(UniStreamType::parse(bytes), Ok((ty, bytes.len())));
        assert_eq!(ty.to_vec(), bytes);
    }

    #[test]
    fn bidi_prefixes() {
        assert_eq!(
            BidiPrefix::parse(&[0x40, 0x41, 0x00, 0xaa]),
            Ok((BidiPrefix::WebTransport(0u32.into()), 3))
        );
        assert_eq!(
            BidiPrefix::parse(&[0x01, 0x00]),
            Ok((BidiPrefix::Request, 0))
        );
        assert_eq!(BidiPrefix::parse(&[0x40, 0x41]), Err(Error::UnexpectedEnd));
        let mut out = Vec::new();
        BidiPrefix::WebTransport(8u32.into()).emit(&mut out);
        assert_eq!(out, [0x40, 0x41, 0x08]);
    }

    #[test]
    fn reader_byte_by_byte() {
        let mut bytes = vec![0x00];
        bytes.extend([0x04, 0x02, 0x08, 0x01]); // SETTINGS
        bytes.extend([0x21, 0x01, 0xee]); // GREASE frame: skipped
        bytes.extend([0x07, 0x01, 0x00]); // GOAWAY 0
        let mut r = StreamReader::new();
        let mut seen = Vec::new();
        let mut ty = None;
        for b in &bytes {
            r.push(&[*b]);
            if ty.is_none() {
                ty = r.uni_type().unwrap();
                continue;
            }
            while let Some(f) = r.next_known_frame().unwrap() {
                seen.push(f);
            }
        }
        r.finish();
        assert_eq!(ty, Some(UniStreamType::Control));
        assert_eq!(seen.len(), 2);
        assert!(matches!(seen[1], OwnedFrame::Goaway(v) if v.get() == 0));
        assert!(r.is_done());
    }

    #[test]
    fn reader_fin_inside_frame_and_limit() {
        let mut r = StreamReader::new();
        r.push(&[0x00, 0x05, 1, 2]);
        assert_eq!(r.next_frame(), Ok(None));
        r.finish();
        assert_eq!(r.next_frame(), Err(Error::UnexpectedEnd));
        let mut r = StreamReader::with_limit(4);
        r.push(&[0x00, 0x05]);
        assert_eq!(
            r.next_frame(),
            Err(Error::FrameTooLarge {
                frame_type: 0,
                len: 5,
                limit: 4
            })
        );
    }
}
