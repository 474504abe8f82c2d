//! Capsules (RFC 9297 §3.2) carried in DATA frames on a WebTransport session's CONNECT stream:
//! type varint, length varint, value. The one WebTransport defines that both peers here use is
//! CLOSE_WEBTRANSPORT_SESSION (0x2843): a u32 big-endian application code, then a UTF-8 reason
//! (web-transport-proto `capsule.rs`; aioquic 1.2 has no capsule code).

use crate::varint::{self, VarInt};
use crate::Error;

/// CLOSE_WEBTRANSPORT_SESSION.
pub const CLOSE_WEBTRANSPORT_SESSION: u64 = 0x2843;

/// A capsule whose value borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capsule<'a> {
    /// The type.
    pub capsule_type: VarInt,
    /// The value.
    pub value: &'a [u8],
}

impl<'a> Capsule<'a> {
    /// Reads one capsule from the front of `buf`: the capsule and the bytes it took.
    pub fn parse(buf: &'a [u8]) -> Result<(Capsule<'a>, usize), Error> {
        let mut rest = buf;
        let capsule_type = VarInt::take(&mut rest)?;
        let len =
            usize::try_from(VarInt::take(&mut rest)?.get()).map_err(|_| Error::UnexpectedEnd)?;
        let value = rest.get(..len).ok_or(Error::UnexpectedEnd)?;
        Ok((
            Capsule {
                capsule_type,
                value,
            },
            buf.len() - rest.len() + len,
        ))
    }

    /// Appends its bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.capsule_type.encode(out);
        let _ = varint::write(self.value.len() as u64, out);
        out.extend_from_slice(self.value);
    }

    /// For a CLOSE_WEBTRANSPORT_SESSION capsule: the code and the reason bytes
    /// (`MalformedFrame` with the capsule type when the value is shorter than 4 bytes).
    pub fn close_session(&self) -> Result<Option<(u32, &'a [u8])>, Error> {
        if self.capsule_type.get() != CLOSE_WEBTRANSPORT_SESSION {
            return Ok(None);
        }
        match self.value.split_first_chunk::<4>() {
            Some((code, reason)) => Ok(Some((u32::from_be_bytes(*code), reason))),
            None => Err(Error::MalformedFrame {
                frame_type: CLOSE_WEBTRANSPORT_SESSION,
            }),
        }
    }
}

/// The bytes of a CLOSE_WEBTRANSPORT_SESSION capsule.
pub fn close_session(code: u32, reason: &[u8]) -> Vec<u8> {
    let mut value = code.to_be_bytes().to_vec();
    value.extend_from_slice(reason);
    let mut out = Vec::new();
    Capsule {
        capsule_type: VarInt::from_u32(CLOSE_WEBTRANSPORT_SESSION as u32),
        value: &value,
    }
    .emit(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close() {
        let bytes = close_session(420, b"test");
        assert_eq!(&bytes[..3], [0x68, 0x43, 0x08]);
        let (c, n) = Capsule::parse(&bytes).unwrap();
        assert_eq!(n, bytes.len());
        assert_eq!(c.close_session(), Ok(Some((420, &b"test"[..]))));
        let short = Capsule {
            capsule_type: VarInt::from_u32(0x2843),
            value: &[0, 0],
        };
        assert!(short.close_session().is_err());
    }
}
