//! From one captured frame to "a UDP datagram", "an IP fragment" or "a reason to skip it".

use std::net::{IpAddr, SocketAddr};

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
    /// Anything else.
    Unsupported,
}

impl Link {
    pub(crate) fn from_linktype(linktype: u32) -> Link {
        match linktype {
            1 => Link::Ethernet,
            113 => Link::LinuxSll,
            276 => Link::LinuxSll2,
            0 | 108 => Link::Loopback,
            101 | 228 | 229 | 12 | 14 => Link::RawIp,
            _ => Link::Unsupported,
        }
    }
}

/// Why a frame did not produce a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    UnsupportedLinkType,
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
        Link::Unsupported => return Err(Skip::UnsupportedLinkType),
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
