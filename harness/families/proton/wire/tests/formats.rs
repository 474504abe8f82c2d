//! The fuzz kit's `proton.stream`: its seeds say truly whether the reader refuses them, its
//! decoder never panics and agrees with the vectors, its mutations mostly keep a stream readable
//! and change it.

use std::path::PathBuf;

use handshake_formats::arbitrary::Unstructured;
use handshake_formats::bytes::seeded_bytes;
use handshake_formats::{find, mutate, Verdict};
use handshake_proton_wire::formats::{
    mutate_written_bytes, BOUNDARY_U32S, DISCRIMINATOR_BYTES, FORMATS, STREAM,
};
use serde_json::{json, Value};

fn decode(bytes: &[u8]) -> Verdict {
    (STREAM.decode)(bytes)
}

#[test]
fn the_format_is_listed_under_its_id() {
    assert_eq!(FORMATS.len(), 1);
    assert!(find(FORMATS, "proton.stream").is_some());
    assert_eq!(STREAM.family(), "proton");
}

#[test]
fn every_seed_is_refused_exactly_when_named_invalid() {
    let seeds = (STREAM.seeds)();
    assert!(seeds.iter().any(|s| s.is_invalid()));
    for kind in ["event", "state_commit", "action", "reset"] {
        assert!(
            seeds
                .iter()
                .any(|s| decode(&s.bytes).kind.as_deref() == Some(kind)),
            "no seed of kind {kind}"
        );
    }
    for seed in &seeds {
        let verdict = decode(&seed.bytes);
        assert_eq!(verdict.ok, !seed.is_invalid(), "{}: {verdict:?}", seed.name);
        assert_eq!(verdict.error.is_some(), seed.is_invalid(), "{}", seed.name);
    }
}

#[test]
fn a_stream_decodes_to_its_discriminator_messages_and_end() {
    let v = decode(&[1, 1, 0, 0, 0, 5, 0, 0, 0]);
    assert!(v.ok);
    assert_eq!(v.kind.as_deref(), Some("event"));
    assert_eq!(v.fields["discriminator"], json!(1));
    assert_eq!(v.fields["messages"], json!([1, 5]));
    assert_eq!(v.fields["pending_bytes"], json!(0));
    // As coded, a FIN after setup ends a read early: code 5, even at a boundary.
    assert_eq!(v.fields["fin_close_code"], json!(5));
    assert_eq!(v.fields["event_order_violation"], Value::Null);

    let cut = decode(&[2, 42, 0, 0, 0, 7, 0]);
    assert!(!cut.ok);
    assert_eq!(cut.kind.as_deref(), Some("state_commit"));
    assert_eq!(cut.fields["messages"], json!([42]));
    assert_eq!(cut.fields["pending_bytes"], json!(2));
    assert_eq!(
        cut.error.as_deref(),
        Some("FIN inside a u32 (2 of 4 bytes)")
    );

    let unknown = decode(&[0xfe, 1, 0, 0, 0]);
    assert!(!unknown.ok && unknown.kind.is_none());
    assert_eq!(unknown.fields["discriminator"], json!(0xfe));
    assert_eq!(unknown.fields["unread_bytes"], json!(4));
    assert_eq!(unknown.fields["fin_close_code"], json!(1));
    assert_eq!(unknown.error.as_deref(), Some("unknown discriminator 0xfe"));

    let empty = decode(&[]);
    assert!(!empty.ok);
    assert_eq!(empty.error.as_deref(), Some("FIN before the discriminator"));
    assert_eq!(empty.fields["fin_close_code"], json!(1));
}

#[test]
fn an_event_id_out_of_order_is_reported_not_refused() {
    let v = decode(&[1, 2, 0, 0, 0, 2, 0, 0, 0]);
    assert!(v.ok, "the stream layer does not judge event ids");
    let violation = &v.fields["event_order_violation"];
    assert_eq!(violation["index"], json!(1));
    assert_eq!(violation["id"], json!(2));
    assert_eq!(violation["previous"], json!(2));
    assert_eq!(violation["close_code"], json!(5));
    // Other streams' values are not event ids.
    assert!(decode(&[2, 0, 0, 0, 0])
        .fields
        .get("event_order_violation")
        .is_none());
}

/// The vectors' streams that end in a FIN: accepted exactly where the vector ends at `fin`.
#[test]
fn the_decoder_agrees_with_the_stream_vectors() {
    let path = format!(
        "{}/../../../../vectors/proton/streams.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut checked = 0;
    for case in doc["streams"].as_array().expect("streams") {
        if case["fin"] != json!(true) {
            continue;
        }
        let hex: String = case["chunks"]
            .as_array()
            .expect("chunks")
            .iter()
            .map(|c| c.as_str().expect("hex chunk"))
            .collect();
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let verdict = decode(&bytes);
        assert_eq!(
            verdict.ok,
            case["expect"]["end"] == json!("fin"),
            "{}: {verdict:?}",
            case["name"]
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked} vectors");
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../fuzz/corpus/proton_stream_reader");
    let files = handshake_formats::kit::read_corpus(&dir).unwrap_or_else(|e| panic!("{e}"));
    files.into_iter().map(|(_, bytes)| bytes).collect()
}

#[test]
fn decoding_the_corpus_never_panics_and_is_deterministic() {
    for data in corpus() {
        // The fuzz target's first byte shapes its chunks; the kit reads it all as one stream.
        for bytes in [&data[..], data.get(1..).unwrap_or_default()] {
            assert_eq!(decode(bytes), decode(bytes));
            let mut field_mutated = bytes.to_vec();
            let entropy = seeded_bytes(bytes.len() as u64, 64);
            let parsed = (STREAM.mutate)(&mut field_mutated, &mut Unstructured::new(&entropy))
                .expect("entropy");
            assert_eq!(parsed, !bytes.is_empty());
        }
    }
}

#[test]
fn mutations_never_panic_mostly_decode_and_mostly_differ() {
    let seeds = (STREAM.seeds)();
    let valid: Vec<_> = seeds.iter().filter(|s| !s.is_invalid()).collect();
    let (mut total, mut decoded, mut differ) = (0usize, 0usize, 0usize);
    for round in 0..2000u64 {
        let seed = &seeds[round as usize % seeds.len()];
        let out = mutate(&STREAM, &seed.bytes, 4096, round);
        assert_eq!(
            out,
            mutate(&STREAM, &seed.bytes, 4096, round),
            "not deterministic"
        );
        let verdict = decode(&out);
        assert_eq!(verdict, decode(&out));
        if !seed.is_invalid() {
            total += 1;
            decoded += usize::from(verdict.ok);
            differ += usize::from(out != seed.bytes);
        }
    }
    assert!(valid.len() > 10);
    assert!(decoded * 100 >= total * 40, "{decoded} of {total} decode");
    assert!(differ * 2 > total, "{differ} of {total} differ");
}

#[test]
fn the_field_mutator_changes_one_field_and_declines_empty_input() {
    let base = vec![1, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0];
    let mut reached_discriminators = std::collections::BTreeSet::new();
    let mut cut_inside = 0;
    let mut differ = 0;
    for seed in 0..300 {
        let entropy = seeded_bytes(seed, 64);
        let mut u = Unstructured::new(&entropy);
        let mut b = base.clone();
        assert!((STREAM.mutate)(&mut b, &mut u).expect("entropy"));
        differ += usize::from(b != base);
        reached_discriminators.insert(b[0]);
        cut_inside += usize::from(decode(&b).error.is_some_and(|e| e.contains("inside")));
        let mut empty = Vec::new();
        assert!(!(STREAM.mutate)(&mut empty, &mut u).unwrap_or(false));
        assert!(empty.is_empty());
    }
    assert!(differ > 250, "{differ}");
    assert!(cut_inside > 0);
    assert_eq!(reached_discriminators.len(), DISCRIMINATOR_BYTES.len());
}

#[test]
fn the_dictionary_holds_the_discriminators_and_boundary_u32s() {
    let tokens = (STREAM.dictionary)();
    assert!(!tokens.is_empty());
    for b in DISCRIMINATOR_BYTES {
        assert!(tokens.iter().any(|t| t.bytes == [b]), "{b:#04x}");
    }
    for v in BOUNDARY_U32S {
        assert!(tokens.iter().any(|t| t.bytes == v.to_le_bytes()), "{v}");
    }
}

#[test]
fn written_bytes_get_a_discriminator_or_an_aligned_boundary_u32() {
    let mut saw_u32 = false;
    for seed in 0..100 {
        let entropy = seeded_bytes(seed, 16);
        let mut u = Unstructured::new(&entropy);
        let mut one = [0x01];
        assert!(mutate_written_bytes(&mut one, &mut u).expect("entropy"));
        assert!(DISCRIMINATOR_BYTES.contains(&one[0]));
        let mut eight = [0xaa; 8];
        if mutate_written_bytes(&mut eight, &mut u).expect("entropy") {
            saw_u32 = true;
            let words: Vec<u32> = eight
                .chunks_exact(4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
                .collect();
            assert!(words.iter().any(|w| BOUNDARY_U32S.contains(w)), "{eight:?}");
            assert!(words.contains(&0xaaaa_aaaa), "only one word changes");
        }
        let mut three = [0xaa; 3];
        assert!(!mutate_written_bytes(&mut three, &mut u).expect("entropy"));
    }
    assert!(saw_u32);
}
