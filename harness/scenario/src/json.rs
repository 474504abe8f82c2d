//! JSON input with exact error positions: line, column, the path inside the document and what was
//! expected there. Every file a user writes (scenarios, manifests, expectations, vectors) goes through it.

use std::borrow::Cow;
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

/// One step of a path into a JSON document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// An object member's value (most keys are the format's own names: not copied).
    Key(Cow<'static, str>),
    /// An object member's key itself (only as the last step: points at the name).
    KeyName(Cow<'static, str>),
    /// An array element.
    Index(usize),
}

impl Seg {
    /// `Seg::Key` from anything string-like.
    pub fn key(k: impl Into<Cow<'static, str>>) -> Seg {
        Seg::Key(k.into())
    }
}

/// `peer.steps[3].expect.where` form of a path.
pub fn path_text(path: &[Seg]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) | Seg::KeyName(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Seg::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

/// The 1-based line and column where the value (or, for a final [`Seg::KeyName`], the member
/// name) at `path` starts in `text`; `None` when the text has no such place. For errors found
/// after deserializing (a rule id that does not exist, a kind with a typo), so they point at the
/// token like serde's own errors do.
pub fn locate(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let mut scanner = Scanner {
        bytes: text.as_bytes(),
        at: 0,
    };
    let offset = scanner.find(path)?;
    let before = text.get(..offset)?;
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, tail)| tail)
        .chars()
        .count()
        + 1;
    Some((line, column))
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
    }

    /// Reads a string (at its opening quote) and returns its unescaped-enough content (escapes
    /// other than `\"` and `\\` are kept as written: member names never need them).
    fn string(&mut self) -> Option<String> {
        if self.peek()? != b'"' {
            return None;
        }
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return String::from_utf8(out).ok();
                }
                b'\\' => {
                    let next = *self.bytes.get(self.at + 1)?;
                    if !matches!(next, b'"' | b'\\') {
                        out.push(b'\\');
                    }
                    out.push(next);
                    self.at += 2;
                }
                b => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
    }

    /// Skips one value.
    fn skip_value(&mut self) -> Option<()> {
        self.skip_ws();
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while self
                    .peek()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    fn find(&mut self, path: &[Seg]) -> Option<usize> {
        self.skip_ws();
        let Some((first, rest)) = path.split_first() else {
            return Some(self.at);
        };
        match first {
            Seg::Key(name) | Seg::KeyName(name) => {
                if self.peek()? != b'{' {
                    return None;
                }
                self.at += 1;
                loop {
                    self.skip_ws();
                    if self.peek()? == b'}' {
                        return None;
                    }
                    let key_at = self.at;
                    let key = self.string()?;
                    self.skip_ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    if &key == name {
                        if matches!(first, Seg::KeyName(_)) {
                            return Some(key_at);
                        }
                        return self.find(rest);
                    }
                    self.skip_value()?;
                    self.skip_ws();
                    if self.peek()? == b',' {
                        self.at += 1;
                    }
                }
            }
            Seg::Index(index) => {
                if self.peek()? != b'[' {
                    return None;
                }
                self.at += 1;
                for _ in 0..*index {
                    self.skip_value()?;
                    self.skip_ws();
                    if self.peek()? != b',' {
                        return None;
                    }
                    self.at += 1;
                }
                self.find(rest)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_values_and_member_names() {
        let text = "{\n  \"a\": [1, {\"b\": \"x\\\"y\", \"c\": {\"d\": 2}}],\n  \"e\": true\n}";
        let at = |p: &[Seg]| locate(text, p);
        assert_eq!(at(&[Seg::key("e")]), Some((3, 8)));
        assert_eq!(at(&[Seg::KeyName("e".into())]), Some((3, 3)));
        assert_eq!(
            at(&[Seg::key("a"), Seg::Index(1), Seg::key("c"), Seg::key("d")]),
            Some((2, 37))
        );
        assert_eq!(at(&[Seg::key("a"), Seg::Index(2)]), None);
        assert_eq!(at(&[Seg::key("zz")]), None);
        assert_eq!(
            path_text(&[
                Seg::key("peer"),
                Seg::key("steps"),
                Seg::Index(3),
                Seg::key("kind")
            ]),
            "peer.steps[3].kind"
        );
    }
}

/// A JSON file that cannot be used, with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The JSON is malformed or does not match the expected structure.
    #[error("{}:{error}", path.display())]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// Where and what.
        error: JsonError,
    },
    /// The content is well-formed but not valid (e.g. a rule between fields).
    #[error("{}: {message}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Reads and deserializes a JSON file (see [`from_str`]); errors carry file:line:column, the JSON
/// path and what was expected there.
pub fn load_file<T: DeserializeOwned>(path: &std::path::Path) -> Result<T, FileError> {
    let text = crate::read_text(path)
        .map_err(|e| e.to_string())
        .map_err(|e| FileError::Invalid {
            path: path.to_owned(),
            message: e
                .strip_prefix(&format!("{}: ", path.display()))
                .unwrap_or(&e)
                .to_owned(),
        })?;
    parse_file(path, &text)
}

/// Deserializes JSON text that came from `path` (see [`load_file`]).
pub fn parse_file<T: DeserializeOwned>(path: &std::path::Path, text: &str) -> Result<T, FileError> {
    from_str(text).map_err(|error| FileError::Json {
        path: path.to_owned(),
        error,
    })
}
