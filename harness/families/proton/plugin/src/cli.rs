//! Proton's commands: `harness peer proton-server` and `harness peer proton-client`, the
//! reference endpoints as real tools over UDP (the same sans-I/O state machines as in virtual
//! time, driven by a socket and the wall clock).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgMatches, Args, Subcommand};
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_core::{Endpoint, Instant};
use handshake_proton_endpoint::{
    host, Client, ClientPlan, Profile, ProtonEvent, ProtonNode, Server, ALPN,
};
use handshake_quic::KeyLog;
use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

use crate::format::Session;

/// A Proton server's timers as options (unset: the profile's). One set for every tool that
/// starts or talks to a server (`peer proton-server|proton-client`, `proton repl`).
#[derive(Debug, Clone, Default, Args)]
pub struct TimerArgs {
    /// QUIC idle timeout, ms (default: the profile's; as coded 5000).
    #[arg(long)]
    pub idle_ms: Option<u64>,
    /// Keep-alive, ms (0: none).
    #[arg(long)]
    pub keepalive_ms: Option<u64>,
    /// Stream accept timeout, ms.
    #[arg(long)]
    pub accept_ms: Option<u64>,
    /// Read/write timeout, ms.
    #[arg(long)]
    pub op_ms: Option<u64>,
    /// Server startup delay, ms.
    #[arg(long)]
    pub startup_ms: Option<u64>,
    /// Discriminator timeout, ms (0: none).
    #[arg(long)]
    pub disc_ms: Option<u64>,
}

impl TimerArgs {
    /// The timers as a scenario's `session` says them.
    pub fn session(&self) -> Session {
        Session {
            idle_ms: self.idle_ms,
            keepalive_ms: self.keepalive_ms,
            accept_ms: self.accept_ms,
            op_ms: self.op_ms,
            startup_ms: self.startup_ms,
            disc_ms: self.disc_ms,
            ..Session::default()
        }
    }
}

/// Profile and timers of a tool.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// `as_coded` or `project` (options: `project+action_push`, `+reset_discriminator`).
    #[arg(long, default_value = "project")]
    pub profile: String,
    /// The server's timers.
    #[command(flatten)]
    pub timers: TimerArgs,
    /// Append TLS secrets (NSS key log) to this file.
    #[arg(long)]
    pub keylog: Option<PathBuf>,
    /// Seed of the QUIC randomness.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// P2: the server pushes its actions (the same as `+action_push` in --profile).
    #[arg(long)]
    pub action_push: bool,
    /// P4: a 4th stream with 0xFF resets (the same as `+reset_discriminator` in --profile).
    #[arg(long)]
    pub reset_discriminator: bool,
    /// Run a deliberately wrong variant (`harness mutants` lists them).
    #[arg(long, value_name = "NAME")]
    pub mutant: Option<String>,
}

impl ProfileArgs {
    fn profile(&self) -> Result<Profile, String> {
        let session = self.timers.session();
        let mut text = self.profile.clone();
        for (on, option) in [
            (self.action_push, "+action_push"),
            (self.reset_discriminator, "+reset_discriminator"),
        ] {
            if on && !text.contains(option) {
                text.push_str(option);
            }
        }
        if let Some(m) = &self.mutant {
            text = format!("{text}!{m}");
        }
        Ok(session.apply(Profile::parse(&text)?))
    }

    fn key_log(&self) -> Arc<KeyLog> {
        Arc::new(match &self.keylog {
            Some(path) => KeyLog::with_file(path.clone()),
            None => KeyLog::default(),
        })
    }
}

/// `harness peer proton-…`.
#[derive(Debug, Subcommand)]
pub enum PeerCommand {
    /// The reference Proton server over UDP: prints `Server listening on ADDR` when its startup delay is
    /// over, serves one connection at a time until Ctrl-C.
    ProtonServer {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:5000")]
        listen: SocketAddr,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// The reference Proton client over UDP: runs its plan, prints `RESULT=ok` or
    /// `RESULT=fail reason=…`, exits 0 or 1.
    ProtonClient {
        /// The server.
        #[arg(long, default_value = "127.0.0.1:5000")]
        target: SocketAddr,
        /// Events (ids 1, 2, …).
        #[arg(long, default_value_t = 3)]
        events: u32,
        /// StateCommits (requests 1, 2, …).
        #[arg(long, default_value_t = 3)]
        commits: u32,
        /// Actions.
        #[arg(long, default_value_t = 3)]
        actions: u32,
        #[command(flatten)]
        profile: ProfileArgs,
    },
}

impl handshake_plugin::Plugin for crate::Proton {
    fn interop() -> Option<&'static dyn handshake_interop::DynInterop> {
        Some(&crate::interop::INTEROP)
    }
    /// `harness proton repl`.
    fn commands() -> Vec<clap::Command> {
        vec![crate::repl::cli::command()]
    }
    fn run(name: &str, matches: &ArgMatches, out: &mut dyn Write) -> Option<i32> {
        crate::repl::cli::run(name, matches, out)
    }
    fn peer_commands() -> Vec<clap::Command> {
        handshake_plugin::subcommands::<PeerCommand>()
    }
    fn run_peer(peer_matches: &ArgMatches) -> Option<i32> {
        handshake_plugin::run_subcommand::<PeerCommand>(peer_matches, run_tool)
    }
    /// `--keylog`, timers.
    fn check_args(command: clap::Command) -> clap::Command {
        <crate::check::ProtonCheckArgs as clap::Args>::augment_args(command)
    }
    fn check(request: &CheckRequest, matches: &ArgMatches) -> Result<Checked, CheckError> {
        handshake_quic_family::check::check::<crate::check::ProtonCheck>(request, matches)
    }
}

fn run_tool(command: PeerCommand) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
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
            PeerCommand::ProtonServer { listen, profile } => {
                let p = match profile.profile() {
                    Ok(p) => p,
                    Err(e) => return usage(&e),
                };
                let h = match host(
                    profile.seed,
                    "server",
                    true,
                    &p.timers,
                    p.max_bidi(),
                    vec![ALPN.to_vec()],
                    profile.key_log(),
                ) {
                    Ok(h) => h,
                    Err(e) => return usage(&e.to_string()),
                };
                drive(
                    listen,
                    |now| ProtonNode::Server(Server::new(h, p, now)),
                    false,
                )
                .await
            }
            PeerCommand::ProtonClient {
                target,
                events,
                commits,
                actions,
                profile,
            } => {
                let p = match profile.profile() {
                    Ok(p) => p,
                    Err(e) => return usage(&e),
                };
                let h = match host(
                    profile.seed,
                    "client",
                    false,
                    &p.timers,
                    0,
                    vec![ALPN.to_vec()],
                    profile.key_log(),
                ) {
                    Ok(h) => h,
                    Err(e) => return usage(&e.to_string()),
                };
                let plan = ClientPlan {
                    events,
                    commits,
                    actions,
                    ..ClientPlan::default()
                };
                let bind: SocketAddr = if target.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                }
                .parse()
                .unwrap_or(target);
                drive(
                    bind,
                    |now| ProtonNode::Client(Client::new(h, p, plan, target, now)),
                    true,
                )
                .await
            }
        }
    })
}

fn usage(message: &str) -> i32 {
    eprintln!("error: {message}");
    EXIT_INPUT
}

/// Runs `node` on a UDP socket bound to `bind` in wall-clock time until it finishes (a client)
/// or Ctrl-C.
async fn drive(bind: SocketAddr, make: impl FnOnce(Instant) -> ProtonNode, client: bool) -> i32 {
    let socket = match tokio::net::UdpSocket::bind(bind).await {
        Ok(s) => s,
        Err(e) => return usage(&format!("cannot bind {bind}: {e}")),
    };
    // What `--listen 127.0.0.1:0` really bound, for the readiness line.
    let bound = socket.local_addr().map_or(bind, |a| a);
    let start = std::time::Instant::now();
    let now = || Instant::ZERO + start.elapsed();
    let mut node = make(now());
    let mut buf = vec![0u8; 65_535];
    let mut verdict: Option<(bool, String)> = None;
    loop {
        while let Some(t) = node.poll_transmit() {
            let _ = socket.send_to(&t.payload, t.destination).await;
        }
        while let Some(e) = node.poll_event() {
            match &e {
                ProtonEvent::Listening => {
                    println!("Server listening on {bound}");
                    let _ = std::io::stdout().flush();
                }
                ProtonEvent::ClientDone { ok, reason } => verdict = Some((*ok, reason.clone())),
                other => eprintln!(
                    "{:>10.3} ms  {other}",
                    start.elapsed().as_secs_f64() * 1000.0
                ),
            }
        }
        if client && node.is_finished() {
            break;
        }
        let sleep = node
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now()));
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    node.handle_datagram(now(), from, &buf[..n]);
                }
            }
            () = async {
                match sleep {
                    Some(d) => tokio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            } => node.handle_timeout(now()),
            _ = tokio::signal::ctrl_c() => return EXIT_OK,
        }
    }
    match verdict {
        Some((true, _)) => {
            println!("RESULT=ok");
            EXIT_OK
        }
        Some((false, why)) => {
            println!("RESULT=fail reason={why:?}");
            EXIT_FAILED
        }
        None => EXIT_FAILED,
    }
}
