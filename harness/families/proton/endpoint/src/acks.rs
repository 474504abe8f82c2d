//! What the other side has acknowledged of the stream data the scripted peer sent: the
//! observable point at which the implementation under test had that data and could act on it
//! (a `RESET_STREAM` sent before it races the implementation's own reading of the stream).
//!
//! quinn-proto tells no one which stream bytes were acknowledged, so the peer reads its own
//! traffic the way the judge reads a capture: every datagram, both ways, through the native
//! decryptor with the peer's own TLS secrets; the 1-RTT packets it sent that carried STREAM
//! frames are remembered by packet number, and the other side's ACK frames mark their bytes
//! acknowledged. Connection `k` of the decryptor (in the order of their first Initial) is the
//! host's connection `k` (both count connections in the order they begin).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use handshake_quic::{Decryptor, Frame, Packet, Space};

/// A stand-in for the peer's own address (only the pairing of the two addresses matters).
const LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 254)), 1);

/// Stream bytes sent in one packet: (stream, start, end).
type Sent = Vec<(u64, u64, u64)>;

/// See the module docs.
pub(crate) struct AckTracker {
    decryptor: Decryptor,
    /// How much of the key log the decryptor has.
    key_log_len: usize,
    /// Per connection: 1-RTT packets sent with stream data, not acknowledged yet.
    sent: BTreeMap<usize, BTreeMap<u64, Sent>>,
    /// Per (connection, stream): the acknowledged byte ranges, merged (start → end).
    acked: BTreeMap<(usize, u64), BTreeMap<u64, u64>>,
}

impl std::fmt::Debug for AckTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckTracker")
            .field(
                "unacknowledged_packets",
                &self.sent.values().map(BTreeMap::len).sum::<usize>(),
            )
            .finish_non_exhaustive()
    }
}

impl AckTracker {
    pub(crate) fn new() -> AckTracker {
        AckTracker {
            decryptor: Decryptor::new(""),
            key_log_len: 0,
            sent: BTreeMap::new(),
            acked: BTreeMap::new(),
        }
    }

    fn keys(&mut self, key_log: &str) {
        if let Some(new) = key_log.get(self.key_log_len..).filter(|n| !n.is_empty()) {
            self.decryptor.add_key_log(new);
            self.key_log_len = key_log.len();
        }
    }

    /// A datagram the peer sent to `to`.
    pub(crate) fn sent(&mut self, key_log: &str, to: SocketAddr, payload: &[u8]) {
        self.keys(key_log);
        for p in self.decryptor.datagram(LOCAL, to, payload) {
            let (Some(conn), Some(pn), Space::OneRtt, Ok(frames)) =
                (p.connection, p.number, p.space, &p.frames)
            else {
                continue;
            };
            let bytes: Sent = frames
                .iter()
                .filter_map(|f| match f {
                    Frame::Stream {
                        id, offset, data, ..
                    } if !data.is_empty() => Some((*id, *offset, offset + data.len() as u64)),
                    _ => None,
                })
                .collect();
            if !bytes.is_empty() {
                self.sent.entry(conn).or_default().insert(pn, bytes);
            }
        }
    }

    /// A datagram the peer received from `from`: `(connection, stream, offset)` for every stream
    /// whose acknowledged prefix (every byte before `offset`) grew with it.
    pub(crate) fn received(
        &mut self,
        key_log: &str,
        from: SocketAddr,
        payload: &[u8],
    ) -> Vec<(usize, u64, u64)> {
        self.keys(key_log);
        let packets: Vec<Packet> = self.decryptor.datagram(from, LOCAL, payload);
        let mut grew = Vec::new();
        for p in packets {
            let (Some(conn), Space::OneRtt, Ok(frames)) = (p.connection, p.space, &p.frames) else {
                continue;
            };
            for f in frames {
                let Frame::Ack { ranges, .. } = f else {
                    continue;
                };
                let Some(sent) = self.sent.get_mut(&conn) else {
                    continue;
                };
                for &(low, high) in ranges {
                    let pns: Vec<u64> = sent.range(low..=high).map(|(pn, _)| *pn).collect();
                    for pn in pns {
                        for (stream, start, end) in sent.remove(&pn).unwrap_or_default() {
                            let ranges = self.acked.entry((conn, stream)).or_default();
                            let before = prefix(ranges);
                            insert(ranges, start, end);
                            let after = prefix(ranges);
                            if after > before {
                                grew.retain(|g: &(usize, u64, u64)| (g.0, g.1) != (conn, stream));
                                grew.push((conn, stream, after));
                            }
                        }
                    }
                }
            }
        }
        grew
    }
}

/// The end of the acknowledged prefix (0 when byte 0 is not acknowledged).
fn prefix(ranges: &BTreeMap<u64, u64>) -> u64 {
    ranges.get(&0).copied().unwrap_or(0)
}

/// Adds `start..end` to merged ranges.
fn insert(ranges: &mut BTreeMap<u64, u64>, mut start: u64, mut end: u64) {
    // Every range that touches or overlaps the new one is folded into it.
    let touching: Vec<(u64, u64)> = ranges
        .range(..=end)
        .filter(|(s, e)| **e >= start && **s <= end)
        .map(|(s, e)| (*s, *e))
        .collect();
    for (s, e) in touching {
        ranges.remove(&s);
        start = start.min(s);
        end = end.max(e);
    }
    ranges.insert(start, end);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_merge_into_a_prefix() {
        let mut r = BTreeMap::new();
        insert(&mut r, 4, 8);
        assert_eq!(prefix(&r), 0);
        insert(&mut r, 0, 2);
        assert_eq!(prefix(&r), 2);
        insert(&mut r, 2, 4);
        assert_eq!(prefix(&r), 8);
        insert(&mut r, 10, 12);
        insert(&mut r, 6, 11);
        assert_eq!(prefix(&r), 12);
        assert_eq!(r.len(), 1);
    }
}
