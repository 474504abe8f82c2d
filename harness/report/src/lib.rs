//! The reports a CI gate reads, written once for every protocol family: per-result transcripts
//! and captures, `junit.xml`, `results.json`, `summary.md` ([`files`]) and the self-contained HTML
//! report with ladder diagrams ([`html`]). Everything is a pure function of the run's results: the
//! same results give byte-identical files (no wall clock, no host names, ordered maps).
#![forbid(unsafe_code)]

pub mod files;
pub mod hints;
pub mod html;

pub use files::*;
