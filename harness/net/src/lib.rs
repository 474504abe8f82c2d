//! Drivers (layer 3): run sans-I/O [`Endpoint`](handshake_core::Endpoint)s against each
//! other. This crate knows no protocol: what a datagram *is* reaches it only through a
//! caller-supplied [`Classifier`].
//!
//! - [`fault`]: fault injection rules as plain (serde) data — drop, duplicate, delay, reorder,
//!   truncate, corrupt — selected by source, destination, kind, position and probability.
//! - [`link`]: [`VirtualLink`], which carries datagrams with a fixed latency and an optional MTU,
//!   applies the rules, and records a [`LinkEvent`] trace fit for both sides of a capture.
//! - [`udp`]: one endpoint over a real tokio UDP socket in real time, bounded by a deadline.
//! - [`sim`]: [`Simulation`], a quinn-proto-`Pair`-style driver for any number of endpoints over
//!   a virtual link in virtual time.
//! - [`realtime`]: [`RealTimeLink`](realtime::RealTimeLink), the same link driven by the real clock
//!   between a process under test and the harness's sockets.
//! - [`process`]: a process under test in a process group of its own, its output kept and its exit
//!   watched; [`interrupt`]: Ctrl-C during runs.
//!
//! ```
//! use handshake_net::{FaultAction, FaultRule, LinkConfig, Predicate, VirtualLink};
//! use handshake_core::Instant;
//!
//! let (a, b) = ("10.0.0.1:4000".parse().unwrap(), "10.0.0.2:5000".parse().unwrap());
//! let mut link = VirtualLink::new(LinkConfig::with_seed(7))
//!     .with_rules([FaultRule::new(2, Predicate::any().to(b), FaultAction::Drop)])
//!     .unwrap();
//! link.send(Instant::ZERO, a, b, b"hello".to_vec(), false);
//! assert_eq!(link.pop_due(Instant::from_millis(1), |_| true), None);
//! assert_eq!(link.trace()[1].comment().as_deref(), Some("dropped by harness: rule 2"));
//! ```
//!
//! # Step order
//!
//! [`Simulation::step`] does one unit of work:
//!
//! 1. every endpoint's `poll_transmit` is drained into the link, endpoint by endpoint in
//!    insertion order, at the current time; then every endpoint's `poll_event`, in the same
//!    order, each event stamped with the current time and the endpoint's address;
//! 2. the clock jumps to the earliest of the next delivery and the endpoints' `poll_timeout`
//!    (never backwards: a timer in the past means now); with neither, the step does nothing;
//! 3. the work due at that instant is done: first every datagram due, in (delivery time,
//!    insertion sequence) order, each to `handle_datagram` of the endpoint at its destination
//!    (or recorded as undeliverable); then `handle_timeout` of every endpoint whose timer is due,
//!    in insertion order.
//!
//! What step 3 makes the endpoints produce is collected by step 1 of the next step (or by
//! [`Simulation::drain_endpoints`]), still at the same virtual time.
//! [`Simulation::run`] repeats steps until the endpoints are finished, nothing is left to do, a
//! virtual-time limit or a step limit; the [`RunOutcome`] says which.
//!
//! # Determinism contract
//!
//! A run is a function of: the [`LinkConfig`] (seed included), the rules and the order they were
//! added, the classifier, the endpoints (their own seeds and behaviour) and the order they were
//! added, and the calls made on the simulation. The same inputs give the same trace and the same
//! events, byte for byte, on any machine: nothing here reads a clock, an ambient RNG or iterates a
//! hash map; ties are broken by insertion order. Each rule's random draws depend only on the link
//! seed, the rule id and the traffic, so adding a rule never changes another rule's decisions on
//! the same traffic (though the endpoints' reaction to it may change the traffic).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod budget;
pub mod fault;
pub mod interrupt;
pub mod link;
pub mod process;
pub mod realtime;
pub mod sim;
pub mod udp;

#[cfg(test)]
mod tests;

pub use fault::{
    AppliedFault, Classifier, DatagramId, FaultAction, FaultEffect, FaultRule, IdTable, Nth,
    Predicate, Unclassified, MAX_COPIES,
};
pub use link::{Delivery, DropReason, LinkConfig, LinkError, LinkEvent, VirtualLink};
pub use sim::{
    RunLimits, RunOutcome, SimError, SimEvent, Simulation, Until, DEFAULT_MAX_STEPS,
    MAX_POLLS_PER_DRAIN,
};
