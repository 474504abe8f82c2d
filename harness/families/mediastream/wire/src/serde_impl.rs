//! JSON shapes of decoded datagrams and errors (`vectors/README.md` is the contract; vectors and
//! `harness decode --json` both use these).

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{
    ConnectionId, ControlKind, Datagram, Error, EscapedId, FrameSizeError, Kind, Options,
    PatternMismatch, PlanError, TlvOption,
};

impl Serialize for super::Kind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Serialize for ConnectionId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.escaped())
    }
}

struct Hex<'a>(&'a [u8]);

impl core::fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for TlvOption<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("type", &self.code())?;
        map.serialize_entry("name", self.name())?;
        match *self {
            TlvOption::FrameRate(v)
            | TlvOption::BufferDepthMs(v)
            | TlvOption::MaxDatagramBytes(v) => map.serialize_entry("value", &v)?,
            TlvOption::BitsPerSecond(v) => map.serialize_entry("value", &v)?,
            TlvOption::CodecHint(v) => {
                map.serialize_entry("value", &format_args!("{}", EscapedId(v)))?
            }
            TlvOption::Unknown { value, .. } => {
                map.serialize_entry("value", &format_args!("{}", Hex(value)))?
            }
        }
        map.end()
    }
}

impl Serialize for super::OwnedOptions {
    /// As the options it holds.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_options().serialize(s)
    }
}

impl Serialize for Options<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for option in self.iter() {
            seq.serialize_element(&option)?;
        }
        seq.end()
    }
}

/// The members of the JSON object a datagram of `kind` serializes to, as scenarios match on them
/// (`None`: a malformed datagram, `{"kind": "malformed", "error": …}`).
pub const fn decoded_fields(kind: Option<Kind>) -> &'static [&'static str] {
    match kind {
        None => &["kind", "error"],
        Some(Kind::Start) => &["kind"],
        Some(Kind::ConnectionId) => &["kind", "connection_id"],
        Some(Kind::Data) => &["kind", "seq", "qpc", "qpf", "payload_len"],
        Some(Kind::DataFrag) => &[
            "kind",
            "seq",
            "qpc",
            "qpf",
            "fragment_offset",
            "total_length",
            "payload_len",
        ],
        Some(Kind::SynAck) => &["kind", "flags", "accept", "connection_id", "options"],
        Some(Kind::Syn | Kind::Ack) => &["kind", "flags", "connection_id", "options"],
    }
}

impl Serialize for Datagram<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("kind", self.kind().name())?;
        match self {
            Datagram::Start => {}
            Datagram::ConnectionId(id) => map.serialize_entry("connection_id", id)?,
            Datagram::Data(d) => {
                map.serialize_entry("seq", &d.seq)?;
                map.serialize_entry("qpc", &d.qpc)?;
                map.serialize_entry("qpf", &d.qpf)?;
                map.serialize_entry("payload_len", &d.payload.len())?;
            }
            Datagram::Fragment(d) => {
                map.serialize_entry("seq", &d.seq)?;
                map.serialize_entry("qpc", &d.qpc)?;
                map.serialize_entry("qpf", &d.qpf)?;
                map.serialize_entry("fragment_offset", &d.fragment_offset)?;
                map.serialize_entry("total_length", &d.total_length)?;
                map.serialize_entry("payload_len", &d.payload.len())?;
            }
            Datagram::Control(c) => {
                map.serialize_entry("flags", &c.flags)?;
                if c.kind == ControlKind::SynAck {
                    map.serialize_entry("accept", &c.accept())?;
                }
                map.serialize_entry("connection_id", &c.connection_id)?;
                map.serialize_entry("options", &c.options)?;
            }
        }
        map.end()
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("error", self.name())?;
        match *self {
            Error::TooShort {
                kind,
                needed,
                actual,
            } => {
                map.serialize_entry("kind", &kind.map(|k| k.name()))?;
                map.serialize_entry("needed", &needed)?;
                map.serialize_entry("actual", &actual)?;
            }
            Error::UnknownFlag { flag } => map.serialize_entry("flag", &flag)?,
            Error::BadVersion { kind, version } => {
                map.serialize_entry("kind", kind.name())?;
                map.serialize_entry("version", &version)?;
            }
            Error::TlvOverrun {
                kind,
                offset,
                needed,
                available,
            } => {
                map.serialize_entry("kind", kind.name())?;
                map.serialize_entry("offset", &offset)?;
                map.serialize_entry("needed", &needed)?;
                map.serialize_entry("available", &available)?;
            }
            Error::TlvBadLength {
                kind,
                tlv_type,
                expected,
                actual,
            } => {
                map.serialize_entry("kind", kind.name())?;
                map.serialize_entry("type", &tlv_type)?;
                map.serialize_entry("expected", &expected)?;
                map.serialize_entry("actual", &actual)?;
            }
        }
        map.end()
    }
}

impl Serialize for FrameSizeError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match *self {
            FrameSizeError::ZeroFrameRate => map.serialize_entry("error", "zero_frame_rate")?,
            FrameSizeError::FrameTooSmall { frame_size, min } => {
                map.serialize_entry("error", "frame_too_small")?;
                map.serialize_entry("frame_size", &frame_size)?;
                map.serialize_entry("min", &min)?;
            }
        }
        map.end()
    }
}

impl Serialize for PlanError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        match *self {
            PlanError::FrameTooSmall { frame_size, min } => {
                map.serialize_entry("error", "frame_too_small")?;
                map.serialize_entry("frame_size", &frame_size)?;
                map.serialize_entry("min", &min)?;
            }
            PlanError::DatagramTooSmall { max_datagram, min } => {
                map.serialize_entry("error", "datagram_too_small")?;
                map.serialize_entry("max_datagram", &max_datagram)?;
                map.serialize_entry("min", &min)?;
            }
        }
        map.end()
    }
}

impl Serialize for PatternMismatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("offset", &self.offset)?;
        map.serialize_entry("expected", &self.expected)?;
        map.serialize_entry("actual", &self.actual)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pattern_slice, ConnectionId, ControlRepr, DataRepr, Datagram, FragmentRepr, Mode};

    /// `decoded_fields` is what serialization writes, kind by kind.
    #[test]
    fn decoded_fields_are_the_serialized_members() {
        let id = ConnectionId::from_uuid_bytes([7; 16]);
        let payload = pattern_slice(0, 10);
        let datagrams = [
            Datagram::Start,
            Datagram::ConnectionId(id),
            Datagram::Data(DataRepr {
                seq: 1,
                qpc: 2,
                qpf: 3,
                payload,
            }),
            Datagram::Fragment(FragmentRepr {
                seq: 1,
                qpc: 2,
                qpf: 3,
                fragment_offset: 0,
                total_length: 10,
                payload,
            }),
            Datagram::Control(ControlRepr::syn(id)),
            Datagram::Control(ControlRepr::syn_ack_accept(id)),
            Datagram::Control(ControlRepr::ack(id)),
        ];
        for d in datagrams {
            let value = serde_json::to_value(d).expect("serializes");
            let mut keys: Vec<&str> = value
                .as_object()
                .expect("an object")
                .keys()
                .map(String::as_str)
                .collect();
            let mut want = decoded_fields(Some(d.kind())).to_vec();
            keys.sort_unstable();
            want.sort_unstable();
            assert_eq!(keys, want, "{}", d.kind());
        }
        let err = Datagram::parse(&[1], Mode::LegacyAccepting).expect_err("malformed");
        assert!(serde_json::to_value(err).is_ok());
    }
}
