//! Ladder (sequence) diagrams drawn from a capture: one lifeline per endpoint, one arrow per datagram
//! in capture order, with the kind and its key fields; what the harness did to a datagram is styled
//! (dropped: dashed red, ending in a cross; changed, delayed or copied: orange); runs of DATA in one
//! direction are folded into one arrow; times on the left.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;

use handshake_check::Mark;
use handshake_scenario::DatagramLabel;

use super::esc;

/// What to draw besides the capture.
#[derive(Debug, Clone, Default)]
pub struct LadderOptions {
    /// Names of endpoints by address (e.g. `IUT`, `responder ref:3way`); others are named by
    /// role and address.
    pub names: BTreeMap<SocketAddr, String>,
    /// The implementation under test, when known: named `IUT` unless `names` says otherwise.
    pub iut: Option<SocketAddr>,
    /// Names of the initiator's and the responder's lifelines when `names` has no entry for them
    /// (e.g. the profiles of an interop cell).
    pub role_names: Option<(String, String)>,
    /// Checker violations by packet number (rule ids), marked beside their arrows.
    pub violations: BTreeMap<u64, Vec<String>>,
    /// Most rows drawn (default [`MAX_ROWS`] when 0).
    pub max_rows: usize,
    /// How the family shows a datagram (default: its length).
    pub describe: Option<fn(&[u8]) -> DatagramLabel>,
}

/// Rows drawn at most, by default (after folding); the rest is summarised in one line.
pub const MAX_ROWS: usize = 300;
/// Most lifelines; datagrams between further endpoints are summarised.
const MAX_LIFELINES: usize = 5;

const WIDTH: u32 = 980;
const TIME_W: u32 = 78;
const LEFT: u32 = 200;
const RIGHT: u32 = 820;
const HEAD: u32 = 58;
const ROW: u32 = 26;
/// Where the violation marks start, right of the last lifeline.
const VMARK_X: u32 = RIGHT + 14;
/// Monospace 11 px: about this many pixels per character.
const CHAR_PX: f64 = 6.7;

/// One datagram read from the capture.
#[derive(Debug, Clone)]
struct Item {
    number: u64,
    time_ns: u64,
    src: SocketAddr,
    dst: SocketAddr,
    opens: bool,
    run: Option<u64>,
    label: String,
    full: String,
    comment: Option<String>,
    mark: Mark,
}

/// One arrow: a datagram, or a folded run of DATA.
#[derive(Debug, Clone)]
struct Row {
    first: Item,
    /// Folded run: (last item's time, first seq, last seq, datagrams).
    run: Option<(u64, u64, u64, usize)>,
}

/// Reads the capture; `Err` when it is not one. A damaged capture yields what came before the
/// damage, and the damage's description.
fn read(
    capture: &[u8],
    describe: fn(&[u8]) -> DatagramLabel,
) -> Result<(Vec<Item>, Option<String>), String> {
    let reader = handshake_capture::open(capture).map_err(|e| e.to_string())?;
    let mut items = Vec::new();
    let mut damage = None;
    for entry in reader {
        match entry {
            Ok(udp) => {
                let d = describe(&udp.payload);
                let comment = udp.comment.as_deref().map(str::to_owned);
                items.push(Item {
                    number: udp.packet_number,
                    time_ns: udp.timestamp_ns,
                    src: udp.src,
                    dst: udp.dst,
                    opens: d.opens,
                    run: d.run,
                    label: d.short,
                    full: d.full,
                    mark: Mark::from_comment(comment.as_deref()),
                    comment,
                });
            }
            Err(e) => {
                damage = Some(e.to_string());
                break;
            }
        }
    }
    Ok((items, damage))
}

/// The time origin: the harness's virtual epoch when the capture uses it (so times match the
/// transcript), else the first packet.
fn origin(items: &[Item]) -> u64 {
    origin_for_first(items.first().map_or(0, |i| i.time_ns))
}

/// The time origin of a capture whose first packet was captured at `first` ns.
fn origin_for_first(first: u64) -> u64 {
    let epoch = handshake_capture::trace::DEFAULT_EPOCH_NS;
    if first >= epoch && first - epoch < 86_400_000_000_000 {
        epoch
    } else {
        first
    }
}

/// The time origin of the ladder of `capture` (ns, the capture's clock), when it holds a packet:
/// times measured from it match the ladder's time column.
pub fn time_origin_ns(capture: &[u8]) -> Option<u64> {
    let first = handshake_capture::open(capture).ok()?.flatten().next()?;
    Some(origin_for_first(first.timestamp_ns))
}

fn fold(items: Vec<Item>, violations: &BTreeMap<u64, Vec<String>>) -> Vec<Row> {
    // Datagrams fold into one arrow when they are DATA in the same direction, with consecutive (or
    // equal: fragments) sequence numbers, untouched by the harness (or all injected by the same
    // step) and without violations.
    let foldable = |i: &Item| {
        i.run.is_some()
            && matches!(harness_mark(i), None | Some(HarnessMark::Injected))
            && !violations.contains_key(&i.number)
    };
    let same_run = |a: &Item, b: &Item| {
        a.src == b.src
            && a.dst == b.dst
            && harness_mark(a) == harness_mark(b)
            && step_of(a) == step_of(b)
    };
    let mut rows: Vec<Row> = Vec::new();
    for item in items {
        if let (Some(last), Some(seq)) = (rows.last_mut(), item.run) {
            if foldable(&item) && foldable(&last.first) && same_run(&last.first, &item) {
                let (first_seq, last_seq) = match (last.run, last.first.run) {
                    (Some((_, a, b, _)), _) => (a, b),
                    (None, Some(s)) => (s, s),
                    (None, None) => (0, u64::MAX),
                };
                if seq == last_seq || seq == last_seq.wrapping_add(1) {
                    let n = last.run.map_or(1, |r| r.3);
                    last.run = Some((item.time_ns, first_seq, seq, n + 1));
                    continue;
                }
            }
        }
        rows.push(Row {
            first: item,
            run: None,
        });
    }
    rows
}

/// What the harness did to a datagram, from its capture comment: the receiver-side marks the
/// checker reads (`not delivered: …`, `received as changed by harness: …`) and the sender-side
/// notes (`dropped by harness: …`, `harness: rule 2 delayed …`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HarnessMark {
    Dropped,
    Copy,
    Changed,
    Injected,
}

fn harness_mark(it: &Item) -> Option<HarnessMark> {
    let c = it.comment.as_deref()?;
    if it.mark.undelivered || c.contains("dropped by harness") || c.starts_with("undeliverable") {
        Some(HarnessMark::Dropped)
    } else if it.mark.copy || c.contains("copy of") {
        Some(HarnessMark::Copy)
    } else if it.mark.modified || c.split("; ").any(|p| p.starts_with("harness: ")) {
        Some(HarnessMark::Changed)
    } else if c.contains("injected by harness") {
        Some(HarnessMark::Injected)
    } else {
        None
    }
}

/// The scenario step a datagram belongs to (`step 3`), from its annotation.
fn step_of(it: &Item) -> Option<&str> {
    it.comment
        .as_deref()?
        .split("; ")
        .find(|p| p.starts_with("step ") && p[5..].chars().all(|c| c.is_ascii_digit()))
}

fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// The ladder diagram of `capture` as one inline SVG element (or a short HTML note when there is
/// nothing to draw).
pub fn ladder_svg(capture: &[u8], options: &LadderOptions) -> String {
    if capture.is_empty() {
        return "<p class=\"note\">No capture: nothing was exchanged or the run did not start.</p>"
            .to_owned();
    }
    let (items, damage) = match read(capture, options.describe.unwrap_or(DatagramLabel::opaque)) {
        Ok(x) => x,
        Err(e) => {
            return format!(
                "<p class=\"note\">The capture cannot be read: {}</p>",
                esc(&e)
            )
        }
    };
    if items.is_empty() {
        return "<p class=\"note\">The capture holds no datagrams.</p>".to_owned();
    }
    let t0 = origin(&items);
    let (initiator, lifelines, extra) = lifelines(&items);
    let (drawn, skipped): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|i| lifelines.contains(&i.src) && lifelines.contains(&i.dst));

    let mut rows = fold(drawn, &options.violations);
    let max_rows = if options.max_rows == 0 {
        MAX_ROWS
    } else {
        options.max_rows
    };
    let hidden = rows.len().saturating_sub(max_rows);
    rows.truncate(max_rows);
    let notes = notes(hidden, skipped.len(), extra, damage);
    let height = HEAD + ROW * (rows.len() as u32 + notes.len() as u32) + 24;
    let layout = Layout::new(initiator, lifelines, t0, height);
    // Wide enough for every violation mark, whole.
    let widest_mark = rows
        .iter()
        .filter_map(|r| options.violations.get(&r.first.number))
        .map(|rules| violation_mark(rules).chars().count())
        .max()
        .unwrap_or(0);
    let width = WIDTH.max(VMARK_X + (widest_mark as f64 * CHAR_PX).ceil() as u32 + 12);

    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"ladder\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"ladder diagram\">"
    );
    write_lifelines(&mut svg, &layout, options);
    let _ = write!(
        svg,
        "<text x=\"8\" y=\"{}\" class=\"axis\">time (ms)</text>",
        HEAD - 6
    );
    for (i, row) in rows.iter().enumerate() {
        let y = f64::from(HEAD + ROW * i as u32) + 16.0;
        let violated = options.violations.get(&row.first.number);
        write_row(&mut svg, &layout, row, y, violated);
    }
    let mut y = HEAD + ROW * rows.len() as u32 + 16;
    for text in notes {
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{y}\" class=\"more\">{}</text>",
            esc(&text)
        );
        y += ROW;
    }
    svg.push_str("</svg>");
    svg
}

/// Lifelines: the initiator (whoever sent START or SYN first, else the first sender) first, then
/// every other endpoint in order of appearance, at most [`MAX_LIFELINES`]; and how many more there
/// were.
fn lifelines(items: &[Item]) -> (Option<SocketAddr>, Vec<SocketAddr>, usize) {
    let initiator = items
        .iter()
        .find(|i| i.opens)
        .or(items.first())
        .map(|i| i.src);
    let mut lifelines: Vec<SocketAddr> = Vec::new();
    for a in initiator
        .into_iter()
        .chain(items.iter().flat_map(|i| [i.src, i.dst]))
    {
        if !lifelines.contains(&a) {
            lifelines.push(a);
        }
    }
    let extra = lifelines.len().saturating_sub(MAX_LIFELINES);
    lifelines.truncate(MAX_LIFELINES);
    (initiator, lifelines, extra)
}

/// The lines under the rows: what was not drawn, and where the capture is damaged.
fn notes(hidden: usize, skipped: usize, extra: usize, damage: Option<String>) -> Vec<String> {
    let mut notes = Vec::new();
    if hidden > 0 {
        notes.push(format!(
            "… {hidden} more rows not drawn (see the pcapng and the transcript)"
        ));
    }
    if skipped > 0 || extra > 0 {
        notes.push(format!(
            "… {skipped} datagrams between {extra} further endpoints not drawn"
        ));
    }
    if let Some(d) = damage {
        notes.push(format!("the capture is damaged here: {d}"));
    }
    notes
}

/// Where the lifelines stand, and the diagram's time origin and height.
struct Layout {
    initiator: Option<SocketAddr>,
    lifelines: Vec<SocketAddr>,
    /// Between two lifelines, px.
    spacing: f64,
    /// The longest arrow label, in characters.
    max_label: usize,
    t0: u64,
    height: u32,
}

impl Layout {
    fn new(
        initiator: Option<SocketAddr>,
        lifelines: Vec<SocketAddr>,
        t0: u64,
        height: u32,
    ) -> Self {
        let n = lifelines.len().max(2);
        let spacing = f64::from(RIGHT - LEFT) / (n - 1) as f64;
        let max_label = ((spacing - 16.0) / CHAR_PX).max(12.0) as usize;
        Layout {
            initiator,
            lifelines,
            spacing,
            max_label,
            t0,
            height,
        }
    }

    /// The x of `a`'s lifeline.
    fn x_of(&self, a: &SocketAddr) -> f64 {
        let n = self.lifelines.len().max(2);
        let k = self.lifelines.iter().position(|l| l == a).unwrap_or(0);
        f64::from(LEFT) + (f64::from(RIGHT - LEFT)) * k as f64 / (n - 1) as f64
    }
}

/// Lifelines and their heads.
fn write_lifelines(svg: &mut String, layout: &Layout, options: &LadderOptions) {
    for (k, a) in layout.lifelines.iter().enumerate() {
        let x = layout.x_of(a);
        let name = lifeline_name(k, a, layout.initiator, options);
        let class = if Some(*a) == options.iut {
            "head iut"
        } else {
            "head"
        };
        let box_w = (layout.spacing - 12.0).min(240.0);
        let _ = write!(
            svg,
            "<g class=\"{class}\"><rect x=\"{:.1}\" y=\"6\" width=\"{box_w:.1}\" height=\"38\" rx=\"5\"/><text x=\"{x:.1}\" y=\"22\" text-anchor=\"middle\" class=\"name\">{}</text><text x=\"{x:.1}\" y=\"37\" text-anchor=\"middle\" class=\"addr\">{}</text></g><line class=\"life\" x1=\"{x:.1}\" y1=\"44\" x2=\"{x:.1}\" y2=\"{}\"/>",
            x - box_w / 2.0,
            esc(&clip(&name, ((box_w - 10.0) / CHAR_PX) as usize)),
            esc(&a.to_string()),
            layout.height - 6
        );
    }
}

/// The name on the head of lifeline `k`, at `a`: as `options` names it, else by its role.
fn lifeline_name(
    k: usize,
    a: &SocketAddr,
    initiator: Option<SocketAddr>,
    options: &LadderOptions,
) -> String {
    let role = if Some(*a) == initiator {
        "initiator"
    } else if k == 1 {
        "responder"
    } else {
        "peer"
    };
    let by_role = options.role_names.as_ref().and_then(|(i, r)| match k {
        0 => Some(i.clone()),
        1 => Some(r.clone()),
        _ => None,
    });
    options
        .names
        .get(a)
        .cloned()
        .or(by_role)
        .unwrap_or_else(|| {
            if Some(*a) == options.iut {
                format!("IUT ({role})")
            } else if options.iut.is_some() {
                format!("peer ({role})")
            } else {
                role.to_owned()
            }
        })
}

/// One row at height `y`: its time, number, arrow, label and the rules it violated.
fn write_row(svg: &mut String, layout: &Layout, row: &Row, y: f64, violated: Option<&Vec<String>>) {
    let it = &row.first;
    let (x1, x2) = (layout.x_of(&it.src), layout.x_of(&it.dst));
    let (class, suffix) = row_class(row, violated.is_some());
    let (label, title, time) = row_texts(row, &suffix, layout.t0);
    let _ = write!(
        svg,
        "<g class=\"{}\"><title>{}</title><text x=\"{}\" y=\"{:.1}\" class=\"time\">{}</text>",
        class.join(" "),
        esc(&title),
        TIME_W - 4,
        y + 4.0,
        esc(&time)
    );
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"num\">#{}</text>",
        f64::from(TIME_W) + 4.0,
        y + 4.0,
        it.number
    );
    write_arrow(
        svg,
        x1,
        x2,
        y,
        harness_mark(it) == Some(HarnessMark::Dropped),
    );
    let mid = (x1 + x2) / 2.0;
    let _ = write!(
        svg,
        "<text x=\"{mid:.1}\" y=\"{:.1}\" text-anchor=\"middle\" class=\"label\">{}</text>",
        y - 7.0,
        esc(&clip(&label, layout.max_label))
    );
    if let Some(rules) = violated {
        let _ = write!(
            svg,
            "<text x=\"{VMARK_X}\" y=\"{:.1}\" class=\"vmark\">{}</text>",
            y + 4.0,
            esc(&violation_mark(rules))
        );
    }
    svg.push_str("</g>");
}

/// The mark beside a datagram that broke `rules`: every rule id, whole.
fn violation_mark(rules: &[String]) -> String {
    format!("⚠ {}", rules.join(", "))
}

/// A row's classes, and what its label says after the datagram: what the harness did, the step.
fn row_class(row: &Row, violated: bool) -> (Vec<&'static str>, String) {
    let it = &row.first;
    let mut class = vec!["dg"];
    let mut suffix = String::new();
    match harness_mark(it) {
        Some(HarnessMark::Dropped) => {
            class.push("dropped");
            suffix.push_str(" · dropped");
        }
        Some(HarnessMark::Copy) => {
            class.push("changed");
            suffix.push_str(" · copy");
        }
        Some(HarnessMark::Changed) => {
            class.push("changed");
            suffix.push_str(" · changed");
        }
        Some(HarnessMark::Injected) => {
            class.push("injected");
        }
        None => {}
    }
    if let Some(step) = step_of(it) {
        suffix.push_str(&format!(" [{step}]"));
    }
    if row.run.is_some() {
        class.push("run");
    }
    if violated {
        class.push("violation");
    }
    (class, suffix)
}

/// A row's label, its title (the tooltip) and its time, from `t0`.
fn row_texts(row: &Row, suffix: &str, t0: u64) -> (String, String, String) {
    let it = &row.first;
    match row.run {
        Some((t1, a, b, count)) => (
            format!(
                "DATA seq {a}..{b} ×{count} · until {} ms{suffix}",
                ms(t1.saturating_sub(t0))
            ),
            format!(
                "#{}.. {} → {}: {count} DATA datagrams, seq {a}..{b}, {} to {} ms",
                it.number,
                it.src,
                it.dst,
                ms(it.time_ns.saturating_sub(t0)),
                ms(t1.saturating_sub(t0))
            ),
            ms(it.time_ns.saturating_sub(t0)),
        ),
        None => (
            format!("{}{suffix}", it.label),
            format!(
                "#{} {} ms {} → {}: {}{}",
                it.number,
                ms(it.time_ns.saturating_sub(t0)),
                it.src,
                it.dst,
                it.full,
                it.comment
                    .as_ref()
                    .map(|c| format!(" [{c}]"))
                    .unwrap_or_default()
            ),
            ms(it.time_ns.saturating_sub(t0)),
        ),
    }
}

/// The arrow from `x1` to `x2` at height `y`; a `dropped` one stops on the way.
fn write_arrow(svg: &mut String, x1: f64, x2: f64, y: f64, dropped: bool) {
    let dir = if x2 >= x1 { 1.0 } else { -1.0 };
    if x1 == x2 {
        // To itself (should not happen on the wire): a small loop.
        let _ = write!(
            svg,
            "<path class=\"arrow\" d=\"M{x1:.1},{:.1} h30 v10 h-26\" fill=\"none\"/>",
            y - 5.0
        );
    } else if dropped {
        // Lost on the way: the arrow stops two thirds across, with a cross.
        let xe = x1 + (x2 - x1) * 0.66;
        let ye = y - 4.0 + 8.0 * 0.66;
        let _ = write!(
            svg,
            "<line class=\"arrow\" x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{xe:.1}\" y2=\"{ye:.1}\"/><path class=\"cross\" d=\"M{:.1},{:.1} l10,10 M{:.1},{:.1} l-10,10\"/>",
            y - 4.0,
            xe - 5.0,
            ye - 5.0,
            xe + 5.0,
            ye - 5.0
        );
    } else {
        let tip = x2 - dir * 1.0;
        let _ = write!(
            svg,
            "<line class=\"arrow\" x1=\"{x1:.1}\" y1=\"{:.1}\" x2=\"{tip:.1}\" y2=\"{:.1}\"/><path class=\"tip\" d=\"M{tip:.1},{:.1} l{:.1},-4.5 l0,9 z\"/>",
            y - 4.0,
            y + 4.0,
            y + 4.0,
            -dir * 9.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_text_and_marks_cut_text() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdefgh", 5), "abcd…");
    }

    #[test]
    fn not_a_capture_is_a_note() {
        let html = ladder_svg(b"not a capture", &LadderOptions::default());
        assert!(html.starts_with("<p class=\"note\">"), "{html}");
    }
}
