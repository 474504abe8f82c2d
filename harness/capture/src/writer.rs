//! Writing UDP datagrams as Ethernet frames into pcapng or classic pcap.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{
    EtherType, Ethernet2Header, IpFragOffset, IpNumber, Ipv4Header, Ipv6FragmentHeader, Ipv6Header,
    PacketBuilder, UdpHeader,
};
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption};
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::blocks::section_header::{SectionHeaderBlock, SectionHeaderOption};
use pcap_file::pcapng::blocks::unknown::UnknownBlock;
use pcap_file::pcapng::{Block, PcapNgWriter};
use pcap_file::{DataLink, Endianness, TsResolution};

use crate::secrets::{tls_key_log_body, DECRYPTION_SECRETS_BLOCK};
use crate::CaptureError;

/// Capture container format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CaptureFormat {
    /// pcapng: one section, one Ethernet interface with nanosecond timestamps
    /// (`if_tsresol` = 9), per-packet comments. The default.
    #[default]
    PcapNg,
    /// Classic pcap with the nanosecond magic (`a1b23c4d`, little-endian). No comments.
    Pcap,
}

impl CaptureFormat {
    /// The format a file name asks for: pcap for a `.pcap` name (any case), pcapng otherwise.
    #[must_use]
    pub fn for_path(path: &std::path::Path) -> CaptureFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("pcap") => CaptureFormat::Pcap,
            _ => CaptureFormat::PcapNg,
        }
    }
}

/// The application name written in the pcapng section header (`shb_userappl`).
pub const USER_APPLICATION: &str = "handshake-harness";

/// Snap length declared in the headers; every frame the writer builds fits.
const SNAPLEN: u32 = 262_144;
const TTL: u8 = 64;
const UDP_HEADER_LEN: usize = 8;
const ETHERNET_HEADER_LEN: usize = 14;
const IPV4_HEADER_LEN: usize = 20;
const IPV6_HEADER_LEN: usize = 40;
const IPV6_FRAG_HEADER_LEN: usize = 8;
/// Largest UDP payload in one IPv4 packet: 65535 - 20 - 8.
const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// Largest UDP payload in one IPv6 packet without jumbograms: 65535 - 8.
const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// Writes UDP datagrams as Ethernet II / IPv4 or IPv6 / UDP frames into a pcapng (default) or
/// classic pcap capture with nanosecond timestamps.
///
/// Contract:
/// - Deterministic: the same calls produce byte-identical output. No clock, host name or OS
///   string is written; the pcapng section header carries only
///   `shb_userappl` = [`USER_APPLICATION`]. Both formats are written little-endian.
/// - Frames carry correct IP and UDP lengths and checksums. MAC addresses are made up,
///   locally administered and derived from the IP address (`02:00` + the last four address
///   bytes), so each endpoint keeps one MAC.
/// - A datagram larger than the MTU is written as one oversized frame by default (Wireshark
///   reads it fine). [`with_mtu`](CaptureWriter::with_mtu) splits it into IP fragments
///   instead (IPv4 fragments, or the IPv6 fragment extension header), written as consecutive
///   records with the same timestamp.
/// - Comments become the pcapng `opt_comment` of the datagram's record (its last fragment
///   when fragmented). Classic pcap has no place for comments: they are silently dropped.
/// - TLS key logs go into pcapng Decryption Secrets Blocks with
///   [`write_secrets`](CaptureWriter::write_secrets), before the first packet.
pub struct CaptureWriter<W: Write> {
    sink: Sink<W>,
    mtu: Option<u16>,
    next_identification: u32,
    /// Packet records written so far.
    records: u64,
}

enum Sink<W: Write> {
    PcapNg(PcapNgWriter<W>),
    Pcap(PcapWriter<W>),
}

impl<W: Write> CaptureWriter<W> {
    /// Starts a pcapng capture: writes the section header and the interface description.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Io`] if `writer` fails.
    pub fn new(writer: W) -> Result<Self, CaptureError> {
        Self::with_format(writer, CaptureFormat::PcapNg)
    }

    /// Starts a capture in the given format: writes its file header(s).
    ///
    /// # Errors
    ///
    /// [`CaptureError::Io`] if `writer` fails.
    pub fn with_format(writer: W, format: CaptureFormat) -> Result<Self, CaptureError> {
        let sink = match format {
            CaptureFormat::PcapNg => {
                let section = SectionHeaderBlock {
                    endianness: Endianness::Little,
                    major_version: 1,
                    minor_version: 0,
                    section_length: -1,
                    options: vec![SectionHeaderOption::UserApplication(Cow::Borrowed(
                        USER_APPLICATION,
                    ))],
                };
                let mut ng = PcapNgWriter::with_section_header(writer, section)
                    .map_err(CaptureError::from_pcap_write)?;
                // pcap-file writes EPB timestamps in nanoseconds but does not say so:
                // without if_tsresol = 9 readers assume microseconds.
                let interface = InterfaceDescriptionBlock {
                    linktype: DataLink::ETHERNET,
                    snaplen: SNAPLEN,
                    options: vec![InterfaceDescriptionOption::IfTsResol(9)],
                };
                ng.write_pcapng_block(interface)
                    .map_err(CaptureError::from_pcap_write)?;
                Sink::PcapNg(ng)
            }
            CaptureFormat::Pcap => {
                let header = PcapHeader {
                    version_major: 2,
                    version_minor: 4,
                    ts_correction: 0,
                    ts_accuracy: 0,
                    snaplen: SNAPLEN,
                    datalink: DataLink::ETHERNET,
                    ts_resolution: TsResolution::NanoSecond,
                    endianness: Endianness::Little,
                };
                Sink::Pcap(
                    PcapWriter::with_header(writer, header)
                        .map_err(CaptureError::from_pcap_write)?,
                )
            }
        };
        Ok(CaptureWriter {
            sink,
            mtu: None,
            next_identification: 1,
            records: 0,
        })
    }

    /// Sets the IP MTU (largest IP packet, headers included; Ethernet's is 1500). Datagrams
    /// whose IP packet would be larger are split into IP fragments. `None` (the default)
    /// writes every datagram as one frame, however large.
    #[must_use]
    pub fn with_mtu(mut self, mtu: Option<u16>) -> Self {
        self.mtu = mtu;
        self
    }

    /// The format being written.
    #[must_use]
    pub fn format(&self) -> CaptureFormat {
        match self.sink {
            Sink::PcapNg(_) => CaptureFormat::PcapNg,
            Sink::Pcap(_) => CaptureFormat::Pcap,
        }
    }

    /// Writes one UDP datagram (one record, or one per IP fragment with an MTU set).
    ///
    /// `comment` becomes the pcapng record's `opt_comment`; classic pcap drops it.
    ///
    /// # Errors
    ///
    /// [`CaptureError::InvalidDatagram`] if `src` and `dst` are not the same address family,
    /// the payload is too large for one UDP datagram (65,507 bytes over IPv4, 65,527 over
    /// IPv6), the comment is longer than 65,535 bytes, the MTU leaves no room for fragment
    /// data, or (classic pcap) the timestamp is past 2106. [`CaptureError::Io`] if the
    /// underlying writer fails. Nothing is written when an `InvalidDatagram` is returned.
    pub fn write_datagram(
        &mut self,
        timestamp_ns: u64,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
        comment: Option<&str>,
    ) -> Result<(), CaptureError> {
        self.check_record(timestamp_ns, comment)?;
        let frames = self.build_frames(src, dst, payload)?;
        let count = frames.len();
        for (i, frame) in frames.iter().enumerate() {
            let last = i + 1 == count;
            self.write_record(timestamp_ns, frame, if last { comment } else { None })?;
        }
        Ok(())
    }

    /// Writes one already-built Ethernet frame as is (for live capture): one record with this
    /// timestamp (nanoseconds since the Unix epoch) and, in pcapng, this comment. The frame is
    /// neither parsed nor checked; the capture declares the Ethernet link type, so it should be
    /// an Ethernet II frame.
    ///
    /// # Errors
    ///
    /// [`CaptureError::InvalidDatagram`] if the frame is longer than the declared snap length
    /// (262,144 bytes), the comment is longer than 65,535 bytes, or (classic pcap) the
    /// timestamp is past 2106; nothing is written then. [`CaptureError::Io`] if the underlying
    /// writer fails.
    pub fn write_frame(
        &mut self,
        timestamp_ns: u64,
        frame: &[u8],
        comment: Option<&str>,
    ) -> Result<(), CaptureError> {
        if frame.len() > SNAPLEN as usize {
            return Err(CaptureError::invalid(format!(
                "frame of {} bytes is longer than the capture's {SNAPLEN}-byte snap length",
                frame.len()
            )));
        }
        self.check_record(timestamp_ns, comment)?;
        self.write_record(timestamp_ns, frame, comment)
    }

    /// Writes a TLS key log (NSS key log format, as in an `SSLKEYLOGFILE`) into the capture as
    /// one pcapng Decryption Secrets Block (secrets type `TLSK`), so that Wireshark and tshark
    /// decrypt the capture without a separate key log file. The text is stored byte for byte,
    /// zero-padded to 32 bits; each call writes one block.
    ///
    /// Call it before writing any packet: tshark 4.0 decrypts a packet only with the secrets
    /// read before it, so secrets written after the packets would be useless to it. An empty
    /// key log writes nothing and always succeeds.
    ///
    /// # Errors
    ///
    /// Nothing is written when an error is returned.
    /// [`CaptureError::SecretsNeedPcapNg`] on a classic pcap writer, which has no place for
    /// secrets; [`CaptureError::SecretsAfterPackets`] once a packet has been written;
    /// [`CaptureError::SecretsTooLarge`] if the block would exceed 4 GiB;
    /// [`CaptureError::Io`] if the underlying writer fails.
    pub fn write_secrets(&mut self, nss_key_log: &str) -> Result<(), CaptureError> {
        if nss_key_log.is_empty() {
            return Ok(());
        }
        let Sink::PcapNg(ng) = &mut self.sink else {
            return Err(CaptureError::SecretsNeedPcapNg);
        };
        if self.records > 0 {
            return Err(CaptureError::SecretsAfterPackets {
                packets_written: self.records,
            });
        }
        let (body, total) = tls_key_log_body(nss_key_log.as_bytes(), ng.section().endianness)
            .ok_or(CaptureError::SecretsTooLarge {
                len: nss_key_log.len(),
            })?;
        // pcap-file 2.0 has no DSB type: an unknown block with the finished body is written
        // as is (type, length, body, length), in the section's byte order.
        let block = Block::Unknown(UnknownBlock::new(DECRYPTION_SECRETS_BLOCK, total, &body));
        ng.write_block(&block)
            .map_err(CaptureError::from_pcap_write)?;
        Ok(())
    }

    /// The checks shared by every record: comment length and (classic pcap) timestamp range.
    fn check_record(&self, timestamp_ns: u64, comment: Option<&str>) -> Result<(), CaptureError> {
        if comment.is_some_and(|c| c.len() > usize::from(u16::MAX)) {
            return Err(CaptureError::invalid(
                "comment longer than 65,535 bytes (pcapng option limit)",
            ));
        }
        if matches!(self.sink, Sink::Pcap(_)) && timestamp_ns / 1_000_000_000 > u64::from(u32::MAX)
        {
            return Err(CaptureError::invalid(format!(
                "timestamp {timestamp_ns} ns is past 2106, beyond classic pcap's 32-bit seconds"
            )));
        }
        Ok(())
    }

    /// Flushes and returns the underlying writer.
    ///
    /// # Errors
    ///
    /// [`CaptureError::Io`] if flushing fails.
    pub fn finish(self) -> Result<W, CaptureError> {
        let mut writer = match self.sink {
            Sink::PcapNg(ng) => ng.into_inner(),
            Sink::Pcap(pcap) => pcap.into_writer(),
        };
        writer.flush()?;
        Ok(writer)
    }

    fn write_record(
        &mut self,
        timestamp_ns: u64,
        frame: &[u8],
        comment: Option<&str>,
    ) -> Result<(), CaptureError> {
        let len = u32::try_from(frame.len())
            .map_err(|_| CaptureError::invalid("frame longer than 4 GiB"))?;
        let timestamp = Duration::from_nanos(timestamp_ns);
        match &mut self.sink {
            Sink::PcapNg(ng) => {
                let block = EnhancedPacketBlock {
                    interface_id: 0,
                    timestamp,
                    original_len: len,
                    data: Cow::Borrowed(frame),
                    options: comment
                        .map(|c| vec![EnhancedPacketOption::Comment(Cow::Borrowed(c))])
                        .unwrap_or_default(),
                };
                ng.write_pcapng_block(block)
                    .map_err(CaptureError::from_pcap_write)?;
            }
            Sink::Pcap(pcap) => {
                pcap.write_packet(&PcapPacket::new(timestamp, len, frame))
                    .map_err(CaptureError::from_pcap_write)?;
            }
        }
        self.records += 1;
        Ok(())
    }

    /// Builds the Ethernet frame(s) for one datagram.
    fn build_frames(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        payload: &[u8],
    ) -> Result<Vec<Vec<u8>>, CaptureError> {
        let (src_mac, dst_mac) = (mac_for(src.ip()), mac_for(dst.ip()));
        let base = PacketBuilder::ethernet2(src_mac, dst_mac);
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                if payload.len() > MAX_UDP_PAYLOAD_V4 {
                    return Err(too_big(payload.len(), MAX_UDP_PAYLOAD_V4, "IPv4"));
                }
                let ip_len = IPV4_HEADER_LEN + UDP_HEADER_LEN + payload.len();
                match self.mtu.map(usize::from) {
                    Some(mtu) if ip_len > mtu => {
                        let id = self.take_identification();
                        fragment_v4(
                            (src_mac, dst_mac),
                            (s.octets(), d.octets()),
                            (src.port(), dst.port()),
                            payload,
                            mtu,
                            id,
                        )
                    }
                    _ => {
                        // Sized up front: the builder would grow it once per header.
                        let mut frame = Vec::with_capacity(ETHERNET_HEADER_LEN + ip_len);
                        base.ipv4(s.octets(), d.octets(), TTL)
                            .udp(src.port(), dst.port())
                            .write_to_vec(&mut frame, payload)
                            .map_err(|e| CaptureError::invalid(e.to_string()))?;
                        Ok(vec![frame])
                    }
                }
            }
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                if payload.len() > MAX_UDP_PAYLOAD_V6 {
                    return Err(too_big(payload.len(), MAX_UDP_PAYLOAD_V6, "IPv6"));
                }
                let ip_len = IPV6_HEADER_LEN + UDP_HEADER_LEN + payload.len();
                match self.mtu.map(usize::from) {
                    Some(mtu) if ip_len > mtu => {
                        let id = self.take_identification();
                        fragment_v6(
                            (src_mac, dst_mac),
                            (s.octets(), d.octets()),
                            (src.port(), dst.port()),
                            payload,
                            mtu,
                            id,
                        )
                    }
                    _ => {
                        let mut frame = Vec::with_capacity(ETHERNET_HEADER_LEN + ip_len);
                        base.ipv6(s.octets(), d.octets(), TTL)
                            .udp(src.port(), dst.port())
                            .write_to_vec(&mut frame, payload)
                            .map_err(|e| CaptureError::invalid(e.to_string()))?;
                        Ok(vec![frame])
                    }
                }
            }
            _ => Err(CaptureError::invalid(format!(
                "source {src} and destination {dst} are not the same IP version"
            ))),
        }
    }

    /// A fresh IP identification for a fragmented datagram (deterministic counter).
    fn take_identification(&mut self) -> u32 {
        let id = self.next_identification;
        self.next_identification = self.next_identification.wrapping_add(1);
        id
    }
}

impl<W: Write> fmt::Debug for CaptureWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureWriter")
            .field("format", &self.format())
            .field("mtu", &self.mtu)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

fn too_big(len: usize, max: usize, family: &str) -> CaptureError {
    CaptureError::invalid(format!(
        "UDP payload of {len} bytes exceeds the {max}-byte maximum over {family}"
    ))
}

/// A locally administered MAC derived from the IP address: `02:00` + its last four bytes.
fn mac_for(ip: IpAddr) -> [u8; 6] {
    let tail = match ip {
        IpAddr::V4(v4) => v4.octets(),
        IpAddr::V6(v6) => {
            let o = v6.octets();
            [o[12], o[13], o[14], o[15]]
        }
    };
    [0x02, 0x00, tail[0], tail[1], tail[2], tail[3]]
}

/// Fragment payload size: the largest multiple of 8 that fits after `headers` in `mtu`.
fn chunk_size(mtu: usize, headers: usize) -> Result<usize, CaptureError> {
    let chunk = mtu.saturating_sub(headers) / 8 * 8;
    if chunk == 0 {
        return Err(CaptureError::invalid(format!(
            "MTU {mtu} leaves no room for fragment data after {headers} bytes of headers"
        )));
    }
    Ok(chunk)
}

fn fragment_v4(
    (src_mac, dst_mac): ([u8; 6], [u8; 6]),
    (src, dst): ([u8; 4], [u8; 4]),
    (src_port, dst_port): (u16, u16),
    payload: &[u8],
    mtu: usize,
    identification: u32,
) -> Result<Vec<Vec<u8>>, CaptureError> {
    let chunk = chunk_size(mtu, IPV4_HEADER_LEN)?;
    let invalid = |e: &dyn std::error::Error| CaptureError::invalid(e.to_string());
    let udp_len = u16::try_from(UDP_HEADER_LEN + payload.len())
        .map_err(|_| too_big(payload.len(), MAX_UDP_PAYLOAD_V4, "IPv4"))?;
    let whole = Ipv4Header::new(udp_len, TTL, IpNumber::UDP, src, dst).map_err(|e| invalid(&e))?;
    let udp = UdpHeader::with_ipv4_checksum(src_port, dst_port, &whole, payload)
        .map_err(|e| invalid(&e))?;
    let mut datagram = Vec::with_capacity(UDP_HEADER_LEN + payload.len());
    datagram.extend_from_slice(&udp.to_bytes());
    datagram.extend_from_slice(payload);

    let ethernet = Ethernet2Header {
        source: src_mac,
        destination: dst_mac,
        ether_type: EtherType::IPV4,
    };
    let mut frames = Vec::new();
    let mut offset = 0usize;
    for piece in datagram.chunks(chunk) {
        let piece_len = u16::try_from(piece.len()).map_err(|e| invalid(&e))?;
        let mut ip =
            Ipv4Header::new(piece_len, TTL, IpNumber::UDP, src, dst).map_err(|e| invalid(&e))?;
        // IPv4 identification is 16 bits; the counter wraps.
        ip.identification = (identification & 0xffff) as u16;
        ip.dont_fragment = false;
        ip.more_fragments = offset + piece.len() < datagram.len();
        ip.fragment_offset =
            IpFragOffset::try_new(u16::try_from(offset / 8).map_err(|e| invalid(&e))?)
                .map_err(|e| invalid(&e))?;
        ip.header_checksum = ip.calc_header_checksum();
        let mut frame = Vec::with_capacity(14 + IPV4_HEADER_LEN + piece.len());
        frame.extend_from_slice(&ethernet.to_bytes());
        frame.extend_from_slice(&ip.to_bytes());
        frame.extend_from_slice(piece);
        frames.push(frame);
        offset += piece.len();
    }
    Ok(frames)
}

fn fragment_v6(
    (src_mac, dst_mac): ([u8; 6], [u8; 6]),
    (src, dst): ([u8; 16], [u8; 16]),
    (src_port, dst_port): (u16, u16),
    payload: &[u8],
    mtu: usize,
    identification: u32,
) -> Result<Vec<Vec<u8>>, CaptureError> {
    let chunk = chunk_size(mtu, IPV6_HEADER_LEN + IPV6_FRAG_HEADER_LEN)?;
    let invalid = |e: &dyn std::error::Error| CaptureError::invalid(e.to_string());
    let udp_len = u16::try_from(UDP_HEADER_LEN + payload.len())
        .map_err(|_| too_big(payload.len(), MAX_UDP_PAYLOAD_V6, "IPv6"))?;
    let whole = Ipv6Header {
        traffic_class: 0,
        flow_label: etherparse::Ipv6FlowLabel::ZERO,
        payload_length: udp_len,
        next_header: IpNumber::UDP,
        hop_limit: TTL,
        source: src,
        destination: dst,
    };
    let udp = UdpHeader::with_ipv6_checksum(src_port, dst_port, &whole, payload)
        .map_err(|e| invalid(&e))?;
    let mut datagram = Vec::with_capacity(UDP_HEADER_LEN + payload.len());
    datagram.extend_from_slice(&udp.to_bytes());
    datagram.extend_from_slice(payload);

    let ethernet = Ethernet2Header {
        source: src_mac,
        destination: dst_mac,
        ether_type: EtherType::IPV6,
    };
    let mut frames = Vec::new();
    let mut offset = 0usize;
    for piece in datagram.chunks(chunk) {
        let payload_length =
            u16::try_from(IPV6_FRAG_HEADER_LEN + piece.len()).map_err(|e| invalid(&e))?;
        let ip = Ipv6Header {
            payload_length,
            next_header: IpNumber::IPV6_FRAGMENTATION_HEADER,
            ..whole.clone()
        };
        let fragment = Ipv6FragmentHeader::new(
            IpNumber::UDP,
            IpFragOffset::try_new(u16::try_from(offset / 8).map_err(|e| invalid(&e))?)
                .map_err(|e| invalid(&e))?,
            offset + piece.len() < datagram.len(),
            identification,
        );
        let mut frame =
            Vec::with_capacity(14 + IPV6_HEADER_LEN + IPV6_FRAG_HEADER_LEN + piece.len());
        frame.extend_from_slice(&ethernet.to_bytes());
        frame.extend_from_slice(&ip.to_bytes());
        frame.extend_from_slice(&fragment.to_bytes());
        frame.extend_from_slice(piece);
        frames.push(frame);
        offset += piece.len();
    }
    Ok(frames)
}
