//! HTTP/3 frames (RFC 9114 §7): type varint, length varint, payload.
//!
//! [`Frame`] borrows its payload from the input; [`OwnedFrame`] owns it. DATA and HEADERS keep their
//! payload raw (HEADERS is a QPACK field section, see [`crate::qpack`]); SETTINGS is parsed into its
//! ordered id/value list (duplicates and reserved ids kept, so a judge can see them; see
//! [`Settings::violation`]); GOAWAY into its id; every other type — known, HTTP/2-reserved, GREASE or
//! unknown — is [`Frame::Other`].

use crate::varint::{self, VarInt};
use crate::Error;

/// Frame type values.
pub mod frame_type {
    /// DATA.
    pub const DATA: u64 = 0x00;
    /// HEADERS.
    pub const HEADERS: u64 = 0x01;
    /// CANCEL_PUSH.
    pub const CANCEL_PUSH: u64 = 0x03;
    /// SETTINGS.
    pub const SETTINGS: u64 = 0x04;
    /// PUSH_PROMISE.
    pub const PUSH_PROMISE: u64 = 0x05;
    /// GOAWAY.
    pub const GOAWAY: u64 = 0x07;
    /// MAX_PUSH_ID.
    pub const MAX_PUSH_ID: u64 = 0x0d;
    /// HTTP/2 frame types reserved in HTTP/3 (PRIORITY, PING, WINDOW_UPDATE, CONTINUATION): receipt
    /// is H3_FRAME_UNEXPECTED (RFC 9114 §7.2.8).
    pub const RESERVED_H2: [u64; 4] = [0x02, 0x06, 0x08, 0x09];
    /// The WebTransport bidi stream signal (draft-ietf-webtrans-http3): not a frame — no length
    /// follows, the session id does. See [`crate::stream::BidiPrefix`].
    pub const WEBTRANSPORT_STREAM: u64 = 0x41;

    /// A type the receiver must ignore: neither defined above nor HTTP/2-reserved (GREASE values
    /// `0x21 + 0x1f·N` included).
    pub fn is_unknown(t: u64) -> bool {
        !matches!(
            t,
            DATA | HEADERS | CANCEL_PUSH | SETTINGS | PUSH_PROMISE | GOAWAY | MAX_PUSH_ID
        ) && !RESERVED_H2.contains(&t)
    }
}

/// `0x21 + 0x1f·N`: the reserved GREASE points of frame types, stream types, settings and error codes
/// (RFC 9114 §7.2.8, §6.2.3, §7.2.4.1, §8.1).
pub const fn is_grease(value: u64) -> bool {
    value >= 0x21 && (value - 0x21) % 0x1f == 0
}

/// SETTINGS identifiers.
pub mod setting {
    /// QPACK_MAX_TABLE_CAPACITY (RFC 9204).
    pub const QPACK_MAX_TABLE_CAPACITY: u64 = 0x01;
    /// MAX_FIELD_SECTION_SIZE.
    pub const MAX_FIELD_SECTION_SIZE: u64 = 0x06;
    /// QPACK_BLOCKED_STREAMS (RFC 9204).
    pub const QPACK_BLOCKED_STREAMS: u64 = 0x07;
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 9220).
    pub const ENABLE_CONNECT_PROTOCOL: u64 = 0x08;
    /// SETTINGS_H3_DATAGRAM (RFC 9297).
    pub const H3_DATAGRAM: u64 = 0x33;
    /// The pre-RFC H3_DATAGRAM id, still sent by Chrome and web-transport-quinn.
    pub const H3_DATAGRAM_DRAFT: u64 = 0xff_d277;
    /// SETTINGS_ENABLE_WEBTRANSPORT of drafts before 07 (aioquic 1.2 sends it).
    pub const ENABLE_WEBTRANSPORT_DRAFT: u64 = 0x2b60_3742;
    /// SETTINGS_WEBTRANSPORT_MAX_SESSIONS of drafts before 07.
    pub const WEBTRANSPORT_MAX_SESSIONS_DRAFT: u64 = 0x2b60_3743;
    /// SETTINGS_WT_MAX_SESSIONS (draft 07 on; a non-zero value enables WebTransport).
    pub const WT_MAX_SESSIONS: u64 = 0xc671_706a;
    /// HTTP/2 setting ids reserved in HTTP/3: receipt is H3_SETTINGS_ERROR (RFC 9114 §7.2.4.1).
    pub const RESERVED_H2: [u64; 5] = [0x00, 0x02, 0x03, 0x04, 0x05];
}

/// The id/value pairs of a SETTINGS frame, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Settings(pub Vec<(VarInt, VarInt)>);

/// What is wrong with a SETTINGS list (RFC 9114 §7.2.4: both are H3_SETTINGS_ERROR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SettingsViolation {
    /// An HTTP/2 id (0x00, 0x02 to 0x05).
    Reserved(u64),
    /// An id that appears twice.
    Duplicate(u64),
}

impl Settings {
    /// The value of the first pair with `id`.
    pub fn get(&self, id: u64) -> Option<u64> {
        self.0
            .iter()
            .find(|(i, _)| i.get() == id)
            .map(|(_, v)| v.get())
    }

    /// Appends a pair (checked).
    pub fn push(&mut self, id: u64, value: u64) -> Result<&mut Self, Error> {
        self.0.push((VarInt::new(id)?, VarInt::new(value)?));
        Ok(self)
    }

    /// The first reserved or duplicate id, in wire order.
    pub fn violation(&self) -> Option<SettingsViolation> {
        for (n, (id, _)) in self.0.iter().enumerate() {
            let id = id.get();
            if setting::RESERVED_H2.contains(&id) {
                return Some(SettingsViolation::Reserved(id));
            }
            if self.0[..n].iter().any(|(i, _)| i.get() == id) {
                return Some(SettingsViolation::Duplicate(id));
            }
        }
        None
    }

    /// The WebTransport session limit a web-transport-quinn 0.13 peer reads from these settings
    /// (0: WebTransport not enabled): H3_DATAGRAM (or its draft id) must be 1; then
    /// WT_MAX_SESSIONS if present; else ENABLE_WEBTRANSPORT_DRAFT must be 1 and the limit is
    /// WEBTRANSPORT_MAX_SESSIONS_DRAFT or 1.
    pub fn webtransport_sessions(&self) -> u64 {
        let datagram = self
            .get(setting::H3_DATAGRAM)
            .or_else(|| self.get(setting::H3_DATAGRAM_DRAFT));
        if datagram != Some(1) {
            return 0;
        }
        if let Some(max) = self.get(setting::WT_MAX_SESSIONS) {
            return max;
        }
        if self.get(setting::ENABLE_WEBTRANSPORT_DRAFT) != Some(1) {
            return 0;
        }
        self.get(setting::WEBTRANSPORT_MAX_SESSIONS_DRAFT)
            .unwrap_or(1)
    }

    /// Settings a peer needs to interoperate with both aioquic 1.2 and web-transport-quinn 0.13 (see
    /// notes/webtransport-wire.md): ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM (both ids),
    /// ENABLE_WEBTRANSPORT_DRAFT, WT_MAX_SESSIONS = `max_sessions`; no QPACK dynamic table.
    pub fn webtransport(max_sessions: u32) -> Settings {
        let pairs = [
            (setting::ENABLE_CONNECT_PROTOCOL, 1),
            (setting::H3_DATAGRAM, 1),
            (setting::H3_DATAGRAM_DRAFT, 1),
            (setting::ENABLE_WEBTRANSPORT_DRAFT, 1),
            (setting::WT_MAX_SESSIONS, u64::from(max_sessions)),
        ];
        Settings(
            pairs
                .into_iter()
                .map(|(i, v)| {
                    (
                        VarInt::new(i).unwrap_or_default(),
                        VarInt::new(v).unwrap_or_default(),
                    )
                })
                .collect(),
        )
    }

    fn parse(mut payload: &[u8]) -> Result<Settings, Error> {
        let mut pairs = Vec::new();
        while !payload.is_empty() {
            let bad = |_| Error::MalformedFrame {
                frame_type: frame_type::SETTINGS,
            };
            let id = VarInt::take(&mut payload).map_err(bad)?;
            let value = VarInt::take(&mut payload).map_err(bad)?;
            pairs.push((id, value));
        }
        Ok(Settings(pairs))
    }

    fn emit_payload(&self, out: &mut Vec<u8>) {
        for (id, value) in &self.0 {
            id.encode(out);
            value.encode(out);
        }
    }
}

/// A frame whose payload borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Frame<'a> {
    /// DATA.
    Data(&'a [u8]),
    /// HEADERS: a QPACK field section.
    Headers(&'a [u8]),
    /// SETTINGS.
    Settings(Settings),
    /// GOAWAY: a stream id (from a server) or push id (from a client).
    Goaway(VarInt),
    /// Any other type, payload raw.
    Other {
        /// The type.
        frame_type: VarInt,
        /// The payload.
        payload: &'a [u8],
    },
}

/// A frame that owns its payload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OwnedFrame {
    /// DATA.
    Data(Vec<u8>),
    /// HEADERS: a QPACK field section.
    Headers(Vec<u8>),
    /// SETTINGS.
    Settings(Settings),
    /// GOAWAY.
    Goaway(VarInt),
    /// Any other type, payload raw.
    Other {
        /// The type.
        frame_type: VarInt,
        /// The payload.
        payload: Vec<u8>,
    },
}

impl<'a> Frame<'a> {
    /// Its type.
    pub fn frame_type(&self) -> u64 {
        match self {
            Frame::Data(_) => frame_type::DATA,
            Frame::Headers(_) => frame_type::HEADERS,
            Frame::Settings(_) => frame_type::SETTINGS,
            Frame::Goaway(_) => frame_type::GOAWAY,
            Frame::Other { frame_type, .. } => frame_type.get(),
        }
    }

    /// Reads one frame from the front of `buf`: the frame and the bytes it took. `UnexpectedEnd`
    /// while the header or payload is incomplete; `FrameTooLarge` as soon as the header declares more
    /// than `limit` payload bytes (before they arrive).
    pub fn parse(buf: &'a [u8], limit: u64) -> Result<(Frame<'a>, usize), Error> {
        let mut rest = buf;
        let ty = VarInt::take(&mut rest)?;
        let len = VarInt::take(&mut rest)?.get();
        if len > limit {
            return Err(Error::FrameTooLarge {
                frame_type: ty.get(),
                len,
                limit,
            });
        }
        let len_usize = usize::try_from(len).map_err(|_| Error::UnexpectedEnd)?;
        let payload = rest.get(..len_usize).ok_or(Error::UnexpectedEnd)?;
        let used = buf.len() - rest.len() + len_usize;
        let frame = match ty.get() {
            frame_type::DATA => Frame::Data(payload),
            frame_type::HEADERS => Frame::Headers(payload),
            frame_type::SETTINGS => Frame::Settings(Settings::parse(payload)?),
            frame_type::GOAWAY => {
                let (id, n) = VarInt::decode(payload).map_err(|_| Error::MalformedFrame {
                    frame_type: frame_type::GOAWAY,
                })?;
                if n != payload.len() {
                    return Err(Error::MalformedFrame {
                        frame_type: frame_type::GOAWAY,
                    });
                }
                Frame::Goaway(id)
            }
            _ => Frame::Other {
                frame_type: ty,
                payload,
            },
        };
        Ok((frame, used))
    }

    /// Appends its bytes (shortest varints).
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut scratch = Vec::new();
        let payload: &[u8] = match self {
            Frame::Data(p) | Frame::Headers(p) | Frame::Other { payload: p, .. } => p,
            Frame::Settings(s) => {
                s.emit_payload(&mut scratch);
                &scratch
            }
            Frame::Goaway(id) => {
                id.encode(&mut scratch);
                &scratch
            }
        };
        // A frame type from a VarInt or a constant always fits; payload lengths of a Vec fit too.
        let _ = varint::write(self.frame_type(), out);
        let _ = varint::write(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    /// Its bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }

    /// The owned copy.
    pub fn to_owned_frame(&self) -> OwnedFrame {
        match self {
            Frame::Data(p) => OwnedFrame::Data(p.to_vec()),
            Frame::Headers(p) => OwnedFrame::Headers(p.to_vec()),
            Frame::Settings(s) => OwnedFrame::Settings(s.clone()),
            Frame::Goaway(id) => OwnedFrame::Goaway(*id),
            Frame::Other {
                frame_type,
                payload,
            } => OwnedFrame::Other {
                frame_type: *frame_type,
                payload: payload.to_vec(),
            },
        }
    }
}

impl OwnedFrame {
    /// The borrowed view.
    pub fn as_frame(&self) -> Frame<'_> {
        match self {
            OwnedFrame::Data(p) => Frame::Data(p),
            OwnedFrame::Headers(p) => Frame::Headers(p),
            OwnedFrame::Settings(s) => Frame::Settings(s.clone()),
            OwnedFrame::Goaway(id) => Frame::Goaway(*id),
            OwnedFrame::Other {
                frame_type,
                payload,
            } => Frame::Other {
                frame_type: *frame_type,
                payload,
            },
        }
    }

    /// Its bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_frame().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&[0x00, 0x02, b'h', b'i'], OwnedFrame::Data(b"hi".to_vec()))]
    #[case(&[0x01, 0x00], OwnedFrame::Headers(vec![]))]
    #[case(&[0x07, 0x01, 0x04], OwnedFrame::Goaway(VarInt::from_u32(4)))]
    #[case(&[0x04, 0x04, 0x08, 0x01, 0x33, 0x01], OwnedFrame::Settings(Settings(vec![(8u32.into(), 1u32.into()), (0x33u32.into(), 1u32.into())])))]
    #[case(&[0x21, 0x01, 0xff], OwnedFrame::Other { frame_type: 0x21u32.into(), payload: vec![0xff] })]
    fn parses_and_emits(#[case] bytes: &[u8], #[case] frame: OwnedFrame) {
        let (parsed, used) = Frame::parse(bytes, u64::MAX).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(parsed.to_owned_frame(), frame);
        assert_eq!(frame.to_vec(), bytes);
    }

    #[rstest]
    #[case(&[], Error::UnexpectedEnd)]
    #[case(&[0x00], Error::UnexpectedEnd)]
    #[case(&[0x00, 0x03, 1, 2], Error::UnexpectedEnd)]
    #[case(&[0x07, 0x02, 0x04, 0x00], Error::MalformedFrame { frame_type: 7 })]
    #[case(&[0x07, 0x00], Error::MalformedFrame { frame_type: 7 })]
    #[case(&[0x04, 0x01, 0x08], Error::MalformedFrame { frame_type: 4 })]
    #[case(&[0x00, 0x41, 0x00], Error::FrameTooLarge { frame_type: 0, len: 0x100, limit: 0xff })]
    fn rejects(#[case] bytes: &[u8], #[case] err: Error) {
        assert_eq!(Frame::parse(bytes, 0xff), Err(err));
    }

    #[test]
    fn settings_rules() {
        let mut s = Settings::default();
        s.push(0x08, 1).unwrap().push(0x02, 0).unwrap();
        assert_eq!(s.violation(), Some(SettingsViolation::Reserved(2)));
        let mut s = Settings::default();
        s.push(0x33, 1).unwrap().push(0x33, 0).unwrap();
        assert_eq!(s.violation(), Some(SettingsViolation::Duplicate(0x33)));
        assert_eq!(s.get(0x33), Some(1));
        assert_eq!(Settings::webtransport(4).webtransport_sessions(), 4);
        assert_eq!(Settings::webtransport(4).violation(), None);
        // aioquic 1.2 with enable_webtransport: the draft ENABLE id, no session limit → 1.
        let mut aioquic = Settings::default();
        for (i, v) in [
            (1, 4096),
            (7, 16),
            (8, 1),
            (0x21, 1),
            (0x33, 1),
            (0x2b60_3742, 1),
        ] {
            aioquic.push(i, v).unwrap();
        }
        assert_eq!(aioquic.webtransport_sessions(), 1);
        let mut no_dgram = Settings::default();
        no_dgram.push(0x2b60_3742, 1).unwrap();
        assert_eq!(no_dgram.webtransport_sessions(), 0);
    }

    #[test]
    fn unknown_and_grease() {
        assert!(is_grease(0x21) && is_grease(0x40) && !is_grease(0x41) && !is_grease(0x20));
        assert!(frame_type::is_unknown(0x21) && frame_type::is_unknown(0x41));
        assert!(!frame_type::is_unknown(0x02) && !frame_type::is_unknown(0x04));
    }
}
