//! The payload fill pattern of ctsTraffic's `-verify:data` (the default): the little-endian u16 counter
//! 0, 1, …, 32767 as bytes, repeating every 65,536 bytes. Every datagram's payload is the pattern from
//! offset 0, even a later datagram of the same frame.

/// Bytes after which the pattern repeats.
pub const PATTERN_PERIOD: usize = 65_536;

static PATTERN: [u8; PATTERN_PERIOD] = build_pattern();

const fn build_pattern() -> [u8; PATTERN_PERIOD] {
    let mut pattern = [0u8; PATTERN_PERIOD];
    let mut i = 0;
    while i < PATTERN_PERIOD / 2 {
        let le = (i as u16).to_le_bytes();
        pattern[2 * i] = le[0];
        pattern[2 * i + 1] = le[1];
        i += 1;
    }
    pattern
}

/// The pattern byte at `offset`.
pub fn pattern_byte(offset: u64) -> u8 {
    // The modulo keeps the index within the table.
    PATTERN
        .get((offset % PATTERN_PERIOD as u64) as usize)
        .copied()
        .unwrap_or(0)
}

/// `pattern[start .. start + len]` when it does not wrap around the period, as a borrowed slice
/// (the common case: payloads of datagrams that fit in UDP start at 0 and are shorter than the period).
/// Wrapping or overlong requests are clipped at the period's end.
pub fn pattern_slice(start: usize, len: usize) -> &'static [u8] {
    let start = start % PATTERN_PERIOD;
    let end = start.saturating_add(len).min(PATTERN_PERIOD);
    PATTERN.get(start..end).unwrap_or(&[])
}

/// Fills `buf` with `pattern[start ..]`.
pub fn fill_pattern(buf: &mut [u8], start: u64) {
    let mut at = (start % PATTERN_PERIOD as u64) as usize;
    for chunk in buf.chunks_mut(PATTERN_PERIOD) {
        let first = chunk.len().min(PATTERN_PERIOD - at);
        let (head, tail) = chunk.split_at_mut(first);
        head.copy_from_slice(pattern_slice(at, first));
        tail.copy_from_slice(pattern_slice(0, tail.len()));
        at = (at + chunk.len()) % PATTERN_PERIOD;
    }
}

/// The first byte where a payload differs from the pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PatternMismatch {
    /// Offset within the payload.
    pub offset: usize,
    /// The pattern byte expected there.
    pub expected: u8,
    /// The byte found.
    pub actual: u8,
}

impl core::fmt::Display for PatternMismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "payload differs from the fill pattern at byte {}: expected 0x{:02x}, got 0x{:02x}",
            self.offset, self.expected, self.actual
        )
    }
}

/// Checks `payload == pattern[0 .. payload.len()]`, comparing a period at a time (memcmp speed).
pub fn verify_pattern(payload: &[u8]) -> Result<(), PatternMismatch> {
    for (chunk_index, chunk) in payload.chunks(PATTERN_PERIOD).enumerate() {
        let expected = pattern_slice(0, chunk.len());
        if chunk != expected {
            let (at, (&actual, &expected)) = chunk
                .iter()
                .zip(expected)
                .enumerate()
                .find(|(_, (a, e))| a != e)
                .unwrap_or((0, (&0, &0)));
            return Err(PatternMismatch {
                offset: chunk_index * PATTERN_PERIOD + at,
                expected,
                actual,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_anchors_from_the_facts() {
        assert_eq!(pattern_slice(0, 6), &[0, 0, 1, 0, 2, 0]);
        assert_eq!(pattern_slice(65_534, 2), &[0xff, 0x7f]);
        assert_eq!((pattern_byte(65_536), pattern_byte(65_537)), (0, 0));
        assert_eq!(pattern_byte(510), 0xff);
    }

    #[test]
    fn fill_wraps_around_the_period() {
        let mut buf = vec![0xEEu8; 2 * PATTERN_PERIOD + 10];
        fill_pattern(&mut buf, 65_530);
        for (i, &b) in buf.iter().enumerate() {
            assert_eq!(b, pattern_byte(65_530 + i as u64), "byte {i}");
        }
    }

    #[test]
    fn verify_reports_the_first_mismatch_even_past_one_period() {
        let mut payload = vec![0u8; PATTERN_PERIOD + 100];
        fill_pattern(&mut payload, 0);
        assert_eq!(verify_pattern(&payload), Ok(()));
        payload[PATTERN_PERIOD + 3] ^= 0x40;
        assert_eq!(
            verify_pattern(&payload),
            Err(PatternMismatch {
                offset: PATTERN_PERIOD + 3,
                expected: 0x00,
                actual: 0x40
            })
        );
        assert_eq!(verify_pattern(&[]), Ok(()));
    }
}
