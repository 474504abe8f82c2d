//! TLV options after the 41-byte control body (decision D14): type u8, length u16 LE, value.
//! Unknown types are kept (and skipped by endpoints); a TLV running past the end is invalid, and so is a
//! known fixed-size type with the wrong length (this project's reading: D14 gives each type's width).

use core::fmt;

use super::error::{EmitError, TlvError};

/// Bytes in a TLV header (type u8 + length u16).
pub const TLV_HEADER_LEN: usize = 3;

/// The option types of D14.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlvType {
    /// 1: frame rate, u32.
    FrameRate,
    /// 2: bits per second, u64.
    BitsPerSecond,
    /// 3: buffer depth in ms, u32.
    BufferDepthMs,
    /// 4: codec hint, ASCII of any length.
    CodecHint,
    /// 5: maximum datagram bytes, u32.
    MaxDatagramBytes,
}

impl TlvType {
    /// The type for a code, if known.
    pub const fn from_code(code: u8) -> Option<TlvType> {
        match code {
            1 => Some(TlvType::FrameRate),
            2 => Some(TlvType::BitsPerSecond),
            3 => Some(TlvType::BufferDepthMs),
            4 => Some(TlvType::CodecHint),
            5 => Some(TlvType::MaxDatagramBytes),
            _ => None,
        }
    }

    /// The wire code.
    pub const fn code(self) -> u8 {
        match self {
            TlvType::FrameRate => 1,
            TlvType::BitsPerSecond => 2,
            TlvType::BufferDepthMs => 3,
            TlvType::CodecHint => 4,
            TlvType::MaxDatagramBytes => 5,
        }
    }

    /// snake_case name, as in JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            TlvType::FrameRate => "frame_rate",
            TlvType::BitsPerSecond => "bits_per_second",
            TlvType::BufferDepthMs => "buffer_depth_ms",
            TlvType::CodecHint => "codec_hint",
            TlvType::MaxDatagramBytes => "max_datagram_bytes",
        }
    }
}

/// One decoded TLV option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlvOption<'a> {
    /// Frames per second.
    FrameRate(u32),
    /// Stream bit rate.
    BitsPerSecond(u64),
    /// Initial buffer depth in milliseconds.
    BufferDepthMs(u32),
    /// Codec name (ASCII by D14; bytes are kept as they are).
    CodecHint(&'a [u8]),
    /// Largest datagram, header included.
    MaxDatagramBytes(u32),
    /// A type this reader does not know (codes other than 1..=5), kept so it round-trips.
    Unknown {
        /// The type code.
        tlv_type: u8,
        /// The value bytes.
        value: &'a [u8],
    },
}

impl<'a> TlvOption<'a> {
    /// The wire type code.
    pub const fn code(&self) -> u8 {
        match self {
            TlvOption::FrameRate(_) => 1,
            TlvOption::BitsPerSecond(_) => 2,
            TlvOption::BufferDepthMs(_) => 3,
            TlvOption::CodecHint(_) => 4,
            TlvOption::MaxDatagramBytes(_) => 5,
            TlvOption::Unknown { tlv_type, .. } => *tlv_type,
        }
    }

    /// snake_case name (`unknown` for unknown types).
    pub const fn name(&self) -> &'static str {
        match TlvType::from_code(self.code()) {
            Some(t) => t.name(),
            None => "unknown",
        }
    }

    /// Bytes the option takes on the wire, header included.
    pub fn encoded_len(&self) -> usize {
        TLV_HEADER_LEN + self.value_len()
    }

    fn value_len(&self) -> usize {
        match self {
            TlvOption::FrameRate(_)
            | TlvOption::BufferDepthMs(_)
            | TlvOption::MaxDatagramBytes(_) => 4,
            TlvOption::BitsPerSecond(_) => 8,
            TlvOption::CodecHint(v) | TlvOption::Unknown { value: v, .. } => v.len(),
        }
    }

    /// Decodes a TLV's value; errors when a known type has the wrong length.
    fn decode(tlv_type: u8, value: &'a [u8]) -> Result<TlvOption<'a>, TlvError> {
        let Some(known) = TlvType::from_code(tlv_type) else {
            return Ok(TlvOption::Unknown { tlv_type, value });
        };
        let bad_length = |expected| TlvError::BadLength {
            tlv_type,
            expected,
            actual: value.len(),
        };
        let u32_value = || {
            <[u8; 4]>::try_from(value)
                .map(u32::from_le_bytes)
                .map_err(|_| bad_length(4))
        };
        Ok(match known {
            TlvType::FrameRate => TlvOption::FrameRate(u32_value()?),
            TlvType::BufferDepthMs => TlvOption::BufferDepthMs(u32_value()?),
            TlvType::MaxDatagramBytes => TlvOption::MaxDatagramBytes(u32_value()?),
            TlvType::BitsPerSecond => TlvOption::BitsPerSecond(
                <[u8; 8]>::try_from(value)
                    .map(u64::from_le_bytes)
                    .map_err(|_| bad_length(8))?,
            ),
            TlvType::CodecHint => TlvOption::CodecHint(value),
        })
    }

    /// Writes the option into the front of `buf`, returning the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let value_len = self.value_len();
        let len = u16::try_from(value_len).map_err(|_| EmitError::OptionTooLong {
            tlv_type: self.code(),
            len: value_len,
        })?;
        let needed = TLV_HEADER_LEN + value_len;
        let available = buf.len();
        let out = buf
            .get_mut(..needed)
            .ok_or(EmitError::BufferTooSmall { needed, available })?;
        let (header, value) = out.split_at_mut(TLV_HEADER_LEN);
        header[0] = self.code();
        header[1..].copy_from_slice(&len.to_le_bytes());
        match self {
            TlvOption::FrameRate(v)
            | TlvOption::BufferDepthMs(v)
            | TlvOption::MaxDatagramBytes(v) => value.copy_from_slice(&v.to_le_bytes()),
            TlvOption::BitsPerSecond(v) => value.copy_from_slice(&v.to_le_bytes()),
            TlvOption::CodecHint(v) | TlvOption::Unknown { value: v, .. } => {
                value.copy_from_slice(v)
            }
        }
        Ok(needed)
    }
}

/// Bytes a list of options takes on the wire.
pub fn options_len(options: &[TlvOption<'_>]) -> usize {
    options.iter().map(TlvOption::encoded_len).sum()
}

/// Writes `options` in order into the front of `buf`, returning the bytes written.
pub fn emit_options(options: &[TlvOption<'_>], buf: &mut [u8]) -> Result<usize, EmitError> {
    let needed = options_len(options);
    if buf.len() < needed {
        return Err(EmitError::BufferTooSmall {
            needed,
            available: buf.len(),
        });
    }
    let mut at = 0;
    for option in options {
        at += option.emit(buf.get_mut(at..).unwrap_or_default())?;
    }
    Ok(at)
}

/// A validated TLV option list: every TLV lies within the bytes and every known type has its length.
/// Iterating it cannot fail.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Options<'a> {
    bytes: &'a [u8],
}

impl<'a> Options<'a> {
    /// No options.
    pub const EMPTY: Options<'static> = Options { bytes: &[] };

    /// Validates `bytes` as a TLV list.
    pub fn parse(bytes: &'a [u8]) -> Result<Options<'a>, TlvError> {
        let mut at = 0;
        while at < bytes.len() {
            let (tlv_type, value, next) = split_tlv(bytes, at)?;
            TlvOption::decode(tlv_type, value)?;
            at = next;
        }
        Ok(Options { bytes })
    }

    /// The encoded bytes.
    pub const fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Whether there are no options.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The options in wire order.
    pub fn iter(&self) -> OptionIter<'a> {
        OptionIter {
            bytes: self.bytes,
            at: 0,
        }
    }
}

impl<'a> IntoIterator for Options<'a> {
    type Item = TlvOption<'a>;
    type IntoIter = OptionIter<'a>;
    fn into_iter(self) -> OptionIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over a validated [`Options`].
#[derive(Clone)]
pub struct OptionIter<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = TlvOption<'a>;

    fn next(&mut self) -> Option<TlvOption<'a>> {
        // Validated at construction; an error here cannot happen, and ends the iteration if it did.
        let (tlv_type, value, next) = split_tlv(self.bytes, self.at).ok()?;
        self.at = next;
        TlvOption::decode(tlv_type, value).ok()
    }
}

/// The TLV at `at`: (type, value, offset of the next TLV).
fn split_tlv(bytes: &[u8], at: usize) -> Result<(u8, &[u8], usize), TlvError> {
    let available = bytes.len().saturating_sub(at);
    let overrun = |needed| TlvError::Overrun {
        offset: at,
        needed,
        available,
    };
    let header = bytes
        .get(at..at + TLV_HEADER_LEN)
        .ok_or(overrun(TLV_HEADER_LEN))?;
    let len = usize::from(u16::from_le_bytes([header[1], header[2]]));
    let value_start = at + TLV_HEADER_LEN;
    let value = bytes
        .get(value_start..value_start + len)
        .ok_or(overrun(TLV_HEADER_LEN + len))?;
    Ok((header[0], value, value_start + len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::frame_rate(TlvOption::FrameRate(1000), "01 0400 e8030000")]
    #[case::bps(TlvOption::BitsPerSecond(1_000_000), "02 0800 40420f0000000000")]
    #[case::depth(TlvOption::BufferDepthMs(1000), "03 0400 e8030000")]
    #[case::codec(TlvOption::CodecHint(b"h264"), "04 0400 68323634")]
    #[case::empty_codec(TlvOption::CodecHint(b""), "04 0000")]
    #[case::max_datagram(TlvOption::MaxDatagramBytes(1400), "05 0400 78050000")]
    #[case::unknown(TlvOption::Unknown { tlv_type: 0x7f, value: &[1, 2] }, "7f 0200 0102")]
    fn each_option_encodes_and_decodes(#[case] option: TlvOption<'static>, #[case] hex: &str) {
        let bytes = hex_bytes(hex);
        let mut buf = [0xAAu8; 32];
        let n = option.emit(&mut buf).expect("fits");
        assert_eq!(&buf[..n], &bytes[..]);
        let parsed = Options::parse(&bytes).expect("valid");
        assert_eq!(parsed.iter().collect::<Vec<_>>(), vec![option]);
    }

    #[rstest]
    #[case::cut_header_1(&[1], TlvError::Overrun { offset: 0, needed: 3, available: 1 })]
    #[case::cut_header_2(&[1, 4], TlvError::Overrun { offset: 0, needed: 3, available: 2 })]
    #[case::value_overrun(&[9, 5, 0, 1], TlvError::Overrun { offset: 0, needed: 8, available: 4 })]
    #[case::second_overruns(&[9, 0, 0, 9, 1, 0], TlvError::Overrun { offset: 3, needed: 4, available: 3 })]
    #[case::bad_len(&[1, 3, 0, 1, 2, 3], TlvError::BadLength { tlv_type: 1, expected: 4, actual: 3 })]
    #[case::bad_len_bps(&[2, 4, 0, 1, 2, 3, 4], TlvError::BadLength { tlv_type: 2, expected: 8, actual: 4 })]
    fn invalid_lists_name_the_failure(#[case] bytes: &[u8], #[case] expected: TlvError) {
        assert_eq!(Options::parse(bytes), Err(expected));
    }

    #[test]
    fn emit_refuses_small_buffers_and_long_values() {
        let mut small = [0u8; 6];
        assert_eq!(
            emit_options(&[TlvOption::FrameRate(1)], &mut small),
            Err(EmitError::BufferTooSmall {
                needed: 7,
                available: 6
            })
        );
        let long = vec![0u8; 70_000];
        let mut big = vec![0u8; 70_010];
        assert_eq!(
            TlvOption::CodecHint(&long).emit(&mut big),
            Err(EmitError::OptionTooLong {
                tlv_type: 4,
                len: 70_000
            })
        );
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        let digits: Vec<u8> = hex.bytes().filter(u8::is_ascii_hexdigit).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(core::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
            .collect()
    }
}
