//! pcapng packet comments on the read side, and `write_frame`.

use std::borrow::Cow;

use etherparse::PacketBuilder;
use handshake_capture::{open, CaptureError, CaptureFormat, CaptureWriter};
use rstest::rstest;

use crate::util::{addr, eth_udp, frames_of, read_all, Ng};

const OPT_COMMENT: u16 = 1;
const EPB_FLAGS: u16 = 2;

fn frame() -> Vec<u8> {
    eth_udp(addr("192.0.2.1:1000"), addr("192.0.2.2:2000"), b"data")
}

/// One section, one Ethernet interface with nanosecond timestamps.
fn capture(big_endian: bool) -> Ng {
    let mut ng = Ng::new();
    ng.section(big_endian).interface(1, Some(9), None);
    ng
}

fn comments(bytes: &[u8]) -> Vec<Option<String>> {
    let (got, skipped) = read_all(bytes);
    assert_eq!(skipped.total(), 0, "{skipped:?}");
    got.into_iter()
        .map(|d| d.comment.map(Cow::into_owned))
        .collect()
}

#[rstest]
fn option_lists(#[values(false, true)] big_endian: bool) {
    let frame = frame();
    let mut ng = capture(big_endian);
    ng.epb(0, 1, &frame)
        .epb_with_options(0, 2, &frame, &[(OPT_COMMENT, b"one")], true)
        // The first of several comments.
        .epb_with_options(
            0,
            3,
            &frame,
            &[(OPT_COMMENT, b"first"), (OPT_COMMENT, b"second")],
            true,
        )
        // Behind another option (epb_flags), and without opt_endofopt.
        .epb_with_options(
            0,
            4,
            &frame,
            &[(EPB_FLAGS, &[0, 0, 0, 1]), (OPT_COMMENT, b"after flags")],
            false,
        )
        // Only other options.
        .epb_with_options(0, 5, &frame, &[(EPB_FLAGS, &[0, 0, 0, 1])], true)
        // Empty comment, comment of a length that needs padding.
        .epb_with_options(0, 6, &frame, &[(OPT_COMMENT, b"")], true)
        .epb_with_options(0, 7, &frame, &[(OPT_COMMENT, "é".as_bytes())], true)
        // Obsolete packet block.
        .pb_with_options(0, 8, &frame, &[(OPT_COMMENT, b"packet block")])
        // Simple packet block: no options at all.
        .spb(&frame);
    let expected = [
        None,
        Some("one"),
        Some("first"),
        Some("after flags"),
        None,
        Some(""),
        Some("é"),
        Some("packet block"),
        None,
    ];
    let expected: Vec<Option<String>> = expected.iter().map(|c| c.map(str::to_owned)).collect();
    assert_eq!(comments(&ng.out), expected);
}

#[test]
fn valid_comments_borrow_invalid_ones_are_lossy() {
    let frame = frame();
    let mut ng = capture(false);
    ng.epb_with_options(0, 1, &frame, &[(OPT_COMMENT, b"plain")], true)
        .epb_with_options(0, 2, &frame, &[(OPT_COMMENT, b"bad \xff byte")], true);
    let (got, _) = read_all(&ng.out);
    assert!(matches!(got[0].comment, Some(Cow::Borrowed("plain"))));
    assert_eq!(got[1].comment.as_deref(), Some("bad \u{fffd} byte"));
    // into_owned keeps it.
    let owned = got[1].clone().into_owned();
    assert_eq!(owned.comment.as_deref(), Some("bad \u{fffd} byte"));
}

#[test]
fn broken_option_lists_never_fail_the_block() {
    let frame = frame();
    // An EPB body up to its (padded) data, little-endian, interface 0.
    let mut head = Vec::new();
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&0u32.to_le_bytes());
    head.extend_from_slice(&2u32.to_le_bytes());
    let len = u32::try_from(frame.len()).expect("len");
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&frame);
    head.extend_from_slice(&[0; 3][..(4 - frame.len() % 4) % 4]);

    let mut ng = capture(false);
    // A comment claiming more bytes than the block holds.
    let mut body = head.clone();
    body.extend_from_slice(&OPT_COMMENT.to_le_bytes());
    body.extend_from_slice(&200u16.to_le_bytes());
    body.extend_from_slice(b"shrt");
    ng.block(6, &body);
    // An option header with no value at all.
    let mut body = head.clone();
    body.extend_from_slice(&OPT_COMMENT.to_le_bytes());
    body.extend_from_slice(&4u16.to_le_bytes());
    ng.block(6, &body);
    // An unknown option whose length runs past the end, then a comment never reached.
    let mut body = head.clone();
    body.extend_from_slice(&99u16.to_le_bytes());
    body.extend_from_slice(&u16::MAX.to_le_bytes());
    body.extend_from_slice(&OPT_COMMENT.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(b"x\0\0\0");
    ng.block(6, &body);
    assert_eq!(comments(&ng.out), vec![None, None, None]);
}

#[test]
fn comments_of_reassembled_datagrams_come_from_the_last_fragment() {
    let (a, b) = (addr("10.0.0.1:1111"), addr("10.0.0.2:2222"));
    let payload = vec![0x5a; 3000];
    let mut writer = CaptureWriter::new(Vec::new())
        .expect("start")
        .with_mtu(Some(1500));
    writer
        .write_datagram(5, a, b, &payload, Some("whole"))
        .expect("write");
    let bytes = writer.finish().expect("finish");
    let frames = frames_of(&bytes);
    assert!(frames.len() >= 3);
    let (got, _) = read_all(&bytes);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].comment.as_deref(), Some("whole"));
    // Owned or not, the payload is whole.
    assert_eq!(got[0].payload.len(), 3000);
}

/// `write_frame` writes the frame bytes as given, with time and comment.
#[rstest]
fn write_frame_round_trip(
    #[values(CaptureFormat::PcapNg, CaptureFormat::Pcap)] format: CaptureFormat,
) {
    let (a, b) = (addr("[2001:db8::1]:5000"), addr("[2001:db8::2]:4444"));
    let v4 = frame();
    // A frame the writer would never build itself: VLAN-tagged, zero MACs, no UDP checksum.
    let mut vlan = Vec::new();
    PacketBuilder::ethernet2([0; 6], [0; 6])
        .single_vlan(etherparse::VlanId::try_new(7).expect("vlan"))
        .ipv6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            {
                let mut d = [0u8; 16];
                d[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                d[15] = 2;
                d
            },
            64,
        )
        .udp(a.port(), b.port())
        .write_to_vec(&mut vlan, b"live")
        .expect("build");
    let arp = {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        f.extend_from_slice(&[0; 28]);
        f
    };
    let mut writer = CaptureWriter::with_format(Vec::new(), format).expect("start");
    writer
        .write_frame(1_700_000_000_000_000_001, &v4, Some("first"))
        .expect("write");
    writer
        .write_frame(1_700_000_000_000_000_002, &vlan, None)
        .expect("write");
    writer
        .write_frame(1_700_000_000_000_000_003, &arp, Some("not udp"))
        .expect("write");
    let bytes = writer.finish().expect("finish");

    assert_eq!(
        frames_of(&bytes),
        vec![
            (1_700_000_000_000_000_001, v4.clone()),
            (1_700_000_000_000_000_002, vlan.clone()),
            (1_700_000_000_000_000_003, arp.clone()),
        ]
    );
    let mut reader = open(&bytes).expect("open");
    let first = reader.next().expect("one").expect("ok");
    let second = reader.next().expect("two").expect("ok");
    assert!(reader.next().is_none());
    assert_eq!(reader.skipped().not_ip, 1);
    assert_eq!(&first.payload[..], b"data");
    assert_eq!((second.src, second.dst), (a, b));
    assert_eq!(&second.payload[..], b"live");
    assert_eq!(second.comment, None);
    let expected = (format == CaptureFormat::PcapNg).then_some("first");
    assert_eq!(first.comment.as_deref(), expected);
}

#[test]
fn write_frame_rejects_what_it_cannot_represent() {
    let mut pcap = CaptureWriter::with_format(Vec::new(), CaptureFormat::Pcap).expect("start");
    let late = (u64::from(u32::MAX) + 1) * 1_000_000_000;
    assert!(matches!(
        pcap.write_frame(late, &frame(), None),
        Err(CaptureError::InvalidDatagram { .. })
    ));
    let mut ng = CaptureWriter::new(Vec::new()).expect("start");
    assert!(matches!(
        ng.write_frame(0, &vec![0; 262_145], None),
        Err(CaptureError::InvalidDatagram { .. })
    ));
    let long = "x".repeat(65_536);
    assert!(matches!(
        ng.write_frame(0, &frame(), Some(&long)),
        Err(CaptureError::InvalidDatagram { .. })
    ));
    // Nothing was written by the failed calls.
    for bytes in [pcap.finish().expect("finish"), ng.finish().expect("finish")] {
        assert!(frames_of(&bytes).is_empty());
    }
}
