//! Comparing two machines: the differences between an implementation's learned model and the
//! reference model, as input words the harness can replay as scenarios.

use std::collections::VecDeque;

use crate::mealy::{Mealy, Symbol};

/// A shortest input word on which `a` and `b` give different outputs, `None` if they are
/// equivalent. Inputs of both alphabets are tried; a symbol one machine does not accept counts
/// as a difference there (the models disagree on what the protocol admits).
pub fn distinguish<I: Symbol, O: Symbol>(a: &Mealy<I, O>, b: &Mealy<I, O>) -> Option<Vec<I>> {
    differences(a, b, 1).into_iter().next()
}

/// Up to `max` shortest distinguishing words, shortest first, one for each pair of states
/// `(p, q)` of the product and input on which the machines disagree. Paths only continue
/// through transitions on which the machines agree, so a difference is reported once, at its
/// shortest word, and not again by every longer word that runs into it: each word is a distinct
/// behaviour, worth its own scenario.
pub fn differences<I: Symbol, O: Symbol>(
    a: &Mealy<I, O>,
    b: &Mealy<I, O>,
    max: usize,
) -> Vec<Vec<I>> {
    differences_beyond(a, b, max, |_| false)
}

/// [`differences`], passing over the words `known` already has (they neither count towards
/// `max` nor are returned): a caller that has judged the shortest differences gets the next
/// ones, so that many allowed differences cannot hide a longer one behind them.
pub fn differences_beyond<I: Symbol, O: Symbol>(
    a: &Mealy<I, O>,
    b: &Mealy<I, O>,
    max: usize,
    known: impl Fn(&[I]) -> bool,
) -> Vec<Vec<I>> {
    let inputs = joint_alphabet(a, b);
    let b_states = b.state_count();
    let pair_index = |p: usize, q: usize| p * b_states + q;
    // For each visited product pair: the pair it was reached from and the input taken.
    let mut reached_from: Vec<Option<(usize, usize)>> = vec![None; a.state_count() * b_states];
    let mut visited = vec![false; a.state_count() * b_states];
    let start = (a.initial_state(), b.initial_state());
    let mut queue = VecDeque::from([start]);
    if let Some(flag) = visited.get_mut(pair_index(start.0, start.1)) {
        *flag = true;
    }
    let mut found = Vec::new();
    while let Some((p, q)) = queue.pop_front() {
        if found.len() >= max {
            break;
        }
        for (position, input) in inputs.iter().enumerate() {
            let left = a.step(p, input);
            let right = b.step(q, input);
            match (left, right) {
                (Some((p_next, left_output)), Some((q_next, right_output)))
                    if left_output == right_output =>
                {
                    let next = pair_index(p_next, q_next);
                    if let Some(flag @ false) = visited.get_mut(next) {
                        *flag = true;
                        if let Some(slot) = reached_from.get_mut(next) {
                            *slot = Some((pair_index(p, q), position));
                        }
                        queue.push_back((p_next, q_next));
                    }
                }
                _ if found.len() < max => {
                    let mut word = path_to(&reached_from, &inputs, pair_index(p, q));
                    word.push((*input).clone());
                    if !known(&word) {
                        found.push(word);
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// `a`'s inputs in order, then `b`'s inputs `a` does not have.
fn joint_alphabet<'m, I: Symbol, O: Symbol>(a: &'m Mealy<I, O>, b: &'m Mealy<I, O>) -> Vec<&'m I> {
    let mut inputs: Vec<&I> = a.inputs().iter().collect();
    inputs.extend(
        b.inputs()
            .iter()
            .filter(|input| a.input_position(input).is_none()),
    );
    inputs
}

/// The word leading to product pair `index`, from the breadth-first predecessor links.
fn path_to<I: Clone>(
    reached_from: &[Option<(usize, usize)>],
    inputs: &[&I],
    index: usize,
) -> Vec<I> {
    let mut word = Vec::new();
    let mut current = index;
    while let Some(&Some((previous, position))) = reached_from.get(current) {
        if let Some(input) = inputs.get(position) {
            word.push((*input).clone());
        }
        current = previous;
    }
    word.reverse();
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(table: Vec<Vec<(usize, u8)>>) -> Mealy<char, u8> {
        let inputs = vec!['a', 'b'];
        Mealy::new(inputs, table).expect("valid")
    }

    #[test]
    fn equivalent_machines_have_no_difference() {
        let one = machine(vec![vec![(1, 0), (0, 1)], vec![(0, 0), (1, 1)]]);
        let merged = machine(vec![vec![(0, 0), (0, 1)]]);
        assert_eq!(distinguish(&one, &merged), None);
        assert!(differences(&one, &merged, 5).is_empty());
    }

    #[test]
    fn the_shortest_difference_and_one_per_pair() {
        // `a` toggles; the right machine answers 9 on `b` after an odd number of `a`s.
        let left = machine(vec![vec![(1, 0), (0, 1)], vec![(0, 0), (1, 1)]]);
        let right = machine(vec![vec![(1, 0), (0, 1)], vec![(0, 0), (1, 9)]]);
        assert_eq!(distinguish(&left, &right), Some(vec!['a', 'b']));
        // Only one product pair, (1, 1), disagrees: "aaab" reaches it again and is not reported.
        assert_eq!(differences(&left, &right, 10), vec![vec!['a', 'b']]);
    }

    #[test]
    fn every_differing_input_of_a_pair_and_those_past_the_known() {
        // In the initial pair the machines disagree on both inputs.
        let left = machine(vec![vec![(0, 0), (0, 1)]]);
        let right = machine(vec![vec![(0, 5), (0, 6)]]);
        assert_eq!(differences(&left, &right, 10), vec![vec!['a'], vec!['b']]);
        assert_eq!(differences(&left, &right, 1), vec![vec!['a']]);
        // Once `a` has been judged, the next is `b`, not `a` again.
        let beyond = differences_beyond(&left, &right, 1, |w: &[char]| w == ['a']);
        assert_eq!(beyond, vec![vec!['b']]);
    }

    #[test]
    fn different_alphabets_differ_on_the_extra_symbol() {
        let left = machine(vec![vec![(0, 0), (0, 0)]]);
        let right = Mealy::new(vec!['a'], vec![vec![(0, 0)]]).expect("valid");
        assert_eq!(distinguish(&left, &right), Some(vec!['b']));
        assert_eq!(distinguish(&right, &left), Some(vec!['b']));
    }
}
