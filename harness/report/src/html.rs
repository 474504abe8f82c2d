//! The HTML report (`index.html` in a report directory): one self-contained page — inline CSS and
//! SVG, no scripts, nothing fetched from the network — with a summary, the interop matrix when
//! there is one, and per scenario result (or matrix cell) a collapsible section with the verdict,
//! the reasons, a ladder diagram drawn from the capture, the checker's violations and links to the
//! pcapng and transcript.
//!
//! Everything here is a pure function of its inputs: the same inputs give the same bytes (no clock,
//! no host names, ordered maps). Every text is escaped.

pub mod ladder;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use handshake_scenario::results::{ResultEntry, RunReport, Status};
use handshake_scenario::{Families, ScenarioOutcome};

use crate::files::{result_files, ResultFiles};

pub use ladder::{ladder_svg, LadderOptions};

/// Name of the HTML report in a report directory.
pub const INDEX_FILE: &str = "index.html";

/// Escapes text for HTML element content and attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link to a file of the report (relative to the report directory) or an anchor of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The text.
    pub label: String,
    /// The target (`IUT/scenario.pcapng`, `#r3`).
    pub href: String,
}

impl Link {
    /// A link.
    pub fn new(label: impl Into<String>, href: impl Into<String>) -> Link {
        Link {
            label: label.into(),
            href: href.into(),
        }
    }
}

/// A table of counts (rows × columns of numbers or short texts).
#[derive(Debug, Clone, Default)]
pub struct CountsTable {
    /// Caption.
    pub caption: String,
    /// Header of the first column.
    pub corner: String,
    /// Column headers.
    pub columns: Vec<String>,
    /// Rows: label and one value per column.
    pub rows: Vec<(String, Vec<String>)>,
    /// A bold last row (label, values).
    pub total: Option<(String, Vec<String>)>,
}

/// The interop matrix: rows initiators, columns responders.
#[derive(Debug, Clone, Default)]
pub struct MatrixView {
    /// Caption (fault profile, seed …).
    pub caption: String,
    /// Row names.
    pub initiators: Vec<String>,
    /// Column names.
    pub responders: Vec<String>,
    /// The cells, any order.
    pub cells: Vec<MatrixCell>,
    /// Notes under the matrix (e.g. what `cmd-1` stands for).
    pub notes: Vec<String>,
    /// The paths a cell may take, in legend order (the family's; they are coloured by position).
    pub paths: Vec<String>,
}

/// One cell of the matrix.
#[derive(Debug, Clone, Default)]
pub struct MatrixCell {
    /// Row.
    pub initiator: String,
    /// Column.
    pub responder: String,
    /// The path taken (`3way`, `legacy`, …).
    pub path: String,
    /// What it delivered (`100 / 100 frames`).
    pub summary: String,
    /// A further figure (` · 12.5 ms` to first media).
    pub detail: Option<String>,
    /// The expectation in short (`3way · 100`), when there is one.
    pub expected: Option<String>,
    /// Whether the cell differs from its expectation.
    pub differs: bool,
    /// How it differs.
    pub mismatch: Option<String>,
    /// The checker's verdict in short (`clean`, `2 violations`).
    pub checker: String,
    /// The cell's capture, relative to the report directory.
    pub capture: Option<String>,
    /// The section of the page with the cell's details.
    pub anchor: Option<String>,
}

/// A scenario × IUT grid of status chips, each linking to its section.
#[derive(Debug, Clone, Default)]
pub struct GridView {
    /// Column names (IUTs).
    pub columns: Vec<String>,
    /// Rows: scenario id, title, and per column the chips (status name, anchor).
    pub rows: Vec<GridRow>,
}

/// A grid row: scenario id, title, and per column the chips (status name, anchor).
pub type GridRow = (String, String, Vec<Vec<(String, String)>>);

/// One violation (or rule that fired) in a section.
#[derive(Debug, Clone, Default)]
pub struct ViolationRow {
    /// Packet number in the capture, when known.
    pub packet: Option<u64>,
    /// Time, ms, when known.
    pub at_ms: Option<f64>,
    /// Rule id.
    pub rule: String,
    /// How many times it fired (when the row stands for several).
    pub count: Option<usize>,
    /// What was seen.
    pub detail: String,
    /// The rule's statement.
    pub statement: String,
}

/// A collapsible section: one scenario result or one matrix cell.
#[derive(Debug, Clone, Default)]
pub struct Section {
    /// Anchor id (unique in the page).
    pub anchor: String,
    /// Heading (scenario id, or `initiator × responder`).
    pub heading: String,
    /// The IUT or other context, shown beside the heading.
    pub context: String,
    /// One line under the heading (the title).
    pub subtitle: String,
    /// The badge text (status or path).
    pub badge: String,
    /// The badge's CSS class (`st-pass`, `p-3way` …).
    pub badge_class: String,
    /// Whether the section starts open.
    pub open: bool,
    /// Key facts (name, value).
    pub facts: Vec<(String, String)>,
    /// Why it failed (or anything the reader should know first): the causes.
    pub reasons: Vec<String>,
    /// What followed from the causes (failed steps, missed expectations), shown under them.
    pub consequences: Vec<String>,
    /// Deviations from this project's profile decisions, shown after the reasons.
    pub deviations: Vec<String>,
    /// The capture (pcapng) the ladder is drawn from.
    pub capture: Vec<u8>,
    /// How to draw it.
    pub ladder: LadderOptions,
    /// The checker's violations.
    pub violations: Vec<ViolationRow>,
    /// Links to files.
    pub links: Vec<Link>,
}

/// Everything on the page.
#[derive(Debug, Clone, Default)]
pub struct IndexInputs {
    /// Page title.
    pub title: String,
    /// Whether the run passed.
    pub passed: bool,
    /// The verdict line (`58 passed, 2 failed`).
    pub verdict: String,
    /// Facts about the run (seed, fault profile, partition …).
    pub facts: Vec<(String, String)>,
    /// Count tables.
    pub counts: Vec<CountsTable>,
    /// The interop matrix.
    pub matrix: Option<MatrixView>,
    /// A scenario × IUT grid.
    pub grid: Option<GridView>,
    /// Heading over the sections.
    pub sections_heading: String,
    /// The sections.
    pub sections: Vec<Section>,
    /// Other files of the report.
    pub files: Vec<Link>,
}

/// The CSS class of a path a matrix cell took (`p-3way`).
pub fn path_class(path: &str) -> String {
    let name: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("p-{name}")
}

/// The colours of paths, by their position in the family's list (the first is the good path, the
/// last a failure); further paths share the last but one.
const PATH_COLOURS: [&str; 5] = ["#2e9e44", "#2f6fdb", "#138f91", "#e07b00", "#d23f31"];

/// The style of each path of `paths` (by position; see [`PATH_COLOURS`]).
fn path_css(paths: &[String]) -> String {
    let mut css = String::new();
    for (i, p) in paths.iter().enumerate() {
        let colour = if i + 1 == paths.len() && i > 0 {
            PATH_COLOURS[PATH_COLOURS.len() - 1]
        } else {
            PATH_COLOURS[i.min(PATH_COLOURS.len() - 2)]
        };
        let _ = write!(css, ".{} {{ background: {colour}; }} ", path_class(p));
    }
    css
}

/// The CSS class of a status.
pub fn status_class(status: Status) -> &'static str {
    match status {
        Status::Pass => "st-pass",
        Status::Fail => "st-fail",
        Status::Xfail => "st-xfail",
        Status::Xpass => "st-xpass",
        Status::Deviation => "st-deviation",
        Status::Unsupported => "st-unsupported",
        Status::Error => "st-error",
        Status::Interrupted => "st-interrupted",
    }
}

const CSS: &str = r#"
:root { --fg:#1d2228; --muted:#5b6570; --line:#d5dae0; --bg:#ffffff; --soft:#f4f6f8;
  --good:#2e9e44; --bad:#d23f31; --pother:#7a7f87; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); background: var(--bg); margin: 0; padding: 24px 32px 64px; max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; font-size: 12.5px; }
a { color: #1a5fb4; }
.verdict { display: inline-block; padding: 3px 10px; border-radius: 12px; color: #fff; font-weight: 600; margin: 6px 0 10px; }
.verdict.ok { background: var(--good); } .verdict.bad { background: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0 12px; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 14px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: 700; background: var(--soft); }
caption { caption-side: top; text-align: left; color: var(--muted); padding-bottom: 4px; }
table.matrix td.cell { padding: 0; min-width: 128px; border: 2px solid #fff; }
table.matrix td.cell a { display: block; padding: 6px 8px; color: #fff; text-decoration: none; }
table.matrix td.cell .path { font-weight: 700; }
table.matrix td.cell .sub { font-size: 11.5px; opacity: .92; }
table.matrix td.cell .pcap { display: inline-block; font-size: 11px; color: #fff; padding: 0 8px 5px; }
table.matrix td.differs { outline: 4px solid #b5007a; outline-offset: -4px; }
table.matrix td.differs .path::after { content: " \2260"; }
table.matrix th.row { white-space: nowrap; }
.p-other { background: var(--pother); }
.legend span { display: inline-block; color: #fff; border-radius: 3px; padding: 1px 7px; margin-right: 6px; font-size: 12px; }
ul.failures { list-style: none; padding-left: 0; } ul.failures li { margin: 6px 0; } ul.failures .ctx { color: var(--muted); margin-left: 6px; } ul.failures .sub { color: var(--muted); font-size: 12.5px; margin-left: 78px; }
details.grid > summary h2 { display: inline; font-size: 1.1em; margin: 0; }
.legend .differs { background: #fff; color: var(--fg); outline: 3px solid #b5007a; outline-offset: -3px; }
.badge { display: inline-block; min-width: 64px; text-align: center; color: #fff; border-radius: 3px; padding: 1px 7px; font-size: 12px; font-weight: 600; }
.st-pass { background: var(--good); } .st-fail { background: var(--bad); } .st-xfail { background: #8a6d3b; }
.st-xpass { background: #b5007a; } .st-unsupported { background: #9aa1a9; } .st-error { background: #6b1d16; }
.st-deviation { background: #c28a00; } .st-interrupted { background: #4b5563; }
.chip { display: inline-block; width: 16px; height: 16px; border-radius: 3px; margin: 1px; vertical-align: middle; }
table.grid td { padding: 2px 8px; } table.grid td.chips { text-align: center; } table.grid th.iut { font-size: 12px; text-align: center; max-width: 130px; overflow-wrap: normal; word-break: keep-all; }
table.grid tr:hover td { background: var(--soft); }
.scroll { overflow-x: auto; } .tables { display: flex; flex-wrap: wrap; gap: 8px 28px; align-items: flex-start; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 8px 0; background: #fff; }
details > summary { cursor: pointer; padding: 7px 10px; list-style-position: inside; }
details[open] > summary { border-bottom: 1px solid var(--line); background: var(--soft); }
details > summary .ctx { color: var(--muted); margin-left: 6px; }
details > summary .sub { display: block; color: var(--muted); font-size: 12.5px; margin-left: 18px; }
details .body { padding: 8px 14px 12px; overflow-x: auto; }
ul.reasons { margin: 4px 0 10px; padding-left: 20px; } ul.reasons li { color: #8f2117; }
ul.reasons li.then { color: var(--muted); list-style: none; margin-left: -20px; } ul.reasons li.then ul { padding-left: 22px; } ul.reasons li.then li { color: var(--fg); }
.links a { margin-right: 14px; }
.note { color: var(--muted); font-style: italic; }
svg.ladder { display: block; margin: 6px 0 10px; background: #fcfcfd; border: 1px solid var(--line); border-radius: 4px; }
svg.ladder text { font: 11px ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; fill: var(--fg); }
svg.ladder .head rect { fill: #e9eef4; stroke: #9aa7b5; } svg.ladder .head.iut rect { fill: #dff1e3; stroke: #2e9e44; }
svg.ladder .head .name { font-weight: 700; } svg.ladder .head .addr { fill: var(--muted); font-size: 10px; }
svg.ladder .life { stroke: #9aa7b5; stroke-dasharray: 4 4; }
svg.ladder .time, svg.ladder .axis { text-anchor: end; fill: var(--muted); } svg.ladder .axis { text-anchor: start; }
svg.ladder .num { fill: #a0a8b1; font-size: 10px; }
svg.ladder .arrow { stroke: #33404d; stroke-width: 1.4; } svg.ladder .tip { fill: #33404d; }
svg.ladder .dg.run .arrow { stroke-width: 3.2; stroke: #5a6b7d; } svg.ladder .dg.run .tip { fill: #5a6b7d; } svg.ladder .dg.run .label { fill: #3c4a58; }
svg.ladder .dg.dropped .arrow { stroke: #d23f31; stroke-dasharray: 6 4; } svg.ladder .dg.dropped .label { fill: #d23f31; }
svg.ladder .cross { stroke: #d23f31; stroke-width: 2.2; fill: none; }
svg.ladder .dg.changed .arrow { stroke: #e07b00; stroke-width: 2; } svg.ladder .dg.changed .tip { fill: #e07b00; } svg.ladder .dg.changed .label { fill: #b35f00; }
svg.ladder .dg.injected .arrow { stroke: #6a3fb5; } svg.ladder .dg.injected .tip { fill: #6a3fb5; } svg.ladder .dg.injected .label { fill: #553096; }
svg.ladder .dg.violation .label { font-weight: 700; } svg.ladder .vmark { fill: #b5007a; font-weight: 700; }
svg.ladder .more { fill: var(--muted); font-style: italic; }
svg.ladder g.dg:hover .label { fill: #000; font-weight: 700; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
"#;

fn facts_html(facts: &[(String, String)]) -> String {
    if facts.is_empty() {
        return String::new();
    }
    let mut s = String::from("<dl class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(v));
    }
    s.push_str("</dl>");
    s
}

fn links_html(links: &[Link]) -> String {
    if links.is_empty() {
        return String::new();
    }
    let mut s = String::from("<p class=\"links\">");
    for l in links {
        let _ = write!(s, "<a href=\"{}\">{}</a>", esc(&l.href), esc(&l.label));
    }
    s.push_str("</p>");
    s
}

fn counts_html(t: &CountsTable) -> String {
    let mut s = String::from("<table class=\"counts\">");
    if !t.caption.is_empty() {
        let _ = write!(s, "<caption>{}</caption>", esc(&t.caption));
    }
    let _ = write!(s, "<tr><th>{}</th>", esc(&t.corner));
    for c in &t.columns {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr>");
    let row = |s: &mut String, class: &str, label: &str, values: &[String]| {
        let _ = write!(s, "<tr class=\"{class}\"><td>{}</td>", esc(label));
        for v in values {
            let _ = write!(s, "<td class=\"num\">{}</td>", esc(v));
        }
        s.push_str("</tr>");
    };
    for (label, values) in &t.rows {
        row(&mut s, "", label, values);
    }
    if let Some((label, values)) = &t.total {
        row(&mut s, "total", label, values);
    }
    s.push_str("</table>");
    s
}

/// The interop matrix as an HTML table with a legend: one coloured cell per initiator × responder
/// (colour = path), frames and time to first media, differing cells outlined, each cell linking to
/// its section and its capture.
pub fn render_matrix(m: &MatrixView) -> String {
    let mut s = String::from("<table class=\"matrix\">");
    if !m.caption.is_empty() {
        let _ = write!(s, "<caption>{}</caption>", esc(&m.caption));
    }
    s.push_str("<tr><th>initiator \\ responder</th>");
    for r in &m.responders {
        let _ = write!(s, "<th>{}</th>", esc(r));
    }
    s.push_str("</tr>");
    for i in &m.initiators {
        let _ = write!(s, "<tr><th class=\"row\">{}</th>", esc(i));
        for r in &m.responders {
            let Some(c) = m
                .cells
                .iter()
                .find(|c| &c.initiator == i && &c.responder == r)
            else {
                s.push_str("<td class=\"empty\"></td>");
                continue;
            };
            let mut title = format!("{i} × {r}: {} · {}", c.path, c.summary);
            if let Some(e) = &c.expected {
                title.push_str(&format!(" · expected {e}"));
            } else {
                title.push_str(" · no expectation");
            }
            if let Some(m) = &c.mismatch {
                title.push_str(&format!(" · differs: {m}"));
            }
            title.push_str(&format!(" · checker: {}", c.checker));
            let known = m.paths.iter().any(|p| p == &c.path);
            let _ = write!(
                s,
                "<td class=\"cell {}{}\" title=\"{}\"><a href=\"{}\"><span class=\"path\">{}</span><br><span class=\"sub\">{}{}</span><br><span class=\"sub\">{}{}</span></a>",
                if known { path_class(&c.path) } else { "p-other".to_owned() },
                if c.differs { " differs" } else { "" },
                esc(&title),
                esc(&c.anchor.as_ref().map(|a| format!("#{a}")).unwrap_or_default()),
                esc(&c.path),
                esc(&c.summary),
                esc(c.detail.as_deref().unwrap_or_default()),
                if c.differs { "expected " } else { "checker: " },
                esc(&if c.differs {
                    c.expected.clone().unwrap_or_default()
                } else {
                    c.checker.clone()
                }),
            );
            if let Some(p) = &c.capture {
                let _ = write!(s, "<a class=\"pcap\" href=\"{}\">pcapng</a>", esc(p));
            }
            s.push_str("</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s.push_str("<p class=\"legend\">");
    for p in &m.paths {
        let _ = write!(s, "<span class=\"{}\">{}</span>", path_class(p), esc(p));
    }
    s.push_str("<span class=\"differs\">differs from the expected matrix</span></p>");
    for n in &m.notes {
        let _ = write!(s, "<p class=\"note\">{}</p>", esc(n));
    }
    s
}

fn grid_html(g: &GridView) -> String {
    let mut s = String::from("<div class=\"scroll\"><table class=\"grid\"><tr><th>scenario</th>");
    for c in &g.columns {
        // Break only after a separator (`python-<wbr>mediastream`), never inside a word.
        let mut name = String::new();
        for ch in c.chars() {
            name.push_str(&esc(&ch.to_string()));
            if matches!(ch, '-' | '+' | '/' | '!' | '_' | ':' | '.') {
                name.push_str("<wbr>");
            }
        }
        let _ = write!(s, "<th class=\"iut\">{name}</th>");
    }
    s.push_str("</tr>");
    for (id, title, cells) in &g.rows {
        let _ = write!(
            s,
            "<tr><td title=\"{}\"><code>{}</code></td>",
            esc(title),
            esc(id)
        );
        for chips in cells {
            s.push_str("<td class=\"chips\">");
            for (status, anchor) in chips {
                let class = Status::ALL
                    .iter()
                    .find(|st| st.name() == status)
                    .map_or("st-unsupported", |st| status_class(*st));
                let _ = write!(
                    s,
                    "<a href=\"#{}\" title=\"{} {}\"><span class=\"chip {class}\"></span></a>",
                    esc(anchor),
                    esc(id),
                    esc(status)
                );
            }
            s.push_str("</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></div>");
    s
}

fn section_html(sec: &Section) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<details id=\"{}\"{}><summary><span class=\"badge {}\">{}</span> <code>{}</code><span class=\"ctx\">{}</span>",
        esc(&sec.anchor),
        if sec.open { " open" } else { "" },
        esc(&sec.badge_class),
        esc(&sec.badge),
        esc(&sec.heading),
        esc(&sec.context)
    );
    if !sec.subtitle.is_empty() {
        let _ = write!(s, "<span class=\"sub\">{}</span>", esc(&sec.subtitle));
    }
    s.push_str("</summary><div class=\"body\">");
    s.push_str(&facts_html(&sec.facts));
    if !sec.reasons.is_empty() || !sec.consequences.is_empty() || !sec.deviations.is_empty() {
        s.push_str("<ul class=\"reasons\">");
        for r in &sec.reasons {
            let _ = write!(s, "<li>{}</li>", esc(r));
        }
        if !sec.consequences.is_empty() {
            s.push_str("<li class=\"then\">then:<ul>");
            for c in &sec.consequences {
                let _ = write!(s, "<li>{}</li>", esc(c));
            }
            s.push_str("</ul></li>");
        }
        for d in &sec.deviations {
            let _ = write!(s, "<li class=\"deviation\">{}</li>", esc(d));
        }
        s.push_str("</ul>");
    }
    s.push_str(&links_html(&sec.links));
    s.push_str(&ladder_svg(&sec.capture, &sec.ladder));
    if sec.violations.is_empty() {
        if !sec.capture.is_empty() {
            s.push_str("<p class=\"note\">The checker found no violation in the capture.</p>");
        }
    } else {
        s.push_str("<table class=\"violations\"><caption>checker violations</caption><tr><th>packet</th><th>time (ms)</th><th>rule</th><th>seen</th><th>rule statement</th></tr>");
        for v in &sec.violations {
            let rule = match v.count {
                Some(n) if n > 1 => format!("{} ×{n}", v.rule),
                _ => v.rule.clone(),
            };
            let _ = write!(
                s,
                "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                v.packet.map_or("—".to_owned(), |p| format!("#{p}")),
                v.at_ms.map_or("—".to_owned(), |t| format!("{t:.3}")),
                esc(&rule),
                esc(&v.detail),
                esc(&v.statement)
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</div></details>");
    s
}

/// The whole page.
pub fn render(index: &IndexInputs) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}{}</style>\n</head>\n<body>\n",
        esc(&index.title),
        index
            .matrix
            .as_ref()
            .map(|m| path_css(&m.paths))
            .unwrap_or_default()
    );
    let _ = write!(
        s,
        "<h1>{}</h1>\n<div class=\"verdict {}\">{}</div>\n",
        esc(&index.title),
        if index.passed { "ok" } else { "bad" },
        esc(&index.verdict)
    );
    s.push_str(&facts_html(&index.facts));
    s.push_str(&links_html(&index.files));
    // What failed comes first: one line each, linking to its section.
    let failing: Vec<&Section> = index.sections.iter().filter(|sec| sec.open).collect();
    if !failing.is_empty() {
        let _ = write!(
            s,
            "<h2>Failures ({})</h2>\n<ul class=\"failures\">",
            failing.len()
        );
        for sec in &failing {
            let _ = write!(
                s,
                "<li><span class=\"badge {}\">{}</span> <a href=\"#{}\"><code>{}</code></a><span class=\"ctx\">{}</span>",
                esc(&sec.badge_class),
                esc(&sec.badge),
                esc(&sec.anchor),
                esc(&sec.heading),
                esc(&sec.context)
            );
            if let Some(first) = sec.reasons.first().or(sec.deviations.first()) {
                let _ = write!(s, "<div class=\"sub\">{}</div>", esc(first));
            }
            s.push_str("</li>");
        }
        s.push_str("</ul>\n");
    }
    if !index.sections.is_empty() {
        s.push_str(LEGEND);
    }
    if !index.counts.is_empty() {
        s.push_str("<h2>Summary</h2>\n<div class=\"tables\">");
        for t in &index.counts {
            s.push_str(&counts_html(t));
        }
        s.push_str("</div>\n");
    }
    if let Some(m) = &index.matrix {
        s.push_str("<h2>Interop matrix</h2>\n");
        s.push_str(&render_matrix(m));
        s.push('\n');
    }
    if let Some(g) = &index.grid {
        // Every result at a glance; folded when something failed (the failures are above).
        let _ = writeln!(
            s,
            "<details class=\"grid\"{}><summary><h2>All results ({} × {})</h2></summary>",
            if failing.is_empty() { " open" } else { "" },
            handshake_core::words::count(g.rows.len() as u64, "scenario"),
            handshake_core::words::count(g.columns.len() as u64, "IUT")
        );
        s.push_str(&grid_html(g));
        s.push_str("</details>\n");
    }
    if !index.sections.is_empty() {
        let _ = writeln!(s, "<h2>{}</h2>", esc(&index.sections_heading));
        // Failures first, then the rest, each in its own order.
        for sec in failing
            .iter()
            .copied()
            .chain(index.sections.iter().filter(|sec| !sec.open))
        {
            s.push_str(&section_html(sec));
            s.push('\n');
        }
    }
    s.push_str("<footer>handshake-harness report.</footer>\n</body>\n</html>\n");
    s
}

/// How to read the statuses and the ladder diagrams: above the results.
const LEGEND: &str = "<p class=\"legend\">Statuses: <span class=\"st-pass\">pass</span><span class=\"st-fail\">fail</span><span class=\"st-xfail\">xfail</span> (failed as the IUT's expectations file says) <span class=\"st-xpass\">xpass</span> (an expected failure passed: fails the run) <span class=\"st-deviation\">deviation</span> (a project decision beyond the facts, not failing) <span class=\"st-unsupported\">unsupported</span> <span class=\"st-error\">error</span> <span class=\"st-interrupted\">interrupted</span>. Ladder diagrams are drawn from each capture as the implementation under test saw it: dashed red = not delivered (dropped by the harness), orange = changed, delayed or copied by the harness; runs of DATA are folded into one arrow. Hover over an arrow for the whole datagram.</p>\n";

/// The IUT's address in a scenario capture: the transcript's first datagram line (`IUT -> …` or
/// `IUT <- …`) is the capture's first packet.
fn iut_of(
    capture: &[u8],
    transcript: &[handshake_scenario::outcome::TranscriptLine],
) -> Option<std::net::SocketAddr> {
    let first = handshake_capture::open(capture).ok()?.flatten().next()?;
    let line = transcript
        .iter()
        .find(|l| l.text.starts_with("IUT -> ") || l.text.starts_with("IUT <- "))?;
    Some(if line.text.starts_with("IUT -> ") {
        first.src
    } else {
        first.dst
    })
}

/// The page for a `harness run` report: counts per status and IUT, a scenario × IUT grid, and one
/// section per result. `layout` is [`result_files`] of the report (the files `write_reports`
/// wrote), so the links resolve from the report directory.
pub fn render_run(report: &RunReport, layout: &[ResultFiles], families: &Families) -> String {
    render(&run_index(report, layout, families))
}

/// The inputs of [`render_run`] (`families` name the rules and draw the datagrams of each result's
/// family).
pub fn run_index(report: &RunReport, layout: &[ResultFiles], families: &Families) -> IndexInputs {
    let summary = report.summary();
    let counts_all: Vec<String> = Status::ALL
        .iter()
        .map(|st| format!("{} {}", summary.count(*st), st.name()))
        .collect();
    let verdict = if summary.passed {
        format!("passed: {}", counts_all.join(", "))
    } else if report.failed() {
        format!("failed: {}", counts_all.join(", "))
    } else {
        "nothing was tested (every result unsupported)".to_owned()
    };
    let mut facts = vec![
        ("results".to_owned(), summary.total.to_string()),
        ("seed".to_owned(), report.seed.to_string()),
    ];
    if let Some(p) = &report.partition {
        facts.push(("partition".to_owned(), p.clone()));
    }
    let (iuts, counts) = counts_per_iut(report);

    // Sections and the grid.
    type Chips = Vec<Vec<(String, String)>>;
    let mut grid_rows: BTreeMap<&str, (&str, Chips)> = BTreeMap::new();
    let mut sections = Vec::new();
    for (i, (r, f)) in report.results.iter().zip(layout).enumerate() {
        let anchor = format!("r{}", i + 1);
        let column = iuts.iter().position(|x| x == &r.outcome.iut).unwrap_or(0);
        let (_, chips) = grid_rows
            .entry(r.outcome.scenario.as_str())
            .or_insert_with(|| (r.outcome.title.as_str(), vec![Vec::new(); iuts.len()]));
        if let Some(c) = chips.get_mut(column) {
            c.push((r.status.name().to_owned(), anchor.clone()));
        }
        sections.push(result_section(r, f, anchor, families));
    }
    let grid = GridView {
        columns: iuts,
        rows: grid_rows
            .into_iter()
            .map(|(id, (title, chips))| (id.to_owned(), title.to_owned(), chips))
            .collect(),
    };
    IndexInputs {
        title: "handshake-harness scenarios".to_owned(),
        passed: summary.passed,
        verdict,
        facts,
        counts: vec![counts],
        matrix: None,
        grid: Some(grid),
        sections_heading: "Scenario results".to_owned(),
        sections,
        files: vec![
            Link::new("summary.md", crate::files::SUMMARY_FILE),
            Link::new("junit.xml", crate::files::JUNIT_FILE),
            Link::new("results.json", crate::files::RESULTS_FILE),
        ],
    }
}

/// The IUTs of a run report, in order, and its counts of results per status and IUT.
fn counts_per_iut(report: &RunReport) -> (Vec<String>, CountsTable) {
    let mut per_iut: BTreeMap<&str, BTreeMap<Status, usize>> = BTreeMap::new();
    for r in &report.results {
        *per_iut
            .entry(r.outcome.iut.as_str())
            .or_default()
            .entry(r.status)
            .or_default() += 1;
    }
    let row = |m: &BTreeMap<Status, usize>| -> Vec<String> {
        let mut v: Vec<String> = Status::ALL
            .iter()
            .map(|st| m.get(st).copied().unwrap_or(0).to_string())
            .collect();
        v.push(m.values().sum::<usize>().to_string());
        v
    };
    let mut total: BTreeMap<Status, usize> = BTreeMap::new();
    for m in per_iut.values() {
        for (st, n) in m {
            *total.entry(*st).or_default() += n;
        }
    }
    let mut columns: Vec<String> = Status::ALL.iter().map(|s| s.name().to_owned()).collect();
    columns.push("total".to_owned());
    let counts = CountsTable {
        caption: "results per status and IUT".to_owned(),
        corner: "IUT".to_owned(),
        columns,
        rows: per_iut
            .iter()
            .map(|(iut, m)| ((*iut).to_owned(), row(m)))
            .collect(),
        total: Some(("total".to_owned(), row(&total))),
    };
    let iuts: Vec<String> = per_iut.keys().map(|s| (*s).to_owned()).collect();
    (iuts, counts)
}

/// One result's section (`f`: its files, linked).
fn result_section(
    r: &ResultEntry,
    f: &ResultFiles,
    anchor: String,
    families: &Families,
) -> Section {
    let o = &r.outcome;
    let mut sec_facts = vec![("status".to_owned(), r.status.name().to_owned())];
    sec_facts.extend(o.observed.facts());
    if let Some(why) = &r.expected_failure {
        sec_facts.push(("expected failure".to_owned(), why.clone()));
    }
    let mut seed = r.seed.to_string();
    if r.repetition > 1 {
        seed.push_str(&format!(" (repetition {})", r.repetition));
    }
    sec_facts.push(("seed".to_owned(), seed));
    let (violations, marks) = result_violations(o, families);
    let mut links = Vec::new();
    if let Some(c) = &f.capture {
        links.push(Link::new("pcapng", c.clone()));
    }
    links.push(Link::new("transcript", f.transcript.clone()));
    let ladder = LadderOptions {
        iut: iut_of(&o.capture, &o.transcript),
        violations: marks,
        describe: families.get(o.protocol).map(|f| f.describer()),
        ..LadderOptions::default()
    };
    Section {
        anchor,
        heading: o.scenario.clone(),
        context: if r.repetition > 1 {
            format!("{} · r{}", o.iut, r.repetition)
        } else {
            o.iut.clone()
        },
        subtitle: o.title.clone(),
        badge: r.status.name().to_owned(),
        badge_class: status_class(r.status).to_owned(),
        open: r.status.fails_run(),
        facts: sec_facts,
        // Cause first: the rules that broke, then what followed from them.
        reasons: o.causes_and_consequences().0.to_vec(),
        consequences: o.causes_and_consequences().1.to_vec(),
        // Deviations from this project's profile decisions are shown like reasons, marked.
        deviations: o
            .deviations
            .iter()
            .map(|d| format!("deviation (a profile decision, not a fact): {d}"))
            .collect(),
        capture: o.capture.clone(),
        ladder,
        violations,
        links,
    }
}

/// A result's rows of fired rules (each with where and when it first broke), and the rules to
/// mark on the ladder by packet.
fn result_violations(
    o: &ScenarioOutcome,
    families: &Families,
) -> (Vec<ViolationRow>, BTreeMap<u64, Vec<String>>) {
    let origin = ladder::time_origin_ns(&o.capture);
    let mut violations = Vec::new();
    let mut marks: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for (rule, n) in &o.rules_fired {
        let statement = families
            .of_rule(rule)
            .map(|x| x.statement.to_owned())
            .unwrap_or_default();
        let first = o.first_violations.iter().find(|v| v.rule == rule);
        if let Some(v) = first {
            marks.entry(v.packet).or_default().push(rule.clone());
        }
        violations.push(ViolationRow {
            packet: first.map(|v| v.packet),
            at_ms: first.and_then(|v| {
                let origin = origin?;
                (v.time_ns >= origin).then(|| (v.time_ns - origin) as f64 / 1e6)
            }),
            rule: rule.clone(),
            count: Some(*n),
            detail: first.map_or_else(
                || format!("fired {}", handshake_core::words::times(*n as u64)),
                |v| v.detail.clone(),
            ),
            statement,
        });
    }
    (violations, marks)
}

/// Writes `index.html` for a `harness run` report into `dir` (beside what
/// [`crate::write_reports`] wrote) and returns its path.
pub fn write_run_index(dir: &Path, report: &RunReport, families: &Families) -> io::Result<PathBuf> {
    let path = dir.join(INDEX_FILE);
    std::fs::create_dir_all(dir)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
    std::fs::write(&path, render_run(report, &result_files(report), families))
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn failures_come_first_and_the_grid_folds_and_headers_break_at_separators() {
        let section = |anchor: &str, open: bool| Section {
            anchor: anchor.to_owned(),
            heading: format!("scenario-{anchor}"),
            badge: if open { "fail" } else { "pass" }.to_owned(),
            open,
            reasons: vec![format!("why {anchor}")],
            ..Section::default()
        };
        let mut index = IndexInputs {
            sections: vec![section("r1", false), section("r2", true)],
            grid: Some(GridView {
                columns: vec!["python-mediastream".to_owned()],
                rows: Vec::new(),
            }),
            ..IndexInputs::default()
        };
        let page = render(&index);
        let failures = page.find("<h2>Failures (1)</h2>").expect("failures listed");
        let legend = page.find("Statuses:").expect("legend");
        let grid = page.find("<details class=\"grid\">").expect("grid folded");
        let first = page.find("id=\"r2\"").expect("failing section");
        let second = page.find("id=\"r1\"").expect("passing section");
        assert!(failures < legend && legend < grid && grid < first && first < second);
        assert!(page.contains("python-<wbr>mediastream"));
        // Nothing failed: no failures list, the grid open.
        index.sections = vec![section("r1", false)];
        let page = render(&index);
        assert!(!page.contains("Failures ("));
        assert!(page.contains("<details class=\"grid\" open>"));
    }

    #[test]
    fn a_section_shows_the_cause_then_what_followed() {
        let html = section_html(&Section {
            reasons: vec!["rule r broke at packet #5: seq 0 (rests on F1)".to_owned()],
            consequences: vec!["frames_dropped = 1, expected 0".to_owned()],
            deviations: vec!["deviation (a profile decision, not a fact): d".to_owned()],
            ..Section::default()
        });
        let cause = html.find("rule r broke").expect("cause");
        let then = html
            .find("<li class=\"then\">then:<ul><li>frames_dropped = 1, expected 0</li></ul></li>")
            .expect("consequences folded under the cause");
        let deviation = html.find("<li class=\"deviation\">").expect("deviation");
        assert!(cause < then && then < deviation, "{html}");
    }

    #[test]
    fn an_empty_page_has_no_network_references() {
        let page = render(&IndexInputs::default());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }
}
