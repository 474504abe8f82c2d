//! `harness peer darktower-controller|darktower-handler|darktower-server|darktower-client`: the
//! reference endpoints as real tools over UDP (the same sans-I/O state machines as in virtual
//! time, driven by a socket and the wall clock). The client has a load mode: N participants
//! publishing and subscribing at a frame rate, reporting the seed's metrics.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgMatches, Args, Subcommand};
use handshake_core::Instant;
use handshake_darktower_endpoint::{
    Client, ClientReport, Clock, Controller, DarkTowerEvent, DarkTowerNode, Handler, JoinMint,
    JoinTokenKind, MeetingServer, Mutant, Secret,
};
use handshake_net::udp::Clock as UdpClock;
use handshake_quic::KeyLog;
use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};
use serde::Serialize;

use crate::format::Meeting;
use crate::{client_config_for, profile::Profile, transport, TOKEN_SECRET};

/// What every Dark Tower tool takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// `webtransport` (HTTP/3) or `quic` (bare QUIC, ALPN darktower / darktower-media).
    #[arg(long, default_value = "webtransport")]
    pub transport: String,
    /// `mapped` (the WebTransport error space) or `raw` reset codes (DT9).
    #[arg(long, default_value = "mapped")]
    pub reset_codes: String,
    /// The HS256 token secret (DT8).
    #[arg(long, default_value = TOKEN_SECRET)]
    pub token_secret: String,
    /// QUIC idle timeout, ms (DT10).
    #[arg(long, default_value_t = 30_000)]
    pub idle_ms: u64,
    /// Client keep-alive, ms (DT10; 0: none).
    #[arg(long, default_value_t = 15_000)]
    pub keepalive_ms: u64,
    /// Append TLS secrets (NSS key log) to this file.
    #[arg(long)]
    pub keylog: Option<PathBuf>,
    /// Seed of the QUIC randomness.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Run a deliberately wrong variant (`harness mutants` lists them).
    #[arg(long, value_name = "NAME")]
    pub mutant: Option<String>,
}

impl CommonArgs {
    fn profile(&self, version: &str) -> Result<Profile, String> {
        let mut text = version.to_owned();
        match self.transport.as_str() {
            "webtransport" => {}
            "quic" => text.push_str("+quic"),
            other => {
                return Err(format!(
                    "--transport {other}: expected webtransport or quic"
                ))
            }
        }
        match self.reset_codes.as_str() {
            "mapped" => {}
            "raw" => text.push_str("+raw"),
            other => return Err(format!("--reset-codes {other}: expected mapped or raw")),
        }
        if let Some(m) = &self.mutant {
            text = format!("{text}!{m}");
        }
        Profile::parse(&text)
    }

    fn meeting(&self) -> Meeting {
        Meeting {
            idle_ms: self.idle_ms,
            keepalive_ms: self.keepalive_ms,
            ..Meeting::default()
        }
    }

    fn key_log(&self) -> Arc<KeyLog> {
        Arc::new(match &self.keylog {
            Some(path) => KeyLog::with_file(path.clone()),
            None => KeyLog::default(),
        })
    }
}

/// The certificate a server presents.
#[derive(Debug, Clone, Args)]
pub struct CertArgs {
    /// The certificate to present (PEM; with --key). Default: a fresh ECDSA P-256 certificate,
    /// self-signed for localhost and 127.0.0.1, valid 13 days (what a browser's WebTransport
    /// `serverCertificateHashes` accepts). Its SHA-256 is printed at startup as `cert_hash: HEX`.
    #[arg(long, requires = "key", value_name = "PEM")]
    pub cert: Option<PathBuf>,
    /// The certificate's private key (PEM, PKCS #8: `BEGIN PRIVATE KEY`).
    #[arg(long, requires = "cert", value_name = "PEM")]
    pub key: Option<PathBuf>,
}

impl CertArgs {
    /// The identity to present: the files, or a browser-acceptable fresh one.
    fn identity(&self) -> Result<handshake_quic::Identity, String> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => {
                let read = |p: &PathBuf| {
                    std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
                };
                handshake_quic::Identity::from_pem(&read(cert)?, &read(key)?)
                    .map_err(|e| format!("--cert/--key: {e}"))
            }
            _ => {
                let made = crate::launch::browser_cert()?;
                Ok(handshake_quic::Identity {
                    cert: made.der.0.into(),
                    key_pkcs8: made.der.1,
                })
            }
        }
    }
}

/// Base64 (standard alphabet, padded).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The meetings a controller serves.
#[derive(Debug, Clone, Args)]
pub struct MeetingArgs {
    /// A meeting it serves (repeatable).
    #[arg(long = "meeting", default_value = "standup")]
    pub meetings: Vec<String>,
    /// A meeting that ended (NOT_FOUND; repeatable).
    #[arg(long = "ended")]
    pub ended: Vec<String>,
    /// Participants per meeting.
    #[arg(long, default_value_t = 10)]
    pub capacity: u32,
}

/// What a client does.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// `v1` (streams) or `v2` (datagrams) media.
    #[arg(long, default_value = "v1")]
    pub profile: String,
    /// The meeting.
    #[arg(long, default_value = "standup")]
    pub meeting: String,
    /// The join token (default: one minted with --token-secret, valid 5 minutes).
    #[arg(long)]
    pub join_token: Option<String>,
    /// Participant name (load mode: NAME-1, NAME-2, …).
    #[arg(long, default_value = "participant")]
    pub name: String,
    /// Sources: `video`, `audio`, `video,audio`, or `none`.
    #[arg(long, default_value = "video")]
    pub publish: String,
    /// Frames per source.
    #[arg(long, default_value_t = 150)]
    pub frames: u32,
    /// Frames per second.
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// Payload bytes per frame.
    #[arg(long, default_value_t = 1000)]
    pub payload_bytes: u32,
    /// How long to stay after the last frame, ms.
    #[arg(long, default_value_t = 1000)]
    pub linger_ms: u64,
}

/// `harness peer darktower-…` (the prefix is the family's, as the command names show).
#[derive(Debug, Subcommand)]
#[allow(clippy::enum_variant_names)]
pub enum PeerCommand {
    /// The reference Meeting Controller over UDP: prints `listening on ADDR`, serves until Ctrl-C.
    DarktowerController {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:4433")]
        listen: SocketAddr,
        /// The Media Handler URL it hands out.
        #[arg(long, default_value = "https://127.0.0.1:4434/media")]
        handler_url: String,
        #[command(flatten)]
        meeting: MeetingArgs,
        #[command(flatten)]
        cert: CertArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The reference Media Handler over UDP: prints `listening on ADDR`, serves until Ctrl-C.
    DarktowerHandler {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:4434")]
        listen: SocketAddr,
        /// Taken and ignored (one command line serves both server roles).
        #[arg(long, hide = true)]
        handler_url: Option<String>,
        /// Taken and ignored, as `--handler-url`.
        #[command(flatten)]
        meeting: MeetingArgs,
        #[command(flatten)]
        cert: CertArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Controller and handler on one port (sessions told apart by path or ALPN): prints
    /// `listening on ADDR`, serves until Ctrl-C.
    DarktowerServer {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:4433")]
        listen: SocketAddr,
        #[command(flatten)]
        meeting: MeetingArgs,
        #[command(flatten)]
        cert: CertArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// The reference client: joins through the controller at --target, authenticates with the
    /// handler, publishes, subscribes, leaves; prints `RESULT=ok` or `RESULT=fail reason=…`.
    /// With --participants N (load mode) N clients run at once and the seed's metrics are
    /// printed (--json: as JSON).
    DarktowerClient {
        /// The controller.
        #[arg(long, default_value = "127.0.0.1:4433")]
        target: SocketAddr,
        /// Participants (load mode when > 1).
        #[arg(long, default_value_t = 1)]
        participants: u32,
        /// Metrics as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// Runs one (`None`: not Dark Tower's).
pub fn run(peer_matches: &ArgMatches) -> Option<i32> {
    handshake_plugin::run_subcommand::<PeerCommand>(peer_matches, run_tool)
}

/// Dark Tower's tools.
pub fn commands() -> Vec<clap::Command> {
    handshake_plugin::subcommands::<PeerCommand>()
}

fn usage(message: &str) -> i32 {
    eprintln!("error: {message}");
    EXIT_INPUT
}

fn run_tool(command: PeerCommand) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(async move {
        match command {
            PeerCommand::DarktowerController {
                listen,
                handler_url,
                meeting,
                cert,
                common,
            } => {
                let make = |p: &Profile, _: SocketAddr| -> Result<DarkTowerNode, String> {
                    let t = server_transport(&common, p, "controller", false)?;
                    Ok(DarkTowerNode::Controller(Controller::new(
                        t,
                        controller_config(&meeting, &common, p, handler_url.clone()),
                    )))
                };
                serve(listen, &common, &cert, make).await
            }
            PeerCommand::DarktowerHandler {
                listen,
                cert,
                common,
                ..
            } => {
                let make = |p: &Profile, _: SocketAddr| -> Result<DarkTowerNode, String> {
                    let t = server_transport(&common, p, "handler", true)?;
                    Ok(DarkTowerNode::Handler(Handler::new(
                        t,
                        handler_config(&common, p),
                    )))
                };
                serve(listen, &common, &cert, make).await
            }
            PeerCommand::DarktowerServer {
                listen,
                meeting,
                cert,
                common,
            } => {
                let make = |p: &Profile, bound: SocketAddr| -> Result<DarkTowerNode, String> {
                    let t = server_transport(&common, p, "server", true)?;
                    let scheme = crate::scheme(p);
                    // The handler is this very port.
                    Ok(DarkTowerNode::Server(MeetingServer::new(
                        t,
                        controller_config(
                            &meeting,
                            &common,
                            p,
                            format!("{scheme}://{bound}/media"),
                        ),
                        handler_config(&common, p),
                    )))
                };
                serve(listen, &common, &cert, make).await
            }
            PeerCommand::DarktowerClient {
                target,
                participants,
                json,
                client,
                common,
            } => run_clients(target, participants.max(1), json, &client, &common).await,
        }
    })
}

fn server_transport(
    common: &CommonArgs,
    p: &Profile,
    who: &str,
    handler: bool,
) -> Result<Box<dyn handshake_quic::session::Sessions>, String> {
    let codes = p.wire_codes();
    transport(
        p,
        &common.meeting(),
        who,
        common.seed,
        true,
        handler,
        false,
        codes,
        common.key_log(),
    )
}

fn controller_config(
    meeting: &MeetingArgs,
    common: &CommonArgs,
    p: &Profile,
    handler_url: String,
) -> handshake_darktower_endpoint::ControllerConfig {
    handshake_darktower_endpoint::ControllerConfig {
        meetings: meeting.meetings.clone(),
        ended: meeting.ended.clone(),
        capacity: meeting.capacity,
        handler_url,
        secret: Secret::new(&common.token_secret),
        clock: Clock::VIRTUAL,
        refuse_join: None,
        hold: false,
        mutant: p.mutant,
    }
}

fn handler_config(common: &CommonArgs, p: &Profile) -> handshake_darktower_endpoint::HandlerConfig {
    handshake_darktower_endpoint::HandlerConfig {
        secret: Secret::new(&common.token_secret),
        clock: Clock::VIRTUAL,
        refuse_auth: false,
        hold: false,
        stop_media: None,
        mutant: p.mutant,
    }
}

/// Binds `listen`, presents the certificate (printing its SHA-256 as `cert_hash: HEX` and
/// `cert_hash_base64: B64`), prints `listening on ADDR`, serves until Ctrl-C.
async fn serve(
    listen: SocketAddr,
    common: &CommonArgs,
    cert: &CertArgs,
    make: impl FnOnce(&Profile, SocketAddr) -> Result<DarkTowerNode, String>,
) -> i32 {
    let profile = match common.profile("v1") {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    let socket = match tokio::net::UdpSocket::bind(listen).await {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot bind {listen}: {e}")),
    };
    let bound = socket.local_addr().map_or(listen, |a| a);
    let clock = UdpClock::start();
    let mut node = match make(&profile, bound) {
        Ok(n) => n,
        Err(e) => return usage(&e),
    };
    node.set_clock(Clock::wall(clock.now()));
    // Real time, for browsers too: not the seeded Ed25519 certificate of virtual-time runs
    // (Chromium offers no Ed25519 signature scheme), but an ECDSA P-256 one it can pin.
    let identity = match cert.identity() {
        Ok(id) => id,
        Err(e) => return usage(&e),
    };
    let hash = identity.cert_sha256();
    let Some(t) = node.server_transport() else {
        return usage("not a server");
    };
    if let Err(e) = t.host_mut().set_server_identity(identity) {
        return usage(&format!("the certificate: {e}"));
    }
    // The hash as WebTransport's `serverCertificateHashes: [{algorithm: "sha-256", value}]`
    // wants it: `value` is these 32 bytes (hex, or base64 for `Uint8Array.from(atob(…), …)`).
    println!("cert_hash: {}", crate::launch::cert_hash_hex(&hash));
    println!("cert_hash_base64: {}", base64(&hash));
    println!("listening on {bound}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    drive(&socket, &mut node, clock, false).await;
    EXIT_OK
}

/// Runs `node` on `socket` in wall-clock time (`handshake_net::udp::drive`) until it finishes (a
/// client) or Ctrl-C; prints its events on stderr (`quiet`: only a client's end).
async fn drive(
    socket: &tokio::net::UdpSocket,
    node: &mut DarkTowerNode,
    clock: UdpClock,
    quiet: bool,
) {
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let ctrl_c = async move {
        let _ = tokio::signal::ctrl_c().await;
        let _ = stop_tx.send(true);
    };
    let run = handshake_net::udp::drive(
        socket,
        node,
        clock,
        None,
        stop,
        |at, e| {
            if !quiet || matches!(e, DarkTowerEvent::Finished { .. }) {
                eprintln!("{:>10.3} ms  {e}", at.as_nanos() as f64 / 1e6);
            }
        },
        |_| {},
    );
    tokio::select! {
        r = run => {
            if let Err(e) = r {
                eprintln!("error: the socket failed: {e}");
            }
        }
        () = ctrl_c => {}
    }
}

/// The seed's metrics over a load run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadMetrics {
    /// Participants started.
    pub participants: u32,
    /// Participants that completed.
    pub completed: u32,
    /// Why the others failed (first few).
    pub failures: Vec<String>,
    /// Connection set-up (controller connect to the handler's ConnectResponse), ms: mean, max.
    pub setup_ms_mean: f64,
    /// The maximum.
    pub setup_ms_max: f64,
    /// Streams each participant opened (mean) and received (mean).
    pub streams_opened_per_participant: f64,
    /// Streams received per participant (mean).
    pub streams_received_per_participant: f64,
    /// Frames sent in all.
    pub frames_sent: u64,
    /// Frames received in all.
    pub frames_received: u64,
    /// Frames that should have arrived: each participant's frames × the others.
    pub frames_expected: u64,
    /// 1 − received / expected, percent.
    pub loss_percent: f64,
    /// Delivery latency (receive time − frame timestamp), ms: mean, max.
    pub latency_ms_mean: f64,
    /// The maximum.
    pub latency_ms_max: f64,
    /// Sequence gaps seen.
    pub gaps: u64,
    /// Resets and stops seen, by code.
    pub resets: std::collections::BTreeMap<u32, u64>,
    /// Wall time of the run, ms.
    pub wall_ms: f64,
}

async fn run_clients(
    target: SocketAddr,
    n: u32,
    json: bool,
    args: &ClientArgs,
    common: &CommonArgs,
) -> i32 {
    let profile = match common.profile(&args.profile) {
        Ok(p) => p,
        Err(e) => return usage(&e),
    };
    let sources: Vec<String> = match args.publish.as_str() {
        "none" | "" => Vec::new(),
        list => list.split(',').map(str::to_owned).collect(),
    };
    let meeting = Meeting {
        id: args.meeting.clone(),
        idle_ms: common.idle_ms,
        keepalive_ms: common.keepalive_ms,
        publish: sources.clone(),
        frames: args.frames,
        fps: args.fps,
        payload_bytes: args.payload_bytes,
        linger_ms: args.linger_ms,
        ..Meeting::default()
    };
    let clock = UdpClock::start();
    let wall = Clock::wall(clock.now());
    // Everyone joins first; media starts together (load mode), so every frame has every other
    // participant as a receiver.
    let media_at = (n > 1).then(|| Instant::ZERO + Duration::from_millis(500 + 20 * u64::from(n)));
    let mut tasks = Vec::new();
    for i in 0..n {
        let name = if n > 1 {
            format!("{}-{}", args.name, i + 1)
        } else {
            args.name.clone()
        };
        let mut config = match client_config_for(&meeting, &name, &profile, target) {
            Ok(c) => c,
            Err(e) => return usage(&e),
        };
        config.clock = wall;
        config.media_not_before = media_at;
        match &args.join_token {
            Some(t) => {
                config.mint = None;
                config.join_token = t.clone();
            }
            None => {
                config.mint = Some(JoinMint {
                    secret: Secret::new(&common.token_secret),
                    meeting: args.meeting.clone(),
                    kind: JoinTokenKind::Valid,
                    subject: Some(name.clone()),
                });
            }
        }
        let keep_alive = profile.mutant != Some(Mutant::NoKeepAlive);
        let t = match transport(
            &profile,
            &meeting,
            &format!("client-{i}"),
            common.seed.wrapping_add(u64::from(i)),
            false,
            false,
            keep_alive,
            profile.wire_codes(),
            common.key_log(),
        ) {
            Ok(t) => t,
            Err(e) => return usage(&e),
        };
        let bind: SocketAddr = if target.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        }
        .parse()
        .unwrap_or(target);
        let socket = match tokio::net::UdpSocket::bind(bind).await {
            Ok(s) => s,
            Err(e) => return usage(&format!("cannot bind {bind}: {e}")),
        };
        let mut node = DarkTowerNode::Client(Client::new(t, config, clock.now()));
        tasks.push(async move {
            drive(&socket, &mut node, clock, true).await;
            node.client()
                .map(|c| c.report().clone())
                .unwrap_or_default()
        });
    }
    let reports: Vec<ClientReport> = futures_join(tasks).await;
    let wall_ms = clock.now().as_nanos() as f64 / 1e6;
    if n == 1 {
        return match reports.first().and_then(|r| r.result.clone()) {
            Some(Ok(())) => {
                println!("RESULT=ok");
                EXIT_OK
            }
            Some(Err(why)) => {
                println!("RESULT=fail reason={why:?}");
                EXIT_FAILED
            }
            None => {
                println!("RESULT=fail reason=\"interrupted\"");
                EXIT_FAILED
            }
        };
    }
    let m = metrics(
        &reports,
        n,
        sources.len() as u64 * u64::from(args.frames),
        wall_ms,
    );
    if json {
        println!("{}", serde_json::to_string_pretty(&m).unwrap_or_default());
    } else {
        print_metrics(&m);
    }
    if m.completed == m.participants {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

/// Awaits every future, concurrently (one task each on the current-thread runtime).
async fn futures_join<F>(tasks: Vec<F>) -> Vec<ClientReport>
where
    F: std::future::Future<Output = ClientReport> + 'static,
{
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let handles: Vec<_> = tasks.into_iter().map(tokio::task::spawn_local).collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap_or_default());
            }
            out
        })
        .await
}

fn metrics(reports: &[ClientReport], n: u32, frames_each: u64, wall_ms: f64) -> LoadMetrics {
    let mut m = LoadMetrics {
        participants: n,
        wall_ms,
        ..LoadMetrics::default()
    };
    let mut setups = Vec::new();
    let mut latency_sum = 0u64;
    for r in reports {
        match &r.result {
            Some(Ok(())) => m.completed += 1,
            Some(Err(why)) if m.failures.len() < 5 => m.failures.push(why.clone()),
            _ => {}
        }
        if let Some(s) = r.setup {
            setups.push(s.as_secs_f64() * 1000.0);
        }
        m.frames_sent += r.frames_sent;
        m.frames_received += r.frames_received;
        latency_sum += r.latency_sum_us;
        m.latency_ms_max = m.latency_ms_max.max(r.latency_max_us as f64 / 1000.0);
        m.gaps += r.gaps;
        m.streams_opened_per_participant += r.streams_opened as f64;
        m.streams_received_per_participant += r.streams_received as f64;
        for (code, count) in &r.resets {
            *m.resets.entry(*code).or_default() += count;
        }
    }
    let count = f64::from(n.max(1));
    m.streams_opened_per_participant /= count;
    m.streams_received_per_participant /= count;
    if !setups.is_empty() {
        m.setup_ms_mean = setups.iter().sum::<f64>() / setups.len() as f64;
        m.setup_ms_max = setups.iter().copied().fold(0.0, f64::max);
    }
    m.frames_expected = frames_each * u64::from(n) * u64::from(n.saturating_sub(1));
    if m.frames_expected > 0 {
        m.loss_percent =
            100.0 * (1.0 - m.frames_received as f64 / m.frames_expected as f64).max(0.0);
    }
    if m.frames_received > 0 {
        m.latency_ms_mean = latency_sum as f64 / m.frames_received as f64 / 1000.0;
    }
    m
}

fn print_metrics(m: &LoadMetrics) {
    println!(
        "participants: {} ({} completed, {} failed)",
        m.participants,
        m.completed,
        m.participants - m.completed
    );
    for f in &m.failures {
        println!("  failure: {f}");
    }
    println!(
        "connection set-up: mean {:.1} ms, max {:.1} ms",
        m.setup_ms_mean, m.setup_ms_max
    );
    println!(
        "streams per participant: {:.1} opened, {:.1} received",
        m.streams_opened_per_participant, m.streams_received_per_participant
    );
    println!(
        "frames: {} sent, {} received of {} expected (loss {:.2} %), {} sequence gaps",
        m.frames_sent, m.frames_received, m.frames_expected, m.loss_percent, m.gaps
    );
    println!(
        "delivery latency: mean {:.2} ms, max {:.2} ms",
        m.latency_ms_mean, m.latency_ms_max
    );
    let resets: Vec<String> = m
        .resets
        .iter()
        .map(|(c, n)| format!("{c:#04x}: {n}"))
        .collect();
    println!(
        "resets by code: {}",
        if resets.is_empty() {
            "none".to_owned()
        } else {
            resets.join(", ")
        }
    );
    println!("wall time: {:.0} ms", m.wall_ms);
}
