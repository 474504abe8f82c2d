//! The fuzz kit's mutator library (issue 77): every family's wire formats, for people fuzzing their
//! own parsers in process.
//!
//! Two faces over one list of formats (the families' `FORMATS`, concatenated in [`FAMILIES`]):
//!
//! * **Rust**, for cargo-fuzz targets: [`format()`] by id, [`mutate`] / [`cross_over`] (structure-aware:
//!   the format's field mutator where the input parses, dictionary tokens and byte havoc where it
//!   does not), [`mutate_in_place`] in the shape `libfuzzer_sys::fuzz_mutator!` wants, and the
//!   reference decoder as [`decode`] / [`decode_json`] for a differential check.
//! * **C** (feature `c-abi`, on by default; module `ffi`), built as `libhandshake_mutator.so`:
//!   libFuzzer's `LLVMFuzzerCustomMutator` / `LLVMFuzzerCustomCrossOver`, AFL++'s
//!   `afl_custom_init` / `afl_custom_fuzz` / `afl_custom_deinit`, and `hh_decode`. The header is
//!   `include/handshake_mutator.h`. The fuzzers' hooks take no format argument, so the format is the
//!   environment variable [`FORMAT_ENV`] (`HANDSHAKE_FORMAT`), read once.
//!
//! Everything is deterministic: the same input and seed give the same mutation.
#![warn(missing_docs)]

#[cfg(feature = "c-abi")]
#[allow(unsafe_code)]
pub mod ffi;

use std::sync::OnceLock;

pub use handshake_formats::{verdict_json, Verdict, WireFormat};

/// Every family's formats, one slice per family, as each wire crate lists them (no id is declared
/// twice: the families own their lists).
pub const FAMILIES: &[&[WireFormat]] = &[
    #[cfg(feature = "mediastream")]
    handshake_mediastream_wire::formats::FORMATS,
    #[cfg(feature = "proton")]
    handshake_proton_wire::formats::FORMATS,
    #[cfg(feature = "darktower")]
    handshake_darktower_wire::formats::FORMATS,
];

/// Every format of every family, in family order.
pub fn formats() -> impl Iterator<Item = &'static WireFormat> + Clone {
    FAMILIES.iter().flat_map(|family| family.iter())
}

/// The format named `id` (`mediastream.datagram`, `proton.stream`, …).
pub fn format(id: &str) -> Option<&'static WireFormat> {
    formats().find(|f| f.id == id)
}

/// Every format's id, comma-separated: what a message about a wrong id lists.
pub fn format_ids() -> String {
    formats().map(|f| f.id).collect::<Vec<_>>().join(", ")
}

/// An id that names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format `{id}`; the formats are: {}", format_ids())]
pub struct UnknownFormat {
    /// The id asked for.
    pub id: String,
}

/// A format given by value or by id: [`mutate`], [`cross_over`], [`decode`] and [`decode_json`]
/// take either. By value (a family's `&WireFormat`, or one of one's own in a test) they cannot
/// fail and return their result as it is; by id (`"mediastream.datagram"`) they return it in a
/// `Result` whose error is [`UnknownFormat`].
pub trait AsFormat {
    /// What a function returning `T` returns for this kind of argument: `T` by value,
    /// `Result<T, UnknownFormat>` by id.
    type Output<T>;

    /// Runs `f` on the format.
    fn with_format<T>(&self, f: impl FnOnce(&WireFormat) -> T) -> Self::Output<T>;
}

impl AsFormat for WireFormat {
    type Output<T> = T;

    fn with_format<T>(&self, f: impl FnOnce(&WireFormat) -> T) -> T {
        f(self)
    }
}

impl AsFormat for str {
    type Output<T> = Result<T, UnknownFormat>;

    fn with_format<T>(&self, f: impl FnOnce(&WireFormat) -> T) -> Result<T, UnknownFormat> {
        format(self)
            .map(f)
            .ok_or_else(|| UnknownFormat { id: self.into() })
    }
}

impl AsFormat for String {
    type Output<T> = Result<T, UnknownFormat>;

    fn with_format<T>(&self, f: impl FnOnce(&WireFormat) -> T) -> Result<T, UnknownFormat> {
        self.as_str().with_format(f)
    }
}

/// One structure-aware mutation of `data`, at most `max_len` bytes, the same for the same `seed`
/// ([`handshake_formats::mutate`]): a `Vec<u8>` for a format by value, a `Result` for an id.
pub fn mutate<F: AsFormat + ?Sized>(
    format: &F,
    data: &[u8],
    max_len: usize,
    seed: u64,
) -> F::Output<Vec<u8>> {
    format.with_format(|f| handshake_formats::mutate(f, data, max_len, seed))
}

/// One cross-over of `a` and `b`, at most `max_len` bytes ([`handshake_formats::cross_over`]).
pub fn cross_over<F: AsFormat + ?Sized>(
    format: &F,
    a: &[u8],
    b: &[u8],
    max_len: usize,
    seed: u64,
) -> F::Output<Vec<u8>> {
    format.with_format(|f| handshake_formats::cross_over(f, a, b, max_len, seed))
}

/// libFuzzer's custom-mutator shape: mutates `buf[..size]` in place and returns the new size, at
/// most `max_size` and at most `buf.len()` (`libfuzzer_sys::fuzz_mutator!` hands over the whole
/// buffer, so `buf.len()` is `max_size` there).
pub fn mutate_in_place(
    format: &WireFormat,
    buf: &mut [u8],
    size: usize,
    max_size: usize,
    seed: u64,
) -> usize {
    let limit = max_size.min(buf.len());
    let input = buf.get(..size.min(buf.len())).unwrap_or_default();
    let out = handshake_formats::mutate(format, input, limit, seed);
    copy_front(&out, buf)
}

/// libFuzzer's custom cross-over shape: writes a cross-over of `a` and `b` into the front of `out`
/// and returns its length (at most `out.len()`).
pub fn cross_over_into(
    format: &WireFormat,
    a: &[u8],
    b: &[u8],
    out: &mut [u8],
    seed: u64,
) -> usize {
    let joined = handshake_formats::cross_over(format, a, b, out.len(), seed);
    copy_front(&joined, out)
}

/// Copies as much of `src` as fits into the front of `dst`; the bytes copied.
fn copy_front(src: &[u8], dst: &mut [u8]) -> usize {
    let n = src.len().min(dst.len());
    if let (Some(to), Some(from)) = (dst.get_mut(..n), src.get(..n)) {
        to.copy_from_slice(from);
    }
    n
}

/// The reference decoder's verdict on `bytes` (`ok`, `kind`, `fields`, `error`): a [`Verdict`]
/// for a format by value, `Result<Verdict, UnknownFormat>` for an id.
pub fn decode<F: AsFormat + ?Sized>(format: &F, bytes: &[u8]) -> F::Output<Verdict> {
    format.with_format(|f| (f.decode)(bytes))
}

/// The verdict as the one JSON line `harness decode` and `hh_decode` print.
pub fn decode_json<F: AsFormat + ?Sized>(format: &F, bytes: &[u8]) -> F::Output<String> {
    format.with_format(|f| verdict_json(&(f.decode)(bytes)))
}

/// The environment variable naming the format the fuzzers' hooks mutate (they take no format
/// argument): a format id such as `mediastream.datagram`.
pub const FORMAT_ENV: &str = "HANDSHAKE_FORMAT";

/// Why [`FORMAT_ENV`] names no format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatEnvError {
    /// The variable is not set.
    #[error(
        "{FORMAT_ENV} is not set; set it to the format your target parses, one of: {}",
        format_ids()
    )]
    Unset,
    /// The variable is not valid Unicode.
    #[error(
        "{FORMAT_ENV} is not valid Unicode; set it to one of: {}",
        format_ids()
    )]
    NotUnicode,
    /// The variable names no format.
    #[error("{FORMAT_ENV}: {0}")]
    Unknown(#[from] UnknownFormat),
}

/// The format [`FORMAT_ENV`] names, read from the environment on the first call only (a campaign's
/// format does not change under it).
pub fn format_from_env() -> Result<&'static WireFormat, FormatEnvError> {
    static CONFIGURED: OnceLock<Result<&'static WireFormat, FormatEnvError>> = OnceLock::new();
    CONFIGURED
        .get_or_init(|| {
            let id = std::env::var(FORMAT_ENV).map_err(|e| match e {
                std::env::VarError::NotPresent => FormatEnvError::Unset,
                std::env::VarError::NotUnicode(_) => FormatEnvError::NotUnicode,
            })?;
            format(&id).ok_or(FormatEnvError::Unknown(UnknownFormat { id }))
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use handshake_formats::{InputUnit, Seed, Token};
    use std::collections::BTreeSet;

    /// A format of one's own: exactly two bytes, type then value.
    fn decode_pair(bytes: &[u8]) -> Verdict {
        match bytes {
            [t, v] => {
                let mut fields = serde_json::Map::new();
                fields.insert("type".into(), (*t).into());
                fields.insert("value".into(), (*v).into());
                Verdict::accepted("pair", fields)
            }
            _ => Verdict::refused(None, serde_json::Map::new(), "not two bytes"),
        }
    }

    const PAIR: WireFormat = WireFormat {
        id: "test.pair",
        about: "two bytes",
        unit: InputUnit::Message,
        decode: decode_pair,
        mutate: |bytes, u| {
            if bytes.len() != 2 {
                return Ok(false);
            }
            bytes[1] = u.arbitrary()?;
            Ok(true)
        },
        dictionary: || vec![Token::new("magic", *b"\x01\x02")],
        seeds: || vec![Seed::new("pair", [1, 2])],
    };

    /// The ids of issue 77, one list over the three families.
    #[cfg(all(feature = "mediastream", feature = "proton", feature = "darktower"))]
    const IDS: [&str; 8] = [
        "mediastream.datagram",
        "mediastream.tlv",
        "proton.stream",
        "darktower.header",
        "darktower.frame_v1",
        "darktower.frame_v2",
        "darktower.signaling",
        "darktower.media_auth",
    ];

    #[cfg(all(feature = "mediastream", feature = "proton", feature = "darktower"))]
    #[test]
    fn every_family_format_is_listed_once_and_found_by_id() {
        let ids: Vec<&str> = formats().map(|f| f.id).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(unique.len(), ids.len(), "an id twice: {ids:?}");
        assert_eq!(unique, IDS.into_iter().collect::<BTreeSet<_>>());
        for id in IDS {
            assert_eq!(format(id).map(|f| f.id), Some(id));
        }
        assert!(format("mediastream").is_none());
    }

    #[cfg(all(feature = "mediastream", feature = "proton", feature = "darktower"))]
    #[test]
    fn an_unknown_id_is_a_typed_error_that_lists_the_formats() {
        let err = decode("nope.none", b"x").expect_err("unknown");
        assert_eq!(err.id, "nope.none");
        let message = err.to_string();
        assert!(message.contains("`nope.none`") && message.contains("mediastream.datagram"));
        assert!(mutate("nope.none", b"x", 8, 1).is_err());
        assert!(cross_over(&String::from("nope.none"), b"x", b"y", 8, 1).is_err());
    }

    #[test]
    fn a_format_of_ones_own_works_by_value() {
        assert!(decode(&PAIR, &[1, 2]).ok);
        assert!(!decode(&PAIR, &[1]).ok);
        assert_eq!(
            decode_json(&PAIR, &[1, 2]),
            r#"{"ok":true,"kind":"pair","fields":{"type":1,"value":2},"error":null}"#
        );
        let a = mutate(&PAIR, &[1, 2], 16, 5);
        assert_eq!(a, mutate(&PAIR, &[1, 2], 16, 5));
        assert!((0..50).all(|s| mutate(&PAIR, &[1, 2], 3, s).len() <= 3));
        assert!(cross_over(&PAIR, &[1; 9], &[2; 9], 4, 1).len() <= 4);
    }

    #[test]
    fn in_place_mutation_stays_within_the_buffer_and_the_limit() {
        let mut changed = false;
        for seed in 0..200 {
            let mut buf = [0u8; 8];
            buf[..2].copy_from_slice(&[1, 2]);
            let n = mutate_in_place(&PAIR, &mut buf, 2, 5, seed);
            assert!(n <= 5);
            let mut again = [0u8; 8];
            again[..2].copy_from_slice(&[1, 2]);
            assert_eq!(mutate_in_place(&PAIR, &mut again, 2, 5, seed), n);
            assert_eq!(buf[..n], again[..n]);
            changed |= buf[..n] != [1, 2];
        }
        assert!(changed);
        // A size past the buffer is read as the whole buffer, never past it.
        let mut short = [1u8, 2];
        assert!(mutate_in_place(&PAIR, &mut short, 10, 10, 3) <= 2);
        let mut out = [0u8; 3];
        assert!(cross_over_into(&PAIR, &[1; 9], &[2; 9], &mut out, 7) <= 3);
    }

    #[test]
    fn the_real_formats_decode_their_own_seeds_as_named() -> Result<(), UnknownFormat> {
        for f in formats() {
            for seed in (f.seeds)() {
                let verdict = decode(f.id, &seed.bytes)?;
                assert_eq!(
                    verdict.ok,
                    !seed.is_invalid(),
                    "{} seed {}",
                    f.id,
                    seed.name
                );
                assert_eq!(decode_json(f, &seed.bytes), verdict_json(&verdict));
            }
        }
        Ok(())
    }

    #[test]
    fn mutating_a_real_format_is_deterministic_and_bounded() -> Result<(), UnknownFormat> {
        for f in formats() {
            let seeds = (f.seeds)();
            let Some(seed) = seeds.iter().find(|s| !s.is_invalid()) else {
                continue;
            };
            let max = seed.bytes.len() + 16;
            for s in 0..20 {
                let out = mutate(f.id, &seed.bytes, max, s)?;
                assert!(out.len() <= max, "{}", f.id);
                assert_eq!(out, mutate(f, &seed.bytes, max, s));
            }
        }
        Ok(())
    }
}
