//! Proton's stream layer, as pure codecs (no I/O, no clock, no allocation).
//!
//! Proton runs over one QUIC connection on which the client opens three bidirectional streams.
//! The first byte of each is its [`Discriminator`]; after it every message is a `u32`
//! little-endian. Bytes reach a reader in arbitrary chunks (QUIC keeps the order, not the
//! boundaries): [`StreamReader`] assembles messages across chunks and says how a stream ended
//! ([`StreamReader::finish`]). The answers the server owes are arithmetic: [`commit_answer`]
//! (StateCommit, request + 2, wrapping as coded or checked per P1) and [`EventOrder`] (event ids
//! strictly increasing, the first ≥ 1). A violation ends the whole connection with a
//! [`CloseCode`].
//!
//! With the `formats` feature, `formats` describes the client stream for the fuzz kit
//! (`proton.stream`: decoder verdict, field mutator, dictionary, seeds) and holds the stream-layer
//! mutations the network fuzzer shares.
//!
//! Facts: `shared/protocols/proton.md`; vectors: `vectors/proton/*.json`.
#![forbid(unsafe_code)]

use std::fmt;

/// What a stream carries, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Discriminator {
    /// 1: the client sends event ids, the server echoes each.
    Event,
    /// 2: the client sends a request, the server answers request + 2.
    StateCommit,
    /// 3: actions: the server's counter 0, 1, 2 … (pulled by a client write, or pushed).
    Action,
    /// 0xFF: "reset the stale connection" (P4; valid only on a 4th stream, when the server
    /// allows it: the profile decides).
    Reset,
}

impl Discriminator {
    /// The three data streams, in the order a client opens them.
    pub const DATA: [Discriminator; 3] = [
        Discriminator::Event,
        Discriminator::StateCommit,
        Discriminator::Action,
    ];

    /// Its byte.
    pub const fn byte(self) -> u8 {
        match self {
            Discriminator::Event => 1,
            Discriminator::StateCommit => 2,
            Discriminator::Action => 3,
            Discriminator::Reset => 0xFF,
        }
    }

    /// The discriminator a byte names.
    pub const fn from_byte(byte: u8) -> Result<Discriminator, StreamError> {
        match byte {
            1 => Ok(Discriminator::Event),
            2 => Ok(Discriminator::StateCommit),
            3 => Ok(Discriminator::Action),
            0xFF => Ok(Discriminator::Reset),
            other => Err(StreamError::UnknownDiscriminator(other)),
        }
    }

    /// Its name in scenarios and vectors (`event`, `state_commit`, `action`, `reset`).
    pub const fn name(self) -> &'static str {
        match self {
            Discriminator::Event => "event",
            Discriminator::StateCommit => "state_commit",
            Discriminator::Action => "action",
            Discriminator::Reset => "reset",
        }
    }

    /// The discriminator a name names.
    pub fn from_name(name: &str) -> Option<Discriminator> {
        [
            Discriminator::Event,
            Discriminator::StateCommit,
            Discriminator::Action,
            Discriminator::Reset,
        ]
        .into_iter()
        .find(|d| d.name() == name)
    }
}

impl fmt::Display for Discriminator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The application close codes (any violation closes the whole connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum CloseCode {
    /// 0: normal end: the client's close, the P4 reset (`reset`). The original's own code 0
    /// ("Streams completed") never reaches the wire: it is sent after the connection has ended.
    Normal,
    /// 1: stream setup error: a bad or repeated discriminator, a stream that ended (FIN or
    /// RESET_STREAM) before its discriminator (P5), and under P3 none in time.
    StreamSetupError,
    /// 2: stream accept error.
    StreamAcceptError,
    /// 3: stream setup timeout: the next stream was not opened in time.
    StreamSetupTimeout,
    /// 4: stream operation timeout: a read or write waited too long.
    StreamOperationTimeout,
    /// 5: stream error or protocol violation.
    StreamError,
}

impl CloseCode {
    /// All codes, 0 to 5.
    pub const ALL: [CloseCode; 6] = [
        CloseCode::Normal,
        CloseCode::StreamSetupError,
        CloseCode::StreamAcceptError,
        CloseCode::StreamSetupTimeout,
        CloseCode::StreamOperationTimeout,
        CloseCode::StreamError,
    ];

    /// Its value in the CONNECTION_CLOSE frame.
    pub const fn code(self) -> u64 {
        match self {
            CloseCode::Normal => 0,
            CloseCode::StreamSetupError => 1,
            CloseCode::StreamAcceptError => 2,
            CloseCode::StreamSetupTimeout => 3,
            CloseCode::StreamOperationTimeout => 4,
            CloseCode::StreamError => 5,
        }
    }

    /// The code a value names (`None`: not a Proton code).
    pub fn from_code(code: u64) -> Option<CloseCode> {
        CloseCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// Its name (`normal`, `stream_setup_error` …).
    pub const fn name(self) -> &'static str {
        match self {
            CloseCode::Normal => "normal",
            CloseCode::StreamSetupError => "stream_setup_error",
            CloseCode::StreamAcceptError => "stream_accept_error",
            CloseCode::StreamSetupTimeout => "stream_setup_timeout",
            CloseCode::StreamOperationTimeout => "stream_operation_timeout",
            CloseCode::StreamError => "stream_error",
        }
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.name())
    }
}

/// What is wrong with a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// Its first byte names no discriminator (→ close code 1).
    #[error("unknown discriminator {0:#04x}")]
    UnknownDiscriminator(u8),
    /// It ended before its discriminator: the stream's setup fails (→ close code 1, P5).
    #[error("FIN before the discriminator")]
    EarlyFin,
    /// It ended with 1–3 bytes of a u32 (→ close code 5).
    #[error("FIN inside a u32 ({0} of 4 bytes)")]
    FinInsideU32(u8),
}

impl StreamError {
    /// The close code the server answers it with.
    pub const fn close_code(self) -> CloseCode {
        match self {
            StreamError::UnknownDiscriminator(_) | StreamError::EarlyFin => {
                CloseCode::StreamSetupError
            }
            StreamError::FinInsideU32(_) => CloseCode::StreamError,
        }
    }
}

/// One message read from a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// The stream's first byte.
    Discriminator(Discriminator),
    /// A whole u32 after it.
    Value(u32),
}

/// A u32 as it goes on a stream.
pub const fn encode_u32(value: u32) -> [u8; 4] {
    value.to_le_bytes()
}

/// Reads a stream's messages from chunks as they arrive (see the crate docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamReader {
    /// A stream of values only (the server's side of a stream: no discriminator).
    headless: bool,
    discriminator: Option<Discriminator>,
    failed: Option<StreamError>,
    pending: [u8; 4],
    pending_len: u8,
    values: u64,
}

impl StreamReader {
    /// A reader at the start of a stream.
    pub const fn new() -> StreamReader {
        StreamReader {
            headless: false,
            discriminator: None,
            failed: None,
            pending: [0; 4],
            pending_len: 0,
            values: 0,
        }
    }

    /// A reader of a stream that carries u32 values only (what a server sends back).
    pub const fn values_only() -> StreamReader {
        let mut r = StreamReader::new();
        r.headless = true;
        r
    }

    /// The next message from `input`, consuming the bytes it used; `None` when `input` holds no
    /// whole message (its bytes are kept). After an error the reader reads nothing more.
    pub fn next(&mut self, input: &mut &[u8]) -> Option<Result<Message, StreamError>> {
        if self.failed.is_some() {
            return None;
        }
        if self.discriminator.is_none() && !self.headless {
            let (&first, rest) = input.split_first()?;
            *input = rest;
            return Some(match Discriminator::from_byte(first) {
                Ok(d) => {
                    self.discriminator = Some(d);
                    Ok(Message::Discriminator(d))
                }
                Err(e) => {
                    self.failed = Some(e);
                    Err(e)
                }
            });
        }
        while usize::from(self.pending_len) < 4 {
            let (&byte, rest) = input.split_first()?;
            *input = rest;
            self.pending[usize::from(self.pending_len)] = byte;
            self.pending_len += 1;
        }
        self.pending_len = 0;
        self.values += 1;
        Some(Ok(Message::Value(u32::from_le_bytes(self.pending))))
    }

    /// How the stream ends at a FIN here: `Ok` at a message boundary after the discriminator.
    /// (A server still closes: see [`StreamReader::fin_close_code`].)
    pub fn finish(&self) -> Result<(), StreamError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.discriminator.is_none() && !self.headless {
            return Err(StreamError::EarlyFin);
        }
        match self.pending_len {
            0 => Ok(()),
            n => Err(StreamError::FinInsideU32(n)),
        }
    }

    /// The close code a server answers a FIN here with (P5, as coded): 1 before the
    /// discriminator (the stream's setup fails) or after an unknown one; 5 after the
    /// discriminator, at a u32 boundary too (the read of the next u32 ends early) as inside one.
    /// The original has no clean end of a stream: code 0 never follows a FIN.
    pub fn fin_close_code(&self) -> CloseCode {
        match self.finish() {
            Ok(()) => CloseCode::StreamError,
            Err(e) => e.close_code(),
        }
    }

    /// Its discriminator, once read.
    pub const fn discriminator(&self) -> Option<Discriminator> {
        self.discriminator
    }

    /// Bytes of a u32 received but not yet whole (0–3).
    pub const fn pending(&self) -> u8 {
        self.pending_len
    }

    /// Whole u32 values read.
    pub const fn values(&self) -> u64 {
        self.values
    }

    /// The error it stopped at, if any.
    pub const fn error(&self) -> Option<StreamError> {
        self.failed
    }
}

/// How a StateCommit answer is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arithmetic {
    /// As coded: request + 2 modulo 2³² (0xFFFF_FFFE → 0).
    Wrapping,
    /// P1: request + 2 when it fits; otherwise no answer (the server closes with code 5).
    Checked,
}

/// The answer to StateCommit `request` (`None`: it overflows under P1).
pub const fn commit_answer(request: u32, arithmetic: Arithmetic) -> Option<u32> {
    match arithmetic {
        Arithmetic::Wrapping => Some(request.wrapping_add(2)),
        Arithmetic::Checked => request.checked_add(2),
    }
}

/// A violation of the event-id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event id {id} after {}", previous.map_or_else(|| "none (must be ≥ 1)".to_owned(), |p| p.to_string()))]
pub struct EventOrderError {
    /// The offending id.
    pub id: u32,
    /// The last accepted id.
    pub previous: Option<u32>,
}

/// The event ids of one connection: strictly increasing, the first ≥ 1, gaps allowed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventOrder {
    last: Option<u32>,
}

impl EventOrder {
    /// Accepts `id` or says why not (→ close code 5).
    pub fn accept(&mut self, id: u32) -> Result<(), EventOrderError> {
        let ok = match self.last {
            None => id >= 1,
            Some(last) => id > last,
        };
        if ok {
            self.last = Some(id);
            Ok(())
        } else {
            Err(EventOrderError {
                id,
                previous: self.last,
            })
        }
    }

    /// The last accepted id.
    pub const fn last(&self) -> Option<u32> {
        self.last
    }
}

#[cfg(feature = "formats")]
pub mod formats;

/// The fuzz targets' checks, shared with the stable-toolchain corpus replay test.
pub mod fuzzing {
    use super::{Message, StreamReader};

    /// `proton_stream_reader`: the first byte of `data` cuts the rest into chunks (each chunk
    /// length 1 + a nibble); reading them never panics, reads exactly what one whole-buffer read
    /// reads, and ends the same way at a FIN.
    pub fn check_stream_reader(data: &[u8]) {
        let Some((&shape, bytes)) = data.split_first() else {
            return;
        };
        let whole = read(&[bytes]);
        let mut chunks = Vec::new();
        let mut rest = bytes;
        let mut nibbles = [shape & 0x0F, shape >> 4].into_iter().cycle();
        while !rest.is_empty() {
            let len = (1 + usize::from(nibbles.next().unwrap_or(0))).min(rest.len());
            let (chunk, tail) = rest.split_at(len);
            chunks.push(chunk);
            rest = tail;
        }
        assert_eq!(read(&chunks), whole, "chunking changed what was read");
    }

    fn read(
        chunks: &[&[u8]],
    ) -> (
        Vec<Result<Message, super::StreamError>>,
        Result<(), super::StreamError>,
        u8,
    ) {
        let mut reader = StreamReader::new();
        let mut out = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while let Some(m) = reader.next(&mut input) {
                out.push(m);
            }
        }
        (out, reader.finish(), reader.pending())
    }
}
