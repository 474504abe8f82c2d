//! Dark Tower as a plug-in of the harness: `harness peer darktower-controller|darktower-handler|
//! darktower-client` (the reference endpoints as real tools over UDP), its part of `harness check`
//! and its interop matrices.

use clap::{ArgMatches, Command};
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_interop::DynInterop;

use crate::DarkTower;

impl handshake_plugin::Plugin for DarkTower {
    fn interop() -> Option<&'static dyn DynInterop> {
        Some(&crate::interop::INTEROP)
    }
    fn peer_commands() -> Vec<Command> {
        crate::peer::commands()
    }
    fn run_peer(peer_matches: &ArgMatches) -> Option<i32> {
        crate::peer::run(peer_matches)
    }
    fn check_args(command: Command) -> Command {
        <crate::check::DarkTowerCheckArgs as clap::Args>::augment_args(command)
    }
    fn check(request: &CheckRequest, matches: &ArgMatches) -> Result<Checked, CheckError> {
        handshake_quic_family::check::check::<crate::check::DarkTowerCheck>(request, matches)
    }
}
