//! `harness peer darktower-*`: the reference endpoints as real tools over UDP (not yet).

use clap::ArgMatches;

/// The tools.
pub fn commands() -> Vec<clap::Command> {
    Vec::new()
}

/// Runs one (`None`: not Dark Tower's).
pub fn run(_matches: &ArgMatches) -> Option<i32> {
    None
}
