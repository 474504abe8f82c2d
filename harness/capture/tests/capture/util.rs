//! Hand-made frames and capture files, independent of the crate's writer.

use std::net::{IpAddr, SocketAddr};

use etherparse::PacketBuilder;

pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

pub fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

/// An IPv4 or IPv6 packet carrying one UDP datagram (correct lengths and checksums).
pub fn ip_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let builder = match (src.ip(), dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed families in test"),
    };
    builder
        .udp(src.port(), dst.port())
        .write_to_vec(&mut out, payload)
        .expect("build packet");
    out
}

/// Ethernet II frame around `payload` with the given EtherType.
pub fn ethernet(ether_type: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + payload.len());
    out.extend_from_slice(&MAC_B);
    out.extend_from_slice(&MAC_A);
    out.extend_from_slice(&ether_type.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

pub fn ether_type_of(ip_packet: &[u8]) -> u16 {
    match ip_packet.first().map(|b| b >> 4) {
        Some(6) => 0x86dd,
        _ => 0x0800,
    }
}

/// Ethernet frame carrying one UDP datagram.
pub fn eth_udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let ip = ip_udp(src, dst, payload);
    ethernet(ether_type_of(&ip), &ip)
}

/// One classic-pcap record: timestamp, captured bytes, original length.
pub struct Rec<'a> {
    pub ts_ns: u64,
    pub data: &'a [u8],
    pub orig_len: u32,
}

pub fn rec(ts_ns: u64, data: &[u8]) -> Rec<'_> {
    Rec {
        ts_ns,
        data,
        orig_len: u32::try_from(data.len()).expect("small"),
    }
}

/// A classic pcap file, written by hand in either byte order and resolution.
pub fn pcap(linktype: u32, nanosecond: bool, big_endian: bool, records: &[Rec<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    let u32b = |out: &mut Vec<u8>, v: u32| {
        if big_endian {
            out.extend_from_slice(&v.to_be_bytes());
        } else {
            out.extend_from_slice(&v.to_le_bytes());
        }
    };
    let u16b = |out: &mut Vec<u8>, v: u16| {
        if big_endian {
            out.extend_from_slice(&v.to_be_bytes());
        } else {
            out.extend_from_slice(&v.to_le_bytes());
        }
    };
    u32b(&mut out, if nanosecond { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    u16b(&mut out, 2);
    u16b(&mut out, 4);
    u32b(&mut out, 0);
    u32b(&mut out, 0);
    u32b(&mut out, 65_535);
    u32b(&mut out, linktype);
    for r in records {
        let secs = u32::try_from(r.ts_ns / 1_000_000_000).expect("ts");
        let frac_ns = u32::try_from(r.ts_ns % 1_000_000_000).expect("ts");
        u32b(&mut out, secs);
        u32b(&mut out, if nanosecond { frac_ns } else { frac_ns / 1000 });
        u32b(&mut out, u32::try_from(r.data.len()).expect("len"));
        u32b(&mut out, r.orig_len);
        out.extend_from_slice(r.data);
    }
    out
}

/// Byte offsets at which each record of a hand-made classic pcap starts.
pub fn pcap_record_offsets(records: &[Rec<'_>]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 24;
    for r in records {
        offsets.push(at);
        at += 16 + r.data.len();
    }
    offsets
}

/// A pcapng file built block by block, in either byte order per section.
#[derive(Default)]
pub struct Ng {
    pub out: Vec<u8>,
    big_endian: bool,
}

impl Ng {
    pub fn new() -> Self {
        Self::default()
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    pub fn block(&mut self, block_type: u32, body: &[u8]) -> &mut Self {
        let pad = (4 - body.len() % 4) % 4;
        let total = u32::try_from(12 + body.len() + pad).expect("block size");
        let (t, len) = (self.u32(block_type), self.u32(total));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&len);
        self.out.extend_from_slice(body);
        self.out.extend_from_slice(&[0; 3][..pad]);
        self.out.extend_from_slice(&len);
        self
    }

    pub fn section(&mut self, big_endian: bool) -> &mut Self {
        self.big_endian = big_endian;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&[0xff; 8]);
        self.block(0x0a0d_0d0a, &body)
    }

    /// Interface description with an optional `if_tsresol` and `if_tsoffset`.
    pub fn interface(
        &mut self,
        linktype: u16,
        tsresol: Option<u8>,
        tsoffset: Option<u64>,
    ) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(linktype));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(0));
        let mut any = false;
        if let Some(r) = tsresol {
            body.extend_from_slice(&self.u16(9));
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&[r, 0, 0, 0]);
            any = true;
        }
        if let Some(o) = tsoffset {
            body.extend_from_slice(&self.u16(14));
            body.extend_from_slice(&self.u16(8));
            let bytes = if self.big_endian {
                o.to_be_bytes()
            } else {
                o.to_le_bytes()
            };
            body.extend_from_slice(&bytes);
            any = true;
        }
        if any {
            body.extend_from_slice(&[0; 4]);
        }
        self.block(1, &body)
    }

    fn packet_fields(&self, first: &[u8], ts_raw: u64, data: &[u8]) -> Vec<u8> {
        let mut body = first.to_vec();
        body.extend_from_slice(&self.u32(u32::try_from(ts_raw >> 32).expect("hi")));
        body.extend_from_slice(&self.u32(u32::try_from(ts_raw & 0xffff_ffff).expect("lo")));
        let len = u32::try_from(data.len()).expect("len");
        body.extend_from_slice(&self.u32(len));
        body.extend_from_slice(&self.u32(len));
        body.extend_from_slice(data);
        body.extend_from_slice(&[0; 3][..(4 - data.len() % 4) % 4]);
        body
    }

    /// Enhanced packet block; `ts_raw` in the interface's units.
    pub fn epb(&mut self, interface: u32, ts_raw: u64, data: &[u8]) -> &mut Self {
        let body = self.packet_fields(&self.u32(interface), ts_raw, data);
        self.block(6, &body)
    }

    /// Enhanced packet block with an option list: `(code, value)` pairs, each padded, then
    /// `opt_endofopt` when `end` is set.
    pub fn epb_with_options(
        &mut self,
        interface: u32,
        ts_raw: u64,
        data: &[u8],
        options: &[(u16, &[u8])],
        end: bool,
    ) -> &mut Self {
        let mut body = self.packet_fields(&self.u32(interface), ts_raw, data);
        body.extend_from_slice(&self.options(options, end));
        self.block(6, &body)
    }

    /// Obsolete packet block (type 2) with an option list, as [`Ng::epb_with_options`].
    pub fn pb_with_options(
        &mut self,
        interface: u16,
        ts_raw: u64,
        data: &[u8],
        options: &[(u16, &[u8])],
    ) -> &mut Self {
        let mut first = self.u16(interface).to_vec();
        first.extend_from_slice(&self.u16(0));
        let mut body = self.packet_fields(&first, ts_raw, data);
        body.extend_from_slice(&self.options(options, true));
        self.block(2, &body)
    }

    fn options(&self, options: &[(u16, &[u8])], end: bool) -> Vec<u8> {
        let mut out = Vec::new();
        for (code, value) in options {
            out.extend_from_slice(&self.u16(*code));
            out.extend_from_slice(&self.u16(u16::try_from(value.len()).expect("option length")));
            out.extend_from_slice(value);
            out.extend_from_slice(&[0; 3][..(4 - value.len() % 4) % 4]);
        }
        if end {
            out.extend_from_slice(&[0; 4]);
        }
        out
    }

    /// Obsolete packet block (type 2).
    pub fn pb(&mut self, interface: u16, ts_raw: u64, data: &[u8]) -> &mut Self {
        let mut first = self.u16(interface).to_vec();
        first.extend_from_slice(&self.u16(0));
        let body = self.packet_fields(&first, ts_raw, data);
        self.block(2, &body)
    }

    /// Decryption secrets block: secrets type, then the secrets (padded), no options.
    pub fn dsb(&mut self, secrets_type: u32, secrets: &[u8]) -> &mut Self {
        let mut body = self.u32(secrets_type).to_vec();
        body.extend_from_slice(&self.u32(u32::try_from(secrets.len()).expect("len")));
        body.extend_from_slice(secrets);
        self.block(0x0a, &body)
    }

    /// Simple packet block (interface 0, no timestamp).
    pub fn spb(&mut self, data: &[u8]) -> &mut Self {
        let mut body = self.u32(u32::try_from(data.len()).expect("len")).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body)
    }
}

/// Collects a reader into datagrams, panicking on the first error.
pub fn read_all(
    bytes: &[u8],
) -> (
    Vec<handshake_capture::UdpDatagram<'_>>,
    handshake_capture::SkipCounts,
) {
    let mut reader = handshake_capture::open(bytes).expect("open");
    let mut out = Vec::new();
    for item in reader.by_ref() {
        out.push(item.expect("datagram"));
    }
    (out, *reader.skipped())
}

/// The frames stored in a capture, via pcap-file directly (not the crate's reader).
pub fn frames_of(bytes: &[u8]) -> Vec<(u64, Vec<u8>)> {
    use pcap_file::pcap::PcapParser;
    use pcap_file::pcapng::{Block, PcapNgParser};
    let mut out = Vec::new();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let (mut rest, mut parser) = PcapNgParser::new(bytes).expect("pcapng");
        while !rest.is_empty() {
            let (rem, block) = parser.next_block(rest).expect("block");
            rest = rem;
            if let Block::EnhancedPacket(epb) = block {
                let ts = u64::try_from(epb.timestamp.as_nanos()).expect("ts");
                out.push((ts, epb.data.into_owned()));
            }
        }
    } else {
        let (mut rest, parser) = PcapParser::new(bytes).expect("pcap");
        while !rest.is_empty() {
            let (rem, packet) = parser.next_packet(rest).expect("packet");
            rest = rem;
            let ts = u64::try_from(packet.timestamp.as_nanos()).expect("ts");
            out.push((ts, packet.data.into_owned()));
        }
    }
    out
}
