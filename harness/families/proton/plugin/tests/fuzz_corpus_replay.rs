//! Replays the committed `proton_server` corpus through the fuzz target's own check on the stable
//! toolchain (CI replays instead of fuzzing), and checks the seed scripts do what their names say.
//!
//! `PROTON_FUZZ_SEED=1 cargo test -p handshake-proton --features arbitrary --test
//! fuzz_corpus_replay seed_scripts` (re)writes the seeds into the corpus as `seed-<name>`.

use std::path::PathBuf;

use handshake_proton::fuzzing::{self, check_server_session, encode, run};
use handshake_quic::Close;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../fuzz/corpus/proton_server")
}

#[test]
fn proton_server_corpus() {
    let dir = corpus();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    // An empty corpus would make this pass without checking anything.
    assert!(!files.is_empty(), "corpus {} is empty", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("corpus file");
        let result = std::panic::catch_unwind(|| check_server_session(&data));
        if let Err(e) = result {
            panic!("{}: {e:?}", file.display());
        }
    }
}

/// How a seed's first connection must end at the server: `Some((by the client, code))` for an
/// application close, `None` for an idle timeout.
fn expected_end(name: &str) -> Option<(bool, u64)> {
    let (by_client, code) = match name {
        n if n.starts_with("happy") => (true, 0),
        "discriminators_out_of_order"
        | "second_connection_refused"
        | "reconnect_after_close"
        | "ops_before_handshake"
        | "close_during_startup" => (true, 0),
        "client_close_code_7" => (true, 7),
        "fourth_stream_reset" => (false, 0),
        // P5: a stream that ends before its discriminator fails its setup.
        "early_fin"
        | "reset_before_setup"
        | "discriminator_zero"
        | "discriminator_four"
        | "discriminator_ff_first"
        | "discriminator_repeated"
        | "fourth_stream_other"
        | "discriminator_timeout"
        | "discriminator_late" => (false, 1),
        "accept_timeout_no_stream"
        | "accept_timeout_second_stream"
        | "second_connection_during_startup" => (false, 3),
        "events_gaps"
        | "actions_pull"
        | "actions_push_client_writes"
        | "commit_max_minus_two"
        | "commit_overflow_wrapping"
        | "fourth_stream_blocked"
        | "values_in_pieces"
        | "as_coded_discriminator_op_timeout"
        | "op_timeout"
        | "op_timeout_mid_u32"
        | "op_timeout_push"
        | "uni_stream" => (false, 4),
        "event_first_zero"
        | "event_equal"
        | "event_decreasing"
        | "commit_overflow_checked"
        // P5: after the setup every FIN ends a read early.
        | "fin_at_boundary"
        | "fin_on_commit_stream"
        | "fin_inside_u32"
        | "reset_stream"
        | "stop_sending"
        | "stop_sending_before_setup" => (false, 5),
        "idle_timeout_without_keepalive" => return None,
        other => panic!("seed {other}: no expectation"),
    };
    Some((by_client, code))
}

/// Every seed runs clean, ends its first connection the way its name says, and decodes from its
/// own bytes; with `PROTON_FUZZ_SEED=1` they are written into the corpus.
#[test]
fn seed_scripts() {
    let write = std::env::var_os("PROTON_FUZZ_SEED").is_some_and(|v| v == "1");
    for (name, script) in fuzzing::seeds() {
        let bytes = encode(&script);
        assert_eq!(fuzzing::Script::decode(&bytes), script, "{name}");
        check_server_session(&bytes);
        let outcome = run(&script);
        let want = expected_end(name);
        let got = outcome
            .server_ends
            .first()
            .map(|(by_peer, close)| match close {
                Close::Application { code, .. } => Some((*by_peer, *code)),
                _ => None,
            });
        assert_eq!(
            got,
            Some(want),
            "seed {name}: server ends {:?}\ntranscript:\n{}",
            outcome.server_ends,
            outcome.transcript.join("\n")
        );
        if name.starts_with("second_connection") {
            assert_eq!(outcome.refused, 1, "seed {name}");
        }
        if write {
            let dir = corpus();
            std::fs::create_dir_all(&dir).expect("corpus dir");
            std::fs::write(dir.join(format!("seed-{name}")), &bytes).expect("seed file");
        }
    }
}

/// `PROTON_REPRO=FILE`: runs one input through the check (a crash from the fuzzer, say).
#[test]
fn repro() {
    if let Some(file) = std::env::var_os("PROTON_REPRO") {
        let data = std::fs::read(&file).expect("input");
        println!("{:#?}", fuzzing::Script::decode(&data));
        check_server_session(&data);
    }
}
