//! QUIC variable-length integers (RFC 9000 §16): [`VarInt`] lives in `handshake-core`, beneath
//! QUIC's frames too; here the reading and writing of plain values with HTTP/3's [`Error`].

pub use handshake_core::varint::{VarInt, VarIntError};

use crate::Error;

/// Appends the shortest encoding of `value` (checked).
pub fn write(value: u64, out: &mut Vec<u8>) -> Result<(), Error> {
    VarInt::new(value)?.encode(out);
    Ok(())
}

/// Reads one value from the front of `*buf` and advances it.
pub fn read(buf: &mut &[u8]) -> Result<u64, Error> {
    Ok(VarInt::take(buf)?.get())
}
