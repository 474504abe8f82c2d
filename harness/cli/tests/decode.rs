//! `harness decode` end to end: every input form, the exit codes, and the JSON shape.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use handshake_capture::CaptureWriter;
use handshake_mediastream_wire::{pattern_slice, ConnectionId, ControlRepr, DataRepr, Datagram};
use rstest::rstest;

fn harness(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_harness"))
        .args(args)
        .output()
        .expect("harness runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A file `name` holding `bytes`, in a fresh directory removed with the returned guard.
fn temp_file(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("scratch directory");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    (dir, path)
}

/// A 3-way exchange plus one malformed datagram, as a capture.
fn handshake_capture() -> Vec<u8> {
    let id = ConnectionId::from_uuid_bytes([0xab; 16]);
    let initiator: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
    let responder: SocketAddr = "127.0.0.1:4444".parse().expect("addr");
    let other: SocketAddr = "127.0.0.1:9999".parse().expect("addr");
    let mut w = CaptureWriter::new(Vec::new()).expect("writer");
    let frames: [(SocketAddr, SocketAddr, Vec<u8>); 6] = [
        (
            initiator,
            responder,
            Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec(),
        ),
        (
            responder,
            initiator,
            Datagram::Control(ControlRepr::syn_ack_accept(id)).to_vec(),
        ),
        (
            initiator,
            responder,
            Datagram::Control(ControlRepr::ack(id)).to_vec(),
        ),
        (responder, initiator, Datagram::ConnectionId(id).to_vec()),
        (
            responder,
            initiator,
            Datagram::Data(DataRepr {
                seq: 1,
                qpc: 5,
                qpf: 10_000_000,
                payload: pattern_slice(0, 99),
            })
            .to_vec(),
        ),
        (responder, initiator, vec![0x02, 0x00, 0xff]),
    ];
    for (i, (src, dst, bytes)) in frames.iter().enumerate() {
        w.write_datagram(
            1_000_000_000 + i as u64 * 1_000_000,
            *src,
            *dst,
            bytes,
            None,
        )
        .expect("write");
    }
    w.write_datagram(
        2_000_000_000,
        other,
        "127.0.0.1:9998".parse().expect("addr"),
        b"noise",
        None,
    )
    .expect("write");
    w.finish().expect("finish")
}

#[test]
fn decodes_a_capture_one_line_per_datagram() {
    let (_scratch, path) = temp_file("handshake.pcapng", &handshake_capture());
    let (code, stdout, stderr) =
        harness(&["decode", "--port", "4444", path.to_str().expect("utf8")]);
    assert_eq!(code, 1, "one malformed datagram: {stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(
        lines[0].starts_with("#1 1.000000000 127.0.0.1:50000 > 127.0.0.1:4444 len=67 SYN id=\"\""),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("SYN-ACK accept=true id=\"abababab-abab-abab-abab-abababababab\""),
        "{}",
        lines[1]
    );
    assert!(lines[3].contains("len=39 CONNECTION_ID"), "{}", lines[3]);
    assert!(
        lines[4].contains("DATA seq=1 qpc=5 qpf=10000000 payload=99"),
        "{}",
        lines[4]
    );
    assert!(
        lines[5].contains("MALFORMED: unknown flag 0x0002"),
        "{}",
        lines[5]
    );
    assert!(
        stderr.contains("1 capture packets"),
        "the other-port packet is counted: {stderr}"
    );
}

#[test]
fn json_lines_carry_the_decoded_objects() {
    let (_scratch, path) = temp_file("handshake-json.pcapng", &handshake_capture());
    let (_, stdout, _) = harness(&[
        "decode",
        "--json",
        "--port",
        "4444",
        path.to_str().expect("utf8"),
    ]);
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(records.len(), 6);
    assert_eq!(records[0]["packet"], 1);
    assert_eq!(records[0]["src"], "127.0.0.1:50000");
    assert_eq!(records[2]["datagram"]["kind"], "ack");
    assert_eq!(records[4]["payload_is_pattern"], true);
    assert_eq!(
        records[5]["error"],
        serde_json::json!({"error": "unknown_flag", "flag": 2})
    );
}

#[rstest]
#[case::legacy("legacy", 0, "len=5 START")]
#[case::three_way("3way", 1, "len=5 MALFORMED: unknown flag 0x5453")]
fn start_depends_on_the_mode(#[case] mode: &str, #[case] code: i32, #[case] expected: &str) {
    let (got, stdout, _) = harness(&["decode", "--mode", mode, "--hex", "5354415254"]);
    assert_eq!(got, code);
    assert!(stdout.starts_with(expected), "{stdout}");
}

#[test]
fn a_raw_file_is_one_datagram() {
    let bytes = Datagram::Control(ControlRepr::ack(
        ConnectionId::from_text("abc").expect("short"),
    ))
    .to_vec();
    let (_scratch, path) = temp_file("ack.bin", &bytes);
    let (code, stdout, _) = harness(&["decode", path.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    assert_eq!(stdout.trim(), "len=67 ACK id=\"abc\"");
}

#[rstest]
#[case::bad_hex(&["decode", "--hex", "00 1x"], "bad hex at character 4")]
#[case::odd_hex(&["decode", "--hex", "001"], "odd number of hex digits")]
#[case::nothing(&["decode"], "nothing to decode")]
#[case::missing_file(&["decode", "/nonexistent/capture.pcap"], "/nonexistent/capture.pcap")]
#[case::bad_flag(&["decode", "--mode", "quic", "--hex", "00"], "invalid value 'quic'")]
fn unusable_input_exits_2_with_a_clear_message(#[case] args: &[&str], #[case] needle: &str) {
    let (code, _, stderr) = harness(args);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(needle), "{stderr}");
}

#[test]
fn a_damaged_capture_prints_what_precedes_the_damage_then_exits_2() {
    let mut bytes = handshake_capture();
    bytes.truncate(bytes.len() - 20);
    let (_scratch, path) = temp_file("damaged.pcapng", &bytes);
    let (code, stdout, stderr) = harness(&["decode", path.to_str().expect("utf8")]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stdout.lines().count(),
        6,
        "the six datagrams before the cut record: {stdout}"
    );
    assert!(stderr.contains("damaged at byte offset"), "{stderr}");
}
