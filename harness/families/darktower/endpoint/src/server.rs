//! A controller and a handler on one port (one transport): the harness's peer when the IUT is a
//! client (the JoinResponse points the client back at the same address). Sessions are told apart
//! by WebTransport `:path` or, over bare QUIC, by ALPN (DH1): `/media` is the handler's, anything
//! else the controller's.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_quic::session::{SessionEvent, Sessions};

use crate::{controller, handler, pump, ControllerConfig, DarkTowerEvent, HandlerConfig, PATH_MEDIA};

/// Which server a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Controller,
    Handler,
}

/// The reference controller and handler behind one transport.
#[derive(Debug)]
pub struct MeetingServer {
    transport: Box<dyn Sessions>,
    controller: controller::Core,
    handler: handler::Core,
    parts: BTreeMap<u32, Part>,
}

impl MeetingServer {
    /// Both servers on `transport` (the controller's handler URL should be this server's own
    /// address with the path `/media`).
    pub fn new(
        transport: Box<dyn Sessions>,
        controller: ControllerConfig,
        handler: HandlerConfig,
    ) -> MeetingServer {
        MeetingServer {
            transport,
            controller: controller::Core::new(controller),
            handler: handler::Core::new(handler),
            parts: BTreeMap::new(),
        }
    }

    /// Takes one UDP datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.transport.handle_datagram(now, source, payload);
        self.step(now);
    }

    /// Fires what is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.transport.handle_timeout(now);
        self.step(now);
    }

    fn step(&mut self, now: Instant) {
        let (controller, handler, parts) = (&mut self.controller, &mut self.handler, &mut self.parts);
        pump(&mut *self.transport, now, |t, e| {
            let session = match &e {
                SessionEvent::Opened { session, path } => {
                    let part = if path == PATH_MEDIA {
                        Part::Handler
                    } else {
                        Part::Controller
                    };
                    parts.insert(*session, part);
                    *session
                }
                SessionEvent::Data { session, .. }
                | SessionEvent::Reset { session, .. }
                | SessionEvent::Stopped { session, .. }
                | SessionEvent::Datagram { session, .. }
                | SessionEvent::Closed { session, .. } => *session,
            };
            let closed = matches!(e, SessionEvent::Closed { .. });
            match parts.get(&session) {
                Some(Part::Handler) => handler.on(now, t, e),
                Some(Part::Controller) => controller.on(now, t, e),
                // Nothing of a session that never opened concerns either server.
                None => {}
            }
            if closed {
                parts.remove(&session);
            }
        });
    }

    /// The next UDP datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transport.poll_transmit()
    }

    /// When to call [`MeetingServer::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.transport.poll_timeout()
    }

    /// The next event (the controller's first).
    pub fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.controller
            .poll_event()
            .or_else(|| self.handler.poll_event())
    }

    /// Switches its Unix time (real-time runs).
    pub fn set_clock(&mut self, clock: crate::Clock) {
        self.controller.config.clock = clock;
        self.handler.config.clock = clock;
    }

    /// TLS secrets.
    pub fn key_log(&self) -> String {
        self.transport.key_log()
    }

    /// The transport (scripted twists: close, vanish).
    pub fn transport_mut(&mut self) -> &mut dyn Sessions {
        &mut *self.transport
    }
}
