//! Receive times come from the kernel: a datagram read late is still timed when it arrived.

use std::time::Duration;

use handshake_net::udp::{enable_receive_timestamps, recv_timestamped, Clock};
use tokio::net::UdpSocket;

#[tokio::test]
async fn a_datagram_read_late_keeps_its_arrival_time() {
    let receiver = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let sender = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let stamped = enable_receive_timestamps(&receiver);
    let clock = Clock::start();
    let to = receiver.local_addr().expect("addr");
    let mut buf = [0u8; 64];
    // Linux turns receive stamping on for the whole system in deferred work, after the first
    // socket asks: until then a datagram is stamped when it is read. On a busy machine that can
    // take a while, so datagrams go round until one is stamped at arrival.
    for _ in 0..100 {
        sender.send_to(b"warm", to).await.expect("send");
        receiver.readable().await.expect("readable");
        std::thread::sleep(Duration::from_millis(10));
        let a = recv_timestamped(&receiver, &mut buf, clock)
            .await
            .expect("receive");
        if a.read_delay.is_none_or(|d| d >= Duration::from_millis(5)) {
            break;
        }
    }
    sender.send_to(b"hello", to).await.expect("send");
    let sent_at = clock.now();
    receiver.readable().await.expect("readable");
    // The reader is busy elsewhere for a while.
    std::thread::sleep(Duration::from_millis(80));
    let arrival = recv_timestamped(&receiver, &mut buf, clock)
        .await
        .expect("receive");
    let read_at = clock.now();
    assert_eq!(&buf[..arrival.len], b"hello");
    assert_eq!(arrival.from, sender.local_addr().expect("addr"));
    if cfg!(target_os = "linux") {
        assert!(stamped, "SO_TIMESTAMPNS is available on Linux");
        let delay = arrival.read_delay.expect("a kernel stamp");
        assert!(delay >= Duration::from_millis(70), "read delay {delay:?}");
        // Arrival is near the send, not near the read: in the first half of the wait (a bound
        // relative to the wait, so a loaded machine that also reads later does not fail it).
        let after_send = arrival.at.saturating_duration_since(sent_at);
        let waited = read_at.saturating_duration_since(sent_at);
        assert!(
            after_send < waited / 2,
            "arrived {after_send:?} after the send, read {waited:?} after it"
        );
        assert!(read_at.saturating_duration_since(arrival.at) >= Duration::from_millis(70));
    }
}
