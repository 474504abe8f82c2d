//! How late (or early) a timed event may be and still count as in its window: one type for every
//! judge and every path to one (`harness check`, scenario runs, interop, mutants, fuzz).

use std::fmt;
use std::time::Duration;

/// A timing tolerance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tolerance(Duration);

impl Tolerance {
    /// What `harness check`, `run`, `interop` and `mutants` allow unless told otherwise
    /// (`--tolerance-ms`).
    pub const DEFAULT: Tolerance = Tolerance::from_ms(50);

    /// `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Tolerance {
        Tolerance(Duration::from_millis(ms))
    }

    /// As a duration.
    pub fn duration(self) -> Duration {
        self.0
    }

    /// In whole milliseconds (a tolerance is far below 2^64 ms).
    pub const fn ms(self) -> u64 {
        self.0.as_millis() as u64
    }

    /// In nanoseconds.
    pub fn ns(self) -> u64 {
        u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX)
    }

    /// This, or `floor` if that is wider.
    pub fn at_least(self, floor: Tolerance) -> Tolerance {
        self.max(floor)
    }
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance::DEFAULT
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ms", self.ms())
    }
}
