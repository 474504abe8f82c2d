//! Wireshark decrypts our Proton captures with nothing but the file: the Decryption Secrets Block
//! comes first, and tshark's own QUIC reassembly (`-z follow,quic`) of every stream, both ways,
//! equals what our decryptor and judge rebuilt — an independent check of both the capture writer
//! and the decryptor. Skipped (with a message) when tshark is not installed; `make test`
//! installs it.

use std::path::PathBuf;
use std::process::Command;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../pcaps/proton")
}

/// tshark's reassembly of `(connection, stream)` pairs: (client bytes, server bytes) each.
fn follow(file: &std::path::Path, streams: &[(usize, u64)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut args: Vec<String> = vec![
        "-r".into(),
        file.display().to_string(),
        "-d".into(),
        "udp.port==4444,quic".into(),
        "-q".into(),
        // Datagrams the harness's link did not deliver are in the capture (commented); the
        // endpoints never saw them, so neither does the comparison.
        "-2".into(),
        "-R".into(),
        "not frame.comment contains \"not delivered\"".into(),
    ];
    for (c, s) in streams {
        args.extend(["-z".into(), format!("follow,quic,raw,{c},{s}")]);
    }
    let out = Command::new("tshark").args(&args).output().expect("tshark");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // One block per -z option, in the reverse order of the options (tshark's tap order).
    let mut blocks: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for block in text.split("===================================================================\n")
    {
        if !block.starts_with("Follow: quic,raw") {
            continue;
        }
        let (mut client, mut server) = (Vec::new(), Vec::new());
        for line in block.lines().skip(4) {
            let (to, hex) = match line.strip_prefix('\t') {
                Some(h) => (&mut server, h),
                None => (&mut client, line),
            };
            to.extend(
                (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex")),
            );
        }
        blocks.push((client, server));
    }
    blocks.reverse();
    blocks
}

#[test]
fn tshark_decrypts_every_golden_capture_as_our_judge_does() {
    if Command::new("tshark").arg("--version").output().is_err() {
        eprintln!("SKIPPED: tshark is not installed (make test installs it)");
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .expect("pcaps/proton")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcapng"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "golden captures missing");
    let mut compared = 0;
    for file in files {
        let bytes = std::fs::read(&file).expect("capture");
        let report =
            handshake_proton_judge::judge(&bytes, &handshake_proton_judge::Options::default())
                .expect("judged");
        let streams: Vec<(usize, u64, &handshake_proton_judge::StreamView)> = report
            .connections
            .iter()
            .flat_map(|c| c.streams.iter().map(move |s| (c.index, s.id, s)))
            .filter(|(_, _, s)| !s.client_bytes.is_empty() || !s.server_bytes.is_empty())
            .collect();
        // tshark 4.0 attributes short-header packets by address when two connections share
        // one client port (legal QUIC: one endpoint socket, two connections) and loses the
        // first connection's 1-RTT packets after the second one's Initial; our decryptor maps
        // them by connection id. Not comparable there.
        let mut clients: Vec<_> = report.connections.iter().map(|c| c.client).collect();
        clients.sort();
        clients.dedup();
        if streams.is_empty() || clients.len() < report.connections.len() {
            continue;
        }
        let ids: Vec<(usize, u64)> = streams.iter().map(|(c, s, _)| (*c, *s)).collect();
        let theirs = follow(&file, &ids);
        assert_eq!(theirs.len(), streams.len(), "{}", file.display());
        for ((c, s, ours), (client, server)) in streams.iter().zip(theirs) {
            assert_eq!(
                (&ours.client_bytes, &ours.server_bytes),
                (&client, &server),
                "{}: connection {c} stream {s}",
                file.display()
            );
            compared += 1;
        }
    }
    assert!(compared >= 60, "only {compared} streams compared");
}
