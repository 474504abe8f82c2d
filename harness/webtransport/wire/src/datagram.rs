//! HTTP datagrams (RFC 9297 §2.1): a QUIC DATAGRAM frame's payload is the quarter stream id varint
//! (the CONNECT stream id / 4) then the payload.
//!
//! aioquic 1.2 follows this. web-transport-quinn 0.13.5 writes (and expects) the *whole* session
//! id instead; the two agree only for session 0. Read such a datagram with [`Datagram::parse`] and
//! take `quarter_stream_id` as the whole id.

use crate::varint::VarInt;
use crate::Error;

/// A datagram whose payload borrows from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Datagram<'a> {
    /// The stream id / 4.
    pub quarter_stream_id: VarInt,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> Datagram<'a> {
    /// The datagram of client-initiated bidirectional stream `stream_id`.
    pub fn for_stream(stream_id: u64, payload: &'a [u8]) -> Result<Datagram<'a>, Error> {
        if stream_id % 4 != 0 {
            return Err(Error::NotClientBidi(stream_id));
        }
        Ok(Datagram {
            quarter_stream_id: VarInt::new(stream_id / 4)?,
            payload,
        })
    }

    /// The stream id it names (`quarter × 4`; `QuarterStreamIdTooLarge` beyond 2^62 - 1, which RFC
    /// 9297 makes H3_DATAGRAM_ERROR).
    pub fn stream_id(&self) -> Result<u64, Error> {
        let q = self.quarter_stream_id.get();
        q.checked_mul(4)
            .filter(|id| *id <= VarInt::MAX.get())
            .ok_or(Error::QuarterStreamIdTooLarge(q))
    }

    /// Parses a whole DATAGRAM payload (`UnexpectedEnd`: no varint, H3_DATAGRAM_ERROR for aioquic).
    pub fn parse(buf: &'a [u8]) -> Result<Datagram<'a>, Error> {
        let (quarter_stream_id, n) = VarInt::decode(buf)?;
        Ok(Datagram {
            quarter_stream_id,
            payload: &buf[n..],
        })
    }

    /// Appends its bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.quarter_stream_id.encode(out);
        out.extend_from_slice(self.payload);
    }

    /// Its bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.quarter_stream_id.encoded_len() + self.payload.len());
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_ids() {
        let d = Datagram::for_stream(4, b"x").unwrap();
        assert_eq!(d.to_vec(), [0x01, b'x']);
        assert_eq!(Datagram::parse(&[0x01, b'x']), Ok(d));
        assert_eq!(d.stream_id(), Ok(4));
        assert_eq!(Datagram::for_stream(2, b""), Err(Error::NotClientBidi(2)));
        assert_eq!(Datagram::parse(&[]), Err(Error::UnexpectedEnd));
        assert_eq!(Datagram::parse(&[0x40]), Err(Error::UnexpectedEnd));
        let big = Datagram::parse(&[0xff; 8]).unwrap();
        assert!(big.stream_id().is_err());
        assert_eq!(Datagram::parse(&[0x00]).unwrap().payload, b"");
    }
}
