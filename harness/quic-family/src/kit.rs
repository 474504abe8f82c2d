//! What a golden capture gives `harness fuzz-kit`: every stream's bytes as each side sent them,
//! and every DATAGRAM frame, decrypted with the capture's own secrets.

use handshake_quic::rebuild::Side;

/// One payload read off a capture, named for where it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedPayload {
    /// `capture-<file>-conn<i>-stream<id>-client` (or `…-datagram<n>-server`).
    pub name: String,
    /// The QUIC stream id (`None`: a DATAGRAM frame).
    pub stream: Option<u64>,
    /// Whether the client (the side that sent the first Initial) sent it.
    pub by_client: bool,
    /// Its bytes (a stream's from its first byte, as far as they were contiguous).
    pub bytes: Vec<u8>,
}

/// The streams' bytes and the datagrams of the capture `bytes` (named `file`); none when it is
/// no capture or has no secrets.
pub fn payloads(file: &str, bytes: &[u8]) -> Vec<CapturedPayload> {
    let Ok(capture) = crate::read_capture(bytes, None, None, "") else {
        return Vec::new();
    };
    let side = |s: Side| match s {
        Side::Client => "client",
        Side::Server => "server",
    };
    let mut out = Vec::new();
    for conn in &capture.conns {
        for (id, rec) in &conn.streams {
            for (s, flow) in [Side::Client, Side::Server].into_iter().zip(&rec.flows) {
                if !flow.data.is_empty() {
                    out.push(CapturedPayload {
                        name: format!("capture-{file}-conn{}-stream{id}-{}", conn.index, side(s)),
                        stream: Some(*id),
                        by_client: s == Side::Client,
                        bytes: flow.data.clone(),
                    });
                }
            }
        }
        for (n, d) in conn.datagrams.iter().enumerate() {
            out.push(CapturedPayload {
                name: format!(
                    "capture-{file}-conn{}-datagram{n}-{}",
                    conn.index,
                    side(d.by)
                ),
                stream: None,
                by_client: d.by == Side::Client,
                bytes: d.data.clone(),
            });
        }
    }
    out
}
