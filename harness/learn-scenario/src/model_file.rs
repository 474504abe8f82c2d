//! `model.json`: a learned model as a file a CI keeps, and `harness learn --check` reads back.
//!
//! ```json
//! {"inputs": ["ack", "syn"], "initial": 0,
//!  "states": [{"state": 0, "reached_by": [],
//!              "transitions": [{"input": "ack", "output": "-", "to": 0}, …]}, …],
//!  "learned": {…how it was learned…}}
//! ```

use handshake_learn::Mealy;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A model as written to `model.json`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ModelFile {
    /// The input alphabet.
    pub inputs: Vec<String>,
    /// The initial state.
    pub initial: usize,
    /// Every state with its transitions.
    pub states: Vec<StateEntry>,
    /// How it was learned (the IUT, queries, time), not compared.
    #[serde(default)]
    pub learned: Value,
}

/// One state.
#[derive(Debug, Serialize, Deserialize)]
pub struct StateEntry {
    /// Its number.
    pub state: usize,
    /// A shortest word from the initial state that reaches it.
    #[serde(default)]
    pub reached_by: Vec<String>,
    /// One per input.
    pub transitions: Vec<TransitionEntry>,
}

/// One transition.
#[derive(Debug, Serialize, Deserialize)]
pub struct TransitionEntry {
    /// The input.
    pub input: String,
    /// What the IUT answered.
    pub output: String,
    /// The state it went to.
    pub to: usize,
}

impl ModelFile {
    /// `mealy` with what `learned` says of it.
    pub fn of(mealy: &Mealy<String, String>, learned: Value) -> ModelFile {
        let access = mealy.access_words();
        let states = mealy
            .states()
            .map(|state| StateEntry {
                state,
                reached_by: access.get(state).cloned().flatten().unwrap_or_default(),
                transitions: mealy
                    .transitions()
                    .filter(|(source, ..)| *source == state)
                    .map(|(_, input, output, to)| TransitionEntry {
                        input: input.clone(),
                        output: output.clone(),
                        to,
                    })
                    .collect(),
            })
            .collect();
        ModelFile {
            inputs: mealy.inputs().to_vec(),
            initial: mealy.initial_state(),
            states,
            learned,
        }
    }

    /// The machine it describes, its initial state first.
    pub fn mealy(&self) -> Result<Mealy<String, String>, ModelFileError> {
        // The learner's machines start in state 0: renumber so the file's initial state is 0.
        let order: Vec<usize> = std::iter::once(self.initial)
            .chain((0..self.states.len()).filter(|s| *s != self.initial))
            .collect();
        let renumbered = |s: usize| order.iter().position(|o| *o == s);
        let mut table = Vec::with_capacity(self.states.len());
        for &s in &order {
            let entry = self
                .states
                .iter()
                .find(|e| e.state == s)
                .ok_or_else(|| ModelFileError::Invalid(format!("state {s} is not listed")))?;
            let mut row = Vec::with_capacity(self.inputs.len());
            for input in &self.inputs {
                let t = entry
                    .transitions
                    .iter()
                    .find(|t| &t.input == input)
                    .ok_or_else(|| {
                        ModelFileError::Invalid(format!("state {s} has no transition on `{input}`"))
                    })?;
                let to = renumbered(t.to).ok_or_else(|| {
                    ModelFileError::Invalid(format!(
                        "state {s}: `{input}` goes to {}, no state",
                        t.to
                    ))
                })?;
                row.push((to, t.output.clone()));
            }
            table.push(row);
        }
        Mealy::new(self.inputs.clone(), table).map_err(|e| ModelFileError::Invalid(e.to_string()))
    }
}

/// A model file that cannot be used; its message names the file (and the line and column where
/// the JSON is wrong).
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a model file's JSON.
    #[error("{}:{line}:{column}: {source}", path.display())]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// Where.
        line: usize,
        /// Where on the line.
        column: usize,
        /// What is wrong.
        source: serde_json::Error,
    },
    /// Its machine is not a complete one (a state unlisted, a transition missing).
    #[error("{0}")]
    Invalid(String),
    /// As [`ModelFileError::Invalid`], in the file named.
    #[error("{}: {why}", path.display())]
    InvalidIn {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        why: Box<ModelFileError>,
    },
}

/// Reads `path` as a model file, with the line and column of what is wrong in it.
pub fn read(path: &std::path::Path) -> Result<ModelFile, ModelFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    let model: ModelFile = serde_json::from_str(&text).map_err(|source| ModelFileError::Json {
        path: path.to_owned(),
        line: source.line(),
        column: source.column(),
        source,
    })?;
    model.mealy().map_err(|why| ModelFileError::InvalidIn {
        path: path.to_owned(),
        why: Box::new(why),
    })?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_reads_back_as_the_same_machine() {
        let mealy =
            Mealy::from_fn(
                vec!["a".to_owned(), "b".to_owned()],
                3,
                |state, input| match input.as_str() {
                    "a" => ((state + 1) % 3, format!("x{state}")),
                    _ => (0, "-".to_owned()),
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let file = ModelFile::of(&mealy, Value::Null);
        let text = serde_json::to_string(&file).unwrap_or_default();
        let back: ModelFile = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        let again = back.mealy().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(handshake_learn::distinguish(&mealy, &again), None);
        assert_eq!(back.states[2].reached_by, vec!["a", "a"]);
    }

    #[test]
    fn a_missing_transition_is_named() {
        let file: ModelFile = serde_json::from_str(
            r#"{"inputs": ["a"], "initial": 0, "states": [{"state": 0, "transitions": []}]}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            file.mealy().err().map(|e| e.to_string()).as_deref(),
            Some("state 0 has no transition on `a`")
        );
    }
}
