//! WebTransport over HTTP/3 sessions, sans-I/O, on the harness's [`QuicHost`]: the
//! [`Sessions`] seam of `handshake-quic` (which [`handshake_quic::session::BareSessions`] implements
//! for bare QUIC) over extended CONNECT (RFC 9220), WebTransport streams and HTTP datagrams
//! (draft-ietf-webtrans-http3, RFC 9297), speaking exactly what aioquic 1.2 and
//! web-transport-quinn 0.13 send and accept (`notes/webtransport-wire.md` §5).
//!
//! **One session per QUIC connection**, as Dark Tower uses it (DH1): the session is the client's
//! extended CONNECT on its first bidirectional stream (QUIC stream 0), its WebTransport session id
//! is that stream's id, and every [`SessionEvent`] names it by the *connection* id, as bare QUIC
//! does.
//!
//! # What each side sends
//! - On every connection, once the handshake completes: the control stream first (uni, type
//!   `0x00`, one SETTINGS frame: [`Settings::webtransport`]`(1)` by default — ENABLE_CONNECT_PROTOCOL,
//!   H3_DATAGRAM under both ids, ENABLE_WEBTRANSPORT (draft), WT_MAX_SESSIONS; no
//!   QPACK_MAX_TABLE_CAPACITY, so no peer ever uses the QPACK dynamic table on us).
//! - Client: the CONNECT request on bidi stream 0 (HEADERS: `:method CONNECT`, `:scheme https`,
//!   `:authority`, `:path`, `:protocol webtransport`, static-table QPACK), sent once the server's
//!   SETTINGS arrived with ENABLE_CONNECT_PROTOCOL = 1 (RFC 9220 §3; [`WtConfig::wait_for_settings`]
//!   turns the wait off, as aioquic's client does not wait). SETTINGS without it end the session
//!   unopened: [`SessionEvent::Closed`] with [`Close::Other`], connection closed with H3_NO_ERROR.
//!   [`SessionEvent::Opened`] when a 2xx arrives. A non-2xx answer ends the session:
//!   [`SessionEvent::Closed`] with [`Close::Other`]`("CONNECT answered \"<status>\"")` and the
//!   connection is closed with H3_NO_ERROR.
//! - Server: accepts the first request stream whose HEADERS say `:method CONNECT` and `:protocol
//!   webtransport` (and carry `:scheme`, `:authority`, `:path`, RFC 9220 §3) with `:status 200` +
//!   `sec-webtransport-http3-draft: draft02` and reports [`SessionEvent::Opened`] with its `:path`.
//!   Other requests are answered and ended (FIN), never fatal to the connection:
//!   a method other than CONNECT → 404; CONNECT without `:protocol webtransport` → 501 (RFC 9220
//!   §3: an unknown or unsupported `:protocol` SHOULD get 501; a plain CONNECT is treated alike: no
//!   tunnels here); a WebTransport CONNECT missing `:scheme`, `:authority` or `:path` (malformed,
//!   RFC 9114 §4.1.2, which allows a response before the stream ends) → 400; a second WebTransport
//!   CONNECT on the same connection → 429. Each answer is followed by FIN and STOP_SENDING
//!   H3_NO_ERROR.
//! - Streams: [`Sessions::open`] writes `0x54` + session id (uni) or `40 41` + session id (bidi)
//!   before anything else; the peer's WebTransport streams have that prefix stripped (it may arrive
//!   in any number of pieces) and only application bytes are reported.
//! - Datagrams: quarter stream id varint + payload (session 0: the single byte `00`); a received
//!   datagram naming another session is dropped.
//!
//! # Codes
//! Reset and stop codes follow [`ResetCodes`] (a constructor parameter): `Mapped` puts
//! [`error_code::to_http3`]`(code)` on the wire and reads [`error_code::from_http3`] back (`code:
//! None` when the wire code is no WebTransport code, reserved points included); `Raw` puts the code
//! itself and reads back any wire code that fits a u32.
//!
//! # Closing
//! - [`Sessions::close`]`(code, reason)` sends CLOSE_WEBTRANSPORT_SESSION(code, reason) in a DATA
//!   frame on the CONNECT stream, then its FIN; reports `Closed { close: Close::Application { code,
//!   reason }, by_peer: false }` at once; and closes the QUIC connection with **H3_NO_ERROR
//!   (0x100)**, empty reason, once the capsule and FIN are acknowledged (quinn drops unsent stream
//!   data when a connection closes) or after [`WtConfig::close_linger`], whichever comes first.
//! - Receiving the capsule reports `Closed { close: Close::Application { code, reason }, by_peer:
//!   true }` where `code` is **the capsule's u32 code as is** (never mapped: the capsule carries
//!   the application's code) and `reason` its UTF-8 (lossy); this side then FINs its half of the
//!   CONNECT stream and lets the peer close the connection (closing it itself with H3_NO_ERROR
//!   after the linger). A FIN on the CONNECT stream without a capsule is the same with code 0 and
//!   an empty reason (draft-ietf-webtrans-http3 §6); a RESET_STREAM on it reports `Application {
//!   code: <wire code>, reason: "CONNECT stream reset" }`.
//! - A QUIC connection that ends while the session is not yet reported closed reports its
//!   [`Close`] as is (an HTTP/3 application close shows its raw HTTP/3 code, e.g. 0x100).
//!
//! # HTTP/3 errors this side detects (connection closed with the RFC 9114 / RFC 9297 code)
//! | check | code |
//! |---|---|
//! | a second control stream from the peer | H3_STREAM_CREATION_ERROR 0x103 |
//! | a server-initiated bidi stream that is not a WebTransport stream (client side) | H3_STREAM_CREATION_ERROR 0x103 |
//! | the peer's control stream ends (FIN) or is reset | H3_CLOSED_CRITICAL_STREAM 0x104 |
//! | first frame on the control stream is not SETTINGS | H3_MISSING_SETTINGS 0x10a |
//! | a second SETTINGS; DATA, HEADERS, PUSH_PROMISE or an HTTP/2-reserved type (0x02, 0x06, 0x08, 0x09) on the control stream; MAX_PUSH_ID from a server | H3_FRAME_UNEXPECTED 0x105 |
//! | SETTINGS with an HTTP/2 id (0x00, 0x02–0x05) or a duplicate id; ENABLE_CONNECT_PROTOCOL, H3_DATAGRAM or ENABLE_WEBTRANSPORT (draft) other than 0 or 1 | H3_SETTINGS_ERROR 0x109 |
//! | a frame on the control stream or a request stream that does not parse (truncated SETTINGS pair, GOAWAY with trailing bytes) or declares more than 64 KiB | H3_FRAME_ERROR 0x106 |
//! | DATA before HEADERS on a request stream; a HEADERS frame after the CONNECT response (client); SETTINGS, GOAWAY, CANCEL_PUSH, MAX_PUSH_ID or an HTTP/2-reserved type on a request stream | H3_FRAME_UNEXPECTED 0x105 |
//! | a HEADERS field section that does not decode (dynamic table reference, bad Huffman, …) | QPACK_DECOMPRESSION_FAILED 0x200 |
//! | a datagram without a complete quarter-stream-id varint, or one naming no valid stream | H3_DATAGRAM_ERROR 0x33 |
//! | a malformed capsule on the CONNECT stream (CLOSE_WEBTRANSPORT_SESSION shorter than 4 bytes) | H3_GENERAL_PROTOCOL_ERROR 0x101 |
//!
//! Not checked (harmless, ignored): GOAWAY (recorded: [`WtSessions::goaway`]), CANCEL_PUSH,
//! MAX_PUSH_ID from a client, unknown and GREASE frame types and settings, QPACK encoder/decoder
//! and push streams and unknown uni types (read and discarded), whether the peer's SETTINGS enable
//! WebTransport at all (see [`WtSessions::peer_settings`]). A WebTransport stream naming another
//! session id than this connection's is refused: STOP_SENDING (and, bidi, RESET_STREAM) with
//! WT_BUFFERED_STREAM_REJECTED (0x3994bd84).
//!
//! Streams of this host that this layer did not open (a scripted peer's, opened through
//! [`Sessions::host_mut`]) are left alone: their incoming bytes stay in quinn for the script to
//! read. Events that arrive before the session is open (a WebTransport stream or datagram that
//! overtook the CONNECT or its answer) are held and reported after [`SessionEvent::Opened`]; those
//! naming another session are then refused as above.
//!
//! **Deterministic**: every map is a `BTreeMap`; with the same seed and inputs a host emits the
//! same datagrams (as `handshake-quic` promises for the host).
//!
//! # Example: a session in virtual time
//! ```
//! use std::time::Duration;
//! use handshake_core::Instant;
//! use handshake_quic::session::{ResetCodes, SessionEvent, Sessions};
//! use handshake_quic::{Seed, Transport};
//! use handshake_webtransport::{WtConfig, WtSessions};
//!
//! let config = WtConfig::with_reset_codes(ResetCodes::Mapped);
//! let mut client =
//!     WtSessions::build(Seed::derive(1, "client"), Transport::default(), false, config.clone())?;
//! let mut server = WtSessions::build(Seed::derive(1, "server"), Transport::default(), true, config)?;
//! let (c_addr, s_addr) = ("192.0.2.1:5000".parse()?, "192.0.2.2:4433".parse()?);
//! let session = client.connect(Instant::ZERO, s_addr, "/media")?;
//! let (mut now, mut opened) = (Instant::ZERO, Vec::new());
//! for _ in 0..20 {
//!     now += Duration::from_millis(5);
//!     for sessions in [&mut client, &mut server] {
//!         while let Some(event) = sessions.poll_event() {
//!             if let SessionEvent::Opened { path, .. } = event {
//!                 opened.push(path);
//!             }
//!         }
//!         sessions.drive(now);
//!     }
//!     // A lossless wire with no delay.
//!     while let Some((_, d)) = client.poll_transmit() {
//!         server.handle_datagram(now, c_addr, &d);
//!     }
//!     while let Some((_, d)) = server.poll_transmit() {
//!         client.handle_datagram(now, s_addr, &d);
//!     }
//! }
//! assert_eq!(opened, ["/media", "/media"]);
//! assert_eq!(client.session_id(session), Some(0));
//! let stream = client.open(session, false).expect("a WebTransport uni stream");
//! client.write(session, stream, b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use handshake_core::Instant;
use handshake_quic::quinn_proto::StreamEvent;
use handshake_quic::session::{ResetCodes, SessionEvent, Sessions, StreamBook};
use handshake_quic::{
    Close, ConnId, HostConfig, KeyLog, QuicError, QuicEvent, QuicHost, Seed, Transport,
};
use handshake_webtransport_wire::capsule::{self, Capsule};
use handshake_webtransport_wire::error_code::{self, h3};
use handshake_webtransport_wire::frame::{frame_type, setting};
use handshake_webtransport_wire::qpack::{self, Field};
use handshake_webtransport_wire::{
    BidiPrefix, Datagram, FieldSection, Frame, OwnedFrame, Settings, StreamReader, UniStreamType,
    VarInt,
};

/// The ALPN of HTTP/3.
pub const ALPN: &[u8] = b"h3";

/// WT_BUFFERED_STREAM_REJECTED (draft-ietf-webtrans-http3): a WebTransport stream for a session
/// this side does not have.
pub const WT_BUFFERED_STREAM_REJECTED: u64 = 0x3994_bd84;

/// How a [`WtSessions`] behaves; the defaults interoperate with aioquic 1.2 and
/// web-transport-quinn 0.13. The other settings exist for scripted peers that must send
/// malformed HTTP/3 on purpose.
#[derive(Clone, Debug)]
pub struct WtConfig {
    /// How reset and stop codes go on the wire (default [`ResetCodes::Mapped`]).
    pub reset_codes: ResetCodes,
    /// Read the peer's reset and stop codes in either form, whatever [`WtConfig::reset_codes`]
    /// says (default `false`): a code of the mapped range is unmapped, any other value up to
    /// `u32::MAX` taken as raw. For a side that adapts to whichever mapping its peer speaks.
    pub read_either: bool,
    /// Open the control stream at all (default `true`; `false`: a peer that never sends one).
    pub control_stream: bool,
    /// The SETTINGS frame on the control stream (default [`Settings::webtransport`]`(1)`), sent as
    /// given: duplicates, reserved ids and odd values included.
    pub settings: Settings,
    /// Raw frames written on the control stream after SETTINGS (default none; e.g. a second
    /// SETTINGS, a DATA frame, a GOAWAY).
    pub control_extra: Vec<Vec<u8>>,
    /// The client's CONNECT header list (`None`: [`qpack::webtransport_connect`] with
    /// [`WtConfig::authority`] and the path given to [`Sessions::connect`]).
    pub connect_headers: Option<Vec<Field>>,
    /// The client's `:authority` (default `localhost`).
    pub authority: String,
    /// The server's answer to an accepted CONNECT (`None`: [`qpack::webtransport_ok`]).
    pub response_headers: Option<Vec<Field>>,
    /// Huffman-code every QPACK string literal this side sends (default `false`: plain literals).
    pub huffman: bool,
    /// Client: send the CONNECT only once the server's SETTINGS arrived with
    /// ENABLE_CONNECT_PROTOCOL = 1, as RFC 9220 §3 (RFC 8441 §4) requires (default `true`, as
    /// web-transport-quinn does); `false`: at once when the handshake completes, as aioquic's
    /// client does.
    pub wait_for_settings: bool,
    /// How long after [`Sessions::close`] (or after the peer's close capsule) this side waits for
    /// the CONNECT stream to be acknowledged before closing the QUIC connection (default 1 s).
    pub close_linger: Duration,
}

impl Default for WtConfig {
    fn default() -> Self {
        WtConfig {
            reset_codes: ResetCodes::Mapped,
            read_either: false,
            control_stream: true,
            settings: Settings::webtransport(1),
            control_extra: Vec::new(),
            connect_headers: None,
            authority: "localhost".to_owned(),
            response_headers: None,
            huffman: false,
            wait_for_settings: true,
            close_linger: Duration::from_secs(1),
        }
    }
}

impl WtConfig {
    /// The defaults with another [`ResetCodes`].
    pub fn with_reset_codes(reset_codes: ResetCodes) -> WtConfig {
        WtConfig {
            reset_codes,
            ..WtConfig::default()
        }
    }
}

/// What an incoming (or our own readable) stream is, as far as its bytes have told.
#[derive(Debug)]
enum Inbound {
    /// A peer uni stream whose type is not complete yet.
    UniPrefix(StreamReader),
    /// A peer bidi stream whose first varint(s) are not complete yet.
    BidiPrefix(StreamReader),
    /// The peer's control stream.
    Control(StreamReader),
    /// A stream whose bytes are read and discarded (QPACK, push, unknown types, refused).
    Discard,
    /// A WebTransport stream of session `session` (application bytes from here on).
    Wt { session: u64 },
    /// A request stream (the CONNECT, ours or the peer's; or another request the server answers).
    Request(Box<RequestState>),
}

#[derive(Debug)]
struct RequestState {
    reader: StreamReader,
    /// HEADERS seen (request at the server, response at the client).
    headers: bool,
    /// This request is the session's CONNECT (accepted / ours).
    session: bool,
    /// Bytes of DATA frames not yet parsed as capsules.
    capsules: Vec<u8>,
}

impl RequestState {
    fn new() -> Box<RequestState> {
        Box::new(RequestState {
            reader: StreamReader::new(),
            headers: false,
            session: false,
            capsules: Vec::new(),
        })
    }
}

/// Where a connection's session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// No CONNECT yet (server) / QUIC handshake or CONNECT under way (client).
    Pending,
    /// Open (Opened reported).
    Open,
    /// Closed (Closed reported); the QUIC connection may live on a little.
    Closed,
}

#[derive(Debug)]
struct Conn {
    /// The CONNECT stream id = the session id (client: 0 once sent; server: once accepted).
    session: Option<u64>,
    phase: Phase,
    path: String,
    control_seen: bool,
    peer_settings: Option<Settings>,
    goaway: Option<u64>,
    inbound: BTreeMap<u64, Inbound>,
    /// Events of the session before it opened (WebTransport streams and datagrams that overtook
    /// the CONNECT's answer), with the session id they name.
    held: Vec<(u64, SessionEvent)>,
    /// When to close the QUIC connection after a session close.
    close_at: Option<Instant>,
    /// Our FIN on the CONNECT stream is out (close sent or answered).
    connect_finished: bool,
    /// Client: the CONNECT waits for the server's SETTINGS.
    awaiting_settings: bool,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            session: None,
            phase: Phase::Pending,
            path: String::new(),
            control_seen: false,
            peer_settings: None,
            goaway: None,
            inbound: BTreeMap::new(),
            held: Vec::new(),
            close_at: None,
            connect_finished: false,
            awaiting_settings: false,
        }
    }
}

/// WebTransport sessions over HTTP/3 on one [`QuicHost`] (see the crate docs).
#[derive(Debug)]
pub struct WtSessions {
    host: QuicHost,
    book: StreamBook,
    config: WtConfig,
    conns: BTreeMap<ConnId, Conn>,
    events: VecDeque<SessionEvent>,
    now: Instant,
    server: bool,
}

/// A [`HostConfig`] for WebTransport: ALPN `h3`, the given seed, transport and role, a fresh key
/// log.
pub fn host_config(seed: Seed, transport: Transport, server: bool) -> HostConfig {
    HostConfig {
        seed,
        alpn: vec![ALPN.to_vec()],
        transport,
        server,
        key_log: Arc::new(KeyLog::default()),
    }
}

impl WtSessions {
    /// Sessions on `host` with the default [`WtConfig`] and `reset_codes`. The host must offer
    /// (client) or accept (server) ALPN `h3` (see [`host_config`]); `server` says whether it
    /// accepts sessions (a server host) or opens them.
    pub fn new(host: QuicHost, server: bool, reset_codes: ResetCodes) -> WtSessions {
        WtSessions::with_config(host, server, WtConfig::with_reset_codes(reset_codes))
    }

    /// Sessions on `host` with any [`WtConfig`].
    pub fn with_config(host: QuicHost, server: bool, config: WtConfig) -> WtSessions {
        WtSessions {
            host,
            book: StreamBook::default(),
            config,
            conns: BTreeMap::new(),
            events: VecDeque::new(),
            now: Instant::ZERO,
            server,
        }
    }

    /// A host made from [`host_config`] and sessions on it.
    pub fn build(
        seed: Seed,
        transport: Transport,
        server: bool,
        config: WtConfig,
    ) -> Result<WtSessions, QuicError> {
        let host = QuicHost::new(&host_config(seed, transport, server))?;
        Ok(WtSessions::with_config(host, server, config))
    }

    /// The configuration.
    pub fn config(&self) -> &WtConfig {
        &self.config
    }

    /// The WebTransport session id (the CONNECT stream's id) of a session, once known.
    pub fn session_id(&self, session: ConnId) -> Option<u64> {
        self.conns.get(&session).and_then(|c| c.session)
    }

    /// The peer's SETTINGS on a connection, once received.
    pub fn peer_settings(&self, session: ConnId) -> Option<&Settings> {
        self.conns
            .get(&session)
            .and_then(|c| c.peer_settings.as_ref())
    }

    /// The id of the last GOAWAY the peer sent on a connection.
    pub fn goaway(&self, session: ConnId) -> Option<u64> {
        self.conns.get(&session).and_then(|c| c.goaway)
    }

    fn wire_code(&self, code: u32) -> u64 {
        match self.config.reset_codes {
            ResetCodes::Mapped => error_code::to_http3(code),
            ResetCodes::Raw => u64::from(code),
        }
    }

    fn app_code(&self, wire: u64) -> Option<u32> {
        if self.config.read_either {
            return error_code::from_http3(wire).or_else(|| {
                (wire < error_code::WT_FIRST)
                    .then(|| u32::try_from(wire).ok())
                    .flatten()
            });
        }
        match self.config.reset_codes {
            ResetCodes::Mapped => error_code::from_http3(wire),
            ResetCodes::Raw => u32::try_from(wire).ok(),
        }
    }

    fn is_peer_stream(&self, stream: u64) -> bool {
        // Bit 0 of a stream id: 0 client-initiated, 1 server-initiated.
        (stream & 1 == 0) == self.server
    }

    fn encode_fields(&self, fields: &[Field]) -> Vec<u8> {
        let section = FieldSection::encode(fields);
        let mut out = Vec::new();
        if self.config.huffman {
            section.emit_huffman(&mut out);
        } else {
            section.emit(&mut out);
        }
        Frame::Headers(&out).to_vec()
    }

    /// Closes a connection for an HTTP/3 error (reported as `Closed` with the code, `by_peer:
    /// false`, when the host reports the end).
    fn fail(&mut self, conn: ConnId, code: u64, reason: &str) {
        self.host.close(self.now, conn, code, reason);
    }

    /// Pushes a session event now, or holds it until the session opens.
    fn emit(&mut self, conn: ConnId, session_id: u64, event: SessionEvent) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        match c.phase {
            Phase::Open if c.session == Some(session_id) => self.events.push_back(event),
            Phase::Pending => c.held.push((session_id, event)),
            _ => {}
        }
    }

    /// Turns the host's events into session events.
    fn collect(&mut self) {
        while let Some(event) = self.host.poll_event() {
            match event {
                QuicEvent::Accepted { conn, .. } => {
                    self.conns.entry(conn).or_insert_with(Conn::new);
                }
                QuicEvent::Refused { .. } => {}
                QuicEvent::Connected { conn, .. } => self.on_connected(conn),
                QuicEvent::Stream { conn, event } => self.on_stream(conn, event),
                QuicEvent::Datagram { conn, payload } => self.on_datagram(conn, &payload),
                QuicEvent::Ended {
                    conn,
                    close,
                    by_peer,
                } => {
                    self.book.drop_connection(conn);
                    let c = self.conns.entry(conn).or_insert_with(Conn::new);
                    c.close_at = None;
                    if c.phase != Phase::Closed {
                        c.phase = Phase::Closed;
                        c.held.clear();
                        self.events.push_back(SessionEvent::Closed {
                            session: conn,
                            close,
                            by_peer,
                        });
                    }
                }
            }
        }
    }

    fn on_connected(&mut self, conn: ConnId) {
        self.conns.entry(conn).or_insert_with(Conn::new);
        if self.config.control_stream {
            if let Some(id) = StreamBook::open(&mut self.host, conn, false) {
                let mut bytes = UniStreamType::Control.to_vec();
                Frame::Settings(self.config.settings.clone()).emit(&mut bytes);
                for extra in &self.config.control_extra {
                    bytes.extend_from_slice(extra);
                }
                self.book.write(&mut self.host, conn, id, &bytes);
            }
        }
        if self.server {
            return;
        }
        let wait = self.config.wait_for_settings
            && self
                .conns
                .get(&conn)
                .is_some_and(|c| c.peer_settings.is_none());
        if let Some(c) = self.conns.get_mut(&conn) {
            c.awaiting_settings = wait;
        }
        if !wait {
            self.send_connect(conn);
        }
    }

    /// Client: the CONNECT request on a new bidi stream (stream 0 on a fresh connection). With
    /// [`WtConfig::wait_for_settings`], only when the server's SETTINGS enable extended CONNECT
    /// (RFC 9220 §3 via RFC 8441 §4); otherwise the session ends unopened.
    fn send_connect(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.awaiting_settings = false;
        if c.session.is_some() || c.phase != Phase::Pending {
            return;
        }
        let enabled = c
            .peer_settings
            .as_ref()
            .is_some_and(|s| s.get(setting::ENABLE_CONNECT_PROTOCOL) == Some(1));
        if self.config.wait_for_settings && !enabled {
            c.phase = Phase::Closed;
            c.held.clear();
            self.events.push_back(SessionEvent::Closed {
                session: conn,
                close: Close::Other(
                    "the server's SETTINGS do not enable extended CONNECT (0x08 = 1)".to_owned(),
                ),
                by_peer: true,
            });
            self.host.close(self.now, conn, h3::NO_ERROR, "");
            return;
        }
        let path = c.path.clone();
        let Some(stream) = StreamBook::open(&mut self.host, conn, true) else {
            self.fail(conn, h3::INTERNAL_ERROR, "no bidi stream for CONNECT");
            return;
        };
        let fields = match &self.config.connect_headers {
            Some(f) => f.clone(),
            None => qpack::webtransport_connect(&self.config.authority, &path),
        };
        let headers = self.encode_fields(&fields);
        self.book.write(&mut self.host, conn, stream, &headers);
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(stream);
            let mut st = RequestState::new();
            st.session = true;
            c.inbound.insert(stream, Inbound::Request(st));
        }
    }

    fn on_stream(&mut self, conn: ConnId, event: StreamEvent) {
        match event {
            StreamEvent::Opened { .. } => {
                for stream in StreamBook::accept(&mut self.host, conn) {
                    self.read(conn, stream);
                }
            }
            StreamEvent::Readable { id } => self.read(conn, u64::from(id)),
            StreamEvent::Writable { .. } | StreamEvent::Available { .. } => {
                self.book.flush(&mut self.host)
            }
            StreamEvent::Stopped { id, error_code } => {
                let stream = u64::from(id);
                let wire = error_code.into_inner();
                let Some(c) = self.conns.get(&conn) else {
                    return;
                };
                // Only WebTransport streams are the application's; ours live in `inbound` as
                // `Wt` when bidi, and uni ones are remembered below.
                let sid = match c.inbound.get(&stream) {
                    Some(Inbound::Wt { session }) => Some(*session),
                    _ => None,
                };
                if let Some(sid) = sid {
                    let code = self.app_code(wire);
                    self.emit(
                        conn,
                        sid,
                        SessionEvent::Stopped {
                            session: conn,
                            stream,
                            code,
                            wire,
                        },
                    );
                }
            }
            StreamEvent::Finished { id } => {
                let stream = u64::from(id);
                let close_now = self.conns.get(&conn).is_some_and(|c| {
                    c.session == Some(stream) && c.close_at.is_some() && c.phase == Phase::Closed
                });
                if close_now {
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.close_at = None;
                    }
                    self.host.close(self.now, conn, h3::NO_ERROR, "");
                }
            }
        }
    }

    fn read(&mut self, conn: ConnId, stream: u64) {
        let peer = self.is_peer_stream(stream);
        let known = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.inbound.contains_key(&stream));
        if !peer && !known {
            // A stream of ours this layer did not open (a scripted peer's, through
            // `host_mut`): its bytes are the script's to read.
            return;
        }
        let Some(out) = self.book.read(&mut self.host, conn, stream) else {
            return;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let state = c.inbound.entry(stream).or_insert_with(|| {
            if !peer {
                // A stream of ours nobody registered: nothing to read on it.
                Inbound::Discard
            } else if stream & 2 == 0 {
                Inbound::BidiPrefix(StreamReader::new())
            } else {
                Inbound::UniPrefix(StreamReader::new())
            }
        });
        let data = out.data;
        let fin = out.fin;
        match state {
            Inbound::UniPrefix(r) => {
                r.push(&data);
                if fin {
                    r.finish();
                }
                self.uni_prefix(conn, stream, fin, out.reset);
            }
            Inbound::BidiPrefix(r) => {
                r.push(&data);
                if fin {
                    r.finish();
                }
                self.bidi_prefix(conn, stream, fin, out.reset);
            }
            Inbound::Control(r) => {
                r.push(&data);
                if fin {
                    r.finish();
                }
                self.control(conn, stream, out.reset.is_some() || fin);
            }
            Inbound::Discard => {}
            Inbound::Wt { session } => {
                let sid = *session;
                self.wt_data(conn, stream, sid, data, fin, out.reset);
            }
            Inbound::Request(st) => {
                st.reader.push(&data);
                if fin {
                    st.reader.finish();
                }
                self.request(conn, stream, fin, out.reset);
            }
        }
    }

    fn wt_data(
        &mut self,
        conn: ConnId,
        stream: u64,
        sid: u64,
        bytes: Vec<u8>,
        fin: bool,
        reset: Option<u64>,
    ) {
        if !bytes.is_empty() || fin {
            self.emit(
                conn,
                sid,
                SessionEvent::Data {
                    session: conn,
                    stream,
                    bytes,
                    fin,
                },
            );
        }
        if let Some(wire) = reset {
            let code = self.app_code(wire);
            self.emit(
                conn,
                sid,
                SessionEvent::Reset {
                    session: conn,
                    stream,
                    code,
                    wire,
                },
            );
        }
    }

    /// A peer uni stream: its type once complete.
    fn uni_prefix(&mut self, conn: ConnId, stream: u64, fin: bool, reset: Option<u64>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(Inbound::UniPrefix(r)) = c.inbound.get_mut(&stream) else {
            return;
        };
        let parsed = r.uni_type();
        let kind = match parsed {
            Ok(Some(kind)) => kind,
            // Incomplete: wait; a reset or a FIN before the type is complete: ignore the stream
            // (RFC 9114 §6.2).
            Ok(None) | Err(_) => {
                if reset.is_some() || fin || parsed.is_err() {
                    c.inbound.insert(stream, Inbound::Discard);
                }
                return;
            }
        };
        match kind {
            UniStreamType::Control => {
                if c.control_seen {
                    self.fail(conn, h3::STREAM_CREATION_ERROR, "second control stream");
                    return;
                }
                c.control_seen = true;
                let mut reader = StreamReader::new();
                let done = fin;
                reader.push(&r.take_pending());
                if done {
                    reader.finish();
                }
                c.inbound.insert(stream, Inbound::Control(reader));
                self.control(conn, stream, reset.is_some() || done);
            }
            UniStreamType::WebTransport(sid) => {
                let done = fin;
                let bytes = r.take_pending();
                self.wt_start(conn, stream, sid.get(), bytes, done, reset);
            }
            UniStreamType::Push(_)
            | UniStreamType::QpackEncoder
            | UniStreamType::QpackDecoder
            | UniStreamType::Unknown(_) => {
                c.inbound.insert(stream, Inbound::Discard);
            }
        }
    }

    /// A peer bidi stream: WebTransport or a request.
    fn bidi_prefix(&mut self, conn: ConnId, stream: u64, fin: bool, reset: Option<u64>) {
        let server = self.server;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(Inbound::BidiPrefix(r)) = c.inbound.get_mut(&stream) else {
            return;
        };
        let parsed = r.bidi_prefix();
        match parsed {
            Ok(Some(BidiPrefix::WebTransport(sid))) => {
                let done = fin;
                let bytes = r.take_pending();
                self.wt_start(conn, stream, sid.get(), bytes, done, reset);
            }
            Ok(Some(BidiPrefix::Request)) => {
                if !server {
                    self.fail(
                        conn,
                        h3::STREAM_CREATION_ERROR,
                        "server-initiated bidi stream is not WebTransport",
                    );
                    return;
                }
                let mut st = RequestState::new();
                let done = fin;
                st.reader.push(&r.take_pending());
                if done {
                    st.reader.finish();
                }
                c.inbound.insert(stream, Inbound::Request(st));
                self.request(conn, stream, done, reset);
            }
            Ok(None) | Err(_) => {
                if reset.is_some() || fin || parsed.is_err() {
                    c.inbound.insert(stream, Inbound::Discard);
                }
            }
        }
    }

    /// A WebTransport stream's prefix is complete: its first bytes (and end) follow.
    fn wt_start(
        &mut self,
        conn: ConnId,
        stream: u64,
        sid: u64,
        bytes: Vec<u8>,
        fin: bool,
        reset: Option<u64>,
    ) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let ours = c.session == Some(sid) || (c.session.is_none() && c.phase == Phase::Pending);
        if !ours {
            c.inbound.insert(stream, Inbound::Discard);
            self.refuse_stream(conn, stream);
            return;
        }
        c.inbound.insert(stream, Inbound::Wt { session: sid });
        self.wt_data(conn, stream, sid, bytes, fin, reset);
    }

    /// STOP_SENDING (and RESET_STREAM on a bidi stream) with WT_BUFFERED_STREAM_REJECTED.
    fn refuse_stream(&mut self, conn: ConnId, stream: u64) {
        self.book
            .stop(&mut self.host, conn, stream, WT_BUFFERED_STREAM_REJECTED);
        if stream & 2 == 0 {
            self.book
                .reset(&mut self.host, conn, stream, WT_BUFFERED_STREAM_REJECTED);
        }
    }

    /// The peer's control stream: frames as they complete.
    fn control(&mut self, conn: ConnId, stream: u64, ended: bool) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(Inbound::Control(r)) = c.inbound.get_mut(&stream) else {
                return;
            };
            let frame = match r.next_known_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.is_incomplete() => break,
                Err(e) => {
                    let reason = format!("control stream: {e}");
                    self.fail(conn, h3::FRAME_ERROR, &reason);
                    return;
                }
            };
            let first = c.peer_settings.is_none();
            match frame {
                OwnedFrame::Settings(s) if first => {
                    if let Some(v) = s.violation() {
                        let reason = format!("SETTINGS: {v:?}");
                        self.fail(conn, h3::SETTINGS_ERROR, &reason);
                        return;
                    }
                    for id in [
                        setting::ENABLE_CONNECT_PROTOCOL,
                        setting::H3_DATAGRAM,
                        setting::ENABLE_WEBTRANSPORT_DRAFT,
                    ] {
                        if s.get(id).is_some_and(|v| v > 1) {
                            let reason = format!("SETTINGS: {id:#x} must be 0 or 1");
                            self.fail(conn, h3::SETTINGS_ERROR, &reason);
                            return;
                        }
                    }
                    c.peer_settings = Some(s);
                    if c.awaiting_settings {
                        self.send_connect(conn);
                    }
                }
                _ if first => {
                    self.fail(
                        conn,
                        h3::MISSING_SETTINGS,
                        "first control frame is not SETTINGS",
                    );
                    return;
                }
                OwnedFrame::Settings(_) => {
                    self.fail(conn, h3::FRAME_UNEXPECTED, "second SETTINGS");
                    return;
                }
                OwnedFrame::Data(_) | OwnedFrame::Headers(_) => {
                    self.fail(
                        conn,
                        h3::FRAME_UNEXPECTED,
                        "DATA or HEADERS on the control stream",
                    );
                    return;
                }
                OwnedFrame::Goaway(id) => c.goaway = Some(id.get()),
                OwnedFrame::Other { frame_type: t, .. } => {
                    let t = t.get();
                    let unexpected = t == frame_type::PUSH_PROMISE
                        || frame_type::RESERVED_H2.contains(&t)
                        || (t == frame_type::MAX_PUSH_ID && !self.server);
                    if unexpected {
                        let reason = format!("frame type {t:#x} on the control stream");
                        self.fail(conn, h3::FRAME_UNEXPECTED, &reason);
                        return;
                    }
                }
            }
        }
        if ended {
            self.fail(conn, h3::CLOSED_CRITICAL_STREAM, "control stream ended");
        }
    }

    /// A request stream: the CONNECT (ours or the peer's) or another request.
    fn request(&mut self, conn: ConnId, stream: u64, fin: bool, reset: Option<u64>) {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let Some(Inbound::Request(st)) = c.inbound.get_mut(&stream) else {
                return;
            };
            let frame = match st.reader.next_known_frame() {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) if e.is_incomplete() => {
                    // FIN inside a frame: the stream is cut short.
                    break;
                }
                Err(e) => {
                    let reason = format!("request stream: {e}");
                    self.fail(conn, h3::FRAME_ERROR, &reason);
                    return;
                }
            };
            match frame {
                OwnedFrame::Headers(section) if !st.headers => {
                    st.headers = true;
                    let fields = match FieldSection::parse(&section).and_then(|s| s.fields()) {
                        Ok(f) => f,
                        Err(e) => {
                            let reason = format!("HEADERS: {e}");
                            self.fail(conn, h3::QPACK_DECOMPRESSION_FAILED, &reason);
                            return;
                        }
                    };
                    if self.server {
                        self.on_request(conn, stream, &fields);
                    } else {
                        self.on_response(conn, &fields);
                    }
                }
                OwnedFrame::Headers(_) => {
                    // Trailers (server side) end the request; a second HEADERS at the client is
                    // not expected after a 2xx to CONNECT.
                    if !self.server {
                        self.fail(
                            conn,
                            h3::FRAME_UNEXPECTED,
                            "HEADERS after the CONNECT response",
                        );
                        return;
                    }
                }
                OwnedFrame::Data(_) if !st.headers => {
                    self.fail(conn, h3::FRAME_UNEXPECTED, "DATA before HEADERS");
                    return;
                }
                OwnedFrame::Data(bytes) => {
                    if st.session {
                        st.capsules.extend_from_slice(&bytes);
                        if !self.capsules(conn, stream) {
                            return;
                        }
                    }
                }
                OwnedFrame::Settings(_) | OwnedFrame::Goaway(_) => {
                    self.fail(
                        conn,
                        h3::FRAME_UNEXPECTED,
                        "control frame on a request stream",
                    );
                    return;
                }
                OwnedFrame::Other { frame_type: t, .. } => {
                    if frame_type::RESERVED_H2.contains(&t.get())
                        || t.get() == frame_type::CANCEL_PUSH
                        || t.get() == frame_type::MAX_PUSH_ID
                    {
                        let reason = format!("frame type {t} on a request stream");
                        self.fail(conn, h3::FRAME_UNEXPECTED, &reason);
                        return;
                    }
                }
            }
        }
        if !fin && reset.is_none() {
            return;
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let is_session = matches!(c.inbound.get(&stream), Some(Inbound::Request(st)) if st.session);
        c.inbound.insert(stream, Inbound::Discard);
        if is_session && c.session == Some(stream) && c.phase != Phase::Closed {
            let close = match reset {
                Some(wire) => Close::Application {
                    code: wire,
                    reason: "CONNECT stream reset".to_owned(),
                },
                None => Close::Application {
                    code: 0,
                    reason: String::new(),
                },
            };
            self.peer_closed(conn, close);
        }
    }

    /// Parses the capsules received so far on the CONNECT stream; `false` when the connection
    /// was failed.
    fn capsules(&mut self, conn: ConnId, stream: u64) -> bool {
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return false;
            };
            let Some(Inbound::Request(st)) = c.inbound.get_mut(&stream) else {
                return false;
            };
            let (close, used) = match Capsule::parse(&st.capsules) {
                Ok((cap, used)) => match cap.close_session() {
                    Ok(close) => (
                        close.map(|(code, reason)| {
                            (code, String::from_utf8_lossy(reason).into_owned())
                        }),
                        used,
                    ),
                    Err(_) => {
                        self.fail(conn, h3::GENERAL_PROTOCOL_ERROR, "malformed capsule");
                        return false;
                    }
                },
                Err(_) => return true,
            };
            st.capsules.drain(..used);
            if let Some((code, reason)) = close {
                if c.phase != Phase::Closed {
                    self.peer_closed(
                        conn,
                        Close::Application {
                            code: u64::from(code),
                            reason,
                        },
                    );
                }
            }
        }
    }

    /// The peer closed the session: report it, FIN our half of the CONNECT stream, and close the
    /// connection after the linger unless the peer does first.
    fn peer_closed(&mut self, conn: ConnId, close: Close) {
        let now = self.now;
        let linger = self.config.close_linger;
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.phase == Phase::Closed {
            return;
        }
        c.phase = Phase::Closed;
        c.held.clear();
        c.close_at = Some(now + linger);
        let fin = if c.connect_finished { None } else { c.session };
        c.connect_finished = true;
        self.events.push_back(SessionEvent::Closed {
            session: conn,
            close,
            by_peer: true,
        });
        if let Some(stream) = fin {
            self.book.finish(&mut self.host, conn, stream);
        }
    }

    /// Server: the request's header fields.
    fn on_request(&mut self, conn: ConnId, stream: u64, fields: &[Field]) {
        let get = |name: &str| {
            fields
                .iter()
                .find(|f| f.name == name.as_bytes())
                .map(|f| String::from_utf8_lossy(&f.value).into_owned())
        };
        let method = get(":method");
        let protocol = get(":protocol");
        let status = if method.as_deref() != Some("CONNECT") {
            "404"
        } else if protocol.as_deref() != Some("webtransport") {
            "501"
        } else if get(":scheme").is_none() || get(":authority").is_none() || get(":path").is_none()
        {
            "400"
        } else if self
            .conns
            .get(&conn)
            .is_some_and(|c| c.session.is_some() || c.phase != Phase::Pending)
        {
            "429"
        } else {
            "200"
        };
        if status != "200" {
            let headers = self.encode_fields(&[Field::new(":status", status)]);
            self.book.write(&mut self.host, conn, stream, &headers);
            self.book.finish(&mut self.host, conn, stream);
            self.book.stop(&mut self.host, conn, stream, h3::NO_ERROR);
            if let Some(c) = self.conns.get_mut(&conn) {
                c.inbound.insert(stream, Inbound::Discard);
            }
            return;
        }
        let fields = self
            .config
            .response_headers
            .clone()
            .unwrap_or_else(qpack::webtransport_ok);
        let headers = self.encode_fields(&fields);
        self.book.write(&mut self.host, conn, stream, &headers);
        let path = get(":path").unwrap_or_default();
        if let Some(c) = self.conns.get_mut(&conn) {
            c.session = Some(stream);
            c.path = path;
            if let Some(Inbound::Request(st)) = c.inbound.get_mut(&stream) {
                st.session = true;
            }
        }
        self.open_session(conn);
    }

    /// Client: the CONNECT's answer.
    fn on_response(&mut self, conn: ConnId, fields: &[Field]) {
        let status = fields
            .iter()
            .find(|f| f.name == b":status")
            .map(|f| String::from_utf8_lossy(&f.value).into_owned())
            .unwrap_or_default();
        if status.len() == 3 && status.starts_with('2') {
            self.open_session(conn);
            return;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.phase = Phase::Closed;
            c.held.clear();
        }
        self.events.push_back(SessionEvent::Closed {
            session: conn,
            close: Close::Other(format!("CONNECT answered {status:?}")),
            by_peer: true,
        });
        self.host.close(self.now, conn, h3::NO_ERROR, "");
    }

    /// The session is open: report it, then what was held for it.
    fn open_session(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.phase != Phase::Pending {
            return;
        }
        c.phase = Phase::Open;
        let sid = c.session;
        let held = std::mem::take(&mut c.held);
        self.events.push_back(SessionEvent::Opened {
            session: conn,
            path: c.path.clone(),
        });
        let mut refused = Vec::new();
        for (id, event) in held {
            if Some(id) == sid {
                self.events.push_back(event);
            } else if let SessionEvent::Data { stream, .. } = event {
                refused.push(stream);
            }
        }
        refused.dedup();
        for stream in refused {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.inbound.insert(stream, Inbound::Discard);
            }
            self.refuse_stream(conn, stream);
        }
    }

    fn on_datagram(&mut self, conn: ConnId, payload: &[u8]) {
        let parsed = Datagram::parse(payload).and_then(|d| d.stream_id().map(|id| (id, d.payload)));
        match parsed {
            Ok((sid, body)) => {
                let event = SessionEvent::Datagram {
                    session: conn,
                    payload: body.to_vec(),
                };
                let expected = self.conns.get(&conn).and_then(|c| c.session);
                match expected {
                    Some(s) if s == sid => self.emit(conn, sid, event),
                    // Server before the CONNECT was read: hold it under the id it names.
                    None => self.emit(conn, sid, event),
                    Some(_) => {}
                }
            }
            Err(_) => self.fail(conn, h3::DATAGRAM_ERROR, "malformed HTTP datagram"),
        }
    }

    /// Closes QUIC connections whose linger after a session close expired.
    fn linger(&mut self) {
        let now = self.now;
        let due: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| c.close_at.is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            if let Some(c) = self.conns.get_mut(&id) {
                c.close_at = None;
            }
            self.host.close(now, id, h3::NO_ERROR, "");
        }
    }
}

impl Sessions for WtSessions {
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.now = now;
        self.host.handle_datagram(now, source, payload);
        self.collect();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.host.handle_timeout(now);
        self.collect();
        self.linger();
        self.collect();
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.collect();
        self.events.pop_front()
    }

    fn drive(&mut self, now: Instant) {
        self.now = now;
        self.linger();
        // What this layer answers by itself while collecting (SETTINGS, the CONNECT's answer, a
        // FIN after a close) goes out in this same call.
        for _ in 0..8 {
            self.book.flush(&mut self.host);
            self.host.drive(now);
            if !self.host.has_events() {
                break;
            }
            self.collect();
        }
        // Forget connections the host has drained.
        let host = &mut self.host;
        self.conns
            .retain(|id, c| c.phase != Phase::Closed || host.connection(*id).is_some());
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.host.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let linger = self.conns.values().filter_map(|c| c.close_at).min();
        match (self.host.poll_timeout(), linger) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn key_log(&self) -> String {
        self.host.key_log()
    }

    fn turned_away(&self) -> u64 {
        self.host.turned_away()
    }

    fn idle_notice_lateness(&self) -> std::time::Duration {
        self.host.idle_notice_lateness()
    }

    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        path: &str,
    ) -> Result<ConnId, QuicError> {
        self.now = now;
        let conn = self.host.connect(now, remote)?;
        let mut c = Conn::new();
        c.path = path.to_owned();
        self.conns.insert(conn, c);
        self.collect();
        Ok(conn)
    }

    fn open(&mut self, session: ConnId, bidi: bool) -> Option<u64> {
        let c = self.conns.get(&session)?;
        if c.phase != Phase::Open {
            return None;
        }
        let sid = c.session?;
        let stream = StreamBook::open(&mut self.host, session, bidi)?;
        let mut prefix = Vec::new();
        if bidi {
            BidiPrefix::WebTransport(VarInt::new(sid).ok()?).emit(&mut prefix);
        } else {
            UniStreamType::WebTransport(VarInt::new(sid).ok()?).emit(&mut prefix);
        }
        self.book.write(&mut self.host, session, stream, &prefix);
        if let Some(c) = self.conns.get_mut(&session) {
            c.inbound.insert(stream, Inbound::Wt { session: sid });
        }
        Some(stream)
    }

    fn write(&mut self, session: ConnId, stream: u64, bytes: &[u8]) {
        self.book.write(&mut self.host, session, stream, bytes);
    }

    fn finish(&mut self, session: ConnId, stream: u64) {
        self.book.finish(&mut self.host, session, stream);
    }

    fn reset(&mut self, session: ConnId, stream: u64, code: u32) {
        let wire = self.wire_code(code);
        self.book.reset(&mut self.host, session, stream, wire);
    }

    fn stop(&mut self, session: ConnId, stream: u64, code: u32) {
        let wire = self.wire_code(code);
        self.book.stop(&mut self.host, session, stream, wire);
    }

    fn send_datagram(&mut self, session: ConnId, payload: &[u8]) -> bool {
        let Some(sid) = self
            .conns
            .get(&session)
            .filter(|c| c.phase == Phase::Open)
            .and_then(|c| c.session)
        else {
            return false;
        };
        let Ok(d) = Datagram::for_stream(sid, payload) else {
            return false;
        };
        let bytes = Bytes::from(d.to_vec());
        self.host
            .connection(session)
            .is_some_and(|c| c.datagrams().send(bytes, true).is_ok())
    }

    fn close(&mut self, now: Instant, session: ConnId, code: u32, reason: &str) {
        self.now = now;
        let linger = self.config.close_linger;
        let Some(c) = self.conns.get_mut(&session) else {
            return;
        };
        if c.phase == Phase::Closed {
            return;
        }
        let was_open = c.phase == Phase::Open;
        c.phase = Phase::Closed;
        c.held.clear();
        let connect = if c.connect_finished { None } else { c.session };
        c.connect_finished = true;
        self.events.push_back(SessionEvent::Closed {
            session,
            close: Close::Application {
                code: u64::from(code),
                reason: reason.to_owned(),
            },
            by_peer: false,
        });
        match connect {
            Some(stream) if was_open => {
                let capsule = capsule::close_session(code, reason.as_bytes());
                let frame = Frame::Data(&capsule).to_vec();
                self.book.write(&mut self.host, session, stream, &frame);
                self.book.finish(&mut self.host, session, stream);
                if let Some(c) = self.conns.get_mut(&session) {
                    c.close_at = Some(now + linger);
                }
            }
            // No session on the wire yet: nothing to say over HTTP/3.
            _ => self.host.close(now, session, h3::NO_ERROR, reason),
        }
        self.collect();
    }

    fn host_mut(&mut self) -> &mut QuicHost {
        &mut self.host
    }
}
