//! `harness probe`: find out what an external program speaks before judging it. Each family asks
//! a few short questions ([`Probe`](crate::Probe)s: scenarios run against the program over real
//! UDP, a second or two each) and reads from the answers which profiles and options the program
//! has ([`Probing::infer`](crate::Probing::infer)). `--iut-cmd` and `--iut-addr`, which say nothing
//! about profiles, and manifests without `profiles` are probed before a run, so a scenario the
//! program cannot run is `unsupported` with the probe's reason, never a failure.

use std::path::Path;

use serde::Serialize;

use crate::external::ExternalIut;
use crate::registry::{DynFamily, Iut};
use crate::{Inferred, Verdict};

/// One question and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The probe's id.
    pub id: &'static str,
    /// What it asked.
    pub asks: &'static str,
    /// Yes, no, or not asked (`None`: the program has no command for the role it needs).
    pub yes: Option<bool>,
    /// Why not, when the answer is no.
    pub detail: Option<String>,
}

/// What a probe found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The program's name.
    pub iut: String,
    /// The family asked.
    pub family: &'static str,
    /// Each question and its answer.
    pub answers: Vec<Answer>,
    /// What the answers say it speaks (`None`: nothing could be inferred; the manifest stays).
    pub inferred: Option<Inferred>,
}

impl ProbeReport {
    /// A heading, a line per question asked, and what it speaks: for stderr or `harness probe`.
    pub fn text(&self) -> String {
        let mut s = format!("probe {} ({}):\n", self.iut, self.family);
        for a in &self.answers {
            let Some(yes) = a.yes else {
                continue;
            };
            s.push_str(&format!("  {} {}", if yes { "yes" } else { "no " }, a.asks));
            if let Some(d) = a.detail.as_deref().filter(|_| !yes) {
                s.push_str(&format!(" ({d})"));
            }
            s.push('\n');
        }
        match &self.inferred {
            Some(i) => s.push_str(&format!(
                "  => speaks {}{}\n",
                i.profiles.join(", "),
                if i.options.is_empty() {
                    String::new()
                } else {
                    format!("; options: {}", i.options.join(", "))
                }
            )),
            None => s.push_str("  => nothing could be inferred: the manifest is taken as it is\n"),
        }
        s
    }
}

/// Asks `iut` the family's questions. Every question runs the program once, started with the
/// profile the question names and every option on.
pub fn probe(family: &dyn DynFamily, iut: &ExternalIut, seed: u64) -> ProbeReport {
    let mut answers = Vec::new();
    let mut passed = Vec::new();
    let mut asked = Vec::new();
    for p in family.probing().probes {
        let scenario = match family.load(Path::new(p.id), p.scenario) {
            Ok(s) => s,
            Err(e) => {
                answers.push(Answer {
                    id: p.id,
                    asks: p.asks,
                    yes: Some(false),
                    detail: Some(format!("the probe itself does not load: {e}")),
                });
                continue;
            }
        };
        let Some(asking) = iut.for_probe(p.profile, p.options) else {
            answers.push(Answer {
                id: p.id,
                asks: p.asks,
                yes: None,
                detail: None,
            });
            continue;
        };
        if !asking.has_role(scenario.role()) {
            answers.push(Answer {
                id: p.id,
                asks: p.asks,
                yes: None,
                detail: None,
            });
            continue;
        }
        asked.push(p.id);
        let outcome = scenario.run(&Iut::External(Box::new(asking)), seed);
        let yes = outcome.verdict == Verdict::Pass;
        if yes {
            passed.push(p.id);
        }
        answers.push(Answer {
            id: p.id,
            asks: p.asks,
            yes: Some(yes),
            detail: (!yes).then(|| outcome.reasons.join("; ")),
        });
    }
    let inferred = if asked.is_empty() {
        None
    } else {
        (family.probing().infer)(&passed, &asked)
    };
    ProbeReport {
        iut: iut.name().to_owned(),
        family: family.name(),
        answers,
        inferred,
    }
}

/// Probes `iut` for `family` when it says nothing of what it speaks, and returns it with what the
/// probe inferred, writing the report's lines to `log`.
pub fn probed(
    family: &dyn DynFamily,
    iut: &ExternalIut,
    seed: u64,
    log: &mut dyn FnMut(&str),
) -> (Option<ProbeReport>, ExternalIut) {
    let mut out = iut.clone();
    if !iut.says_nothing() || family.probing().probes.is_empty() {
        return (None, out);
    }
    let report = probe(family, iut, seed);
    log(&report.text());
    if let Some(i) = &report.inferred {
        out.take_inferred(i, family.name());
    }
    (Some(report), out)
}
