//! Cells of families whose client ends with a verdict (Proton, Dark Tower): a cell's path is `ok`
//! (the client completed) or `failed` (with why). The family says how it reads the verdict
//! ([`InteropFamily::seen_pair`](crate::InteropFamily::seen_pair)) and what `ok` means (the text
//! [`CellSeen::ok`] is given); the cell keys, their comparison and their presentation are these.

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
    /// What a completed cell says it did (the family's words).
    #[serde(skip)]
    pub done: &'static str,
}

impl CellSeen {
    /// A client that completed, having done `done` (`every answer right, closed with 0`).
    pub fn ok(done: &'static str) -> CellSeen {
        CellSeen {
            path: "ok".into(),
            failure: None,
            done,
        }
    }

    /// From how the reference client of a pair run ended.
    pub fn of_client(end: ClientEnd<'_>, done: &'static str) -> CellSeen {
        use crate::CellSeen as _;
        match end {
            ClientEnd::Absent => CellSeen::failed("no client"),
            ClientEnd::Unfinished => CellSeen::failed("the client did not finish"),
            ClientEnd::Done => CellSeen::ok(done),
            ClientEnd::Failed(why) => CellSeen::failed(why),
        }
    }

    /// From an outcome: completed (having done `done`), or the reasons it did not.
    pub fn of(ok: bool, reasons: &[String], done: &'static str) -> CellSeen {
        if ok {
            CellSeen::ok(done)
        } else {
            <CellSeen as crate::CellSeen>::failed(&reasons.join("; "))
        }
    }
}

/// How the reference client of a pair run ended, as its cell reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEnd<'a> {
    /// No client stood in the cell.
    Absent,
    /// It did not finish.
    Unfinished,
    /// It did what the scenario asked.
    Done,
    /// It failed, and why.
    Failed(&'a str),
}

impl crate::CellSeen for CellSeen {
    fn failed(why: &str) -> CellSeen {
        CellSeen {
            path: "failed".into(),
            failure: Some(why.to_owned()),
            done: "",
        }
    }
    fn path(&self) -> String {
        self.path.clone()
    }
    /// Why it failed, or what it did.
    fn summary(&self) -> String {
        self.failure.clone().unwrap_or_else(|| self.done.to_owned())
    }
    fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }
}

impl crate::CellExpect<CellSeen> for CellExpect {
    fn short(&self) -> String {
        self.path.clone()
    }
    fn long(&self) -> String {
        match &self.failure_contains {
            Some(f) => format!("{} · failure containing “{f}”", self.path),
            None => self.path.clone(),
        }
    }
    fn mismatch(&self, seen: &CellSeen, failure_text: bool) -> Vec<String> {
        let mut m = Vec::new();
        if self.path != seen.path {
            m.push(format!("{}, expected {}", seen.path, self.path));
        }
        if let (true, Some(want), Some(got)) = (failure_text, &self.failure_contains, &seen.failure)
        {
            if !got.contains(want.as_str()) {
                m.push(format!("failure `{got}`, expected it to contain `{want}`"));
            }
        }
        m
    }
}
