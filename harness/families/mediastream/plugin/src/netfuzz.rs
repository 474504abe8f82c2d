//! Network fuzzing (`harness fuzz`): the media stream's liveness probe and what its mutator knows
//! of the datagram layouts (mediastream.md "Wire facts", D14's TLV options).

use handshake_mediastream_wire::formats;
use handshake_netfuzz::arbitrary::{self, Unstructured};
use handshake_netfuzz::layout::{hex_of, hex_value, leaf_mut};
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

pub use handshake_mediastream_wire::formats::option_edges;

/// Layout-aware mutations, the wire layer's (shared with the fuzz kit's `mediastream.datagram`
/// and `mediastream.tlv` mutators): TLV options (type u8, length u16 LE), and raw datagrams by
/// their fields (flag, control version/flags/reserved, sequence, fragment fields, length
/// boundaries).
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
        "options_hex" => formats::mutate_options(&mut bytes, u)?,
        "raw" => {
            if !formats::mutate_raw_datagram(&mut bytes, u)? {
                return Ok(false);
            }
        }
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
