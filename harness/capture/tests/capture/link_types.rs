//! Hand-built frames for every supported link type, and the container variants.

use etherparse::{
    DoubleVlanHeader, EtherType, PacketBuilder, SingleVlanHeader, VlanHeader, VlanId, VlanPcp,
};
use rstest::rstest;

use crate::util::{addr, eth_udp, ether_type_of, ip_udp, pcap, read_all, rec, Ng};

const PAYLOAD: &[u8] = b"\x01\x02 a datagram";

fn v4() -> (std::net::SocketAddr, std::net::SocketAddr) {
    (addr("198.51.100.7:5353"), addr("203.0.113.9:443"))
}

fn v6() -> (std::net::SocketAddr, std::net::SocketAddr) {
    (addr("[fe80::1]:5353"), addr("[2001:db8::9]:443"))
}

fn sll(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1, 0, 0];
    f[14..16].copy_from_slice(&ether_type_of(ip).to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn sll2(ip: &[u8]) -> Vec<u8> {
    let mut f = ether_type_of(ip).to_be_bytes().to_vec();
    f.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!(f.len(), 20);
    f.extend_from_slice(ip);
    f
}

fn null(ip: &[u8], family: u32, big_endian: bool) -> Vec<u8> {
    let mut f = if big_endian {
        family.to_be_bytes()
    } else {
        family.to_le_bytes()
    }
    .to_vec();
    f.extend_from_slice(ip);
    f
}

fn vlan_frame(double: bool) -> Vec<u8> {
    let (a, b) = v4();
    let (std::net::IpAddr::V4(s), std::net::IpAddr::V4(d)) = (a.ip(), b.ip()) else {
        panic!("v4");
    };
    let single = |id: u16, ether_type| SingleVlanHeader {
        pcp: VlanPcp::ZERO,
        drop_eligible_indicator: false,
        vlan_id: VlanId::try_new(id).expect("vlan id"),
        ether_type,
    };
    let header = if double {
        VlanHeader::Double(DoubleVlanHeader {
            outer: single(100, EtherType::VLAN_TAGGED_FRAME),
            inner: single(200, EtherType::IPV4),
        })
    } else {
        VlanHeader::Single(single(42, EtherType::IPV4))
    };
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .vlan(header)
        .ipv4(s.octets(), d.octets(), 64)
        .udp(a.port(), b.port())
        .write_to_vec(&mut out, PAYLOAD)
        .expect("vlan frame");
    out
}

#[derive(Debug, Clone, Copy)]
enum Frame {
    Ethernet,
    Vlan,
    QinQ,
    Sll,
    Sll2,
    NullLe(u32),
    NullBe(u32),
    Raw,
}

#[rstest]
#[case::ethernet_v4(1, Frame::Ethernet, false)]
#[case::ethernet_v6(1, Frame::Ethernet, true)]
#[case::vlan(1, Frame::Vlan, false)]
#[case::qinq(1, Frame::QinQ, false)]
#[case::sll_v4(113, Frame::Sll, false)]
#[case::sll_v6(113, Frame::Sll, true)]
#[case::sll2_v4(276, Frame::Sll2, false)]
#[case::sll2_v6(276, Frame::Sll2, true)]
#[case::null_le_inet(0, Frame::NullLe(2), false)]
#[case::null_be_inet(0, Frame::NullBe(2), false)]
#[case::null_le_inet6_bsd(0, Frame::NullLe(24), true)]
#[case::null_le_inet6_freebsd(0, Frame::NullLe(28), true)]
#[case::null_be_inet6_darwin(0, Frame::NullBe(30), true)]
#[case::loop_be_inet(108, Frame::NullBe(2), false)]
#[case::loop_be_inet6(108, Frame::NullBe(24), true)]
#[case::raw_v4(101, Frame::Raw, false)]
#[case::raw_v6(101, Frame::Raw, true)]
#[case::ipv4_linktype(228, Frame::Raw, false)]
#[case::ipv6_linktype(229, Frame::Raw, true)]
fn link_type_decodes(#[case] linktype: u32, #[case] frame: Frame, #[case] ipv6: bool) {
    let (a, b) = if ipv6 { v6() } else { v4() };
    let ip = ip_udp(a, b, PAYLOAD);
    let data = match frame {
        Frame::Ethernet => eth_udp(a, b, PAYLOAD),
        Frame::Vlan => vlan_frame(false),
        Frame::QinQ => vlan_frame(true),
        Frame::Sll => sll(&ip),
        Frame::Sll2 => sll2(&ip),
        Frame::NullLe(f) => null(&ip, f, false),
        Frame::NullBe(f) => null(&ip, f, true),
        Frame::Raw => ip.clone(),
    };
    // The same frame through classic pcap and through pcapng.
    let classic = pcap(linktype, false, false, &[rec(1_000_000, &data)]);
    let mut ng = Ng::new();
    ng.section(false)
        .interface(u16::try_from(linktype).expect("linktype"), None, None)
        .epb(0, 1_000, &data);
    for bytes in [classic, ng.out] {
        let (got, skipped) = read_all(&bytes);
        assert_eq!(skipped.total(), 0, "{frame:?}: {skipped:?}");
        assert_eq!(got.len(), 1, "{frame:?}");
        assert_eq!((got[0].src, got[0].dst), (a, b));
        assert_eq!(&got[0].payload[..], PAYLOAD);
        assert_eq!(got[0].timestamp_ns, 1_000_000);
    }
}

#[test]
fn unsupported_link_type_is_counted() {
    let (a, b) = v4();
    let data = eth_udp(a, b, PAYLOAD);
    // 105 = IEEE 802.11.
    let bytes = pcap(105, false, false, &[rec(0, &data), rec(0, &data)]);
    let (got, skipped) = read_all(&bytes);
    assert!(got.is_empty());
    assert_eq!(skipped.unsupported_link_type, 2);
    assert_eq!(skipped.total(), 2);
}

#[test]
fn unknown_loopback_family_is_not_ip() {
    let (a, b) = v4();
    let data = null(&ip_udp(a, b, PAYLOAD), 17, false);
    let bytes = pcap(0, false, false, &[rec(0, &data)]);
    let (got, skipped) = read_all(&bytes);
    assert!(got.is_empty());
    assert_eq!(skipped.not_ip, 1);
}

/// All four classic pcap magics: µs and ns, both byte orders.
#[rstest]
fn classic_pcap_magics(
    #[values(false, true)] nanosecond: bool,
    #[values(false, true)] big_endian: bool,
) {
    let (a, b) = v4();
    let data = eth_udp(a, b, PAYLOAD);
    let ts = 1_234_567_890_123_456_789u64;
    let bytes = pcap(
        1,
        nanosecond,
        big_endian,
        &[rec(ts, &data), rec(ts + 1_000, &data)],
    );
    let (got, _) = read_all(&bytes);
    let expected = if nanosecond { ts } else { ts / 1000 * 1000 };
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].timestamp_ns, expected);
    assert_eq!(got[1].timestamp_ns, expected + 1_000);
    assert_eq!(&got[1].payload[..], PAYLOAD);
}

/// Several sections (little then big endian), several interfaces with their own link types
/// and time resolutions, and all three packet block kinds.
#[test]
fn pcapng_sections_interfaces_and_block_kinds() {
    let (a, b) = v4();
    let (c, d) = v6();
    let eth = eth_udp(a, b, b"eth");
    let raw6 = ip_udp(c, d, b"raw6");
    let sll_frame = sll(&ip_udp(b, a, b"sll"));
    let mut ng = Ng::new();
    ng.section(false)
        .interface(1, None, None) // 0: Ethernet, µs (default)
        .interface(101, Some(9), None) // 1: raw IP, ns
        .interface(113, Some(0x80 | 10), Some(100)) // 2: SLL, 2^-10 s, +100 s offset
        .epb(0, 1_500_000, &eth)
        .epb(1, 42, &raw6)
        .epb(2, 2048, &sll_frame)
        .spb(&eth)
        .pb(1, 7, &raw6)
        .block(0x0000_0bad, b"unknown block, skipped") // unknown block types are ignored
        .section(true)
        .interface(101, Some(3), None) // 0 in the new section: raw IP, ms
        .epb(0, 5, &raw6);
    let (got, skipped) = read_all(&ng.out);
    assert_eq!(skipped.total(), 0, "{skipped:?}");
    let summary: Vec<(u64, u64, &[u8])> = got
        .iter()
        .map(|g| (g.packet_number, g.timestamp_ns, &g.payload[..]))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, 1_500_000_000, &b"eth"[..]),
            (2, 42, &b"raw6"[..]),
            (3, 102_000_000_000, &b"sll"[..]),
            (4, 0, &b"eth"[..]),
            (5, 7, &b"raw6"[..]),
            (6, 5_000_000, &b"raw6"[..]),
        ]
    );
    assert_eq!((got[2].src, got[2].dst), (b, a));
    assert_eq!((got[1].src, got[1].dst), (c, d));
}

/// Interface options pcap-file 2.0 refuses (a 4-byte `if_tzone`, no `opt_endofopt`) are
/// valid pcapng: the reader still takes the link type and `if_tsresol` from such blocks.
#[rstest]
#[case::if_tzone(true)]
#[case::no_endofopt(false)]
fn interface_options_pcap_file_rejects(#[case] tzone: bool) {
    let (a, b) = v4();
    let frame = eth_udp(a, b, PAYLOAD);
    let mut body = vec![1, 0, 0, 0, 0, 0, 0, 0]; // Ethernet, reserved, snaplen 0 (LE)
    if tzone {
        body.extend_from_slice(&[10, 0, 4, 0, 0, 0, 0, 0]); // if_tzone, 4 bytes
    }
    body.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0]); // if_tsresol = 9
    if tzone {
        body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
    }
    let mut ng = Ng::new();
    ng.section(false).block(1, &body).epb(0, 123, &frame);
    let (got, skipped) = read_all(&ng.out);
    assert_eq!(skipped.total(), 0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].timestamp_ns, 123);
}
