//! Our pcapng files open cleanly in tshark: no malformed packets, no expert warnings, good IP and UDP
//! checksums, nanosecond timestamps at the right epoch, comments intact. Skipped (with a message) when
//! tshark is not installed; `make test` installs it.

use std::process::Command;

use handshake_mediastream::pair::{initiator_addr, run_pair};
use handshake_mediastream_endpoint::{Profile, StreamConfig};
use handshake_net::{FaultAction, FaultRule, LinkConfig, Nth, Predicate, VirtualLink};

fn tshark(args: &[&str]) -> Option<(String, String)> {
    let out = Command::new("tshark").args(args).output().ok()?;
    Some((
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[test]
fn tshark_reads_our_captures_without_warnings() {
    if tshark(&["--version"]).is_none() {
        eprintln!("SKIPPED: tshark is not installed (make test installs it)");
        return;
    }
    let rules = vec![
        FaultRule::new(
            1,
            Predicate::any().kind("syn_ack").nth(Nth::Exactly(1)),
            FaultAction::Drop,
        ),
        FaultRule::new(
            2,
            Predicate::any().kind("data").nth(Nth::Every(7)),
            FaultAction::Truncate { len: 30 },
        ),
        FaultRule::new(
            3,
            Predicate::any().kind("data").nth(Nth::Every(11)),
            FaultAction::Duplicate {
                copies: 1,
                spacing_ms: 2,
            },
        ),
    ];
    let link = VirtualLink::new(LinkConfig::with_seed(3))
        .with_rules(rules)
        .expect("rules");
    let config = StreamConfig {
        bits_per_second: 2_000_000,
        frame_rate: 50,
        stream_length_secs: 1,
        ..StreamConfig::default()
    };
    let run = run_pair(
        Profile::parse("3way").expect("p"),
        Profile::parse("3way").expect("p"),
        config,
        link,
        3,
    )
    .expect("run");
    let scratch = tempfile::tempdir().expect("scratch directory");
    let dir = scratch.path();
    let path = dir.join("run.pcapng");
    std::fs::write(&path, run.capture(initiator_addr()).expect("capture")).expect("write");
    let file = path.to_str().expect("utf8");

    let checks = [
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
    ];
    let (verbose, stderr) =
        tshark(&[&["-r", file, "-V"][..], &checks[..]].concat()).expect("tshark runs");
    let noise: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("Running as user"))
        .collect();
    assert!(noise.is_empty(), "tshark complained: {noise:?}");
    for bad in [
        "Malformed",
        "[Expert Info (Warning",
        "[Expert Info (Error",
        "Bad checksum",
        "[Checksum Status: Bad]",
    ] {
        assert!(!verbose.contains(bad), "tshark reports `{bad}`");
    }
    let (fields, _) = tshark(&[
        "-r",
        file,
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.comment",
    ])
    .expect("tshark runs");
    let rows: Vec<&str> = fields.lines().collect();
    assert!(rows.len() > 50, "{} packets", rows.len());
    assert!(
        rows[0].starts_with("1767225600.000000000"),
        "nanosecond epoch: {}",
        rows[0]
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("not delivered: dropped by harness: rule 1")),
        "drop comment"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("received as changed by harness: rule 2 truncated")),
        "truncate comment"
    );
}
