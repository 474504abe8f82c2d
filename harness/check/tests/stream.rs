//! `check_stream` gives the judge the same packets, in the same order, on one thread and on two
//! (a second thread reads the file and hands its buffers over), and the same as `check_capture`
//! over the bytes in memory: over a capture big enough for many buffers, with payloads of every
//! size up to 64 KiB, IP fragments, comments (marks) and other traffic.

use std::net::SocketAddr;

use handshake_capture::{CaptureFormat, CaptureWriter};
use handshake_check::{check_capture, check_stream, Judge, Mark, Packet};

/// Records everything it is given.
#[derive(Default)]
struct Recorder(Vec<(u64, u64, SocketAddr, SocketAddr, Vec<u8>, Mark)>);

impl Judge for Recorder {
    type Report = Vec<(u64, u64, SocketAddr, SocketAddr, Vec<u8>, Mark)>;
    fn push(&mut self, p: &Packet<'_>) {
        self.0.push((
            p.number,
            p.time_ns,
            p.src,
            p.dst,
            p.payload.to_vec(),
            p.mark,
        ));
    }
    fn finish(self) -> Self::Report {
        self.0
    }
}

fn capture(format: CaptureFormat) -> Vec<u8> {
    let mut w = CaptureWriter::with_format(Vec::new(), format)
        .expect("writer")
        .with_mtu(Some(1500));
    let a: SocketAddr = "192.0.2.1:4444".parse().expect("addr");
    for i in 0..40_000u64 {
        let peer = SocketAddr::from(([10, 0, (i % 7) as u8, 1], 40_000 + (i % 13) as u16));
        let len = match i % 1000 {
            0 => 65_000, // fragmented: the payload is reassembled, not in the buffer
            1 => 0,      // empty
            n => (n * 37 % 1400) as usize,
        };
        let payload: Vec<u8> = (0..len).map(|b| (b as u64 ^ i) as u8).collect();
        let comment = (i % 11 == 0).then_some("received as changed by harness: delayed 5 ms");
        let (src, dst) = if i % 2 == 0 { (a, peer) } else { (peer, a) };
        w.write_datagram(
            1_700_000_000_000_000_000 + i * 1_000,
            src,
            dst,
            &payload,
            comment,
        )
        .expect("write");
    }
    w.finish().expect("finish")
}

#[test]
fn one_thread_two_threads_and_in_memory_agree() {
    for format in [CaptureFormat::Pcap, CaptureFormat::PcapNg] {
        let bytes = capture(format);
        let in_memory = check_capture(&bytes, None, Recorder::default()).expect("capture");
        let one = check_stream(&bytes[..], None, 1, Recorder::default()).expect("capture");
        let two = check_stream(&bytes[..], None, 2, Recorder::default()).expect("capture");
        assert_eq!(in_memory.report.len(), 40_000, "{format:?}");
        // (Classic pcap has no comments.)
        let marked = in_memory.report.iter().any(|p| p.5.modified);
        assert_eq!(marked, format == CaptureFormat::PcapNg, "{format:?}: marks");
        assert_eq!(one.report, in_memory.report, "{format:?}: one thread");
        assert_eq!(two.report, in_memory.report, "{format:?}: two threads");
        assert_eq!((one.skips, two.skips), (in_memory.skips, in_memory.skips));
        assert!(two.damage.is_none() && one.damage.is_none());
    }
}

#[test]
fn damage_is_reported_after_the_datagrams_before_it() {
    let bytes = capture(CaptureFormat::PcapNg);
    let cut = &bytes[..bytes.len() * 2 / 3];
    let in_memory = check_capture(cut, None, Recorder::default()).expect("capture");
    let two = check_stream(cut, None, 2, Recorder::default()).expect("capture");
    assert!(!two.report.is_empty());
    assert_eq!(two.report, in_memory.report);
    assert_eq!(
        two.damage.map(|d| d.to_string()),
        in_memory.damage.map(|d| d.to_string())
    );
    assert!(check_stream(&b"not a capture"[..], None, 2, Recorder::default()).is_err());
}
