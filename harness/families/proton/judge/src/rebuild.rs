//! From capture bytes to connections: the capture read (pcap / pcapng, its Decryption Secrets
//! Blocks, the harness's marks) and fed to `handshake_quic::rebuild`, which decrypts every
//! datagram and reassembles per connection and stream the bytes each side sent, with FIN,
//! RESET_STREAM, STOP_SENDING and CONNECTION_CLOSE: who sent them and where in the capture.

use handshake_check::Mark;
use handshake_quic::rebuild::{Captured, Rebuilder};

pub(crate) use handshake_quic::rebuild::{At, CloseRec, Conn, Flow, StreamRec};

/// Everything read from a capture.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub conns: Vec<Conn>,
    pub datagrams: u64,
    pub undecrypted: u64,
    /// Whether any TLS secret was given (capture or --keylog).
    pub secrets: bool,
    /// Where the capture file is damaged (the datagrams before it are judged).
    pub damage: Option<String>,
    pub notes: Vec<String>,
}

/// Reads and decrypts the capture.
pub(crate) fn rebuild(
    bytes: &[u8],
    extra_key_log: Option<&str>,
    port: Option<u16>,
) -> Result<Capture, String> {
    let mut reader =
        handshake_capture::open(bytes).map_err(|e| format!("not a readable capture: {e}"))?;
    let mut datagrams = Vec::new();
    let mut out = Capture::default();
    for item in reader.by_ref() {
        match item {
            Ok(d) => {
                if port.is_none_or(|p| d.src.port() == p || d.dst.port() == p) {
                    datagrams.push(d);
                }
            }
            Err(e) => {
                out.damage = Some(e.to_string());
                break;
            }
        }
    }
    let mut key_log = reader.secrets().to_owned();
    if let Some(extra) = extra_key_log {
        key_log.push('\n');
        key_log.push_str(extra);
    }
    let mut rebuilder = Rebuilder::new(&key_log);
    let stats = rebuilder.decryptor().key_log_stats();
    out.secrets = stats.used > 0;
    if !out.secrets {
        out.notes.push(
            "no TLS secrets (no Decryption Secrets Block in the capture, no --keylog): 1-RTT packets cannot be \
             decrypted; only handshakes and refusals are judged"
                .to_owned(),
        );
    }
    if stats.garbled > 0 {
        out.notes.push(format!(
            "{} key-log lines are not NSS key-log lines",
            stats.garbled
        ));
    }
    for d in &datagrams {
        let mark = Mark::from_comment(d.comment.as_deref());
        rebuilder.push(Captured {
            src: d.src,
            dst: d.dst,
            payload: &d.payload,
            at: At {
                packet: d.packet_number,
                time_ns: d.timestamp_ns,
            },
            undelivered: mark.undelivered,
            harness_changed: mark.modified || mark.altered_in_transit,
        });
    }
    let rebuilt = rebuilder.finish();
    out.conns = rebuilt.conns;
    out.datagrams = rebuilt.datagrams;
    out.undecrypted = rebuilt.undecrypted;
    let unknown = rebuilt.unknown;
    let unreadable_datagrams = rebuilt.unattributed;
    if unknown > 0 {
        out.notes.push(format!("{unknown} datagrams belong to no QUIC connection of the capture (not QUIC, or their connection began before it)"));
    }
    if unreadable_datagrams > 0 {
        out.notes.push(format!(
            "{unreadable_datagrams} QUIC packets could not be attributed to a connection"
        ));
    }
    Ok(out)
}
