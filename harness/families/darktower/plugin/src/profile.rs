//! A Dark Tower reference profile: `v1` or `v2` media, then options `+quic` (bare QUIC instead of
//! WebTransport) and `+raw` (reset codes unmapped, DT9), and a mutant after `!`.

use handshake_darktower_endpoint::{MediaVersion, Mutant, TransportKind};
use handshake_quic::session::ResetCodes;

/// A reference profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Profile {
    /// Media framing.
    pub version: MediaVersion,
    /// WebTransport (default) or bare QUIC.
    pub transport: TransportKind,
    /// Mapped (default) or raw reset codes.
    pub reset_codes: ResetCodes,
    /// A deliberately wrong variant.
    pub mutant: Option<Mutant>,
}

/// The profile names a manifest may list.
pub const PROFILES: [&str; 2] = ["v1", "v2"];

impl Profile {
    /// Parses `v1`, `v2+quic`, `v1+raw!no-capacity-check` …
    pub fn parse(text: &str) -> Result<Profile, String> {
        let (text, mutant) = match text.split_once('!') {
            Some((t, m)) => (
                t,
                Some(Mutant::parse(m).ok_or_else(|| {
                    format!(
                        "unknown Dark Tower mutant `{m}`, expected one of {}",
                        Mutant::ALL
                            .iter()
                            .map(|m| m.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?),
            ),
            None => (text, None),
        };
        let mut parts = text.split('+');
        let version = match parts.next() {
            Some("v1") => MediaVersion::V1,
            Some("v2") => MediaVersion::V2,
            other => {
                return Err(format!(
                    "unknown Dark Tower profile `{}`, expected v1 or v2",
                    other.unwrap_or_default()
                ))
            }
        };
        let mut p = Profile {
            version,
            mutant,
            ..Profile::default()
        };
        for option in parts {
            match option {
                "quic" => p.transport = TransportKind::Quic,
                "webtransport" => p.transport = TransportKind::WebTransport,
                "raw" => p.reset_codes = ResetCodes::Raw,
                "mapped" => p.reset_codes = ResetCodes::Mapped,
                other => {
                    return Err(format!(
                        "unknown Dark Tower profile option `{other}`, expected quic, webtransport, raw or mapped"
                    ))
                }
            }
        }
        Ok(p)
    }

    /// Its name (parses back).
    pub fn name(&self) -> String {
        let mut s = self.base().to_owned();
        if self.transport == TransportKind::Quic {
            s.push_str("+quic");
        }
        if self.reset_codes == ResetCodes::Raw {
            s.push_str("+raw");
        }
        if let Some(m) = self.mutant {
            s.push('!');
            s.push_str(m.name());
        }
        s
    }

    /// `v1` or `v2`.
    pub fn base(&self) -> &'static str {
        match self.version {
            MediaVersion::V1 => "v1",
            MediaVersion::V2 => "v2",
        }
    }

    /// The reset codes on the wire: bare QUIC is always raw (DT9).
    pub fn wire_codes(&self) -> ResetCodes {
        if self.transport == TransportKind::Quic {
            ResetCodes::Raw
        } else {
            self.reset_codes
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for text in ["v1", "v2", "v1+quic", "v2+raw", "v1+quic+raw!no-keep-alive"] {
            assert_eq!(Profile::parse(text).map(|p| p.name()), Ok(text.to_owned()));
        }
        assert!(Profile::parse("v3").is_err());
        assert!(Profile::parse("v1+fast").is_err());
        assert!(Profile::parse("v1!nope").is_err());
    }
}
