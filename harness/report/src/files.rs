//! Report files: per-result transcripts and captures, `junit.xml`, `results.json`, `summary.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use handshake_scenario::results::{ResultEntry, RunReport, Status, Summary, RESULTS_VERSION};
use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

/// Name of the JUnit file in the report directory.
pub const JUNIT_FILE: &str = "junit.xml";
/// Name of the machine-readable results file in the report directory.
pub const RESULTS_FILE: &str = "results.json";
/// Name of the Markdown summary in the report directory.
pub const SUMMARY_FILE: &str = "summary.md";

/// Longest file-name component a slug may produce (leaves room for suffixes under the usual 255).
const MAX_SLUG: usize = 120;
/// Longest reason shown in a `summary.md` table cell.
const MAX_CELL: usize = 300;

/// A file-name-safe form of `name`: every character outside `[A-Za-z0-9._-]` becomes `_`
/// (`ref:3way+optimistic start` → `ref_3way_optimistic_start`). Never empty, never `.` or `..`,
/// at most 120 characters.
pub fn slug(name: &str) -> String {
    let s: String = name
        .chars()
        .take(MAX_SLUG)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.chars().all(|c| c == '.') {
        "_".repeat(s.len().max(1))
    } else {
        s
    }
}

/// Where one result's files go, relative to the report directory (`/`-separated, as linked from
/// `summary.md` and recorded in `results.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResultFiles {
    /// The IUT's directory (its slug, made unique among the run's IUTs).
    pub iut_dir: String,
    /// `<iut-slug>/<scenario-id>[.rN].transcript.txt`.
    pub transcript: String,
    /// `<iut-slug>/<scenario-id>[.rN].pcapng`; `None` when the capture is empty (nothing written).
    pub capture: Option<String>,
}

/// Claims `base` (or `base-2`, `base-3` … when taken) in `used`, case-insensitively so that the
/// layout also holds on case-insensitive file systems.
fn claim(base: String, used: &mut BTreeSet<String>) -> String {
    let mut candidate = base.clone();
    let mut n = 1u32;
    while !used.insert(candidate.to_ascii_lowercase()) {
        n += 1;
        candidate = format!("{base}-{n}");
    }
    candidate
}

/// The file layout of a report, one entry per result (same order as `report.results`).
///
/// IUT directories are slugs of the IUT names, assigned in name order; two IUTs whose slugs
/// collide (`ref:3way`, `ref_3way`) get `ref_3way` and `ref_3way-2`. Likewise for scenario ids
/// within an IUT directory, in result order.
pub fn result_files(report: &RunReport) -> Vec<ResultFiles> {
    let keys: Vec<ResultKey<'_>> = report
        .results
        .iter()
        .map(|r| ResultKey {
            iut: &r.outcome.iut,
            scenario: &r.outcome.scenario,
            repetition: r.repetition,
        })
        .collect();
    layout(&keys)
        .into_iter()
        .zip(&report.results)
        .map(|(f, r)| f.with_capture(!r.outcome.capture.is_empty()))
        .collect()
}

/// What names a result's files: its IUT, scenario and repetition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultKey<'a> {
    /// The IUT's name.
    pub iut: &'a str,
    /// The scenario id.
    pub scenario: &'a str,
    /// From 1.
    pub repetition: u32,
}

/// The layout of results known before they run (every capture assumed present).
pub fn layout(keys: &[ResultKey<'_>]) -> Vec<ResultFiles> {
    let names: BTreeSet<&str> = keys.iter().map(|k| k.iut).collect();
    let mut used_dirs: BTreeSet<String> = [JUNIT_FILE, RESULTS_FILE, SUMMARY_FILE, MARKER_FILE]
        .iter()
        .map(|f| f.to_string())
        .collect();
    let dirs: BTreeMap<&str, String> = names
        .into_iter()
        .map(|name| (name, claim(slug(name), &mut used_dirs)))
        .collect();
    let mut used_stems: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    keys.iter()
        .map(|k| {
            let dir = dirs.get(k.iut).cloned().unwrap_or_else(|| slug(k.iut));
            let mut stem = slug(k.scenario);
            if k.repetition > 1 {
                stem.push_str(&format!(".r{}", k.repetition));
            }
            let stem = claim(stem, used_stems.entry(k.iut).or_default());
            ResultFiles {
                transcript: format!("{dir}/{stem}.transcript.txt"),
                capture: Some(format!("{dir}/{stem}.pcapng")),
                iut_dir: dir,
            }
        })
        .collect()
}

impl ResultFiles {
    fn with_capture(mut self, present: bool) -> ResultFiles {
        if !present {
            self.capture = None;
        }
        self
    }
}

/// The file that marks a directory as a harness report (so a later run may replace it).
pub const MARKER_FILE: &str = ".handshake-report";

/// A report directory written while a run goes on: each result's transcript and capture as soon
/// as it finishes (so an interrupted or killed run keeps them), the aggregate reports at the end.
#[derive(Debug)]
pub struct ReportDir {
    dir: PathBuf,
    layout: Vec<ResultFiles>,
}

impl ReportDir {
    /// Prepares `dir` for a run whose results are `keys`, in report order. A directory an earlier
    /// report left (it holds [`MARKER_FILE`]) is emptied first, so no stale result survives; an
    /// existing directory with other contents is refused rather than mixed into.
    pub fn create(dir: &Path, keys: &[ResultKey<'_>]) -> io::Result<ReportDir> {
        prepare_report_dir(dir)?;
        Ok(ReportDir {
            dir: dir.to_path_buf(),
            layout: layout(keys),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes one finished result's transcript and capture (`index` in report order).
    pub fn write_result(&self, index: usize, entry: &ResultEntry) -> io::Result<()> {
        let Some(f) = self.layout.get(index) else {
            return Ok(());
        };
        create_dir(&self.dir.join(&f.iut_dir))?;
        write_file(
            &under(&self.dir, &f.transcript),
            entry.outcome.render().as_bytes(),
        )?;
        if let (Some(capture), false) = (&f.capture, entry.outcome.capture.is_empty()) {
            write_file(&under(&self.dir, capture), &entry.outcome.capture)?;
        }
        Ok(())
    }
}

/// Empties a report directory of an earlier run, or creates it; refuses a directory that is not
/// a report's (see [`ReportDir::create`]).
pub fn prepare_report_dir(dir: &Path) -> io::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                if !dir.join(MARKER_FILE).is_file() {
                    return Err(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        format!(
                            "{} exists and is not a report directory written by the harness (no {MARKER_FILE}): remove it or choose another",
                            dir.display()
                        ),
                    ));
                }
                std::fs::remove_dir_all(dir)
                    .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
    }
    create_dir(dir)?;
    write_file(
        &dir.join(MARKER_FILE),
        b"Written by handshake-harness; the next run with this --report directory replaces it.\n",
    )
}

/// The files [`write_reports`] wrote (full paths: the directory joined with the relative ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportFiles {
    /// `junit.xml`.
    pub junit: PathBuf,
    /// `results.json`.
    pub results_json: PathBuf,
    /// `summary.md`.
    pub summary_md: PathBuf,
    /// One transcript per result, in result order.
    pub transcripts: Vec<PathBuf>,
    /// One capture per result with a non-empty capture, in result order.
    pub captures: Vec<PathBuf>,
}

impl ReportFiles {
    /// Every path written: transcripts and captures per result, then the three reports.
    pub fn all(&self) -> Vec<&Path> {
        let mut all: Vec<&Path> = self
            .transcripts
            .iter()
            .chain(&self.captures)
            .map(PathBuf::as_path)
            .collect();
        all.extend([
            self.junit.as_path(),
            self.results_json.as_path(),
            self.summary_md.as_path(),
        ]);
        all
    }
}

fn under(dir: &Path, relative: &str) -> PathBuf {
    relative
        .split('/')
        .fold(dir.to_path_buf(), |p, c| p.join(c))
}

fn write_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    std::fs::write(path, contents)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn create_dir(path: &Path) -> io::Result<()> {
    std::fs::create_dir_all(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Writes a run's reports into `dir` (created if missing):
///
/// - per result, `<iut-slug>/<scenario-id>[.rN].transcript.txt` (the outcome's
///   `render`) and `<iut-slug>/<scenario-id>[.rN].pcapng` (the
///   capture, when not empty) — see [`result_files`];
/// - `junit.xml` ([`junit_xml`]), `results.json` ([`results_json`]) and `summary.md`
///   ([`summary_markdown`]).
///
/// The output is a function of `report` alone. The directory is not emptied here (see
/// [`ReportDir::create`]). I/O errors name the path.
pub fn write_reports(dir: &Path, report: &RunReport) -> io::Result<ReportFiles> {
    create_dir(dir)?;
    let layout = result_files(report);
    let mut files = ReportFiles {
        junit: dir.join(JUNIT_FILE),
        results_json: dir.join(RESULTS_FILE),
        summary_md: dir.join(SUMMARY_FILE),
        transcripts: Vec::with_capacity(layout.len()),
        captures: Vec::new(),
    };
    let mut made: BTreeSet<&str> = BTreeSet::new();
    for (r, f) in report.results.iter().zip(&layout) {
        if made.insert(f.iut_dir.as_str()) {
            create_dir(&dir.join(&f.iut_dir))?;
        }
        let transcript = under(dir, &f.transcript);
        write_file(&transcript, r.outcome.render().as_bytes())?;
        files.transcripts.push(transcript);
        if let Some(capture) = &f.capture {
            let capture = under(dir, capture);
            write_file(&capture, &r.outcome.capture)?;
            files.captures.push(capture);
        }
    }
    write_file(&files.junit, junit_with(report, &layout)?.as_bytes())?;
    write_file(
        &files.results_json,
        results_json_with(report, &layout)?.as_bytes(),
    )?;
    write_file(
        &files.summary_md,
        summary_markdown_with(report, &layout).as_bytes(),
    )?;
    Ok(files)
}

// --- junit.xml --------------------------------------------------------------------------------

/// The JUnit XML report: one `<testsuite>` per IUT (in name order), one `<testcase>` per result
/// (name = scenario id, `.rN` appended for repetitions after the first; classname =
/// `<family>.<iut-slug>`, e.g. `mediastream.ref-3way`; time = the duration in seconds).
///
/// pass → success; fail → `<failure type="fail">`; xpass → `<failure type="xpass">` ("passed but
/// expected to fail: …"); error → `<error>`; xfail and unsupported → `<skipped>` ("expected
/// failure: …" / "unsupported: …"). Failures carry the outcome's rendering as `<system-out>`; every
/// case has a `seed` property (and `repetition`, `transcript`, `capture` where they apply). No
/// timestamps, UUIDs or host names.
pub fn junit_xml(report: &RunReport) -> io::Result<String> {
    junit_with(report, &result_files(report))
}

fn one_line(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|l| !l.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The reasons on one line, cause first: `CAUSE; then: CONSEQUENCE; CONSEQUENCE`.
fn joined_reasons(r: &ResultEntry) -> Option<String> {
    let one_lines = |reasons: &[String]| -> Vec<String> {
        reasons
            .iter()
            .map(|s| one_line(s))
            .filter(|s| !s.is_empty())
            .collect()
    };
    let (causes, consequences) = r.outcome.causes_and_consequences();
    let mut joined = one_lines(causes).join("; ");
    let consequences = one_lines(consequences);
    if !consequences.is_empty() {
        if !joined.is_empty() {
            joined.push_str("; ");
        }
        joined.push_str("then: ");
        joined.push_str(&consequences.join("; "));
    }
    (!joined.is_empty()).then_some(joined)
}

fn junit_time(ms: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(ms / 1000.0).ok()
}

fn junit_case(r: &ResultEntry, f: &ResultFiles) -> TestCase {
    let reasons = joined_reasons(r);
    let description = r.outcome.reason_lines("").join("\n");
    let (mut status, message, ty) = match r.status {
        Status::Pass => (TestCaseStatus::success(), None, None),
        Status::Fail => (
            TestCaseStatus::non_success(NonSuccessKind::Failure),
            Some(reasons.unwrap_or_else(|| "failed".into())),
            Some("fail"),
        ),
        Status::Xpass => {
            let why = r
                .expected_failure
                .as_deref()
                .map(one_line)
                .unwrap_or_default();
            (
                TestCaseStatus::non_success(NonSuccessKind::Failure),
                Some(format!("passed but expected to fail: {why}")),
                Some("xpass"),
            )
        }
        Status::Error => (
            TestCaseStatus::non_success(NonSuccessKind::Error),
            Some(reasons.unwrap_or_else(|| "could not be run".into())),
            Some("error"),
        ),
        Status::Xfail => {
            let why = r
                .expected_failure
                .as_deref()
                .map(one_line)
                .or(reasons)
                .unwrap_or_default();
            (
                TestCaseStatus::skipped(),
                Some(format!("expected failure: {why}")),
                Some("xfail"),
            )
        }
        Status::Unsupported => (
            TestCaseStatus::skipped(),
            Some(format!("unsupported: {}", reasons.unwrap_or_default())),
            Some("unsupported"),
        ),
        Status::Deviation => (
            TestCaseStatus::success(),
            Some(format!(
                "deviates from a profile decision (not a fact): {}",
                r.outcome.deviations.join("; ")
            )),
            Some("deviation"),
        ),
        Status::Interrupted => (
            TestCaseStatus::skipped(),
            Some(format!("interrupted: {}", reasons.unwrap_or_default())),
            Some("interrupted"),
        ),
    };
    if let Some(message) = message {
        status.set_message(message);
    }
    if let Some(ty) = ty {
        status.set_type(ty);
    }
    if r.status == Status::Xpass {
        if let Some(why) = &r.expected_failure {
            status.set_description(format!("expected to fail: {why}"));
        }
    } else if !description.is_empty() {
        status.set_description(description);
    }
    let name = if r.repetition > 1 {
        format!("{}.r{}", r.outcome.scenario, r.repetition)
    } else {
        r.outcome.scenario.clone()
    };
    let mut case = TestCase::new(name, status);
    case.set_classname(format!("{}.{}", r.outcome.protocol, f.iut_dir));
    if let Some(time) = junit_time(r.duration_ms) {
        case.set_time(time);
    }
    case.add_property(Property::new("seed", r.seed.to_string()));
    if r.repetition > 1 {
        case.add_property(Property::new("repetition", r.repetition.to_string()));
    }
    case.add_property(Property::new("transcript", f.transcript.as_str()));
    if let Some(capture) = &f.capture {
        case.add_property(Property::new("capture", capture.as_str()));
    }
    if r.status.fails_run() || r.status == Status::Deviation {
        case.set_system_out(r.outcome.render());
    }
    case
}

fn junit_with(report: &RunReport, layout: &[ResultFiles]) -> io::Result<String> {
    let mut suites: BTreeMap<&str, (TestSuite, Duration)> = BTreeMap::new();
    for (r, f) in report.results.iter().zip(layout) {
        let (suite, time) = suites
            .entry(r.outcome.iut.as_str())
            .or_insert_with(|| (TestSuite::new(r.outcome.iut.as_str()), Duration::ZERO));
        *time = time.saturating_add(junit_time(r.duration_ms).unwrap_or_default());
        suite.add_test_case(junit_case(r, f));
    }
    let mut junit = quick_junit::Report::new("handshake-harness");
    let mut total = Duration::ZERO;
    for (_, (mut suite, time)) in suites {
        suite.set_time(time);
        suite.add_property(Property::new("seed", report.seed.to_string()));
        if let Some(partition) = &report.partition {
            suite.add_property(Property::new("partition", partition.as_str()));
        }
        total = total.saturating_add(time);
        junit.add_test_suite(suite);
    }
    junit.set_time(total);
    let mut xml = junit.to_string().map_err(io::Error::other)?;
    if !xml.ends_with('\n') {
        xml.push('\n');
    }
    Ok(xml)
}

// --- results.json -----------------------------------------------------------------------------

/// `results.json`: the [`RunReport`] as serialized (with `"version": RESULTS_VERSION`), each result
/// given a `"files"` object ([`ResultFiles`] paths relative to the report directory), and a
/// top-level `"summary"` ([`Summary`]). Pretty-printed, keys in serde_json's map order.
pub fn results_json(report: &RunReport) -> io::Result<String> {
    results_json_with(report, &result_files(report))
}

fn results_json_with(report: &RunReport, layout: &[ResultFiles]) -> io::Result<String> {
    let invalid = |e: serde_json::Error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("serializing the results: {e}"),
        )
    };
    let mut value = serde_json::to_value(report).map_err(invalid)?;
    if let Some(top) = value.as_object_mut() {
        top.insert("version".into(), RESULTS_VERSION.into());
        top.insert(
            "summary".into(),
            serde_json::to_value(report.summary()).map_err(invalid)?,
        );
        if let Some(results) = top
            .get_mut("results")
            .and_then(serde_json::Value::as_array_mut)
        {
            for (entry, f) in results.iter_mut().zip(layout) {
                if let Some(entry) = entry.as_object_mut() {
                    entry.insert("files".into(), serde_json::to_value(f).map_err(invalid)?);
                }
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&value).map_err(invalid)?;
    text.push('\n');
    Ok(text)
}

// --- summary.md -------------------------------------------------------------------------------

/// `summary.md`, for a CI job to post: a title with the verdict, a counts table per IUT, a table
/// of every result that did not pass (with its first reason and links to its files), and a
/// scenario × IUT matrix of status marks linking to the transcripts, with a legend. Links are
/// relative to the report directory.
pub fn summary_markdown(report: &RunReport) -> String {
    summary_markdown_with(report, &result_files(report))
}

/// Text for a table cell: one line, pipes and backslashes escaped, no raw HTML, at most `max`
/// characters.
fn md_text(s: &str, max: usize) -> String {
    let line = one_line(s);
    let mut out = String::with_capacity(line.len());
    for (i, c) in line.chars().enumerate() {
        if i == max {
            out.push('\u{2026}');
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '|' => out.push_str("\\|"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// An identifier as inline code, safe in a table cell.
fn md_code(s: &str) -> String {
    format!("`{}`", one_line(s).replace('`', "'").replace('|', "\\|"))
}

fn first_reason(r: &ResultEntry) -> String {
    let first = r.outcome.reasons.iter().find(|s| !s.trim().is_empty());
    match (r.status, first, &r.expected_failure) {
        (Status::Xpass, _, Some(why)) => format!("passed but expected to fail: {why}"),
        (Status::Xpass, _, None) => "passed but expected to fail".into(),
        (_, Some(first), _) => first.clone(),
        (Status::Xfail, None, Some(why)) => format!("expected failure: {why}"),
        (Status::Deviation, _, _) => r.outcome.deviations.first().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

fn links(f: &ResultFiles) -> String {
    let mut s = format!("[transcript]({})", f.transcript);
    if let Some(capture) = &f.capture {
        s.push_str(&format!(" \u{b7} [pcapng]({capture})"));
    }
    s
}

fn summary_markdown_with(report: &RunReport, layout: &[ResultFiles]) -> String {
    let summary = report.summary();
    let mut md = String::new();
    push_verdict(&mut md, report, &summary);
    let per_iut = push_counts_per_iut(&mut md, report, &summary);
    push_not_passing(&mut md, report, layout);
    push_scenarios(&mut md, report, layout, &per_iut);
    md
}

/// The title with the verdict, and the counts per status, the seed and the partition.
fn push_verdict(md: &mut String, report: &RunReport, summary: &Summary) {
    let verdict = if summary.passed {
        format!("{} passed", Status::Pass.mark())
    } else if report.interrupted() {
        format!("{} interrupted", Status::Interrupted.mark())
    } else if report.failed() {
        format!("{} failed", Status::Fail.mark())
    } else {
        format!(
            "{} nothing was tested (every result unsupported)",
            Status::Xpass.mark()
        )
    };
    md.push_str(&format!("# handshake-harness scenarios: {verdict}\n\n"));
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|s| format!("{} {}", summary.count(*s), s.name()))
        .collect();
    md.push_str(&format!(
        "{} results ({}); seed {}",
        summary.total,
        counts.join(", "),
        report.seed
    ));
    if let Some(partition) = &report.partition {
        md.push_str(&format!("; partition {}", md_text(partition, MAX_CELL)));
    }
    md.push_str(".\n\n");
}

/// The counts per IUT; returns them (the IUTs are the scenario matrix's columns).
fn push_counts_per_iut<'a>(
    md: &mut String,
    report: &'a RunReport,
    summary: &Summary,
) -> BTreeMap<&'a str, Summary> {
    let mut per_iut: BTreeMap<&str, Summary> = BTreeMap::new();
    for r in &report.results {
        per_iut
            .entry(r.outcome.iut.as_str())
            .or_default()
            .add(r.status);
    }
    let header: Vec<&str> = Status::ALL.iter().map(|s| s.name()).collect();
    md.push_str("## Counts per IUT\n\n");
    md.push_str(&format!(
        "| IUT | {} |\n|---|{}\n",
        header.join(" | "),
        "---:|".repeat(header.len())
    ));
    let row = |name: String, s: &Summary| {
        format!(
            "| {name} | {} |\n",
            Status::ALL
                .iter()
                .map(|st| s.count(*st).to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        )
    };
    for (iut, s) in &per_iut {
        md.push_str(&row(md_code(iut), s));
    }
    md.push_str(&row("**total**".into(), summary));
    md.push('\n');
    per_iut
}

/// The results that did not pass, with their first reason and files.
fn push_not_passing(md: &mut String, report: &RunReport, layout: &[ResultFiles]) {
    md.push_str("## Not passing\n\n");
    let not_passing: Vec<(&ResultEntry, &ResultFiles)> = report
        .results
        .iter()
        .zip(layout)
        .filter(|(r, _)| r.status != Status::Pass)
        .collect();
    if not_passing.is_empty() {
        md.push_str("Every result passed.\n\n");
    } else {
        md.push_str("| Scenario | IUT | Status | Reason | Files |\n|---|---|---|---|---|\n");
        for (r, f) in not_passing {
            let rep = if r.repetition > 1 {
                format!(" (r{})", r.repetition)
            } else {
                String::new()
            };
            md.push_str(&format!(
                "| {}{rep} | {} | {} {} | {} | {} |\n",
                md_code(&r.outcome.scenario),
                md_code(&r.outcome.iut),
                r.status.mark(),
                r.status.name(),
                md_text(&first_reason(r), MAX_CELL),
                links(f)
            ));
        }
        md.push('\n');
    }
}

/// The scenario × IUT matrix (the IUTs of `per_iut` are its columns) and its legend.
fn push_scenarios(
    md: &mut String,
    report: &RunReport,
    layout: &[ResultFiles],
    per_iut: &BTreeMap<&str, Summary>,
) {
    type Cells<'a> = BTreeMap<&'a str, Vec<(&'a ResultEntry, &'a ResultFiles)>>;
    let mut rows: BTreeMap<&str, (&str, Cells<'_>)> = BTreeMap::new();
    for (r, f) in report.results.iter().zip(layout) {
        let (_, cells) = rows
            .entry(r.outcome.scenario.as_str())
            .or_insert_with(|| (r.outcome.title.as_str(), BTreeMap::new()));
        cells
            .entry(r.outcome.iut.as_str())
            .or_default()
            .push((r, f));
    }
    md.push_str("## Scenarios\n\n");
    if rows.is_empty() {
        md.push_str("No results.\n");
        return;
    }
    md.push_str(&format!(
        "| Scenario | Title | {} |\n|---|---|{}\n",
        per_iut
            .keys()
            .map(|iut| md_code(iut))
            .collect::<Vec<_>>()
            .join(" | "),
        ":---:|".repeat(per_iut.len())
    ));
    for (scenario, (title, cells)) in &rows {
        let marks: Vec<String> = per_iut
            .keys()
            .map(|iut| {
                let Some(runs) = cells.get(iut) else {
                    return String::new();
                };
                runs.iter()
                    .map(|(r, f)| {
                        let mut cell = format!("[{}]({})", r.status.mark(), f.transcript);
                        if let Some(capture) = &f.capture {
                            cell.push_str(&format!("<sup>[pcap]({capture})</sup>"));
                        }
                        cell
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        md.push_str(&format!(
            "| {} | {} | {} |\n",
            md_code(scenario),
            md_text(title, MAX_CELL),
            marks.join(" | ")
        ));
    }
    md.push('\n');
    let legend: Vec<String> = Status::ALL
        .iter()
        .map(|s| {
            let meaning = match s {
                Status::Pass => "pass",
                Status::Fail => "fail",
                Status::Xfail => "xfail (failed as expected)",
                Status::Xpass => "xpass (passed, but expected to fail)",
                Status::Deviation => "deviation (passed the facts, not a profile decision)",
                Status::Unsupported => "unsupported (not run)",
                Status::Error => "error (could not run)",
                Status::Interrupted => "interrupted",
            };
            format!("{} {meaning}", s.mark())
        })
        .collect();
    md.push_str(&format!(
        "Legend: {}. Each mark links to the transcript, `pcap` to the capture; one mark per repetition; a blank cell was not run.\n",
        legend.join(" \u{b7} ")
    ));
}
