//! Building the datagrams of a `send` step, and decoding what the IUT sent into the units
//! `expect` matches.

use handshake_core::Instant;
use handshake_mediastream_endpoint::StreamConfig;
use handshake_mediastream_wire::{
    pattern_slice, ConnectionId, ControlKind, DataRepr, Datagram, Error, FragmentRepr, Mode,
    OwnedOptions,
};
use handshake_scenario::script::{hex_bytes, Vars};
use serde::Serialize;

use crate::format::{ControlSpec, DatagramSpec};

/// Builds datagrams with the script's variables.
pub struct Builder<'a> {
    /// The script's variables (`$assigned_id`, `$fresh` …).
    pub vars: &'a mut Vars,
}

impl Builder<'_> {
    fn id(&mut self, text: &str) -> Result<ConnectionId, String> {
        if text == "$fresh" {
            let n = self.vars.fresh();
            return Ok(ConnectionId::from_uuid_bytes([0xf0 ^ n; 16]));
        }
        let resolved = self.vars.resolve(text)?;
        ConnectionId::from_escaped(&resolved).map_err(|e| format!("id `{text}`: {e}"))
    }

    /// The datagrams a send step stands for.
    pub fn build(
        &mut self,
        spec: &DatagramSpec,
        config: &StreamConfig,
        now: Instant,
    ) -> Result<Vec<Vec<u8>>, String> {
        let qpc_now = now.as_nanos() / 100;
        Ok(match spec {
            DatagramSpec::Start {} => vec![Datagram::Start.to_vec()],
            DatagramSpec::Syn(c) => vec![self.control(c, 0x0100, false)?],
            DatagramSpec::SynAck(c) => vec![self.control(c, 0x0101, true)?],
            DatagramSpec::Ack(c) => vec![self.control(c, 0x0102, true)?],
            DatagramSpec::ConnectionId { id } => {
                vec![Datagram::ConnectionId(self.id(id)?).to_vec()]
            }
            DatagramSpec::Data {
                seq,
                qpc,
                payload_len,
                payload_hex,
            } => {
                let payload = match payload_hex {
                    Some(hex) => hex_bytes(hex)?,
                    None => {
                        let len = payload_len.unwrap_or_else(|| {
                            config
                                .frame_size()
                                .map_or(0, |f| f as usize)
                                .saturating_sub(26)
                        });
                        pattern_slice(0, len).to_vec()
                    }
                };
                let repr = DataRepr {
                    seq: *seq,
                    qpc: qpc.unwrap_or(qpc_now),
                    qpf: 10_000_000,
                    payload: &payload,
                };
                vec![Datagram::Data(repr).to_vec()]
            }
            DatagramSpec::DataFrag {
                seq,
                offset,
                total_length,
                payload_len,
            } => {
                let repr = FragmentRepr {
                    seq: *seq,
                    qpc: qpc_now,
                    qpf: 10_000_000,
                    fragment_offset: *offset,
                    total_length: *total_length,
                    payload: pattern_slice(0, *payload_len),
                };
                vec![Datagram::Fragment(repr).to_vec()]
            }
            DatagramSpec::Frames { from, to } => {
                let plan = config.plan().map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                let mut qpc = qpc_now;
                for seq in *from..=*to {
                    for d in plan.iter() {
                        qpc += 1;
                        let payload = pattern_slice(0, (d.len as usize).saturating_sub(26));
                        out.push(
                            Datagram::Data(DataRepr {
                                seq,
                                qpc,
                                qpf: 10_000_000,
                                payload,
                            })
                            .to_vec(),
                        );
                    }
                }
                out
            }
            DatagramSpec::Raw { hex } => vec![hex_bytes(hex)?],
        })
    }

    fn control(
        &mut self,
        c: &ControlSpec,
        flag: u16,
        default_assigned: bool,
    ) -> Result<Vec<u8>, String> {
        let id = match (&c.id, default_assigned) {
            (Some(text), _) => self.id(text)?,
            (None, true) => self.id("$assigned_id")?,
            (None, false) => ConnectionId::ZERO,
        };
        let mut bytes = vec![0u8; 67];
        bytes[..2].copy_from_slice(&flag.to_le_bytes());
        bytes[26] = c.version.unwrap_or(1);
        bytes[27] = c
            .flags
            .unwrap_or(u8::from(flag == 0x0101 && c.accept.unwrap_or(true)));
        bytes[30..67].copy_from_slice(id.as_bytes());
        if let Some(hex) = &c.options_hex {
            bytes.extend(hex_bytes(hex)?);
        }
        Ok(bytes)
    }
}

/// What a datagram the IUT sent stands for: a unit `expect` matches. Its JSON form (serde's) is
/// the wire's serialization of the decoded datagram (`vectors/README.md`), or
/// `{"kind": "malformed", "error": …}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MediaUnit {
    /// Legacy `START`.
    Start,
    /// CONNECTION_ID.
    ConnectionId {
        /// The id.
        connection_id: ConnectionId,
    },
    /// DATA.
    Data {
        /// Sequence number.
        seq: u64,
        /// QPC.
        qpc: u64,
        /// QPF.
        qpf: u64,
        /// Payload bytes.
        payload_len: usize,
    },
    /// DATA+FRAG.
    DataFrag {
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
        /// Payload bytes.
        payload_len: usize,
    },
    /// SYN.
    Syn {
        /// The Flags byte.
        flags: u8,
        /// The desired id.
        connection_id: ConnectionId,
        /// TLV options.
        options: OwnedOptions,
    },
    /// SYN-ACK.
    SynAck {
        /// The Flags byte.
        flags: u8,
        /// Its Accept bit.
        accept: bool,
        /// The assigned id (a reason on reject).
        connection_id: ConnectionId,
        /// TLV options.
        options: OwnedOptions,
    },
    /// ACK.
    Ack {
        /// The Flags byte.
        flags: u8,
        /// The confirmed id.
        connection_id: ConnectionId,
        /// TLV options.
        options: OwnedOptions,
    },
    /// A datagram that does not parse.
    Malformed {
        /// Why.
        error: Error,
    },
}

impl MediaUnit {
    /// The unit a datagram stands for (parsed as a legacy-accepting receiver does, so that every
    /// kind is told).
    pub fn of_datagram(payload: &[u8]) -> MediaUnit {
        match Datagram::parse(payload, Mode::LegacyAccepting) {
            Ok(Datagram::Start) => MediaUnit::Start,
            Ok(Datagram::ConnectionId(connection_id)) => MediaUnit::ConnectionId { connection_id },
            Ok(Datagram::Data(d)) => MediaUnit::Data {
                seq: d.seq,
                qpc: d.qpc,
                qpf: d.qpf,
                payload_len: d.payload.len(),
            },
            Ok(Datagram::Fragment(f)) => MediaUnit::DataFrag {
                seq: f.seq,
                qpc: f.qpc,
                qpf: f.qpf,
                fragment_offset: f.fragment_offset,
                total_length: f.total_length,
                payload_len: f.payload.len(),
            },
            Ok(Datagram::Control(c)) => {
                let (flags, connection_id) = (c.flags, c.connection_id);
                let accept = c.accept();
                let options = OwnedOptions::from(c.options);
                match c.kind {
                    ControlKind::Syn => MediaUnit::Syn {
                        flags,
                        connection_id,
                        options,
                    },
                    ControlKind::SynAck => MediaUnit::SynAck {
                        flags,
                        accept,
                        connection_id,
                        options,
                    },
                    ControlKind::Ack => MediaUnit::Ack {
                        flags,
                        connection_id,
                        options,
                    },
                }
            }
            Err(error) => MediaUnit::Malformed { error },
        }
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use crate::MediaStream;

    /// Every unit kind the vocabulary lists is a variant of [`MediaUnit`], with its fields.
    #[test]
    fn unit_kinds_are_the_enums() {
        let connection_id = ConnectionId::from_uuid_bytes([7; 16]);
        let options = OwnedOptions::default();
        let samples = [
            MediaUnit::Start,
            MediaUnit::ConnectionId { connection_id },
            MediaUnit::Data {
                seq: 1,
                qpc: 2,
                qpf: 3,
                payload_len: 4,
            },
            MediaUnit::DataFrag {
                seq: 1,
                qpc: 2,
                qpf: 3,
                fragment_offset: 0,
                total_length: 4,
                payload_len: 4,
            },
            MediaUnit::Syn {
                flags: 0,
                connection_id,
                options: options.clone(),
            },
            MediaUnit::SynAck {
                flags: 1,
                accept: true,
                connection_id,
                options: options.clone(),
            },
            MediaUnit::Ack {
                flags: 0,
                connection_id,
                options,
            },
            MediaUnit::Malformed {
                error: Error::UnknownFlag { flag: 0x7777 },
            },
        ];
        let problems = handshake_scenario::testing::unit_kind_mismatches::<MediaStream>(&samples);
        assert!(problems.is_empty(), "{problems:#?}");
    }

    /// A unit's JSON is the wire's serialization of the datagram it decodes.
    #[test]
    fn a_units_json_is_the_wires() {
        let id = ConnectionId::from_uuid_bytes([7; 16]);
        let datagrams = [
            Datagram::Start,
            Datagram::ConnectionId(id),
            Datagram::Data(DataRepr {
                seq: 1,
                qpc: 2,
                qpf: 3,
                payload: pattern_slice(0, 10),
            }),
            Datagram::Control(handshake_mediastream_wire::ControlRepr::syn(id)),
            Datagram::Control(handshake_mediastream_wire::ControlRepr::syn_ack_accept(id)),
            Datagram::Control(handshake_mediastream_wire::ControlRepr::ack(id)),
        ];
        for d in datagrams {
            let wire = serde_json::to_value(d).unwrap_or_default();
            let unit = handshake_scenario::unit_json(&MediaUnit::of_datagram(&d.to_vec()));
            assert_eq!(unit, wire);
        }
    }
}
