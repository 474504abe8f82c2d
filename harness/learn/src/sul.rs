//! The system under learning: membership queries, and the cache that keeps their number down.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::lsharp::Limit;
use crate::mealy::{Mealy, Symbol};
use crate::tree::ObservationTree;

/// A membership query that could not be answered (the implementation crashed, timed out, or
/// answered inconsistently). It stops learning: a model learned from partial answers would be wrong.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[error("membership query failed: {message}")]
pub struct QueryError {
    message: String,
    stop: Option<Limit>,
}

impl QueryError {
    /// An error with a human-readable explanation.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            stop: None,
        }
    }

    /// Not an error of the system: the run must stop (its time is up, or the user interrupted
    /// it). Learning then returns the last hypothesis, stopped by `limit`.
    pub fn stopping(limit: Limit, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            stop: Some(limit),
        }
    }

    /// The limit that stops the run, for an error made by [`stopping`](Self::stopping).
    pub fn stop(&self) -> Option<Limit> {
        self.stop
    }

    /// The explanation.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A system under learning (SUL). One membership query resets the system, feeds it `word` and
/// returns one output per input. Answers must be deterministic: the same word always gives the
/// same outputs (the cache reports a contradiction as a [`QueryError`]).
pub trait Sul<I, O> {
    /// Resets the system, feeds `word`, and returns its outputs (exactly `word.len()` of them).
    fn query(&mut self, word: &[I]) -> Result<Vec<O>, QueryError>;

    /// Answers several independent queries; the answers are in the order of `words`. The default
    /// asks them one after another; an implementation that can run several systems at once
    /// (the harness starts several implementation processes) overrides it to run them concurrently.
    fn query_batch(&mut self, words: &[Vec<I>]) -> Result<Vec<Vec<O>>, QueryError> {
        words.iter().map(|word| self.query(word)).collect()
    }
}

impl<I, O, S: Sul<I, O> + ?Sized> Sul<I, O> for &mut S {
    fn query(&mut self, word: &[I]) -> Result<Vec<O>, QueryError> {
        (**self).query(word)
    }

    fn query_batch(&mut self, words: &[Vec<I>]) -> Result<Vec<Vec<O>>, QueryError> {
        (**self).query_batch(words)
    }
}

impl<I, O, S: Sul<I, O> + ?Sized> Sul<I, O> for Box<S> {
    fn query(&mut self, word: &[I]) -> Result<Vec<O>, QueryError> {
        (**self).query(word)
    }

    fn query_batch(&mut self, words: &[Vec<I>]) -> Result<Vec<Vec<O>>, QueryError> {
        (**self).query_batch(words)
    }
}

/// A known machine answers queries by simulation: how tests learn a machine, and how the harness
/// can check an oracle or a learned model against a reference.
impl<I: Symbol, O: Symbol> Sul<I, O> for Mealy<I, O> {
    fn query(&mut self, word: &[I]) -> Result<Vec<O>, QueryError> {
        let outputs = self.run(word);
        match word.get(outputs.len()) {
            None => Ok(outputs),
            Some(unknown) => Err(QueryError::new(format!(
                "input {unknown:?} is not in the machine's alphabet"
            ))),
        }
    }
}

/// What a [`CachedSul`] did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Queries passed on to the wrapped system (each one a reset plus a run).
    pub queries_sent: u64,
    /// Input symbols in those queries.
    pub symbols_sent: u64,
    /// Queries answered from the cache without asking the system.
    pub cache_hits: u64,
    /// Answers that contradicted an earlier one, whose query was asked again until an answer
    /// agreed (see [`CachedSul::with_retries`]): the system's non-determinism.
    pub contradictions: u64,
}

/// How many queries and symbols a [`CachedSul`] may send before it refuses: how a run against a
/// slow implementation is kept to a budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryBudget {
    /// At most this many queries sent.
    pub max_queries: u64,
    /// At most this many symbols sent.
    pub max_symbols: u64,
}

impl Default for QueryBudget {
    /// No budget.
    fn default() -> Self {
        Self {
            max_queries: u64::MAX,
            max_symbols: u64::MAX,
        }
    }
}

/// A prefix-closed cache in front of a system: every answer is stored in an observation tree,
/// and a query whose word is a prefix of an earlier one (or equal to it) is answered from there.
/// It also counts what was sent, enforces a [`QueryBudget`], and turns inconsistent answers
/// (different outputs for the same prefix) into errors instead of a silently wrong model.
#[derive(Debug)]
pub struct CachedSul<I, O, S> {
    inner: S,
    tree: ObservationTree<I, O>,
    stats: CacheStats,
    budget: QueryBudget,
    exhausted: Option<Limit>,
    retries: u32,
    /// Words whose answers still contradicted an earlier one after every retry, with the
    /// earlier answer (kept) and the last one.
    nondeterministic: Vec<Answered<I, O>>,
}

/// A word, the answer kept for it, and one that contradicted it.
pub type Answered<I, O> = (Vec<I>, Vec<O>, Vec<O>);

impl<I: Symbol, O: Symbol, S: Sul<I, O>> CachedSul<I, O, S> {
    /// A cache in front of `inner`, empty and without a budget.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            tree: ObservationTree::new(),
            stats: CacheStats::default(),
            retries: 0,
            nondeterministic: Vec::new(),
            budget: QueryBudget::default(),
            exhausted: None,
        }
    }

    /// The same cache asking a query again, at most `retries` times, when its answer contradicts
    /// an earlier one (a system over a real network: a late answer looks like none); the first
    /// answer that agrees is kept and the contradiction counted. With none agreeing the earlier
    /// answer stands (the later one's outputs after the contradiction are taken as if it had
    /// been given) and the word is listed ([`nondeterministic`](Self::nondeterministic)): the
    /// system races. Without retries a contradiction is an error.
    pub fn with_retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The same cache with a budget on what it sends.
    pub fn with_budget(mut self, budget: QueryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// The words whose answers kept contradicting an earlier one (see
    /// [`with_retries`](Self::with_retries)).
    pub fn nondeterministic(&self) -> &[Answered<I, O>] {
        &self.nondeterministic
    }

    /// Counters so far.
    pub fn stats(&self) -> CacheStats {
        self.stats
    }

    /// Everything observed so far.
    pub fn tree(&self) -> &ObservationTree<I, O> {
        &self.tree
    }

    /// Which budget refused a query, if one did.
    pub fn budget_exhausted(&self) -> Option<Limit> {
        self.exhausted
    }

    /// The wrapped system.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Gives back the wrapped system.
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The answer to `word` if the cache implies it.
    pub fn cached(&self, word: &[I]) -> Option<Vec<O>> {
        self.tree.outputs(word)
    }

    /// Refuses (and remembers why) if sending `queries` more queries with `symbols` more symbols
    /// would overrun the budget.
    fn charge(&mut self, queries: u64, symbols: u64) -> Result<(), QueryError> {
        let over_queries =
            self.stats.queries_sent.saturating_add(queries) > self.budget.max_queries;
        let over_symbols =
            self.stats.symbols_sent.saturating_add(symbols) > self.budget.max_symbols;
        let limit = match (over_queries, over_symbols) {
            (true, _) => Limit::Queries,
            (false, true) => Limit::Symbols,
            (false, false) => {
                self.stats.queries_sent += queries;
                self.stats.symbols_sent += symbols;
                return Ok(());
            }
        };
        self.exhausted = Some(limit);
        Err(QueryError::new(format!("the {limit} budget is exhausted")))
    }

    /// Stores one answer; one that contradicts an earlier answer is asked again (at most
    /// `retries` times) until one agrees.
    fn record(&mut self, word: &[I], outputs: &[O]) -> Result<(), QueryError> {
        let mut error = match self.record_once(word, outputs) {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let mut last = outputs.to_vec();
        for _ in 0..self.retries {
            self.charge(1, word.len() as u64)?;
            let again = self.inner.query(word)?;
            match self.record_once(word, &again) {
                Ok(()) => {
                    self.stats.contradictions += 1;
                    return Ok(());
                }
                Err(e) => {
                    error = e;
                    last = again;
                }
            }
        }
        if self.retries == 0 {
            return Err(error);
        }
        self.keep_racing(word, last)
    }

    /// `word` kept answering against an earlier answer (`last` its last answer): it races. The
    /// earlier answer stands for the prefix it covers, the last for the rest; both are listed.
    fn keep_racing(&mut self, word: &[I], last: Vec<O>) -> Result<(), QueryError> {
        let known = (1..=word.len())
            .rev()
            .find_map(|n| word.get(..n).and_then(|p| self.tree.outputs(p)))
            .unwrap_or_default();
        let mut kept = known.clone();
        kept.extend(last.iter().skip(known.len()).cloned());
        self.stats.contradictions += 1;
        self.nondeterministic
            .push((word.to_vec(), kept.clone(), last));
        self.record_once(word, &kept)
    }

    /// Stores one answer, checking it is complete and consistent with earlier answers.
    fn record_once(&mut self, word: &[I], outputs: &[O]) -> Result<(), QueryError> {
        if outputs.len() != word.len() {
            return Err(QueryError::new(format!(
                "the system gave {} outputs for the {} inputs of {word:?}",
                outputs.len(),
                word.len()
            )));
        }
        self.tree
            .insert(word, outputs)
            .map(|_| ())
            .map_err(|contradiction| {
                let prefix = word.get(..=contradiction.position).unwrap_or(word);
                QueryError::new(format!(
                    "the system is not deterministic: {prefix:?} gave {:?}, earlier {:?}",
                    outputs.get(..=contradiction.position).unwrap_or(outputs),
                    self.tree.outputs(prefix)
                ))
            })
    }
}

impl<I: Symbol, O: Symbol, S: Sul<I, O>> Sul<I, O> for CachedSul<I, O, S> {
    fn query(&mut self, word: &[I]) -> Result<Vec<O>, QueryError> {
        if let Some(outputs) = self.tree.outputs(word) {
            self.stats.cache_hits += 1;
            return Ok(outputs);
        }
        self.charge(1, word.len() as u64)?;
        let outputs = self.inner.query(word)?;
        self.record(word, &outputs)?;
        // What was kept: a retried answer when the first contradicted the tree.
        Ok(self.tree.outputs(word).unwrap_or(outputs))
    }

    /// Sends only the words the cache cannot answer, and of those only the ones that are not a
    /// prefix of another word in the batch (a duplicate or a prefix is answered by the longer
    /// word), then answers the whole batch from the tree.
    fn query_batch(&mut self, words: &[Vec<I>]) -> Result<Vec<Vec<O>>, QueryError> {
        let mut unanswered: Vec<&Vec<I>> = words
            .iter()
            .filter(|word| {
                self.tree
                    .node_after(ObservationTree::<I, O>::ROOT, word)
                    .is_none()
            })
            .collect();
        unanswered.sort_by_key(|word| std::cmp::Reverse(word.len()));
        let mut covered: BTreeSet<&[I]> = BTreeSet::new();
        let mut to_send: Vec<Vec<I>> = Vec::new();
        for word in unanswered {
            if covered.contains(word.as_slice()) {
                continue;
            }
            covered.extend((1..=word.len()).filter_map(|length| word.get(..length)));
            to_send.push(word.clone());
        }
        if !to_send.is_empty() {
            let symbols = to_send.iter().map(|word| word.len() as u64).sum();
            self.charge(to_send.len() as u64, symbols)?;
            let answers = self.inner.query_batch(&to_send)?;
            if answers.len() != to_send.len() {
                return Err(QueryError::new(format!(
                    "the system gave {} answers to a batch of {} queries",
                    answers.len(),
                    to_send.len()
                )));
            }
            // Answers that contradict earlier ones are asked again together, as a batch.
            let mut contradicting = Vec::new();
            for (word, outputs) in to_send.iter().zip(answers) {
                if let Err(error) = self.record_once(word, &outputs) {
                    if self.retries == 0 {
                        return Err(error);
                    }
                    contradicting.push((word.clone(), outputs));
                }
            }
            for _ in 0..self.retries {
                if contradicting.is_empty() {
                    break;
                }
                let again: Vec<Vec<I>> = contradicting.iter().map(|(w, _)| w.clone()).collect();
                let symbols = again.iter().map(|word| word.len() as u64).sum();
                self.charge(again.len() as u64, symbols)?;
                let answers = self.inner.query_batch(&again)?;
                let mut still = Vec::new();
                for (word, outputs) in again.into_iter().zip(answers) {
                    if self.record_once(&word, &outputs).is_ok() {
                        self.stats.contradictions += 1;
                    } else {
                        still.push((word, outputs));
                    }
                }
                contradicting = still;
            }
            for (word, last) in contradicting {
                self.keep_racing(&word, last)?;
            }
        }
        self.stats.cache_hits += (words.len() - to_send.len()) as u64;
        words
            .iter()
            .map(|word| {
                self.tree
                    .outputs(word)
                    .ok_or_else(|| QueryError::new(format!("the batch left {word:?} unanswered")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echoes the running count of `a`s; counts the queries it really answered.
    struct Counter {
        answered: usize,
    }

    impl Sul<char, usize> for Counter {
        fn query(&mut self, word: &[char]) -> Result<Vec<usize>, QueryError> {
            self.answered += 1;
            let mut seen = 0;
            Ok(word
                .iter()
                .map(|&c| {
                    seen += usize::from(c == 'a');
                    seen
                })
                .collect())
        }
    }

    #[test]
    fn prefixes_and_repeats_are_answered_from_the_cache() {
        let mut cache = CachedSul::new(Counter { answered: 0 });
        assert_eq!(cache.query(&['a', 'b', 'a']), Ok(vec![1, 1, 2]));
        assert_eq!(cache.query(&['a', 'b']), Ok(vec![1, 1]));
        assert_eq!(cache.query(&['a', 'b', 'a']), Ok(vec![1, 1, 2]));
        assert_eq!(cache.query(&[]), Ok(vec![]));
        assert_eq!(cache.inner_mut().answered, 1);
        let stats = cache.stats();
        assert_eq!(
            (stats.queries_sent, stats.symbols_sent, stats.cache_hits),
            (1, 3, 3)
        );
    }

    #[test]
    fn a_batch_sends_only_maximal_unanswered_words() {
        let mut cache = CachedSul::new(Counter { answered: 0 });
        cache.query(&['b', 'b']).expect("query");
        let batch = vec![
            vec!['a'],
            vec!['a', 'a'],
            vec!['b'],
            vec!['a', 'a'],
            vec!['a', 'b'],
        ];
        let answers = cache.query_batch(&batch).expect("batch");
        assert_eq!(
            answers,
            vec![vec![1], vec![1, 2], vec![0], vec![1, 2], vec![1, 1]]
        );
        // Sent: "bb", then "aa" and "ab" ("a" is a prefix of both, "b" was cached).
        assert_eq!(cache.inner_mut().answered, 3);
        assert_eq!(cache.stats().queries_sent, 3);
    }

    #[test]
    fn the_budget_refuses_and_says_which_limit() {
        let mut cache = CachedSul::new(Counter { answered: 0 }).with_budget(QueryBudget {
            max_queries: 2,
            max_symbols: 100,
        });
        cache.query(&['a']).expect("first");
        cache.query(&['b']).expect("second");
        assert_eq!(cache.budget_exhausted(), None);
        assert!(cache.query(&['a', 'a']).is_err());
        assert_eq!(cache.budget_exhausted(), Some(Limit::Queries));
        assert_eq!(cache.query(&['a']), Ok(vec![1]), "cached answers stay free");
    }

    /// Answers differently every time: not a deterministic system.
    struct Flaky {
        calls: usize,
    }

    impl Sul<char, usize> for Flaky {
        fn query(&mut self, word: &[char]) -> Result<Vec<usize>, QueryError> {
            self.calls += 1;
            Ok(vec![self.calls; word.len()])
        }
    }

    #[test]
    fn contradictions_and_short_answers_are_errors() {
        let mut cache = CachedSul::new(Flaky { calls: 0 });
        cache.query(&['a']).expect("first");
        let error = cache.query(&['a', 'b']).expect_err("contradiction");
        assert!(error.message().contains("not deterministic"), "{error}");

        struct Short;
        impl Sul<char, u8> for Short {
            fn query(&mut self, _: &[char]) -> Result<Vec<u8>, QueryError> {
                Ok(vec![0])
            }
        }
        let mut short = CachedSul::new(Short);
        assert!(short.query(&['a', 'b']).is_err());
    }

    #[test]
    fn a_machine_is_a_system() {
        let mut machine = Mealy::from_fn(vec!['a'], 1, |_, _| (0, 7u8)).expect("valid");
        assert_eq!(machine.query(&['a', 'a']), Ok(vec![7, 7]));
        assert!(machine.query(&['z']).is_err());
    }

    /// Answers `late` to its first query (the first output missing, as a late answer over a
    /// network looks), correctly after.
    struct LateOnce {
        asked: usize,
    }

    impl Sul<char, u8> for LateOnce {
        fn query(&mut self, word: &[char]) -> Result<Vec<u8>, QueryError> {
            self.asked += 1;
            Ok(word
                .iter()
                .enumerate()
                .map(|(i, _)| u8::from(!(self.asked == 2 && i == 0)))
                .collect())
        }
    }

    #[test]
    fn a_contradiction_is_asked_again_and_counted() {
        let mut cached = CachedSul::new(LateOnce { asked: 0 }).with_retries(2);
        assert_eq!(cached.query(&['a']), Ok(vec![1]));
        // The second ask contradicts the first; the third agrees.
        assert_eq!(cached.query(&['a', 'b']), Ok(vec![1, 1]));
        assert_eq!(cached.stats().contradictions, 1);
        let mut strict = CachedSul::new(LateOnce { asked: 0 });
        assert_eq!(strict.query(&['a']), Ok(vec![1]));
        assert!(strict.query(&['a', 'b']).is_err());
    }

    /// Counts its batches; answers as [`LateOnce`] does, query by query.
    struct Batches {
        late: LateOnce,
        batches: usize,
    }

    impl Sul<char, u8> for Batches {
        fn query(&mut self, word: &[char]) -> Result<Vec<u8>, QueryError> {
            self.late.query(word)
        }

        fn query_batch(&mut self, words: &[Vec<char>]) -> Result<Vec<Vec<u8>>, QueryError> {
            self.batches += 1;
            words.iter().map(|word| self.late.query(word)).collect()
        }
    }

    #[test]
    fn contradictions_in_a_batch_are_asked_again_as_a_batch() {
        let system = Batches {
            late: LateOnce { asked: 0 },
            batches: 0,
        };
        let mut cached = CachedSul::new(system).with_retries(2);
        assert_eq!(cached.query(&['a']), Ok(vec![1]));
        let words = vec![vec!['a', 'b'], vec!['b']];
        // `a b` is asked second and contradicts `a`; asked again, in a second batch, it agrees.
        assert_eq!(cached.query_batch(&words), Ok(vec![vec![1, 1], vec![1]]));
        assert_eq!(cached.stats().contradictions, 1);
        assert_eq!(cached.inner_mut().batches, 2);
    }
}
