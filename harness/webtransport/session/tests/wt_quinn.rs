//! Interop over real UDP on loopback against web-transport-quinn 0.13 (in process, on tokio):
//! our client ↔ wt-quinn server, wt-quinn client ↔ our server. Session on stream 0 (where the
//! two datagram framings agree), streams both ways with exact bytes and FIN, datagrams both ways,
//! reset and stop codes both ways (mapped), the close capsule both ways.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::udp::Pump;
use common::{datagrams, stream_bytes};
use handshake_quic::session::{ResetCodes, SessionEvent, Sessions};
use handshake_quic::{Close, Seed, Transport};
use handshake_webtransport::{WtConfig, WtSessions};
use handshake_webtransport_wire::error_code::to_http3;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use web_transport_quinn::{ReadError, ReadToEndError, Session, WriteError};

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

/// What the wt-quinn side reports, one line each (same vocabulary as the aioquic fixture).
struct Report {
    rx: UnboundedReceiver<String>,
    lines: Vec<String>,
}

impl Report {
    fn drain(&mut self) -> &[String] {
        while let Ok(l) = self.rx.try_recv() {
            eprintln!("wt-quinn: {l}");
            self.lines.push(l);
        }
        &self.lines
    }

    fn has(&mut self, line: &str) -> bool {
        self.drain().iter().any(|l| l == line)
    }
}

/// The wt-quinn echo peer: greets (uni, bidi, datagram), echoes uni streams on new uni streams,
/// bidi streams on themselves, datagrams; `reset N` on a uni stream → a uni stream reset with N;
/// a bidi stream starting with `stop N` → STOP_SENDING N on it; the datagram `close` → it closes
/// the session (77, "done from wt-quinn"); reports what it sees.
async fn wt_peer(session: Session, tx: UnboundedSender<String>) {
    {
        let (s, tx) = (session.clone(), tx.clone());
        tokio::spawn(async move {
            if let Ok(mut u) = s.open_uni().await {
                let _ = u.write_all(b"uni from wt-quinn").await;
                let _ = u.finish();
            }
            if let Ok((mut send, mut recv)) = s.open_bi().await {
                let _ = send.write_all(b"bidi from wt-quinn").await;
                let _ = send.finish();
                let id = u64::from(recv.quic_id());
                if let Ok(back) = recv.read_to_end(1 << 16).await {
                    let _ = tx.send(format!("data {id} {}", hex(&back)));
                }
            }
            let _ = s.send_datagram(Bytes::from_static(b"dgram from wt-quinn"));
        });
    }
    loop {
        tokio::select! {
            uni = session.accept_uni() => {
                let Ok(mut recv) = uni else { continue };
                let (s, tx) = (session.clone(), tx.clone());
                tokio::spawn(async move {
                    let id = u64::from(recv.quic_id());
                    match recv.read_to_end(1 << 16).await {
                        Ok(content) => {
                            let text = String::from_utf8_lossy(&content).into_owned();
                            if let Some(n) = text.strip_prefix("reset ") {
                                let code: u32 = n.trim().parse().unwrap_or(0);
                                if let Ok(mut out) = s.open_uni().await {
                                    let _ = out.write_all(b"r").await;
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                    let _ = out.reset(code);
                                }
                            } else if let Ok(mut out) = s.open_uni().await {
                                let _ = out.write_all(&content).await;
                                let _ = out.finish();
                            }
                        }
                        Err(ReadToEndError::ReadError(ReadError::Reset(code))) => {
                            let _ = tx.send(format!("reset {id} {code}"));
                        }
                        Err(e) => {
                            let _ = tx.send(format!("uni error {id} {e}"));
                        }
                    }
                });
            }
            bi = session.accept_bi() => {
                let Ok((mut send, mut recv)) = bi else { continue };
                let tx = tx.clone();
                tokio::spawn(async move {
                    let id = u64::from(recv.quic_id());
                    let mut first = true;
                    let mut buf = vec![0u8; 4096];
                    loop {
                        match recv.read(&mut buf).await {
                            Ok(Some(n)) => {
                                let chunk = &buf[..n];
                                if first {
                                    first = false;
                                    if let Some(rest) = chunk.strip_prefix(b"stop ") {
                                        let code: u32 = String::from_utf8_lossy(rest).trim().parse().unwrap_or(0);
                                        let _ = recv.stop(code);
                                        return;
                                    }
                                }
                                match send.write_all(chunk).await {
                                    Ok(()) => {}
                                    Err(WriteError::Stopped(code)) => {
                                        let _ = tx.send(format!("stop {id} {code}"));
                                        return;
                                    }
                                    Err(e) => {
                                        let _ = tx.send(format!("bidi error {id} {e}"));
                                        return;
                                    }
                                }
                            }
                            Ok(None) => {
                                let _ = send.finish();
                                return;
                            }
                            Err(e) => {
                                let _ = tx.send(format!("bidi read error {id} {e}"));
                                return;
                            }
                        }
                    }
                });
            }
            dgram = session.read_datagram() => {
                match dgram {
                    Ok(d) if &d[..] == b"close" => {
                        let _ = tx.send("closing".to_owned());
                        session.close(77, b"done from wt-quinn");
                    }
                    Ok(d) => {
                        let _ = tx.send(format!("datagram {}", hex(&d)));
                        let _ = session.send_datagram(d);
                    }
                    Err(_) => break,
                }
            }
        }
    }
    let err = session.closed().await;
    let _ = tx.send(format!("closed {err}"));
}

/// Our side of the exchange once the session is open.
async fn exchange(p: &mut Pump<WtSessions>, report: &mut Report, session: u32) {
    let u1 = p.open(session, false);
    p.sessions.write(session, u1, b"hello uni");
    p.sessions.finish(session, u1);
    let b1 = p.open(session, true);
    p.sessions.write(session, b1, b"hello ");
    p.sessions.write(session, b1, b"bidi");
    p.sessions.finish(session, b1);
    assert!(p.sessions.send_datagram(session, b"hello dgram"));
    let cmd = p.open(session, false);
    p.sessions.write(session, cmd, b"reset 7");
    p.sessions.finish(session, cmd);
    let b_stop = p.open(session, true);
    p.sessions.write(session, b_stop, b"stop 9");
    let u3 = p.open(session, false);
    p.sessions.write(session, u3, b"to be reset");
    let b2 = p.open(session, true);
    p.sessions.write(session, b2, b"a");
    p.run_for(Duration::from_millis(300)).await;
    p.sessions.reset(session, u3, 11);
    p.sessions.stop(session, b2, 13);
    p.run_for(Duration::from_millis(100)).await;
    // wt-quinn learns of the STOP_SENDING when it next writes: give it something to echo.
    p.sessions.write(session, b2, b"b");
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
    assert!(
        contents.contains(&(b"uni from wt-quinn".to_vec(), true)),
        "{contents:?}"
    );
    assert!(
        contents.contains(&(b"bidi from wt-quinn".to_vec(), true)),
        "{contents:?}"
    );
    let dgrams = datagrams(ev);
    assert!(
        dgrams.contains(&b"dgram from wt-quinn".to_vec()),
        "{dgrams:?}"
    );
    assert!(
        dgrams.contains(&b"hello dgram".to_vec()),
        "echo: {dgrams:?}"
    );
    assert!(
        ev.iter().any(
            |e| matches!(e, SessionEvent::Reset { code: Some(7), wire, .. } if *wire == to_http3(7))
        ),
        "{ev:#?}"
    );
    assert!(
        ev.iter().any(|e| matches!(e, SessionEvent::Stopped { stream, code: Some(9), wire, .. } if *stream == b_stop && *wire == to_http3(9))),
        "{ev:#?}"
    );
    // What wt-quinn saw (its bidi greeting echoed by our pump).
    let bidi_greeting = peer_streams
        .iter()
        .find(|s| stream_bytes(ev, **s).0 == b"bidi from wt-quinn")
        .copied()
        .expect("greeting");
    assert!(
        report.has(&format!("datagram {}", hex(b"hello dgram"))),
        "{:?}",
        report.lines
    );
    assert!(
        report.has(&format!(
            "data {bidi_greeting} {}",
            hex(b"bidi from wt-quinn")
        )),
        "{:?}",
        report.lines
    );
    assert!(report.has(&format!("reset {u3} 11")), "{:?}", report.lines);
    assert!(report.has(&format!("stop {b2} 13")), "{:?}", report.lines);
}

async fn close_by_us(p: &mut Pump<WtSessions>, report: &mut Report, session: u32) {
    let now = p.now();
    p.sessions.close(now, session, 42, "bye");
    p.run_for(Duration::from_millis(1_500)).await;
    assert!(
        report
            .drain()
            .iter()
            .any(|l| l.starts_with("closed ") && l.contains("42") && l.contains("bye")),
        "{:?}",
        report.lines
    );
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
    assert!(p.sessions.host_mut().live().is_empty());
}

/// Asks the peer (by the datagram `close`) to close the session with 77 and `reason`; we must
/// report the capsule's code as is and the QUIC connection must end.
async fn close_by_peer(p: &mut Pump<WtSessions>, report: &mut Report, session: u32, reason: &str) {
    assert!(p.sessions.send_datagram(session, b"close"));
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
                reason: reason.into()
            },
            true
        )]
    );
    assert!(report.has("closing"), "{:?}", report.lines);
    assert!(
        p.sessions.host_mut().live().is_empty(),
        "the QUIC connection ended"
    );
}

fn certificate() -> (
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    (cert.cert.der().clone(), key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_with_wt_quinn_server() {
    let (cert, key) = certificate();
    let mut server = web_transport_quinn::ServerBuilder::new()
        .with_addr("127.0.0.1:0".parse().expect("addr"))
        .with_certificate(vec![cert], key)
        .expect("wt-quinn server");
    let port = server.local_addr().expect("local address").port();
    let (tx, rx) = unbounded_channel();
    let mut report = Report {
        rx,
        lines: Vec::new(),
    };
    tokio::spawn(async move {
        if let Some(request) = server.accept().await {
            let _ = tx.send(format!("session {}", request.url.path()));
            if let Ok(session) = request.ok().await {
                wt_peer(session, tx).await;
            }
        }
    });
    let mut p = Pump::new(sessions(false, 31)).await;
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
    assert_eq!(p.sessions.session_id(session), Some(0));
    assert!(report.has("session /interop"), "{:?}", report.lines);
    exchange(&mut p, &mut report, session).await;
    close_by_us(&mut p, &mut report, session).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wt_quinn_client_with_our_server() {
    let mut p = Pump::new(sessions(true, 32)).await;
    let addr = p.local();
    let (tx, rx) = unbounded_channel();
    let mut report = Report {
        rx,
        lines: Vec::new(),
    };
    let client = web_transport_quinn::ClientBuilder::new()
        .dangerous()
        .with_no_certificate_verification()
        .expect("client");
    let url = url_of(addr.port());
    let closer = tokio::spawn(async move {
        match client.connect(url).await {
            Ok(session) => {
                let _ = tx.send("session".to_owned());
                wt_peer(session, tx).await;
            }
            Err(e) => {
                let _ = tx.send(format!("connect error {e}"));
            }
        }
    });
    assert!(
        p.run_until_event(Duration::from_secs(5), opened).await,
        "{:#?}",
        p.events
    );
    assert!(p.events.iter().any(
        |e| matches!(e, SessionEvent::Opened { session: 0, path } if path == "/from-wt-quinn")
    ));
    exchange(&mut p, &mut report, 0).await;
    close_by_peer(&mut p, &mut report, 0, "done from wt-quinn").await;
    let _ = closer.await;
}

fn url_of(port: u16) -> web_transport_quinn::proto::ConnectRequest {
    let url: url::Url = format!("https://127.0.0.1:{port}/from-wt-quinn")
        .parse()
        .expect("url");
    url.into()
}
