//! `harness proton repl`: the original tool's REPL client (`client_repl`), against any Proton
//! server over real UDP (or the reference server in-process in virtual time), printing each
//! exchange with its timing — and writing the session as a scenario (`save FILE`), so that the
//! REPL is a way to write tests.
//!
//! - [`language`]: the command language, pure and reusable (a harness driving a client IUT through
//!   its stdin speaks it too);
//! - [`session`]: what each command does, waits for, prints and records, over a [`session::Driver`];
//! - [`driver`]: the drivers (real UDP, virtual time);
//! - [`save`]: the record as a scenario;
//! - [`cli`]: the command line, the terminal (rustyline) and piped input.

pub mod cli;
pub mod driver;
pub mod language;
pub mod save;
pub mod session;
