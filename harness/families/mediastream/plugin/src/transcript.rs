//! The transcript of a media-stream run: every datagram as the IUT saw it, decoded, with the IUT's
//! events and the step markers; runs of DATA in one direction fold into one line.

use std::net::SocketAddr;

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
    let epoch = handshake_capture::trace::DEFAULT_EPOCH_NS;
    let mut lines: Vec<(u64, u8, String)> = Vec::new();
    if let Ok(reader) = handshake_capture::open(capture) {
        for udp in reader.flatten() {
            let t = udp.timestamp_ns.saturating_sub(epoch);
            let arrow = if udp.src == iut { "IUT ->" } else { "IUT <-" };
            let text = match Datagram::parse(&udp.payload, Mode::LegacyAccepting) {
                Ok(d) => d.to_string(),
                Err(e) => format!("MALFORMED ({} bytes): {e}", udp.payload.len()),
            };
            let comment = udp.comment.map(|c| format!("  [{c}]")).unwrap_or_default();
            lines.push((t, 0, format!("{arrow} {text}{comment}")));
        }
    }
    for e in events.iter().filter(|e| e.endpoint == iut) {
        if !matches!(e.event, Event::Ended { .. }) {
            lines.push((e.at.as_nanos(), 1, format!("IUT event: {}", e.event)));
        }
    }
    for (at, text) in markers {
        lines.push((at.as_nanos(), 2, text.clone()));
    }
    lines.sort_by_key(|(t, order, _)| (*t, *order));
    fold_data(lines)
}

fn fold_data(lines: Vec<(u64, u8, String)>) -> Vec<TranscriptLine> {
    let mut out: Vec<TranscriptLine> = Vec::new();
    let mut run: Option<(u64, u64, String, u64, u64, usize)> = None; // (t0, t1, arrow, first seq, last seq, count)
    let flush = |run: &mut Option<(u64, u64, String, u64, u64, usize)>,
                 out: &mut Vec<TranscriptLine>| {
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
    for (t, _, text) in lines {
        let data = text
            .split_once(" DATA seq=")
            .filter(|(_, rest)| !rest.contains('['));
        if let Some((arrow, rest)) = data {
            let seq: u64 = rest
                .split_whitespace()
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            match &mut run {
                Some((_, t1, a, _, last, n))
                    if a == arrow && (seq == *last || seq == *last + 1) =>
                {
                    *t1 = t;
                    *last = seq;
                    *n += 1;
                    continue;
                }
                _ => {
                    flush(&mut run, &mut out);
                    run = Some((t, t, arrow.to_owned(), seq, seq, 1));
                    continue;
                }
            }
        }
        flush(&mut run, &mut out);
        out.push(TranscriptLine {
            at_ms: t as f64 / 1e6,
            text,
        });
    }
    flush(&mut run, &mut out);
    out
}
