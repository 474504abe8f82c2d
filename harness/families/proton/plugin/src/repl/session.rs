//! The REPL's session: what each command does to the scripted QUIC client
//! ([`handshake_proton_endpoint::ScriptPeer`]), what it waits for, what it prints, and what it
//! records for `save`. It owns no socket and no clock: a [`Driver`] does (real UDP in wall-clock
//! time, or the reference server in-process in virtual time), so the same session runs against a
//! real server and in tests.
//!
//! Everything the server does is recorded as it arrives, in arrival order — the handshake, each
//! answer, a close, a refusal, a blocked stream — and each command records the steps it did; `save`
//! turns that record into a scenario ([`super::save`]). Every wait ends at a deadline.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton_endpoint::{Profile, ProtonEvent, ScriptPeer};
use handshake_proton_wire::CloseCode;
use handshake_quic::{Close, ConnId};

use crate::format::{CloseStep, ConnectStep, OpenStep, ProtonStep, Session, StreamRef, WriteStep};
use crate::repl::language::{self, Command, Invocation};

/// The QUIC application code `close`, `reset` and `exit` use.
pub const CLOSE_CODE: u64 = 0;

/// What `read_action` writes on the Action stream (as the original REPL does).
pub const ACTION_REQUEST: u32 = 42;

/// The shortest window a recorded expectation gets, ms (a replay against another implementation,
/// or over a real network, may be slower than the session was).
pub const MIN_WINDOW_MS: u64 = 1_000;

/// How the REPL behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// What it talks to, as shown (`127.0.0.1:5000`, `ref:project`).
    pub target: String,
    /// The longest any exchange waits for its answer.
    pub op_timeout: Duration,
    /// `connect`'s default handshake wait.
    pub connect_timeout: Duration,
    /// The server's idle timeout (`reset` waits twice this).
    pub idle: Duration,
    /// The server's timers as given on the command line (written into saved scenarios).
    pub session: Session,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            target: String::new(),
            op_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            idle: Duration::from_millis(5_000),
            session: Session::default(),
        }
    }
}

/// What runs the scripted client: its clock, its link to the server.
pub trait Driver {
    /// The clock (real: since the REPL started; virtual: the simulation's).
    fn now(&self) -> Instant;
    /// The scripted client.
    fn peer(&mut self) -> Result<&mut ScriptPeer, String>;
    /// Sends what the client has to send and lets time pass until the client reports something
    /// or `deadline`; returns the client's events with their times (empty at the deadline).
    fn advance(&mut self, deadline: Instant) -> Vec<(Instant, ProtonEvent)>;
    /// Whether time passes on its own (a real server) or only when a command waits (virtual).
    fn real_time(&self) -> bool;
    /// The in-process reference server's profile (`None`: a real server).
    fn reference(&self) -> Option<&Profile> {
        None
    }
}

/// Where the session prints.
pub trait Output {
    /// One line (no newline).
    fn line(&mut self, text: &str);
}

impl Output for Vec<String> {
    fn line(&mut self, text: &str) {
        self.push(text.to_owned());
    }
}

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It did what it says.
    Done,
    /// It could not: the server broke the exchange, did not answer in time, or there was nothing
    /// to do it on (why).
    Failed(String),
    /// `exit`.
    Exit,
}

/// The three streams of a connection, in the order `connect` opens them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Discriminator 1.
    Event,
    /// Discriminator 2.
    Commit,
    /// Discriminator 3.
    Action,
}

impl Kind {
    fn index(self) -> usize {
        match self {
            Kind::Event => 0,
            Kind::Commit => 1,
            Kind::Action => 2,
        }
    }

    /// The stream's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Event => "Event",
            Kind::Commit => "StateCommit",
            Kind::Action => "Action",
        }
    }

    /// What an answer on the stream rests on: the fact that it comes (and, for an Event, its
    /// value), and the profile reading of its value where the sources allow several (`None`: the
    /// value is the fact's).
    fn basis(self) -> (&'static str, Option<&'static str>) {
        match self {
            Kind::Event => ("wire.event", None),
            Kind::Commit => ("wire.commit.pairing", Some("wire.commit")),
            Kind::Action => ("wire.action.items", Some("wire.action")),
        }
    }

    const ALL: [Kind; 3] = [Kind::Event, Kind::Commit, Kind::Action];
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    /// When.
    pub at: Instant,
    /// How.
    pub close: Close,
    /// The server ended it (else the REPL did).
    pub by_server: bool,
}

/// One connection the REPL made.
#[derive(Debug, Clone)]
struct Conn {
    id: ConnId,
    started: Instant,
    connected: Option<Instant>,
    ended: Option<Ended>,
    /// Event, StateCommit and Action stream ids, once opened.
    streams: Option<[u64; 3]>,
    next_event: u32,
    events: u32,
    commits: u32,
    actions: u32,
    /// The Action counter the next answer must carry.
    next_counter: u32,
    /// The 4th stream (`reset_stream`).
    fourth: Option<u64>,
    /// The last event id the session sent.
    last_event: Option<u32>,
    /// The fact the session broke on this connection (an event id out of order: `wire.event`,
    /// or `H3`), after which the server must end it.
    violation: Option<&'static str>,
    /// A StateCommit request that overflows was sent (P1's close, a profile decision).
    overflow: bool,
    blocked: Option<String>,
    /// u32 values that answered no request.
    unprompted: u64,
    /// The server pushes actions (P2): values on the Action stream that answer no request, not
    /// yet taken by `read_action`.
    pushed: VecDeque<(Instant, u32)>,
    pushing: bool,
}

/// One request written on a stream, waiting for its answer.
#[derive(Debug, Clone)]
struct Request {
    kind: Kind,
    sent: u32,
    at: Instant,
    /// The command gave up waiting; a late answer is reported as such.
    abandoned: bool,
    answer: Option<(Instant, u32)>,
}

/// One entry of the session's record, in order.
#[derive(Debug, Clone)]
pub enum Record {
    /// A step the REPL did.
    Step(ProtonStep),
    /// Something the server did (a unit of the scenario format) and how long after the previous
    /// step it came, ms.
    Expect {
        /// The unit kind (`u32`, `close`, `connected` …).
        kind: &'static str,
        /// Its fields as `expect` matches them.
        fields: serde_json::Map<String, serde_json::Value>,
        /// How long after the previous step's end it came, ms.
        after_ms: u64,
        /// What it rests on: a fact, or (for what only the profile says) a profile decision.
        basis: &'static str,
        /// More outcomes the facts allow (`any_of`): kind and fields.
        any_of: Vec<(&'static str, serde_json::Map<String, serde_json::Value>)>,
        /// The profile's preferred form (`prefer`), when the facts allow more than what was
        /// seen: kind, fields and its profile basis.
        prefer: Option<Prefer>,
    },
    /// A `sleep` (a `wait` step), ms.
    Wait(u64),
}

/// The profile's preferred form of an expectation: what the server did, where the facts allow
/// other outcomes too.
#[derive(Debug, Clone)]
pub struct Prefer {
    /// The unit kind.
    pub kind: &'static str,
    /// Its fields.
    pub fields: serde_json::Map<String, serde_json::Value>,
    /// The profile decision it rests on.
    pub basis: &'static str,
}

/// Everything `save` needs: the record and what was observed.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// The steps and expectations, in order.
    pub records: Vec<Record>,
    /// The commands that made them, as typed (for the title).
    pub commands: Vec<String>,
    /// Whole u32 values the server sent.
    pub u32_units: u64,
    /// u32 values that answered no request (the server pushes: P2).
    pub unprompted: u64,
    /// Connections the server closed.
    pub server_closes: u64,
    /// How connection 0 ended, if it did.
    pub conn0: Option<Ended>,
    /// A connection was refused (CONNECTION_REFUSED).
    pub refused: bool,
    /// A P4 reset (0xFF on a 4th stream) was answered with a close 0.
    pub reset_discriminator: bool,
    /// A commit from 0xFFFF_FFFE was answered (wrapping, as coded).
    pub wrapped_commit: bool,
    /// A commit from 0xFFFF_FFFE closed the connection with 5 (P1).
    pub checked_commit: bool,
    /// Commands that failed.
    pub failures: u64,
    /// Facts exercised (for `decisions`).
    pub facts: Vec<&'static str>,
}

/// The REPL's session (see the module docs).
#[derive(Debug)]
pub struct Repl {
    options: Options,
    started: Instant,
    conns: BTreeMap<ConnId, Conn>,
    requests: Vec<Request>,
    /// Unanswered requests per (connection, stream), oldest first (indices into `requests`).
    pending: BTreeMap<(ConnId, u64), VecDeque<usize>>,
    recording: Recording,
    /// Where the previous recorded step ended (the next expectation's window starts there).
    mark: Instant,
    ok: u64,
}

/// `[  12.345 s]`.
fn stamp(at: Instant) -> String {
    format!("[{:>9.3} s]", at.since_start().as_secs_f64())
}

/// A duration for people: `0.41 ms`, `2.500 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}

/// A close as people read it: `application 5 (stream_error) "stream error"`.
pub fn describe_close(close: &Close) -> String {
    match close {
        Close::Application { code, reason } => {
            let name = CloseCode::from_code(*code)
                .map_or_else(|| format!("{code} (not a Proton code)"), |c| c.to_string());
            if reason.is_empty() {
                format!("application {name}")
            } else {
                format!("application {name} {reason:?}")
            }
        }
        Close::Transport { code: 2, .. } => "transport 0x2 (CONNECTION_REFUSED)".into(),
        Close::Transport { code, reason } => {
            if reason.is_empty() {
                format!("transport {code:#x}")
            } else {
                format!("transport {code:#x} {reason:?}")
            }
        }
        Close::TimedOut => "idle timeout".into(),
        Close::Reset => "stateless reset".into(),
        Close::Other(text) => text.clone(),
    }
}

fn ms_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

impl Repl {
    /// A session that starts at `now`.
    pub fn new(options: Options, now: Instant) -> Repl {
        Repl {
            options,
            started: now,
            conns: BTreeMap::new(),
            requests: Vec::new(),
            pending: BTreeMap::new(),
            recording: Recording::default(),
            mark: now,
            ok: 0,
        }
    }

    /// Its options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// What `save` writes from.
    pub fn recording(&self) -> &Recording {
        &self.recording
    }

    /// Commands that failed so far.
    pub fn failures(&self) -> u64 {
        self.recording.failures
    }

    /// Whether a connection is live (connected or connecting, not ended).
    pub fn has_live_connection(&self) -> bool {
        self.conns.values().any(|c| c.ended.is_none())
    }

    /// Runs one command line's invocation (with its repeat count).
    pub fn execute(
        &mut self,
        d: &mut dyn Driver,
        inv: &Invocation,
        out: &mut dyn Output,
    ) -> Outcome {
        let records_command = !matches!(
            inv.command,
            Command::Help { .. } | Command::Status | Command::Save { .. } | Command::Exit
        );
        if records_command {
            self.recording.commands.push(inv.to_string());
        }
        let mut outcome = Outcome::Done;
        for n in 0..inv.repeat {
            outcome = self.execute_one(d, &inv.command, out);
            match &outcome {
                Outcome::Done => {}
                Outcome::Exit => return outcome,
                Outcome::Failed(why) => {
                    let stopped = if inv.repeat > 1 {
                        format!(" (stopped after {n} of {} repetitions)", inv.repeat)
                    } else {
                        String::new()
                    };
                    out.line(&format!(
                        "{} FAILED {}: {why}{stopped}",
                        stamp(d.now()),
                        inv.command.name()
                    ));
                    break;
                }
            }
        }
        match &outcome {
            Outcome::Failed(_) => self.recording.failures += 1,
            Outcome::Done if records_command => self.ok += 1,
            _ => {}
        }
        outcome
    }

    /// Lets time pass without a command (the user is typing), printing what the server does.
    pub fn idle(&mut self, d: &mut dyn Driver, until: Instant, out: &mut dyn Output) {
        for (at, e) in d.advance(until) {
            self.on_event(at, e, out);
        }
    }

    /// Closes every live connection with code 0 (leaving the REPL); not recorded.
    pub fn shutdown(&mut self, d: &mut dyn Driver, out: &mut dyn Output) {
        let live: Vec<ConnId> = self
            .conns
            .values()
            .filter(|c| c.ended.is_none())
            .map(|c| c.id)
            .collect();
        if live.is_empty() {
            return;
        }
        let now = d.now();
        if let Ok(p) = d.peer() {
            for conn in &live {
                p.close(now, *conn, CLOSE_CODE, "exit");
            }
        }
        // Let the CONNECTION_CLOSE frames leave (and take in our own Ended events).
        let until = now + Duration::from_millis(50);
        while d.now() < until {
            let events = d.advance(until);
            for (at, e) in events {
                self.on_event(at, e, out);
            }
        }
        for conn in live {
            out.line(&format!(
                "{} conn {conn}: closed by this side on exit: application {}",
                stamp(now),
                CloseCode::Normal
            ));
        }
    }

    fn execute_one(
        &mut self,
        d: &mut dyn Driver,
        command: &Command,
        out: &mut dyn Output,
    ) -> Outcome {
        let result = match command {
            Command::Connect { timeout } => {
                self.connect(d, timeout.unwrap_or(self.options.connect_timeout), out)
            }
            Command::SendEvent { id } => self.send_event(d, *id, out),
            Command::Commit { request } => self.exchange(d, Kind::Commit, *request, out),
            Command::ReadAction => self.read_action(d, out),
            Command::Close => self.close(d, out),
            Command::Sleep { duration } => {
                self.sleep(d, *duration, out);
                Ok(())
            }
            Command::Reset => self.reset(d, out),
            Command::ResetStream => self.reset_stream(d, out),
            Command::WaitClose { timeout } => {
                self.wait_close(d, timeout.unwrap_or(self.options.op_timeout), out)
            }
            Command::Status => {
                self.status(d, out);
                Ok(())
            }
            Command::Save { path } => match crate::repl::save::save(self, &*d, path) {
                Ok(saved) => {
                    out.line(&saved.summary());
                    for note in &saved.notes {
                        out.line(&format!("note: {note}"));
                    }
                    Ok(())
                }
                Err(e) => Err(e),
            },
            Command::Help { topic } => {
                for line in language::help(*topic).lines() {
                    out.line(line);
                }
                Ok(())
            }
            Command::Exit => return Outcome::Exit,
        };
        match result {
            Ok(()) => Outcome::Done,
            Err(why) => Outcome::Failed(why),
        }
    }

    // ---- Recording.

    fn record_step(&mut self, step: ProtonStep, at: Instant) {
        self.recording.records.push(Record::Step(step));
        self.mark = self.mark.max(at);
    }

    fn record_expect(
        &mut self,
        kind: &'static str,
        fields: serde_json::Value,
        at: Instant,
        basis: &'static str,
    ) {
        self.record_expect_set(kind, fields, at, basis, Vec::new(), None);
    }

    /// An expectation whose set the facts allow (`kind`/`fields`, and `any_of`) is wider than
    /// what the server did: `prefer` records that, on its profile basis.
    fn record_expect_set(
        &mut self,
        kind: &'static str,
        fields: serde_json::Value,
        at: Instant,
        basis: &'static str,
        any_of: Vec<(&'static str, serde_json::Value)>,
        prefer: Option<(&'static str, serde_json::Value, &'static str)>,
    ) {
        let map = |v: serde_json::Value| match v {
            serde_json::Value::Object(m) => m,
            _ => serde_json::Map::new(),
        };
        let prefer = prefer.map(|(kind, fields, basis)| Prefer {
            kind,
            fields: map(fields),
            basis,
        });
        if let Some(p) = &prefer {
            self.fact(p.basis);
        }
        self.recording.records.push(Record::Expect {
            kind,
            fields: map(fields),
            after_ms: ms_ceil(at - self.mark),
            basis,
            any_of: any_of.into_iter().map(|(k, f)| (k, map(f))).collect(),
            prefer,
        });
        self.mark = self.mark.max(at);
        for id in basis.split(", ") {
            self.fact(id);
        }
    }

    fn fact(&mut self, id: &'static str) {
        if !self.recording.facts.contains(&id) {
            self.recording.facts.push(id);
        }
    }

    // ---- Events.

    /// Takes one event of the client (`at`: when), printing what needs saying and recording what
    /// the server did.
    fn on_event(&mut self, at: Instant, event: ProtonEvent, out: &mut dyn Output) {
        match event {
            ProtonEvent::Connected { conn, alpn } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.connected = Some(at);
                }
                let mut fields = serde_json::json!({ "conn": conn });
                if let Some(a) = alpn {
                    fields["alpn"] = serde_json::Value::String(a);
                }
                self.record_expect("connected", fields, at, "wire.alpn");
            }
            ProtonEvent::Value {
                conn,
                stream,
                value,
            } => self.on_value(at, conn, stream, value, out),
            ProtonEvent::Ended {
                conn,
                close,
                by_peer,
            } => self.on_ended(at, conn, close, by_peer, out),
            ProtonEvent::Blocked { conn, what } => {
                out.line(&format!("{} conn {conn}: blocked: {what}", stamp(at)));
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.blocked = Some(what);
                }
                self.record_expect(
                    "blocked",
                    serde_json::json!({ "conn": conn }),
                    at,
                    "setup.limit",
                );
            }
            ProtonEvent::Fin {
                conn,
                stream,
                pending,
            } => {
                let inside = if pending > 0 {
                    format!(" inside a u32 ({pending} bytes of it)")
                } else {
                    String::new()
                };
                out.line(&format!(
                    "{} conn {conn}: the server ended stream {stream} (FIN){inside}",
                    stamp(at)
                ));
            }
            ProtonEvent::Reset { conn, stream, code } => out.line(&format!(
                "{} conn {conn}: the server reset stream {stream} (RESET_STREAM code {code})",
                stamp(at)
            )),
            ProtonEvent::StopSending { conn, stream, code } => out.line(&format!(
                "{} conn {conn}: the server asked to stop sending on stream {stream} (STOP_SENDING code {code})",
                stamp(at)
            )),
            ProtonEvent::StreamOpened { conn, stream } => out.line(&format!(
                "{} conn {conn}: the server opened stream {stream}",
                stamp(at)
            )),
            ProtonEvent::Discriminator { conn, stream, byte } => out.line(&format!(
                "{} conn {conn}: the server sent discriminator {byte:#04x} on stream {stream}",
                stamp(at)
            )),
            ProtonEvent::Listening
            | ProtonEvent::RefusedIncoming
            | ProtonEvent::Acked { .. }
            | ProtonEvent::ClientDone { .. } => {}
        }
    }

    fn on_value(
        &mut self,
        at: Instant,
        conn: ConnId,
        stream: u64,
        value: u32,
        out: &mut dyn Output,
    ) {
        self.recording.u32_units += 1;
        let next = self
            .pending
            .get_mut(&(conn, stream))
            .and_then(VecDeque::pop_front);
        let Some(index) = next else {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            c.unprompted += 1;
            self.recording.unprompted += 1;
            let action = c.streams.is_some_and(|s| s[Kind::Action.index()] == stream);
            if action {
                c.pushed.push_back((at, value));
                if !c.pushing {
                    c.pushing = true;
                    out.line(&format!(
                        "{} conn {conn}: the server pushes actions unprompted (P2): {value} on stream {stream}; `read_action` takes the pushed values in turn",
                        stamp(at)
                    ));
                }
            } else if c.unprompted == 1 {
                out.line(&format!(
                    "{} conn {conn}: the server sent {value} on stream {stream}, answering no request (further ones are counted, not shown)",
                    stamp(at)
                ));
            }
            return;
        };
        let Some(req) = self.requests.get_mut(index) else {
            return;
        };
        req.answer = Some((at, value));
        let (kind, abandoned, sent, asked) = (req.kind, req.abandoned, req.sent, req.at);
        let valued = serde_json::json!({ "conn": conn, "stream": stream, "value": value });
        match kind.basis() {
            (fact, None) => self.record_expect("u32", valued, at, fact),
            // The answer comes (a fact); its value is one reading of several (the profile's).
            (fact, Some(reading)) => self.record_expect_set(
                "u32",
                serde_json::json!({ "conn": conn, "stream": stream }),
                at,
                fact,
                Vec::new(),
                Some(("u32", valued, reading)),
            ),
        }
        if abandoned {
            out.line(&format!(
                "{} conn {conn}: late answer {value} to {} {sent} on stream {stream}, {} after it was sent",
                stamp(at),
                kind.name(),
                human(at - asked)
            ));
        }
    }

    fn on_ended(
        &mut self,
        at: Instant,
        conn: ConnId,
        close: Close,
        by_peer: bool,
        out: &mut dyn Output,
    ) {
        let ended = Ended {
            at,
            close: close.clone(),
            by_server: by_peer,
        };
        if conn == 0 && self.recording.conn0.is_none() {
            self.recording.conn0 = Some(ended.clone());
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.ended = Some(ended);
        }
        // Requests that can no longer be answered.
        for ((c, _), queue) in self.pending.iter_mut() {
            if *c == conn {
                queue.clear();
            }
        }
        if !by_peer {
            return;
        }
        match &close {
            Close::Transport { code: 2, .. } => {
                self.recording.refused = true;
                out.line(&format!(
                    "{} conn {conn}: refused by the server: transport 0x2 (CONNECTION_REFUSED)",
                    stamp(at)
                ));
                // H10 (a fact): the second connection is not served, refused or closed by the
                // server; CONNECTION_REFUSED is the profile's form.
                self.record_expect_set(
                    "refused",
                    serde_json::json!({ "conn": conn }),
                    at,
                    "H10",
                    vec![("close", serde_json::json!({ "conn": conn, "by": "iut" }))],
                    Some((
                        "refused",
                        serde_json::json!({ "conn": conn }),
                        "wire.second_connection",
                    )),
                );
            }
            _ => {
                let (space, code, _) = crate::observe::close_parts(&close);
                self.recording.server_closes += 1;
                let who = if matches!(close, Close::TimedOut) {
                    "ended"
                } else {
                    "closed by the server"
                };
                out.line(&format!(
                    "{} conn {conn}: {who}: {}",
                    stamp(at),
                    describe_close(&close)
                ));
                let mut fields = serde_json::json!({ "conn": conn, "by": "iut", "space": space });
                if let Some(code) = code {
                    fields["code"] = code.into();
                }
                // A close with 0 after the reset discriminator is P4's (a profile decision): a
                // saved scenario that expects it only deviates where a server reads it otherwise.
                // After a violation the session made, the connection ending is the violated
                // fact's, and the code only the profile's (wire.close_codes).
                let c = self.conns.get(&conn);
                let reset = c.is_some_and(|c| c.fourth.is_some());
                let violation = c.and_then(|c| c.violation);
                let overflow = c.is_some_and(|c| c.overflow);
                if matches!(close, Close::TimedOut) {
                    self.record_expect("close", fields, at, "timeouts");
                } else if reset && code == Some(0) {
                    self.record_expect("close", fields, at, "P4");
                } else if let Some(fact) = violation.filter(|_| space == "application") {
                    self.record_expect_set(
                        "close",
                        serde_json::json!({ "conn": conn, "by": "iut" }),
                        at,
                        fact,
                        Vec::new(),
                        Some(("close", fields, "wire.close_codes")),
                    );
                } else if overflow && code == Some(5) {
                    self.record_expect("close", fields, at, "P1");
                } else if code == Some(4) && space == "application" {
                    // The operation timeout: the connection ends (H6); 4 is the profile's code.
                    self.record_expect_set(
                        "close",
                        serde_json::json!({ "conn": conn, "by": "iut" }),
                        at,
                        "H6",
                        Vec::new(),
                        Some(("close", fields, "wire.close_codes")),
                    );
                } else {
                    self.record_expect("close", fields, at, "wire.close_codes");
                }
            }
        }
    }

    // ---- Waiting.

    /// Advances until `done` holds or `deadline`; returns whether `done` holds.
    fn wait_until(
        &mut self,
        d: &mut dyn Driver,
        deadline: Instant,
        out: &mut dyn Output,
        done: &dyn Fn(&Repl) -> bool,
    ) -> bool {
        let mut stuck = 0u32;
        loop {
            if done(self) {
                return true;
            }
            let before = d.now();
            if before >= deadline {
                return false;
            }
            let events = d.advance(deadline);
            if events.is_empty() && d.now() <= before {
                // A driver that cannot make time pass (it never should): do not spin forever.
                stuck += 1;
                if stuck > 1_000 {
                    return done(self);
                }
            } else {
                stuck = 0;
            }
            for (at, e) in events {
                self.on_event(at, e, out);
            }
        }
    }

    /// The connection commands act on: the newest one that is connected and live.
    fn current(&self) -> Result<ConnId, String> {
        self.conns
            .values()
            .rev()
            .find(|c| c.ended.is_none() && c.connected.is_some())
            .map(|c| c.id)
            .ok_or_else(|| match self.conns.values().next_back() {
                None => "not connected: `connect` first".to_owned(),
                Some(c) => match &c.ended {
                    Some(e) => format!(
                        "not connected: connection {} ended at {:.3} s ({}); `connect` again",
                        c.id,
                        e.at.since_start().as_secs_f64(),
                        describe_close(&e.close)
                    ),
                    None => format!("not connected: connection {} has no handshake yet", c.id),
                },
            })
    }

    // ---- Commands.

    fn connect(
        &mut self,
        d: &mut dyn Driver,
        timeout: Duration,
        out: &mut dyn Output,
    ) -> Result<(), String> {
        let now = d.now();
        if let Some(live) = self.conns.values().rev().find(|c| c.ended.is_none()) {
            out.line(&format!(
                "{} note: connection {} is live: this is a second connection (a server refuses it while one is live, H10)",
                stamp(now),
                live.id
            ));
        }
        let conn = d.peer()?.connect(now, None)?;
        self.record_step(ProtonStep::Connect(ConnectStep::default()), now);
        self.conns.insert(
            conn,
            Conn {
                id: conn,
                started: now,
                connected: None,
                ended: None,
                streams: None,
                next_event: 1,
                events: 0,
                commits: 0,
                actions: 0,
                next_counter: 0,
                fourth: None,
                last_event: None,
                violation: None,
                overflow: false,
                blocked: None,
                unprompted: 0,
                pushed: VecDeque::new(),
                pushing: false,
            },
        );
        let done = move |r: &Repl| {
            r.conns
                .get(&conn)
                .is_some_and(|c| c.connected.is_some() || c.ended.is_some())
        };
        self.wait_until(d, now + timeout, out, &done);
        let (connected, ended) = match self.conns.get(&conn) {
            Some(c) => (c.connected, c.ended.clone()),
            None => (None, None),
        };
        if let Some(e) = ended {
            return Err(format!(
                "connection {conn} ended during the handshake: {}",
                describe_close(&e.close)
            ));
        }
        let Some(connected_at) = connected else {
            let now = d.now();
            d.peer()?.close(now, conn, CLOSE_CODE, "connect timeout");
            self.record_step(
                ProtonStep::Close(CloseStep {
                    conn,
                    code: CLOSE_CODE,
                    reason: "connect timeout".into(),
                }),
                now,
            );
            return Err(format!(
                "no handshake with {} within {} (is a Proton server there?)",
                self.options.target,
                human(timeout)
            ));
        };
        let now = d.now();
        let peer = d.peer()?;
        let mut ids = [0u64; 3];
        for id in &mut ids {
            *id = peer.open(now, conn, true)?;
        }
        for (i, id) in ids.iter().enumerate() {
            let disc = [u8::try_from(i + 1).unwrap_or(1)];
            peer.write(now, conn, *id, &disc)?;
        }
        self.record_step(
            ProtonStep::OpenBi(OpenStep {
                conn,
                count: 3,
                write: Vec::new(),
            }),
            now,
        );
        for (i, id) in ids.iter().enumerate() {
            self.record_step(
                ProtonStep::Write(WriteStep {
                    at: StreamRef { conn, stream: *id },
                    hex: Some(format!("{:02x}", i + 1)),
                    u32: None,
                    chunks: Vec::new(),
                    fin: false,
                    first: false,
                }),
                now,
            );
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.streams = Some(ids);
        }
        self.fact("wire.discriminator");
        out.line(&format!(
            "{} conn {conn}: connected to {} (alpn proton) in {}; opened streams {} Event, {} StateCommit, {} Action and sent their discriminators 1, 2, 3",
            stamp(connected_at),
            self.options.target,
            human(connected_at - self.conns.get(&conn).map_or(connected_at, |c| c.started)),
            ids[0],
            ids[1],
            ids[2]
        ));
        Ok(())
    }

    fn send_event(
        &mut self,
        d: &mut dyn Driver,
        id: Option<u32>,
        out: &mut dyn Output,
    ) -> Result<(), String> {
        let conn = self.current()?;
        let value = match id {
            Some(v) => v,
            None => self.conns.get(&conn).map_or(1, |c| c.next_event),
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            c.next_event = value.saturating_add(1);
            // H3: the first id ≥ 1, each above the last (equal is refused); below the last breaks
            // wire.event itself.
            let broke = match c.last_event {
                Some(last) if value < last => Some("wire.event"),
                Some(last) if value == last => Some("H3"),
                None if value == 0 => Some("H3"),
                _ => None,
            };
            if c.violation.is_none() {
                c.violation = broke;
            }
            c.last_event = Some(value);
        }
        self.exchange(d, Kind::Event, value, out)
    }

    /// Writes `value` on the stream of `kind`, waits for its answer, judges it.
    fn exchange(
        &mut self,
        d: &mut dyn Driver,
        kind: Kind,
        value: u32,
        out: &mut dyn Output,
    ) -> Result<(), String> {
        let conn = self.current()?;
        let streams = self
            .conns
            .get(&conn)
            .and_then(|c| c.streams)
            .ok_or_else(|| format!("connection {conn} has no streams"))?;
        let stream = streams[kind.index()];
        let now = d.now();
        d.peer()?.write(now, conn, stream, &value.to_le_bytes())?;
        if kind == Kind::Commit && value >= 0xFFFF_FFFE {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.overflow = true;
            }
        }
        self.record_step(
            ProtonStep::Write(WriteStep {
                at: StreamRef { conn, stream },
                hex: None,
                u32: Some(vec![value.into()]),
                chunks: Vec::new(),
                fin: false,
                first: false,
            }),
            now,
        );
        let index = self.requests.len();
        self.requests.push(Request {
            kind,
            sent: value,
            at: now,
            abandoned: false,
            answer: None,
        });
        self.pending
            .entry((conn, stream))
            .or_default()
            .push_back(index);
        let done = move |r: &Repl| {
            r.requests.get(index).is_some_and(|q| q.answer.is_some())
                || r.conns.get(&conn).is_none_or(|c| c.ended.is_some())
        };
        let deadline = now + self.options.op_timeout;
        self.wait_until(d, deadline, out, &done);
        let answer = self.requests.get(index).and_then(|q| q.answer);
        let head = format!(
            "conn {conn}: {:<11} sent {value} on stream {stream}",
            kind.name()
        );
        let Some((at, got)) = answer else {
            if let Some(q) = self.requests.get_mut(index) {
                q.abandoned = true;
            }
            let why = match self.conns.get(&conn).and_then(|c| c.ended.clone()) {
                Some(e) => {
                    let overflow = kind == Kind::Commit
                        && value >= 0xFFFF_FFFE
                        && matches!(e.close, Close::Application { code: 5, .. })
                        && e.by_server;
                    if overflow {
                        self.recording.checked_commit = true;
                    }
                    format!(
                        "no answer: the connection ended ({}){}",
                        describe_close(&e.close),
                        if overflow {
                            "; a P1 server closes on commits that overflow"
                        } else {
                            ""
                        }
                    )
                }
                None => format!(
                    "no answer within {} (--op-timeout)",
                    human(self.options.op_timeout)
                ),
            };
            return Err(format!("{head}: {why}"));
        };
        let (expected, note) = match kind {
            Kind::Event => (value, ""),
            Kind::Commit => {
                if value >= 0xFFFF_FFFE {
                    self.recording.wrapped_commit = true;
                    (value.wrapping_add(2), " (wrapping, as coded)")
                } else {
                    (value.wrapping_add(2), "")
                }
            }
            Kind::Action => (self.conns.get(&conn).map_or(0, |c| c.next_counter), ""),
        };
        if let Some(c) = self.conns.get_mut(&conn) {
            match kind {
                Kind::Event => c.events += 1,
                Kind::Commit => c.commits += 1,
                Kind::Action => {
                    c.actions += 1;
                    c.next_counter = got.wrapping_add(1);
                }
            }
        }
        let what = match kind {
            Kind::Event => "echo",
            Kind::Commit => "answer",
            Kind::Action => "counter",
        };
        let verdict = if got == expected {
            format!("ok{note}")
        } else {
            format!("WRONG: expected {expected}")
        };
        let line = format!("{head}; {what} {got} after {}: {verdict}", human(at - now));
        if got == expected {
            out.line(&format!("{} {line}", stamp(at)));
            Ok(())
        } else {
            Err(line)
        }
    }

    /// Pull (as coded): write 42 and read the counter. When the server pushes (P2), the next
    /// pushed value instead (nothing is written; not recorded as a step: pushes come on their own
    /// clock, so a saved session expects only how many values came).
    fn read_action(&mut self, d: &mut dyn Driver, out: &mut dyn Output) -> Result<(), String> {
        let conn = self.current()?;
        if !self.conns.get(&conn).is_some_and(|c| c.pushing) {
            return self.exchange(d, Kind::Action, ACTION_REQUEST, out);
        }
        let now = d.now();
        let done = move |r: &Repl| {
            r.conns
                .get(&conn)
                .is_none_or(|c| !c.pushed.is_empty() || c.ended.is_some())
        };
        self.wait_until(d, now + self.options.op_timeout, out, &done);
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(format!("connection {conn} is gone"));
        };
        let stream = c.streams.map_or(0, |s| s[Kind::Action.index()]);
        let Some((at, got)) = c.pushed.pop_front() else {
            return Err(match &c.ended {
                Some(e) => format!(
                    "conn {conn}: no pushed action: the connection ended ({})",
                    describe_close(&e.close)
                ),
                None => format!(
                    "conn {conn}: no pushed action within {} (--op-timeout)",
                    human(self.options.op_timeout)
                ),
            });
        };
        let expected = c.next_counter;
        c.actions += 1;
        c.next_counter = got.wrapping_add(1);
        let line = format!(
            "conn {conn}: {:<11} pushed on stream {stream}: counter {got}{}",
            Kind::Action.name(),
            if at < now {
                format!(" ({} ago)", human(now - at))
            } else {
                format!(" after {}", human(at - now))
            }
        );
        if got == expected {
            out.line(&format!("{} {line}: ok", stamp(at.max(now))));
            Ok(())
        } else {
            Err(format!("{line}: WRONG: expected {expected}"))
        }
    }

    fn close(&mut self, d: &mut dyn Driver, out: &mut dyn Output) -> Result<(), String> {
        let conn = self
            .conns
            .values()
            .rev()
            .find(|c| c.ended.is_none())
            .map(|c| c.id)
            .ok_or_else(|| {
                self.current()
                    .err()
                    .unwrap_or_else(|| "not connected".into())
            })?;
        let now = d.now();
        d.peer()?.close(now, conn, CLOSE_CODE, "close");
        self.record_step(
            ProtonStep::Close(CloseStep {
                conn,
                code: CLOSE_CODE,
                reason: "close".into(),
            }),
            now,
        );
        // Our own Ended event, and the CONNECTION_CLOSE on its way.
        for (at, e) in d.advance(now) {
            self.on_event(at, e, out);
        }
        out.line(&format!(
            "{} conn {conn}: closed by this side: application {}",
            stamp(now),
            CloseCode::Normal
        ));
        Ok(())
    }

    fn sleep(&mut self, d: &mut dyn Driver, duration: Duration, out: &mut dyn Output) {
        let now = d.now();
        self.recording.records.push(Record::Wait(ms_ceil(duration)));
        self.mark = self.mark.max(now) + duration;
        let never = |_: &Repl| false;
        self.wait_until(d, now + duration, out, &never);
    }

    fn reset(&mut self, d: &mut dyn Driver, out: &mut dyn Output) -> Result<(), String> {
        if self.conns.values().any(|c| c.ended.is_none()) {
            self.close(d, out)?;
        } else {
            out.line(&format!("{} no live connection to close", stamp(d.now())));
        }
        let wait = self.options.idle * 2;
        out.line(&format!(
            "{} waiting {} (2 × idle) so that the server forgets the connection",
            stamp(d.now()),
            human(wait)
        ));
        self.sleep(d, wait, out);
        out.line(&format!("{} reset done", stamp(d.now())));
        Ok(())
    }

    fn reset_stream(&mut self, d: &mut dyn Driver, out: &mut dyn Output) -> Result<(), String> {
        let conn = self.current()?;
        if let Some(s) = self.conns.get(&conn).and_then(|c| c.fourth) {
            return Err(format!(
                "connection {conn} already has a 4th stream ({s}) waiting: the server does not allow it"
            ));
        }
        let now = d.now();
        let peer = d.peer()?;
        let id = peer.open(now, conn, true)?;
        peer.write(now, conn, id, &[0xFF])?;
        self.record_step(
            ProtonStep::OpenBi(OpenStep {
                conn,
                count: 1,
                write: Vec::new(),
            }),
            now,
        );
        self.record_step(
            ProtonStep::Write(WriteStep {
                at: StreamRef { conn, stream: id },
                hex: Some("ff".into()),
                u32: None,
                chunks: Vec::new(),
                fin: false,
                first: false,
            }),
            now,
        );
        if let Some(c) = self.conns.get_mut(&conn) {
            c.fourth = Some(id);
        }
        out.line(&format!(
            "{} conn {conn}: opened stream {id} and sent the reset discriminator 0xff (P4)",
            stamp(now)
        ));
        let done = move |r: &Repl| {
            r.conns
                .get(&conn)
                .is_none_or(|c| c.ended.is_some() || c.blocked.is_some())
        };
        self.wait_until(d, now + self.options.op_timeout, out, &done);
        let (ended, blocked) = match self.conns.get(&conn) {
            Some(c) => (c.ended.clone(), c.blocked.clone()),
            None => (None, None),
        };
        match (ended, blocked) {
            (Some(e), _) if e.by_server && matches!(e.close, Close::Application { code: 0, .. }) => {
                self.recording.reset_discriminator = true;
                out.line(&format!(
                    "{} conn {conn}: reset by the server after {}: `connect` may follow at once (P4)",
                    stamp(e.at),
                    human(e.at - now)
                ));
                Ok(())
            }
            (Some(e), _) => Err(format!(
                "the connection ended otherwise than by a reset: {}",
                describe_close(&e.close)
            )),
            (None, Some(_)) => Err(
                "the server allows only 3 streams (MAX_STREAMS): it has no P4 reset (reset_discriminator)"
                    .into(),
            ),
            (None, None) => Err(format!(
                "the server did not reset the connection within {} (--op-timeout)",
                human(self.options.op_timeout)
            )),
        }
    }

    fn wait_close(
        &mut self,
        d: &mut dyn Driver,
        timeout: Duration,
        out: &mut dyn Output,
    ) -> Result<(), String> {
        let Some(conn) = self
            .conns
            .values()
            .rev()
            .find(|c| c.ended.is_none())
            .or_else(|| self.conns.values().next_back())
            .map(|c| c.id)
        else {
            return Err("not connected: `connect` first".into());
        };
        let now = d.now();
        if let Some(e) = self.conns.get(&conn).and_then(|c| c.ended.clone()) {
            out.line(&format!(
                "{} conn {conn}: had already ended at {:.3} s: {}{}",
                stamp(now),
                e.at.since_start().as_secs_f64(),
                describe_close(&e.close),
                if e.by_server { "" } else { " (by this side)" }
            ));
            return Ok(());
        }
        let done = move |r: &Repl| r.conns.get(&conn).is_none_or(|c| c.ended.is_some());
        if self.wait_until(d, now + timeout, out, &done) {
            Ok(())
        } else {
            Err(format!(
                "connection {conn} is still open after {}",
                human(timeout)
            ))
        }
    }

    fn status(&mut self, d: &mut dyn Driver, out: &mut dyn Output) {
        let now = d.now();
        out.line(&format!(
            "target {} ({}), session {}",
            self.options.target,
            if d.real_time() {
                "real time over UDP"
            } else {
                "in-process reference server, virtual time"
            },
            human(now - self.started)
        ));
        if self.conns.is_empty() {
            out.line("no connection yet");
        }
        for c in self.conns.values() {
            let state = match (&c.ended, c.connected) {
                (Some(e), _) => format!(
                    "ended at {:.3} s{}: {}",
                    e.at.since_start().as_secs_f64(),
                    match (&e.close, e.by_server) {
                        (Close::TimedOut, _) => "",
                        (_, true) => " by the server",
                        (_, false) => " by this side",
                    },
                    describe_close(&e.close)
                ),
                (None, Some(t)) => {
                    format!("live, connected at {:.3} s", t.since_start().as_secs_f64())
                }
                (None, None) => "connecting".into(),
            };
            out.line(&format!("conn {}: {state}", c.id));
            if let Some(s) = c.streams {
                let waiting: usize = Kind::ALL
                    .iter()
                    .map(|k| {
                        self.pending
                            .get(&(c.id, s[k.index()]))
                            .map_or(0, VecDeque::len)
                    })
                    .sum();
                out.line(&format!(
                    "  streams {} Event, {} StateCommit, {} Action; events {} (next id {}), commits {}, actions {} (next counter {}){}{}",
                    s[0], s[1], s[2], c.events, c.next_event, c.commits, c.actions, c.next_counter,
                    if waiting > 0 { format!("; {waiting} request(s) unanswered") } else { String::new() },
                    if c.unprompted > 0 { format!("; {} unprompted value(s)", c.unprompted) } else { String::new() }
                ));
            }
        }
        let steps = crate::repl::save::step_count(&self.recording);
        out.line(&format!(
            "commands: {} ok, {} failed; `save FILE` would write {steps} scenario steps",
            self.ok, self.recording.failures
        ));
    }
}
