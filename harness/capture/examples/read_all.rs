//! The crate's reader alone, to compare with `bare_read`: iterate `open(&bytes)` over a capture,
//! counting datagrams and payload bytes, nothing else. Usage: read_all FILE [PORT]

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: read_all FILE [PORT]")?;
    let port = args.next().map(|p| p.parse::<u16>()).transpose()?;
    let bytes = std::fs::read(path)?;
    let mut reader = handshake_capture::open(&bytes)?.with_port(port);
    let (mut udp, mut payload_bytes) = (0u64, 0u64);
    for item in reader.by_ref() {
        let datagram = item?;
        udp += 1;
        payload_bytes += datagram.payload.len() as u64;
    }
    println!(
        "{udp} UDP datagrams, {payload_bytes} payload bytes, {} skipped",
        reader.skipped().total()
    );
    Ok(())
}
