//! The observation tree: every answer the system under learning gave, as a prefix-closed trie.
//!
//! It is both the query cache (a word whose answer is a path in the tree is never asked again)
//! and L#'s data structure (apartness is computed on its subtrees).

use std::collections::{BTreeMap, VecDeque};

use crate::mealy::Symbol;

/// A node of an [`ObservationTree`]: the word that reaches it from the root, by index.
pub type NodeId = usize;

#[derive(Clone, Debug)]
struct Node<I, O> {
    /// Input -> (output, child). A `BTreeMap` makes every traversal, and hence the learner, deterministic.
    children: BTreeMap<I, (O, NodeId)>,
    /// The parent and the input from it, to rebuild access words without storing them.
    parent: Option<(NodeId, I)>,
    depth: usize,
}

/// Where a new answer contradicts an earlier one (the system is not deterministic, or was not
/// reset between queries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contradiction {
    /// The position in the word of the first output that differs.
    pub position: usize,
}

/// A prefix-closed tree of observed input/output words; node 0 is the root (the empty word).
#[derive(Clone, Debug)]
pub struct ObservationTree<I, O> {
    nodes: Vec<Node<I, O>>,
}

impl<I: Symbol, O: Symbol> Default for ObservationTree<I, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: Symbol, O: Symbol> ObservationTree<I, O> {
    /// The root node, reached by the empty word.
    pub const ROOT: NodeId = 0;

    /// A tree with only the root.
    pub fn new() -> Self {
        Self {
            nodes: vec![Node {
                children: BTreeMap::new(),
                parent: None,
                depth: 0,
            }],
        }
    }

    /// The number of nodes; it only grows, so it doubles as a version number of the tree.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true (the root always exists); here because `len` is.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The child of `node` on `input` and the output observed on the way, if observed.
    pub fn step(&self, node: NodeId, input: &I) -> Option<(NodeId, &O)> {
        self.nodes
            .get(node)?
            .children
            .get(input)
            .map(|(output, child)| (*child, output))
    }

    /// The observed transitions out of `node`, in input order.
    pub fn children(&self, node: NodeId) -> impl Iterator<Item = (&I, &O, NodeId)> + '_ {
        self.nodes.get(node).into_iter().flat_map(|n| {
            n.children
                .iter()
                .map(|(input, (output, child))| (input, output, *child))
        })
    }

    /// The parent of `node` and the input that leads from it; `None` for the root.
    pub fn parent(&self, node: NodeId) -> Option<(NodeId, &I)> {
        self.nodes
            .get(node)?
            .parent
            .as_ref()
            .map(|(parent, input)| (*parent, input))
    }

    /// The length of the word reaching `node`.
    pub fn depth(&self, node: NodeId) -> usize {
        self.nodes.get(node).map_or(0, |n| n.depth)
    }

    /// The node `word` reaches from `from`, if the whole word has been observed.
    pub fn node_after(&self, from: NodeId, word: &[I]) -> Option<NodeId> {
        word.iter().try_fold(from, |node, input| {
            self.step(node, input).map(|(child, _)| child)
        })
    }

    /// The outputs of `word` from the root, if the whole word has been observed.
    pub fn outputs(&self, word: &[I]) -> Option<Vec<O>> {
        self.outputs_from(Self::ROOT, word)
    }

    /// The outputs of `word` from `from`, if the whole word has been observed.
    pub fn outputs_from(&self, from: NodeId, word: &[I]) -> Option<Vec<O>> {
        let mut node = from;
        let mut outputs = Vec::with_capacity(word.len());
        for input in word {
            let (child, output) = self.step(node, input)?;
            outputs.push(output.clone());
            node = child;
        }
        Some(outputs)
    }

    /// The word from the root to `node`.
    pub fn access_word(&self, node: NodeId) -> Vec<I> {
        let mut word = Vec::with_capacity(self.depth(node));
        let mut current = node;
        while let Some((parent, input)) = self.parent(current) {
            word.push(input.clone());
            current = parent;
        }
        word.reverse();
        word
    }

    /// Records the answer `outputs` to `word` (pairs beyond the shorter of the two are ignored)
    /// and returns the node reached. An answer that contradicts an earlier one is rejected
    /// before anything is changed, so a failed insert leaves the tree as it was.
    pub fn insert(&mut self, word: &[I], outputs: &[O]) -> Result<NodeId, Contradiction> {
        let mut node = Self::ROOT;
        let mut position = 0;
        for (input, output) in word.iter().zip(outputs) {
            match self.step(node, input) {
                Some((child, seen)) if seen == output => node = child,
                Some(_) => return Err(Contradiction { position }),
                None => break,
            }
            position += 1;
        }
        for (input, output) in word.iter().zip(outputs).skip(position) {
            let child = self.nodes.len();
            let depth = self.depth(node) + 1;
            self.nodes.push(Node {
                children: BTreeMap::new(),
                parent: Some((node, input.clone())),
                depth,
            });
            if let Some(parent) = self.nodes.get_mut(node) {
                parent
                    .children
                    .insert(input.clone(), (output.clone(), child));
            }
            node = child;
        }
        Ok(node)
    }

    /// Apartness (`a # b` in the paper): some word observed from both nodes gives different
    /// outputs, so the two nodes cannot be the same state of the system. Once true it stays
    /// true, because the tree only grows.
    pub fn is_apart(&self, a: NodeId, b: NodeId) -> bool {
        let mut pending = vec![(a, b)];
        while let Some((x, y)) = pending.pop() {
            for (input, output, x_child) in self.children(x) {
                if let Some((y_child, y_output)) = self.step(y, input) {
                    if y_output != output {
                        return true;
                    }
                    pending.push((x_child, y_child));
                }
            }
        }
        false
    }

    /// A shortest witness of `a # b`: a word observed from both nodes whose last outputs differ
    /// (earlier outputs agree). Short witnesses make short separating queries.
    pub fn witness(&self, a: NodeId, b: NodeId) -> Option<Vec<I>> {
        // Breadth-first over pairs; `visited` keeps (pair, predecessor index, input) to rebuild the word.
        let mut visited: Vec<(Option<usize>, Option<&I>)> = vec![(None, None)];
        let mut queue = VecDeque::from([(a, b, 0usize)]);
        while let Some((x, y, index)) = queue.pop_front() {
            for (input, output, x_child) in self.children(x) {
                let Some((y_child, y_output)) = self.step(y, input) else {
                    continue;
                };
                visited.push((Some(index), Some(input)));
                let child_index = visited.len() - 1;
                if y_output != output {
                    return Some(rebuild_word(&visited, child_index));
                }
                queue.push_back((x_child, y_child, child_index));
            }
        }
        None
    }
}

/// Follows predecessor links from `index` back to the start and returns the inputs in order.
fn rebuild_word<I: Clone>(visited: &[(Option<usize>, Option<&I>)], index: usize) -> Vec<I> {
    let mut word = Vec::new();
    let mut current = Some(index);
    while let Some(&(predecessor, input)) = current.and_then(|i| visited.get(i)) {
        if let Some(input) = input {
            word.push(input.clone());
        }
        current = predecessor;
    }
    word.reverse();
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    type Tree = ObservationTree<char, u8>;

    #[test]
    fn insert_is_prefix_closed_and_rejects_contradictions() {
        let mut tree = Tree::new();
        let node = tree
            .insert(&['a', 'b', 'c'], &[1, 2, 3])
            .expect("fresh insert");
        assert_eq!(tree.outputs(&['a', 'b']), Some(vec![1, 2]));
        assert_eq!(tree.outputs(&['b']), None);
        assert_eq!(tree.access_word(node), vec!['a', 'b', 'c']);
        assert_eq!(tree.depth(node), 3);
        let again = tree
            .insert(&['a', 'b'], &[1, 2])
            .expect("consistent insert");
        assert_eq!(Some(again), tree.node_after(0, &['a', 'b']));
        let before = tree.len();
        assert_eq!(
            tree.insert(&['a', 'x'], &[7, 0]),
            Err(Contradiction { position: 0 })
        );
        assert_eq!(tree.len(), before, "a rejected answer changes nothing");
    }

    #[test]
    fn apartness_and_shortest_witness() {
        let mut tree = Tree::new();
        // "aab" gives 1 after "a" but 2 after "aa": the root and node "a" differ on "aab".
        tree.insert(&['a', 'a', 'b'], &[0, 0, 1]).expect("insert");
        tree.insert(&['a', 'a', 'a', 'b'], &[0, 0, 0, 2])
            .expect("insert");
        tree.insert(&['b'], &[5]).expect("insert");
        let after_a = tree.node_after(0, &['a']).expect("observed");
        assert!(tree.is_apart(0, after_a));
        assert_eq!(tree.witness(0, after_a), Some(vec!['a', 'a', 'b']));
        assert!(!tree.is_apart(0, 0));
        assert_eq!(tree.witness(after_a, after_a), None);
        tree.insert(&['a', 'b'], &[0, 4]).expect("insert");
        assert_eq!(
            tree.witness(0, after_a),
            Some(vec!['b']),
            "a shorter witness appears"
        );
    }
}
