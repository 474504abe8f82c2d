//! How ladder diagrams show media-stream datagrams: the kind and its key fields on the arrow, the
//! decoded datagram as its tooltip; START and SYN open a session; DATA runs fold.

use handshake_mediastream_wire::{ControlKind, Datagram, Mode};
use handshake_scenario::DatagramLabel;

enum Kind {
    Opens,
    Other,
    Data(u64),
}

fn short_id(escaped: &str) -> String {
    let chars: Vec<char> = escaped.chars().collect();
    if chars.is_empty() {
        "\"\"".to_owned()
    } else if chars.len() <= 10 {
        format!("\"{escaped}\"")
    } else {
        format!("\"{}…\"", chars.iter().take(8).collect::<String>())
    }
}

/// How a ladder diagram shows a media-stream datagram.
pub fn describe(payload: &[u8]) -> DatagramLabel {
    let (kind, short, full) = decode(payload);
    DatagramLabel {
        short,
        full,
        opens: matches!(kind, Kind::Opens),
        run: match kind {
            Kind::Data(seq) => Some(seq),
            _ => None,
        },
    }
}

fn decode(payload: &[u8]) -> (Kind, String, String) {
    match Datagram::parse(payload, Mode::LegacyAccepting) {
        Ok(d) => {
            let full = d.to_string();
            let (kind, label) = match &d {
                Datagram::Start => (Kind::Opens, "START".to_owned()),
                Datagram::ConnectionId(id) => (
                    Kind::Other,
                    format!("CONNECTION_ID id={}", short_id(&id.escaped().to_string())),
                ),
                Datagram::Data(x) => (
                    Kind::Data(x.seq),
                    format!("DATA seq={} len={}", x.seq, x.payload.len()),
                ),
                Datagram::Fragment(x) => (
                    Kind::Data(x.seq),
                    format!(
                        "DATA+FRAG seq={} off={}/{} len={}",
                        x.seq,
                        x.fragment_offset,
                        x.total_length,
                        x.payload.len()
                    ),
                ),
                Datagram::Control(c) => {
                    let mut label = c.kind.kind().to_string();
                    if c.kind == ControlKind::SynAck {
                        label.push_str(if c.accept() { " accept" } else { " REJECT" });
                    }
                    label.push_str(&format!(
                        " id={}",
                        short_id(&c.connection_id.escaped().to_string())
                    ));
                    let options = c.options.iter().count();
                    if options > 0 {
                        label.push_str(&format!(" +{options} opt"));
                    }
                    let kind = if c.kind == ControlKind::Syn {
                        Kind::Opens
                    } else {
                        Kind::Other
                    };
                    (kind, label)
                }
            };
            (kind, label, full)
        }
        Err(e) => {
            let full = format!("MALFORMED ({} bytes): {e}", payload.len());
            (
                Kind::Other,
                format!("MALFORMED ({} B)", payload.len()),
                full,
            )
        }
    }
}
