//! Error codes: HTTP/3's (RFC 9114 §8.1, RFC 9204 §6, RFC 9297 §5) and the mapping of WebTransport
//! application codes (u32) into the HTTP/3 code space (draft-ietf-webtrans-http3): `first + c + c /
//! 0x1e`, which steps over the reserved GREASE points `0x21 + 0x1f·N`.
//!
//! web-transport-quinn 0.13 applies this mapping to RESET_STREAM and STOP_SENDING codes
//! (web-transport-proto `error_to_http3` / `error_from_http3`); its inverse accepts the reserved
//! points, decoding one to the code of the point after it — [`from_http3_lenient`] reproduces that,
//! [`from_http3`] rejects them. aioquic 1.2 applies no mapping at all.

/// HTTP/3 error codes.
pub mod h3 {
    /// H3_DATAGRAM_ERROR (RFC 9297).
    pub const DATAGRAM_ERROR: u64 = 0x33;
    /// H3_NO_ERROR.
    pub const NO_ERROR: u64 = 0x100;
    /// H3_GENERAL_PROTOCOL_ERROR.
    pub const GENERAL_PROTOCOL_ERROR: u64 = 0x101;
    /// H3_INTERNAL_ERROR.
    pub const INTERNAL_ERROR: u64 = 0x102;
    /// H3_STREAM_CREATION_ERROR.
    pub const STREAM_CREATION_ERROR: u64 = 0x103;
    /// H3_CLOSED_CRITICAL_STREAM.
    pub const CLOSED_CRITICAL_STREAM: u64 = 0x104;
    /// H3_FRAME_UNEXPECTED.
    pub const FRAME_UNEXPECTED: u64 = 0x105;
    /// H3_FRAME_ERROR.
    pub const FRAME_ERROR: u64 = 0x106;
    /// H3_EXCESSIVE_LOAD.
    pub const EXCESSIVE_LOAD: u64 = 0x107;
    /// H3_ID_ERROR.
    pub const ID_ERROR: u64 = 0x108;
    /// H3_SETTINGS_ERROR.
    pub const SETTINGS_ERROR: u64 = 0x109;
    /// H3_MISSING_SETTINGS.
    pub const MISSING_SETTINGS: u64 = 0x10a;
    /// H3_REQUEST_REJECTED.
    pub const REQUEST_REJECTED: u64 = 0x10b;
    /// H3_REQUEST_CANCELLED.
    pub const REQUEST_CANCELLED: u64 = 0x10c;
    /// H3_REQUEST_INCOMPLETE.
    pub const REQUEST_INCOMPLETE: u64 = 0x10d;
    /// H3_MESSAGE_ERROR.
    pub const MESSAGE_ERROR: u64 = 0x10e;
    /// H3_CONNECT_ERROR.
    pub const CONNECT_ERROR: u64 = 0x10f;
    /// H3_VERSION_FALLBACK.
    pub const VERSION_FALLBACK: u64 = 0x110;
    /// QPACK_DECOMPRESSION_FAILED.
    pub const QPACK_DECOMPRESSION_FAILED: u64 = 0x200;
    /// QPACK_ENCODER_STREAM_ERROR.
    pub const QPACK_ENCODER_STREAM_ERROR: u64 = 0x201;
    /// QPACK_DECODER_STREAM_ERROR.
    pub const QPACK_DECODER_STREAM_ERROR: u64 = 0x202;
}

/// The HTTP/3 code of WebTransport application code 0.
pub const WT_FIRST: u64 = 0x52e4_a40f_a8db;
/// The HTTP/3 code of `u32::MAX`.
pub const WT_LAST: u64 = to_http3(u32::MAX);

/// A WebTransport application code as an HTTP/3 code.
pub const fn to_http3(code: u32) -> u64 {
    let c = code as u64;
    WT_FIRST + c + c / 0x1e
}

/// `true` for a value of the WebTransport range that is a reserved (GREASE) point.
pub const fn is_reserved_point(h: u64) -> bool {
    h >= WT_FIRST && h <= WT_LAST && (h - WT_FIRST) % 0x1f == 0x1e
}

/// The inverse of [`to_http3`]: `None` outside `WT_FIRST..=WT_LAST` and on reserved points.
pub const fn from_http3(h: u64) -> Option<u32> {
    if h < WT_FIRST || h > WT_LAST || is_reserved_point(h) {
        return None;
    }
    let shifted = h - WT_FIRST;
    Some((shifted - shifted / 0x1f) as u32)
}

/// web-transport-proto 0.6's inverse: like [`from_http3`] but a reserved point decodes too (to the
/// code of the next point).
pub const fn from_http3_lenient(h: u64) -> Option<u32> {
    if h < WT_FIRST || h > WT_LAST {
        return None;
    }
    let shifted = h - WT_FIRST;
    Some((shifted - shifted / 0x1f) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(0, WT_FIRST)]
    #[case(1, WT_FIRST + 1)]
    #[case(0x1d, WT_FIRST + 0x1d)]
    #[case(0x1e, WT_FIRST + 0x1f)]
    #[case(u32::MAX, 0x52e5_ac98_3162)]
    fn table(#[case] code: u32, #[case] h: u64) {
        assert_eq!(to_http3(code), h);
        assert_eq!(from_http3(h), Some(code));
        assert_eq!(from_http3_lenient(h), Some(code));
    }

    #[test]
    fn reserved_and_outside() {
        let reserved = WT_FIRST + 0x1e;
        assert!(is_reserved_point(reserved));
        assert_eq!(from_http3(reserved), None);
        assert_eq!(from_http3_lenient(reserved), Some(0x1e));
        assert_eq!(from_http3(WT_FIRST - 1), None);
        assert_eq!(from_http3(WT_LAST + 1), None);
        assert!(crate::frame::is_grease(reserved));
    }
}
