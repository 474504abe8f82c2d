//! The exit codes of every `harness` command (the README's table): a CI gate can tell a failing
//! implementation from a broken invocation, and never passes vacuously.

/// Success.
pub const OK: i32 = 0;
/// The run completed and found failures (or what was read is wrong: a malformed datagram).
pub const FAILED: i32 = 1;
/// Bad usage or unusable input.
pub const INPUT: i32 = 2;
/// Nothing was selected or nothing could run (`harness run`).
pub const NOTHING: i32 = 3;
/// Interrupted by Ctrl-C (SIGINT); 143 for SIGTERM.
pub const INTERRUPTED: i32 = 130;
