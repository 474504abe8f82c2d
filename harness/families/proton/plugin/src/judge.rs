//! Proton's judge glue: `harness check` of a Proton capture.

use std::io::Write;

use handshake_check::CheckRequest;

/// `harness check --protocol proton` (see the README for what it judges).
pub fn check_command(_request: &CheckRequest, out: &mut dyn Write) -> i32 {
    let _ = writeln!(out, "error: the Proton judge is not wired into `harness check` yet");
    handshake_scenario::exit::INPUT
}
