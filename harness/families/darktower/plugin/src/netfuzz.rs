//! Network fuzzing (`harness fuzz`): Dark Tower's liveness probe and what its mutator knows of the
//! layouts (darktower.md: u32 big-endian length + protobuf on signaling, the 32-byte stream header
//! and 46-byte frame header of v1 media, the 42-byte v2 datagram). The layouts and their one-field
//! mutations are the wire crate's (`formats::layout`), shared with the fuzz kit's mutators.

use handshake_darktower_wire::formats::layout;
use handshake_netfuzz::arbitrary::{self, Unstructured};
use handshake_netfuzz::layout::{hex_of, hex_value, leaf_mut};
use serde_json::{json, Value};

/// A server is alive when a fresh participant gets any answer on its new connection: a
/// JoinResponse or an ErrorMessage from a controller, a ConnectResponse or an error from a media
/// handler. The input's participants are closed first and the probe's after it, so that a server
/// kept running for the next input (`--keep-iut`) has none of them left: their names and ids come
/// again in the next input, and a meeting fills up (30 % of kept inputs failed the probe, and
/// were run again on fresh processes, while they stayed). A client IUT opens its own sessions:
/// no probe.
pub fn liveness_probe(scenario: &Value) -> Option<Vec<Value>> {
    if scenario["iut"]["role"] != "server" {
        return None;
    }
    let steps = scenario["peer"]["steps"].as_array()?;
    let participants: std::collections::BTreeSet<u64> = steps
        .iter()
        .filter_map(|s| s.as_object()?.values().next()?.get("participant")?.as_u64())
        .collect();
    let fresh = match participants.last() {
        None => 0,
        Some(p) if *p < 1000 => p + 1,
        // A participant number the input made huge: a probe would be one more huge number.
        Some(_) => return None,
    };
    let handler = scenario["iut"]["serves"] == "handler";
    let open = if handler {
        json!({ "authenticate": { "participant": fresh } })
    } else {
        json!({ "join": { "participant": fresh } })
    };
    let mut probe: Vec<Value> = participants
        .iter()
        .map(|p| json!({ "close": { "participant": p, "on": "open" } }))
        .collect();
    probe.extend([
        open,
        json!({ "expect": { "kind": "message", "where": { "participant": fresh }, "within_ms": 2000 } }),
        json!({ "close": { "participant": fresh } }),
    ]);
    Some(probe)
}

/// The edge values of the steps' integer fields (darktower.md's wire facts): a frame's flag bits
/// (end of frame, discardable, a reserved one) alone and together, the frame types, stream types
/// and versions beside the valid ones, StreamType's values.
pub fn fuzz_edges(step: &str, path: &[String]) -> &'static [u64] {
    const FLAGS: [u64; 6] = [0x0000, 0x0001, 0x0002, 0x0003, 0x8000, 0xffff];
    const FRAME_TYPES: [u64; 5] = [0, 1, 2, 3, 0xff];
    const VERSIONS: [u64; 4] = [0, 1, 2, 0xff];
    const STREAM_TYPES: [u64; 4] = [0, 1, 2, 3];
    match (step, path.last().map(String::as_str)) {
        ("media" | "datagram", Some("flags")) => &FLAGS,
        ("media" | "datagram", Some("frame_type")) => &FRAME_TYPES,
        ("media" | "datagram", Some("version" | "frame_version")) => &VERSIONS,
        (_, Some("stream_type")) => &STREAM_TYPES,
        _ => &[],
    }
}

/// Layout-aware mutations of raw `write` bytes, by the stream they go on.
pub fn fuzz_value(
    step: &str,
    path: &[String],
    body: &mut Value,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    if step != "write" || path.first().map(String::as_str) != Some("hex") {
        return Ok(false);
    }
    let on = body["on"].as_str().unwrap_or_default().to_owned();
    let Some(leaf) = leaf_mut(body, path) else {
        return Ok(false);
    };
    let Some(mut bytes) = hex_of(leaf) else {
        return Ok(false);
    };
    let changed = match on.as_str() {
        // Length-prefixed protobuf messages (DT6: 0 and above 65,536 are errors).
        "signaling" | "auth" => layout::mutate_framed_message(&mut bytes, u)?,
        "new_media" => layout::mutate_media_stream_start(&mut bytes, u)?,
        // More bytes on a stream already open: frames from the first byte.
        "media" => layout::mutate_frame_v1_fields(&mut bytes, u)?,
        "datagram" => layout::mutate_frame_v2_fields(&mut bytes, u)?,
        _ => false,
    };
    if changed {
        *leaf = hex_value(&bytes);
    }
    Ok(changed)
}

/// The values of string fields: tokens of each kind, FourCCs of the table and beside it, magics,
/// stream names, meetings, names at DT6's limit.
pub fn fuzz_text(step: &str, path: &[String]) -> Vec<String> {
    let key = path.last().map(String::as_str).unwrap_or_default();
    let list: &[&str] = match (step, key) {
        ("join", "token") => &[
            "valid",
            "expired",
            "forged",
            "wrong_meeting",
            "garbage",
            "same_as:0",
        ],
        ("authenticate", "token") => &["valid", "expired", "forged", "join", "garbage", "reuse:0"],
        ("join", "meeting") => &["standup", "retro", "unknown", ""],
        ("join", "name") => &["", "a", "participant-0"],
        ("authenticate", "participant_id") => &[
            "participant-0",
            "participant-1",
            "550e8400-e29b-41d4-a716-446655440000",
            "",
        ],
        (_, "codec") => &["VP09", "VP08", "AV01", "H264", "Opus", "XXXX"],
        (_, "magic") => &["DART", "TRAD", "DARU", "dart"],
        (_, "kind") => &["video", "audio"],
        ("write", "on") => &["signaling", "auth", "new_media", "media", "datagram"],
        ("fin", "on") => &["signaling", "auth", "media"],
        ("close", "on") => &["signaling", "media", "both"],
        (_, "stream_id" | "subscribe" | "unsubscribe") => &["s0", "s1", "unknown", ""],
        _ => &[],
    };
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// What `harness fuzz` knows of the family's layouts.
pub const HOOKS: handshake_scenario::FuzzHooks = handshake_scenario::FuzzHooks {
    liveness_probe,
    value: fuzz_value,
    text: fuzz_text,
    edges: fuzz_edges,
    kept_jobs_per_core: handshake_scenario::FuzzHooks::NONE.kept_jobs_per_core,
    kept_probe_every: handshake_scenario::FuzzHooks::NONE.kept_probe_every,
    fold: handshake_scenario::FuzzHooks::NONE.fold,
    kit_inputs: crate::kit::inputs,
};
