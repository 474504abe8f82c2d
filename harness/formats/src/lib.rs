//! The fuzz kit's surface, at the wire layer: what a family knows of one of its formats, in a
//! form an in-process fuzzer can use (issue 77).
//!
//! A [`WireFormat`] is one format a parser reads (`mediastream.datagram`, `proton.stream`, …):
//! its reference decoder, which gives a [`Verdict`] (`ok`, `kind`, `fields`, `error`) for any bytes;
//! a field-level mutator that parses, changes one field and re-encodes; the magic values, flags,
//! types and discriminators as a [`Token`] dictionary; and [`Seed`]s of every kind, the invalid edge
//! cases named `invalid-…`. Each family's wire crate lists its formats (its `FORMATS`); the family
//! plug-in hands the same list to the harness (`harness decode`, `harness fuzz-kit`), and the
//! mutator library (`libhandshake_mutator`) to libFuzzer and AFL++.
//!
//! [`mutate`] and [`cross_over`] are the structure-aware mutation both fuzzers call: the format's
//! own mutator when the input parses (three times in four), a dictionary token or byte havoc
//! otherwise, so input that does not parse still moves. [`bytes`] holds the byte-layout mutations
//! the families' mutators build on, shared with the network fuzzer.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use arbitrary;

pub mod bytes;
pub mod kit;

use arbitrary::Unstructured;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What one input of a format is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InputUnit {
    /// One UDP or QUIC datagram's payload.
    Datagram,
    /// The bytes of one stream, from its first byte to its end.
    Stream,
    /// One message (a fixed header, a frame, a protobuf message) as a parser is handed it.
    Message,
}

/// The reference decoder's verdict on one input: `{"ok", "kind", "fields", "error"}` (the schema
/// is `harness schema decode`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Verdict {
    /// Whether the reference accepts the input.
    pub ok: bool,
    /// What the input is (a datagram kind, a message type …), where the decoder got that far.
    pub kind: Option<String>,
    /// The decoded fields (for a stream, its messages in order under `messages`).
    pub fields: Map<String, Value>,
    /// Why the input is refused (`ok` false only).
    pub error: Option<String>,
}

impl Verdict {
    /// An accepted input of `kind` with its `fields`.
    pub fn accepted(kind: impl Into<String>, fields: Map<String, Value>) -> Verdict {
        Verdict {
            ok: true,
            kind: Some(kind.into()),
            fields,
            error: None,
        }
    }

    /// A refused input, with its kind where known and whatever fields were read before the error.
    pub fn refused(
        kind: Option<&str>,
        fields: Map<String, Value>,
        error: impl ToString,
    ) -> Verdict {
        Verdict {
            ok: false,
            kind: kind.map(str::to_owned),
            fields,
            error: Some(error.to_string()),
        }
    }
}

/// One entry of a format's libFuzzer/AFL++ dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The entry's name in the dictionary file (`flag_syn`, `magic`, …).
    pub name: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Token {
    /// A named token.
    pub fn new(name: &'static str, bytes: impl Into<Vec<u8>>) -> Token {
        Token {
            name,
            bytes: bytes.into(),
        }
    }
}

/// One seed input: `name` says what it is (`syn`, `syn-ack-all-options`, `invalid-short-syn`);
/// a name starting `invalid-` marks an input the reference refuses on purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    /// What the input is; `invalid-…` for an invalid edge case.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Seed {
    /// A seed named `name`.
    pub fn new(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
        Seed {
            name: name.into(),
            bytes: bytes.into(),
        }
    }

    /// Whether the seed is an invalid edge case by its name.
    pub fn is_invalid(&self) -> bool {
        self.name.starts_with(INVALID_PREFIX)
    }
}

/// The name prefix of an invalid edge case (a seed the reference refuses on purpose).
pub const INVALID_PREFIX: &str = "invalid-";

/// The field-level mutator of a format: parses `bytes`, changes one field and re-encodes them in
/// place; `Ok(false)` when the bytes do not parse (the caller falls back to byte mutations).
pub type FieldMutator =
    fn(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool>;

/// What a family knows of one of its formats, for fuzzers of other people's parsers.
#[derive(Debug, Clone, Copy)]
pub struct WireFormat {
    /// `family.format` (`mediastream.datagram`); the kit's folder and `HANDSHAKE_FORMAT` name it.
    pub id: &'static str,
    /// One line: what one input is and which facts decide it.
    pub about: &'static str,
    /// What one input is.
    pub unit: InputUnit,
    /// The reference decoder: a verdict for any bytes, never a panic.
    pub decode: fn(&[u8]) -> Verdict,
    /// The field-level mutator.
    pub mutate: FieldMutator,
    /// The dictionary: magic values, flags, types, discriminators, boundary integers as encoded.
    pub dictionary: fn() -> Vec<Token>,
    /// Seeds of every kind and the invalid edge cases the facts name (`invalid-…`).
    pub seeds: fn() -> Vec<Seed>,
}

impl WireFormat {
    /// The family part of the id (`mediastream` of `mediastream.datagram`).
    pub fn family(&self) -> &'static str {
        self.id
            .split_once('.')
            .map_or(self.id, |(family, _)| family)
    }
}

/// The format named `id` among `formats`.
pub fn find<'f>(formats: &'f [WireFormat], id: &str) -> Option<&'f WireFormat> {
    formats.iter().find(|f| f.id == id)
}

/// How many bytes of entropy one mutation draws on (more than any mutator reads).
const ENTROPY: usize = 256;

/// One structure-aware mutation of `data`, at most `max_len` bytes long, the same for the same
/// `seed`: the format's field mutator three times in four where the input parses, else a
/// dictionary token written over or into the bytes, else byte havoc; one to four rounds.
pub fn mutate(format: &WireFormat, data: &[u8], max_len: usize, seed: u64) -> Vec<u8> {
    let entropy = bytes::seeded_bytes(seed, ENTROPY);
    let mut u = Unstructured::new(&entropy);
    let mut out = data.to_vec();
    let rounds = u.int_in_range(1u8..=4).unwrap_or(1);
    for _ in 0..rounds {
        // An exhausted entropy stream only ends the rounds early.
        if one_round(format, &mut out, &mut u).is_err() {
            break;
        }
    }
    out.truncate(max_len);
    out
}

fn one_round(
    format: &WireFormat,
    out: &mut Vec<u8>,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<()> {
    match u.int_in_range(0u8..=7)? {
        0..=5 => {
            if !(format.mutate)(out, u)? {
                bytes::havoc(out, u)?;
            }
        }
        6 => {
            let tokens = (format.dictionary)();
            if tokens.is_empty() {
                return bytes::havoc(out, u);
            }
            let token = &u.choose(&tokens)?.bytes;
            let at = u.int_in_range(0..=out.len())?;
            if u.arbitrary()? {
                out.splice(at..at, token.iter().copied());
            } else {
                let end = (at + token.len()).min(out.len());
                out.splice(at..end, token.iter().copied());
            }
        }
        _ => bytes::havoc(out, u)?,
    }
    Ok(())
}

/// One cross-over of two inputs, at most `max_len` bytes: where both parse as a stream of
/// messages the cut falls between whole messages is not known here, so it takes a prefix of `a`
/// and a suffix of `b` at points drawn from `seed`, then one structure-aware mutation.
pub fn cross_over(format: &WireFormat, a: &[u8], b: &[u8], max_len: usize, seed: u64) -> Vec<u8> {
    let entropy = bytes::seeded_bytes(seed ^ 0x5eed_c0de, 16);
    let mut u = Unstructured::new(&entropy);
    let cut_a = u.int_in_range(0..=a.len()).unwrap_or(a.len());
    let cut_b = u.int_in_range(0..=b.len()).unwrap_or(0);
    let mut out = a[..cut_a].to_vec();
    out.extend_from_slice(&b[cut_b..]);
    if u.ratio(1u8, 2u8).unwrap_or(false) {
        out = mutate(format, &out, max_len, seed);
    }
    out.truncate(max_len);
    out
}

/// A libFuzzer/AFL++ dictionary file: one `name="…"` line per token, bytes outside printable
/// ASCII (and `"`, `\`) as `\xNN`.
pub fn dictionary_file(tokens: &[Token]) -> String {
    let mut out = String::new();
    let mut seen = std::collections::BTreeSet::new();
    for (i, token) in tokens.iter().enumerate() {
        if token.bytes.is_empty() || !seen.insert(token.bytes.clone()) {
            continue;
        }
        let escaped: String = token
            .bytes
            .iter()
            .map(|b| match b {
                b'"' | b'\\' => format!("\\x{b:02x}"),
                0x20..=0x7e => (*b as char).to_string(),
                _ => format!("\\x{b:02x}"),
            })
            .collect();
        out.push_str(&format!("{}_{i}=\"{escaped}\"\n", token.name));
    }
    out
}

/// The verdict as one JSON line (the streaming decoder's and `hh_decode`'s output).
pub fn verdict_json(verdict: &Verdict) -> String {
    serde_json::to_string(verdict).unwrap_or_else(|e| {
        format!(
            r#"{{"ok":false,"kind":null,"fields":{{}},"error":"verdict not serialisable: {e}"}}"#
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_two_bytes(b: &[u8]) -> Verdict {
        match b {
            [t, v] => {
                let mut f = Map::new();
                f.insert("type".into(), Value::from(*t));
                f.insert("value".into(), Value::from(*v));
                Verdict::accepted("pair", f)
            }
            _ => Verdict::refused(None, Map::new(), "not two bytes"),
        }
    }

    #[allow(clippy::ptr_arg)] // the FieldMutator signature
    fn bump_value(b: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
        if b.len() != 2 {
            return Ok(false);
        }
        b[1] = bytes::interesting_int(u, Some(u64::from(b[1])))? as u8;
        Ok(true)
    }

    const PAIR: WireFormat = WireFormat {
        id: "test.pair",
        about: "two bytes",
        unit: InputUnit::Message,
        decode: decode_two_bytes,
        mutate: bump_value,
        dictionary: || vec![Token::new("magic", *b"\x01\x02")],
        seeds: || vec![Seed::new("pair", [1, 2]), Seed::new("invalid-empty", [])],
    };

    #[test]
    fn mutation_is_deterministic_bounded_and_mostly_keeps_the_structure() {
        assert_eq!(mutate(&PAIR, &[1, 2], 64, 9), mutate(&PAIR, &[1, 2], 64, 9));
        let outs: Vec<Vec<u8>> = (0..200).map(|s| mutate(&PAIR, &[1, 2], 3, s)).collect();
        assert!(outs.iter().all(|o| o.len() <= 3));
        let parse = outs.iter().filter(|o| (PAIR.decode)(o).ok).count();
        assert!(parse > 40, "{parse} of 200 still parse");
        assert!(outs.iter().any(|o| o.as_slice() != [1, 2]));
        // Input that does not parse still changes (byte havoc).
        assert!((0..20).any(|s| mutate(&PAIR, &[7, 7, 7], 64, s) != [7, 7, 7]));
    }

    #[test]
    fn cross_over_joins_a_prefix_and_a_suffix() {
        let out = cross_over(&PAIR, &[1; 10], &[2; 10], 64, 3);
        assert!(out.len() <= 64);
        assert_ne!(cross_over(&PAIR, &[1; 10], &[2; 10], 64, 4), [0u8; 0]);
        assert!(cross_over(&PAIR, &[1; 10], &[2; 10], 5, 3).len() <= 5);
    }

    #[test]
    fn the_dictionary_escapes_and_deduplicates() {
        let file = dictionary_file(&[
            Token::new("flag", *b"\x01\x00"),
            Token::new("again", *b"\x01\x00"),
            Token::new("word", *b"ST\"RT"),
        ]);
        assert_eq!(file, "flag_0=\"\\x01\\x00\"\nword_2=\"ST\\x22RT\"\n");
    }

    #[test]
    fn seeds_say_whether_they_are_invalid_and_ids_name_their_family() {
        let seeds = (PAIR.seeds)();
        assert!(!seeds[0].is_invalid() && seeds[1].is_invalid());
        assert_eq!(PAIR.family(), "test");
        assert!(find(&[PAIR], "test.pair").is_some() && find(&[PAIR], "x").is_none());
        let line = verdict_json(&(PAIR.decode)(&[1, 2]));
        assert_eq!(
            line,
            r#"{"ok":true,"kind":"pair","fields":{"type":1,"value":2},"error":null}"#
        );
    }
}
