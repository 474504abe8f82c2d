//! `harness scenarios list|show|export`: the scenario libraries the binary carries (or `--library`'s),
//! to read what is built in and to copy it for editing.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Subcommand;
use handshake_scenario::runner::scenario_files;
use handshake_scenario::LoadedScenario;

use crate::cli::{EXIT_INPUT, EXIT_OK};
use crate::library;
use handshake_scenario::Families;

/// What to do with the libraries.
#[derive(Debug, Subcommand)]
pub enum ScenariosCommand {
    /// One line per scenario: its id, family, the IUT's role, its tags and title.
    List {
        /// Only this family's.
        #[arg(long)]
        family: Option<String>,
        /// Only scenarios with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Print a scenario (its JSON file, as built in) by its id.
    Show {
        /// The scenario's id (`ms.responder.happy_path`).
        id: String,
    },
    /// Write the libraries into DIR (`DIR/scenarios/<family>`, `DIR/expectations`, `DIR/interop`,
    /// `DIR/schema`) to copy and edit; run them with `harness run DIR/scenarios/…` or make them the
    /// defaults with `--library DIR`.
    Export {
        /// Where (created if needed; files already there are overwritten).
        dir: PathBuf,
    },
}

/// Runs `harness scenarios …`.
pub fn run(families: Families, command: ScenariosCommand, out: &mut dyn Write) -> i32 {
    let result = match command {
        ScenariosCommand::List { family, tag } => {
            list(families, family.as_deref(), tag.as_deref(), out)
        }
        ScenariosCommand::Show { id } => show(families, &id, out),
        ScenariosCommand::Export { dir } => export(&dir, out),
    };
    match result {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

/// Every scenario of the library, with its file, sorted by id.
fn library(families: Families) -> Result<Vec<(PathBuf, LoadedScenario)>, String> {
    let dir = library::resolve(Path::new("vectors/scenarios"))?;
    let mut out = Vec::new();
    for file in scenario_files(&[dir])? {
        let s = families.load(&file).map_err(|e| e.0)?;
        out.push((file, s));
    }
    out.sort_by(|a, b| a.1.id().cmp(b.1.id()));
    Ok(out)
}

fn list(
    families: Families,
    family: Option<&str>,
    tag: Option<&str>,
    out: &mut dyn Write,
) -> Result<(), String> {
    if let Some(f) = family {
        families.require(f).map_err(|e| e.to_string())?;
    }
    let mut n = 0;
    for (_, s) in library(families)? {
        if family.is_some_and(|f| s.family() != f)
            || tag.is_some_and(|t| !s.tags().iter().any(|x| x == t))
        {
            continue;
        }
        let (initiator, responder) = families
            .get(s.family())
            .map_or(("initiator", "responder"), |f| f.role_names());
        let role = match s.role() {
            handshake_scenario::Role::Initiator => initiator,
            handshake_scenario::Role::Responder => responder,
        };
        writeln!(
            out,
            "{}  {}  {}  [{}]  {}",
            s.id(),
            s.family(),
            role,
            s.tags().join(","),
            s.title()
        )
        .map_err(|e| e.to_string())?;
        n += 1;
    }
    writeln!(out, "{n} scenarios").map_err(|e| e.to_string())
}

fn show(families: Families, id: &str, out: &mut dyn Write) -> Result<(), String> {
    let all = library(families)?;
    let Some((file, _)) = all.iter().find(|(_, s)| s.id() == id) else {
        let close: Vec<&str> = all
            .iter()
            .map(|(_, s)| s.id())
            .filter(|other| other.contains(id) || id.contains(*other))
            .take(5)
            .collect();
        return Err(if close.is_empty() {
            format!("no scenario `{id}` (harness scenarios list shows them)")
        } else {
            format!("no scenario `{id}`; did you mean {}?", close.join(", "))
        });
    };
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    out.write_all(text.as_bytes()).map_err(|e| e.to_string())
}

fn export(dir: &Path, out: &mut dyn Write) -> Result<(), String> {
    library::export_to(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    writeln!(
        out,
        "wrote {} into {}: run them with `harness run {}/scenarios/mediastream --iut …`, or make them the defaults with `--library {}`",
        library::parts().collect::<Vec<_>>().join(", "),
        dir.display(),
        dir.display(),
        dir.display()
    )
    .map_err(|e| e.to_string())
}
