//! Packets that are not UDP datagrams are skipped and counted, never fatal.

use etherparse::PacketBuilder;
use handshake_capture::{open, SkipCounts};

use crate::util::{addr, eth_udp, ethernet, pcap, read_all, rec, Rec};

fn tcp_frame() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(1234, 443, 1, 65535)
        .write_to_vec(&mut out, b"GET / HTTP/1.1")
        .expect("tcp");
    out
}

fn icmp_frame() -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6([0xfe; 16], [0xfd; 16], 64)
        .icmpv6_echo_request(1, 1)
        .write_to_vec(&mut out, b"ping")
        .expect("icmp");
    out
}

fn arp_frame() -> Vec<u8> {
    let mut arp = vec![0, 1, 0x08, 0, 6, 4, 0, 1];
    arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 10, 0, 0, 1]);
    arp.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    ethernet(0x0806, &arp)
}

/// IPv4 header with an IHL of 3 words (below the minimum of 5).
fn bad_ip_frame() -> Vec<u8> {
    let mut frame = eth_udp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), b"x");
    frame[14] = 0x43;
    frame
}

#[test]
fn non_udp_is_skipped_and_counted_by_reason() {
    let udp = eth_udp(addr("10.0.0.1:5000"), addr("10.0.0.2:443"), b"keep me");
    let tcp = tcp_frame();
    let arp = arp_frame();
    let icmp = icmp_frame();
    let bad = bad_ip_frame();
    let lldp = ethernet(0x88cc, &[0; 20]);
    let records = [
        rec(1, &tcp),
        rec(2, &udp),
        rec(3, &arp),
        rec(4, &icmp),
        rec(5, &bad),
        rec(6, &lldp),
        rec(7, &udp),
    ];
    let bytes = pcap(1, true, false, &records);
    let (got, skipped) = read_all(&bytes);
    assert_eq!(
        got.iter().map(|d| d.packet_number).collect::<Vec<_>>(),
        vec![2, 7]
    );
    assert_eq!(
        skipped,
        SkipCounts {
            not_ip: 2,
            not_udp: 2,
            malformed: 1,
            ..SkipCounts::default()
        }
    );
    assert_eq!(skipped.total(), 5);
}

#[test]
fn snaplen_cut_frame_is_truncated() {
    let full = eth_udp(addr("10.0.0.1:5000"), addr("10.0.0.2:443"), &[9; 300]);
    let cut = &full[..96];
    let records = [Rec {
        ts_ns: 0,
        data: cut,
        orig_len: u32::try_from(full.len()).expect("len"),
    }];
    let bytes = pcap(1, false, false, &records);
    let (got, skipped) = read_all(&bytes);
    assert!(got.is_empty());
    assert_eq!(skipped.truncated, 1);
    // Too short for even the Ethernet header.
    let (_, skipped) = read_all(&pcap(1, false, false, &[rec(0, &full[..10])]));
    assert_eq!(skipped.truncated, 1);
}

#[test]
fn udp_length_below_header_is_malformed() {
    let mut frame = eth_udp(addr("10.0.0.1:1"), addr("10.0.0.2:2"), b"abc");
    // UDP length field (bytes 4..6 of the UDP header) set to 4.
    frame[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&4u16.to_be_bytes());
    let (_, skipped) = read_all(&pcap(1, false, false, &[rec(0, &frame)]));
    assert_eq!(skipped.malformed, 1);
}

#[test]
fn unfinished_udp_checksum_is_accepted() {
    let mut frame = eth_udp(addr("127.0.0.1:1"), addr("127.0.0.1:2"), b"lo");
    frame[14 + 20 + 6] ^= 0x55;
    let bytes = pcap(1, false, false, &[rec(0, &frame)]);
    let (got, skipped) = read_all(&bytes);
    assert_eq!(got.len(), 1);
    assert_eq!(skipped.total(), 0);
}

#[test]
fn port_filter_keeps_either_direction() {
    let to_server = eth_udp(addr("10.0.0.1:5000"), addr("10.0.0.2:443"), b"c2s");
    let to_client = eth_udp(addr("10.0.0.2:443"), addr("10.0.0.1:5000"), b"s2c");
    let dns = eth_udp(addr("10.0.0.1:5001"), addr("10.0.0.53:53"), b"dns");
    let bytes = pcap(
        1,
        false,
        false,
        &[rec(0, &to_server), rec(0, &dns), rec(0, &to_client)],
    );

    let mut reader = open(&bytes).expect("open").with_port(Some(443));
    let kept: Vec<u64> = reader
        .by_ref()
        .map(|d| d.expect("datagram").packet_number)
        .collect();
    assert_eq!(kept, vec![1, 3]);
    assert_eq!(reader.skipped().other_port, 1);
    assert_eq!(reader.skipped().total(), 1);
    assert_eq!(reader.packets_read(), 3);

    let mut all = open(&bytes).expect("open").with_port(None);
    assert_eq!(all.by_ref().count(), 3);
    assert_eq!(all.skipped().total(), 0);
}
