//! From capture bytes to connections: the capture read (pcap / pcapng, its Decryption Secrets
//! Blocks, the harness's marks) and fed to `handshake_quic::rebuild`, which decrypts every
//! datagram and reassembles per connection and stream the bytes each side sent, with FIN,
//! RESET_STREAM, STOP_SENDING and CONNECTION_CLOSE: who sent them and where in the capture.

pub(crate) use handshake_quic::rebuild::{At, CloseRec, Conn, Flow, StreamRec};

/// Everything read from a capture.
pub(crate) type Capture = handshake_quic_family::QuicCapture;

/// Reads and decrypts the capture.
pub(crate) fn rebuild(
    bytes: &[u8],
    extra_key_log: Option<&str>,
    port: Option<u16>,
) -> Result<Capture, String> {
    handshake_quic_family::read_capture(
        bytes,
        extra_key_log,
        port,
        "only handshakes and refusals are judged",
    )
    .map_err(String::from)
}
