//! One session fed to a checker datagram by datagram, for the judge's tests.

use std::net::SocketAddr;

use handshake_mediastream_judge::{CheckOptions, Checker, Mark, Packet};
use handshake_mediastream_wire::ConnectionId;

/// The id the responder assigns in these sessions.
pub fn assigned_id() -> ConnectionId {
    ConnectionId::from_text("7887efe9-2f22-4082-b78a-62421b8fdd9e").expect("id")
}

/// An initiator (192.0.2.1:50000) and a responder (192.0.2.2:4444) and the checker judging them.
pub struct Session {
    checker: Checker,
    number: u64,
    initiator: SocketAddr,
    responder: SocketAddr,
}

impl Session {
    #[allow(dead_code)] // not every test file uses it
    pub fn new() -> Session {
        Session::with_options(CheckOptions::default())
    }

    /// As [`new`](Session::new), judged with `options`.
    #[allow(dead_code)] // not every test file uses it
    pub fn with_options(options: CheckOptions) -> Session {
        Session {
            checker: Checker::new(options),
            number: 0,
            initiator: "192.0.2.1:50000".parse().expect("addr"),
            responder: "192.0.2.2:4444".parse().expect("addr"),
        }
    }

    /// One datagram at `ms`, from the initiator or from the responder.
    pub fn push(&mut self, ms: u64, from_initiator: bool, bytes: &[u8]) {
        self.number += 1;
        let (src, dst) = if from_initiator {
            (self.initiator, self.responder)
        } else {
            (self.responder, self.initiator)
        };
        self.checker.push(&Packet {
            number: self.number,
            time_ns: ms * 1_000_000,
            src,
            dst,
            payload: bytes,
            mark: Mark::default(),
        });
    }

    /// The rules that fired, each once, sorted.
    pub fn rules_fired(self) -> Vec<&'static str> {
        let mut fired: Vec<&str> = self.checker.finish().violations().map(|v| v.rule).collect();
        fired.sort_unstable();
        fired.dedup();
        fired
    }
}
