//! A controller and a handler on one port (one transport): the harness's peer when the IUT is a
//! client (the JoinResponse points the client back at the same address). Sessions are told apart
//! by WebTransport `:path` or, over bare QUIC, by ALPN (DH1): `/media` is the handler's, anything
//! else the controller's.

use std::collections::BTreeMap;

use handshake_core::Instant;
use handshake_quic::session::{SessionEvent, Sessions};

use crate::controller::ControllerCore;
use crate::driven::{App, Driven};
use crate::handler::HandlerCore;
use crate::{Clock, ControllerConfig, DarkTowerEvent, HandlerConfig, PATH_MEDIA};

/// Which server a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Controller,
    Handler,
}

/// Both servers' state, apart from their transport.
#[derive(Debug)]
pub struct MeetingCore {
    controller: ControllerCore,
    handler: HandlerCore,
    parts: BTreeMap<u32, Part>,
}

/// The reference controller and handler behind one transport.
pub type MeetingServer = Driven<MeetingCore>;

impl MeetingServer {
    /// Both servers on `transport` (the controller's handler URL should be this server's own
    /// address with the path `/media`).
    pub fn new(
        transport: Box<dyn Sessions>,
        controller: ControllerConfig,
        handler: HandlerConfig,
    ) -> MeetingServer {
        Driven::with(
            transport,
            MeetingCore {
                controller: ControllerCore::new(controller),
                handler: HandlerCore::new(handler),
                parts: BTreeMap::new(),
            },
        )
    }
}

impl App for MeetingCore {
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, e: SessionEvent) {
        let session = match &e {
            SessionEvent::Opened { session, path } => {
                let part = if path == PATH_MEDIA {
                    Part::Handler
                } else {
                    Part::Controller
                };
                self.parts.insert(*session, part);
                *session
            }
            SessionEvent::Data { session, .. }
            | SessionEvent::Reset { session, .. }
            | SessionEvent::Stopped { session, .. }
            | SessionEvent::Datagram { session, .. }
            | SessionEvent::Closed { session, .. } => *session,
        };
        let closed = matches!(e, SessionEvent::Closed { .. });
        match self.parts.get(&session) {
            Some(Part::Handler) => self.handler.on(now, t, e),
            Some(Part::Controller) => self.controller.on(now, t, e),
            // Nothing of a session that never opened concerns either server.
            None => {}
        }
        if closed {
            self.parts.remove(&session);
        }
    }

    /// The controller's events first.
    fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.controller
            .poll_event()
            .or_else(|| self.handler.poll_event())
    }

    fn set_clock(&mut self, clock: Clock) {
        self.controller.set_clock(clock);
        self.handler.set_clock(clock);
    }
}
