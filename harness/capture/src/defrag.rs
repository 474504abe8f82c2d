//! Bounded IP fragment reassembly (IPv4 and the IPv6 fragment extension header).
//!
//! Written here rather than taken from `etherparse::defrag`: that pool has no bound on the
//! number of datagrams in progress (its docs say so) and no way to count what it drops.
//!
//! Bounds: a reassembled IP payload is at most [`MAX_DATAGRAM`] bytes, at most
//! [`MAX_IN_PROGRESS`] datagrams are reassembled at once (the oldest is evicted first), and a
//! datagram whose first fragment is older than [`TIMEOUT_NS`] (capture time) is abandoned.
//! Every fragment thrown away is counted, so that nothing disappears silently.

use std::net::IpAddr;

/// Largest reassembled IP payload (UDP header + data), in bytes.
pub(crate) const MAX_DATAGRAM: usize = 65_535;
/// Largest number of datagrams reassembled at the same time.
pub(crate) const MAX_IN_PROGRESS: usize = 64;
/// A datagram not completed this long (capture time) after its first fragment is dropped.
/// Same value as Linux's `ipfrag_time`.
pub(crate) const TIMEOUT_NS: u64 = 30_000_000_000;

/// Fragment offsets are in units of 8 bytes: one bit per 8-byte block.
const BLOCKS: usize = MAX_DATAGRAM.div_ceil(8);
const WORDS: usize = BLOCKS.div_ceil(64);

/// What identifies the fragments of one datagram (RFC 791 / RFC 8200).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub identification: u32,
    pub protocol: u8,
}

/// One fragment: where its data goes and whether more follow.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fragment<'a> {
    /// Byte offset of `data` in the reassembled IP payload.
    pub offset: usize,
    pub more_fragments: bool,
    pub data: &'a [u8],
}

#[derive(Debug)]
struct Entry {
    key: FragKey,
    data: Vec<u8>,
    /// Which 8-byte blocks have been received.
    filled: Box<[u64; WORDS]>,
    filled_blocks: usize,
    /// One past the highest byte received so far.
    high_water: usize,
    /// Length of the whole payload, known once the last fragment arrived.
    end: Option<usize>,
    fragments: u64,
    first_ts_ns: u64,
    seq: u64,
}

impl Entry {
    fn new(key: FragKey, first_ts_ns: u64, seq: u64) -> Self {
        Entry {
            key,
            data: Vec::new(),
            filled: Box::new([0; WORDS]),
            filled_blocks: 0,
            high_water: 0,
            end: None,
            fragments: 0,
            first_ts_ns,
            seq,
        }
    }

    /// Marks the 8-byte blocks `first..last` (exclusive) as received.
    fn mark(&mut self, first: usize, last: usize) {
        for block in first..last {
            if let Some(word) = self.filled.get_mut(block / 64) {
                let bit = 1u64 << (block % 64);
                if *word & bit == 0 {
                    *word |= bit;
                    self.filled_blocks += 1;
                }
            }
        }
    }

    fn is_complete(&self) -> bool {
        self.end
            .is_some_and(|end| self.high_water <= end && self.filled_blocks == end.div_ceil(8))
    }
}

/// Reassembles fragmented IP payloads. See the module docs for the bounds.
#[derive(Debug, Default)]
pub(crate) struct Reassembler {
    entries: Vec<Entry>,
    next_seq: u64,
}

impl Reassembler {
    /// Adds one fragment. Returns the whole IP payload when this fragment completes it.
    /// Fragments thrown away (this one or earlier ones) are added to `discarded`.
    pub(crate) fn add(
        &mut self,
        key: FragKey,
        frag: Fragment<'_>,
        ts_ns: u64,
        discarded: &mut u64,
    ) -> Option<Vec<u8>> {
        let mut index = self.entries.iter().position(|e| e.key == key);

        // Abandon a stale datagram with the same key (identification reuse, lost fragment).
        if let Some(i) = index {
            let stale = self
                .entries
                .get(i)
                .is_some_and(|e| ts_ns.saturating_sub(e.first_ts_ns) > TIMEOUT_NS);
            if stale {
                self.drop_entry(i, discarded);
                index = None;
            }
        }

        let frag_end = frag.offset.saturating_add(frag.data.len());
        let misaligned = frag.offset % 8 != 0 || (frag.more_fragments && frag.data.len() % 8 != 0);
        let empty_middle = frag.more_fragments && frag.data.is_empty();
        if frag_end > MAX_DATAGRAM || misaligned || empty_middle {
            // Too big or impossible: the datagram cannot be rebuilt correctly.
            if let Some(i) = index {
                self.drop_entry(i, discarded);
            }
            *discarded += 1;
            return None;
        }

        let i = match index {
            Some(i) => i,
            None => {
                if self.entries.len() >= MAX_IN_PROGRESS {
                    self.evict_oldest(discarded);
                }
                self.entries.push(Entry::new(key, ts_ns, self.next_seq));
                self.next_seq += 1;
                self.entries.len() - 1
            }
        };
        let entry = self.entries.get_mut(i)?;

        // A fragment that contradicts the datagram's known end: drop what we have and this one.
        let conflicts = match (entry.end, frag.more_fragments) {
            (Some(end), true) => frag_end > end,
            (Some(end), false) => frag_end != end,
            (None, false) => entry.high_water > frag_end,
            (None, true) => false,
        };
        if conflicts {
            self.drop_entry(i, discarded);
            *discarded += 1;
            return None;
        }

        if entry.data.len() < frag_end {
            entry.data.resize(frag_end, 0);
        }
        if let Some(dst) = entry.data.get_mut(frag.offset..frag_end) {
            dst.copy_from_slice(frag.data);
        }
        entry.mark(frag.offset / 8, frag_end.div_ceil(8));
        entry.high_water = entry.high_water.max(frag_end);
        entry.fragments += 1;
        if !frag.more_fragments {
            entry.end = Some(frag_end);
        }

        if entry.is_complete() {
            let done = self.entries.swap_remove(i);
            let mut data = done.data;
            data.truncate(done.end.unwrap_or(0));
            return Some(data);
        }
        None
    }

    /// Abandons every datagram still in progress (end of the capture), counting its fragments.
    pub(crate) fn abandon_all(&mut self, discarded: &mut u64) {
        for entry in self.entries.drain(..) {
            *discarded += entry.fragments;
        }
    }

    fn drop_entry(&mut self, i: usize, discarded: &mut u64) {
        if i < self.entries.len() {
            let entry = self.entries.swap_remove(i);
            *discarded += entry.fragments;
        }
    }

    fn evict_oldest(&mut self, discarded: &mut u64) {
        let oldest = self
            .entries
            .iter()
            .enumerate()
            .min_by_key(|(_, e)| e.seq)
            .map(|(i, _)| i);
        if let Some(i) = oldest {
            self.drop_entry(i, discarded);
        }
    }

    #[cfg(test)]
    fn in_progress(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> FragKey {
        FragKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            identification: id,
            protocol: 17,
        }
    }

    fn frag(offset: usize, more_fragments: bool, data: &[u8]) -> Fragment<'_> {
        Fragment {
            offset,
            more_fragments,
            data,
        }
    }

    #[test]
    fn in_order_and_out_of_order() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let chunks: Vec<(usize, &[u8])> = payload
            .chunks(1480)
            .enumerate()
            .map(|(i, c)| (i * 1480, c))
            .collect();
        for order in [[0usize, 1, 2], [2, 0, 1], [1, 2, 0]] {
            let mut r = Reassembler::default();
            let mut discarded = 0;
            let mut out = None;
            for &n in &order {
                let (offset, data) = chunks[n];
                let more = n != 2;
                assert!(out.is_none());
                out = r.add(key(7), frag(offset, more, data), 0, &mut discarded);
            }
            assert_eq!(out.as_deref(), Some(&payload[..]));
            assert_eq!(discarded, 0);
            assert_eq!(r.in_progress(), 0);
        }
    }

    #[test]
    fn duplicate_fragment_is_harmless() {
        let mut r = Reassembler::default();
        let mut d = 0;
        assert!(r.add(key(1), frag(0, true, &[1; 8]), 0, &mut d).is_none());
        assert!(r.add(key(1), frag(0, true, &[1; 8]), 0, &mut d).is_none());
        let out = r.add(key(1), frag(8, false, &[2; 3]), 0, &mut d);
        assert_eq!(out, Some(vec![1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2]));
        assert_eq!(d, 0);
    }

    #[test]
    fn oversized_and_misaligned_fragments_are_discarded() {
        let mut r = Reassembler::default();
        let mut d = 0;
        assert!(r.add(key(1), frag(0, true, &[0; 8]), 0, &mut d).is_none());
        // Would end beyond 64 KiB: drops the datagram in progress and this fragment.
        assert!(r
            .add(key(1), frag(65_528, false, &[0; 16]), 0, &mut d)
            .is_none());
        assert_eq!(d, 2);
        assert!(r.add(key(2), frag(0, true, &[0; 7]), 0, &mut d).is_none());
        assert_eq!(d, 3);
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn conflicting_end_drops_the_datagram() {
        let mut r = Reassembler::default();
        let mut d = 0;
        assert!(r.add(key(1), frag(8, false, &[0; 4]), 0, &mut d).is_none());
        assert!(r.add(key(1), frag(16, true, &[0; 8]), 0, &mut d).is_none());
        assert_eq!(d, 2);
        assert_eq!(r.in_progress(), 0);
    }

    #[test]
    fn in_progress_is_bounded_and_eviction_counted() {
        let mut r = Reassembler::default();
        let mut d = 0;
        for id in 0..(MAX_IN_PROGRESS as u32 + 10) {
            assert!(r.add(key(id), frag(0, true, &[0; 8]), 0, &mut d).is_none());
        }
        assert_eq!(r.in_progress(), MAX_IN_PROGRESS);
        assert_eq!(d, 10);
        r.abandon_all(&mut d);
        assert_eq!(d, MAX_IN_PROGRESS as u64 + 10);
    }

    #[test]
    fn stale_datagram_times_out() {
        let mut r = Reassembler::default();
        let mut d = 0;
        assert!(r.add(key(1), frag(0, true, &[0; 8]), 0, &mut d).is_none());
        // Same key much later: the old fragment is dropped, the new one starts over.
        let late = TIMEOUT_NS + 1;
        assert!(r
            .add(key(1), frag(8, false, &[9; 2]), late, &mut d)
            .is_none());
        assert_eq!(d, 1);
        let out = r.add(key(1), frag(0, true, &[5; 8]), late, &mut d);
        assert_eq!(out, Some(vec![5, 5, 5, 5, 5, 5, 5, 5, 9, 9]));
    }
}
