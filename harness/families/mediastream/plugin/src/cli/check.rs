//! `harness check FILE` for media-stream captures: judges the traffic against the media stream's
//! rules and prints the verdict per session.

use std::io::Write;
use std::time::Duration;

use clap::FromArgMatches;
use handshake_check::CheckRequest;

use handshake_mediastream_endpoint::{Profile, StreamConfig};
use handshake_mediastream_judge::{CheckOptions, Checker, Report};

use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

/// The media stream's options of `harness check`.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Media stream")]
pub struct MediaCheckArgs {
    /// The configured maximum datagram size (-DatagramByteSize).
    #[arg(long, default_value_t = 1400, value_parser = clap::value_parser!(u64).range(53..=65_507))]
    pub datagram_byte_size: u64,
    /// Bits per second (with --frame-rate: the frame size F for the statistics).
    #[arg(long, requires = "frame_rate", value_parser = clap::value_parser!(u64).range(1..))]
    pub bits_per_second: Option<u64>,
    /// Frames per second (with --bits-per-second and/or --stream-length).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(handshake_mediastream_endpoint::MAX_FRAME_RATE)))]
    pub frame_rate: Option<u32>,
    /// Stream length in seconds (with --frame-rate: enables media.nothing_after_last_frame).
    #[arg(long, requires = "frame_rate", value_parser = clap::value_parser!(u32).range(1..=i64::from(handshake_mediastream_endpoint::MAX_STREAM_LENGTH_SECS)))]
    pub stream_length: Option<u32>,
    /// `data`: payloads must be the fill pattern; `connection`: not checked.
    #[arg(long, value_enum, default_value_t = super::peer::VerifyArg::Data)]
    pub verify: super::peer::VerifyArg,
    /// Who sends the media (default: each session's first media datagram tells).
    #[arg(long, value_enum)]
    pub direction: Option<super::peer::DirectionArg>,
}

/// Judges the capture of `request` as media-stream traffic (the profile default: `3way`), with the
/// media stream's options in `matches`; prints the verdict and returns the exit code (0 clean, 1
/// violations, 2 unusable input).
pub fn check(request: &CheckRequest, matches: &clap::ArgMatches, out: &mut dyn Write) -> i32 {
    let args = match MediaCheckArgs::from_arg_matches(matches) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return EXIT_INPUT;
        }
    };
    run(request, args, out)
}

fn run(request: &CheckRequest, args: MediaCheckArgs, out: &mut dyn Write) -> i32 {
    let profile = match Profile::parse(request.profile.as_deref().unwrap_or("3way")) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    if args.frame_rate.is_some() && args.bits_per_second.is_none() && args.stream_length.is_none() {
        eprintln!("error: --frame-rate alone changes nothing: give --bits-per-second (the frame size F) and/or --stream-length (the last frame)");
        return EXIT_INPUT;
    }
    let stream = match (args.bits_per_second, args.frame_rate) {
        (Some(bps), Some(rate)) => {
            let config = StreamConfig {
                bits_per_second: bps,
                frame_rate: rate,
                stream_length_secs: args.stream_length.unwrap_or(1),
                datagram_byte_size: u32::try_from(args.datagram_byte_size).unwrap_or(u32::MAX),
                ..StreamConfig::default()
            };
            if let Err(e) = config.validate() {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
            Some(config)
        }
        _ => None,
    };
    let frame_size = stream.and_then(|c| c.frame_size().ok());
    let frames = match (args.stream_length, args.frame_rate) {
        (Some(len), Some(rate)) => Some(u64::from(len) * u64::from(rate)),
        _ => None,
    };
    let options = CheckOptions {
        profile,
        responder: request.responder,
        max_datagram: args.datagram_byte_size,
        frame_size,
        frames,
        verify_payload: args.verify == super::peer::VerifyArg::Data,
        tolerance: Duration::from_millis(request.tolerance_ms),
        direction: args.direction.map(Into::into),
        // Frame counts follow D14's accepted frame rate only when the stream length is known too.
        stream: stream.filter(|_| args.stream_length.is_some()),
    };
    let Some(file) = request.open_capture() else {
        return EXIT_INPUT;
    };
    let judged =
        handshake_check::check_stream(file, request.port, request.threads, Checker::new(options));
    let verdict = match judged {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {}: {e}", request.file.display());
            return EXIT_INPUT;
        }
    };
    // The verdict word never says "clean" about a capture that could not be judged whole.
    let skips = verdict.skips.describe();
    let unusable = match (&verdict.damage, verdict.report.datagrams) {
        (Some(damage), _) => Some(format!(
            "{damage} (the verdict covers the {} datagrams before it)",
            verdict.report.datagrams
        )),
        (None, 0) => Some(format!(
            "no UDP datagrams to judge{}{}",
            request
                .port
                .map(|p| format!(" on port {p}"))
                .unwrap_or_default(),
            if skips.is_empty() {
                String::new()
            } else {
                format!(": packets skipped: {}", skips.join(", "))
            }
        )),
        (None, _) => None,
    };
    // Rules that rest on a profile decision are deviations unless --strict-profile.
    let deviations = verdict
        .report
        .violations()
        .filter(|v| {
            handshake_mediastream_judge::rules::by_id(v.rule)
                .is_some_and(|r| r.basis == handshake_mediastream_judge::rules::Basis::Profile)
        })
        .count() as u64;
    let failing = if request.strict_profile {
        verdict.report.violation_count()
    } else {
        verdict.report.violation_count().saturating_sub(deviations)
    };
    let word = handshake_check::verdict_word(
        verdict.damage.is_some(),
        verdict.report.datagrams == 0,
        failing,
        deviations,
    );
    let written = if request.json {
        let doc = serde_json::json!({
            "file": request.file.display().to_string(),
            "skipped_packets": verdict.skipped,
            "skipped_by_reason": skips,
            "damage": verdict.damage.as_ref().map(|e| e.to_string()),
            "verdict": word,
            "deviations": deviations,
            "report": verdict.report,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_text(out, &request.file, &verdict.report, verdict.skipped, word)
    };
    if let Err(e) = written {
        eprintln!("error: writing output: {e}");
        return EXIT_INPUT;
    }
    if let Some(why) = unusable {
        eprintln!("error: {}: {why}", request.file.display());
        return EXIT_INPUT;
    }
    if failing == 0 {
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
    word: &str,
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
            let profile = handshake_mediastream_judge::rules::by_id(v.rule)
                .is_some_and(|r| r.basis == handshake_mediastream_judge::rules::Basis::Profile);
            writeln!(
                out,
                "    #{} {} {}{}: {} -- {}",
                v.packet,
                seconds(v.time_ns),
                v.rule,
                if profile { " (profile decision)" } else { "" },
                v.detail,
                v.statement
            )?;
        }
    }
    for (rule, why) in &report.not_checked {
        writeln!(out, "not checked: {rule}: {why}")?;
    }
    handshake_check::write_verdict_line(out, word, report.violation_count() as usize)
}
