//! A virtual link's trace written as the capture one endpoint would have made.
//!
//! [`write_trace`] takes the [`LinkEvent`] trace of a
//! [`VirtualLink`](handshake_net::VirtualLink) and a *viewpoint* (one endpoint's address) and
//! writes what a packet capture on that endpoint's host would show, plus the packets the
//! harness kept from it, clearly marked:
//!
//! | packet | when | bytes | [`PacketRole`] |
//! |---|---|---|---|
//! | every datagram the viewpoint sent ([`LinkEvent::Sent`] from it, not injected) | send time | as sent | [`Sent`](PacketRole::Sent) |
//! | every datagram delivered to it ([`LinkEvent::Delivered`] to it), copies and injected ones included | delivery time | as delivered | [`Received`](PacketRole::Received) |
//! | every datagram towards it that the link dropped ([`LinkEvent::Sent`] to it with `dropped` set) | send time | as sent | [`NotDelivered`](PacketRole::NotDelivered) |
//! | every datagram towards it found undeliverable ([`LinkEvent::Undeliverable`] to it) | due time | as it would have been delivered | [`NotDelivered`](PacketRole::NotDelivered) |
//!
//! Comments ([`comment_for`], the one place their text is put together) say what the harness
//! did, in the words of [`LinkEvent::comment`]: e.g. `dropped by harness: rule 2`,
//! `harness: rule 3 delayed 20 ms; rule 4 truncated 67 -> 30 bytes`,
//! `injected by harness; harness: rule 1 copy of #5`. The comment of a packet the endpoint
//! never saw starts with exactly [`NOT_DELIVERED`] (`"not delivered: "`): a checker that skips
//! those packets sees only traffic the endpoint really sent or received. The optional
//! [`TraceOptions::annotate`] text (e.g. `step 3`) is appended after `"; "`.
//!
//! Packets are written in time order, ties in trace order. Times are
//! [`TraceOptions::epoch_ns`] plus the virtual time. The output is a function of the trace, the
//! viewpoint and the options only: the same inputs give byte-identical files.
//!
//! Classic pcap output ([`CaptureFormat::Pcap`](crate::CaptureFormat::Pcap)) has no comments:
//! everything above is lost, including the `not delivered: ` marks, so such a file mixes
//! dropped packets with real traffic. Use pcapng (the writer's default) for traces.
//!
//! A datagram sent by the viewpoint to itself is written once as [`PacketRole::Sent`] (and once
//! more as [`PacketRole::Received`] when delivered); if dropped, only the sent packet is written
//! (its comment says it was dropped). Datagrams injected with the viewpoint as source are not
//! written as sent: the endpoint did not send them.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;

use handshake_core::Instant;
use handshake_net::FaultEffect;
use handshake_net::{DatagramId, IdTable, LinkEvent};

use crate::{CaptureError, CaptureWriter, UdpDatagram};

/// Default [`TraceOptions::epoch_ns`]: 2026-01-01T00:00:00Z in nanoseconds since the Unix epoch.
pub const DEFAULT_EPOCH_NS: u64 = handshake_core::EPOCH_NS;

/// How the comment of a packet the viewpoint never saw starts.
pub const NOT_DELIVERED: &str = "not delivered: ";

/// Prefix of the comment on a received packet the harness changed (truncated, corrupted, delayed,
/// held back, or a copy it made): its bytes or its place are not the sender's.
pub const RECEIVED_CHANGED: &str = "received as changed by harness: ";

/// Prefix of the comment on a sent packet whose bytes the harness then changed on the way (truncated or
/// corrupted): what the receiver got differs from what the capture shows.
pub const ALTERED_IN_TRANSIT: &str = "altered in transit by harness: ";

fn alters_bytes(effect: &FaultEffect) -> bool {
    matches!(
        effect,
        FaultEffect::Truncated { .. }
            | FaultEffect::Corrupted { .. }
            | FaultEffect::CorruptedRandom { .. }
    )
}

/// Marks an injected datagram, as [`LinkEvent::comment`] does for [`LinkEvent::Sent`].
const INJECTED: &str = "injected by harness";

/// Annotation callback: extra comment text for a datagram, e.g. `step 3`.
pub type Annotate<'a> = &'a dyn Fn(DatagramId) -> Option<&'a str>;

/// Options of [`write_trace`].
#[derive(Clone, Copy)]
pub struct TraceOptions<'a> {
    /// Added to every virtual time (nanoseconds since the Unix epoch); default
    /// [`DEFAULT_EPOCH_NS`] (2026-01-01T00:00:00Z). Saturates.
    pub epoch_ns: u64,
    /// Extra comment text per datagram (for example the scenario step that was running),
    /// appended to the harness's comment after `"; "`. Called with the id of the datagram the
    /// packet is (a copy's own id for a copy), once per written packet, in trace order.
    pub annotate: Option<Annotate<'a>>,
    /// Where a datagram the link dropped on its way to the viewpoint is placed: its send time plus
    /// this (the link's latency), so it sits where it would have arrived, in order with what did.
    pub not_delivered_delay_ns: u64,
    /// Other addresses that are the viewpoint too (an implementation under test that opens each
    /// of its connections from a socket of its own); `None`: only `viewpoint`.
    pub viewpoint_also: Option<&'a dyn Fn(SocketAddr) -> bool>,
}

impl Default for TraceOptions<'_> {
    fn default() -> Self {
        TraceOptions {
            epoch_ns: DEFAULT_EPOCH_NS,
            annotate: None,
            not_delivered_delay_ns: 0,
            viewpoint_also: None,
        }
    }
}

impl fmt::Debug for TraceOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceOptions")
            .field("epoch_ns", &self.epoch_ns)
            .field("annotate", &self.annotate.map(|_| "Fn(DatagramId)"))
            .finish()
    }
}

/// What a written packet is, from the viewpoint's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketRole {
    /// The viewpoint sent it: send time, bytes as sent.
    Sent,
    /// The viewpoint received it: delivery time, bytes as delivered.
    Received,
    /// It was on its way to the viewpoint and never arrived (dropped by the link, or nothing was
    /// at the viewpoint when it was due). Its comment starts with [`NOT_DELIVERED`].
    NotDelivered,
}

/// One packet of the capture [`write_trace`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracePacket<'t> {
    /// The datagram (for a copy, the copy's own id).
    pub id: DatagramId,
    /// Sent, received or not delivered.
    pub role: PacketRole,
    /// Virtual time of the packet (before [`TraceOptions::epoch_ns`] is added).
    pub at: Instant,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// The UDP payload written.
    pub payload: &'t [u8],
    /// The packet comment ([`comment_for`]).
    pub comment: Option<String>,
}

/// How many packets of each role [`write_trace`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TraceStats {
    /// [`PacketRole::Sent`] packets.
    pub sent: u64,
    /// [`PacketRole::Received`] packets.
    pub received: u64,
    /// [`PacketRole::NotDelivered`] packets.
    pub not_delivered: u64,
}

impl TraceStats {
    /// All packets written.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.sent + self.received + self.not_delivered
    }
}

/// The comment of the packet `event` becomes in the role `role`; the one place capture comments
/// of traces are put together.
///
/// It is, joined by `"; "`: the harness's part ([`LinkEvent::comment`]), `injected by harness`
/// for an injected datagram (`injected`: for [`LinkEvent::Sent`] the event's own flag is used;
/// for deliveries, whether the datagram — or the original of a copy — was injected), then
/// `annotation`. For [`PacketRole::NotDelivered`] the whole is prefixed with [`NOT_DELIVERED`]
/// (and is never `None`). `None` when there is nothing to say.
#[must_use]
pub fn comment_for(
    event: &LinkEvent,
    role: PacketRole,
    injected: bool,
    annotation: Option<&str>,
) -> Option<String> {
    // Joined by "; " as they come (no part is empty).
    fn add(text: &mut String, part: &str) {
        if text.is_empty() {
            // Most comments are a part or two, both short: one allocation.
            text.reserve(64);
        } else {
            text.push_str("; ");
        }
        text.push_str(part);
    }
    let mut text = String::new();
    match event {
        // The link's own text already says "injected by harness" for a Sent event.
        LinkEvent::Sent { applied, .. }
            if role == PacketRole::Sent && applied.iter().any(|a| alters_bytes(&a.effect)) =>
        {
            // The receiver got other bytes than these: say so in a form a checker can recognise.
            if let Some(c) = event.comment() {
                match c.strip_prefix("harness: ") {
                    Some(rest) => {
                        add(&mut text, ALTERED_IN_TRANSIT);
                        text.push_str(rest);
                    }
                    None => add(&mut text, &c),
                }
            }
        }
        LinkEvent::Sent { .. } | LinkEvent::Dropped { .. } | LinkEvent::Duplicated { .. } => {
            if let Some(c) = event.comment() {
                add(&mut text, &c);
            }
        }
        LinkEvent::Delivered { applied, .. } => {
            if injected {
                add(&mut text, INJECTED);
            }
            // When what arrived differs from what was sent (bytes, timing, or a copy), say so in a
            // form a checker can tell from the sender-side note of the same faults.
            let changed = applied.iter().any(|a| {
                alters_bytes(&a.effect)
                    || matches!(
                        a.effect,
                        FaultEffect::Delayed { .. }
                            | FaultEffect::Held { .. }
                            | FaultEffect::Released { .. }
                            | FaultEffect::CopyOf { .. }
                    )
            });
            if let Some(c) = event.comment() {
                match c.strip_prefix("harness: ") {
                    Some(rest) if changed => {
                        add(&mut text, RECEIVED_CHANGED);
                        text.push_str(rest);
                    }
                    _ => add(&mut text, &c),
                }
            }
        }
        LinkEvent::Undeliverable { .. } | LinkEvent::InFlightAtEnd { .. } => {
            if let Some(c) = event.comment() {
                add(&mut text, &c);
            }
            if injected {
                add(&mut text, INJECTED);
            }
        }
    }
    if let Some(a) = annotation.filter(|a| !a.is_empty()) {
        add(&mut text, a);
    }
    match role {
        PacketRole::NotDelivered => Some(format!("{NOT_DELIVERED}{text}")),
        PacketRole::Sent | PacketRole::Received => (!text.is_empty()).then_some(text),
    }
}

/// The packets of the capture of `trace` as `viewpoint` saw it, in output order (time, then
/// trace order), with their comments. [`write_trace`] writes exactly these; see the
/// [module docs](self) for which packets they are.
#[must_use]
pub fn trace_packets<'t>(
    trace: &'t [LinkEvent],
    viewpoint: SocketAddr,
    options: &TraceOptions<'_>,
) -> Vec<TracePacket<'t>> {
    let (annotate, not_delivered_delay_ns) = (options.annotate, options.not_delivered_delay_ns);
    // Whether each datagram entered the link injected; a copy inherits its original's flag.
    let mut injected: IdTable<bool> = IdTable::default();
    for event in trace {
        match event {
            LinkEvent::Sent {
                id, injected: i, ..
            } => injected.insert(*id, *i),
            LinkEvent::Duplicated { id, copy_of, .. } => {
                let original = injected.get(*copy_of).copied().unwrap_or(false);
                injected.insert(*id, original);
            }
            _ => {}
        }
    }
    let injected_of = |id: &DatagramId| injected.get(*id).copied().unwrap_or(false);
    let also = options.viewpoint_also;
    let is_viewpoint = |a: &SocketAddr| *a == viewpoint || also.is_some_and(|f| f(*a));

    let mut packets: Vec<TracePacket<'t>> = Vec::with_capacity(trace.len());
    for event in trace {
        let chosen = match event {
            LinkEvent::Sent {
                id,
                at,
                from,
                to,
                injected,
                payload,
                dropped,
                ..
            } => {
                let role = if is_viewpoint(from) && !injected {
                    Some(PacketRole::Sent)
                } else if is_viewpoint(to) && dropped.is_some() {
                    Some(PacketRole::NotDelivered)
                } else {
                    None
                };
                let at = match role {
                    Some(PacketRole::NotDelivered) => {
                        *at + std::time::Duration::from_nanos(not_delivered_delay_ns)
                    }
                    _ => *at,
                };
                role.map(|role| (role, *id, at, *from, *to, payload, *injected))
            }
            LinkEvent::Delivered {
                id,
                at,
                from,
                to,
                payload,
                ..
            } if is_viewpoint(to) => Some((
                PacketRole::Received,
                *id,
                *at,
                *from,
                *to,
                payload,
                injected_of(id),
            )),
            LinkEvent::Undeliverable {
                id,
                at,
                from,
                to,
                payload,
                ..
            }
            | LinkEvent::InFlightAtEnd {
                id,
                at,
                from,
                to,
                payload,
                ..
            } if is_viewpoint(to) => Some((
                PacketRole::NotDelivered,
                *id,
                *at,
                *from,
                *to,
                payload,
                injected_of(id),
            )),
            _ => None,
        };
        let Some((role, id, at, src, dst, payload, injected)) = chosen else {
            continue;
        };
        let annotation = annotate.and_then(|f| f(id));
        packets.push(TracePacket {
            id,
            role,
            at,
            src,
            dst,
            payload,
            comment: comment_for(event, role, injected, annotation),
        });
    }
    place_not_delivered(trace, &mut packets);
    // Ties in time go in send order (datagram ids are given at send), so a datagram placed at its
    // would-be arrival time stays behind what was sent before it.
    packets.sort_by_key(|p| (p.at, p.id));
    packets
}

/// A datagram the link dropped arrives nowhere; it is shown when it would have arrived. In real
/// time the harness delivers late under load (a burst is delivered milliseconds after it was
/// sent), so "sent + latency" could put it before datagrams sent earlier on its path. It gets the
/// lag of the last datagram before it on the same path that the link carried untouched.
fn place_not_delivered(trace: &[LinkEvent], packets: &mut [TracePacket<'_>]) {
    // Send time, whether any rule touched it, and whether the link dropped it, per datagram.
    let mut sent: IdTable<(Instant, bool, bool)> = IdTable::default();
    for event in trace {
        if let LinkEvent::Sent {
            id,
            at,
            applied,
            dropped,
            ..
        } = event
        {
            sent.insert(*id, (*at, applied.is_empty(), dropped.is_some()));
        }
    }
    let mut order: Vec<usize> = (0..packets.len()).collect();
    order.sort_by_key(|&i| packets[i].id);
    // Per path (a run has a handful: a list).
    let mut lag: Vec<((SocketAddr, SocketAddr), std::time::Duration)> = Vec::new();
    for i in order {
        let p = &mut packets[i];
        let Some(&(sent_at, untouched, dropped)) = sent.get(p.id) else {
            continue;
        };
        let path = (p.src, p.dst);
        match p.role {
            PacketRole::Received if untouched => {
                let l = p.at.saturating_duration_since(sent_at);
                match lag.iter_mut().find(|(q, _)| *q == path) {
                    Some((_, known)) => *known = l,
                    None => lag.push((path, l)),
                }
            }
            // Undeliverable and in-flight datagrams keep their own (real) times.
            PacketRole::NotDelivered if dropped => {
                if let Some((_, l)) = lag.iter().find(|(q, _)| *q == path) {
                    p.at = p.at.max(sent_at + *l);
                }
            }
            _ => {}
        }
    }
}

/// The datagrams of the capture [`write_trace`] would write, as a reader of it yields them
/// (numbered from 1, times with [`TraceOptions::epoch_ns`], the same comments), without the
/// capture: for a judge of a run that needs no capture written.
#[must_use]
pub fn trace_datagrams<'t>(
    trace: &'t [LinkEvent],
    viewpoint: SocketAddr,
    options: &TraceOptions<'_>,
) -> Vec<UdpDatagram<'t>> {
    trace_packets(trace, viewpoint, options)
        .into_iter()
        .zip(1..)
        .map(|(p, packet_number)| UdpDatagram {
            packet_number,
            timestamp_ns: options.epoch_ns.saturating_add(p.at.as_nanos()),
            src: p.src,
            dst: p.dst,
            payload: Cow::Borrowed(p.payload),
            comment: p.comment.map(Cow::Owned),
        })
        .collect()
}

/// Writes `trace` as the capture `viewpoint` would have made (see the [module docs](self)) to
/// `writer`, and returns how many packets of each kind it wrote. The writer is not finished:
/// the caller finishes it (also after an error, to keep what was written).
///
/// # Errors
///
/// What [`CaptureWriter::write_datagram`] returns: [`CaptureError::InvalidDatagram`] for a
/// datagram no real capture could hold (mixed address families, a payload over 65,507 bytes
/// over IPv4 / 65,527 over IPv6, a timestamp past 2106 in classic pcap, a comment over
/// 65,535 bytes), [`CaptureError::Io`] when the writer fails. Writing stops at the first
/// error; the packets before it are written.
pub fn write_trace<W: Write>(
    trace: &[LinkEvent],
    viewpoint: SocketAddr,
    options: &TraceOptions<'_>,
    writer: &mut CaptureWriter<W>,
) -> Result<TraceStats, CaptureError> {
    let mut stats = TraceStats::default();
    for packet in trace_packets(trace, viewpoint, options) {
        writer.write_datagram(
            options.epoch_ns.saturating_add(packet.at.as_nanos()),
            packet.src,
            packet.dst,
            packet.payload,
            packet.comment.as_deref(),
        )?;
        match packet.role {
            PacketRole::Sent => stats.sent += 1,
            PacketRole::Received => stats.received += 1,
            PacketRole::NotDelivered => stats.not_delivered += 1,
        }
    }
    Ok(stats)
}
