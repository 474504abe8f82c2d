//! TLS for QUIC under test: seeded randomness, an in-memory key log, a fixed Ed25519 identity, a
//! client that skips certificate validation, and the quinn-proto configs built from them.
//!
//! Everything random in a QUIC handshake is pinned to the run's seed (see the crate docs for the
//! list): the same seed gives byte-identical encrypted datagrams and key logs. Not secure, by design.
//! Since a seed's handshakes repeat (a fuzz campaign runs thousands under one), its identity is
//! loaded once and the X25519 results and verified signatures are remembered (bounded memos of
//! pure functions: a remembered result is the computed one).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use quinn_proto::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn_proto::{
    ClientConfig, ConnectionId, ConnectionIdGenerator, EndpointConfig, IdleTimeout, ServerConfig,
    TransportConfig, VarInt,
};
use ring::digest;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::sign::{CertifiedKey, Signer, SigningKey, SingleCertAndKey};
use rustls::{DigitallySignedStruct, NamedGroup, SignatureAlgorithm, SignatureScheme};

use crate::memo::Memo;
use crate::QuicError;

/// A deterministic byte stream: SHA-256(seed ‖ label ‖ counter), block after block.
pub struct DetStream {
    label: &'static str,
    /// (seed, block counter, the unused bytes of the current block, reversed).
    state: Mutex<([u8; 32], u64, Vec<u8>)>,
}

impl DetStream {
    /// A stream for `label` under `seed`.
    pub fn new(seed: [u8; 32], label: &'static str) -> Self {
        Self {
            label,
            state: Mutex::new((seed, 0, Vec::new())),
        }
    }

    /// Starts the stream again under `seed`, as if new.
    fn reseed(&self, seed: [u8; 32]) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = (seed, 0, Vec::new());
    }

    /// Fills `out` with the next bytes.
    pub fn fill(&self, out: &mut [u8]) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        for byte in out.iter_mut() {
            let next = match state.2.pop() {
                Some(b) => b,
                None => {
                    let mut ctx = digest::Context::new(&digest::SHA256);
                    ctx.update(&state.0);
                    ctx.update(self.label.as_bytes());
                    ctx.update(&state.1.to_be_bytes());
                    state.1 += 1;
                    let mut block = ctx.finish().as_ref().to_vec();
                    block.reverse();
                    let first = block.pop().unwrap_or(0);
                    state.2 = block;
                    first
                }
            };
            *byte = next;
        }
    }

    /// The next `N` bytes.
    pub fn array<const N: usize>(&self) -> [u8; N] {
        let mut a = [0u8; N];
        self.fill(&mut a);
        a
    }
}

impl fmt::Debug for DetStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DetStream({})", self.label)
    }
}

/// rustls randomness (ClientHello/ServerHello randoms, ticket ids) from a [`DetStream`].
#[derive(Debug)]
struct DetRandom(DetStream);

impl SecureRandom for DetRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        self.0.fill(buf);
        Ok(())
    }
}

/// X25519 key shares from a [`DetStream`]: rustls' ring groups draw from ring's `SystemRandom`,
/// not from the provider's `secure_random`, so a group of our own is the only way to pin them.
#[derive(Debug)]
struct DetX25519(DetStream);

struct DetX25519Active {
    /// The private key's bytes (the key is made from them again when the agreement is not
    /// remembered).
    seed: [u8; 32],
    public: Vec<u8>,
}

/// X25519 public keys by private key: one scalar multiplication per handshake side, with the
/// agreement below a fifth of a Proton run.
static X25519_PUBLIC: Memo<[u8; 32], Vec<u8>> = Memo::new(64);

/// X25519 shared secrets by (private key, peer's public key).
static X25519_AGREED: Memo<([u8; 32], Vec<u8>), Vec<u8>> = Memo::new(64);

/// Handshake signatures verified, by (message, certificate, scheme, signature): a tenth of a
/// Proton run.
static VERIFIED: Memo<SignedBytes, ()> = Memo::new(64);

/// (message, certificate, scheme, signature).
type SignedBytes = (Vec<u8>, Vec<u8>, SignatureScheme, Vec<u8>);

fn x25519_private(seed: &[u8; 32]) -> Result<ring::agreement::EphemeralPrivateKey, rustls::Error> {
    // ring's `SecureRandom` is sealed; its public (deprecated) test source feeds our bytes.
    #[allow(deprecated)]
    let rng = ring::test::rand::FixedSliceRandom { bytes: seed };
    ring::agreement::EphemeralPrivateKey::generate(&ring::agreement::X25519, &rng)
        .map_err(|_| rustls::Error::FailedToGetRandomBytes)
}

impl SupportedKxGroup for DetX25519 {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        let seed: [u8; 32] = self.0.array();
        let public = X25519_PUBLIC.get_or_try(seed, || {
            Ok::<_, rustls::Error>(
                x25519_private(&seed)?
                    .compute_public_key()
                    .map_err(|_| rustls::Error::General("x25519 public key".into()))?
                    .as_ref()
                    .to_vec(),
            )
        })?;
        Ok(Box::new(DetX25519Active { seed, public }))
    }

    fn name(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

impl ActiveKeyExchange for DetX25519Active {
    fn complete(self: Box<Self>, peer_pub_key: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let shared = X25519_AGREED.get_or_try((self.seed, peer_pub_key.to_vec()), || {
            let peer =
                ring::agreement::UnparsedPublicKey::new(&ring::agreement::X25519, peer_pub_key);
            ring::agreement::agree_ephemeral(x25519_private(&self.seed)?, &peer, |s| s.to_vec())
                .map_err(|_| rustls::Error::PeerMisbehaved(rustls::PeerMisbehaved::InvalidKeyShare))
        })?;
        Ok(SharedSecret::from(&shared[..]))
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        NamedGroup::X25519
    }
}

/// The seed of every random choice of one QUIC host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl Seed {
    /// The seed of a run's host: the run's seed and the host's name (`client`, `server`).
    pub fn derive(run_seed: u64, who: &str) -> Seed {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&run_seed.to_be_bytes());
        ctx.update(who.as_bytes());
        Seed(to_array(ctx.finish().as_ref()))
    }

    pub(crate) fn sub(&self, what: &str) -> [u8; 32] {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&self.0);
        ctx.update(what.as_bytes());
        to_array(ctx.finish().as_ref())
    }
}

fn to_array(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(bytes) {
        *o = *b;
    }
    out
}

/// The seeded parts of one provider. `CryptoProvider`'s fields are `&'static`, so they are
/// leaked; a pair is reseeded for a new provider once the provider that had it is gone.
struct Seeded {
    random: &'static DetRandom,
    kx: &'static DetX25519,
    user: Weak<CryptoProvider>,
}

/// Every pair leaked so far: as many as providers ever alive at once, not one per host (a fuzz
/// target makes hosts by the million).
static SEEDED: Mutex<Vec<Seeded>> = Mutex::new(Vec::new());

/// A ring provider whose randomness and key shares come from `seed`.
fn provider(seed: &Seed) -> Arc<CryptoProvider> {
    let mut pool = SEEDED.lock().unwrap_or_else(PoisonError::into_inner);
    let (random, kx) = match pool.iter().position(|s| s.user.strong_count() == 0) {
        Some(i) => {
            let s = pool.swap_remove(i);
            s.random.0.reseed(seed.sub("tls"));
            s.kx.0.reseed(seed.sub("kx"));
            (s.random, s.kx)
        }
        None => (
            &*Box::leak(Box::new(DetRandom(DetStream::new(
                seed.sub("tls"),
                "tls-random",
            )))),
            &*Box::leak(Box::new(DetX25519(DetStream::new(
                seed.sub("kx"),
                "x25519",
            )))),
        ),
    };
    let mut p = rustls::crypto::ring::default_provider();
    // TLS_AES_128_GCM_SHA256 preferred: every TLS 1.3 peer has it (RFC 8446 §9.1), and SHA-256
    // runs on the CPU's SHA extensions where SHA-384 is software — with SHA-384, the key schedule
    // was over a quarter of an in-process fuzz run. The other suites are still offered and taken.
    p.cipher_suites
        .sort_by_key(|s| s.suite() != rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
    p.secure_random = random;
    p.kx_groups = vec![kx];
    let p = Arc::new(p);
    pool.push(Seeded {
        random,
        kx,
        user: Arc::downgrade(&p),
    });
    p
}

/// rustls reads the wall clock only through its `TimeProvider`: pinned.
#[derive(Debug)]
struct FixedTime;

impl rustls::time_provider::TimeProvider for FixedTime {
    fn current_time(&self) -> Option<UnixTime> {
        Some(UnixTime::since_unix_epoch(Duration::from_secs(
            FIXED_UNIX_SECONDS,
        )))
    }
}

const FIXED_UNIX_SECONDS: u64 = 1_700_000_000;

/// quinn's token clock, pinned the same way.
struct FixedSystemTime;

impl quinn_proto::TimeSource for FixedSystemTime {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_secs(FIXED_UNIX_SECONDS)
    }
}

/// TLS secrets in NSS key-log format, kept in memory (and optionally appended to a file).
#[derive(Debug, Default)]
pub struct KeyLog {
    lines: Mutex<Vec<String>>,
    file: Option<std::path::PathBuf>,
}

impl KeyLog {
    /// A key log that also appends every new line to `path` (best effort: a write error is ignored,
    /// the in-memory log stays whole).
    pub fn with_file(path: std::path::PathBuf) -> KeyLog {
        KeyLog {
            lines: Mutex::default(),
            file: Some(path),
        }
    }

    /// Every line, each ending in `\n`.
    pub fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

impl rustls::KeyLog for KeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}", hex(client_random), hex(secret));
        let mut lines = self.lines.lock().unwrap_or_else(PoisonError::into_inner);
        // Both sides of an in-process run may share one log: each secret once.
        if lines.contains(&line) {
            return;
        }
        if let Some(path) = &self.file {
            use std::io::Write as _;
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                let _ = writeln!(f, "{line}");
            }
        }
        lines.push(line);
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    // By table: formatting each byte (`{:02x}`) was a thirtieth of a Proton run (key log lines).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// A self-signed certificate for `localhost` from a fixed Ed25519 key: Ed25519 signatures are
/// deterministic (ring's ECDSA draws a nonce), so the certificate and CertificateVerify repeat.
pub struct Identity {
    /// The certificate (DER).
    pub cert: CertificateDer<'static>,
    /// Its private key (PKCS #8 DER).
    pub key_pkcs8: Vec<u8>,
}

impl Identity {
    /// An identity from PEM text: the first certificate of `cert_pem` and the PKCS #8 private key
    /// of `key_pem` (`-----BEGIN PRIVATE KEY-----`), e.g. files made for a browser.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Identity, QuicError> {
        use rustls::pki_types::pem::PemObject;
        let cert = CertificateDer::from_pem_slice(cert_pem)
            .map_err(|e| QuicError::Config(format!("certificate PEM: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| QuicError::Config(format!("key PEM: {e}")))?;
        let PrivateKeyDer::Pkcs8(key) = key else {
            return Err(QuicError::Config(
                "key PEM: not a PKCS #8 key (`BEGIN PRIVATE KEY`; convert with `openssl pkcs8 -topk8 -nocrypt`)".into(),
            ));
        };
        let id = Identity {
            cert,
            key_pkcs8: key.secret_pkcs8_der().to_vec(),
        };
        // The key must sign for the certificate.
        certified(Identity {
            cert: id.cert.clone(),
            key_pkcs8: id.key_pkcs8.clone(),
        })?;
        Ok(id)
    }

    /// SHA-256 of the certificate's DER (what a WebTransport client pins with
    /// `serverCertificateHashes`).
    pub fn cert_sha256(&self) -> [u8; 32] {
        let d = digest::digest(&digest::SHA256, self.cert.as_ref());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

fn identity(seed: &Seed) -> Result<Identity, QuicError> {
    // PKCS#8 v1 wrapping of a raw Ed25519 seed (RFC 8410).
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed.sub("identity"));
    let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &PrivatePkcs8KeyDer::from(der),
        &rcgen::PKCS_ED25519,
    )
    .map_err(|e| QuicError::Config(format!("server key: {e}")))?;
    let params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .map_err(|e| QuicError::Config(format!("certificate: {e}")))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| QuicError::Config(format!("certificate: {e}")))?;
    Ok(Identity {
        cert: cert.der().clone(),
        key_pkcs8: key.serialize_der(),
    })
}

/// Accepts any server certificate (the facts: the client does not verify it) but still checks
/// the handshake signature.
#[derive(Debug)]
struct SkipServerVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // A signature verified before is valid again (a failure is not remembered).
        let key = (
            message.to_vec(),
            cert.to_vec(),
            dss.scheme,
            dss.signature().to_vec(),
        );
        VERIFIED.get_or_try(key, || {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
            .map(|_| ())
        })?;
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Connection ids from the seed (quinn's own draw from the thread RNG, which `rng_seed` does
/// not cover).
struct DetCidGenerator(DetStream);

impl ConnectionIdGenerator for DetCidGenerator {
    fn generate_cid(&mut self) -> ConnectionId {
        ConnectionId::new(&self.0.array::<8>())
    }

    fn cid_len(&self) -> usize {
        8
    }

    fn cid_lifetime(&self) -> Option<Duration> {
        None
    }
}

/// The transport parameters a host announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transport {
    /// Idle timeout (`None`: none).
    pub idle_timeout: Option<Duration>,
    /// Keep-alive PINGs while nothing else is sent (`None`: none).
    pub keep_alive: Option<Duration>,
    /// Bidirectional streams the peer may open at once.
    pub max_bidi: u32,
    /// Unidirectional streams the peer may open at once.
    pub max_uni: u32,
    /// Flow-control windows the peer gets: per stream and per connection, bytes (`None`: quinn's
    /// defaults).
    pub windows: Option<Windows>,
}

/// Flow-control windows (`initial_max_stream_data_*` and `initial_max_data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Windows {
    /// Per stream.
    pub stream: u32,
    /// Per connection.
    pub connection: u32,
}

impl Default for Transport {
    fn default() -> Self {
        Transport {
            idle_timeout: Some(Duration::from_secs(5)),
            keep_alive: None,
            max_bidi: 100,
            max_uni: 100,
            windows: None,
        }
    }
}

fn transport_config(t: &Transport) -> Result<Arc<TransportConfig>, QuicError> {
    let idle = match t.idle_timeout {
        Some(d) => Some(
            IdleTimeout::try_from(d)
                .map_err(|_| QuicError::Config(format!("idle timeout {d:?} out of range")))?,
        ),
        None => None,
    };
    let mut tc = TransportConfig::default();
    tc.max_concurrent_bidi_streams(VarInt::from_u32(t.max_bidi))
        .max_concurrent_uni_streams(VarInt::from_u32(t.max_uni))
        .max_idle_timeout(idle)
        .keep_alive_interval(t.keep_alive)
        // One datagram per transmit, so every UDP datagram passes the link (and its faults) alone.
        .enable_segmentation_offload(false)
        // No path-MTU probes: legal, but they make traces longer and timing-dependent.
        // quinn's default keeps QUIC DATAGRAM frames on (max_datagram_frame_size 65535).
        .mtu_discovery_config(None);
    if let Some(w) = t.windows {
        tc.stream_receive_window(VarInt::from_u32(w.stream))
            .receive_window(VarInt::from_u32(w.connection));
    }
    Ok(Arc::new(tc))
}

pub(crate) fn endpoint_config(seed: &Seed) -> Arc<EndpointConfig> {
    let reset_key: [u8; 64] = DetStream::new(seed.sub("reset"), "reset-key").array();
    let mut cfg = EndpointConfig::new(Arc::new(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &reset_key,
    )));
    cfg.rng_seed(Some(seed.sub("endpoint")));
    let cid_seed = seed.sub("cid");
    cfg.cid_generator(move || Box::new(DetCidGenerator(DetStream::new(cid_seed, "cid"))));
    Arc::new(cfg)
}

pub(crate) fn client_config(
    seed: &Seed,
    key_log: Arc<KeyLog>,
    alpn: &[Vec<u8>],
    t: &Transport,
) -> Result<ClientConfig, QuicError> {
    let provider = provider(seed);
    let mut tls = rustls::ClientConfig::builder_with_details(provider.clone(), Arc::new(FixedTime))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| QuicError::Config(format!("TLS: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(SkipServerVerification(provider)))
        .with_no_client_auth();
    tls.alpn_protocols = alpn.to_vec();
    tls.key_log = key_log;
    let quic = QuicClientConfig::try_from(tls)
        .map_err(|e| QuicError::Config(format!("QUIC client: {e}")))?;
    let mut cfg = ClientConfig::new(Arc::new(quic));
    cfg.transport_config(transport_config(t)?);
    let dcids = Arc::new(DetStream::new(seed.sub("dcid"), "initial-dcid"));
    cfg.initial_dst_cid_provider(Arc::new(move || ConnectionId::new(&dcids.array::<16>())));
    Ok(cfg)
}

pub(crate) fn server_config(
    seed: &Seed,
    key_log: Arc<KeyLog>,
    alpn: &[Vec<u8>],
    t: &Transport,
) -> Result<ServerConfig, QuicError> {
    server_config_keyed(seed, key_log, alpn, t, seeded_key(seed)?)
}

/// The seeded identities loaded (certificate and signing key) by seed: making the certificate and
/// loading its key was a tenth of each Proton run. Ed25519 signs deterministically, so a shared
/// key signs as a fresh one would.
static SEEDED_KEYS: Memo<[u8; 32], Arc<CertifiedKey>> = Memo::new(16);

/// The seeded identity, loaded for signing.
fn seeded_key(seed: &Seed) -> Result<Arc<CertifiedKey>, QuicError> {
    SEEDED_KEYS.get_or_try(seed.0, || certified(identity(seed)?))
}

/// `id` loaded for signing (its key checked against its certificate); an Ed25519 key remembers
/// its signatures.
fn certified(id: Identity) -> Result<Arc<CertifiedKey>, QuicError> {
    let mut certified = CertifiedKey::from_der(
        vec![id.cert],
        PrivateKeyDer::Pkcs8(id.key_pkcs8.into()),
        &rustls::crypto::ring::default_provider(),
    )
    .map_err(|e| QuicError::Config(format!("TLS: {e}")))?;
    if certified.key.algorithm() == SignatureAlgorithm::ED25519 {
        certified.key = Arc::new(RememberedSignatures {
            key: certified.key,
            signed: Arc::new(Memo::new(16)),
        });
    }
    Ok(Arc::new(certified))
}

/// A signing key whose signatures are remembered by (scheme, message): Ed25519 signs
/// deterministically, so a remembered signature is the one signing again would make, and a
/// seed's CertificateVerify repeats run after run (signing it was a twelfth of a Proton run).
#[derive(Debug)]
struct RememberedSignatures {
    key: Arc<dyn SigningKey>,
    signed: Arc<Signatures>,
}

type Signatures = Memo<(SignatureScheme, Vec<u8>), Vec<u8>>;

impl SigningKey for RememberedSignatures {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        Some(Box::new(RememberedSigner {
            signer: self.key.choose_scheme(offered)?,
            signed: self.signed.clone(),
        }))
    }

    fn public_key(&self) -> Option<rustls::pki_types::SubjectPublicKeyInfoDer<'_>> {
        self.key.public_key()
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }
}

#[derive(Debug)]
struct RememberedSigner {
    signer: Box<dyn Signer>,
    signed: Arc<Signatures>,
}

impl Signer for RememberedSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        self.signed
            .get_or_try((self.signer.scheme(), message.to_vec()), || {
                self.signer.sign(message)
            })
    }

    fn scheme(&self) -> SignatureScheme {
        self.signer.scheme()
    }
}

/// A server configuration presenting `id` instead of the seeded identity.
pub(crate) fn server_config_with(
    seed: &Seed,
    key_log: Arc<KeyLog>,
    alpn: &[Vec<u8>],
    t: &Transport,
    id: Identity,
) -> Result<ServerConfig, QuicError> {
    server_config_keyed(seed, key_log, alpn, t, certified(id)?)
}

fn server_config_keyed(
    seed: &Seed,
    key_log: Arc<KeyLog>,
    alpn: &[Vec<u8>],
    t: &Transport,
    key: Arc<CertifiedKey>,
) -> Result<ServerConfig, QuicError> {
    let provider = provider(seed);
    let mut tls = rustls::ServerConfig::builder_with_details(provider, Arc::new(FixedTime))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| QuicError::Config(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SingleCertAndKey::from(key)));
    tls.alpn_protocols = alpn.to_vec();
    tls.key_log = key_log;
    let quic = QuicServerConfig::try_from(tls)
        .map_err(|e| QuicError::Config(format!("QUIC server: {e}")))?;
    let master: [u8; 32] = DetStream::new(seed.sub("token"), "token-key").array();
    let prk = ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, &[]).extract(&master);
    let mut cfg = ServerConfig::new(Arc::new(quic), Arc::new(prk));
    cfg.transport_config(transport_config(t)?);
    cfg.time_source(Arc::new(FixedSystemTime));
    // No NEW_TOKEN frames, whatever features quinn-proto was built with: its `bloom` feature
    // (which a dev-dependency may switch on for a whole workspace build) sends two, with a
    // random token-log key, and the same run would no longer give the same bytes.
    let mut tokens = quinn_proto::ValidationTokenConfig::default();
    tokens.sent(0);
    cfg.validation_token_config(tokens);
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the X25519 memo gives back is what ring computes: the same public key for the same
    /// private bytes and the same secret for the same pair of keys, on the first look and the
    /// next.
    #[test]
    fn remembered_x25519_results_are_the_computed_ones() {
        let group = |label| DetX25519(DetStream::new(Seed::derive(21, label).0, "x25519"));
        let (client, server) = (group("memo-client"), group("memo-server"));
        for _ in 0..2 {
            let c = client.start().expect("key share");
            let s = server.start().expect("key share");
            client.0.reseed(Seed::derive(21, "memo-client").0);
            server.0.reseed(Seed::derive(21, "memo-server").0);
            let seed: [u8; 32] =
                DetStream::new(Seed::derive(21, "memo-client").0, "x25519").array();
            let fresh_public = x25519_private(&seed)
                .expect("key")
                .compute_public_key()
                .expect("public key");
            assert_eq!(c.pub_key(), fresh_public.as_ref());
            let peer = ring::agreement::UnparsedPublicKey::new(
                &ring::agreement::X25519,
                s.pub_key().to_vec(),
            );
            let fresh_secret =
                ring::agreement::agree_ephemeral(x25519_private(&seed).expect("key"), &peer, |k| {
                    k.to_vec()
                })
                .expect("agreement");
            let s_public = s.pub_key().to_vec();
            let c_public = c.pub_key().to_vec();
            let secret = c.complete(&s_public).expect("agreement");
            assert_eq!(secret.secret_bytes(), &fresh_secret[..]);
            assert_eq!(
                s.complete(&c_public).expect("agreement").secret_bytes(),
                &fresh_secret[..]
            );
        }
        // A bad peer key is refused every time (a failure is not remembered).
        for _ in 0..2 {
            assert!(client
                .start()
                .expect("key share")
                .complete(&[0u8; 32])
                .is_err());
        }
    }

    /// A seed's key is loaded once, and it is the identity a fresh load gives: the same
    /// certificate and the same signature.
    #[test]
    fn a_seeded_key_is_loaded_once_and_signs_as_a_fresh_one() {
        let seed = Seed::derive(11, "cached-key");
        let first = seeded_key(&seed).expect("key");
        assert!(Arc::ptr_eq(&first, &seeded_key(&seed).expect("key")));
        let fresh = certified(identity(&seed).expect("identity")).expect("key");
        assert_eq!(first.cert, fresh.cert);
        let sign = |k: &CertifiedKey| {
            k.key
                .choose_scheme(&[SignatureScheme::ED25519])
                .expect("Ed25519")
                .sign(b"transcript")
                .expect("signature")
        };
        assert_eq!(sign(&first), sign(&fresh));
        let other = seeded_key(&Seed::derive(12, "cached-key")).expect("key");
        assert_ne!(first.cert, other.cert);
    }

    /// A remembered signature is the one the raw key makes, for each message.
    #[test]
    fn remembered_signatures_are_the_keys_own() {
        let id = identity(&Seed::derive(13, "remembered")).expect("identity");
        let raw = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&id.key_pkcs8)
            .expect("Ed25519 key");
        let key = certified(id).expect("key");
        let signer = key
            .key
            .choose_scheme(&[SignatureScheme::ED25519])
            .expect("Ed25519");
        for message in [&b"transcript"[..], b"another transcript", b"transcript"] {
            assert_eq!(
                signer.sign(message).expect("signature"),
                raw.sign(message).as_ref(),
                "{message:?}"
            );
        }
    }

    /// Providers made one after another reuse their leaked parts: the pool holds what was
    /// ever alive at once (other tests of this crate run alongside), not one pair per provider,
    /// and a reused pair gives what a new one gives.
    #[test]
    fn seeded_parts_are_reused_and_reseeded() {
        let seed = Seed::derive(3, "pool");
        let first = {
            let p = provider(&seed);
            let mut a = [0u8; 48];
            p.secure_random.fill(&mut a).expect("random");
            a
        };
        for _ in 0..500 {
            let p = provider(&seed);
            let mut a = [0u8; 48];
            p.secure_random.fill(&mut a).expect("random");
            assert_eq!(a, first);
        }
        let leaked = SEEDED.lock().unwrap_or_else(PoisonError::into_inner).len();
        assert!(leaked < 100, "{leaked} pairs leaked for 501 providers");
    }
}
