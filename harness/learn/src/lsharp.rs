//! The L# learner (Vaandrager, Garhewal, Rot, Wißmann, TACAS 2022).
//!
//! State: the observation tree (all answers so far), the *basis* (tree nodes known to be pairwise
//! different states: pairwise apart) and the *frontier* (the basis nodes' children outside the
//! basis), each frontier node with its *candidates* (the basis nodes it is not apart from).
//! Rules, highest priority first:
//! 1. promotion: a frontier node apart from every basis node is a new state: it joins the basis;
//! 2. extension: every basis node gets a child for every input (one query each);
//! 3. separation: a frontier node with two candidates `q`, `q'` is queried with a witness of
//!    `q # q'`, which makes it apart from at least one of them;
//! 4. equivalence: every frontier node has exactly one candidate, which defines a hypothesis;
//!    it is checked against the tree, then by the equivalence oracle, and a counterexample is
//!    reduced by binary search to a frontier node that is apart from its candidate.
//!
//! Apartness only ever grows and the basis never exceeds the system's number of states, so each
//! rule makes progress and the learner ends with a minimal, correct model (given an oracle that
//! finds differences).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use thiserror::Error;

use crate::mealy::{Mealy, Symbol};
use crate::oracle::EquivalenceOracle;
use crate::sul::{CacheStats, CachedSul, QueryBudget, QueryError, Sul};
use crate::tree::NodeId;

const ROOT: NodeId = 0;

/// Which bound stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`Limits::max_rounds`] hypotheses were built and the last one was still wrong.
    Rounds,
    /// [`Limits::max_queries`] queries were sent.
    Queries,
    /// [`Limits::max_symbols`] symbols were sent.
    Symbols,
    /// The model needs more than [`Limits::max_states`] states.
    States,
    /// The time for learning was up (the system said so: [`QueryError::stopping`]).
    Time,
    /// The user interrupted the run (the system said so: [`QueryError::stopping`]).
    Interrupted,
    /// What the caller looked for was found, and it wants no more (an oracle said so:
    /// [`QueryError::stopping`]; `harness learn --fail-fast` stops at its first violation).
    Found,
}

impl fmt::Display for Limit {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Rounds => "round",
            Self::Queries => "query",
            Self::Symbols => "symbol",
            Self::States => "state",
            Self::Time => "time",
            Self::Interrupted => "interruption",
            Self::Found => "finding",
        })
    }
}

/// Bounds that make every run end, even against a system whose state space is infinite (a
/// counter without bound) or an oracle that keeps finding counterexamples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// At most this many hypotheses are built.
    pub max_rounds: usize,
    /// At most this many queries are sent to the system (learning and testing together).
    pub max_queries: u64,
    /// At most this many input symbols are sent to the system.
    pub max_symbols: u64,
    /// At most this many states in the model.
    pub max_states: usize,
    /// How many times a query whose answer contradicts an earlier one is asked again before the
    /// contradiction stops learning ([`CachedSul::with_retries`]).
    pub retries: u32,
}

impl Default for Limits {
    /// Generous bounds: far beyond a protocol model the harness would learn, low enough to end.
    fn default() -> Self {
        Self {
            max_rounds: 1_000,
            max_queries: 10_000_000,
            max_symbols: 1_000_000_000,
            max_states: 1_000,
            retries: 0,
        }
    }
}

/// What a run cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LearnStats {
    /// Hypotheses built.
    pub rounds: usize,
    /// Calls to the equivalence oracle.
    pub equivalence_queries: usize,
    /// Counterexamples processed (from the oracle, or found in the tree itself).
    pub counterexamples: usize,
    /// Membership queries the learner sent to the system (not counting the oracle's tests).
    pub membership_queries: u64,
    /// Symbols in those queries.
    pub membership_symbols: u64,
    /// Queries the equivalence oracle sent to the system.
    pub test_queries: u64,
    /// Symbols in those queries.
    pub test_symbols: u64,
    /// Queries answered by the cache.
    pub cache_hits: u64,
    /// Nodes of the observation tree at the end.
    pub tree_nodes: usize,
    /// Answers that contradicted an earlier one and were asked again until one agreed.
    pub contradictions: u64,
}

/// The result of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Learned<I, O> {
    /// The final hypothesis: the model, if `stopped_by` is `None`; otherwise the last hypothesis
    /// built, known or suspected to be incomplete.
    pub hypothesis: Mealy<I, O>,
    /// What it cost.
    pub stats: LearnStats,
    /// The limit that stopped the run before the oracle accepted a hypothesis.
    pub stopped_by: Option<Limit>,
    /// Words the system answered two ways even when asked again (see
    /// [`Limits::retries`]): each with the answer learned from and the one that contradicted it.
    pub nondeterministic: Vec<crate::sul::Answered<I, O>>,
}

impl<I, O> Learned<I, O> {
    /// True when the oracle accepted the hypothesis (no limit stopped the run).
    pub fn is_complete(&self) -> bool {
        self.stopped_by.is_none()
    }
}

/// Why learning failed.
#[derive(Debug, Error)]
pub enum LearnError {
    /// Nothing to learn over.
    #[error("the input alphabet is empty")]
    EmptyAlphabet,
    /// The system could not answer (or answered inconsistently).
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A limit stopped the run before there was any hypothesis to return.
    #[error("the {limit} limit stopped learning before a first hypothesis was built")]
    LimitBeforeHypothesis {
        /// The limit.
        limit: Limit,
        /// What the run cost until then.
        stats: LearnStats,
    },
    /// The oracle returned a word on which the system and the hypothesis agree (an oracle bug).
    #[error(
        "the equivalence oracle returned {word}, on which the system and the hypothesis agree"
    )]
    NotACounterexample {
        /// The word, as `Debug` prints it.
        word: String,
    },
    /// An invariant of the algorithm did not hold: a bug in this crate, reported instead of a panic.
    #[error("internal error in the learner: {0}")]
    Internal(String),
}

/// Learns a Mealy machine of `sul` over `alphabet` with L#, asking `oracle` whether each
/// hypothesis is right. All queries (the learner's and the oracle's) go through one cache, so a
/// test the oracle ran is also an observation for the learner, and no word is asked twice.
pub fn learn<I: Symbol, O: Symbol, S: Sul<I, O> + ?Sized>(
    sul: &mut S,
    alphabet: &[I],
    oracle: &mut dyn EquivalenceOracle<I, O>,
    limits: Limits,
) -> Result<Learned<I, O>, LearnError> {
    let mut inputs: Vec<I> = Vec::with_capacity(alphabet.len());
    for input in alphabet {
        if !inputs.contains(input) {
            inputs.push(input.clone());
        }
    }
    if inputs.is_empty() {
        return Err(LearnError::EmptyAlphabet);
    }
    let budget = QueryBudget {
        max_queries: limits.max_queries,
        max_symbols: limits.max_symbols,
    };
    let learner = Learner {
        sul: CachedSul::new(sul)
            .with_budget(budget)
            .with_retries(limits.retries),
        inputs,
        limits,
        basis: vec![ROOT],
        basis_index: BTreeMap::from([(ROOT, 0)]),
        frontier: BTreeMap::new(),
        basis_witnesses: HashMap::new(),
        refreshed_at_size: 0,
        stats: LearnStats::default(),
        test_cost: CacheStats::default(),
        last_hypothesis: None,
    };
    learner.run(oracle)
}

/// What one application of a rule led to.
enum Progress<I, O> {
    /// A rule applied; look again.
    Continue,
    /// The oracle accepted this hypothesis.
    Converged(Mealy<I, O>),
    /// A limit was reached.
    Stopped(Limit),
}

struct Learner<'s, I, O, S: ?Sized> {
    sul: CachedSul<I, O, &'s mut S>,
    inputs: Vec<I>,
    limits: Limits,
    /// Basis nodes in promotion order; the position is the hypothesis state (the root is 0).
    basis: Vec<NodeId>,
    basis_index: BTreeMap<NodeId, usize>,
    /// Frontier node -> its candidates, the basis nodes it is not (yet) apart from.
    frontier: BTreeMap<NodeId, Vec<NodeId>>,
    /// Witnesses of apartness between basis nodes: they stay valid, so they are computed once.
    basis_witnesses: HashMap<(NodeId, NodeId), Vec<I>>,
    /// The tree size when candidates were last filtered (the tree only grows).
    refreshed_at_size: usize,
    stats: LearnStats,
    /// What the oracle's tests cost, accumulated around each oracle call.
    test_cost: CacheStats,
    last_hypothesis: Option<Mealy<I, O>>,
}

impl<I: Symbol, O: Symbol, S: Sul<I, O> + ?Sized> Learner<'_, I, O, S> {
    fn run(
        mut self,
        oracle: &mut dyn EquivalenceOracle<I, O>,
    ) -> Result<Learned<I, O>, LearnError> {
        loop {
            let outcome = match self.apply_a_rule(oracle) {
                Ok(Progress::Continue) => continue,
                Ok(Progress::Converged(hypothesis)) => {
                    return Ok(Learned {
                        hypothesis,
                        stats: self.final_stats(),
                        stopped_by: None,
                        nondeterministic: self.sul.nondeterministic().to_vec(),
                    })
                }
                Ok(Progress::Stopped(limit)) => limit,
                Err(error) => match (self.sul.budget_exhausted(), &error) {
                    (Some(limit), _) => limit,
                    (None, LearnError::Query(e)) if e.stop().is_some() => {
                        e.stop().unwrap_or(Limit::Time)
                    }
                    (None, _) => return Err(error),
                },
            };
            let stats = self.final_stats();
            return match self.last_hypothesis.take() {
                Some(hypothesis) => Ok(Learned {
                    hypothesis,
                    stats,
                    stopped_by: Some(outcome),
                    nondeterministic: self.sul.nondeterministic().to_vec(),
                }),
                None => Err(LearnError::LimitBeforeHypothesis {
                    limit: outcome,
                    stats,
                }),
            };
        }
    }

    /// Applies the highest-priority rule that applies (promotion, extension, separation,
    /// equivalence). Extension and separation queries are sent as one batch each, so a harness
    /// can answer them concurrently.
    fn apply_a_rule(
        &mut self,
        oracle: &mut dyn EquivalenceOracle<I, O>,
    ) -> Result<Progress<I, O>, LearnError> {
        self.update_frontier();
        if let Some(node) = self.promotable() {
            if self.basis.len() >= self.limits.max_states {
                return Ok(Progress::Stopped(Limit::States));
            }
            self.promote(node);
            return Ok(Progress::Continue);
        }
        let extensions = self.extension_queries();
        if !extensions.is_empty() {
            self.sul.query_batch(&extensions)?;
            return Ok(Progress::Continue);
        }
        let separations = self.separation_queries()?;
        if !separations.is_empty() {
            self.sul.query_batch(&separations)?;
            return Ok(Progress::Continue);
        }
        self.equivalence(oracle)
    }

    /// Rule 4: builds the hypothesis, looks for a counterexample in the tree, then asks the
    /// oracle, and processes what it finds.
    fn equivalence(
        &mut self,
        oracle: &mut dyn EquivalenceOracle<I, O>,
    ) -> Result<Progress<I, O>, LearnError> {
        let hypothesis = self.build_hypothesis()?;
        self.stats.rounds += 1;
        self.last_hypothesis = Some(hypothesis.clone());
        let counterexample = match self.counterexample_in_tree(&hypothesis) {
            Some(word) => Some(word),
            None => {
                self.stats.equivalence_queries += 1;
                let before = self.sul.stats();
                let found = oracle.find_counterexample(&hypothesis, &mut self.sul);
                let after = self.sul.stats();
                self.test_cost.queries_sent += after.queries_sent - before.queries_sent;
                self.test_cost.symbols_sent += after.symbols_sent - before.symbols_sent;
                found?
            }
        };
        let Some(word) = counterexample else {
            return Ok(Progress::Converged(hypothesis));
        };
        if self.stats.rounds >= self.limits.max_rounds {
            return Ok(Progress::Stopped(Limit::Rounds));
        }
        self.stats.counterexamples += 1;
        self.process_counterexample(&hypothesis, &word)?;
        Ok(Progress::Continue)
    }

    /// Adds new frontier nodes (children of basis nodes) with their candidates, and drops the
    /// candidates that new observations made apart.
    fn update_frontier(&mut self) {
        let tree = self.sul.tree();
        if tree.len() != self.refreshed_at_size {
            for (&node, candidates) in &mut self.frontier {
                candidates.retain(|&basis_node| !tree.is_apart(node, basis_node));
            }
            self.refreshed_at_size = tree.len();
        }
        for &basis_node in &self.basis {
            for input in &self.inputs {
                let Some((child, _)) = tree.step(basis_node, input) else {
                    continue;
                };
                if self.basis_index.contains_key(&child) || self.frontier.contains_key(&child) {
                    continue;
                }
                let candidates = self
                    .basis
                    .iter()
                    .copied()
                    .filter(|&candidate| !tree.is_apart(child, candidate))
                    .collect();
                self.frontier.insert(child, candidates);
            }
        }
    }

    /// Rule 1: a frontier node apart from the whole basis, the one with the shortest access
    /// word (short access words keep every later query short).
    fn promotable(&self) -> Option<NodeId> {
        let tree = self.sul.tree();
        self.frontier
            .iter()
            .filter(|(_, candidates)| candidates.is_empty())
            .map(|(&node, _)| node)
            .min_by_key(|&node| (tree.depth(node), node))
    }

    fn promote(&mut self, node: NodeId) {
        self.frontier.remove(&node);
        self.basis_index.insert(node, self.basis.len());
        self.basis.push(node);
        let tree = self.sul.tree();
        for (&frontier_node, candidates) in &mut self.frontier {
            if !tree.is_apart(frontier_node, node) {
                candidates.push(node);
            }
        }
    }

    /// Rule 2: the missing transitions of basis nodes.
    fn extension_queries(&self) -> Vec<Vec<I>> {
        let tree = self.sul.tree();
        let mut queries = Vec::new();
        for &basis_node in &self.basis {
            for input in &self.inputs {
                if tree.step(basis_node, input).is_none() {
                    let mut word = tree.access_word(basis_node);
                    word.push(input.clone());
                    queries.push(word);
                }
            }
        }
        queries
    }

    /// Rule 3: for each frontier node with two or more candidates, its access word followed by
    /// a witness separating its first two candidates.
    fn separation_queries(&mut self) -> Result<Vec<Vec<I>>, LearnError> {
        let ambiguous: Vec<(NodeId, NodeId, NodeId)> = self
            .frontier
            .iter()
            .filter_map(|(&node, candidates)| match candidates.as_slice() {
                [first, second, ..] => Some((node, *first, *second)),
                _ => None,
            })
            .collect();
        let mut queries = Vec::with_capacity(ambiguous.len());
        for (node, first, second) in ambiguous {
            let witness = self.basis_witness(first, second)?;
            let mut word = self.sul.tree().access_word(node);
            word.extend(witness);
            queries.push(word);
        }
        Ok(queries)
    }

    fn basis_witness(&mut self, first: NodeId, second: NodeId) -> Result<Vec<I>, LearnError> {
        let key = (first.min(second), first.max(second));
        if let Some(witness) = self.basis_witnesses.get(&key) {
            return Ok(witness.clone());
        }
        let witness = self.sul.tree().witness(first, second).ok_or_else(|| {
            LearnError::Internal(format!("basis nodes {first} and {second} are not apart"))
        })?;
        self.basis_witnesses.insert(key, witness.clone());
        Ok(witness)
    }

    /// The hypothesis: the basis as states, each transition to the basis node itself or to the
    /// single candidate of the frontier node, with the observed output.
    fn build_hypothesis(&self) -> Result<Mealy<I, O>, LearnError> {
        let tree = self.sul.tree();
        let mut table = Vec::with_capacity(self.basis.len());
        for &basis_node in &self.basis {
            let mut row = Vec::with_capacity(self.inputs.len());
            for input in &self.inputs {
                let (child, output) = tree.step(basis_node, input).ok_or_else(|| {
                    LearnError::Internal(format!("basis node {basis_node} lacks input {input:?}"))
                })?;
                row.push((self.hypothesis_state(child)?, output.clone()));
            }
            table.push(row);
        }
        Mealy::new(self.inputs.clone(), table)
            .map_err(|error| LearnError::Internal(format!("hypothesis: {error}")))
    }

    /// The hypothesis state of a basis or identified frontier node.
    fn hypothesis_state(&self, node: NodeId) -> Result<usize, LearnError> {
        if let Some(&state) = self.basis_index.get(&node) {
            return Ok(state);
        }
        match self.frontier.get(&node).map(Vec::as_slice) {
            Some([candidate]) => self.basis_index.get(candidate).copied(),
            _ => None,
        }
        .ok_or_else(|| LearnError::Internal(format!("frontier node {node} is not identified")))
    }

    /// A shortest observed word the hypothesis gets wrong: the tree holds the oracle's earlier
    /// tests and counterexample queries, which may already refute the hypothesis for free.
    fn counterexample_in_tree(&self, hypothesis: &Mealy<I, O>) -> Option<Vec<I>> {
        let tree = self.sul.tree();
        let mut queue = std::collections::VecDeque::from([(ROOT, hypothesis.initial_state())]);
        while let Some((node, state)) = queue.pop_front() {
            for (input, output, child) in tree.children(node) {
                // A symbol outside the alphabet (a custom oracle's test) says nothing here.
                let Some((next, predicted)) = hypothesis.step(state, input) else {
                    continue;
                };
                if predicted != output {
                    return Some(tree.access_word(child));
                }
                queue.push_back((child, next));
            }
        }
        None
    }

    /// Counterexample processing (the paper's ProcCounterEx). First cuts the word before its
    /// first wrong output: there, the tree node `r` reached is apart from the hypothesis state
    /// `q` (a basis node). While `r` lies beyond the frontier, the word `σ` is split halfway
    /// between the frontier and its end, `σ = σ₁σ₂`; with `q₁` the hypothesis state after `σ₁`,
    /// the query `access(q₁)·σ₂·witness(r, q)` shows either that `r` is apart from the node
    /// after `access(q₁)·σ₂` (then `σ₁` is a shorter word with the same property) or that this
    /// node is apart from `q` (then `access(q₁)·σ₂` is). It ends on a frontier node apart from
    /// the candidate it was identified with, so the next hypothesis differs.
    fn process_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        counterexample: &[I],
    ) -> Result<(), LearnError> {
        // The learner only knows its alphabet: cut a word before its first foreign symbol.
        let known = counterexample
            .iter()
            .position(|input| hypothesis.input_position(input).is_none())
            .unwrap_or(counterexample.len());
        let counterexample = counterexample.get(..known).unwrap_or(counterexample);
        let observed = self.sul.query(counterexample)?;
        let predicted = hypothesis.run(counterexample);
        let first_wrong = (0..counterexample.len())
            .find(|&k| observed.get(k) != predicted.get(k))
            .ok_or_else(|| LearnError::NotACounterexample {
                word: format!("{counterexample:?}"),
            })?;
        let mut word: Vec<I> = counterexample.iter().take(first_wrong).cloned().collect();
        loop {
            let tree = self.sul.tree();
            let node = self.tree_node(&word)?;
            let Some(frontier_depth) = self.frontier_depth(&word) else {
                return Ok(()); // `word` ends in the basis or on the frontier
            };
            let middle = (frontier_depth + word.len()) / 2;
            let (head, tail) = word.split_at(middle);
            let state = self.basis_node_of(hypothesis, &word)?;
            let head_state = self.basis_node_of(hypothesis, head)?;
            let witness = tree.witness(node, state).ok_or_else(|| {
                LearnError::Internal(format!(
                    "counterexample node {node} is not apart from {state}"
                ))
            })?;
            let mut rerouted = tree.access_word(head_state);
            rerouted.extend(tail.iter().cloned());
            let mut query = rerouted.clone();
            query.extend(witness);
            self.sul.query(&query)?;
            let rerouted_node = self.tree_node(&rerouted)?;
            word = if self.sul.tree().is_apart(node, rerouted_node) {
                head.to_vec()
            } else {
                rerouted
            };
        }
    }

    fn tree_node(&self, word: &[I]) -> Result<NodeId, LearnError> {
        self.sul
            .tree()
            .node_after(ROOT, word)
            .ok_or_else(|| LearnError::Internal(format!("{word:?} is not in the tree")))
    }

    /// The length of the prefix of `word` that reaches the frontier, or `None` if `word` ends in
    /// the basis or on the frontier (every prefix but possibly the whole word is in the basis).
    fn frontier_depth(&self, word: &[I]) -> Option<usize> {
        let tree = self.sul.tree();
        let mut node = ROOT;
        for (position, input) in word.iter().enumerate() {
            node = tree.step(node, input)?.0;
            if !self.basis_index.contains_key(&node) {
                return (position + 1 < word.len()).then_some(position + 1);
            }
        }
        None
    }

    /// The basis node that is the hypothesis' state after `word`.
    fn basis_node_of(&self, hypothesis: &Mealy<I, O>, word: &[I]) -> Result<NodeId, LearnError> {
        hypothesis
            .state_after(word)
            .and_then(|state| self.basis.get(state).copied())
            .ok_or_else(|| LearnError::Internal(format!("the hypothesis cannot run {word:?}")))
    }

    fn final_stats(&self) -> LearnStats {
        let total = self.sul.stats();
        LearnStats {
            membership_queries: total.queries_sent - self.test_cost.queries_sent,
            membership_symbols: total.symbols_sent - self.test_cost.symbols_sent,
            test_queries: self.test_cost.queries_sent,
            test_symbols: self.test_cost.symbols_sent,
            cache_hits: total.cache_hits,
            contradictions: total.contradictions,
            tree_nodes: self.sul.tree().len(),
            ..self.stats
        }
    }
}
