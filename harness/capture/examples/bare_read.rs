//! The floor for any checker: read a classic pcap with pcap-file's slice parser and parse every frame
//! with etherparse, counting UDP datagrams and payload bytes, nothing else. Usage: bare_read FILE

use etherparse::{SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapParser;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: bare_read FILE.pcap")?;
    let bytes = std::fs::read(path)?;
    let (mut rest, parser) = PcapParser::new(&bytes)?;
    let (mut udp, mut payload_bytes) = (0u64, 0u64);
    while !rest.is_empty() {
        let (next, packet) = parser.next_packet(rest)?;
        rest = next;
        let len = match SlicedPacket::from_ethernet(&packet.data) {
            Ok(SlicedPacket {
                transport: Some(TransportSlice::Udp(u)),
                ..
            }) => Some(u.payload().len()),
            _ => None,
        };
        if let Some(len) = len {
            udp += 1;
            payload_bytes += len as u64;
        }
    }
    println!("{udp} UDP datagrams, {payload_bytes} payload bytes");
    Ok(())
}
