//! The scripted peer: a QUIC client (or server) that does exactly what the scenario's steps say
//! and reports, as events, everything the implementation under test does at stream level.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_proton_wire::{Message, StreamReader};
use handshake_quic::quinn_proto::{Dir, FinishError, StreamEvent};
use handshake_quic::{Admission, ConnId, QuicEvent, QuicHost};

use crate::acks::AckTracker;
use crate::event::ProtonEvent;
use crate::streams::{self, Outbox};

/// The scripted peer (see the module docs).
#[derive(Debug)]
pub struct ScriptPeer {
    host: QuicHost,
    remote: SocketAddr,
    /// Reads per (connection, stream): the IUT's streams start with a discriminator when the IUT
    /// is the client; the server's streams carry values only.
    readers: BTreeMap<(ConnId, u64), StreamReader>,
    ended: BTreeMap<(ConnId, u64), bool>,
    outbox: BTreeMap<ConnId, Outbox>,
    events: VecDeque<ProtonEvent>,
    made: bool,
    server: bool,
    /// Streams asked for but not yet allowed (before the handshake, or beyond the IUT's
    /// MAX_STREAMS), per connection, in order: (bidi, the id they will get).
    pending_opens: BTreeMap<ConnId, VecDeque<(bool, u64)>>,
    /// What the script did on a stream not yet open, done when it opens.
    deferred: BTreeMap<(ConnId, u64), Vec<Deferred>>,
    /// The next stream id per (connection, bidi).
    next_id: BTreeMap<(ConnId, bool), u64>,
    connected: BTreeMap<ConnId, bool>,
    /// Connections that ended: nothing more goes out on them, so a stream operation on one does
    /// nothing (however long quinn still keeps it while it drains).
    closed: BTreeSet<ConnId>,
    /// Streams the script wrote on, ended or reset (at once or deferred).
    used: BTreeSet<(ConnId, u64)>,
    /// Streams the script ended (FIN): another FIN does nothing.
    finished: BTreeSet<(ConnId, u64)>,
    /// Streams the script reset: another FIN or reset does nothing.
    was_reset: BTreeSet<(ConnId, u64)>,
    blocked_reported: BTreeMap<ConnId, bool>,
    /// What the other side acknowledged of the stream data sent (see [`ScriptPeer::track_acks`]).
    acks: Option<AckTracker>,
    /// Per (connection, stream): the last u32 the IUT sent on it and how many it sent.
    received: BTreeMap<(ConnId, u64), (u32, u64)>,
}

/// A stream operation waiting for its stream to open.
#[derive(Debug, Clone)]
enum Deferred {
    Write(Vec<u8>),
    Fin,
    Reset(u64),
    Stop(u64),
}

impl ScriptPeer {
    /// A scripted client of `remote` (the IUT is a server), or a scripted server that accepts
    /// every connection (the IUT is a client).
    pub fn new(mut host: QuicHost, remote: SocketAddr, server: bool, now: Instant) -> ScriptPeer {
        host.set_admission(if server {
            Admission::Accept
        } else {
            Admission::Refuse
        });
        let mut p = ScriptPeer {
            host,
            remote,
            readers: BTreeMap::new(),
            ended: BTreeMap::new(),
            outbox: BTreeMap::new(),
            events: VecDeque::new(),
            made: false,
            server,
            pending_opens: BTreeMap::new(),
            deferred: BTreeMap::new(),
            next_id: BTreeMap::new(),
            connected: BTreeMap::new(),
            closed: BTreeSet::new(),
            used: BTreeSet::new(),
            finished: BTreeSet::new(),
            was_reset: BTreeSet::new(),
            blocked_reported: BTreeMap::new(),
            acks: None,
            received: BTreeMap::new(),
        };
        p.step(now);
        p
    }

    /// Its QUIC host.
    pub fn host(&self) -> &QuicHost {
        &self.host
    }

    /// The last u32 value the IUT sent on a stream and how many it sent there, once it sent one
    /// (what an answer to the IUT's latest request is made of).
    pub fn received(&self, conn: ConnId, stream: u64) -> Option<(u32, u64)> {
        self.received.get(&(conn, stream)).copied()
    }

    /// From now on reports, as [`ProtonEvent::Acked`], how far the other side has acknowledged
    /// the stream data sent: the point at which the implementation under test had those bytes
    /// and could act on them (a step that would race its reading of them waits for it). It
    /// decrypts every datagram a second time, so only scenarios that wait for it ask for it;
    /// ask before the first connection.
    pub fn track_acks(&mut self) {
        self.acks.get_or_insert_with(AckTracker::new);
    }

    /// Opens a connection to the IUT (`alpn`: other protocols than `proton`).
    pub fn connect(&mut self, now: Instant, alpn: Option<&[Vec<u8>]>) -> Result<ConnId, String> {
        let conn = match alpn {
            Some(alpn) => self.host.connect_alpn(now, self.remote, alpn),
            None => self.host.connect(now, self.remote),
        }
        .map_err(|e| e.to_string())?;
        self.made = true;
        self.step(now);
        Ok(conn)
    }

    /// Opens a stream and returns the id it gets. Like an async QUIC client it waits for the
    /// IUT's credit: until the handshake is done, or beyond the IUT's MAX_STREAMS (reported as a
    /// `blocked` event), the stream opens later and what the script does on it waits too.
    pub fn open(&mut self, now: Instant, conn: ConnId, bidi: bool) -> Result<u64, String> {
        self.host
            .connection(conn)
            .ok_or_else(|| format!("connection {conn} is gone"))?;
        let base = match (self.server, bidi) {
            (false, true) => 0,
            (true, true) => 1,
            (false, false) => 2,
            (true, false) => 3,
        };
        let next = self.next_id.entry((conn, bidi)).or_insert(base);
        let id = *next;
        *next += 4;
        self.pending_opens
            .entry(conn)
            .or_default()
            .push_back((bidi, id));
        self.step(now);
        Ok(id)
    }

    fn open_pending(&mut self) {
        let conns: Vec<ConnId> = self.pending_opens.keys().copied().collect();
        for conn in conns {
            while let Some(&(bidi, want)) = self.pending_opens.get(&conn).and_then(VecDeque::front)
            {
                let Some(c) = self.host.connection(conn) else {
                    self.pending_opens.remove(&conn);
                    break;
                };
                let Some(id) = c.streams().open(if bidi { Dir::Bi } else { Dir::Uni }) else {
                    if self.connected.get(&conn).copied().unwrap_or(false)
                        && !self.blocked_reported.get(&conn).copied().unwrap_or(false)
                    {
                        self.blocked_reported.insert(conn, true);
                        self.events.push_back(ProtonEvent::Blocked {
                            conn,
                            what: format!(
                                "open_{} stream {want} (the IUT's MAX_STREAMS)",
                                if bidi { "bi" } else { "uni" }
                            ),
                        });
                    }
                    break;
                };
                let id = u64::from(id);
                if let Some(q) = self.pending_opens.get_mut(&conn) {
                    q.pop_front();
                }
                self.blocked_reported.insert(conn, false);
                self.readers.insert((conn, id), self.reader());
                for op in self.deferred.remove(&(conn, id)).unwrap_or_default() {
                    if let Err(e) = self.apply(conn, id, op) {
                        self.events
                            .push_back(ProtonEvent::Blocked { conn, what: e });
                    }
                }
            }
        }
    }

    fn reader(&self) -> StreamReader {
        if self.server {
            StreamReader::new()
        } else {
            StreamReader::values_only()
        }
    }

    fn conn(
        &mut self,
        conn: ConnId,
    ) -> Result<&mut handshake_quic::quinn_proto::Connection, String> {
        self.host
            .connection(conn)
            .ok_or_else(|| format!("connection {conn} is gone"))
    }

    fn is_pending(&self, conn: ConnId, stream: u64) -> bool {
        self.pending_opens
            .get(&conn)
            .is_some_and(|q| q.iter().any(|(_, id)| *id == stream))
    }

    /// Acting on a stream of ours that was never opened opens it, and every lower one of its
    /// kind not opened yet (as QUIC creates streams, RFC 9000 §2.1): a script may write on the
    /// 4th stream without an `open_bi`, and what it does there waits, as after `open_bi`, while
    /// the IUT's MAX_STREAMS blocks it. Nothing opens on a connection that ended.
    fn open_up_to(&mut self, now: Instant, conn: ConnId, stream: u64) -> Result<(), String> {
        let ours = (stream & 1 == 1) == self.server;
        let bidi = stream & 2 == 0;
        let base = stream & 3;
        if !ours || self.closed.contains(&conn) {
            return Ok(());
        }
        let next = self.next_id.get(&(conn, bidi)).copied().unwrap_or(base);
        let to_open = stream.checked_sub(next).map_or(0, |gap| gap / 4 + 1);
        // As `open_bi`'s count: far more than any QUIC peer allows at once.
        if to_open > 1024 {
            return Err(format!(
                "stream {stream} is more than 1024 streams past the next one to open ({next})"
            ));
        }
        for _ in 0..to_open {
            self.open(now, conn, bidi)?;
        }
        Ok(())
    }

    /// Does `op` now, or when the stream opens.
    fn operate(
        &mut self,
        now: Instant,
        conn: ConnId,
        stream: u64,
        op: Deferred,
    ) -> Result<(), String> {
        if !matches!(op, Deferred::Stop(_)) {
            self.used.insert((conn, stream));
        }
        let blocked_before = self.blocked_reported.get(&conn).copied().unwrap_or(false);
        // A STOP_SENDING on our own unidirectional stream has no side to act on (an error below).
        if !(matches!(op, Deferred::Stop(_)) && stream & 2 != 0) {
            self.open_up_to(now, conn, stream)?;
        }
        if self.is_pending(conn, stream) {
            // Written on again while the IUT's MAX_STREAMS still blocks it: said again, so that
            // the same act answers the same (a learner's `fourth_stream` asked twice would
            // otherwise split every state in two: blocked said, or not yet).
            if blocked_before && matches!(op, Deferred::Write(_)) {
                self.events.push_back(ProtonEvent::Blocked {
                    conn,
                    what: format!("a write on stream {stream} (the IUT's MAX_STREAMS)"),
                });
            }
            self.deferred.entry((conn, stream)).or_default().push(op);
            return Ok(());
        }
        self.apply(conn, stream, op)?;
        self.step(now);
        Ok(())
    }

    fn apply(&mut self, conn: ConnId, stream: u64, op: Deferred) -> Result<(), String> {
        let id = streams::stream_id(stream);
        // A unidirectional stream has one side only: quinn asserts (panics) when asked for the
        // side a stream does not have, and a scenario may name any stream.
        let uni = stream & 2 != 0;
        let ours = (stream & 1 == 1) == self.server;
        let missing = match op {
            Deferred::Stop(_) if uni && ours => Some("no receiving side here"),
            Deferred::Write(_) | Deferred::Fin | Deferred::Reset(_) if uni && !ours => {
                Some("no sending side here")
            }
            _ => None,
        };
        if let Some(why) = missing {
            return Err(format!("unidirectional stream {stream} has {why}"));
        }
        // quinn keeps state for the other side's streams before that side opens them; acting on
        // one then (a FIN on stream 5 the IUT never opened) corrupts its stream counts (an
        // overflow on the ACK). Only streams the other side opened are acted on.
        if !ours && !self.readers.contains_key(&(conn, stream)) {
            return Err(format!(
                "stream {stream} is the other side's, and it has not opened it"
            ));
        }
        // Nothing more goes out on a connection that ended, nor a second FIN or reset.
        let key = (conn, stream);
        let moot = match op {
            Deferred::Fin => self.finished.contains(&key) || self.was_reset.contains(&key),
            Deferred::Reset(_) => self.was_reset.contains(&key),
            Deferred::Write(_) | Deferred::Stop(_) => false,
        };
        if self.closed.contains(&conn) || moot {
            return Ok(());
        }
        match op {
            Deferred::Write(bytes) => {
                let mut outbox = self.outbox.remove(&conn).unwrap_or_default();
                let c = self.conn(conn)?;
                outbox.write(c, id, &bytes);
                self.outbox.insert(conn, outbox);
            }
            Deferred::Fin => {
                self.flush_outbox(conn);
                match self.conn(conn)?.send_stream(id).finish() {
                    // The IUT asked for no more (STOP_SENDING): there is nothing to end.
                    Ok(()) | Err(FinishError::Stopped(_)) => {}
                    Err(e) => return Err(format!("fin on stream {stream}: {e}")),
                }
                self.finished.insert(key);
            }
            Deferred::Reset(code) => {
                match self
                    .conn(conn)?
                    .send_stream(id)
                    .reset(streams::varint(code))
                {
                    Ok(()) => {}
                    // quinn forgets a stream once its FIN is acknowledged: nothing to reset.
                    Err(_) if self.finished.contains(&key) => {}
                    Err(e) => return Err(format!("reset on stream {stream}: {e}")),
                }
                self.was_reset.insert(key);
            }
            Deferred::Stop(code) => {
                // quinn refuses a stream whose receiving side was stopped before or is over:
                // asked again, there is nothing more to stop (a second `stop_sending` of a
                // script whose IUT kept the connection open must not fail the harness's step).
                // (`ClosedStream` is the only error it returns.)
                let _ = self.conn(conn)?.recv_stream(id).stop(streams::varint(code));
            }
        }
        Ok(())
    }

    fn flush_outbox(&mut self, conn: ConnId) {
        if let (Some(outbox), Some(c)) = (self.outbox.get_mut(&conn), self.host.connection(conn)) {
            outbox.flush(c);
        }
    }

    /// Writes bytes on a stream.
    pub fn write(
        &mut self,
        now: Instant,
        conn: ConnId,
        stream: u64,
        bytes: &[u8],
    ) -> Result<(), String> {
        self.operate(now, conn, stream, Deferred::Write(bytes.to_vec()))
    }

    /// Whether the script wrote on a stream, ended or reset it (or asked to, the stream not open
    /// yet).
    pub fn used(&self, conn: ConnId, stream: u64) -> bool {
        self.used.contains(&(conn, stream))
    }

    /// Ends a stream (FIN) after what was written; nothing when it was ended or reset before.
    pub fn fin(&mut self, now: Instant, conn: ConnId, stream: u64) -> Result<(), String> {
        self.operate(now, conn, stream, Deferred::Fin)
    }

    /// Resets a stream (RESET_STREAM); nothing when it was reset before, or its FIN acknowledged.
    pub fn reset(
        &mut self,
        now: Instant,
        conn: ConnId,
        stream: u64,
        code: u64,
    ) -> Result<(), String> {
        self.operate(now, conn, stream, Deferred::Reset(code))
    }

    /// Asks the IUT to stop sending on a stream (STOP_SENDING); nothing when asked before, or its
    /// receiving side is over.
    pub fn stop_sending(
        &mut self,
        now: Instant,
        conn: ConnId,
        stream: u64,
        code: u64,
    ) -> Result<(), String> {
        self.operate(now, conn, stream, Deferred::Stop(code))
    }

    /// Closes a connection with an application code.
    pub fn close(&mut self, now: Instant, conn: ConnId, code: u64, reason: &str) {
        self.host.close(now, conn, code, reason);
        self.step(now);
    }

    /// Closes every connection still open (code 0); whether there was any.
    pub fn close_all(&mut self, now: Instant) -> bool {
        let live = self.host.live();
        for conn in &live {
            self.host.close(now, *conn, 0, "");
        }
        self.step(now);
        !live.is_empty()
    }

    /// Takes one datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.host.handle_datagram(now, source, payload);
        if let Some(acks) = &mut self.acks {
            for (conn, stream, offset) in acks.received(&self.host.key_log(), source, payload) {
                let Ok(conn) = ConnId::try_from(conn) else {
                    continue;
                };
                self.events.push_back(ProtonEvent::Acked {
                    conn,
                    stream,
                    offset,
                });
            }
        }
        self.step(now);
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
        self.step(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        let t = self.host.poll_transmit()?;
        if let Some(acks) = &mut self.acks {
            acks.sent(&self.host.key_log(), t.0, &t.1);
        }
        Some(t)
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ProtonEvent> {
        self.events.pop_front()
    }

    /// When to call [`ScriptPeer::handle_timeout`].
    /// See [`handshake_quic::QuicHost::idle_notice_lateness`].
    pub fn idle_notice_lateness(&self) -> std::time::Duration {
        self.host.idle_notice_lateness()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.host.poll_timeout()
    }

    /// A client whose connections all ended and drained (or that never connected).
    pub fn is_finished(&self) -> bool {
        !self.server && self.host.is_idle()
    }

    fn step(&mut self, now: Instant) {
        loop {
            while let Some(event) = self.host.poll_event() {
                self.on_quic(event);
            }
            self.open_pending();
            self.read_all();
            self.host.drive(now);
            if !self.host.has_events() {
                break;
            }
        }
    }

    fn on_quic(&mut self, event: QuicEvent) {
        match event {
            // Proton has no datagrams.
            QuicEvent::Accepted { .. } | QuicEvent::Datagram { .. } => {}
            QuicEvent::Refused { .. } => self.events.push_back(ProtonEvent::RefusedIncoming),
            QuicEvent::Connected { conn, alpn } => {
                self.connected.insert(conn, true);
                self.events.push_back(ProtonEvent::Connected {
                    conn,
                    alpn: alpn.map(|a| String::from_utf8_lossy(&a).into_owned()),
                });
            }
            QuicEvent::Ended {
                conn,
                close,
                by_peer,
            } => {
                self.pending_opens.remove(&conn);
                self.closed.insert(conn);
                self.events.push_back(ProtonEvent::Ended {
                    conn,
                    close,
                    by_peer,
                });
            }
            QuicEvent::Stream { conn, event } => match event {
                StreamEvent::Opened { dir } => {
                    while let Some(id) = self
                        .host
                        .connection(conn)
                        .and_then(|c| c.streams().accept(dir))
                    {
                        let id = u64::from(id);
                        self.readers.insert((conn, id), self.reader());
                        self.events
                            .push_back(ProtonEvent::StreamOpened { conn, stream: id });
                    }
                }
                StreamEvent::Stopped { id, error_code } => {
                    self.events.push_back(ProtonEvent::StopSending {
                        conn,
                        stream: u64::from(id),
                        code: error_code.into_inner(),
                    });
                }
                StreamEvent::Writable { .. } => {
                    if let (Some(outbox), Some(c)) =
                        (self.outbox.get_mut(&conn), self.host.connection(conn))
                    {
                        outbox.flush(c);
                    }
                }
                _ => {}
            },
        }
    }

    fn read_all(&mut self) {
        for ((conn, id), reader) in &mut self.readers {
            if self.ended.get(&(*conn, *id)).copied().unwrap_or(false) {
                continue;
            }
            // Send-only streams of ours (uni) have nothing to read.
            if id & 2 != 0 && (id & 1 == 0) != self.server {
                continue;
            }
            let Some(c) = self.host.connection(*conn) else {
                continue;
            };
            let r = streams::read(c, streams::stream_id(*id));
            let mut input = r.data.as_slice();
            while let Some(m) = reader.next(&mut input) {
                let event = match m {
                    Ok(Message::Discriminator(d)) => ProtonEvent::Discriminator {
                        conn: *conn,
                        stream: *id,
                        byte: d.byte(),
                    },
                    Err(handshake_proton_wire::StreamError::UnknownDiscriminator(byte)) => {
                        ProtonEvent::Discriminator {
                            conn: *conn,
                            stream: *id,
                            byte,
                        }
                    }
                    Ok(Message::Value(value)) => {
                        let seen = self.received.entry((*conn, *id)).or_insert((value, 0));
                        *seen = (value, seen.1 + 1);
                        ProtonEvent::Value {
                            conn: *conn,
                            stream: *id,
                            value,
                        }
                    }
                    Err(_) => continue,
                };
                self.events.push_back(event);
                if reader.error().is_some() {
                    // After an unknown discriminator the rest is read as values.
                    *reader = StreamReader::values_only();
                }
            }
            if r.fin {
                self.ended.insert((*conn, *id), true);
                self.events.push_back(ProtonEvent::Fin {
                    conn: *conn,
                    stream: *id,
                    pending: reader.pending(),
                });
            }
            if let Some(code) = r.reset {
                self.ended.insert((*conn, *id), true);
                self.events.push_back(ProtonEvent::Reset {
                    conn: *conn,
                    stream: *id,
                    code,
                });
            }
        }
    }
}
