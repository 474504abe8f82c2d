//! `harness check FILE --protocol darktower`: judges a Dark Tower capture (the harness's own, or a
//! real one with its TLS secrets) and prints the verdict per session.
//!
//! Secrets come from the capture's Decryption Secrets Block and/or `--keylog FILE`. Sessions are
//! told apart by `--controller ADDR` / `--handler ADDR`, else by what their client did first, else
//! by WebTransport `:path` or bare-QUIC ALPN (see the judge's crate docs). Token rules need
//! `--token-secret`.

use std::io::Write;
use std::net::SocketAddr;

use handshake_check::CheckRequest;
use handshake_darktower_judge::{Options, Report};
use handshake_quic_family::check::{Judged, QuicCheck};
use handshake_quic_family::QuicInputError;

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

/// Dark Tower's judge in `harness check`.
pub struct DarkTowerCheck;

impl QuicCheck for DarkTowerCheck {
    type Args = DarkTowerCheckArgs;
    type Options = Options;
    type Report = Report;
    const RULES: &'static [handshake_check::Rule] = handshake_darktower_judge::rules::ALL;
    const NOTHING_JUDGED: &'static str =
        "no Dark Tower session could be judged (see the notes: no QUIC, no secrets, or no role)";

    fn options(request: &CheckRequest, args: &Self::Args) -> Result<Options, QuicInputError> {
        crate::judge::check_options(request, args)
    }
    fn judge(bytes: &[u8], options: &Options) -> Result<Report, QuicInputError> {
        Ok(handshake_darktower_judge::judge(bytes, options)?)
    }
    fn judged(r: &Report) -> Judged<'_> {
        handshake_quic_family::judged!(r, any: r.sessions.iter().any(|s| s.judged))
    }
    fn json_fields(
        request: &CheckRequest,
        _: &Options,
        json: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        let profile = request.profile.as_deref().unwrap_or("any");
        json.insert("profile".into(), profile.into());
    }
    fn write_head(
        out: &mut dyn Write,
        request: &CheckRequest,
        options: &Options,
        report: &Report,
    ) -> std::io::Result<()> {
        let profile = request.profile.as_deref();
        let profile = profile.unwrap_or("any transport, mapped codes");
        report.write_text_head(out, &request.file, profile, options)
    }
}
