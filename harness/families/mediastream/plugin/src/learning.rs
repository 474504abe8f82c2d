//! The media stream's alphabet for model learning (`harness learn`): what a peer can do to a
//! responder, and what the responder's datagrams are, abstractly.

use serde_json::Value;

/// A responder's inputs: each a peer action and its window. An action's window (`WINDOW_MS`, set
/// by `harness learn`: a few ms in virtual time, more over real UDP) is long enough for the answer
/// and short against the timers (D7's re-sends at 500 ms and after), so a timer fires in a `wait`
/// (1,100 ms: past the next re-send of any schedule step up to 1 s), not between actions: the
/// model's time is counted in waits.
pub const RESPONDER: &[(&str, &str)] = &[
    (
        "syn",
        r#"[{"send": {"datagram": {"syn": {}}}},
            {"expect": {"kind": "syn_ack", "where": {"accept": true}, "within_ms": WINDOW_MS, "capture": {"assigned_id": "connection_id"}, "optional": true}},
            {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "syn_v2",
        r#"[{"send": {"datagram": {"syn": {"version": 2}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "ack",
        r#"[{"send": {"datagram": {"ack": {"id": "$assigned_id|00000000-0000-4000-8000-000000000000"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "ack_other",
        r#"[{"send": {"datagram": {"ack": {"id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "start",
        r#"[{"send": {"datagram": {"start": {}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "stray_syn_ack",
        r#"[{"send": {"datagram": {"syn_ack": {"id": "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    ("wait", r#"[{"wait": {"ms": 1100}}]"#),
];

/// A short stream, so that a session's media ends within a few windows.
pub const SETUP: &str = r#""stream": {"bits_per_second": 40000, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400}"#;

/// A datagram's output letter: its kind, a SYN-ACK's with its accept flag. Media is left out:
/// how far a stream has got is time, not the handshake's state, and would multiply the states by
/// the windows a stream lasts; the CONNECTION_ID says a session started.
pub fn output(unit: &Value) -> Option<String> {
    let kind = unit.get("kind")?.as_str()?;
    match kind {
        "data" | "data_frag" => None,
        "syn_ack" => Some(match unit.get("accept").and_then(Value::as_bool) {
            Some(true) => "syn_ack".to_owned(),
            _ => "syn_ack(reject)".to_owned(),
        }),
        other => Some(other.to_owned()),
    }
}

/// The media stream's alphabet.
pub const LEARNING: handshake_scenario::Learning = handshake_scenario::Learning {
    alphabets: &[handshake_scenario::Alphabet {
        role: handshake_scenario::Role::Responder,
        part: None,
        setup: SETUP,
        inputs: RESPONDER,
    }],
    output,
};

#[cfg(test)]
mod tests {
    #[test]
    fn every_input_is_a_json_array_of_steps() {
        for (name, steps) in super::RESPONDER {
            let steps = steps.replace("WINDOW_MS", "5");
            let v: serde_json::Value =
                serde_json::from_str(&steps).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(v.as_array().is_some_and(|a| !a.is_empty()), "{name}");
        }
    }
}
