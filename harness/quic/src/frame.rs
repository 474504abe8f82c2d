//! QUIC frames (RFC 9000 §19, plus RFC 9221 DATAGRAM and the ACK_FREQUENCY / IMMEDIATE_ACK
//! frames of draft-ietf-quic-ack-frequency) as owned values, and a parser for decrypted packet
//! payloads.
//!
//! The parser never panics: every length and count is checked against the bytes that are
//! left, and anything that cannot be read is a typed [`FrameError`] carrying the offset of the
//! frame it was found in. The checks are those of RFC 9000 that need only the frame itself
//! (a truncated field, an unknown type, an ACK range below packet number 0, a connection id of
//! more than 20 bytes, an offset + length beyond 2^62 − 1, a stream count beyond 2^60, ...);
//! whether a frame is *allowed* in a given packet type is left to the caller.
//!
//! Frame types encoded in more bytes than needed (RFC 9000 §12.4 lets a receiver treat that as
//! a PROTOCOL_VIOLATION, it does not require it) are accepted here.

use handshake_core::VarInt;
use std::fmt;

use crate::tls::hex;

/// Largest value of a QUIC variable-length integer, and of stream offsets (2^62 − 1).
pub const VARINT_MAX: u64 = (1 << 62) - 1;
/// Largest stream count a MAX_STREAMS / STREAMS_BLOCKED frame may carry (2^60).
pub const MAX_STREAM_COUNT: u64 = 1 << 60;
/// Largest connection id length in QUIC v1.
pub const MAX_CID_LEN: usize = 20;

/// ECN counts of an ACK frame of type 0x03.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EcnCounts {
    pub ect0: u64,
    pub ect1: u64,
    pub ce: u64,
}

/// One decoded frame. Byte payloads are copied out of the packet.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Frame {
    /// A run of consecutive PADDING bytes (type 0x00), folded into one frame.
    Padding(usize),
    Ping,
    /// ACK (0x02) or ACK with ECN counts (0x03). `ranges` are inclusive `(smallest, largest)`
    /// pairs, highest first; the first one ends at `largest`. `delay` is the raw encoded value
    /// (scale it with the sender's ack_delay_exponent).
    Ack {
        largest: u64,
        delay: u64,
        ranges: Vec<(u64, u64)>,
        ecn: Option<EcnCounts>,
    },
    ResetStream {
        id: u64,
        code: u64,
        final_size: u64,
    },
    StopSending {
        id: u64,
        code: u64,
    },
    Crypto {
        offset: u64,
        data: Vec<u8>,
    },
    NewToken {
        token: Vec<u8>,
    },
    /// STREAM (0x08..=0x0f). Without the OFF bit `offset` is 0; without the LEN bit the data
    /// runs to the end of the packet.
    Stream {
        id: u64,
        offset: u64,
        fin: bool,
        data: Vec<u8>,
    },
    MaxData {
        max: u64,
    },
    MaxStreamData {
        id: u64,
        max: u64,
    },
    MaxStreams {
        bidi: bool,
        max: u64,
    },
    DataBlocked {
        limit: u64,
    },
    StreamDataBlocked {
        id: u64,
        limit: u64,
    },
    StreamsBlocked {
        bidi: bool,
        limit: u64,
    },
    NewConnectionId {
        seq: u64,
        retire_prior_to: u64,
        cid: Vec<u8>,
        reset_token: [u8; 16],
    },
    RetireConnectionId {
        seq: u64,
    },
    PathChallenge {
        data: [u8; 8],
    },
    PathResponse {
        data: [u8; 8],
    },
    /// CONNECTION_CLOSE: `application` is true for type 0x1d (then `frame_type` is None), false
    /// for the transport variant 0x1c (then `frame_type` is Some, 0 when unknown).
    ConnectionClose {
        application: bool,
        code: u64,
        frame_type: Option<u64>,
        reason: Vec<u8>,
    },
    HandshakeDone,
    /// DATAGRAM (RFC 9221): 0x30 (to the end of the packet) or 0x31 (with a length).
    Datagram {
        data: Vec<u8>,
    },
    /// ACK_FREQUENCY (0xaf, draft-ietf-quic-ack-frequency).
    AckFrequency {
        seq: u64,
        ack_eliciting_threshold: u64,
        request_max_ack_delay: u64,
        reordering_threshold: u64,
    },
    /// IMMEDIATE_ACK (0x1f, draft-ietf-quic-ack-frequency).
    ImmediateAck,
}

/// Why a payload could not be read as frames. `offset` is where the offending frame starts in
/// the payload; `frame_type` is its type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated frame type at offset {offset}")]
    TruncatedType { offset: usize },
    #[error("unknown frame type {frame_type:#x} at offset {offset}")]
    UnknownType { frame_type: u64, offset: usize },
    #[error("truncated {name} frame (type {frame_type:#x}) at offset {offset}")]
    Truncated {
        name: &'static str,
        frame_type: u64,
        offset: usize,
    },
    #[error("invalid {name} frame (type {frame_type:#x}) at offset {offset}: {reason}")]
    Invalid {
        name: &'static str,
        frame_type: u64,
        offset: usize,
        reason: &'static str,
    },
}

impl FrameError {
    /// Offset in the payload of the frame that could not be read.
    pub fn offset(&self) -> usize {
        match self {
            FrameError::TruncatedType { offset }
            | FrameError::UnknownType { offset, .. }
            | FrameError::Truncated { offset, .. }
            | FrameError::Invalid { offset, .. } => *offset,
        }
    }

    /// Type of the frame that could not be read (None if the type itself was cut off).
    pub fn frame_type(&self) -> Option<u64> {
        match self {
            FrameError::TruncatedType { .. } => None,
            FrameError::UnknownType { frame_type, .. }
            | FrameError::Truncated { frame_type, .. }
            | FrameError::Invalid { frame_type, .. } => Some(*frame_type),
        }
    }
}

impl Frame {
    /// Upper-case RFC name of the frame type ("STREAM", "CONNECTION_CLOSE", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Padding(_) => "PADDING",
            Frame::Ping => "PING",
            Frame::Ack { .. } => "ACK",
            Frame::ResetStream { .. } => "RESET_STREAM",
            Frame::StopSending { .. } => "STOP_SENDING",
            Frame::Crypto { .. } => "CRYPTO",
            Frame::NewToken { .. } => "NEW_TOKEN",
            Frame::Stream { .. } => "STREAM",
            Frame::MaxData { .. } => "MAX_DATA",
            Frame::MaxStreamData { .. } => "MAX_STREAM_DATA",
            Frame::MaxStreams { .. } => "MAX_STREAMS",
            Frame::DataBlocked { .. } => "DATA_BLOCKED",
            Frame::StreamDataBlocked { .. } => "STREAM_DATA_BLOCKED",
            Frame::StreamsBlocked { .. } => "STREAMS_BLOCKED",
            Frame::NewConnectionId { .. } => "NEW_CONNECTION_ID",
            Frame::RetireConnectionId { .. } => "RETIRE_CONNECTION_ID",
            Frame::PathChallenge { .. } => "PATH_CHALLENGE",
            Frame::PathResponse { .. } => "PATH_RESPONSE",
            Frame::ConnectionClose { .. } => "CONNECTION_CLOSE",
            Frame::HandshakeDone => "HANDSHAKE_DONE",
            Frame::Datagram { .. } => "DATAGRAM",
            Frame::AckFrequency { .. } => "ACK_FREQUENCY",
            Frame::ImmediateAck => "IMMEDIATE_ACK",
        }
    }
}

fn bidi(b: bool) -> &'static str {
    if b {
        "bidi"
    } else {
        "uni"
    }
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::Padding(n) => write!(f, "PADDING len={n}"),
            Frame::Ping => f.write_str("PING"),
            Frame::Ack { largest, delay, ranges, ecn } => {
                write!(f, "ACK largest={largest} delay={delay} ranges=")?;
                for (i, (lo, hi)) in ranges.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "," };
                    if lo == hi {
                        write!(f, "{sep}{lo}")?;
                    } else {
                        write!(f, "{sep}{lo}-{hi}")?;
                    }
                }
                if let Some(e) = ecn {
                    write!(f, " ecn={},{},{}", e.ect0, e.ect1, e.ce)?;
                }
                Ok(())
            }
            Frame::ResetStream { id, code, final_size } => write!(f, "RESET_STREAM id={id} code={code:#x} final_size={final_size}"),
            Frame::StopSending { id, code } => write!(f, "STOP_SENDING id={id} code={code:#x}"),
            Frame::Crypto { offset, data } => write!(f, "CRYPTO off={offset} len={}", data.len()),
            Frame::NewToken { token } => write!(f, "NEW_TOKEN len={}", token.len()),
            Frame::Stream { id, offset, fin, data } => {
                write!(f, "STREAM id={id} off={offset} len={}", data.len())?;
                if *fin {
                    f.write_str(" fin")?;
                }
                Ok(())
            }
            Frame::MaxData { max } => write!(f, "MAX_DATA max={max}"),
            Frame::MaxStreamData { id, max } => write!(f, "MAX_STREAM_DATA id={id} max={max}"),
            Frame::MaxStreams { bidi: b, max } => write!(f, "MAX_STREAMS {} max={max}", bidi(*b)),
            Frame::DataBlocked { limit } => write!(f, "DATA_BLOCKED limit={limit}"),
            Frame::StreamDataBlocked { id, limit } => write!(f, "STREAM_DATA_BLOCKED id={id} limit={limit}"),
            Frame::StreamsBlocked { bidi: b, limit } => write!(f, "STREAMS_BLOCKED {} limit={limit}", bidi(*b)),
            Frame::NewConnectionId { seq, retire_prior_to, cid, .. } => {
                write!(f, "NEW_CONNECTION_ID seq={seq} retire_prior_to={retire_prior_to} cid={}", hex(cid))
            }
            Frame::RetireConnectionId { seq } => write!(f, "RETIRE_CONNECTION_ID seq={seq}"),
            Frame::PathChallenge { data } => write!(f, "PATH_CHALLENGE data={}", hex(data)),
            Frame::PathResponse { data } => write!(f, "PATH_RESPONSE data={}", hex(data)),
            Frame::ConnectionClose { application, code, frame_type, reason } => {
                write!(f, "CONNECTION_CLOSE {} code={code:#x}", if *application { "app" } else { "transport" })?;
                if let Some(t) = frame_type.filter(|t| *t != 0) {
                    write!(f, " frame_type={t:#x}")?;
                }
                if !reason.is_empty() {
                    write!(f, " reason={:?}", String::from_utf8_lossy(reason))?;
                }
                Ok(())
            }
            Frame::HandshakeDone => f.write_str("HANDSHAKE_DONE"),
            Frame::Datagram { data } => write!(f, "DATAGRAM len={}", data.len()),
            Frame::AckFrequency { seq, ack_eliciting_threshold, request_max_ack_delay, reordering_threshold } => write!(
                f,
                "ACK_FREQUENCY seq={seq} threshold={ack_eliciting_threshold} max_delay={request_max_ack_delay} reorder={reordering_threshold}"
            ),
            Frame::ImmediateAck => f.write_str("IMMEDIATE_ACK"),
        }
    }
}

/// Bounds-checked reader over a byte slice (shared with the packet parser).
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }
    pub(crate) fn u8(&mut self) -> Option<u8> {
        let v = self.peek()?;
        self.pos += 1;
        Some(v)
    }
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    /// `n` given as a wire integer (checked against the remaining bytes before converting).
    pub(crate) fn bytes_u64(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        self.bytes(n)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }
    pub(crate) fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.array()?))
    }
    pub(crate) fn u24(&mut self) -> Option<u32> {
        let [a, b, c] = self.array()?;
        Some(u32::from_be_bytes([0, a, b, c]))
    }
    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.array()?))
    }
    /// QUIC variable-length integer (RFC 9000 §16).
    pub(crate) fn varint(&mut self) -> Option<u64> {
        let (v, len) = VarInt::decode(self.buf.get(self.pos..)?).ok()?;
        self.bytes(len)?;
        Some(v.get())
    }
}

/// Parse a decrypted packet payload into frames. Consecutive PADDING bytes become one
/// [`Frame::Padding`]. An empty payload gives an empty list (RFC 9000 requires at least one
/// frame in a packet; judging that is the caller's business).
pub fn parse_frames(payload: &[u8]) -> Result<Vec<Frame>, FrameError> {
    let (frames, err) = parse_frames_partial(payload);
    match err {
        Some(e) => Err(e),
        None => Ok(frames),
    }
}

/// Like [`parse_frames`], but also returns the frames read before the first error.
pub fn parse_frames_partial(payload: &[u8]) -> (Vec<Frame>, Option<FrameError>) {
    let mut r = Reader::new(payload);
    let mut frames = Vec::new();
    while r.left() > 0 {
        match parse_one(&mut r) {
            Ok(f) => frames.push(f),
            Err(e) => return (frames, Some(e)),
        }
    }
    (frames, None)
}

fn frame_name(t: u64) -> &'static str {
    match t {
        0x02 | 0x03 => "ACK",
        0x04 => "RESET_STREAM",
        0x05 => "STOP_SENDING",
        0x06 => "CRYPTO",
        0x07 => "NEW_TOKEN",
        0x08..=0x0f => "STREAM",
        0x10 => "MAX_DATA",
        0x11 => "MAX_STREAM_DATA",
        0x12 | 0x13 => "MAX_STREAMS",
        0x14 => "DATA_BLOCKED",
        0x15 => "STREAM_DATA_BLOCKED",
        0x16 | 0x17 => "STREAMS_BLOCKED",
        0x18 => "NEW_CONNECTION_ID",
        0x19 => "RETIRE_CONNECTION_ID",
        0x1a => "PATH_CHALLENGE",
        0x1b => "PATH_RESPONSE",
        0x1c | 0x1d => "CONNECTION_CLOSE",
        0x30 | 0x31 => "DATAGRAM",
        0xaf => "ACK_FREQUENCY",
        _ => "?",
    }
}

/// A frame body that was read: a frame, or a value RFC 9000 rules out. (`None` from
/// [`body`] means the body was cut off.)
enum Body {
    Frame(Frame),
    Invalid(&'static str),
}

fn parse_one(r: &mut Reader<'_>) -> Result<Frame, FrameError> {
    let offset = r.pos();
    let t = r.varint().ok_or(FrameError::TruncatedType { offset })?;
    match t {
        0x00 => {
            let mut n = 1;
            while r.peek() == Some(0) {
                r.u8();
                n += 1;
            }
            return Ok(Frame::Padding(n));
        }
        0x01 => return Ok(Frame::Ping),
        0x1e => return Ok(Frame::HandshakeDone),
        0x1f => return Ok(Frame::ImmediateAck),
        0x02..=0x1d | 0x30 | 0x31 | 0xaf => {}
        _ => {
            return Err(FrameError::UnknownType {
                frame_type: t,
                offset,
            })
        }
    }
    let name = frame_name(t);
    match body(t, r) {
        Some(Body::Frame(f)) => Ok(f),
        Some(Body::Invalid(reason)) => Err(FrameError::Invalid {
            name,
            frame_type: t,
            offset,
            reason,
        }),
        None => Err(FrameError::Truncated {
            name,
            frame_type: t,
            offset,
        }),
    }
}

fn body(t: u64, r: &mut Reader<'_>) -> Option<Body> {
    use Body::{Frame as F, Invalid};
    Some(match t {
        0x02 | 0x03 => return ack_body(t, r),
        0x04 => F(Frame::ResetStream {
            id: r.varint()?,
            code: r.varint()?,
            final_size: r.varint()?,
        }),
        0x05 => F(Frame::StopSending {
            id: r.varint()?,
            code: r.varint()?,
        }),
        0x06 => {
            let offset = r.varint()?;
            let len = r.varint()?;
            let data = r.bytes_u64(len)?.to_vec();
            if offset.checked_add(len).is_none_or(|end| end > VARINT_MAX) {
                return Some(Invalid("offset + length beyond 2^62-1"));
            }
            F(Frame::Crypto { offset, data })
        }
        0x07 => {
            let len = r.varint()?;
            let token = r.bytes_u64(len)?.to_vec();
            if token.is_empty() {
                return Some(Invalid("empty token"));
            }
            F(Frame::NewToken { token })
        }
        0x08..=0x0f => return stream_body(t, r),
        0x10 => F(Frame::MaxData { max: r.varint()? }),
        0x11 => F(Frame::MaxStreamData {
            id: r.varint()?,
            max: r.varint()?,
        }),
        0x12 | 0x13 => {
            let max = r.varint()?;
            if max > MAX_STREAM_COUNT {
                return Some(Invalid("stream count beyond 2^60"));
            }
            F(Frame::MaxStreams {
                bidi: t == 0x12,
                max,
            })
        }
        0x14 => F(Frame::DataBlocked { limit: r.varint()? }),
        0x15 => F(Frame::StreamDataBlocked {
            id: r.varint()?,
            limit: r.varint()?,
        }),
        0x16 | 0x17 => {
            let limit = r.varint()?;
            if limit > MAX_STREAM_COUNT {
                return Some(Invalid("stream count beyond 2^60"));
            }
            F(Frame::StreamsBlocked {
                bidi: t == 0x16,
                limit,
            })
        }
        0x18 => return new_connection_id_body(r),
        0x19 => F(Frame::RetireConnectionId { seq: r.varint()? }),
        0x1a => F(Frame::PathChallenge { data: r.array()? }),
        0x1b => F(Frame::PathResponse { data: r.array()? }),
        0x1c | 0x1d => {
            let code = r.varint()?;
            let frame_type = if t == 0x1c { Some(r.varint()?) } else { None };
            let len = r.varint()?;
            let reason = r.bytes_u64(len)?.to_vec();
            F(Frame::ConnectionClose {
                application: t == 0x1d,
                code,
                frame_type,
                reason,
            })
        }
        0x30 => {
            let n = r.left();
            F(Frame::Datagram {
                data: r.bytes(n)?.to_vec(),
            })
        }
        0x31 => {
            let len = r.varint()?;
            F(Frame::Datagram {
                data: r.bytes_u64(len)?.to_vec(),
            })
        }
        0xaf => F(Frame::AckFrequency {
            seq: r.varint()?,
            ack_eliciting_threshold: r.varint()?,
            request_max_ack_delay: r.varint()?,
            reordering_threshold: r.varint()?,
        }),
        _ => return None,
    })
}

/// An ACK frame (type 0x02, or 0x03 with ECN counts).
fn ack_body(t: u64, r: &mut Reader<'_>) -> Option<Body> {
    use Body::{Frame as F, Invalid};
    let largest = r.varint()?;
    let delay = r.varint()?;
    let count = r.varint()?;
    let first = r.varint()?;
    let Some(mut lo) = largest.checked_sub(first) else {
        return Some(Invalid("first ACK range below packet number 0"));
    };
    let mut ranges = vec![(lo, largest)];
    // Each further range takes at least two bytes: `count` cannot exceed what is left.
    if count > (r.left() as u64) / 2 {
        return None;
    }
    for _ in 0..count {
        let gap = r.varint()?;
        let len = r.varint()?;
        let Some(hi) = lo.checked_sub(gap).and_then(|v| v.checked_sub(2)) else {
            return Some(Invalid("ACK gap below packet number 0"));
        };
        let Some(l) = hi.checked_sub(len) else {
            return Some(Invalid("ACK range below packet number 0"));
        };
        lo = l;
        ranges.push((lo, hi));
    }
    let ecn = if t == 0x03 {
        Some(EcnCounts {
            ect0: r.varint()?,
            ect1: r.varint()?,
            ce: r.varint()?,
        })
    } else {
        None
    };
    Some(F(Frame::Ack {
        largest,
        delay,
        ranges,
        ecn,
    }))
}

/// A STREAM frame (types 0x08..=0x0f: the low bits say OFF, LEN and FIN).
fn stream_body(t: u64, r: &mut Reader<'_>) -> Option<Body> {
    use Body::{Frame as F, Invalid};
    let id = r.varint()?;
    let offset = if t & 0x04 != 0 { r.varint()? } else { 0 };
    let data = if t & 0x02 != 0 {
        let len = r.varint()?;
        r.bytes_u64(len)?
    } else {
        let n = r.left();
        r.bytes(n)?
    };
    let len = data.len() as u64;
    if offset.checked_add(len).is_none_or(|end| end > VARINT_MAX) {
        return Some(Invalid("offset + length beyond 2^62-1"));
    }
    Some(F(Frame::Stream {
        id,
        offset,
        fin: t & 0x01 != 0,
        data: data.to_vec(),
    }))
}

/// A NEW_CONNECTION_ID frame (type 0x18).
fn new_connection_id_body(r: &mut Reader<'_>) -> Option<Body> {
    use Body::{Frame as F, Invalid};
    let seq = r.varint()?;
    let retire_prior_to = r.varint()?;
    let len = usize::from(r.u8()?);
    let cid = r.bytes(len)?.to_vec();
    let reset_token = r.array::<16>()?;
    if cid.is_empty() || cid.len() > MAX_CID_LEN {
        return Some(Invalid("connection id length not in 1..=20"));
    }
    if retire_prior_to > seq {
        return Some(Invalid("retire_prior_to greater than the sequence number"));
    }
    Some(F(Frame::NewConnectionId {
        seq,
        retire_prior_to,
        cid,
        reset_token,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[rstest]
    #[case::padding_run(&[0, 0, 0, 1], vec![Frame::Padding(3), Frame::Ping])]
    #[case::stream_all_bits(&[0x0f, 0x00, 0x05, 0x02, b'h', b'i'], vec![Frame::Stream { id: 0, offset: 5, fin: true, data: b"hi".to_vec() }])]
    #[case::stream_to_end(&[0x08, 0x04, b'a', b'b', b'c'], vec![Frame::Stream { id: 4, offset: 0, fin: false, data: b"abc".to_vec() }])]
    #[case::ack_ranges(&[0x02, 10, 0, 1, 2, 1, 3], vec![Frame::Ack { largest: 10, delay: 0, ranges: vec![(8, 10), (2, 5)], ecn: None }])]
    #[case::ack_ecn(&[0x03, 1, 2, 0, 1, 4, 5, 6], vec![Frame::Ack { largest: 1, delay: 2, ranges: vec![(0, 1)], ecn: Some(EcnCounts { ect0: 4, ect1: 5, ce: 6 }) }])]
    #[case::reset(&[0x04, 4, 7, 7], vec![Frame::ResetStream { id: 4, code: 7, final_size: 7 }])]
    #[case::stop(&[0x05, 8, 9], vec![Frame::StopSending { id: 8, code: 9 }])]
    #[case::crypto(&[0x06, 0x40, 0x10, 1, 0xaa], vec![Frame::Crypto { offset: 16, data: vec![0xaa] }])]
    #[case::close_app(&[0x1d, 5, 2, b'n', b'o'], vec![Frame::ConnectionClose { application: true, code: 5, frame_type: None, reason: b"no".to_vec() }])]
    #[case::close_transport(&[0x1c, 2, 0, 0], vec![Frame::ConnectionClose { application: false, code: 2, frame_type: Some(0), reason: vec![] }])]
    #[case::misc(&[0x10, 1, 0x11, 0, 2, 0x12, 4, 0x13, 5, 0x14, 6, 0x15, 0, 7, 0x16, 8, 0x17, 9, 0x19, 3, 0x1e, 0x1f], vec![
        Frame::MaxData { max: 1 }, Frame::MaxStreamData { id: 0, max: 2 }, Frame::MaxStreams { bidi: true, max: 4 },
        Frame::MaxStreams { bidi: false, max: 5 }, Frame::DataBlocked { limit: 6 }, Frame::StreamDataBlocked { id: 0, limit: 7 },
        Frame::StreamsBlocked { bidi: true, limit: 8 }, Frame::StreamsBlocked { bidi: false, limit: 9 },
        Frame::RetireConnectionId { seq: 3 }, Frame::HandshakeDone, Frame::ImmediateAck])]
    #[case::datagrams(&[0x31, 2, 1, 2, 0x30, 3], vec![Frame::Datagram { data: vec![1, 2] }, Frame::Datagram { data: vec![3] }])]
    #[case::path(&[0x1a, 1, 2, 3, 4, 5, 6, 7, 8, 0x1b, 8, 7, 6, 5, 4, 3, 2, 1], vec![
        Frame::PathChallenge { data: [1, 2, 3, 4, 5, 6, 7, 8] }, Frame::PathResponse { data: [8, 7, 6, 5, 4, 3, 2, 1] }])]
    #[case::ack_frequency(&[0x40, 0xaf, 1, 2, 0x40, 25, 3], vec![Frame::AckFrequency { seq: 1, ack_eliciting_threshold: 2, request_max_ack_delay: 25, reordering_threshold: 3 }])]
    #[case::token(&[0x07, 2, 9, 9], vec![Frame::NewToken { token: vec![9, 9] }])]
    #[case::non_minimal_type(&[0x40, 0x01], vec![Frame::Ping])]
    fn parses(#[case] payload: &[u8], #[case] expected: Vec<Frame>) {
        assert_eq!(parse_frames(payload), Ok(expected));
    }

    #[test]
    fn new_connection_id() {
        let mut p = vec![0x18, 2, 1, 4, 0xde, 0xad, 0xbe, 0xef];
        p.extend_from_slice(&[0x11; 16]);
        assert_eq!(
            parse_frames(&p),
            Ok(vec![Frame::NewConnectionId {
                seq: 2,
                retire_prior_to: 1,
                cid: vec![0xde, 0xad, 0xbe, 0xef],
                reset_token: [0x11; 16]
            }])
        );
        assert_eq!(
            parse_frames(&p).map(|f| f[0].to_string()),
            Ok("NEW_CONNECTION_ID seq=2 retire_prior_to=1 cid=deadbeef".to_string())
        );
        let mut bad = p.clone();
        bad[2] = 3; // retire_prior_to > seq
        assert!(matches!(
            parse_frames(&bad),
            Err(FrameError::Invalid {
                frame_type: 0x18,
                ..
            })
        ));
        p.truncate(p.len() - 1);
        assert!(matches!(
            parse_frames(&p),
            Err(FrameError::Truncated {
                frame_type: 0x18,
                offset: 0,
                ..
            })
        ));
    }

    #[rstest]
    #[case::unknown(&[0x01, 0x21], FrameError::UnknownType { frame_type: 0x21, offset: 1 })]
    #[case::truncated_type(&[0x40], FrameError::TruncatedType { offset: 0 })]
    #[case::truncated_stream(&[0x0a, 0, 5, 1], FrameError::Truncated { name: "STREAM", frame_type: 0x0a, offset: 0 })]
    #[case::ack_below_zero(&[0x02, 1, 0, 0, 2], FrameError::Invalid { name: "ACK", frame_type: 2, offset: 0, reason: "first ACK range below packet number 0" })]
    #[case::ack_gap_below_zero(&[0x02, 3, 0, 1, 0, 2, 0], FrameError::Invalid { name: "ACK", frame_type: 2, offset: 0, reason: "ACK gap below packet number 0" })]
    #[case::huge_ack_count(&[0x02, 3, 0, 0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0], FrameError::Truncated { name: "ACK", frame_type: 2, offset: 0 })]
    #[case::streams_too_many(&[0x12, 0xd0, 0, 0, 0, 0, 0, 0, 1], FrameError::Invalid { name: "MAX_STREAMS", frame_type: 0x12, offset: 0, reason: "stream count beyond 2^60" })]
    #[case::stream_offset_overflow(&[0x0e, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 0], FrameError::Invalid { name: "STREAM", frame_type: 0x0e, offset: 0, reason: "offset + length beyond 2^62-1" })]
    #[case::huge_len(&[0x06, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], FrameError::Truncated { name: "CRYPTO", frame_type: 6, offset: 0 })]
    fn errors(#[case] payload: &[u8], #[case] expected: FrameError) {
        assert_eq!(parse_frames(payload), Err(expected));
    }

    #[test]
    fn partial_keeps_the_prefix() {
        let (frames, err) = parse_frames_partial(&[0x01, 0x00, 0x00, 0x21, 0x01]);
        assert_eq!(frames, vec![Frame::Ping, Frame::Padding(2)]);
        assert_eq!(err.as_ref().map(FrameError::offset), Some(3));
        assert_eq!(err.and_then(|e| e.frame_type()), Some(0x21));
    }

    #[rstest]
    #[case(Frame::Stream { id: 0, offset: 0, fin: true, data: vec![1; 5] }, "STREAM id=0 off=0 len=5 fin")]
    #[case(Frame::Stream { id: 4, offset: 5, fin: false, data: vec![1; 8] }, "STREAM id=4 off=5 len=8")]
    #[case(Frame::ConnectionClose { application: true, code: 5, frame_type: None, reason: b"stream error".to_vec() }, "CONNECTION_CLOSE app code=0x5 reason=\"stream error\"")]
    #[case(Frame::ConnectionClose { application: false, code: 2, frame_type: Some(0), reason: vec![] }, "CONNECTION_CLOSE transport code=0x2")]
    #[case(Frame::ConnectionClose { application: false, code: 0x178, frame_type: Some(6), reason: b"x".to_vec() }, "CONNECTION_CLOSE transport code=0x178 frame_type=0x6 reason=\"x\"")]
    #[case(Frame::Ack { largest: 7, delay: 0, ranges: vec![(6, 7), (3, 3)], ecn: None }, "ACK largest=7 delay=0 ranges=6-7,3")]
    #[case(Frame::ResetStream { id: 4, code: 7, final_size: 7 }, "RESET_STREAM id=4 code=0x7 final_size=7")]
    #[case(Frame::StopSending { id: 8, code: 9 }, "STOP_SENDING id=8 code=0x9")]
    #[case(Frame::Padding(12), "PADDING len=12")]
    #[case(Frame::MaxStreams { bidi: true, max: 4 }, "MAX_STREAMS bidi max=4")]
    #[case(Frame::Datagram { data: b"hello".to_vec() }, "DATAGRAM len=5")]
    fn display(#[case] f: Frame, #[case] s: &str) {
        assert_eq!(f.to_string(), s);
    }

    proptest! {
        #[test]
        fn never_panics(payload in proptest::collection::vec(any::<u8>(), 0..256)) {
            let (frames, err) = parse_frames_partial(&payload);
            for f in &frames {
                let _ = f.to_string();
            }
            if let Some(e) = err {
                prop_assert!(e.offset() < payload.len());
                let _ = e.to_string();
            }
        }

        #[test]
        fn frame_bytes_never_panic(payload in proptest::collection::vec(prop_oneof![Just(0u8), Just(0x40), Just(0xff), 0u8..0x32, any::<u8>()], 0..64)) {
            let _ = parse_frames(&payload);
        }
    }
}
