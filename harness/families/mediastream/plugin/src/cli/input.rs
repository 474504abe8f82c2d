//! Reading user input: JSON files with exact error positions, and hex strings.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A user input that cannot be used (exit code 2), with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON is malformed or does not match the expected structure.
    #[error("{path}:{line}:{column}: {message}{}", at_path(.json_path))]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Where in the document (e.g. `datagrams[3].expect`), when known.
        json_path: String,
        /// What was wrong and what was expected.
        message: String,
    },
    /// The content is well-formed but not valid (e.g. a rule between fields).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A hex string that is not hex.
    #[error("{0}")]
    Hex(#[from] HexError),
}

fn at_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        String::new()
    } else {
        format!(" (at {path})")
    }
}

/// Reads and deserializes a JSON file; errors carry file:line:column, the JSON path and what serde
/// expected there. Unknown fields are errors wherever the target type says `deny_unknown_fields`.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<T, InputError> {
    let text = std::fs::read_to_string(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_json(path, &text)
}

/// Deserializes JSON text that came from `path` (see [`load_json`]).
pub fn parse_json<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T, InputError> {
    handshake_scenario::json::from_str(text).map_err(|e| InputError::Json {
        path: path.to_owned(),
        line: e.line,
        column: e.column,
        json_path: e.path,
        message: e.message,
    })
}

/// A string that is not valid hex.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct HexError {
    /// Character offset of the problem.
    pub at: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad hex at character {}: {}", self.at, self.reason)
    }
}

/// Decodes hex digits; ASCII whitespace, `:` and `-` between bytes are ignored, a leading `0x` too.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, HexError> {
    let body = text.trim_start();
    let skip = text.len() - body.len();
    let (body, skip) = match body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        Some(rest) => (rest, skip + 2),
        None => (body, skip),
    };
    let mut out = Vec::with_capacity(body.len() / 2);
    let mut high: Option<(usize, u8)> = None;
    for (i, c) in body.char_indices() {
        let at = skip + i;
        if c.is_ascii_whitespace() || c == ':' || c == '-' {
            if high.is_some() {
                return Err(HexError {
                    at,
                    reason: "a byte needs two hex digits",
                });
            }
            continue;
        }
        let digit = c.to_digit(16).ok_or(HexError {
            at,
            reason: "not a hex digit",
        })? as u8;
        match high.take() {
            None => high = Some((at, digit)),
            Some((_, h)) => out.push(h << 4 | digit),
        }
    }
    if let Some((at, _)) = high {
        return Err(HexError {
            at,
            reason: "odd number of hex digits",
        });
    }
    Ok(out)
}

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_accepts_separators_and_prefix() {
        assert_eq!(parse_hex("0x00 10:ab-CD"), Ok(vec![0x00, 0x10, 0xab, 0xcd]));
        assert_eq!(parse_hex(""), Ok(vec![]));
    }

    #[test]
    fn hex_errors_point_at_the_character() {
        assert_eq!(
            parse_hex("00 1g"),
            Err(HexError {
                at: 4,
                reason: "not a hex digit"
            })
        );
        assert_eq!(
            parse_hex("001"),
            Err(HexError {
                at: 2,
                reason: "odd number of hex digits"
            })
        );
        assert_eq!(
            parse_hex("0 01"),
            Err(HexError {
                at: 1,
                reason: "a byte needs two hex digits"
            })
        );
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        items: Vec<Item>,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        n: u32,
    }

    #[test]
    fn json_errors_carry_line_column_path_and_expectation() {
        let text = "{\n  \"name\": \"x\",\n  \"items\": [{\"n\": 1}, {\"m\": 2}]\n}";
        let err = parse_json::<Sample>(Path::new("f.json"), text).expect_err("unknown field");
        let shown = err.to_string();
        assert!(shown.starts_with("f.json:3:"), "{shown}");
        assert!(shown.contains("unknown field `m`, expected `n`"), "{shown}");
        assert!(shown.contains("(at items[1].m)"), "{shown}");
        let err = parse_json::<Sample>(Path::new("f.json"), "{\"name\": 5}").expect_err("type");
        assert!(err.to_string().contains("expected a string"), "{err}");
        let err = parse_json::<Sample>(Path::new("f.json"), "{\"name\":\"a\",\"items\":[]} x")
            .expect_err("trailing");
        assert!(err.to_string().contains("trailing characters"), "{err}");
    }
}
