//! Captures made here: the reference Dark Tower endpoints (and the scripted participants) on a
//! virtual wire, every delivered datagram written once as pcapng with every endpoint's key log
//! in a Decryption Secrets Block. Virtual time 0 is the endpoints' `Clock::VIRTUAL` Unix time, so
//! tokens are judged against the capture's own time.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_capture::CaptureWriter;
use handshake_core::Instant;
use handshake_darktower_endpoint::{
    bare_alpns, bare_sessions, quic_transport, Client, ClientConfig, Clock, Controller,
    ControllerConfig, DarkTowerNode, Handler, HandlerConfig, Liveness, MediaVersion, Mutant,
    ScriptClient, Secret, Source,
};
use handshake_darktower_judge::{judge, Judged, Options, Report, ResetCodes, Transport};
use handshake_net::{LinkConfig, LinkEvent, RunLimits, Simulation, VirtualLink};
use handshake_quic::session::Sessions;
use handshake_quic::{HostConfig, KeyLog, QuicHost, Seed};
use handshake_webtransport::{WtConfig, WtSessions};

pub const CONTROLLER: &str = "10.0.0.1:4433";
pub const HANDLER: &str = "10.0.0.2:4434";
pub const SCRIPT: &str = "10.0.2.1:6000";
pub const SECRET: &str = "harness-secret";
/// Capture time of virtual time 0: the endpoints' `Clock::VIRTUAL`, so tokens are judged
/// against the capture's own time.
pub fn epoch_ns() -> u64 {
    Clock::VIRTUAL.unix_us(Instant::ZERO) * 1_000
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// The run's transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tr {
    Quic,
    Wt(ResetCodes),
}

impl Tr {
    pub fn transport(self) -> Transport {
        match self {
            Tr::Quic => Transport::Quic,
            Tr::Wt(_) => Transport::WebTransport,
        }
    }
    pub fn codes(self) -> ResetCodes {
        match self {
            Tr::Quic => ResetCodes::Raw,
            Tr::Wt(c) => c,
        }
    }
    pub fn handler_url(self) -> String {
        match self {
            Tr::Quic => format!("quic://{HANDLER}/media"),
            Tr::Wt(_) => format!("https://{HANDLER}/media"),
        }
    }
}

pub fn sessions(who: &str, server: bool, handler: bool, tr: Tr) -> Box<dyn Sessions> {
    sessions_with(
        who,
        quic_transport(Liveness::default(), server, handler),
        server,
        tr,
    )
}

pub fn sessions_with(
    who: &str,
    transport: handshake_quic::Transport,
    server: bool,
    tr: Tr,
) -> Box<dyn Sessions> {
    match tr {
        Tr::Quic => {
            let host = QuicHost::new(&HostConfig {
                seed: Seed::derive(7, who),
                alpn: bare_alpns(),
                transport,
                server,
                key_log: Arc::new(KeyLog::default()),
            })
            .expect("host");
            Box::new(bare_sessions(host))
        }
        Tr::Wt(codes) => Box::new(
            WtSessions::build(
                Seed::derive(7, who),
                transport,
                server,
                WtConfig::with_reset_codes(codes),
            )
            .expect("wt host"),
        ),
    }
}

pub fn join_token(meeting: &str, exp_offset_s: i64) -> String {
    let now = Clock::VIRTUAL.unix_s(Instant::ZERO) as i64;
    Secret::new(SECRET).join_token(meeting, (now + exp_offset_s) as u64)
}

pub fn client_config(name: &str, version: MediaVersion) -> ClientConfig {
    ClientConfig {
        controller: addr(CONTROLLER),
        controller_path: "/signaling".into(),
        meeting: "standup".into(),
        join_token: join_token("standup", 300),
        mint: None,
        name: name.into(),
        sources: vec![Source::VIDEO],
        frames: 5,
        frame_interval: Duration::from_millis(33),
        payload_bytes: 100,
        linger: Duration::from_millis(500),
        version,
        clock: Clock::VIRTUAL,
        mutant: None,
        media_not_before: None,
    }
}

/// A meeting's endpoints.
pub struct Setup {
    pub tr: Tr,
    pub capacity: u32,
    pub controller_mutant: Option<Mutant>,
    pub handler_mutant: Option<Mutant>,
    pub stop_media: Option<u32>,
    /// The handler's WebTransport reset codes when they differ from the run's.
    pub handler_codes: Option<ResetCodes>,
    pub clients: Vec<ClientConfig>,
    pub stagger_ms: u64,
}

impl Setup {
    pub fn new(tr: Tr, clients: Vec<ClientConfig>) -> Setup {
        Setup {
            tr,
            capacity: 10,
            controller_mutant: None,
            handler_mutant: None,
            stop_media: None,
            handler_codes: None,
            clients,
            stagger_ms: 20,
        }
    }
}

pub struct World {
    pub sim: Simulation<DarkTowerNode>,
    pub clients: Vec<SocketAddr>,
    pub tr: Tr,
    /// The controller's capacity (judged).
    pub capacity: u32,
}

pub fn servers(setup: &Setup) -> Simulation<DarkTowerNode> {
    let secret = Secret::new(SECRET);
    let mut sim = Simulation::new(VirtualLink::new(LinkConfig::with_seed(1)));
    sim.add_endpoint(
        addr(CONTROLLER),
        DarkTowerNode::Controller(Controller::new(
            sessions("controller", true, false, setup.tr),
            ControllerConfig {
                meetings: vec!["standup".into()],
                ended: vec!["retro".into()],
                capacity: setup.capacity,
                handler_url: setup.tr.handler_url(),
                secret: secret.clone(),
                clock: Clock::VIRTUAL,
                refuse_join: None,
                hold: false,
                mutant: setup.controller_mutant,
            },
        )),
    )
    .expect("controller");
    sim.add_endpoint(
        addr(HANDLER),
        DarkTowerNode::Handler(Handler::new(
            sessions(
                "handler",
                true,
                true,
                match (setup.tr, setup.handler_codes) {
                    (Tr::Wt(_), Some(c)) => Tr::Wt(c),
                    (tr, _) => tr,
                },
            ),
            HandlerConfig {
                secret,
                clock: Clock::VIRTUAL,
                refuse_auth: false,
                hold: false,
                stop_media: setup.stop_media,
                mutant: setup.handler_mutant,
            },
        )),
    )
    .expect("handler");
    sim
}

/// Runs a meeting of reference endpoints to its end (plus a second for the last closes).
pub fn meeting(setup: Setup) -> World {
    let mut sim = servers(&setup);
    let mut clients = Vec::new();
    for (i, config) in setup.clients.into_iter().enumerate() {
        let at = addr(&format!("10.0.1.{}:5000", i + 1));
        sim.run_until(Instant::from_millis(setup.stagger_ms * i as u64), 1_000_000);
        let now = sim.now();
        let mut transport = quic_transport(Liveness::default(), false, false);
        if config.mutant == Some(Mutant::NoKeepAlive) {
            // The mutant is the transport's: no keep-alive PINGs.
            transport.keep_alive = None;
        }
        let client = Client::new(
            sessions_with(&format!("client{i}"), transport, false, setup.tr),
            config,
            now,
        );
        sim.add_endpoint(at, DarkTowerNode::Client(client))
            .expect("client");
        clients.push(at);
    }
    let mut w = World {
        sim,
        clients,
        tr: setup.tr,
        capacity: setup.capacity,
    };
    let _ = w
        .sim
        .run(&RunLimits::until_finished(w.clients.clone()).max_time(Instant::from_millis(200_000)));
    w.settle(1_000);
    w
}

impl World {
    /// Runs `ms` more of virtual time.
    pub fn settle(&mut self, ms: u64) {
        let later = self.sim.now() + Duration::from_millis(ms);
        self.sim.run_until(later, 5_000_000);
    }

    /// The wire as pcapng: every delivered datagram once, at its delivery time, and every
    /// endpoint's key log.
    pub fn capture(&self) -> Vec<u8> {
        let mut w = CaptureWriter::new(Vec::new()).expect("writer");
        let keys: Vec<String> = self.sim.endpoints().map(|(_, e)| e.key_log()).collect();
        w.write_secrets(&keys.join("\n")).expect("secrets");
        for e in self.sim.trace() {
            if let LinkEvent::Delivered {
                at,
                from,
                to,
                payload,
                ..
            } = e
            {
                w.write_datagram(epoch_ns() + at.as_nanos(), *from, *to, payload, None)
                    .expect("datagram");
            }
        }
        w.finish().expect("finish")
    }

    pub fn options(&self, judged: Judged) -> Options {
        Options {
            transport: Some(self.tr.transport()),
            reset_codes: self.tr.codes(),
            token_secret: Some(SECRET.into()),
            judged_at_unix_s: None,
            judge: judged,
            capacity: Some(self.capacity),
            ..Options::default()
        }
    }

    pub fn judge(&self, judged: Judged) -> Report {
        judge(&self.capture(), &self.options(judged)).expect("judge")
    }

    pub fn script(&mut self) -> &mut ScriptClient {
        self.sim
            .endpoint_mut(addr(SCRIPT))
            .and_then(DarkTowerNode::script)
            .expect("script")
    }
}

/// The servers and scripted participants aimed at `target` (controller or handler).
pub fn scripted(tr: Tr, target: &str, mutant: Option<Mutant>) -> World {
    scripted_with_codes(tr, target, mutant, None)
}

/// The same, the handler's stack sending reset codes as `handler_codes` says whatever the run's.
pub fn scripted_with_codes(
    tr: Tr,
    target: &str,
    mutant: Option<Mutant>,
    handler_codes: Option<ResetCodes>,
) -> World {
    let setup = Setup {
        handler_mutant: mutant.filter(|m| m.role() == "handler"),
        controller_mutant: mutant.filter(|m| m.role() == "controller"),
        handler_codes,
        ..Setup::new(tr, Vec::new())
    };
    let mut sim = servers(&setup);
    sim.add_endpoint(
        addr(SCRIPT),
        DarkTowerNode::Script(ScriptClient::new(
            sessions("script", false, false, tr),
            addr(target),
        )),
    )
    .expect("script");
    World {
        sim,
        clients: Vec::new(),
        tr,
        capacity: setup.capacity,
    }
}

/// A summary for assertion messages.
pub fn show(r: &Report) -> String {
    let mut out = String::new();
    for v in &r.violations {
        out.push_str(&format!("  {} @{}: {}\n", v.rule, v.packet, v.detail));
    }
    for n in &r.notes {
        out.push_str(&format!("  note: {n}\n"));
    }
    out
}
