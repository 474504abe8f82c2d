//! The `proton_server` fuzz target's check (shared with the stable-toolchain corpus replay test):
//! a scripted QUIC client, steered by the fuzzer's bytes, against the reference Proton server in
//! virtual time, every datagram recorded and the recording judged.
//!
//! **Input.** `data` decodes ([`arbitrary`]) into a [`Script`]: a [`Setup`] (the server's profile,
//! `as_coded` or `project` with or without P2 push and P4 reset, and small timers, so that every
//! timeout fires within a second of virtual time) and at most [`MAX_OPS`] client operations
//! ([`Op`]): connect (again while a connection is live: H10), open streams, write discriminators,
//! u32 values or loose bytes, FIN, RESET_STREAM, STOP_SENDING, close, and let time pass.
//!
//! **Law.** Nothing panics (server, scripted peer, QUIC, judge); the exchange reaches quiescence
//! (every connection ends and drains: the server's own timers guarantee it) within a step
//! bound; the capture — pcapng at the server's viewpoint, the merged key logs as its Decryption
//! Secrets Block — is readable by the judge, every 1-RTT packet decrypts, and the judge, told the
//! profile and timers the server ran with, finds no violation of a server rule (a rule not named
//! `proton.client.*`: the scripted client's own violations are the test, not a verdict).
//!
//! [`encode`] is the inverse of the decoding, for writing seed inputs ([`seeds`]).

use std::cell::RefCell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use handshake_core::Instant;
use handshake_proton_endpoint::{
    host, Base, Profile, ProtonEvent, ScriptPeer, Server, Timers, ALPN,
};
use handshake_proton_judge::{Options, Report};
use handshake_quic::pair::{Order, Pair, PairConfig, RunOutcome, TraceKind};
use handshake_quic::{Close, KeyLog};

use crate::format::Session;

/// Most client operations one input decodes to.
pub const MAX_OPS: usize = 64;
/// Most connections the client makes (later `Connect`s are skipped).
pub const MAX_CONNECTIONS: usize = 4;
/// Most simulation steps (an arrival or a timer each) in one run: more is a livelock.
const STEP_LIMIT: u64 = 200_000;
/// After the last operation, everything must be over within this much virtual time.
const QUIESCENCE: Duration = Duration::from_secs(120);
/// Capture times: virtual zero is 2026-01-01T00:00:00Z (as the scenario engine's captures).
const EPOCH_NS: u64 = handshake_core::EPOCH_NS;

/// A stream pick from here up is a raw stream id (see [`Op`]).
pub const RAW_STREAM: u8 = 0xF0;
/// The scripted client's address.
pub const CLIENT: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 50_000);
/// The server's address.
pub const SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2)), 5_000);

/// The server's profile.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileChoice {
    /// `as_coded`.
    AsCoded,
    /// `project` (pull, no reset option).
    Project,
    /// `project+action_push` (P2).
    ProjectPush,
    /// `project+reset_discriminator` (P4).
    ProjectReset,
    /// `project+action_push+reset_discriminator`.
    ProjectPushReset,
}

impl ProfileChoice {
    /// Its profile name.
    pub const fn name(self) -> &'static str {
        match self {
            ProfileChoice::AsCoded => "as_coded",
            ProfileChoice::Project => "project",
            ProfileChoice::ProjectPush => "project+action_push",
            ProfileChoice::ProjectReset => "project+reset_discriminator",
            ProfileChoice::ProjectPushReset => "project+action_push+reset_discriminator",
        }
    }
}

/// The server and the link. Timers are small steps (see [`Setup::timers`]).
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setup {
    /// The server's profile.
    pub profile: ProfileChoice,
    /// `accept_ms` = 100 + 50 × (this mod 8).
    pub accept: u8,
    /// `op_ms` = 100 + 50 × (this mod 8).
    pub op: u8,
    /// `disc_ms` (P3, `project` only) = 50 + 50 × (this mod 8).
    pub disc: u8,
    /// `startup_ms` = 50 × (this mod 8).
    pub startup: u8,
    /// `idle_ms` = 600 + 400 × (this mod 4).
    pub idle: u8,
    /// The server sends keep-alives every third of the idle timeout (else none).
    pub keep_alive: bool,
    /// `action_interval_ms` (P2 push) = 20 + 20 × (this mod 5).
    pub action_interval: u8,
    /// One-way latency, ms = 1 + (this mod 20).
    pub latency: u8,
    /// Seeds both QUIC hosts.
    pub seed: u8,
}

impl Setup {
    /// The server's timers.
    pub fn timers(&self) -> Timers {
        let ms = |v: u64| Duration::from_millis(v);
        let idle = 600 + 400 * u64::from(self.idle % 4);
        let project = self.profile != ProfileChoice::AsCoded;
        Timers {
            idle: ms(idle),
            keep_alive: self.keep_alive.then(|| ms(idle / 3)),
            accept: ms(100 + 50 * u64::from(self.accept % 8)),
            op: ms(100 + 50 * u64::from(self.op % 8)),
            startup: ms(50 * u64::from(self.startup % 8)),
            discriminator: project.then(|| ms(50 + 50 * u64::from(self.disc % 8))),
            action_interval: ms(20 + 20 * u64::from(self.action_interval % 5)),
        }
    }

    /// The server's profile with its timers.
    pub fn profile(&self) -> Profile {
        let mut p = match Profile::parse(self.profile.name()) {
            Ok(p) => p,
            // The names above are all valid profiles (tested).
            Err(e) => panic!("profile {}: {e}", self.profile.name()),
        };
        p.timers = self.timers();
        p
    }

    /// One-way latency.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(1 + u64::from(self.latency % 20))
    }
}

/// A first byte for a stream.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disc {
    /// 1.
    Event,
    /// 2.
    StateCommit,
    /// 3.
    Action,
    /// 0xFF (P4's reset).
    Reset,
    /// Any byte.
    Other(u8),
}

impl Disc {
    /// Its byte.
    pub const fn byte(self) -> u8 {
        match self {
            Disc::Event => 1,
            Disc::StateCommit => 2,
            Disc::Action => 3,
            Disc::Reset => 0xFF,
            Disc::Other(b) => b,
        }
    }
}

/// A u32 to write.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Word {
    /// One above the last event id this connection's client wrote (1 first).
    NextEvent,
    /// The last event id written again (0 first): out of order.
    SameEvent,
    /// A small value.
    Small(u8),
    /// 0xFFFF_FFFF − (this mod 4): StateCommit requests near the overflow.
    NearMax(u8),
    /// Any value.
    Any(u32),
}

/// One thing the scripted client does. `conn` picks one of the connections made so far (modulo
/// their number), `stream` one of that connection's streams in the order they were asked for
/// (modulo their number), or, from [`RAW_STREAM`] up, the raw stream id `stream − RAW_STREAM`
/// (0–15, as a scenario may name any); an operation with nothing to pick is skipped.
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Opens a connection (another one while one is live: the server refuses it).
    Connect,
    /// Opens a bidirectional stream (it waits for the server's credit, as an async client).
    OpenBi {
        /// Which connection.
        conn: u8,
    },
    /// Opens a unidirectional stream (the server allows none: it stays blocked).
    OpenUni {
        /// Which connection.
        conn: u8,
    },
    /// Writes one byte meant as a discriminator.
    Discriminator {
        /// Which connection.
        conn: u8,
        /// Which stream.
        stream: u8,
        /// The byte.
        disc: Disc,
    },
    /// Writes a u32 LE.
    Value {
        /// Which connection.
        conn: u8,
        /// Which stream.
        stream: u8,
        /// The value.
        value: Word,
    },
    /// Writes the first `len mod 8` of `bytes` (parts of a u32, several values …).
    Bytes {
        /// Which connection.
        conn: u8,
        /// Which stream.
        stream: u8,
        /// How many.
        len: u8,
        /// The bytes.
        bytes: [u8; 7],
    },
    /// Ends a stream (FIN).
    Fin {
        /// Which connection.
        conn: u8,
        /// Which stream.
        stream: u8,
    },
    /// Resets a stream (RESET_STREAM).
    Reset {
        /// Which connection.
        conn: u8,
        /// Which stream.
        stream: u8,
        /// Its code.
        code: u8,
    },
    /// Asks the server to stop sending on a stream (STOP_SENDING).
    StopSending {
        /// Which connection.
        conn: u8,
        /// Which stream.
        stream: u8,
        /// Its code.
        code: u8,
    },
    /// Closes a connection with an application code.
    Close {
        /// Which connection.
        conn: u8,
        /// Its code.
        code: u8,
    },
    /// Lets `ms mod 1500` ms of virtual time pass.
    Advance {
        /// How long.
        ms: u16,
    },
}

/// A decoded input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The server and the link.
    pub setup: Setup,
    /// What the client does, in order.
    pub ops: Vec<Op>,
}

impl Script {
    /// Decodes fuzzer bytes: a [`Setup`], then operations until the bytes run out or
    /// [`MAX_OPS`]. Never fails (missing bytes read as zeros).
    pub fn decode(data: &[u8]) -> Script {
        let mut u = Unstructured::new(data);
        let setup = Setup::arbitrary(&mut u).unwrap_or(Setup {
            profile: ProfileChoice::AsCoded,
            accept: 0,
            op: 0,
            disc: 0,
            startup: 0,
            idle: 0,
            keep_alive: false,
            action_interval: 0,
            latency: 0,
            seed: 0,
        });
        let mut ops = Vec::new();
        while ops.len() < MAX_OPS && !u.is_empty() {
            match Op::arbitrary(&mut u) {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        Script { setup, ops }
    }
}

/// What a run showed, for tests and seeds.
#[derive(Debug)]
pub struct Outcome {
    /// How each connection of the client ended, in the order the server saw them end (the
    /// server's events: `(by_peer, close)`).
    pub server_ends: Vec<(bool, Close)>,
    /// Connections the server refused.
    pub refused: usize,
    /// Whether the server started listening.
    pub listened: bool,
    /// The judge's report.
    pub report: Report,
    /// The server's and the client's events, for diagnosis.
    pub transcript: Vec<String>,
}

/// The check: see the module docs. Panics on a broken law.
pub fn check_server_session(data: &[u8]) {
    let script = Script::decode(data);
    let outcome = run(&script);
    let bad: Vec<_> = outcome
        .report
        .violations
        .iter()
        .filter(|v| !v.rule.starts_with("proton.client."))
        .collect();
    assert!(
        bad.is_empty(),
        "the judge found server-rule violations\nscript: {script:#?}\nviolations: {bad:#?}\nnotes: {:#?}\ntranscript:\n{}",
        outcome.report.notes,
        outcome.transcript.join("\n")
    );
}

/// One connection the client made.
struct ClientConn {
    id: handshake_quic::ConnId,
    /// Its streams, in the order asked for.
    streams: Vec<u64>,
    /// The last event id written.
    last_event: u32,
}

/// Both sides on a [`Pair`]: a lossless link of fixed latency, the server settled and timed
/// first, each delivery answered before the next is read; every event in the transcript.
struct World {
    pair: Pair<ScriptPeer, Server>,
    /// Every event as the pair takes it (written by its hooks) and the script's refusals.
    transcript: Rc<RefCell<Vec<String>>>,
    conns: Vec<ClientConn>,
}

impl World {
    fn new(setup: &Setup) -> World {
        let profile = setup.profile();
        let seed = u64::from(setup.seed);
        let server_host = host(
            seed,
            "server",
            true,
            &profile.timers,
            profile.max_bidi(),
            vec![ALPN.to_vec()],
            Arc::new(KeyLog::default()),
        )
        .unwrap_or_else(|e| panic!("server host: {e}"));
        // The scripted client stays out of the timing (as the scenario engine's): no keep-alive,
        // a long idle timeout, so the server's decides.
        let mut client_timers = Timers::of(Base::Project);
        client_timers.idle = Duration::from_secs(3_600);
        client_timers.keep_alive = None;
        let client_host = host(
            seed,
            "client",
            false,
            &client_timers,
            16,
            vec![ALPN.to_vec()],
            Arc::new(KeyLog::default()),
        )
        .unwrap_or_else(|e| panic!("client host: {e}"));
        let config = PairConfig {
            order: Order::ServerFirst,
            // What the server sends in answer is captured before the next datagram it reads, as
            // a capture at a real server shows it (else a close it sent for one datagram would
            // show after a new connection's Initial it read after it).
            settle_after_each_delivery: true,
            ..PairConfig::new(CLIENT, SERVER, setup.latency())
        };
        let mut pair = Pair::new(
            config,
            ScriptPeer::new(client_host, SERVER, false, Instant::ZERO),
            Server::new(server_host, profile, Instant::ZERO),
        );
        let transcript = Rc::new(RefCell::new(Vec::new()));
        let log = Rc::clone(&transcript);
        pair.on_server_event(move |_, now, e| log.borrow_mut().push(format!("{now} server: {e}")));
        let log = Rc::clone(&transcript);
        pair.on_client_event(move |_, now, e| log.borrow_mut().push(format!("{now} client: {e}")));
        World {
            pair,
            transcript,
            conns: Vec::new(),
        }
    }

    fn transcript(&self) -> String {
        self.transcript.borrow().join("\n")
    }

    /// Runs until `until` (or, with `None`, until nothing is left to happen), within the step
    /// bound of the whole run.
    fn run(&mut self, until: Option<Instant>) {
        let steps_left = STEP_LIMIT.saturating_sub(self.pair.steps());
        let outcome = match until {
            Some(until) => self.pair.run_until_limited(until, steps_left),
            None => self.pair.run_to_idle_limited(steps_left),
        };
        assert!(
            outcome != RunOutcome::StepLimit,
            "no progress after {STEP_LIMIT} steps (livelock) at {}\ntranscript:\n{}",
            self.pair.now(),
            self.transcript()
        );
    }

    fn conn(&mut self, pick: u8) -> Option<&mut ClientConn> {
        let n = self.conns.len();
        (n > 0)
            .then(|| usize::from(pick) % n)
            .and_then(|i| self.conns.get_mut(i))
    }

    fn stream(&mut self, conn: u8, stream: u8) -> Option<(handshake_quic::ConnId, u64)> {
        let c = self.conn(conn)?;
        if stream >= RAW_STREAM {
            // A stream id as a scenario may name it: any of 0–15, opened or not, either side's.
            return Some((c.id, u64::from(stream - RAW_STREAM)));
        }
        let n = c.streams.len();
        let s = *c.streams.get(usize::from(stream) % n.max(1))?;
        Some((c.id, s))
    }

    /// Does one operation. The scripted peer's refusals (a connection gone, a stream already
    /// reset) are the script's business, not a failure.
    fn apply(&mut self, op: Op) {
        let now = self.pair.now();
        let outcome = match op {
            Op::Connect => {
                if self.conns.len() < MAX_CONNECTIONS {
                    self.pair.client.connect(now, None).map(|id| {
                        self.conns.push(ClientConn {
                            id,
                            streams: Vec::new(),
                            last_event: 0,
                        });
                    })
                } else {
                    Ok(())
                }
            }
            Op::OpenBi { conn } | Op::OpenUni { conn } => {
                let bidi = matches!(op, Op::OpenBi { .. });
                match self.conn(conn).map(|c| c.id) {
                    Some(id) => self.pair.client.open(now, id, bidi).map(|s| {
                        if let Some(c) = self.conn(conn) {
                            c.streams.push(s);
                        }
                    }),
                    None => Ok(()),
                }
            }
            Op::Discriminator { conn, stream, disc } => {
                self.stream(conn, stream).map_or(Ok(()), |(c, s)| {
                    self.pair.client.write(now, c, s, &[disc.byte()])
                })
            }
            Op::Value {
                conn,
                stream,
                value,
            } => match self.stream(conn, stream) {
                Some((c, s)) => {
                    let v = self.value(conn, value);
                    self.pair.client.write(now, c, s, &v.to_le_bytes())
                }
                None => Ok(()),
            },
            Op::Bytes {
                conn,
                stream,
                len,
                bytes,
            } => {
                let n = usize::from(len % 8).min(bytes.len());
                match (self.stream(conn, stream), bytes.get(..n)) {
                    (Some((c, s)), Some(b)) => self.pair.client.write(now, c, s, b),
                    _ => Ok(()),
                }
            }
            Op::Fin { conn, stream } => self
                .stream(conn, stream)
                .map_or(Ok(()), |(c, s)| self.pair.client.fin(now, c, s)),
            Op::Reset { conn, stream, code } => {
                self.stream(conn, stream).map_or(Ok(()), |(c, s)| {
                    self.pair.client.reset(now, c, s, u64::from(code))
                })
            }
            Op::StopSending { conn, stream, code } => {
                self.stream(conn, stream).map_or(Ok(()), |(c, s)| {
                    self.pair.client.stop_sending(now, c, s, u64::from(code))
                })
            }
            Op::Close { conn, code } => {
                if let Some(id) = self.conn(conn).map(|c| c.id) {
                    self.pair.client.close(now, id, u64::from(code), "fuzz");
                }
                Ok(())
            }
            Op::Advance { ms } => {
                let until = now + Duration::from_millis(u64::from(ms % 1500));
                self.run(Some(until));
                Ok(())
            }
        };
        if let Err(e) = outcome {
            self.transcript
                .borrow_mut()
                .push(format!("{} script: {op:?} not done: {e}", self.pair.now()));
        }
        self.pair.drain();
    }

    fn value(&mut self, conn: u8, value: Word) -> u32 {
        let Some(c) = self.conn(conn) else { return 0 };
        match value {
            Word::NextEvent => {
                c.last_event = c.last_event.wrapping_add(1);
                c.last_event
            }
            Word::SameEvent => c.last_event,
            Word::Small(v) => u32::from(v),
            Word::NearMax(v) => u32::MAX - u32::from(v % 4),
            Word::Any(v) => v,
        }
    }

    /// The capture at the server's viewpoint: pcapng of what it sent (when sent) and read (when
    /// read), the merged key logs as its Decryption Secrets Block.
    fn capture(&self) -> Vec<u8> {
        let secrets = handshake_scenario::engine::merged_secrets([
            self.pair.server.host().key_log(),
            self.pair.client.host().key_log(),
        ]);
        let at_server = self.pair.trace.iter().filter(|d| match d.kind {
            TraceKind::Sent { .. } => d.from == SERVER,
            TraceKind::Delivered => d.to == SERVER,
        });
        let write = || -> Result<Vec<u8>, handshake_capture::CaptureError> {
            let mut w = handshake_capture::CaptureWriter::new(Vec::new())?;
            w.write_secrets(&secrets)?;
            for d in at_server {
                w.write_datagram(EPOCH_NS + d.at.as_nanos(), d.from, d.to, &d.payload, None)?;
            }
            w.finish()
        };
        write().unwrap_or_else(|e| panic!("writing the capture: {e}"))
    }
}

/// Runs `script` to quiescence and judges the capture. Panics when a law that does not need the
/// judge's verdict breaks (a panic inside, a livelock, no quiescence, an unreadable capture,
/// packets that do not decrypt).
pub fn run(script: &Script) -> Outcome {
    let recording = record(script);
    let capture = &recording.capture;
    let profile = script.setup.profile();
    let options = Options {
        server: Some(SERVER),
        profile: crate::judge::profile_view(Some(&profile), &Session::default()),
        key_log: None,
        port: None,
        // What a scenario run's QUIC judge allows at least.
        tolerance: handshake_quic_family::QUIC_FLOOR,
    };
    let report = handshake_proton_judge::judge(capture, &options)
        .unwrap_or_else(|e| panic!("the judge could not read the capture: {e}"));
    assert!(
        report.damage.is_none() && report.undecrypted == 0,
        "capture damaged ({:?}) or {} packets undecrypted\nnotes: {:#?}",
        report.damage,
        report.undecrypted,
        report.notes
    );
    Outcome {
        server_ends: recording.server_ends,
        refused: recording.refused,
        listened: recording.listened,
        report,
        transcript: recording.transcript,
    }
}

/// What one run of a script left, before the judge: the capture and what the server reported.
struct Recording {
    capture: Vec<u8>,
    server_ends: Vec<(bool, Close)>,
    refused: usize,
    listened: bool,
    transcript: Vec<String>,
}

/// Runs `script` to quiescence and writes the capture. Panics on a livelock, no quiescence, or
/// connections that did not drain.
fn record(script: &Script) -> Recording {
    let mut w = World::new(&script.setup);
    w.pair.drain();
    for op in &script.ops {
        w.apply(*op);
    }
    let last = w.pair.now();
    w.run(None);
    let busy = w.pair.now().saturating_duration_since(last);
    assert!(
        busy <= QUIESCENCE,
        "still busy {} after the last operation\ntranscript:\n{}",
        busy.as_millis(),
        w.transcript()
    );
    assert!(
        w.pair.client.is_finished(),
        "the client's connections did not all drain\ntranscript:\n{}",
        w.transcript()
    );
    let mut server_ends = Vec::new();
    let (mut refused, mut listened) = (0, false);
    for (_, e) in &w.pair.server_events {
        match e {
            ProtonEvent::Ended { close, by_peer, .. } => {
                server_ends.push((*by_peer, close.clone()))
            }
            ProtonEvent::RefusedIncoming => refused += 1,
            ProtonEvent::Listening => listened = true,
            _ => {}
        }
    }
    Recording {
        capture: w.capture(),
        server_ends,
        refused,
        listened,
        transcript: w.transcript.take(),
    }
}

/// Bytes that [`Script::decode`] turns back into `script` (the seeds' writer). The layout is
/// `arbitrary`'s derive (1.x): an enum is a u32 LE choosing variant ⌊tag × n / 2³²⌋, then its
/// fields; integers are little-endian; a bool is a byte's low bit; fields in order. The seed
/// test checks the round trip, so a change in `arbitrary` shows there.
pub fn encode(script: &Script) -> Vec<u8> {
    let mut out = Vec::new();
    encode_setup(&script.setup, &mut out);
    for op in script.ops.iter().take(MAX_OPS) {
        encode_op(op, &mut out);
    }
    out
}

fn tag(out: &mut Vec<u8>, index: u64, count: u64) {
    let t = (index << 32).div_ceil(count);
    out.extend_from_slice(&u32::try_from(t).unwrap_or(u32::MAX).to_le_bytes());
}

fn encode_setup(s: &Setup, out: &mut Vec<u8>) {
    let p = match s.profile {
        ProfileChoice::AsCoded => 0,
        ProfileChoice::Project => 1,
        ProfileChoice::ProjectPush => 2,
        ProfileChoice::ProjectReset => 3,
        ProfileChoice::ProjectPushReset => 4,
    };
    tag(out, p, 5);
    out.extend_from_slice(&[s.accept, s.op, s.disc, s.startup, s.idle]);
    out.push(u8::from(s.keep_alive));
    out.extend_from_slice(&[s.action_interval, s.latency, s.seed]);
}

fn encode_op(op: &Op, out: &mut Vec<u8>) {
    const N: u64 = 11;
    match *op {
        Op::Connect => tag(out, 0, N),
        Op::OpenBi { conn } => {
            tag(out, 1, N);
            out.push(conn);
        }
        Op::OpenUni { conn } => {
            tag(out, 2, N);
            out.push(conn);
        }
        Op::Discriminator { conn, stream, disc } => {
            tag(out, 3, N);
            out.extend_from_slice(&[conn, stream]);
            match disc {
                Disc::Event => tag(out, 0, 5),
                Disc::StateCommit => tag(out, 1, 5),
                Disc::Action => tag(out, 2, 5),
                Disc::Reset => tag(out, 3, 5),
                Disc::Other(b) => {
                    tag(out, 4, 5);
                    out.push(b);
                }
            }
        }
        Op::Value {
            conn,
            stream,
            value,
        } => {
            tag(out, 4, N);
            out.extend_from_slice(&[conn, stream]);
            match value {
                Word::NextEvent => tag(out, 0, 5),
                Word::SameEvent => tag(out, 1, 5),
                Word::Small(v) => {
                    tag(out, 2, 5);
                    out.push(v);
                }
                Word::NearMax(v) => {
                    tag(out, 3, 5);
                    out.push(v);
                }
                Word::Any(v) => {
                    tag(out, 4, 5);
                    out.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        Op::Bytes {
            conn,
            stream,
            len,
            bytes,
        } => {
            tag(out, 5, N);
            out.extend_from_slice(&[conn, stream, len]);
            out.extend_from_slice(&bytes);
        }
        Op::Fin { conn, stream } => {
            tag(out, 6, N);
            out.extend_from_slice(&[conn, stream]);
        }
        Op::Reset { conn, stream, code } => {
            tag(out, 7, N);
            out.extend_from_slice(&[conn, stream, code]);
        }
        Op::StopSending { conn, stream, code } => {
            tag(out, 8, N);
            out.extend_from_slice(&[conn, stream, code]);
        }
        Op::Close { conn, code } => {
            tag(out, 9, N);
            out.extend_from_slice(&[conn, code]);
        }
        Op::Advance { ms } => {
            tag(out, 10, N);
            out.extend_from_slice(&ms.to_le_bytes());
        }
    }
}

/// The seed inputs: named scripts covering the happy path per profile, each violation the
/// server must close for, every timer, and a second connection.
pub fn seeds() -> Vec<(&'static str, Script)> {
    use Op::*;
    let setup = |profile| Setup {
        profile,
        accept: 2,  // 200 ms
        op: 4,      // 300 ms
        disc: 2,    // 150 ms
        startup: 2, // 100 ms
        idle: 1,    // 1000 ms
        keep_alive: true,
        action_interval: 2, // 60 ms
        latency: 4,         // 5 ms
        seed: 1,
    };
    let wait = |ms| Advance { ms };
    let d = |stream, disc| Discriminator {
        conn: 0,
        stream,
        disc,
    };
    let v = |stream, value| Value {
        conn: 0,
        stream,
        value,
    };
    // Connected, listening, three streams set up.
    let setup3 = || {
        vec![
            Connect,
            wait(150),
            OpenBi { conn: 0 },
            OpenBi { conn: 0 },
            OpenBi { conn: 0 },
            d(0, Disc::Event),
            d(1, Disc::StateCommit),
            d(2, Disc::Action),
            wait(20),
        ]
    };
    let with = |mut a: Vec<Op>, b: &[Op]| {
        a.extend_from_slice(b);
        a
    };
    let happy = |p| Script {
        setup: setup(p),
        ops: with(
            setup3(),
            &[
                v(0, Word::NextEvent),
                v(1, Word::Small(1)),
                v(2, Word::Small(42)),
                wait(20),
                v(0, Word::NextEvent),
                v(1, Word::Small(2)),
                v(2, Word::Small(42)),
                wait(50),
                Close { conn: 0, code: 0 },
            ],
        ),
    };
    let p = ProfileChoice::Project;
    let a = ProfileChoice::AsCoded;
    let s = |profile, ops: Vec<Op>| Script {
        setup: setup(profile),
        ops,
    };
    vec![
        ("happy_as_coded", happy(a)),
        ("happy_project", happy(p)),
        ("happy_push", happy(ProfileChoice::ProjectPush)),
        ("happy_reset_option", happy(ProfileChoice::ProjectReset)),
        ("happy_push_reset", happy(ProfileChoice::ProjectPushReset)),
        (
            "events_gaps",
            s(
                p,
                with(
                    setup3(),
                    &[
                        v(0, Word::Small(1)),
                        v(0, Word::Small(7)),
                        v(0, Word::Any(1000)),
                        wait(50),
                    ],
                ),
            ),
        ),
        (
            "event_first_zero",
            s(p, with(setup3(), &[v(0, Word::SameEvent), wait(50)])),
        ),
        (
            "event_equal",
            s(
                a,
                with(
                    setup3(),
                    &[v(0, Word::NextEvent), v(0, Word::SameEvent), wait(50)],
                ),
            ),
        ),
        (
            "event_decreasing",
            s(
                p,
                with(
                    setup3(),
                    &[v(0, Word::Small(9)), v(0, Word::Small(3)), wait(50)],
                ),
            ),
        ),
        (
            "commit_overflow_checked",
            s(p, with(setup3(), &[v(1, Word::NearMax(1)), wait(50)])),
        ),
        (
            "commit_overflow_wrapping",
            s(
                a,
                with(
                    setup3(),
                    &[v(1, Word::NearMax(1)), v(1, Word::NearMax(0)), wait(50)],
                ),
            ),
        ),
        (
            "commit_max_minus_two",
            s(p, with(setup3(), &[v(1, Word::NearMax(2)), wait(50)])),
        ),
        (
            "actions_pull",
            s(
                a,
                with(
                    setup3(),
                    &[
                        v(2, Word::Small(42)),
                        v(2, Word::Small(42)),
                        v(2, Word::Any(7)),
                        wait(50),
                    ],
                ),
            ),
        ),
        (
            "actions_push_client_writes",
            s(
                ProfileChoice::ProjectPush,
                with(setup3(), &[v(2, Word::Small(42)), wait(200)]),
            ),
        ),
        (
            "discriminator_zero",
            s(
                p,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    d(0, Disc::Other(0)),
                    wait(50),
                ],
            ),
        ),
        (
            "discriminator_four",
            s(
                a,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    d(0, Disc::Other(4)),
                    wait(50),
                ],
            ),
        ),
        (
            "discriminator_ff_first",
            s(
                ProfileChoice::ProjectReset,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    d(0, Disc::Reset),
                    wait(50),
                ],
            ),
        ),
        (
            "discriminator_repeated",
            s(
                p,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    d(0, Disc::Event),
                    d(1, Disc::Event),
                    wait(50),
                ],
            ),
        ),
        (
            "discriminators_out_of_order",
            s(
                p,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    d(0, Disc::Action),
                    d(1, Disc::Event),
                    d(2, Disc::StateCommit),
                    v(0, Word::Small(1)),
                    v(1, Word::NextEvent),
                    v(2, Word::Small(5)),
                    wait(50),
                    Close { conn: 0, code: 0 },
                ],
            ),
        ),
        (
            "fourth_stream_reset",
            s(
                ProfileChoice::ProjectReset,
                with(
                    setup3(),
                    &[
                        OpenBi { conn: 0 },
                        d(3, Disc::Reset),
                        wait(100),
                        Connect,
                        wait(300),
                    ],
                ),
            ),
        ),
        (
            "fourth_stream_other",
            s(
                ProfileChoice::ProjectReset,
                with(
                    setup3(),
                    &[OpenBi { conn: 0 }, d(3, Disc::Event), wait(100)],
                ),
            ),
        ),
        (
            "fourth_stream_blocked",
            s(
                p,
                with(
                    setup3(),
                    &[OpenBi { conn: 0 }, d(3, Disc::Reset), wait(100)],
                ),
            ),
        ),
        (
            "early_fin",
            s(
                p,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    Fin { conn: 0, stream: 0 },
                    wait(50),
                ],
            ),
        ),
        (
            "fin_at_boundary",
            s(
                a,
                with(
                    setup3(),
                    &[v(0, Word::NextEvent), Fin { conn: 0, stream: 0 }, wait(50)],
                ),
            ),
        ),
        (
            "fin_on_commit_stream",
            s(p, with(setup3(), &[Fin { conn: 0, stream: 1 }, wait(50)])),
        ),
        (
            "fin_inside_u32",
            s(
                p,
                with(
                    setup3(),
                    &[
                        Bytes {
                            conn: 0,
                            stream: 1,
                            len: 2,
                            bytes: [7, 0, 0, 0, 0, 0, 0],
                        },
                        Fin { conn: 0, stream: 1 },
                        wait(50),
                    ],
                ),
            ),
        ),
        (
            "values_in_pieces",
            s(
                a,
                with(
                    setup3(),
                    &[
                        Bytes {
                            conn: 0,
                            stream: 0,
                            len: 3,
                            bytes: [1, 0, 0, 0, 2, 0, 0],
                        },
                        wait(10),
                        Bytes {
                            conn: 0,
                            stream: 0,
                            len: 5,
                            bytes: [0, 2, 0, 0, 0, 0, 0],
                        },
                        wait(50),
                    ],
                ),
            ),
        ),
        (
            "reset_stream",
            s(
                p,
                with(
                    setup3(),
                    &[
                        Reset {
                            conn: 0,
                            stream: 2,
                            code: 9,
                        },
                        wait(50),
                    ],
                ),
            ),
        ),
        (
            "reset_before_setup",
            s(
                a,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    Reset {
                        conn: 0,
                        stream: 0,
                        code: 1,
                    },
                    wait(50),
                ],
            ),
        ),
        (
            "stop_sending",
            s(
                p,
                with(
                    setup3(),
                    &[
                        StopSending {
                            conn: 0,
                            stream: 0,
                            code: 3,
                        },
                        wait(50),
                    ],
                ),
            ),
        ),
        (
            "stop_sending_before_setup",
            s(
                a,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    d(0, Disc::Event),
                    StopSending {
                        conn: 0,
                        stream: 0,
                        code: 0,
                    },
                    wait(50),
                ],
            ),
        ),
        (
            "client_close_code_7",
            s(
                p,
                with(
                    setup3(),
                    &[v(0, Word::NextEvent), wait(20), Close { conn: 0, code: 7 }],
                ),
            ),
        ),
        (
            "close_during_startup",
            s(p, vec![Connect, wait(30), Close { conn: 0, code: 0 }]),
        ),
        ("accept_timeout_no_stream", s(p, vec![Connect, wait(1000)])),
        (
            "accept_timeout_second_stream",
            s(
                a,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    d(0, Disc::Event),
                    wait(1000),
                ],
            ),
        ),
        (
            "discriminator_timeout",
            // Stream 4's frame opens stream 0 too (RFC 9000 §3.2): stream 0 stays silent.
            s(
                p,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    d(1, Disc::StateCommit),
                    wait(1000),
                ],
            ),
        ),
        (
            "discriminator_late",
            s(
                p,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    d(1, Disc::StateCommit),
                    wait(152), // arrives 2 ms after the 150 ms deadline
                    d(0, Disc::Event),
                    wait(1000),
                ],
            ),
        ),
        (
            "as_coded_discriminator_op_timeout",
            s(
                a,
                vec![
                    Connect,
                    wait(150),
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    d(1, Disc::StateCommit),
                    wait(1000),
                ],
            ),
        ),
        ("op_timeout", s(p, with(setup3(), &[wait(1000)]))),
        (
            "op_timeout_mid_u32",
            s(
                a,
                with(
                    setup3(),
                    &[
                        Bytes {
                            conn: 0,
                            stream: 1,
                            len: 1,
                            bytes: [1, 0, 0, 0, 0, 0, 0],
                        },
                        wait(1000),
                    ],
                ),
            ),
        ),
        (
            "op_timeout_push",
            s(ProfileChoice::ProjectPush, with(setup3(), &[wait(1400)])),
        ),
        (
            "idle_timeout_without_keepalive",
            Script {
                setup: Setup {
                    keep_alive: false,
                    op: 7,      // 450 ms
                    accept: 7,  // 450 ms
                    idle: 0,    // 600 ms
                    startup: 7, // 350 ms: the accept timer would fire at 800 ms
                    ..setup(a)
                },
                ops: vec![Connect, wait(1400)],
            },
        ),
        (
            "second_connection_refused",
            s(
                p,
                with(
                    setup3(),
                    &[
                        Connect,
                        wait(50),
                        v(0, Word::NextEvent),
                        wait(20),
                        Close { conn: 0, code: 0 },
                    ],
                ),
            ),
        ),
        (
            "second_connection_during_startup",
            s(a, vec![Connect, Connect, wait(400)]),
        ),
        (
            "reconnect_after_close",
            s(
                p,
                with(
                    happy(p).ops,
                    &[wait(100), Connect, wait(50), OpenBi { conn: 1 }, wait(500)],
                ),
            ),
        ),
        (
            "uni_stream",
            s(
                p,
                with(
                    setup3(),
                    &[OpenUni { conn: 0 }, v(3, Word::Small(1)), wait(50)],
                ),
            ),
        ),
        (
            "ops_before_handshake",
            s(
                a,
                vec![
                    Connect,
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    OpenBi { conn: 0 },
                    d(0, Disc::Event),
                    d(1, Disc::StateCommit),
                    d(2, Disc::Action),
                    v(0, Word::NextEvent),
                    v(1, Word::Small(3)),
                    v(2, Word::Small(42)),
                    wait(200),
                    Close { conn: 0, code: 0 },
                ],
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_name_parses() {
        for p in [
            ProfileChoice::AsCoded,
            ProfileChoice::Project,
            ProfileChoice::ProjectPush,
            ProfileChoice::ProjectReset,
            ProfileChoice::ProjectPushReset,
        ] {
            assert!(Profile::parse(p.name()).is_ok(), "{}", p.name());
        }
    }

    #[test]
    fn seeds_decode_to_themselves() {
        for (name, script) in seeds() {
            assert_eq!(Script::decode(&encode(&script)), script, "{name}");
        }
    }

    #[test]
    fn empty_and_short_inputs_run() {
        check_server_session(&[]);
        check_server_session(&[0x80]);
        check_server_session(&[0xFF; 40]);
    }
}
