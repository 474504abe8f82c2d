//! The crate's reader alone, to compare with `bare_read`: iterate `open(&bytes)` over a capture,
//! counting datagrams and payload bytes, nothing else. Every datagram goes through
//! `black_box`, so that the compiler cannot skip building the fields a real consumer reads.
//! `--general` turns the fast path off (everything through pcap-file and etherparse).
//! Usage: read_all FILE [PORT] [--general]

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (flags, args): (Vec<String>, Vec<String>) =
        std::env::args().skip(1).partition(|a| a.starts_with("--"));
    let general = flags.iter().any(|f| f == "--general");
    let path = args
        .first()
        .ok_or("usage: read_all FILE [PORT] [--general]")?;
    let port = args.get(1).map(|p| p.parse::<u16>()).transpose()?;
    let bytes = std::fs::read(path)?;
    let mut reader = handshake_capture::open(&bytes)?.with_port(port);
    if general {
        reader = reader.without_fast_path();
    }
    let (mut udp, mut payload_bytes) = (0u64, 0u64);
    for item in reader.by_ref() {
        let datagram = std::hint::black_box(item?);
        udp += 1;
        payload_bytes += datagram.payload.len() as u64;
    }
    println!(
        "{udp} UDP datagrams, {payload_bytes} payload bytes, {} skipped",
        reader.skipped().total()
    );
    Ok(())
}
