//! `harness learn`: the 3-way reference's model is learned exactly (untimed and timed), a
//! profile's difference from it is found and allowed, every responder mutant the alphabet can
//! reach is found as a violation, and bad input is named.

mod learning_common;
use learning_common::{harness, misses, out_dir, text};

#[test]
fn the_3way_reference_has_three_states() {
    let out = out_dir("ref");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way",
        "--inputs",
        "syn,syn_v2,ack,ack_other,start,stray_syn_ack",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ref:3way: 3 states over 6 inputs"),
        "{}",
        text(&o)
    );
    let dot = std::fs::read_to_string(out.join("model.dot")).unwrap_or_default();
    assert!(dot.contains("syn / syn_ack"), "{dot}");
    assert!(dot.contains("ack / connection_id"), "{dot}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("learn.json")).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(summary["model"]["states"], 3, "{summary}");
    assert!(summary["model"]["stopped_by"].is_null(), "{summary}");
}

/// With `wait` (1 s), the pending handshake's seconds are states: the first (the SYN-ACK re-sent
/// at 500 ms), the second (1,500 ms), the third (quiet), the fourth (3,500 ms), the fifth and the
/// sixth (quiet, an ACK still establishes), then the pending session is dropped: back to the
/// start. With the start and the established session (its 1-s stream ends in a wait): 8.
#[test]
fn the_3way_reference_with_its_timers_has_eight_states() {
    let out = out_dir("timed");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ref:3way: 8 states over 7 inputs"),
        "{}",
        text(&o)
    );
    let dot = std::fs::read_to_string(out.join("model.dot")).unwrap_or_default();
    assert!(dot.contains("wait / syn_ack"), "{dot}");
}

#[test]
fn a_profile_s_difference_is_found_and_allowed() {
    let out = out_dir("diff");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way+optimistic_start",
        "--diff",
        "ref:3way",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains(
            "after syn: the IUT connection_id+syn_ack / the reference syn_ack: allowed difference"
        ),
        "{t}"
    );
    assert!(t.contains("D6.no_media_before_ack"), "{t}");
    assert!(
        t.contains("1 difference from ref:3way: 0 violations"),
        "{t}"
    );
    assert!(out.join("reference.dot").is_file());
}

/// Every mutant of the media stream's reference that its alphabets reach (the responder's
/// handshake and push direction, the 3-way initiator's; not the D14 options' one, nor one that
/// only the initiator's own counters show) is found by `learn --diff` alone: as a difference
/// between the models, or as a rule broken on a learned transition; and the scenario it writes
/// fails the mutant and passes the reference.
#[test]
fn every_reachable_mutant_is_found() {
    const HANDSHAKE: [&str; 2] = ["--part", "handshake"];
    const PUSH: [&str; 2] = ["--part", "push"];
    const OPTIONS: [&str; 2] = ["--part", "options"];
    const INITIATOR: [&str; 2] = ["--role", "initiator"];
    let mutants = [
        ("3way", "media-before-ack", HANDSHAKE),
        ("3way", "new-id-per-syn", HANDSHAKE),
        ("3way+allow_legacy_start", "syn-ack-to-start", HANDSHAKE),
        ("3way", "start-without-allow", HANDSHAKE),
        ("3way", "connection-id-not-first", HANDSHAKE),
        ("legacy", "connection-id-twice", HANDSHAKE),
        ("3way", "seq-from-0", HANDSHAKE),
        ("3way", "wrong-fragmentation-tail", HANDSHAKE),
        ("3way", "oversize-datagrams", HANDSHAKE),
        ("3way", "extra-frame", HANDSHAKE),
        ("3way", "pattern-off-by-one", HANDSHAKE),
        ("3way", "no-syn-ack-retransmit", HANDSHAKE),
        ("3way", "accept-mismatched-ack", HANDSHAKE),
        ("3way", "accept-bad-version", HANDSHAKE),
        ("3way", "push-responder-streams", PUSH),
        ("3way", "push-connection-id", PUSH),
        ("3way", "push-media-not-establishing", PUSH),
        ("3way", "options-echoed-not-honoured", OPTIONS),
        ("3way", "no-syn-backoff", INITIATOR),
        ("3way", "fifth-syn", INITIATOR),
        ("3way", "ack-not-echoing-id", INITIATOR),
        ("3way", "ack-on-reject", INITIATOR),
        ("3way", "media-before-session-accepted", INITIATOR),
        ("3way", "abort-on-malformed", INITIATOR),
    ];
    let missed = misses(&mutants, |(base, mutant, alphabet)| {
        let out = out_dir(mutant);
        let iut = format!("ref:{base}!{mutant}");
        let reference = format!("ref:{base}");
        let o = harness(&[
            "learn",
            "--iut",
            &iut,
            "--diff",
            &reference,
            "--fail-fast",
            alphabet[0],
            alphabet[1],
            "--out",
            out.to_str().unwrap_or("."),
        ]);
        if o.status.code() != Some(1) {
            return Some(format!("{iut}: exit {:?}\n{}", o.status.code(), text(&o)));
        }
        // The first scenario it wrote fails the mutant and passes the reference.
        let Some(written) = std::fs::read_dir(out.join("differences"))
            .ok()
            .and_then(|d| d.flatten().map(|e| e.path()).min())
        else {
            return Some(format!("{iut}: no scenario written"));
        };
        let written = written.to_str().unwrap_or(".");
        let on_mutant = harness(&["run", "--strict-profile", "--iut", &iut, written]);
        let on_reference = harness(&["run", "--iut", &reference, written]);
        (on_mutant.status.code() != Some(1) || on_reference.status.code() != Some(0))
            .then(|| format!("{iut}: {written} does not replay: {}", text(&on_mutant)))
    });
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// `--fail-fast` ends learning at the first violating difference the IUT has answered: the
/// model so far is written, saying so, with the difference's scenario; `--untimed` leaves out
/// `wait`.
#[test]
fn fail_fast_stops_at_the_first_violation() {
    let out = out_dir("fail-fast");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way!accept-bad-version",
        "--diff",
        "ref:3way",
        "--fail-fast",
        "--untimed",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("over 6 inputs"), "{}", text(&o));
    assert!(
        text(&o).contains("stopped at its first violation (--fail-fast)"),
        "{}",
        text(&o)
    );
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("learn.json")).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(summary["model"]["stopped_by"], "Found", "{summary}");
    assert!(summary["violations"].as_u64() >= Some(1), "{summary}");
    assert!(out.join("differences").is_dir(), "{}", text(&o));
    // Without --diff there is nothing to fail fast on.
    let o = harness(&["learn", "--iut", "ref:3way", "--fail-fast"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

/// `--alphabet` adds inputs (a SYN with a D14 option) and seed words to the family's; a file that
/// is no JSON, or whose steps the family does not read, is named with its place (exit 2).
#[test]
fn an_alphabet_is_extended_from_a_file() {
    let out = out_dir("alphabet");
    let dir = out.to_str().unwrap_or(".");
    let file = "harness/cli/tests/learning_common/alphabet-syn-options.json";
    let learn = |file: &str, more: &[&str]| {
        let mut args = vec![
            "learn",
            "--iut",
            "ref:3way",
            "--alphabet",
            file,
            "--out",
            dir,
        ];
        args.extend_from_slice(more);
        harness(&args)
    };
    let o = learn(file, &["--inputs", "syn,ack,syn_options"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("3 states over 3 inputs"), "{t}");
    let dot = std::fs::read_to_string(out.join("model.dot")).unwrap_or_default();
    assert!(dot.contains("syn_options / "), "{dot}");
    let bad_files = [
        (
            "bad.json",
            "{\"inputs\": {\n  \"x\": [1,]}}",
            "bad.json:2:11: trailing comma",
        ),
        (
            "wrong.json",
            r#"{"inputs": {"x": [{"sendd": {}}]}}"#,
            "input `x` makes no valid scenario",
        ),
    ];
    for (name, content, said) in bad_files {
        let file = out.join(name);
        let _ = std::fs::write(&file, content);
        let file = file.to_str().unwrap_or(".");
        let o = learn(file, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains(said), "{}", text(&o));
    }
}

#[test]
fn bad_input_is_named() {
    let o = harness(&["learn", "--iut", "ref:3way", "--inputs", "syn,synn"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no input `synn`"), "{}", text(&o));
    let o = harness(&[
        "learn", "--iut", "ref:v1", "--role", "client", "--part", "v3",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--part v3: expected one of v2, or none (the whole client)"),
        "{}",
        text(&o)
    );
}

/// `--check`: a kept model is a regression gate: the same IUT passes it, a changed one fails it
/// with the first word on which they differ; and every output file is written.
#[test]
fn a_kept_model_gates_a_changed_state_machine() {
    let kept = out_dir("kept");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way",
        "--out",
        kept.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for file in [
        "model.json",
        "model.dot",
        "states.md",
        "index.html",
        "learn.json",
    ] {
        assert!(kept.join(file).is_file(), "{file}");
    }
    let model = kept.join("model.json");
    let model = model.to_str().unwrap_or(".");
    let again = out_dir("again");
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way",
        "--check",
        model,
        "--out",
        again.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("the state machine is the one kept in"),
        "{}",
        text(&o)
    );
    let o = harness(&[
        "learn",
        "--iut",
        "ref:3way!no-syn-ack-retransmit",
        "--check",
        model,
        "--out",
        again.to_str().unwrap_or("."),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("the state machine changed: after syn wait"),
        "{}",
        text(&o)
    );
    let html = std::fs::read_to_string(kept.join("index.html")).unwrap_or_default();
    assert!(
        html.contains("<svg") && html.contains("reached by"),
        "{html}"
    );
}

/// Over real UDP, an implementation written by someone else from the facts alone (the Python
/// responder) shows no violating difference from the reference's untimed model, and its mutant
/// that streams before the ACK is found.
#[test]
fn an_independent_responder_passes_and_its_mutant_is_found() {
    let inputs = "syn,syn_v2,ack,ack_other,start";
    let out = out_dir("python");
    let o = harness(&[
        "learn",
        "--iut",
        "vectors/iut/python-mediastream.json",
        "--inputs",
        inputs,
        "--diff",
        "ref:3way",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("0 violations; rules broken on 0"), "{t}");
    let out = out_dir("python-mutant");
    let o = harness(&[
        "learn",
        "--iut",
        "vectors/iut/python-mediastream.json!media-before-ack",
        "--inputs",
        inputs,
        "--diff",
        "ref:3way",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after syn: the IUT connection_id+syn_ack / the reference syn_ack: violation"),
        "{t}"
    );
}

/// A program that crashes, or stops serving anyone, on a START (the Python responder behind
/// `vectors/iut/hang_proxy.py`): a finding, kept as the shortest word's scenario (with the
/// family's liveness probe after it), and exit 1. `harness run` replays it: it fails that
/// program and passes the Python responder alone.
#[test]
fn a_crash_and_a_hang_are_findings_kept_as_scenarios() {
    for kind in ["crash", "hang"] {
        let manifest = format!("harness/cli/tests/learning_common/{kind}-on-start.json");
        let out = out_dir(&format!("{kind}-on-start"));
        let dir = out.to_str().unwrap_or(".");
        let o = harness(&[
            "learn",
            "--iut",
            &manifest,
            "--inputs",
            "syn,start",
            "--jobs",
            "2",
            "--out",
            dir,
        ]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{t}");
        assert!(t.contains(&format!("{kind}: after start: ")), "{t}");
        let scenario = out.join("findings").join(format!("{kind}-1.json"));
        let scenario = scenario.to_str().unwrap_or(".");
        let replay = out.join("replay");
        let replay = replay.to_str().unwrap_or(".");
        let run = |iut: &str| harness(&["run", scenario, "--iut", iut, "--report", replay]);
        let r = run(&manifest);
        assert_eq!(r.status.code(), Some(1), "{}", text(&r));
        let r = run("vectors/iut/python-mediastream.json");
        assert_eq!(r.status.code(), Some(0), "{}", text(&r));
    }
}
