//! `harness peer`: the reference endpoints over real UDP, a usable ctsTraffic-like tool.
//!
//! `peer responder --listen ADDR` serves sessions until Ctrl-C (or `--sessions N` ended, or
//! `--duration`); `peer initiator --target ADDR --connections N` runs N streams, each on its own socket.
//! Progress on a TTY, a per-connection summary at the end, exit 1 when a stream failed.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_mediastream_endpoint::{
    Backoff, Event, Initiator, Metrics, Profile, Responder, StreamConfig, Verify,
};
use handshake_net::udp::{self, Clock, DriveOutcome};
use tokio::sync::watch;

use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

/// Exit code when the user interrupted running streams.
pub const EXIT_INTERRUPTED: i32 = 130;

/// Stream parameters, as ctsTraffic names them.
#[derive(Debug, Clone, clap::Args)]
pub struct StreamArgs {
    /// `-BitsPerSecond`.
    #[arg(long, default_value_t = 1_000_000)]
    pub bits_per_second: u64,
    /// `-FrameRate`, frames per second.
    #[arg(long, default_value_t = 100)]
    pub frame_rate: u32,
    /// `-StreamLength`, seconds.
    #[arg(long, default_value_t = 5)]
    pub stream_length: u32,
    /// `-BufferDepth`, seconds (initiator's initial buffer).
    #[arg(long, default_value_t = 1)]
    pub buffer_depth: u32,
    /// `-DatagramByteSize`, header included.
    #[arg(long, default_value_t = 1400)]
    pub datagram_byte_size: u32,
    /// `-verify:` data (payload = fill pattern) or connection.
    #[arg(long, value_enum, default_value_t = VerifyArg::Data)]
    pub verify: VerifyArg,
    /// `-pattern:` who sends the media: pull (the responder) or push (the initiator).
    #[arg(long, value_enum, default_value_t = DirectionArg::Pull)]
    pub direction: DirectionArg,
}

/// `-pattern:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DirectionArg {
    /// The responder sends, the initiator receives (the classic direction).
    Pull,
    /// The initiator sends, the responder receives.
    Push,
}

impl From<DirectionArg> for handshake_mediastream_endpoint::Direction {
    fn from(d: DirectionArg) -> Self {
        match d {
            DirectionArg::Pull => handshake_mediastream_endpoint::Direction::Pull,
            DirectionArg::Push => handshake_mediastream_endpoint::Direction::Push,
        }
    }
}

/// `-verify:` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VerifyArg {
    /// Payloads must equal the fill pattern.
    Data,
    /// Payloads are not checked.
    Connection,
}

/// Profile and handshake options.
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileArgs {
    /// legacy, udp_push or 3way (options may be appended: 3way+optimistic_start).
    #[arg(long, default_value = "3way")]
    pub profile: String,
    /// D9 (responder): serve legacy START.
    #[arg(long)]
    pub allow_legacy_start: bool,
    /// D10 (initiator): fall back to legacy START when the SYNs go unanswered.
    #[arg(long)]
    pub fallback_to_legacy: bool,
    /// D8 (responder): stream right after SYN-ACK.
    #[arg(long)]
    pub optimistic_start: bool,
    /// D14 (initiator): request the stream's parameters as SYN options and run with what the SYN-ACK
    /// accepts.
    #[arg(long)]
    pub request_options: bool,
    /// D2/D7: first retransmission timeout, ms.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub handshake_timeout_ms: u64,
    /// D2/D7: retransmission timeout cap, ms.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub handshake_timeout_max_ms: u64,
    /// D2/D7: SYNs (and SYN-ACKs) sent at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub handshake_sends: u32,
    /// D4 (responder): concurrent sessions at most.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_limit: Option<u64>,
}

/// `harness peer` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PeerCommand {
    /// Serve media streams (ctsTraffic -listen).
    Responder {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4444")]
        listen: SocketAddr,
        /// Exit after this many sessions have ended.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        sessions: Option<u64>,
        /// Exit after this many seconds.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        duration: Option<u64>,
        /// Seed for the connection ids assigned.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[command(flatten)]
        profile: ProfileArgs,
        #[command(flatten)]
        stream: StreamArgs,
    },
    /// Request media streams (ctsTraffic -target).
    Initiator {
        /// The responder.
        #[arg(long, default_value = "127.0.0.1:4444")]
        target: SocketAddr,
        /// Streams to run at once, each on its own socket.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        connections: u32,
        /// Also fail (exit 1) on any dropped, duplicate or error frame, not only on failed streams.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        profile: ProfileArgs,
        #[command(flatten)]
        stream: StreamArgs,
    },
}

fn build_profile(args: &ProfileArgs) -> Result<Profile, String> {
    let mut profile = Profile::parse(&args.profile).map_err(|e| e.to_string())?;
    let any_option = args.allow_legacy_start
        || args.fallback_to_legacy
        || args.optimistic_start
        || args.request_options;
    if any_option && profile.kind != handshake_mediastream_endpoint::ProfileKind::ThreeWay {
        return Err(format!(
            "profile `{}` takes no options: they belong to 3way",
            args.profile
        ));
    }
    profile.allow_legacy_start |= args.allow_legacy_start;
    profile.fallback_to_legacy |= args.fallback_to_legacy;
    profile.optimistic_start |= args.optimistic_start;
    profile.request_options |= args.request_options;
    let backoff = Backoff {
        initial_ms: args.handshake_timeout_ms,
        max_ms: args.handshake_timeout_max_ms,
        sends: args.handshake_sends.max(1),
    };
    profile.syn_backoff = backoff;
    profile.syn_ack_backoff = backoff;
    profile.session_limit = args
        .session_limit
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX));
    Ok(profile)
}

fn build_stream(args: &StreamArgs) -> Result<StreamConfig, String> {
    let config = StreamConfig {
        bits_per_second: args.bits_per_second,
        frame_rate: args.frame_rate,
        stream_length_secs: args.stream_length,
        buffer_depth_secs: args.buffer_depth,
        datagram_byte_size: args.datagram_byte_size,
        verify: match args.verify {
            VerifyArg::Data => Verify::Data,
            VerifyArg::Connection => Verify::Connection,
        },
        direction: args.direction.into(),
    };
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

/// Runs `harness peer …`; returns the exit code.
pub fn run(command: PeerCommand) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return EXIT_INPUT;
        }
    };
    runtime.block_on(async move {
        match command {
            PeerCommand::Responder {
                listen,
                sessions,
                duration,
                seed,
                profile,
                stream,
            } => match (build_profile(&profile), build_stream(&stream)) {
                (Ok(p), Ok(s)) => run_responder(listen, p, s, seed, sessions, duration).await,
                (Err(e), _) | (_, Err(e)) => usage(&e),
            },
            PeerCommand::Initiator {
                target,
                connections,
                strict,
                profile,
                stream,
            } => match (build_profile(&profile), build_stream(&stream)) {
                (Ok(p), Ok(s)) => run_initiators(target, connections, strict, p, s).await,
                (Err(e), _) | (_, Err(e)) => usage(&e),
            },
        }
    })
}

fn usage(message: &str) -> i32 {
    eprintln!("error: {message}");
    EXIT_INPUT
}

/// Ctrl-C turns the watch true.
fn stop_on_ctrl_c() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            let _ = tx.send(true);
        }
    });
    rx
}

async fn run_responder(
    listen: SocketAddr,
    profile: Profile,
    config: StreamConfig,
    seed: u64,
    sessions: Option<u64>,
    duration: Option<u64>,
) -> i32 {
    let socket = match tokio::net::UdpSocket::bind(listen).await {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot listen on {listen}: {e}")),
    };
    let mut responder = match Responder::new(profile, config, seed) {
        Ok(r) => r,
        Err(e) => return usage(&e.to_string()),
    };
    let listening = socket.local_addr().map_or(listen, |a| a);
    eprintln!("responder {profile} listening on {listening} (Ctrl-C to stop)");
    let stop = stop_on_ctrl_c();
    let (limit_tx, limit_rx) = watch::channel(false);
    let stop = merge_stops(stop, limit_rx);
    let clock = Clock::start();
    let deadline = duration.map(|s| Instant::from_millis(s.saturating_mul(1000)));
    let mut ended: Vec<(SocketAddr, Metrics)> = Vec::new();
    let tty = std::io::stderr().is_terminal();
    let result = udp::drive(
        &socket,
        &mut responder,
        clock,
        deadline,
        stop,
        |at, event| {
            if let Event::Ended { peer, metrics } = event {
                if tty {
                    eprintln!(
                        "{at} session {peer} ended: {} frames sent, mode {}",
                        metrics.frames_sent, metrics.negotiated_mode
                    );
                }
                ended.push((peer, *metrics));
                if sessions.is_some_and(|n| ended.len() as u64 >= n) {
                    let _ = limit_tx.send(true);
                }
            }
        },
        |_| {},
    )
    .await;
    let stats = match result {
        Ok((_, stats)) => stats,
        Err(e) => {
            eprintln!("error: socket failed: {e}");
            return EXIT_FAILED;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{} sessions ended, {} still live; {} datagrams sent, {} received",
        ended.len(),
        responder.session_count(),
        stats.sent,
        stats.received
    );
    print_table(&mut out, &ended);
    let live: Vec<(SocketAddr, Metrics)> =
        responder.sessions().map(|(p, m)| (p, m.clone())).collect();
    if !live.is_empty() {
        let _ = writeln!(out, "still live:");
        print_table(&mut out, &live);
    }
    let stray = responder.stray_metrics();
    if !stray.validation_errors.is_empty() {
        let _ = writeln!(
            out,
            "dropped from tuples without a session: {:?}",
            stray.validation_errors
        );
    }
    if ended.iter().any(|(_, m)| m.failure.is_some()) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// A stop signal that fires when either input does.
fn merge_stops(
    mut a: watch::Receiver<bool>,
    mut b: watch::Receiver<bool>,
) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = a.changed() => if r.is_err() || *a.borrow() { break },
                r = b.changed() => if r.is_err() || *b.borrow() { break },
            }
        }
        let _ = tx.send(true);
    });
    rx
}

async fn run_initiators(
    target: SocketAddr,
    connections: u32,
    strict: bool,
    profile: Profile,
    config: StreamConfig,
) -> i32 {
    let stop = stop_on_ctrl_c();
    let frames_total = config.frames() * u64::from(connections);
    let rendered = Arc::new(AtomicU64::new(0));
    let progress = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(frames_total);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} frames {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // The render-clock slack: a stream ends at most this long after its last frame should have come.
    let deadline = Instant::ZERO
        + Duration::from_secs(
            u64::from(config.stream_length_secs) + u64::from(config.buffer_depth_secs) + 30,
        );
    let mut tasks = Vec::new();
    for n in 0..connections {
        let stop = stop.clone();
        let rendered = Arc::clone(&rendered);
        tasks.push(tokio::spawn(async move {
            let socket = udp::bind_for(target).await?;
            // Connected, as ctsTraffic's client socket is: a concrete local address, and the OS filters
            // datagrams from other sources.
            socket.connect(target).await?;
            let local = socket.local_addr()?;
            let mut initiator =
                Initiator::new(profile, config, target).map_err(std::io::Error::other)?;
            let clock = Clock::start();
            initiator.connect(clock.now());
            let mut last = 0u64;
            let (outcome, _) = udp::drive(
                &socket,
                &mut initiator,
                clock,
                Some(deadline),
                stop,
                |_, _| {},
                |i: &Initiator| {
                    let m = i.metrics();
                    let done = m.frames_successful + m.frames_dropped + m.frames_duplicate;
                    rendered.fetch_add(done - last.min(done), Ordering::Relaxed);
                    last = done;
                },
            )
            .await?;
            Ok::<_, std::io::Error>((n, local, outcome, initiator.metrics().clone()))
        }));
    }
    let ticker = progress.clone().map(|bar| {
        let rendered = Arc::clone(&rendered);
        tokio::spawn(async move {
            loop {
                bar.set_position(rendered.load(Ordering::Relaxed));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    });
    let mut results = Vec::new();
    let mut interrupted = false;
    let mut errors = 0;
    for task in tasks {
        match task.await {
            Ok(Ok((n, local, outcome, metrics))) => {
                interrupted |= outcome == DriveOutcome::Stopped;
                let mut metrics = metrics;
                if outcome == DriveOutcome::DeadlineReached && metrics.failure.is_none() {
                    metrics.failure = Some("stream did not end in time".to_owned());
                }
                results.push((n, local, metrics));
            }
            Ok(Err(e)) => {
                eprintln!("error: connection failed: {e}");
                errors += 1;
            }
            Err(e) => {
                eprintln!("error: connection task failed: {e}");
                errors += 1;
            }
        }
    }
    if let Some(t) = ticker {
        t.abort();
    }
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut out = std::io::stdout().lock();
    let rows: Vec<(SocketAddr, Metrics)> = results
        .iter()
        .map(|(_, local, m)| (*local, m.clone()))
        .collect();
    print_table(&mut out, &rows);
    let failed = rows.iter().filter(|(_, m)| m.failure.is_some()).count();
    let lossy = rows
        .iter()
        .filter(|(_, m)| m.frames_dropped + m.frames_duplicate + m.frames_error > 0)
        .count();
    let ok: u64 = rows.iter().map(|(_, m)| m.frames_successful).sum();
    let dropped: u64 = rows.iter().map(|(_, m)| m.frames_dropped).sum();
    let _ = writeln!(out, "{} connections: {} failed, {} with frame loss; frames {ok} successful, {dropped} dropped of {frames_total}", rows.len(), failed, lossy);
    if interrupted {
        eprintln!("interrupted: the summary above is partial");
        return EXIT_INTERRUPTED;
    }
    if errors > 0 || failed > 0 || (strict && lossy > 0) {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn print_table(out: &mut dyn Write, rows: &[(SocketAddr, Metrics)]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{:<22} {:<16} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9}  connection id / failure",
        "peer", "mode", "ok", "dropped", "dup", "error", "sent", "1st ms", "end ms"
    );
    for (peer, m) in rows {
        let ms = |d: Option<Duration>| {
            d.map_or("-".to_owned(), |d| {
                format!("{:.1}", d.as_secs_f64() * 1000.0)
            })
        };
        let tail = match (&m.failure, m.connection_id) {
            (Some(why), _) => why.clone(),
            (None, Some(id)) => id.to_string(),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<22} {:<16} {:>8} {:>8} {:>8} {:>6} {:>6} {:>9} {:>9}  {}",
            peer.to_string(),
            m.negotiated_mode.name(),
            m.frames_successful,
            m.frames_dropped,
            m.frames_duplicate,
            m.frames_error,
            m.frames_sent,
            ms(m.time_to_first_media),
            ms(m.time_to_end),
            tail
        );
    }
}
