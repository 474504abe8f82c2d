//! A REPL session becomes a test: sessions run against the reference server (in-process in virtual
//! time, and over loopback UDP), `save` writes them, the scenario loader loads the file, and the
//! scenario engine replays it against the reference server (`harness run FILE --iut ref:…`): it
//! must pass — and fail against a server that is broken where the session looked.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use handshake_core::Instant;
use handshake_proton::format::Session;
use handshake_proton::repl::driver::{UdpDriver, VirtualDriver};
use handshake_proton::repl::language::parse_script;
use handshake_proton::repl::save::{effective_session, save};
use handshake_proton::repl::session::{Driver, Options, Outcome, Repl};
use handshake_proton::ProtonScenario;
use handshake_proton_endpoint::{host, Profile, Server, ALPN};
use handshake_quic::KeyLog;
use handshake_scenario::engine::run_reference;
use handshake_scenario::{Families, Verdict};
use rstest::{rstest, Context};
use serde_json::Value;

static ONLY: Families = Families(&[&handshake_proton::FAMILY]);

/// A file `name`.json in a fresh directory, removed with the returned guard.
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch directory: {e}"));
    let path = dir.path().join(format!("{name}.json"));
    (dir, path)
}

/// Runs `script` (REPL lines) on `d`; returns the session, its output and the outcomes.
fn run_script(
    d: &mut dyn Driver,
    target: &str,
    session: Session,
    script: &str,
) -> (Repl, Vec<String>, Vec<Outcome>) {
    let options = Options {
        target: target.into(),
        idle: Duration::from_millis(session.idle_ms.unwrap_or(5_000)),
        session,
        ..Options::default()
    };
    let mut repl = Repl::new(options, d.now());
    let mut out = Vec::new();
    let mut outcomes = Vec::new();
    let invocations = parse_script(script).unwrap_or_else(|(n, e)| panic!("line {n}: {e}"));
    for inv in &invocations {
        outcomes.push(repl.execute(d, inv, &mut out));
    }
    (repl, out, outcomes)
}

/// Loads `path` with the scenario loader and replays it against `ref:profile`.
fn replay(path: &Path, profile: &str) -> handshake_scenario::ScenarioOutcome {
    let scenario: ProtonScenario = ONLY
        .load_typed(path)
        .unwrap_or_else(|e| panic!("the saved file does not load: {e}"));
    let p = Profile::parse(profile).unwrap_or_else(|e| panic!("{e}"));
    run_reference(&scenario, &format!("ref:{profile}"), &p, 1)
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// A session against the in-process reference server of `profile`, saved and replayed.
#[rstest]
#[case::happy_path(
    "project",
    Session::default(),
    "connect; 3 send_event; commit 40; 2 read_action; close",
    0,
    "project"
)]
#[case::event_repeated_closes_5(
    "project",
    Session::default(),
    "connect\nsend_event 5\nsend_event 5\nwait_close",
    1,
    "project"
)]
#[case::reset_then_reconnect(
    "project",
    Session::default(),
    "connect; send_event; reset\nconnect; 2 send_event; commit 1; close",
    0,
    "project"
)]
#[case::p4_reset_then_reconnect(
    "project+reset_discriminator",
    Session::default(),
    "connect; send_event; reset_stream; connect; send_event; read_action; close",
    0,
    "project"
)]
#[case::fourth_stream_blocked(
    "project",
    Session::default(),
    "connect; reset_stream; send_event; close",
    1,
    "project"
)]
#[case::commit_overflow_checked(
    "project",
    Session::default(),
    "connect; commit 7; commit 4294967295; wait_close",
    1,
    "project"
)]
#[case::commit_overflow_wraps(
    "as_coded",
    Session::default(),
    "connect; commit 4294967294; commit 0xFFFFFFFF; commit 1; close",
    0,
    "as_coded"
)]
#[case::second_connection_refused(
    "project",
    Session::default(),
    "connect; connect; send_event; close",
    1,
    "project"
)]
#[case::idle_timeout_without_keepalive(
    "project",
    Session { keepalive_ms: Some(0), ..Session::default() },
    "connect; send_event; sleep 7; status",
    0,
    "project"
)]
#[case::operation_timeout(
    "project",
    Session { op_ms: Some(2_000), ..Session::default() },
    "connect; send_event; wait_close 30",
    0,
    "project"
)]
#[case::sleeps_between(
    "project",
    Session::default(),
    "connect; send_event; sleep 2.5; send_event; sleep 0.5; read_action; close",
    0,
    "project"
)]
#[case::actions_pushed(
    "project+action_push",
    Session::default(),
    "connect; read_action; sleep 0.35; read_action; send_event; 2 read_action; close",
    0,
    "project"
)]
#[case::left_open(
    "project",
    Session::default(),
    "connect; send_event; commit 2",
    0,
    "project"
)]
#[case::startup_delay_given(
    "project",
    Session { startup_ms: Some(3_000), ..Session::default() },
    "connect; send_event; close",
    0,
    "project"
)]
fn a_saved_session_replays(
    #[case] server: &str,
    #[case] session: Session,
    #[case] script: &str,
    #[case] failures: u64,
    #[case] replay_profile: &str,
    #[context] ctx: Context,
) {
    let name = ctx.description.unwrap_or("session");
    let profile = Profile::parse(server).unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&session), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, out, _) = run_script(&mut d, &format!("ref:{server}"), session, script);
    assert_eq!(repl.failures(), failures, "{name}:\n{}", out.join("\n"));
    let (_scratch, path) = scratch(name);
    let saved = save(&repl, &d, &path.display().to_string())
        .unwrap_or_else(|e| panic!("{name}: save: {e}\n{}", out.join("\n")));
    assert_eq!(saved.id, format!("proton.repl.{name}"));
    let outcome = replay(&path, replay_profile);
    assert_eq!(
        outcome.verdict,
        Verdict::Pass,
        "{name}: {:?}\nsession:\n{}\nscenario:\n{}",
        outcome.reasons,
        out.join("\n"),
        std::fs::read_to_string(&path).unwrap_or_default()
    );
}

#[test]
fn the_saved_file_says_what_was_done_and_seen() {
    let profile = Profile::parse("project").unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&Session::default()), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, out, outcomes) = run_script(
        &mut d,
        "ref:project",
        Session::default(),
        "connect; 2 send_event; commit 40; read_action; close",
    );
    assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{out:?}");
    let (_scratch, path) = scratch("anatomy");
    save(&repl, &d, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let v = json(&path);
    assert_eq!(v["$schema"], "../../schema/scenario.schema.json");
    assert_eq!(v["id"], "proton.repl.anatomy");
    assert_eq!(v["protocol"], "proton");
    assert_eq!(v["iut"]["role"], "server");
    assert_eq!(v["session"]["startup_ms"], 0);
    assert!(v["title"]
        .as_str()
        .is_some_and(|t| t.contains("connect; 2 send_event; commit 40; read_action; close")));
    let steps: Vec<String> = v["peer"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| match s.as_object().and_then(|o| o.iter().next()) {
            Some((k, body)) if k == "expect" => format!(
                "expect {} {}{}",
                body["kind"].as_str().unwrap_or_default(),
                body["where"]["value"],
                match body.get("prefer") {
                    Some(p) => format!(
                        " prefer {} ({})",
                        p["where"]["value"],
                        p["basis"].as_str().unwrap_or_default()
                    ),
                    None => String::new(),
                }
            ),
            Some((k, body)) if k == "write" => format!(
                "write {} {}",
                body["stream"],
                body.get("hex")
                    .or(body.get("u32"))
                    .cloned()
                    .unwrap_or_default()
            ),
            Some((k, _)) => k.clone(),
            None => "?".into(),
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            "connect",
            "expect connected null",
            "open_bi",
            "write 0 \"01\"",
            "write 4 \"02\"",
            "write 8 \"03\"",
            "write 0 [1]",
            "expect u32 1",
            "write 0 [2]",
            "expect u32 2",
            "write 4 [40]",
            // That an answer comes is a fact; its value one reading of several, the profile's.
            "expect u32 null prefer 42 (wire.commit)",
            "write 8 [42]",
            "expect u32 null prefer 0 (wire.action)",
            "close",
        ]
    );
    let expect = &v["expect"];
    assert_eq!(expect["close_space"], "application");
    assert_eq!(expect["close_code"], 0);
    assert_eq!(expect["closed_by"], "harness");
    assert_eq!(expect["units"]["u32"], 4);
    assert_eq!(expect["units"]["close"], 0);
}

/// The saved test catches servers broken where the session looked: a fact broken fails.
#[rstest]
#[case::equal_event_id_accepted(
    "connect; send_event 3; send_event 3; wait_close",
    "project!equal-event-id-accepted"
)]
#[case::second_connection_accepted("connect; connect; close", "project!second-connection-accepted")]
fn a_saved_session_catches_a_broken_server(
    #[case] script: &str,
    #[case] broken: &str,
    #[context] ctx: Context,
) {
    let name = format!("catches_{}", ctx.description.unwrap_or("x"));
    let profile = Profile::parse("project").unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&Session::default()), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, out, _) = run_script(&mut d, "ref:project", Session::default(), script);
    let (_scratch, path) = scratch(&name);
    save(&repl, &d, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(replay(&path, "project").verdict, Verdict::Pass, "{out:?}");
    let outcome = replay(&path, broken);
    assert_eq!(
        outcome.verdict,
        Verdict::Fail,
        "{name} against {broken}: {:?}",
        outcome.reasons
    );
}

/// A server that reads what the sources leave open otherwise (the transcripts' × 2, another action
/// counter) passes the saved test with a deviation naming what it chose: the values are the
/// profile's reading (wire.commit, wire.action: disputed), not facts.
#[rstest]
#[case::commit_times_two("connect; commit 40; close", "project!commit-times-two")]
#[case::action_counter_from_one("connect; 2 read_action; close", "project!action-counter-from-one")]
fn a_saved_session_shows_another_reading_as_a_deviation(
    #[case] script: &str,
    #[case] other: &str,
    #[context] ctx: Context,
) {
    let name = format!("reads_{}", ctx.description.unwrap_or("x"));
    let profile = Profile::parse("project").unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&Session::default()), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, out, _) = run_script(&mut d, "ref:project", Session::default(), script);
    let (_scratch, path) = scratch(&name);
    save(&repl, &d, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    let base = replay(&path, "project");
    assert_eq!(base.verdict, Verdict::Pass, "{out:?}");
    assert!(base.deviations.is_empty(), "{:?}", base.deviations);
    let outcome = replay(&path, other);
    assert_eq!(
        outcome.verdict,
        Verdict::Pass,
        "{name} against {other}: {:?}",
        outcome.reasons
    );
    assert!(
        !outcome.deviations.is_empty(),
        "{name} against {other}: no deviation"
    );
}

#[test]
fn wrapping_commits_are_required_of_the_replay() {
    let profile = Profile::parse("as_coded").unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&Session::default()), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, _, _) = run_script(
        &mut d,
        "ref:as_coded",
        Session::default(),
        "connect; commit 4294967295",
    );
    let (_scratch, path) = scratch("requires_wrapping");
    save(&repl, &d, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json(&path)["iut"]["requires"][0], "wrapping_commits");
    assert_eq!(replay(&path, "project").verdict, Verdict::Unsupported);
    assert_eq!(replay(&path, "as_coded").verdict, Verdict::Pass);
}

#[test]
fn save_refuses_what_cannot_be_a_scenario() {
    let profile = Profile::parse("project").unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&Session::default()), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, out, outcomes) = run_script(
        &mut d,
        "ref:project",
        Session::default(),
        "status\nhelp\nsave /nonexistent-dir/x.json",
    );
    assert!(
        matches!(outcomes.last(), Some(Outcome::Failed(why)) if why.contains("nothing to save")),
        "{out:?}"
    );
    let (repl2, _, _) = run_script(&mut d, "ref:project", Session::default(), "connect");
    drop(repl);
    let err = save(&repl2, &d, "/nonexistent-dir/x.json").expect_err("no such directory");
    assert!(
        err.starts_with("cannot write /nonexistent-dir/x.json"),
        "{err}"
    );
}

#[test]
fn commands_without_a_connection_fail_clearly() {
    let profile = Profile::parse("project").unwrap_or_else(|e| panic!("{e}"));
    let mut d = VirtualDriver::new(&profile, &effective_session(&Session::default()), 1)
        .unwrap_or_else(|e| panic!("{e}"));
    let (repl, out, outcomes) = run_script(
        &mut d,
        "ref:project",
        Session::default(),
        "send_event\ncommit 1\nread_action\nclose\nreset_stream\nwait_close 1",
    );
    assert_eq!(repl.failures(), 6, "{out:?}");
    for o in &outcomes {
        assert!(
            matches!(o, Outcome::Failed(why) if why.starts_with("not connected")),
            "{o:?}"
        );
    }
    // A repeat stops at the first failure and says so.
    let (_, out, _) = run_script(&mut d, "ref:project", Session::default(), "5 send_event");
    assert!(
        out.iter()
            .any(|l| l.contains("(stopped after 0 of 5 repetitions)")),
        "{out:?}"
    );
}

#[test]
fn an_unreachable_server_times_out() {
    // A UDP port nobody answers on.
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr");
    let mut d =
        UdpDriver::new(addr, 1, Arc::new(KeyLog::default())).unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let (repl, out, outcomes) = run_script(
        &mut d,
        &addr.to_string(),
        Session::default(),
        "connect 0.3; send_event",
    );
    assert!(started.elapsed() < Duration::from_secs(5), "{out:?}");
    assert_eq!(repl.failures(), 2);
    assert!(
        matches!(&outcomes[0], Outcome::Failed(why) if why.contains("no handshake") && why.contains("within 300.00 ms")),
        "{outcomes:?}"
    );
}

/// The reference server on a loopback UDP socket, served by a thread until `stop`.
fn udp_server(profile: &Profile) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    let stop = Arc::new(AtomicBool::new(false));
    let h = host(
        7,
        "server",
        true,
        &profile.timers,
        profile.max_bidi(),
        vec![ALPN.to_vec()],
        Arc::new(KeyLog::default()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let start = std::time::Instant::now();
    let mut server = Server::new(h, profile.clone(), Instant::ZERO);
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65_535];
        let now = || Instant::ZERO + start.elapsed();
        while !flag.load(Ordering::Relaxed) {
            while let Some((to, payload)) = server.poll_transmit() {
                let _ = socket.send_to(&payload, to);
            }
            while server.poll_event().is_some() {}
            let wait = server
                .poll_timeout()
                .map_or(Duration::from_millis(10), |t| t - now())
                .clamp(Duration::from_micros(100), Duration::from_millis(10));
            let _ = socket.set_read_timeout(Some(wait));
            match socket.recv_from(&mut buf) {
                Ok((n, from)) => server.handle_datagram(now(), from, &buf[..n]),
                Err(_) => {
                    if server.poll_timeout().is_some_and(|t| t <= now()) {
                        server.handle_timeout(now());
                    }
                }
            }
        }
    });
    (addr, stop, thread)
}

#[test]
fn a_session_over_loopback_udp_replays() {
    let session = Session {
        startup_ms: Some(0),
        // Generous against a loaded machine: `reset` waits 2 × idle.
        idle_ms: Some(2_000),
        keepalive_ms: Some(400),
        ..Session::default()
    };
    let profile = session.apply(Profile::parse("project").unwrap_or_else(|e| panic!("{e}")));
    let (addr, stop, thread) = udp_server(&profile);
    let mut d =
        UdpDriver::new(addr, 1, Arc::new(KeyLog::default())).unwrap_or_else(|e| panic!("{e}"));
    let (mut repl, out, _) = run_script(
        &mut d,
        &addr.to_string(),
        session,
        "connect; 3 send_event; commit 40; 2 read_action; sleep 0.2\nreset\nconnect; send_event 9; send_event 4; wait_close 5",
    );
    let (_scratch, path) = scratch("loopback_udp");
    let saved = save(&repl, &d, &path.display().to_string());
    repl.shutdown(&mut d, &mut Vec::new());
    stop.store(true, Ordering::Relaxed);
    let _ = thread.join();
    let saved = saved.unwrap_or_else(|e| panic!("{e}\n{}", out.join("\n")));
    assert_eq!(repl.failures(), 1, "{}", out.join("\n"));
    assert!(
        out.iter()
            .any(|l| l.contains("closed by the server: application 5 (stream_error)")),
        "{}",
        out.join("\n")
    );
    assert!(saved.steps > 20);
    let outcome = replay(&path, "project");
    assert_eq!(
        outcome.verdict,
        Verdict::Pass,
        "{:?}\n{}",
        outcome.reasons,
        out.join("\n")
    );
}
