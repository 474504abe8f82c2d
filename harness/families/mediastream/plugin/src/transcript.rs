//! The transcript of a media-stream run: every datagram as the IUT saw it, decoded, with the IUT's
//! events and the step markers; runs of DATA in one direction fold into one line.

use std::fmt::Write;
use std::net::SocketAddr;

use handshake_capture::UdpDatagram;
use handshake_core::Instant;
use handshake_mediastream_endpoint::Event;
use handshake_mediastream_wire::{Datagram, Mode};
use handshake_scenario::outcome::TranscriptLine;

/// The transcript: the capture (as the IUT saw it) decoded, with the IUT's events and the step
/// markers, in time order; runs of DATA in one direction are folded into one line.
pub fn transcript(
    capture: &[u8],
    events: &[handshake_net::SimEvent<Event>],
    iut: SocketAddr,
    markers: &[(Instant, String)],
) -> Vec<TranscriptLine> {
    let datagrams: Vec<UdpDatagram<'_>> = handshake_capture::open(capture)
        .map(|reader| reader.flatten().collect())
        .unwrap_or_default();
    transcript_of(&datagrams, events, iut, markers, Lines::All)
}

/// Which lines a transcript keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Every line.
    All,
    /// Only what the IUT sent and its events, as [`Lines::All`] shows them (runs of DATA fold as
    /// they would there): all a fuzz search reads of a transcript, and half the cost of one is
    /// formatting what the harness sent.
    OfTheIut,
}

/// [`transcript`] of the datagrams a capture holds.
pub fn transcript_of(
    datagrams: &[UdpDatagram<'_>],
    events: &[handshake_net::SimEvent<Event>],
    iut: SocketAddr,
    markers: &[(Instant, String)],
    keep: Lines,
) -> Vec<TranscriptLine> {
    let epoch = handshake_capture::trace::DEFAULT_EPOCH_NS;
    let mut lines: Vec<(u64, u8, Line)> =
        Vec::with_capacity(datagrams.len() + events.len() + markers.len());
    for udp in datagrams {
        let t = udp.timestamp_ns.saturating_sub(epoch);
        let arrow = if udp.src == iut { "IUT ->" } else { "IUT <-" };
        if keep == Lines::OfTheIut && udp.src != iut {
            lines.push((t, 0, Line::Gap));
            continue;
        }
        let parsed = Datagram::parse(&udp.payload, Mode::LegacyAccepting);
        // A DATA datagram without a comment is only ever shown by its sequence number (in a
        // folded run or alone): not formatted at all (most of a run's datagrams).
        if let (Ok(Datagram::Data(d)), None) = (&parsed, &udp.comment) {
            lines.push((t, 0, Line::Data { arrow, seq: d.seq }));
            continue;
        }
        // One string written in place (a transcript formats most of a fuzz run's datagrams).
        let mut text = String::with_capacity(96);
        text.push_str(arrow);
        text.push(' ');
        let _ = match parsed {
            Ok(d) => write!(text, "{d}"),
            Err(e) => write!(text, "MALFORMED ({} bytes): {e}", udp.payload.len()),
        };
        if let Some(c) = &udp.comment {
            let _ = write!(text, "  [{c}]");
        }
        lines.push((t, 0, Line::Text(text)));
    }
    // Each peer's address written once.
    let mut peers: Vec<(SocketAddr, String)> = Vec::new();
    for e in events.iter().filter(|e| e.endpoint == iut) {
        if !matches!(e.event, Event::Ended { .. }) {
            let peer = e.event.peer();
            let at = match peers.iter().position(|(p, _)| *p == peer) {
                Some(at) => at,
                None => {
                    peers.push((peer, peer.to_string()));
                    peers.len() - 1
                }
            };
            let mut text = String::with_capacity(64);
            text.push_str("IUT event: ");
            let _ = e.event.write_with_peer(&mut text, &peers[at].1);
            lines.push((e.at.as_nanos(), 1, Line::Text(text)));
        }
    }
    for (at, text) in markers {
        let line = match keep {
            Lines::All => Line::Text(text.clone()),
            Lines::OfTheIut => Line::Gap,
        };
        lines.push((at.as_nanos(), 2, line));
    }
    lines.sort_by_key(|(t, order, _)| (*t, *order));
    fold_data(lines)
}

/// A transcript line before DATA runs are folded.
enum Line {
    /// A DATA datagram (no comment on it) in one direction.
    Data {
        arrow: &'static str,
        seq: u64,
    },
    Text(String),
    /// A line [`Lines::OfTheIut`] leaves out: it only ends a run of DATA.
    Gap,
}

fn fold_data(lines: Vec<(u64, u8, Line)>) -> Vec<TranscriptLine> {
    // (t0, t1, arrow, first seq, last seq, count)
    type Run = (u64, u64, &'static str, u64, u64, usize);
    let mut out: Vec<TranscriptLine> = Vec::new();
    let mut run: Option<Run> = None;
    let flush = |run: &mut Option<Run>, out: &mut Vec<TranscriptLine>| {
        if let Some((t0, t1, arrow, a, b, n)) = run.take() {
            let text = if n == 1 {
                format!("{arrow} DATA seq={a}")
            } else {
                format!(
                    "{arrow} DATA seq {a}..{b} ({n} datagrams, until {:.3} ms)",
                    t1 as f64 / 1e6
                )
            };
            out.push(TranscriptLine {
                at_ms: t0 as f64 / 1e6,
                text,
            });
        }
    };
    for (t, _, line) in lines {
        match line {
            Line::Data { arrow, seq } => match &mut run {
                Some((_, t1, a, _, last, n))
                    if *a == arrow && (seq == *last || seq == *last + 1) =>
                {
                    *t1 = t;
                    *last = seq;
                    *n += 1;
                }
                _ => {
                    flush(&mut run, &mut out);
                    run = Some((t, t, arrow, seq, seq, 1));
                }
            },
            Line::Text(text) => {
                flush(&mut run, &mut out);
                out.push(TranscriptLine {
                    at_ms: t as f64 / 1e6,
                    text,
                });
            }
            Line::Gap => flush(&mut run, &mut out),
        }
    }
    flush(&mut run, &mut out);
    out
}
