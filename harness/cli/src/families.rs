//! The registry: every protocol family this harness knows. A new family is one line of the
//! `families!` list below, its own folder under `harness/families/` and its dependency in this
//! crate's `Cargo.toml`; see `docs/adding-a-family.md`. Each family's plug-in crate exports, by convention:
//!
//! - `FAMILY`: its scenarios, judge and external-IUT rules ([`handshake_scenario::DynFamily`]);
//! - `interop::INTEROP`: its interop matrices ([`handshake_interop::DynInterop`]);
//! - `cli::{commands, peer_commands, run, run_peer, check_args, check, schemas}`: its commands,
//!   its `harness peer` tools, its part of `harness check` and its JSON Schemas.

use std::io::Write;

use clap::ArgMatches;
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_interop::DynInterop;
use handshake_scenario::{DynFamily, Families};

/// A family's commands, as the binary mounts them.
pub struct FamilyCli {
    /// The family.
    pub family: &'static dyn DynFamily,
    /// Its top-level commands (`harness decode` …).
    pub commands: fn() -> Vec<clap::Command>,
    /// Its `harness peer` tools.
    pub peer_commands: fn() -> Vec<clap::Command>,
    /// Runs one of its top-level commands (`None`: not its).
    pub run: fn(&str, &ArgMatches, &mut dyn Write) -> Option<i32>,
    /// Runs `harness peer …` when the tool is its (`None`: not its).
    pub run_peer: fn(&ArgMatches) -> Option<i32>,
    /// Adds its options to `harness check`.
    pub check_args: fn(clap::Command) -> clap::Command,
    /// Judges a capture as its traffic.
    pub check: fn(&CheckRequest, &ArgMatches) -> Result<Checked, CheckError>,
    /// Its JSON Schemas for `harness schema NAME`: (name, text).
    pub schemas: fn() -> Vec<(&'static str, String)>,
}

macro_rules! families {
    ($($family:ident),* $(,)?) => {
        /// The families, in the order help texts list them.
        pub static FAMILIES: Families = Families(&[$(&$family::FAMILY),*]);
        /// Their interop matrices.
        pub static INTEROP: &[&dyn DynInterop] = &[$(&$family::interop::INTEROP),*];
        /// Their commands.
        pub static CLIS: &[FamilyCli] = &[$(FamilyCli {
            family: &$family::FAMILY,
            commands: $family::cli::commands,
            peer_commands: $family::cli::peer_commands,
            run: $family::cli::run,
            run_peer: $family::cli::run_peer,
            check_args: $family::cli::check_args,
            check: $family::cli::check,
            schemas: $family::cli::schemas,
        }),*];
    };
}

/// `harness check --protocol`'s default: the family of files that do not say
/// ([`Families::default_name`], the first registered; a test keeps the two equal).
pub const DEFAULT_PROTOCOL: &str = "mediastream";

families! {
    handshake_mediastream,
    handshake_proton,
    handshake_darktower,
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_s_default_protocol_is_the_registry_s_default_family() {
        assert_eq!(super::DEFAULT_PROTOCOL, super::FAMILIES.default_name());
    }
}
