//! The crate's error type.

use std::fmt::Write as _;

/// Everything that can go wrong while reading or writing a capture.
///
/// Reading never fails on individual packets: undecodable packets are skipped and counted in
/// [`SkipCounts`](crate::SkipCounts). Only a file that is not a capture at all
/// ([`CaptureError::NotACapture`]) or whose record structure is broken
/// ([`CaptureError::Damaged`]) produces an error.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The input does not start with a pcap or pcapng magic number (or is empty).
    #[error("not a pcap or pcapng capture: {}", describe_start(.first_bytes))]
    NotACapture {
        /// Up to the first 8 bytes of the input, for the message.
        first_bytes: Vec<u8>,
    },

    /// The capture's record structure is broken (truncated record, bad block length, bad block
    /// contents). Everything before `offset` was read normally; nothing after it is read.
    #[error("capture damaged at byte offset {offset} (packet record #{packet_number}): {reason}")]
    Damaged {
        /// Byte offset in the file of the record or block that could not be read.
        offset: usize,
        /// 1-based number the damaged packet record would have had: the number of packet
        /// records read before the damage, plus one.
        packet_number: u64,
        /// What is wrong, in words.
        reason: String,
    },

    /// [`CaptureWriter::write_datagram`](crate::CaptureWriter::write_datagram) was given a
    /// datagram it cannot represent (mixed address families, payload too large for UDP,
    /// timestamp out of the format's range, comment too long, MTU too small).
    #[error("cannot write datagram: {reason}")]
    InvalidDatagram {
        /// What is wrong, in words.
        reason: String,
    },

    /// [`CaptureWriter::write_secrets`](crate::CaptureWriter::write_secrets) on a classic pcap
    /// writer: only pcapng has a place for decryption secrets (the Decryption Secrets Block).
    #[error(
        "decryption secrets need a pcapng capture (Decryption Secrets Block); classic pcap has \
         no place for them: write pcapng, or keep the key log in a separate SSLKEYLOGFILE"
    )]
    SecretsNeedPcapNg,

    /// [`CaptureWriter::write_secrets`](crate::CaptureWriter::write_secrets) after a packet was
    /// written: the secrets must precede the packets (tshark 4.0 decrypts a packet only with
    /// the secrets read before it). Nothing is written.
    #[error(
        "decryption secrets must be written before the first packet (tshark 4.0 only uses \
         secrets that precede the packets), but {packets_written} packet record(s) are already \
         written"
    )]
    SecretsAfterPackets {
        /// Packet records written before the call.
        packets_written: u64,
    },

    /// [`CaptureWriter::write_secrets`](crate::CaptureWriter::write_secrets) was given a key log
    /// too large for one pcapng block (4 GiB). Nothing is written.
    #[error("decryption secrets of {len} bytes do not fit in one pcapng block (4 GiB)")]
    SecretsTooLarge {
        /// Length of the key log in bytes.
        len: usize,
    },

    /// The underlying writer failed.
    #[error("I/O error while writing the capture: {0}")]
    Io(#[from] std::io::Error),

    /// Live capture: the process may not open a raw packet socket.
    #[error(
        "capturing on {interface} needs root or the CAP_NET_RAW capability (\"Operation not \
         permitted\"): run it as root, or grant the capability once with \
         `sudo setcap cap_net_raw+ep \"$(command -v harness)\"`"
    )]
    Permission {
        /// The interface asked for.
        interface: String,
    },

    /// Live capture: no interface has this name.
    #[error("no network interface named {interface:?}; available: {}", list(.available))]
    NoSuchInterface {
        /// The name asked for.
        interface: String,
        /// The names of the interfaces that exist, in the order the system lists them.
        available: Vec<String>,
    },

    /// Live capture: the interface exists but does not deliver Ethernet frames.
    #[error("cannot capture on {interface}: {reason}")]
    UnsupportedInterface {
        /// The interface asked for.
        interface: String,
        /// Why, in words.
        reason: String,
    },

    /// Live capture: opening or reading the packet socket failed for another reason.
    #[error("live capture on {interface} failed: {source}")]
    Live {
        /// The interface.
        interface: String,
        /// The system error.
        source: std::io::Error,
    },
}

impl CaptureError {
    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        CaptureError::InvalidDatagram {
            reason: reason.into(),
        }
    }

    /// Converts a pcap-file error raised while *writing*.
    pub(crate) fn from_pcap_write(err: pcap_file::PcapError) -> Self {
        match err {
            pcap_file::PcapError::IoError(io) => CaptureError::Io(io),
            other => CaptureError::invalid(other.to_string()),
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Renders the start of a non-capture input for [`CaptureError::NotACapture`].
fn describe_start(first_bytes: &[u8]) -> String {
    if first_bytes.is_empty() {
        return "the input is empty (0 bytes)".to_owned();
    }
    let mut out = String::from("it starts with bytes");
    for byte in first_bytes {
        let _ = write!(out, " {byte:02x}");
    }
    out.push_str(" (\"");
    for &byte in first_bytes {
        if byte.is_ascii_graphic() || byte == b' ' {
            out.push(char::from(byte));
        } else {
            out.push('.');
        }
    }
    out.push_str(
        "\"), which is neither a pcap magic number (a1b2c3d4 or a1b23c4d, in either byte \
         order) nor a pcapng section header block (0a0d0d0a)",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_a_capture_names_the_first_bytes() {
        let err = CaptureError::NotACapture {
            first_bytes: b"<!DOCTYP".to_vec(),
        };
        let text = err.to_string();
        assert!(text.contains("3c 21 44 4f 43 54 59 50"), "{text}");
        assert!(text.contains("\"<!DOCTYP\""), "{text}");
    }

    #[test]
    fn empty_input_says_so() {
        let err = CaptureError::NotACapture {
            first_bytes: Vec::new(),
        };
        assert!(err.to_string().contains("empty"));
    }
}
