//! The fuzz kit's media-stream formats: the seeds are what their names say, the decoders never
//! panic and are deterministic on the fuzz corpora and on mutations, and the mutations mostly keep
//! a datagram a datagram.

use std::collections::BTreeSet;
use std::path::Path;

use handshake_formats::{mutate, WireFormat};
use handshake_mediastream_wire::formats::{DATAGRAM, FORMATS, TLV};
use handshake_mediastream_wire::{flag, Kind, START};

/// Mutations per format (over all its seeds).
const MUTATIONS: u64 = 2_000;

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../fuzz/corpus")
        .join(name);
    let files = handshake_formats::kit::read_corpus(&dir).unwrap_or_else(|e| panic!("{e}"));
    files.into_iter().map(|(_, bytes)| bytes).collect()
}

fn decodes_deterministically(format: &WireFormat, bytes: &[u8]) -> bool {
    let verdict = (format.decode)(bytes);
    assert_eq!(
        verdict,
        (format.decode)(bytes),
        "{}: {bytes:02x?}",
        format.id
    );
    assert_eq!(
        verdict.ok,
        verdict.error.is_none(),
        "{}: {verdict:?}",
        format.id
    );
    verdict.ok
}

#[test]
fn the_list_is_the_two_formats() {
    let ids: Vec<&str> = FORMATS.iter().map(|f| f.id).collect();
    assert_eq!(ids, ["mediastream.datagram", "mediastream.tlv"]);
    assert!(FORMATS.iter().all(|f| f.family() == "mediastream"));
}

#[test]
fn every_seed_is_accepted_exactly_when_it_is_not_named_invalid() {
    for format in FORMATS {
        let seeds = (format.seeds)();
        let names: BTreeSet<&str> = seeds.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), seeds.len(), "{}: seed names repeat", format.id);
        assert!(seeds.iter().any(|s| s.is_invalid()), "{}", format.id);
        for seed in &seeds {
            let verdict = (format.decode)(&seed.bytes);
            assert_eq!(
                verdict.ok,
                !seed.is_invalid(),
                "{} {}: {verdict:?}",
                format.id,
                seed.name
            );
        }
    }
}

#[test]
fn the_datagram_seeds_cover_every_kind_and_control_frames_with_options() {
    let seeds = (DATAGRAM.seeds)();
    let kinds: BTreeSet<String> = seeds
        .iter()
        .filter_map(|s| (DATAGRAM.decode)(&s.bytes).kind.filter(|_| !s.is_invalid()))
        .collect();
    let want: BTreeSet<String> = Kind::ALL.iter().map(|k| k.name().to_owned()).collect();
    assert_eq!(kinds, want);
    let option_counts: BTreeSet<usize> = seeds
        .iter()
        .filter_map(|s| {
            let verdict = (DATAGRAM.decode)(&s.bytes);
            verdict.fields.get("options")?.as_array().map(Vec::len)
        })
        .collect();
    assert!(
        option_counts.is_superset(&[0, 1, 5].into()),
        "{option_counts:?}"
    );
    // Each kind one byte short of its minimum is refused as too short.
    for kind in Kind::ALL.iter().filter(|k| k.flag().is_some()) {
        let name = format!("invalid-short-{}", kind.name().replace('_', "-"));
        let seed = seeds
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!(seed.bytes.len(), kind.min_len() - 1, "{name}");
        let verdict = (DATAGRAM.decode)(&seed.bytes);
        assert_eq!(verdict.fields["error"], "too_short", "{name}: {verdict:?}");
        assert_eq!(verdict.kind.as_deref(), Some(kind.name()));
    }
}

#[test]
fn the_verdicts_name_kinds_fields_and_errors_as_the_crate_does() {
    let syn_ack = (DATAGRAM.seeds)()
        .into_iter()
        .find(|s| s.name == "syn-ack-all-options")
        .expect("the seed");
    let verdict = (DATAGRAM.decode)(&syn_ack.bytes);
    assert_eq!(verdict.kind.as_deref(), Some("syn_ack"));
    assert_eq!(verdict.fields["accept"], true);
    assert_eq!(verdict.fields["mode"], "legacy_accepting");
    let options = verdict.fields["options"].as_array().expect("options");
    assert_eq!(options[0]["name"], "frame_rate");
    assert_eq!(options[0]["length"], 4);
    assert_eq!(options[3]["value"], "H264");

    let start_nul = (DATAGRAM.decode)(b"START\0");
    assert!(!start_nul.ok && start_nul.kind.is_none());
    assert!(start_nul
        .error
        .as_deref()
        .is_some_and(|e| e.contains("0x5453")));

    let unknown = (TLV.decode)(&[0x7f, 2, 0, 0xab, 0xcd]);
    assert_eq!(unknown.kind.as_deref(), Some("options"));
    assert_eq!(unknown.fields["options"][0]["value"], "abcd");
    let bad = (TLV.decode)(&[1, 3, 0, 1, 2, 3]);
    assert_eq!(bad.fields["error"], "tlv_bad_length");
    assert_eq!(
        bad.error.as_deref(),
        Some("TLV option type 1 has length 3, expected 4")
    );
}

#[test]
fn decoding_the_fuzz_corpora_never_panics_and_is_deterministic() {
    let datagrams = corpus("mediastream_parse");
    let options = corpus("tlv_options");
    assert!(datagrams.len() > 10 && options.len() > 10);
    let accepted = datagrams
        .iter()
        .filter(|b| decodes_deterministically(&DATAGRAM, b))
        .count();
    assert!(accepted > 0 && accepted < datagrams.len(), "{accepted}");
    let accepted = options
        .iter()
        .filter(|b| decodes_deterministically(&TLV, b))
        .count();
    assert!(accepted > 0, "{accepted}");
    // Each corpus through the other format's decoder too: any bytes are an input.
    for b in datagrams.iter().chain(&options) {
        decodes_deterministically(&DATAGRAM, b);
        decodes_deterministically(&TLV, b);
    }
}

#[test]
fn mutations_of_valid_seeds_mostly_decode_and_mostly_change() {
    for format in FORMATS {
        let valid: Vec<_> = (format.seeds)()
            .into_iter()
            .filter(|s| !s.is_invalid())
            .collect();
        let (mut decode, mut differ) = (0u64, 0u64);
        for seed in 0..MUTATIONS {
            let input = &valid[seed as usize % valid.len()].bytes;
            let out = mutate(format, input, 4096, seed);
            assert_eq!(
                out,
                mutate(format, input, 4096, seed),
                "{}: not deterministic",
                format.id
            );
            decode += u64::from(decodes_deterministically(format, &out));
            differ += u64::from(&out != input);
        }
        assert!(
            decode * 100 >= MUTATIONS * 40,
            "{}: {decode} of {MUTATIONS} decode",
            format.id
        );
        assert!(
            differ * 2 > MUTATIONS,
            "{}: {differ} of {MUTATIONS} differ",
            format.id
        );
    }
}

#[test]
fn mutating_invalid_seeds_never_panics() {
    for format in FORMATS {
        for (i, seed) in (format.seeds)()
            .iter()
            .filter(|s| s.is_invalid())
            .enumerate()
        {
            for s in 0..50 {
                let out = mutate(format, &seed.bytes, 4096, (i as u64) << 16 | s);
                decodes_deterministically(format, &out);
            }
        }
    }
}

#[test]
fn the_dictionaries_hold_start_the_flags_and_option_headers() {
    let datagram: Vec<Vec<u8>> = (DATAGRAM.dictionary)()
        .into_iter()
        .map(|t| t.bytes)
        .collect();
    assert!(datagram.contains(&START.to_vec()));
    for value in [
        flag::SYN,
        flag::SYN_ACK,
        flag::ACK,
        flag::CONNECTION_ID,
        flag::DATA_FRAG,
    ] {
        assert!(
            datagram.contains(&value.to_le_bytes().to_vec()),
            "{value:#06x}"
        );
    }
    let tlv: Vec<Vec<u8>> = (TLV.dictionary)().into_iter().map(|t| t.bytes).collect();
    assert!(tlv.contains(&vec![1, 4, 0]), "frame rate's header");
    assert!(
        tlv.contains(&100_000u32.to_le_bytes().to_vec()),
        "frame rate's limit"
    );
    assert!(tlv.contains(&b"H264".to_vec()));
    assert!(tlv.iter().all(|t| !t.is_empty()));
}
