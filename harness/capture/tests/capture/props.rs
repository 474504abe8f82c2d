//! Laws: the reader never panics; what the writer writes, the reader reads back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use handshake_capture::{open, CaptureError, CaptureFormat, CaptureWriter};
use proptest::prelude::*;

use crate::util::{pcap, rec, Ng};

/// Reads a capture to the end, checking the iterator's contract on the way.
fn exhaust(bytes: &[u8]) {
    let Ok(mut reader) = open(bytes) else { return };
    let mut datagrams = 0u64;
    let mut saw_error = false;
    for item in reader.by_ref() {
        assert!(!saw_error, "item after an error");
        match item {
            Ok(_) => datagrams += 1,
            Err(CaptureError::Damaged { offset, .. }) => {
                assert!(offset <= bytes.len());
                saw_error = true;
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(reader.next().is_none());
    assert!(datagrams + reader.skipped().total() <= reader.packets_read());
}

/// Valid file starts for every link type and container, to get past the magic check.
fn prefixes() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for linktype in [0u32, 1, 101, 108, 113, 228, 229, 276] {
        out.push(pcap(linktype, false, false, &[]));
        out.push(pcap(linktype, true, true, &[]));
        let mut ng = Ng::new();
        ng.section(false)
            .interface(u16::try_from(linktype).unwrap_or(1), Some(9), None);
        out.push(ng.out);
    }
    out
}

fn endpoint(v6: bool, host: u8, port: u16) -> SocketAddr {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host)))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, host))
    };
    SocketAddr::new(ip, port)
}

#[derive(Debug, Clone)]
struct Datagram {
    ts: u64,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
}

fn datagram() -> impl Strategy<Value = Datagram> {
    (
        any::<bool>(),
        0u64..4_000_000_000_000_000_000,
        (any::<u8>(), any::<u16>()),
        (any::<u8>(), any::<u16>()),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 1000..4000),
        ],
    )
        .prop_map(|(v6, ts, (sh, sp), (dh, dp), payload)| Datagram {
            ts,
            src: endpoint(v6, sh, sp),
            dst: endpoint(v6, dh, dp),
            payload,
        })
}

fn write(format: CaptureFormat, mtu: Option<u16>, datagrams: &[Datagram]) -> Vec<u8> {
    let mut writer = CaptureWriter::with_format(Vec::new(), format)
        .expect("start")
        .with_mtu(mtu);
    for d in datagrams {
        writer
            .write_datagram(d.ts, d.src, d.dst, &d.payload, Some("c"))
            .expect("write");
    }
    writer.finish().expect("finish")
}

fn format() -> impl Strategy<Value = CaptureFormat> {
    prop_oneof![Just(CaptureFormat::PcapNg), Just(CaptureFormat::Pcap)]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        exhaust(&bytes);
    }

    #[test]
    fn arbitrary_records_never_panic(
        prefix in prop::sample::select(prefixes()),
        tail in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut bytes = prefix;
        bytes.extend_from_slice(&tail);
        exhaust(&bytes);
    }

    #[test]
    fn byte_flips_never_panic(
        format in format(),
        datagrams in prop::collection::vec(datagram(), 1..5),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..8),
    ) {
        let mut bytes = write(format, Some(1280), &datagrams);
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        exhaust(&bytes);
    }

    #[test]
    fn written_datagrams_read_back(
        format in format(),
        mtu in prop_oneof![Just(None), Just(Some(1500u16)), Just(Some(1280u16))],
        datagrams in prop::collection::vec(datagram(), 0..6),
    ) {
        let bytes = write(format, mtu, &datagrams);
        let mut reader = open(&bytes).expect("open");
        let got: Vec<_> = reader.by_ref().map(|d| d.expect("datagram")).collect();
        prop_assert_eq!(reader.skipped().total(), 0);
        prop_assert_eq!(got.len(), datagrams.len());
        let mut last_number = 0;
        for (g, d) in got.iter().zip(&datagrams) {
            prop_assert_eq!(g.timestamp_ns, d.ts);
            prop_assert_eq!(g.src, d.src);
            prop_assert_eq!(g.dst, d.dst);
            prop_assert_eq!(&g.payload[..], &d.payload[..]);
            prop_assert!(g.packet_number > last_number);
            last_number = g.packet_number;
        }
    }
}

/// A few hand-picked corner cases of the "never panic" law.
#[test]
fn corner_cases_never_panic() {
    let mut ng = Ng::new();
    ng.section(false)
        .interface(1, Some(0xff), Some(u64::MAX))
        .epb(0, u64::MAX, &[0; 3]);
    exhaust(&ng.out);
    let mut ng = Ng::new();
    ng.section(true).spb(&[0x45; 40]);
    exhaust(&ng.out);
    exhaust(&pcap(
        1,
        false,
        false,
        &[rec(u64::from(u32::MAX) * 1_000_000_000, &[0xff; 60])],
    ));
}
