//! QPACK field sections (RFC 9204 §4.5) with the static table only: what a peer that advertises no
//! dynamic table (QPACK_MAX_TABLE_CAPACITY absent or 0) receives, and all an extended CONNECT and its
//! 200 need.
//!
//! A section is the prefix (Required Insert Count, sign + Delta Base; `00 00` without a dynamic
//! table) then field lines: indexed (`11` + 6-bit static index), literal with name reference (`01 N
//! 1` + 4-bit static index, then the value) and literal with literal name (`001 N H` + 3-bit name
//! length, name, then the value). A value is `H` + 7-bit length + bytes.
//!
//! String literals may be Huffman-coded ([`crate::huffman`]; aioquic's ls-qpack encoder is expected
//! to code them when that is shorter): [`FieldSection::parse`] decodes both forms, [`FieldSection::emit`]
//! writes plain literals and [`FieldSection::emit_huffman`] Huffman-codes every literal.
//!
//! Not supported (typed errors): dynamic table references and the post-base forms
//! ([`QpackError::DynamicTable`]).

use crate::error::QpackError;

/// RFC 9204 Appendix A, indices 0 to 98.
pub const STATIC_TABLE: [(&str, &str); 99] = [
    (":authority", ""),
    (":path", "/"),
    ("age", "0"),
    ("content-disposition", ""),
    ("content-length", "0"),
    ("cookie", ""),
    ("date", ""),
    ("etag", ""),
    ("if-modified-since", ""),
    ("if-none-match", ""),
    ("last-modified", ""),
    ("link", ""),
    ("location", ""),
    ("referer", ""),
    ("set-cookie", ""),
    (":method", "CONNECT"),
    (":method", "DELETE"),
    (":method", "GET"),
    (":method", "HEAD"),
    (":method", "OPTIONS"),
    (":method", "POST"),
    (":method", "PUT"),
    (":scheme", "http"),
    (":scheme", "https"),
    (":status", "103"),
    (":status", "200"),
    (":status", "304"),
    (":status", "404"),
    (":status", "503"),
    ("accept", "*/*"),
    ("accept", "application/dns-message"),
    ("accept-encoding", "gzip, deflate, br"),
    ("accept-ranges", "bytes"),
    ("access-control-allow-headers", "cache-control"),
    ("access-control-allow-headers", "content-type"),
    ("access-control-allow-origin", "*"),
    ("cache-control", "max-age=0"),
    ("cache-control", "max-age=2592000"),
    ("cache-control", "max-age=604800"),
    ("cache-control", "no-cache"),
    ("cache-control", "no-store"),
    ("cache-control", "public, max-age=31536000"),
    ("content-encoding", "br"),
    ("content-encoding", "gzip"),
    ("content-type", "application/dns-message"),
    ("content-type", "application/javascript"),
    ("content-type", "application/json"),
    ("content-type", "application/x-www-form-urlencoded"),
    ("content-type", "image/gif"),
    ("content-type", "image/jpeg"),
    ("content-type", "image/png"),
    ("content-type", "text/css"),
    ("content-type", "text/html; charset=utf-8"),
    ("content-type", "text/plain"),
    ("content-type", "text/plain;charset=utf-8"),
    ("range", "bytes=0-"),
    ("strict-transport-security", "max-age=31536000"),
    (
        "strict-transport-security",
        "max-age=31536000; includesubdomains",
    ),
    (
        "strict-transport-security",
        "max-age=31536000; includesubdomains; preload",
    ),
    ("vary", "accept-encoding"),
    ("vary", "origin"),
    ("x-content-type-options", "nosniff"),
    ("x-xss-protection", "1; mode=block"),
    (":status", "100"),
    (":status", "204"),
    (":status", "206"),
    (":status", "302"),
    (":status", "400"),
    (":status", "403"),
    (":status", "421"),
    (":status", "425"),
    (":status", "500"),
    ("accept-language", ""),
    ("access-control-allow-credentials", "FALSE"),
    ("access-control-allow-credentials", "TRUE"),
    ("access-control-allow-headers", "*"),
    ("access-control-allow-methods", "get"),
    ("access-control-allow-methods", "get, post, options"),
    ("access-control-allow-methods", "options"),
    ("access-control-expose-headers", "content-length"),
    ("access-control-request-headers", "content-type"),
    ("access-control-request-method", "get"),
    ("access-control-request-method", "post"),
    ("alt-svc", "clear"),
    ("authorization", ""),
    (
        "content-security-policy",
        "script-src 'none'; object-src 'none'; base-uri 'none'",
    ),
    ("early-data", "1"),
    ("expect-ct", ""),
    ("forwarded", ""),
    ("if-range", ""),
    ("origin", ""),
    ("purpose", "prefetch"),
    ("server", ""),
    ("timing-allow-origin", "*"),
    ("upgrade-insecure-requests", "1"),
    ("user-agent", ""),
    ("x-forwarded-for", ""),
    ("x-frame-options", "deny"),
    ("x-frame-options", "sameorigin"),
];

/// A header field: name and value as bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The name (lower case on the wire in HTTP/3).
    pub name: Vec<u8>,
    /// The value.
    pub value: Vec<u8>,
}

impl Field {
    /// A field from anything byte-like.
    pub fn new(name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Field {
        Field {
            name: name.as_ref().to_vec(),
            value: value.as_ref().to_vec(),
        }
    }
}

/// One field line representation (static table only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldLine {
    /// `11` + static index: name and value from the table.
    Indexed {
        /// The static index.
        index: u64,
    },
    /// `01 N 1` + static index for the name, then a literal value.
    LiteralNameRef {
        /// N: intermediaries must not index it.
        never_index: bool,
        /// The static index of the name.
        index: u64,
        /// The value.
        value: Vec<u8>,
    },
    /// `001 N` + literal name, then a literal value.
    LiteralName {
        /// N.
        never_index: bool,
        /// The name.
        name: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
}

/// A field section: the field lines of a HEADERS frame's payload, Required Insert Count 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct FieldSection {
    /// The lines, in order.
    pub lines: Vec<FieldLine>,
}

fn encode_int(prefix_bits: u8, flags: u8, value: u64, out: &mut Vec<u8>) {
    let max = (1u64 << prefix_bits) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 0x80 {
        out.push((rest as u8 & 0x7f) | 0x80);
        rest >>= 7;
    }
    out.push(rest as u8);
}

fn decode_int(prefix_bits: u8, buf: &mut &[u8]) -> Result<u64, QpackError> {
    let (&first, rest) = buf.split_first().ok_or(QpackError::UnexpectedEnd)?;
    *buf = rest;
    let max = (1u64 << prefix_bits) - 1;
    let mut value = u64::from(first) & max;
    if value < max {
        return Ok(value);
    }
    let mut shift = 0u32;
    loop {
        let (&b, rest) = buf.split_first().ok_or(QpackError::UnexpectedEnd)?;
        *buf = rest;
        let part = u64::from(b & 0x7f);
        if shift > 56 || (part << shift) >> shift != part {
            return Err(QpackError::IntegerOverflow);
        }
        value = value
            .checked_add(part << shift)
            .filter(|v| *v < 1 << 62)
            .ok_or(QpackError::IntegerOverflow)?;
        if b & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// A string literal whose H bit sits just above a `prefix_bits`-bit length.
fn decode_string(prefix_bits: u8, buf: &mut &[u8]) -> Result<Vec<u8>, QpackError> {
    let huffman = buf.first().ok_or(QpackError::UnexpectedEnd)? & (1 << prefix_bits) != 0;
    let len = decode_int(prefix_bits, buf)?;
    let n = usize::try_from(len).map_err(|_| QpackError::StringTooLong(len))?;
    if n > buf.len() {
        return Err(QpackError::StringTooLong(len));
    }
    let (s, rest) = buf.split_at(n);
    *buf = rest;
    if huffman {
        return crate::huffman::decode(s).map_err(QpackError::Huffman);
    }
    Ok(s.to_vec())
}

fn encode_string(prefix_bits: u8, flags: u8, s: &[u8], huffman: bool, out: &mut Vec<u8>) {
    if huffman {
        let coded = crate::huffman::encode(s);
        encode_int(
            prefix_bits,
            flags | 1 << prefix_bits,
            coded.len() as u64,
            out,
        );
        out.extend_from_slice(&coded);
    } else {
        encode_int(prefix_bits, flags, s.len() as u64, out);
        out.extend_from_slice(s);
    }
}

fn static_entry(index: u64) -> Result<(&'static str, &'static str), QpackError> {
    usize::try_from(index)
        .ok()
        .and_then(|i| STATIC_TABLE.get(i))
        .copied()
        .ok_or(QpackError::StaticIndex(index))
}

impl FieldSection {
    /// Parses a HEADERS payload.
    pub fn parse(mut buf: &[u8]) -> Result<FieldSection, QpackError> {
        let buf = &mut buf;
        if decode_int(8, buf)? != 0 {
            return Err(QpackError::DynamicTable);
        }
        let _delta_base = decode_int(7, buf)?;
        let mut lines = Vec::new();
        while let Some(&b) = buf.first() {
            let line = if b & 0x80 != 0 {
                if b & 0x40 == 0 {
                    return Err(QpackError::DynamicTable);
                }
                let index = decode_int(6, buf)?;
                static_entry(index)?;
                FieldLine::Indexed { index }
            } else if b & 0x40 != 0 {
                if b & 0x10 == 0 {
                    return Err(QpackError::DynamicTable);
                }
                let never_index = b & 0x20 != 0;
                let index = decode_int(4, buf)?;
                static_entry(index)?;
                let value = decode_string(7, buf)?;
                FieldLine::LiteralNameRef {
                    never_index,
                    index,
                    value,
                }
            } else if b & 0x20 != 0 {
                let never_index = b & 0x10 != 0;
                let name = decode_string(3, buf)?;
                let value = decode_string(7, buf)?;
                FieldLine::LiteralName {
                    never_index,
                    name,
                    value,
                }
            } else {
                // 0001: indexed post-base; 0000: literal with post-base name reference.
                return Err(QpackError::DynamicTable);
            };
            lines.push(line);
        }
        Ok(FieldSection { lines })
    }

    /// Appends the section (prefix `00 00`, plain literals).
    pub fn emit(&self, out: &mut Vec<u8>) {
        self.emit_with(false, out);
    }

    /// Appends the section with every string literal Huffman-coded.
    pub fn emit_huffman(&self, out: &mut Vec<u8>) {
        self.emit_with(true, out);
    }

    fn emit_with(&self, huffman: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(&[0x00, 0x00]);
        for line in &self.lines {
            match line {
                FieldLine::Indexed { index } => encode_int(6, 0xc0, *index, out),
                FieldLine::LiteralNameRef {
                    never_index,
                    index,
                    value,
                } => {
                    encode_int(4, 0x50 | if *never_index { 0x20 } else { 0 }, *index, out);
                    encode_string(7, 0x00, value, huffman, out);
                }
                FieldLine::LiteralName {
                    never_index,
                    name,
                    value,
                } => {
                    encode_string(
                        3,
                        0x20 | if *never_index { 0x10 } else { 0 },
                        name,
                        huffman,
                        out,
                    );
                    encode_string(7, 0x00, value, huffman, out);
                }
            }
        }
    }

    /// Its bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.emit(&mut out);
        out
    }

    /// The fields, static references resolved (`StaticIndex` for an index the table lacks).
    pub fn fields(&self) -> Result<Vec<Field>, QpackError> {
        self.lines
            .iter()
            .map(|line| {
                Ok(match line {
                    FieldLine::Indexed { index } => {
                        let (n, v) = static_entry(*index)?;
                        Field::new(n, v)
                    }
                    FieldLine::LiteralNameRef { index, value, .. } => Field {
                        name: static_entry(*index)?.0.as_bytes().to_vec(),
                        value: value.clone(),
                    },
                    FieldLine::LiteralName { name, value, .. } => Field {
                        name: name.clone(),
                        value: value.clone(),
                    },
                })
            })
            .collect()
    }

    /// The shortest static-table encoding of `fields`: an exact table entry is indexed, a known name
    /// is referenced, anything else is a literal name.
    pub fn encode(fields: &[Field]) -> FieldSection {
        let lines = fields
            .iter()
            .map(|f| {
                let exact = STATIC_TABLE
                    .iter()
                    .position(|(n, v)| n.as_bytes() == f.name && v.as_bytes() == f.value);
                let by_name = STATIC_TABLE
                    .iter()
                    .position(|(n, _)| n.as_bytes() == f.name);
                match (exact, by_name) {
                    (Some(i), _) => FieldLine::Indexed { index: i as u64 },
                    (None, Some(i)) => FieldLine::LiteralNameRef {
                        never_index: false,
                        index: i as u64,
                        value: f.value.clone(),
                    },
                    (None, None) => FieldLine::LiteralName {
                        never_index: false,
                        name: f.name.clone(),
                        value: f.value.clone(),
                    },
                }
            })
            .collect();
        FieldSection { lines }
    }
}

/// The fields of an extended CONNECT opening a WebTransport session (RFC 9220, draft-ietf-webtrans-http3).
pub fn webtransport_connect(authority: &str, path: &str) -> Vec<Field> {
    vec![
        Field::new(":method", "CONNECT"),
        Field::new(":scheme", "https"),
        Field::new(":authority", authority),
        Field::new(":path", path),
        Field::new(":protocol", "webtransport"),
    ]
}

/// The fields of the 200 accepting it, as both aioquic's example server and web-transport-quinn send
/// them (`sec-webtransport-http3-draft: draft02`).
pub fn webtransport_ok() -> Vec<Field> {
    vec![
        Field::new(":status", "200"),
        Field::new("sec-webtransport-http3-draft", "draft02"),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[test]
    fn connect_bytes() {
        let section = FieldSection::encode(&webtransport_connect("example.com", "/wt"));
        let bytes = section.to_vec();
        let mut expected = vec![0x00, 0x00, 0xc0 | 15, 0xc0 | 23];
        expected.extend([0x50, 11]);
        expected.extend(b"example.com");
        expected.extend([0x51, 3]);
        expected.extend(b"/wt");
        expected.extend([0x27, 0x02]); // literal name of 9 bytes: 3-bit prefix 7 + 2
        expected.extend(b":protocol");
        expected.push(12);
        expected.extend(b"webtransport");
        assert_eq!(bytes, expected);
        let parsed = FieldSection::parse(&bytes).unwrap();
        assert_eq!(parsed, section);
        assert_eq!(
            parsed.fields().unwrap(),
            webtransport_connect("example.com", "/wt")
        );
    }

    #[test]
    fn ok_bytes() {
        let bytes = FieldSection::encode(&webtransport_ok()).to_vec();
        assert_eq!(&bytes[..3], [0x00, 0x00, 0xd9]);
        assert_eq!(
            FieldSection::parse(&bytes).unwrap().fields().unwrap(),
            webtransport_ok()
        );
    }

    #[rstest]
    #[case(&[0x01, 0x00], QpackError::DynamicTable)]
    #[case(&[0x00, 0x00, 0x80], QpackError::DynamicTable)]
    #[case(&[0x00, 0x00, 0x40, 0x00], QpackError::DynamicTable)]
    #[case(&[0x00, 0x00, 0x10], QpackError::DynamicTable)]
    #[case(&[0x00, 0x00, 0x00], QpackError::DynamicTable)]
    #[case(&[0x00, 0x00, 0xff, 0x24], QpackError::StaticIndex(99))]
    #[case(&[0x00, 0x00, 0x51, 0x81, 0xff], QpackError::Huffman(crate::huffman::HuffmanError::Padding))]
    #[case(&[0x00, 0x00, 0x51, 0x05, 0x61], QpackError::StringTooLong(5))]
    #[case(&[0x00, 0x00, 0x51], QpackError::UnexpectedEnd)]
    #[case(&[0x00], QpackError::UnexpectedEnd)]
    #[case(&[0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], QpackError::IntegerOverflow)]
    fn rejects(#[case] bytes: &[u8], #[case] err: QpackError) {
        assert_eq!(FieldSection::parse(bytes), Err(err));
    }

    #[test]
    fn huffman_literals() {
        let section = FieldSection::encode(&webtransport_connect("www.example.com", "/wt"));
        let mut bytes = Vec::new();
        section.emit_huffman(&mut bytes);
        // :authority by name reference, value Huffman-coded (RFC 7541 C.4.1's bytes).
        let at = bytes.iter().position(|b| *b == 0x50).unwrap();
        assert_eq!(bytes[at + 1], 0x80 | 12);
        assert_eq!(
            bytes[at + 2..at + 14],
            [0xf1, 0xe3, 0xc2, 0xe5, 0xf2, 0x3a, 0x6b, 0xa0, 0xab, 0x90, 0xf4, 0xff]
        );
        assert_eq!(FieldSection::parse(&bytes), Ok(section));
    }

    #[test]
    fn long_integers() {
        let mut out = Vec::new();
        encode_int(6, 0xc0, 98, &mut out);
        assert_eq!(out, [0xff, 0x23]);
        let mut out = Vec::new();
        encode_int(5, 0, 1337, &mut out); // RFC 7541 C.1.2
        assert_eq!(out, [0x1f, 0x9a, 0x0a]);
        assert_eq!(decode_int(5, &mut &out[..]), Ok(1337));
    }
}
