//! Layer 5's scenario engine, written once for every protocol family: the JSON scenario envelope
//! ([`format`](mod@format)), the seam a family plugs into ([`family`]), one step interpreter ([`script`]) over
//! two drivers — in-process reference endpoints in virtual time ([`engine`]) and external programs
//! over real UDP in real time ([`external`]) — the judged outcome ([`outcome`]), the families'
//! registry ([`registry`]) and the runner ([`runner`]).
#![forbid(unsafe_code)]

pub mod citations;
pub mod engine;
mod error;
pub mod exit;
pub mod external;
pub mod family;
pub mod format;
pub mod json;
pub mod outcome;
pub mod registry;
pub mod results;
pub mod runner;
pub mod script;
#[doc(hidden)]
pub mod testing;
pub mod validate;

use std::path::Path;

pub use error::{FamilyError, LaunchError, ProfileError};
pub use family::{steps_of, unit_json, unit_kind};
pub use family::{
    ActCtx, Alphabet, Citations, Class, DatagramLabel, Datagrams, Decision, Event, Expectations,
    Family, FuzzHooks, Inferred, IutExit, JudgeCtx, Judged, KitInput, KitSources, Learning,
    ObserveCtx, Probe, Probing, ReferenceMutant, Settle, Strength, Vocabulary, WireFormat,
};
pub use format::{Action, Fields, NoFields, Role, Scenario};
pub use handshake_net::interrupt;
pub use outcome::{Observations, ScenarioOutcome, TypedOutcome, Verdict};
pub use registry::{AnyScenario, DynFamily, Families, Iut, LoadedScenario, Registered};

/// For [`family_fields!`]: the serde and schemars the macro's derives use.
#[doc(hidden)]
pub use schemars as __schemars;
#[doc(hidden)]
pub use serde as __serde;

/// Reads a user's text file: a clear error for a missing file and for bytes that are not UTF-8
/// (with the offset of the first bad byte).
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
        path: path.to_owned(),
        valid_up_to: e.utf8_error().valid_up_to(),
    })
}

/// A user's file or folder that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It does not exist.
    #[error("{}: no such file or directory", path.display())]
    Missing {
        /// The path given.
        path: std::path::PathBuf,
    },
    /// Reading it failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not UTF-8 text.
    #[error("{}: not UTF-8 text (byte {valid_up_to} is not valid UTF-8): scenario, manifest and expectations files are JSON in UTF-8", path.display())]
    NotUtf8 {
        /// The file.
        path: std::path::PathBuf,
        /// The offset of the first byte that is not UTF-8.
        valid_up_to: usize,
    },
}

/// Command lines print errors: a [`ReadError`] becomes its message.
impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.to_string()
    }
}

/// A scenario file that cannot be used: every problem, each with file:line:column.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct LoadError(pub String);

/// What the harness's inputs can be wrong about (beyond a scenario file): each carries the message
/// a user needs to fix it. Why a *run* failed is never an error: it is the outcome's reasons.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// An IUT manifest cannot be used.
    #[error("{0}")]
    Manifest(String),
    /// An implementation under test named on the command line (`ref:`, `cmd:`, `addr:`, a
    /// manifest, `MANIFEST!MUTANT`) cannot be used.
    #[error("{0}")]
    Iut(String),
    /// A protocol family the registry lacks.
    #[error("unknown protocol `{name}`: expected one of {known}")]
    UnknownProtocol {
        /// The name given.
        name: String,
        /// The families known.
        known: String,
    },
    /// A bad `--partition`.
    #[error("partition `{text}`: {why}")]
    Partition {
        /// What was given.
        text: String,
        /// What is wrong.
        why: &'static str,
    },
}

/// Command lines print errors: an [`Error`] becomes its message.
impl From<Error> for String {
    fn from(e: Error) -> String {
        e.to_string()
    }
}
