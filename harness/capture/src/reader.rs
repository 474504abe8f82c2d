//! Reading UDP datagrams out of pcap and pcapng captures.

use std::borrow::Cow;
use std::fmt;
use std::iter::FusedIterator;
use std::net::SocketAddr;
use std::ops::ControlFlow;

use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::{
    ENHANCED_PACKET_BLOCK, INTERFACE_DESCRIPTION_BLOCK, PACKET_BLOCK, SECTION_HEADER_BLOCK,
    SIMPLE_PACKET_BLOCK,
};
use pcap_file::pcapng::PcapNgParser;
use pcap_file::{Endianness, PcapError, TsResolution};

use crate::decode::{decode, decode_fast, reassembled_udp, Decoded, Link, Skip};
use crate::defrag::Reassembler;
use crate::secrets::{SecretsLog, DECRYPTION_SECRETS_BLOCK};
use crate::{CaptureError, CaptureFormat};

/// One UDP datagram found in a capture.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UdpDatagram<'a> {
    /// 1-based number of the packet record that carried the datagram, counting every packet
    /// record in the file (UDP or not), as Wireshark's "No." column does. For a datagram
    /// reassembled from IP fragments, the number of its last fragment.
    pub packet_number: u64,
    /// Capture time in nanoseconds since the Unix epoch (0 for pcapng Simple Packet Blocks,
    /// which carry no time). For a reassembled datagram, the time of its last fragment.
    pub timestamp_ns: u64,
    /// Source IP address and UDP port.
    pub src: SocketAddr,
    /// Destination IP address and UDP port.
    pub dst: SocketAddr,
    /// The UDP payload: borrowed from the capture bytes, owned only after IP reassembly.
    pub payload: Cow<'a, [u8]>,
    /// The pcapng packet comment (`opt_comment`, option code 1) of the enhanced packet block or
    /// packet block: the first one if the block has several, invalid UTF-8 replaced (borrowed
    /// when it is valid). `None` when the block has none, for simple packet blocks and for
    /// classic pcap. For a reassembled datagram, the comment of its last fragment.
    pub comment: Option<Cow<'a, str>>,
}

impl UdpDatagram<'_> {
    /// Copies the payload if needed so the datagram no longer borrows the capture bytes.
    #[must_use]
    pub fn into_owned(self) -> UdpDatagram<'static> {
        UdpDatagram {
            packet_number: self.packet_number,
            timestamp_ns: self.timestamp_ns,
            src: self.src,
            dst: self.dst,
            payload: Cow::Owned(self.payload.into_owned()),
            comment: self.comment.map(|c| Cow::Owned(c.into_owned())),
        }
    }
}

/// Packet records that did not produce a datagram, by reason.
///
/// Every packet record of the capture ends up either in a yielded [`UdpDatagram`], as a
/// fragment of one, or in exactly one of these counters (`other_port` counts datagrams, so
/// a filtered-out reassembled datagram counts once).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SkipCounts {
    /// Packets on a link type the reader does not decode (802.11, USB, ...).
    pub unsupported_link_type: u64,
    /// The first such LINKTYPE number seen (to name it in messages).
    pub first_unsupported_link_type: Option<u32>,
    /// Frames whose link layer carries something other than IP: ARP, LLDP, unknown
    /// EtherTypes, unknown loopback address families, non-EtherType Linux cooked protocols.
    pub not_ip: u64,
    /// IP packets whose payload is not UDP: TCP, ICMP, IGMP, ...
    pub not_udp: u64,
    /// Frames shorter than their headers or length fields require: usually cut by the
    /// capture's snap length.
    pub truncated: u64,
    /// Malformed IP or UDP headers (bad version, header length, extension headers, UDP length
    /// below 8, fragments that cannot belong to a UDP datagram).
    pub malformed: u64,
    /// UDP datagrams dropped by the port filter ([`CaptureReader::with_port`]).
    pub other_port: u64,
    /// IP fragments thrown away by reassembly: datagram over 64 KiB, conflicting or misaligned
    /// fragments, too many datagrams in progress, 30 s timeout, or still incomplete at the end
    /// of the capture.
    pub fragments_discarded: u64,
}

impl SkipCounts {
    /// Sum of all counters.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.unsupported_link_type
            + self.not_ip
            + self.not_udp
            + self.truncated
            + self.malformed
            + self.other_port
            + self.fragments_discarded
    }

    /// The counters that are not zero, as `N reason` phrases (for messages).
    #[must_use]
    pub fn describe(&self) -> Vec<String> {
        let link = match self.first_unsupported_link_type {
            Some(t) => format!(
                "on an unsupported link type (LINKTYPE {t}{}; supported: Ethernet 1, Linux cooked 113/276, BSD loopback 0/108, raw IP 101/228/229)",
                link_type_name(t).map(|n| format!(", {n}")).unwrap_or_default()
            ),
            None => "on an unsupported link type".into(),
        };
        [
            (self.unsupported_link_type, link.as_str()),
            (self.not_ip, "not IP"),
            (self.not_udp, "not UDP"),
            (self.truncated, "truncated"),
            (self.malformed, "with malformed IP/UDP headers"),
            (self.other_port, "on another port"),
            (self.fragments_discarded, "IP fragments discarded"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect()
    }

    fn count(&mut self, skip: Skip) {
        let counter = match skip {
            Skip::UnsupportedLinkType(linktype) => {
                self.first_unsupported_link_type.get_or_insert(linktype);
                &mut self.unsupported_link_type
            }
            Skip::NotIp => &mut self.not_ip,
            Skip::NotUdp => &mut self.not_udp,
            Skip::Truncated => &mut self.truncated,
            Skip::Malformed => &mut self.malformed,
        };
        *counter += 1;
    }
}

/// Names of common link types the reader does not decode.
fn link_type_name(linktype: u32) -> Option<&'static str> {
    Some(match linktype {
        105 => "IEEE 802.11",
        127 => "802.11 with radiotap",
        189 | 220 => "USB",
        195 => "IEEE 802.15.4",
        147..=162 => "a user-defined link type",
        _ => return None,
    })
}

/// Opens a capture held in memory. Detects the format by its magic number: classic pcap
/// (microsecond or nanosecond timestamps, either byte order) or pcapng.
///
/// # Errors
///
/// [`CaptureError::NotACapture`] for empty input or an unknown magic number;
/// [`CaptureError::Damaged`] at offset 0 when the magic is right but the file header
/// (pcap global header, first pcapng section header block) is cut short or invalid.
pub fn open(bytes: &[u8]) -> Result<CaptureReader<'_>, CaptureError> {
    let magic = bytes
        .get(..4)
        .and_then(|m| <[u8; 4]>::try_from(m).ok())
        .map(u32::from_be_bytes);
    let not_a_capture = || CaptureError::NotACapture {
        first_bytes: bytes.iter().copied().take(8).collect(),
    };
    let header_damaged = |what: &str, err: PcapError| CaptureError::Damaged {
        offset: 0,
        packet_number: 1,
        reason: match err {
            PcapError::IncompleteBuffer => {
                format!("{what} cut short: the file is only {} bytes", bytes.len())
            }
            other => format!("bad {what}: {other}"),
        },
    };

    let (rest, container) = match magic {
        Some(0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1) => {
            let (rest, parser) =
                PcapParser::new(bytes).map_err(|e| header_damaged("pcap file header", e))?;
            let header = parser.header();
            let format = PcapFormat {
                link: Link::from_linktype(u32::from(header.datalink)),
                big_endian: header.endianness == Endianness::Big,
                frac_to_ns: match header.ts_resolution {
                    TsResolution::NanoSecond => 1,
                    TsResolution::MicroSecond => 1_000,
                },
                max_record: header.snaplen.max(MAX_PCAP_RECORD),
            };
            (rest, Container::Pcap { parser, format })
        }
        Some(0x0A0D_0D0A) => {
            let (rest, parser) = PcapNgParser::new(bytes)
                .map_err(|e| header_damaged("pcapng section header block", e))?;
            let container = Container::PcapNg {
                parser,
                interfaces: Vec::new(),
            };
            (rest, container)
        }
        _ => return Err(not_a_capture()),
    };

    let fast = match container {
        Container::Pcap { format, .. } => FastPath::Pcap(format),
        Container::PcapNg { .. } => FastPath::PcapNg,
    };
    Ok(CaptureReader {
        file: bytes,
        rest,
        container,
        port: None,
        packets: 0,
        skipped: SkipCounts::default(),
        reassembler: Reassembler::default(),
        finished: false,
        fast,
        general_records: 0,
        secrets: SecretsLog::default(),
        base: 0,
        more_follows: false,
    })
}

/// Largest classic-pcap record accepted when the header's snap length is smaller
/// (Wireshark's limit): a bigger length field means the record structure is damaged.
const MAX_PCAP_RECORD: u32 = 262_144;

/// Iterator over the UDP datagrams of a capture, made by [`open`].
///
/// Yields `Ok(datagram)` in capture order; packets that are not UDP (or not decodable) are
/// skipped and counted in [`skipped`](CaptureReader::skipped). If the file is damaged, yields
/// one `Err(CaptureError::Damaged { .. })` after the datagrams before the damage, then ends.
///
/// Link types: Ethernet (with VLAN / QinQ tags), Linux cooked v1 and v2, BSD loopback
/// (`NULL`, `LOOP`) and raw IPv4/IPv6. In pcapng each interface's link type, `if_tsresol` and
/// `if_tsoffset` apply to its packets; sections and interfaces may repeat. UDP checksums are
/// never checked (captures on Linux `lo` carry unfinished ones).
pub struct CaptureReader<'a> {
    file: &'a [u8],
    rest: &'a [u8],
    container: Container,
    port: Option<u16>,
    packets: u64,
    skipped: SkipCounts,
    reassembler: Reassembler,
    finished: bool,
    /// The hand-written path tried first; `Off` once the iterator has ended, and after
    /// [`CaptureReader::without_fast_path`].
    fast: FastPath,
    /// Packet records read by the general path.
    general_records: u64,
    /// Decryption secrets read from pcapng Decryption Secrets Blocks so far.
    secrets: SecretsLog,
    /// Offset in the file of `file[0]` (not 0 when the reader reads a file piece by piece).
    base: usize,
    /// More of the file follows `file` ([`crate::stream`]): its end is a pause, not the end.
    more_follows: bool,
}

/// The fast path: the common case read by hand, without pcap-file or etherparse.
///
/// It takes a packet record only when it is whole and its frame is a plain UDP datagram
/// ([`decode_fast`]): then the general path would yield the same datagram. Anything else
/// (other blocks, damage, other frames) it leaves untouched, unread, for the general path, which
/// reads the same record again. Tests compare both paths ([`CaptureReader::without_fast_path`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastPath {
    Off,
    /// Classic pcap records.
    Pcap(PcapFormat),
    /// pcapng enhanced packet blocks.
    PcapNg,
}

/// What reading a classic-pcap record needs from the file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PcapFormat {
    link: Link,
    big_endian: bool,
    /// 1 for nanosecond files, 1000 for microsecond ones.
    frac_to_ns: u64,
    max_record: u32,
}

enum Container {
    Pcap {
        parser: PcapParser,
        format: PcapFormat,
    },
    PcapNg {
        parser: PcapNgParser,
        interfaces: Vec<Interface>,
    },
}

/// What the reader needs from a pcapng interface description block.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: Link,
    snaplen: u32,
    /// Raw `if_tsresol` (default 6: microseconds).
    tsresol: u8,
    /// `if_tsoffset` in seconds.
    tsoffset_s: i64,
    /// Nanoseconds per `if_tsresol` unit when that is a whole number (resolutions of 1 s to
    /// 1 ns), else 0; with `tsoffset_ns`, what the fast path converts timestamps with.
    ns_per_unit: u64,
    /// `if_tsoffset` in nanoseconds (saturated).
    tsoffset_ns: i64,
}

impl Interface {
    fn new(link: Link, snaplen: u32, tsresol: u8, tsoffset_s: i64) -> Self {
        Interface {
            link,
            snaplen,
            tsresol,
            tsoffset_s,
            ns_per_unit: match tsresol {
                0..=9 => 10u64.pow(9 - u32::from(tsresol)),
                _ => 0,
            },
            tsoffset_ns: tsoffset_s.saturating_mul(1_000_000_000),
        }
    }

    /// A timestamp in this interface's units, in nanoseconds since the epoch: [`to_nanos`],
    /// without its general arithmetic for the usual resolutions.
    #[inline(always)]
    fn timestamp_ns(&self, raw: u64) -> u64 {
        if self.ns_per_unit == 0 {
            return to_nanos(raw, self.tsresol, self.tsoffset_s);
        }
        raw.saturating_mul(self.ns_per_unit)
            .saturating_add_signed(self.tsoffset_ns)
    }
}

/// What the general path read from the container.
enum Block<'a> {
    /// A packet record.
    Record(Record<'a>),
    /// A pcapng block that holds no packet (section header, interface description, ...).
    Other,
    /// The clean end of the file.
    End,
    /// The end of the piece in hand; more of the file follows.
    Pause,
}

/// One packet record pulled out of the container.
struct Record<'a> {
    link: Link,
    timestamp_ns: u64,
    data: &'a [u8],
    /// Raw `opt_comment` (pcapng packet blocks only), not yet checked as UTF-8.
    comment: Option<&'a [u8]>,
}

impl<'a> CaptureReader<'a> {
    /// Keeps only datagrams whose source or destination UDP port is `port`; the others are
    /// counted in [`SkipCounts::other_port`]. `None` keeps everything (the default).
    #[must_use]
    pub fn with_port(mut self, port: Option<u16>) -> Self {
        self.port = port;
        self
    }

    /// Turns off the hand-written decoding of common records and frames, so that everything goes
    /// through pcap-file and etherparse. The results are the same either way (that is what the
    /// tests use it for); only the speed differs.
    #[doc(hidden)]
    #[must_use]
    pub fn without_fast_path(mut self) -> Self {
        self.fast = FastPath::Off;
        self
    }

    /// Packet records read so far by the general path rather than the fast path (see
    /// [`CaptureReader::without_fast_path`]): for tests and benchmarks.
    #[doc(hidden)]
    #[must_use]
    pub fn general_path_records(&self) -> u64 {
        self.general_records
    }

    /// Packets skipped so far, by reason. Complete once the iterator has ended.
    #[must_use]
    pub fn skipped(&self) -> &SkipCounts {
        &self.skipped
    }

    /// The container format that was detected.
    #[must_use]
    pub fn format(&self) -> CaptureFormat {
        match self.container {
            Container::Pcap { .. } => CaptureFormat::Pcap,
            Container::PcapNg { .. } => CaptureFormat::PcapNg,
        }
    }

    /// Number of packet records read so far.
    #[must_use]
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// The TLS key log read so far from pcapng Decryption Secrets Blocks (DSB) with secrets
    /// type `TLSK` (NSS key log format): each block's text in file order, concatenated, each
    /// ending in `'\n'` (invalid UTF-8 replaced). Empty for classic pcap and for captures
    /// without such blocks.
    ///
    /// Blocks are read as the iterator advances: the text is complete once the iterator has
    /// ended, and holds the blocks that precede the first packet (where writers put them, see
    /// [`CaptureWriter::write_secrets`](crate::CaptureWriter::write_secrets)) as soon as
    /// `next` has returned once. [`decryption_secrets`](crate::decryption_secrets) reads the
    /// same text without decoding packets.
    #[must_use]
    pub fn secrets(&self) -> &str {
        &self.secrets.text
    }

    /// Decryption Secrets Blocks read so far whose secrets type is not `TLSK`: ignored, only
    /// counted. (They are not packet records, so they are not in [`SkipCounts`].)
    #[must_use]
    pub fn skipped_secrets(&self) -> u64 {
        self.secrets.other_blocks
    }

    fn offset(&self) -> usize {
        self.base + self.file.len().saturating_sub(self.rest.len())
    }

    /// The same reader (format, interfaces, counts, reassembly, secrets) continued over the
    /// next piece of the file, which starts at offset `base` and holds whole records only unless
    /// it is the last (`more_follows` false). What is left unread of the current piece is
    /// dropped: the caller hands over a piece only once this one is read to its end.
    pub(crate) fn continue_on<'b>(
        self,
        piece: &'b [u8],
        base: usize,
        more_follows: bool,
    ) -> CaptureReader<'b> {
        CaptureReader {
            file: piece,
            rest: piece,
            container: self.container,
            port: self.port,
            packets: self.packets,
            skipped: self.skipped,
            reassembler: self.reassembler,
            finished: self.finished,
            fast: self.fast,
            general_records: self.general_records,
            secrets: self.secrets,
            base,
            more_follows,
        }
    }

    /// Whether the end of the bytes in hand is a pause (more of the file follows) rather than the
    /// end of the file.
    pub(crate) fn pausing_at_end(mut self, more_follows: bool) -> Self {
        self.more_follows = more_follows;
        self
    }

    fn damaged(&self, offset: usize, reason: String) -> CaptureError {
        CaptureError::Damaged {
            offset,
            packet_number: self.packets + 1,
            reason,
        }
    }

    /// Reads the next record or block (general path).
    fn next_block(&mut self) -> Result<Block<'a>, CaptureError> {
        if self.rest.is_empty() {
            return Ok(if self.more_follows {
                Block::Pause
            } else {
                Block::End
            });
        }
        let fast = self.fast != FastPath::Off;
        let offset = self.offset();
        let rest = self.rest;
        let step = match &mut self.container {
            Container::Pcap { parser, format } => {
                pcap_record(parser, rest, format).map(|(rem, record)| (rem, Some(record)))
            }
            Container::PcapNg { parser, interfaces } => {
                pcapng_block(parser, interfaces, &mut self.secrets, rest, fast)
            }
        };
        match step {
            Ok((rem, record)) => {
                self.rest = rem;
                Ok(match record {
                    Some(record) => {
                        self.packets += 1;
                        Block::Record(record)
                    }
                    None => Block::Other,
                })
            }
            Err(reason) => Err(self.damaged(offset, reason)),
        }
    }

    /// Applies the port filter and builds the datagram from the record that completed it
    /// (general path; the fast path does the same inline).
    #[inline(always)]
    fn accept(
        &mut self,
        record: &Record<'a>,
        src: SocketAddr,
        dst: SocketAddr,
        payload: Cow<'a, [u8]>,
    ) -> Option<UdpDatagram<'a>> {
        if !port_matches(self.port, &src, &dst) {
            self.skipped.other_port += 1;
            return None;
        }
        Some(UdpDatagram {
            packet_number: self.packets,
            timestamp_ns: record.timestamp_ns,
            src,
            dst,
            payload,
            comment: record.comment.map(comment_text),
        })
    }

    /// The fast path: the next datagram, or `None` at the first record it leaves to the
    /// general path (unread).
    #[inline(always)]
    fn next_fast(&mut self) -> Option<UdpDatagram<'a>> {
        loop {
            let (rem, record) = match self.fast {
                FastPath::Pcap(format) => pcap_record_fast(self.rest, format)?,
                FastPath::PcapNg => {
                    let Container::PcapNg { parser, interfaces } = &self.container else {
                        return None;
                    };
                    epb_fast(self.rest, parser.section().endianness, interfaces)?
                }
                FastPath::Off => return None,
            };
            let (src, dst, payload) = decode_fast(record.link, record.data)?;
            self.rest = rem;
            self.packets += 1;
            if port_matches(self.port, &src, &dst) {
                return Some(UdpDatagram {
                    packet_number: self.packets,
                    timestamp_ns: record.timestamp_ns,
                    src,
                    dst,
                    payload: Cow::Borrowed(payload),
                    comment: record.comment.map(comment_text),
                });
            }
            self.skipped.other_port += 1;
        }
    }

    /// The general path, for one record or block: through pcap-file and etherparse, with
    /// reassembly, skip counting and damage reporting. `Break` with what `next` returns, or
    /// `Continue` when it gave nothing to yield (skipped, filtered, a fragment, not a packet).
    #[inline(never)]
    fn next_general(&mut self) -> ControlFlow<Option<Result<UdpDatagram<'a>, CaptureError>>> {
        if self.finished {
            return ControlFlow::Break(None);
        }
        let record = match self.next_block() {
            Ok(Block::Record(record)) => record,
            // A pcapng block other than a packet: back to the fast path.
            Ok(Block::Other) => return ControlFlow::Continue(()),
            Ok(Block::Pause) => return ControlFlow::Break(None),
            Ok(Block::End) => {
                self.finish();
                return ControlFlow::Break(None);
            }
            Err(err) => {
                self.finish();
                return ControlFlow::Break(Some(Err(err)));
            }
        };
        self.general_records += 1;
        match self.general_datagram(&record) {
            Some(datagram) => ControlFlow::Break(Some(Ok(datagram))),
            None => ControlFlow::Continue(()),
        }
    }

    /// Decodes a record on the general path: the datagram it gives or completes, if any.
    #[inline(always)]
    fn general_datagram(&mut self, record: &Record<'a>) -> Option<UdpDatagram<'a>> {
        match decode(record.link, record.data) {
            Err(skip) => {
                self.skipped.count(skip);
                None
            }
            Ok(Decoded::Datagram { src, dst, payload }) => {
                self.accept(record, src, dst, Cow::Borrowed(payload))
            }
            Ok(Decoded::Fragment { key, frag }) => {
                let whole = self.reassembler.add(
                    key,
                    frag,
                    record.timestamp_ns,
                    &mut self.skipped.fragments_discarded,
                );
                match whole.map(reassembled_udp) {
                    None => None,
                    Some(Err(skip)) => {
                        self.skipped.count(skip);
                        None
                    }
                    Some(Ok((src_port, dst_port, payload))) => {
                        let src = SocketAddr::new(key.src, src_port);
                        let dst = SocketAddr::new(key.dst, dst_port);
                        self.accept(record, src, dst, Cow::Owned(payload))
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        self.finished = true;
        self.fast = FastPath::Off;
        self.reassembler
            .abandon_all(&mut self.skipped.fragments_discarded);
    }
}

impl<'a> CaptureReader<'a> {
    /// Calls `each` with every datagram left, in order: what iterating gives, without building
    /// each item as an `Option<Result<…>>` that the caller then takes apart (in the profile of a
    /// streaming check, most of a loop over `next` went to moving that item). The damage that
    /// ended the reading, if any.
    #[inline]
    pub(crate) fn for_each_datagram(
        &mut self,
        mut each: impl FnMut(UdpDatagram<'a>),
    ) -> Option<CaptureError> {
        loop {
            while let Some(datagram) = self.next_fast() {
                each(datagram);
            }
            match self.next_general() {
                ControlFlow::Continue(()) => {}
                ControlFlow::Break(None) => return None,
                ControlFlow::Break(Some(Ok(datagram))) => each(datagram),
                ControlFlow::Break(Some(Err(damage))) => return Some(damage),
            }
        }
    }
}

impl<'a> Iterator for CaptureReader<'a> {
    type Item = Result<UdpDatagram<'a>, CaptureError>;

    /// The fast path first; each record it leaves, the general path.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(datagram) = self.next_fast() {
                return Some(Ok(datagram));
            }
            if let ControlFlow::Break(item) = self.next_general() {
                return item;
            }
        }
    }
}

impl FusedIterator for CaptureReader<'_> {}

impl fmt::Debug for CaptureReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureReader")
            .field("format", &self.format())
            .field("len", &self.file.len())
            .field("offset", &self.offset())
            .field("port", &self.port)
            .field("packets", &self.packets)
            .field("skipped", &self.skipped)
            .field("finished", &self.finished)
            .field("secrets_len", &self.secrets.text.len())
            .finish()
    }
}

/// Whether a datagram passes the port filter.
#[inline(always)]
fn port_matches(filter: Option<u16>, src: &SocketAddr, dst: &SocketAddr) -> bool {
    filter.is_none_or(|port| src.port() == port || dst.port() == port)
}

/// A comment's text, invalid UTF-8 replaced. Kept out of line: comments are rare.
#[cold]
#[inline(never)]
fn comment_text(raw: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(raw)
}

/// Reads one classic-pcap record by hand: `(rest after it, timestamp, captured bytes)`, or
/// `None` when the record header is cut short, the data is cut short or the captured length is
/// over `max_record`; [`pcap_record`] then reports the damage. Otherwise the same result as
/// [`pcap_record`].
#[inline(always)]
fn pcap_record_fast(rest: &[u8], format: PcapFormat) -> Option<(&[u8], Record<'_>)> {
    // ts_sec | ts_usec or ts_nsec | incl_len | orig_len, in the file's byte order.
    let (header, body) = rest.split_first_chunk::<16>()?;
    let field = |at: usize| {
        let four = [header[at], header[at + 1], header[at + 2], header[at + 3]];
        if format.big_endian {
            u32::from_be_bytes(four)
        } else {
            u32::from_le_bytes(four)
        }
    };
    let incl_len = field(8);
    if incl_len > format.max_record {
        return None;
    }
    let (data, rem) = body.split_at_checked(usize::try_from(incl_len).ok()?)?;
    // At most (2^32 - 1) * (10^9 + 1000): no overflow.
    let timestamp_ns =
        u64::from(field(0)) * 1_000_000_000 + u64::from(field(4)) * format.frac_to_ns;
    Some((
        rem,
        Record {
            link: format.link,
            timestamp_ns,
            data,
            comment: None,
        },
    ))
}

/// Reads one classic-pcap record with pcap-file. `Err` carries the damage description.
fn pcap_record<'a>(
    parser: &PcapParser,
    rest: &'a [u8],
    format: &PcapFormat,
) -> Result<(&'a [u8], Record<'a>), String> {
    let PcapFormat {
        link,
        frac_to_ns,
        max_record,
        ..
    } = *format;
    let (rem, raw) = parser.next_raw_packet(rest).map_err(|err| match err {
        PcapError::IncompleteBuffer if rest.len() < 16 => format!(
            "record header cut short: {} of 16 bytes at the end of the file",
            rest.len()
        ),
        PcapError::IncompleteBuffer => {
            let claimed = parser.header().endianness;
            let incl_len = read_u32(rest, 8, claimed).unwrap_or(0);
            format!(
                "record cut short: it claims {incl_len} captured bytes but only {} remain",
                rest.len().saturating_sub(16)
            )
        }
        other => format!("bad record: {other}"),
    })?;
    if raw.incl_len > max_record {
        return Err(format!(
            "record claims {} captured bytes, more than the {max_record}-byte limit",
            raw.incl_len
        ));
    }
    let Cow::Borrowed(data) = raw.data else {
        return Err("pcap-file returned owned packet data".to_owned());
    };
    let timestamp_ns = u64::from(raw.ts_sec) * 1_000_000_000 + u64::from(raw.ts_frac) * frac_to_ns;
    Ok((
        rem,
        Record {
            link,
            timestamp_ns,
            data,
            comment: None,
        },
    ))
}

/// Reads one pcapng block; returns a record for packet blocks, `None` for the others
/// (decryption secrets blocks go to `secrets`). `Err` carries the damage description.
fn pcapng_block<'a>(
    parser: &mut PcapNgParser,
    interfaces: &mut Vec<Interface>,
    secrets: &mut SecretsLog,
    rest: &'a [u8],
    fast: bool,
) -> Result<(&'a [u8], Option<Record<'a>>), String> {
    let endianness = parser.section().endianness;
    let framed = if fast {
        frame_block_fast(rest, endianness)
    } else {
        None
    };
    let (rem, block_type, body) = match framed {
        Some(framed) => framed,
        None => pcapng_frame(parser, rest, endianness)?,
    };
    // A section header block may have switched the byte order.
    let endianness = parser.section().endianness;
    let record = match block_type {
        SECTION_HEADER_BLOCK => {
            interfaces.clear();
            None
        }
        INTERFACE_DESCRIPTION_BLOCK => {
            let interface =
                parse_idb(body, endianness).ok_or("interface description block body too short")?;
            interfaces.push(interface);
            None
        }
        ENHANCED_PACKET_BLOCK | PACKET_BLOCK => {
            // EPB: interface u32 | ts high | ts low | captured len | original len | data
            // PB:  interface u16, drops u16 | ts high | ts low | captured len | original len | data
            let field = |at: usize| read_u32(body, at, endianness);
            let (interface_id, what) = if block_type == ENHANCED_PACKET_BLOCK {
                (field(0), "enhanced packet block")
            } else {
                (read_u16(body, 0, endianness).map(u32::from), "packet block")
            };
            let (Some(interface_id), Some(ts_high), Some(ts_low), Some(captured)) =
                (interface_id, field(4), field(8), field(12))
            else {
                return Err(format!("{what} body too short ({} bytes)", body.len()));
            };
            let data = usize::try_from(captured)
                .ok()
                .and_then(|len| body.get(20..20usize.checked_add(len)?))
                .ok_or_else(|| {
                    format!(
                        "{what} claims {captured} captured bytes but its body holds only {}",
                        body.len().saturating_sub(20)
                    )
                })?;
            let interface = lookup(interfaces, interface_id, what)?;
            let raw_ts = (u64::from(ts_high) << 32) | u64::from(ts_low);
            // Options follow the data padded to 32 bits (at most 3 bytes): fewer than 4 bytes
            // after the data means no options, the common case, decided by one comparison.
            let after_data = 20 + data.len();
            let comment = if body.len().saturating_sub(after_data) >= 4 {
                find_comment(body, after_data.next_multiple_of(4), endianness)
            } else {
                None
            };
            Some(Record {
                link: interface.link,
                timestamp_ns: to_nanos(raw_ts, interface.tsresol, interface.tsoffset_s),
                data,
                comment,
            })
        }
        SIMPLE_PACKET_BLOCK => {
            let interface = lookup(interfaces, 0, "simple packet block")?;
            let original =
                read_u32(body, 0, endianness).ok_or("simple packet block body too short")?;
            let mut len = body.len().saturating_sub(4);
            if let Ok(original) = usize::try_from(original) {
                len = len.min(original);
            }
            if interface.snaplen != 0 {
                if let Ok(snaplen) = usize::try_from(interface.snaplen) {
                    len = len.min(snaplen);
                }
            }
            let data = body
                .get(4..4 + len)
                .ok_or("simple packet block body too short")?;
            Some(Record {
                link: interface.link,
                timestamp_ns: 0,
                data,
                comment: None,
            })
        }
        DECRYPTION_SECRETS_BLOCK => {
            secrets.add(body, endianness)?;
            None
        }
        _ => None,
    };
    Ok((rem, record))
}

/// Frames one pcapng block with pcap-file (which also follows section headers and interface
/// descriptions): `(rest after it, block type, body)`. `Err` carries the damage description.
#[inline(never)]
fn pcapng_frame<'a>(
    parser: &mut PcapNgParser,
    rest: &'a [u8],
    endianness: Endianness,
) -> Result<(&'a [u8], u32, &'a [u8]), String> {
    Ok(match parser.next_raw_block(rest) {
        Ok((rem, raw)) => {
            let Cow::Borrowed(body) = raw.body else {
                return Err("pcap-file returned an owned block body".to_owned());
            };
            (rem, raw.type_, body)
        }
        // pcap-file 2.0 rejects some valid interface description options (a 4-byte
        // `if_tzone`, an option list without `opt_endofopt`). The reader needs only the link
        // type, `if_tsresol` and `if_tsoffset`, so such a block is framed and read here.
        Err(err) => match frame_idb(rest, endianness) {
            Some((rem, body)) => (rem, INTERFACE_DESCRIPTION_BLOCK, body),
            None => {
                return Err(match err {
                    PcapError::IncompleteBuffer if rest.len() < 12 => format!(
                        "block header cut short: {} of at least 12 bytes at the end of the file",
                        rest.len()
                    ),
                    PcapError::IncompleteBuffer => format!(
                        "block cut short: its header claims {} bytes but only {} remain",
                        read_u32(rest, 4, endianness).unwrap_or(0),
                        rest.len()
                    ),
                    other => format!("bad block: {other}"),
                })
            }
        },
    })
}

/// Frames a block that is neither a section header nor an interface description by hand,
/// with pcap-file's checks (length a multiple of 4, at least 12, whole, trailer equal to
/// it): `(rest after it, block type, body)`, or `None` to leave it to [`pcapng_frame`].
#[inline(always)]
fn frame_block_fast(rest: &[u8], endianness: Endianness) -> Option<(&[u8], u32, &[u8])> {
    let (head, after) = rest.split_first_chunk::<8>()?;
    let word = |four: [u8; 4]| match endianness {
        Endianness::Big => u32::from_be_bytes(four),
        Endianness::Little => u32::from_le_bytes(four),
    };
    let block_type = word([head[0], head[1], head[2], head[3]]);
    let total = word([head[4], head[5], head[6], head[7]]);
    if block_type == SECTION_HEADER_BLOCK
        || block_type == INTERFACE_DESCRIPTION_BLOCK
        || total % 4 != 0
        || total < 12
    {
        return None;
    }
    let (body, tail) = after.split_at_checked(usize::try_from(total - 12).ok()?)?;
    let (trailer, rem) = tail.split_first_chunk::<4>()?;
    (word(*trailer) == total).then_some((rem, block_type, body))
}

/// Reads an enhanced packet block by hand: `(rest after it, record)`, or `None`
/// for any other block and anything [`pcapng_block`] would call damage. Otherwise the same
/// result as [`pcapng_block`].
#[inline(always)]
fn epb_fast<'a>(
    rest: &'a [u8],
    endianness: Endianness,
    interfaces: &[Interface],
) -> Option<(&'a [u8], Record<'a>)> {
    let (rem, block_type, body) = frame_block_fast(rest, endianness)?;
    if block_type != ENHANCED_PACKET_BLOCK {
        return None;
    }
    // interface | ts high | ts low | captured len | original len | data | options
    let (fields, after) = body.split_first_chunk::<20>()?;
    let word = |at: usize| {
        let four = [fields[at], fields[at + 1], fields[at + 2], fields[at + 3]];
        match endianness {
            Endianness::Big => u32::from_be_bytes(four),
            Endianness::Little => u32::from_le_bytes(four),
        }
    };
    let interface = interfaces.get(usize::try_from(word(0)).ok()?)?;
    let captured = usize::try_from(word(12)).ok()?;
    let data = after.get(..captured)?;
    let comment = if after.len() - captured >= 4 {
        find_comment(body, (20 + captured).next_multiple_of(4), endianness)
    } else {
        None
    };
    let raw_ts = (u64::from(word(4)) << 32) | u64::from(word(8));
    let record = Record {
        link: interface.link,
        timestamp_ns: interface.timestamp_ns(raw_ts),
        data,
        comment,
    };
    Some((rem, record))
}

/// Frames an interface description block by hand: `(rest after it, its body)`, or `None` if
/// `rest` does not start with a well-framed one.
fn frame_idb(rest: &[u8], endianness: Endianness) -> Option<(&[u8], &[u8])> {
    if read_u32(rest, 0, endianness)? != INTERFACE_DESCRIPTION_BLOCK {
        return None;
    }
    let total = usize::try_from(read_u32(rest, 4, endianness)?).ok()?;
    if total < 12
        || total % 4 != 0
        || read_u32(rest, total.checked_sub(4)?, endianness)? != u32::try_from(total).ok()?
    {
        return None;
    }
    Some((rest.get(total..)?, rest.get(8..total - 4)?))
}

/// Reads link type, snap length, `if_tsresol` and `if_tsoffset` from an interface description
/// block body. Options it cannot follow end the scan; they never fail the block.
fn parse_idb(body: &[u8], endianness: Endianness) -> Option<Interface> {
    let link = Link::from_linktype(u32::from(read_u16(body, 0, endianness)?));
    let snaplen = read_u32(body, 4, endianness)?;
    let (mut tsresol, mut tsoffset_s) = (6, 0);
    let mut at = 8usize;
    while let (Some(code), Some(len)) = (
        read_u16(body, at, endianness),
        read_u16(body, at + 2, endianness),
    ) {
        let len = usize::from(len);
        let Some(value) = body.get(at + 4..at + 4 + len) else {
            break;
        };
        match (code, value) {
            (0, _) => break,
            (IF_TSRESOL, [resol, ..]) => tsresol = *resol,
            (IF_TSOFFSET, value) => {
                if let Ok(eight) = <[u8; 8]>::try_from(value) {
                    tsoffset_s = match endianness {
                        Endianness::Big => i64::from_be_bytes(eight),
                        Endianness::Little => i64::from_le_bytes(eight),
                    };
                }
            }
            _ => {}
        }
        at += 4 + len.next_multiple_of(4);
    }
    Some(Interface::new(link, snaplen, tsresol, tsoffset_s))
}

/// The value of the first `opt_comment` in the option list starting at `body[at..]`. Options it
/// cannot follow (cut short) end the scan. Out of line: most packet blocks have no options.
#[cold]
#[inline(never)]
fn find_comment(body: &[u8], mut at: usize, endianness: Endianness) -> Option<&[u8]> {
    loop {
        let code = read_u16(body, at, endianness)?;
        let len = usize::from(read_u16(body, at + 2, endianness)?);
        let value = body.get(at + 4..at + 4 + len)?;
        match code {
            OPT_ENDOFOPT => return None,
            OPT_COMMENT => return Some(value),
            _ => at += 4 + len.next_multiple_of(4),
        }
    }
}

const OPT_ENDOFOPT: u16 = 0;
const OPT_COMMENT: u16 = 1;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

fn lookup(interfaces: &[Interface], id: u32, what: &str) -> Result<Interface, String> {
    usize::try_from(id)
        .ok()
        .and_then(|i| interfaces.get(i))
        .copied()
        .ok_or_else(|| {
            format!(
                "{what} refers to interface {id}, but the section has {} interface(s)",
                interfaces.len()
            )
        })
}

/// Converts a pcapng timestamp in `if_tsresol` units to nanoseconds since the epoch.
/// `tsresol` < 128 means units of 10^-tsresol s, otherwise 2^-(tsresol & 127) s.
/// Saturates instead of overflowing.
pub(crate) fn to_nanos(raw: u64, tsresol: u8, tsoffset_s: i64) -> u64 {
    let exp = u32::from(tsresol & 0x7f);
    let ns = if tsresol & 0x80 == 0 {
        if exp <= 9 {
            raw.saturating_mul(10u64.pow(9 - exp))
        } else {
            match 10u128.checked_pow(exp - 9) {
                Some(div) => u64::try_from(u128::from(raw) / div).unwrap_or(u64::MAX),
                None => 0,
            }
        }
    } else {
        let scaled = u128::from(raw) * 1_000_000_000;
        u64::try_from(scaled.checked_shr(exp).unwrap_or(0)).unwrap_or(u64::MAX)
    };
    ns.saturating_add_signed(tsoffset_s.saturating_mul(1_000_000_000))
}

pub(crate) fn read_u32(bytes: &[u8], at: usize, endianness: Endianness) -> Option<u32> {
    let four: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(match endianness {
        Endianness::Big => u32::from_be_bytes(four),
        Endianness::Little => u32::from_le_bytes(four),
    })
}

fn read_u16(bytes: &[u8], at: usize, endianness: Endianness) -> Option<u16> {
    let two: [u8; 2] = bytes.get(at..at.checked_add(2)?)?.try_into().ok()?;
    Some(match endianness {
        Endianness::Big => u16::from_be_bytes(two),
        Endianness::Little => u16::from_le_bytes(two),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsresol_units() {
        // microseconds (default), nanoseconds, seconds, 2^-10, 10^-12.
        assert_eq!(to_nanos(1_500_000, 6, 0), 1_500_000_000);
        assert_eq!(to_nanos(42, 9, 0), 42);
        assert_eq!(to_nanos(3, 0, 0), 3_000_000_000);
        assert_eq!(to_nanos(1024, 0x80 | 10, 0), 1_000_000_000);
        assert_eq!(to_nanos(5_000, 12, 0), 5);
        assert_eq!(to_nanos(1, 6, 2), 2_000_001_000);
        assert_eq!(to_nanos(u64::MAX, 0, 0), u64::MAX);
        assert_eq!(to_nanos(u64::MAX, 127, 0), 0);
        assert_eq!(to_nanos(u64::MAX, 0xff, i64::MIN), 0);
    }
}
