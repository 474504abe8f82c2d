//! JSON input with exact error positions: line, column, the path inside the document and what was
//! expected there. Every file a user writes (scenarios, manifests, expectations, vectors) goes through it.

use std::fmt;

use serde::de::DeserializeOwned;

/// Why JSON text could not be read as the expected type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Where in the document (e.g. `peer.steps[2].send`); empty at the top level.
    pub path: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl fmt::Display for JsonError {
    /// `LINE:COLUMN: message (at path)`; callers put the file name in front.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if !self.path.is_empty() && self.path != "." {
            write!(f, " (at {})", self.path)?;
        }
        Ok(())
    }
}

impl std::error::Error for JsonError {}

/// Deserializes `text`, rejecting trailing characters; unknown fields are errors wherever the target
/// type says `deny_unknown_fields`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, JsonError> {
    let error = |path: String, e: serde_json::Error| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; the position is already in front.
        let message = message
            .rfind(" at line ")
            .map_or(message.clone(), |i| message[..i].to_owned());
        JsonError {
            line: e.line(),
            column: e.column(),
            path,
            message,
        }
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        error(path, e.into_inner())
    })?;
    de.end().map_err(|e| error(String::new(), e))?;
    Ok(value)
}
