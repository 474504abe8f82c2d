//! Golden captures: each is regenerated and compared with the committed file in pcaps/mediastream/
//! (set UPDATE_GOLDEN=1 to rewrite them), then judged by `harness check`: a clean capture must stay
//! clean, a rule capture must break exactly its rule, and the whole verdict is an insta snapshot.

use std::path::PathBuf;

use handshake_check::CheckRequest;
use handshake_mediastream::golden::{self, Golden};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../pcaps/mediastream")
}

/// `harness check PATH ARGS [--json]` as the binary runs it: the generic `--profile`, and the media
/// stream's own options.
fn check(path: &std::path::Path, args: &[String], json: bool) -> (i32, String) {
    let command = <handshake_mediastream::MediaStream as handshake_plugin::Plugin>::check_args(
        clap::Command::new("check").arg(clap::Arg::new("profile").long("profile")),
    );
    let matches = command
        .try_get_matches_from(std::iter::once("check".to_owned()).chain(args.iter().cloned()))
        .expect("valid arguments");
    let request = CheckRequest {
        file: path.to_owned(),
        threads: 2,
        port: None,
        responder: None,
        profile: matches.get_one::<String>("profile").cloned(),
        tolerance: handshake_check::Tolerance::from_ms(50),
        json,
        strict_profile: false,
        keylog: None,
    };
    let mut out = Vec::new();
    let code = handshake_check::finish(
        &request,
        <handshake_mediastream::MediaStream as handshake_plugin::Plugin>::check(&request, &matches),
        &mut out,
    );
    (code, String::from_utf8_lossy(&out).into_owned())
}

fn verify(goldens: Vec<Golden>) {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut stale = Vec::new();
    for g in goldens {
        assert!(!g.bytes.is_empty(), "{}: generation failed", g.name);
        let path = dir().join(format!("{}.pcapng", g.name));
        if update {
            std::fs::write(&path, &g.bytes).expect("write golden");
        } else if std::fs::read(&path).ok().as_deref() != Some(&g.bytes[..]) {
            stale.push(g.name.clone());
            continue;
        }
        let (code, json) = check(&path, &g.check_args, true);
        let doc: serde_json::Value = serde_json::from_str(&json).expect("JSON verdict");
        let mut rules: Vec<&str> = doc["report"]["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|s| s["violations"].as_array().into_iter().flatten())
            .filter_map(|v| v["rule"].as_str())
            .collect();
        rules.sort_unstable();
        rules.dedup();
        match g.breaks {
            None => assert_eq!((code, rules), (0, vec![]), "{} must be clean", g.name),
            // A rule resting on a profile decision is a deviation: shown, exit 0.
            Some(rule) => {
                let mut want: Vec<&str> = g.also.iter().copied().chain([rule]).collect();
                want.sort_unstable();
                let fails = want.iter().any(|r| {
                    handshake_mediastream_judge::rules::by_id(r).map(|r| r.basis)
                        != Some(handshake_mediastream_judge::rules::Basis::Profile)
                });
                assert_eq!(
                    (code, rules),
                    (i32::from(fails), want),
                    "{} must break exactly {rule} (and {:?})",
                    g.name,
                    g.also
                );
            }
        }
        let (_, text) = check(&path, &g.check_args, false);
        let text = text.replace(&dir().display().to_string(), "pcaps/mediastream");
        insta::with_settings!({ snapshot_suffix => g.name.clone(), description => g.description.clone(), omit_expression => true }, {
            insta::assert_snapshot!("check", text);
        });
    }
    assert!(stale.is_empty(), "golden captures differ from their generator (run `UPDATE_GOLDEN=1 cargo test --test golden_pcaps` after checking why): {stale:?}");
}

#[test]
fn rule_captures_break_exactly_their_rule() {
    let goldens = golden::rule_captures();
    // Every rule in the catalogue has its capture.
    let mut covered: Vec<&str> = goldens.iter().filter_map(|g| g.breaks).collect();
    covered.sort_unstable();
    let mut all: Vec<&str> = handshake_mediastream_judge::rules::ALL
        .iter()
        .map(|r| r.id)
        .collect();
    all.sort_unstable();
    assert_eq!(covered, all, "one capture per rule");
    verify(goldens);
}

#[test]
fn interop_pair_captures_are_clean() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../../vectors/interop/mediastream-matrix.json");
    let matrix = handshake_interop::matrix::load::<handshake_mediastream::MediaStream>(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    let goldens = golden::pair_captures(&matrix);
    assert_eq!(goldens.len(), matrix.cells.len());
    verify(goldens);
}
