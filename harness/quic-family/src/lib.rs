//! The QUIC family layer: what Proton and Dark Tower share, so that a third protocol over QUIC
//! writes only its messages, endpoints and rules.
//!
//! Always (what a QUIC judge needs, with no scenario crate beneath it):
//! - [`capture`]: a capture read and decrypted into QUIC connections;
//! - [`verdict`]: the end of a QUIC family's `harness check` text verdict;
//! - [`QUIC_FLOOR`]: the least timing tolerance a QUIC judge allows in a run.
//!
//! With the `family` feature (what a plugin needs):
//! - [`QuicDatagrams`]: a datagram's link class and ladder label, read from its QUIC header alone
//!   (the payload is encrypted; units come from the harness's endpoint's events instead).
//! - [`QuicReport`]: a QUIC judge's report on a run (the violations of the judged side, and what
//!   the judge could not see), with the one way a damaged capture is noted.
//! - [`tolerance`]: the timing tolerance a QUIC judge allows (never below [`QUIC_FLOOR`]: QUIC
//!   timers are coarser than a datagram's scheduling).
//! - [`hooks`]: the family hooks both plugins answer alike, and their key-log handling;
//! - [`check`]: a QUIC family's part of `harness check`, written once;
//! - [`observe`]: the units and client verdict both families observe, and their interop cell.
#![forbid(unsafe_code)]

pub mod capture;
pub mod kit;
pub mod verdict;

#[cfg(feature = "family")]
pub mod check;
#[cfg(feature = "family")]
pub mod hooks;
#[cfg(feature = "family")]
pub mod observe;

#[cfg(feature = "family")]
mod family;
#[cfg(feature = "family")]
pub use family::*;

use handshake_check::Tolerance;

pub use capture::{read_capture, QuicCapture};
pub use verdict::write_verdict;

/// The least a QUIC family's judge allows in a scenario run: its timers fire on probe timeouts,
/// which a loaded machine stretches by tens of milliseconds.
pub const QUIC_FLOOR: Tolerance = Tolerance::from_ms(100);

/// The tolerance a QUIC judge allows for a run: the run's (real time), never below the QUIC floor;
/// in virtual time the floor.
pub fn tolerance(run: Option<Tolerance>) -> Tolerance {
    run.unwrap_or(QUIC_FLOOR).at_least(QUIC_FLOOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_never_goes_below_the_quic_floor() {
        assert_eq!(tolerance(None), QUIC_FLOOR);
        assert_eq!(
            tolerance(Some(Tolerance::DEFAULT)),
            QUIC_FLOOR.at_least(Tolerance::DEFAULT)
        );
        assert!(tolerance(Some(Tolerance::DEFAULT)) >= QUIC_FLOOR);
    }
}

/// What a QUIC family's `harness check` (or its judge) cannot use.
#[derive(Debug, thiserror::Error)]
pub enum QuicInputError {
    /// The bytes are not a capture.
    #[error("not a readable capture: {0}")]
    NotACapture(handshake_capture::CaptureError),
    /// The `--keylog` file cannot be read.
    #[error("--keylog {}: {source}", path.display())]
    KeyLog {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// `--profile` names a mutant.
    #[error("--profile: a mutant is a reference endpoint, not a profile to judge by")]
    MutantProfile,
    /// The family's own options (a profile it does not know, an address …).
    #[error("{0}")]
    Options(String),
}

/// A family's option checks speak in messages.
impl From<String> for QuicInputError {
    fn from(why: String) -> QuicInputError {
        QuicInputError::Options(why)
    }
}

/// Judges that speak in messages take it as its text.
impl From<QuicInputError> for String {
    fn from(e: QuicInputError) -> String {
        e.to_string()
    }
}
