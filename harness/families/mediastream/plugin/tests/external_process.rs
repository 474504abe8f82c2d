//! External IUTs as processes, with `sh` standing in for an implementation: the unsupported exit
//! code, an IUT that never answers (a failed verdict within the bounded time, and its whole process
//! group gone afterwards), one that never becomes ready, one that cannot be started, and output
//! limits. The end-to-end runs against a real implementation are in the cli crate
//! (`tests/external_iut.rs`), which can start the `harness` binary.
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use handshake_mediastream::{MediaScenario as Scenario, MediaStream};
use handshake_scenario::external::manifest::Manifest;
use handshake_scenario::external::ExternalIut;
use handshake_scenario::{Family, ScenarioOutcome, Verdict};

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../vectors/scenarios/mediastream")
        .join(name);
    handshake_mediastream::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn manifest_iut(json: &str) -> ExternalIut {
    let m: Manifest = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}"));
    m.validate(
        MediaStream::VOCABULARY.placeholders,
        MediaStream::VOCABULARY.flags,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    ExternalIut::from_manifest(m, PathBuf::from("."))
}

fn pid_of(outcome: &ScenarioOutcome) -> i32 {
    outcome
        .transcript
        .iter()
        .find_map(|l| {
            l.text
                .strip_prefix("IUT started (pid ")?
                .split(')')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no pid in the transcript:\n{}", outcome.render()))
}

/// Live (non-zombie) processes in process group `pgid`, from `/proc`.
fn group_members(pgid: i32) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
            && fields.first() != Some(&"Z")
        {
            out.push(stat);
        }
    }
    out
}

#[test]
fn unsupported_exit_code_makes_the_scenario_unsupported() {
    let iut = ExternalIut::from_command(
        "sh -c 'echo cannot do that >&2; exit 89'",
        MediaStream::VOCABULARY.placeholders,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for name in [
        "responder_scripted_handshake.json",
        "responder_happy_3way.json",
    ] {
        let outcome = iut.run(&scenario(name), 1);
        assert_eq!(
            outcome.verdict,
            Verdict::Unsupported,
            "{}",
            outcome.render()
        );
        assert!(
            outcome.reasons[0].contains("exited with 89")
                && outcome.reasons[0].contains("cannot do that"),
            "{}",
            outcome.render()
        );
        assert!(
            outcome
                .transcript
                .iter()
                .any(|l| l.text == "IUT stderr: cannot do that"),
            "{}",
            outcome.render()
        );
    }
    // Another code of the manifest's choosing.
    let iut =
        manifest_iut(r#"{"name": "x", "responder": "sh -c 'exit 3'", "unsupported_exit_code": 3}"#);
    assert_eq!(
        iut.run(&scenario("responder_happy_3way.json"), 1).verdict,
        Verdict::Unsupported
    );
}

#[cfg(target_os = "linux")]
#[test]
fn silent_iut_fails_in_bounded_time_and_its_process_group_is_killed() {
    // Ready at once (it never binds), then silent: the scripted SYN gets no SYN-ACK within 100 ms.
    let iut = manifest_iut(
        r#"{"name": "silent", "responder": "sh -c 'sleep 600 & sleep 600; : {listen}'", "ready": {"delay_ms": 20}}"#,
    );
    let started = Instant::now();
    let outcome = iut.run(&scenario("responder_scripted_handshake.json"), 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.verdict, Verdict::Fail, "{}", outcome.render());
    assert!(
        outcome.reasons[0].starts_with("step 2: no syn_ack"),
        "{}",
        outcome.render()
    );
    let pgid = pid_of(&outcome);
    assert!(
        group_members(pgid).is_empty(),
        "left behind: {:?}",
        group_members(pgid)
    );
    assert!(
        outcome
            .transcript
            .iter()
            .any(|l| l.text.contains("SIGTERM")),
        "{}",
        outcome.render()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn iut_that_ignores_sigterm_gets_sigkill() {
    let iut = manifest_iut(
        r#"{"name": "stubborn", "responder": "sh -c 'trap \"\" TERM; sleep 600 & while :; do sleep 1; done; : {listen}'", "ready": {"delay_ms": 20}, "kill_grace_ms": 100}"#,
    );
    let outcome = iut.run(&scenario("responder_scripted_handshake.json"), 1);
    assert_eq!(outcome.verdict, Verdict::Fail, "{}", outcome.render());
    assert!(
        outcome
            .transcript
            .iter()
            .any(|l| l.text.contains("SIGKILL")),
        "{}",
        outcome.render()
    );
    let pgid = pid_of(&outcome);
    assert!(
        group_members(pgid).is_empty(),
        "left behind: {:?}",
        group_members(pgid)
    );
}

#[cfg(target_os = "linux")]
#[test]
fn iut_that_never_listens_fails_after_the_startup_timeout() {
    let iut = manifest_iut(
        r#"{"name": "deaf", "responder": "sh -c 'sleep 600; : {listen}'", "startup_timeout_ms": 300}"#,
    );
    let started = Instant::now();
    let outcome = iut.run(&scenario("responder_happy_3way.json"), 1);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(outcome.verdict, Verdict::Fail, "{}", outcome.render());
    assert!(
        outcome.reasons[0].contains("was not ready (listening on 127.0.0.1:"),
        "{}",
        outcome.render()
    );
    assert!(group_members(pid_of(&outcome)).is_empty());
}

#[test]
fn iut_that_cannot_start_is_an_error() {
    let iut = ExternalIut::from_command(
        "/nonexistent/iut --listen {listen}",
        MediaStream::VOCABULARY.placeholders,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = iut.run(&scenario("responder_happy_3way.json"), 1);
    assert_eq!(outcome.verdict, Verdict::Error, "{}", outcome.render());
    assert!(
        outcome.reasons[0].contains("cannot start `/nonexistent/iut`"),
        "{}",
        outcome.render()
    );
    // Exits before it is ready with another code: an error too, with its stderr.
    let iut = ExternalIut::from_command(
        "sh -c 'echo bad flag >&2; exit 2'",
        MediaStream::VOCABULARY.placeholders,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = iut.run(&scenario("responder_happy_3way.json"), 1);
    assert_eq!(outcome.verdict, Verdict::Error, "{}", outcome.render());
    assert!(
        outcome.reasons.iter().any(|r| r.contains("bad flag")),
        "{}",
        outcome.render()
    );
}

#[test]
fn output_is_kept_up_to_the_limit() {
    let iut = ExternalIut::from_command(
        "sh -c 'yes 0123456789abcdef | head -c 200000; yes e | head -c 100 >&2; exit 89'",
        MediaStream::VOCABULARY.placeholders,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let outcome = iut.run(&scenario("responder_happy_3way.json"), 1);
    assert_eq!(
        outcome.verdict,
        Verdict::Unsupported,
        "{}",
        outcome.render()
    );
    // 3855 whole lines of 17 bytes and one byte of the next: 64 KiB.
    let stdout: Vec<&str> = outcome
        .transcript
        .iter()
        .filter_map(|l| l.text.strip_prefix("IUT stdout: "))
        .collect();
    assert_eq!(
        stdout.len(),
        3857,
        "{:?}",
        &stdout[stdout.len().saturating_sub(3)..]
    );
    assert_eq!(
        stdout.iter().filter(|l| **l == "0123456789abcdef").count(),
        3855
    );
    assert_eq!(stdout[3855], "0");
    assert_eq!(stdout[3856], "134464 more bytes not kept (limit 64 KiB)");
    assert_eq!(
        outcome
            .transcript
            .iter()
            .filter(|l| l.text == "IUT stderr: e")
            .count(),
        50
    );
}

#[test]
fn scenario_roles_follow_the_templates() {
    // A one-line command naming {listen} is only a responder.
    let iut = ExternalIut::from_command(
        "iut --listen {listen}",
        MediaStream::VOCABULARY.placeholders,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut s = scenario("responder_happy_3way.json");
    s.iut.role = handshake_scenario::Role::Initiator;
    let outcome = iut.run(&s, 1);
    assert_eq!(
        outcome.verdict,
        Verdict::Unsupported,
        "{}",
        outcome.render()
    );
    assert!(
        outcome.reasons[0].contains("no initiator command"),
        "{}",
        outcome.render()
    );
    assert!(ExternalIut::from_command(
        "iut {listen} {target}",
        MediaStream::VOCABULARY.placeholders
    )
    .is_err());
}

#[test]
fn manifest_environment_and_directory_reach_the_iut() {
    let iut = manifest_iut(
        r#"{"name": "env", "responder": ["sh", "-c", "echo \"$IUT_GREETING from $(pwd) as {role}\"; exit 89", "{listen}"],
            "env": {"IUT_GREETING": "hello"}, "cwd": "/"}"#,
    );
    let outcome = iut.run(&scenario("responder_happy_3way.json"), 1);
    assert_eq!(
        outcome.verdict,
        Verdict::Unsupported,
        "{}",
        outcome.render()
    );
    assert!(
        outcome
            .transcript
            .iter()
            .any(|l| l.text == "IUT stdout: hello from / as responder"),
        "{}",
        outcome.render()
    );
}
