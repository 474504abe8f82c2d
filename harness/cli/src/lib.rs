//! handshake-harness: the `harness` command and the layers above the codecs it drives.
//!
//! Modules: [`input`] (JSON and hex input with exact error positions), [`vectors`] (byte test vectors
//! as data), [`decode`] (`harness decode`), [`cli`] (argument parsing and exit codes).
#![forbid(unsafe_code)]

pub mod capture_cmd;
pub mod cli;
pub mod decisions_cmd;
pub mod families;
pub mod fuzz_cmd;

pub mod interop_cmd;
pub mod learn_cmd;
pub mod library;
pub mod mutants_cmd;
pub mod probe_cmd;
pub mod run_cmd;
pub mod scenarios_cmd;
