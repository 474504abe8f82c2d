//! An IUT that sends its last datagrams and exits at once (a REPL-driven client: `close`, then
//! `exit`): its exit may be noticed before the harness has read those datagrams. They must reach
//! the harness's endpoint, not only the capture.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use handshake_net::process::Exit;
use handshake_net::realtime::RealTimeLink;
use handshake_net::udp::Clock;
use handshake_net::{LinkConfig, LinkEvent, VirtualLink};
use tokio::sync::watch;

mod common;
use common::Recorder;

#[tokio::test]
async fn what_the_iut_sent_before_it_exited_reaches_the_endpoint() {
    const SENT: usize = 5;
    let clock = Clock::start();
    let link = VirtualLink::new(LinkConfig::with_seed(1));
    let mut net: RealTimeLink<Recorder> =
        RealTimeLink::new(clock, link, IpAddr::V4(Ipv4Addr::LOCALHOST), 4444, None)
            .await
            .expect("socket");
    net.set_endpoint(Recorder::default());
    let (exit_tx, exit_rx) = watch::channel(None);
    net.watch_exit(exit_rx);
    let to = net.primary();
    // The IUT sends, then exits; the harness hears of the exit before it reads the sockets (its
    // readers run only when the harness's task waits).
    let iut = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    for i in 0..SENT {
        iut.send_to(&[i as u8; 40], to).expect("send");
    }
    drop(iut);
    exit_tx
        .send(Some(Exit {
            at: clock.now(),
            code: Some(0),
            signal: None,
        }))
        .expect("watched");
    let end = clock.now() + Duration::from_secs(5);
    net.run_until(end, &|n: &RealTimeLink<Recorder>| n.exited().is_some())
        .await;
    net.deliver_after_exit(Duration::from_millis(5), end).await;
    let got = &net.endpoint().expect("endpoint").got;
    assert_eq!(got.len(), SENT, "every datagram reached the endpoint");
    for (i, d) in got.iter().enumerate() {
        assert_eq!(d, &vec![i as u8; 40], "in order");
    }
    let traced = net
        .link()
        .trace()
        .iter()
        .filter(|e| {
            matches!(
                e,
                LinkEvent::Sent {
                    injected: false,
                    ..
                }
            )
        })
        .count();
    assert_eq!(traced, SENT, "and the capture has each once");
}
