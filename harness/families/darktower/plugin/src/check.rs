//! `harness check FILE --protocol darktower`: judges a Dark Tower capture (the harness's own, or a
//! real one with its TLS secrets) and prints the verdict per session.
//!
//! Secrets come from the capture's Decryption Secrets Block and/or `--keylog FILE`. Sessions are
//! told apart by `--controller ADDR` / `--handler ADDR`, else by what their client did first, else
//! by WebTransport `:path` or bare-QUIC ALPN (see the judge's crate docs). Token rules need
//! `--token-secret`.

use std::io::Write;
use std::net::SocketAddr;

use clap::FromArgMatches;
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_darktower_judge::rules::{self, Basis};
use handshake_darktower_judge::{Judged, Options, Report, SessionView, Transport};
use handshake_quic::session::ResetCodes;

use crate::profile::Profile;

/// Dark Tower's options of `harness check`.
#[derive(Debug, Default, clap::Args)]
#[command(next_help_heading = "Dark Tower")]
pub struct DarkTowerCheckArgs {
    /// The HS256 token secret: with it the token rules (expired, forged, reused) are judged.
    #[arg(long, value_name = "SECRET")]
    pub token_secret: Option<String>,
    /// Whose rules to judge: `all`, or a list of `controller`, `handler`, `client`.
    #[arg(long, value_name = "ROLES", default_value = "all")]
    pub judge: String,
    /// The controller's address (sessions to it are signaling).
    #[arg(long, value_name = "ADDR")]
    pub controller: Option<SocketAddr>,
    /// The handler's address (sessions to it are media).
    #[arg(long, value_name = "ADDR")]
    pub handler: Option<SocketAddr>,
    /// The controller's meeting capacity (DH6): with it the capacity rule is judged.
    #[arg(long, value_name = "N")]
    pub capacity: Option<u32>,
    /// The idle timeout of DT10, ms.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub idle_ms: u64,
}

/// Judges the capture of `request` as Dark Tower traffic (`--profile v1`, `v2+raw`, `v1+quic` …:
/// the transport and the reset codes; default: each connection's transport from its ALPN, mapped
/// codes), for the one `harness check` command.
pub fn check(request: &CheckRequest, matches: &clap::ArgMatches) -> Result<Checked, CheckError> {
    let args = DarkTowerCheckArgs::from_arg_matches(matches)
        .map_err(|e| CheckError::Usage(e.to_string()))?;
    let options = options(request, &args).map_err(CheckError::Input)?;
    let bytes = request.read_capture().ok_or(CheckError::Said)?;
    let report = handshake_darktower_judge::judge(&bytes, &options)
        .map_err(|e| CheckError::Input(format!("{}: {e}", request.file.display())))?;
    let judged = report.sessions.iter().any(|s| s.judged);
    let mut json = serde_json::Map::new();
    json.insert("file".into(), request.file.display().to_string().into());
    json.insert(
        "profile".into(),
        request.profile.as_deref().unwrap_or("any").into(),
    );
    json.insert("report".into(), serde_json::json!(&report));
    let request = request.clone();
    let nothing_judged = (!judged).then(|| {
        "no Dark Tower session could be judged (see the notes: no QUIC, no secrets, or no role)"
            .to_owned()
    });
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
pub fn options(request: &CheckRequest, args: &DarkTowerCheckArgs) -> Result<Options, String> {
    let (transport, reset_codes) = match request.profile.as_deref() {
        None => (None, ResetCodes::Mapped),
        Some(text) => {
            let p = Profile::parse(text)?;
            if p.mutant.is_some() {
                return Err(
                    "--profile: a mutant is a reference endpoint, not a profile to judge by".into(),
                );
            }
            let transport = match p.transport {
                handshake_darktower_endpoint::TransportKind::WebTransport => {
                    Transport::WebTransport
                }
                handshake_darktower_endpoint::TransportKind::Quic => Transport::Quic,
            };
            (Some(transport), p.reset_codes)
        }
    };
    let judge = Judged::parse(&args.judge).ok_or_else(|| {
        format!(
            "--judge {}: expected all, or a list of controller, handler, client",
            args.judge
        )
    })?;
    let key_log = request.key_log()?;
    Ok(Options {
        transport,
        reset_codes,
        key_log,
        token_secret: args.token_secret.clone(),
        judged_at_unix_s: None,
        idle_timeout_ms: args.idle_ms,
        tolerance: request.tolerance,
        judge,
        capacity: args.capacity,
        controller: args.controller.or(request.responder),
        handler: args.handler,
        port: request.port,
    })
}

fn is_profile_rule(id: &str) -> bool {
    rules::by_id(id).is_some_and(|r| r.basis == Basis::Profile)
}

fn write_session(out: &mut dyn Write, s: &SessionView) -> std::io::Result<()> {
    let addr = |a: Option<SocketAddr>| a.map_or_else(|| "?".to_owned(), |a| a.to_string());
    writeln!(
        out,
        "session {}: {} -> {} {:?}{}{}{}",
        s.connection,
        addr(s.client),
        addr(s.server),
        s.role,
        s.alpn
            .as_ref()
            .map(|a| format!(", alpn {a}"))
            .unwrap_or_default(),
        s.path
            .as_ref()
            .map(|p| format!(", path {p}"))
            .unwrap_or_default(),
        if s.judged { "" } else { ", not judged" }
    )?;
    if let Some(p) = &s.participant {
        writeln!(out, "  participant: {p}")?;
    }
    if !s.client_messages.is_empty() {
        writeln!(out, "  client: {}", s.client_messages.join(", "))?;
    }
    if !s.server_messages.is_empty() {
        writeln!(out, "  server: {}", s.server_messages.join(", "))?;
    }
    for m in &s.media_streams {
        writeln!(
            out,
            "  media stream {} by the {:?}: {} frames, {} B{}{}{}",
            m.stream,
            m.by,
            m.frames,
            m.bytes,
            m.header
                .as_ref()
                .map(|h| format!(", {h}"))
                .unwrap_or_default(),
            if m.fin { ", FIN" } else { "" },
            m.error
                .as_ref()
                .map(|e| format!(", malformed: {e}"))
                .unwrap_or_default()
        )?;
    }
    if s.client_datagrams + s.server_datagrams > 0 {
        writeln!(
            out,
            "  datagrams: {} from the client, {} from the server",
            s.client_datagrams, s.server_datagrams
        )?;
    }
    for (what, list) in [
        ("RESET_STREAM", &s.resets),
        ("STOP_SENDING", &s.stop_sendings),
    ] {
        for c in list {
            writeln!(
                out,
                "  {what} on stream {} by the {:?}: wire {:#x}{}",
                c.stream,
                c.by,
                c.wire_code,
                c.code.map(|c| format!(" = {c:#04x}")).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

fn write_text(
    out: &mut dyn Write,
    request: &CheckRequest,
    options: &Options,
    report: &Report,
    word: &str,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} datagrams, {} session{}, judged as {}; tolerance {} ms",
        request.file.display(),
        report.datagrams,
        report.sessions.len(),
        if report.sessions.len() == 1 { "" } else { "s" },
        request
            .profile
            .as_deref()
            .unwrap_or("any transport, mapped codes"),
        options.tolerance.ms()
    )?;
    for s in &report.sessions {
        write_session(out, s)?;
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
