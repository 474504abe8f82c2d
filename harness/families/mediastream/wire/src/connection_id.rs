//! The 37-byte connection id carried by CONNECTION_ID and every control frame.

use core::fmt;

/// Bytes in a connection id on the wire (36 ASCII characters + NUL in ctsTraffic's own ids).
pub const CONNECTION_ID_LEN: usize = 37;

/// A connection id: 37 opaque bytes. ctsTraffic writes lowercase hyphenated UUIDs plus a NUL, but a
/// receiver must accept any 37 bytes, so this type never interprets them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub [u8; CONNECTION_ID_LEN]);

impl ConnectionId {
    /// All zero: "assign one" in a SYN.
    pub const ZERO: ConnectionId = ConnectionId([0; CONNECTION_ID_LEN]);

    /// Copies the first 37 bytes of `bytes`; `None` when there are fewer.
    pub fn from_slice(bytes: &[u8]) -> Option<ConnectionId> {
        bytes
            .get(..CONNECTION_ID_LEN)
            .and_then(|s| <[u8; CONNECTION_ID_LEN]>::try_from(s).ok())
            .map(ConnectionId)
    }

    /// The id of `text` NUL-padded to 37 bytes, as ctsTraffic writes its UUID strings and the reject
    /// reasons of D4; `None` when `text` has more than 37 bytes.
    pub fn from_text(text: &str) -> Option<ConnectionId> {
        let src = text.as_bytes();
        let mut id = [0; CONNECTION_ID_LEN];
        id.get_mut(..src.len())?.copy_from_slice(src);
        Some(ConnectionId(id))
    }

    /// Like [`from_text`](Self::from_text) but cuts `text` to 36 bytes so a NUL always ends it
    /// (for diagnostic reasons of arbitrary length).
    pub fn from_text_truncated(text: &str) -> ConnectionId {
        let src = text.as_bytes();
        let n = src.len().min(CONNECTION_ID_LEN - 1);
        let mut id = [0; CONNECTION_ID_LEN];
        if let (Some(dst), Some(src)) = (id.get_mut(..n), src.get(..n)) {
            dst.copy_from_slice(src);
        }
        ConnectionId(id)
    }

    /// The lowercase hyphenated text form of a 16-byte UUID plus NUL: the ids a ctsTraffic responder
    /// assigns (D3). The caller supplies the 16 bytes (from its seeded RNG: no ambient randomness here).
    pub fn from_uuid_bytes(uuid: [u8; 16]) -> ConnectionId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut id = [0; CONNECTION_ID_LEN];
        let mut at = 0;
        for (i, byte) in uuid.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                id[at] = b'-';
                at += 1;
            }
            id[at] = HEX[usize::from(byte >> 4)];
            id[at + 1] = HEX[usize::from(byte & 0x0f)];
            at += 2;
        }
        ConnectionId(id)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; CONNECTION_ID_LEN] {
        &self.0
    }

    /// Whether every byte is zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// Whether the id has ctsTraffic's own form: 36 characters of a lowercase hyphenated UUID + NUL.
    pub fn is_uuid_form(&self) -> bool {
        self.0.iter().enumerate().all(|(i, &b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            36 => b == 0,
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
    }

    /// The id as text when it is printable ASCII followed only by NULs (e.g. a UUID or a reject
    /// reason); `None` otherwise.
    pub fn as_text(&self) -> Option<&str> {
        let end = self.trimmed_len();
        let text = self.0.get(..end)?;
        if text.iter().all(|b| (0x20..=0x7e).contains(b)) {
            core::str::from_utf8(text).ok()
        } else {
            None
        }
    }

    /// The lossless escaped form (see [`EscapedId`]).
    pub fn escaped(&self) -> EscapedId<'_> {
        EscapedId(self.0.get(..self.trimmed_len()).unwrap_or(&[]))
    }

    /// Reads the escaped form back: `\\`, `\xNN` and printable ASCII, NUL-padded to 37 bytes.
    pub fn from_escaped(text: &str) -> Result<ConnectionId, EscapeError> {
        let mut id = [0; CONNECTION_ID_LEN];
        let n = unescape_into(text, &mut id)?;
        debug_assert!(n <= CONNECTION_ID_LEN);
        Ok(ConnectionId(id))
    }

    fn trimmed_len(&self) -> usize {
        self.0.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1)
    }
}

impl Default for ConnectionId {
    fn default() -> Self {
        ConnectionId::ZERO
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConnectionId(\"{}\")", self.escaped())
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.escaped(), f)
    }
}

/// Bytes shown losslessly as text: bytes 0x20..=0x7E other than `\` stand for themselves, `\` is `\\`,
/// every other byte `\xNN`. For connection ids the trailing NUL padding is left out first.
#[derive(Clone, Copy)]
pub struct EscapedId<'a>(pub &'a [u8]);

impl fmt::Display for EscapedId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // Printable runs are written whole (ids are mostly printable; a transcript shows many).
        for run in self
            .0
            .split_inclusive(|b| *b == b'\\' || !(0x20..=0x7e).contains(b))
        {
            let (last, printable) = match run.split_last() {
                Some((&last, rest)) if last == b'\\' || !(0x20..=0x7e).contains(&last) => {
                    (Some(last), rest)
                }
                _ => (None, run),
            };
            f.write_str(core::str::from_utf8(printable).map_err(|_| fmt::Error)?)?;
            match last {
                Some(b'\\') => f.write_str("\\\\")?,
                Some(b) => {
                    let escaped = [
                        b'\\',
                        b'x',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 0xf)],
                    ];
                    f.write_str(core::str::from_utf8(&escaped).map_err(|_| fmt::Error)?)?;
                }
                None => {}
            }
        }
        Ok(())
    }
}

/// Why an escaped string could not be read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EscapeError {
    /// More bytes than fit.
    TooLong {
        /// Bytes that fit.
        max: usize,
    },
    /// A `\` not followed by `\` or `xNN`, or a character outside printable ASCII.
    BadEscape {
        /// Character offset in the text.
        at: usize,
    },
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EscapeError::TooLong { max } => write!(f, "more than {max} bytes"),
            EscapeError::BadEscape { at } => write!(
                f,
                "bad escape at character {at}: use printable ASCII, \\\\ or \\xNN"
            ),
        }
    }
}

impl std::error::Error for EscapeError {}

/// Decodes the escaped form into `out`, returning the number of bytes written.
pub(crate) fn unescape_into(text: &str, out: &mut [u8]) -> Result<usize, EscapeError> {
    let bytes = text.as_bytes();
    let (mut i, mut n) = (0, 0);
    while i < bytes.len() {
        let (byte, used) = match bytes[i] {
            b'\\' => match bytes.get(i + 1) {
                Some(b'\\') => (b'\\', 2),
                Some(b'x') => {
                    let hex = bytes
                        .get(i + 2..i + 4)
                        .and_then(|h| core::str::from_utf8(h).ok())
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or(EscapeError::BadEscape { at: i })?;
                    (hex, 4)
                }
                _ => return Err(EscapeError::BadEscape { at: i }),
            },
            b @ 0x20..=0x7e => (b, 1),
            _ => return Err(EscapeError::BadEscape { at: i }),
        };
        let max = out.len();
        *out.get_mut(n).ok_or(EscapeError::TooLong { max })? = byte;
        n += 1;
        i += used;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_bytes_format_as_ctstraffic_ids() {
        let id = ConnectionId::from_uuid_bytes([
            0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86, 0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0, 0x4f, 0xc9,
            0x64, 0xff,
        ]);
        assert_eq!(id.as_text(), Some("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
        assert!(id.is_uuid_form());
        assert_eq!(id.0[36], 0);
    }

    #[test]
    fn escaping_is_lossless_for_every_byte() {
        let mut raw = [0u8; CONNECTION_ID_LEN];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(37).wrapping_add(0x5c);
        }
        let id = ConnectionId(raw);
        let text = id.escaped().to_string();
        assert_eq!(ConnectionId::from_escaped(&text), Ok(id));
    }

    #[test]
    fn zero_id_escapes_to_empty_and_embedded_nul_survives() {
        assert_eq!(ConnectionId::ZERO.escaped().to_string(), "");
        let id = ConnectionId::from_escaped("a\\x00b").expect("valid escape");
        assert_eq!(&id.0[..3], b"a\0b");
        assert_eq!(id.escaped().to_string(), "a\\x00b");
        assert!(!id.is_uuid_form());
    }

    #[test]
    fn escaping_writes_printable_runs_and_escapes_between_them() {
        let text = EscapedId(b"ab\\c\xff~ \x1f\x7f").to_string();
        assert_eq!(text, "ab\\\\c\\xff~ \\x1f\\x7f");
        assert_eq!(EscapedId(b"").to_string(), "");
        assert_eq!(EscapedId(b"\x00").to_string(), "\\x00");
    }

    #[test]
    fn bad_escapes_and_overlong_text_are_errors() {
        assert_eq!(
            ConnectionId::from_escaped("\\q"),
            Err(EscapeError::BadEscape { at: 0 })
        );
        assert_eq!(
            ConnectionId::from_escaped("ab\\x4"),
            Err(EscapeError::BadEscape { at: 2 })
        );
        assert_eq!(
            ConnectionId::from_escaped(&"x".repeat(38)),
            Err(EscapeError::TooLong { max: 37 })
        );
        assert_eq!(ConnectionId::from_text(&"y".repeat(38)), None);
        assert_eq!(
            ConnectionId::from_text_truncated(&"y".repeat(50)).as_text(),
            Some("y".repeat(36).as_str())
        );
    }
}
