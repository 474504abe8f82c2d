//! Cells of families whose client ends with a verdict (Proton, Dark Tower): a cell's path is `ok`
//! (the client completed) or `failed` (with why). The family says how it reads the verdict
//! ([`InteropFamily::seen_pair`](crate::InteropFamily::seen_pair)) and what `ok` means
//! ([`summary`]'s text); the cell keys, their comparison and their presentation are these.

use serde::Serialize;

/// The paths of a verdict cell.
pub const PATHS: &[&str] = &["ok", "failed"];

handshake_scenario::family_fields! {
    /// An expected cell.
    pub struct CellExpect {
        /// `ok` or `failed`.
        path: String = String::new(),
        /// Part of the client's failure text.
        failure_contains: Option<String> = None,
    }
}

/// What a cell showed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellSeen {
    /// `ok` or `failed`.
    pub path: String,
    /// Why it failed.
    pub failure: Option<String>,
}

impl CellSeen {
    /// A client that completed.
    pub fn ok() -> CellSeen {
        CellSeen {
            path: "ok".into(),
            failure: None,
        }
    }

    /// A client that failed, and why.
    pub fn failed(why: impl Into<String>) -> CellSeen {
        CellSeen {
            path: "failed".into(),
            failure: Some(why.into()),
        }
    }

    /// From an outcome: completed, or the reasons it did not.
    pub fn of(ok: bool, reasons: &[String]) -> CellSeen {
        if ok {
            CellSeen::ok()
        } else {
            CellSeen::failed(reasons.join("; "))
        }
    }
}

/// The cell's path.
pub fn path(seen: &CellSeen) -> String {
    seen.path.clone()
}

/// One line about a cell: why it failed, or `ok_text`.
pub fn summary(seen: &CellSeen, ok_text: &str) -> String {
    seen.failure.clone().unwrap_or_else(|| ok_text.to_owned())
}

/// The cell's facts for reports.
pub fn facts(seen: &CellSeen) -> Vec<(String, String)> {
    vec![("path".into(), seen.path.clone())]
}

/// Why the client failed.
pub fn failure(seen: &CellSeen) -> Option<&str> {
    seen.failure.as_deref()
}

/// The expected cell, short.
pub fn expect_short(e: &CellExpect) -> String {
    e.path.clone()
}

/// The expected cell, in full.
pub fn expect_long(e: &CellExpect) -> String {
    match &e.failure_contains {
        Some(f) => format!("{} · failure containing “{f}”", e.path),
        None => e.path.clone(),
    }
}

/// How a cell differs from what was expected (empty: as expected).
pub fn mismatch(e: &CellExpect, seen: &CellSeen, failure_text: bool) -> Vec<String> {
    let mut m = Vec::new();
    if e.path != seen.path {
        m.push(format!("{}, expected {}", seen.path, e.path));
    }
    if let (true, Some(want), Some(got)) = (failure_text, &e.failure_contains, &seen.failure) {
        if !got.contains(want.as_str()) {
            m.push(format!("failure `{got}`, expected it to contain `{want}`"));
        }
    }
    m
}

/// The standard trait items of a verdict-cell family, delegating to this module: use inside
/// `impl InteropFamily for F { … }` after the family's own `seen_pair`, `seen_external`,
/// `setup_facts` and `cell_expect`, giving the text a completed cell shows.
#[macro_export]
macro_rules! verdict_cells {
    ($ok_text:expr) => {
        type CellExpect = $crate::verdict::CellExpect;
        type CellSeen = $crate::verdict::CellSeen;
        const PATHS: &'static [&'static str] = $crate::verdict::PATHS;
        fn seen_failed(why: &str, _: &handshake_scenario::Scenario<Self>) -> Self::CellSeen {
            $crate::verdict::CellSeen::failed(why)
        }
        fn path(seen: &Self::CellSeen) -> String {
            $crate::verdict::path(seen)
        }
        fn value(seen: &Self::CellSeen) -> String {
            $crate::verdict::path(seen)
        }
        fn summary(seen: &Self::CellSeen) -> String {
            $crate::verdict::summary(seen, $ok_text)
        }
        fn detail(_: &Self::CellSeen) -> Option<String> {
            None
        }
        fn facts(seen: &Self::CellSeen) -> Vec<(String, String)> {
            $crate::verdict::facts(seen)
        }
        fn failure(seen: &Self::CellSeen) -> Option<&str> {
            $crate::verdict::failure(seen)
        }
        fn expect_short(e: &Self::CellExpect) -> String {
            $crate::verdict::expect_short(e)
        }
        fn expect_long(e: &Self::CellExpect) -> String {
            $crate::verdict::expect_long(e)
        }
        fn mismatch(
            e: &Self::CellExpect,
            seen: &Self::CellSeen,
            failure_text: bool,
        ) -> Vec<String> {
            $crate::verdict::mismatch(e, seen, failure_text)
        }
    };
}
