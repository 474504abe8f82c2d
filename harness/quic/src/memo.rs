//! Remembering the results of pure functions the QUIC runs repeat.

use std::sync::{Mutex, PoisonError};

/// A bounded memo of a pure function's results, the newest last: a fuzz campaign runs its inputs
/// under one seed, so a seed's handshake repeats run after run. A failure is never remembered.
pub(crate) struct Memo<K, V> {
    entries: Mutex<Vec<(K, V)>>,
    kept: usize,
}

impl<K: PartialEq, V: Clone> Memo<K, V> {
    pub(crate) const fn new(kept: usize) -> Self {
        Memo {
            entries: Mutex::new(Vec::new()),
            kept,
        }
    }

    /// The result for `key`: remembered, or `compute`d (without the lock held) and remembered,
    /// forgetting the oldest past `kept`.
    pub(crate) fn get_or_try<E>(
        &self,
        key: K,
        compute: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, E> {
        let lock = || self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, v)) = lock().iter().find(|(k, _)| *k == key) {
            return Ok(v.clone());
        }
        let value = compute()?;
        let mut entries = lock();
        if entries.len() >= self.kept {
            entries.remove(0);
        }
        entries.push((key, value.clone()));
        Ok(value)
    }
}

impl<K, V> std::fmt::Debug for Memo<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo")
            .field("kept", &self.kept)
            .finish_non_exhaustive()
    }
}
