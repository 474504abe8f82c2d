//! Writer → reader round trips, and what the writer puts in the file.

use std::borrow::Cow;
use std::net::SocketAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use handshake_capture::{open, CaptureError, CaptureFormat, CaptureWriter, USER_APPLICATION};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketOption;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::blocks::section_header::SectionHeaderOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use rstest::rstest;

use crate::util::{addr, frames_of, pcap, read_all, rec};

struct Sent {
    ts: u64,
    src: SocketAddr,
    dst: SocketAddr,
    payload: Vec<u8>,
    comment: Option<&'static str>,
}

fn conversation(v6: bool) -> Vec<Sent> {
    let (client, server) = if v6 {
        (addr("[2001:db8::1]:50000"), addr("[2001:db8::2]:4433"))
    } else {
        (addr("192.0.2.1:50000"), addr("192.0.2.2:4433"))
    };
    vec![
        Sent {
            ts: 1_700_000_000_000_000_001,
            src: client,
            dst: server,
            payload: b"hello".to_vec(),
            comment: Some("client hello"),
        },
        Sent {
            ts: 1_700_000_000_250_000_000,
            src: server,
            dst: client,
            payload: vec![0xab; 1200],
            comment: None,
        },
        Sent {
            ts: 1_700_000_001_999_999_999,
            src: client,
            dst: server,
            payload: Vec::new(),
            comment: Some("empty datagram"),
        },
        Sent {
            ts: 0,
            src: server,
            dst: client,
            payload: vec![7; 3],
            comment: Some("épsilon ✓"),
        },
    ]
}

fn write(format: CaptureFormat, mtu: Option<u16>, sent: &[Sent]) -> Vec<u8> {
    let mut writer = CaptureWriter::with_format(Vec::new(), format)
        .expect("start")
        .with_mtu(mtu);
    for s in sent {
        writer
            .write_datagram(s.ts, s.src, s.dst, &s.payload, s.comment)
            .expect("write");
    }
    writer.finish().expect("finish")
}

#[rstest]
fn round_trip(
    #[values(CaptureFormat::PcapNg, CaptureFormat::Pcap)] format: CaptureFormat,
    #[values(false, true)] v6: bool,
) {
    let sent = conversation(v6);
    let bytes = write(format, None, &sent);
    let reader = open(&bytes).expect("open");
    assert_eq!(reader.format(), format);
    let (got, skipped) = read_all(&bytes);
    assert_eq!(skipped.total(), 0, "{skipped:?}");
    assert_eq!(got.len(), sent.len());
    for (i, (g, s)) in got.iter().zip(&sent).enumerate() {
        assert_eq!(g.packet_number, i as u64 + 1);
        assert_eq!(g.timestamp_ns, s.ts);
        assert_eq!((g.src, g.dst), (s.src, s.dst));
        assert_eq!(&g.payload[..], &s.payload[..]);
        assert!(matches!(g.payload, Cow::Borrowed(_)));
        // Comments read back from pcapng (borrowed), and are absent from classic pcap.
        match format {
            CaptureFormat::PcapNg => {
                assert_eq!(g.comment.as_deref(), s.comment);
                assert!(g
                    .comment
                    .as_ref()
                    .is_none_or(|c| matches!(c, Cow::Borrowed(_))));
            }
            CaptureFormat::Pcap => assert_eq!(g.comment, None),
        }
    }
}

#[test]
fn pcapng_carries_comments_userappl_and_tsresol() {
    let sent = conversation(false);
    let bytes = write(CaptureFormat::PcapNg, None, &sent);
    let (mut rest, mut parser) = PcapNgParser::new(&bytes).expect("pcapng");
    assert_eq!(
        parser.section().options,
        vec![SectionHeaderOption::UserApplication(
            USER_APPLICATION.into()
        )]
    );
    let mut comments = Vec::new();
    let mut tsresol = Vec::new();
    while !rest.is_empty() {
        let (rem, block) = parser.next_block(rest).expect("block");
        rest = rem;
        match block {
            Block::InterfaceDescription(idb) => {
                for o in idb.options {
                    if let InterfaceDescriptionOption::IfTsResol(r) = o {
                        tsresol.push(r);
                    }
                }
            }
            Block::EnhancedPacket(epb) => {
                let comment = epb.options.iter().find_map(|o| match o {
                    EnhancedPacketOption::Comment(c) => Some(c.to_string()),
                    _ => None,
                });
                comments.push(comment);
            }
            _ => {}
        }
    }
    assert_eq!(tsresol, vec![9]);
    let expected: Vec<Option<String>> = sent.iter().map(|s| s.comment.map(str::to_owned)).collect();
    assert_eq!(comments, expected);
}

#[test]
fn classic_pcap_is_nanosecond_little_endian() {
    let bytes = write(CaptureFormat::Pcap, None, &conversation(false));
    assert_eq!(bytes.get(..4), Some(&[0x4d, 0x3c, 0xb2, 0xa1][..]));
}

#[rstest]
fn output_is_deterministic(
    #[values(CaptureFormat::PcapNg, CaptureFormat::Pcap)] format: CaptureFormat,
    #[values(None, Some(1500))] mtu: Option<u16>,
) {
    let mut sent = conversation(false);
    sent.push(Sent {
        ts: 5,
        src: addr("192.0.2.1:1"),
        dst: addr("192.0.2.2:2"),
        payload: vec![1; 5000],
        comment: None,
    });
    assert_eq!(write(format, mtu, &sent), write(format, mtu, &sent));
}

/// Every written frame has correct IP and UDP lengths and checksums.
#[rstest]
fn frames_have_valid_checksums(#[values(false, true)] v6: bool) {
    let bytes = write(CaptureFormat::PcapNg, None, &conversation(v6));
    for (_, frame) in frames_of(&bytes) {
        let sliced = SlicedPacket::from_ethernet(&frame).expect("frame parses");
        let Some(TransportSlice::Udp(udp)) = &sliced.transport else {
            panic!("not UDP");
        };
        let header = udp.to_header();
        let expected = match &sliced.net {
            Some(NetSlice::Ipv4(ip)) => {
                let h = ip.header();
                assert_eq!(h.header_checksum(), h.to_header().calc_header_checksum());
                header
                    .calc_checksum_ipv4(&h.to_header(), udp.payload())
                    .expect("sum")
            }
            Some(NetSlice::Ipv6(ip)) => header
                .calc_checksum_ipv6(&ip.header().to_header(), udp.payload())
                .expect("sum"),
            _ => panic!("not IP"),
        };
        assert_eq!(header.checksum, expected);
        assert_eq!(usize::from(header.length), 8 + udp.payload().len());
    }
}

fn big_payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// A 4000-byte datagram with MTU 1500 becomes 3+ IP fragments and reads back once, whole.
#[rstest]
fn fragmented_datagram_reassembles(
    #[values(CaptureFormat::PcapNg, CaptureFormat::Pcap)] format: CaptureFormat,
    #[values(false, true)] v6: bool,
) {
    let (a, b) = if v6 {
        (addr("[2001:db8::1]:1111"), addr("[2001:db8::2]:2222"))
    } else {
        (addr("10.0.0.1:1111"), addr("10.0.0.2:2222"))
    };
    let payload = big_payload(4000);
    let mut writer = CaptureWriter::with_format(Vec::new(), format)
        .expect("start")
        .with_mtu(Some(1500));
    writer
        .write_datagram(10, a, b, b"before", None)
        .expect("write");
    writer
        .write_datagram(20, b, a, &payload, Some("big"))
        .expect("write");
    writer
        .write_datagram(30, a, b, b"after", None)
        .expect("write");
    let bytes = writer.finish().expect("finish");

    let frames = frames_of(&bytes);
    let fragments = frames.len() - 2;
    assert!(fragments >= 3, "{fragments} fragments");
    for (_, frame) in &frames {
        assert!(frame.len() <= 1514, "frame of {} bytes", frame.len());
    }

    let (got, skipped) = read_all(&bytes);
    assert_eq!(skipped.total(), 0, "{skipped:?}");
    assert_eq!(got.len(), 3);
    let big = &got[1];
    assert_eq!(big.packet_number, 1 + fragments as u64);
    assert_eq!(big.timestamp_ns, 20);
    assert_eq!((big.src, big.dst), (b, a));
    assert_eq!(&big.payload[..], &payload[..]);
    assert!(matches!(big.payload, Cow::Owned(_)));
    // The comment is on the last fragment, and so on the reassembled datagram.
    let expected_comment = (format == CaptureFormat::PcapNg).then_some("big");
    assert_eq!(big.comment.as_deref(), expected_comment);
    assert_eq!(got[2].packet_number, 2 + fragments as u64);
    assert_eq!(&got[2].payload[..], b"after");
}

/// Fragments in reverse order still reassemble, at the number and time of the last one read.
#[rstest]
fn fragments_out_of_order(#[values(false, true)] v6: bool) {
    let (a, b) = if v6 {
        (addr("[2001:db8::1]:1111"), addr("[2001:db8::2]:2222"))
    } else {
        (addr("10.0.0.1:1111"), addr("10.0.0.2:2222"))
    };
    let payload = big_payload(6000);
    let mut writer = CaptureWriter::new(Vec::new())
        .expect("start")
        .with_mtu(Some(1280));
    writer
        .write_datagram(0, a, b, &payload, None)
        .expect("write");
    let frames = frames_of(&writer.finish().expect("finish"));
    let records: Vec<_> = frames
        .iter()
        .rev()
        .enumerate()
        .map(|(i, (_, f))| rec(1_000 * (i as u64 + 1), f))
        .collect();
    let bytes = pcap(1, true, false, &records);
    let (got, skipped) = read_all(&bytes);
    assert_eq!(skipped.total(), 0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].packet_number, frames.len() as u64);
    assert_eq!(got[0].timestamp_ns, 1_000 * frames.len() as u64);
    assert_eq!(&got[0].payload[..], &payload[..]);
}

/// A missing fragment: nothing is yielded and the fragments are counted as discarded.
#[test]
fn incomplete_datagram_is_counted() {
    let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
    let mut writer = CaptureWriter::new(Vec::new())
        .expect("start")
        .with_mtu(Some(1500));
    writer
        .write_datagram(0, a, b, &big_payload(4000), None)
        .expect("write");
    let frames = frames_of(&writer.finish().expect("finish"));
    let records: Vec<_> = frames.iter().skip(1).map(|(t, f)| rec(*t, f)).collect();
    let bytes = pcap(1, true, false, &records);
    let (got, skipped) = read_all(&bytes);
    assert!(got.is_empty());
    assert_eq!(skipped.fragments_discarded, records.len() as u64);
    assert_eq!(skipped.total(), records.len() as u64);
}

#[test]
fn without_mtu_large_datagram_is_one_frame() {
    let (a, b) = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    writer
        .write_datagram(0, a, b, &big_payload(4000), None)
        .expect("write");
    let bytes = writer.finish().expect("finish");
    let frames = frames_of(&bytes);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].1.len(), 14 + 20 + 8 + 4000);
    let (got, _) = read_all(&bytes);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload.len(), 4000);
}

#[test]
fn largest_datagrams_round_trip() {
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    let v4 = (addr("10.0.0.1:1"), addr("10.0.0.2:2"));
    let v6 = (addr("[::1]:1"), addr("[::2]:2"));
    writer
        .write_datagram(0, v4.0, v4.1, &big_payload(65_507), None)
        .expect("v4");
    writer
        .write_datagram(0, v6.0, v6.1, &big_payload(65_527), None)
        .expect("v6");
    let bytes = writer.finish().expect("finish");
    let (got, skipped) = read_all(&bytes);
    assert_eq!(skipped.total(), 0);
    assert_eq!(
        got.iter().map(|d| d.payload.len()).collect::<Vec<_>>(),
        vec![65_507, 65_527]
    );
}

#[test]
fn write_rejects_what_it_cannot_represent() {
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    let v4 = addr("10.0.0.1:1");
    let v6 = addr("[::1]:1");
    let invalid =
        |r: Result<(), CaptureError>| matches!(r, Err(CaptureError::InvalidDatagram { .. }));
    assert!(invalid(writer.write_datagram(0, v4, v6, b"x", None)));
    assert!(invalid(writer.write_datagram(
        0,
        v4,
        v4,
        &vec![0; 65_508],
        None
    )));
    assert!(invalid(writer.write_datagram(
        0,
        v6,
        v6,
        &vec![0; 65_528],
        None
    )));
    let long_comment = "c".repeat(70_000);
    assert!(invalid(writer.write_datagram(
        0,
        v4,
        v4,
        b"x",
        Some(&long_comment)
    )));
    let mut tiny = CaptureWriter::new(Vec::new())
        .expect("start")
        .with_mtu(Some(20));
    assert!(invalid(tiny.write_datagram(0, v4, v4, &[0; 100], None)));
    let mut pcap = CaptureWriter::with_format(Vec::new(), CaptureFormat::Pcap).expect("start");
    assert!(invalid(pcap.write_datagram(u64::MAX, v4, v4, b"x", None)));
    // Nothing was written by the failed calls: the files hold no packets.
    for bytes in [
        writer.finish().expect("finish"),
        tiny.finish().expect("finish"),
        pcap.finish().expect("finish"),
    ] {
        assert!(frames_of(&bytes).is_empty());
    }
}

#[test]
fn comments_are_dropped_in_classic_pcap() {
    let bytes = write(CaptureFormat::Pcap, None, &conversation(false));
    assert!(!bytes.windows(12).any(|w| w == b"client hello"));
    let (got, _) = read_all(&bytes);
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|d| d.comment.is_none()));
}

/// A file name asks for pcap by its `.pcap` extension in any case; anything else is pcapng.
#[rstest]
#[case("out.pcap", CaptureFormat::Pcap)]
#[case("x.PCAP", CaptureFormat::Pcap)]
#[case("out.pcapng", CaptureFormat::PcapNg)]
#[case("capture", CaptureFormat::PcapNg)]
#[case("dir.pcap/out.json", CaptureFormat::PcapNg)]
fn the_format_follows_the_file_name(#[case] name: &str, #[case] format: CaptureFormat) {
    assert_eq!(CaptureFormat::for_path(std::path::Path::new(name)), format);
}
