//! JSON shapes of decoded datagrams and errors (`vectors/README.md` is the contract; vectors and
//! `harness decode --json` both use these).

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::{
    ConnectionId, ControlKind, Datagram, Error, EscapedId, FrameSizeError, Options,
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

impl Serialize for Options<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for option in self.iter() {
            seq.serialize_element(&option)?;
        }
        seq.end()
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
