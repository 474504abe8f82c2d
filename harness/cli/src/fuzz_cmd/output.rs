//! What `harness fuzz` says and writes as the campaign goes: the progress bar, the verdicts it
//! dropped, and each finding — its scenario, the input as drawn and a capture, written as soon as
//! it is found — gathered for the report.

use std::io::Write;
use std::path::{Path, PathBuf};

use handshake_netfuzz::campaign::{self, with_steps, Dropped, Observer, Progress};
use handshake_netfuzz::corpus::CorpusError;
use handshake_scenario::interrupt;
use serde_json::Value;

use handshake_netfuzz_exec::{Finding, Runner};

/// Real-time verdicts of one kind that did not show again on a fresh process, shown before the
/// rest are only counted: under load a kept responder misses a probe now and then. (They no
/// longer stop a kind from being confirmed: the jobs confirm in parallel, and after forty such
/// drops — a minute of 16 jobs against the Python Dark Tower controller — a real hang was never
/// looked at again.)
const UNCONFIRMED_SHOWN_PER_KIND: usize = 10;

/// The campaign's observer: the terminal (a progress bar when stderr is one, else lines on
/// `out`) and the findings' files.
pub(super) struct Terminal<'a> {
    runner: &'a Runner<'a>,
    bar: Option<&'a indicatif::ProgressBar>,
    out: &'a mut dyn Write,
    family: &'a str,
    findings_dir: PathBuf,
    findings: Vec<Finding>,
}

impl<'a> Terminal<'a> {
    /// Says lines on `bar` (or `out`) and writes findings into `findings_dir`.
    pub(super) fn new(
        runner: &'a Runner<'a>,
        bar: Option<&'a indicatif::ProgressBar>,
        out: &'a mut dyn Write,
        family: &'a str,
        findings_dir: PathBuf,
    ) -> Self {
        Terminal {
            runner,
            bar,
            out,
            family,
            findings_dir,
            findings: Vec::new(),
        }
    }

    /// The findings, as the report lists them.
    pub(super) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    fn say(&mut self, line: &str) {
        match self.bar {
            Some(bar) => bar.println(line),
            None => {
                let _ = writeln!(self.out, "{line}");
            }
        }
    }
}

impl Observer for Terminal<'_> {
    fn progress(&mut self, p: &Progress) {
        if let Some(bar) = self.bar {
            bar.set_message(format!(
                "{} execs ({:.0}/s), {} paths, corpus {}, {} findings",
                p.execs,
                p.execs as f64 / p.seconds.max(1e-3),
                p.paths,
                p.corpus,
                p.findings
            ));
        }
    }

    fn unconfirmed(&mut self, dropped: &Dropped<'_>, so_far: usize) {
        let Dropped {
            kind,
            detail,
            at_exec: execs,
        } = dropped;
        if so_far <= UNCONFIRMED_SHOWN_PER_KIND {
            let more = if so_far == UNCONFIRMED_SHOWN_PER_KIND {
                " (further ones of this kind are not shown)"
            } else {
                ""
            };
            self.say(&format!(
                "not reproducible, dropped: {kind} at exec {execs}: {detail}{more}"
            ));
        }
    }

    fn not_reproducible(&mut self, dropped: &Dropped<'_>, again: usize, repeats: usize) {
        let Dropped {
            kind,
            detail,
            at_exec: execs,
        } = dropped;
        self.say(&format!(
            "not reproducible once minimised ({again}/{repeats}), dropped: {kind} at exec {execs}: {detail}"
        ));
    }

    fn finding(&mut self, n: usize, f: &campaign::Finding) {
        let (scenario, capture, input) = write_finding(
            self.runner,
            &self.findings_dir,
            self.family,
            n,
            &f.input,
            &f.steps,
            &f.kind,
        );
        let found = Finding {
            kind: f.kind.clone(),
            scenario,
            capture,
            input,
            steps_before: f.steps_before,
            steps_after: f.steps_after,
            bytes_before: f.bytes_before,
            bytes_after: f.bytes_after,
            first_at_exec: f.first_at_exec,
            first_at_seconds: f.first_at_seconds,
            replayed: f.replayed,
            blamed_among: f.blamed_among,
            steps: f.steps.clone(),
            detail: f.detail.clone(),
        };
        self.say(&format!(
            "finding {n}: {} after {} execs ({:.1} s){}, minimised from {} to {} steps: {}",
            f.kind,
            f.first_at_exec,
            f.first_at_seconds,
            found.how_found(),
            f.steps_before,
            f.steps_after,
            found.scenario,
        ));
        self.findings.push(found);
    }

    fn corpus_error(&mut self, error: &CorpusError) {
        eprintln!("warning: corpus: {error}");
    }

    fn interrupted(&mut self) -> bool {
        interrupt::interrupted().is_some()
    }
}

/// Writes a finding's scenario (the minimised input with the probe, as `harness run` replays it)
/// and the capture of running it: their paths.
fn write_finding(
    runner: &Runner<'_>,
    dir: &Path,
    family: &str,
    n: usize,
    base: &Value,
    minimal: &[Value],
    kind: &str,
) -> (String, String, String) {
    let (mut scenario, _) = runner.probed_with(&with_steps(base, minimal.to_vec()), true);
    let stem = format!("finding-{n}-{}", kind.replace([':', '+', '.'], "_"));
    scenario["id"] = Value::from(format!("fuzz.{family}.{stem}"));
    scenario["title"] = Value::from(format!("harness fuzz finding {n}: {kind}"));
    scenario["tags"] = serde_json::json!(["fuzz"]);
    // The oracle: the rules the finding broke (not every rule: the reference may break some on
    // this input too), the probe's answer, and the IUT still running at the end.
    scenario["expect"] = match kind.strip_prefix("rule:") {
        Some(rules) => serde_json::json!({ "rules_hold": rules.split('+').collect::<Vec<_>>() }),
        None => serde_json::json!({ "rules_hold": [] }),
    };
    let _ = std::fs::create_dir_all(dir);
    let scenario_path = dir.join(format!("{stem}.json"));
    let capture_path = dir.join(format!("{stem}.pcapng"));
    // The input as the search drew it, before minimisation: its context, and a corpus entry (a
    // fleet keeps its crashers in the corpus, so a bug that comes back is found by the replay).
    let input_path = dir.join(format!("{stem}.input.json"));
    for (path, value) in [(&scenario_path, &scenario), (&input_path, base)] {
        let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("error: cannot write {}: {e}", path.display());
        }
    }
    let capture = runner
        .family
        .load(Path::new("finding.json"), &scenario.to_string())
        .ok()
        .map(|l| l.run(runner.iut, runner.seed).capture);
    if let Some(bytes) = capture {
        if let Err(e) = std::fs::write(&capture_path, bytes) {
            eprintln!("error: cannot write {}: {e}", capture_path.display());
        }
    }
    (
        scenario_path.display().to_string(),
        capture_path.display().to_string(),
        input_path.display().to_string(),
    )
}
