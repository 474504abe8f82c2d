//! Active automata learning of Mealy machines with L#, to learn the state machine of a protocol
//! implementation and compare it with the reference's.
//!
//! **L#** (Vaandrager, Garhewal, Rot, Wißmann, "A New Approach for Active Automata Learning
//! Based on Apartness", TACAS 2022) keeps every answer of the system in an *observation tree*.
//! Two tree nodes are *apart* when some word observed from both gives different outputs: they
//! are certainly different states. The learner grows a *basis* of pairwise apart nodes (the
//! states found so far); their children form the *frontier*. Frontier nodes apart from the whole
//! basis are promoted to it; the others are queried with separating witnesses until each is
//! identified with exactly one basis node, which gives a hypothesis. An equivalence oracle tests
//! it; a counterexample is shortened by binary search into a new apartness, and the loop goes
//! on. Unlike L*, nothing is ever asked just to fill a table, so L# needs far fewer queries, and
//! every query a test made is reused as an observation.
//!
//! How the harness uses it: it implements [`Sul`] for an implementation under test over the
//! family's *abstract alphabet* (each input symbol a scenario step, each output an abstracted
//! observation; [`Sul::query_batch`] runs several implementation processes at once), learns its
//! model with [`learn`] and an oracle chain ([`SeededOracle`] with the scenario library's
//! sequences, then [`RandomWalkOracle`], then [`WpOracle`]), learns or writes the reference's
//! model the same way, and calls [`differences`] on the two: each distinguishing word is a
//! distinct behaviour the implementation gets wrong, replayed as a scenario to report it.
//! [`Mealy::to_dot`] draws the models.
//!
//! Everything is deterministic for a given seed and alphabet order: the same run learns the
//! same model with the same queries.

#![forbid(unsafe_code)]

mod compare;
mod lsharp;
mod mealy;
mod oracle;
mod sul;
mod tree;

pub use compare::{differences, differences_beyond, distinguish};
pub use lsharp::{learn, LearnError, LearnStats, Learned, Limit, Limits};
pub use mealy::{Mealy, MealyError, Symbol};
pub use oracle::{
    first_counterexample, identification_sets, wp_test_suite, ChainOracle, DifferenceOracle,
    EquivalenceOracle, RandomWalkOracle, SeededOracle, WpOracle, DEFAULT_BATCH_SIZE,
};
pub use sul::{Answered, CacheStats, CachedSul, QueryBudget, QueryError, Sul};
pub use tree::{Contradiction, NodeId, ObservationTree};
