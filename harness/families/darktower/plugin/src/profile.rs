//! A Dark Tower reference profile: `v1` or `v2` media, then options `+quic` (bare QUIC instead of
//! WebTransport) and `+raw` (reset codes unmapped, DT9), and a mutant after `!`.

use std::collections::BTreeSet;
use std::sync::Mutex;

use handshake_darktower_endpoint::{
    BareAlpns, MediaVersion, Mutant, TransportKind, PATH_MEDIA, PATH_SIGNALING,
};
use handshake_quic::session::ResetCodes;

/// A reference profile, or what an external IUT was started with.
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
    /// How the harness reaches it (an external IUT's manifest; the defaults otherwise).
    pub contract: Contract,
}

/// What both sides must agree on to talk at all, as an IUT's manifest says it in its `options`
/// (DH1, a contract): `alpn_signaling=A[,B…]` and `alpn_media=A[,B…]` (bare QUIC: the ALPNs the
/// harness offers, most preferred first, and its servers accept), `path_signaling=/P` and
/// `path_media=/P` (WebTransport: the `:path` the harness's participants ask for), and
/// `transports=webtransport[,quic]` (what the IUT speaks: a scenario on another transport is
/// `unsupported`). Unset, the harness offers every reasonable choice ([`BareAlpns`]) and the
/// paths `/signaling` and `/media`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Contract {
    /// ALPNs offered for signaling sessions, comma-separated.
    pub alpn_signaling: Option<&'static str>,
    /// ALPNs offered for media sessions, comma-separated.
    pub alpn_media: Option<&'static str>,
    /// The signaling sessions' WebTransport path.
    pub path_signaling: Option<&'static str>,
    /// The media sessions' WebTransport path.
    pub path_media: Option<&'static str>,
    /// The transports the IUT speaks, comma-separated (`None`: both).
    pub transports: Option<&'static str>,
}

/// The manifest option keys of a [`Contract`].
pub const CONTRACT_KEYS: [&str; 5] = [
    "alpn_signaling",
    "alpn_media",
    "path_signaling",
    "path_media",
    "transports",
];

/// A string that lives as long as the process (each distinct one is kept once).
fn intern(text: &str) -> &'static str {
    static TABLE: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    let Ok(mut table) = TABLE.lock() else {
        return Box::leak(text.to_owned().into_boxed_str());
    };
    if let Some(s) = table.get(text) {
        return s;
    }
    let s: &'static str = Box::leak(text.to_owned().into_boxed_str());
    table.insert(s);
    s
}

fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|a| !a.is_empty())
}

impl Contract {
    /// The contract an IUT's manifest `options` state; other options are left to others.
    pub fn from_options<S: AsRef<str>>(options: &[S]) -> Result<Contract, String> {
        let mut c = Contract::default();
        for option in options {
            let Some((key, value)) = option.as_ref().split_once('=') else {
                continue;
            };
            let value = value.trim();
            let slot = match key.trim() {
                "alpn_signaling" => &mut c.alpn_signaling,
                "alpn_media" => &mut c.alpn_media,
                "path_signaling" => &mut c.path_signaling,
                "path_media" => &mut c.path_media,
                "transports" => &mut c.transports,
                other => {
                    return Err(format!(
                        "options: unknown Dark Tower option `{other}`: expected one of {}",
                        CONTRACT_KEYS.join(", ")
                    ))
                }
            };
            if key.starts_with("path") && !value.starts_with('/') {
                return Err(format!("options: `{key}` must be a path starting with `/`"));
            }
            if key.starts_with("alpn") && (list(value).next().is_none() || value.len() > 255) {
                return Err(format!("options: `{key}` names no ALPN"));
            }
            if key == "transports" {
                if let Some(t) = list(value).find(|t| !["webtransport", "quic"].contains(t)) {
                    return Err(format!(
                        "options: transport `{t}`: expected webtransport or quic"
                    ));
                }
            }
            *slot = Some(intern(value));
        }
        Ok(c)
    }

    /// As manifest options (parses back with [`Contract::from_options`]).
    pub fn options(&self) -> Vec<String> {
        [
            ("alpn_signaling", self.alpn_signaling),
            ("alpn_media", self.alpn_media),
            ("path_signaling", self.path_signaling),
            ("path_media", self.path_media),
            ("transports", self.transports),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect()
    }

    /// The ALPNs offered over bare QUIC.
    pub fn bare_alpns(&self) -> BareAlpns {
        let bytes = |text: &str| {
            list(text)
                .map(|a| a.as_bytes().to_vec())
                .collect::<Vec<_>>()
        };
        let default = BareAlpns::default();
        BareAlpns {
            signaling: self.alpn_signaling.map_or(default.signaling, bytes),
            media: self.alpn_media.map_or(default.media, bytes),
        }
    }

    /// The WebTransport paths of signaling and media sessions.
    pub fn paths(&self) -> (&'static str, &'static str) {
        (
            self.path_signaling.unwrap_or(PATH_SIGNALING),
            self.path_media.unwrap_or(PATH_MEDIA),
        )
    }

    /// Whether the IUT speaks `transport`.
    pub fn speaks(&self, transport: TransportKind) -> bool {
        let name = match transport {
            TransportKind::WebTransport => "webtransport",
            TransportKind::Quic => "quic",
        };
        self.transports.is_none_or(|t| list(t).any(|x| x == name))
    }
}

/// The profile names a manifest may list.
pub const PROFILES: [&str; 2] = ["v1", "v2"];

impl Profile {
    /// Parses `v1`, `v2+quic`, `v1+raw!no-capacity-check` …
    pub fn parse(text: &str) -> Result<Profile, String> {
        let names: Vec<&str> = Mutant::ALL.iter().map(|m| m.name()).collect();
        let (text, mutant) =
            handshake_core::words::split_mutant(text, "Dark Tower mutant", &names, Mutant::parse)?;
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
        // A contract is the manifest's (`Contract::from_options`), never part of a name.
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

    #[test]
    fn contracts_parse_back_and_default_to_every_reasonable_choice() {
        let c =
            Contract::from_options(&["alpn_media=darktower", "path_media=/m", "transports=quic"])
                .unwrap_or_default();
        assert_eq!(Contract::from_options(&c.options()), Ok(c));
        assert_eq!(c.bare_alpns().media, vec![b"darktower".to_vec()]);
        assert_eq!(c.paths(), ("/signaling", "/m"));
        assert!(c.speaks(TransportKind::Quic) && !c.speaks(TransportKind::WebTransport));
        let d = Contract::default();
        assert_eq!(
            d.bare_alpns().media,
            vec![b"darktower-media".to_vec(), b"darktower".to_vec()]
        );
        assert!(Contract::from_options(&["alpn_media="]).is_err());
        assert!(Contract::from_options(&["path_media=m"]).is_err());
        assert!(Contract::from_options(&["colour=blue"]).is_err());
        assert!(Contract::from_options(&["transports=tcp"]).is_err());
    }
}
