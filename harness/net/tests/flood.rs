//! An IUT that floods the harness is cut off at the run's receive limit: the link stops taking its
//! datagrams in, keeps what it took (the capture), and the run ends early instead of the harness's
//! memory growing with the flood.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use handshake_net::budget::datagram_cost;
use handshake_net::realtime::RealTimeLink;
use handshake_net::udp::Clock;
use handshake_net::{LinkConfig, LinkEvent, VirtualLink};

mod common;
use common::Recorder;

#[tokio::test]
async fn a_flood_is_cut_off_at_the_receive_limit() {
    const LIMIT: u64 = 256 << 10;
    const SIZE: usize = 1000;
    let clock = Clock::start();
    let link = VirtualLink::new(LinkConfig::with_seed(1));
    let mut net: RealTimeLink<Recorder> =
        RealTimeLink::new(clock, link, IpAddr::V4(Ipv4Addr::LOCALHOST), 4444, None)
            .await
            .expect("socket");
    net.limit_received(LIMIT);
    let to = net.primary();
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = Arc::clone(&stop);
    let flooder = std::thread::spawn(move || {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let payload = [7u8; SIZE];
        while !flooding.load(Ordering::Relaxed) {
            let _ = s.send_to(&payload, to);
        }
    });
    // Far longer than the flood needs to use the limit up.
    let deadline = clock.now() + Duration::from_secs(30);
    net.run_until(deadline, &|_| false).await;
    let stopped_at = clock.now();
    stop.store(true, Ordering::Relaxed);
    flooder.join().expect("flooder");
    assert!(net.flooded(), "the flood was noticed");
    assert!(net.turned_away() > 0, "what came after was counted");
    assert!(stopped_at < deadline, "the run stopped at the flood");
    let taken: u64 = net
        .link()
        .trace()
        .iter()
        .filter_map(|e| match e {
            LinkEvent::Sent { payload, .. } => Some(datagram_cost(payload.len())),
            _ => None,
        })
        .sum();
    assert!(taken <= LIMIT, "{taken} bytes taken in, limit {LIMIT}");
    assert!(
        taken + 2 * datagram_cost(SIZE) > LIMIT,
        "all but the last datagram's worth: {taken}"
    );
}
