//! pcapng Decryption Secrets Blocks (DSB): TLS key logs carried inside the capture, so that
//! Wireshark / tshark decrypt the capture without a separate key log file.
//!
//! Block layout (block type `0x0000000A`, in the section's byte order):
//! `type | total length | secrets type | secrets length | secrets, zero-padded to 32 bits |
//! options | total length`. Only secrets type `TLSK` (NSS key log text) is read; the others
//! are counted and ignored.

use pcap_file::pcapng::blocks::{
    ENHANCED_PACKET_BLOCK, PACKET_BLOCK, SECTION_HEADER_BLOCK, SIMPLE_PACKET_BLOCK,
};
use pcap_file::Endianness;

use crate::reader::read_u32;
use crate::CaptureError;

/// pcapng block type of a Decryption Secrets Block.
pub(crate) const DECRYPTION_SECRETS_BLOCK: u32 = 0x0000_000A;

/// Secrets type `TLSK`: a TLS key log in the NSS key log format (text).
pub(crate) const TLS_KEY_LOG: u32 = 0x544C_534B;

/// Block header (type, total length) and trailer (total length) around a block body.
const BLOCK_OVERHEAD: usize = 12;
/// Secrets type and secrets length, before the secrets.
const DSB_FIXED: usize = 8;

/// The decryption secrets read from a capture's DSBs.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretsLog {
    /// The TLSK texts, concatenated, each ending in `'\n'`.
    pub(crate) text: String,
    /// DSBs with another secrets type (ignored).
    pub(crate) other_blocks: u64,
}

impl SecretsLog {
    /// Reads one DSB body. `Err` carries the damage description.
    pub(crate) fn add(&mut self, body: &[u8], endianness: Endianness) -> Result<(), String> {
        let (Some(kind), Some(len)) =
            (read_u32(body, 0, endianness), read_u32(body, 4, endianness))
        else {
            return Err(format!(
                "decryption secrets block body too short ({} bytes, at least {DSB_FIXED})",
                body.len()
            ));
        };
        let secrets = usize::try_from(len)
            .ok()
            .and_then(|len| body.get(DSB_FIXED..DSB_FIXED.checked_add(len)?))
            .ok_or_else(|| {
                format!(
                    "decryption secrets block claims {len} bytes of secrets but its body holds \
                     only {}",
                    body.len().saturating_sub(DSB_FIXED)
                )
            })?;
        if kind == TLS_KEY_LOG {
            self.push_key_log(secrets);
        } else {
            self.other_blocks += 1;
        }
        Ok(())
    }

    /// Appends one block's key log text (invalid UTF-8 replaced), ending it with `'\n'`.
    fn push_key_log(&mut self, raw: &[u8]) {
        if raw.is_empty() {
            return;
        }
        self.text.push_str(&String::from_utf8_lossy(raw));
        if !self.text.ends_with('\n') {
            self.text.push('\n');
        }
    }
}

/// The body of a DSB holding `key_log` as TLSK secrets, padded to 32 bits, without options;
/// and the block's total length. `None` if the block would be longer than 4 GiB.
pub(crate) fn tls_key_log_body(key_log: &[u8], endianness: Endianness) -> Option<(Vec<u8>, u32)> {
    let len = u32::try_from(key_log.len()).ok()?;
    let padded = key_log.len().checked_next_multiple_of(4)?;
    let body_len = DSB_FIXED.checked_add(padded)?;
    let total = u32::try_from(body_len.checked_add(BLOCK_OVERHEAD)?).ok()?;
    let word = |value: u32| match endianness {
        Endianness::Big => value.to_be_bytes(),
        Endianness::Little => value.to_le_bytes(),
    };
    let mut body = Vec::with_capacity(body_len);
    body.extend_from_slice(&word(TLS_KEY_LOG));
    body.extend_from_slice(&word(len));
    body.extend_from_slice(key_log);
    body.resize(body_len, 0);
    Some((body, total))
}

/// The TLS key log stored in a capture's pcapng Decryption Secrets Blocks: the texts of all
/// blocks with secrets type `TLSK` (NSS key log format), in file order, concatenated, each
/// block's text ending in `'\n'` (invalid UTF-8 replaced). Blocks with other secrets types are
/// ignored.
///
/// Only the pcapng block headers are walked (the byte order of each section followed, packets
/// not decoded), so this is cheap even for large captures; it reads the same secrets as
/// [`CaptureReader::secrets`](crate::CaptureReader::secrets) after a full iteration. A classic
/// pcap capture has no place for secrets: the result is empty.
///
/// # Errors
///
/// [`CaptureError::NotACapture`] for input that is neither pcap nor pcapng;
/// [`CaptureError::Damaged`] at the first block that is cut short or badly framed (length not
/// a multiple of 4, below 12, trailer differing from the header, bad section byte-order magic),
/// or at a decryption secrets block whose secrets length overruns its body. Never panics.
pub fn decryption_secrets(bytes: &[u8]) -> Result<String, CaptureError> {
    let magic = read_u32(bytes, 0, Endianness::Big);
    match magic {
        Some(0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1) => return Ok(String::new()),
        Some(SECTION_HEADER_BLOCK) => {}
        _ => {
            return Err(CaptureError::NotACapture {
                first_bytes: bytes.iter().copied().take(8).collect(),
            })
        }
    }

    let mut log = SecretsLog::default();
    let mut endianness = Endianness::Big;
    let mut packets = 0u64;
    let mut at = 0usize;
    // Every block is at least 12 bytes long: at most len / 12 iterations.
    while let Some(rest) = bytes.get(at..).filter(|rest| !rest.is_empty()) {
        let damaged = |reason: String| CaptureError::Damaged {
            offset: at,
            packet_number: packets + 1,
            reason,
        };
        if rest.len() < BLOCK_OVERHEAD {
            return Err(damaged(format!(
                "block header cut short: {} of at least {BLOCK_OVERHEAD} bytes at the end of the \
                 file",
                rest.len()
            )));
        }
        // The section header block type reads the same in both byte orders; its byte-order
        // magic, right after the length, sets the order of the section.
        if read_u32(rest, 0, Endianness::Big) == Some(SECTION_HEADER_BLOCK) {
            endianness = match read_u32(rest, 8, Endianness::Big) {
                Some(0x1A2B_3C4D) => Endianness::Big,
                Some(0x4D3C_2B1A) => Endianness::Little,
                _ => {
                    return Err(damaged(
                        "section header block with a bad byte-order magic".to_owned(),
                    ))
                }
            };
        }
        let (Some(block_type), Some(total)) =
            (read_u32(rest, 0, endianness), read_u32(rest, 4, endianness))
        else {
            return Err(damaged("block header cut short".to_owned()));
        };
        let len = usize::try_from(total).unwrap_or(usize::MAX);
        if len % 4 != 0 || len < BLOCK_OVERHEAD {
            return Err(damaged(format!(
                "bad block length {total} (must be a multiple of 4 and at least {BLOCK_OVERHEAD})"
            )));
        }
        if len > rest.len() {
            return Err(damaged(format!(
                "block cut short: its header claims {total} bytes but only {} remain",
                rest.len()
            )));
        }
        let trailer = read_u32(rest, len - 4, endianness);
        if trailer != Some(total) {
            return Err(damaged(format!(
                "block trailer length {} differs from its header length {total}",
                trailer.unwrap_or(0)
            )));
        }
        let body = rest.get(8..len - 4).unwrap_or_default();
        match block_type {
            DECRYPTION_SECRETS_BLOCK => log.add(body, endianness).map_err(&damaged)?,
            ENHANCED_PACKET_BLOCK | PACKET_BLOCK | SIMPLE_PACKET_BLOCK => packets += 1,
            _ => {}
        }
        at += len;
    }
    Ok(log.text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_padded_and_length_is_exact() {
        let (body, total) = tls_key_log_body(b"abcde", Endianness::Little).expect("small");
        assert_eq!(body.len(), 16);
        assert_eq!(total, 28);
        assert_eq!(&body[..4], b"KSLT");
        assert_eq!(&body[4..8], &5u32.to_le_bytes());
        assert_eq!(&body[8..], b"abcde\0\0\0");
        let (body, _) = tls_key_log_body(b"abcd", Endianness::Big).expect("small");
        assert_eq!(&body[..4], b"TLSK");
        assert_eq!(body.len(), 12);
    }

    #[test]
    fn log_ends_each_block_with_a_newline() {
        let mut log = SecretsLog::default();
        for text in [&b"one"[..], b"two\n", b""] {
            let (body, _) = tls_key_log_body(text, Endianness::Little).expect("small");
            log.add(&body, Endianness::Little).expect("valid");
        }
        assert_eq!(log.text, "one\ntwo\n");
        let mut other = 0x1234_5678u32.to_le_bytes().to_vec();
        other.extend_from_slice(&[0; 4]);
        log.add(&other, Endianness::Little).expect("valid");
        assert_eq!(log.other_blocks, 1);
        assert!(log.add(&other[..6], Endianness::Little).is_err());
        let mut overrun = TLS_KEY_LOG.to_le_bytes().to_vec();
        overrun.extend_from_slice(&9u32.to_le_bytes());
        overrun.extend_from_slice(b"abcd");
        assert!(log.add(&overrun, Endianness::Little).is_err());
    }
}
