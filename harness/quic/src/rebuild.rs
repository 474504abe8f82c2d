//! From captured datagrams to QUIC connections: every datagram decrypted (with [`Decryptor`]), and
//! per connection and stream the bytes each side sent (STREAM frames reassembled by offset,
//! retransmissions deduplicated), with FIN, RESET_STREAM, STOP_SENDING, CONNECTION_CLOSE and
//! DATAGRAM frames: who sent them and where in the capture.
//!
//! Generic over the application protocol: the QUIC families' judges (Proton, Dark Tower) read a
//! capture file, feed its datagrams to a [`Rebuilder`] and model what [`Rebuilt`] holds. The
//! harness's marks on a datagram (never delivered, altered) are given as flags, so this module
//! needs neither the capture reader nor the check machinery.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::Serialize;

use crate::{DecryptError, Decryptor, Direction, Frame, Space};

/// Most bytes kept per stream and direction.
pub const MAX_FLOW: usize = 64 << 20;

/// Which side of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The side that sent the first Initial.
    Client,
    /// The other.
    Server,
}

impl Side {
    /// 0 for the client, 1 for the server.
    pub fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
    /// The other side.
    pub fn peer(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
}

/// A place in the capture: packet number (1-based record number) and capture time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct At {
    pub packet: u64,
    pub time_ns: u64,
}

/// A RESET_STREAM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResetView {
    /// Who sent it.
    pub by: Side,
    /// Its application error code.
    pub code: u64,
    /// Its final size.
    pub final_size: u64,
    /// Packet number (1-based in the capture) where it was first seen.
    pub packet: u64,
    /// Capture time, ns since the epoch.
    pub time_ns: u64,
}

/// A STOP_SENDING.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StopSendingView {
    /// Who sent it.
    pub by: Side,
    /// Its application error code.
    pub code: u64,
    /// Packet number where it was first seen.
    pub packet: u64,
    /// Capture time, ns since the epoch.
    pub time_ns: u64,
}

/// A CONNECTION_CLOSE (the first one of the connection).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CloseView {
    /// Who sent it.
    pub by: Side,
    /// Application close (frame 0x1d) rather than transport (0x1c).
    pub application: bool,
    /// Its error code.
    pub code: u64,
    /// Its reason phrase (lossy UTF-8).
    pub reason: String,
    /// Packet number where it was first seen.
    pub packet: u64,
    /// Capture time, ns since the epoch.
    pub time_ns: u64,
}

/// The bytes one side sent on one stream, in order, with where each first became contiguous.
#[derive(Debug, Default)]
pub struct Flow {
    pending: BTreeMap<u64, Vec<u8>>,
    /// The contiguous prefix reassembled so far.
    pub data: Vec<u8>,
    /// (length of the prefix, where it first reached that length), increasing.
    marks: Vec<(usize, At)>,
    /// Final size announced by a FIN, and where first seen.
    pub fin: Option<(u64, At)>,
    /// The first frame of this flow.
    pub first: Option<At>,
}

impl Flow {
    /// Adds one STREAM frame's bytes.
    pub fn push(&mut self, offset: u64, bytes: &[u8], fin: bool, at: At) {
        self.first.get_or_insert(at);
        if fin && self.fin.is_none() {
            let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
            self.fin = Some((offset.saturating_add(len), at));
        }
        if bytes.is_empty() {
            return;
        }
        let Ok(off) = usize::try_from(offset) else {
            return;
        };
        if off.saturating_add(bytes.len()) <= self.data.len() || off >= MAX_FLOW {
            return;
        }
        let entry = self.pending.entry(offset).or_default();
        if entry.len() < bytes.len() {
            *entry = bytes.to_vec();
        }
        let before = self.data.len();
        while let Some(entry) = self.pending.first_entry() {
            let Ok(o) = usize::try_from(*entry.key()) else {
                break;
            };
            if o > self.data.len() {
                break;
            }
            let chunk = entry.remove();
            if let Some(tail) = chunk.get(self.data.len() - o..) {
                let room = MAX_FLOW.saturating_sub(self.data.len());
                self.data
                    .extend_from_slice(tail.get(..tail.len().min(room)).unwrap_or(&[]));
            }
        }
        if self.data.len() > before {
            self.marks.push((self.data.len(), at));
        }
    }

    /// Where byte `offset` first became contiguous.
    pub fn at(&self, offset: usize) -> Option<At> {
        let i = self.marks.partition_point(|(end, _)| *end <= offset);
        self.marks.get(i).map(|m| m.1)
    }

    /// The FIN once every byte before it is there: (final size, where the last of them or the
    /// FIN arrived, whichever is later).
    pub fn fin_complete(&self) -> Option<(u64, At)> {
        let (size, at) = self.fin?;
        let n = usize::try_from(size).ok()?;
        if self.data.len() < n {
            return None;
        }
        let data_at = n.checked_sub(1).and_then(|last| self.at(last));
        Some((size, data_at.map_or(at, |d| d.max(at))))
    }
}

/// One stream: what the client sent and what the server sent.
#[derive(Debug, Default)]
pub struct StreamRec {
    /// `[client, server]`.
    pub flows: [Flow; 2],
    pub resets: Vec<(ResetView, At)>,
    pub stops: Vec<(StopSendingView, At)>,
}

impl StreamRec {
    /// Where the client first showed the stream (a STREAM or RESET_STREAM frame).
    pub fn client_open(&self) -> Option<At> {
        self.opened_by(Side::Client)
    }

    /// Where `side` first showed the stream (a STREAM or RESET_STREAM frame).
    pub fn opened_by(&self, side: Side) -> Option<At> {
        let reset = self
            .resets
            .iter()
            .filter(|(r, _)| r.by == side)
            .map(|(_, at)| *at)
            .min();
        [self.flows[side.index()].first, reset]
            .into_iter()
            .flatten()
            .min()
    }
}

/// A CONNECTION_CLOSE and where it was first seen.
#[derive(Debug, Clone)]
pub struct CloseRec {
    pub view: CloseView,
    pub at: At,
}

/// A QUIC DATAGRAM frame (RFC 9221) and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatagramRec {
    pub by: Side,
    pub data: Vec<u8>,
    pub at: At,
}

/// One QUIC connection of the capture.
#[derive(Debug, Default)]
pub struct Conn {
    pub index: usize,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    /// The ALPN the server selected.
    pub alpn: Option<Vec<u8>>,
    /// The ALPNs the client offered (its ClientHello), in its order.
    pub offered_alpn: Vec<Vec<u8>>,
    /// Every packet of the connection, in capture order, with its sender.
    pub packets: Vec<(At, Side)>,
    /// The packets that keep the server's idle timer going: all but the client's that the
    /// harness marked as never delivered.
    pub activity: Vec<At>,
    /// The connection's idle timeout (RFC 9000 §10.1, from both sides' transport parameters),
    /// ms; `None`: not known, or none.
    pub idle_ms: Option<u64>,
    pub handshake_done: Option<At>,
    pub streams: BTreeMap<u64, StreamRec>,
    /// The first CONNECTION_CLOSE of each side.
    pub closes: [Option<CloseRec>; 2],
    /// DATAGRAM frames of both sides, in capture order (a retransmitted packet's datagram is
    /// not sent again by QUIC, so every one is kept).
    pub datagrams: Vec<DatagramRec>,
    /// The server said it was blocked by flow control (DATA_BLOCKED, STREAM_DATA_BLOCKED).
    pub server_blocked: bool,
    /// Packets (any space) that did not decrypt.
    pub undecrypted: u64,
    /// 1-RTT packets that did not decrypt, and the first of them.
    pub undecrypted_1rtt: u64,
    pub first_undecrypted_1rtt: Option<At>,
    /// Packets whose payload held a frame that could not be parsed.
    pub bad_frames: u64,
    /// A stateless reset was seen.
    pub stateless_reset: Option<At>,
}

impl Conn {
    pub fn first(&self) -> Option<At> {
        self.packets.first().map(|p| p.0)
    }
    pub fn first_of(&self, side: Side) -> Option<At> {
        self.packets.iter().find(|p| p.1 == side).map(|p| p.0)
    }
    pub fn last_of(&self, side: Side) -> Option<At> {
        self.packets.iter().rev().find(|p| p.1 == side).map(|p| p.0)
    }
    pub fn close_of(&self, side: Side) -> Option<&CloseRec> {
        self.closes[side.index()].as_ref()
    }
    /// The first close of either side.
    pub fn first_close(&self) -> Option<&CloseRec> {
        self.closes.iter().flatten().min_by_key(|c| c.at)
    }
    /// Whether the connection may have ended by its idle timeout before `until` (in capture
    /// order and time; `packet: u64::MAX` for a time alone): a silence of the idle timeout, less
    /// the tolerance, between two packets that keep it going or from the last of them to
    /// `until`. An idle timeout closes silently, so the capture shows the connection ended only
    /// by such a silence.
    pub fn idle_by(&self, until: At, tol_ns: u64) -> bool {
        let Some(idle) = self.idle_ms.map(|ms| ms.saturating_mul(1_000_000)) else {
            return false;
        };
        let silent = |from: u64, to: u64| to.saturating_sub(from).saturating_add(tol_ns) >= idle;
        let mut last: Option<u64> = None;
        let before = |a: &&At| a.packet < until.packet && a.time_ns <= until.time_ns;
        for at in self.activity.iter().filter(before) {
            if last.is_some_and(|l| silent(l, at.time_ns)) {
                return true;
            }
            last = Some(last.map_or(at.time_ns, |l| l.max(at.time_ns)));
        }
        last.is_some_and(|l| silent(l, until.time_ns))
    }
}

/// One captured UDP datagram, as the [`Rebuilder`] needs it.
#[derive(Clone, Copy, Debug)]
pub struct Captured<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: &'a [u8],
    pub at: At,
    /// The harness marked it as never delivered (a client's packet the server never got: its
    /// stream bytes, resets and stops are left out; the sender sends them again).
    pub undelivered: bool,
    /// The harness changed it (modified, altered in transit): a packet that does not decrypt is
    /// not counted as undecrypted.
    pub harness_changed: bool,
}

/// What the datagrams held.
#[derive(Debug, Default)]
pub struct Rebuilt {
    /// The connections, in order of their first Initial.
    pub conns: Vec<Conn>,
    /// Datagrams given.
    pub datagrams: u64,
    /// QUIC packets of known connections that could not be decrypted.
    pub undecrypted: u64,
    /// Datagrams that belong to no QUIC connection.
    pub unknown: u64,
    /// QUIC packets that could not be attributed to a connection.
    pub unattributed: u64,
}

/// Feeds captured datagrams through a [`Decryptor`] into [`Conn`]s.
pub struct Rebuilder {
    dec: Decryptor,
    out: Rebuilt,
}

impl Rebuilder {
    /// With this NSS key log (the capture's Decryption Secrets Blocks and any extra one).
    pub fn new(key_log: &str) -> Self {
        Rebuilder {
            dec: Decryptor::new(key_log),
            out: Rebuilt::default(),
        }
    }

    /// The decryptor (its key-log statistics).
    pub fn decryptor(&self) -> &Decryptor {
        &self.dec
    }

    /// Adds one datagram.
    pub fn push(&mut self, d: Captured<'_>) {
        let out = &mut self.out;
        out.datagrams += 1;
        let at = d.at;
        let packets = self.dec.datagram(d.src, d.dst, d.payload);
        if packets.iter().all(|p| p.connection.is_none()) {
            out.unknown += 1;
            return;
        }
        for p in packets {
            let Some(ci) = p.connection else {
                out.unattributed += 1;
                continue;
            };
            let Some(side) = p.direction.map(|dir| match dir {
                Direction::ClientToServer => Side::Client,
                Direction::ServerToClient => Side::Server,
            }) else {
                continue;
            };
            while out.conns.len() <= ci {
                let index = out.conns.len();
                out.conns.push(Conn {
                    index,
                    ..Conn::default()
                });
            }
            let Some(conn) = out.conns.get_mut(ci) else {
                continue;
            };
            conn.packets.push((at, side));
            if !(side == Side::Client && d.undelivered) {
                conn.activity.push(at);
            }
            let frames = match p.frames {
                Ok(frames) => frames,
                Err(DecryptError::Frames { parsed, .. }) => {
                    conn.bad_frames += 1;
                    parsed
                }
                Err(DecryptError::StatelessReset) => {
                    conn.stateless_reset.get_or_insert(at);
                    continue;
                }
                Err(_) if d.harness_changed => continue,
                Err(_) => {
                    conn.undecrypted += 1;
                    out.undecrypted += 1;
                    if p.space == Space::OneRtt {
                        conn.undecrypted_1rtt += 1;
                        conn.first_undecrypted_1rtt.get_or_insert(at);
                    }
                    continue;
                }
            };
            // What the client sent that the server never received is left out (it is sent again
            // until acknowledged): the model reads the client's bytes as the server got them.
            let received_only = side == Side::Client && d.undelivered;
            for frame in frames {
                if received_only
                    && matches!(
                        frame,
                        Frame::Stream { .. }
                            | Frame::ResetStream { .. }
                            | Frame::StopSending { .. }
                            | Frame::Datagram { .. }
                    )
                {
                    continue;
                }
                take_frame(conn, side, at, frame);
            }
        }
    }

    /// The connections, with what the decryptor learnt of each (addresses, ALPN, idle
    /// timeout).
    pub fn finish(mut self) -> Rebuilt {
        for info in self.dec.connections() {
            if let Some(conn) = self.out.conns.get_mut(info.index) {
                conn.client = Some(info.client);
                conn.server = Some(info.server);
                conn.idle_ms = info.idle_timeout_ms();
                conn.alpn = info.alpn;
                conn.offered_alpn = info.offered_alpn;
            }
        }
        self.out
    }
}

fn take_frame(conn: &mut Conn, side: Side, at: At, frame: Frame) {
    match frame {
        Frame::Stream {
            id,
            offset,
            fin,
            data,
        } => {
            conn.streams.entry(id).or_default().flows[side.index()].push(offset, &data, fin, at);
        }
        Frame::ResetStream {
            id,
            code,
            final_size,
        } => {
            let s = conn.streams.entry(id).or_default();
            if !s
                .resets
                .iter()
                .any(|(r, _)| r.by == side && r.code == code && r.final_size == final_size)
            {
                let view = ResetView {
                    by: side,
                    code,
                    final_size,
                    packet: at.packet,
                    time_ns: at.time_ns,
                };
                s.resets.push((view, at));
            }
        }
        Frame::StopSending { id, code } => {
            let s = conn.streams.entry(id).or_default();
            if !s.stops.iter().any(|(r, _)| r.by == side && r.code == code) {
                let view = StopSendingView {
                    by: side,
                    code,
                    packet: at.packet,
                    time_ns: at.time_ns,
                };
                s.stops.push((view, at));
            }
        }
        Frame::ConnectionClose {
            application,
            code,
            reason,
            ..
        } => {
            let slot = &mut conn.closes[side.index()];
            if slot.is_none() {
                *slot = Some(CloseRec {
                    view: CloseView {
                        by: side,
                        application,
                        code,
                        reason: String::from_utf8_lossy(&reason).into_owned(),
                        packet: at.packet,
                        time_ns: at.time_ns,
                    },
                    at,
                });
            }
        }
        Frame::Datagram { data } => conn.datagrams.push(DatagramRec { by: side, data, at }),
        Frame::HandshakeDone if side == Side::Server => {
            conn.handshake_done.get_or_insert(at);
        }
        Frame::DataBlocked { .. } | Frame::StreamDataBlocked { .. } if side == Side::Server => {
            conn.server_blocked = true;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(packet: u64) -> At {
        At {
            packet,
            time_ns: packet * 1000,
        }
    }

    #[test]
    fn flow_reassembles_out_of_order_and_dedupes() {
        let mut f = Flow::default();
        f.push(4, b"efgh", false, at(1));
        assert!(f.data.is_empty());
        f.push(0, b"abcd", false, at(2));
        assert_eq!(f.data, b"abcdefgh");
        f.push(2, b"cdef", false, at(3)); // retransmission
        f.push(8, b"ij", true, at(4));
        assert_eq!(f.data, b"abcdefghij");
        assert_eq!(f.at(0), Some(at(2)));
        assert_eq!(f.at(7), Some(at(2)));
        assert_eq!(f.at(9), Some(at(4)));
        assert_eq!(f.at(10), None);
        assert_eq!(f.fin_complete(), Some((10, at(4))));
        f.push(u64::MAX - 1, b"zz", false, at(5));
        assert_eq!(f.data.len(), 10);
    }

    #[test]
    fn fin_waits_for_the_bytes_before_it() {
        let mut f = Flow::default();
        f.push(4, b"", true, at(1));
        assert_eq!(f.fin_complete(), None);
        f.push(0, b"\x01abc", false, at(2));
        assert_eq!(f.fin_complete(), Some((4, at(2))));
    }
}
