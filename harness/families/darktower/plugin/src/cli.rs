//! Dark Tower's commands: `harness peer darktower-controller|darktower-handler|darktower-client`
//! (the reference endpoints as real tools over UDP) and its part of `harness check`.

use std::io::Write;

use clap::ArgMatches;
use handshake_check::{CheckError, CheckRequest, Checked};

/// Dark Tower's top-level commands (none).
pub fn commands() -> Vec<clap::Command> {
    Vec::new()
}

/// Dark Tower's `harness peer` tools.
pub fn peer_commands() -> Vec<clap::Command> {
    crate::peer::commands()
}

/// Runs a top-level command of the family (none).
pub fn run(_name: &str, _matches: &ArgMatches, _out: &mut dyn Write) -> Option<i32> {
    None
}

/// Runs `harness peer darktower-…`.
pub fn run_peer(peer_matches: &ArgMatches) -> Option<i32> {
    crate::peer::run(peer_matches)
}

/// Adds Dark Tower's options to `harness check`.
pub fn check_args(command: clap::Command) -> clap::Command {
    <crate::check::DarkTowerCheckArgs as clap::Args>::augment_args(command)
}

/// Judges a Dark Tower capture.
pub fn check(request: &CheckRequest, matches: &ArgMatches) -> Result<Checked, CheckError> {
    handshake_quic_family::check::check::<crate::check::DarkTowerCheck>(request, matches)
}

/// Dark Tower's JSON Schemas (none of its own besides scenarios).
pub fn schemas() -> Vec<(&'static str, String)> {
    Vec::new()
}
