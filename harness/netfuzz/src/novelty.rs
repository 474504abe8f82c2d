//! The state-novelty signal (AFLNet's state-transition coverage): the sequence of the kinds of
//! response an input provoked — `join_response`, `error(2)`, `stopped(1)`, `close` … — is its path
//! through the implementation's state machine, and an input is new when its path takes a step
//! from one kind to the next (or starts or ends with a kind) that no input took before. Repeats
//! of one kind in a row count once (a stream of 50 frames is one state). Whole paths were tried
//! first: every input that reordered two known steps was new, and the corpus grew by a third of
//! the inputs run.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

/// The transitions seen so far, each with how many runs took it.
#[derive(Debug, Default, Clone)]
pub struct Novelty {
    seen: BTreeMap<u64, Seen>,
}

/// A transition seen: its ends (named once, when first seen) and the runs that took it.
#[derive(Debug, Clone)]
struct Seen {
    from: String,
    to: String,
    runs: u64,
}

/// A campaign's state coverage (AFLNet's state and transition coverage, over the kinds of
/// response): what it reached, and how often.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// Kinds of response seen (the states).
    pub states: usize,
    /// Transitions seen, from one kind to the next (a path's start and end counted as `start`
    /// and `end`).
    pub transitions: usize,
    /// Transitions taken by one run only.
    pub taken_once: usize,
    /// The least taken transitions (at most [`RAREST_SHOWN`]), fewest runs first: where the
    /// search has barely been.
    pub rarest: Vec<(String, String, u64)>,
}

/// The rarest transitions a [`Coverage`] lists.
pub const RAREST_SHOWN: usize = 10;

/// Where a path starts and ends, as a kind.
const EDGE: &str = "";

/// The path of a sequence of response kinds (repeats in a row folded).
pub fn path_of<S: AsRef<str>>(kinds: &[S]) -> Vec<String> {
    let mut path: Vec<String> = Vec::new();
    for k in kinds {
        if path.last().map(String::as_str) != Some(k.as_ref()) {
            path.push(k.as_ref().to_owned());
        }
    }
    path
}

/// Calls `f` with each transition of the path of `kinds` (repeats in a row folded), its start and
/// end included, without copying it.
fn each_transition<S: AsRef<str>>(kinds: &[S], mut f: impl FnMut((&str, &str))) {
    let mut previous: Option<&str> = None;
    for kind in kinds.iter().map(AsRef::as_ref) {
        if previous == Some(kind) {
            continue;
        }
        f((previous.unwrap_or(EDGE), kind));
        previous = Some(kind);
    }
    f((previous.unwrap_or(EDGE), EDGE));
}

fn fingerprint(transition: (&str, &str)) -> u64 {
    // FNV-1a over the path: stable across runs and builds (std's hasher is not).
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    transition.hash(&mut h);
    h.finish()
}

impl Novelty {
    /// Records the transitions of the path of `kinds`; whether one was new.
    pub fn observe<S: AsRef<str>>(&mut self, kinds: &[S]) -> bool {
        let mut new = false;
        each_transition(kinds, |t| new |= self.take(t));
        new
    }

    /// The fingerprints of the transitions of the path of `kinds`, for [`fewest_runs`](Self::fewest_runs).
    pub fn transitions<S: AsRef<str>>(kinds: &[S]) -> Vec<u64> {
        let mut out = Vec::new();
        each_transition(kinds, |t| out.push(fingerprint(t)));
        out
    }

    /// How many runs took the least taken of `transitions` (fingerprints from
    /// [`transitions`](Self::transitions)); `None` when none of them was seen.
    pub fn fewest_runs(&self, transitions: &[u64]) -> Option<u64> {
        transitions
            .iter()
            .filter_map(|t| self.seen.get(t).map(|s| s.runs))
            .min()
    }

    /// Counts a run taking `transition`; whether it is new.
    fn take(&mut self, transition: (&str, &str)) -> bool {
        match self.seen.entry(fingerprint(transition)) {
            std::collections::btree_map::Entry::Occupied(mut e) => {
                e.get_mut().runs += 1;
                false
            }
            std::collections::btree_map::Entry::Vacant(e) => {
                let name = |k: &str, edge: &str| if k == EDGE { edge } else { k }.to_owned();
                e.insert(Seen {
                    from: name(transition.0, "start"),
                    to: name(transition.1, "end"),
                    runs: 1,
                });
                true
            }
        }
    }

    /// The state and transition coverage so far.
    pub fn coverage(&self) -> Coverage {
        let mut states = std::collections::BTreeSet::new();
        for s in self.seen.values() {
            for (kind, edge) in [(&s.from, "start"), (&s.to, "end")] {
                if kind != edge {
                    states.insert(kind.as_str());
                }
            }
        }
        let mut rarest: Vec<(String, String, u64)> = self
            .seen
            .values()
            .map(|s| (s.from.clone(), s.to.clone(), s.runs))
            .collect();
        rarest.sort_by(|a, b| a.2.cmp(&b.2).then_with(|| (&a.0, &a.1).cmp(&(&b.0, &b.1))));
        let taken_once = rarest.iter().filter(|t| t.2 == 1).count();
        rarest.truncate(RAREST_SHOWN);
        Coverage {
            states: states.len(),
            transitions: self.seen.len(),
            taken_once,
            rarest,
        }
    }

    /// Transitions seen.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none was seen.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The kinds of response of one run, written one after the other into one string (a string per
/// kind was a thirtieth of a search): what [`Novelty::observe`] takes, through [`kinds`](Self::kinds).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Kinds {
    text: String,
    ends: Vec<usize>,
}

impl Kinds {
    /// Appends `part` to the kind being written.
    pub fn push_str(&mut self, part: &str) {
        self.text.push_str(part);
    }

    /// Ends the kind being written (the next `push_str` starts another).
    pub fn end_kind(&mut self) {
        self.ends.push(self.text.len());
    }

    /// The kinds, in order.
    pub fn kinds(&self) -> Vec<&str> {
        let mut from = 0;
        self.ends
            .iter()
            .map(|&end| {
                let kind = self.text.get(from..end).unwrap_or_default();
                from = end;
                kind
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_fold_and_new_transitions_are_new() {
        let mut n = Novelty::default();
        assert!(n.observe(&["join_response", "frame", "frame", "frame"]));
        assert!(!n.observe(&["join_response", "frame"]));
        assert!(n.observe(&["join_response", "error(2)"]));
        // Starts with a frame, and a frame is followed by a join_response: new.
        assert!(n.observe(&["frame", "join_response"]));
        // Every transition known (a reordering of known steps is not new).
        assert!(!n.observe(&["frame", "join_response", "error(2)"]));
        // start→join_response, join_response→frame, frame→end, join_response→error(2),
        // error(2)→end, start→frame, frame→join_response, join_response→end.
        assert_eq!(n.len(), 8);
        assert_eq!(path_of(&["a", "a", "b", "a"]), vec!["a", "b", "a"]);
        // start→join_response (5 runs), join_response→error(2) (2), error(2)→end (2).
        let rare = Novelty::transitions(&["join_response", "error(2)"]);
        assert_eq!(rare.len(), 3);
        assert_eq!(n.fewest_runs(&rare), Some(2));
        assert_eq!(n.fewest_runs(&Novelty::transitions(&["unseen"])), None);
        let c = n.coverage();
        assert_eq!((c.states, c.transitions), (3, 8));
        // Only join_response→end was taken by one run; start→join_response by three.
        assert_eq!(c.taken_once, 1);
        let first = c.rarest.first().map(|t| (t.0.as_str(), t.1.as_str(), t.2));
        assert_eq!(first, Some(("join_response", "end", 1)));
        let runs = |from: &str, to: &str| {
            c.rarest
                .iter()
                .find(|t| t.0 == from && t.1 == to)
                .map(|t| t.2)
        };
        assert_eq!(runs("start", "join_response"), Some(3));
        assert_eq!(runs("error(2)", "end"), Some(2));
    }
}
