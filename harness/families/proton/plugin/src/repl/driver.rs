//! The REPL's two drivers of its scripted client: [`UdpDriver`], a real UDP socket and the wall
//! clock (any Proton server), and [`VirtualDriver`], the reference server in-process on the
//! harness's virtual link, where time passes only while a command waits (`--target ref:PROFILE`,
//! and the tests).

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton_endpoint::{
    host, Base, Profile, ProtonEvent, ScriptPeer, Server, Timers, ALPN,
};
use handshake_quic::pair::{Order, Pair, PairConfig};
use handshake_quic::KeyLog;
use handshake_scenario::engine::{INITIATOR, RESPONDER};

use crate::format::Session;
use crate::repl::session::Driver;

/// The scripted client's own transport: no keep-alive and a long idle timeout, so that the
/// server's timers decide (as the scenario engine's scripted peer does: a saved session replays
/// with the same client).
pub fn client_timers() -> Timers {
    let mut t = Timers::of(Base::Project);
    t.idle = Duration::from_secs(3_600);
    t.keep_alive = None;
    t
}

fn client(
    seed: u64,
    remote: SocketAddr,
    key_log: Arc<KeyLog>,
    now: Instant,
) -> Result<ScriptPeer, String> {
    let h = host(
        seed,
        "script-client",
        false,
        &client_timers(),
        16,
        vec![ALPN.to_vec()],
        key_log,
    )
    .map_err(|e| e.to_string())?;
    Ok(ScriptPeer::new(h, remote, false, now))
}

/// A real server over UDP, in wall-clock time.
#[derive(Debug)]
pub struct UdpDriver {
    socket: UdpSocket,
    peer: ScriptPeer,
    start: std::time::Instant,
    buf: Vec<u8>,
}

impl UdpDriver {
    /// A client of `target` on a fresh UDP socket.
    pub fn new(target: SocketAddr, seed: u64, key_log: Arc<KeyLog>) -> Result<UdpDriver, String> {
        let bind = SocketAddr::new(
            if target.is_ipv4() {
                std::net::Ipv4Addr::UNSPECIFIED.into()
            } else {
                std::net::Ipv6Addr::UNSPECIFIED.into()
            },
            0,
        );
        let socket = UdpSocket::bind(bind).map_err(|e| format!("cannot bind {bind}: {e}"))?;
        let start = std::time::Instant::now();
        let peer = client(seed, target, key_log, Instant::ZERO)?;
        Ok(UdpDriver {
            socket,
            peer,
            start,
            buf: vec![0u8; 65_535],
        })
    }

    fn clock(&self) -> Instant {
        Instant::ZERO + self.start.elapsed()
    }

    fn flush(&mut self) {
        while let Some((to, payload)) = self.peer.poll_transmit() {
            // A lost datagram is QUIC's business (it retransmits); an unreachable host shows as
            // a handshake that never completes.
            let _ = self.socket.send_to(&payload, to);
        }
    }
}

impl Driver for UdpDriver {
    fn now(&self) -> Instant {
        self.clock()
    }

    fn peer(&mut self) -> Result<&mut ScriptPeer, String> {
        Ok(&mut self.peer)
    }

    fn advance(&mut self, deadline: Instant) -> Vec<(Instant, ProtonEvent)> {
        loop {
            self.flush();
            let now = self.clock();
            let mut events = Vec::new();
            while let Some(e) = self.peer.poll_event() {
                events.push((now, e));
            }
            if !events.is_empty() || now >= deadline {
                return events;
            }
            let wake = self
                .peer
                .poll_timeout()
                .map_or(deadline, |t| t.min(deadline));
            if wake <= now {
                self.peer.handle_timeout(now);
                continue;
            }
            let wait = (wake - now).max(Duration::from_micros(100));
            if self.socket.set_read_timeout(Some(wait)).is_err() {
                std::thread::sleep(wait);
                continue;
            }
            match self.socket.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    let now = self.clock();
                    if let Some(payload) = self.buf.get(..n) {
                        self.peer.handle_datagram(now, from, payload);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    let now = self.clock();
                    if self.peer.poll_timeout().is_some_and(|t| t <= now) {
                        self.peer.handle_timeout(now);
                    }
                }
                // ICMP errors and the like: QUIC's timers decide; do not spin.
                Err(_) => std::thread::sleep(Duration::from_millis(1)),
            }
        }
    }

    fn real_time(&self) -> bool {
        true
    }
}

/// The most simulation steps one wait may take (a livelocked server cannot hang the REPL).
const STEP_LIMIT: u64 = 2_000_000;

/// The reference server in-process, on the virtual link (1 ms each way), in virtual time.
pub struct VirtualDriver {
    pair: Pair<ScriptPeer, Server>,
    profile: Profile,
}

impl std::fmt::Debug for VirtualDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualDriver")
            .field("profile", &self.profile.to_string())
            .field("now", &self.pair.now())
            .finish()
    }
}

impl VirtualDriver {
    /// The reference server of `profile` with the timers of `session`, and a client of it.
    pub fn new(profile: &Profile, session: &Session, seed: u64) -> Result<VirtualDriver, String> {
        let profile = session.apply(profile.clone());
        let now = Instant::ZERO;
        let h = host(
            seed,
            "server",
            true,
            &profile.timers,
            profile.max_bidi(),
            vec![ALPN.to_vec()],
            Arc::new(KeyLog::default()),
        )
        .map_err(|e| e.to_string())?;
        let server = Server::new(h, profile.clone(), now);
        let peer = client(seed, RESPONDER, Arc::new(KeyLog::default()), now)?;
        // The server first, as the scenario engine adds its endpoints.
        let config = PairConfig {
            order: Order::ServerFirst,
            ..PairConfig::new(INITIATOR, RESPONDER, Duration::from_millis(1))
        };
        Ok(VirtualDriver {
            pair: Pair::new(config, peer, server),
            profile,
        })
    }

    /// The client's events so far (the server's are not shown: dropped, so they do not pile up).
    fn client_events(&mut self) -> Vec<(Instant, ProtonEvent)> {
        self.pair.server_events.clear();
        std::mem::take(&mut self.pair.client_events)
    }
}

impl Driver for VirtualDriver {
    fn now(&self) -> Instant {
        self.pair.now()
    }

    fn peer(&mut self) -> Result<&mut ScriptPeer, String> {
        Ok(&mut self.pair.client)
    }

    fn advance(&mut self, deadline: Instant) -> Vec<(Instant, ProtonEvent)> {
        let mut steps = 0u64;
        loop {
            self.pair.drain();
            let events = self.client_events();
            if !events.is_empty() {
                return events;
            }
            match self.pair.next_work_time() {
                Some(t) if t <= deadline && steps < STEP_LIMIT => {
                    self.pair.step();
                    steps += 1;
                }
                Some(t) if t <= deadline => return events,
                _ => {
                    self.pair.run_until_limited(deadline, 0);
                    return self.client_events();
                }
            }
        }
    }

    fn real_time(&self) -> bool {
        false
    }

    fn reference(&self) -> Option<&Profile> {
        Some(&self.profile)
    }
}
