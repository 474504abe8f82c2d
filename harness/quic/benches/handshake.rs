//! The cost of one QUIC + TLS 1.3 handshake between two of the harness's hosts, in memory: no
//! link, capture, judge or scenario. Every in-process fuzz input of a QUIC family opens at least
//! one connection (two against a server: the liveness probe's), so this is the floor under its
//! exec/s (`make bench-netfuzz`): at 10,000 inputs a second one input has 100 µs in all.

use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use handshake_core::Instant;
use handshake_quic::{HostConfig, KeyLog, QuicEvent, QuicHost, Seed, Transport};

const CLIENT: &str = "192.0.2.1:50000";
const SERVER: &str = "192.0.2.2:4444";

fn host(server: bool) -> QuicHost {
    QuicHost::new(&HostConfig {
        seed: Seed::derive(1, if server { "server" } else { "client" }),
        alpn: vec![b"proton".to_vec()],
        transport: Transport::default(),
        server,
        key_log: Arc::new(KeyLog::default()),
    })
    .expect("host")
}

/// Delivers every datagram at once (a zero-latency wire, the clock still) until both hosts have
/// completed the handshake and nothing is in flight; the datagrams exchanged.
fn handshake() -> usize {
    let (client_addr, server_addr): (SocketAddr, SocketAddr) = (
        CLIENT.parse().expect("address"),
        SERVER.parse().expect("address"),
    );
    let (mut client, server) = (host(false), host(true));
    let now = Instant::ZERO;
    client.connect(now, server_addr).expect("connect");
    let mut hosts = [client, server];
    let addrs = [client_addr, server_addr];
    let (mut connected, mut datagrams) = ([false; 2], 0);
    loop {
        let mut moved = false;
        for from in 0..2 {
            hosts[from].drive(now);
            while let Some(event) = hosts[from].poll_event() {
                connected[from] |= matches!(event, QuicEvent::Connected { .. });
            }
            while let Some((_, bytes)) = hosts[from].poll_transmit() {
                hosts[1 - from].handle_datagram(now, addrs[from], &bytes);
                datagrams += 1;
                moved = true;
            }
        }
        if !moved {
            assert_eq!(connected, [true; 2], "the handshake stalled");
            return datagrams;
        }
    }
}

fn bench(c: &mut Criterion) {
    c.bench_function("quic/two hosts", |b| b.iter(|| (host(false), host(true))));
    c.bench_function("quic/handshake", |b| b.iter(handshake));
}

criterion_group!(benches, bench);
criterion_main!(benches);
