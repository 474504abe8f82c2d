//! Layer 2 of the Dark Tower family: the reference Meeting Controller, Media Handler and client,
//! sans-I/O, over any [`Sessions`] transport — WebTransport over HTTP/3
//! (`handshake-webtransport`) or bare QUIC ([`handshake_quic::session::BareSessions`]).
//!
//! Every instant comes from the caller ([`Instant`]); the Unix time that tokens and frame
//! timestamps need is the caller's too ([`Clock`]), so a 30 s idle timeout and a 5-minute token
//! expiry run in microseconds of virtual time.
//!
//! Facts and decisions: `shared/protocols/darktower.md` (DT1–DT11) and the harness's DH1–DH16
//! (README, "Dark Tower decisions").
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;
use handshake_quic::session::{SessionEvent, Sessions};

pub mod client;
pub mod controller;
pub mod driven;
pub mod handler;
pub mod mutants;
pub mod node;
pub mod script;
pub mod server;
pub mod token;

pub use client::{Client, ClientConfig, ClientReport, MediaVersion, Source};
pub use controller::{Controller, ControllerConfig};
pub use driven::{App, Driven};
pub use handler::{Handler, HandlerConfig};
pub use mutants::Mutant;
pub use node::DarkTowerNode;
pub use script::{ScriptClient, Target, Which};
pub use server::{MeetingServer, ServerAct};
pub use token::{JoinClaims, JoinMint, JoinTokenKind, MediaClaims, Secret, TokenError};

/// The ALPN of bare-QUIC Dark Tower signaling sessions (DH1).
pub const ALPN_SIGNALING: &[u8] = b"darktower";
/// The ALPN of bare-QUIC Dark Tower media sessions (DH1): one port can serve both.
pub const ALPN_MEDIA: &[u8] = b"darktower-media";
/// The controller's path (WebTransport `:path`; bare QUIC: [`ALPN_SIGNALING`]).
pub const PATH_SIGNALING: &str = "/signaling";
/// The handler's path (bare QUIC: [`ALPN_MEDIA`]).
pub const PATH_MEDIA: &str = "/media";

/// The ALPNs a bare-QUIC client offers for each session, most preferred first. ALPNs are a
/// contract (DH1): the harness offers what an IUT's manifest says, and by default every
/// reasonable name, accepting whichever the server selects (RFC 7301 §3.2): `darktower` for a
/// signaling session, `darktower-media` then `darktower` for a media session (a server that
/// speaks `darktower` for every session gets its media session too).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BareAlpns {
    /// Offered for signaling sessions (the controller's).
    pub signaling: Vec<Vec<u8>>,
    /// Offered for media sessions (the handler's).
    pub media: Vec<Vec<u8>>,
}

impl Default for BareAlpns {
    fn default() -> Self {
        BareAlpns {
            signaling: vec![ALPN_SIGNALING.to_vec()],
            media: vec![ALPN_MEDIA.to_vec(), ALPN_SIGNALING.to_vec()],
        }
    }
}

impl BareAlpns {
    /// Every ALPN a server accepts, in its order of preference (rustls and aioquic servers pick
    /// the first of theirs the client offered): the media names first, so that a client offering
    /// both for its media session gets the media one, while a signaling client offers only its own.
    pub fn server_list(&self) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = Vec::new();
        for a in self.media.iter().chain(&self.signaling) {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }
}

/// Bare-QUIC sessions for Dark Tower with the default offers ([`BareAlpns`]).
pub fn bare_sessions(host: handshake_quic::QuicHost) -> handshake_quic::session::BareSessions {
    bare_sessions_with(host, &BareAlpns::default())
}

/// Bare-QUIC sessions for Dark Tower: a session to [`PATH_SIGNALING`] or [`PATH_MEDIA`] offers
/// its ALPNs; a session a client opened reports `/media` for the media ALPN (the first offered
/// for media) and `/signaling` otherwise (a server that serves both on one port looks further,
/// [`MeetingServer`]).
pub fn bare_sessions_with(
    host: handshake_quic::QuicHost,
    alpns: &BareAlpns,
) -> handshake_quic::session::BareSessions {
    handshake_quic::session::BareSessions::new(host).with_offers(&[
        (PATH_MEDIA, alpns.media.clone()),
        (PATH_SIGNALING, alpns.signaling.clone()),
    ])
}

/// The ALPNs of a bare-QUIC Dark Tower host (a server's, in its order of preference).
pub fn bare_alpns() -> Vec<Vec<u8>> {
    BareAlpns::default().server_list()
}

/// Which transport carries the sessions (DH1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransportKind {
    /// WebTransport over HTTP/3 (ALPN `h3`).
    #[default]
    WebTransport,
    /// Bare QUIC (ALPN `darktower`).
    Quic,
}

/// The QUIC transport parameters of a Dark Tower host: servers get the idle timeout and (the
/// handler) the flow document's windows; clients send keep-alives.
pub fn quic_transport(
    liveness: Liveness,
    server: bool,
    handler: bool,
) -> handshake_quic::Transport {
    handshake_quic::Transport {
        idle_timeout: Some(liveness.idle),
        keep_alive: (!server).then_some(liveness.keep_alive),
        max_bidi: 100,
        max_uni: 100,
        windows: handler.then_some(handshake_quic::Windows {
            stream: handler::STREAM_WINDOW,
            connection: handler::CONNECTION_WINDOW,
        }),
    }
}

/// Unix time for the endpoints: the epoch time of the harness's instant zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// µs since the Unix epoch at [`Instant::ZERO`].
    pub epoch_us_at_zero: u64,
}

impl Clock {
    /// The virtual-time default: 2026-01-01T00:00:00Z, the instant zero of every capture the
    /// harness writes in virtual time (so a judge reading token expiries against capture time
    /// agrees with the endpoints; the plug-in's tests check the two constants agree).
    pub const VIRTUAL: Clock = Clock {
        epoch_us_at_zero: handshake_core::EPOCH_NS / 1_000,
    };

    /// The wall clock, for a run whose instant `now` is the present (real time).
    pub fn wall(now: Instant) -> Clock {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let since = u64::try_from(now.since_start().as_micros()).unwrap_or(u64::MAX);
        Clock {
            epoch_us_at_zero: wall.saturating_sub(since),
        }
    }

    /// µs since the epoch at `now`.
    pub fn unix_us(&self, now: Instant) -> u64 {
        let since = u64::try_from(now.since_start().as_micros()).unwrap_or(u64::MAX);
        self.epoch_us_at_zero.saturating_add(since)
    }

    /// Seconds since the epoch at `now`.
    pub fn unix_s(&self, now: Instant) -> u64 {
        self.unix_us(now) / 1_000_000
    }
}

/// The liveness of DT10 / the flow document: keep-alive 15 s, idle 30 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Liveness {
    /// QUIC `max_idle_timeout`.
    pub idle: Duration,
    /// The client's keep-alive PING interval.
    pub keep_alive: Duration,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness {
            idle: Duration::from_secs(30),
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// What a reference endpoint did that a scenario may look at, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DarkTowerEvent {
    /// A session opened (server: a client's; client: ours).
    SessionOpened {
        /// The session.
        session: u32,
        /// Its path (WebTransport).
        path: String,
    },
    /// A session ended.
    SessionClosed {
        /// The session.
        session: u32,
        /// How.
        close: String,
    },
    /// Controller: a participant joined (or resumed, DH9).
    Joined {
        /// Its id.
        participant: String,
        /// A resumption of an earlier participant.
        resumed: bool,
    },
    /// The harness's meeting server facing a client IUT step by step: a JoinRequest (`join`) or
    /// a ConnectRequest (`auth`) arrived and waits for a step's answer.
    Requested {
        /// `join` or `auth`.
        what: &'static str,
        /// Its token verifies (a JoinRequest's for the meeting served; a ConnectRequest's
        /// media token): what the server would accept, whatever a step answers.
        valid: bool,
    },
    /// Controller: a participant published a stream (PublishStream accepted).
    Published {
        /// Its id.
        participant: String,
        /// The stream id it announced.
        stream_id: String,
    },
    /// Controller: a participant left.
    Left {
        /// Its id.
        participant: String,
        /// The LeaveReason sent to the others.
        reason: i32,
    },
    /// An ErrorMessage sent (controller, handler) or received (client).
    Error {
        /// Its ErrorCode.
        code: i32,
        /// Sent (else received).
        sent: bool,
    },
    /// Handler: a participant authenticated (DT7).
    Authenticated {
        /// Its id.
        participant: String,
    },
    /// A media stream ended by this endpoint with a code (handler: STOP_SENDING of a source or
    /// RESET_STREAM of a forward).
    StreamEnded {
        /// The QUIC stream.
        stream: u64,
        /// The application code.
        code: u32,
    },
    /// Handler: a v2 datagram dropped (DT11).
    DatagramDropped {
        /// Why.
        reason: String,
    },
    /// Scripted peer: a message arrived from the IUT on a participant's signaling or
    /// authentication stream.
    Message {
        /// The scripted participant.
        participant: u32,
        /// `controller` or `handler`.
        from: &'static str,
        /// `join_response`, `participant_joined`, `participant_left`, `stream_published`,
        /// `stream_quality_update`, `error`, `connect_response`, or `undecodable`.
        kind: &'static str,
        /// An ErrorMessage's code.
        code: Option<i32>,
        /// The participant id it is about (JoinResponse, ParticipantJoined/Left, StreamPublished,
        /// ConnectResponse).
        about: Option<String>,
        /// A ParticipantLeft's reason.
        reason: Option<i32>,
    },
    /// Scripted peer: the IUT ended its side of a participant's signaling or authentication
    /// stream (FIN).
    Fin {
        /// The scripted participant.
        participant: u32,
        /// `controller` or `handler`.
        from: &'static str,
    },
    /// Scripted peer: the IUT sent STOP_SENDING (`stopped`) or RESET_STREAM (`reset`) on a
    /// participant's stream.
    StreamCode {
        /// The scripted participant.
        participant: u32,
        /// `stopped` or `reset`.
        how: &'static str,
        /// The QUIC stream.
        stream: u64,
        /// The application code, if the transport could read it.
        code: Option<u32>,
        /// The code on the wire.
        wire: u64,
    },
    /// Scripted peer: a frame forwarded to a participant (v1 stream or v2 datagram).
    Frame {
        /// The scripted participant.
        participant: u32,
        /// The QUIC stream (v1) or `None` (datagram).
        stream: Option<u64>,
        /// Its sequence number.
        sequence: u64,
        /// The stream header's id (v1, hyphenated) or the v2 user id.
        source: String,
    },
    /// Scripted peer: a participant's session ended.
    ParticipantClosed {
        /// The scripted participant.
        participant: u32,
        /// `controller` or `handler`.
        from: &'static str,
        /// How.
        close: String,
        /// The IUT ended it.
        by_iut: bool,
    },
    /// Client: done.
    Finished {
        /// It completed (exit 0).
        ok: bool,
        /// Why not, or "completed".
        reason: String,
    },
}

impl std::fmt::Display for DarkTowerEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DarkTowerEvent::SessionOpened { session, path } => {
                write!(f, "session {session} opened {path}")
            }
            DarkTowerEvent::SessionClosed { session, close } => {
                write!(f, "session {session} closed: {close}")
            }
            DarkTowerEvent::Joined {
                participant,
                resumed,
            } => write!(
                f,
                "{participant} joined{}",
                if *resumed { " (resumed)" } else { "" }
            ),
            DarkTowerEvent::Left {
                participant,
                reason,
            } => write!(f, "{participant} left (reason {reason})"),
            DarkTowerEvent::Requested { what, valid } => write!(
                f,
                "{what} request held (its token {})",
                if *valid {
                    "verifies"
                } else {
                    "does not verify"
                }
            ),
            DarkTowerEvent::Published {
                participant,
                stream_id,
            } => write!(f, "{participant} published {stream_id}"),
            DarkTowerEvent::Error { code, sent } => write!(
                f,
                "ErrorMessage {code} {}",
                if *sent { "sent" } else { "received" }
            ),
            DarkTowerEvent::Authenticated { participant } => {
                write!(f, "{participant} authenticated")
            }
            DarkTowerEvent::StreamEnded { stream, code } => {
                write!(f, "stream {stream} ended with {code:#04x}")
            }
            DarkTowerEvent::DatagramDropped { reason } => write!(f, "datagram dropped: {reason}"),
            DarkTowerEvent::Message {
                participant,
                from,
                kind,
                code,
                about,
                reason,
            } => {
                write!(f, "#{participant} got {kind} from the {from}")?;
                if let Some(c) = code {
                    write!(f, " code {c}")?;
                }
                if let Some(a) = about {
                    write!(f, " about {a}")?;
                }
                if let Some(r) = reason {
                    write!(f, " reason {r}")?;
                }
                Ok(())
            }
            DarkTowerEvent::Fin { participant, from } => {
                write!(f, "#{participant}: the {from} ended its stream (FIN)")
            }
            DarkTowerEvent::StreamCode {
                participant,
                how,
                stream,
                code,
                wire,
            } => write!(
                f,
                "#{participant}: stream {stream} {how} with {} (wire {wire:#x})",
                code.map_or_else(|| "an unmapped code".to_owned(), |c| format!("{c:#04x}"))
            ),
            DarkTowerEvent::Frame {
                participant,
                stream,
                sequence,
                source,
            } => match stream {
                Some(s) => write!(
                    f,
                    "#{participant}: frame {sequence} of {source} on stream {s}"
                ),
                None => write!(
                    f,
                    "#{participant}: datagram frame {sequence} of user {source}"
                ),
            },
            DarkTowerEvent::ParticipantClosed {
                participant,
                from,
                close,
                by_iut,
            } => write!(
                f,
                "#{participant}: {from} session closed by {}: {close}",
                if *by_iut { "the IUT" } else { "the harness" }
            ),
            DarkTowerEvent::Finished { ok, reason } => {
                write!(
                    f,
                    "client {}: {reason}",
                    if *ok { "done" } else { "failed" }
                )
            }
        }
    }
}

/// The pump every endpoint runs after input: session events to the endpoint, then the transport
/// driven, until nothing new happens.
fn pump<S: ?Sized + Sessions>(
    sessions: &mut S,
    now: Instant,
    mut on: impl FnMut(&mut S, SessionEvent),
) {
    loop {
        let mut seen = 0usize;
        while let Some(event) = sessions.poll_event() {
            seen += 1;
            on(sessions, event);
        }
        sessions.drive(now);
        if seen == 0 {
            break;
        }
    }
}

/// The earlier of two optional instants.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Whether a QUIC stream id is a client-initiated bidirectional one.
pub fn is_client_bidi(stream: u64) -> bool {
    stream & 3 == 0
}

/// Whether a QUIC stream id is a client-initiated unidirectional one.
pub fn is_client_uni(stream: u64) -> bool {
    stream & 3 == 2
}

/// The socket address in a `https://HOST:PORT/…` or `quic://HOST:PORT` URL (DH1).
pub fn url_address(url: &str) -> Option<SocketAddr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next()?;
    authority.parse().ok()
}

/// The path of a URL (`/` when none).
pub fn url_path(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/')
        .map_or_else(|| "/".to_owned(), |i| rest[i..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            url_address("https://127.0.0.1:4433/media"),
            Some("127.0.0.1:4433".parse().expect("addr"))
        );
        assert_eq!(url_path("https://127.0.0.1:4433/media"), "/media");
        assert_eq!(url_path("quic://127.0.0.1:4433"), "/");
        assert_eq!(url_address("https://localhost/x"), None);
    }

    #[test]
    fn clock() {
        let c = Clock::VIRTUAL;
        assert_eq!(c.unix_s(Instant::from_millis(1500)), 1_767_225_601);
    }
}
