//! pcapng Decryption Secrets Blocks: written before the packets, read back by both reader
//! paths and by `decryption_secrets`; misuse and damage are typed errors, never panics.

use std::process::Command;

use handshake_capture::{
    decryption_secrets, open, CaptureError, CaptureFormat, CaptureWriter, UdpDatagram,
};
use proptest::prelude::*;

use crate::util::{addr, eth_udp, pcap, rec, Ng};

const TLSK: u32 = 0x544c_534b;

fn key_log_line(label: &str, fill: char) -> String {
    let random: String = std::iter::repeat_n('a', 64).collect();
    let secret: String = std::iter::repeat_n(fill, 96).collect();
    format!("{label} {random} {secret}\n")
}

/// Three datagrams, in both directions.
fn datagrams() -> Vec<(u64, &'static str, &'static str, Vec<u8>)> {
    vec![
        (
            1_000,
            "192.0.2.1:50000",
            "192.0.2.2:443",
            b"client hello".to_vec(),
        ),
        (2_000, "192.0.2.2:443", "192.0.2.1:50000", vec![7; 1500]),
        (
            3_000,
            "192.0.2.1:50000",
            "192.0.2.2:443",
            b"finished".to_vec(),
        ),
    ]
}

/// A pcapng capture: the given key logs (one `write_secrets` call each), then the datagrams.
fn capture(key_logs: &[&str]) -> Vec<u8> {
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    for log in key_logs {
        writer.write_secrets(log).expect("secrets");
    }
    for (ts, src, dst, payload) in datagrams() {
        writer
            .write_datagram(ts, addr(src), addr(dst), &payload, Some("c"))
            .expect("write");
    }
    writer.finish().expect("finish")
}

struct ReadBack {
    datagrams: Vec<UdpDatagram<'static>>,
    secrets: String,
    skipped_secrets: u64,
    error: Option<CaptureError>,
}

fn read_back(bytes: &[u8], fast: bool) -> ReadBack {
    let mut reader = open(bytes).expect("open");
    if !fast {
        reader = reader.without_fast_path();
    }
    let mut datagrams = Vec::new();
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(d) => datagrams.push(d.into_owned()),
            Err(e) => error = Some(e),
        }
    }
    ReadBack {
        datagrams,
        secrets: reader.secrets().to_owned(),
        skipped_secrets: reader.skipped_secrets(),
        error,
    }
}

#[test]
fn secrets_then_packets_read_back_both_ways() {
    let first = key_log_line("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 'b')
        + &key_log_line("SERVER_HANDSHAKE_TRAFFIC_SECRET", 'c');
    // No final newline, and a length that needs padding: the reader adds the newline.
    let second = key_log_line("CLIENT_TRAFFIC_SECRET_0", 'd');
    let second = second.trim_end();
    let with = capture(&[&first, "", second]);
    let without = capture(&[]);
    let expected = format!("{first}{second}\n");

    let plain = read_back(&without, true);
    assert!(plain.error.is_none());
    assert_eq!(plain.datagrams.len(), 3);
    assert_eq!(plain.secrets, "");

    for fast in [true, false] {
        let got = read_back(&with, fast);
        assert!(got.error.is_none(), "fast {fast}: {:?}", got.error);
        assert_eq!(got.secrets, expected, "fast {fast}");
        assert_eq!(got.skipped_secrets, 0);
        assert_eq!(got.datagrams, plain.datagrams, "fast {fast}");
    }
    assert_eq!(decryption_secrets(&with).expect("secrets"), expected);
    assert_eq!(decryption_secrets(&without).expect("secrets"), "");

    // The secrets are there as soon as the first datagram is.
    let mut reader = open(&with).expect("open");
    assert_eq!(reader.secrets(), "");
    assert!(reader.next().is_some());
    assert_eq!(reader.secrets(), expected);
}

#[test]
fn secrets_blocks_are_byte_exact_and_precede_the_packets() {
    let log = "CLIENT_RANDOM 0011 2233\n"; // 24 bytes: no padding
    let odd = "SERVER_TRAFFIC_SECRET_0 ab cd"; // 29 bytes: 3 bytes of padding
    let head = CaptureWriter::new(Vec::new())
        .expect("start")
        .finish()
        .expect("finish");
    let with = capture(&[log, odd]);
    let without = capture(&[]);

    let mut dsbs = Ng::new();
    dsbs.dsb(TLSK, log.as_bytes()).dsb(TLSK, odd.as_bytes());
    let mut expected = head.clone();
    expected.extend_from_slice(&dsbs.out);
    expected.extend_from_slice(&without[head.len()..]);
    assert_eq!(with, expected);

    // The first block: type 10, total length 12 + 8 + 24, "TLSK" in little-endian, length.
    let dsb = &with[head.len()..];
    assert_eq!(&dsb[..4], &10u32.to_le_bytes());
    assert_eq!(&dsb[4..8], &44u32.to_le_bytes());
    assert_eq!(&dsb[8..12], b"KSLT");
    assert_eq!(&dsb[12..16], &24u32.to_le_bytes());
    assert_eq!(&dsb[40..44], &44u32.to_le_bytes());
}

#[test]
fn secrets_after_a_packet_are_refused() {
    let start = || {
        let mut writer = CaptureWriter::new(Vec::new()).expect("start");
        writer
            .write_secrets("CLIENT_RANDOM 00 11\n")
            .expect("before");
        writer
            .write_datagram(1, addr("10.0.0.1:1"), addr("10.0.0.2:2"), b"x", None)
            .expect("write");
        writer
    };
    let reference = start().finish().expect("finish");
    let mut writer = start();
    match writer.write_secrets("CLIENT_RANDOM 22 33\n") {
        Err(err @ CaptureError::SecretsAfterPackets { packets_written }) => {
            assert_eq!(packets_written, 1);
            assert!(err.to_string().contains("before the first packet"), "{err}");
        }
        other => panic!("expected SecretsAfterPackets, got {other:?}"),
    }
    // An empty key log has nothing to lose: accepted, nothing written.
    writer.write_secrets("").expect("empty");
    let bytes = writer.finish().expect("finish");
    assert_eq!(bytes, reference, "nothing written by the refused calls");
    assert_eq!(
        decryption_secrets(&bytes).expect("secrets"),
        "CLIENT_RANDOM 00 11\n"
    );
    assert_eq!(read_back(&bytes, true).datagrams.len(), 1);
}

#[test]
fn classic_pcap_has_no_place_for_secrets() {
    let mut writer = CaptureWriter::with_format(Vec::new(), CaptureFormat::Pcap).expect("start");
    match writer.write_secrets("CLIENT_RANDOM 00 11\n") {
        Err(err @ CaptureError::SecretsNeedPcapNg) => {
            assert!(err.to_string().contains("pcapng"), "{err}");
        }
        other => panic!("expected SecretsNeedPcapNg, got {other:?}"),
    }
    writer.write_secrets("").expect("empty");
    let head = writer.finish().expect("finish");
    assert_eq!(head.len(), 24, "nothing but the file header");
    assert_eq!(decryption_secrets(&head).expect("classic"), "");
    let records = [rec(0, &[0; 60][..])];
    assert_eq!(
        decryption_secrets(&pcap(1, false, true, &records)).expect("classic"),
        ""
    );
    assert_eq!(read_back(&head, true).secrets, "");
}

#[test]
fn not_a_capture_is_refused() {
    assert!(matches!(
        decryption_secrets(b"<!DOCTYPE html>"),
        Err(CaptureError::NotACapture { .. })
    ));
    assert!(matches!(
        decryption_secrets(b""),
        Err(CaptureError::NotACapture { .. })
    ));
}

/// Where the first DSB starts in a capture written by [`capture`].
fn first_dsb_offset() -> usize {
    CaptureWriter::new(Vec::new())
        .expect("start")
        .finish()
        .expect("finish")
        .len()
}

#[test]
fn truncated_dsb_is_damage_not_a_panic() {
    let log = key_log_line("CLIENT_RANDOM", 'e');
    let bytes = capture(&[log.as_str()]);
    let at = first_dsb_offset();
    for cut in [at + 3, at + 11, at + 20, at + 60] {
        let cut_bytes = &bytes[..cut];
        match decryption_secrets(cut_bytes) {
            Err(CaptureError::Damaged {
                offset,
                packet_number,
                reason,
            }) => {
                assert_eq!(offset, at, "cut {cut}");
                assert_eq!(packet_number, 1);
                assert!(reason.contains("cut short"), "{reason}");
            }
            other => panic!("cut {cut}: expected Damaged, got {other:?}"),
        }
        for fast in [true, false] {
            let got = read_back(cut_bytes, fast);
            assert!(got.datagrams.is_empty());
            assert!(
                matches!(got.error, Some(CaptureError::Damaged { offset, .. }) if offset == at),
                "cut {cut} fast {fast}: {:?}",
                got.error
            );
        }
    }
}

#[test]
fn dsb_overrunning_its_body_is_damage() {
    // Well framed, but the secrets length claims more than the block holds.
    let mut ng = Ng::new();
    ng.section(false).interface(1, Some(9), None);
    let at = ng.out.len();
    let mut body = TLSK.to_le_bytes().to_vec();
    body.extend_from_slice(&100u32.to_le_bytes());
    body.extend_from_slice(b"CLIENT_RANDOM 00 11\n");
    ng.block(0x0a, &body);
    let frame = eth_udp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), b"x");
    ng.epb(0, 1, &frame);
    match decryption_secrets(&ng.out) {
        Err(CaptureError::Damaged { offset, reason, .. }) => {
            assert_eq!(offset, at);
            assert!(reason.contains("claims 100 bytes"), "{reason}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
    for fast in [true, false] {
        let got = read_back(&ng.out, fast);
        assert!(
            matches!(got.error, Some(CaptureError::Damaged { offset, .. }) if offset == at),
            "fast {fast}: {:?}",
            got.error
        );
    }
}

#[test]
fn other_secrets_types_are_counted_and_ignored_in_any_section() {
    let frame = eth_udp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), b"x");
    let mut ng = Ng::new();
    ng.section(true)
        .interface(1, Some(9), None)
        .dsb(TLSK, b"CLIENT_RANDOM 00 11")
        .dsb(0x5753_4b4c, b"wireguard keys") // "WGKL"
        .epb(0, 1, &frame)
        // After a packet (other writers may do this): still collected.
        .dsb(TLSK, b"CLIENT_RANDOM 22 33\n")
        .section(false)
        .interface(1, Some(9), None)
        .dsb(TLSK, b"")
        .dsb(TLSK, b"CLIENT_RANDOM 44 55\n")
        .epb(0, 2, &frame);
    let expected = "CLIENT_RANDOM 00 11\nCLIENT_RANDOM 22 33\nCLIENT_RANDOM 44 55\n";
    assert_eq!(decryption_secrets(&ng.out).expect("secrets"), expected);
    for fast in [true, false] {
        let got = read_back(&ng.out, fast);
        assert!(got.error.is_none(), "{:?}", got.error);
        assert_eq!(got.datagrams.len(), 2);
        assert_eq!(got.secrets, expected);
        assert_eq!(got.skipped_secrets, 1);
    }
}

#[test]
fn tshark_reads_a_capture_with_secrets() {
    let Ok(found) = Command::new("sh")
        .args(["-c", "command -v tshark"])
        .output()
    else {
        println!("skipped: cannot run sh to look for tshark");
        return;
    };
    if !found.status.success() {
        println!("skipped: tshark is not installed");
        return;
    }
    let bytes = capture(&[key_log_line("CLIENT_RANDOM", 'f').as_str()]);
    let path = std::env::temp_dir().join(format!(
        "handshake-capture-dsb-{}.pcapng",
        std::process::id()
    ));
    std::fs::write(&path, &bytes).expect("write capture");
    let output = Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-T", "fields", "-e", "frame.number"])
        .output();
    // capinfos (same package) counts the secrets blocks, when it is there.
    let capinfos = Command::new("capinfos").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    if let Ok(capinfos) = capinfos {
        let text = String::from_utf8_lossy(&capinfos.stdout);
        if let Some(line) = text.lines().find(|l| l.contains("decryption secrets")) {
            assert!(line.trim_end().ends_with(": 1"), "capinfos: {line}");
        }
    }
    let output = output.expect("run tshark");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "tshark failed: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "1\n2\n3\n",
        "{stderr}"
    );
}

/// A valid capture with secrets, for the "never panic" laws.
fn with_secrets() -> Vec<u8> {
    capture(&["CLIENT_RANDOM 00 11\n", "SERVER_TRAFFIC_SECRET_0 22 33"])
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_decryption_secrets(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let _ = decryption_secrets(&bytes);
    }

    #[test]
    fn arbitrary_blocks_never_panic_decryption_secrets(
        big_endian in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut ng = Ng::new();
        ng.section(big_endian);
        let mut bytes = ng.out;
        bytes.extend_from_slice(&tail);
        let _ = decryption_secrets(&bytes);
    }

    /// Damaged captures never panic; whenever the reader reads one to the end without damage,
    /// `decryption_secrets` finds the same secrets.
    #[test]
    fn byte_flips_and_cuts_agree_with_the_reader(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 0..6),
        cut in any::<prop::sample::Index>(),
        fast in any::<bool>(),
    ) {
        let mut bytes = with_secrets();
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let walked = decryption_secrets(&bytes);
        if open(&bytes).is_ok() {
            let got = read_back(&bytes, fast);
            if got.error.is_none() {
                prop_assert_eq!(walked.expect("reader read it all"), got.secrets);
            }
        }
    }
}
