//! `harness fuzz-kit`'s edge cases from Proton's library and golden captures: the bytes each
//! library scenario against a server writes on each stream (its `open_bi` first bytes, then its
//! `write`s, `hex` and `u32`s, in order), and what the client sent on every stream of the golden
//! captures.

use std::collections::BTreeMap;

use handshake_scenario::{KitInput, KitSources};
use serde_json::Value;

const FORMAT: &str = "proton.stream";

/// The kit's inputs (see the module docs).
pub fn inputs(sources: &KitSources) -> Vec<KitInput> {
    let mut out = Vec::new();
    for (file, scenario) in &sources.scenarios {
        // Against a client IUT the scripted peer is the server: its writes answer, they are no
        // stream of the format.
        if scenario["iut"]["role"] == "client" {
            continue;
        }
        for ((_, stream), bytes) in streams_written(scenario) {
            out.push(KitInput {
                format: FORMAT,
                name: format!("library-{file}-stream{stream}"),
                bytes,
            });
        }
    }
    for (file, bytes) in &sources.captures {
        for p in handshake_quic_family::kit::payloads(file, bytes) {
            // A stream's format is what its opener writes; the server's answers are not one.
            if p.stream.is_some() && p.by_client {
                out.push(KitInput {
                    format: FORMAT,
                    name: p.name,
                    bytes: p.bytes,
                });
            }
        }
    }
    out
}

/// (connection as written, stream id) → the bytes a scenario writes there.
fn streams_written(scenario: &Value) -> BTreeMap<(String, u64), Vec<u8>> {
    let mut streams: BTreeMap<(String, u64), Vec<u8>> = BTreeMap::new();
    // The next client-initiated bidirectional stream id of each connection (0, 4, 8, …).
    let mut next: BTreeMap<String, u64> = BTreeMap::new();
    let steps = handshake_scenario::steps_of(scenario);
    for step in steps {
        if let Some(open) = step.get("open_bi") {
            let conn = open["conn"].to_string();
            let count = open["count"].as_u64().unwrap_or(1).min(64);
            let first = open["write"].as_array().cloned().unwrap_or_default();
            for i in 0..count {
                let id = next.entry(conn.clone()).or_insert(0);
                let stream = *id;
                *id += 4;
                let bytes = first.get(i as usize).and_then(hex).unwrap_or_default();
                streams
                    .entry((conn.clone(), stream))
                    .or_default()
                    .extend(bytes);
            }
        } else if let Some(write) = step.get("write") {
            let Some(stream) = write["stream"].as_u64() else {
                continue;
            };
            let entry = streams
                .entry((write["conn"].to_string(), stream))
                .or_default();
            if let Some(bytes) = write.get("hex").and_then(hex) {
                entry.extend(bytes);
            }
            for v in write["u32"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                let v = v
                    .as_u64()
                    .and_then(|v| u32::try_from(v).ok())
                    .unwrap_or(u32::MAX);
                entry.extend(v.to_le_bytes());
            }
        }
    }
    streams.retain(|_, b| !b.is_empty());
    streams
}

fn hex(v: &Value) -> Option<Vec<u8>> {
    handshake_netfuzz::layout::hex_of(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_join_their_streams_in_order() {
        let scenario = json!({"peer": {"steps": [
            {"connect": {}},
            {"open_bi": {"count": 3, "write": ["01", "02", "03"]}},
            {"write": {"stream": 0, "u32": [1, 2]}},
            {"write": {"stream": 8, "hex": "ff"}},
        ]}});
        let s = streams_written(&scenario);
        let null = "null".to_string();
        assert_eq!(s[&(null.clone(), 0)], [1, 1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(s[&(null.clone(), 4)], [2]);
        assert_eq!(s[&(null, 8)], [3, 0xff]);
    }
}
