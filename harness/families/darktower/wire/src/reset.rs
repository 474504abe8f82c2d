//! Media stream reset codes and DT9's mapping into the HTTP/3 WebTransport error space.

use core::fmt;

/// The reset codes of a media stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ResetCode {
    /// 0x00.
    Graceful,
    /// 0x01: bad magic, version, stream type, short header, stream id mismatch (DT2, DT3, DT5).
    InvalidStreamFormat,
    /// 0x02: no successful ConnectResponse yet, or a bad token (DT7, DT8).
    AuthenticationFailed,
    /// 0x03.
    QuotaExceeded,
    /// 0x04.
    InternalError,
}

impl ResetCode {
    /// All codes, 0x00 to 0x04.
    pub const ALL: [ResetCode; 5] = [
        ResetCode::Graceful,
        ResetCode::InvalidStreamFormat,
        ResetCode::AuthenticationFailed,
        ResetCode::QuotaExceeded,
        ResetCode::InternalError,
    ];

    /// Its value (the application code, before any mapping).
    pub const fn code(self) -> u32 {
        match self {
            ResetCode::Graceful => 0,
            ResetCode::InvalidStreamFormat => 1,
            ResetCode::AuthenticationFailed => 2,
            ResetCode::QuotaExceeded => 3,
            ResetCode::InternalError => 4,
        }
    }

    /// The code a value names (`None`: not a Dark Tower code).
    pub fn from_code(code: u32) -> Option<ResetCode> {
        ResetCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// `graceful`, `invalid_stream_format`, `authentication_failed`, `quota_exceeded`,
    /// `internal_error`.
    pub const fn name(self) -> &'static str {
        match self {
            ResetCode::Graceful => "graceful",
            ResetCode::InvalidStreamFormat => "invalid_stream_format",
            ResetCode::AuthenticationFailed => "authentication_failed",
            ResetCode::QuotaExceeded => "quota_exceeded",
            ResetCode::InternalError => "internal_error",
        }
    }

    /// The code a name names.
    pub fn from_name(name: &str) -> Option<ResetCode> {
        ResetCode::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Its value over real WebTransport (DT9).
    pub const fn http3(self) -> u64 {
        to_http3(self.code())
    }
}

impl fmt::Display for ResetCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#04x} ({})", self.code(), self.name())
    }
}

// DT9's mapping is WebTransport's own (the HTTP/3 application error space); one copy, in the
// generic WebTransport codec.
pub use handshake_webtransport_wire::error_code::{
    from_http3, to_http3, WT_FIRST as HTTP3_ERROR_FIRST, WT_LAST as HTTP3_ERROR_LAST,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_is_the_drafts() {
        assert_eq!(HTTP3_ERROR_LAST, 0x52e5_ac98_3162);
    }

    #[test]
    fn round_trip_on_edges() {
        let edges = [
            0u32,
            1,
            2,
            3,
            4,
            0x1d,
            0x1e,
            0x1f,
            0x3b,
            0x3c,
            0x3d,
            1000,
            u32::MAX / 2,
            u32::MAX - 0x1e,
            u32::MAX - 1,
            u32::MAX,
        ];
        for code in edges {
            assert_eq!(from_http3(to_http3(code)), Some(code), "code {code:#x}");
        }
        for c in ResetCode::ALL {
            assert_eq!(c.http3(), HTTP3_ERROR_FIRST + u64::from(c.code()));
            assert_eq!(ResetCode::from_code(c.code()), Some(c));
            assert_eq!(ResetCode::from_name(c.name()), Some(c));
        }
    }

    #[test]
    fn reserved_points_and_out_of_range() {
        assert_eq!(to_http3(0x1d), HTTP3_ERROR_FIRST + 0x1d);
        assert_eq!(to_http3(0x1e), HTTP3_ERROR_FIRST + 0x1f);
        assert_eq!(from_http3(HTTP3_ERROR_FIRST + 0x1e), None);
        assert_eq!(from_http3(HTTP3_ERROR_FIRST + 0x1e + 0x1f), None);
        assert_eq!(from_http3(HTTP3_ERROR_FIRST - 1), None);
        assert_eq!(from_http3(HTTP3_ERROR_LAST + 1), None);
        assert_eq!(from_http3(0), None);
        assert_eq!(from_http3(u64::MAX), None);
        // Every value in a window is either reserved or maps back to itself.
        for h in HTTP3_ERROR_FIRST..HTTP3_ERROR_FIRST + 200 {
            match from_http3(h) {
                Some(code) => assert_eq!(to_http3(code), h),
                None => assert_eq!((h - HTTP3_ERROR_FIRST) % 0x1f, 0x1e),
            }
        }
        for h in HTTP3_ERROR_LAST - 200..=HTTP3_ERROR_LAST {
            if let Some(code) = from_http3(h) {
                assert_eq!(to_http3(code), h);
            }
        }
    }
}
