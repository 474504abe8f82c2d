//! handshake-harness: the `harness` command as a library over a family list ([`cli::main`] takes
//! a [`handshake_plugin::Registry`]; the binary's is [`families::REGISTRY`]). Each `*_cmd` module
//! is one command's arguments, files and printing; the work is in the library crates below.
#![forbid(unsafe_code)]

pub mod capture_cmd;
pub mod cli;
pub mod decisions_cmd;
pub mod families;
pub mod formats_cmd;
pub mod fuzz_cmd;

pub mod interop_cmd;
pub mod learn_cmd;
pub mod library;
pub mod mutants_cmd;
pub mod probe_cmd;
pub mod run_cmd;
pub mod scenarios_cmd;
