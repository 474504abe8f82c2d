"""Learns Mealy machines with AALpy, as an independent oracle for handshake-learn's L#.

Called by harness/learn/tests/aalpy.rs: `learn_with_aalpy.py MACHINES.json RESULTS.json`.

MACHINES.json: {"machines": [{"name": str, "inputs": [int], "table": [[[target, output], ...], ...]}]},
`table[state][k]` the transition of `inputs[k]` in `state`, state 0 initial (the Rust crate's
`Mealy::new` layout).

RESULTS.json: {"aalpy_version": str, "results": [{"name": str, "runs": {RUN: {"states": int,
"membership_queries": int, "membership_steps": int, "test_queries": int, "test_steps": int,
"rounds": int, "model": {"table": ...}}}}]}, one entry per machine in input order. RUN is one of:

- `lstar`, `kv`, `lsharp`: AALpy's L* (Rivest-Schapire counterexample processing), KV and L#
  with a perfect equivalence oracle (`PerfectKnowledgeEqOracle`: a shortest distinguishing word of
  the hypothesis and the machine, by breadth-first search, as the Rust side's `distinguish`).
  Membership queries are then the learning algorithm's cost alone.
- `lstar_testing`: L* with testing only: `RandomWpMethodEqOracle` (500 tests) then the Wp-method
  for one state more than the hypothesis, as the Rust side's random walks then `WpOracle::new(1)`.

`membership_queries` are the queries the learner sent to the SUL past AALpy's cache (`CacheSUL`),
including counterexample processing; `test_queries` are the oracle's. `model.table` is the
learned machine in the same layout as the input, state 0 its initial state, so that the Rust
test can compare it with the true machine.

With a missing `aalpy` the script exits with status 3 and says so (the Rust test then skips).
"""

import json
import random
import sys

from importlib.metadata import version

try:
    import aalpy  # noqa: F401  (only the check that it is installed)
except ImportError as error:  # the skip path
    print(f"aalpy is not installed: {error}", file=sys.stderr)
    sys.exit(3)

from aalpy import MealyMachine, MealyState, Oracle, SUL, run_KV, run_Lstar
from aalpy.learning_algs import run_Lsharp
from aalpy.oracles import PerfectKnowledgeEqOracle, WpMethodEqOracle
from aalpy.oracles.WpMethodEqOracle import RandomWpMethodEqOracle


class MachineSul(SUL):
    """A SUL simulating a known machine (AALpy's AutomatonSUL does the same; written out here
    so that the queries counted are exactly the steps on this table)."""

    def __init__(self, inputs, table):
        super().__init__()
        self.position = {symbol: k for k, symbol in enumerate(inputs)}
        self.table = table
        self.state = 0

    def pre(self):
        self.state = 0

    def post(self):
        pass

    def step(self, letter):
        target, output = self.table[self.state][self.position[letter]]
        self.state = target
        return output


class ChainEqOracle(Oracle):
    """Random Wp tests first, then the (complete for one extra state) Wp-method suite."""

    def __init__(self, alphabet, sul, tests):
        super().__init__(alphabet, sul)
        self.random = RandomWpMethodEqOracle(alphabet, sul, expected_length=10, num_tests=tests)
        self.wp_queries = 0
        self.wp_steps = 0

    def find_cex(self, hypothesis):
        # run_Lstar replaces `self.sul` by its cache after construction: hand it on.
        self.random.sul = self.sul
        cex = self.random.find_cex(hypothesis)
        if cex is None:
            wp = WpMethodEqOracle(self.alphabet, self.sul, max_number_of_states=len(hypothesis.states) + 1)
            cex = wp.find_cex(hypothesis)
            self.wp_queries += wp.num_queries
            self.wp_steps += wp.num_steps
        self.num_queries = self.random.num_queries + self.wp_queries
        self.num_steps = self.random.num_steps + self.wp_steps
        return cex


def machine_of(inputs, table):
    states = [MealyState(index) for index in range(len(table))]
    for state, row in zip(states, table):
        for symbol, (target, output) in zip(inputs, row):
            state.transitions[symbol] = states[target]
            state.output_fun[symbol] = output
    return MealyMachine(states[0], states)


def table_of(model, inputs):
    """The learned model as a table, its initial state first."""
    order = [model.initial_state] + [s for s in model.states if s is not model.initial_state]
    index = {id(state): k for k, state in enumerate(order)}
    return [[[index[id(state.transitions[symbol])], state.output_fun[symbol]] for symbol in inputs] for state in order]


def plain_lsharp(*args, **kwargs):
    """L# with the paper's basic rules: extension queries one input, separation queries one
    witness (AALpy's default adds a separating sequence to each extension query and separates
    with adaptive distinguishing sequences), as this crate's L#."""
    return run_Lsharp(*args, extension_rule=None, separation_rule="SepSeq", **kwargs)


def run(algorithm, inputs, table, oracle_kind, seed):
    random.seed(seed)
    sul = MachineSul(inputs, table)
    if oracle_kind == "perfect":
        oracle = PerfectKnowledgeEqOracle(inputs, sul, machine_of(inputs, table))
    else:
        oracle = ChainEqOracle(inputs, sul, tests=500)
    model, info = algorithm(inputs, sul, oracle, automaton_type="mealy", return_data=True, print_level=0)
    return {
        "states": len(model.states),
        "membership_queries": info["queries_learning"],
        "membership_steps": info["steps_learning"],
        "test_queries": info["queries_eq_oracle"],
        "test_steps": info["steps_eq_oracle"],
        "rounds": info["learning_rounds"],
        "model": {"table": table_of(model, inputs)},
    }


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1]) as handle:
        machines = json.load(handle)["machines"]
    results = []
    for seed, machine in enumerate(machines):
        inputs, table = machine["inputs"], machine["table"]
        runs = {
            "lstar": run(run_Lstar, inputs, table, "perfect", seed),
            "kv": run(run_KV, inputs, table, "perfect", seed),
            "lsharp": run(run_Lsharp, inputs, table, "perfect", seed),
            "lsharp_plain": run(plain_lsharp, inputs, table, "perfect", seed),
            "lstar_testing": run(run_Lstar, inputs, table, "testing", seed),
        }
        results.append({"name": machine["name"], "runs": runs})
    with open(sys.argv[2], "w") as handle:
        json.dump({"aalpy_version": version("aalpy"), "results": results}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
