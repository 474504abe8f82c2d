//! Writes a large, clean media-stream capture for the checker benchmark: SESSIONS 3-way sessions
//! (default 50) served at once at 1000 frames/s, DATAGRAMS datagrams in all (default 1,000,000), frames
//! of FRAME bytes (default 125: 1,000,000 bit/s; 40 is the smallest frame the frame-size rule allows).
//! Usage: gen_capture OUT [DATAGRAMS] [SESSIONS] [pcap|pcapng] [FRAME]

use std::net::SocketAddr;

use handshake_capture::{CaptureFormat, CaptureWriter};
use handshake_mediastream_wire::{pattern_slice, ConnectionId, ControlRepr, DataRepr, Datagram};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let out = args
        .get(1)
        .ok_or("usage: gen_capture OUT [DATAGRAMS] [SESSIONS] [pcap|pcapng]")?;
    let total: u64 = args.get(2).map_or(Ok(1_000_000), |s| s.parse())?;
    let sessions: u64 = args.get(3).map_or(Ok(50), |s| s.parse())?;
    let format = match args.get(4).map(String::as_str) {
        Some("pcapng") => CaptureFormat::PcapNg,
        _ => CaptureFormat::Pcap,
    };
    let frame: usize = args.get(5).map_or(Ok(125), |s| s.parse())?;
    let file = std::io::BufWriter::new(std::fs::File::create(out)?);
    let mut w = CaptureWriter::with_format(file, format)?;
    let responder: SocketAddr = "10.0.0.1:4444".parse()?;
    let peers: Vec<SocketAddr> = (0..sessions)
        .map(|i| SocketAddr::from(([10, 0, 1, (i % 250) as u8 + 1], 40000 + i as u16)))
        .collect();
    let ids: Vec<ConnectionId> = (0..sessions)
        .map(|i| ConnectionId::from_uuid_bytes([i as u8; 16]))
        .collect();
    let epoch = handshake_core::EPOCH_NS;
    let mut written = 0u64;
    for (i, (peer, id)) in peers.iter().zip(&ids).enumerate() {
        let t = epoch + i as u64 * 10_000;
        w.write_datagram(
            t,
            *peer,
            responder,
            &Datagram::Control(ControlRepr::syn(ConnectionId::ZERO)).to_vec(),
            None,
        )?;
        w.write_datagram(
            t + 100,
            responder,
            *peer,
            &Datagram::Control(ControlRepr::syn_ack_accept(*id)).to_vec(),
            None,
        )?;
        w.write_datagram(
            t + 200,
            *peer,
            responder,
            &Datagram::Control(ControlRepr::ack(*id)).to_vec(),
            None,
        )?;
        w.write_datagram(
            t + 300,
            responder,
            *peer,
            &Datagram::ConnectionId(*id).to_vec(),
            None,
        )?;
        written += 4;
    }
    let payload = pattern_slice(0, frame.saturating_sub(26));
    let mut seq = 1u64;
    'frames: loop {
        let t = epoch + 1_000_000 + seq * 1_000_000;
        for (i, peer) in peers.iter().enumerate() {
            if written >= total {
                break 'frames;
            }
            let d = Datagram::Data(DataRepr {
                seq,
                qpc: seq * 10_000 + i as u64,
                qpf: 10_000_000,
                payload,
            });
            w.write_datagram(t + i as u64 * 1000, responder, *peer, &d.to_vec(), None)?;
            written += 1;
        }
        seq += 1;
    }
    w.finish()?;
    eprintln!("{written} datagrams written to {out}");
    Ok(())
}
