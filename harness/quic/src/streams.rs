//! Reading and writing quinn streams for a stream protocol.

use std::collections::BTreeMap;

use quinn_proto::{Connection, ReadError, ReadableError, StreamId, VarInt, WriteError};

/// What could be read from a stream now.
#[derive(Debug, Default)]
pub struct Readout {
    /// The bytes, in order.
    pub data: Vec<u8>,
    /// The stream ended (FIN) after them.
    pub fin: bool,
    /// The other side reset it.
    pub reset: Option<u64>,
}

/// Reads everything available on `id` (and returns the flow-control credit, which quinn only
/// does when the read is finalized).
pub fn read(conn: &mut Connection, id: StreamId) -> Readout {
    let mut out = Readout::default();
    let mut recv = conn.recv_stream(id);
    let mut chunks = match recv.read(true) {
        Ok(c) => c,
        Err(ReadableError::ClosedStream | ReadableError::IllegalOrderedRead) => return out,
    };
    loop {
        match chunks.next(usize::MAX) {
            Ok(Some(chunk)) => out.data.extend_from_slice(&chunk.bytes),
            Ok(None) => {
                out.fin = true;
                break;
            }
            Err(ReadError::Blocked) => break,
            Err(ReadError::Reset(code)) => {
                out.reset = Some(code.into_inner());
                break;
            }
        }
    }
    let _ = chunks.finalize();
    out
}

/// Bytes waiting to be written per stream, because flow control blocked them, and FINs that
/// go out after them.
#[derive(Debug, Default)]
pub struct Outbox {
    pending: BTreeMap<u64, Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    fin: bool,
}

impl Outbox {
    /// Writes `bytes` on `id` after what is already waiting; keeps what does not fit.
    pub fn write(&mut self, conn: &mut Connection, id: StreamId, bytes: &[u8]) {
        let entry = self.pending.entry(u64::from(id)).or_default();
        entry.bytes.extend_from_slice(bytes);
        let done = Self::flush_one(conn, id, entry);
        if done {
            self.pending.remove(&u64::from(id));
        }
    }

    /// Ends `id` with a FIN once everything waiting on it is written.
    pub fn finish(&mut self, conn: &mut Connection, id: StreamId) {
        let entry = self.pending.entry(u64::from(id)).or_default();
        entry.fin = true;
        if Self::flush_one(conn, id, entry) {
            self.pending.remove(&u64::from(id));
        }
    }

    /// Retries every waiting stream.
    pub fn flush(&mut self, conn: &mut Connection) {
        self.pending
            .retain(|id, pending| !Self::flush_one(conn, stream_id(*id), pending));
    }

    /// Drops what waits on `id` (it was reset).
    pub fn forget(&mut self, id: StreamId) {
        self.pending.remove(&u64::from(id));
    }

    /// Writes what it can; whether nothing is left to do for the stream.
    fn flush_one(conn: &mut Connection, id: StreamId, pending: &mut Pending) -> bool {
        while !pending.bytes.is_empty() {
            match conn.send_stream(id).write(&pending.bytes) {
                Ok(n) if n > 0 => {
                    pending.bytes.drain(..n);
                }
                Ok(_) | Err(WriteError::Blocked) => return false,
                // Stopped or closed: nothing more can go out on it.
                Err(_) => return true,
            }
        }
        if pending.fin {
            // Already finished or reset: nothing more to do either way.
            let _ = conn.send_stream(id).finish();
        }
        true
    }

    /// Whether bytes wait on any stream.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Drops everything waiting.
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

/// quinn's stream id from its number (its field is private; the numbering is RFC 9000's).
pub fn stream_id(id: u64) -> StreamId {
    let dir = if id & 2 == 0 {
        quinn_proto::Dir::Bi
    } else {
        quinn_proto::Dir::Uni
    };
    let side = if id & 1 == 0 {
        quinn_proto::Side::Client
    } else {
        quinn_proto::Side::Server
    };
    StreamId::new(side, dir, id >> 2)
}

/// A VarInt from a u64, saturating (codes from scenarios are checked before).
pub fn varint(code: u64) -> VarInt {
    VarInt::from_u64(code).unwrap_or(VarInt::MAX)
}
