//! Byte-layout mutations a family's mutator builds on: boundary integers, length prefixes, TLV
//! options and protobuf fields. Each keeps the bytes *nearly* well-formed — one field changed, the
//! rest intact — which is what reaches a parser's deeper states (plain byte havoc mostly fails the
//! first check).

use arbitrary::Unstructured;

/// Boundary values a length, count, code, id or sequence number is often wrong at.
pub const INTERESTING: [u64; 18] = [
    0,
    1,
    2,
    3,
    4,
    0x7f,
    0x80,
    0xfe,
    0xff,
    0x100,
    0x3fff,
    0x4000,
    0xffff,
    0x1_0000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
];

/// A boundary value, or `current` nudged by one or a flipped bit.
pub fn interesting_int(u: &mut Unstructured<'_>, current: Option<u64>) -> arbitrary::Result<u64> {
    let v = current.unwrap_or(0);
    Ok(match u.int_in_range(0u8..=4)? {
        0 | 1 => *u.choose(&INTERESTING)?,
        2 => v.wrapping_add(1),
        3 => v.wrapping_sub(1),
        _ => v ^ (1u64 << u.int_in_range(0u32..=31)?),
    })
}

/// One of a field's edge values (a family's dictionary: where the facts or the reference put a
/// field's bounds, the values of its enum or flag bits), or one beside it: range checks are off by
/// one at their edges, and a value no library scenario sends is often one of them.
pub fn edge_value(u: &mut Unstructured<'_>, edges: &[u64]) -> arbitrary::Result<u64> {
    let e = *u.choose(edges)?;
    Ok(match u.int_in_range(0u8..=3)? {
        0 => e.wrapping_sub(1),
        1 => e.wrapping_add(1),
        _ => e,
    })
}

/// Writes `value` as an unsigned integer of `width` bytes at `at` (big- or little-endian);
/// `false` if the bytes are too short.
pub fn put_uint(bytes: &mut [u8], at: usize, width: usize, big_endian: bool, value: u64) -> bool {
    let Some(field) = bytes.get_mut(at..at + width) else {
        return false;
    };
    for (i, b) in field.iter_mut().enumerate() {
        let shift = if big_endian { width - 1 - i } else { i } * 8;
        *b = if shift < 64 {
            (value >> shift) as u8
        } else {
            0
        };
    }
    true
}

/// Sets a length prefix of `width` bytes at `at`, which counts the bytes after it, to a value at
/// a boundary of the true length: 0, one less, one more, the largest the width holds, or a
/// family's limit (`limits`).
pub fn mutate_length_prefix(
    bytes: &mut [u8],
    at: usize,
    width: usize,
    big_endian: bool,
    limits: &[u64],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    let true_len = bytes.len().saturating_sub(at + width) as u64;
    let max = if width >= 8 {
        u64::MAX
    } else {
        (1u64 << (width * 8)) - 1
    };
    let mut choices = vec![
        0,
        true_len.saturating_sub(1),
        true_len + 1,
        true_len * 2,
        max,
    ];
    choices.extend(limits.iter().flat_map(|l| [l.saturating_sub(1), *l, l + 1]));
    let v = *u.choose(&choices)?;
    Ok(put_uint(bytes, at, width, big_endian, v.min(max)))
}

/// One change to TLV options (`type` of `type_width` bytes, `length` of `len_width` bytes,
/// little- or big-endian, then the value): a type becomes one of `types` (known and unknown
/// ones), a length goes to a boundary, a TLV is duplicated, dropped or appended, or the last one
/// is cut short; a value becomes a boundary of its width, or one of its type's `edges`.
pub fn mutate_tlvs(
    bytes: &mut Vec<u8>,
    type_width: usize,
    len_width: usize,
    big_endian: bool,
    types: &[u64],
    edges: &dyn Fn(u64) -> &'static [u64],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<()> {
    let head = type_width + len_width;
    // Where each TLV starts (as far as the lengths hold).
    let mut starts = Vec::new();
    let mut at = 0;
    while at + head <= bytes.len() {
        starts.push(at);
        let len = read_uint(bytes, at + type_width, len_width, big_endian) as usize;
        at = at.saturating_add(head).saturating_add(len);
    }
    let op = if starts.is_empty() {
        3
    } else {
        u.int_in_range(0u8..=6)?
    };
    let pick = |u: &mut Unstructured<'_>| -> arbitrary::Result<usize> {
        Ok(starts[u.choose_index(starts.len())?])
    };
    match op {
        0 => {
            let s = pick(u)?;
            let t = *u.choose(types)?;
            put_uint(bytes, s, type_width, big_endian, t);
        }
        1 => {
            let s = pick(u)?;
            mutate_length_prefix(bytes, s + type_width, len_width, big_endian, &[], u)?;
        }
        2 => {
            let s = pick(u)?;
            let len = read_uint(bytes, s + type_width, len_width, big_endian) as usize;
            let end = (s + head + len).min(bytes.len());
            let copy = bytes[s..end].to_vec();
            bytes.splice(end..end, copy);
        }
        3 => {
            let t = *u.choose(types)?;
            let len = *u.choose(&[0usize, 1, 2, 4, 8, 16])?;
            let mut tlv = vec![0u8; head + len];
            put_uint(&mut tlv, 0, type_width, big_endian, t);
            put_uint(&mut tlv, type_width, len_width, big_endian, len as u64);
            fill_value(&mut tlv[head..], big_endian, edges(t), u)?;
            bytes.extend_from_slice(&tlv);
        }
        6 => {
            // An option's value: a boundary integer of its width, or other bytes.
            let s = pick(u)?;
            let t = read_uint(bytes, s, type_width, big_endian);
            let len = read_uint(bytes, s + type_width, len_width, big_endian) as usize;
            let end = (s + head + len).min(bytes.len());
            if s + head <= end {
                fill_value(&mut bytes[s + head..end], big_endian, edges(t), u)?;
            }
        }
        4 => {
            let s = pick(u)?;
            let len = read_uint(bytes, s + type_width, len_width, big_endian) as usize;
            let end = (s + head + len).min(bytes.len());
            bytes.drain(s..end);
        }
        5 => {
            let s = pick(u)?;
            let cut = u.int_in_range(s + 1..=bytes.len().max(s + 1))?;
            bytes.truncate(cut.min(bytes.len()));
        }
        _ => {}
    }
    Ok(())
}

/// Fills a value: one of its `edges` (three times in four, when it has any: a TLV type's own
/// bounds say more than its width's), or a boundary integer of its width (widths up to 8), or
/// printable bytes.
fn fill_value(
    value: &mut [u8],
    big_endian: bool,
    edges: &[u64],
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<()> {
    if value.len() <= 8 && !edges.is_empty() && u.ratio(3u8, 4u8)? {
        let v = edge_value(u, edges)?;
        put_uint(value, 0, value.len(), big_endian, v);
    } else if value.len() <= 8 && u.ratio(3u8, 4u8)? {
        let v = interesting_int(u, None)?;
        put_uint(value, 0, value.len(), big_endian, v);
    } else {
        for b in value.iter_mut() {
            *b = u.int_in_range(0x20u8..=0x7e)?;
        }
    }
    Ok(())
}

/// Sets one of the fixed `fields` (offset, width in bytes) that the bytes reach to a boundary value
/// of its width (a header's version, type, flags, length or sequence field); `false` if none is
/// reached.
pub fn mutate_header_field(
    bytes: &mut [u8],
    fields: &[(usize, usize)],
    big_endian: bool,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<bool> {
    let reached: Vec<&(usize, usize)> = fields
        .iter()
        .filter(|(at, width)| at + width <= bytes.len())
        .collect();
    if reached.is_empty() {
        return Ok(false);
    }
    let (at, width) = *reached[u.choose_index(reached.len())?];
    let current = read_uint(bytes, at, width, big_endian);
    let v = interesting_int(u, Some(current))?;
    let v = if width >= 8 {
        v
    } else {
        v & ((1u64 << (width * 8)) - 1)
    };
    Ok(put_uint(bytes, at, width, big_endian, v))
}

/// The unsigned integer of `width` bytes at `at` (0 where the bytes are too short).
pub fn read_uint(bytes: &[u8], at: usize, width: usize, big_endian: bool) -> u64 {
    let Some(field) = bytes.get(at..at + width) else {
        return 0;
    };
    field.iter().enumerate().fold(0u64, |acc, (i, b)| {
        let shift = if big_endian { width - 1 - i } else { i } * 8;
        if shift < 64 {
            acc | (u64::from(*b) << shift)
        } else {
            acc
        }
    })
}

/// A protobuf (LEB128) varint at `at`: its value and where the next byte is.
pub fn read_varint(bytes: &[u8], mut at: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(at)?;
        at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((v, at));
        }
    }
    None
}

/// Appends `v` as a protobuf (LEB128) varint.
pub fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A protobuf field as read: (tag varint, where its payload starts, where it ends).
struct PbField {
    start: usize,
    key: u64,
    body: usize,
    end: usize,
}

fn pb_fields(bytes: &[u8]) -> Vec<PbField> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some((key, body)) = read_varint(bytes, at) else {
            break;
        };
        let end = match key & 7 {
            0 => match read_varint(bytes, body) {
                Some((_, e)) => e,
                None => break,
            },
            1 => body + 8,
            2 => match read_varint(bytes, body) {
                Some((len, e)) => e.saturating_add(len as usize),
                None => break,
            },
            5 => body + 4,
            _ => break,
        };
        if end > bytes.len() {
            break;
        }
        out.push(PbField {
            start: at,
            key,
            body,
            end,
        });
        at = end;
    }
    out
}

/// One change to protobuf-encoded bytes (field by field, nested messages included as bytes): a
/// varint to a boundary, a length-delimited length off by one or huge, a field number or wire type
/// changed, a field duplicated or dropped, a string field's bytes made long or empty.
pub fn mutate_protobuf(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let fields = pb_fields(bytes);
    if fields.is_empty() {
        return Ok(false);
    }
    let f = &fields[u.choose_index(fields.len())?];
    let (start, body, end) = (f.start, f.body, f.end);
    let mut replacement: Vec<u8> = Vec::new();
    match u.int_in_range(0u8..=5)? {
        // The value of a varint field, or the length of a length-delimited one.
        0 => {
            write_varint(f.key, &mut replacement);
            match f.key & 7 {
                0 => write_varint(interesting_int(u, None)?, &mut replacement),
                2 => {
                    let (len, payload) = read_varint(bytes, body).unwrap_or((0, body));
                    let new_len = *u.choose(&[
                        0,
                        len.saturating_sub(1),
                        len + 1,
                        0x7fff_ffff,
                        u64::MAX >> 1,
                    ])?;
                    write_varint(new_len, &mut replacement);
                    replacement.extend_from_slice(&bytes[payload..end]);
                }
                _ => replacement.extend_from_slice(&bytes[body..end]),
            }
        }
        // Another field number (unknown or a neighbour's), same wire type.
        1 => {
            let number = *u.choose(&[0u64, 1, 2, 3, 4, 5, 6, 7, 15, 16, 100, 536_870_911])?;
            write_varint(number << 3 | (f.key & 7), &mut replacement);
            replacement.extend_from_slice(&bytes[body..end]);
        }
        // Another wire type, same field number.
        2 => {
            let wire = *u.choose(&[0u64, 1, 2, 5, 3, 7])?;
            write_varint((f.key & !7) | wire, &mut replacement);
            replacement.extend_from_slice(&bytes[body..end]);
        }
        3 => {
            replacement.extend_from_slice(&bytes[start..end]);
            replacement.extend_from_slice(&bytes[start..end]);
        }
        4 => {}
        // A length-delimited field's payload: empty, or long.
        _ => {
            write_varint(f.key, &mut replacement);
            if f.key & 7 == 2 {
                let n = *u.choose(&[0usize, 255, 256, 257, 1024, 65_536])?;
                write_varint(n as u64, &mut replacement);
                replacement.extend(std::iter::repeat_n(b'a', n));
            } else {
                replacement.extend_from_slice(&bytes[body..end]);
            }
        }
    }
    bytes.splice(start..end, replacement);
    Ok(true)
}

/// One byte-level change (AFL's havoc stages, one at a time).
pub fn havoc(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    if bytes.is_empty() {
        bytes.push(u.arbitrary()?);
        return Ok(());
    }
    let at = u.choose_index(bytes.len())?;
    match u.int_in_range(0u8..=5)? {
        0 => bytes[at] ^= 1 << u.int_in_range(0u8..=7)?,
        1 => bytes[at] = *u.choose(&[0u8, 1, 0x7f, 0x80, 0xff])?,
        2 => bytes.insert(at, u.arbitrary()?),
        3 => {
            bytes.remove(at);
        }
        4 => {
            let end = (at + u.int_in_range(1usize..=8)?).min(bytes.len());
            let chunk = bytes[at..end].to_vec();
            bytes.splice(at..at, chunk);
        }
        _ => bytes.truncate(at),
    }
    Ok(())
}

/// A deterministic stream of bytes for `arbitrary`, from a seed (the same seed, the same mutations).
pub fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand_core::{RngCore, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_change_within_their_width() {
        let mut changed = 0;
        for seed in 0..30 {
            let data = seeded_bytes(seed, 32);
            let mut u = Unstructured::new(&data);
            let mut b = vec![0x11u8; 6];
            assert!(
                mutate_header_field(&mut b, &[(1, 1), (2, 2), (10, 4)], true, &mut u)
                    .expect("enough bytes")
            );
            assert_eq!(b.len(), 6);
            assert_eq!((b[0], b[4], b[5]), (0x11, 0x11, 0x11), "{b:?}");
            changed += usize::from(b != [0x11u8; 6]);
        }
        assert!(changed > 20, "{changed}");
    }

    #[test]
    fn put_and_read_are_inverse_in_both_orders() {
        let mut b = vec![0u8; 6];
        assert!(put_uint(&mut b, 1, 4, true, 0x0102_0304));
        assert_eq!(b, [0, 1, 2, 3, 4, 0]);
        assert_eq!(read_uint(&b, 1, 4, true), 0x0102_0304);
        assert!(put_uint(&mut b, 0, 2, false, 0xabcd));
        assert_eq!(&b[..2], &[0xcd, 0xab]);
        assert!(!put_uint(&mut b, 5, 2, false, 1));
    }

    #[test]
    fn tlv_mutations_change_one_option_and_keep_the_others() {
        // Two TLVs: type 1 len 4, type 4 len 2 (length u16 LE).
        let base = vec![1, 4, 0, 30, 0, 0, 0, 4, 2, 0, b'V', b'P'];
        let mut changed = 0;
        for seed in 0..40 {
            let data = seeded_bytes(seed, 64);
            let mut u = Unstructured::new(&data);
            let mut b = base.clone();
            mutate_tlvs(
                &mut b,
                1,
                2,
                false,
                &[1, 2, 3, 4, 5, 0, 0xff],
                &|_| &[],
                &mut u,
            )
            .expect("enough bytes");
            if b != base {
                changed += 1;
            }
        }
        assert!(changed > 30, "{changed}");
    }

    #[test]
    fn tlv_values_reach_their_types_edges() {
        // Frame rate (type 1) 30; its edge 100,000 is no boundary of a u32.
        let base = vec![1, 4, 0, 30, 0, 0, 0];
        let edge = 100_000u32.to_le_bytes();
        let reached = (0..400).any(|seed| {
            let data = seeded_bytes(seed, 64);
            let mut u = Unstructured::new(&data);
            let mut b = base.clone();
            let edges = |t: u64| -> &'static [u64] {
                if t == 1 {
                    &[100_000]
                } else {
                    &[]
                }
            };
            mutate_tlvs(&mut b, 1, 2, false, &[1, 4], &edges, &mut u).expect("enough bytes");
            b.get(3..7) == Some(&edge[..])
        });
        assert!(reached);
    }

    #[test]
    fn protobuf_mutations_stay_near_the_message() {
        // field 1 (string "alice"), field 2 (varint 7).
        let base = vec![0x0a, 5, b'a', b'l', b'i', b'c', b'e', 0x10, 7];
        assert_eq!(pb_fields(&base).len(), 2);
        let mut differs = 0;
        for seed in 0..40 {
            let data = seeded_bytes(seed, 64);
            let mut u = Unstructured::new(&data);
            let mut b = base.clone();
            assert!(mutate_protobuf(&mut b, &mut u).expect("enough bytes"));
            differs += usize::from(b != base);
        }
        assert!(differs > 20, "{differs}");
    }

    #[test]
    fn length_prefix_takes_boundaries_of_the_true_length() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..60 {
            let data = seeded_bytes(seed, 16);
            let mut u = Unstructured::new(&data);
            let mut b = vec![0, 0, 0, 3, 1, 2, 3];
            mutate_length_prefix(&mut b, 0, 4, true, &[65_536], &mut u).expect("enough bytes");
            seen.insert(read_uint(&b, 0, 4, true));
        }
        for v in [0, 2, 4, 0xffff_ffff, 65_536, 65_537] {
            assert!(seen.contains(&v), "{v} in {seen:?}");
        }
    }
}
