//! The owned representation: for building datagrams (scripted peers, scenarios) and for fuzzing.

use super::connection_id::ConnectionId;
use super::error::{EmitError, TlvError};
use super::options::{emit_options, options_len, Options, TlvOption};
use super::repr::{ControlKind, ControlRepr, DataRepr, Datagram, FragmentRepr};

/// A media-stream datagram that owns its payload and options.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum OwnedDatagram {
    /// Legacy `START`.
    Start,
    /// CONNECTION_ID.
    ConnectionId(ConnectionId),
    /// DATA.
    Data {
        /// Sequence number.
        seq: u64,
        /// QPC.
        qpc: u64,
        /// QPF.
        qpf: u64,
        /// Payload.
        payload: Vec<u8>,
    },
    /// DATA+FRAG.
    Fragment {
        /// Sequence number.
        seq: u64,
        /// QPC.
        qpc: u64,
        /// QPF.
        qpf: u64,
        /// FragmentOffset.
        fragment_offset: u64,
        /// TotalLength.
        total_length: u64,
        /// Payload.
        payload: Vec<u8>,
    },
    /// SYN, SYN-ACK or ACK.
    Control {
        /// Which control frame.
        kind: ControlKind,
        /// Flags byte.
        flags: u8,
        /// The connection id.
        connection_id: ConnectionId,
        /// TLV options.
        options: OwnedOptions,
    },
}

impl OwnedDatagram {
    /// The borrowed representation (to emit, compare or print).
    pub fn as_datagram(&self) -> Datagram<'_> {
        match self {
            OwnedDatagram::Start => Datagram::Start,
            OwnedDatagram::ConnectionId(id) => Datagram::ConnectionId(*id),
            OwnedDatagram::Data {
                seq,
                qpc,
                qpf,
                payload,
            } => Datagram::Data(DataRepr {
                seq: *seq,
                qpc: *qpc,
                qpf: *qpf,
                payload,
            }),
            OwnedDatagram::Fragment {
                seq,
                qpc,
                qpf,
                fragment_offset,
                total_length,
                payload,
            } => Datagram::Fragment(FragmentRepr {
                seq: *seq,
                qpc: *qpc,
                qpf: *qpf,
                fragment_offset: *fragment_offset,
                total_length: *total_length,
                payload,
            }),
            OwnedDatagram::Control {
                kind,
                flags,
                connection_id,
                options,
            } => Datagram::Control(ControlRepr {
                kind: *kind,
                flags: *flags,
                connection_id: *connection_id,
                options: options.as_options(),
            }),
        }
    }

    /// The encoded datagram.
    pub fn to_vec(&self) -> Vec<u8> {
        self.as_datagram().to_vec()
    }
}

impl From<Datagram<'_>> for OwnedDatagram {
    fn from(d: Datagram<'_>) -> Self {
        match d {
            Datagram::Start => OwnedDatagram::Start,
            Datagram::ConnectionId(id) => OwnedDatagram::ConnectionId(id),
            Datagram::Data(d) => OwnedDatagram::Data {
                seq: d.seq,
                qpc: d.qpc,
                qpf: d.qpf,
                payload: d.payload.to_vec(),
            },
            Datagram::Fragment(f) => OwnedDatagram::Fragment {
                seq: f.seq,
                qpc: f.qpc,
                qpf: f.qpf,
                fragment_offset: f.fragment_offset,
                total_length: f.total_length,
                payload: f.payload.to_vec(),
            },
            Datagram::Control(c) => OwnedDatagram::Control {
                kind: c.kind,
                flags: c.flags,
                connection_id: c.connection_id,
                options: OwnedOptions(c.options.as_bytes().to_vec()),
            },
        }
    }
}

/// An owned, validated TLV option list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct OwnedOptions(Vec<u8>);

impl From<Options<'_>> for OwnedOptions {
    /// A parsed list is already validated.
    fn from(options: Options<'_>) -> OwnedOptions {
        OwnedOptions(options.as_bytes().to_vec())
    }
}

impl OwnedOptions {
    /// Encodes `options` in order.
    pub fn from_options(options: &[TlvOption<'_>]) -> Result<OwnedOptions, EmitError> {
        let mut bytes = vec![0; options_len(options)];
        emit_options(options, &mut bytes)?;
        // A list we encoded can still be invalid if it holds an `Unknown` with a known type code.
        Options::parse(&bytes).map_err(EmitError::InvalidOptions)?;
        Ok(OwnedOptions(bytes))
    }

    /// Validates encoded bytes.
    pub fn parse(bytes: &[u8]) -> Result<OwnedOptions, TlvError> {
        Options::parse(bytes)?;
        Ok(OwnedOptions(bytes.to_vec()))
    }

    /// The borrowed form.
    pub fn as_options(&self) -> Options<'_> {
        // Validated on construction; parse cannot fail and falls back to no options if it did.
        Options::parse(&self.0).unwrap_or_default()
    }
}

#[cfg(feature = "arbitrary")]
mod arbitrary_impl {
    use super::*;
    use arbitrary::{Arbitrary, Result, Unstructured};

    impl<'a> Arbitrary<'a> for ConnectionId {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(ConnectionId(u.arbitrary()?))
        }
    }

    impl<'a> Arbitrary<'a> for ControlKind {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(*u.choose(&[ControlKind::Syn, ControlKind::SynAck, ControlKind::Ack])?)
        }
    }

    impl<'a> Arbitrary<'a> for OwnedOptions {
        /// Only valid lists: known types get their exact width, unknown types any value.
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            let mut bytes = Vec::new();
            for _ in 0..u.int_in_range(0..=6)? {
                let code: u8 = u.arbitrary()?;
                let value: Vec<u8> = match code {
                    1 | 3 | 5 => u.bytes(4)?.to_vec(),
                    2 => u.bytes(8)?.to_vec(),
                    _ => {
                        let len = u.int_in_range(0..=64)?;
                        u.bytes(len)?.to_vec()
                    }
                };
                let len = u16::try_from(value.len()).unwrap_or(0);
                bytes.push(code);
                bytes.extend_from_slice(&len.to_le_bytes());
                bytes.extend_from_slice(&value);
            }
            OwnedOptions::parse(&bytes).map_err(|_| arbitrary::Error::IncorrectFormat)
        }
    }

    impl<'a> Arbitrary<'a> for OwnedDatagram {
        fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
            Ok(match u.int_in_range(0..=4u8)? {
                0 => OwnedDatagram::Start,
                1 => OwnedDatagram::ConnectionId(u.arbitrary()?),
                2 => OwnedDatagram::Data {
                    seq: u.arbitrary()?,
                    qpc: u.arbitrary()?,
                    qpf: u.arbitrary()?,
                    payload: u.arbitrary()?,
                },
                3 => OwnedDatagram::Fragment {
                    seq: u.arbitrary()?,
                    qpc: u.arbitrary()?,
                    qpf: u.arbitrary()?,
                    fragment_offset: u.arbitrary()?,
                    total_length: u.arbitrary()?,
                    payload: u.arbitrary()?,
                },
                _ => OwnedDatagram::Control {
                    kind: u.arbitrary()?,
                    flags: u.arbitrary()?,
                    connection_id: u.arbitrary()?,
                    options: u.arbitrary()?,
                },
            })
        }
    }
}
