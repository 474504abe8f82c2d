//! Byte test vectors as data (`vectors/README.md` is the format): the file model, its JSON Schema, and
//! the evaluation of every vector against the wire layer. Tests, `harness vectors` and `make demo` all
//! go through [`evaluate`], so there is one definition of "this vector passes".

use std::path::{Path, PathBuf};

use handshake_mediastream_wire::{
    frame_size, pattern_byte, verify_pattern, Datagram, FragmentPlan, Mode,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::input::{load_json, parse_hex, to_hex, InputError};

/// The protocol a vector file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// The ctsTraffic UDP media stream.
    Mediastream,
}

/// A file of byte test vectors.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    /// Path of this schema, for editors.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// The protocol.
    pub protocol: Protocol,
    /// One line saying what the file covers.
    pub title: String,
    /// The fact or decision (D1…D14) the vectors rest on.
    #[serde(default)]
    pub source: Option<String>,
    /// Datagrams and their decoded value or error.
    #[serde(default)]
    pub datagrams: Vec<DatagramVector>,
    /// Fragmentation plans.
    #[serde(default)]
    pub fragment_plans: Vec<PlanVector>,
    /// Frame sizes from bit rate and frame rate.
    #[serde(default)]
    pub frame_sizes: Vec<FrameSizeVector>,
    /// Fill-pattern bytes at given offsets.
    #[serde(default)]
    pub fill_pattern: Vec<PatternBytesVector>,
    /// Payloads checked against the fill pattern.
    #[serde(default)]
    pub pattern_checks: Vec<PatternCheckVector>,
}

/// One datagram: bytes, and what decoding them gives.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatagramVector {
    /// Unique within the file.
    pub name: String,
    /// Why the vector exists.
    #[serde(default)]
    pub description: Option<String>,
    /// The datagram (whitespace ignored).
    pub hex: String,
    /// The outcome in both classification modes.
    #[serde(default)]
    pub expect: Option<Outcome>,
    /// The outcome per mode, when they differ.
    #[serde(default)]
    pub expect_by_mode: Option<ByMode>,
}

/// Outcomes per classification mode.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByMode {
    /// Legacy-accepting (exact `START` first).
    pub legacy_accepting: Outcome,
    /// 3-way-only.
    pub three_way_only: Outcome,
}

/// A decoded datagram or an error, as JSON objects (see vectors/README.md).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    /// The decoded datagram.
    Datagram(Value),
    /// The parse error.
    Error(Value),
}

/// A fragmentation plan.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanVector {
    /// Unique within the file.
    pub name: String,
    /// Frame size F, headers included.
    pub frame_size: u64,
    /// Maximum datagram size M.
    pub max_datagram: u64,
    /// Every datagram size, in order.
    #[serde(default)]
    pub sizes: Option<Vec<u64>>,
    /// The number of datagrams (for frames too large to list).
    #[serde(default)]
    pub count: Option<u64>,
    /// With `count`: the last sizes.
    #[serde(default)]
    pub tail: Option<Vec<u64>>,
    /// The planner's error.
    #[serde(default)]
    pub error: Option<Value>,
}

/// A frame size.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FrameSizeVector {
    /// Unique within the file.
    pub name: String,
    /// Bits per second.
    pub bits_per_second: u64,
    /// Frames per second.
    pub frame_rate: u32,
    /// The frame size.
    #[serde(default)]
    pub frame_size: Option<u64>,
    /// The error.
    #[serde(default)]
    pub error: Option<Value>,
}

/// Fill-pattern bytes from an offset.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternBytesVector {
    /// Unique within the file.
    pub name: String,
    /// Offset into the pattern.
    pub offset: u64,
    /// The pattern bytes from there.
    pub hex: String,
}

/// A payload checked against the fill pattern.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatternCheckVector {
    /// Unique within the file.
    pub name: String,
    /// The payload.
    pub payload_hex: String,
    /// The first mismatching offset, or null when it matches.
    pub mismatch_at: Option<usize>,
}

/// The JSON Schema of vector files, as committed in `vectors/schema/vector-file.schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(VectorFile);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// The result of one vector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorResult {
    /// `datagrams`, `fragment_plans` …, with the mode for datagrams (`datagrams/three_way_only`).
    pub section: String,
    /// The vector's name.
    pub name: String,
    /// A one-line rendering of what the code produced (for `harness vectors --verbose`).
    pub shown: String,
    /// `None` when the vector holds; else what differs.
    pub failure: Option<String>,
}

/// A loaded vector file and its results.
#[derive(Debug)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its title.
    pub title: String,
    /// One result per vector and mode.
    pub results: Vec<VectorResult>,
}

impl FileReport {
    /// The failing results.
    pub fn failures(&self) -> impl Iterator<Item = &VectorResult> {
        self.results.iter().filter(|r| r.failure.is_some())
    }
}

/// Loads and checks structural rules a schema cannot say (one expectation per vector, unique names).
pub fn load(path: &Path) -> Result<VectorFile, InputError> {
    let file: VectorFile = load_json(path)?;
    let invalid = |message: String| InputError::Invalid {
        path: path.to_owned(),
        message,
    };
    let sections = file.datagrams.len()
        + file.fragment_plans.len()
        + file.frame_sizes.len()
        + file.fill_pattern.len()
        + file.pattern_checks.len();
    if sections == 0 {
        return Err(invalid("the file holds no vectors".into()));
    }
    let mut names: Vec<&str> = file
        .datagrams
        .iter()
        .map(|v| v.name.as_str())
        .chain(file.fragment_plans.iter().map(|v| v.name.as_str()))
        .chain(file.frame_sizes.iter().map(|v| v.name.as_str()))
        .chain(file.fill_pattern.iter().map(|v| v.name.as_str()))
        .chain(file.pattern_checks.iter().map(|v| v.name.as_str()))
        .collect();
    names.sort_unstable();
    if let Some(pair) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(format!("vector name `{}` is used twice", pair[0])));
    }
    for v in &file.datagrams {
        if v.expect.is_some() == v.expect_by_mode.is_some() {
            return Err(invalid(format!(
                "datagram vector `{}` needs exactly one of `expect` and `expect_by_mode`",
                v.name
            )));
        }
        parse_hex(&v.hex).map_err(|e| invalid(format!("datagram vector `{}`: {e}", v.name)))?;
    }
    for v in &file.fragment_plans {
        let given = [v.sizes.is_some(), v.count.is_some(), v.error.is_some()];
        if given.iter().filter(|&&g| g).count() != 1 || (v.tail.is_some() && v.count.is_none()) {
            return Err(invalid(format!(
                "plan vector `{}` needs exactly one of `sizes`, `count` (with optional `tail`) and `error`",
                v.name
            )));
        }
    }
    for v in &file.frame_sizes {
        if v.frame_size.is_some() == v.error.is_some() {
            return Err(invalid(format!(
                "frame-size vector `{}` needs exactly one of `frame_size` and `error`",
                v.name
            )));
        }
    }
    Ok(file)
}

/// Loads a file and evaluates every vector in it.
pub fn check_file(path: &Path) -> Result<FileReport, InputError> {
    let file = load(path)?;
    Ok(FileReport {
        path: path.to_owned(),
        title: file.title.clone(),
        results: evaluate(&file)?,
    })
}

/// The vector files under `paths` (files as given, directories' `*.json`), sorted.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, InputError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|source| InputError::Read {
                path: path.clone(),
                source,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

fn compare(expected: &Value, actual: &Value) -> Option<String> {
    (expected != actual).then(|| format!("expected {expected}, got {actual}"))
}

/// Evaluates every vector of a loaded file.
pub fn evaluate(file: &VectorFile) -> Result<Vec<VectorResult>, InputError> {
    let mut results = Vec::new();
    for v in &file.datagrams {
        let bytes = parse_hex(&v.hex)?;
        for mode in Mode::ALL {
            let expected = match (&v.expect, &v.expect_by_mode) {
                (Some(both), _) => both,
                (None, Some(by)) if mode == Mode::LegacyAccepting => &by.legacy_accepting,
                (None, Some(by)) => &by.three_way_only,
                (None, None) => continue,
            };
            let (actual, shown) = match Datagram::parse(&bytes, mode) {
                Ok(d) => (Outcome::Datagram(to_value(&d)), d.to_string()),
                Err(e) => (Outcome::Error(to_value(&e)), format!("error: {e}")),
            };
            let failure = (expected != &actual).then(|| {
                format!(
                    "expected {}, got {}",
                    outcome_json(expected),
                    outcome_json(&actual)
                )
            });
            results.push(VectorResult {
                section: format!("datagrams/{}", mode.name()),
                name: v.name.clone(),
                shown,
                failure,
            });
        }
    }
    for v in &file.fragment_plans {
        let (shown, failure) = match FragmentPlan::new(v.frame_size, v.max_datagram) {
            Err(e) => (
                format!("error: {e}"),
                match &v.error {
                    Some(expected) => compare(expected, &to_value(&e)),
                    None => Some(format!("unexpected error: {e}")),
                },
            ),
            Ok(plan) => {
                let sizes: Vec<u64> = plan.iter().map(|d| d.len).collect();
                let shown = format!("{} datagrams", plan.count());
                let failure = if let Some(expected) = &v.sizes {
                    (expected != &sizes)
                        .then(|| format!("expected sizes {expected:?}, got {sizes:?}"))
                } else if let Some(count) = v.count {
                    let tail = v.tail.as_deref().unwrap_or(&[]);
                    let actual_tail = &sizes[sizes.len().saturating_sub(tail.len())..];
                    if count != plan.count() {
                        Some(format!("expected {count} datagrams, got {}", plan.count()))
                    } else {
                        (tail != actual_tail)
                            .then(|| format!("expected tail {tail:?}, got {actual_tail:?}"))
                    }
                } else {
                    Some(format!("expected an error, got {sizes:?}"))
                };
                (shown, failure)
            }
        };
        results.push(result("fragment_plans", &v.name, shown, failure));
    }
    for v in &file.frame_sizes {
        let (shown, failure) = match (
            frame_size(v.bits_per_second, v.frame_rate),
            v.frame_size,
            &v.error,
        ) {
            (Ok(size), Some(expected), _) => (
                format!("{size} bytes"),
                (size != expected).then(|| format!("expected {expected}, got {size}")),
            ),
            (Err(e), _, Some(expected)) => {
                (format!("error: {e}"), compare(expected, &to_value(&e)))
            }
            (Ok(size), None, _) => (
                format!("{size} bytes"),
                Some(format!("expected an error, got {size}")),
            ),
            (Err(e), _, None) => (
                format!("error: {e}"),
                Some(format!("unexpected error: {e}")),
            ),
        };
        results.push(result("frame_sizes", &v.name, shown, failure));
    }
    for v in &file.fill_pattern {
        let expected = parse_hex(&v.hex)?;
        let actual: Vec<u8> = (0..expected.len() as u64)
            .map(|i| pattern_byte(v.offset + i))
            .collect();
        let failure = (expected != actual)
            .then(|| format!("expected {}, got {}", to_hex(&expected), to_hex(&actual)));
        results.push(result("fill_pattern", &v.name, to_hex(&actual), failure));
    }
    for v in &file.pattern_checks {
        let payload = parse_hex(&v.payload_hex)?;
        let actual = verify_pattern(&payload).err().map(|m| m.offset);
        let shown = match actual {
            None => "matches".to_owned(),
            Some(at) => format!("mismatch at {at}"),
        };
        let failure = (actual != v.mismatch_at)
            .then(|| format!("expected mismatch_at {:?}, got {actual:?}", v.mismatch_at));
        results.push(result("pattern_checks", &v.name, shown, failure));
    }
    Ok(results)
}

fn result(section: &str, name: &str, shown: String, failure: Option<String>) -> VectorResult {
    VectorResult {
        section: section.to_owned(),
        name: name.to_owned(),
        shown,
        failure,
    }
}

fn outcome_json(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Datagram(v) => format!("{{\"datagram\":{v}}}"),
        Outcome::Error(v) => format!("{{\"error\":{v}}}"),
    }
}
