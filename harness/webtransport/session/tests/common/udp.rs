//! A sans-I/O `Sessions` host pumped over a real tokio UDP socket with the wall clock.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;
use handshake_quic::session::{SessionEvent, Sessions};
use tokio::net::UdpSocket;

/// One host on one socket; events are logged, peer-opened bidi streams optionally echoed.
pub struct Pump<S: Sessions> {
    pub sessions: S,
    pub socket: UdpSocket,
    start: std::time::Instant,
    pub events: Vec<SessionEvent>,
    /// Streams this side opened (never echoed).
    pub ours: BTreeSet<u64>,
    /// Echo every bidi stream the peer opens (bytes and FIN).
    pub echo: bool,
}

impl<S: Sessions> Pump<S> {
    pub async fn new(sessions: S) -> Pump<S> {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        Pump {
            sessions,
            socket,
            start: std::time::Instant::now(),
            events: Vec::new(),
            ours: BTreeSet::new(),
            echo: true,
        }
    }

    pub fn local(&self) -> SocketAddr {
        self.socket.local_addr().expect("local address")
    }

    /// The harness instant of now.
    pub fn now(&self) -> Instant {
        Instant::from_nanos(u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX))
    }

    /// Opens a stream and remembers it as ours.
    pub fn open(&mut self, session: u32, bidi: bool) -> u64 {
        let id = self.sessions.open(session, bidi).expect("stream");
        self.ours.insert(id);
        id
    }

    async fn flush(&mut self) {
        loop {
            let mut any = false;
            while let Some(e) = self.sessions.poll_event() {
                any = true;
                if self.echo {
                    if let SessionEvent::Data {
                        session,
                        stream,
                        bytes,
                        fin,
                    } = &e
                    {
                        if stream & 2 == 0 && !self.ours.contains(stream) {
                            self.sessions.write(*session, *stream, bytes);
                            if *fin {
                                self.sessions.finish(*session, *stream);
                            }
                        }
                    }
                }
                self.events.push(e);
            }
            let now = self.now();
            self.sessions.drive(now);
            if !any {
                break;
            }
        }
        while let Some((to, bytes)) = self.sessions.poll_transmit() {
            let _ = self.socket.send_to(&bytes, to).await;
        }
    }

    /// Runs for `d` of wall time.
    pub async fn run_for(&mut self, d: Duration) {
        let deadline = std::time::Instant::now() + d;
        self.run_until(deadline, |_| false).await;
    }

    /// Runs until `done(events)` or `timeout`; whether `done` held.
    pub async fn run_until_event(
        &mut self,
        timeout: Duration,
        done: impl Fn(&[SessionEvent]) -> bool,
    ) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        self.run_until(deadline, done).await
    }

    async fn run_until(
        &mut self,
        deadline: std::time::Instant,
        done: impl Fn(&[SessionEvent]) -> bool,
    ) -> bool {
        let mut buf = vec![0u8; 65_536];
        loop {
            self.flush().await;
            if done(&self.events) {
                return true;
            }
            let wall = std::time::Instant::now();
            if wall >= deadline {
                return false;
            }
            let mut wait = deadline - wall;
            if let Some(t) = self.sessions.poll_timeout() {
                let until = t.saturating_duration_since(self.now());
                wait = wait.min(until);
            }
            let wait = wait.max(Duration::from_micros(100));
            match tokio::time::timeout(wait, self.socket.recv_from(&mut buf)).await {
                Ok(Ok((n, from))) => {
                    let now = self.now();
                    self.sessions.handle_datagram(now, from, &buf[..n]);
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    let now = self.now();
                    self.sessions.handle_timeout(now);
                }
            }
        }
    }
}
