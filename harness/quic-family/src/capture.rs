//! From capture bytes to QUIC connections, for the QUIC families' judges: the capture read (pcap or
//! pcapng, its Decryption Secrets Blocks plus an extra NSS key log, the harness's marks) and fed to
//! [`handshake_quic::rebuild`], which decrypts every datagram and reassembles per connection and
//! stream what each side sent.

use handshake_quic::rebuild::{At, Captured, Conn, Rebuilder};

use handshake_check::Mark;

/// Everything read from a capture.
#[derive(Debug, Default)]
pub struct QuicCapture {
    /// The QUIC connections, in order of their first Initial.
    pub conns: Vec<Conn>,
    /// UDP datagrams read.
    pub datagrams: u64,
    /// QUIC packets of known connections that could not be decrypted.
    pub undecrypted: u64,
    /// Whether any TLS secret was given (the capture's or the extra key log).
    pub secrets: bool,
    /// Where the capture file is damaged (the datagrams before it are read).
    pub damage: Option<String>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
    /// The last datagram of the capture.
    pub end: At,
}

use crate::QuicInputError;

/// Reads `bytes` (only datagrams to or from `port`, when given), decrypts with the capture's
/// secrets and `extra_key_log`. `without_secrets` ends the note written when there are none
/// (what the family can still judge). `Err` only when the bytes are no capture.
pub fn read_capture(
    bytes: &[u8],
    extra_key_log: Option<&str>,
    port: Option<u16>,
    without_secrets: &str,
) -> Result<QuicCapture, QuicInputError> {
    let mut reader = handshake_capture::open(bytes).map_err(QuicInputError::NotACapture)?;
    let mut datagrams = Vec::new();
    let mut out = QuicCapture::default();
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
        out.notes.push(format!(
            "no TLS secrets (no Decryption Secrets Block in the capture, no --keylog): 1-RTT packets cannot be decrypted; {without_secrets}"
        ));
    }
    if stats.garbled > 0 {
        out.notes.push(format!(
            "{} key-log lines are not NSS key-log lines",
            stats.garbled
        ));
    }
    for d in &datagrams {
        let mark = Mark::from_comment(d.comment.as_deref());
        let at = At {
            packet: d.packet_number,
            time_ns: d.timestamp_ns,
        };
        out.end = out.end.max(at);
        rebuilder.push(Captured {
            src: d.src,
            dst: d.dst,
            payload: &d.payload,
            at,
            undelivered: mark.undelivered,
            harness_changed: mark.modified || mark.altered_in_transit,
        });
    }
    let rebuilt = rebuilder.finish();
    out.conns = rebuilt.conns;
    out.datagrams = rebuilt.datagrams;
    out.undecrypted = rebuilt.undecrypted;
    if rebuilt.unknown > 0 {
        out.notes.push(format!(
            "{} datagrams belong to no QUIC connection of the capture (not QUIC, or their connection began before it)",
            rebuilt.unknown
        ));
    }
    if rebuilt.unattributed > 0 {
        out.notes.push(format!(
            "{} QUIC packets could not be attributed to a connection",
            rebuilt.unattributed
        ));
    }
    Ok(out)
}
