//! A media-stream datagram decoder as a product might write it (the fuzz kit's Rust example):
//! it checks a datagram the way the facts say and works out what a control frame's options mean
//! for the stream. It carries ONE planted bug for the kit's campaign to find; everything else
//! accepts exactly what the reference decoder (`handshake_mutator::decode`) accepts.

/// The header every headered kind starts with: flag, seq, QPC, QPF.
pub const HEADER_LEN: usize = 26;
const FRAGMENT_HEADER_LEN: usize = 42;
const CONNECTION_ID_DATAGRAM_LEN: usize = 39;
const CONTROL_LEN: usize = 67;
const TLV_HEADER_LEN: usize = 3;

/// A decoded datagram (only what this program uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Datagram {
    /// Legacy `START`.
    Start,
    /// CONNECTION_ID.
    ConnectionId,
    /// DATA or DATA+FRAG, with its payload's length.
    Media { seq: u64, payload_len: usize },
    /// SYN, SYN-ACK or ACK, with what its options ask for.
    Control { flag: u16, stream: StreamPlan },
}

/// What a control frame's options mean for the stream (D14), defaults where absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamPlan {
    pub frame_rate: u32,
    pub bits_per_second: u64,
    pub buffer_depth_ms: u32,
    pub codec_hint: Vec<u8>,
    /// Payload bytes one datagram may carry under the peer's largest datagram.
    pub payload_per_datagram: Option<usize>,
}

/// Why a datagram is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    TooShort,
    UnknownFlag(u16),
    BadVersion(u8),
    TlvOverrun,
    TlvBadLength { tlv_type: u8 },
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Decodes one datagram, legacy-accepting (an exact `START` is the legacy START).
pub fn decode(bytes: &[u8]) -> Result<Datagram, DecodeError> {
    if bytes.len() < 2 {
        return Err(DecodeError::TooShort);
    }
    if bytes == b"START" {
        return Ok(Datagram::Start);
    }
    let flag = le_u16(bytes, 0);
    let min = match flag {
        0x0000 => HEADER_LEN,
        0x0001 => FRAGMENT_HEADER_LEN,
        0x0100..=0x0102 => CONTROL_LEN,
        0x1000 => CONNECTION_ID_DATAGRAM_LEN,
        other => return Err(DecodeError::UnknownFlag(other)),
    };
    if bytes.len() < min {
        return Err(DecodeError::TooShort);
    }
    match flag {
        0x1000 => Ok(Datagram::ConnectionId),
        0x0000 | 0x0001 => Ok(Datagram::Media {
            seq: le_u64(bytes, 2),
            payload_len: bytes.len() - min,
        }),
        _ => {
            if bytes[26] != 1 {
                return Err(DecodeError::BadVersion(bytes[26]));
            }
            let stream = plan(&bytes[CONTROL_LEN..])?;
            Ok(Datagram::Control { flag, stream })
        }
    }
}

/// Reads the TLV options (type u8, length u16 LE, value) into a stream plan.
fn plan(mut options: &[u8]) -> Result<StreamPlan, DecodeError> {
    let mut plan = StreamPlan::default();
    while !options.is_empty() {
        if options.len() < TLV_HEADER_LEN {
            return Err(DecodeError::TlvOverrun);
        }
        let tlv_type = options[0];
        let len = usize::from(le_u16(options, 1));
        let Some(value) = options.get(TLV_HEADER_LEN..TLV_HEADER_LEN + len) else {
            return Err(DecodeError::TlvOverrun);
        };
        let width = match tlv_type {
            1 | 3 | 5 => Some(4),
            2 => Some(8),
            _ => None,
        };
        if width.is_some_and(|w| w != len) {
            return Err(DecodeError::TlvBadLength { tlv_type });
        }
        let u32_value = || u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
        match tlv_type {
            1 => plan.frame_rate = u32_value(),
            2 => plan.bits_per_second = le_u64(value, 0),
            3 => plan.buffer_depth_ms = u32_value(),
            4 => plan.codec_hint = value.to_vec(),
            5 => {
                // THE PLANTED BUG: a largest datagram below the header's 26 bytes underflows
                // (overflow checks are on under cargo fuzz: a panic).
                let largest = u32_value() as usize;
                plan.payload_per_datagram = Some(largest - HEADER_LEN);
            }
            _ => {}
        }
        options = &options[TLV_HEADER_LEN + len..];
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn(options: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; CONTROL_LEN];
        b[1] = 1;
        b[26] = 1;
        b.extend_from_slice(options);
        b
    }

    #[test]
    fn it_decodes_what_the_reference_decodes() {
        for bytes in [
            b"START".to_vec(),
            syn(&[]),
            syn(&[1, 4, 0, 30, 0, 0, 0, 4, 4, 0, b'H', b'2', b'6', b'4']),
            syn(&[5, 4, 0, 0x78, 0x05, 0, 0]),
            syn(&[1, 3, 0, 30, 0, 0]),
            syn(&[9, 9, 0]),
            vec![0x00, 0x10],
            vec![0x02, 0x00, 0, 0],
        ] {
            let reference = handshake_mutator::decode("mediastream.datagram", &bytes).map(|v| v.ok);
            assert_eq!(Ok(decode(&bytes).is_ok()), reference, "{bytes:?}");
        }
    }

    #[test]
    #[should_panic(expected = "subtract with overflow")]
    fn the_planted_bug_is_a_datagram_limit_below_the_header() {
        let _ = decode(&syn(&[5, 4, 0, 25, 0, 0, 0]));
    }
}
