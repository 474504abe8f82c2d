//! From one captured frame to "a UDP datagram", "an IP fragment" or "a reason to skip it".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use etherparse::err::packet::SliceError;
use etherparse::err::{Layer, LenError};
use etherparse::{
    EtherType, IpNumber, Ipv6ExtensionSlice, LenSource, NetSlice, SlicedPacket, TransportSlice,
};

use crate::defrag::{FragKey, Fragment};

/// The link-layer framings the reader decodes (numbers from the tcpdump.org link-type list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// `LINKTYPE_ETHERNET` (1), with any VLAN / QinQ tags.
    Ethernet,
    /// `LINKTYPE_LINUX_SLL` (113): 16-byte Linux cooked header.
    LinuxSll,
    /// `LINKTYPE_LINUX_SLL2` (276): 20-byte Linux cooked header.
    LinuxSll2,
    /// `LINKTYPE_NULL` (0) and `LINKTYPE_LOOP` (108): 4-byte address family, either byte order.
    Loopback,
    /// `LINKTYPE_RAW` (101), `LINKTYPE_IPV4` (228), `LINKTYPE_IPV6` (229), and the old
    /// platform-specific raw-IP values 12 and 14 that Wireshark also reads as raw IP.
    RawIp,
    /// Anything else (its LINKTYPE number).
    Unsupported(u32),
}

impl Link {
    pub(crate) fn from_linktype(linktype: u32) -> Link {
        match linktype {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            0 | 108 => Link::Loopback,
            101 | 228 | 229 | 12 | 14 => Link::RawIp,
            other => Link::Unsupported(other),
        }
    }
}

/// Why a frame did not produce a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    UnsupportedLinkType(u32),
    NotIp,
    NotUdp,
    Truncated,
    Malformed,
}

/// What one frame holds.
#[derive(Debug)]
pub(crate) enum Decoded<'a> {
    /// A whole UDP datagram.
    Datagram {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
    /// One fragment of a UDP-carrying IP packet.
    Fragment { key: FragKey, frag: Fragment<'a> },
}

/// Address families seen in `LINKTYPE_NULL` / `LINKTYPE_LOOP` headers.
const AF_INET: u32 = 2;
const AF_INET6_BSD: [u32; 3] = [24, 28, 30];

const SLL_HEADER_LEN: usize = 16;
const SLL2_HEADER_LEN: usize = 20;

pub(crate) fn decode(link: Link, frame: &[u8]) -> Result<Decoded<'_>, Skip> {
    let sliced = match link {
        Link::Ethernet => SlicedPacket::from_ethernet(frame),
        Link::LinuxSll => {
            let protocol = be_u16(frame, 14).ok_or(Skip::Truncated)?;
            let rest = frame.get(SLL_HEADER_LEN..).ok_or(Skip::Truncated)?;
            SlicedPacket::from_ether_type(EtherType(protocol), rest)
        }
        Link::LinuxSll2 => {
            let protocol = be_u16(frame, 0).ok_or(Skip::Truncated)?;
            let rest = frame.get(SLL2_HEADER_LEN..).ok_or(Skip::Truncated)?;
            SlicedPacket::from_ether_type(EtherType(protocol), rest)
        }
        Link::Loopback => {
            let family: [u8; 4] = frame
                .get(..4)
                .and_then(|b| b.try_into().ok())
                .ok_or(Skip::Truncated)?;
            // The family is in the byte order of the capturing host: accept either.
            let is_ip = [u32::from_le_bytes(family), u32::from_be_bytes(family)]
                .iter()
                .any(|f| *f == AF_INET || AF_INET6_BSD.contains(f));
            if !is_ip {
                return Err(Skip::NotIp);
            }
            SlicedPacket::from_ip(frame.get(4..).ok_or(Skip::Truncated)?)
        }
        Link::RawIp => SlicedPacket::from_ip(frame),
        Link::Unsupported(linktype) => return Err(Skip::UnsupportedLinkType(linktype)),
    };
    let sliced = sliced.map_err(classify_error)?;

    match &sliced.net {
        Some(NetSlice::Ipv4(ipv4)) => {
            let header = ipv4.header();
            let (src, dst) = (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
            );
            let payload = ipv4.payload();
            if payload.fragmented {
                if payload.ip_number != IpNumber::UDP {
                    return Err(Skip::NotUdp);
                }
                let key = FragKey {
                    src,
                    dst,
                    identification: u32::from(header.identification()),
                    protocol: payload.ip_number.0,
                };
                let frag = Fragment {
                    offset: usize::from(header.fragments_offset().byte_offset()),
                    more_fragments: header.more_fragments(),
                    data: payload.payload,
                };
                return Ok(Decoded::Fragment { key, frag });
            }
            udp_datagram(&sliced, src, dst)
        }
        Some(NetSlice::Ipv6(ipv6)) => {
            let header = ipv6.header();
            let (src, dst) = (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
            );
            let payload = ipv6.payload();
            if payload.fragmented {
                let frag_header = ipv6
                    .extensions()
                    .clone()
                    .into_iter()
                    .find_map(|ext| match ext {
                        Ipv6ExtensionSlice::Fragment(f) => Some(f),
                        _ => None,
                    });
                let Some(frag_header) = frag_header else {
                    return Err(Skip::Malformed);
                };
                // Only UDP directly behind the fragment header is reassembled: then the
                // fragment data is exactly what follows the fragment header in every fragment.
                if frag_header.next_header() != IpNumber::UDP {
                    return Err(Skip::NotUdp);
                }
                let key = FragKey {
                    src,
                    dst,
                    identification: frag_header.identification(),
                    protocol: IpNumber::UDP.0,
                };
                let frag = Fragment {
                    offset: usize::from(frag_header.fragment_offset().byte_offset()),
                    more_fragments: frag_header.more_fragments(),
                    data: payload.payload,
                };
                return Ok(Decoded::Fragment { key, frag });
            }
            udp_datagram(&sliced, src, dst)
        }
        Some(NetSlice::Arp(_)) | None => Err(Skip::NotIp),
    }
}

/// The common case decoded by hand: an IPv4 packet without options or an IPv6 packet without
/// extension headers, not fragmented, carrying a UDP datagram whose length field fits in the
/// packet, on Ethernet II (at most one VLAN tag), Linux cooked v1/v2 or raw IP.
///
/// `None` means "not that simple": [`decode`] then decides. `Some` is exactly what [`decode`]
/// would return as [`Decoded::Datagram`] for the same frame (the `fast_path` integration tests
/// compare both on generated and damaged frames); every length is checked here the way
/// etherparse checks it, so a frame taken here is never one `decode` would skip.
#[inline(always)]
pub(crate) fn decode_fast(link: Link, frame: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    // Untagged IPv4 on Ethernet first: the common case, with the fewest branches.
    if link == Link::Ethernet {
        let (header, ip) = frame.split_first_chunk::<14>()?;
        if u16::from_be_bytes([header[12], header[13]]) == ETHERTYPE_IPV4 {
            return ipv4_udp_fast(ip);
        }
    }
    decode_fast_other(link, frame)
}

/// [`decode_fast`] for VLAN-tagged or IPv6 Ethernet frames and the other link types.
#[inline(always)]
fn decode_fast_other(link: Link, frame: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let (ether_type, ip) = match link {
        Link::Ethernet => {
            let (header, rest) = frame.split_first_chunk::<14>()?;
            match u16::from_be_bytes([header[12], header[13]]) {
                // One 802.1Q / 802.1ad tag: 2 bytes of tag control, then the EtherType.
                0x8100 | 0x88a8 | 0x9100 => {
                    let (tag, rest) = rest.split_first_chunk::<4>()?;
                    (u16::from_be_bytes([tag[2], tag[3]]), rest)
                }
                ether_type => (ether_type, rest),
            }
        }
        Link::LinuxSll => (be_u16(frame, 14)?, frame.get(SLL_HEADER_LEN..)?),
        Link::LinuxSll2 => (be_u16(frame, 0)?, frame.get(SLL2_HEADER_LEN..)?),
        // Raw IP is read by the IP version. BSD loopback (its address family in either byte
        // order) is left to `decode`: such captures are rare.
        Link::RawIp => match frame.first()? >> 4 {
            4 => (ETHERTYPE_IPV4, frame),
            6 => (ETHERTYPE_IPV6, frame),
            _ => return None,
        },
        Link::Loopback | Link::Unsupported(_) => return None,
    };
    match ether_type {
        ETHERTYPE_IPV4 => ipv4_udp_fast(ip),
        ETHERTYPE_IPV6 => ipv6_udp_fast(ip),
        _ => None,
    }
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const PROTOCOL_UDP: u8 = 17;

/// IPv4, IHL 5, protocol UDP, neither "more fragments" nor a fragment offset, total length
/// between the header length and the bytes present.
#[inline(always)]
fn ipv4_udp_fast(ip: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let header = ip.first_chunk::<20>()?;
    let flags_offset = u16::from_be_bytes([header[6], header[7]]);
    if header[0] != 0x45 || header[9] != PROTOCOL_UDP || flags_offset & 0x3fff != 0 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([header[2], header[3]]));
    // `None` when the total length is below 20 (bad) or beyond the frame (cut).
    let udp = ip.get(20..total)?;
    let (src_port, dst_port, payload) = udp_fast(udp)?;
    let src = Ipv4Addr::new(header[12], header[13], header[14], header[15]);
    let dst = Ipv4Addr::new(header[16], header[17], header[18], header[19]);
    Some((
        SocketAddr::V4(SocketAddrV4::new(src, src_port)),
        SocketAddr::V4(SocketAddrV4::new(dst, dst_port)),
        payload,
    ))
}

/// IPv6 whose next header is UDP (no extension headers), with a payload length within the
/// bytes present. A payload length of 0 (jumbogram: etherparse then takes the rest of the frame)
/// leaves no room for the UDP header, so such packets go to `decode`.
#[inline(always)]
fn ipv6_udp_fast(ip: &[u8]) -> Option<(SocketAddr, SocketAddr, &[u8])> {
    let (header, rest) = ip.split_first_chunk::<40>()?;
    if header[0] >> 4 != 6 || header[6] != PROTOCOL_UDP {
        return None;
    }
    let payload_len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let (src_port, dst_port, payload) = udp_fast(rest.get(..payload_len)?)?;
    let mut src = [0u8; 16];
    src.copy_from_slice(&header[8..24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&header[24..40]);
    Some((
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(src), src_port, 0, 0)),
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(dst), dst_port, 0, 0)),
        payload,
    ))
}

/// UDP header with a length field of at least 8 (0 means "the rest of the packet" to
/// etherparse: left to `decode`) and at most the IP payload; the payload ends where the
/// length field says.
#[inline(always)]
fn udp_fast(udp: &[u8]) -> Option<(u16, u16, &[u8])> {
    let header = udp.first_chunk::<8>()?;
    let len = usize::from(u16::from_be_bytes([header[4], header[5]]));
    // `None` below 8 (malformed, or 0) and beyond the IP payload (cut).
    let payload = udp.get(8..len)?;
    Some((
        u16::from_be_bytes([header[0], header[1]]),
        u16::from_be_bytes([header[2], header[3]]),
        payload,
    ))
}

fn udp_datagram<'a>(
    sliced: &SlicedPacket<'a>,
    src: IpAddr,
    dst: IpAddr,
) -> Result<Decoded<'a>, Skip> {
    match &sliced.transport {
        Some(TransportSlice::Udp(udp)) => Ok(Decoded::Datagram {
            src: SocketAddr::new(src, udp.source_port()),
            dst: SocketAddr::new(dst, udp.destination_port()),
            payload: udp.payload(),
        }),
        _ => Err(Skip::NotUdp),
    }
}

/// Parses a reassembled IP payload as a UDP datagram and returns
/// `(source port, destination port, UDP payload)`, the payload moved out of `ip_payload`.
pub(crate) fn reassembled_udp(mut ip_payload: Vec<u8>) -> Result<(u16, u16, Vec<u8>), Skip> {
    let (src_port, dst_port, payload_len) = {
        let udp = etherparse::UdpSlice::from_slice(&ip_payload).map_err(|e| len_error(&e))?;
        (
            udp.source_port(),
            udp.destination_port(),
            udp.payload().len(),
        )
    };
    if ip_payload.len() < 8 {
        return Err(Skip::Malformed);
    }
    ip_payload.truncate(8 + payload_len);
    ip_payload.drain(..8);
    Ok((src_port, dst_port, ip_payload))
}

fn classify_error(err: SliceError) -> Skip {
    match err {
        SliceError::Len(len) => len_error(&len),
        // A TCP header etherparse did not like is still "not UDP".
        SliceError::Tcp(_) => Skip::NotUdp,
        SliceError::LinuxSll(_)
        | SliceError::Macsec(_)
        | SliceError::Ip(_)
        | SliceError::Ipv4(_)
        | SliceError::Ipv6(_)
        | SliceError::Ipv4Exts(_)
        | SliceError::Ipv6Exts(_) => Skip::Malformed,
    }
}

fn len_error(err: &LenError) -> Skip {
    match err.layer {
        Layer::TcpHeader
        | Layer::Icmpv4
        | Layer::Icmpv4Timestamp
        | Layer::Icmpv4TimestampReply
        | Layer::Icmpv6
        | Layer::Igmp => Skip::NotUdp,
        Layer::Arp => Skip::NotIp,
        // A UDP length field below 8 is a bad header, not a short capture.
        Layer::UdpHeader if err.len_source == LenSource::UdpHeaderLen => Skip::Malformed,
        _ => Skip::Truncated,
    }
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    let two: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(u16::from_be_bytes(two))
}
