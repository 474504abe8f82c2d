//! The fast path (records and frames decoded by hand) and the general path (pcap-file and
//! etherparse) agree on every input: same datagrams (packet number, time, addresses, payload,
//! comment), same skip counts, same damage, same number of records read.
//!
//! `CaptureReader::without_fast_path` turns the fast path off;
//! `CaptureReader::general_path_records` tells which records the fast path left to the general
//! one, so that the edge-case table also pins down which frames take the fast path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use handshake_capture::{open, CaptureFormat, CaptureWriter, SkipCounts, UdpDatagram};
use proptest::prelude::*;

use crate::util::{ethernet, ip_udp, pcap, Ng, Rec};

/// Everything the reader says about a capture.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// Datagrams, then at most one error (as its message).
    items: Vec<Result<UdpDatagram<'static>, String>>,
    skipped: SkipCounts,
    packets: u64,
}

/// Reads `bytes` to the end; also returns how many records the general path read.
fn read(bytes: &[u8], port: Option<u16>, fast: bool) -> Result<(Outcome, u64), String> {
    let mut reader = open(bytes).map_err(|e| e.to_string())?.with_port(port);
    if !fast {
        reader = reader.without_fast_path();
    }
    let items = reader
        .by_ref()
        .map(|item| item.map(UdpDatagram::into_owned).map_err(|e| e.to_string()))
        .collect();
    assert!(reader.next().is_none(), "the iterator is fused");
    let outcome = Outcome {
        items,
        skipped: *reader.skipped(),
        packets: reader.packets_read(),
    };
    Ok((outcome, reader.general_path_records()))
}

/// Checks that both paths give the same outcome; returns it with the number of records the
/// fast run left to the general path.
fn agree(bytes: &[u8], port: Option<u16>) -> Result<(Outcome, u64), String> {
    let fast = read(bytes, port, true);
    let general = read(bytes, port, false);
    match (&fast, &general) {
        (Ok((f, _)), Ok((g, all))) => {
            assert_eq!(f, g, "fast and general paths disagree");
            assert_eq!(
                *all, g.packets,
                "without the fast path, every record is general"
            );
        }
        _ => assert_eq!(
            fast.as_ref().err(),
            general.as_ref().err(),
            "open disagrees"
        ),
    }
    fast
}

// --- Frames -------------------------------------------------------------------------------

/// A change to a well-formed IP / UDP packet.
#[derive(Debug, Clone)]
enum Edit {
    /// IPv4: that many 4-byte words of NOP options. IPv6: one hop-by-hop options header.
    Options(u8),
    /// IPv4 flags and fragment offset (MF, offset in 8-byte units); IPv6: a fragment header.
    Fragment {
        more: bool,
        offset: u16,
    },
    DontFragment,
    /// The UDP length field.
    UdpLen(u16),
    /// IPv4 total length / IPv6 payload length.
    IpLen(u16),
    /// IPv4 header length (low nibble of the first byte).
    Ihl(u8),
    Version(u8),
    /// IPv4 protocol / IPv6 next header.
    Protocol(u8),
    /// Any byte of the IP packet.
    Byte(prop::sample::Index, u8),
}

#[derive(Debug, Clone)]
struct Packet {
    v6: bool,
    src: (u8, u16),
    dst: (u8, u16),
    payload: Vec<u8>,
    edits: Vec<Edit>,
}

fn endpoint(v6: bool, (host, port): (u8, u16)) -> SocketAddr {
    let ip = if v6 {
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, u16::from(host)))
    } else {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, host))
    };
    SocketAddr::new(ip, port)
}

fn set16(bytes: &mut [u8], at: usize, value: u16) {
    if let Some(two) = bytes.get_mut(at..at + 2) {
        two.copy_from_slice(&value.to_be_bytes());
    }
}

/// The IP packet: built with etherparse (right lengths), then edited.
fn ip_packet(p: &Packet) -> Vec<u8> {
    let mut ip = ip_udp(endpoint(p.v6, p.src), endpoint(p.v6, p.dst), &p.payload);
    // Where the UDP header is, as edits move it.
    let mut udp_at = if p.v6 { 40 } else { 20 };
    for edit in &p.edits {
        match (edit, p.v6) {
            (Edit::Options(words), false) => {
                let words = (*words).clamp(1, 10);
                let extra = 4 * usize::from(words);
                ip.splice(20..20, std::iter::repeat_n(1u8, extra));
                ip[0] = 0x40 | (5 + words);
                let total = u16::from_be_bytes([ip[2], ip[3]]);
                set16(&mut ip, 2, total.wrapping_add(extra as u16));
                udp_at += extra;
            }
            (Edit::Options(_), true) => {
                // Hop-by-hop: next header, length 0 (8 bytes), PadN of 4.
                let next = ip[6];
                ip.splice(40..40, [next, 0, 1, 4, 0, 0, 0, 0]);
                ip[6] = 0;
                let len = u16::from_be_bytes([ip[4], ip[5]]);
                set16(&mut ip, 4, len.wrapping_add(8));
                udp_at += 8;
            }
            (Edit::Fragment { more, offset }, false) => {
                let keep_df = u16::from_be_bytes([ip[6], ip[7]]) & 0x4000;
                set16(
                    &mut ip,
                    6,
                    keep_df | (u16::from(*more) << 13) | (offset & 0x1fff),
                );
            }
            (Edit::Fragment { more, offset }, true) => {
                let next = ip[6];
                let [hi, lo] = ((offset & 0x1fff) << 3 | u16::from(*more)).to_be_bytes();
                ip.splice(40..40, [next, 0, hi, lo, 0, 0, 0x12, 0x34]);
                ip[6] = 44;
                let len = u16::from_be_bytes([ip[4], ip[5]]);
                set16(&mut ip, 4, len.wrapping_add(8));
                udp_at += 8;
            }
            (Edit::DontFragment, false) => ip[6] |= 0x40,
            (Edit::DontFragment, true) => {}
            (Edit::UdpLen(len), _) => set16(&mut ip, udp_at + 4, *len),
            (Edit::IpLen(len), false) => set16(&mut ip, 2, *len),
            (Edit::IpLen(len), true) => set16(&mut ip, 4, *len),
            (Edit::Ihl(ihl), _) => ip[0] = (ip[0] & 0xf0) | (ihl & 0x0f),
            (Edit::Version(version), _) => ip[0] = (version << 4) | (ip[0] & 0x0f),
            (Edit::Protocol(protocol), false) => ip[9] = *protocol,
            (Edit::Protocol(protocol), true) => ip[6] = *protocol,
            (Edit::Byte(at, value), _) => {
                let i = at.index(ip.len());
                ip[i] = *value;
            }
        }
    }
    ip
}

/// The link layer of a capture (one per classic pcap file, one per pcapng interface).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkKind {
    Ethernet,
    Sll,
    Sll2,
    /// BSD loopback with this address family, in this byte order.
    Null(u32, bool),
    Raw,
}

impl LinkKind {
    fn linktype(self) -> u32 {
        match self {
            LinkKind::Ethernet => 1,
            LinkKind::Sll => 113,
            LinkKind::Sll2 => 276,
            LinkKind::Null(..) => 0,
            LinkKind::Raw => 101,
        }
    }
}

/// How an Ethernet frame wraps its packet.
#[derive(Debug, Clone, Copy)]
enum Tags {
    None,
    /// One tag with this TPID (0x8100, 0x88a8, 0x9100).
    One(u16),
    /// 802.1ad outer tag, 802.1Q inner tag.
    Two,
}

#[derive(Debug, Clone)]
struct Frame {
    packet: Packet,
    tags: Tags,
    /// Replaces the EtherType / protocol the packet's version calls for.
    ether_type: Option<u16>,
    /// Bytes after the IP packet (Ethernet padding).
    trailer: usize,
    /// Keeps only this many thousandths of the frame (a snap length cut); the original length
    /// stays that of the whole frame.
    cut: Option<u16>,
    ts: u64,
    /// The pcapng comment's bytes (any, not only UTF-8).
    comment: Option<Vec<u8>>,
    /// Whether the pcapng option list ends with `opt_endofopt`.
    end_of_options: bool,
}

/// The frame's bytes and its original length.
fn frame_bytes(link: LinkKind, f: &Frame) -> (Vec<u8>, u32) {
    let ip = ip_packet(&f.packet);
    let ether_type = f
        .ether_type
        .unwrap_or(if f.packet.v6 { 0x86dd } else { 0x0800 });
    let mut frame = match link {
        LinkKind::Ethernet => {
            let mut inner = Vec::new();
            let outer_type = match f.tags {
                Tags::None => ether_type,
                Tags::One(tpid) => {
                    inner.extend_from_slice(&[0x00, 0x64]);
                    inner.extend_from_slice(&ether_type.to_be_bytes());
                    tpid
                }
                Tags::Two => {
                    inner.extend_from_slice(&[0x00, 0x64, 0x81, 0x00, 0x00, 0xc8]);
                    inner.extend_from_slice(&ether_type.to_be_bytes());
                    0x88a8
                }
            };
            inner.extend_from_slice(&ip);
            ethernet(outer_type, &inner)
        }
        LinkKind::Sll => {
            let mut out = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1];
            out.extend_from_slice(&ether_type.to_be_bytes());
            out.extend_from_slice(&ip);
            out
        }
        LinkKind::Sll2 => {
            let mut out = ether_type.to_be_bytes().to_vec();
            out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 0, 0, 1]);
            out.extend_from_slice(&ip);
            out
        }
        LinkKind::Null(family, big_endian) => {
            let mut out = if big_endian {
                family.to_be_bytes().to_vec()
            } else {
                family.to_le_bytes().to_vec()
            };
            out.extend_from_slice(&ip);
            out
        }
        LinkKind::Raw => ip,
    };
    frame.extend(std::iter::repeat_n(0u8, f.trailer));
    let original = u32::try_from(frame.len()).expect("small frame");
    if let Some(permille) = f.cut {
        frame.truncate(frame.len() * usize::from(permille.min(1000)) / 1000);
    }
    (frame, original)
}

// --- Containers ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Container {
    Pcap {
        big_endian: bool,
        nanosecond: bool,
    },
    PcapNg {
        big_endian: bool,
        /// `if_tsresol` of the two interfaces.
        tsresol: [u8; 2],
        tsoffset: Option<u64>,
    },
}

/// How a pcapng packet is stored.
#[derive(Debug, Clone, Copy)]
enum Block {
    /// Enhanced packet block on interface 0 or 1.
    Enhanced(u32),
    /// Obsolete packet block on interface 0.
    Packet,
    /// Simple packet block (interface 0, no time).
    Simple,
}

/// Writes the frames into a capture. Classic pcap uses `links[0]` only.
fn capture(container: &Container, links: [LinkKind; 2], frames: &[(Frame, Block)]) -> Vec<u8> {
    match container {
        Container::Pcap {
            big_endian,
            nanosecond,
        } => {
            let built: Vec<(Vec<u8>, u32, u64)> = frames
                .iter()
                .map(|(f, _)| {
                    let (bytes, original) = frame_bytes(links[0], f);
                    (bytes, original, f.ts)
                })
                .collect();
            let records: Vec<Rec<'_>> = built
                .iter()
                .map(|(data, orig_len, ts_ns)| Rec {
                    ts_ns: *ts_ns,
                    data,
                    orig_len: *orig_len,
                })
                .collect();
            pcap(links[0].linktype(), *nanosecond, *big_endian, &records)
        }
        Container::PcapNg {
            big_endian,
            tsresol,
            tsoffset,
        } => {
            let mut ng = Ng::new();
            ng.section(*big_endian);
            for (link, resol) in links.iter().zip(tsresol) {
                let linktype = u16::try_from(link.linktype()).expect("link type");
                ng.interface(linktype, Some(*resol), *tsoffset);
            }
            for (f, block) in frames {
                let comment = f.comment.as_ref().map(|c| (1u16, &c[..]));
                match block {
                    Block::Enhanced(interface) => {
                        let (data, _) = frame_bytes(links[*interface as usize], f);
                        match comment {
                            Some(option) => ng.epb_with_options(
                                *interface,
                                f.ts,
                                &data,
                                &[option],
                                f.end_of_options,
                            ),
                            None => ng.epb(*interface, f.ts, &data),
                        };
                    }
                    Block::Packet => {
                        let (data, _) = frame_bytes(links[0], f);
                        match comment {
                            Some(option) => ng.pb_with_options(0, f.ts, &data, &[option]),
                            None => ng.pb(0, f.ts, &data),
                        };
                    }
                    Block::Simple => {
                        let (data, _) = frame_bytes(links[0], f);
                        ng.spb(&data);
                    }
                }
            }
            ng.out
        }
    }
}

// --- Strategies ---------------------------------------------------------------------------

const PORTS: [u16; 4] = [53, 443, 5000, 40_000];

fn port() -> impl Strategy<Value = u16> {
    prop_oneof![prop::sample::select(PORTS.to_vec()), any::<u16>()]
}

fn edit() -> impl Strategy<Value = Edit> {
    // Lengths near the interesting boundaries, and anything.
    let len = prop_oneof![0u16..48, any::<u16>()];
    prop_oneof![
        (1u8..=10).prop_map(Edit::Options),
        (
            any::<bool>(),
            prop_oneof![Just(0u16), 1u16..4, any::<u16>()]
        )
            .prop_map(|(more, offset)| Edit::Fragment { more, offset }),
        Just(Edit::DontFragment),
        len.clone().prop_map(Edit::UdpLen),
        len.prop_map(Edit::IpLen),
        (0u8..16).prop_map(Edit::Ihl),
        prop_oneof![Just(4u8), Just(6u8), 0u8..16].prop_map(Edit::Version),
        prop_oneof![
            Just(17u8),
            Just(6u8),
            Just(1u8),
            Just(51u8),
            Just(0u8),
            Just(44u8),
            any::<u8>()
        ]
        .prop_map(Edit::Protocol),
        (any::<prop::sample::Index>(), any::<u8>()).prop_map(|(at, b)| Edit::Byte(at, b)),
    ]
}

fn packet() -> impl Strategy<Value = Packet> {
    (
        any::<bool>(),
        (any::<u8>(), port()),
        (any::<u8>(), port()),
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            prop::collection::vec(any::<u8>(), 1400..1600),
        ],
        // Mostly clean packets (the fast path's case), some edited.
        prop_oneof![
            2 => Just(Vec::new()),
            3 => prop::collection::vec(edit(), 1..3),
        ],
    )
        .prop_map(|(v6, src, dst, payload, edits)| Packet {
            v6,
            src,
            dst,
            payload,
            edits,
        })
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        packet(),
        prop_oneof![
            4 => Just(Tags::None),
            2 => prop::sample::select(vec![0x8100u16, 0x88a8, 0x9100]).prop_map(Tags::One),
            // A tag behind an EtherType that is not a TPID.
            1 => prop_oneof![
                prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x88cc, 0x8847]),
                any::<u16>(),
            ]
            .prop_map(Tags::One),
            1 => Just(Tags::Two),
        ],
        prop_oneof![
            8 => Just(None),
            1 => prop::sample::select(vec![0x0800u16, 0x86dd, 0x0806, 0x88cc, 0x8100])
                .prop_map(Some),
            1 => any::<u16>().prop_map(Some),
        ],
        prop_oneof![4 => Just(0usize), 1 => 1usize..20],
        prop_oneof![6 => Just(None), 1 => (0u16..=1000).prop_map(Some)],
        0u64..4_000_000_000_000_000_000,
        prop_oneof![
            3 => Just(None),
            1 => Just(Some(b"a comment".to_vec())),
            1 => Just(Some(Vec::new())),
            1 => Just(Some(b"not UTF-8: \xff\xfe".to_vec())),
        ],
        any::<bool>(),
    )
        .prop_map(
            |(packet, tags, ether_type, trailer, cut, ts, comment, end_of_options)| Frame {
                packet,
                tags,
                ether_type,
                trailer,
                cut,
                ts,
                comment,
                end_of_options,
            },
        )
}

fn link() -> impl Strategy<Value = LinkKind> {
    prop_oneof![
        4 => Just(LinkKind::Ethernet),
        1 => Just(LinkKind::Sll),
        1 => Just(LinkKind::Sll2),
        1 => (prop::sample::select(vec![2u32, 24, 28, 30, 7]), any::<bool>())
            .prop_map(|(family, be)| LinkKind::Null(family, be)),
        1 => Just(LinkKind::Raw),
    ]
}

fn container() -> impl Strategy<Value = Container> {
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(big_endian, nanosecond)| Container::Pcap {
            big_endian,
            nanosecond
        }),
        (
            any::<bool>(),
            (
                prop_oneof![
                    Just(6u8),
                    Just(9u8),
                    Just(0u8),
                    Just(0x8a),
                    Just(12u8),
                    any::<u8>()
                ],
                prop_oneof![Just(9u8), Just(6u8)],
            )
                .prop_map(|(a, b)| [a, b]),
            prop_oneof![Just(None), Just(Some(0u64)), any::<u64>().prop_map(Some)],
        )
            .prop_map(|(big_endian, tsresol, tsoffset)| Container::PcapNg {
                big_endian,
                tsresol,
                tsoffset,
            }),
    ]
}

fn block() -> impl Strategy<Value = Block> {
    prop_oneof![
        8 => (0u32..2).prop_map(Block::Enhanced),
        1 => Just(Block::Packet),
        1 => Just(Block::Simple),
    ]
}

/// Damage to the file after it is written.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// Cut the file at this point.
    Truncate(prop::sample::Index),
    /// XOR one byte.
    Flip(prop::sample::Index, u8),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        1 => any::<prop::sample::Index>().prop_map(Damage::Truncate),
        1 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(at, x)| Damage::Flip(at, x)),
    ]
}

fn apply(damage: &Damage, bytes: &mut Vec<u8>) {
    match damage {
        Damage::None => {}
        Damage::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
        Damage::Flip(at, x) => {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn fast_and_general_paths_agree(
        container in container(),
        links in [link(), link()],
        frames in prop::collection::vec((frame(), block()), 0..12),
        damage in damage(),
        filter in prop_oneof![Just(None), prop::sample::select(PORTS.to_vec()).prop_map(Some)],
    ) {
        let mut frames = frames;
        if let Container::Pcap { .. } = container {
            // Classic pcap timestamps are 32-bit seconds.
            for (f, _) in &mut frames {
                f.ts %= u64::from(u32::MAX) * 1_000_000_000;
            }
        }
        let mut bytes = capture(&container, links, &frames);
        apply(&damage, &mut bytes);
        let _ = agree(&bytes, filter);
    }

    /// Captures from the crate's writer: fragmented datagrams (reassembly) mixed with whole ones,
    /// comments, both formats.
    #[test]
    fn paths_agree_on_written_captures(
        pcapng in any::<bool>(),
        mtu in prop_oneof![Just(None), Just(Some(1280u16)), Just(Some(576u16))],
        datagrams in prop::collection::vec(
            (any::<bool>(), (any::<u8>(), port()), (any::<u8>(), port()),
             prop_oneof![0usize..64, 500usize..3000], any::<bool>()),
            0..8,
        ),
        filter in prop_oneof![Just(None), prop::sample::select(PORTS.to_vec()).prop_map(Some)],
    ) {
        let format = if pcapng { CaptureFormat::PcapNg } else { CaptureFormat::Pcap };
        let mut writer = CaptureWriter::with_format(Vec::new(), format)
            .expect("start")
            .with_mtu(mtu);
        for (i, (v6, src, dst, len, comment)) in datagrams.iter().enumerate() {
            let payload = vec![u8::try_from(i).unwrap_or(0); *len];
            let comment = comment.then_some("c");
            writer
                .write_datagram(i as u64 * 1000, endpoint(*v6, *src), endpoint(*v6, *dst), &payload, comment)
                .expect("write");
        }
        let bytes = writer.finish().expect("finish");
        let (outcome, _) = agree(&bytes, filter).expect("a capture");
        if filter.is_none() {
            prop_assert_eq!(outcome.items.len(), datagrams.len());
        }
    }
}

// --- Edge cases, one by one ---------------------------------------------------------------

fn plain(v6: bool) -> Packet {
    Packet {
        v6,
        src: (1, 5000),
        dst: (2, 443),
        payload: b"0123456789".to_vec(),
        edits: Vec::new(),
    }
}

fn edited(v6: bool, edits: Vec<Edit>) -> Packet {
    Packet { edits, ..plain(v6) }
}

fn on_ethernet(packet: Packet) -> Frame {
    Frame {
        packet,
        tags: Tags::None,
        ether_type: None,
        trailer: 0,
        cut: None,
        ts: 1_700_000_000_123_456_789,
        comment: Some(b"note".to_vec()),
        end_of_options: true,
    }
}

/// What a single frame gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A datagram with this many payload bytes.
    Datagram(usize),
    Truncated,
    Malformed,
    NotUdp,
    NotIp,
    /// A fragment that stays incomplete.
    Fragment,
}

fn what(outcome: &Outcome) -> Expect {
    let s = &outcome.skipped;
    match (&outcome.items[..], s.total()) {
        ([Ok(d)], 0) => Expect::Datagram(d.payload.len()),
        ([], 1) if s.truncated == 1 => Expect::Truncated,
        ([], 1) if s.malformed == 1 => Expect::Malformed,
        ([], 1) if s.not_udp == 1 => Expect::NotUdp,
        ([], 1) if s.not_ip == 1 => Expect::NotIp,
        ([], 1) if s.fragments_discarded == 1 => Expect::Fragment,
        _ => panic!("unexpected outcome {outcome:?}"),
    }
}

#[test]
fn edge_cases_take_the_expected_path_with_the_same_result() {
    use Edit::*;
    use Expect::*;
    use LinkKind::{Ethernet as Eth, Raw, Sll, Sll2};
    let v4 = |edits| on_ethernet(edited(false, edits));
    let v6 = |edits| on_ethernet(edited(true, edits));
    let frag = |more, offset| Edit::Fragment { more, offset };
    let tagged = |tags, frame| Frame { tags, ..frame };
    let typed = |ether_type| Frame {
        ether_type: Some(ether_type),
        ..v4(vec![])
    };
    let cut = |permille| Frame {
        cut: Some(permille),
        ..v4(vec![])
    };
    let empty = on_ethernet(Packet {
        payload: Vec::new(),
        ..plain(false)
    });
    // (what, link, frame, taken by the fast path, outcome)
    #[rustfmt::skip]
    let cases: Vec<(&str, LinkKind, Frame, bool, Expect)> = vec![
        ("IPv4", Eth, v4(vec![]), true, Datagram(10)),
        ("IPv6", Eth, v6(vec![]), true, Datagram(10)),
        ("empty payload", Eth, empty, true, Datagram(0)),
        ("802.1Q tag", Eth, tagged(Tags::One(0x8100), v4(vec![])), true, Datagram(10)),
        ("802.1ad tag, IPv6", Eth, tagged(Tags::One(0x88a8), v6(vec![])), true, Datagram(10)),
        ("QinQ", Eth, tagged(Tags::Two, v4(vec![])), false, Datagram(10)),
        ("tag behind a non-TPID", Eth, tagged(Tags::One(0x88b5), v4(vec![])), false, NotIp),
        ("Ethernet padding", Eth, Frame { trailer: 18, ..v4(vec![]) }, true, Datagram(10)),
        ("Linux cooked", Sll, v4(vec![]), true, Datagram(10)),
        ("Linux cooked v2", Sll2, v6(vec![]), true, Datagram(10)),
        ("raw IPv4", Raw, v4(vec![]), true, Datagram(10)),
        ("raw IPv6", Raw, v6(vec![]), true, Datagram(10)),
        ("BSD loopback", LinkKind::Null(2, false), v4(vec![]), false, Datagram(10)),
        ("IPv4 options", Eth, v4(vec![Options(2)]), false, Datagram(10)),
        ("IPv6 hop-by-hop", Eth, v6(vec![Options(1)]), false, Datagram(10)),
        ("don't fragment", Eth, v4(vec![DontFragment]), true, Datagram(10)),
        ("more fragments", Eth, v4(vec![frag(true, 0)]), false, Fragment),
        ("fragment offset", Eth, v4(vec![frag(false, 3)]), false, Fragment),
        ("IPv6 fragment header", Eth, v6(vec![frag(true, 0)]), false, Fragment),
        ("UDP length beyond the packet", Eth, v4(vec![UdpLen(19)]), false, Truncated),
        ("UDP length below the packet", Eth, v4(vec![UdpLen(13)]), true, Datagram(5)),
        ("UDP length 8", Eth, v4(vec![UdpLen(8)]), true, Datagram(0)),
        ("UDP length 0: the rest", Eth, v4(vec![UdpLen(0)]), false, Datagram(10)),
        ("UDP length 7", Eth, v4(vec![UdpLen(7)]), false, Malformed),
        ("IPv6 UDP length 7", Eth, v6(vec![UdpLen(7)]), false, Malformed),
        ("snap length cut", Eth, cut(600), false, Truncated),
        ("cut in the Ethernet header", Eth, cut(200), false, Truncated),
        ("IHL 3", Eth, v4(vec![Ihl(3)]), false, Malformed),
        ("IHL 15", Eth, v4(vec![Ihl(15)]), false, Truncated),
        // The UDP length is then read from the payload ("01"): far too long.
        ("IHL 6 without options", Eth, v4(vec![Ihl(6)]), false, Truncated),
        ("total length below IP + UDP headers", Eth, v4(vec![IpLen(24)]), false, Truncated),
        ("total length below the IP header", Eth, v4(vec![IpLen(12)]), false, Truncated),
        ("total length beyond the frame", Eth, v4(vec![IpLen(60)]), false, Truncated),
        ("total length below the UDP length", Eth, v4(vec![IpLen(30)]), false, Truncated),
        ("IPv6 payload length 0", Eth, v6(vec![IpLen(0)]), false, Datagram(10)),
        ("IPv6 payload length beyond the frame", Eth, v6(vec![IpLen(30)]), false, Truncated),
        ("version 6 in an IPv4 frame", Eth, v4(vec![Version(6)]), false, Malformed),
        ("version 4 in an IPv6 frame", Eth, v6(vec![Version(4)]), false, Malformed),
        ("raw IP version 5", Raw, v4(vec![Version(5)]), false, Malformed),
        ("TCP", Eth, v4(vec![Protocol(6)]), false, NotUdp),
        ("IPv6 no next header", Eth, v6(vec![Protocol(59)]), false, NotUdp),
        ("ARP", Eth, typed(0x0806), false, NotIp),
        ("LLDP", Eth, typed(0x88cc), false, NotIp),
    ];
    let containers = [
        Container::Pcap {
            big_endian: false,
            nanosecond: false,
        },
        Container::Pcap {
            big_endian: true,
            nanosecond: true,
        },
        Container::Pcap {
            big_endian: true,
            nanosecond: false,
        },
        Container::Pcap {
            big_endian: false,
            nanosecond: true,
        },
        Container::PcapNg {
            big_endian: false,
            tsresol: [9, 9],
            tsoffset: None,
        },
        Container::PcapNg {
            big_endian: true,
            tsresol: [6, 6],
            tsoffset: Some(5),
        },
    ];
    for (name, link, frame, fast, expect) in cases {
        for container in &containers {
            let frames = [(frame.clone(), Block::Enhanced(0))];
            let bytes = capture(container, [link, link], &frames);
            let (outcome, general) = agree(&bytes, None).expect("a capture");
            assert_eq!(what(&outcome), expect, "{name} in {container:?}");
            assert_eq!(
                general == 0,
                fast,
                "{name} in {container:?}: fast path taken?"
            );
            if let [Ok(d)] = &outcome.items[..] {
                assert_eq!(d.packet_number, 1);
                let comment = matches!(container, Container::PcapNg { .. }).then_some("note");
                assert_eq!(d.comment.as_deref(), comment, "{name}");
            }
        }
    }
}

/// Timestamps: microsecond and nanosecond pcap in both byte orders, pcapng resolutions and
/// offsets: the same on both paths, and right.
#[test]
fn timestamps_agree_and_are_right() {
    let ns = 1_700_000_000_123_456_789u64;
    let us = ns / 1000;
    // (container, timestamp written: nanoseconds for pcap, interface units for pcapng, expected)
    let cases = [
        (
            Container::Pcap {
                big_endian: false,
                nanosecond: true,
            },
            ns,
            ns,
        ),
        (
            Container::Pcap {
                big_endian: true,
                nanosecond: true,
            },
            ns,
            ns,
        ),
        (
            Container::Pcap {
                big_endian: false,
                nanosecond: false,
            },
            ns,
            us * 1000,
        ),
        (
            Container::Pcap {
                big_endian: true,
                nanosecond: false,
            },
            ns,
            us * 1000,
        ),
        (
            Container::PcapNg {
                big_endian: true,
                tsresol: [9, 9],
                tsoffset: None,
            },
            ns,
            ns,
        ),
        (
            Container::PcapNg {
                big_endian: false,
                tsresol: [6, 6],
                tsoffset: Some(2),
            },
            us,
            us * 1000 + 2_000_000_000,
        ),
        (
            Container::PcapNg {
                big_endian: false,
                tsresol: [0, 0],
                tsoffset: None,
            },
            1_700_000_000,
            1_700_000_000_000_000_000,
        ),
        (
            Container::PcapNg {
                big_endian: false,
                tsresol: [12, 12],
                tsoffset: None,
            },
            ns,
            ns / 1000,
        ),
        (
            Container::PcapNg {
                big_endian: true,
                tsresol: [0x80 | 30, 9],
                tsoffset: None,
            },
            3 << 30,
            3_000_000_000,
        ),
        // Saturates rather than overflowing.
        (
            Container::PcapNg {
                big_endian: false,
                tsresol: [6, 6],
                tsoffset: None,
            },
            ns,
            u64::MAX,
        ),
    ];
    for (container, written, want) in cases {
        let frame = Frame {
            ts: written,
            ..on_ethernet(plain(false))
        };
        let bytes = capture(
            &container,
            [LinkKind::Ethernet; 2],
            &[(frame, Block::Enhanced(0))],
        );
        let (outcome, general) = agree(&bytes, None).expect("a capture");
        assert_eq!(general, 0, "{container:?}");
        match &outcome.items[..] {
            [Ok(d)] => assert_eq!(d.timestamp_ns, want, "{container:?}"),
            other => panic!("{other:?}"),
        }
    }
}

/// A record over the size limit is damage on both paths, even when its bytes are all there
/// and hold a good datagram.
#[test]
fn oversized_record_is_damage_on_both_paths() {
    let frame = Frame {
        trailer: 270_000,
        ..on_ethernet(plain(false))
    };
    for container in [
        Container::Pcap {
            big_endian: false,
            nanosecond: true,
        },
        Container::Pcap {
            big_endian: true,
            nanosecond: false,
        },
    ] {
        let ok = on_ethernet(plain(true));
        let frames = [
            (ok, Block::Enhanced(0)),
            (frame.clone(), Block::Enhanced(0)),
        ];
        let bytes = capture(&container, [LinkKind::Ethernet; 2], &frames);
        let (outcome, _) = agree(&bytes, None).expect("a capture");
        assert_eq!(outcome.items.len(), 2);
        let Err(damage) = &outcome.items[1] else {
            panic!("{outcome:?}");
        };
        assert!(damage.contains("262144-byte limit"), "{damage}");
    }
}
