//! Layer 4's judge machinery, shared by every protocol family: a capture (the harness's own, or a real
//! one taken with tcpdump or Wireshark) is read into [`Packet`]s carrying the harness's [`Mark`]s, a
//! family's [`Judge`] turns them into a report, and every broken rule is a [`Violation`] of a [`Rule`]
//! from the family's catalogue ([`rules`](mod@rules)).
//!
//! Captures written by the harness carry packet comments (see `handshake_capture::trace`): a packet
//! marked `not delivered:` was sent but never reached its destination, so it counts as sent and not as
//! received; a packet the harness truncated, corrupted, copied, delayed or held back is the harness's
//! doing, not the sender's, and a judge leaves it out of the rules it would break. Captures without
//! comments are taken as they are: every packet sent and received.
#![forbid(unsafe_code)]

pub mod command;
pub mod rules;
pub mod tolerance;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

pub use command::{conclude, finish, CheckError, Checked, Conclusion};
pub use rules::{Basis, Rule};
pub use tolerance::Tolerance;

/// Most violations kept per rule and session (the count goes on).
pub const MAX_VIOLATIONS_PER_RULE: usize = 100;

/// What the harness did to a captured packet, read from its pcapng comment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mark {
    /// `false` when the packet never reached its destination (`not delivered:`).
    pub undelivered: bool,
    /// The harness changed its bytes or its place (truncated, corrupted, copy, delayed, held).
    pub modified: bool,
    /// It is a copy the harness made (the sender sent it once).
    pub copy: bool,
    /// Sent as shown, but the harness changed its bytes on the way: the receiver got something else.
    pub altered_in_transit: bool,
}

impl Mark {
    /// Reads a harness comment; anything else (or none) is an unmarked packet.
    pub fn from_comment(comment: Option<&str>) -> Mark {
        let Some(c) = comment else {
            return Mark::default();
        };
        let undelivered = c.starts_with(handshake_capture::NOT_DELIVERED);
        let modified = !undelivered && c.contains(handshake_capture::RECEIVED_CHANGED);
        let copy = modified && c.contains("copy of #");
        let altered_in_transit = c.contains(handshake_capture::ALTERED_IN_TRANSIT);
        Mark {
            undelivered,
            modified,
            copy,
            altered_in_transit,
        }
    }
}

/// One captured datagram to judge.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Packet number in the capture (1-based).
    pub number: u64,
    /// Capture time, ns since the epoch.
    pub time_ns: u64,
    /// UDP source.
    pub src: SocketAddr,
    /// UDP destination.
    pub dst: SocketAddr,
    /// UDP payload.
    pub payload: &'a [u8],
    /// Harness marks.
    pub mark: Mark,
}

/// A broken rule at one packet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Packet number.
    pub packet: u64,
    /// Capture time, ns since the epoch.
    pub time_ns: u64,
    /// The sender of the datagram the violation is about (`None`: not one datagram's, or a
    /// checker that does not say). Not in reports: the packet number says it.
    #[serde(skip)]
    pub src: Option<SocketAddr>,
    /// Rule id.
    pub rule: &'static str,
    /// Rule statement.
    pub statement: &'static str,
    /// What was seen.
    pub detail: String,
}

/// Violations of one session (or connection), at most [`MAX_VIOLATIONS_PER_RULE`] kept per rule,
/// all counted.
#[derive(Clone, Debug, Default)]
pub struct ViolationLog {
    violations: Vec<Violation>,
    per_rule: BTreeMap<&'static str, usize>,
    count: u64,
}

impl ViolationLog {
    /// Records that `packet` broke `rule`.
    pub fn record(&mut self, packet: &Packet<'_>, rule: &'static Rule, detail: String) {
        self.push(
            packet.number,
            packet.time_ns,
            Some(packet.src),
            rule,
            detail,
        );
    }

    /// Records that the packet numbered `packet` (captured at `time_ns`) broke `rule`.
    pub fn record_at(&mut self, packet: u64, time_ns: u64, rule: &'static Rule, detail: String) {
        self.push(packet, time_ns, None, rule, detail);
    }

    fn push(
        &mut self,
        packet: u64,
        time_ns: u64,
        src: Option<SocketAddr>,
        rule: &'static Rule,
        detail: String,
    ) {
        self.count += 1;
        let kept = self.per_rule.entry(rule.id).or_default();
        if *kept < MAX_VIOLATIONS_PER_RULE {
            *kept += 1;
            self.violations.push(Violation {
                packet,
                time_ns,
                src,
                rule: rule.id,
                statement: rule.statement,
                detail,
            });
        }
    }

    /// The violations kept so far, in the order recorded.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The kept violations (in packet order) and how many there were in all.
    pub fn into_parts(mut self) -> (Vec<Violation>, u64) {
        self.violations.sort_by_key(|v| v.packet);
        (self.violations, self.count)
    }
}

/// What every judge's report answers, whichever way it judged (packet by packet through a
/// [`Judge`], or over whole QUIC connections rebuilt from a capture): the rules the judged side broke.
pub trait Judgement {
    /// Every violation, in the report's order.
    fn violations(&self) -> Vec<Violation>;
}

/// A family's judge: fed the packets of a capture in order, it reports at the end.
pub trait Judge {
    /// The family's verdict.
    type Report;
    /// The next packet, in capture order.
    fn push(&mut self, packet: &Packet<'_>);
    /// The verdict on everything pushed.
    fn finish(self) -> Self::Report;
}

/// The verdict on a capture file, with what the reader skipped and where it stopped.
#[derive(Debug)]
pub struct CaptureVerdict<R> {
    /// The judge's verdict on every datagram read.
    pub report: R,
    /// Packets that were not UDP datagrams of interest (not UDP, other port, truncated …).
    pub skipped: u64,
    /// The same, by reason.
    pub skips: handshake_capture::SkipCounts,
    /// Set when the file is damaged: the report covers everything before the damage.
    pub damage: Option<handshake_capture::CaptureError>,
}

/// The packet a reader's datagram is for a judge.
fn packet<'a>(udp: &'a handshake_capture::UdpDatagram<'_>) -> Packet<'a> {
    Packet {
        number: udp.packet_number,
        time_ns: udp.timestamp_ns,
        src: udp.src,
        dst: udp.dst,
        payload: &udp.payload,
        mark: Mark::from_comment(udp.comment.as_deref()),
    }
}

/// Judges datagrams a capture would hold, in its order, with `judge`: what [`check_capture`] of
/// that capture reports, without the capture (a run in virtual time judged from its trace).
pub fn judge_datagrams<J: Judge>(
    datagrams: &[handshake_capture::UdpDatagram<'_>],
    mut judge: J,
) -> J::Report {
    for udp in datagrams {
        judge.push(&packet(udp));
    }
    judge.finish()
}

/// Reads a pcap or pcapng capture held in memory (only UDP to or from `port`, when given) and
/// judges it with `judge`. `Err` only when the bytes are not a capture at all.
pub fn check_capture<J: Judge>(
    bytes: &[u8],
    port: Option<u16>,
    mut judge: J,
) -> Result<CaptureVerdict<J::Report>, handshake_capture::CaptureError> {
    let mut reader = handshake_capture::open(bytes)?.with_port(port);
    let mut damage = None;
    for item in reader.by_ref() {
        match item {
            Ok(udp) => judge.push(&packet(&udp)),
            Err(e) => {
                damage = Some(e);
                break;
            }
        }
    }
    Ok(CaptureVerdict {
        report: judge.finish(),
        skipped: reader.skipped().total(),
        skips: *reader.skipped(),
        damage,
    })
}

/// [`check_capture`] of a capture read from `source` piece by piece, in memory bounded whatever
/// its size ([`handshake_capture::read_stream`]); the same verdict for the same bytes. A read
/// error after the start is damage.
///
/// With `threads` ≥ 2 a second thread reads the file while this one decodes and judges
/// ([`handshake_capture::read_stream_threaded`]): the judge sees the same packets in the same
/// order, so the verdict is the same byte for byte.
pub fn check_stream<J: Judge, R: std::io::Read + Send>(
    source: R,
    port: Option<u16>,
    threads: usize,
    mut judge: J,
) -> Result<CaptureVerdict<J::Report>, handshake_capture::CaptureError> {
    let options = handshake_capture::StreamOptions::default();
    let each = |udp: handshake_capture::UdpDatagram<'_>| judge.push(&packet(&udp));
    let end = if threads >= 2 {
        handshake_capture::read_stream_threaded(source, port, options, each)?
    } else {
        handshake_capture::read_stream(source, port, options, each)?
    };
    Ok(CaptureVerdict {
        report: judge.finish(),
        skipped: end.skipped.total(),
        skips: end.skipped,
        damage: end.damage,
    })
}

/// What `harness check` was asked: the capture and the options every family shares (a family adds
/// its own).
#[derive(Debug, Clone)]
pub struct CheckRequest {
    /// The capture file.
    pub file: std::path::PathBuf,
    /// Threads a judge may use: 1 reads and judges on one thread; more lets a judge that reads
    /// the file as a stream read ahead on a second (the verdict is the same).
    pub threads: usize,
    /// Only UDP datagrams to or from this port.
    pub port: Option<u16>,
    /// The responder's (server's) address, when roles cannot be inferred.
    pub responder: Option<SocketAddr>,
    /// The profile the traffic must follow (the family's default when absent).
    pub profile: Option<String>,
    /// Allowed timing deviation.
    pub tolerance: Tolerance,
    /// The verdict as one JSON document.
    pub json: bool,
    /// Rules resting on this project's profile decisions fail too.
    pub strict_profile: bool,
    /// QUIC families: an NSS key log to decrypt with (besides the capture's own secrets).
    pub keylog: Option<std::path::PathBuf>,
}

impl CheckRequest {
    /// The whole capture, for judges that need all of it at once; `None` after saying on stderr
    /// why it cannot be read.
    pub fn read_capture(&self) -> Option<Vec<u8>> {
        self.reported(std::fs::read(&self.file))
    }

    /// The capture file opened for reading as a stream; `None` after saying why it cannot be.
    pub fn open_capture(&self) -> Option<std::fs::File> {
        self.reported(std::fs::File::open(&self.file))
    }

    fn reported<T>(&self, result: std::io::Result<T>) -> Option<T> {
        result
            .map_err(|e| eprintln!("error: {}: {e}", self.file.display()))
            .ok()
    }
}

/// The one-word verdict of `harness check`, the same for every family: `incomplete` (the
/// capture is damaged), `nothing to judge`, `clean`, `deviations` (only rules resting on this
/// project's profile decisions fired) or `violations`. It never says `clean` about a capture
/// that could not be judged whole.
pub fn verdict_word(
    damaged: bool,
    judged_nothing: bool,
    failing: u64,
    deviations: u64,
) -> &'static str {
    match (damaged, judged_nothing, failing, deviations) {
        (true, _, _, _) => "incomplete",
        (false, true, _, _) => "nothing to judge",
        (false, false, 0, 0) => "clean",
        (false, false, 0, _) => "deviations",
        _ => "violations",
    }
}

/// `seconds.micros` of a capture timestamp in nanoseconds.
pub fn seconds(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
}

/// The violations part of `harness check`'s text verdict: a count, then one line
/// each — packet, time, rule (marked when it rests on a profile decision), detail, statement.
pub fn write_violations(
    out: &mut dyn std::io::Write,
    violations: &[Violation],
    is_profile_rule: impl Fn(&str) -> bool,
) -> std::io::Result<()> {
    if violations.is_empty() {
        writeln!(out, "violations: none")?;
    } else {
        writeln!(out, "violations: {}", violations.len())?;
    }
    for v in violations {
        writeln!(
            out,
            "  #{} {} {}{}: {} -- {}",
            v.packet,
            seconds(v.time_ns),
            v.rule,
            if is_profile_rule(v.rule) {
                " (profile decision)"
            } else {
                ""
            },
            v.detail,
            v.statement
        )?;
    }
    Ok(())
}

/// `n` of `noun`, with the plural when `n` is not one.
fn count(n: usize, noun: &str) -> String {
    handshake_core::words::count(n as u64, noun)
}

/// The last line of `harness check`'s text verdict, for `word` ([`verdict_word`]) and the number
/// of violations shown.
pub fn write_verdict_line(
    out: &mut dyn std::io::Write,
    word: &str,
    violations: usize,
) -> std::io::Result<()> {
    match word {
        "violations" => writeln!(out, "verdict: {}", count(violations, "violation")),
        "deviations" => writeln!(
            out,
            "verdict: clean by the facts; {} from this project's profile decisions (--strict-profile fails on them)",
            count(violations, "deviation")
        ),
        "incomplete" => writeln!(
            out,
            "verdict: incomplete (the capture is damaged; {} before the damage)",
            count(violations, "violation")
        ),
        word => writeln!(out, "verdict: {word}"),
    }
}

/// For the families' tests of `harness check`, which reads a file.
#[doc(hidden)]
pub mod testing {
    use std::path::{Path, PathBuf};

    /// A file holding a capture's bytes: `golden` itself when it holds them (so that messages name
    /// it), else a scratch copy, removed on drop.
    pub struct CaptureFile {
        pub path: PathBuf,
        scratch: bool,
    }

    impl CaptureFile {
        pub fn new(golden: &Path, bytes: &[u8]) -> CaptureFile {
            if std::fs::read(golden).ok().as_deref() == Some(bytes) {
                return CaptureFile {
                    path: golden.to_owned(),
                    scratch: false,
                };
            }
            static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = golden
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("capture");
            let path =
                std::env::temp_dir().join(format!("check-{}-{n}-{name}", std::process::id()));
            if let Err(e) = std::fs::write(&path, bytes) {
                panic!("scratch capture {}: {e}", path.display());
            }
            CaptureFile {
                path,
                scratch: true,
            }
        }
    }

    impl Drop for CaptureFile {
        fn drop(&mut self) {
            if self.scratch {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }

    /// The rule ids of a JSON verdict (`harness check --json`), in its order.
    pub fn rules_of(json: &str) -> Vec<String> {
        let doc: serde_json::Value = match serde_json::from_str(json) {
            Ok(doc) => doc,
            Err(e) => panic!("not a JSON verdict ({e}): {json}"),
        };
        doc["report"]["violations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["rule"].as_str().map(str::to_owned))
            .collect()
    }

    /// Asserts that of the rules a verdict names only those starting with `prefix` fired (the
    /// harness's own scripted side's, misbehaving on purpose), and that its exit code says
    /// whether any did. `what` names the verdict in messages.
    pub fn assert_only_rules_of(prefix: &str, rules: &[String], code: i32, what: &str) {
        let others: Vec<&String> = rules.iter().filter(|r| !r.starts_with(prefix)).collect();
        assert!(
            others.is_empty(),
            "{what}: rules beyond {prefix}* fire: {others:?}"
        );
        assert_eq!(code, i32::from(!rules.is_empty()), "{what}: exit code");
    }

    /// Whether a run's capture is the golden file `dir/STEM.pcapng`; with `UPDATE_GOLDEN` set in
    /// the environment the file is rewritten first (and so matches).
    pub fn golden_matches(dir: &Path, stem: &str, capture: &[u8]) -> bool {
        let path = dir.join(format!("{stem}.pcapng"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            if let Err(e) =
                std::fs::create_dir_all(dir).and_then(|()| std::fs::write(&path, capture))
            {
                panic!("{}: {e}", path.display());
            }
        }
        std::fs::read(&path).ok().as_deref() == Some(capture)
    }
}
