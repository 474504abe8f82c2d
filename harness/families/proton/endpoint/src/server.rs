//! The reference Proton server (facts + H1–H10 of the harness's decisions, per profile).
//!
//! Ends of streams (P5, corrected: the original's code): a FIN or RESET_STREAM on a stream
//! before its discriminator fails that stream's setup (close 1; quinn discards what a reset
//! stream held, so a reset stream whose discriminator arrived but was not read yet fails its
//! setup too); after the setup every FIN ends a read early (close 5, at a u32 boundary as inside
//! one). A RESET_STREAM or STOP_SENDING after the setup closes with 5 (H7). The server never
//! closes with 0 for a FIN: the original's "Streams completed" (0) is sent only after the
//! connection has ended, so it never reaches the wire.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton_wire::{
    commit_answer, encode_u32, CloseCode, Discriminator, EventOrder, Message, StreamError,
    StreamReader,
};
use handshake_quic::quinn_proto::{Dir, StreamEvent};
use handshake_quic::{Admission, ConnId, QuicEvent, QuicHost};

use crate::event::ProtonEvent;
use crate::mutants::Mutant;
use crate::profile::{Base, Profile};
use crate::streams::{self, Outbox};

/// One client stream as the server serves it.
#[derive(Debug)]
struct Served {
    id: u64,
    opened_at: Instant,
    /// Bytes received and not yet processed.
    buf: Vec<u8>,
    fin: bool,
    reset: Option<u64>,
    /// Reset before its setup: what it held is gone (as quinn discards it) and its setup fails.
    reset_before_setup: bool,
    /// A FIN or reset was seen: nothing more is read.
    ended: bool,
    reader: StreamReader,
    /// Since when the server waits for the next whole u32 on it.
    waiting_since: Instant,
}

/// The server's state of its connection.
#[derive(Debug)]
struct Session {
    /// The client's bidirectional streams, in the order they were opened.
    streams: Vec<Served>,
    /// How many are set up (0–3).
    setup: usize,
    /// When the last was set up (or the connection taken).
    last_setup_at: Instant,
    used: BTreeSet<Discriminator>,
    events: EventOrder,
    actions: u32,
    next_push: Option<Instant>,
    outbox: Outbox,
    outbox_since: Option<Instant>,
}

/// The reference server (see the crate docs).
#[derive(Debug)]
pub struct Server {
    host: QuicHost,
    profile: Profile,
    listening_at: Instant,
    listening: bool,
    sessions: BTreeMap<ConnId, Session>,
    events: VecDeque<ProtonEvent>,
    timeout: Option<Instant>,
}

fn reason(code: CloseCode) -> &'static str {
    match code {
        CloseCode::Normal => "normal",
        CloseCode::StreamSetupError => "stream setup error",
        CloseCode::StreamAcceptError => "stream accept error",
        CloseCode::StreamSetupTimeout => "stream setup timeout",
        CloseCode::StreamOperationTimeout => "stream operation timeout",
        CloseCode::StreamError => "stream error",
    }
}

impl Server {
    /// A server on `host` (already configured with the profile's transport), started at `now`.
    pub fn new(mut host: QuicHost, profile: Profile, now: Instant) -> Server {
        host.set_admission(if profile.is(Mutant::SecondConnectionAccepted) {
            Admission::Accept
        } else {
            Admission::AcceptOne
        });
        let startup = if profile.is(Mutant::NoStartupDelay) {
            Duration::ZERO
        } else {
            profile.timers.startup
        };
        let mut s = Server {
            host,
            profile,
            listening_at: now + startup,
            listening: false,
            sessions: BTreeMap::new(),
            events: VecDeque::new(),
            timeout: None,
        };
        s.step(now);
        s
    }

    /// Its QUIC host (key log).
    pub fn host(&self) -> &QuicHost {
        &self.host
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

    /// When to call [`Server::handle_timeout`].
    /// See [`handshake_quic::QuicHost::idle_notice_lateness`].
    pub fn idle_notice_lateness(&self) -> std::time::Duration {
        self.host.idle_notice_lateness()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timeout
    }

    fn step(&mut self, now: Instant) {
        if !self.listening && now >= self.listening_at {
            self.listening = true;
            self.events.push_back(ProtonEvent::Listening);
        }
        loop {
            while let Some(event) = self.host.poll_event() {
                self.on_quic(now, event);
            }
            let ids: Vec<ConnId> = self.sessions.keys().copied().collect();
            for id in ids {
                self.advance(now, id);
            }
            self.host.drive(now);
            if !self.host.has_events() {
                break;
            }
        }
        let app = self
            .sessions
            .values()
            .filter_map(|s| self.deadline(s))
            .min();
        let listen = (!self.listening).then_some(self.listening_at);
        self.timeout = [self.host.poll_timeout(), app, listen]
            .into_iter()
            .flatten()
            .min();
    }

    fn on_quic(&mut self, now: Instant, event: QuicEvent) {
        match event {
            QuicEvent::Accepted { conn, .. } => {
                let from = now.max(self.listening_at);
                self.sessions.insert(
                    conn,
                    Session {
                        streams: Vec::new(),
                        setup: 0,
                        last_setup_at: from,
                        used: BTreeSet::new(),
                        events: EventOrder::default(),
                        actions: u32::from(self.profile.is(Mutant::ActionCounterFromOne)),
                        next_push: None,
                        outbox: Outbox::default(),
                        outbox_since: None,
                    },
                );
            }
            QuicEvent::Refused { .. } => self.events.push_back(ProtonEvent::RefusedIncoming),
            // Proton has no datagrams.
            QuicEvent::Datagram { .. } => {}
            QuicEvent::Connected { conn, alpn } => self.events.push_back(ProtonEvent::Connected {
                conn,
                alpn: alpn.map(|a| String::from_utf8_lossy(&a).into_owned()),
            }),
            QuicEvent::Stream { conn, event } => self.on_stream(now, conn, event),
            QuicEvent::Ended {
                conn,
                close,
                by_peer,
            } => {
                self.sessions.remove(&conn);
                self.events.push_back(ProtonEvent::Ended {
                    conn,
                    close,
                    by_peer,
                });
            }
        }
    }

    fn on_stream(&mut self, now: Instant, conn: ConnId, event: StreamEvent) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        let Some(c) = self.host.connection(conn) else {
            return;
        };
        match event {
            StreamEvent::Opened { dir: Dir::Bi } => {
                while let Some(id) = c.streams().accept(Dir::Bi) {
                    let id = u64::from(id);
                    session.streams.push(Served {
                        id,
                        opened_at: now,
                        buf: Vec::new(),
                        fin: false,
                        reset: None,
                        reset_before_setup: false,
                        ended: false,
                        reader: StreamReader::new(),
                        waiting_since: now,
                    });
                    self.events
                        .push_back(ProtonEvent::StreamOpened { conn, stream: id });
                }
            }
            StreamEvent::Writable { .. } => {
                session.outbox.flush(c);
                if session.outbox.is_empty() {
                    session.outbox_since = None;
                }
            }
            StreamEvent::Stopped { id, error_code } => {
                self.events.push_back(ProtonEvent::StopSending {
                    conn,
                    stream: u64::from(id),
                    code: error_code.into_inner(),
                });
                // H7: a STOP_SENDING from the client ends the connection (code 5).
                self.close(now, conn, Ending::Close(CloseCode::StreamError));
            }
            // Readable, Finished, Available, uni streams (none allowed): read below.
            _ => {}
        }
    }

    /// Reads what arrived, then sets up and serves streams as far as the profile allows.
    fn advance(&mut self, now: Instant, conn: ConnId) {
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        let Some(c) = self.host.connection(conn) else {
            return;
        };
        for s in &mut session.streams {
            if s.ended {
                continue;
            }
            let r = streams::read(c, streams::stream_id(s.id));
            s.buf.extend_from_slice(&r.data);
            s.fin = r.fin;
            s.reset = r.reset;
            s.ended = r.fin || r.reset.is_some();
        }
        if now < self.listening_at {
            return;
        }
        if let Some(ending) = self.serve(now, conn) {
            self.close(now, conn, ending);
        } else if let Some(code) = self.expired(now, conn) {
            self.close(now, conn, Ending::Close(code));
        }
    }

    /// Sets up and serves; `Some`: the connection must end.
    fn serve(&mut self, now: Instant, conn: ConnId) -> Option<Ending> {
        self.serve_streams(now, conn)
            .map(|r| r.map_or_else(|()| Ending::Reset, Ending::Close))
    }

    /// [`Server::serve`]: `Some(Ok(code))` close with `code`, `Some(Err(()))` the P4 reset.
    fn serve_streams(&mut self, now: Instant, conn: ConnId) -> Option<Result<CloseCode, ()>> {
        let profile = self.profile.clone();
        let session = self.sessions.get_mut(&conn)?;
        let c = self.host.connection(conn)?;
        // A RESET_STREAM: on a set-up stream H7 (close 5); on one not set up yet its setup fails
        // when its turn comes (P5; what it held is discarded, as quinn does).
        for (i, s) in session.streams.iter_mut().enumerate() {
            if let Some(code) = s.reset.take() {
                self.events.push_back(ProtonEvent::Reset {
                    conn,
                    stream: s.id,
                    code,
                });
                if i >= session.setup {
                    s.reset_before_setup = true;
                    s.buf.clear();
                } else if !profile.is(Mutant::ResetStreamIgnored) {
                    return Some(Ok(CloseCode::StreamError));
                }
            }
        }
        // H2: set up one stream at a time, in the order opened.
        while session.setup < 3 {
            let k = session.setup;
            let s = session.streams.get_mut(k)?;
            // P5: a stream that ended before its discriminator fails its setup.
            if s.reset_before_setup {
                return Some(Ok(setup_ended(&profile)));
            }
            let Some(&byte) = s.buf.first() else {
                return s.fin.then(|| Ok(setup_ended(&profile)));
            };
            self.events.push_back(ProtonEvent::Discriminator {
                conn,
                stream: s.id,
                byte,
            });
            let mut one = &s.buf[..1];
            let d = match s.reader.next(&mut one) {
                Some(Ok(Message::Discriminator(d))) if d != Discriminator::Reset => d,
                _ => return Some(Ok(bad_discriminator(&profile))),
            };
            s.buf.remove(0);
            s.waiting_since = now;
            if !session.used.insert(d) && !profile.is(Mutant::DiscriminatorTwiceAccepted) {
                return Some(Ok(bad_discriminator(&profile)));
            }
            session.setup += 1;
            session.last_setup_at = now;
            if session.setup == 3 {
                // H6: the value reads begin when serving does (H2), on all three streams: a
                // stream set up earlier does not get a shorter wait.
                for s in session.streams.iter_mut().take(3) {
                    s.waiting_since = now;
                }
            }
        }
        // P2: pushing starts when serving does, all three set up (H2, H5). Armed earlier, at the
        // Action stream's own setup, a push that cannot be served before the other two are set
        // up left a wake-up in the past: the server spun on it.
        if profile.action_push && session.next_push.is_none() {
            session.next_push = Some(now);
        }
        // P4: a 4th stream may only say "reset".
        if let Some(fourth) = session.streams.get_mut(3) {
            if fourth.reset_before_setup {
                return Some(Ok(setup_ended(&profile)));
            }
            if let Some(&byte) = fourth.buf.first() {
                self.events.push_back(ProtonEvent::Discriminator {
                    conn,
                    stream: fourth.id,
                    byte,
                });
                return Some(
                    if profile.reset_discriminator && byte == Discriminator::Reset.byte() {
                        Err(())
                    } else {
                        Ok(bad_discriminator(&profile))
                    },
                );
            }
            if fourth.fin {
                return Some(Ok(setup_ended(&profile)));
            }
        }
        // Serve the three concurrently.
        for i in 0..3 {
            let s = session.streams.get_mut(i)?;
            let kind = s.reader.discriminator()?;
            let mut input = std::mem::take(&mut s.buf);
            let mut rest = input.as_slice();
            while let Some(m) = s.reader.next(&mut rest) {
                let Ok(Message::Value(v)) = m else { continue };
                s.waiting_since = now;
                self.events.push_back(ProtonEvent::Value {
                    conn,
                    stream: s.id,
                    value: v,
                });
                let answer = match kind {
                    Discriminator::Event => {
                        let ok = match session.events.accept(v) {
                            Ok(()) => true,
                            Err(e) => {
                                (profile.is(Mutant::EqualEventIdAccepted) && e.previous == Some(v))
                                    || (profile.is(Mutant::EventIdZeroAccepted)
                                        && v == 0
                                        && e.previous.is_none())
                            }
                        };
                        if !ok {
                            return Some(Ok(CloseCode::StreamError));
                        }
                        v
                    }
                    Discriminator::StateCommit => {
                        if profile.is(Mutant::CommitTimesTwo) {
                            v.wrapping_mul(2)
                        } else {
                            match commit_answer(v, profile.arithmetic()) {
                                Some(a) => a,
                                None => return Some(Ok(CloseCode::StreamError)),
                            }
                        }
                    }
                    Discriminator::Action if profile.action_push => continue,
                    Discriminator::Action | Discriminator::Reset => {
                        next_action(&mut session.actions, &profile)
                    }
                };
                session
                    .outbox
                    .write(c, streams::stream_id(s.id), &encode_u32(answer));
            }
            let used = input.len() - rest.len();
            input.drain(..used);
            s.buf = input;
            if s.fin {
                self.events.push_back(ProtonEvent::Fin {
                    conn,
                    stream: s.id,
                    pending: s.reader.pending(),
                });
                s.fin = false;
                // P5: after the setup every FIN ends a read early: 5.
                match s.reader.finish() {
                    Ok(()) if profile.is(Mutant::FinIgnored) => {}
                    Ok(()) if profile.is(Mutant::FinAtBoundaryNormal) => {
                        return Some(Ok(CloseCode::Normal))
                    }
                    Err(StreamError::FinInsideU32(_)) if profile.is(Mutant::FinInsideU32Normal) => {
                        return Some(Ok(CloseCode::Normal))
                    }
                    _ => return Some(Ok(s.reader.fin_close_code())),
                }
            }
        }
        // P2: pushed actions, on the Action stream (whichever of the three it is).
        while let Some(at) = session.next_push.filter(|t| *t <= now) {
            let a = next_action(&mut session.actions, &profile);
            let id = action_stream(session)?;
            session
                .outbox
                .write(c, streams::stream_id(id), &encode_u32(a));
            session.next_push = Some(at + profile.timers.action_interval);
        }
        if session.outbox.is_empty() {
            session.outbox_since = None;
        } else if session.outbox_since.is_none() {
            session.outbox_since = Some(now);
        }
        None
    }

    /// The earliest instant a timer of `session` fires.
    fn deadline(&self, session: &Session) -> Option<Instant> {
        self.timers(session).into_iter().map(|(t, _)| t).min()
    }

    /// Every armed timer: (when, the close code it brings).
    fn timers(&self, session: &Session) -> Vec<(Instant, CloseCode)> {
        let p = &self.profile;
        let mut out = Vec::new();
        if !self.listening {
            return out;
        }
        let k = session.setup;
        if k < 3 {
            match session.streams.get(k) {
                None if !p.is(Mutant::NoAcceptTimeout) => {
                    out.push((
                        session.last_setup_at + p.timers.accept,
                        CloseCode::StreamSetupTimeout,
                    ));
                }
                None => {}
                Some(s) => {
                    let taken = s.opened_at.max(session.last_setup_at);
                    // P3: the discriminator in time (code 1); as coded the read's own timeout (4).
                    let disc = p.timers.discriminator.filter(|_| {
                        p.base == Base::Project && !p.is(Mutant::NoDiscriminatorTimeout)
                    });
                    out.push(match disc {
                        Some(d) => (taken + d, CloseCode::StreamSetupError),
                        None => (taken + p.timers.op, CloseCode::StreamOperationTimeout),
                    });
                }
            }
        } else {
            for s in session.streams.iter().take(3) {
                let pushed =
                    p.action_push && s.reader.discriminator() == Some(Discriminator::Action);
                if !pushed {
                    out.push((
                        s.waiting_since + p.timers.op,
                        CloseCode::StreamOperationTimeout,
                    ));
                }
            }
        }
        if let Some(t) = session.next_push {
            out.push((t, CloseCode::Normal)); // not a close: a wake-up (filtered in `expired`)
        }
        if let Some(since) = session.outbox_since {
            out.push((since + p.timers.op, CloseCode::StreamOperationTimeout));
        }
        out
    }

    fn expired(&self, now: Instant, conn: ConnId) -> Option<CloseCode> {
        let session = self.sessions.get(&conn)?;
        let push = session.next_push;
        self.timers(session)
            .into_iter()
            .filter(|(t, _)| *t <= now && Some(*t) != push)
            .map(|(_, code)| code)
            .next()
    }

    fn close(&mut self, now: Instant, conn: ConnId, ending: Ending) {
        self.sessions.remove(&conn);
        let (code, text) = match ending {
            Ending::Close(code) => (code, reason(code)),
            // P4: code 0, reason `reset`.
            Ending::Reset => (CloseCode::Normal, "reset"),
        };
        self.host.close(now, conn, code.code(), text);
    }
}

/// How the server ends a connection.
#[derive(Debug, Clone, Copy)]
enum Ending {
    Close(CloseCode),
    /// P4: the client asked for a reset (code 0, reason `reset`).
    Reset,
}

/// The Action stream's id, once set up (H2 sets streams up in the order opened: the Action
/// stream is whichever said 3, not always the third).
fn action_stream(session: &Session) -> Option<u64> {
    session
        .streams
        .iter()
        .take(3)
        .find(|s| s.reader.discriminator() == Some(Discriminator::Action))
        .map(|s| s.id)
}

/// The next value of the Action counter (0, 1, 2, …, wrapping as a u32; a mutant skips 3).
fn next_action(actions: &mut u32, profile: &Profile) -> u32 {
    if profile.is(Mutant::ActionCounterSkips) && *actions == 3 {
        *actions = 4;
    }
    let a = *actions;
    *actions = actions.wrapping_add(1);
    a
}

/// The close code for a stream that ended (FIN or RESET_STREAM) before its discriminator
/// (P5: 1, its setup failed; a mutant says 5, the old reading).
fn setup_ended(profile: &Profile) -> CloseCode {
    if profile.is(Mutant::SetupEndCodeFive) {
        CloseCode::StreamError
    } else {
        CloseCode::StreamSetupError
    }
}

/// The close code for a bad discriminator (1; a mutant says 5).
fn bad_discriminator(profile: &Profile) -> CloseCode {
    if profile.is(Mutant::WrongCloseCodeBadDiscriminator) {
        CloseCode::StreamError
    } else {
        CloseCode::StreamSetupError
    }
}
