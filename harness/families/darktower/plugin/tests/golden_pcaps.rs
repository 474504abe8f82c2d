//! Golden captures (`pcaps/darktower/`): every Dark Tower scenario whose IUT is a server (a Meeting
//! Controller or a Media Handler) run against the reference (`ref:v1`, or `ref:v2` where the
//! scenario requires v2; scenarios that set `transport: quic` run bare QUIC, `reset_codes` the
//! codes they set) in virtual time, written with its secrets block, compared byte for byte with
//! the committed file (set UPDATE_GOLDEN=1 to rewrite them), then judged by `harness check` as a
//! user would judge the file, with the options the run had:
//!
//! ```text
//! harness check pcaps/darktower/S.pcapng --protocol darktower --profile v1[+quic][+raw] \
//!     --token-secret SECRET --judge controller|handler --capacity N [--idle-ms MS] \
//!     --tolerance-ms 100 --strict-profile
//! ```
//!
//! The reference breaks none of its own rules, and the whole text verdict is an insta snapshot.
//! The scripted participants misbehave on purpose in many scenarios: judged with `--judge all`
//! their rules (`darktower.client.*`) may fire, and only theirs.

use std::path::{Path, PathBuf};

use handshake_check::testing::{assert_only_rules_of, golden_matches, rules_of};
use handshake_darktower::{effective, serves, DarkTower, Profile, TOKEN_SECRET};
use handshake_quic_family::testing::CheckCli;
use handshake_scenario::{Role, Scenario};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

fn dir() -> PathBuf {
    root().join("pcaps/darktower")
}

/// `harness check PATH --protocol darktower ARGS --json?` as the binary runs it (tolerance 100 ms,
/// as the runs judge in virtual time; `--strict-profile`: profile decisions fail too).
fn check(path: &Path, bytes: Vec<u8>, args: &[String], json: bool) -> (i32, String) {
    check_as(path, bytes, args, json, 100, true)
}

/// The same with another `--tolerance-ms` and with or without `--strict-profile`.
fn check_as(
    path: &Path,
    bytes: Vec<u8>,
    args: &[String],
    json: bool,
    tolerance_ms: u64,
    strict_profile: bool,
) -> (i32, String) {
    let cli = CheckCli {
        args: <handshake_darktower::DarkTower as handshake_plugin::Plugin>::check_args,
        check: <handshake_darktower::DarkTower as handshake_plugin::Plugin>::check,
    };
    handshake_quic_family::testing::check(
        cli,
        path,
        &bytes,
        args,
        json,
        tolerance_ms,
        strict_profile,
    )
}

/// The reference profile a scenario runs against: `v2` where it requires v2, else `v1`.
fn reference(scenario: &Scenario<DarkTower>) -> &'static str {
    if scenario.iut.requires.iter().any(|f| f == "v2") {
        "v2"
    } else {
        "v1"
    }
}

/// Whose rules the run judged: the IUT's role.
fn judged_role(scenario: &Scenario<DarkTower>) -> &'static str {
    match serves(scenario) {
        "handler" => "handler",
        "both" => "controller,handler",
        _ => "controller",
    }
}

/// The `harness check` options that say what the run was: the profile as run (the scenario's
/// transport and reset codes applied), the token secret of in-process runs, the IUT's role, the
/// meeting's capacity and (when not DT10's 30 s) its idle timeout.
fn check_args(scenario: &Scenario<DarkTower>, judge: &str) -> Vec<String> {
    let base = Profile::parse(reference(scenario)).expect("profile");
    let meeting = &scenario.setup.meeting;
    let mut args = vec![
        "--profile".to_owned(),
        effective(&base, scenario).name(),
        "--token-secret".into(),
        TOKEN_SECRET.into(),
        "--judge".into(),
        judge.into(),
        "--capacity".into(),
        meeting.capacity.to_string(),
    ];
    if meeting.idle_ms != 30_000 {
        args.extend(["--idle-ms".into(), meeting.idle_ms.to_string()]);
    }
    args
}

fn server_scenarios() -> Vec<(String, Scenario<DarkTower>)> {
    handshake_scenario::testing::scenarios_of(
        &root().join("vectors/scenarios/darktower"),
        Role::Responder,
    )
}

#[test]
fn reference_server_captures_break_none_of_its_rules() {
    let mut stale = Vec::new();
    let mut judged = 0;
    let mut quic = 0;
    let mut v2 = 0;
    for (stem, scenario) in server_scenarios() {
        let name = reference(&scenario);
        let profile = Profile::parse(name).expect("profile");
        let outcome = handshake_scenario::engine::run_reference(
            &scenario,
            &format!("ref:{name}"),
            &profile,
            scenario.seed.unwrap_or(1),
        );
        assert!(
            !outcome.capture.is_empty(),
            "{stem}: no capture ({:?}: {:?})",
            outcome.verdict,
            outcome.reasons
        );
        let path = dir().join(format!("{stem}.pcapng"));
        if !golden_matches(&dir(), &stem, &outcome.capture) {
            stale.push(stem.clone());
            continue;
        }
        let role = judged_role(&scenario);
        let args = check_args(&scenario, role);

        // As the run judged it: the IUT's role only. Nothing may fire.
        let (code, json) = check(&path, outcome.capture.clone(), &args, true);
        let rules = rules_of(&json);
        assert!(
            rules.is_empty(),
            "{stem}: the reference {role} breaks {rules:?} (judged with {args:?})"
        );
        assert_eq!(code, 0, "{stem}: exit code");
        // The same with `harness check`'s defaults (50 ms tolerance, profile decisions as
        // deviations).
        let (code, json) = check_as(&path, outcome.capture.clone(), &args, true, 50, false);
        let rules = rules_of(&json);
        assert!(
            rules.is_empty() && code == 0,
            "{stem}: with --tolerance-ms 50 the reference {role} breaks {rules:?} (exit {code})"
        );

        // Every role judged: the scripted participants' rules may fire, and only theirs.
        let all = check_args(&scenario, "all");
        let (code, json) = check(&path, outcome.capture.clone(), &all, true);
        assert_only_rules_of(
            "darktower.client.",
            &rules_of(&json),
            code,
            &format!("{stem} with --judge all"),
        );

        let (code, text) = check(&path, outcome.capture, &args, false);
        assert_eq!(code, 0, "{stem}: exit code of the text verdict");
        let text = text.replace(&dir().display().to_string(), "pcaps/darktower");
        let description = format!(
            "{} -- harness check pcaps/darktower/{stem}.pcapng --protocol darktower {} --tolerance-ms 100 --strict-profile",
            scenario.title,
            args.join(" ")
        );
        insta::with_settings!({ snapshot_suffix => stem.clone(), description => description, omit_expression => true }, {
            insta::assert_snapshot!("check", text);
        });
        judged += 1;
        if args[1].contains("+quic") {
            quic += 1;
        }
        if name == "v2" {
            v2 += 1;
        }
    }
    assert!(stale.is_empty(), "golden captures differ from their runs (run `UPDATE_GOLDEN=1 cargo nextest run -p handshake-darktower --test golden_pcaps` after checking why): {stale:?}");
    assert!(judged >= 50, "only {judged} captures judged");
    assert!(quic >= 2, "only {quic} bare-QUIC captures");
    assert!(v2 >= 4, "only {v2} v2 captures");
}

/// A golden capture's datagrams again, as classic pcap (no room for a secrets block), and its
/// secrets.
fn without_secrets(golden: &str) -> (Vec<u8>, String) {
    let full = std::fs::read(dir().join(golden)).expect("golden");
    let mut reader = handshake_capture::open(&full).expect("capture");
    let datagrams: Vec<_> = reader.by_ref().map(|d| d.expect("datagram")).collect();
    let mut w = handshake_capture::CaptureWriter::with_format(
        Vec::new(),
        handshake_capture::CaptureFormat::Pcap,
    )
    .expect("writer");
    for d in &datagrams {
        w.write_datagram(d.timestamp_ns, d.src, d.dst, &d.payload, None)
            .expect("write");
    }
    (w.finish().expect("finish"), reader.secrets().to_owned())
}

#[test]
fn a_capture_without_secrets_is_nothing_to_judge() {
    for (golden, profile, judge) in [
        ("controller_join_answered.pcapng", "v1", "controller"),
        ("handler_forward_v1.pcapng", "v1", "handler"),
        ("controller_bare_quic_join.pcapng", "v1+quic", "controller"),
    ] {
        let path = dir().join(golden.replace(".pcapng", "_no_secrets.pcap"));
        let (bytes, secrets) = without_secrets(golden);
        assert!(!secrets.is_empty(), "{golden}: the golden has secrets");
        let args: Vec<String> = [
            "--profile",
            profile,
            "--token-secret",
            TOKEN_SECRET,
            "--judge",
            judge,
        ]
        .map(str::to_owned)
        .to_vec();
        let (code, text) = check(&path, bytes.clone(), &args, false);
        assert_eq!(code, 2, "{golden}: {text}");
        assert!(
            text.contains("verdict: nothing to judge"),
            "{golden}: {text}"
        );
        assert!(text.contains("no TLS secrets"), "{golden}: {text}");
        // With the secrets as a key log, the same classic pcap is judged clean.
        let keylog = std::env::temp_dir().join(format!(
            "darktower-golden-{}-{golden}.keys",
            std::process::id()
        ));
        std::fs::write(&keylog, secrets).expect("key log");
        let mut with_keylog = args.clone();
        with_keylog.extend(["--keylog".into(), keylog.display().to_string()]);
        let (code, text) = check(&path, bytes, &with_keylog, false);
        let _ = std::fs::remove_file(&keylog);
        assert_eq!(code, 0, "{golden}: {text}");
        assert!(text.contains("verdict: clean"), "{golden}: {text}");
    }
}

#[test]
fn a_capture_whose_secrets_block_is_stripped_is_nothing_to_judge() {
    // The same pcapng with its Decryption Secrets Block cut out (block type 0x0000000A).
    let full = std::fs::read(dir().join("controller_join_answered.pcapng")).expect("golden");
    let mut stripped = Vec::new();
    let mut at = 0;
    let mut dsbs = 0;
    while at + 12 <= full.len() {
        let kind = u32::from_le_bytes(full[at..at + 4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(full[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        assert!(len >= 12 && at + len <= full.len(), "pcapng block at {at}");
        if kind == 0x0000_000A {
            dsbs += 1;
        } else {
            stripped.extend_from_slice(&full[at..at + len]);
        }
        at += len;
    }
    assert_eq!(at, full.len(), "whole blocks");
    assert_eq!(dsbs, 1, "one secrets block");
    let path = dir().join("controller_join_answered_no_dsb.pcapng");
    let (code, text) = check(
        &path,
        stripped,
        &[
            "--profile".into(),
            "v1".into(),
            "--judge".into(),
            "controller".into(),
        ],
        false,
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("verdict: nothing to judge"), "{text}");
    assert!(text.contains("no TLS secrets"), "{text}");
}

#[test]
fn damaged_and_foreign_input_is_an_input_error() {
    let path = dir().join("controller_join_answered.pcapng");
    let full = std::fs::read(&path).expect("golden");
    let cut = full[..full.len() - 7].to_vec();
    let (code, text) = check(&path, cut, &[], false);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("verdict: incomplete"), "{text}");
    let (code, _) = check(&path, b"not a capture".to_vec(), &[], false);
    assert_eq!(code, 2);
    let (code, text) = check(
        &path,
        full.clone(),
        &["--profile".into(), "v3".into()],
        false,
    );
    assert_eq!((code, text.as_str()), (2, ""));
    let (code, text) = check(&path, full, &["--judge".into(), "everyone".into()], false);
    assert_eq!((code, text.as_str()), (2, ""));
}

/// A capture of the independent Python controller (capacity 1, found by `harness fuzz`): the
/// first participant's over-long message gets a fatal STREAM_ERROR and the controller ends its
/// signaling stream but not its connection, then admits the second participant. DT6 does not say
/// whether the first is still present then: admitting the second is no capacity violation, and
/// the client's over-long message still is one of its own.
#[test]
fn a_participant_whose_stream_the_controller_ended_may_be_gone() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/captures/independent_controller_fatal_error_then_join.pcapng");
    let bytes = std::fs::read(&path).expect("capture");
    let args: Vec<String> = [
        "--profile",
        "v1",
        "--token-secret",
        "dark-tower-harness-secret",
        "--judge",
        "all",
        "--capacity",
        "1",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let (_, json) = check_as(&path, bytes, &args, true, 50, false);
    let rules = rules_of(&json);
    assert!(
        !rules.iter().any(|r| r == "darktower.controller.capacity"),
        "{json}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r == "darktower.client.signaling_frame"),
        "{json}"
    );
}
