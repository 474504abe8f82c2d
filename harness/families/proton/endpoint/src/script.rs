//! The scripted peer: a QUIC client (or server) that does exactly what the scenario's steps say
//! and reports, as events, everything the implementation under test does at stream level.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_proton_wire::{Message, StreamReader};
use handshake_quic::quinn_proto::{Dir, StreamEvent};
use handshake_quic::{Admission, ConnId, QuicEvent, QuicHost};

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
}

impl ScriptPeer {
    /// A scripted client of `remote` (the IUT is a server), or a scripted server that accepts
    /// every connection (the IUT is a client).
    pub fn new(mut host: QuicHost, remote: SocketAddr, server: bool, now: Instant) -> ScriptPeer {
        host.set_admission(if server { Admission::Accept } else { Admission::Refuse });
        let mut p = ScriptPeer {
            host,
            remote,
            readers: BTreeMap::new(),
            ended: BTreeMap::new(),
            outbox: BTreeMap::new(),
            events: VecDeque::new(),
            made: false,
            server,
        };
        p.step(now);
        p
    }

    /// Its QUIC host.
    pub fn host(&self) -> &QuicHost {
        &self.host
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

    /// Opens a stream; `Ok(None)`: QUIC flow control does not allow it now (reported as a
    /// `blocked` event).
    pub fn open(&mut self, now: Instant, conn: ConnId, bidi: bool) -> Result<Option<u64>, String> {
        let c = self.host.connection(conn).ok_or_else(|| format!("connection {conn} is gone"))?;
        let id = c.streams().open(if bidi { Dir::Bi } else { Dir::Uni });
        let id = id.map(u64::from);
        match id {
            Some(id) => {
                self.readers.insert((conn, id), self.reader());
            }
            None => self.events.push_back(ProtonEvent::Blocked {
                conn,
                what: format!("open_{} (the IUT's MAX_STREAMS)", if bidi { "bi" } else { "uni" }),
            }),
        }
        self.step(now);
        Ok(id)
    }

    fn reader(&self) -> StreamReader {
        if self.server {
            StreamReader::new()
        } else {
            StreamReader::values_only()
        }
    }

    fn conn(&mut self, conn: ConnId) -> Result<&mut handshake_quic::quinn_proto::Connection, String> {
        self.host.connection(conn).ok_or_else(|| format!("connection {conn} is gone"))
    }

    /// Writes bytes on a stream.
    pub fn write(&mut self, now: Instant, conn: ConnId, stream: u64, bytes: &[u8]) -> Result<(), String> {
        let mut outbox = self.outbox.remove(&conn).unwrap_or_default();
        let c = self.conn(conn)?;
        outbox.write(c, streams::stream_id(stream), bytes);
        self.outbox.insert(conn, outbox);
        self.step(now);
        Ok(())
    }

    /// Ends a stream (FIN) after what was written.
    pub fn fin(&mut self, now: Instant, conn: ConnId, stream: u64) -> Result<(), String> {
        let c = self.conn(conn)?;
        c.send_stream(streams::stream_id(stream))
            .finish()
            .map_err(|e| format!("fin on stream {stream}: {e}"))?;
        self.step(now);
        Ok(())
    }

    /// Resets a stream (RESET_STREAM).
    pub fn reset(&mut self, now: Instant, conn: ConnId, stream: u64, code: u64) -> Result<(), String> {
        let c = self.conn(conn)?;
        c.send_stream(streams::stream_id(stream))
            .reset(streams::varint(code))
            .map_err(|e| format!("reset on stream {stream}: {e}"))?;
        self.step(now);
        Ok(())
    }

    /// Asks the IUT to stop sending on a stream (STOP_SENDING).
    pub fn stop_sending(&mut self, now: Instant, conn: ConnId, stream: u64, code: u64) -> Result<(), String> {
        let c = self.conn(conn)?;
        c.recv_stream(streams::stream_id(stream))
            .stop(streams::varint(code))
            .map_err(|e| format!("stop_sending on stream {stream}: {e}"))?;
        self.step(now);
        Ok(())
    }

    /// Closes a connection with an application code.
    pub fn close(&mut self, now: Instant, conn: ConnId, code: u64, reason: &str) {
        self.host.close(now, conn, code, reason);
        self.step(now);
    }

    /// Takes one datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.host.handle_datagram(now, source, payload);
        self.step(now);
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.host.handle_timeout(now);
        self.step(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.host.poll_transmit()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<ProtonEvent> {
        self.events.pop_front()
    }

    /// When to call [`ScriptPeer::handle_timeout`].
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
            self.read_all();
            self.host.drive(now);
            if !self.host.has_events() {
                break;
            }
        }
    }

    fn on_quic(&mut self, event: QuicEvent) {
        match event {
            QuicEvent::Accepted { .. } => {}
            QuicEvent::Refused { .. } => self.events.push_back(ProtonEvent::RefusedIncoming),
            QuicEvent::Connected { conn, alpn } => self.events.push_back(ProtonEvent::Connected {
                conn,
                alpn: alpn.map(|a| String::from_utf8_lossy(&a).into_owned()),
            }),
            QuicEvent::Ended { conn, close, by_peer } => {
                self.events.push_back(ProtonEvent::Ended { conn, close, by_peer });
            }
            QuicEvent::Stream { conn, event } => match event {
                StreamEvent::Opened { dir } => {
                    while let Some(id) = self.host.connection(conn).and_then(|c| c.streams().accept(dir)) {
                        let id = u64::from(id);
                        self.readers.insert((conn, id), self.reader());
                        self.events.push_back(ProtonEvent::StreamOpened { conn, stream: id });
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
                    if let (Some(outbox), Some(c)) = (self.outbox.get_mut(&conn), self.host.connection(conn)) {
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
            let Some(c) = self.host.connection(*conn) else { continue };
            let r = streams::read(c, streams::stream_id(*id));
            let mut input = r.data.as_slice();
            while let Some(m) = reader.next(&mut input) {
                let event = match m {
                    Ok(Message::Discriminator(d)) => ProtonEvent::Discriminator { conn: *conn, stream: *id, byte: d.byte() },
                    Err(handshake_proton_wire::StreamError::UnknownDiscriminator(byte)) => {
                        ProtonEvent::Discriminator { conn: *conn, stream: *id, byte }
                    }
                    Ok(Message::Value(value)) => ProtonEvent::Value { conn: *conn, stream: *id, value },
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
                self.events.push_back(ProtonEvent::Fin { conn: *conn, stream: *id, pending: reader.pending() });
            }
            if let Some(code) = r.reset {
                self.ended.insert((*conn, *id), true);
                self.events.push_back(ProtonEvent::Reset { conn: *conn, stream: *id, code });
            }
        }
    }
}
