//! Learning known machines: L# must find each one exactly (minimal size, no distinguishing word).

use handshake_learn::{
    differences, distinguish, learn, CachedSul, ChainOracle, EquivalenceOracle, LearnError,
    Learned, Limit, Limits, Mealy, QueryError, RandomWalkOracle, SeededOracle, Sul, WpOracle,
};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// An oracle that knows the answer: for properties of the learner independent of testing.
struct PerfectOracle<I, O>(Mealy<I, O>);

impl<I: handshake_learn::Symbol, O: handshake_learn::Symbol> EquivalenceOracle<I, O>
    for PerfectOracle<I, O>
{
    fn find_counterexample(
        &mut self,
        hypothesis: &Mealy<I, O>,
        _: &mut dyn Sul<I, O>,
    ) -> Result<Option<Vec<I>>, QueryError> {
        Ok(distinguish(hypothesis, &self.0))
    }
}

fn testing_oracle<'a, I: handshake_learn::Symbol + 'a, O: handshake_learn::Symbol + 'a>(
    seed: u64,
) -> ChainOracle<'a, I, O> {
    ChainOracle::new()
        .then(RandomWalkOracle::new(seed).with_walks(500))
        .then(WpOracle::new(1))
}

/// Learns `truth` with random walks then Wp(1), and checks the result is exactly it.
fn learn_exactly<I: handshake_learn::Symbol, O: handshake_learn::Symbol>(
    truth: &Mealy<I, O>,
    seed: u64,
) -> Learned<I, O> {
    let mut sul = truth.clone();
    let mut oracle = testing_oracle(seed);
    let learned = learn(&mut sul, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
    assert!(learned.is_complete(), "{:?}", learned.stopped_by);
    assert_eq!(
        distinguish(&learned.hypothesis, truth),
        None,
        "learned a different machine"
    );
    assert_eq!(
        learned.hypothesis.state_count(),
        truth.minimized().state_count()
    );
    learned
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Packet {
    Syn,
    Ack,
    Data,
    Fin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Reply {
    SynAck,
    Ack,
    Reset,
    Nothing,
}

/// Closed, half-open, established: a toy connection handshake.
fn handshake() -> Mealy<Packet, Reply> {
    use Packet as P;
    let inputs = vec![P::Syn, P::Ack, P::Data, P::Fin];
    Mealy::from_fn(inputs, 3, |state, input| match (state, input) {
        (0, P::Syn) => (1, Reply::SynAck),
        (0, _) => (0, Reply::Reset),
        (1, P::Ack) => (2, Reply::Nothing),
        (1, P::Syn) => (1, Reply::SynAck),
        (1, _) => (0, Reply::Reset),
        (_, P::Data) => (2, Reply::Ack),
        (_, P::Fin) => (0, Reply::Ack),
        (_, _) => (2, Reply::Nothing),
    })
    .expect("valid")
}

/// Counts `i` modulo 4, telling when it wraps; `r` resets; `s` shows whether the count is even.
fn counter_mod_4() -> Mealy<char, u8> {
    Mealy::from_fn(vec!['i', 'r', 's'], 4, |state, input| match input {
        'i' => ((state + 1) % 4, u8::from(state == 3)),
        'r' => (0, 0),
        _ => (state, 2 + (state % 2) as u8),
    })
    .expect("valid")
}

/// A combination lock of `length` `a`s: states differ only by how many more `a`s open it, a
/// suffix up to `length` long; `b` resets.
fn lock(length: usize) -> Mealy<char, bool> {
    Mealy::from_fn(vec!['a', 'b'], length, |state, input| match input {
        'a' => ((state + 1) % length, state + 1 == length),
        _ => (0, false),
    })
    .expect("valid")
}

#[test]
fn hand_written_machines_are_learned_exactly() {
    let handshake = learn_exactly(&handshake(), 1);
    let counter = learn_exactly(&counter_mod_4(), 2);
    let lock = learn_exactly(&lock(7), 3);
    for (name, learned) in [
        ("handshake", handshake.stats),
        ("counter", counter.stats),
        ("lock(7)", lock.stats),
    ] {
        eprintln!("{name}: {learned:?}");
    }
    assert_eq!(handshake.hypothesis.state_count(), 3);
    assert_eq!(counter.hypothesis.state_count(), 4);
    assert_eq!(lock.hypothesis.state_count(), 7);
}

fn random_machine(rng: &mut ChaCha8Rng) -> Mealy<u8, u8> {
    let mut below = |bound: u64| (rng.next_u64() % bound) as usize;
    let states = 2 + below(11);
    let inputs: Vec<u8> = (0..2 + below(3) as u8).collect();
    let outputs = 2 + below(2);
    let table = (0..states)
        .map(|_| {
            inputs
                .iter()
                .map(|_| (below(states as u64), below(outputs as u64) as u8))
                .collect()
        })
        .collect();
    Mealy::new(inputs, table).expect("valid")
}

#[test]
fn fifty_random_machines_are_learned_exactly() {
    let mut rng = ChaCha8Rng::seed_from_u64(2022);
    let mut total = handshake_learn::LearnStats::default();
    let mut states = 0;
    for index in 0..50 {
        let truth = random_machine(&mut rng);
        let learned = learn_exactly(&truth, index);
        states += learned.hypothesis.state_count();
        total.membership_queries += learned.stats.membership_queries;
        total.test_queries += learned.stats.test_queries;
        total.rounds += learned.stats.rounds;
    }
    eprintln!(
        "50 random machines, {states} states in all: {} rounds, {} membership queries, {} test queries",
        total.rounds, total.membership_queries, total.test_queries
    );
}

#[test]
fn larger_random_machines_with_long_counterexamples() {
    // Perfect counterexamples on 20-40 states exercise the binary search of counterexample
    // processing on long words, beyond what testing finds.
    let mut rng = ChaCha8Rng::seed_from_u64(44);
    for _ in 0..10 {
        let states = 20 + (rng.next_u64() % 21) as usize;
        let table = (0..states)
            .map(|_| {
                (0..5)
                    .map(|_| {
                        (
                            (rng.next_u64() % states as u64) as usize,
                            (rng.next_u64() % 2) as u8,
                        )
                    })
                    .collect()
            })
            .collect();
        let truth = Mealy::new((0..5u8).collect(), table).expect("valid");
        let mut sul = truth.clone();
        let mut oracle = PerfectOracle(truth.clone());
        let learned =
            learn(&mut sul, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
        assert_eq!(distinguish(&learned.hypothesis, &truth), None);
        assert_eq!(
            learned.hypothesis.state_count(),
            truth.minimized().state_count()
        );
    }
}

#[test]
fn a_perfect_oracle_learns_with_few_rounds() {
    let truth = lock(10);
    let mut sul = truth.clone();
    let mut oracle = PerfectOracle(truth.clone());
    let learned = learn(&mut sul, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
    assert_eq!(distinguish(&learned.hypothesis, &truth), None);
    assert_eq!(learned.stats.test_queries, 0);
    eprintln!("lock(10) with a perfect oracle: {:?}", learned.stats);
}

/// Counts the queries that reach the machine.
struct Counting<S> {
    inner: S,
    queries: u64,
}

impl<S: Sul<char, u8>> Sul<char, u8> for Counting<S> {
    fn query(&mut self, word: &[char]) -> Result<Vec<u8>, QueryError> {
        self.queries += 1;
        self.inner.query(word)
    }
}

#[test]
fn the_learner_never_asks_the_same_word_twice() {
    let truth = counter_mod_4();
    let mut sul = Counting {
        inner: truth.clone(),
        queries: 0,
    };
    let mut oracle = testing_oracle(5);
    let learned = learn(&mut sul, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
    let sent = learned.stats.membership_queries + learned.stats.test_queries;
    assert_eq!(
        sul.queries, sent,
        "the statistics count what reached the system"
    );
    // Learning again behind a warm cache sends nothing new.
    let mut cache = CachedSul::new(truth.clone());
    let mut oracle = testing_oracle(5);
    learn(&mut cache, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
    let warm = cache.stats().queries_sent;
    let mut oracle = testing_oracle(5);
    let again = learn(&mut cache, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
    assert_eq!(
        cache.stats().queries_sent,
        warm,
        "a repeated run is answered by the cache"
    );
    assert!(again.stats.cache_hits > 0);
}

#[test]
fn limits_stop_a_run_and_say_which() {
    let truth = lock(8);
    let run = |limits: Limits| {
        let mut sul = truth.clone();
        let mut oracle = PerfectOracle(truth.clone());
        learn(&mut sul, truth.inputs(), &mut oracle, limits)
    };
    let states = run(Limits {
        max_states: 3,
        ..Limits::default()
    })
    .expect("a hypothesis");
    assert_eq!(states.stopped_by, Some(Limit::States));
    assert!(states.hypothesis.state_count() <= 3);
    let rounds = run(Limits {
        max_rounds: 1,
        ..Limits::default()
    })
    .expect("a hypothesis");
    assert_eq!(rounds.stopped_by, Some(Limit::Rounds));
    assert_eq!(rounds.stats.rounds, 1);
    match run(Limits {
        max_queries: 1,
        ..Limits::default()
    }) {
        Err(LearnError::LimitBeforeHypothesis { limit, .. }) => assert_eq!(limit, Limit::Queries),
        other => panic!("expected the query limit, got {other:?}"),
    }
    let queries = run(Limits {
        max_queries: 12,
        ..Limits::default()
    })
    .expect("a hypothesis");
    assert_eq!(queries.stopped_by, Some(Limit::Queries));
    assert!(queries.stats.membership_queries <= 12);
    let symbols = run(Limits {
        max_symbols: 40,
        ..Limits::default()
    })
    .expect("a hypothesis");
    assert_eq!(symbols.stopped_by, Some(Limit::Symbols));
    assert!(!symbols.is_complete());
}

/// Fails on the fifth query, like an implementation that crashed.
struct Crashing {
    inner: Mealy<char, u8>,
    left: usize,
}

impl Sul<char, u8> for Crashing {
    fn query(&mut self, word: &[char]) -> Result<Vec<u8>, QueryError> {
        if self.left == 0 {
            return Err(QueryError::new("the implementation crashed"));
        }
        self.left -= 1;
        self.inner.query(word)
    }
}

#[test]
fn a_failing_system_fails_the_run() {
    let truth = counter_mod_4();
    let mut sul = Crashing {
        inner: truth.clone(),
        left: 4,
    };
    let mut oracle = testing_oracle(9);
    match learn(&mut sul, truth.inputs(), &mut oracle, Limits::default()) {
        Err(LearnError::Query(error)) => assert_eq!(error.message(), "the implementation crashed"),
        other => panic!("expected the query error, got {other:?}"),
    }
    let mut empty_alphabet = truth.clone();
    let result = learn(
        &mut empty_alphabet,
        &[],
        &mut testing_oracle(0),
        Limits::default(),
    );
    assert!(matches!(result, Err(LearnError::EmptyAlphabet)));
}

#[test]
fn seeded_words_find_a_deep_difference() {
    // A lock of 12 is beyond Wp(1) from a one-state start and unlikely for short random walks;
    // the scenario library's word opens it.
    let truth = lock(12);
    let mut sul = truth.clone();
    let mut oracle = ChainOracle::new()
        .then(SeededOracle::new(vec![vec!['a'; 12]]))
        .then(WpOracle::new(1));
    let learned = learn(&mut sul, truth.inputs(), &mut oracle, Limits::default()).expect("learns");
    assert_eq!(distinguish(&learned.hypothesis, &truth), None);
}

/// Every word of exactly `length` over `inputs`.
fn words_of_length(inputs: &[char], length: usize) -> Vec<Vec<char>> {
    (0..length).fold(vec![Vec::new()], |words, _| {
        words
            .iter()
            .flat_map(|word| {
                inputs.iter().map(move |&input| {
                    let mut longer = word.clone();
                    longer.push(input);
                    longer
                })
            })
            .collect()
    })
}

fn small_machine(rng: &mut ChaCha8Rng) -> Mealy<char, u8> {
    let states = 1 + (rng.next_u64() % 3) as usize;
    let table = (0..states)
        .map(|_| {
            (0..2)
                .map(|_| {
                    (
                        (rng.next_u64() % states as u64) as usize,
                        (rng.next_u64() % 2) as u8,
                    )
                })
                .collect()
        })
        .collect();
    Mealy::new(vec!['a', 'b'], table).expect("valid")
}

#[test]
fn distinguish_is_shortest_by_brute_force() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut differing = 0;
    for _ in 0..300 {
        let (a, b) = (small_machine(&mut rng), small_machine(&mut rng));
        // The product has at most 9 state pairs, so a shortest difference has at most 9 inputs.
        let shortest = (1..=9).find_map(|length| {
            words_of_length(&['a', 'b'], length)
                .into_iter()
                .find(|word| a.run(word) != b.run(word))
        });
        let found = distinguish(&a, &b);
        assert_eq!(
            found.as_ref().map(Vec::len),
            shortest.as_ref().map(Vec::len)
        );
        if let Some(word) = &found {
            differing += 1;
            assert_ne!(a.run(word), b.run(word));
            let all = differences(&a, &b, 100);
            assert_eq!(all.first(), Some(word));
            for difference in &all {
                let (left, right) = (a.run(difference), b.run(difference));
                let last = difference.len() - 1;
                assert_eq!(
                    left.get(..last),
                    right.get(..last),
                    "only the last output differs"
                );
                assert_ne!(left.get(last), right.get(last));
            }
            let transitions: std::collections::BTreeSet<_> = all
                .iter()
                .map(|d| {
                    let prefix = &d[..d.len() - 1];
                    (a.state_after(prefix), b.state_after(prefix), d[d.len() - 1])
                })
                .collect();
            assert_eq!(
                transitions.len(),
                all.len(),
                "one word per product pair and input"
            );
        }
    }
    assert!(
        differing > 100,
        "the sample exercises differences: {differing}"
    );
}

fn arbitrary_machine() -> impl Strategy<Value = Mealy<u8, u8>> {
    (1usize..=6, 1usize..=3).prop_flat_map(|(states, inputs)| {
        proptest::collection::vec(
            proptest::collection::vec((0..states, 0u8..3), inputs),
            states,
        )
        .prop_map(move |table| Mealy::new((0..inputs as u8).collect(), table).expect("valid"))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn learning_finds_the_minimal_equivalent_machine(truth in arbitrary_machine()) {
        let mut sul = truth.clone();
        let mut oracle = PerfectOracle(truth.clone());
        let learned = learn(&mut sul, truth.inputs(), &mut oracle, Limits::default());
        let learned = learned.map_err(|error| TestCaseError::fail(error.to_string()))?;
        prop_assert_eq!(distinguish(&learned.hypothesis, &truth), None);
        prop_assert_eq!(learned.hypothesis.state_count(), truth.minimized().state_count());
        prop_assert_eq!(distinguish(&truth, &truth.minimized()), None);
    }
}
