//! Interop over real UDP on loopback against aioquic 1.2 (the fixture `aioquic_wt_peer.py`, in the
//! venv `target/pyenv`): our client ↔ aioquic server, aioquic client ↔ our server. Streams both
//! ways with exact bytes and FIN, datagrams both ways (session 0: quarter id `00`), reset and stop
//! codes both ways (mapped), the close capsule. Skipped with a message when the venv is missing.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::udp::Pump;
use common::{datagrams, stream_bytes};
use handshake_quic::session::{ResetCodes, SessionEvent, Sessions};
use handshake_quic::{Close, Seed, Transport};
use handshake_webtransport::{WtConfig, WtSessions};
use handshake_webtransport_wire::error_code::to_http3;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

fn python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let py = root.join("target/pyenv/bin/python3");
    let ok = py.exists()
        && std::process::Command::new(&py)
            .args([
                "-c",
                "import aioquic, sys; sys.exit(0 if aioquic.__version__.startswith('1.2') else 1)",
            ])
            .status()
            .is_ok_and(|s| s.success());
    if ok {
        Some(py)
    } else {
        println!(
            "SKIP: no aioquic 1.2 venv at {} (make the Python venv first)",
            py.display()
        );
        None
    }
}

struct Peer {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    fn spawn(py: &PathBuf, args: &[&str]) -> Peer {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/aioquic_wt_peer.py");
        let mut child = Command::new(py)
            .arg(script)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the aioquic peer");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                eprintln!("aioquic: {line}");
                sink.lock().expect("lines").push(line);
            }
        });
        Peer { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    fn has(&self, line: &str) -> bool {
        self.lines().iter().any(|l| l == line)
    }

    fn starting(&self, prefix: &str) -> Vec<String> {
        self.lines()
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }

    async fn wait_for(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Some(l) = self.starting(prefix).into_iter().next() {
                return Some(l);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sessions(server: bool, seed: u64) -> WtSessions {
    let transport = Transport {
        idle_timeout: Some(Duration::from_secs(10)),
        ..Transport::default()
    };
    WtSessions::build(
        Seed::derive(seed, if server { "server" } else { "client" }),
        transport,
        server,
        WtConfig::with_reset_codes(ResetCodes::Mapped),
    )
    .expect("sessions")
}

fn opened(events: &[SessionEvent]) -> bool {
    events
        .iter()
        .any(|e| matches!(e, SessionEvent::Opened { .. }))
}

/// The exchange both directions share, once the session is open; `peer_uni`/`peer_bidi`: the
/// first WebTransport uni/bidi stream ids the aioquic side opens (its greeting).
async fn exchange(
    p: &mut Pump<WtSessions>,
    peer: &Peer,
    session: u32,
    peer_uni: u64,
    peer_bidi: u64,
    close: bool,
) {
    // Streams and datagrams to the peer.
    let u1 = p.open(session, false);
    p.sessions.write(session, u1, b"hello uni");
    p.sessions.finish(session, u1);
    let b1 = p.open(session, true);
    p.sessions.write(session, b1, b"hello ");
    p.sessions.write(session, b1, b"bidi");
    p.sessions.finish(session, b1);
    assert!(p.sessions.send_datagram(session, b"hello dgram"));
    // Codes the peer sends: a reset (command stream) and a stop on a stream of ours.
    let cmd = p.open(session, false);
    p.sessions.write(session, cmd, b"reset 7");
    p.sessions.finish(session, cmd);
    let held = p.open(session, false);
    p.sessions.write(session, held, b"held open");
    let cmd2 = p.open(session, false);
    p.sessions
        .write(session, cmd2, format!("stop {held} 9").as_bytes());
    p.sessions.finish(session, cmd2);
    // Codes we send: reset a uni stream, stop a bidi stream the peer echoes on.
    let u3 = p.open(session, false);
    p.sessions.write(session, u3, b"to be reset");
    let b2 = p.open(session, true);
    p.sessions.write(session, b2, b"a");
    p.run_for(Duration::from_millis(300)).await;
    p.sessions.reset(session, u3, 11);
    p.sessions.stop(session, b2, 13);
    let done = p
        .run_until_event(Duration::from_secs(3), |ev| {
            ev.iter().any(|e| matches!(e, SessionEvent::Reset { .. }))
                && ev.iter().any(|e| matches!(e, SessionEvent::Stopped { .. }))
                && datagrams(ev).len() >= 2
        })
        .await;
    p.run_for(Duration::from_millis(300)).await;
    assert!(done, "{:#?}", p.events);
    let ev = &p.events;

    // Our bidi echoed byte for byte; the peer's echo of our uni arrives on a uni stream of its own.
    assert_eq!(stream_bytes(ev, b1), (b"hello bidi".to_vec(), true));
    let peer_streams: Vec<u64> = common::streams(ev)
        .into_iter()
        .filter(|s| !p.ours.contains(s))
        .collect();
    let contents: Vec<(Vec<u8>, bool)> =
        peer_streams.iter().map(|s| stream_bytes(ev, *s)).collect();
    assert!(
        contents.contains(&(b"hello uni".to_vec(), true)),
        "{contents:?}"
    );
    // The greeting: a uni and a bidi stream with FIN, a datagram.
    assert_eq!(
        stream_bytes(ev, peer_uni),
        (b"uni from aioquic".to_vec(), true),
        "{ev:#?}"
    );
    assert_eq!(
        stream_bytes(ev, peer_bidi),
        (b"bidi from aioquic".to_vec(), true)
    );
    let dgrams = datagrams(ev);
    assert!(
        dgrams.contains(&b"dgram from aioquic".to_vec()),
        "{dgrams:?}"
    );
    assert!(
        dgrams.contains(&b"hello dgram".to_vec()),
        "echo: {dgrams:?}"
    );
    // Codes from the peer, mapped.
    assert!(
        ev.iter().any(
            |e| matches!(e, SessionEvent::Reset { code: Some(7), wire, .. } if *wire == to_http3(7))
        ),
        "{ev:#?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e, SessionEvent::Stopped { stream, code: Some(9), wire, .. } if *stream == held && *wire == to_http3(9))),
        "{ev:#?}"
    );
    // What the peer saw.
    assert!(
        peer.has(&format!("datagram {}", hex(b"hello dgram"))),
        "{:?}",
        peer.lines()
    );
    assert!(
        peer.has(&format!("data {peer_bidi} {}", hex(b"bidi from aioquic"))),
        "{:?}",
        peer.lines()
    );
    assert!(
        peer.has(&format!("reset {u3} {}", to_http3(11))),
        "{:?}",
        peer.lines()
    );
    assert!(
        peer.has(&format!("stop {b2} {}", to_http3(13))),
        "{:?}",
        peer.lines()
    );

    if !close {
        return;
    }
    // Close with the capsule.
    let now = p.now();
    p.sessions.close(now, session, 42, "bye");
    p.run_for(Duration::from_millis(1_500)).await;
    assert!(peer.has("closed 42 bye"), "{:?}", peer.lines());
    assert!(peer.has("fin"), "{:?}", peer.lines());
    let closes: Vec<_> = p
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Closed { close, by_peer, .. } => Some((close.clone(), *by_peer)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes,
        vec![(
            Close::Application {
                code: 42,
                reason: "bye".into()
            },
            false
        )]
    );
    assert!(
        p.sessions.host_mut().live().is_empty(),
        "QUIC closed after the capsule was acknowledged"
    );
}

#[tokio::test]
async fn our_client_with_aioquic_server() {
    let Some(py) = python() else { return };
    let peer = Peer::spawn(&py, &["server", "--seconds", "20"]);
    let line = peer
        .wait_for("listening ", Duration::from_secs(10))
        .await
        .expect("aioquic server listening");
    let port: u16 = line["listening ".len()..].trim().parse().expect("port");
    let mut p = Pump::new(sessions(false, 21)).await;
    let now = p.now();
    let session = p
        .sessions
        .connect(
            now,
            format!("127.0.0.1:{port}").parse().expect("addr"),
            "/interop",
        )
        .expect("connect");
    assert!(
        p.run_until_event(Duration::from_secs(5), opened).await,
        "{:#?}",
        p.events
    );
    assert!(peer
        .wait_for("session /interop", Duration::from_secs(2))
        .await
        .is_some());
    assert_eq!(p.sessions.session_id(session), Some(0));
    // aioquic's server: uni streams 3 control, 7 and 11 QPACK, so its first WebTransport uni is 15;
    // its first bidi is 1.
    exchange(&mut p, &peer, session, 15, 1, true).await;
    drop(peer.child);
}

#[tokio::test]
async fn aioquic_client_with_our_server() {
    let Some(py) = python() else { return };
    let mut p = Pump::new(sessions(true, 22)).await;
    let addr = p.local();
    let peer = Peer::spawn(
        &py,
        &[
            "client",
            "--connect",
            &addr.to_string(),
            "--path",
            "/from-aioquic",
            "--seconds",
            "20",
        ],
    );
    assert!(
        p.run_until_event(Duration::from_secs(10), opened).await,
        "{:#?}",
        p.events
    );
    assert!(p.events.iter().any(
        |e| matches!(e, SessionEvent::Opened { session: 0, path } if path == "/from-aioquic")
    ));
    assert!(peer
        .wait_for("session -", Duration::from_secs(2))
        .await
        .is_some());
    // aioquic's client: uni 2 control, 6 and 10 QPACK, first WebTransport uni 14; bidi 0 is the
    // CONNECT, first WebTransport bidi 4.
    exchange(&mut p, &peer, 0, 14, 4, false).await;
    // aioquic closes: its capsule's code as is, then our FIN and our QUIC close (H3_NO_ERROR).
    assert!(p.sessions.send_datagram(0, b"close"));
    let closed = p
        .run_until_event(Duration::from_secs(3), |ev| {
            ev.iter().any(|e| matches!(e, SessionEvent::Closed { .. }))
        })
        .await;
    assert!(closed, "{:#?}", p.events);
    p.run_for(Duration::from_millis(1_500)).await;
    let closes: Vec<_> = p
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Closed { close, by_peer, .. } => Some((close.clone(), *by_peer)),
            _ => None,
        })
        .collect();
    assert_eq!(
        closes,
        vec![(
            Close::Application {
                code: 77,
                reason: "done from aioquic".into()
            },
            true
        )]
    );
    assert!(peer.has("fin"), "our FIN answers: {:?}", peer.lines());
    assert!(
        peer.has(&format!("terminated {}", 0x100)),
        "{:?}",
        peer.lines()
    );
    assert!(p.sessions.host_mut().live().is_empty());
    drop(peer.child);
}
