//! No capture makes the judge panic: truncated, garbled and arbitrary bytes give a verdict or
//! an `Err` (not a capture at all).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use common::*;
use handshake_darktower_endpoint::MediaVersion;
use handshake_darktower_judge::{judge, Judged, Options, ResetCodes};
use proptest::prelude::*;

fn capture() -> &'static [u8] {
    static CAPTURE: OnceLock<Vec<u8>> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        meeting(Setup::new(
            Tr::Wt(ResetCodes::Mapped),
            vec![
                client_config("alice", MediaVersion::V1),
                client_config("bob", MediaVersion::V2),
            ],
        ))
        .capture()
    })
}

fn options() -> Options {
    Options {
        token_secret: Some(SECRET.into()),
        judged_at_unix_s: None,
        judge: Judged::ALL,
        ..Options::default()
    }
}

#[test]
fn the_whole_capture_is_judged_without_transport_hint() {
    // No transport option: WebTransport from the ALPN.
    let r = judge(capture(), &options()).expect("judge");
    assert!(r.violations.is_empty(), "{}", show(&r));
    assert_eq!(r.sessions.len(), 4);
}

/// The same datagrams as classic pcap, without the secrets block; and the key log they lacked.
fn classic() -> (Vec<u8>, String) {
    let mut bytes = Vec::new();
    let mut w = handshake_capture::CaptureWriter::with_format(
        &mut bytes,
        handshake_capture::CaptureFormat::Pcap,
    )
    .expect("writer");
    let mut reader = handshake_capture::open(capture()).expect("open");
    for d in reader.by_ref() {
        let d = d.expect("datagram");
        w.write_datagram(d.timestamp_ns, d.src, d.dst, &d.payload, None)
            .expect("write");
    }
    w.finish().expect("finish");
    (bytes, reader.secrets().to_owned())
}

#[test]
fn without_secrets_nothing_is_blamed() {
    let (bytes, _) = classic();
    let r = judge(&bytes, &options()).expect("judge");
    assert!(r.violations.is_empty(), "{}", show(&r));
    assert!(
        r.notes.iter().any(|n| n.contains("no TLS secrets")),
        "{}",
        show(&r)
    );
    assert!(r.sessions.iter().all(|s| s.participant.is_none()));
}

#[test]
fn pcap_with_a_key_log_is_judged_like_pcapng_with_its_secrets() {
    let (bytes, keys) = classic();
    let with_keys = Options {
        key_log: Some(keys),
        ..options()
    };
    let r = judge(&bytes, &with_keys).expect("judge");
    let reference = judge(capture(), &options()).expect("judge");
    assert!(r.violations.is_empty(), "{}", show(&r));
    assert_eq!(r.sessions, reference.sessions);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn truncated_captures_do_not_panic(cut in 0usize..100_000) {
        let c = capture();
        let cut = cut % (c.len() + 1);
        let _ = judge(&c[..cut], &options());
    }

    #[test]
    fn garbled_captures_do_not_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut c = capture().to_vec();
        for (at, x) in flips {
            let i = at % c.len();
            c[i] ^= x | 1;
        }
        let _ = judge(&c, &options());
    }

    #[test]
    fn arbitrary_bytes_do_not_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = judge(&bytes, &Options::default());
    }
}
