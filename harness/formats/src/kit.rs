//! A fuzz kit's contents for one format, without I/O (`harness fuzz-kit` writes them): the seed
//! corpus (the format's own seeds and the edge cases a family found in its scenario library and
//! golden captures, deduplicated and minimised), and the README's command lines.

use std::collections::{BTreeMap, BTreeSet};

use crate::{Seed, Verdict, WireFormat, INVALID_PREFIX};

/// One corpus file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its file name: what it is, then a content hash (`syn-ack-3f2a…`); `invalid-…` when the
    /// reference refuses it.
    pub file_name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The reference decoder's verdict.
    pub verdict: Verdict,
}

/// The corpus of `format`: every one of its own seeds, then of `found` (edge cases from the
/// library and the captures, in order) at most `per_shape` of each shape the reference decoder
/// sees (accepted or not, its kind, its error, its field names), the shortest first. Bytes seen
/// once are kept once (the first name wins); an input the reference refuses is named `invalid-…`
/// whatever it was called, so the name always says what the reference does with it.
pub fn corpus(format: &WireFormat, found: Vec<Seed>, per_shape: usize) -> Vec<Entry> {
    let mut seen = BTreeSet::new();
    let mut entries = Vec::new();
    for seed in (format.seeds)() {
        if seen.insert(seed.bytes.clone()) {
            entries.push(entry(format, seed));
        }
    }
    let mut by_shape: BTreeMap<String, Vec<Seed>> = BTreeMap::new();
    for seed in found {
        if seen.insert(seed.bytes.clone()) {
            let shape = shape(&(format.decode)(&seed.bytes));
            by_shape.entry(shape).or_default().push(seed);
        }
    }
    for (_, mut seeds) in by_shape {
        seeds.sort_by_key(|s| s.bytes.len());
        entries.extend(seeds.into_iter().take(per_shape).map(|s| entry(format, s)));
    }
    entries
}

/// What the reference decoder makes of an input, without its values: two inputs of one shape
/// take the parser down the same checks.
fn shape(verdict: &Verdict) -> String {
    let keys: Vec<&str> = verdict.fields.keys().map(String::as_str).collect();
    let error = verdict
        .error
        .as_deref()
        .map(|e| e.split(|c: char| c.is_ascii_digit()).next().unwrap_or(e))
        .unwrap_or("");
    format!(
        "{}|{}|{error}|{}",
        verdict.ok,
        verdict.kind.as_deref().unwrap_or(""),
        keys.join(",")
    )
}

fn entry(format: &WireFormat, seed: Seed) -> Entry {
    let verdict = (format.decode)(&seed.bytes);
    let mut name: String = seed
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if verdict.ok {
        if let Some(rest) = name.strip_prefix(INVALID_PREFIX) {
            name = format!("accepted-{rest}");
        }
    } else if !name.starts_with(INVALID_PREFIX) {
        name = format!("{INVALID_PREFIX}{name}");
    }
    name.truncate(80);
    Entry {
        file_name: format!("{name}-{:016x}", fnv1a(&seed.bytes)),
        bytes: seed.bytes,
        verdict,
    }
}

/// The inputs of a corpus folder (a fuzz kit's, or a cargo-fuzz target's): (file, bytes), by file
/// name; an empty or missing folder is an error, so that a check over it cannot pass on nothing.
pub fn read_corpus(dir: &std::path::Path) -> std::io::Result<Vec<(std::path::PathBuf, Vec<u8>)>> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    files.retain(|p| p.is_file());
    files.sort();
    if files.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("corpus {} is empty", dir.display()),
        ));
    }
    files
        .into_iter()
        .map(|p| std::fs::read(&p).map(|b| (p, b)))
        .collect()
}

/// A content hash for file names (FNV-1a, 64 bits): stable across versions and machines.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The kit's README: what is in it and one command line each for libFuzzer, AFL++ and cargo-fuzz
/// per format, plus the reference decoder for a differential check.
pub fn readme(formats: &[&WireFormat], counts: &[(usize, usize)], sources: &str) -> String {
    let mut out = String::from(
        "# Fuzz kit\n\n\
         Written by `harness fuzz-kit`. One folder per format: `corpus/` (seed inputs: every kind \
         the reference knows and the edge cases of its scenario library and golden captures, \
         deduplicated, at most a few of each shape; files named `invalid-…` are inputs the \
         reference decoder refuses, on purpose) and `<format>.dict` (a libFuzzer/AFL++ \
         dictionary).\n\n",
    );
    out.push_str(&format!("Sources: {sources}.\n\n"));
    out.push_str(
        "The structure-aware mutator is `libhandshake_mutator.so` (`make mutator` in the \
         harness's checkout; header `harness/mutator/include/handshake_mutator.h`), told the \
         format by `HANDSHAKE_FORMAT`. Its `hh_decode` and `harness decode --format F --stream` \
         are the reference decoder to compare yours against.\n\n| format | one input is | corpus (invalid) |\n|---|---|---|\n",
    );
    for (f, (n, invalid)) in formats.iter().zip(counts) {
        out.push_str(&format!("| `{}` | {} | {n} ({invalid}) |\n", f.id, f.about));
    }
    for f in formats {
        let id = f.id;
        out.push_str(&format!(
            "\n## `{id}`\n\n\
             libFuzzer (your target linked with `-fsanitize=fuzzer` and `-lhandshake_mutator`; new \
             inputs go to the first folder, the kit's stays as it is):\n\n\
             ```sh\nmkdir -p corpus-{id}\nHANDSHAKE_FORMAT={id} ./your_fuzzer -dict={id}/{id}.dict corpus-{id} {id}/corpus\n```\n\n\
             AFL++:\n\n\
             ```sh\nHANDSHAKE_FORMAT={id} AFL_CUSTOM_MUTATOR_LIBRARY=/path/to/libhandshake_mutator.so \\\n  afl-fuzz -i {id}/corpus -o findings -x {id}/{id}.dict -- ./your_afl_target @@\n```\n\n\
             cargo-fuzz (`handshake-mutator` in `fuzz/Cargo.toml`; `fuzz_mutator!` calling \
             `handshake_mutator::mutate_in_place(handshake_mutator::format(\"{id}\")…)`):\n\n\
             ```sh\nmkdir -p corpus-{id}\ncargo fuzz run your_target corpus-{id} {id}/corpus -- -dict={id}/{id}.dict\n```\n\n\
             The reference's verdicts, one JSON line per hex line:\n\n\
             ```sh\nharness decode --format {id} --stream < inputs.hex\n```\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InputUnit, Token};
    use serde_json::Map;

    fn decode(b: &[u8]) -> Verdict {
        match b.first() {
            Some(1) => Verdict::accepted("one", Map::new()),
            Some(_) => Verdict::refused(Some("other"), Map::new(), format!("bad tag {}", b[0])),
            None => Verdict::refused(None, Map::new(), "empty"),
        }
    }

    const F: WireFormat = WireFormat {
        id: "t.f",
        about: "a test",
        unit: InputUnit::Message,
        decode,
        mutate: |_, _| Ok(false),
        dictionary: || vec![Token::new("one", [1u8])],
        seeds: || vec![Seed::new("one", [1u8]), Seed::new("invalid-empty", [])],
    };

    #[test]
    fn names_follow_the_verdict_and_duplicates_go() {
        let found = vec![
            Seed::new("library step", [1u8]),
            Seed::new("capture a", [2u8, 0]),
            Seed::new("capture b", [3u8]),
            Seed::new("capture c", [1u8, 2, 3]),
        ];
        let entries = corpus(&F, found, 1);
        let names: Vec<&str> = entries.iter().map(|e| e.file_name.as_str()).collect();
        assert_eq!(entries.len(), 4, "{names:?}");
        assert!(names[0].starts_with("one-") && names[1].starts_with("invalid-empty-"));
        // [2, 0] and [3] are one shape (refused, `other`, "bad tag "): the shorter stays.
        assert!(
            names.iter().any(|n| n.starts_with("invalid-capture-b-")),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("capture-a")), "{names:?}");
        assert!(
            names.iter().any(|n| n.starts_with("capture-c-")),
            "{names:?}"
        );
        for e in &entries {
            assert_eq!(e.verdict.ok, !e.file_name.starts_with(INVALID_PREFIX));
        }
    }

    #[test]
    fn the_readme_names_every_format_and_fuzzer() {
        let text = readme(&[&F], &[(2, 1)], "test");
        for needle in [
            "`t.f`",
            "afl-fuzz",
            "cargo fuzz run",
            "-dict=t.f/t.f.dict",
            "| 2 (1) |",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
    }
}
