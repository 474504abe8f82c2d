//! `harness probe`: asks an external program a few short questions and prints what it speaks
//! (profiles, options), as the manifest `harness run` would use. `harness run` does the same
//! implicitly for `--iut-cmd`, `--iut-addr` without `@PROFILE` and manifests without `profiles`.

use std::io::Write;

use clap::Args;
use handshake_scenario::external::probe;
use handshake_scenario::Iut;

use crate::cli::{EXIT_FAILED, EXIT_INPUT, EXIT_OK};
use handshake_scenario::Families;

/// `harness probe` arguments.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The program: an IUT manifest (`FILE.json`), `cmd:COMMAND` or `addr:HOST:PORT`.
    #[arg(long, required_unless_present_any = ["iut_cmd", "iut_addr"], conflicts_with_all = ["iut_cmd", "iut_addr"])]
    pub iut: Option<String>,
    /// The program from one command line (as `harness run --iut-cmd`).
    #[arg(long, value_name = "CMD", conflicts_with = "iut_addr")]
    pub iut_cmd: Option<String>,
    /// A responder already running there (as `harness run --iut-addr`).
    #[arg(long, value_name = "HOST:PORT")]
    pub iut_addr: Option<String>,
    /// The family to ask about [default: the manifest's, else every family that can ask].
    #[arg(long)]
    pub family: Option<String>,
    /// Print the report as JSON (answers and what was inferred).
    #[arg(long)]
    pub json: bool,
}

/// Runs `harness probe`. Exit 0 when something was inferred, 1 when the program answered no
/// question, 2 on usage errors.
pub fn run(families: Families, args: ProbeArgs, out: &mut dyn Write) -> i32 {
    let text = match (&args.iut, &args.iut_cmd, &args.iut_addr) {
        (Some(i), _, _) => i.clone(),
        (_, Some(c), _) => format!("cmd:{c}"),
        (_, _, Some(a)) => format!("addr:{a}"),
        _ => unreachable!("clap requires one"),
    };
    let external = match families.parse_iut(&text) {
        Ok(Iut::External(e)) => e,
        Ok(Iut::Reference { name, .. }) => {
            eprintln!("error: {name} is a reference profile: it is known, not probed");
            return EXIT_INPUT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let declared = external.manifest().and_then(|m| m.protocol.clone());
    let names: Vec<String> = match (args.family.clone(), declared) {
        (Some(f), _) | (None, Some(f)) => vec![f],
        (None, None) => families
            .0
            .iter()
            .filter(|f| !f.probing().probes.is_empty())
            .map(|f| f.name().to_owned())
            .collect(),
    };
    let mut reports = Vec::new();
    for name in &names {
        let family = match families.require(name) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INPUT;
            }
        };
        if family.probing().probes.is_empty() {
            eprintln!(
                "{name}: this family asks no questions yet: write its profiles in the manifest"
            );
            continue;
        }
        reports.push(probe::probe(family, &external, 1));
    }
    let text = if args.json {
        serde_json::to_string_pretty(&reports).unwrap_or_default() + "\n"
    } else {
        reports.iter().map(probe::ProbeReport::text).collect()
    };
    if let Err(e) = out.write_all(text.as_bytes()) {
        eprintln!("error: {e}");
        return EXIT_INPUT;
    }
    if reports.iter().any(|r| r.inferred.is_some()) {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}
