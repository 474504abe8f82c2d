//! Building the datagrams of a `send` step, and decoding what the IUT sent into the units
//! `expect` matches.

use handshake_core::Instant;
use handshake_mediastream_endpoint::StreamConfig;
use handshake_mediastream_wire::{
    pattern_slice, ConnectionId, DataRepr, Datagram, FragmentRepr, Mode,
};
use handshake_scenario::script::{hex_bytes, Vars};
use serde_json::Value;

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

/// Decodes a datagram into the JSON object `expect` matches against.
pub fn decoded(payload: &[u8]) -> Value {
    match Datagram::parse(payload, Mode::LegacyAccepting) {
        Ok(d) => serde_json::to_value(d).unwrap_or(Value::Null),
        Err(e) => {
            serde_json::json!({"kind": "malformed", "error": serde_json::to_value(e).unwrap_or(Value::Null)})
        }
    }
}
