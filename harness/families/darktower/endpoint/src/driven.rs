//! What every Dark Tower endpoint is: a transport ([`Sessions`]) and the application state
//! machine on it ([`App`]), driven the same way — input to the transport, session events to the
//! application, the transport driven until nothing new happens.

use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_quic::session::{SessionEvent, Sessions};

use crate::{earliest, pump, Clock, DarkTowerEvent};

/// An endpoint's application: it reacts to session events and its own timer.
pub trait App: std::fmt::Debug {
    /// One session event.
    fn on(&mut self, now: Instant, t: &mut dyn Sessions, event: SessionEvent);
    /// Its own timer fired (or something else did: it checks what is due).
    fn on_timer(&mut self, _t: &mut dyn Sessions, _now: Instant) {}
    /// When its own timer is next due.
    fn timer(&self) -> Option<Instant> {
        None
    }
    /// The next event it reports.
    fn poll_event(&mut self) -> Option<DarkTowerEvent>;
    /// Its Unix time.
    fn set_clock(&mut self, clock: Clock);
}

/// An application on its transport.
#[derive(Debug)]
pub struct Driven<A> {
    transport: Box<dyn Sessions>,
    app: A,
}

impl<A: App> Driven<A> {
    pub(crate) fn with(transport: Box<dyn Sessions>, app: A) -> Driven<A> {
        Driven { transport, app }
    }

    /// Takes one UDP datagram.
    pub fn handle_datagram(&mut self, now: Instant, source: SocketAddr, payload: &[u8]) {
        self.transport.handle_datagram(now, source, payload);
        self.step(now);
    }

    /// Fires what is due (the transport's timers and the application's).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.transport.handle_timeout(now);
        self.app.on_timer(&mut *self.transport, now);
        self.step(now);
    }

    pub(crate) fn step(&mut self, now: Instant) {
        let app = &mut self.app;
        pump(&mut *self.transport, now, |t, e| app.on(now, t, e));
    }

    /// The next UDP datagram to send.
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.transport.poll_transmit()
    }

    /// When to call [`Driven::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.transport.poll_timeout(), self.app.timer())
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DarkTowerEvent> {
        self.app.poll_event()
    }

    /// TLS secrets.
    pub fn key_log(&self) -> String {
        self.transport.key_log()
    }

    /// New connections its host dropped unanswered.
    pub fn turned_away(&self) -> u64 {
        self.transport.turned_away()
    }

    /// See [`handshake_quic::QuicHost::idle_notice_lateness`].
    pub fn idle_notice_lateness(&self) -> std::time::Duration {
        self.transport.idle_notice_lateness()
    }

    /// The transport (to present another certificate, to make a session vanish).
    pub fn transport_mut(&mut self) -> &mut dyn Sessions {
        &mut *self.transport
    }

    /// Switches its Unix time (real-time runs).
    pub fn set_clock(&mut self, clock: Clock) {
        self.app.set_clock(clock);
    }

    pub(crate) fn app(&self) -> &A {
        &self.app
    }

    /// Acts on the application and its transport at `now`, then drives them.
    pub(crate) fn act<R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut A, &mut dyn Sessions) -> R,
    ) -> R {
        let r = f(&mut self.app, &mut *self.transport);
        self.step(now);
        r
    }
}
