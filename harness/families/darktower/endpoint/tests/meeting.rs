//! A whole meeting in virtual time over bare QUIC: the reference controller, handler and clients.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_darktower_endpoint::{
    quic_transport, Client, ClientConfig, Clock, Controller, ControllerConfig, DarkTowerEvent,
    DarkTowerNode, Handler, HandlerConfig, Liveness, MediaVersion, Secret, Source,
};
use handshake_darktower_wire::proto::signaling::ErrorCode;
use handshake_net::{LinkConfig, RunLimits, RunOutcome, Simulation, VirtualLink};
use handshake_quic::session::Sessions;
use handshake_quic::{HostConfig, KeyLog, QuicHost, Seed};
use rstest::rstest;

const CONTROLLER: &str = "10.0.0.1:4433";
const HANDLER: &str = "10.0.0.2:4434";
const SECRET: &str = "harness-secret";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

fn sessions(who: &str, server: bool, handler: bool) -> Box<dyn Sessions> {
    let host = QuicHost::new(&HostConfig {
        seed: Seed::derive(7, who),
        alpn: handshake_darktower_endpoint::bare_alpns(),
        transport: quic_transport(Liveness::default(), server, handler),
        server,
        key_log: Arc::new(KeyLog::default()),
    })
    .expect("host");
    Box::new(handshake_darktower_endpoint::bare_sessions(host))
}

struct Meeting {
    sim: Simulation<DarkTowerNode>,
    clients: Vec<SocketAddr>,
}

fn client_config(name: &str, token: String, version: MediaVersion) -> ClientConfig {
    ClientConfig {
        controller: addr(CONTROLLER),
        controller_path: "/signaling".into(),
        meeting: "standup".into(),
        join_token: token,
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

fn meeting(capacity: u32, clients: Vec<ClientConfig>, stagger_ms: u64) -> Meeting {
    let secret = Secret::new(SECRET);
    let mut sim = Simulation::new(VirtualLink::new(LinkConfig::with_seed(1)));
    sim.add_endpoint(
        addr(CONTROLLER),
        DarkTowerNode::Controller(Controller::new(
            sessions("controller", true, false),
            ControllerConfig {
                meetings: vec!["standup".into()],
                ended: vec!["retro".into()],
                capacity,
                handler_url: format!("quic://{HANDLER}/media"),
                secret: secret.clone(),
                clock: Clock::VIRTUAL,
                refuse_join: None,
                hold: false,
                mutant: None,
            },
        )),
    )
    .expect("controller");
    sim.add_endpoint(
        addr(HANDLER),
        DarkTowerNode::Handler(Handler::new(
            sessions("handler", true, true),
            HandlerConfig {
                secret,
                clock: Clock::VIRTUAL,
                refuse_auth: false,
                hold: false,
                stop_media: None,
                mutant: None,
            },
        )),
    )
    .expect("handler");
    let mut addresses = Vec::new();
    for (i, config) in clients.into_iter().enumerate() {
        let at = addr(&format!("10.0.1.{}:5000", i + 1));
        // Later clients join later (their start is their first instant).
        sim.run_until(Instant::from_millis(stagger_ms * i as u64), 1_000_000);
        let now = sim.now();
        let client = Client::new(sessions(&format!("client{i}"), false, false), config, now);
        sim.add_endpoint(at, DarkTowerNode::Client(client))
            .expect("client");
        addresses.push(at);
    }
    Meeting {
        sim,
        clients: addresses,
    }
}

fn token(meeting: &str, exp_offset_s: i64) -> String {
    let now = Clock::VIRTUAL.unix_s(Instant::ZERO) as i64;
    Secret::new(SECRET).join_token(meeting, (now + exp_offset_s) as u64)
}

fn run(m: &mut Meeting) {
    let outcome = m
        .sim
        .run(&RunLimits::until_finished(m.clients.clone()).max_time(Instant::from_millis(120_000)));
    assert_eq!(outcome, RunOutcome::Finished);
    // The servers see the last closes.
    let later = m.sim.now() + Duration::from_secs(1);
    m.sim.run_until(later, 1_000_000);
}

fn report(m: &Meeting, i: usize) -> handshake_darktower_endpoint::ClientReport {
    m.sim
        .endpoint(m.clients[i])
        .and_then(DarkTowerNode::client)
        .expect("client")
        .report()
        .clone()
}

#[rstest]
#[case::v1(MediaVersion::V1)]
#[case::v2(MediaVersion::V2)]
fn two_participants_exchange_media(#[case] version: MediaVersion) {
    let mut m = meeting(
        10,
        vec![
            client_config("alice", token("standup", 300), version),
            client_config("bob", token("standup", 300), version),
        ],
        20,
    );
    run(&mut m);
    for i in 0..2 {
        let r = report(&m, i);
        assert_eq!(r.result, Some(Ok(())), "client {i}: {r:?}");
        assert_eq!(r.frames_sent, 5);
        assert_eq!(r.gaps, 0, "client {i}: {r:?}");
    }
    // Alice was in before Bob sent anything; Bob joined Alice's stream mid-way (DH13) and gets
    // every frame from then on, at least the last three (Alice sends every 33 ms, Bob joins 20 ms in).
    assert_eq!(report(&m, 0).frames_received, 5);
    let bob = report(&m, 1).frames_received;
    assert!((3..5).contains(&bob), "bob got {bob}");
    let events: Vec<DarkTowerEvent> = m
        .sim
        .events()
        .iter()
        .filter(|e| e.endpoint == addr(CONTROLLER))
        .map(|e| e.event.clone())
        .collect();
    assert!(events.contains(&DarkTowerEvent::Joined {
        participant: "p1".into(),
        resumed: false
    }));
    assert!(events.contains(&DarkTowerEvent::Left {
        participant: "p2".into(),
        reason: 0
    }));
    // Bare QUIC: the media session was told apart by its ALPN (DH1).
    assert!(m.sim.events().iter().any(|e| e.endpoint == addr(HANDLER)
        && e.event
            == DarkTowerEvent::SessionOpened {
                session: 0,
                path: "/media".into()
            }));
}

#[rstest]
#[case::expired(token("standup", -1), ErrorCode::Unauthorized)]
#[case::forged(Secret::new("wrong").join_token("standup", u64::MAX), ErrorCode::Unauthorized)]
#[case::ended(token("retro", 300), ErrorCode::NotFound)]
fn a_refused_join_fails_the_client(#[case] join_token: String, #[case] code: ErrorCode) {
    let mut config = client_config("eve", join_token, MediaVersion::V1);
    if code == ErrorCode::NotFound {
        config.meeting = "retro".into();
    }
    let mut m = meeting(10, vec![config], 0);
    run(&mut m);
    let r = report(&m, 0);
    let reason = match r.result {
        Some(Err(reason)) => reason,
        other => panic!("{other:?}"),
    };
    assert!(
        reason.starts_with(&format!("ErrorMessage {}", code as i32)),
        "{reason}"
    );
}

#[test]
fn a_full_meeting_refuses_the_next_participant() {
    let mut m = meeting(
        1,
        vec![
            client_config("alice", token("standup", 300), MediaVersion::V1),
            client_config("bob", token("standup", 300), MediaVersion::V1),
        ],
        20,
    );
    run(&mut m);
    assert_eq!(report(&m, 0).result, Some(Ok(())));
    let bob = report(&m, 1);
    assert!(
        matches!(&bob.result, Some(Err(r)) if r.starts_with(&format!("ErrorMessage {}", ErrorCode::CapacityExceeded as i32))),
        "{bob:?}"
    );
}

#[rstest]
#[case::webtransport_free_bare_quic(MediaVersion::V1)]
fn a_client_against_the_meeting_server_on_one_port(#[case] version: MediaVersion) {
    let secret = Secret::new(SECRET);
    let mut sim = Simulation::new(VirtualLink::new(LinkConfig::with_seed(1)));
    let server = addr(CONTROLLER);
    sim.add_endpoint(
        server,
        DarkTowerNode::Server(handshake_darktower_endpoint::MeetingServer::new(
            sessions("server", true, true),
            ControllerConfig {
                meetings: vec!["standup".into()],
                ended: vec![],
                capacity: 10,
                handler_url: format!("quic://{CONTROLLER}/media"),
                secret: secret.clone(),
                clock: Clock::VIRTUAL,
                refuse_join: None,
                hold: false,
                mutant: None,
            },
            HandlerConfig {
                secret,
                clock: Clock::VIRTUAL,
                refuse_auth: false,
                hold: false,
                stop_media: None,
                mutant: None,
            },
        )),
    )
    .expect("server");
    let at = addr("10.0.1.1:5000");
    let client = Client::new(
        sessions("client", false, false),
        client_config("alice", token("standup", 300), version),
        Instant::ZERO,
    );
    sim.add_endpoint(at, DarkTowerNode::Client(client))
        .expect("client");
    let mut m = Meeting {
        sim,
        clients: vec![at],
    };
    run(&mut m);
    assert_eq!(report(&m, 0).result, Some(Ok(())), "{:?}", report(&m, 0));
}

/// Bare-QUIC sessions with the host's ALPN list (`alpns`: what a server accepts, in its order)
/// and the client's offers.
fn sessions_with(
    who: &str,
    server: bool,
    handler: bool,
    alpns: Vec<Vec<u8>>,
    offers: &handshake_darktower_endpoint::BareAlpns,
) -> Box<dyn Sessions> {
    let host = QuicHost::new(&HostConfig {
        seed: Seed::derive(7, who),
        alpn: alpns,
        transport: quic_transport(Liveness::default(), server, handler),
        server,
        key_log: Arc::new(KeyLog::default()),
    })
    .expect("host");
    Box::new(handshake_darktower_endpoint::bare_sessions_with(
        host, offers,
    ))
}

/// ALPNs are a contract (DH1): a server that speaks `darktower` for every session gets its media
/// session from a client offering every reasonable name (RFC 7301: the server selects), and the
/// one-port meeting server tells a client's `darktower` media session by its first message.
#[rstest]
#[case::server_speaks_one_alpn(vec![b"darktower".to_vec()], None)]
#[case::client_offers_one_alpn(
    handshake_darktower_endpoint::bare_alpns(),
    Some(vec![b"darktower".to_vec()])
)]
#[case::both_speak_one_alpn(vec![b"darktower".to_vec()], Some(vec![b"darktower".to_vec()]))]
fn one_alpn_for_both_sessions(
    #[case] server_alpns: Vec<Vec<u8>>,
    #[case] client_media: Option<Vec<Vec<u8>>>,
) {
    let secret = Secret::new(SECRET);
    let mut sim = Simulation::new(VirtualLink::new(LinkConfig::with_seed(1)));
    let server = addr(CONTROLLER);
    let defaults = handshake_darktower_endpoint::BareAlpns::default();
    sim.add_endpoint(
        server,
        DarkTowerNode::Server(handshake_darktower_endpoint::MeetingServer::new(
            sessions_with("server", true, true, server_alpns, &defaults),
            ControllerConfig {
                meetings: vec!["standup".into()],
                ended: vec![],
                capacity: 10,
                handler_url: format!("quic://{CONTROLLER}/media"),
                secret: secret.clone(),
                clock: Clock::VIRTUAL,
                refuse_join: None,
                hold: false,
                mutant: None,
            },
            HandlerConfig {
                secret,
                clock: Clock::VIRTUAL,
                refuse_auth: false,
                hold: false,
                stop_media: None,
                mutant: None,
            },
        )),
    )
    .expect("server");
    let offers = handshake_darktower_endpoint::BareAlpns {
        media: client_media.unwrap_or(defaults.media.clone()),
        ..defaults.clone()
    };
    let at = addr("10.0.1.1:5000");
    let client = Client::new(
        sessions_with("client", false, false, offers.server_list(), &offers),
        client_config("alice", token("standup", 300), MediaVersion::V1),
        Instant::ZERO,
    );
    sim.add_endpoint(at, DarkTowerNode::Client(client))
        .expect("client");
    let mut m = Meeting {
        sim,
        clients: vec![at],
    };
    run(&mut m);
    assert_eq!(report(&m, 0).result, Some(Ok(())), "{:?}", report(&m, 0));
}
