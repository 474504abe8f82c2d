//! Deterministic, complete Mealy machines: the hypotheses L# builds and the models the harness diffs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::{Debug, Write as _};
use std::hash::Hash;
use std::ops::Range;

use thiserror::Error;

/// What an input or output symbol must support. `Ord` gives every map and every listing a
/// deterministic order (two runs of the harness learn and print the same model); `Hash` lets callers
/// key their own tables by symbol; `Debug` names a symbol in error messages.
pub trait Symbol: Clone + Eq + Hash + Ord + Debug {}

impl<T: Clone + Eq + Hash + Ord + Debug> Symbol for T {}

/// Why a table does not describe a deterministic, complete Mealy machine.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum MealyError {
    /// A machine needs its initial state.
    #[error("a Mealy machine needs at least one state")]
    NoStates,
    /// The same symbol twice would make the machine's columns ambiguous.
    #[error("input symbol {symbol} appears twice in the alphabet")]
    DuplicateInput {
        /// The repeated symbol, as `Debug` prints it.
        symbol: String,
    },
    /// Completeness: every state has exactly one transition per input.
    #[error("state {state} has {found} transitions but the alphabet has {expected} symbols")]
    RowLength {
        /// The state whose row is wrong.
        state: usize,
        /// How many transitions the row has.
        found: usize,
        /// How many inputs the alphabet has.
        expected: usize,
    },
    /// A transition must land on an existing state.
    #[error(
        "state {state}, input #{input}, goes to state {target} but there are only {states} states"
    )]
    TargetOutOfRange {
        /// The source state.
        state: usize,
        /// The position of the input in the alphabet.
        input: usize,
        /// The bad target.
        target: usize,
        /// The number of states.
        states: usize,
    },
}

/// A deterministic, complete Mealy machine with states `0..state_count()`, initial state 0.
///
/// Inputs keep the order the caller gave them: the order is the tie-breaker of every search
/// (shortest words, test suites, dot output), so it makes results reproducible and readable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mealy<I, O> {
    inputs: Vec<I>,
    input_index: BTreeMap<I, usize>,
    /// `transitions[state * inputs.len() + input_position]`: a flat table is compact and cache-friendly.
    transitions: Vec<(usize, O)>,
    state_count: usize,
}

impl<I: Symbol, O: Symbol> Mealy<I, O> {
    /// Builds a machine from its transition table: `table[state][k]` is the `(target, output)` of
    /// `inputs[k]` in `state`. Validates determinism (distinct inputs) and completeness.
    pub fn new(inputs: Vec<I>, table: Vec<Vec<(usize, O)>>) -> Result<Self, MealyError> {
        if table.is_empty() {
            return Err(MealyError::NoStates);
        }
        let mut input_index = BTreeMap::new();
        for (position, input) in inputs.iter().enumerate() {
            if input_index.insert(input.clone(), position).is_some() {
                return Err(MealyError::DuplicateInput {
                    symbol: format!("{input:?}"),
                });
            }
        }
        let state_count = table.len();
        let mut transitions = Vec::with_capacity(state_count * inputs.len());
        for (state, row) in table.into_iter().enumerate() {
            if row.len() != inputs.len() {
                return Err(MealyError::RowLength {
                    state,
                    found: row.len(),
                    expected: inputs.len(),
                });
            }
            for (input, (target, output)) in row.into_iter().enumerate() {
                if target >= state_count {
                    return Err(MealyError::TargetOutOfRange {
                        state,
                        input,
                        target,
                        states: state_count,
                    });
                }
                transitions.push((target, output));
            }
        }
        Ok(Self {
            inputs,
            input_index,
            transitions,
            state_count,
        })
    }

    /// Builds a machine with `state_count` states from a transition function, convenient for
    /// hand-written models: `transition(state, input)` gives `(target, output)`.
    pub fn from_fn(
        inputs: Vec<I>,
        state_count: usize,
        mut transition: impl FnMut(usize, &I) -> (usize, O),
    ) -> Result<Self, MealyError> {
        let table = (0..state_count)
            .map(|state| {
                inputs
                    .iter()
                    .map(|input| transition(state, input))
                    .collect()
            })
            .collect();
        Self::new(inputs, table)
    }

    /// The input alphabet, in the order given at construction.
    pub fn inputs(&self) -> &[I] {
        &self.inputs
    }

    /// The number of states.
    pub fn state_count(&self) -> usize {
        self.state_count
    }

    /// All states, `0..state_count()`.
    pub fn states(&self) -> Range<usize> {
        0..self.state_count
    }

    /// The initial state, always 0 (a convention every constructor keeps).
    pub fn initial_state(&self) -> usize {
        0
    }

    /// The position of `input` in the alphabet, `None` if the machine does not know it.
    pub fn input_position(&self, input: &I) -> Option<usize> {
        self.input_index.get(input).copied()
    }

    /// One transition: the next state and the output, `None` for an unknown state or input.
    pub fn step(&self, state: usize, input: &I) -> Option<(usize, &O)> {
        let position = self.input_position(input)?;
        self.step_at(state, position)
    }

    /// One transition by input position (avoids a map lookup in searches over the alphabet).
    pub fn step_at(&self, state: usize, position: usize) -> Option<(usize, &O)> {
        if state >= self.state_count || position >= self.inputs.len() {
            return None;
        }
        self.transitions
            .get(state * self.inputs.len() + position)
            .map(|(target, output)| (*target, output))
    }

    /// The outputs of `word` from the initial state. Stops at the first symbol outside the
    /// alphabet, so the result is shorter than `word` exactly when the word is not fully defined.
    pub fn run(&self, word: &[I]) -> Vec<O> {
        self.run_from(self.initial_state(), word)
    }

    /// The outputs of `word` from `state` (see [`Mealy::run`] for unknown symbols).
    pub fn run_from(&self, state: usize, word: &[I]) -> Vec<O> {
        let mut outputs = Vec::with_capacity(word.len());
        let mut current = state;
        for input in word {
            let Some((next, output)) = self.step(current, input) else {
                break;
            };
            outputs.push(output.clone());
            current = next;
        }
        outputs
    }

    /// The state `word` leads to from the initial state, `None` if a symbol is unknown.
    pub fn state_after(&self, word: &[I]) -> Option<usize> {
        self.state_after_from(self.initial_state(), word)
    }

    /// The state `word` leads to from `state`, `None` if a symbol is unknown.
    pub fn state_after_from(&self, state: usize, word: &[I]) -> Option<usize> {
        word.iter().try_fold(state, |current, input| {
            self.step(current, input).map(|(next, _)| next)
        })
    }

    /// Every transition as `(source, input, output, target)`, by source state then alphabet order.
    pub fn transitions(&self) -> impl Iterator<Item = (usize, &I, &O, usize)> + '_ {
        self.states().flat_map(move |state| {
            self.inputs
                .iter()
                .enumerate()
                .filter_map(move |(position, input)| {
                    self.step_at(state, position)
                        .map(|(target, output)| (state, input, output, target))
                })
        })
    }

    /// A shortest access word for every state (breadth-first, alphabet order breaks ties);
    /// `None` for a state the initial state cannot reach.
    pub fn access_words(&self) -> Vec<Option<Vec<I>>> {
        let mut access: Vec<Option<Vec<I>>> = vec![None; self.state_count];
        let mut queue = VecDeque::new();
        if let Some(slot) = access.get_mut(self.initial_state()) {
            *slot = Some(Vec::new());
            queue.push_back(self.initial_state());
        }
        while let Some(state) = queue.pop_front() {
            let prefix = access.get(state).cloned().flatten().unwrap_or_default();
            for (position, input) in self.inputs.iter().enumerate() {
                let Some((target, _)) = self.step_at(state, position) else {
                    continue;
                };
                if let Some(slot @ None) = access.get_mut(target) {
                    let mut word = prefix.clone();
                    word.push(input.clone());
                    *slot = Some(word);
                    queue.push_back(target);
                }
            }
        }
        access
    }

    /// The minimal equivalent machine: unreachable states dropped, equivalent states merged
    /// (Moore's partition refinement), states numbered in breadth-first order from the initial
    /// state. Two machines are isomorphic exactly when their minimised forms are equal, and a
    /// reference model is usually written with redundant states.
    pub fn minimized(&self) -> Self {
        let reachable = self.breadth_first_states();
        let width = self.inputs.len();
        let mut class = vec![0usize; self.state_count];
        // First split: states that answer differently on some input are never equivalent.
        let mut class_count = assign_classes(&reachable, &mut class, |state| {
            let outputs: Vec<&O> = (0..width)
                .filter_map(|position| self.step_at(state, position).map(|(_, output)| output))
                .collect();
            (Vec::<usize>::new(), outputs)
        });
        loop {
            let previous = class.clone();
            let refined = assign_classes(&reachable, &mut class, |state| {
                let successors: Vec<usize> = (0..width)
                    .filter_map(|position| self.step_at(state, position))
                    .map(|(target, _)| previous.get(target).copied().unwrap_or(0))
                    .collect();
                (vec![previous.get(state).copied().unwrap_or(0)], successors)
            });
            if refined == class_count {
                break;
            }
            class_count = refined;
        }
        let mut table: Vec<Vec<(usize, O)>> = vec![Vec::new(); class_count];
        for &state in &reachable {
            let Some(row) = class.get(state).and_then(|&c| table.get_mut(c)) else {
                continue;
            };
            if !row.is_empty() {
                continue;
            }
            for position in 0..width {
                if let Some((target, output)) = self.step_at(state, position) {
                    row.push((class.get(target).copied().unwrap_or(0), output.clone()));
                }
            }
        }
        // The table was built from a valid machine, so it is valid; keep `self` if not.
        Self::new(self.inputs.clone(), table).unwrap_or_else(|_| self.clone())
    }

    /// Reachable states in breadth-first order from the initial state.
    fn breadth_first_states(&self) -> Vec<usize> {
        let mut seen = vec![false; self.state_count];
        let mut order = Vec::new();
        let mut queue = VecDeque::from([self.initial_state()]);
        if let Some(flag) = seen.get_mut(self.initial_state()) {
            *flag = true;
        }
        while let Some(state) = queue.pop_front() {
            order.push(state);
            for position in 0..self.inputs.len() {
                if let Some((target, _)) = self.step_at(state, position) {
                    if let Some(flag @ false) = seen.get_mut(target) {
                        *flag = true;
                        queue.push_back(target);
                    }
                }
            }
        }
        order
    }

    /// Graphviz text of the machine. Transitions between the same two states share one edge
    /// whose label lists `input / output` lines in alphabet order, so a protocol's dozen "ignored
    /// input" self-loops read as one loop; states and edges come in numeric order, so the text
    /// is stable and diffable.
    pub fn to_dot(
        &self,
        input_label: impl Fn(&I) -> String,
        output_label: impl Fn(&O) -> String,
    ) -> String {
        self.to_dot_highlighting(input_label, output_label, |_, _| false)
    }

    /// As [`to_dot`](Self::to_dot), with the edges that carry a transition `highlight` picks
    /// (by source state and input) drawn red and bold, and those transitions' lines marked `!`.
    pub fn to_dot_highlighting(
        &self,
        input_label: impl Fn(&I) -> String,
        output_label: impl Fn(&O) -> String,
        highlight: impl Fn(usize, &I) -> bool,
    ) -> String {
        let mut edges: BTreeMap<(usize, usize), Vec<String>> = BTreeMap::new();
        let mut marked: BTreeSet<(usize, usize)> = BTreeSet::new();
        for (source, input, output, target) in self.transitions() {
            let mark = highlight(source, input);
            if mark {
                marked.insert((source, target));
            }
            edges.entry((source, target)).or_default().push(format!(
                "{}{} / {}",
                if mark { "! " } else { "" },
                input_label(input),
                output_label(output)
            ));
        }
        let mut dot = String::from("digraph mealy {\n    rankdir=LR;\n");
        dot.push_str("    start [shape=point, label=\"\"];\n    start -> s0;\n");
        for state in self.states() {
            let _ = writeln!(dot, "    s{state} [shape=circle, label=\"{state}\"];");
        }
        for ((source, target), labels) in edges {
            let label: Vec<String> = labels.iter().map(|label| escape_dot(label)).collect();
            let style = if marked.contains(&(source, target)) {
                ", color=\"red\", fontcolor=\"red\", penwidth=2"
            } else {
                ""
            };
            let _ = writeln!(
                dot,
                "    s{source} -> s{target} [label=\"{}\"{style}];",
                label.join("\\n")
            );
        }
        dot.push_str("}\n");
        dot
    }
}

/// Numbers the classes of `states` by their `signature` in first-appearance order and returns
/// how many classes there are.
fn assign_classes<K: Ord>(
    states: &[usize],
    class: &mut [usize],
    signature: impl Fn(usize) -> K,
) -> usize {
    let mut numbering: BTreeMap<K, usize> = BTreeMap::new();
    let mut assigned = Vec::with_capacity(states.len());
    for &state in states {
        let next = numbering.len();
        let number = *numbering.entry(signature(state)).or_insert(next);
        assigned.push((state, number));
    }
    for (state, number) in assigned {
        if let Some(slot) = class.get_mut(state) {
            *slot = number;
        }
    }
    numbering.len()
}

/// Escapes a label for a double-quoted Graphviz string.
fn escape_dot(label: &str) -> String {
    let mut escaped = String::with_capacity(label.len());
    for character in label.chars() {
        match character {
            '"' => escaped.push_str("\\\""),
            '\\' => escaped.push_str("\\\\"),
            '\n' => escaped.push_str("\\n"),
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toggle() -> Mealy<char, u8> {
        Mealy::from_fn(vec!['a', 'b'], 2, |state, input| match input {
            'a' => (1 - state, state as u8),
            _ => (state, 9),
        })
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn run_and_step_follow_the_table() {
        let machine = toggle();
        assert_eq!(machine.run(&['a', 'a', 'b', 'a']), vec![0, 1, 9, 0]);
        assert_eq!(machine.step(1, &'a'), Some((0, &1)));
        assert_eq!(machine.step(2, &'a'), None);
        assert_eq!(machine.step(0, &'z'), None);
        assert_eq!(
            machine.run(&['a', 'z', 'a']),
            vec![0],
            "stops at an unknown symbol"
        );
        assert_eq!(machine.state_after(&['a', 'b']), Some(1));
    }

    #[test]
    fn construction_rejects_bad_tables() {
        let no_states: Result<Mealy<char, u8>, _> = Mealy::new(vec!['a'], Vec::new());
        assert_eq!(no_states, Err(MealyError::NoStates));
        let duplicate = Mealy::new(vec!['a', 'a'], vec![vec![(0, 0), (0, 0)]]);
        assert!(matches!(duplicate, Err(MealyError::DuplicateInput { .. })));
        let short_row = Mealy::new(vec!['a', 'b'], vec![vec![(0, 0)]]);
        assert!(matches!(short_row, Err(MealyError::RowLength { .. })));
        let bad_target = Mealy::new(vec!['a'], vec![vec![(3, 0)]]);
        assert!(matches!(
            bad_target,
            Err(MealyError::TargetOutOfRange { .. })
        ));
    }

    #[test]
    fn dot_merges_parallel_edges_in_order() {
        let dot = toggle().to_dot(|input| input.to_string(), |output| output.to_string());
        assert!(dot.contains("s0 -> s0 [label=\"b / 9\"];"), "{dot}");
        assert!(dot.contains("s0 -> s1 [label=\"a / 0\"];"), "{dot}");
        let merged = Mealy::from_fn(vec!['x', 'y'], 1, |_, _| (0, 'k'))
            .unwrap_or_else(|error| panic!("{error}"))
            .to_dot(|input| format!("\"{input}\""), |output| output.to_string());
        assert!(
            merged.contains("s0 -> s0 [label=\"\\\"x\\\" / k\\n\\\"y\\\" / k\"];"),
            "{merged}"
        );
        assert_eq!(dot, toggle().to_dot(|i| i.to_string(), |o| o.to_string()));
    }

    #[test]
    fn minimisation_merges_equivalent_and_drops_unreachable_states() {
        // States 0 and 2 behave alike; state 3 is unreachable.
        let machine = Mealy::new(
            vec!['a'],
            vec![vec![(1, 0)], vec![(2, 1)], vec![(1, 0)], vec![(0, 5)]],
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let minimal = machine.minimized();
        assert_eq!(minimal.state_count(), 2);
        assert_eq!(minimal.run(&['a'; 5]), machine.run(&['a'; 5]));
        assert_eq!(toggle().minimized(), toggle());
    }

    #[test]
    fn access_words_are_shortest() {
        let counter = Mealy::from_fn(vec!['i', 'r'], 4, |state, input| match input {
            'i' => ((state + 1) % 4, 0u8),
            _ => (0, state as u8),
        })
        .unwrap_or_else(|error| panic!("{error}"));
        let access = counter.access_words();
        assert_eq!(access.get(3), Some(&Some(vec!['i', 'i', 'i'])));
        assert_eq!(access.first(), Some(&Some(Vec::new())));
    }
}
