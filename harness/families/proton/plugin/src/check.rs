//! `harness check FILE --protocol proton`: judges a Proton capture (the harness's own, or a real
//! one with its TLS secrets) and prints the verdict per connection.
//!
//! Secrets come from the capture's Decryption Secrets Block and/or `--keylog FILE` (an NSS key
//! log, what `SSLKEYLOGFILE` writes). Timer rules need the server's timers: none are assumed
//! unless `--profile-timers` (the profile's defaults) or a `--*-ms` option gives them.

use std::io::Write;

use handshake_check::CheckRequest;
use handshake_proton_judge::{Options, Report};
use handshake_quic_family::check::{Judged, QuicCheck};
use handshake_quic_family::QuicInputError;

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

/// Proton's judge in `harness check` (profile default: `project`).
pub struct ProtonCheck;

impl QuicCheck for ProtonCheck {
    type Args = ProtonCheckArgs;
    type Options = Options;
    type Report = Report;
    const RULES: &'static [handshake_check::Rule] = handshake_proton_judge::rules::ALL;
    const NOTHING_JUDGED: &'static str = "no Proton connection could be judged (see the notes: no QUIC, no secrets, or not to --responder)";

    fn options(request: &CheckRequest, args: &ProtonCheckArgs) -> Result<Options, QuicInputError> {
        crate::judge::check_options(request, args)
    }
    fn judge(bytes: &[u8], options: &Options) -> Result<Report, QuicInputError> {
        Ok(handshake_proton_judge::judge(bytes, options)?)
    }
    fn judged(r: &Report) -> Judged<'_> {
        handshake_quic_family::judged!(r, any: r.connections.iter().any(|c| c.judged || c.refused))
    }
    fn json_fields(
        request: &CheckRequest,
        options: &Options,
        json: &mut serde_json::Map<String, serde_json::Value>,
    ) {
        json.insert(
            "profile".into(),
            request.profile.as_deref().unwrap_or("project").into(),
        );
        json.insert("timers".into(), serde_json::json!(&options.profile));
    }
    fn write_head(
        out: &mut dyn Write,
        request: &CheckRequest,
        options: &Options,
        report: &Report,
    ) -> std::io::Result<()> {
        let profile = request.profile.as_deref().unwrap_or("project");
        report.write_text_head(out, &request.file, profile, options)
    }
}
