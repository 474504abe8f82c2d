//! The fuzz run's report: `fuzz.json` (what a CI reads), `fuzz.md` and `fuzz.html` (what a person
//! reads), findings by kind with their minimised steps.

use std::io;
use std::path::Path;

use handshake_netfuzz::campaign::CampaignResult;
use serde::Serialize;

/// One finding (one bug: one kind and one minimised shape).
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub kind: String,
    /// The scenario that replays it (`harness run SCENARIO --iut …`).
    pub scenario: String,
    /// The capture of its last run.
    pub capture: String,
    /// The input as the search drew it, before minimisation (a corpus entry).
    pub input: String,
    pub steps_before: usize,
    pub steps_after: usize,
    /// Hex payload bytes before and after the byte-level minimisation.
    pub bytes_before: usize,
    pub bytes_after: usize,
    /// The execution that first showed it, and the seconds into the run.
    pub first_at_exec: u64,
    pub first_at_seconds: f64,
    /// First shown by an input of the corpus read at the start, run as it was (a regression
    /// input), not by a mutation.
    pub replayed: bool,
    /// Traced to its input by replaying this many of the inputs a kept process served lately
    /// (the crash or hang showed in another input's run on it).
    pub blamed_among: Option<usize>,
    /// The minimised steps (the input's, without the liveness probe).
    pub steps: Vec<serde_json::Value>,
    pub detail: String,
}

impl Finding {
    /// How its input was found, where that is not the usual way (a mutation, its own run).
    pub fn how_found(&self) -> String {
        match (self.replayed, self.blamed_among) {
            (true, _) => ", by an input of the corpus read, run as it was".to_owned(),
            (false, Some(n)) => format!(
                ", traced to its input by replaying on fresh processes {} its kept process served lately",
                handshake_core::words::count(n as u64, "input")
            ),
            (false, None) => String::new(),
        }
    }
}

/// Mean, median, 90th percentile and largest of some durations, s.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Spread {
    /// Against the median, what the slow tail costs.
    pub mean: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(values: &mut [f64]) -> Spread {
        if values.is_empty() {
            return Spread::default();
        }
        values.sort_by(f64::total_cmp);
        let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
        Spread {
            mean: values.iter().sum::<f64>() / values.len() as f64,
            median: at(0.5),
            p90: at(0.9),
            max: at(1.0),
        }
    }
}

/// The whole run.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub iut: String,
    pub family: String,
    pub seed: u64,
    pub jobs: usize,
    pub execs: u64,
    /// Inputs not run: the family refused them (a mutation made an invalid scenario), or the IUT
    /// cannot run them (they need what it lacks). Not counted as executions.
    pub refused: u64,
    /// Inputs whose run outgrew the step budget in virtual time: stopped, not judged, not counted.
    pub over_budget: u64,
    /// Inputs that could not be run (the IUT would not start, …): not judged, not counted.
    pub errors: u64,
    /// Why the first of them could not.
    pub first_error: Option<String>,
    pub seconds: f64,
    pub execs_per_second: f64,
    /// How long one input's run took (without the minimisation runs).
    pub run_seconds: Spread,
    pub corpus: usize,
    /// Inputs of the corpus folder read at the start, run unmutated before the search.
    pub resumed: u64,
    pub paths: usize,
    /// The states (kinds of response) and transitions the campaign reached, and the rarest.
    pub coverage: handshake_netfuzz::novelty::Coverage,
    pub probe: bool,
    pub interrupted: bool,
    pub findings: Vec<Finding>,
    /// Real-time verdicts that did not show again on a fresh process, by kind (dropped; with
    /// `--keep-iut`, mostly state a kept process carried, or a probe missed under load).
    pub unconfirmed: std::collections::BTreeMap<String, usize>,
    pub broken_corpus_files: Vec<String>,
}

/// What the fuzz command knows of its run that the campaign's result does not hold.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The IUT as given (`--iut`).
    pub iut: String,
    pub family: String,
    pub seed: u64,
    pub jobs: usize,
    /// Whether the inputs carried the family's liveness probe.
    pub probe: bool,
    /// Whether a signal stopped the run.
    pub interrupted: bool,
    /// The corpus files that are not JSON scenarios.
    pub broken_corpus_files: Vec<String>,
}

impl Summary {
    /// The run's summary, from what the campaign found and learnt and the findings as written.
    pub fn of(result: CampaignResult, findings: Vec<Finding>, run: RunInfo) -> Summary {
        let CampaignResult {
            started,
            execs,
            refused,
            over_budget,
            errors,
            first_error,
            resumed,
            corpus,
            paths,
            coverage,
            unconfirmed,
            mut run_seconds,
            ..
        } = result;
        let seconds = started.elapsed().as_secs_f64();
        Summary {
            iut: run.iut,
            family: run.family,
            seed: run.seed,
            jobs: run.jobs,
            execs,
            refused,
            over_budget,
            errors,
            first_error,
            seconds,
            execs_per_second: if seconds > 0.0 {
                execs as f64 / seconds
            } else {
                0.0
            },
            run_seconds: Spread::of(&mut run_seconds),
            corpus: corpus.len(),
            resumed,
            paths,
            coverage,
            probe: run.probe,
            interrupted: run.interrupted,
            findings,
            unconfirmed,
            broken_corpus_files: run.broken_corpus_files,
        }
    }

    /// Writes `fuzz.json`, `fuzz.md` and `fuzz.html` into `dir`.
    pub fn write(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let json = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        std::fs::write(dir.join("fuzz.json"), json + "\n")?;
        std::fs::write(dir.join("fuzz.md"), self.markdown())?;
        std::fs::write(dir.join("fuzz.html"), self.html())?;
        Ok(())
    }

    fn headline(&self) -> String {
        format!(
            "{} execs in {:.1} s ({:.0}/s){}, {} paths, corpus {}{}, {} finding{}{}{}",
            self.execs,
            self.seconds,
            self.execs_per_second,
            match self.refused {
                0 => String::new(),
                n => format!(" and {n} inputs not run (invalid, or needing what the IUT lacks)"),
            },
            self.paths,
            self.corpus,
            match self.resumed {
                0 => String::new(),
                n => format!(" ({n} read and replayed first)"),
            },
            self.findings.len(),
            if self.findings.len() == 1 { "" } else { "s" },
            match self.errors {
                0 => String::new(),
                n => format!(", {n} could not be run"),
            },
            if self.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        )
    }

    fn markdown(&self) -> String {
        let mut md = format!(
            "# harness fuzz: {} ({})\n\n{}; seed {}, {} job{}, liveness probe {}; one run took {:.3} s (median), {:.3} s (90th percentile), {:.3} s (longest).\n",
            self.iut,
            self.family,
            self.headline(),
            self.seed,
            self.jobs,
            if self.jobs == 1 { "" } else { "s" },
            if self.probe {
                "on"
            } else {
                "off (the IUT initiates)"
            },
            self.run_seconds.median,
            self.run_seconds.p90,
            self.run_seconds.max
        );
        md.push_str(&self.coverage_text());
        if !self.unconfirmed.is_empty() {
            let kinds: Vec<String> = self
                .unconfirmed
                .iter()
                .map(|(kind, n)| format!("{kind} × {n}"))
                .collect();
            md.push_str(&format!(
                "\nNot shown again on a fresh process, so dropped: {}.\n",
                kinds.join(", ")
            ));
        }
        if self.findings.is_empty() {
            md.push_str("\nNo finding.\n");
        }
        for (i, f) in self.findings.iter().enumerate() {
            md.push_str(&format!(
                "\n## {}. {}\n\nFirst at exec {} ({:.1} s){}; minimised from {} to {} steps, payload bytes {} → {}.\n\n- replay: `harness run {} --iut {}`\n- input as drawn: `{}`\n- capture: `{}`\n- why: {}\n\n```json\n{}\n```\n",
                i + 1,
                f.kind,
                f.first_at_exec,
                f.first_at_seconds,
                f.how_found(),
                f.steps_before,
                f.steps_after,
                f.bytes_before,
                f.bytes_after,
                f.scenario,
                self.iut,
                f.input,
                f.capture,
                f.detail,
                serde_json::to_string_pretty(&f.steps).unwrap_or_default()
            ));
        }
        md
    }

    /// The state coverage, and the transitions the search has barely taken.
    fn coverage_text(&self) -> String {
        let c = &self.coverage;
        let mut text = format!(
            "\nState coverage: {} kinds of response (states), {} transitions between them, {} taken by one run only.\n",
            c.states, c.transitions, c.taken_once
        );
        if !c.rarest.is_empty() {
            let rarest: Vec<String> = c
                .rarest
                .iter()
                .map(|(from, to, runs)| format!("`{from}` → `{to}` ({runs})"))
                .collect();
            text.push_str(&format!("Least taken: {}.\n", rarest.join(", ")));
        }
        text
    }

    fn html(&self) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut rows = String::new();
        for f in &self.findings {
            rows.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{} → {}</td><td>{} → {}</td><td><code>{}</code></td><td>{}</td><td><pre>{}</pre></td></tr>\n",
                esc(&f.kind),
                esc(&format!("{}{}", f.first_at_exec, f.how_found())),
                f.steps_before,
                f.steps_after,
                f.bytes_before,
                f.bytes_after,
                esc(&f.scenario),
                esc(&f.detail),
                esc(&serde_json::to_string_pretty(&f.steps).unwrap_or_default())
            ));
        }
        let body = if self.findings.is_empty() {
            "<p>No finding.</p>".to_owned()
        } else {
            format!("<table><thead><tr><th>kind</th><th>first at exec</th><th>steps</th><th>payload bytes</th><th>scenario</th><th>why</th><th>minimised steps</th></tr></thead><tbody>\n{rows}</tbody></table>")
        };
        format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>harness fuzz: {iut}</title>\n<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;vertical-align:top;text-align:left}}pre{{margin:0;font-size:.85em}}</style></head>\n<body><h1>harness fuzz: {iut} ({family})</h1>\n<p>{headline}; seed {seed}.</p>\n<p>{coverage}</p>\n{body}\n</body></html>\n",
            coverage = esc(self.coverage_text().trim()).replace('\n', "<br>"),
            iut = esc(&self.iut),
            family = esc(&self.family),
            headline = esc(&self.headline()),
            seed = self.seed,
        )
    }

    /// The one line printed at the end.
    pub fn line(&self, dir: &Path) -> String {
        format!(
            "{}; report {}",
            self.headline(),
            dir.join("fuzz.json").display()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary takes the campaign's counts as they are, the command's facts from `RunInfo`,
    /// and the corpus's size (not its inputs).
    #[test]
    fn a_summary_is_the_campaign_s_counts_and_the_run_s_facts() {
        let result = CampaignResult {
            started: std::time::Instant::now(),
            findings: Vec::new(),
            execs: 7,
            refused: 1,
            over_budget: 2,
            errors: 3,
            errors_in_a_row: 0,
            first_error: Some("no start".to_owned()),
            resumed: 4,
            corpus: vec![serde_json::json!({}), serde_json::json!({})],
            paths: 5,
            coverage: Default::default(),
            unconfirmed: Default::default(),
            run_seconds: vec![0.3, 0.1, 0.2],
        };
        let run = RunInfo {
            iut: "ref:3way".to_owned(),
            family: "mediastream".to_owned(),
            seed: 9,
            jobs: 2,
            probe: true,
            interrupted: false,
            broken_corpus_files: vec!["x.json".to_owned()],
        };
        let s = Summary::of(result, Vec::new(), run);
        assert_eq!(
            (s.iut.as_str(), s.family.as_str()),
            ("ref:3way", "mediastream")
        );
        assert_eq!(
            (s.seed, s.jobs, s.probe, s.interrupted),
            (9, 2, true, false)
        );
        assert_eq!((s.execs, s.refused, s.over_budget, s.errors), (7, 1, 2, 3));
        assert_eq!((s.resumed, s.corpus, s.paths), (4, 2, 5));
        assert_eq!(s.first_error.as_deref(), Some("no start"));
        assert_eq!(s.run_seconds.median, 0.2);
        assert_eq!(s.broken_corpus_files, ["x.json"]);
    }
}
