//! The HPACK Huffman code (RFC 7541 §5.2 and Appendix B), which QPACK string literals use (RFC 9204
//! §4.1.2).
//!
//! The code is canonical: codes of one length are consecutive in symbol order, and lengths grow
//! with the code. So the table is just each symbol's code length (Appendix B's `[n]` column, symbols
//! 0 to 255 and EOS 256); the codes follow from it (the tests check several against Appendix B and
//! that the lengths fill the code space exactly).

/// Code length in bits of symbols 0..=255 and EOS (256).
const LENGTHS: [u8; 257] = [
    13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5,
    5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6,
    6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22,
    23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22,
    21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20,
    22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19,
    21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22,
    22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
];

/// The shortest and longest code lengths.
const MIN_LEN: usize = 5;
const MAX_LEN: usize = 30;

/// Per length: the first code, how many codes, and where its symbols start in [`Canonical::symbols`].
struct Canonical {
    first: [u32; MAX_LEN + 1],
    count: [u32; MAX_LEN + 1],
    offset: [u16; MAX_LEN + 1],
    symbols: [u16; 257],
    codes: [u32; 257],
}

const CANONICAL: Canonical = build();

const fn build() -> Canonical {
    let mut c = Canonical {
        first: [0; MAX_LEN + 1],
        count: [0; MAX_LEN + 1],
        offset: [0; MAX_LEN + 1],
        symbols: [0; 257],
        codes: [0; 257],
    };
    let mut s = 0;
    while s < 257 {
        c.count[LENGTHS[s] as usize] += 1;
        s += 1;
    }
    let mut code = 0u32;
    let mut at = 0u16;
    let mut len = 1;
    while len <= MAX_LEN {
        code <<= 1;
        c.first[len] = code;
        c.offset[len] = at;
        code += c.count[len];
        at += c.count[len] as u16;
        len += 1;
    }
    // Symbols of each length in symbol order, and each symbol's code.
    let mut next = c.offset;
    let mut s = 0;
    while s < 257 {
        let l = LENGTHS[s] as usize;
        let i = next[l];
        c.symbols[i as usize] = s as u16;
        c.codes[s] = c.first[l] + (i - c.offset[l]) as u32;
        next[l] += 1;
        s += 1;
    }
    c
}

/// Why a Huffman string is invalid (RFC 7541 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HuffmanError {
    /// The EOS symbol inside the string.
    Eos,
    /// Padding longer than 7 bits, or not a prefix of EOS (all ones).
    Padding,
}

/// Decodes a Huffman-coded string.
pub fn decode(input: &[u8]) -> Result<Vec<u8>, HuffmanError> {
    let c = &CANONICAL;
    let mut out = Vec::with_capacity(input.len() * 8 / 5);
    let mut code = 0u32;
    let mut len = 0usize;
    for byte in input {
        for shift in (0..8).rev() {
            code = (code << 1) | u32::from((byte >> shift) & 1);
            len += 1;
            if len >= MIN_LEN {
                let k = code.wrapping_sub(c.first[len]);
                if code >= c.first[len] && k < c.count[len] {
                    let sym = c.symbols[(c.offset[len] as u32 + k) as usize];
                    if sym == 256 {
                        return Err(HuffmanError::Eos);
                    }
                    out.push(sym as u8);
                    code = 0;
                    len = 0;
                }
            }
            if len == MAX_LEN {
                // 30 ones are EOS, found above; nothing else is this long.
                return Err(HuffmanError::Eos);
            }
        }
    }
    if len > 7 || code != (1u32 << len) - 1 {
        return Err(HuffmanError::Padding);
    }
    Ok(out)
}

/// Its Huffman coding, padded with ones.
pub fn encode(input: &[u8]) -> Vec<u8> {
    let c = &CANONICAL;
    let mut out = Vec::with_capacity(encoded_len(input));
    let mut acc = 0u64;
    let mut bits = 0u32;
    for &b in input {
        let len = u32::from(LENGTHS[b as usize]);
        acc = (acc << len) | u64::from(c.codes[b as usize]);
        bits += len;
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) as u8) | ((1u8 << pad) - 1));
    }
    out
}

/// The length of [`encode`]'s output.
pub fn encoded_len(input: &[u8]) -> usize {
    let bits: usize = input
        .iter()
        .map(|b| usize::from(LENGTHS[*b as usize]))
        .sum();
    bits.div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn appendix_b_codes() {
        // (symbol, code, length) rows of RFC 7541 Appendix B across all lengths.
        for (sym, code, len) in [
            (0usize, 0x1ff8u32, 13u8),
            (1, 0x7f_ffd8, 23),
            (9, 0xff_ffea, 24),
            (10, 0x3fff_fffc, 30),
            (33, 0x3f8, 10),
            (48, 0x0, 5),
            (92, 0x7_fff0, 19),
            (97, 0x3, 5),
            (153, 0x1f_ffdc, 21),
            (162, 0xf_ffe9, 20),
            (199, 0x1ff_ffec, 25),
            (241, 0x7ff_ffe6, 27),
            (255, 0x3ff_ffee, 26),
            (256, 0x3fff_ffff, 30),
        ] {
            assert_eq!(
                (CANONICAL.codes[sym], LENGTHS[sym]),
                (code, len),
                "symbol {sym}"
            );
        }
        // The lengths fill the code space exactly (Kraft sum 1).
        let kraft: u64 = LENGTHS
            .iter()
            .map(|l| 1u64 << (MAX_LEN - *l as usize))
            .sum();
        assert_eq!(kraft, 1 << MAX_LEN);
    }

    // RFC 7541 Appendix C.4 and C.6.
    #[rstest]
    #[case("www.example.com", "f1e3c2e5f23a6ba0ab90f4ff")]
    #[case("no-cache", "a8eb10649cbf")]
    #[case("custom-key", "25a849e95ba97d7f")]
    #[case("custom-value", "25a849e95bb8e8b4bf")]
    #[case("302", "6402")]
    #[case("private", "aec3771a4b")]
    #[case(
        "Mon, 21 Oct 2013 20:13:21 GMT",
        "d07abe941054d444a8200595040b8166e082a62d1bff"
    )]
    #[case("https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3")]
    fn rfc_examples(#[case] text: &str, #[case] hex: &str) {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        assert_eq!(encode(text.as_bytes()), bytes);
        assert_eq!(encoded_len(text.as_bytes()), bytes.len());
        assert_eq!(decode(&bytes).unwrap(), text.as_bytes());
    }

    #[test]
    fn invalid() {
        assert_eq!(decode(&[0xff, 0xff, 0xff, 0xff]), Err(HuffmanError::Eos));
        assert_eq!(decode(&[0xff]), Err(HuffmanError::Padding)); // 8 bits of padding
        assert_eq!(decode(&[0x00]), Err(HuffmanError::Padding)); // '0' then 3 zero bits
        assert_eq!(decode(&[]), Ok(vec![]));
    }
}
