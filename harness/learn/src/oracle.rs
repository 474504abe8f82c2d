//! Equivalence oracles: approximations of "is the hypothesis the system?" by testing.
//!
//! A black-box system cannot be compared exactly, so each oracle runs a finite test suite on the
//! system (through the learner's cache, which counts and stores every answer) and returns the
//! shortest failing prefix of the first failing test.

use std::collections::BTreeSet;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::mealy::{Mealy, Symbol};
use crate::sul::{QueryError, Sul};

/// How many tests an oracle sends to the system in one [`Sul::query_batch`] by default: enough
/// for a harness to keep a few implementation processes busy, few enough not to waste many tests
/// after the first failure.
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// Looks for a word on which the system and the hypothesis disagree.
pub trait EquivalenceOracle<I, O> {
    /// A counterexample (a word whose outputs on `sul` differ from the hypothesis'), or `None`
    /// when the oracle's tests all pass.
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        sul: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError>;
}

/// Runs `words` on `sul` in batches of `batch_size` and returns the first one the hypothesis
/// gets wrong, cut just after its first wrong output (a shorter counterexample is cheaper to
/// process). Words are cut before their first symbol outside the hypothesis' alphabet, because
/// the learner only knows that alphabet; empty words are skipped.
pub fn first_counterexample<I: Symbol, O: Symbol>(
    hypothesis: &Mealy<I, O>,
    sul: &mut dyn Sul<I, O>,
    words: impl IntoIterator<Item = Vec<I>>,
    batch_size: usize,
) -> Result<Option<Vec<I>>, QueryError> {
    let mut words = words.into_iter().filter_map(|mut word| {
        let known = word
            .iter()
            .position(|input| hypothesis.input_position(input).is_none())
            .unwrap_or(word.len());
        word.truncate(known);
        (!word.is_empty()).then_some(word)
    });
    loop {
        let batch: Vec<Vec<I>> = words.by_ref().take(batch_size.max(1)).collect();
        if batch.is_empty() {
            return Ok(None);
        }
        let answers = sul.query_batch(&batch)?;
        for (word, answer) in batch.iter().zip(&answers) {
            let predicted = hypothesis.run(word);
            let first_difference = (0..word.len()).find(|&k| answer.get(k) != predicted.get(k));
            if let Some(position) = first_difference {
                return Ok(Some(word.iter().take(position + 1).cloned().collect()));
            }
        }
    }
}

/// Random tests: each walk goes to a uniformly chosen hypothesis state by its access word, then
/// feeds random inputs, the number of them geometrically distributed (mostly short walks, some
/// long ones that reach deep behaviour). Seeded, so a run is reproducible; the random stream
/// continues across rounds, so each round tests new words.
#[derive(Clone, Debug)]
pub struct RandomWalkOracle {
    rng: ChaCha8Rng,
    walks: usize,
    mean_length: usize,
    max_length: usize,
    batch_size: usize,
}

impl RandomWalkOracle {
    /// 1,000 walks of 10 random inputs on average (at most 100) per round.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            walks: 1_000,
            mean_length: 10,
            max_length: 100,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }

    /// The number of walks per round.
    pub fn with_walks(mut self, walks: usize) -> Self {
        self.walks = walks;
        self
    }

    /// The mean number of random inputs after the access word (at least 1).
    pub fn with_mean_length(mut self, mean_length: usize) -> Self {
        self.mean_length = mean_length.max(1);
        self
    }

    /// The most random inputs after the access word (at least 1).
    pub fn with_max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length.max(1);
        self
    }

    /// A uniform index below `bound` (`bound > 0`), by the multiply-shift method.
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.rng.next_u64()) * bound as u128) >> 64) as usize
    }

    /// True with probability `probability`.
    fn chance(&mut self, probability: f64) -> bool {
        let uniform = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        uniform < probability
    }

    fn walk<I: Symbol>(&mut self, access: &[Vec<I>], inputs: &[I]) -> Vec<I> {
        let mut word = access
            .get(self.below(access.len().max(1)))
            .cloned()
            .unwrap_or_default();
        // P(one more) = 1 - 1/mean gives a mean of `mean_length` inputs.
        let continue_probability = 1.0 - 1.0 / self.mean_length as f64;
        let mut length = 1;
        while length < self.max_length && self.chance(continue_probability) {
            length += 1;
        }
        for _ in 0..length {
            if let Some(input) = inputs.get(self.below(inputs.len())) {
                word.push(input.clone());
            }
        }
        word
    }
}

impl<I: Symbol, O: Symbol> EquivalenceOracle<I, O> for RandomWalkOracle {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        sul: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError> {
        if hypothesis.inputs().is_empty() {
            return Ok(None);
        }
        let access: Vec<Vec<I>> = hypothesis.access_words().into_iter().flatten().collect();
        let batch_size = self.batch_size;
        let mut remaining = self.walks;
        while remaining > 0 {
            let count = remaining.min(batch_size);
            remaining -= count;
            let words: Vec<Vec<I>> = (0..count)
                .map(|_| self.walk(&access, hypothesis.inputs()))
                .collect();
            if let Some(counterexample) = first_counterexample(hypothesis, sul, words, batch_size)?
            {
                return Ok(Some(counterexample));
            }
        }
        Ok(None)
    }
}

/// The Wp-method conformance test suite (Fujiwara et al.): complete for every system with at
/// most `extra_states` more states than the hypothesis (and the same alphabet). Each test is an
/// access word, then up to `extra_states` arbitrary inputs (to reach states the hypothesis does
/// not have), then words that identify the state reached (all separating words on access words,
/// the reached state's own identification words on the other transitions).
#[derive(Clone, Debug)]
pub struct WpOracle {
    extra_states: usize,
    max_tests: Option<usize>,
    batch_size: usize,
}

impl Default for WpOracle {
    /// One extra state, no cap on the suite.
    fn default() -> Self {
        Self {
            extra_states: 1,
            max_tests: None,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl WpOracle {
    /// A suite complete for systems with up to `extra_states` states more than the hypothesis.
    /// The suite grows as `|inputs|^extra_states`: 1 or 2 is the practical range.
    pub fn new(extra_states: usize) -> Self {
        Self {
            extra_states,
            ..Self::default()
        }
    }

    /// Runs at most `max_tests` tests per round (the shortest ones first), to bound a round
    /// against a slow system; the suite is then no longer complete.
    pub fn with_max_tests(mut self, max_tests: usize) -> Self {
        self.max_tests = Some(max_tests);
        self
    }
}

impl<I: Symbol, O: Symbol> EquivalenceOracle<I, O> for WpOracle {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        sul: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError> {
        let suite = wp_test_suite(hypothesis, self.extra_states);
        let limit = self.max_tests.unwrap_or(usize::MAX);
        first_counterexample(
            hypothesis,
            sul,
            suite.into_iter().take(limit),
            self.batch_size,
        )
    }
}

/// The Wp-method test suite of `hypothesis` for `extra_states` extra states, shortest middle
/// parts first (cheap tests, and the first failure is a short counterexample).
pub fn wp_test_suite<I: Symbol, O: Symbol>(
    hypothesis: &Mealy<I, O>,
    extra_states: usize,
) -> Vec<Vec<I>> {
    let inputs = hypothesis.inputs();
    let access = hypothesis.access_words();
    let identification = identification_sets(hypothesis);
    let singletons: BTreeSet<Vec<I>> = inputs.iter().map(|input| vec![input.clone()]).collect();
    // With no separating word at all (one state) the suffixes are single inputs, so every
    // transition is still exercised after each middle part.
    let suffixes_of = |state: usize| -> &BTreeSet<Vec<I>> {
        identification
            .get(state)
            .filter(|set| !set.is_empty())
            .unwrap_or(&singletons)
    };
    let characterisation: BTreeSet<Vec<I>> = identification.iter().flatten().cloned().collect();
    let global = if characterisation.is_empty() {
        &singletons
    } else {
        &characterisation
    };
    let state_cover: BTreeSet<&Vec<I>> = access.iter().flatten().collect();
    let mut suite = Vec::new();
    for middle in words_up_to(inputs, extra_states) {
        for prefix in &state_cover {
            for suffix in global {
                suite.push(concat(&[prefix, &middle, suffix]));
            }
        }
        for prefix in &state_cover {
            for input in inputs {
                let mut transition = (*prefix).clone();
                transition.push(input.clone());
                if state_cover.contains(&transition) {
                    continue;
                }
                let test = concat(&[&transition, &middle]);
                let Some(reached) = hypothesis.state_after(&test) else {
                    continue;
                };
                for suffix in suffixes_of(reached) {
                    suite.push(concat(&[&test, suffix]));
                }
            }
        }
    }
    suite
}

/// Every word of length 0 to `max_length`, by length then alphabet order.
fn words_up_to<I: Clone>(inputs: &[I], max_length: usize) -> Vec<Vec<I>> {
    let mut all = vec![Vec::new()];
    let mut layer = vec![Vec::new()];
    for _ in 0..max_length {
        layer = layer
            .iter()
            .flat_map(|word: &Vec<I>| {
                inputs.iter().map(move |input| {
                    let mut longer = word.clone();
                    longer.push(input.clone());
                    longer
                })
            })
            .collect();
        all.extend(layer.iter().cloned());
    }
    all
}

fn concat<I: Clone>(parts: &[&Vec<I>]) -> Vec<I> {
    parts.iter().flat_map(|part| part.iter().cloned()).collect()
}

/// For every state, shortest words separating it from every other state it is not equivalent to.
pub fn identification_sets<I: Symbol, O: Symbol>(machine: &Mealy<I, O>) -> Vec<BTreeSet<Vec<I>>> {
    let separating = separating_words(machine);
    let count = machine.state_count();
    let mut sets = vec![BTreeSet::new(); count];
    for first in 0..count {
        for second in (first + 1)..count {
            if let Some(word) = separating.get(first * count + second).cloned().flatten() {
                if let Some(set) = sets.get_mut(first) {
                    set.insert(word.clone());
                }
                if let Some(set) = sets.get_mut(second) {
                    set.insert(word);
                }
            }
        }
    }
    sets
}

/// A shortest separating word for every pair of states (`[p * n + q]`, symmetric, `None` for
/// equivalent states), by rounds: pairs separated by one input, then pairs whose successors on
/// some input were separated in the previous round, and so on.
fn separating_words<I: Symbol, O: Symbol>(machine: &Mealy<I, O>) -> Vec<Option<Vec<I>>> {
    let count = machine.state_count();
    let width = machine.inputs().len();
    let mut words: Vec<Option<Vec<I>>> = vec![None; count * count];
    let mut newly = Vec::new();
    for (p, q) in (0..count).flat_map(|p| ((p + 1)..count).map(move |q| (p, q))) {
        let differing = (0..width).find(|&position| {
            let left = machine.step_at(p, position).map(|(_, output)| output);
            left != machine.step_at(q, position).map(|(_, output)| output)
        });
        if let Some(input) = differing.and_then(|position| machine.inputs().get(position)) {
            newly.push((p, q, vec![input.clone()]));
        }
    }
    while !newly.is_empty() {
        for (p, q, word) in newly.drain(..) {
            if let Some(slot) = words.get_mut(p * count + q) {
                *slot = Some(word.clone());
            }
            if let Some(slot) = words.get_mut(q * count + p) {
                *slot = Some(word);
            }
        }
        for (p, q) in (0..count).flat_map(|p| ((p + 1)..count).map(move |q| (p, q))) {
            if words.get(p * count + q).is_some_and(Option::is_some) {
                continue;
            }
            let extension = machine
                .inputs()
                .iter()
                .enumerate()
                .find_map(|(position, input)| {
                    let (p_next, _) = machine.step_at(p, position)?;
                    let (q_next, _) = machine.step_at(q, position)?;
                    let tail = words.get(p_next * count + q_next)?.as_ref()?;
                    let mut word = vec![input.clone()];
                    word.extend(tail.iter().cloned());
                    Some(word)
                });
            if let Some(word) = extension {
                newly.push((p, q, word));
            }
        }
    }
    words
}

/// Tries a fixed list of words first: the harness's scenario library, which encodes the
/// behaviour the protocol's authors thought worth checking, is a cheap and pointed test suite.
#[derive(Clone, Debug)]
pub struct SeededOracle<I> {
    words: Vec<Vec<I>>,
    batch_size: usize,
}

impl<I: Symbol> SeededOracle<I> {
    /// An oracle running `words` (in order) every round; answers are cached, so only the first
    /// round really sends them.
    pub fn new(words: Vec<Vec<I>>) -> Self {
        Self {
            words,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl<I: Symbol, O: Symbol> EquivalenceOracle<I, O> for SeededOracle<I> {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        sul: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError> {
        first_counterexample(hypothesis, sul, self.words.iter().cloned(), self.batch_size)
    }
}

/// Tests the hypothesis on the shortest words where it answers otherwise than a reference model
/// (at most `max`, one per pair of states where the two first part): before a difference from
/// the reference is reported, the system has answered it. A hypothesis that merged two states
/// the reference tells apart, because no test reached the word that tells them apart, is caught
/// here, with a handful of queries, where random walks and a bounded suite may miss it.
#[derive(Clone, Debug)]
pub struct DifferenceOracle<I, O> {
    reference: Mealy<I, O>,
    max: usize,
    batch_size: usize,
}

impl<I: Symbol, O: Symbol> DifferenceOracle<I, O> {
    /// An oracle testing at most `max` differences from `reference` each round.
    pub fn new(reference: Mealy<I, O>, max: usize) -> Self {
        Self {
            reference,
            max,
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl<I: Symbol, O: Symbol> EquivalenceOracle<I, O> for DifferenceOracle<I, O> {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        sul: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError> {
        let words = crate::compare::differences(hypothesis, &self.reference, self.max);
        first_counterexample(hypothesis, sul, words, self.batch_size)
    }
}

/// Several oracles tried in order until one finds a counterexample: cheap, pointed tests first
/// (seeded words, random walks), the expensive systematic suite last.
pub struct ChainOracle<'a, I, O> {
    oracles: Vec<Box<dyn EquivalenceOracle<I, O> + 'a>>,
}

impl<'a, I, O> Default for ChainOracle<'a, I, O> {
    fn default() -> Self {
        Self {
            oracles: Vec::new(),
        }
    }
}

impl<'a, I, O> ChainOracle<'a, I, O> {
    /// An empty chain (it finds nothing until oracles are added).
    pub fn new() -> Self {
        Self::default()
    }

    /// A chain of already boxed oracles, tried in the order given.
    pub fn from_oracles(oracles: Vec<Box<dyn EquivalenceOracle<I, O> + 'a>>) -> Self {
        Self { oracles }
    }

    /// The chain with `oracle` tried after the ones already in it.
    pub fn then(mut self, oracle: impl EquivalenceOracle<I, O> + 'a) -> Self {
        self.oracles.push(Box::new(oracle));
        self
    }
}

impl<I, O> EquivalenceOracle<I, O> for ChainOracle<'_, I, O> {
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        sul: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError> {
        for oracle in &mut self.oracles {
            if let Some(counterexample) = oracle.find_counterexample(hypothesis, sul)? {
                return Ok(Some(counterexample));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A counter modulo `modulus` on `i`, reporting whether it wrapped to 0; `r` resets.
    fn counter(modulus: usize) -> Mealy<char, bool> {
        Mealy::from_fn(vec!['i', 'r'], modulus, |state, input| match input {
            'i' => ((state + 1) % modulus, (state + 1) % modulus == 0),
            _ => (0, false),
        })
        .expect("valid")
    }

    #[test]
    fn wp_finds_one_extra_state_and_passes_the_truth() {
        let mut truth = counter(4);
        let wrong = counter(3);
        let found = WpOracle::new(1)
            .find_counterexample(&wrong, &mut truth)
            .expect("machines answer");
        let word = found.expect("a 4-counter has one state more than a 3-counter");
        assert_ne!(truth.run(&word), wrong.run(&word));
        let right = counter(4);
        assert_eq!(
            WpOracle::new(2).find_counterexample(&right, &mut truth),
            Ok(None)
        );
    }

    #[test]
    fn the_suite_grows_with_extra_states() {
        let machine = counter(3);
        let small = wp_test_suite(&machine, 0);
        let large = wp_test_suite(&machine, 1);
        assert!(small.len() < large.len());
        assert!(small.iter().all(|word| large.contains(word)));
    }

    #[test]
    fn separating_words_are_shortest() {
        let machine = counter(4);
        let sets = identification_sets(&machine);
        // State 3 is told from 0 by one `i` (it wraps); states 0 and 1 need `ii i`-style words.
        assert!(sets.get(3).is_some_and(|set| set.contains(&vec!['i'])));
        let longest = sets.iter().flatten().map(Vec::len).max();
        assert_eq!(longest, Some(3));
    }

    #[test]
    fn random_walks_are_reproducible_and_find_differences() {
        let mut truth = counter(4);
        let wrong = counter(3);
        let first = RandomWalkOracle::new(7).find_counterexample(&wrong, &mut truth);
        let second = RandomWalkOracle::new(7).find_counterexample(&wrong, &mut truth);
        assert_eq!(first, second);
        let word = first.expect("answers").expect("a difference");
        assert_ne!(truth.run(&word), wrong.run(&word));
    }

    #[test]
    fn seeded_words_and_chains() {
        let mut truth = counter(4);
        let wrong = counter(3);
        let mut seeded = SeededOracle::new(vec![vec!['i', 'r'], vec!['i', 'i', 'i', 'r', 'z']]);
        let found = seeded
            .find_counterexample(&wrong, &mut truth)
            .expect("answers");
        assert_eq!(
            found,
            Some(vec!['i', 'i', 'i']),
            "cut after the first wrong output"
        );
        let mut chain = ChainOracle::new()
            .then(SeededOracle::new(vec![vec!['r']]))
            .then(WpOracle::new(1));
        assert!(chain
            .find_counterexample(&wrong, &mut truth)
            .expect("answers")
            .is_some());
        let mut boxed = ChainOracle::from_oracles(vec![Box::new(WpOracle::new(1))]);
        assert!(boxed
            .find_counterexample(&wrong, &mut truth)
            .expect("answers")
            .is_some());
        let mut empty: ChainOracle<'_, char, bool> = ChainOracle::new();
        assert_eq!(empty.find_counterexample(&wrong, &mut truth), Ok(None));
    }

    #[test]
    fn differences_from_a_reference_are_asked_before_they_are_reported() {
        // The system is the reference; a hypothesis one state short differs from it somewhere,
        // and asking the system those words shows the hypothesis wrong there.
        let mut truth = counter(4);
        let wrong = counter(3);
        let mut oracle = DifferenceOracle::new(counter(4), 5);
        let word = oracle
            .find_counterexample(&wrong, &mut truth)
            .expect("answers")
            .expect("a difference the system does not confirm");
        assert_ne!(truth.run(&word), wrong.run(&word));
        // A system that really differs from the reference confirms every difference.
        let mut other = counter(3);
        assert_eq!(oracle.find_counterexample(&wrong, &mut other), Ok(None));
    }
}
