//! Live capture on the Linux loopback. Needs root or CAP_NET_RAW: without, the tests print why
//! and pass.

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use handshake_capture::{CaptureError, CaptureWriter, LiveCapture, LiveLimits};

use crate::util::read_all;

/// Opens `lo`, or says why the test is skipped.
fn open_lo(port: u16) -> Option<LiveCapture> {
    match LiveCapture::open("lo", Some(port)) {
        Ok(live) => Some(live),
        Err(err @ (CaptureError::Permission { .. } | CaptureError::NoSuchInterface { .. })) => {
            eprintln!("live capture test skipped: {err}");
            None
        }
        Err(err) => panic!("opening lo: {err}"),
    }
}

fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").expect("bind a loopback socket")
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

#[test]
fn captures_exactly_the_port_until_stopped_then_by_count() {
    let (receiver, elsewhere, sender) = (bind(), bind(), bind());
    let to = receiver.local_addr().expect("addr");
    let to_elsewhere = elsewhere.local_addr().expect("addr");
    let from = sender.local_addr().expect("addr");
    let Some(mut live) = open_lo(to.port()) else {
        return;
    };
    let payload = |i: u32| format!("datagram {i:02} {}", "x".repeat(i as usize * 50)).into_bytes();

    let before = now_ns();
    let stop = AtomicBool::new(false);
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    let mut seen = 0u64;
    let stats = std::thread::scope(|scope| {
        let capture = scope.spawn(|| {
            let limits = LiveLimits {
                count: None,
                duration: Some(Duration::from_secs(10)),
            };
            live.run(limits, &stop, &mut writer, |n| seen = n)
        });
        for i in 0..20 {
            sender.send_to(&payload(i), to).expect("send");
            if i % 5 == 0 {
                sender.send_to(b"elsewhere", to_elsewhere).expect("send");
            }
        }
        // Loopback delivery is synchronous: everything is queued for the capture socket by now.
        std::thread::sleep(Duration::from_millis(150));
        let stopped_at = std::time::Instant::now();
        stop.store(true, Ordering::Relaxed);
        let result = capture.join().expect("capture thread");
        assert!(stopped_at.elapsed() < Duration::from_millis(500));
        result
    })
    .expect("capture");
    let after = now_ns();
    assert_eq!(stats.written, 20, "{stats:?}");
    assert_eq!(seen, 20);
    assert!(stats.skipped >= 4, "{stats:?}");

    let bytes = writer.finish().expect("finish");
    let (got, skipped) = read_all(&bytes);
    assert_eq!(skipped.total(), 0, "{skipped:?}");
    assert_eq!(got.len(), 20);
    for (i, d) in (0u32..).zip(&got) {
        assert_eq!((d.src, d.dst), (from, to));
        assert_eq!(&d.payload[..], &payload(i)[..]);
        assert!(
            (before..=after).contains(&d.timestamp_ns),
            "wall-clock time"
        );
        assert_eq!(d.comment, None);
    }

    // By count: 5 more queued, 3 taken; returns without waiting for the stop flag.
    for i in 0..5 {
        sender.send_to(&payload(i), to).expect("send");
    }
    let stop = AtomicBool::new(false);
    let mut writer = CaptureWriter::new(Vec::new()).expect("start");
    let limits = LiveLimits {
        count: Some(3),
        duration: Some(Duration::from_secs(10)),
    };
    let stats = live
        .run(limits, &stop, &mut writer, |_| {})
        .expect("capture");
    assert_eq!(stats.written, 3);
    let bytes = writer.finish().expect("finish");
    assert_eq!(read_all(&bytes).0.len(), 3);
}

#[test]
fn unknown_interface_lists_the_available_ones() {
    let err = LiveCapture::open("no-such-if0", None).expect_err("no such interface");
    let CaptureError::NoSuchInterface { available, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    let text = err.to_string();
    assert!(text.contains("no-such-if0"), "{text}");
    for name in available {
        assert!(text.contains(name.as_str()), "{text}");
    }
}

#[test]
fn permission_message_says_how_to_fix_it() {
    let text = CaptureError::Permission {
        interface: "eth0".to_owned(),
    }
    .to_string();
    assert!(text.contains("CAP_NET_RAW"), "{text}");
    assert!(
        text.contains(r#"sudo setcap cap_net_raw+ep "$(command -v harness)""#),
        "{text}"
    );
}
