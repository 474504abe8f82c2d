//! The fuzz kit's Dark Tower formats: seeds are what their names say, the decoder never panics and
//! is deterministic (on the committed fuzz corpora and on mutations), most mutations of valid seeds
//! still decode and most change the bytes, the decoders agree with the byte vectors (the second
//! oracle), and the network fuzzer's layouts are the ones the formats use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use handshake_darktower_wire::formats::{layout, FORMATS};
use handshake_formats::arbitrary::Unstructured;
use handshake_formats::bytes::seeded_bytes;
use handshake_formats::{find, mutate, WireFormat};
use serde_json::Value;

const IDS: [&str; 5] = [
    "darktower.header",
    "darktower.frame_v1",
    "darktower.frame_v2",
    "darktower.signaling",
    "darktower.media_auth",
];

fn format(id: &str) -> &'static WireFormat {
    find(FORMATS, id).unwrap_or_else(|| panic!("no format {id}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn the_formats_are_the_kits_five_in_order() {
    let ids: Vec<&str> = FORMATS.iter().map(|f| f.id).collect();
    assert_eq!(ids, IDS);
    assert!(FORMATS
        .iter()
        .all(|f| f.family() == "darktower" && !f.about.is_empty()));
}

#[test]
fn every_seed_is_what_its_name_says() {
    for f in FORMATS {
        let seeds = (f.seeds)();
        let names: BTreeSet<&str> = seeds.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names.len(), seeds.len(), "{}: seed names repeat", f.id);
        assert!(
            seeds.iter().filter(|s| s.is_invalid()).count() >= 5,
            "{}",
            f.id
        );
        assert!(
            seeds.iter().filter(|s| !s.is_invalid()).count() >= 8,
            "{}",
            f.id
        );
        for seed in &seeds {
            let verdict = (f.decode)(&seed.bytes);
            assert_eq!(
                verdict.ok,
                !seed.is_invalid(),
                "{} seed {}: {verdict:?}",
                f.id,
                seed.name
            );
            assert_eq!(
                verdict.ok,
                verdict.error.is_none(),
                "{} {}",
                f.id,
                seed.name
            );
            assert_eq!(verdict.ok, verdict.kind.is_some(), "{} {}", f.id, seed.name);
        }
    }
}

#[test]
fn seeds_cover_every_kind() {
    let kinds = |id: &str| -> BTreeSet<String> {
        let f = format(id);
        (f.seeds)()
            .iter()
            .filter_map(|s| (f.decode)(&s.bytes).kind)
            .collect()
    };
    assert_eq!(
        kinds("darktower.header"),
        ["audio", "video"].map(String::from).into()
    );
    let frame_types: BTreeSet<String> = ["audio", "video_key", "video_delta"]
        .map(String::from)
        .into();
    assert_eq!(kinds("darktower.frame_v1"), frame_types);
    assert_eq!(kinds("darktower.frame_v2"), frame_types);
    // Every case of both wrappers appears in some signaling seed.
    let f = format("darktower.signaling");
    let mut cases = BTreeSet::new();
    for seed in (f.seeds)() {
        let v = (f.decode)(&seed.bytes);
        for m in v
            .fields
            .get("messages")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            cases.insert(format!(
                "{}:{}",
                v.fields["direction"].as_str().unwrap_or(""),
                m["case"].as_str().unwrap_or("")
            ));
        }
    }
    for case in [
        "client:join_request",
        "client:publish_stream",
        "client:subscribe_stream",
        "client:unsubscribe_stream",
        "client:stream_quality_update",
        "server:join_response",
        "server:participant_joined",
        "server:participant_left",
        "server:stream_published",
        "server:stream_quality_update",
        "server:error",
    ] {
        assert!(cases.contains(case), "{case} not in {cases:?}");
    }
    let f = format("darktower.media_auth");
    let kinds: BTreeSet<String> = (f.seeds)()
        .iter()
        .filter_map(|s| (f.decode)(&s.bytes).kind)
        .collect();
    for kind in ["connect_request", "error", "jwt"] {
        assert!(kinds.contains(kind), "{kind} not in {kinds:?}");
    }
}

#[test]
fn dictionaries_are_not_empty() {
    for f in FORMATS {
        let tokens = (f.dictionary)();
        assert!(tokens.len() >= 5, "{}", f.id);
        assert!(tokens.iter().all(|t| !t.bytes.is_empty()), "{}", f.id);
    }
    let header = (format("darktower.header").dictionary)();
    assert!(header.iter().any(|t| t.bytes == b"DART"));
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../fuzz/corpus")
        .join(target);
    handshake_formats::kit::read_corpus(&dir).unwrap_or_else(|e| panic!("{e}"))
}

/// Every format decodes every file of every Dark Tower corpus (as is, and without the first byte,
/// which the stream targets use to cut the input into chunks) twice, the same way each time.
#[test]
fn decoding_the_fuzz_corpora_never_panics_and_is_deterministic() {
    let targets = [
        ("darktower_header", "darktower.header"),
        ("darktower_frame_v1", "darktower.frame_v1"),
        ("darktower_frame_v2", "darktower.frame_v2"),
        ("darktower_signaling", "darktower.signaling"),
        // No format is a whole media stream: it starts with a header, then v1 frames.
        ("darktower_media_stream", "darktower.header"),
    ];
    for (target, matching) in targets {
        let files = corpus(target);
        let mut accepted = 0;
        for (path, data) in &files {
            for input in [&data[..], data.get(1..).unwrap_or(&[])] {
                for f in FORMATS {
                    let first = (f.decode)(input);
                    assert_eq!(first, (f.decode)(input), "{} on {}", f.id, path.display());
                    accepted += usize::from(first.ok && f.id == matching);
                }
            }
        }
        assert!(
            accepted > 0,
            "{target}: {matching} accepts none of {} files",
            files.len()
        );
    }
}

/// 2,000 structure-aware mutations per format, from its valid seeds in turn.
#[test]
fn most_mutations_still_decode_and_most_differ() {
    for f in FORMATS {
        let seeds: Vec<Vec<u8>> = (f.seeds)()
            .into_iter()
            .filter(|s| !s.is_invalid())
            .map(|s| s.bytes)
            .collect();
        let (mut decoded, mut differ) = (0usize, 0usize);
        let rounds = 2_000u64;
        for n in 0..rounds {
            let seed = &seeds[n as usize % seeds.len()];
            let out = mutate(f, seed, 1 << 17, n);
            assert_eq!(
                out,
                mutate(f, seed, 1 << 17, n),
                "{} not deterministic",
                f.id
            );
            let verdict = (f.decode)(&out);
            assert_eq!(verdict, (f.decode)(&out));
            decoded += usize::from(verdict.ok);
            differ += usize::from(&out != seed);
        }
        eprintln!(
            "{}: {decoded} of {rounds} mutations decode, {differ} differ",
            f.id
        );
        // A media authentication message is mostly prefix and keys (a short ConnectRequest is nine
        // bytes, eight of them structure): the kit's byte havoc and dictionary rounds break it more
        // often than they break the others; about 35 % still decode.
        let floor = if f.id == "darktower.media_auth" {
            30
        } else {
            40
        };
        assert!(
            decoded * 100 >= floor * rounds as usize,
            "{}: {decoded} of {rounds} decode",
            f.id
        );
        assert!(
            differ * 100 >= 60 * rounds as usize,
            "{}: {differ} of {rounds} differ",
            f.id
        );
    }
}

#[test]
fn the_field_mutators_refuse_what_does_not_parse_and_change_what_does() {
    for f in FORMATS {
        let entropy = seeded_bytes(1, 256);
        let mut garbage = vec![0xff; 3];
        assert!(
            !(f.mutate)(&mut garbage, &mut Unstructured::new(&entropy)).expect("entropy"),
            "{}",
            f.id
        );
        assert_eq!(garbage, [0xff; 3]);
        let mut changed = 0;
        let seeds: Vec<_> = (f.seeds)()
            .into_iter()
            .filter(|s| !s.is_invalid())
            .collect();
        for (n, seed) in seeds.iter().enumerate() {
            let entropy = seeded_bytes(n as u64, 256);
            let mut bytes = seed.bytes.clone();
            let changed_a_field =
                (f.mutate)(&mut bytes, &mut Unstructured::new(&entropy)).expect("entropy");
            changed += usize::from(changed_a_field && bytes != seed.bytes);
        }
        assert!(
            changed * 4 > seeds.len() * 3,
            "{}: {changed} of {} changed",
            f.id,
            seeds.len()
        );
    }
}

#[test]
fn the_network_fuzzers_layouts_are_the_formats_fields() {
    // Header magic, version, stream type at 0, 4, 5; v1 frame payload length at 34 (+32 on a new
    // stream); v2 stream id at 10.
    assert_eq!(&layout::MEDIA_FIELDS[..3], &[(0, 4), (4, 1), (5, 1)]);
    assert!(layout::MEDIA_FIELDS.contains(&(32 + 34, 4)));
    assert!(layout::FRAME_FIELDS.contains(&(34, 4)));
    assert!(layout::DATAGRAM_FIELDS.contains(&(10, 4)));
    let seed = &(format("darktower.frame_v2").seeds)()[0].bytes;
    let changed = (0..50).any(|n| {
        let entropy = seeded_bytes(n, 64);
        let mut b = seed.clone();
        layout::mutate_frame_v2_fields(&mut b, &mut Unstructured::new(&entropy)).expect("entropy")
            && b != *seed
            && b.len() == seed.len()
    });
    assert!(changed);
}

fn vector_cases(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../vectors/darktower")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).expect("vector JSON");
    json["cases"].as_array().expect("cases").clone()
}

/// The binary formats' verdicts agree with the vectors, accepted fields included.
#[test]
fn media_verdicts_agree_with_the_vectors() {
    let files = [
        (
            "stream_headers.json",
            "darktower.header",
            "stream_type_name",
            &[
                "version",
                "stream_type",
                "stream_id",
                "codec_hex",
                "codec_known",
                "reserved_hex",
            ][..],
        ),
        (
            "frames_v1.json",
            "darktower.frame_v1",
            "frame_type_name",
            &[
                "frame_type",
                "stream_id",
                "timestamp_us",
                "sequence",
                "payload_length",
                "flags",
                "end_of_frame",
                "discardable",
                "reserved_flag_bits",
                "reserved_hex",
                "payload_hex",
                "frame_length",
            ][..],
        ),
        (
            "frames_v2.json",
            "darktower.frame_v2",
            "frame_type_name",
            &[
                "frame_type",
                "user_id",
                "stream_id",
                "timestamp_us",
                "sequence",
                "payload_length",
                "flags",
                "reserved_flag_bits",
                "payload_hex",
                "frame_length",
                "trailing_bytes",
            ][..],
        ),
    ];
    for (file, id, kind_key, keys) in files {
        let f = format(id);
        let cases = vector_cases(file);
        assert!(cases.len() > 20, "{file}");
        for case in cases {
            let name = case["id"].as_str().unwrap_or_default();
            // DT3 needs the stream header, which a lone frame does not have.
            if case["expect"]["error"]["kind"] == "stream_id_mismatch" {
                continue;
            }
            let verdict = (f.decode)(&unhex(case["hex"].as_str().expect("hex")));
            let ok = &case["expect"]["ok"];
            assert_eq!(verdict.ok, ok.is_object(), "{file} {name}: {verdict:?}");
            if verdict.ok {
                assert_eq!(
                    verdict.kind.as_deref(),
                    ok[kind_key].as_str(),
                    "{file} {name}"
                );
                for key in keys {
                    assert_eq!(
                        verdict.fields.get(*key),
                        ok.get(*key),
                        "{file} {name} {key}"
                    );
                }
            }
        }
    }
}

/// Every signaling encoding reads (a client one after the JoinRequest DT6 puts first), the framing
/// errors and FINs inside a message are refused; every media authentication message reads.
#[test]
fn protobuf_verdicts_agree_with_the_vectors() {
    let signaling = format("darktower.signaling");
    let join = unhex("000000080a060a016d120174");
    let mut checked = 0;
    for case in vector_cases("signaling.json") {
        let name = case["id"].as_str().unwrap_or_default();
        if let Some(framed) = case["framed_hex"].as_str() {
            let framed = unhex(framed);
            let client = case["direction"] == "client";
            let stream = if client && !name.starts_with("client_join_request") {
                [join.clone(), framed].concat()
            } else {
                framed
            };
            let v = (signaling.decode)(&stream);
            assert!(v.ok, "{name}: {v:?}");
            if client {
                assert_eq!(v.fields["direction"], "client", "{name}");
            }
            checked += 1;
        } else if case["fin"] == true {
            let stream: Vec<u8> = case["chunks"]
                .as_array()
                .expect("chunks")
                .iter()
                .flat_map(|c| unhex(c.as_str().expect("hex")))
                .collect();
            let v = (signaling.decode)(&stream);
            let end = &case["expect"]["end"];
            if end == "fin" {
                let error = v.error.clone().unwrap_or_default();
                assert!(!error.starts_with("framing"), "{name}: {v:?}");
            } else {
                assert!(!v.ok, "{name}: {v:?}");
            }
            checked += 1;
        }
    }
    assert!(checked > 40, "{checked}");

    let auth = format("darktower.media_auth");
    for case in vector_cases("media_auth.json") {
        let name = case["id"].as_str().unwrap_or_default();
        let Some(framed) = case["framed_hex"].as_str() else {
            // The decode-only case (an unknown field alone) is no ConnectRequest.
            let body = unhex(case["protobuf_hex"].as_str().expect("protobuf"));
            let mut framed = u32::try_from(body.len())
                .expect("len")
                .to_be_bytes()
                .to_vec();
            framed.extend(body);
            assert!(!(auth.decode)(&framed).ok, "{name}");
            continue;
        };
        let v = (auth.decode)(&unhex(framed));
        assert!(v.ok, "{name}: {v:?}");
        let expected = case["message"]
            .as_object()
            .and_then(|m| m.keys().next().cloned());
        let reading = if v.fields["direction"] == "either" && case["direction"] == "server" {
            v.fields["as_server"]["case"].as_str().map(str::to_owned)
        } else {
            v.kind.clone()
        };
        assert_eq!(reading, expected, "{name}");
    }
}
