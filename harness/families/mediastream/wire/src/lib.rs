//! The ctsTraffic UDP media-stream protocol: legacy `START` discovery and the 3-way `SYN`/`SYN-ACK`/`ACK`
//! handshake (facts: `shared/protocols/mediastream.md`; decisions D1…D14 cited where they apply).
//!
//! Datagram kinds and their minimum lengths (all integers little-endian):
//!
//! | kind | flag | bytes |
//! |---|---|---|
//! | START | – | exactly `START` (5) |
//! | CONNECTION_ID | 0x1000 | ≥ 39: flag + 37-byte id (trailing bytes ignored) |
//! | DATA | 0x0000 | ≥ 26: flag, seq @2, QPC @10, QPF @18, payload @26 |
//! | DATA+FRAG | 0x0001 | ≥ 42: header, FragmentOffset @26, TotalLength @34, payload @42 |
//! | SYN / SYN-ACK / ACK | 0x0100 / 0x0101 / 0x0102 | ≥ 67: header, Version @26, Flags @27, Reserved @28, id @30, TLV options @67 (D14) |
//!
//! [`classify`] and [`Datagram::parse`] follow the receive check order of the 3-way spec §8, in one of two
//! [`Mode`]s: a legacy-accepting endpoint first tests for the exact 5-byte `START`; a 3-way-only endpoint
//! reads those bytes as the unknown flag 0x5453.
//!
//! Layer 1 (wire) of the media-stream family: no I/O, no clocks, no allocation on any parse path, and
//! no dependency on the rest of the harness, so it is fuzzed alone. It follows smoltcp's `wire`:
//!
//! * **views** (`…Packet<T: AsRef<[u8]>>`) are zero-copy windows over a buffer. `new_checked` verifies the
//!   length once; after that no accessor can panic. Accessors never panic on an unchecked buffer either:
//!   a field that lies outside the buffer reads as zero (documented, never relied upon).
//! * **representations** (`Datagram<'a>`) are the decoded values. They borrow payloads from the buffer,
//!   so parsing allocates nothing; `OwnedDatagram` is the owned form for building and scripting.
//! * `parse` reads a representation from bytes; `emit` writes one into a caller's buffer (or a `Vec`).
//!   For every representation `r`, `parse(emit(r)) == r`, and for every byte string `b` that parses,
//!   `parse(emit(parse(b))) == parse(b)`. Both laws are property-tested and fuzzed.
//! * errors are small `Copy` values that name the datagram kind and the needed and actual lengths.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod connection_id;
mod error;
pub mod field;
mod frame;
mod options;
mod owned;
mod packet;
mod pattern;
mod repr;

#[cfg(feature = "formats")]
pub mod formats;
#[cfg(feature = "arbitrary")]
pub mod fuzzing;
#[cfg(feature = "serde")]
mod serde_impl;
#[cfg(feature = "serde")]
pub use serde_impl::decoded_fields;

pub use connection_id::{ConnectionId, EscapeError, EscapedId, CONNECTION_ID_LEN};
pub use error::{EmitError, Error, TlvError};
pub use frame::{
    frame_size, FragmentPlan, FrameSizeError, PlanError, PlannedDatagram, PlannedDatagrams,
    MIN_FRAME_SIZE, MIN_MAX_DATAGRAM, MIN_PLANNED_FRAME, TAIL_LEN,
};
pub use options::{emit_options, options_len, OptionIter, Options, TlvOption, TlvType};
pub use owned::{OwnedDatagram, OwnedOptions};
pub use packet::{ConnectionIdPacket, ControlPacket, FragmentPacket, Packet};
pub use pattern::{
    fill_pattern, pattern_byte, pattern_slice, verify_pattern, PatternMismatch, PATTERN_PERIOD,
};
pub use repr::{ControlKind, ControlRepr, DataRepr, Datagram, FragmentRepr};

/// The legacy discovery datagram: exactly these 5 bytes, no NUL, case-sensitive.
pub const START: &[u8; 5] = b"START";

/// Flag values (bytes 0..2, little-endian).
pub mod flag {
    /// DATA.
    pub const DATA: u16 = 0x0000;
    /// DATA+FRAG (the spec's fragmentation extension, never coded upstream).
    pub const DATA_FRAG: u16 = 0x0001;
    /// SYN.
    pub const SYN: u16 = 0x0100;
    /// SYN-ACK.
    pub const SYN_ACK: u16 = 0x0101;
    /// ACK.
    pub const ACK: u16 = 0x0102;
    /// CONNECTION_ID.
    pub const CONNECTION_ID: u16 = 0x1000;
    /// What an exact `START` reads as when taken for a flag (`ST`); never a known flag.
    pub const START_AS_FLAG: u16 = 0x5453;
}

/// The protocol version every control frame carries.
pub const VERSION: u8 = 1;

/// The highest frame rate accepted (frames per second): the reference endpoint's limit on a
/// stream's configuration and on a SYN's frame-rate option (D14).
pub const MAX_FRAME_RATE: u32 = 100_000;
/// The deepest initial buffer accepted, seconds (the buffer-depth option carries milliseconds).
pub const MAX_BUFFER_DEPTH_SECS: u32 = 3_600;
/// The largest datagram: the largest UDP payload over IPv4.
pub const MAX_DATAGRAM_BYTE_SIZE: u32 = 65_507;

/// Which classification order a receiver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mode {
    /// Tests "exactly 5 bytes == `START`" first (legacy endpoints, and 3-way responders with
    /// AllowLegacyStart, D9).
    LegacyAccepting,
    /// Never recognises `START`: the 5 bytes are the unknown flag 0x5453.
    ThreeWayOnly,
}

impl Mode {
    /// Both modes, legacy-accepting first.
    pub const ALL: [Mode; 2] = [Mode::LegacyAccepting, Mode::ThreeWayOnly];

    /// The snake_case name used in vectors and JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::LegacyAccepting => "legacy_accepting",
            Mode::ThreeWayOnly => "three_way_only",
        }
    }
}

/// The kind of a media-stream datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Legacy `START`.
    Start,
    /// CONNECTION_ID (flag 0x1000).
    ConnectionId,
    /// DATA (flag 0x0000).
    Data,
    /// DATA+FRAG (flag 0x0001).
    DataFrag,
    /// SYN (flag 0x0100).
    Syn,
    /// SYN-ACK (flag 0x0101).
    SynAck,
    /// ACK (flag 0x0102).
    Ack,
}

impl Kind {
    /// Every kind, in wire-table order.
    pub const ALL: [Kind; 7] = [
        Kind::Start,
        Kind::ConnectionId,
        Kind::Data,
        Kind::DataFrag,
        Kind::Syn,
        Kind::SynAck,
        Kind::Ack,
    ];

    /// The kind a flag announces, if any (`START` has no flag).
    pub const fn from_flag(flag: u16) -> Option<Kind> {
        match flag {
            flag::DATA => Some(Kind::Data),
            flag::DATA_FRAG => Some(Kind::DataFrag),
            flag::SYN => Some(Kind::Syn),
            flag::SYN_ACK => Some(Kind::SynAck),
            flag::ACK => Some(Kind::Ack),
            flag::CONNECTION_ID => Some(Kind::ConnectionId),
            _ => None,
        }
    }

    /// The kind's flag (`None` for `START`).
    pub const fn flag(self) -> Option<u16> {
        match self {
            Kind::Start => None,
            Kind::ConnectionId => Some(flag::CONNECTION_ID),
            Kind::Data => Some(flag::DATA),
            Kind::DataFrag => Some(flag::DATA_FRAG),
            Kind::Syn => Some(flag::SYN),
            Kind::SynAck => Some(flag::SYN_ACK),
            Kind::Ack => Some(flag::ACK),
        }
    }

    /// The fewest bytes a datagram of this kind may have (`START`: exactly this many).
    pub const fn min_len(self) -> usize {
        match self {
            Kind::Start => START.len(),
            Kind::ConnectionId => field::CONNECTION_ID_DATAGRAM_LEN,
            Kind::Data => field::HEADER_LEN,
            Kind::DataFrag => field::FRAGMENT_HEADER_LEN,
            Kind::Syn | Kind::SynAck | Kind::Ack => field::CONTROL_LEN,
        }
    }

    /// snake_case name, as in JSON output and vectors.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::ConnectionId => "connection_id",
            Kind::Data => "data",
            Kind::DataFrag => "data_frag",
            Kind::Syn => "syn",
            Kind::SynAck => "syn_ack",
            Kind::Ack => "ack",
        }
    }

    /// The name the protocol documents use (`SYN-ACK`, `DATA+FRAG` …).
    pub const fn wire_name(self) -> &'static str {
        match self {
            Kind::Start => "START",
            Kind::ConnectionId => "CONNECTION_ID",
            Kind::Data => "DATA",
            Kind::DataFrag => "DATA+FRAG",
            Kind::Syn => "SYN",
            Kind::SynAck => "SYN-ACK",
            Kind::Ack => "ACK",
        }
    }

    /// Whether this is one of the 3-way handshake's control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, Kind::Syn | Kind::SynAck | Kind::Ack)
    }

    /// Whether this kind carries media (DATA or DATA+FRAG).
    pub const fn is_media(self) -> bool {
        matches!(self, Kind::Data | Kind::DataFrag)
    }
}

impl core::fmt::Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// Decides a datagram's kind and checks its length, in the receive check order (3-way spec §8):
/// length < 2 → too short; exact `START` (legacy-accepting mode only); flag → kind or unknown flag;
/// the kind's minimum length. Control-frame contents (version, TLVs) are checked by [`Datagram::parse`].
pub fn classify(bytes: &[u8], mode: Mode) -> Result<Kind, Error> {
    if bytes.len() < field::FLAG.end {
        return Err(Error::TooShort {
            kind: None,
            needed: field::FLAG.end,
            actual: bytes.len(),
        });
    }
    if mode == Mode::LegacyAccepting && bytes == START {
        return Ok(Kind::Start);
    }
    let flag = field::read_u16(bytes, field::FLAG);
    let kind = Kind::from_flag(flag).ok_or(Error::UnknownFlag { flag })?;
    if bytes.len() < kind.min_len() {
        return Err(Error::TooShort {
            kind: Some(kind),
            needed: kind.min_len(),
            actual: bytes.len(),
        });
    }
    Ok(kind)
}

/// The snake_case kind name of a datagram (legacy-accepting), or `malformed`: the classifier fault
/// rules and checkers select datagrams by.
pub fn kind_name(bytes: &[u8]) -> &'static str {
    classify(bytes, Mode::LegacyAccepting).map_or("malformed", Kind::name)
}

/// Parses one datagram; shorthand for [`Datagram::parse`].
pub fn parse(bytes: &[u8], mode: Mode) -> Result<Datagram<'_>, Error> {
    Datagram::parse(bytes, mode)
}
