//! The reference client against the reference server in virtual time, per profile, and the
//! mutants the plain exchange already shows.

use std::net::SocketAddr;
use std::sync::Arc;

use handshake_core::{Endpoint, Instant};
use handshake_proton_endpoint::{
    host, Client, ClientPlan, Profile, ProtonEvent, ProtonNode, Server, ALPN,
};
use handshake_quic::KeyLog;
use rstest::rstest;

const CLIENT: &str = "192.0.2.1:50000";
const SERVER: &str = "192.0.2.2:4444";

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address")
}

/// Runs server and client with 10 ms latency until the client finishes or `limit_ms`.
fn run(
    server: &str,
    client: &str,
    plan: ClientPlan,
    limit_ms: u64,
) -> (Vec<String>, Vec<String>, Option<(bool, String)>) {
    let sp = Profile::parse(server).expect("profile");
    let cp = Profile::parse(client).expect("profile");
    let keys = Arc::new(KeyLog::default());
    let sh = host(
        1,
        "server",
        true,
        &sp.timers,
        sp.max_bidi(),
        vec![ALPN.to_vec()],
        keys.clone(),
    )
    .expect("host");
    let ch = host(1, "client", false, &cp.timers, 0, vec![ALPN.to_vec()], keys).expect("host");
    let mut s = ProtonNode::Server(Server::new(sh, sp, Instant::ZERO));
    let plan = ClientPlan {
        connect_after: cp.timers.startup,
        ..plan
    };
    let mut c = ProtonNode::Client(Client::new(ch, cp, plan, addr(SERVER), Instant::ZERO));
    let latency = std::time::Duration::from_millis(10);
    let mut flight: Vec<(Instant, bool, Vec<u8>)> = Vec::new();
    let (mut se, mut ce) = (Vec::new(), Vec::new());
    let mut now = Instant::ZERO;
    let limit = Instant::from_millis(limit_ms);
    loop {
        while let Some(t) = s.poll_transmit() {
            flight.push((now + latency, false, t.payload));
        }
        while let Some(t) = c.poll_transmit() {
            flight.push((now + latency, true, t.payload));
        }
        while let Some(e) = s.poll_event() {
            se.push(e.to_string());
        }
        while let Some(e) = c.poll_event() {
            ce.push(e.to_string());
        }
        if c.is_finished() {
            break;
        }
        let next = flight
            .iter()
            .map(|f| f.0)
            .chain(s.poll_timeout())
            .chain(c.poll_timeout())
            .min();
        let Some(next) = next.filter(|n| *n <= limit) else {
            break;
        };
        now = next.max(now);
        let (due, later): (Vec<_>, Vec<_>) = flight.drain(..).partition(|f| f.0 <= now);
        flight = later;
        for (_, to_server, bytes) in due {
            if to_server {
                s.handle_datagram(now, addr(CLIENT), &bytes);
            } else {
                c.handle_datagram(now, addr(SERVER), &bytes);
            }
        }
        // A handled timer is not due again at the same instant (else a driver spins forever).
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
            assert!(
                s.poll_timeout().is_none_or(|t| t > now),
                "server timer stuck at {now:?}"
            );
        }
        if c.poll_timeout().is_some_and(|t| t <= now) {
            c.handle_timeout(now);
            assert!(
                c.poll_timeout().is_none_or(|t| t > now),
                "client timer stuck at {now:?}"
            );
        }
    }
    let verdict = match &c {
        ProtonNode::Client(c) => c.verdict().cloned(),
        _ => None,
    };
    (se, ce, verdict)
}

#[rstest]
#[case("as_coded", "as_coded")]
#[case("project", "project")]
#[case("project+action_push", "project+action_push")]
#[case("project+reset_discriminator", "project")]
fn happy_path(#[case] server: &str, #[case] client: &str) {
    let (se, ce, verdict) = run(
        server,
        client,
        ClientPlan {
            events: 5,
            commits: 5,
            actions: 5,
            ..ClientPlan::default()
        },
        60_000,
    );
    assert_eq!(
        verdict,
        Some((true, String::new())),
        "server: {se:#?}\nclient: {ce:#?}"
    );
    assert!(
        se.iter()
            .any(|e| e.contains("closed by the other side (application code 0")),
        "{se:#?}"
    );
    assert!(se.iter().any(|e| e == "Server listening"));
}

#[rstest]
#[case("as_coded!commit-times-two")]
#[case("as_coded!action-counter-from-one")]
#[case("project!commit-times-two")]
fn wrong_answers_fail_the_client(#[case] server: &str) {
    let base = server.split('!').next().expect("base");
    let (se, ce, verdict) = run(server, base, ClientPlan::default(), 60_000);
    assert!(
        matches!(verdict, Some((false, _))),
        "server: {se:#?}\nclient: {ce:#?}"
    );
    assert!(
        se.iter().any(|e| e.contains("application code 5")),
        "{se:#?}"
    );
}

/// A push client against a pull server waits for pushes that never come; the server's read
/// timeout (or the client's own) ends it, and neither timer stays due once it has fired.
#[test]
fn a_push_client_against_a_pull_server_times_out_once() {
    let plan = ClientPlan {
        events: 1,
        commits: 1,
        actions: 1,
        ..ClientPlan::default()
    };
    let (_, _, verdict) = run("project", "project+action_push", plan, 400_000);
    let (ok, why) = verdict.expect("the client finished");
    assert!(!ok, "{why}");
}

#[test]
fn a_client_with_event_ids_from_zero_is_closed_with_code_5() {
    let (se, ce, verdict) = run(
        "as_coded",
        "as_coded!client-event-ids-from-zero",
        ClientPlan::default(),
        60_000,
    );
    assert!(matches!(verdict, Some((false, _))), "{ce:#?}");
    assert!(
        se.iter()
            .any(|e| e.contains("closed by this side (application code 5")),
        "{se:#?}"
    );
}

#[test]
fn startup_delay_then_serve() {
    let (se, ce, verdict) = run("as_coded", "as_coded", ClientPlan::default(), 60_000);
    assert_eq!(verdict.map(|v| v.0), Some(true), "{se:#?} {ce:#?}");
    // The as-coded client sleeps the startup delay too (H11): the server is listening first.
    assert_eq!(
        se.first().map(String::as_str),
        Some("Server listening"),
        "{se:#?}"
    );
    let _ = ProtonEvent::Listening;
}
