//! What a matrix run shows: the terminal table, `matrix.json`, `matrix.md`, the HTML page, and the
//! report directory with one capture per cell. Pure functions of the outcome (the same outcome
//! gives byte-identical files).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use handshake_report::html::{
    self, CountsTable, IndexInputs, LadderOptions, Link, MatrixCell, MatrixView, Section,
    ViolationRow,
};
use handshake_scenario::format::FaultSpec;
use serde::Serialize;

use crate::matrix::ExpectedCell;
use crate::peer::Peer;
use crate::run::{Cell, Outcome};
use crate::{CellExpect as _, CellSeen as _, InteropFamily};

/// Version of `matrix.json`.
pub const MATRIX_JSON_VERSION: u32 = 1;

fn cell_text<F: InteropFamily>(c: &Cell<F>) -> String {
    let mark = match c.status() {
        "differs" => " ✗",
        "deviates" => " ~",
        "no_expectation" => " ?",
        _ => "",
    };
    format!("{} {}{mark}", c.seen.path(), c.seen.value())
}

fn pad(text: &str, width: usize) -> String {
    let n = text.chars().count();
    format!("{text}{}", " ".repeat(width.saturating_sub(n)))
}

fn name(peers: &[Peer], k: usize) -> &str {
    peers.get(k).map_or("?", |p| p.name.as_str())
}

/// What the external programs of a run stand for (`cmd-1 = …`).
fn command_notes(peers: &[&Peer], quote: fn(&str) -> String) -> Vec<String> {
    peers
        .iter()
        .filter_map(|p| {
            p.line
                .as_deref()
                .map(|line| (p.name.as_str(), line, p.like.as_deref()))
        })
        .map(|(name, line, like)| {
            format!(
                "{name} = {}{}",
                quote(line),
                like.map(|l| format!(" (expected to behave like {l})"))
                    .unwrap_or_else(|| " (no expectation: give cmd@PROFILE:… to compare)".into())
            )
        })
        .collect()
}

/// The terminal matrix: rows initiators, columns responders, each cell path and what it
/// delivered, `✗` when it differs from the expected matrix (`?`: no expectation); then what
/// differs, and a closing line.
pub fn terminal<F: InteropFamily>(outcome: &Outcome<F>) -> String {
    let plan = &outcome.plan;
    let corner = format!(
        "{} \\ {}",
        F::VOCABULARY.role_names.0,
        F::VOCABULARY.role_names.1
    );
    let mut widths: Vec<usize> = plan
        .responders
        .iter()
        .map(|p| p.name.chars().count())
        .collect();
    for c in &outcome.cells {
        if let Some(w) = widths.get_mut(c.responder) {
            *w = (*w).max(cell_text(c).chars().count());
        }
    }
    let first = plan
        .initiators
        .iter()
        .map(|p| p.name.chars().count())
        .chain([corner.chars().count()])
        .max()
        .unwrap_or(0);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "interop matrix: {} {}s × {} {}s, faults `{}`, seed {} (expected: {})",
        plan.initiators.len(),
        F::VOCABULARY.role_names.0,
        plan.responders.len(),
        F::VOCABULARY.role_names.1,
        plan.faults.name,
        plan.seed,
        plan.expected_path.display()
    );
    let mut header = pad(&corner, first);
    for (p, w) in plan.responders.iter().zip(&widths) {
        header.push_str("  ");
        header.push_str(&pad(&p.name, *w));
    }
    let _ = writeln!(s, "{}", header.trim_end());
    for (i, p) in plan.initiators.iter().enumerate() {
        let mut line = pad(&p.name, first);
        for (r, w) in widths.iter().enumerate() {
            let text = outcome
                .cells
                .iter()
                .find(|c| c.initiator == i && c.responder == r)
                .map(cell_text)
                .unwrap_or_default();
            line.push_str("  ");
            line.push_str(&pad(&text, *w));
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    let peers: Vec<&Peer> = plan.initiators.iter().chain(&plan.responders).collect();
    for note in command_notes(&peers, str::to_owned) {
        let _ = writeln!(s, "{note}");
    }
    for c in outcome.differing() {
        let _ = writeln!(
            s,
            "✗ {} × {}: {}",
            name(&plan.initiators, c.initiator),
            name(&plan.responders, c.responder),
            c.mismatch.as_deref().unwrap_or_default()
        );
    }
    for c in outcome.cells.iter().filter(|c| c.status() == "deviates") {
        let _ = writeln!(
            s,
            "~ {} × {}: deviates from this project's reading: {}",
            name(&plan.initiators, c.initiator),
            name(&plan.responders, c.responder),
            c.deviation.as_deref().unwrap_or_default()
        );
    }
    let differ = outcome.differing().count();
    let count = |status: &str| {
        outcome
            .cells
            .iter()
            .filter(|c| c.status() == status)
            .count()
    };
    let (unexpected, deviate) = (count("no_expectation"), count("deviates"));
    let mut close = format!(
        "{} cells: {} as expected, {differ} differ",
        outcome.cells.len(),
        outcome.cells.len() - differ - unexpected - deviate
    );
    if deviate > 0 {
        close.push_str(&format!(
            ", {deviate} deviate (from profile decisions: they fail only with --strict-profile)"
        ));
    }
    if unexpected > 0 {
        close.push_str(&format!(", {unexpected} without expectation"));
    }
    let _ = writeln!(s, "{close}");
    s
}

#[derive(Serialize)]
struct JsonPeer<'a> {
    name: &'a str,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    profile: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected_as: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonViolation<'a> {
    packet: u64,
    time_ns: u64,
    rule: &'a str,
    detail: &'a str,
}

#[derive(Serialize)]
#[serde(bound = "")]
struct JsonCell<'a, F: InteropFamily> {
    initiator: &'a str,
    responder: &'a str,
    status: &'static str,
    #[serde(flatten)]
    seen: &'a F::CellSeen,
    checker: JsonChecker<'a>,
    expected: Option<&'a ExpectedCell<F>>,
    mismatch: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deviation: Option<&'a str>,
    real_time: bool,
    capture: Option<String>,
    capture_viewpoint: &'static str,
    notes: &'a [String],
}

#[derive(Serialize)]
struct JsonChecker<'a> {
    path: Option<&'a str>,
    rules_fired: &'a [String],
    violations: Vec<JsonViolation<'a>>,
}

#[derive(Serialize)]
struct JsonSummary {
    cells: usize,
    as_expected: usize,
    differ: usize,
    #[serde(skip_serializing_if = "is_zero")]
    deviate: usize,
    no_expectation: usize,
    paths: BTreeMap<String, usize>,
    passed: bool,
}

#[derive(Serialize)]
struct JsonFaults<'a> {
    name: &'a str,
    description: Option<&'a str>,
    faults: &'a [FaultSpec],
}

#[derive(Serialize)]
#[serde(bound = "")]
struct JsonMatrix<'a, F: InteropFamily> {
    version: u32,
    protocol: &'a str,
    expected_matrix: String,
    faults: JsonFaults<'a>,
    seed: u64,
    #[serde(flatten)]
    setup: &'a F::Setup,
    initiators: Vec<JsonPeer<'a>>,
    responders: Vec<JsonPeer<'a>>,
    cells: Vec<JsonCell<'a, F>>,
    summary: JsonSummary,
}

fn json_peer(p: &Peer) -> JsonPeer<'_> {
    match &p.line {
        None => JsonPeer {
            name: &p.name,
            kind: "reference",
            profile: match &p.iut {
                handshake_scenario::Iut::Reference { profile, .. } => Some(profile),
                handshake_scenario::Iut::External(_) => None,
            },
            command: None,
            expected_as: None,
        },
        Some(line) => JsonPeer {
            name: &p.name,
            kind: "command",
            profile: None,
            command: Some(line),
            expected_as: p.like.as_deref(),
        },
    }
}

fn summary<F: InteropFamily>(outcome: &Outcome<F>) -> JsonSummary {
    let mut paths = BTreeMap::new();
    for c in &outcome.cells {
        *paths.entry(c.seen.path()).or_default() += 1;
    }
    let count = |s: &str| outcome.cells.iter().filter(|c| c.status() == s).count();
    JsonSummary {
        cells: outcome.cells.len(),
        as_expected: count("as_expected"),
        differ: count("differs"),
        deviate: count("deviates"),
        no_expectation: count("no_expectation"),
        paths,
        passed: outcome.passed(),
    }
}

/// `matrix.json`: the run's peers, fault profile, setup, and per cell what it showed, the judge's
/// verdict, the expectation and how it differs. Version [`MATRIX_JSON_VERSION`].
pub fn matrix_json<F: InteropFamily>(outcome: &Outcome<F>) -> String {
    let plan = &outcome.plan;
    let doc = JsonMatrix::<F> {
        version: MATRIX_JSON_VERSION,
        protocol: &plan.expected.protocol,
        expected_matrix: plan.expected_path.display().to_string(),
        faults: JsonFaults {
            name: &plan.faults.name,
            description: plan.faults.description.as_deref(),
            faults: &plan.faults.faults,
        },
        seed: plan.seed,
        setup: &plan.expected.setup,
        initiators: plan.initiators.iter().map(json_peer).collect(),
        responders: plan.responders.iter().map(json_peer).collect(),
        cells: outcome
            .cells
            .iter()
            .map(|c| JsonCell {
                initiator: name(&plan.initiators, c.initiator),
                responder: name(&plan.responders, c.responder),
                status: c.status(),
                seen: &c.seen,
                checker: JsonChecker {
                    path: c.checker_path.as_deref(),
                    rules_fired: &c.rules_fired,
                    violations: c
                        .violations
                        .iter()
                        .map(|v| JsonViolation {
                            packet: v.packet,
                            time_ns: v.time_ns,
                            rule: v.rule,
                            detail: &v.detail,
                        })
                        .collect(),
                },
                expected: c.expected.as_ref(),
                mismatch: c.mismatch.as_deref(),
                deviation: c.deviation.as_deref(),
                real_time: c.real_time,
                capture: outcome.capture_file(c),
                capture_viewpoint: c.viewpoint,
                notes: &c.notes,
            })
            .collect(),
        summary: summary(outcome),
    };
    let mut text =
        serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

fn md_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

fn setup_line<F: InteropFamily>(outcome: &Outcome<F>) -> String {
    F::setup_facts(&crate::run::cell_scenario(
        &outcome.plan,
        "",
        "",
        handshake_scenario::Role::Responder,
        None,
    ))
    .into_iter()
    .map(|(k, v)| format!("{k} {v}"))
    .collect::<Vec<_>>()
    .join("; ")
}

/// `matrix.md`: a verdict line, the matrix (each cell path · what it delivered, linked to its
/// pcapng, ❌ when it differs), what differs, and a legend.
pub fn matrix_markdown<F: InteropFamily>(outcome: &Outcome<F>) -> String {
    let plan = &outcome.plan;
    let s = summary(outcome);
    let mut md = String::new();
    let verdict = if s.passed {
        "✅ every cell as expected".to_owned()
    } else {
        format!("❌ {} of {} cells differ", s.differ, s.cells)
    };
    let _ = writeln!(md, "# handshake-harness interop matrix: {verdict}\n");
    let _ = writeln!(
        md,
        "Fault profile `{}`{}; seed {}; expected matrix `{}`; {}.\n",
        md_cell(&plan.faults.name),
        plan.faults
            .description
            .as_ref()
            .map(|d| format!(" ({})", md_cell(d)))
            .unwrap_or_default(),
        plan.seed,
        md_cell(&plan.expected_path.display().to_string()),
        md_cell(&setup_line(outcome))
    );
    let _ = writeln!(
        md,
        "| {} \\\\ {} | {} |\n|---|{}",
        F::VOCABULARY.role_names.0,
        F::VOCABULARY.role_names.1,
        plan.responders
            .iter()
            .map(|p| format!("`{}`", md_cell(&p.name)))
            .collect::<Vec<_>>()
            .join(" | "),
        ":---:|".repeat(plan.responders.len())
    );
    for (i, p) in plan.initiators.iter().enumerate() {
        let cells: Vec<String> = (0..plan.responders.len())
            .map(|r| {
                let Some(c) = outcome
                    .cells
                    .iter()
                    .find(|c| c.initiator == i && c.responder == r)
                else {
                    return String::new();
                };
                let text = format!("{} · {}", c.seen.path(), c.seen.value());
                let text = match outcome.capture_file(c) {
                    Some(f) => format!("[{}]({f})", md_cell(&text)),
                    None => md_cell(&text),
                };
                match c.status() {
                    "differs" => format!("❌ {text}"),
                    "deviates" => format!("〰 {text} (deviates from a profile decision)"),
                    "no_expectation" => format!("{text} (no expectation)"),
                    _ => text,
                }
            })
            .collect();
        let _ = writeln!(md, "| `{}` | {} |", md_cell(&p.name), cells.join(" | "));
    }
    md.push('\n');
    let differing: Vec<&Cell<F>> = outcome.differing().collect();
    if !differing.is_empty() {
        let _ = writeln!(
            md,
            "## Differing cells\n\n| {} | {} | Expected | Difference |\n|---|---|---|---|",
            capitalized(F::VOCABULARY.role_names.0),
            capitalized(F::VOCABULARY.role_names.1)
        );
        for c in differing {
            let expected = c
                .expected
                .as_ref()
                .map(|e| e.fields.short())
                .unwrap_or_default();
            let _ = writeln!(
                md,
                "| `{}` | `{}` | {} | {} |",
                md_cell(name(&plan.initiators, c.initiator)),
                md_cell(name(&plan.responders, c.responder)),
                md_cell(&expected),
                md_cell(c.mismatch.as_deref().unwrap_or_default())
            );
        }
        md.push('\n');
    }
    for p in plan.initiators.iter().chain(&plan.responders) {
        if let Some(line) = &p.line {
            let _ = writeln!(
                md,
                "- `{}` = `{}`{}",
                p.name,
                md_cell(line).replace('`', "'"),
                p.like
                    .as_ref()
                    .map(|l| format!(" (expected to behave like `{l}`)"))
                    .unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        md,
        "\nEach cell: the path taken · what it delivered, linked to the cell's capture (pcapng). Paths: {}. See `matrix.json` for every figure and the checker's verdicts, `index.html` for ladder diagrams.",
        F::PATHS
            .iter()
            .map(|p| format!("`{p}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    md
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn ms_since_epoch(ns: u64) -> f64 {
    let epoch = handshake_capture::trace::DEFAULT_EPOCH_NS;
    if ns >= epoch {
        (ns - epoch) as f64 / 1e6
    } else {
        ns as f64 / 1e6
    }
}

fn checker_short<F: InteropFamily>(c: &Cell<F>) -> String {
    match c.violations.len() {
        0 if c.capture.is_empty() => "no capture".into(),
        0 => "clean".into(),
        1 => format!("1 violation ({})", c.rules_fired.join(", ")),
        n => format!(
            "{} ({})",
            handshake_core::words::count(n as u64, "violation"),
            c.rules_fired.join(", ")
        ),
    }
}

/// The inputs of the HTML page for an interop run.
pub fn html_index<F: InteropFamily>(outcome: &Outcome<F>) -> IndexInputs {
    let s = summary(outcome);
    let verdict = if s.passed {
        format!("every cell as expected ({} cells)", s.cells)
    } else {
        format!(
            "{} of {} cells differ from the expected matrix",
            s.differ, s.cells
        )
    };
    let facts = index_facts(outcome, &s);
    let counts = counts_per_initiator(outcome);
    let paths = CountsTable {
        caption: "paths taken".into(),
        corner: "path".into(),
        columns: vec!["cells".into()],
        rows: s
            .paths
            .iter()
            .map(|(p, n)| (p.clone(), vec![n.to_string()]))
            .collect(),
        total: None,
    };
    let matrix = matrix_view(outcome);
    let sections = outcome
        .cells
        .iter()
        .map(|c| cell_section(outcome, c))
        .collect();
    IndexInputs {
        title: "handshake-harness interop matrix".into(),
        passed: s.passed,
        verdict,
        facts,
        counts: vec![counts, paths],
        matrix: Some(matrix),
        grid: None,
        sections_heading: "Cells".into(),
        sections,
        files: vec![
            Link::new("matrix.json", "matrix.json"),
            Link::new("matrix.md", "matrix.md"),
        ],
    }
}

/// The run's facts at the top of the page: the faults, the seed, the expectations, the family's
/// setup.
fn index_facts<F: InteropFamily>(outcome: &Outcome<F>, s: &JsonSummary) -> Vec<(String, String)> {
    let plan = &outcome.plan;
    let mut facts = vec![
        (
            "fault profile".to_owned(),
            match &plan.faults.description {
                Some(d) => format!("{} — {d}", plan.faults.name),
                None => plan.faults.name.clone(),
            },
        ),
        ("seed".to_owned(), plan.seed.to_string()),
        (
            "expected matrix".to_owned(),
            plan.expected_path.display().to_string(),
        ),
    ];
    facts.extend(F::setup_facts(&crate::run::cell_scenario(
        plan,
        "",
        "",
        handshake_scenario::Role::Responder,
        None,
    )));
    if s.no_expectation > 0 {
        facts.push((
            "without expectation".to_owned(),
            format!("{} cells (cmd: peers without @PROFILE)", s.no_expectation),
        ));
    }
    facts
}

/// Counts per initiator: as expected, differ, without expectation.
fn counts_per_initiator<F: InteropFamily>(outcome: &Outcome<F>) -> CountsTable {
    let plan = &outcome.plan;
    const STATUSES: [(&str, &str); 4] = [
        ("as_expected", "as expected"),
        ("differs", "differ"),
        ("no_expectation", "no expectation"),
        ("deviates", "deviate"),
    ];
    let per = |i: Option<usize>| -> [usize; 4] {
        STATUSES.map(|(status, _)| {
            outcome
                .cells
                .iter()
                .filter(|c| i.is_none_or(|i| c.initiator == i) && c.status() == status)
                .count()
        })
    };
    // The deviations' column only where a cell deviates.
    let shown = if per(None)[3] > 0 { 4 } else { 3 };
    let row = |n: [usize; 4]| -> Vec<String> {
        n.iter()
            .take(shown)
            .map(ToString::to_string)
            .chain([n.iter().sum::<usize>().to_string()])
            .collect()
    };
    let rows = plan
        .initiators
        .iter()
        .enumerate()
        .map(|(i, p)| (p.name.clone(), row(per(Some(i)))))
        .collect();
    CountsTable {
        caption: format!("cells per {}", F::VOCABULARY.role_names.0),
        corner: F::VOCABULARY.role_names.0.into(),
        columns: STATUSES
            .iter()
            .take(shown)
            .map(|(_, label)| (*label).to_owned())
            .chain(["total".to_owned()])
            .collect(),
        rows,
        total: Some(("total".into(), row(per(None)))),
    }
}

/// The anchor of a cell's section.
fn cell_anchor<F: InteropFamily>(c: &Cell<F>) -> String {
    format!("c{}-{}", c.initiator + 1, c.responder + 1)
}

/// The matrix of cells, each linking to its section.
fn matrix_view<F: InteropFamily>(outcome: &Outcome<F>) -> MatrixView {
    let plan = &outcome.plan;
    let peers: Vec<&Peer> = plan.initiators.iter().chain(&plan.responders).collect();
    MatrixView {
        caption: format!(
            "rows: {}s, columns: {}s; faults `{}`, seed {}",
            F::VOCABULARY.role_names.0,
            F::VOCABULARY.role_names.1,
            plan.faults.name,
            plan.seed
        ),
        initiators: plan.initiators.iter().map(|p| p.name.clone()).collect(),
        responders: plan.responders.iter().map(|p| p.name.clone()).collect(),
        cells: outcome
            .cells
            .iter()
            .map(|c| MatrixCell {
                initiator: name(&plan.initiators, c.initiator).to_owned(),
                responder: name(&plan.responders, c.responder).to_owned(),
                path: c.seen.path(),
                summary: c.seen.summary(),
                detail: c.seen.detail(),
                expected: c.expected.as_ref().map(|e| e.fields.short()),
                differs: c.mismatch.is_some(),
                mismatch: c.mismatch.clone(),
                checker: checker_short(c),
                capture: outcome.capture_file(c),
                anchor: Some(cell_anchor(c)),
            })
            .collect(),
        notes: command_notes(&peers, str::to_owned)
            .into_iter()
            .map(|n| n.replace(" (no expectation: give cmd@PROFILE:… to compare)", ""))
            .collect(),
        paths: F::PATHS.iter().map(|p| (*p).to_owned()).collect(),
    }
}

/// A cell's section: its facts, why it differs, its ladder and its violations.
fn cell_section<F: InteropFamily>(outcome: &Outcome<F>, c: &Cell<F>) -> Section {
    let plan = &outcome.plan;
    let (i, r) = (
        name(&plan.initiators, c.initiator),
        name(&plan.responders, c.responder),
    );
    let facts = cell_facts(c);
    let mut reasons = Vec::new();
    if let Some(m) = &c.mismatch {
        reasons.push(format!("differs: {m}"));
    }
    if let Some(d) = &c.deviation {
        reasons.push(format!("deviates from this project's reading: {d}"));
    }
    reasons.extend(c.notes.iter().cloned());
    let mut marks: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for v in &c.violations {
        let rules = marks.entry(v.packet).or_default();
        if !rules.iter().any(|x| x == v.rule) {
            rules.push(v.rule.to_owned());
        }
    }
    let path = c.seen.path();
    Section {
        anchor: cell_anchor(c),
        heading: format!("{i} × {r}"),
        context: match c.status() {
            "differs" => "differs from the expected matrix".into(),
            "deviates" => "deviates from a profile decision of the expected matrix".into(),
            "no_expectation" => "no expectation".into(),
            _ => "as expected".into(),
        },
        subtitle: c
            .expected
            .as_ref()
            .map(|e| e.why.clone())
            .unwrap_or_default(),
        badge_class: if F::PATHS.contains(&path.as_str()) {
            html::path_class(&path)
        } else {
            "p-other".to_owned()
        },
        badge: path,
        open: c.mismatch.is_some(),
        facts,
        reasons,
        consequences: Vec::new(),
        deviations: Vec::new(),
        capture: c.capture.clone(),
        ladder: LadderOptions {
            role_names: Some((
                format!("{} {i}", F::VOCABULARY.role_names.0),
                format!("{} {r}", F::VOCABULARY.role_names.1),
            )),
            violations: marks,
            describe: Some(F::describe_datagram),
            ..LadderOptions::default()
        },
        violations: c
            .violations
            .iter()
            .map(|v| ViolationRow {
                packet: Some(v.packet),
                at_ms: Some(ms_since_epoch(v.time_ns)),
                rule: v.rule.to_owned(),
                count: None,
                detail: v.detail.clone(),
                statement: v.statement.to_owned(),
            })
            .collect(),
        links: outcome
            .capture_file(c)
            .map(|f| vec![Link::new("pcapng", f)])
            .unwrap_or_default(),
    }
}

/// A cell's facts: the family's, the checker's, the expectation and the capture's viewpoint.
fn cell_facts<F: InteropFamily>(c: &Cell<F>) -> Vec<(String, String)> {
    let mut facts = c.seen.facts();
    facts.insert(
        facts.len().min(3),
        (
            "checker".to_owned(),
            format!(
                "{} (wire path {})",
                checker_short(c),
                c.checker_path.as_deref().unwrap_or("—")
            ),
        ),
    );
    match &c.expected {
        Some(e) => facts.push(("expected".to_owned(), e.fields.long())),
        None => facts.push(("expected".to_owned(), "no expectation".to_owned())),
    }
    facts.push((
        "capture".to_owned(),
        format!(
            "as the {} saw it{}",
            c.viewpoint,
            if c.real_time {
                ", real time"
            } else {
                ", virtual time"
            }
        ),
    ));
    facts
}

/// Writes `matrix.json`, `matrix.md`, `index.html` and `cells/<initiator>__<responder>.pcapng`
/// into `dir` (replacing an earlier report there; a directory of anything else is refused); returns
/// every path written.
pub fn write_report<F: InteropFamily>(
    dir: &Path,
    outcome: &Outcome<F>,
) -> std::io::Result<Vec<PathBuf>> {
    let io = |p: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
    };
    // A directory an earlier report left is replaced, never mixed into.
    handshake_report::prepare_report_dir(dir)?;
    let cells = dir.join("cells");
    std::fs::create_dir_all(&cells).map_err(|e| io(&cells, e))?;
    let mut written = Vec::new();
    for c in &outcome.cells {
        if let Some(f) = outcome.capture_file(c) {
            let path = f.split('/').fold(dir.to_path_buf(), |p, part| p.join(part));
            std::fs::write(&path, &c.capture).map_err(|e| io(&path, e))?;
            if !c.responder_capture.is_empty() {
                // Two programs: the responder's view too, beside the initiator's.
                let other = path.with_extension("responder.pcapng");
                std::fs::write(&other, &c.responder_capture).map_err(|e| io(&other, e))?;
                written.push(other);
            }
            written.push(path);
        }
    }
    for (file, text) in [
        ("matrix.json", matrix_json(outcome)),
        ("matrix.md", matrix_markdown(outcome)),
        (html::INDEX_FILE, html::render(&html_index(outcome))),
    ] {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
