//! `harness check FILE`: judges a capture against the protocol rules.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use handshake_check::{check_capture, CheckOptions, Report};
use handshake_endpoint::mediastream::{Profile, StreamConfig};

use crate::cli::{EXIT_FAILED, EXIT_INPUT, EXIT_OK};

/// `harness check` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A pcap or pcapng capture (tcpdump, Wireshark, or the harness's own).
    pub file: PathBuf,
    /// The profile the traffic must follow: legacy, udp_push, 3way[+allow_legacy_start][+optimistic_start].
    #[arg(long, default_value = "3way")]
    pub profile: String,
    /// Only UDP datagrams to or from this port (the responder's).
    #[arg(long)]
    pub port: Option<u16>,
    /// The responder's address, when roles cannot be inferred from who sent START or SYN.
    #[arg(long)]
    pub responder: Option<SocketAddr>,
    /// The configured maximum datagram size (-DatagramByteSize).
    #[arg(long, default_value_t = 1400)]
    pub datagram_byte_size: u64,
    /// Bits per second (with --frame-rate: the frame size F for the statistics).
    #[arg(long)]
    pub bits_per_second: Option<u64>,
    /// Frames per second.
    #[arg(long)]
    pub frame_rate: Option<u32>,
    /// Stream length in seconds (with --frame-rate: enables media.nothing_after_last_frame).
    #[arg(long)]
    pub stream_length: Option<u32>,
    /// `data`: payloads must be the fill pattern; `connection`: not checked.
    #[arg(long, value_enum, default_value_t = crate::peer::VerifyArg::Data)]
    pub verify: crate::peer::VerifyArg,
    /// Allowed deviation of SYN re-send intervals, ms (plus 10 % of the interval).
    #[arg(long, default_value_t = 50)]
    pub tolerance_ms: u64,
    /// The verdict as one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// Runs `harness check`; returns the exit code (0 clean, 1 violations, 2 unusable input).
pub fn run(args: CheckArgs, out: &mut dyn Write) -> i32 {
    let profile = match Profile::parse(&args.profile) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let frame_size = match (args.bits_per_second, args.frame_rate) {
        (Some(bps), Some(rate)) => {
            let config = StreamConfig {
                bits_per_second: bps,
                frame_rate: rate,
                ..StreamConfig::default()
            };
            match config.frame_size() {
                Ok(f) => Some(f),
                Err(e) => {
                    eprintln!("error: {e}");
                    return EXIT_INPUT;
                }
            }
        }
        _ => None,
    };
    let frames = match (args.stream_length, args.frame_rate) {
        (Some(len), Some(rate)) => Some(u64::from(len) * u64::from(rate)),
        _ => None,
    };
    let options = CheckOptions {
        profile,
        responder: args.responder,
        max_datagram: args.datagram_byte_size,
        frame_size,
        frames,
        verify_payload: args.verify == crate::peer::VerifyArg::Data,
        tolerance: Duration::from_millis(args.tolerance_ms),
    };
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_INPUT;
        }
    };
    let verdict = match check_capture(&bytes, args.port, options) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            return EXIT_INPUT;
        }
    };
    let written = if args.json {
        let doc = serde_json::json!({
            "file": args.file.display().to_string(),
            "skipped_packets": verdict.skipped,
            "damage": verdict.damage.as_ref().map(|e| e.to_string()),
            "verdict": if verdict.report.violation_count() == 0 { "clean" } else { "violations" },
            "report": verdict.report,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(out, &args.file, &verdict.report, verdict.skipped)
    };
    if let Err(e) = written {
        eprintln!("error: writing output: {e}");
        return EXIT_INPUT;
    }
    if let Some(damage) = &verdict.damage {
        eprintln!(
            "error: {}: {damage} (the verdict above covers the packets before it)",
            args.file.display()
        );
        return EXIT_INPUT;
    }
    if verdict.report.datagrams == 0 {
        eprintln!(
            "error: {}: no UDP datagrams to judge{}",
            args.file.display(),
            args.port
                .map(|p| format!(" on port {p}"))
                .unwrap_or_default()
        );
        return EXIT_INPUT;
    }
    if verdict.report.violation_count() == 0 {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

fn seconds(ns: u64) -> String {
    format!("{}.{:06}", ns / 1_000_000_000, ns % 1_000_000_000 / 1000)
}

fn write_text(
    out: &mut dyn Write,
    file: &std::path::Path,
    report: &Report,
    skipped: u64,
) -> std::io::Result<()> {
    let plural = if report.sessions.len() == 1 { "" } else { "s" };
    writeln!(
        out,
        "{}: {} datagrams in {} session{plural}, judged as {}; {} other packets skipped",
        file.display(),
        report.datagrams,
        report.sessions.len(),
        report.profile,
        skipped
    )?;
    for s in &report.sessions {
        writeln!(
            out,
            "session {}: {} (initiator) <-> {} (responder), packets #{}..#{}",
            s.index, s.initiator, s.responder, s.first_packet, s.last_packet
        )?;
        writeln!(
            out,
            "  handshake: {}",
            if s.handshake.is_empty() {
                "(none seen)"
            } else {
                &s.handshake
            }
        )?;
        writeln!(
            out,
            "  mode: {}{}",
            s.negotiated_mode,
            s.connection_id
                .as_ref()
                .map(|id| format!(", connection id \"{id}\""))
                .unwrap_or_default()
        )?;
        let st = &s.stats;
        writeln!(
            out,
            "  frames: {} seen (last seq {}), {} complete, {} incomplete{}; {} duplicate datagrams; {} packets, {} marked by the harness",
            st.frames_seen,
            st.last_seq,
            st.frames_complete,
            st.frames_incomplete,
            st.frame_size.map(|f| format!(" (F = {f})")).unwrap_or_default(),
            st.duplicate_datagrams,
            st.packets,
            st.harness_marked
        )?;
        if s.violations.is_empty() {
            writeln!(out, "  violations: none")?;
        } else {
            writeln!(out, "  violations: {}", s.violation_count)?;
        }
        for v in &s.violations {
            writeln!(
                out,
                "    #{} {} {}: {} -- {}",
                v.packet,
                seconds(v.time_ns),
                v.rule,
                v.detail,
                v.statement
            )?;
        }
    }
    for (rule, why) in &report.not_checked {
        writeln!(out, "not checked: {rule}: {why}")?;
    }
    let n = report.violation_count();
    writeln!(
        out,
        "{}",
        if n == 0 {
            "verdict: clean".to_owned()
        } else {
            format!("verdict: {n} violations")
        }
    )
}
