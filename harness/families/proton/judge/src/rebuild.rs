//! From capture bytes to connections: every UDP datagram decrypted, and per connection and
//! stream the bytes each side sent (STREAM frames reassembled by offset, retransmissions
//! deduplicated), with FIN, RESET_STREAM, STOP_SENDING and CONNECTION_CLOSE: who sent them and
//! where in the capture.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use handshake_check::Mark;
use handshake_quic::{DecryptError, Decryptor, Direction, Frame, Space};

use crate::{CloseView, ResetView, Side, StopSendingView};

/// Most bytes kept per stream and direction (more is not a Proton exchange anyway).
const MAX_FLOW: usize = 64 << 20;

/// A place in the capture: packet number (1-based record number) and capture time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct At {
    pub packet: u64,
    pub time_ns: u64,
}

/// The bytes one side sent on one stream, in order, with where each first became contiguous.
#[derive(Debug, Default)]
pub(crate) struct Flow {
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
pub(crate) struct StreamRec {
    /// `[client, server]`.
    pub flows: [Flow; 2],
    pub resets: Vec<(ResetView, At)>,
    pub stops: Vec<(StopSendingView, At)>,
}

impl StreamRec {
    /// Where the client first showed the stream (a STREAM or RESET_STREAM frame).
    pub fn client_open(&self) -> Option<At> {
        let reset = self
            .resets
            .iter()
            .filter(|(r, _)| r.by == Side::Client)
            .map(|(_, at)| *at)
            .min();
        [self.flows[0].first, reset].into_iter().flatten().min()
    }
}

/// A CONNECTION_CLOSE and where it was first seen.
#[derive(Debug, Clone)]
pub(crate) struct CloseRec {
    pub view: CloseView,
    pub at: At,
}

/// One QUIC connection of the capture.
#[derive(Debug, Default)]
pub(crate) struct Conn {
    pub index: usize,
    pub client: Option<SocketAddr>,
    pub server: Option<SocketAddr>,
    pub alpn: Option<Vec<u8>>,
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
    /// order and time; `packet: u64::MAX` for a time alone): a silence of the idle timeout, less the tolerance, between two packets that keep
    /// it going or from the last of them to `until`. An idle timeout closes silently, so the
    /// capture shows the connection ended only by such a silence.
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

/// Everything read from a capture.
#[derive(Debug, Default)]
pub(crate) struct Capture {
    pub conns: Vec<Conn>,
    pub datagrams: u64,
    pub undecrypted: u64,
    /// Whether any TLS secret was given (capture or --keylog).
    pub secrets: bool,
    /// Where the capture file is damaged (the datagrams before it are judged).
    pub damage: Option<String>,
    pub notes: Vec<String>,
}

impl Side {
    pub(crate) fn index(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

/// Reads and decrypts the capture.
pub(crate) fn rebuild(
    bytes: &[u8],
    extra_key_log: Option<&str>,
    port: Option<u16>,
) -> Result<Capture, String> {
    let mut reader =
        handshake_capture::open(bytes).map_err(|e| format!("not a readable capture: {e}"))?;
    let mut datagrams = Vec::new();
    let mut out = Capture::default();
    for item in reader.by_ref() {
        match item {
            Ok(d) => {
                if port.is_none_or(|p| d.src.port() == p || d.dst.port() == p) {
                    datagrams.push(d);
                }
            }
            Err(e) => {
                out.damage = Some(e.to_string());
                break;
            }
        }
    }
    let mut key_log = reader.secrets().to_owned();
    if let Some(extra) = extra_key_log {
        key_log.push('\n');
        key_log.push_str(extra);
    }
    let mut dec = Decryptor::new(&key_log);
    let stats = dec.key_log_stats();
    out.secrets = stats.used > 0;
    if !out.secrets {
        out.notes.push(
            "no TLS secrets (no Decryption Secrets Block in the capture, no --keylog): 1-RTT packets cannot be \
             decrypted; only handshakes and refusals are judged"
                .to_owned(),
        );
    }
    if stats.garbled > 0 {
        out.notes.push(format!(
            "{} key-log lines are not NSS key-log lines",
            stats.garbled
        ));
    }
    let mut unknown = 0u64;
    let mut unreadable_datagrams = 0u64;
    for d in &datagrams {
        out.datagrams += 1;
        let at = At {
            packet: d.packet_number,
            time_ns: d.timestamp_ns,
        };
        let mark = Mark::from_comment(d.comment.as_deref());
        let harness_changed = mark.modified || mark.altered_in_transit;
        let packets = dec.datagram(d.src, d.dst, &d.payload);
        if packets.iter().all(|p| p.connection.is_none()) {
            unknown += 1;
            continue;
        }
        for p in packets {
            let Some(ci) = p.connection else {
                unreadable_datagrams += 1;
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
            if !(side == Side::Client && mark.undelivered) {
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
                Err(_) if harness_changed => continue,
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
            let received_only = side == Side::Client && mark.undelivered;
            for frame in frames {
                if received_only
                    && matches!(
                        frame,
                        Frame::Stream { .. }
                            | Frame::ResetStream { .. }
                            | Frame::StopSending { .. }
                    )
                {
                    continue;
                }
                take_frame(conn, side, at, frame);
            }
        }
    }
    for info in dec.connections() {
        if let Some(conn) = out.conns.get_mut(info.index) {
            conn.client = Some(info.client);
            conn.server = Some(info.server);
            conn.idle_ms = info.idle_timeout_ms();
            conn.alpn = info.alpn;
        }
    }
    if unknown > 0 {
        out.notes.push(format!("{unknown} datagrams belong to no QUIC connection of the capture (not QUIC, or their connection began before it)"));
    }
    if unreadable_datagrams > 0 {
        out.notes.push(format!(
            "{unreadable_datagrams} QUIC packets could not be attributed to a connection"
        ));
    }
    Ok(out)
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
