//! Golden captures (`pcaps/proton/`): every Proton server scenario run against the reference
//! server (`ref:project`) in virtual time, written with its secrets block, compared with the
//! committed file (set UPDATE_GOLDEN=1 to rewrite them), then judged by `harness check` as a user
//! would judge a capture: the reference server must break no server rule, and the whole verdict
//! is an insta snapshot. Client rules fire where the scenario's scripted client misbehaves on
//! purpose, and only there.

use std::path::{Path, PathBuf};

use handshake_check::testing::{assert_only_rules_of, golden_matches, rules_of};
use handshake_proton::format::Setup;
use handshake_proton::Proton;
use handshake_quic_family::testing::CheckCli;
use handshake_scenario::{Role, Scenario};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

fn dir() -> PathBuf {
    root().join("pcaps/proton")
}

/// `harness check PATH ARGS --json?` as the binary runs it (tolerance 100 ms, as the runs judge;
/// `--strict-profile`).
fn check(path: &Path, bytes: Vec<u8>, args: &[String], json: bool) -> (i32, String) {
    let cli = CheckCli {
        args: <handshake_proton::Proton as handshake_plugin::Plugin>::check_args,
        check: <handshake_proton::Proton as handshake_plugin::Plugin>::check,
    };
    handshake_quic_family::testing::check(cli, path, &bytes, args, json, 100, true)
}

/// The `harness check` options that tell the judge what the scenario's server was.
fn check_args(scenario: &Scenario<Proton>) -> Vec<String> {
    let mut profile = "project".to_owned();
    if scenario.iut.fields.action_push {
        profile.push_str("+action_push");
    }
    if scenario.iut.fields.reset_discriminator {
        profile.push_str("+reset_discriminator");
    }
    let Setup { session } = &scenario.setup;
    let mut args = vec!["--profile".to_owned(), profile, "--profile-timers".into()];
    for (flag, value) in [
        ("--accept-ms", session.accept_ms),
        ("--op-ms", session.op_ms),
        ("--disc-ms", session.disc_ms),
        ("--startup-ms", session.startup_ms),
    ] {
        if let Some(v) = value {
            args.extend([flag.to_owned(), v.to_string()]);
        }
    }
    args
}

fn server_scenarios() -> Vec<(String, Scenario<Proton>)> {
    handshake_scenario::testing::scenarios_of(
        &root().join("vectors/scenarios/proton"),
        Role::Responder,
    )
}

#[test]
fn reference_server_captures_break_no_server_rule() {
    let profile = handshake_proton_endpoint::Profile::parse("project").expect("profile");
    let mut stale = Vec::new();
    let mut judged = 0;
    for (stem, scenario) in server_scenarios() {
        let outcome = handshake_scenario::engine::run_reference(
            &scenario,
            "ref:project",
            &profile,
            scenario.seed.unwrap_or(1),
        );
        if outcome.capture.is_empty() {
            // Unsupported by the reference profile (no run, no capture).
            continue;
        }
        let path = dir().join(format!("{stem}.pcapng"));
        if !golden_matches(&dir(), &stem, &outcome.capture) {
            stale.push(stem.clone());
            continue;
        }
        let args = check_args(&scenario);
        let (code, json) = check(&path, outcome.capture.clone(), &args, true);
        // The scripted client's rules may fire, and only theirs.
        assert_only_rules_of("proton.client.", &rules_of(&json), code, &stem);
        let (_, text) = check(&path, outcome.capture, &args, false);
        let text = text.replace(&dir().display().to_string(), "pcaps/proton");
        insta::with_settings!({ snapshot_suffix => stem.clone(), description => scenario.title.clone(), omit_expression => true }, {
            insta::assert_snapshot!("check", text);
        });
        judged += 1;
    }
    assert!(stale.is_empty(), "golden captures differ from their runs (run `UPDATE_GOLDEN=1 cargo test -p handshake-proton --test golden_pcaps` after checking why): {stale:?}");
    assert!(judged >= 30, "only {judged} captures judged");
}

#[test]
fn a_capture_without_secrets_is_nothing_to_judge() {
    let path = dir().join("happy_path_no_secrets.pcap");
    let full = std::fs::read(dir().join("server_happy_path.pcapng")).expect("golden");
    // The same traffic as classic pcap: the secrets block is gone.
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
    let bytes = w.finish().expect("finish");
    let (code, text) = check(&path, bytes.clone(), &[], false);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("verdict: nothing to judge"), "{text}");
    assert!(text.contains("no TLS secrets"), "{text}");
    // With the secrets as a key log, the same classic pcap is judged clean.
    let secrets = reader.secrets().to_owned();
    let keylog = std::env::temp_dir().join(format!("proton-golden-{}.keys", std::process::id()));
    std::fs::write(&keylog, secrets).expect("key log");
    let (code, text) = check(
        &path,
        bytes,
        &["--keylog".into(), keylog.display().to_string()],
        false,
    );
    let _ = std::fs::remove_file(&keylog);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("verdict: clean"), "{text}");
}

#[test]
fn damaged_and_foreign_input_is_an_input_error() {
    let path = dir().join("server_happy_path.pcapng");
    let full = std::fs::read(&path).expect("golden");
    let cut = full[..full.len() - 7].to_vec();
    let (code, text) = check(&path, cut, &[], false);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("verdict: incomplete"), "{text}");
    let (code, _) = check(&path, b"not a capture".to_vec(), &[], false);
    assert_eq!(code, 2);
    let (code, text) = check(&path, full, &["--profile".into(), "nonsense".into()], false);
    assert_eq!((code, text.as_str()), (2, ""));
}
