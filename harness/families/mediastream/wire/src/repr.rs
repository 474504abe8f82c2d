//! Representations: decoded datagrams that borrow their payloads, with `parse` and `emit`.

use super::connection_id::ConnectionId;
use super::error::{EmitError, Error};
use super::field;
use super::options::Options;
use super::packet::{ConnectionIdPacket, ControlPacket, FragmentPacket, Packet};
use super::{classify, Kind, Mode, START, VERSION};

/// DATA: one datagram of a frame (all datagrams of a frame share `seq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DataRepr<'a> {
    /// Frame sequence number, from 1.
    pub seq: u64,
    /// Sender's performance counter at send time.
    pub qpc: u64,
    /// Counter frequency.
    pub qpf: u64,
    /// Payload (the fill pattern prefix under verify:data).
    pub payload: &'a [u8],
}

/// DATA+FRAG: the spec's fragmentation extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragmentRepr<'a> {
    /// Frame sequence number.
    pub seq: u64,
    /// Sender's performance counter.
    pub qpc: u64,
    /// Counter frequency.
    pub qpf: u64,
    /// Offset of this fragment within the frame.
    pub fragment_offset: u64,
    /// The frame's total length.
    pub total_length: u64,
    /// Payload.
    pub payload: &'a [u8],
}

/// Which control frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControlKind {
    /// SYN: the initiator asks for a stream (D1).
    Syn,
    /// SYN-ACK: the responder accepts (Flags bit 0) or rejects (D3, D4).
    SynAck,
    /// ACK: the initiator confirms the assigned id (D5).
    Ack,
}

impl ControlKind {
    /// The general kind.
    pub const fn kind(self) -> Kind {
        match self {
            ControlKind::Syn => Kind::Syn,
            ControlKind::SynAck => Kind::SynAck,
            ControlKind::Ack => Kind::Ack,
        }
    }

    /// The control kind of a general kind, if it is one.
    pub const fn from_kind(kind: Kind) -> Option<ControlKind> {
        match kind {
            Kind::Syn => Some(ControlKind::Syn),
            Kind::SynAck => Some(ControlKind::SynAck),
            Kind::Ack => Some(ControlKind::Ack),
            _ => None,
        }
    }

    /// The wire flag.
    pub const fn flag(self) -> u16 {
        match self {
            ControlKind::Syn => super::flag::SYN,
            ControlKind::SynAck => super::flag::SYN_ACK,
            ControlKind::Ack => super::flag::ACK,
        }
    }
}

/// SYN, SYN-ACK or ACK. The header's seq/QPC/QPF and Reserved are written as zero and ignored on receipt
/// (the checker judges them through [`ControlPacket`]); Version is always 1 (others fail to parse).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ControlRepr<'a> {
    /// Which control frame.
    pub kind: ControlKind,
    /// The Flags byte (SYN-ACK bit 0 = Accept; zero otherwise).
    pub flags: u8,
    /// Desired (SYN), Assigned (SYN-ACK; a reason on reject) or Confirmed (ACK) id.
    pub connection_id: ConnectionId,
    /// TLV options (D14).
    pub options: Options<'a>,
}

impl ControlRepr<'static> {
    /// A SYN asking for `desired` (all zero: "assign one", D1).
    pub const fn syn(desired: ConnectionId) -> Self {
        ControlRepr {
            kind: ControlKind::Syn,
            flags: 0,
            connection_id: desired,
            options: Options::EMPTY,
        }
    }

    /// A SYN-ACK accepting with `assigned` (D3).
    pub const fn syn_ack_accept(assigned: ConnectionId) -> Self {
        ControlRepr {
            kind: ControlKind::SynAck,
            flags: 1,
            connection_id: assigned,
            options: Options::EMPTY,
        }
    }

    /// A SYN-ACK rejecting, with an ASCII reason in the id field (D4).
    pub fn syn_ack_reject(reason: &str) -> Self {
        ControlRepr {
            kind: ControlKind::SynAck,
            flags: 0,
            connection_id: ConnectionId::from_text_truncated(reason),
            options: Options::EMPTY,
        }
    }

    /// An ACK confirming `confirmed` (D5).
    pub const fn ack(confirmed: ConnectionId) -> Self {
        ControlRepr {
            kind: ControlKind::Ack,
            flags: 0,
            connection_id: confirmed,
            options: Options::EMPTY,
        }
    }
}

impl<'a> ControlRepr<'a> {
    /// The same frame with `options`.
    pub fn with_options<'b>(self, options: Options<'b>) -> ControlRepr<'b> {
        ControlRepr {
            kind: self.kind,
            flags: self.flags,
            connection_id: self.connection_id,
            options,
        }
    }

    /// SYN-ACK Accept (Flags bit 0).
    pub const fn accept(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// A decoded media-stream datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Datagram<'a> {
    /// Legacy `START`.
    Start,
    /// CONNECTION_ID (trailing bytes past 39 are not represented).
    ConnectionId(ConnectionId),
    /// DATA.
    Data(DataRepr<'a>),
    /// DATA+FRAG.
    Fragment(FragmentRepr<'a>),
    /// SYN, SYN-ACK or ACK.
    Control(ControlRepr<'a>),
}

impl<'a> Datagram<'a> {
    /// Parses `bytes` in the receive check order (see [`classify`]), then a control frame's version and
    /// TLV options. Borrows payloads; allocates nothing; never panics.
    pub fn parse(bytes: &'a [u8], mode: Mode) -> Result<Datagram<'a>, Error> {
        Ok(match classify(bytes, mode)? {
            Kind::Start => Datagram::Start,
            Kind::ConnectionId => {
                Datagram::ConnectionId(ConnectionIdPacket::new_unchecked(bytes).connection_id())
            }
            Kind::Data => {
                let view = Packet::new_unchecked(bytes);
                Datagram::Data(DataRepr {
                    seq: view.seq(),
                    qpc: view.qpc(),
                    qpf: view.qpf(),
                    payload: view.into_payload(),
                })
            }
            Kind::DataFrag => {
                let view = FragmentPacket::new_unchecked(bytes);
                Datagram::Fragment(FragmentRepr {
                    seq: view.seq(),
                    qpc: view.qpc(),
                    qpf: view.qpf(),
                    fragment_offset: view.fragment_offset(),
                    total_length: view.total_length(),
                    payload: view.into_payload(),
                })
            }
            kind @ (Kind::Syn | Kind::SynAck | Kind::Ack) => {
                let view = ControlPacket::new_unchecked(bytes);
                let version = view.version();
                if version != VERSION {
                    return Err(Error::BadVersion { kind, version });
                }
                let (flags, connection_id) = (view.control_flags(), view.connection_id());
                let options = Options::parse(view.into_options_bytes())
                    .map_err(|e| Error::from_tlv(kind, field::CONTROL_LEN, e))?;
                Datagram::Control(ControlRepr {
                    kind: ControlKind::from_kind(kind).unwrap_or(ControlKind::Syn),
                    flags,
                    connection_id,
                    options,
                })
            }
        })
    }

    /// The datagram's kind.
    pub const fn kind(&self) -> Kind {
        match self {
            Datagram::Start => Kind::Start,
            Datagram::ConnectionId(_) => Kind::ConnectionId,
            Datagram::Data(_) => Kind::Data,
            Datagram::Fragment(_) => Kind::DataFrag,
            Datagram::Control(c) => c.kind.kind(),
        }
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        match self {
            Datagram::Start => START.len(),
            Datagram::ConnectionId(_) => field::CONNECTION_ID_DATAGRAM_LEN,
            Datagram::Data(d) => field::HEADER_LEN + d.payload.len(),
            Datagram::Fragment(f) => field::FRAGMENT_HEADER_LEN + f.payload.len(),
            Datagram::Control(c) => field::CONTROL_LEN + c.options.as_bytes().len(),
        }
    }

    /// Writes the datagram into the front of `buf` (every byte of the datagram is written, so stale
    /// buffer contents never leak) and returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let len = self.buffer_len();
        let available = buf.len();
        let out = buf.get_mut(..len).ok_or(EmitError::BufferTooSmall {
            needed: len,
            available,
        })?;
        match self {
            Datagram::Start => out.copy_from_slice(START),
            Datagram::ConnectionId(id) => {
                let mut view = ConnectionIdPacket::new_unchecked(out);
                view.set_flag(super::flag::CONNECTION_ID);
                view.set_connection_id(id);
            }
            Datagram::Data(d) => {
                let mut view = Packet::new_unchecked(out);
                view.set_flag(super::flag::DATA);
                view.set_seq(d.seq);
                view.set_qpc(d.qpc);
                view.set_qpf(d.qpf);
                view.payload_mut().copy_from_slice(d.payload);
            }
            Datagram::Fragment(f) => {
                let mut view = FragmentPacket::new_unchecked(out);
                view.set_flag(super::flag::DATA_FRAG);
                view.set_seq(f.seq);
                view.set_qpc(f.qpc);
                view.set_qpf(f.qpf);
                view.set_fragment_offset(f.fragment_offset);
                view.set_total_length(f.total_length);
                view.payload_mut().copy_from_slice(f.payload);
            }
            Datagram::Control(c) => {
                let mut view = ControlPacket::new_unchecked(out);
                view.set_flag(c.kind.flag());
                view.set_seq(0);
                view.set_qpc(0);
                view.set_qpf(0);
                view.set_version(VERSION);
                view.set_control_flags(c.flags);
                view.set_reserved(0);
                view.set_connection_id(&c.connection_id);
                view.options_mut().copy_from_slice(c.options.as_bytes());
            }
        }
        Ok(len)
    }

    /// The datagram as a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0; self.buffer_len()];
        // The buffer has exactly `buffer_len` bytes, so emission cannot fail.
        let _ = self.emit(&mut buf);
        buf
    }

    /// The media payload of DATA and DATA+FRAG.
    pub const fn payload(&self) -> Option<&'a [u8]> {
        match self {
            Datagram::Data(d) => Some(d.payload),
            Datagram::Fragment(f) => Some(f.payload),
            _ => None,
        }
    }

    /// The sequence number of DATA and DATA+FRAG.
    pub const fn seq(&self) -> Option<u64> {
        match self {
            Datagram::Data(d) => Some(d.seq),
            Datagram::Fragment(f) => Some(f.seq),
            _ => None,
        }
    }

    /// The connection id carried by CONNECTION_ID and the control frames.
    pub const fn connection_id(&self) -> Option<ConnectionId> {
        match self {
            Datagram::ConnectionId(id) => Some(*id),
            Datagram::Control(c) => Some(c.connection_id),
            _ => None,
        }
    }
}

impl core::fmt::Display for Datagram<'_> {
    /// One line: the kind and its key fields, e.g. `DATA seq=1 qpc=5 qpf=10000000 payload=1374`.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Datagram::Start => f.write_str("START"),
            Datagram::ConnectionId(id) => write!(f, "CONNECTION_ID id=\"{}\"", id.escaped()),
            Datagram::Data(d) => write!(
                f,
                "DATA seq={} qpc={} qpf={} payload={}",
                d.seq,
                d.qpc,
                d.qpf,
                d.payload.len()
            ),
            Datagram::Fragment(d) => write!(
                f,
                "DATA+FRAG seq={} qpc={} qpf={} offset={} total={} payload={}",
                d.seq,
                d.qpc,
                d.qpf,
                d.fragment_offset,
                d.total_length,
                d.payload.len()
            ),
            Datagram::Control(c) => {
                write!(f, "{}", c.kind.kind())?;
                if c.kind == ControlKind::SynAck {
                    write!(f, " accept={}", c.accept())?;
                }
                if c.flags & !u8::from(c.kind == ControlKind::SynAck) != 0 {
                    write!(f, " flags=0x{:02x}", c.flags)?;
                }
                write!(f, " id=\"{}\"", c.connection_id.escaped())?;
                for option in c.options.iter() {
                    write!(f, " {}=", option.name())?;
                    match option {
                        super::TlvOption::FrameRate(v)
                        | super::TlvOption::BufferDepthMs(v)
                        | super::TlvOption::MaxDatagramBytes(v) => write!(f, "{v}")?,
                        super::TlvOption::BitsPerSecond(v) => write!(f, "{v}")?,
                        super::TlvOption::CodecHint(v) => write!(f, "\"{}\"", super::EscapedId(v))?,
                        super::TlvOption::Unknown { tlv_type, value } => {
                            write!(f, "{tlv_type}:{}B", value.len())?
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pattern_slice, TlvOption};
    use rstest::rstest;

    fn legacy(bytes: &[u8]) -> Result<Datagram<'_>, Error> {
        Datagram::parse(bytes, Mode::LegacyAccepting)
    }

    #[test]
    fn legacy_data_datagram_from_known_bytes() {
        let mut bytes = vec![0x00, 0x00];
        bytes.extend_from_slice(&7u64.to_le_bytes());
        bytes.extend_from_slice(&0x1122u64.to_le_bytes());
        bytes.extend_from_slice(&10_000_000u64.to_le_bytes());
        bytes.extend_from_slice(&[0, 0, 1, 0]);
        assert_eq!(
            legacy(&bytes),
            Ok(Datagram::Data(DataRepr {
                seq: 7,
                qpc: 0x1122,
                qpf: 10_000_000,
                payload: pattern_slice(0, 4),
            }))
        );
    }

    #[rstest]
    #[case::syn(ControlRepr::syn(ConnectionId::ZERO), 0x0100, 0)]
    #[case::syn_ack(ControlRepr::syn_ack_accept(ConnectionId::from_text("x").expect("short")), 0x0101, 1)]
    #[case::reject(ControlRepr::syn_ack_reject("version"), 0x0101, 0)]
    #[case::ack(ControlRepr::ack(ConnectionId::from_text("x").expect("short")), 0x0102, 0)]
    fn control_frames_are_67_bytes_with_zero_header(
        #[case] repr: ControlRepr<'static>,
        #[case] flag: u16,
        #[case] flags: u8,
    ) {
        let bytes = Datagram::Control(repr).to_vec();
        assert_eq!(bytes.len(), 67);
        assert_eq!(&bytes[..2], &flag.to_le_bytes());
        assert!(bytes[2..26].iter().all(|&b| b == 0), "seq/qpc/qpf zero");
        assert_eq!(
            (bytes[26], bytes[27], &bytes[28..30]),
            (1, flags, &[0u8, 0][..])
        );
        assert_eq!(&bytes[30..67], repr.connection_id.as_bytes());
        assert_eq!(legacy(&bytes), Ok(Datagram::Control(repr)));
    }

    #[test]
    fn emit_writes_every_byte_of_a_dirty_buffer() {
        let opts = [TlvOption::FrameRate(50), TlvOption::CodecHint(b"opus")];
        let mut raw = [0u8; 14];
        let n = crate::emit_options(&opts, &mut raw).expect("fits");
        let options = Options::parse(&raw[..n]).expect("valid");
        let repr = Datagram::Control(ControlRepr::syn(ConnectionId::ZERO).with_options(options));
        let mut dirty = [0xA5u8; 100];
        let len = repr.emit(&mut dirty).expect("fits");
        assert_eq!(len, 67 + 14);
        assert_eq!(&dirty[..len], &repr.to_vec()[..]);
        assert!(
            dirty[len..].iter().all(|&b| b == 0xA5),
            "nothing past the datagram"
        );
        assert_eq!(legacy(&dirty[..len]), Ok(repr));
    }

    #[test]
    fn emit_into_a_short_buffer_is_an_error() {
        let mut buf = [0u8; 38];
        assert_eq!(
            Datagram::ConnectionId(ConnectionId::ZERO).emit(&mut buf),
            Err(EmitError::BufferTooSmall {
                needed: 39,
                available: 38
            })
        );
    }

    #[test]
    fn start_is_mode_dependent_and_exact() {
        assert_eq!(legacy(b"START"), Ok(Datagram::Start));
        assert_eq!(
            Datagram::parse(b"START", Mode::ThreeWayOnly),
            Err(Error::UnknownFlag { flag: 0x5453 })
        );
        assert_eq!(legacy(b"START\0"), Err(Error::UnknownFlag { flag: 0x5453 }));
        assert_eq!(legacy(b"start"), Err(Error::UnknownFlag { flag: 0x7473 }));
        assert_eq!(Datagram::Start.to_vec(), b"START");
    }

    #[test]
    fn bad_version_and_bad_options_are_located() {
        let mut syn = Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec();
        syn[26] = 2;
        assert_eq!(
            legacy(&syn),
            Err(Error::BadVersion {
                kind: Kind::Syn,
                version: 2
            })
        );
        syn[26] = 1;
        syn.extend_from_slice(&[9, 10, 0, 1]);
        assert_eq!(
            legacy(&syn),
            Err(Error::TlvOverrun {
                kind: Kind::Syn,
                offset: 67,
                needed: 13,
                available: 4
            })
        );
    }
}
