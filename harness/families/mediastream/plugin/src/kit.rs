//! `harness fuzz-kit`'s edge cases from the media stream's library and golden captures: every
//! raw datagram a scenario sends (`{"raw": {"hex": …}}`) and every option list it writes
//! (`options_hex`); every byte vector's datagram; every UDP payload of a golden capture, and a
//! control datagram's options.

use handshake_scenario::{KitInput, KitSources};
use serde_json::Value;

/// Where a control datagram's TLV options start.
const OPTIONS_AT: usize = 67;

/// The kit's inputs (see the module docs).
pub fn inputs(sources: &KitSources) -> Vec<KitInput> {
    let mut out = Vec::new();
    for (file, scenario) in &sources.scenarios {
        let mut n = 0;
        visit(scenario, &mut |key, bytes| {
            n += 1;
            let format = if key == "options_hex" {
                "mediastream.tlv"
            } else {
                "mediastream.datagram"
            };
            out.push(KitInput {
                format,
                name: format!("library-{file}-{n}"),
                bytes,
            });
        });
    }
    for (file, doc) in &sources.vectors {
        let datagrams = doc["datagrams"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (n, v) in datagrams.iter().enumerate() {
            if let Some(bytes) = handshake_netfuzz::layout::hex_of(&v["hex"]) {
                let name = v["name"]
                    .as_str()
                    .map_or_else(|| n.to_string(), str::to_owned);
                out.push(KitInput {
                    format: "mediastream.datagram",
                    name: format!("vector-{file}-{name}"),
                    bytes,
                });
            }
        }
    }
    for (file, bytes) in &sources.captures {
        let Ok(reader) = handshake_capture::open(bytes) else {
            continue;
        };
        for d in reader.flatten() {
            let name = format!("capture-{file}-{}", d.packet_number);
            let payload = d.payload.into_owned();
            let control = matches!(payload.get(..2), Some([0x00..=0x02, 0x01]));
            if control && payload.len() > OPTIONS_AT {
                out.push(KitInput {
                    format: "mediastream.tlv",
                    name: format!("{name}-options"),
                    bytes: payload[OPTIONS_AT..].to_vec(),
                });
            }
            out.push(KitInput {
                format: "mediastream.datagram",
                name,
                bytes: payload,
            });
        }
    }
    out
}

/// Calls `found` with every raw datagram's and option list's bytes in `v`.
fn visit(v: &Value, found: &mut dyn FnMut(&str, Vec<u8>)) {
    match v {
        Value::Object(o) => {
            for (key, child) in o {
                let hex = match (key.as_str(), child) {
                    ("options_hex", Value::String(s)) => Some(("options_hex", s)),
                    ("raw", Value::Object(raw)) => match raw.get("hex") {
                        Some(Value::String(s)) => Some(("raw", s)),
                        _ => None,
                    },
                    _ => None,
                };
                match hex.and_then(|(k, s)| Some((k, handshake_netfuzz::layout::hex_bytes(s)?))) {
                    Some((k, bytes)) => found(k, bytes),
                    None => visit(child, found),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|c| visit(c, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn raw_datagrams_and_option_lists_are_found() {
        let sources = KitSources {
            scenarios: vec![(
                "s".into(),
                json!({"steps": [
                    {"send": {"datagram": {"raw": {"hex": "5354 4152 54"}}}},
                    {"send": {"datagram": {"syn": {"options_hex": "0104001e000000"}}}},
                    {"wait": {"ms": 5}}
                ]}),
            )],
            captures: vec![],
            vectors: vec![],
        };
        let found = inputs(&sources);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].format, found[0].bytes.as_slice()),
            ("mediastream.datagram", &b"START"[..])
        );
        assert_eq!(found[1].format, "mediastream.tlv");
        assert_eq!(found[1].name, "library-s-2");
    }
}
