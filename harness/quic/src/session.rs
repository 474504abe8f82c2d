//! Application sessions over QUIC, whatever carries them: the seam between a protocol's endpoints
//! (Dark Tower's controller, handler and client) and its transports (bare QUIC here; WebTransport
//! over HTTP/3 in `handshake-webtransport`).
//!
//! A session is one QUIC connection (bare QUIC) or the one WebTransport session on it. Its
//! streams are QUIC streams, named by their QUIC stream id; the bytes an application reads and
//! writes are its own (a WebTransport stream's type and session-id prefix never reach it).
//! Reset and stop-sending codes are the application's u32 codes; each transport puts them on the
//! wire its way (raw, or mapped into the HTTP/3 WebTransport error space) and reads them back.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;
use handshake_core::Instant;
use quinn_proto::{Dir, StreamEvent, VarInt};

use crate::streams::{self, stream_id, Outbox};
use crate::{Close, ConnId, QuicError, QuicEvent, QuicHost};

/// What happened to the sessions of a host, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionEvent {
    /// The session is open: a client's session accepted (server), or ours established (client).
    Opened {
        /// The session (its connection).
        session: ConnId,
        /// The path the client asked for (WebTransport's `:path`; empty over bare QUIC).
        path: String,
    },
    /// Bytes of a stream, in order (the first event of a stream the peer opened says so).
    Data {
        /// The session.
        session: ConnId,
        /// The QUIC stream id.
        stream: u64,
        /// The bytes (possibly none, with `fin`).
        bytes: Vec<u8>,
        /// The stream ended after them.
        fin: bool,
    },
    /// The peer reset a stream it was sending on.
    Reset {
        /// The session.
        session: ConnId,
        /// The QUIC stream id.
        stream: u64,
        /// The application's code, if the wire code is one the transport can read back.
        code: Option<u32>,
        /// The code on the wire.
        wire: u64,
    },
    /// The peer asked this side to stop sending on a stream (STOP_SENDING).
    Stopped {
        /// The session.
        session: ConnId,
        /// The QUIC stream id.
        stream: u64,
        /// The application's code, if readable.
        code: Option<u32>,
        /// The code on the wire.
        wire: u64,
    },
    /// A datagram of the session (its payload, without any session prefix).
    Datagram {
        /// The session.
        session: ConnId,
        /// The payload.
        payload: Vec<u8>,
    },
    /// The session ended.
    Closed {
        /// The session.
        session: ConnId,
        /// How its connection ended (or the session-close code for WebTransport).
        close: Close,
        /// The peer ended it.
        by_peer: bool,
    },
}

/// How application reset codes go on the wire (Dark Tower DT9).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResetCodes {
    /// Mapped into the HTTP/3 WebTransport application error space.
    #[default]
    Mapped,
    /// The code itself (bare QUIC always; WebTransport stacks such as wtransport).
    Raw,
}

/// Sessions over QUIC, sans-I/O: the caller feeds datagrams and instants, polls events, acts, then
/// calls [`Sessions::drive`] and drains [`Sessions::poll_transmit`].
pub trait Sessions: fmt::Debug + Send {
    /// Takes one received UDP datagram.
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]);
    /// Fires the timers due at `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// The next event.
    fn poll_event(&mut self) -> Option<SessionEvent>;
    /// After input and the application's reaction: flushes writes, queues datagrams to send.
    fn drive(&mut self, now: Instant);
    /// The next UDP datagram to send.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;
    /// When [`Sessions::handle_timeout`] is next due.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The TLS secrets so far (NSS key-log format).
    fn key_log(&self) -> String;
    /// New connections its host dropped unanswered (see [`crate::host::MAX_HANDSHAKES`]).
    fn turned_away(&self) -> u64;
    /// See [`QuicHost::idle_notice_lateness`].
    fn idle_notice_lateness(&self) -> std::time::Duration;
    /// Opens a session to `remote` (`path`: WebTransport's `:path`).
    fn connect(
        &mut self,
        now: Instant,
        remote: SocketAddr,
        path: &str,
    ) -> Result<ConnId, QuicError>;
    /// Opens a stream of ours (`None`: the session is gone or the peer's stream limit is reached).
    fn open(&mut self, session: ConnId, bidi: bool) -> Option<u64>;
    /// Writes bytes on a stream (queued while flow control blocks them).
    fn write(&mut self, session: ConnId, stream: u64, bytes: &[u8]);
    /// Ends a stream with a FIN after what is queued.
    fn finish(&mut self, session: ConnId, stream: u64);
    /// Resets a stream of ours with an application code (RESET_STREAM).
    fn reset(&mut self, session: ConnId, stream: u64, code: u32);
    /// Asks the peer to stop sending on a stream (STOP_SENDING).
    fn stop(&mut self, session: ConnId, stream: u64, code: u32);
    /// Sends a datagram (dropped when the peer does not take datagrams or it is too big: datagrams
    /// are unreliable anyway); whether it was queued.
    fn send_datagram(&mut self, session: ConnId, payload: &[u8]) -> bool;
    /// Closes a session with an application code.
    fn close(&mut self, now: Instant, session: ConnId, code: u32, reason: &str);
    /// The QUIC host underneath (for scripted peers that write what no correct transport would).
    fn host_mut(&mut self) -> &mut QuicHost;
}

/// The stream bookkeeping every transport needs: queued writes per connection, and which
/// streams have ended their receive side (so nothing is reported twice).
#[derive(Debug, Default)]
pub struct StreamBook {
    outboxes: BTreeMap<ConnId, Outbox>,
    ended: BTreeSet<(ConnId, u64)>,
}

impl StreamBook {
    /// Queues bytes (and writes what fits).
    pub fn write(&mut self, host: &mut QuicHost, conn: ConnId, stream: u64, bytes: &[u8]) {
        if let Some(c) = host.connection(conn) {
            self.outboxes
                .entry(conn)
                .or_default()
                .write(c, stream_id(stream), bytes);
        }
    }

    /// FIN after what is queued.
    pub fn finish(&mut self, host: &mut QuicHost, conn: ConnId, stream: u64) {
        if let Some(c) = host.connection(conn) {
            self.outboxes
                .entry(conn)
                .or_default()
                .finish(c, stream_id(stream));
        }
    }

    /// RESET_STREAM with a wire code; drops what was queued.
    pub fn reset(&mut self, host: &mut QuicHost, conn: ConnId, stream: u64, wire: u64) {
        if let Some(o) = self.outboxes.get_mut(&conn) {
            o.forget(stream_id(stream));
        }
        if let Some(c) = host.connection(conn) {
            let _ = c
                .send_stream(stream_id(stream))
                .reset(VarInt::from_u64(wire).unwrap_or(VarInt::MAX));
        }
    }

    /// STOP_SENDING with a wire code.
    pub fn stop(&mut self, host: &mut QuicHost, conn: ConnId, stream: u64, wire: u64) {
        self.ended.insert((conn, stream));
        if let Some(c) = host.connection(conn) {
            let _ = c
                .recv_stream(stream_id(stream))
                .stop(VarInt::from_u64(wire).unwrap_or(VarInt::MAX));
        }
    }

    /// Retries every queued write.
    pub fn flush(&mut self, host: &mut QuicHost) {
        for (conn, outbox) in &mut self.outboxes {
            if let Some(c) = host.connection(*conn) {
                outbox.flush(c);
            }
        }
    }

    /// Opens a stream of ours.
    pub fn open(host: &mut QuicHost, conn: ConnId, bidi: bool) -> Option<u64> {
        let dir = if bidi { Dir::Bi } else { Dir::Uni };
        host.connection(conn)?.streams().open(dir).map(u64::from)
    }

    /// The streams the peer opened since the last call.
    pub fn accept(host: &mut QuicHost, conn: ConnId) -> Vec<u64> {
        let mut opened = Vec::new();
        if let Some(c) = host.connection(conn) {
            for dir in [Dir::Bi, Dir::Uni] {
                while let Some(id) = c.streams().accept(dir) {
                    opened.push(u64::from(id));
                }
            }
        }
        opened
    }

    /// Reads what is there on a stream whose receive side has not ended: (bytes, fin, reset code).
    pub fn read(
        &mut self,
        host: &mut QuicHost,
        conn: ConnId,
        stream: u64,
    ) -> Option<streams::Readout> {
        if self.ended.contains(&(conn, stream)) {
            return None;
        }
        let out = streams::read(host.connection(conn)?, stream_id(stream));
        if out.fin || out.reset.is_some() {
            self.ended.insert((conn, stream));
        }
        Some(out)
    }

    /// Forgets a connection that ended.
    pub fn drop_connection(&mut self, conn: ConnId) {
        self.outboxes.remove(&conn);
        self.ended.retain(|(c, _)| *c != conn);
    }
}

/// Sessions over bare QUIC: the connection is the session, stream bytes are the application's,
/// codes are raw.
#[derive(Debug)]
pub struct BareSessions {
    host: QuicHost,
    book: StreamBook,
    events: VecDeque<SessionEvent>,
    /// Paths and the ALPNs each stands for, most preferred first (bare QUIC has no `:path`: an
    /// application that serves several session kinds on one port tells them apart by ALPN).
    routes: Vec<(String, Vec<Vec<u8>>)>,
    /// The path each connection of ours was opened for (reported back when it opens, whatever
    /// ALPN the server selected).
    connecting: BTreeMap<ConnId, String>,
}

impl BareSessions {
    /// Sessions on `host` (configured with the application's ALPN).
    pub fn new(host: QuicHost) -> BareSessions {
        BareSessions {
            host,
            book: StreamBook::default(),
            events: VecDeque::new(),
            routes: Vec::new(),
            connecting: BTreeMap::new(),
        }
    }

    /// Maps paths to the ALPN lists a client offers for them, most preferred first (RFC 7301:
    /// the server selects one). A session we open reports the path it was opened for, whatever
    /// the server selected; a session a client opened reports the path of the route whose first
    /// ALPN is the selected one (none, an empty path, when that is several routes'), else of the
    /// first route that lists it.
    pub fn with_offers(mut self, routes: &[(&str, Vec<Vec<u8>>)]) -> BareSessions {
        self.routes = routes
            .iter()
            .map(|(p, a)| ((*p).to_owned(), a.clone()))
            .collect();
        self
    }

    /// The path of a session a client opened with `alpn`.
    fn path_of(&self, alpn: Option<&Vec<u8>>) -> String {
        let Some(alpn) = alpn else {
            return String::new();
        };
        let first: Vec<&String> = self
            .routes
            .iter()
            .filter(|(_, a)| a.first() == Some(alpn))
            .map(|(p, _)| p)
            .collect();
        match first.as_slice() {
            [one] => (*one).clone(),
            // The first choice of several routes: the ALPN does not tell them apart.
            [_, _, ..] => String::new(),
            [] => self
                .routes
                .iter()
                .find(|(_, a)| a.contains(alpn))
                .map(|(p, _)| p.clone())
                .unwrap_or_default(),
        }
    }

    /// Turns the host's events into session events.
    fn collect(&mut self) {
        while let Some(event) = self.host.poll_event() {
            match event {
                QuicEvent::Accepted { .. } | QuicEvent::Refused { .. } => {}
                QuicEvent::Connected { conn, alpn } => {
                    let path = match self.connecting.remove(&conn) {
                        Some(p) => p,
                        None => self.path_of(alpn.as_ref()),
                    };
                    self.events.push_back(SessionEvent::Opened {
                        session: conn,
                        path,
                    })
                }
                QuicEvent::Stream { conn, event } => self.on_stream(conn, event),
                QuicEvent::Datagram { conn, payload } => {
                    self.events.push_back(SessionEvent::Datagram {
                        session: conn,
                        payload: payload.to_vec(),
                    })
                }
                QuicEvent::Ended {
                    conn,
                    close,
                    by_peer,
                } => {
                    self.book.drop_connection(conn);
                    self.connecting.remove(&conn);
                    self.events.push_back(SessionEvent::Closed {
                        session: conn,
                        close,
                        by_peer,
                    });
                }
            }
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
                let wire = error_code.into_inner();
                self.events.push_back(SessionEvent::Stopped {
                    session: conn,
                    stream: u64::from(id),
                    code: u32::try_from(wire).ok(),
                    wire,
                });
            }
            StreamEvent::Finished { .. } => {}
        }
    }

    fn read(&mut self, conn: ConnId, stream: u64) {
        let Some(out) = self.book.read(&mut self.host, conn, stream) else {
            return;
        };
        if !out.data.is_empty() || out.fin {
            self.events.push_back(SessionEvent::Data {
                session: conn,
                stream,
                bytes: out.data,
                fin: out.fin,
            });
        }
        if let Some(wire) = out.reset {
            self.events.push_back(SessionEvent::Reset {
                session: conn,
                stream,
                code: u32::try_from(wire).ok(),
                wire,
            });
        }
    }
}

impl Sessions for BareSessions {
    fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.host.handle_datagram(now, source, payload);
        self.collect();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
        self.collect();
    }

    fn poll_event(&mut self) -> Option<SessionEvent> {
        self.collect();
        self.events.pop_front()
    }

    fn drive(&mut self, now: Instant) {
        self.book.flush(&mut self.host);
        self.host.drive(now);
        self.collect();
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.host.poll_transmit()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.host.poll_timeout()
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
        let conn = match self.routes.iter().find(|(p, _)| p == path) {
            Some((_, alpns)) => self.host.connect_alpn(now, remote, alpns)?,
            None => self.host.connect(now, remote)?,
        };
        self.connecting.insert(conn, path.to_owned());
        Ok(conn)
    }

    fn open(&mut self, session: ConnId, bidi: bool) -> Option<u64> {
        StreamBook::open(&mut self.host, session, bidi)
    }

    fn write(&mut self, session: ConnId, stream: u64, bytes: &[u8]) {
        self.book.write(&mut self.host, session, stream, bytes);
    }

    fn finish(&mut self, session: ConnId, stream: u64) {
        self.book.finish(&mut self.host, session, stream);
    }

    fn reset(&mut self, session: ConnId, stream: u64, code: u32) {
        self.book
            .reset(&mut self.host, session, stream, u64::from(code));
    }

    fn stop(&mut self, session: ConnId, stream: u64, code: u32) {
        self.book
            .stop(&mut self.host, session, stream, u64::from(code));
    }

    fn send_datagram(&mut self, session: ConnId, payload: &[u8]) -> bool {
        self.host.connection(session).is_some_and(|c| {
            c.datagrams()
                .send(Bytes::copy_from_slice(payload), true)
                .is_ok()
        })
    }

    fn close(&mut self, now: Instant, session: ConnId, code: u32, reason: &str) {
        self.host.close(now, session, u64::from(code), reason);
        self.collect();
    }

    fn host_mut(&mut self) -> &mut QuicHost {
        &mut self.host
    }
}
