//! How an external Dark Tower IUT is started for a scenario: its role word (`controller`,
//! `handler`, `client`), the media profile (`v1`/`v2` from its manifest's `profiles`), and the
//! family's placeholders: transport, reset codes, the certificate and key the harness generated
//! (and the hash a WebTransport client can pin), the key log, the token secret, liveness, the
//! meeting, and a client's join token and plan. What the manifest's `options` say of ALPNs, paths
//! and transports (a [`Contract`]) goes with the launch, for the harness's side to adapt to.

use std::path::PathBuf;
use std::sync::OnceLock;

use handshake_darktower_endpoint::{JoinMint, JoinTokenKind, Secret, TransportKind};
use handshake_quic::session::ResetCodes;
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::Role;

use crate::profile::{Contract, Profile, PROFILES};
use crate::{effective, serves, DarkTowerScenario, TOKEN_SECRET};

/// The family's flags (besides the generic `mutant`).
pub const FLAGS: &[&str] = &[];
/// The family's placeholders.
pub const PLACEHOLDERS: &[&str] = &[
    "transport",
    "reset_codes",
    "cert",
    "key",
    "cert_hash",
    "keylog",
    "token_secret",
    "idle_ms",
    "keepalive_ms",
    "meeting",
    "ended",
    "capacity",
    "handler_url",
    "join_token",
    "name",
    "publish",
    "frames",
    "fps",
    "payload_bytes",
    "linger_ms",
];

/// Checks the manifest's profiles and options (its [`Contract`]).
pub fn validate_manifest(manifest: &Manifest) -> Result<(), String> {
    for p in manifest.profiles.iter().flatten() {
        if !PROFILES.contains(&p.as_str()) {
            return Err(format!(
                "profiles: unknown Dark Tower profile `{p}`: expected v1 or v2"
            ));
        }
    }
    for o in manifest.options.iter().flatten() {
        if !o.contains('=') {
            return Err(format!(
                "options: `{o}`: Dark Tower options are KEY=VALUE, KEY one of {}",
                crate::profile::CONTRACT_KEYS.join(", ")
            ));
        }
    }
    Contract::from_options(manifest.options.as_deref().unwrap_or_default()).map(|_| ())
}

/// The contract a launch carries (see [`Contract`]).
pub fn contract(launch: &Launch) -> Contract {
    Contract::from_options(&launch.options).unwrap_or_default()
}

/// A certificate and key for external servers, made once per harness process: ECDSA P-256,
/// valid 13 days (what a browser's `serverCertificateHashes` accepts), for `localhost` and
/// 127.0.0.1.
pub struct Identity {
    /// The certificate and key, for the harness's own servers.
    pub der: (Vec<u8>, Vec<u8>),
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The private key, PEM (PKCS #8).
    pub key: PathBuf,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub hash: String,
}

/// The harness's identity for external servers (files in the process's scratch directory).
pub fn identity() -> Result<&'static Identity, String> {
    static IDENTITY: OnceLock<Result<Identity, String>> = OnceLock::new();
    IDENTITY
        .get_or_init(make_identity)
        .as_ref()
        .map_err(Clone::clone)
}

/// A certificate a browser's WebTransport takes with `serverCertificateHashes`: ECDSA P-256,
/// self-signed, valid 13 days from an hour ago (at most 14 days), for `localhost` and 127.0.0.1.
pub struct BrowserCert {
    /// The certificate and its key (PKCS #8), DER.
    pub der: (Vec<u8>, Vec<u8>),
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The key, PEM (PKCS #8).
    pub key_pem: String,
}

/// Makes a [`BrowserCert`].
pub fn browser_cert() -> Result<BrowserCert, String> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| format!("certificate key: {e}"))?;
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(|e| format!("certificate: {e}"))?;
    let now = std::time::SystemTime::now();
    params.not_before = (now - std::time::Duration::from_secs(3600)).into();
    params.not_after = (now + std::time::Duration::from_secs(13 * 86_400)).into();
    let cert = params
        .self_signed(&key)
        .map_err(|e| format!("certificate: {e}"))?;
    Ok(BrowserCert {
        der: (cert.der().to_vec(), key.serialize_der()),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// SHA-256 of a certificate's DER, lowercase hex.
pub fn cert_hash(der: &[u8]) -> String {
    cert_hash_hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// Bytes as lowercase hex.
pub fn cert_hash_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn make_identity() -> Result<Identity, String> {
    let made = browser_cert()?;
    let hash = cert_hash(&made.der.0);
    let dir = handshake_scenario::external::manifest::scratch_dir();
    let cert_path = dir.join("darktower-cert.pem");
    let key_path = dir.join("darktower-key.pem");
    std::fs::write(&cert_path, &made.cert_pem)
        .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    std::fs::write(&key_path, &made.key_pem).map_err(|e| format!("{}: {e}", key_path.display()))?;
    Ok(Identity {
        der: made.der,
        cert: cert_path,
        key: key_path,
        hash,
    })
}

fn wall_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn complete(s: &DarkTowerScenario, base: &str, contract: Contract) -> Result<Launch, String> {
    let p = effective(&Profile::parse(base).unwrap_or_default(), s);
    if !contract.speaks(p.transport) {
        return Err(format!(
            "the IUT speaks {} (its manifest's `transports`), not {}",
            contract.transports.unwrap_or_default(),
            match p.transport {
                TransportKind::WebTransport => "webtransport",
                TransportKind::Quic => "quic",
            }
        ));
    }
    let m = &s.setup.meeting;
    let id = identity()?;
    let keylog = handshake_scenario::external::manifest::keylog_path("darktower");
    let join_token = JoinMint {
        secret: Secret::new(TOKEN_SECRET),
        meeting: m.id.clone(),
        kind: JoinTokenKind::parse(&m.join_token).unwrap_or(JoinTokenKind::Valid),
        subject: Some(m.name.clone()),
    }
    .token(wall_s());
    let role = match (s.iut.role, serves(s)) {
        (Role::Initiator, _) => "client",
        (Role::Responder, "both") => "server",
        (Role::Responder, one) => one,
    };
    let transport = match p.transport {
        TransportKind::WebTransport => "webtransport",
        TransportKind::Quic => "quic",
    };
    let codes = match p.wire_codes() {
        ResetCodes::Mapped => "mapped",
        ResetCodes::Raw => "raw",
    };
    let mut options = Vec::new();
    if p.transport == TransportKind::Quic {
        options.push("quic".to_owned());
    }
    if p.reset_codes == ResetCodes::Raw {
        options.push("raw".to_owned());
    }
    options.extend(contract.options());
    Ok(Launch {
        profile: base.to_owned(),
        options,
        flags: Vec::new(),
        values: vec![
            ("role", role.to_owned()),
            ("transport", transport.to_owned()),
            ("reset_codes", codes.to_owned()),
            ("cert", id.cert.display().to_string()),
            ("key", id.key.display().to_string()),
            ("cert_hash", id.hash.clone()),
            ("keylog", keylog.display().to_string()),
            ("token_secret", TOKEN_SECRET.to_owned()),
            ("idle_ms", m.idle_ms.to_string()),
            ("keepalive_ms", m.keepalive_ms.to_string()),
            ("meeting", m.id.clone()),
            ("ended", m.ended.join(",")),
            ("capacity", m.capacity.to_string()),
            ("handler_url", crate::IUT_CONTROLLER_HANDLER_URL.to_owned()),
            ("join_token", join_token),
            ("name", m.name.clone()),
            (
                "publish",
                if m.publish.is_empty() {
                    "none".into()
                } else {
                    m.publish.join(",")
                },
            ),
            ("frames", m.frames.to_string()),
            ("fps", m.fps.to_string()),
            ("payload_bytes", m.payload_bytes.to_string()),
            ("linger_ms", m.linger_ms.to_string()),
        ],
        mutant: None,
        plant: None,
    })
}

fn fits(profile: &str, feature: &str) -> bool {
    feature == profile
}

/// The launch of `s` for the manifest's IUT: the first of its profiles with the features `s`
/// requires.
pub fn launch(manifest: &Manifest, s: &DarkTowerScenario) -> Result<Launch, String> {
    let profiles = manifest
        .profiles
        .clone()
        .unwrap_or_else(|| vec!["v1".to_owned()]);
    let contract = Contract::from_options(manifest.options.as_deref().unwrap_or_default())?;
    let required = &s.iut.requires;
    for p in &profiles {
        if required.iter().all(|f| fits(p, f)) {
            return complete(s, p, contract);
        }
    }
    Err(format!(
        "no profile of the IUT has all of [{}]",
        required.join(", ")
    ))
}

/// The same for a server already running that behaves like `profile`.
pub fn launch_running(profile: &Profile, s: &DarkTowerScenario) -> Result<Launch, String> {
    if s.iut.role != Role::Responder {
        return Err("a running IUT is a server".into());
    }
    if let Some(f) = s.iut.requires.iter().find(|f| !fits(profile.base(), f)) {
        return Err(format!(
            "the running server lacks the feature {}",
            handshake_scenario::engine::feature_label(f)
        ));
    }
    complete(s, profile.base(), profile.contract)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a browser pins: an ECDSA P-256 certificate (Chromium offers no Ed25519 scheme), which
    /// loads back from its PEM files as the harness's servers and the peer tools load it.
    #[test]
    fn the_browser_certificate_is_ecdsa_p256_and_loads_from_pem() {
        let made = browser_cert().expect("certificate");
        let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
        assert!(made.der.0.windows(p256.len()).any(|w| w == p256));
        let id =
            handshake_quic::Identity::from_pem(made.cert_pem.as_bytes(), made.key_pem.as_bytes())
                .expect("loads");
        assert_eq!(cert_hash_hex(&id.cert_sha256()), cert_hash(&made.der.0));
        assert!(handshake_quic::Identity::from_pem(made.cert_pem.as_bytes(), b"junk").is_err());
    }
}
