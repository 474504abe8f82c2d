//! Network fuzzing (`harness fuzz`): the media stream's liveness probe and what its mutator knows
//! of the datagram layouts (mediastream.md "Wire facts", D14's TLV options).

use handshake_netfuzz::arbitrary::{self, Unstructured};
use handshake_netfuzz::layout::{self, hex_of, hex_value, leaf_mut};
use serde_json::{json, Value};

/// The peer port the probe's fresh session comes from (no library scenario uses it).
const PROBE_PORT: u16 = 50_999;

/// A responder is alive when a fresh initiator on another port gets any answer to its opening
/// datagram (a SYN; a START where the scenario is about legacy discovery): a SYN-ACK, a refusal,
/// a CONNECTION_ID or media. An initiator IUT opens its own session: no probe.
pub fn liveness_probe(scenario: &Value) -> Option<Vec<Value>> {
    if scenario["iut"]["role"] != "responder" {
        return None;
    }
    let legacy = scenario["iut"]["requires"].as_array().is_some_and(|r| {
        r.iter()
            .any(|f| f == "legacy_start" || f == "allow_legacy_start")
    });
    let opening = if legacy {
        json!({ "start": {} })
    } else {
        json!({ "syn": {} })
    };
    Some(vec![
        json!({ "send": { "datagram": opening, "from_port": PROBE_PORT } }),
        json!({ "expect": { "kind": "any", "to_port": PROBE_PORT, "within_ms": 1000 } }),
    ])
}

/// D14's option types, known and not.
const OPTION_TYPES: [u64; 9] = [0, 1, 2, 3, 4, 5, 6, 0x7f, 0xff];

/// D14's option values at their edges, by option type: the reference's limits (a frame rate of
/// 1 to 100,000 frames/s, a buffer of up to an hour, a datagram from a bare header up to UDP's
/// 65,507 bytes), the defaults and the values beside them.
pub fn option_edges(option_type: u64) -> &'static [u64] {
    use handshake_mediastream_endpoint::{
        MAX_BUFFER_DEPTH_SECS, MAX_DATAGRAM_BYTE_SIZE, MAX_FRAME_RATE,
    };
    const FRAME_RATE: [u64; 4] = [1, 25, 30, MAX_FRAME_RATE as u64];
    const BITS_PER_SECOND: [u64; 4] = [1, 8, 1_000_000, u32::MAX as u64];
    const BUFFER_DEPTH_MS: [u64; 3] = [1, 1000, MAX_BUFFER_DEPTH_SECS as u64 * 1000];
    const DATAGRAM_BYTES: [u64; 5] = [26, 27, 42, 1400, MAX_DATAGRAM_BYTE_SIZE as u64];
    match option_type {
        1 => &FRAME_RATE,
        2 => &BITS_PER_SECOND,
        3 => &BUFFER_DEPTH_MS,
        5 => &DATAGRAM_BYTES,
        _ => &[],
    }
}

/// The flag values of the wire facts (and a START read as a flag).
const FLAGS: [u64; 8] = [
    0x0000, 0x0001, 0x0100, 0x0101, 0x0102, 0x1000, 0x5453, 0xffff,
];

/// Lengths at the parsers' boundaries: below a flag, a START, a header, a CONNECTION_ID, a
/// DATA+FRAG header, a control body.
const LENGTHS: [usize; 13] = [1, 2, 5, 25, 26, 27, 38, 39, 41, 42, 66, 67, 68];

/// Layout-aware mutations: TLV options (type u8, length u16 LE), and raw datagrams by their
/// fields (flag, control version/flags/reserved, sequence, fragment fields, length boundaries).
pub fn fuzz_value(
    _step: &str,
    path: &[String],
    body: &mut Value,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    // `{"raw": {"hex": …}}` is a raw datagram; `options_hex` a control datagram's options.
    let key = match path {
        [.., parent, leaf] if parent == "raw" && leaf == "hex" => "raw",
        [.., leaf] => leaf.as_str(),
        [] => return Ok(false),
    };
    let Some(leaf) = leaf_mut(body, path) else {
        return Ok(false);
    };
    let Some(mut bytes) = hex_of(leaf) else {
        return Ok(false);
    };
    match key {
        "options_hex" => {
            layout::mutate_tlvs(&mut bytes, 1, 2, false, &OPTION_TYPES, &option_edges, u)?
        }
        "raw" => match u.int_in_range(0u8..=3)? {
            0 if bytes.len() >= 2 => {
                layout::put_uint(&mut bytes, 0, 2, false, *u.choose(&FLAGS)?);
            }
            1 => {
                let len = *u.choose(&LENGTHS)?;
                bytes.resize(len, 0);
            }
            2 if bytes.len() > 67 => {
                let mut options = bytes.split_off(67);
                layout::mutate_tlvs(&mut options, 1, 2, false, &OPTION_TYPES, &option_edges, u)?;
                bytes.extend_from_slice(&options);
            }
            _ => {
                // seq @2, QPC @10, QPF @18 (u64); control version @26, flags @27, reserved @28;
                // DATA+FRAG offset @26, total @34.
                let fields = [(2, 8), (10, 8), (18, 8), (26, 1), (27, 1), (28, 2), (34, 8)];
                if !layout::mutate_header_field(&mut bytes, &fields, false, u)? {
                    return Ok(false);
                }
            }
        },
        _ => return Ok(false),
    }
    *leaf = hex_value(&bytes);
    Ok(true)
}

/// Connection ids a fuzz input may name (a fresh one each time), and D14 options to start from:
/// each type alone, two together and all five, with a typical value (frame rate 30, 1 Mbit/s, buffer 100 ms, codec `H264`,
/// 1400-byte datagrams), which the layout mutations then change.
pub fn fuzz_text(_step: &str, path: &[String]) -> Vec<String> {
    match path.last().map(String::as_str) {
        Some("id") => vec!["$fresh".into()],
        Some("options_hex") => [
            "0104001e000000",
            "02080040420f0000000000",
            "03040064000000",
            "04040048323634",
            "05040078050000",
            "0104001e00000005040078050000",
            // All five, as an initiator asking for a whole stream would send them.
            "0104001e00000002080040420f0000000000030400640000000404004832363405040078050000",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect(),
        _ => Vec::new(),
    }
}

/// What `harness fuzz` knows of the family's layouts.
pub const HOOKS: handshake_scenario::FuzzHooks = handshake_scenario::FuzzHooks {
    liveness_probe,
    value: fuzz_value,
    text: fuzz_text,
    edges: handshake_scenario::FuzzHooks::NONE.edges,
    // A responder serves 8 runs at once: against the Python responder 64 jobs ran 283 inputs/s,
    // 32 jobs 170; over both roles, where initiators start a process each, 64 jobs ran a median
    // 203 and 96 no more (docs/src/benchmarks.md).
    kept_jobs_per_core: 32,
    kept_probe_every: handshake_scenario::FuzzHooks::NONE.kept_probe_every,
    fold: handshake_scenario::FuzzHooks::NONE.fold,
    kit_inputs: crate::kit::inputs,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Every raw datagram and every options field the library's send steps carry (the skeletons'
    /// bytes) is one the layout mutations change: a spelling the mutator does not recognise
    /// would leave those bytes as the library wrote them for every input.
    #[test]
    fn the_layouts_reach_every_raw_and_options_field_of_the_library() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../../vectors/scenarios/mediastream");
        let mut leaves = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("library") {
            let text = std::fs::read_to_string(entry.expect("entry").path()).expect("scenario");
            let scenario: Value = serde_json::from_str(&text).expect("json");
            for step in scenario["peer"]["steps"].as_array().into_iter().flatten() {
                let datagram = &step["send"]["datagram"];
                if datagram["raw"]["hex"].is_string() {
                    leaves.push((step["send"].clone(), vec!["datagram", "raw", "hex"]));
                }
                for kind in ["syn", "syn_ack", "ack"] {
                    if datagram[kind]["options_hex"].is_string() {
                        leaves.push((step["send"].clone(), vec!["datagram", kind, "options_hex"]));
                    }
                }
            }
        }
        assert!(leaves.len() >= 10, "{}", leaves.len());
        for (body, path) in leaves {
            let path: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
            let changed = (0..20).any(|seed| {
                let data = handshake_netfuzz::seeded_bytes(seed, 256);
                let mut u = Unstructured::new(&data);
                let mut b = body.clone();
                fuzz_value("send", &path, &mut b, &mut u).unwrap_or(false) && b != body
            });
            assert!(changed, "{path:?} of {body} is never mutated");
        }
    }
}
