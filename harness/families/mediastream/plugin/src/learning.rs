//! The media stream's alphabet for model learning (`harness learn`): what a peer can do to a
//! responder, and what the responder's datagrams are, abstractly.

use serde_json::Value;

/// A responder's inputs: each a peer action and its window. An action's window (`WINDOW_MS`, set
/// by `harness learn`: a few ms in virtual time, more over real UDP) is long enough for the answer
/// and short against the timers (D7's re-sends at 500 ms and after), so a timer fires in a `wait`,
/// not between actions: the model's time is counted in waits. A wait is 1 s: D7's re-sends (500,
/// 1,500 and 3,500 ms after the SYN) and the pending session's end each fall in the middle of
/// one, half a second from either edge, so the actions between waits (25 ms each over real UDP)
/// cannot push a timer into the next window; a model of real time then counts waits, not how
/// many actions fit before a timer (with 1.1-s waits, the 3,500-ms re-send came 200 ms into the
/// fourth: over real UDP, eight actions moved it, and the model counted them).
pub const RESPONDER: &[(&str, &str)] = &[
    (
        "syn",
        r#"[{"send": {"datagram": {"syn": {}}}},
            {"expect": {"kind": "syn_ack", "where": {"accept": true}, "within_ms": WINDOW_MS, "capture": {"assigned_id": "connection_id"}, "optional": true, "since_step": true}},
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
    ("wait", r#"[{"wait": {"ms": 1000}}]"#),
];

/// The library's sequences: the SYN-ACK re-sends to their end (D7's schedule at 500, 1500 and
/// 3500 ms, then the pending session dropped), a repeated SYN and an ACK at each stage, a
/// session's end.
pub const SEEDS: &[&str] = &[
    "syn wait wait wait wait wait ack",
    "syn wait wait wait wait wait wait ack",
    "syn wait wait wait wait wait wait wait syn ack",
    "syn syn wait wait wait wait wait",
    "syn wait syn wait syn wait ack",
    "syn ack wait wait syn ack",
    "start wait start",
    "syn ack_other wait ack",
    "syn_v2 syn wait ack",
];

/// A short stream, so that a session's media ends within a few windows.
pub const SETUP: &str = r#""stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400}"#;

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

/// The unit a letter stands for.
pub fn pattern(letter: &str) -> Option<Value> {
    Some(match letter {
        "syn_ack" => serde_json::json!({"kind": "syn_ack", "where": {"accept": true}}),
        "syn_ack(reject)" => serde_json::json!({"kind": "syn_ack", "where": {"accept": false}}),
        "-" => return None,
        kind => serde_json::json!({ "kind": kind }),
    })
}

/// What says whether a responder sends `letter` after `word`'s last input (see
/// [`handshake_scenario::Learning::basis`]). Each query is a fresh tuple; a fact is named only
/// in the states it speaks of (a SYN from a new tuple, an ACK to a pending handshake, a START
/// first), elsewhere the decision of this project's reading, or none.
pub fn basis(part: Option<&str>, word: &[&str], letter: &str) -> Option<&'static str> {
    let (last, before) = word.split_last()?;
    // A START served (D9's option on): the legacy session it started is live while no wait has
    // passed (its stream lasts a second), and a repeat is a legacy duplicate, ignored.
    if part == Some("legacy_start")
        && *last == "start"
        && !before.is_empty()
        && before.iter().all(|i| *i == "start")
        && matches!(letter, "connection_id" | "syn_ack")
    {
        return Some("D9.as_legacy");
    }
    // A handshake is pending: a SYN was accepted, no ACK, START or wait since.
    let pending = before.contains(&"syn")
        && before
            .iter()
            .all(|i| matches!(*i, "syn" | "syn_v2" | "ack_other" | "stray_syn_ack"));
    // A push session's media after its SYN, no SYN since: D15 establishes the pending session.
    let established_by_media = before
        .iter()
        .rposition(|i| *i == "syn")
        .is_some_and(|s| before.iter().skip(s).any(|i| *i == "media"));
    match (*last, letter) {
        (_, "connection_id") if matches!(*last, "syn" | "syn_v2" | "ack_other") => {
            Some("D6.no_media_before_ack")
        }
        ("syn", "syn_ack") if before.is_empty() => Some("D3"),
        ("syn", "syn_ack") if before.iter().all(|i| *i == "syn") => Some("D3.idempotent"),
        ("syn" | "syn_v2", "syn_ack" | "syn_ack(reject)") if before.is_empty() => {
            Some("D4.triggers")
        }
        ("syn_v2", _) => Some("D4.triggers"),
        ("ack", "connection_id") if pending => Some("D6"),
        ("start", "connection_id") if before.is_empty() && part == Some("legacy_push") => {
            Some("push.responder")
        }
        ("start", "connection_id") if before.is_empty() => Some("D9"),
        ("start", "syn_ack") if before.is_empty() => Some("D9.as_legacy"),
        ("stray_syn_ack", _) => Some("D11.kinds"),
        // A SYN from a second tuple, at a session limit of one: rejected, or accepted once the
        // first session ended.
        ("syn_other", _) => Some("D4.triggers"),
        // Media from the peer of a push session (D15: it establishes a pending one).
        ("media", _) => Some("D15"),
        ("wait", "syn_ack") if pending => Some("D7"),
        ("wait", "syn_ack") if established_by_media => Some("D15"),
        // The initiator's side: SYN re-sends while no SYN-ACK came (D2), an ACK echoing an
        // accepting SYN-ACK (D5), none for a rejecting one and another for a repeat (D5.repeat).
        ("wait", "syn")
            if before
                .iter()
                .all(|i| matches!(*i, "wait" | "malformed" | "frames")) =>
        {
            Some("D2")
        }
        // The push branch's sending client: START at connect and at most once more.
        ("wait", "start") if part == Some("legacy_push") => Some("push.initiator"),
        // The udp_push build's initiator: a SYN instead of START on every re-send tick, before
        // any media.
        ("wait", "start" | "syn") if part == Some("udp_push") && !before.contains(&"frames") => {
            Some("udp_push.initiator")
        }
        // A legacy initiator's START re-sends, before any media (the legacy initiator as coded:
        // a CONNECTION_ID does not stop them, the first media does).
        ("wait", "start") if part == Some("legacy") && !before.contains(&"frames") => {
            Some("legacy.initiator")
        }
        // D5 speaks of a handshake (media of an unknown session is dropped: D8), not of a SYN-ACK
        // after a CONNECTION_ID began a session, nor after one that may have ended.
        ("syn_ack", "ack")
            if before
                .iter()
                .all(|i| matches!(*i, "wait" | "malformed" | "frames")) =>
        {
            Some("D5")
        }
        // A repeat is a SYN-ACK with the id of the one before (one with another id may be
        // adopted and ACKed, or not: either reading holds).
        ("syn_ack" | "syn_ack_other", "ack")
            if before.contains(last)
                && !before.iter().any(|i| {
                    matches!(*i, "connection_id" | "frames" | "syn_ack" | "syn_ack_other")
                        && i != last
                }) =>
        {
            Some("D5.repeat")
        }
        ("syn_ack", "ack") if before.contains(&"reject") => Some("D5.repeat"),
        ("malformed", _) => Some("D11"),
        _ => None,
    }
}

/// A push session (the peer sends the media, the responder receives), the stream short.
pub const PUSH_SETUP: &str = r#""stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400, "direction": "push"}"#;

/// A push responder's inputs: the handshake's, and media from the peer (D15: media on a pending
/// push session establishes it).
pub const PUSH: &[(&str, &str)] = &[
    RESPONDER[0], // syn
    RESPONDER[2], // ack
    RESPONDER[4], // start
    (
        "media",
        r#"[{"send": {"datagram": {"frames": {"from": 1, "to": 2}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    RESPONDER[6], // wait
];

/// A legacy push responder (the bidirectional branch's receiving server): a START gets a
/// CONNECTION_ID and the peer sends the media.
pub const LEGACY_PUSH_SETUP: &str = r#""iut": {"requires": ["legacy_start"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400, "direction": "push"}"#;

/// Its inputs: START, media from the peer, the wait.
pub const LEGACY_PUSH: &[(&str, &str)] = &[
    RESPONDER[4], // start
    PUSH[3],      // media
    RESPONDER[6], // wait
];

/// A session limit of one (D4: a SYN past it is rejected).
pub const LIMIT_SETUP: &str = r#""iut": {"session_limit": 1},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400}"#;

/// A limited responder's inputs: the handshake's on one tuple, and a SYN from a second tuple.
pub const LIMIT: &[(&str, &str)] = &[
    RESPONDER[0], // syn
    RESPONDER[2], // ack
    (
        "syn_other",
        r#"[{"send": {"datagram": {"syn": {}}, "from_port": 50001}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    RESPONDER[6], // wait
];

/// A SYN requesting D14 options (25 frames/s, 300-byte datagrams; the responder may accept
/// any of them), so that the stream that follows is judged against what its SYN-ACK accepted
/// (`media.accepted_parameters`, D14.tlv: a profile decision).
pub const OPTIONS: &[(&str, &str)] = &[
    (
        "syn_options",
        r#"[{"send": {"datagram": {"syn": {"options_hex": "01 0400 19000000  05 0400 2c010000"}}}},
            {"expect": {"kind": "syn_ack", "where": {"accept": true}, "within_ms": WINDOW_MS, "capture": {"assigned_id": "connection_id"}, "optional": true, "since_step": true}},
            {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    RESPONDER[2], // ack
    RESPONDER[6], // wait
];

/// A responder that also serves START (D9's option), its stream short.
pub const LEGACY_START_SETUP: &str = r#""iut": {"requires": ["allow_legacy_start"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400}"#;

/// Its inputs: START (again: a duplicate while its session is live), the handshake's SYN and
/// ACK on the same tuple, and the wait.
pub const LEGACY_START: &[(&str, &str)] = &[
    RESPONDER[4], // start
    RESPONDER[0], // syn
    RESPONDER[2], // ack
    RESPONDER[6], // wait
];

/// A 3-way initiator's query: the program starts (a fresh process each time: it opens its
/// session when it starts) and its first SYN is taken before the first input's window (a
/// millisecond after it: in virtual time the first window would start the instant the SYN came).
pub const INITIATOR_SETUP: &str = r#""iut": {"requires": ["three_way"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400},
    "peer": {"steps": [{"expect": {"kind": "syn", "within_ms": 1000}}, {"wait": {"ms": 1}}]}"#;

/// A 3-way initiator's inputs, the responder's doings: an accepting SYN-ACK (`syn_ack`, id
/// `aaaa…`), one with another id (`syn_ack_other`), a rejecting one (`reject`), a CONNECTION_ID
/// of the accepted id, two media frames (`frames`; again: duplicates), a datagram with an
/// unknown flag (`malformed`, D11), and `wait` (1 s: D2's SYN re-sends at 500, 1,500 and
/// 3,500 ms fall mid-wait).
pub const INITIATOR: &[(&str, &str)] = &[
    (
        "syn_ack",
        r#"[{"send": {"datagram": {"syn_ack": {"id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "syn_ack_other",
        r#"[{"send": {"datagram": {"syn_ack": {"id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "reject",
        r#"[{"send": {"datagram": {"syn_ack": {"accept": false, "id": "busy: try later"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "connection_id",
        r#"[{"send": {"datagram": {"connection_id": {"id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "frames",
        r#"[{"send": {"datagram": {"frames": {"from": 1, "to": 2}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "malformed",
        r#"[{"send": {"datagram": {"raw": {"hex": "ffff0b000000000000000000000000000000"}}}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    ("wait", r#"[{"wait": {"ms": 1000}}]"#),
];

/// A legacy initiator's query (a fresh process each time): its first START is taken, and the
/// inputs start 300 ms after it, half of its re-send interval (trunc(1000/10)+500 = 600 ms at the
/// setup's 10 frames/s), so that each re-send falls mid-wait, 300 ms from either edge. Its
/// stream's first render is 3 s in (3 s of buffer): with nothing come by then the stream fails,
/// so four re-sends are seen before it does.
pub const LEGACY_INITIATOR_SETUP: &str = r#""iut": {"requires": ["legacy_start"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 3, "buffer_depth_secs": 3, "datagram_byte_size": 1400},
    "peer": {"steps": [{"expect": {"kind": "start", "within_ms": 1000}}, {"wait": {"ms": 300}}]}"#;

/// A legacy initiator's inputs, the responder's doings: its CONNECTION_ID (which does not stop
/// the re-sends), two media frames (the first media stops them), and a wait of one re-send
/// interval.
pub const LEGACY_INITIATOR: &[(&str, &str)] = &[
    INITIATOR[3], // connection_id
    INITIATOR[4], // frames
    ("wait", r#"[{"wait": {"ms": 600}}]"#),
];

/// A 3-way push initiator's query (D15: the pull handshake, then it sends the media).
pub const PUSH_INITIATOR_SETUP: &str = r#""iut": {"requires": ["three_way"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 1, "buffer_depth_secs": 1, "datagram_byte_size": 1400, "direction": "push"},
    "peer": {"steps": [{"expect": {"kind": "syn", "within_ms": 1000}}, {"wait": {"ms": 1}}]}"#;

/// Its inputs: the 3-way initiator's, without the media a receiving responder never sends.
pub const PUSH_INITIATOR: &[(&str, &str)] = &[
    INITIATOR[0], // syn_ack
    INITIATOR[1], // syn_ack_other
    INITIATOR[2], // reject
    INITIATOR[5], // malformed
    INITIATOR[6], // wait
];

/// A legacy push initiator's query (the bidirectional branch's sending client: START at connect
/// and at most once more, the frames after the CONNECTION_ID), timed as the legacy initiator's.
pub const LEGACY_PUSH_INITIATOR_SETUP: &str = r#""iut": {"requires": ["legacy_start"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 3, "buffer_depth_secs": 3, "datagram_byte_size": 1400, "direction": "push"},
    "peer": {"steps": [{"expect": {"kind": "start", "within_ms": 1000}}, {"wait": {"ms": 300}}]}"#;

/// Its inputs: the CONNECTION_ID, and a wait of one re-send interval.
pub const LEGACY_PUSH_INITIATOR: &[(&str, &str)] = &[
    INITIATOR[3],        // connection_id
    LEGACY_INITIATOR[2], // wait
];

/// A `udp_push` initiator's query (START, then a SYN on every re-send tick), timed as the legacy
/// initiator's.
pub const UDP_PUSH_INITIATOR_SETUP: &str = r#""iut": {"requires": ["udp_push"]},
    "stream": {"bits_per_second": 112800, "frame_rate": 10, "stream_length_secs": 3, "buffer_depth_secs": 3, "datagram_byte_size": 1400},
    "peer": {"steps": [{"expect": {"kind": "start", "within_ms": 1000}}, {"wait": {"ms": 300}}]}"#;

/// The media stream's alphabets: the responder's handshake (the default part), its push
/// direction (3-way and legacy), its session limit, its D14 options and its START served (D9's
/// option); the 3-way
/// initiator's handshake (the default part), and the legacy initiator's START re-sends.
pub const LEARNING: handshake_scenario::Learning = handshake_scenario::Learning {
    alphabets: &[
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("handshake"),
            setup: SETUP,
            inputs: RESPONDER,
            seeds: SEEDS,
            // The setup's stream lasts 1 s.
            settle_ms: 1500,
            // A datagram's answer comes within milliseconds; D7's 500 ms re-send must stay in the
            // waits.
            real_time_window_ms: 25,
            // A tuple is a session of its own.
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("push"),
            setup: PUSH_SETUP,
            inputs: PUSH,
            seeds: &[
                "syn ack",
                "syn media wait",
                "start",
                "start wait start",
                "syn wait wait wait wait wait media",
            ],
            settle_ms: 1500,
            real_time_window_ms: 25,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("legacy_push"),
            setup: LEGACY_PUSH_SETUP,
            inputs: LEGACY_PUSH,
            seeds: &["start media wait", "start wait start", "media start"],
            settle_ms: 1500,
            real_time_window_ms: 25,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("limit"),
            setup: LIMIT_SETUP,
            inputs: LIMIT,
            seeds: &[
                "syn syn_other",
                "syn ack syn_other",
                "syn wait wait wait wait wait syn_other",
            ],
            settle_ms: 1500,
            real_time_window_ms: 25,
            // The sessions of earlier queries would count against the limit.
            fresh_process: true,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("options"),
            setup: SETUP,
            inputs: OPTIONS,
            seeds: &[
                "syn_options ack wait",
                "syn_options syn_options ack wait wait",
            ],
            settle_ms: 1500,
            real_time_window_ms: 25,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("legacy_start"),
            setup: LEGACY_START_SETUP,
            inputs: LEGACY_START,
            seeds: &[
                "start start",
                "start wait start",
                "start wait wait start",
                "start syn ack",
                "syn ack start",
            ],
            settle_ms: 1500,
            real_time_window_ms: 25,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Initiator,
            part: None,
            setup: INITIATOR_SETUP,
            inputs: INITIATOR,
            seeds: &[
                "wait wait wait wait wait wait wait wait",
                "syn_ack connection_id frames frames wait",
                "syn_ack connection_id malformed frames wait",
                "syn_ack syn_ack connection_id frames",
                "reject wait wait",
                "syn_ack syn_ack_other",
                "wait syn_ack wait syn_ack",
            ],
            settle_ms: 1500,
            real_time_window_ms: 25,
            // An initiator starts its session when it starts.
            fresh_process: true,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Initiator,
            part: Some("push"),
            setup: PUSH_INITIATOR_SETUP,
            inputs: PUSH_INITIATOR,
            seeds: &["syn_ack wait", "wait wait wait wait", "reject wait"],
            settle_ms: 1500,
            real_time_window_ms: 25,
            fresh_process: true,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Initiator,
            part: Some("legacy_push"),
            setup: LEGACY_PUSH_INITIATOR_SETUP,
            inputs: LEGACY_PUSH_INITIATOR,
            seeds: &["wait wait wait", "connection_id wait wait"],
            settle_ms: 3500,
            real_time_window_ms: 25,
            fresh_process: true,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Initiator,
            // The legacy initiator's inputs: its receive side is the legacy one.
            part: Some("udp_push"),
            setup: UDP_PUSH_INITIATOR_SETUP,
            inputs: LEGACY_INITIATOR,
            seeds: &["wait wait wait", "connection_id wait wait", "frames wait"],
            settle_ms: 3500,
            real_time_window_ms: 25,
            fresh_process: true,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Initiator,
            part: Some("legacy"),
            setup: LEGACY_INITIATOR_SETUP,
            inputs: LEGACY_INITIATOR,
            seeds: &[
                "wait wait wait",
                "connection_id wait wait",
                "connection_id frames wait",
                "frames wait",
            ],
            settle_ms: 3500,
            real_time_window_ms: 25,
            fresh_process: true,
        },
    ],
    output,
    pattern,
    basis,
    window: handshake_scenario::Learning::every_letter,
};

#[cfg(test)]
mod tests {
    #[test]
    fn the_alphabets_are_well_formed() {
        handshake_scenario::testing::assert_alphabets_parse(&super::LEARNING);
    }
}
