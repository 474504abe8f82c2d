//! The state-novelty signal (AFLNet): the sequence of the kinds of response an input provoked —
//! `join_response`, `error(2)`, `stopped(1)`, `close` … — is its path through the implementation's
//! state machine. Repeats of one kind in a row count once (a stream of 50 frames is one state),
//! so paths differ by what happened, not by how much.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};

/// The paths seen so far.
#[derive(Debug, Default, Clone)]
pub struct Novelty {
    seen: BTreeSet<u64>,
}

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

fn fingerprint(path: &[String]) -> u64 {
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
    path.hash(&mut h);
    h.finish()
}

impl Novelty {
    /// Records the path of `kinds`; whether it was new.
    pub fn observe<S: AsRef<str>>(&mut self, kinds: &[S]) -> bool {
        self.seen.insert(fingerprint(&path_of(kinds)))
    }

    /// Paths seen.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether none was seen.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_fold_and_new_paths_are_new() {
        let mut n = Novelty::default();
        assert!(n.observe(&["join_response", "frame", "frame", "frame"]));
        assert!(!n.observe(&["join_response", "frame"]));
        assert!(n.observe(&["join_response", "error(2)"]));
        assert!(n.observe(&["frame", "join_response"]));
        assert_eq!(n.len(), 3);
        assert_eq!(path_of(&["a", "a", "b", "a"]), vec!["a", "b", "a"]);
    }
}
