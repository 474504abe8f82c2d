//! The exchange of each connection modelled from what both sides sent, and the rules checked
//! against it (see the crate docs for what is and is not asserted).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use handshake_proton_wire::{
    commit_answer, CloseCode, Discriminator, EventOrder, Message, StreamError, StreamReader,
};

use crate::rebuild::{At, Capture, CloseRec, Conn, Flow, StreamRec};
use crate::rules::{self, Rule};
use crate::{ConnectionView, Options, ProfileView, Report, Side, StreamView, REPORT_VERSION};

const MS: u64 = 1_000_000;
/// CONNECTION_REFUSED (RFC 9000 §20.1).
const CONNECTION_REFUSED: u64 = 0x2;
const ALPN: &[u8] = b"proton";

/// Violations, at most `MAX_VIOLATIONS_PER_RULE` kept per rule (`handshake_check::ViolationLog`,
/// placed by capture position).
#[derive(Default)]
struct Log(handshake_check::ViolationLog);

impl Log {
    fn record(&mut self, rule: &'static Rule, at: At, detail: String) {
        self.0.record_at(at.packet, at.time_ns, rule, detail);
    }
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / MS as f64)
}

fn same_addr(given: SocketAddr, seen: SocketAddr) -> bool {
    given == seen || (given.ip().is_unspecified() && given.port() == seen.port())
}

fn is_refused(conn: &Conn) -> bool {
    conn.close_of(Side::Server)
        .is_some_and(|c| !c.view.application && c.view.code == CONNECTION_REFUSED)
}

/// The CONNECTION_CLOSE `side` sent first, unless it only answered the other side's (RFC 9000
/// §10.2.2 lets an endpoint answer a close with one of its own).
fn initiated(conn: &Conn, side: Side) -> Option<&CloseRec> {
    let mine = conn.close_of(side)?;
    let other = match side {
        Side::Client => Side::Server,
        Side::Server => Side::Client,
    };
    match conn.close_of(other) {
        Some(o) if o.at < mine.at => None,
        _ => Some(mine),
    }
}

/// Whether `conn` (last seen at `last`) was live when the capture shows `at`: begun before it,
/// not yet closed, in capture order (datagrams of one virtual or coarse clock tick share a
/// timestamp), not silent for its idle timeout (an idle timeout closes silently: a packet the
/// client sends later, its close say, reaches a connection the server has forgotten), and seen
/// at or after `at`.
fn live_at(conn: &Conn, last: u64, at: At, tol: u64) -> bool {
    let begun = conn.first().is_some_and(|f| f.packet < at.packet);
    let closed = conn.first_close().is_some_and(|c| c.at.packet <= at.packet);
    begun && !closed && !conn.idle_by(at, tol) && last >= at.time_ns && !is_refused(conn)
}

/// Messages read from a flow, each with where its last byte arrived.
type Messages = Vec<(Result<Message, StreamError>, At)>;

/// The messages of a flow, and the reader after them.
fn read(flow: &Flow, mut reader: StreamReader) -> (Messages, StreamReader) {
    let mut input: &[u8] = &flow.data;
    let total = flow.data.len();
    let mut out = Vec::new();
    while let Some(m) = reader.next(&mut input) {
        let end = total - input.len();
        let at = end
            .checked_sub(1)
            .and_then(|i| flow.at(i))
            .unwrap_or_default();
        let stop = m.is_err();
        out.push((m, at));
        if stop {
            break;
        }
    }
    (out, reader)
}

fn values(msgs: &[(Result<Message, StreamError>, At)]) -> Vec<(u32, At)> {
    msgs.iter()
        .filter_map(|(m, at)| match m {
            Ok(Message::Value(v)) => Some((*v, *at)),
            _ => None,
        })
        .collect()
}

/// Judges everything rebuilt from the capture.
pub(crate) fn judge(cap: Capture, options: &Options) -> Report {
    let mut log = Log::default();
    let mut notes = cap.notes;
    let tol = options.tolerance.ns();
    let in_scope: Vec<bool> = cap
        .conns
        .iter()
        .map(|c| {
            options
                .server
                .is_none_or(|s| c.server.is_some_and(|cs| same_addr(s, cs)))
        })
        .collect();
    let listen = listen_bounds(&cap.conns, &in_scope, &options.profile);
    let second = live_before(&cap.conns, &in_scope, tol);
    let mut views = Vec::new();
    for (conn, &scope) in cap.conns.iter().zip(&in_scope) {
        let refused = is_refused(conn);
        let mut judged = false;
        let i = conn.index;
        if !scope {
            notes.push(format!(
                "connection {i} ({} -> {}) is not to the server judged: not judged",
                opt_addr(conn.client),
                opt_addr(conn.server)
            ));
        } else if refused {
            // Judged with the other connections (proton.second_connection.refused).
        } else if conn.undecrypted_1rtt > 0 {
            let detail = format!(
                "{} 1-RTT packets of connection {i} do not decrypt: its exchange is not judged",
                conn.undecrypted_1rtt
            );
            match (cap.secrets, conn.first_undecrypted_1rtt) {
                (true, Some(at)) => log.record(&rules::DECRYPT, at, detail),
                _ => notes.push(detail),
            }
        } else if conn.first().is_some() {
            judged = true;
            let listen_upper = conn.server.and_then(|s| listen.get(&s).copied());
            let mut j = ConnJudge::new(
                conn,
                &options.profile,
                tol,
                listen_upper,
                &mut log,
                &mut notes,
            );
            // A second connection's end is judged with the other connections (H10).
            j.second = second.get(conn.index).copied().flatten().is_some();
            j.run();
        }
        if scope {
            // What the ClientHello offered (an empty list: no ClientHello was read).
            if !conn.offered_alpn.is_empty() && !conn.offered_alpn.iter().any(|a| a == ALPN) {
                let offered: Vec<_> = conn
                    .offered_alpn
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                log.record(
                    &rules::CLIENT_ALPN,
                    conn.first().unwrap_or_default(),
                    format!("connection {i}: the client offered ALPN {offered:?}, not \"proton\""),
                );
            }
            if let Some(alpn) = &conn.alpn {
                if alpn.as_slice() != ALPN {
                    let at = conn
                        .first_of(Side::Server)
                        .or(conn.first())
                        .unwrap_or_default();
                    log.record(
                        &rules::ALPN,
                        at,
                        format!(
                            "connection {i}: the server selected ALPN {:?}",
                            String::from_utf8_lossy(alpn)
                        ),
                    );
                }
            }
            if conn.bad_frames > 0 {
                notes.push(format!(
                    "connection {i}: {} packets held frames that could not be parsed",
                    conn.bad_frames
                ));
            }
            if let Some(close) =
                initiated(conn, Side::Server).filter(|c| !c.view.application && !refused)
            {
                notes.push(format!(
                    "connection {i}: the server's QUIC closed it with transport error {:#x} {:?} (not judged)",
                    close.view.code, close.view.reason
                ));
            }
        }
        views.push(view(conn, refused, judged));
    }
    second_connections(&cap.conns, &second, tol, &mut log, &mut notes);
    let (violations, _) = log.0.into_parts();
    Report {
        version: REPORT_VERSION,
        datagrams: cap.datagrams,
        connections: views,
        violations,
        undecrypted: cap.undecrypted,
        damage: cap.damage,
        notes,
    }
}

fn opt_addr(a: Option<SocketAddr>) -> String {
    a.map_or_else(|| "?".to_owned(), |a| a.to_string())
}

/// H1: by when each server surely listens: when it first sent stream data, or `startup_ms` after
/// its first packet (it existed then).
fn listen_bounds(conns: &[Conn], in_scope: &[bool], p: &ProfileView) -> BTreeMap<SocketAddr, u64> {
    let mut out: BTreeMap<SocketAddr, u64> = BTreeMap::new();
    let mut bound = |server: SocketAddr, t: u64| {
        let e = out.entry(server).or_insert(t);
        *e = (*e).min(t);
    };
    for (c, _) in conns.iter().zip(in_scope).filter(|(_, s)| **s) {
        let Some(server) = c.server else { continue };
        if let (Some(first), Some(startup)) = (c.first_of(Side::Server), p.startup_ms) {
            bound(
                server,
                first.time_ns.saturating_add(startup.saturating_mul(MS)),
            );
        }
        let data = c.streams.values().filter_map(|s| s.flows[1].at(0)).min();
        if let Some(d) = data {
            bound(server, d.time_ns);
        }
    }
    out
}

fn view(conn: &Conn, refused: bool, judged: bool) -> ConnectionView {
    ConnectionView {
        index: conn.index,
        client: conn.client,
        server: conn.server,
        alpn: conn
            .alpn
            .as_ref()
            .map(|a| String::from_utf8_lossy(a).into_owned()),
        first_packet: conn.first().map_or(0, |a| a.packet),
        streams: conn
            .streams
            .iter()
            .map(|(id, s)| StreamView {
                id: *id,
                client_bytes: s.flows[0].data.clone(),
                server_bytes: s.flows[1].data.clone(),
                client_fin: s.flows[0].fin_complete().is_some(),
                server_fin: s.flows[1].fin_complete().is_some(),
                resets: s.resets.iter().map(|r| r.0.clone()).collect(),
                stop_sendings: s.stops.iter().map(|r| r.0.clone()).collect(),
            })
            .collect(),
        close: conn.first_close().map(|c| c.view.clone()),
        refused,
        judged,
    }
}

/// When each connection was last seen, in capture time.
fn last_seen(conns: &[Conn]) -> Vec<u64> {
    conns
        .iter()
        .map(|c| c.packets.iter().map(|(a, _)| a.time_ns).max().unwrap_or(0))
        .collect()
}

/// For each connection, the index of an earlier in-scope connection to the same server that was
/// live when it began (H10: it is a second connection).
fn live_before(conns: &[Conn], in_scope: &[bool], tol: u64) -> Vec<Option<usize>> {
    let last = last_seen(conns);
    conns
        .iter()
        .enumerate()
        .map(|(n, next)| {
            if !in_scope.get(n).copied().unwrap_or(false) {
                return None;
            }
            let start = next.first()?;
            conns
                .iter()
                .take(n)
                .zip(in_scope.iter().zip(&last))
                .find(|(c, (s, l))| **s && c.server == next.server && live_at(c, **l, start, tol))
                .map(|(c, _)| c.index)
        })
        .collect()
}

/// H10: a connection that begins while another to the same server is live is not served (a
/// fact: `proton.second_connection.unserved`); refusing it with CONNECTION_REFUSED is the
/// profile's form (`proton.second_connection.refused`).
fn second_connections(
    conns: &[Conn],
    second: &[Option<usize>],
    tol: u64,
    log: &mut Log,
    notes: &mut Vec<String>,
) {
    for (n, next) in conns.iter().enumerate() {
        let Some(start) = next.first() else { continue };
        let live = second
            .get(n)
            .copied()
            .flatten()
            .and_then(|p| conns.iter().find(|c| c.index == p));
        let refused = is_refused(next);
        let Some(prev) = live else {
            if refused {
                notes.push(format!(
                    "connection {n} was refused (CONNECTION_REFUSED) though no other connection to its server was seen live"
                ));
            }
            continue;
        };
        let p = prev.index;
        // Served: the server wrote stream data on it.
        let served = next
            .streams
            .iter()
            .filter_map(|(id, s)| s.flows[1].at(0).map(|at| (*id, at)))
            .min_by_key(|(_, at)| *at);
        if let Some((id, at)) = served {
            log.record(
                &rules::SECOND_CONNECTION_UNSERVED,
                at,
                format!("connection {n} began while connection {p} was live; the server wrote data on its stream {id}"),
            );
            continue;
        }
        if refused {
            continue;
        }
        if let Some(close) = next.close_of(Side::Server) {
            let kind = if close.view.application {
                "application"
            } else {
                "transport"
            };
            log.record(
                &rules::SECOND_CONNECTION_REFUSED,
                close.at,
                format!(
                    "connection {n} began while connection {p} was live; the server closed it with {kind} code {:#x}, not CONNECTION_REFUSED",
                    close.view.code
                ),
            );
        } else if let Some(first) = next.first_of(Side::Server) {
            // Answered and never closed by the server: kept open, unless the capture ends
            // before it shows the server going on without closing it.
            let went_on = initiated(next, Side::Client).map(|c| c.at).or_else(|| {
                conns
                    .iter()
                    .filter(|c| c.index == p || c.index == next.index)
                    .flat_map(|c| c.packets.iter())
                    .find(|(a, s)| {
                        *s == Side::Server && a.time_ns > first.time_ns.saturating_add(tol)
                    })
                    .map(|(a, _)| *a)
            });
            match went_on {
                Some(at) => log.record(
                    &rules::SECOND_CONNECTION_UNSERVED,
                    at,
                    format!("connection {n} began while connection {p} was live; the server answered it and kept it open"),
                ),
                None => log.record(
                    &rules::SECOND_CONNECTION_REFUSED,
                    first,
                    format!("connection {n} began while connection {p} was live; the server answered it without refusing"),
                ),
            }
        } else if let Some(later) = prev
            .packets
            .iter()
            .find(|(a, s)| *s == Side::Server && a.time_ns > start.time_ns.saturating_add(tol))
        {
            log.record(
                &rules::SECOND_CONNECTION_REFUSED,
                later.0,
                format!("connection {n} began while connection {p} was live; the server never answered it"),
            );
        }
    }
}

/// A stream the client set up.
#[derive(Clone, Copy, Debug)]
struct Setup {
    id: u64,
    disc: Discriminator,
    /// Where its discriminator arrived.
    at: At,
    /// Bounds of when the server set it up (H2: in order, after the previous one).
    lower: u64,
    upper: Option<u64>,
}

/// Something the client did that calls for one close code.
#[derive(Clone, Debug)]
struct Provocation {
    code: u64,
    /// The rule broken when the server does not end the connection for it (a fact rule where the
    /// sources say a violation ends the connection).
    rule: &'static Rule,
    /// The rule broken when the server ends it with another code (the profile's codes).
    code_rule: &'static Rule,
    /// The offending byte's (frame's) place in the capture.
    at: At,
    /// By when the server surely had it (unknown: the server may not be listening yet).
    effective: Option<u64>,
    /// The server must close for it (else it only explains a close).
    obligatory: bool,
    what: String,
}

/// Requests and answers on one stream, for `proton.client.close`.
#[derive(Clone, Debug, Default)]
struct Owed {
    requests: Vec<At>,
    answers: Vec<At>,
}

struct ConnJudge<'a> {
    conn: &'a Conn,
    p: &'a ProfileView,
    tol: u64,
    start: At,
    /// By when the server's application surely had the connection (H1).
    accept_upper: Option<u64>,
    set: Vec<Setup>,
    /// Client values per set-up stream.
    client_values: BTreeMap<u64, Vec<(u32, At)>>,
    provocations: Vec<Provocation>,
    /// Streams the server must not serve, with the rule that says so.
    bad_streams: Vec<(u64, &'static Rule)>,
    owed: Vec<Owed>,
    /// A wrong answer from the server was seen.
    wrong_answer: bool,
    /// All three streams are set up (value-phase provocations oblige the server only then).
    complete: bool,
    /// It began while another connection was live (H10): its end is judged there.
    second: bool,
    log: &'a mut Log,
    notes: &'a mut Vec<String>,
}

fn stream(conn: &Conn, id: u64) -> Option<&StreamRec> {
    conn.streams.get(&id)
}

/// Where and how the client ended stream `s` before its first byte (P5): a FIN with no byte
/// before it, or a RESET_STREAM before the first byte arrived (or with none at all).
fn ended_before_discriminator(s: &StreamRec) -> Option<(At, &'static str)> {
    let flow = &s.flows[0];
    let first = flow.data.first().and_then(|_| flow.at(0));
    let reset = s
        .resets
        .iter()
        .filter(|(r, _)| r.by == Side::Client)
        .map(|(_, at)| *at)
        .min()
        .filter(|r| first.is_none_or(|d| *r < d));
    let fin = match (first, flow.fin_complete()) {
        (None, Some((0, at))) => Some(at),
        _ => None,
    };
    match (fin, reset) {
        (Some(f), Some(r)) if r < f => Some((r, "RESET_STREAM")),
        (Some(f), _) => Some((f, "FIN")),
        (None, Some(r)) => Some((r, "RESET_STREAM")),
        (None, None) => None,
    }
}

impl<'a> ConnJudge<'a> {
    fn new(
        conn: &'a Conn,
        p: &'a ProfileView,
        tol: u64,
        listen_upper: Option<u64>,
        log: &'a mut Log,
        notes: &'a mut Vec<String>,
    ) -> ConnJudge<'a> {
        let start = conn.first().unwrap_or_default();
        let accept_upper = match (conn.handshake_done, listen_upper) {
            (Some(h), Some(l)) => Some(h.time_ns.max(l)),
            _ => None,
        };
        ConnJudge {
            conn,
            p,
            tol,
            start,
            accept_upper,
            set: Vec::new(),
            client_values: BTreeMap::new(),
            provocations: Vec::new(),
            bad_streams: Vec::new(),
            owed: Vec::new(),
            wrong_answer: false,
            complete: false,
            second: false,
            log,
            notes,
        }
    }

    fn run(&mut self) {
        self.setup();
        self.resets_and_stops();
        self.serve();
        self.bad_streams_served();
        self.client_discriminators();
        self.client_items();
        if !self.second {
            self.server_close();
            self.missed_timers();
        }
        self.client_close();
    }

    fn provoke(
        &mut self,
        code: CloseCode,
        rule: &'static Rule,
        at: At,
        effective: Option<u64>,
        obligatory: bool,
        what: String,
    ) {
        self.provoke_fatal(code, rule, rule, at, effective, obligatory, what);
    }

    /// A provocation whose "the connection ends" part (`rule`) and code (`code_rule`) rest on
    /// different rules.
    #[allow(clippy::too_many_arguments)]
    fn provoke_fatal(
        &mut self,
        code: CloseCode,
        rule: &'static Rule,
        code_rule: &'static Rule,
        at: At,
        effective: Option<u64>,
        obligatory: bool,
        what: String,
    ) {
        self.provocations.push(Provocation {
            code: code.code(),
            rule,
            code_rule,
            at,
            effective,
            obligatory,
            what,
        });
    }

    /// Where the client first showed stream `4k` (a frame on it or on a later one).
    fn opened(&self, k: u64) -> Option<At> {
        self.conn
            .streams
            .range(4 * k..)
            .filter(|(id, _)| *id % 4 == 0)
            .filter_map(|(_, s)| s.client_open())
            .min()
    }

    /// H2, H8: the discriminators, one stream at a time.
    fn setup(&mut self) {
        let conn = self.conn;
        let mut lower = self.start.time_ns;
        let mut upper = self.accept_upper;
        let mut used = BTreeSet::new();
        for k in 0..3u64 {
            let id = 4 * k;
            let Some(s) = stream(conn, id) else { break };
            let flow = &s.flows[0];
            // P5: a stream that ends (FIN, RESET_STREAM) before its discriminator fails its setup.
            if let Some((at, what)) = ended_before_discriminator(s) {
                let eff = upper.map(|u| u.max(at.time_ns));
                self.provoke(
                    CloseCode::StreamSetupError,
                    &rules::CLOSE_SETUP_ENDED,
                    at,
                    eff,
                    true,
                    format!("{what} before the discriminator on stream {id}"),
                );
                break;
            }
            let Some(&byte) = flow.data.first() else {
                break;
            };
            let at = flow.at(0).unwrap_or(self.start);
            let eff = upper.map(|u| u.max(at.time_ns));
            match Discriminator::from_byte(byte)
                .ok()
                .filter(|d| *d != Discriminator::Reset)
            {
                Some(d) if used.insert(d) => {
                    lower = lower.max(at.time_ns);
                    upper = eff;
                    self.set.push(Setup {
                        id,
                        disc: d,
                        at,
                        lower,
                        upper,
                    });
                }
                Some(_) => {
                    let what = format!("discriminator {byte} repeated on stream {id}");
                    self.provoke_fatal(
                        CloseCode::StreamSetupError,
                        &rules::DISCRIMINATOR_FATAL,
                        &rules::CLOSE_BAD_DISCRIMINATOR,
                        at,
                        eff,
                        true,
                        what,
                    );
                    self.bad_streams.push((id, &rules::DISCRIMINATOR_UNIQUE));
                    break;
                }
                None => {
                    let what = format!("discriminator {byte:#04x} on stream {id}");
                    self.provoke_fatal(
                        CloseCode::StreamSetupError,
                        &rules::DISCRIMINATOR_FATAL,
                        &rules::CLOSE_BAD_DISCRIMINATOR,
                        at,
                        eff,
                        true,
                        what,
                    );
                    self.bad_streams.push((id, &rules::DISCRIMINATOR_KNOWN));
                    break;
                }
            }
        }
        // Streams the server had not reached yet (H2 sets them up in order): what is wrong on
        // them explains a close, but obliges none.
        let reached = self.set.len() as u64 + 1;
        let mut firsts: Vec<u8> = Vec::new();
        for k in 0..3u64 {
            let id = 4 * k;
            let Some(s) = stream(conn, id) else { continue };
            let flow = &s.flows[0];
            if k >= reached {
                if let Some((at, what)) = ended_before_discriminator(s) {
                    let what = format!("{what} before the discriminator on stream {id}");
                    self.provoke(
                        CloseCode::StreamSetupError,
                        &rules::CLOSE_SETUP_ENDED,
                        at,
                        None,
                        false,
                        what,
                    );
                    continue;
                }
            }
            if let Some(&b) = flow.data.first() {
                let bad = !(1..=3).contains(&b) || firsts.contains(&b);
                firsts.push(b);
                if k >= reached && bad {
                    let at = flow.at(0).unwrap_or(self.start);
                    let what = format!("discriminator {b:#04x} on stream {id}");
                    self.provoke(
                        CloseCode::StreamSetupError,
                        &rules::CLOSE_BAD_DISCRIMINATOR,
                        at,
                        None,
                        false,
                        what,
                    );
                }
            }
        }
        // H8: a 4th stream.
        let Some(third) = self.set.get(2).copied() else {
            return;
        };
        let Some(s) = stream(conn, 12) else { return };
        let reset = self.p.reset_discriminator;
        if !reset {
            self.notes.push(format!(
                "connection {}: the client opened a 4th bidirectional stream (12), beyond MAX_STREAMS 3",
                conn.index
            ));
        }
        let flow = &s.flows[0];
        if let Some((at, what)) = ended_before_discriminator(s) {
            let eff = third.upper.map(|u| u.max(at.time_ns));
            let what = format!("{what} before the discriminator on stream 12");
            self.provoke(
                CloseCode::StreamSetupError,
                &rules::CLOSE_SETUP_ENDED,
                at,
                eff,
                reset,
                what,
            );
            return;
        }
        if let Some(&byte) = flow.data.first() {
            let at = flow.at(0).unwrap_or(self.start);
            let eff = third.upper.map(|u| u.max(at.time_ns));
            if reset && byte == Discriminator::Reset.byte() {
                let what = "reset discriminator 0xFF on stream 12".to_owned();
                self.provoke(CloseCode::Normal, &rules::CLOSE_RESET, at, eff, true, what);
            } else {
                let what = format!("discriminator {byte:#04x} on stream 12");
                self.provoke(
                    CloseCode::StreamSetupError,
                    &rules::CLOSE_BAD_DISCRIMINATOR,
                    at,
                    eff,
                    reset,
                    what,
                );
                self.bad_streams.push((12, &rules::DISCRIMINATOR_KNOWN));
            }
        }
    }

    /// H7: RESET_STREAM on a set-up stream, and STOP_SENDING on any stream, from the client.
    /// (A reset before a stream's discriminator fails its setup: P5, in [`ConnJudge::setup`].)
    fn resets_and_stops(&mut self) {
        let conn = self.conn;
        let tol = self.tol;
        for (id, s) in &conn.streams {
            // RFC 9000 §3.2: once a stream's data and FIN are all in, a RESET_STREAM after them
            // may go unseen (a server that already read to the FIN has nothing left to reset):
            // it explains a close with 5 but obliges none; the FIN's own rules apply.
            let fin = s.flows[0].fin_complete().map(|(_, at)| at);
            let setup = self.set.iter().find(|st| st.id == *id).copied();
            let own_stream = *id % 4 == 0 && *id <= 12;
            for (r, at) in s.resets.iter().filter(|(r, _)| r.by == Side::Client) {
                let what = format!("RESET_STREAM (code {:#x}) on stream {id}", r.code);
                match setup {
                    Some(st) => {
                        // P5: quinn discards what a reset stream held, so a reset that may have
                        // come before the server read the discriminator fails the setup (1).
                        // Only once the server surely read it is the reset H7's (5).
                        let racing = st.upper.is_none_or(|u| at.time_ns <= u.saturating_add(tol));
                        if racing {
                            self.provoke(
                                CloseCode::StreamSetupError,
                                &rules::CLOSE_SETUP_ENDED,
                                *at,
                                None,
                                false,
                                format!("{what}, perhaps before the server read its discriminator"),
                            );
                        }
                    }
                    // Before its discriminator: judged in `setup` (P5).
                    None if own_stream => continue,
                    None => {}
                }
                let eff = self.accept_upper.map(|u| u.max(at.time_ns));
                let after_fin = fin.is_some_and(|f| f <= *at);
                self.provoke(
                    CloseCode::StreamError,
                    &rules::CLOSE_STREAM_RESET,
                    *at,
                    eff,
                    !after_fin,
                    what,
                );
            }
            for (r, at) in s.stops.iter().filter(|(r, _)| r.by == Side::Client) {
                let eff = self.accept_upper.map(|u| u.max(at.time_ns));
                let what = format!("STOP_SENDING (code {:#x}) on stream {id}", r.code);
                self.provoke(
                    CloseCode::StreamError,
                    &rules::CLOSE_STREAM_RESET,
                    *at,
                    eff,
                    true,
                    what,
                );
            }
        }
    }

    /// H3–H5, H7: the three streams served once all are set up.
    ///
    /// Before all three are set up a conforming server serves none (H2): the set-up streams
    /// are still checked, and what the client did on them explains a close, but obliges none.
    fn serve(&mut self) {
        let conn = self.conn;
        let complete = self.set.len() == 3;
        let all_upper = self.set.get(2).and_then(|s| s.upper);
        for st in self.set.clone() {
            let Some(s) = stream(conn, st.id) else {
                continue;
            };
            let (msgs, reader) = read(&s.flows[0], StreamReader::new());
            let cvals = values(&msgs);
            let svals = values(&read(&s.flows[1], StreamReader::values_only()).0);
            let eff = |at: At| all_upper.map(|u| u.max(at.time_ns));
            // P5: after the setup every FIN ends a read early: 5, at a u32 boundary as inside one.
            if let Some((_, fat)) = s.flows[0].fin_complete() {
                // Inside a u32 it is a stream error the sources name (the connection ends); at a
                // boundary, P5's reading.
                let (what, rule) = match reader.finish() {
                    Ok(()) => (
                        format!("FIN at a u32 boundary on stream {}", st.id),
                        &rules::CLOSE_STREAM_ERROR,
                    ),
                    Err(e) => (
                        format!("{e} on stream {}", st.id),
                        &rules::STREAM_ERROR_FATAL,
                    ),
                };
                self.provoke_fatal(
                    reader.fin_close_code(),
                    rule,
                    &rules::CLOSE_STREAM_ERROR,
                    fat,
                    eff(fat),
                    complete,
                    what,
                );
            }
            self.complete = complete;
            match st.disc {
                Discriminator::Event => self.events(st.id, &cvals, &svals, eff),
                Discriminator::StateCommit => self.commits(st.id, &cvals, &svals, eff),
                Discriminator::Action => {
                    self.action_items(st.id, s);
                    self.actions(st.id, &cvals, &svals);
                }
                Discriminator::Reset => {}
            }
            self.client_values.insert(st.id, cvals);
        }
    }

    fn events(
        &mut self,
        id: u64,
        cvals: &[(u32, At)],
        svals: &[(u32, At)],
        eff: impl Fn(At) -> Option<u64>,
    ) {
        let mut order = EventOrder::default();
        let mut expected = Vec::new();
        let mut owed = Owed::default();
        let mut broke = None;
        for (i, (v, at)) in cvals.iter().enumerate() {
            match order.accept(*v) {
                Ok(()) => {
                    expected.push(*v);
                    owed.requests.push(*at);
                }
                Err(e) => {
                    let what = format!("{e} on stream {id}");
                    self.provoke_fatal(
                        CloseCode::StreamError,
                        &rules::EVENT_ORDER,
                        &rules::EVENT_ORDER_CODE,
                        *at,
                        eff(*at),
                        self.complete,
                        what,
                    );
                    let ci = self.conn.index;
                    self.log.record(
                        &rules::CLIENT_EVENT_IDS,
                        *at,
                        format!("connection {ci}: {e} on stream {id}"),
                    );
                    broke = Some((i, *v));
                    break;
                }
            }
        }
        for (i, (v, at)) in svals.iter().enumerate() {
            match expected.get(i) {
                Some(x) if x == v => owed.answers.push(*at),
                Some(x) => {
                    let d = format!("echo #{} on stream {id} is {v}, the id was {x}", i + 1);
                    self.wrong(&rules::EVENT_ECHO, *at, d);
                    break;
                }
                None => {
                    match broke {
                        Some((b, bad)) if cvals.get(i).is_some() => {
                            let d = if i == b {
                                format!("echoed {v} on stream {id}: id {bad} breaks the order")
                            } else {
                                format!("echoed {v} on stream {id} after id {bad} broke the order")
                            };
                            self.wrong(&rules::EVENT_ORDER, *at, d);
                        }
                        _ => {
                            let d = format!(
                                "echoed {v} on stream {id} with no id left to echo ({} sent)",
                                cvals.len()
                            );
                            self.wrong(&rules::EVENT_ECHO, *at, d);
                        }
                    }
                    break;
                }
            }
        }
        self.owed.push(owed);
    }

    /// `wire.commit.pairing`, `wire.commit.readings`: one answer per request, in order, each
    /// r + 2 or r × 2 (modulo 2^32), one reading throughout the connection. Either reading
    /// passes here; the profile's (+ 2) is `proton.commit.answer`'s.
    fn commit_readings(&mut self, id: u64, cvals: &[(u32, At)], svals: &[(u32, At)]) {
        // Which readings the answers so far fit: [r + 2, r × 2].
        let mut fits = [true, true];
        for (i, (v, at)) in svals.iter().enumerate() {
            let Some((r, _)) = cvals.get(i) else {
                let d = format!(
                    "answer {v} on stream {id} with no request left ({} sent)",
                    cvals.len()
                );
                self.wrong(&rules::COMMIT_READING, *at, d);
                return;
            };
            let (plus, times) = (r.wrapping_add(2), r.wrapping_mul(2));
            let now = [fits[0] && *v == plus, fits[1] && *v == times];
            if now == [false, false] {
                let d = if *v == plus || *v == times {
                    format!(
                        "answer #{} on stream {id} to request {r} is {v}: the other reading than the connection's earlier answers (r + 2 = {plus}, r × 2 = {times})",
                        i + 1
                    )
                } else {
                    format!(
                        "answer #{} on stream {id} to request {r} is {v}: neither r + 2 ({plus}) nor r × 2 ({times})",
                        i + 1
                    )
                };
                self.wrong(&rules::COMMIT_READING, *at, d);
                return;
            }
            fits = now;
        }
    }

    /// `wire.action.items`: the server's Action stream is whole 4-byte items.
    fn action_items(&mut self, id: u64, s: &StreamRec) {
        let flow = &s.flows[1];
        if let Some((len, at)) = flow.fin_complete() {
            if len % 4 != 0 {
                let d = format!(
                    "the server ended stream {id} (FIN) after {len} bytes, inside a 4-byte item"
                );
                self.wrong(&rules::ACTION_ITEMS, at, d);
            }
        }
    }

    fn commits(
        &mut self,
        id: u64,
        cvals: &[(u32, At)],
        svals: &[(u32, At)],
        eff: impl Fn(At) -> Option<u64>,
    ) {
        self.commit_readings(id, cvals, svals);
        let arithmetic = self.p.arithmetic();
        let mut expected = Vec::new();
        let mut owed = Owed::default();
        let mut broke = None;
        for (i, (r, at)) in cvals.iter().enumerate() {
            match commit_answer(*r, arithmetic) {
                Some(a) => {
                    expected.push((*r, a));
                    owed.requests.push(*at);
                }
                None => {
                    let what = format!("StateCommit request {r:#x} overflows on stream {id} (P1)");
                    self.provoke(
                        CloseCode::StreamError,
                        &rules::COMMIT_OVERFLOW,
                        *at,
                        eff(*at),
                        self.complete,
                        what,
                    );
                    broke = Some((i, *r));
                    break;
                }
            }
        }
        for (i, (v, at)) in svals.iter().enumerate() {
            match expected.get(i) {
                Some((_, a)) if a == v => owed.answers.push(*at),
                Some((r, a)) => {
                    let d = format!(
                        "answer #{} on stream {id} to request {r} is {v}, expected {a}",
                        i + 1
                    );
                    self.wrong(&rules::COMMIT_ANSWER, *at, d);
                    break;
                }
                None => {
                    match broke {
                        Some((b, r)) if cvals.get(i).is_some() => {
                            let d = if i == b {
                                format!("answered the overflowing request {r:#x} on stream {id} with {v}")
                            } else {
                                format!("answered {v} on stream {id} after the overflowing request {r:#x}")
                            };
                            self.wrong(&rules::COMMIT_OVERFLOW, *at, d);
                        }
                        // An answer with no request: `proton.commit.reading` (a fact).
                        _ => {}
                    }
                    break;
                }
            }
        }
        self.owed.push(owed);
    }

    fn actions(&mut self, id: u64, cvals: &[(u32, At)], svals: &[(u32, At)]) {
        let pull = !self.p.action_push;
        let mut owed = Owed::default();
        if pull {
            owed.requests = cvals.iter().map(|c| c.1).collect();
        }
        let (mut counter_ok, mut pull_ok) = (true, true);
        for (i, (v, at)) in svals.iter().enumerate() {
            let want = i as u32; // the counter wraps with u32 as coded
            if counter_ok && *v != want {
                let d = format!("action #{} on stream {id} is {v}, expected {want}", i + 1);
                self.wrong(&rules::ACTION_COUNTER, *at, d);
                counter_ok = false;
            }
            if pull && pull_ok {
                match cvals.get(i) {
                    Some((_, req)) if req.packet < at.packet => {}
                    _ => {
                        let d = format!(
                            "action #{} on stream {id} came before the client's request #{}",
                            i + 1,
                            i + 1
                        );
                        self.wrong(&rules::ACTION_PULL, *at, d);
                        pull_ok = false;
                    }
                }
            }
            if counter_ok && pull_ok {
                owed.answers.push(*at);
            }
        }
        self.owed.push(owed);
    }

    fn wrong(&mut self, rule: &'static Rule, at: At, detail: String) {
        self.wrong_answer = true;
        self.log.record(
            rule,
            at,
            format!("connection {}: {detail}", self.conn.index),
        );
    }

    /// H2, H8: nothing from the server on a stream with a bad or repeated discriminator.
    fn bad_streams_served(&mut self) {
        let conn = self.conn;
        for (id, rule) in self.bad_streams.clone() {
            let Some(s) = stream(conn, id) else { continue };
            if let Some(at) = s.flows[1].at(0) {
                let n = s.flows[1].data.len();
                self.wrong(
                    rule,
                    at,
                    format!("the server wrote {n} bytes on stream {id}"),
                );
            }
        }
    }

    /// The client's streams and discriminators: each of 1, 2, 3 once (the facts), on the streams
    /// 0, 4, 8 in that order (H11).
    fn client_discriminators(&mut self) {
        let conn = self.conn;
        let rule = &rules::CLIENT_DISCRIMINATORS;
        let mut seen: Vec<u8> = Vec::new();
        for (id, s) in &conn.streams {
            let flow = &s.flows[0];
            let Some(opened) = s.client_open() else {
                continue;
            };
            let first = flow
                .data
                .first()
                .copied()
                .map(|b| (b, flow.at(0).unwrap_or(opened)));
            let i = conn.index;
            match id {
                0 | 4 | 8 => {
                    let want = u8::try_from(id / 4 + 1).unwrap_or(0);
                    match first {
                        Some((b, _)) if b == want => seen.push(b),
                        Some((b, at)) if (1..=3).contains(&b) && !seen.contains(&b) => {
                            seen.push(b);
                            self.log.record(
                                &rules::CLIENT_DISCRIMINATOR_ORDER,
                                at,
                                format!(
                                    "connection {i}: stream {id} begins with {b}, expected {want}"
                                ),
                            );
                        }
                        Some((b, at)) => self.log.record(
                            rule,
                            at,
                            format!(
                                "connection {i}: stream {id} begins with {b:#04x}: {}",
                                if (1..=3).contains(&b) {
                                    "a discriminator already used"
                                } else {
                                    "not a discriminator"
                                }
                            ),
                        ),
                        None => {
                            if let Some((at, what)) = ended_before_discriminator(s) {
                                self.log.record(rule, at, format!("connection {i}: stream {id} ended ({what}) before its discriminator"));
                            }
                        }
                    }
                }
                12 if self.p.reset_discriminator => {
                    if let Some((b, at)) = first.filter(|(b, _)| *b != Discriminator::Reset.byte())
                    {
                        self.log.record(rule, at, format!("connection {i}: a 4th stream (12) that begins with {b:#04x}, not 0xFF"));
                    }
                }
                id if id % 2 == 0 => {
                    let kind = if id % 4 == 0 {
                        "bidirectional"
                    } else {
                        "unidirectional"
                    };
                    self.log.record(
                        rule,
                        opened,
                        format!("connection {i}: the client opened {kind} stream {id}"),
                    );
                }
                _ => {}
            }
        }
    }

    /// `wire`: the client's values are whole u32s. A set-up stream whose client bytes after the
    /// discriminator end inside a u32, at the client's FIN or at a close the client made, breaks
    /// it (what the capture shows is the contiguous prefix: a lost tail would show no close
    /// after it in order).
    fn client_items(&mut self) {
        let conn = self.conn;
        let close = initiated(conn, Side::Client).map(|c| c.at);
        for st in self.set.clone() {
            let Some(s) = stream(conn, st.id) else {
                continue;
            };
            let flow = &s.flows[0];
            let Some(len) = flow.data.len().checked_sub(1) else {
                continue;
            };
            if len % 4 == 0 {
                continue;
            }
            let last = flow.at(flow.data.len() - 1).unwrap_or(st.at);
            let (at, how) = match (flow.fin_complete(), close) {
                (Some((_, at)), _) => (at, "ended it (FIN)"),
                (None, Some(c)) if last < c => (c, "closed the connection"),
                _ => continue,
            };
            self.log.record(
                &rules::CLIENT_ITEMS,
                at,
                format!(
                    "connection {}: the client {how} with {} byte(s) of a u32 sent on stream {}",
                    conn.index,
                    len % 4,
                    st.id
                ),
            );
        }
    }

    /// Could the server close with `code` at `tc` for a reason the capture cannot show? `Err`:
    /// no, with the rule that says so.
    ///
    /// `tc` is where the close is in the capture: what came after it in capture order did not
    /// happen before it, even at the same timestamp (one clock tick, or one virtual instant).
    fn hidden_reason(&self, code: u64, tc: At) -> Result<(), (&'static Rule, String)> {
        let p = self.p;
        match code {
            // The original's code 0 ("Streams completed") is sent after the connection has
            // ended: it never reaches the wire. Only P4's reset (a provocation) closes with 0.
            0 => Err((
                &rules::CLOSE_UNPROVOKED,
                "no reset discriminator (P4) before it: the original never closes with 0"
                    .to_owned(),
            )),
            2 => Ok(()),
            1 => {
                if p.base_as_coded {
                    return Err((
                        &rules::CLOSE_UNPROVOKED,
                        "no bad or repeated discriminator, nor a stream that ended before its discriminator, before it".to_owned(),
                    ));
                }
                let d = p.disc_ms.map(|d| d.saturating_mul(MS));
                if self.disc_possible(tc, d) {
                    Ok(())
                } else if let Some(d) = p.disc_ms {
                    Err((
                        &rules::TIMER_DISCRIMINATOR,
                        format!("no discriminator could have waited {d} ms"),
                    ))
                } else {
                    Err((
                        &rules::CLOSE_UNPROVOKED,
                        "no bad, repeated or late discriminator, nor a stream that ended before its discriminator, before it".to_owned(),
                    ))
                }
            }
            3 => match p.accept_ms {
                Some(a) if !self.accept_possible(tc, a.saturating_mul(MS)) => Err((
                    &rules::TIMER_ACCEPT,
                    format!("every stream was opened within {a} ms"),
                )),
                _ => Ok(()),
            },
            4 => match p.op_ms {
                Some(o) if !self.op_possible(tc, o.saturating_mul(MS)) => {
                    Err((&rules::TIMER_OP_CODE, format!("no read had waited {o} ms")))
                }
                _ => Ok(()),
            },
            5 => Err((
                &rules::CLOSE_UNPROVOKED,
                "no stream error or protocol violation before it".to_owned(),
            )),
            _ => Err((&rules::CLOSE_CODE, "not a Proton close code".to_owned())),
        }
    }

    /// H2: could the wait for stream `j` (after the setup of `j − 1`) reach `a` by `tc`?
    fn accept_possible(&self, tc: At, a: u64) -> bool {
        let mut lower = self.start.time_ns;
        for j in 0..3u64 {
            let end = self
                .opened(j)
                .filter(|o| o.packet < tc.packet)
                .map_or(tc.time_ns, |o| o.time_ns.min(tc.time_ns));
            if end.saturating_sub(lower).saturating_add(self.tol) >= a {
                return true;
            }
            match self.set.get(j as usize) {
                Some(s) if s.at.packet < tc.packet => lower = s.lower,
                _ => return false,
            }
        }
        false
    }

    /// H6: could a read (or a write) have waited `o` by `tc`?
    fn op_possible(&self, tc: At, o: u64) -> bool {
        if self.conn.server_blocked {
            return true;
        }
        let waited = |from: u64, to: u64| to.saturating_sub(from).saturating_add(self.tol) >= o;
        let before = |a: &At| a.packet < tc.packet;
        // When `a` came, or the close when it came after it.
        let until = |a: Option<At>| {
            a.filter(before)
                .map_or(tc.time_ns, |a| a.time_ns.min(tc.time_ns))
        };
        if self.p.base_as_coded {
            // As coded, the discriminator read is an ordinary read.
            let mut lower = self.start.time_ns;
            for j in 0..3u64 {
                let Some(opened) = self.opened(j).filter(before) else {
                    break;
                };
                let disc = self.set.get(j as usize).map(|s| s.at);
                if waited(opened.time_ns.max(lower), until(disc)) {
                    return true;
                }
                match self.set.get(j as usize) {
                    Some(s) => lower = s.lower,
                    None => break,
                }
            }
        }
        let Some(third) = self.set.get(2).filter(|s| before(&s.at)) else {
            return false;
        };
        for st in &self.set {
            if st.disc == Discriminator::Action && self.p.action_push {
                continue;
            }
            if self.ended_at(st.id).is_some_and(|e| before(&e)) {
                continue;
            }
            let last = self
                .client_values
                .get(&st.id)
                .and_then(|v| {
                    v.iter()
                        .filter(|(_, a)| before(a))
                        .map(|(_, a)| a.time_ns)
                        .max()
                })
                .unwrap_or(0)
                .max(third.lower);
            if waited(last, tc.time_ns) {
                return true;
            }
        }
        false
    }

    /// When the client ended stream `id` (a FIN with every byte before it, or a RESET_STREAM).
    fn ended(&self, id: u64) -> Option<u64> {
        self.ended_at(id).map(|a| a.time_ns)
    }

    /// [`ConnJudge::ended`], where in the capture.
    fn ended_at(&self, id: u64) -> Option<At> {
        let s = stream(self.conn, id)?;
        let fin = s.flows[0].fin_complete().map(|f| f.1);
        let reset = s
            .resets
            .iter()
            .filter(|(r, _)| r.by == Side::Client)
            .map(|(_, a)| *a)
            .min();
        [fin, reset].into_iter().flatten().min()
    }

    /// P3: could a discriminator have waited `d` (unknown: any time at all) by `tc`?
    fn disc_possible(&self, tc: At, d: Option<u64>) -> bool {
        let streams = if self.p.reset_discriminator { 4u64 } else { 3 };
        let before = |a: &At| a.packet < tc.packet;
        let mut lower = self.start.time_ns;
        for j in 0..streams {
            if j > 0 {
                match self.set.get(j as usize - 1) {
                    Some(s) if before(&s.at) => lower = s.lower,
                    _ => return false,
                }
            }
            let Some(opened) = self.opened(j).filter(before) else {
                return false;
            };
            let from = opened.time_ns.max(lower);
            let disc = stream(self.conn, 4 * j).and_then(|s| s.flows[0].at(0));
            let to = disc
                .filter(before)
                .map_or(tc.time_ns, |x| x.time_ns.min(tc.time_ns));
            let possible = match d {
                Some(d) => to.saturating_sub(from).saturating_add(self.tol) >= d,
                None => to > from,
            };
            if possible {
                return true;
            }
        }
        false
    }

    /// The server's close against what the client did before it.
    fn server_close(&mut self) {
        let conn = self.conn;
        let i = conn.index;
        let close = initiated(conn, Side::Server).cloned();
        let before: Vec<Provocation> = self
            .provocations
            .iter()
            .filter(|p| close.as_ref().is_none_or(|c| p.at < c.at))
            .cloned()
            .collect();
        let first = before
            .iter()
            .filter(|p| p.obligatory)
            .min_by_key(|p| p.at)
            .cloned();
        match close {
            Some(c) if c.view.application => {
                let code = c.view.code;
                if code > CloseCode::StreamError.code() {
                    self.log.record(
                        &rules::CLOSE_CODE,
                        c.at,
                        format!("connection {i}: the server closed with code {code}"),
                    );
                }
                if before.iter().any(|p| p.code == code) {
                    return;
                }
                // The connection ended: what is left to judge is its code (the profile's).
                match (first, self.hidden_reason(code, c.at)) {
                    (Some(f), Err(_)) => self.log.record(
                        f.code_rule,
                        c.at,
                        format!(
                            "connection {i}: after {} (packet {}) the server closed with code {code}, expected {}",
                            f.what, f.at.packet, f.code
                        ),
                    ),
                    (None, Err((rule, why))) if code <= CloseCode::StreamError.code() => {
                        self.log.record(rule, c.at, format!("connection {i}: the server closed with code {code}: {why}"));
                    }
                    _ => {}
                }
            }
            Some(_) => {} // a transport close: the QUIC stack's (noted)
            None => {
                let Some(f) = first else { return };
                let Some(eff) = f.effective else { return };
                let deadline = eff.saturating_add(self.tol);
                let expected = f.code;
                // A connection that may have ended by its idle timeout before the deadline
                // owes no close; a server packet after the deadline still shows it was live.
                let idle = conn.idle_by(
                    At {
                        packet: u64::MAX,
                        time_ns: deadline,
                    },
                    self.tol,
                );
                if let Some(cc) = initiated(conn, Side::Client) {
                    if cc.at.time_ns > deadline && !idle {
                        let d = format!(
                            "connection {i}: after {} (packet {}) the server did not end the connection (code {expected} expected); the client closed {} later",
                            f.what,
                            f.at.packet,
                            ms(cc.at.time_ns.saturating_sub(f.at.time_ns))
                        );
                        self.log.record(f.rule, cc.at, d);
                    }
                } else if let Some(last) =
                    conn.last_of(Side::Server).filter(|l| l.time_ns > deadline)
                {
                    let d = format!(
                        "connection {i}: after {} (packet {}) the server did not end the connection (code {expected} expected), yet it still sent packets {} later",
                        f.what,
                        f.at.packet,
                        ms(last.time_ns.saturating_sub(f.at.time_ns))
                    );
                    self.log.record(f.rule, last, d);
                }
            }
        }
    }

    /// Timers that must have fired (only with the profile's timers, and certain bounds).
    fn missed_timers(&mut self) {
        let mut due: Vec<(u64, &'static Rule, CloseCode, String)> = Vec::new();
        let tol = self.tol;
        if let Some(a) = self.p.accept_ms {
            let mut upper = self.accept_upper;
            for j in 0..3u64 {
                let Some(u) = upper else { break };
                let deadline = u.saturating_add(a.saturating_mul(MS)).saturating_add(tol);
                if self.opened(j).is_none_or(|o| o.time_ns > deadline) {
                    let what = format!(
                        "stream {} was not opened within {a} ms of the previous setup",
                        4 * j
                    );
                    due.push((
                        deadline,
                        &rules::TIMER_ACCEPT,
                        CloseCode::StreamSetupTimeout,
                        what,
                    ));
                    break;
                }
                match self.set.get(j as usize) {
                    Some(s) => upper = s.upper,
                    None => break,
                }
            }
        }
        if let (Some(d), false) = (self.p.disc_ms, self.p.base_as_coded) {
            let mut upper = self.accept_upper;
            for j in 0..3u64 {
                let (Some(u), Some(opened)) = (upper, self.opened(j)) else {
                    break;
                };
                let deadline = opened
                    .time_ns
                    .max(u)
                    .saturating_add(d.saturating_mul(MS))
                    .saturating_add(tol);
                let disc = stream(self.conn, 4 * j).and_then(|s| s.flows[0].at(0));
                if disc.is_none_or(|x| x.time_ns > deadline) {
                    let what = format!(
                        "stream {}'s discriminator did not arrive within {d} ms",
                        4 * j
                    );
                    due.push((
                        deadline,
                        &rules::TIMER_DISCRIMINATOR,
                        CloseCode::StreamSetupError,
                        what,
                    ));
                    break;
                }
                match self.set.get(j as usize) {
                    Some(s) => upper = s.upper,
                    None => break,
                }
            }
        }
        if let (Some(o), Some(all)) = (self.p.op_ms, self.set.get(2).and_then(|s| s.upper)) {
            let wait = o.saturating_mul(MS).saturating_add(tol);
            for st in &self.set {
                if st.disc == Discriminator::Action && self.p.action_push {
                    continue;
                }
                let ended = self.ended(st.id);
                let mut from = all;
                let mut late = None;
                for (_, at) in self
                    .client_values
                    .get(&st.id)
                    .map_or(&[][..], |v| v.as_slice())
                {
                    if at.time_ns > from.saturating_add(wait) {
                        late = Some(from.saturating_add(wait));
                        break;
                    }
                    from = from.max(at.time_ns);
                }
                let late = late.or_else(|| {
                    let deadline = from.saturating_add(wait);
                    ended.is_none_or(|e| e > deadline).then_some(deadline)
                });
                if let Some(deadline) = late {
                    let what = format!("no whole u32 arrived on stream {} within {o} ms", st.id);
                    due.push((
                        deadline,
                        &rules::TIMER_OP,
                        CloseCode::StreamOperationTimeout,
                        what,
                    ));
                }
            }
        }
        let Some((deadline, rule, code, what)) = due.into_iter().min_by_key(|d| d.0) else {
            return;
        };
        if self.provocations.iter().any(|p| p.at.time_ns <= deadline) {
            return;
        }
        let conn = self.conn;
        let i = conn.index;
        let code = code.code();
        match conn.first_close() {
            Some(c) if c.at.time_ns <= deadline => {}
            Some(c) if c.view.by == Side::Server && c.view.application && c.view.code == code => {
                let late = ms(c.at.time_ns.saturating_sub(deadline));
                self.log.record(rule, c.at, format!("connection {i}: {what}; the server closed with {code} only {late} after the deadline"));
            }
            _ => {
                // After a silence of the idle timeout only the server's own packets show the
                // connection still live (the client's may reach a connection that has ended).
                let idle = conn.idle_by(
                    At {
                        packet: u64::MAX,
                        time_ns: deadline,
                    },
                    self.tol,
                );
                if let Some((at, _)) = conn
                    .packets
                    .iter()
                    .find(|(a, s)| a.time_ns > deadline && (!idle || *s == Side::Server))
                {
                    self.log.record(
                        rule,
                        *at,
                        format!(
                            "connection {i}: {what}; the server had not closed with {code} by then"
                        ),
                    );
                }
            }
        }
    }

    /// H11: a client that got every answer right closes with application code 0.
    fn client_close(&mut self) {
        let conn = self.conn;
        let Some(cc) = initiated(conn, Side::Client) else {
            return;
        };
        if self.wrong_answer || self.set.len() < 3 || self.provocations.iter().any(|p| p.at < cc.at)
        {
            return;
        }
        let all_answered = self.owed.iter().all(|o| {
            let asked = o.requests.iter().filter(|a| **a < cc.at).count();
            let answered = o.answers.iter().filter(|a| **a < cc.at).count();
            answered >= asked
        });
        if all_answered && !(cc.view.application && cc.view.code == 0) {
            let kind = if cc.view.application {
                "application"
            } else {
                "transport"
            };
            self.log.record(
                &rules::CLIENT_CLOSE,
                cc.at,
                format!(
                    "connection {}: every answer was right, yet the client closed with {kind} code {:#x} {:?}",
                    conn.index, cc.view.code, cc.view.reason
                ),
            );
        }
    }
}
