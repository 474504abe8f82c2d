//! `harness check FILE --protocol proton`: judges a Proton capture (the harness's own, or a real
//! one with its TLS secrets) and prints the verdict per connection.
//!
//! Secrets come from the capture's Decryption Secrets Block and/or `--keylog FILE` (an NSS key
//! log, what `SSLKEYLOGFILE` writes). Timer rules need the server's timers: none are assumed
//! unless `--profile-timers` (the profile's defaults) or a `--*-ms` option gives them.

use std::io::Write;

use clap::FromArgMatches;
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_proton_endpoint::Profile;
use handshake_proton_judge::rules::{self, Basis};
use handshake_proton_judge::{ConnectionView, Options, Report};

use crate::format::Session;

/// Proton's options of `harness check`.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Proton")]
pub struct ProtonCheckArgs {
    /// Judge the timer rules with the profile's default timers (as_coded: accept 5 s, op 300 s,
    /// startup 10 s; project adds the 1 s discriminator timeout). Without it only the timers given
    /// by the options below are judged.
    #[arg(long)]
    pub profile_timers: bool,
    /// The server's stream-accept timeout, ms (close code 3).
    #[arg(long, value_name = "MS")]
    pub accept_ms: Option<u64>,
    /// The server's read timeout, ms (close code 4).
    #[arg(long, value_name = "MS")]
    pub op_ms: Option<u64>,
    /// The server's discriminator timeout, ms (P3, close code 1; project profile only).
    #[arg(long, value_name = "MS")]
    pub disc_ms: Option<u64>,
    /// The server's startup delay before it serves its first connection, ms.
    #[arg(long, value_name = "MS")]
    pub startup_ms: Option<u64>,
}

/// Judges the capture of `request` as Proton traffic (profile default: `project`) with Proton's
/// options in `matches`, for the one `harness check` command.
pub fn check(request: &CheckRequest, matches: &clap::ArgMatches) -> Result<Checked, CheckError> {
    let args =
        ProtonCheckArgs::from_arg_matches(matches).map_err(|e| CheckError::Usage(e.to_string()))?;
    let options = options(request, &args).map_err(CheckError::Input)?;
    let bytes = request.read_capture().ok_or(CheckError::Said)?;
    let report = handshake_proton_judge::judge(&bytes, &options)
        .map_err(|e| CheckError::Input(format!("{}: {e}", request.file.display())))?;
    let judged = report.connections.iter().any(|c| c.judged || c.refused);
    let profile = request.profile.as_deref().unwrap_or("project");
    let mut json = serde_json::Map::new();
    json.insert("file".into(), request.file.display().to_string().into());
    json.insert("profile".into(), profile.into());
    json.insert("timers".into(), serde_json::json!(&options.profile));
    json.insert("report".into(), serde_json::json!(&report));
    let request = request.clone();
    let nothing_judged = (!judged).then(|| "no Proton connection could be judged (see the notes: no QUIC, no secrets, or not to --responder)".to_owned());
    Ok(Checked::of_violations(
        report.datagrams,
        report.damage.clone(),
        nothing_judged,
        &report.violations.clone(),
        is_profile_rule,
        json,
        Box::new(move |out, word| write_text(out, &request, &options, &report, word)),
    ))
}

/// The judge's options for `request` and `args`.
pub fn options(request: &CheckRequest, args: &ProtonCheckArgs) -> Result<Options, String> {
    let profile = Profile::parse(request.profile.as_deref().unwrap_or("project"))?;
    if profile.mutant.is_some() {
        return Err(
            "--profile: a mutant is a reference endpoint, not a profile to judge by".into(),
        );
    }
    let session = Session {
        accept_ms: args.accept_ms,
        op_ms: args.op_ms,
        disc_ms: args.disc_ms,
        startup_ms: args.startup_ms,
        ..Session::default()
    };
    let mut view = crate::judge::profile_view(Some(&profile), &session);
    if !args.profile_timers {
        // Only the timers the user gave are known.
        view.accept_ms = args.accept_ms.and(view.accept_ms);
        view.op_ms = args.op_ms.and(view.op_ms);
        view.disc_ms = args.disc_ms.and(view.disc_ms);
        view.startup_ms = args.startup_ms.and(view.startup_ms);
    }
    let key_log = request.key_log()?;
    Ok(Options {
        server: request.responder,
        profile: view,
        key_log,
        port: request.port,
        tolerance: request.tolerance,
    })
}

fn is_profile_rule(id: &str) -> bool {
    rules::by_id(id).is_some_and(|r| r.basis == Basis::Profile)
}

fn addr(a: Option<std::net::SocketAddr>) -> String {
    a.map_or_else(|| "?".to_owned(), |a| a.to_string())
}

fn side(s: handshake_proton_judge::Side) -> &'static str {
    match s {
        handshake_proton_judge::Side::Client => "client",
        handshake_proton_judge::Side::Server => "server",
    }
}

fn timer(ms: Option<u64>) -> String {
    ms.map_or_else(|| "unknown".to_owned(), |v| format!("{v} ms"))
}

fn write_connection(out: &mut dyn Write, c: &ConnectionView) -> std::io::Result<()> {
    writeln!(
        out,
        "connection {}: {} (client) -> {} (server), from packet #{}{}",
        c.index,
        addr(c.client),
        addr(c.server),
        c.first_packet,
        match (c.judged, c.refused) {
            (_, true) => ", refused",
            (true, _) => "",
            (false, _) => ", not judged",
        }
    )?;
    if let Some(alpn) = &c.alpn {
        writeln!(out, "  alpn: {alpn}")?;
    }
    for s in &c.streams {
        let first = |b: &[u8]| {
            b.first()
                .map_or_else(|| "-".to_owned(), |d| format!("{d:#04x}"))
        };
        writeln!(
            out,
            "  stream {}: client {} B (first {}){}, server {} B{}{}{}",
            s.id,
            s.client_bytes.len(),
            first(&s.client_bytes),
            if s.client_fin { " FIN" } else { "" },
            s.server_bytes.len(),
            if s.server_fin { " FIN" } else { "" },
            s.resets
                .iter()
                .map(|r| format!(", RESET_STREAM {} by the {}", r.code, side(r.by)))
                .collect::<String>(),
            s.stop_sendings
                .iter()
                .map(|r| format!(", STOP_SENDING {} by the {}", r.code, side(r.by)))
                .collect::<String>(),
        )?;
    }
    match &c.close {
        Some(close) => {
            let what = if close.application {
                handshake_proton_wire::CloseCode::from_code(close.code).map_or_else(
                    || format!("application code {} (not a Proton code)", close.code),
                    |c| format!("application code {c}"),
                )
            } else {
                format!("transport error {:#x}", close.code)
            };
            writeln!(
                out,
                "  close: {what} {:?} by the {} at #{} ({})",
                close.reason,
                side(close.by),
                close.packet,
                handshake_check::seconds(close.time_ns)
            )
        }
        None => writeln!(out, "  close: none seen"),
    }
}

fn write_text(
    out: &mut dyn Write,
    request: &CheckRequest,
    options: &Options,
    report: &Report,
    word: &str,
) -> std::io::Result<()> {
    let p = &options.profile;
    writeln!(
        out,
        "{}: {} datagrams, {} connection{}, judged as {}",
        request.file.display(),
        report.datagrams,
        report.connections.len(),
        if report.connections.len() == 1 {
            ""
        } else {
            "s"
        },
        request.profile.as_deref().unwrap_or("project"),
    )?;
    writeln!(
        out,
        "timers: accept {}, op {}, discriminator {}, startup {}; tolerance {} ms",
        timer(p.accept_ms),
        timer(p.op_ms),
        timer(p.disc_ms),
        timer(p.startup_ms),
        options.tolerance.ms()
    )?;
    for c in &report.connections {
        write_connection(out, c)?;
    }
    handshake_check::write_quic_verdict(
        out,
        &report.violations,
        is_profile_rule,
        report.undecrypted,
        &report.notes,
        word,
    )
}
