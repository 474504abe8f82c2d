//! `harness fuzz-kit`'s edge cases from Dark Tower's library, byte vectors and golden captures: what each
//! library scenario writes on a signaling, media-authentication or media stream (joined per
//! participant and stream) and each datagram it sends; every stream's bytes and every DATAGRAM
//! frame of the golden captures, given to the first format whose reference decoder accepts them
//! (a capture's refused bytes could be any format's: they stay out).

use std::collections::BTreeMap;

use handshake_scenario::{Family, KitInput, KitSources};
use serde_json::Value;

use crate::DarkTower;

/// The kit's inputs (see the module docs).
pub fn inputs(sources: &KitSources) -> Vec<KitInput> {
    let mut out = Vec::new();
    for (file, scenario) in &sources.scenarios {
        out.extend(written(file, scenario));
    }
    for (file, doc) in &sources.vectors {
        out.extend(vector_cases(file, doc));
    }
    for (file, bytes) in &sources.captures {
        for p in handshake_quic_family::kit::payloads(file, bytes) {
            let accepted = DarkTower::FORMATS.iter().find(|f| (f.decode)(&p.bytes).ok);
            if let Some(format) = accepted {
                out.push(KitInput {
                    format: format.id,
                    name: p.name,
                    bytes: p.bytes,
                });
            }
        }
    }
    out
}

/// The format a `write` step's `on` names.
fn format_of(on: &str) -> Option<&'static str> {
    Some(match on {
        "signaling" => "darktower.signaling",
        "auth" => "darktower.media_auth",
        "new_media" => "darktower.header",
        "media" => "darktower.frame_v1",
        "datagram" => "darktower.frame_v2",
        _ => return None,
    })
}

/// A byte-vector file's cases, for the format its file holds: a frame's or header's `hex`, a
/// message's framed bytes, or its bare protobuf where that is what the format reads (a case no
/// form of which the reference accepts is kept by its first form, as an invalid edge case).
fn vector_cases(file: &str, doc: &Value) -> Vec<KitInput> {
    let (format, forms): (&str, &[&str]) = match file {
        "frames_v1" => ("darktower.frame_v1", &["hex"]),
        "frames_v2" => ("darktower.frame_v2", &["hex"]),
        "stream_headers" => ("darktower.header", &["hex"]),
        "media_auth" => ("darktower.media_auth", &["framed_hex", "protobuf_hex"]),
        "signaling" => ("darktower.signaling", &["framed_hex", "protobuf_hex"]),
        _ => return Vec::new(),
    };
    let Some(format) = DarkTower::FORMATS.iter().find(|f| f.id == format) else {
        return Vec::new();
    };
    let cases = doc["cases"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut out = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let candidates: Vec<Vec<u8>> = forms
            .iter()
            .filter_map(|k| case.get(*k).and_then(handshake_netfuzz::layout::hex_of))
            .collect();
        let chosen = candidates
            .iter()
            .find(|b| (format.decode)(b).ok)
            .or(candidates.first());
        if let Some(bytes) = chosen {
            let id = case["id"]
                .as_str()
                .map_or_else(|| n.to_string(), str::to_owned);
            out.push(KitInput {
                format: format.id,
                name: format!("vector-{file}-{id}"),
                bytes: bytes.clone(),
            });
        }
    }
    out
}

fn written(file: &str, scenario: &Value) -> Vec<KitInput> {
    let mut streams: BTreeMap<(String, &'static str), Vec<u8>> = BTreeMap::new();
    let mut out = Vec::new();
    let steps = handshake_scenario::steps_of(scenario);
    for (n, step) in steps.iter().enumerate() {
        let Some(write) = step.get("write") else {
            continue;
        };
        let (Some(format), Some(bytes)) = (
            write["on"].as_str().and_then(format_of),
            write.get("hex").and_then(handshake_netfuzz::layout::hex_of),
        ) else {
            continue;
        };
        match format {
            // One write, one message or datagram.
            "darktower.header" | "darktower.frame_v1" | "darktower.frame_v2" => {
                out.push(KitInput {
                    format,
                    name: format!("library-{file}-step{n}"),
                    bytes,
                })
            }
            _ => streams
                .entry((write["participant"].to_string(), format))
                .or_default()
                .extend(bytes),
        }
    }
    for ((participant, format), bytes) in streams {
        out.push(KitInput {
            format,
            name: format!("library-{file}-participant{participant}"),
            bytes,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stream_writes_join_and_datagrams_stay_apart() {
        let scenario = json!({"peer": {"steps": [
            {"write": {"participant": 0, "on": "signaling", "hex": "0000"}},
            {"write": {"participant": 0, "on": "signaling", "hex": "0001"}},
            {"write": {"participant": 0, "on": "datagram", "hex": "aa"}},
            {"write": {"participant": 0, "on": "datagram", "hex": "bb"}},
        ]}});
        let found = written("f", &scenario);
        assert_eq!(found.len(), 3);
        assert!(found
            .iter()
            .any(|i| i.format == "darktower.signaling" && i.bytes == [0, 0, 0, 1]));
        assert_eq!(
            found
                .iter()
                .filter(|i| i.format == "darktower.frame_v2")
                .count(),
            2
        );
    }
}
