//! `harness check FILE` for media-stream captures: judges the traffic against the media stream's
//! rules and prints the verdict per session.

use std::io::Write;

use clap::FromArgMatches;
use handshake_check::{CheckError, CheckRequest, Checked};

use handshake_mediastream_endpoint::{Profile, StreamConfig};
use handshake_mediastream_judge::{CheckOptions, Checker, Report};

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
    /// The initiator's profile, when known (a capture does not say it): judges D1's first SYN
    /// (`3way`) and a legacy initiator's START interval (`legacy`, with the stream's options).
    #[arg(long, value_name = "PROFILE")]
    pub initiator_profile: Option<String>,
}

/// Judges the capture of `request` as media-stream traffic (the profile default: `3way`), with the
/// media stream's options in `matches`, for the one `harness check` command.
pub fn check(request: &CheckRequest, matches: &clap::ArgMatches) -> Result<Checked, CheckError> {
    let args =
        MediaCheckArgs::from_arg_matches(matches).map_err(|e| CheckError::Usage(e.to_string()))?;
    let profile = Profile::parse(request.profile.as_deref().unwrap_or("3way"))
        .map_err(|e| CheckError::Input(e.to_string()))?;
    if args.frame_rate.is_some() && args.bits_per_second.is_none() && args.stream_length.is_none() {
        return Err(CheckError::Input("--frame-rate alone changes nothing: give --bits-per-second (the frame size F) and/or --stream-length (the last frame)".into()));
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
            config
                .validate()
                .map_err(|e| CheckError::Input(e.to_string()))?;
            Some(config)
        }
        _ => None,
    };
    let frame_size = stream.and_then(|c| c.frame_size().ok());
    let initiator_profile = args
        .initiator_profile
        .as_deref()
        .map(Profile::parse)
        .transpose()
        .map_err(|e| CheckError::Input(format!("--initiator-profile: {e}")))?;
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
        tolerance: request.tolerance,
        direction: args.direction.map(Into::into),
        initiator_profile,
        // Frame counts follow D14's accepted frame rate only when the stream length is known too.
        stream: stream.filter(|_| args.stream_length.is_some()),
    };
    let file = request.open_capture().ok_or(CheckError::Said)?;
    let verdict =
        handshake_check::check_stream(file, request.port, request.threads, Checker::new(options))
            .map_err(|e| CheckError::Input(format!("{}: {e}", request.file.display())))?;
    let skips = verdict.skips.describe();
    // Rules that rest on a profile decision are deviations unless --strict-profile.
    let deviations = verdict
        .report
        .violations()
        .filter(|v| {
            handshake_mediastream_judge::rules::by_id(v.rule)
                .is_some_and(|r| r.basis == handshake_mediastream_judge::rules::Basis::Profile)
        })
        .count() as u64;
    let damage = verdict.damage.as_ref().map(ToString::to_string);
    let mut json = serde_json::Map::new();
    json.insert("file".into(), request.file.display().to_string().into());
    json.insert("skipped_packets".into(), verdict.skipped.into());
    json.insert("skipped_by_reason".into(), serde_json::json!(&skips));
    json.insert("damage".into(), serde_json::json!(&damage));
    json.insert("report".into(), serde_json::json!(&verdict.report));
    let file = request.file.clone();
    Ok(Checked {
        datagrams: verdict.report.datagrams,
        damage,
        nothing_judged: None,
        no_datagrams_detail: if skips.is_empty() {
            String::new()
        } else {
            format!(": packets skipped: {}", skips.join(", "))
        },
        violations: verdict.report.violation_count(),
        deviations,
        json,
        text: Box::new(move |out, word| {
            write_text(out, &file, &verdict.report, verdict.skipped, word)
        }),
    })
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
