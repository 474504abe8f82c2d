//! The sides of a matrix, each an implementation (the one IUT model, [`Iut`]): a family's reference
//! profile (`ref:PROFILE`, in-process, virtual time) or an external program (`cmd:COMMAND`, real
//! time; `cmd@PROFILE:COMMAND` compares its cells with PROFILE's expected ones), or a manifest
//! (`FILE.json`, `FILE.json@PROFILE`: the program run as PROFILE, its cells compared with its).

use handshake_report::slug;
use handshake_scenario::external::ExternalIut;
use handshake_scenario::{Family, Iut, Role};

/// One side of a cell.
#[derive(Debug, Clone)]
pub struct Peer {
    /// Name in the matrix (`ref:3way`, `cmd-1`).
    pub name: String,
    /// File-name part (`3way`, `cmd-1`).
    pub slug: String,
    /// The implementation.
    pub iut: Iut,
    /// The command line of an external program.
    pub line: Option<String>,
    /// `cmd@PROFILE:` or `MANIFEST@PROFILE`: the profile an external program's cells are expected
    /// to behave like.
    pub like: Option<String>,
    /// `MANIFEST@PROFILE`: the features of that profile, which its cells require (so the program
    /// is started with the flags that make it that profile).
    pub requires: Vec<String>,
}

impl Peer {
    /// The profile its cells are expected to behave like: its own (a mutant, `3way!NAME`, must
    /// behave like its base profile: a cell that differs has caught it), or `cmd@PROFILE`.
    pub fn expected_as(&self) -> Option<String> {
        match &self.iut {
            Iut::Reference { profile, .. } => {
                Some(profile.split('!').next().unwrap_or(profile).to_owned())
            }
            Iut::External(_) => self.like.clone(),
        }
    }

    /// Whether it is an external program.
    pub fn is_command(&self) -> bool {
        self.iut.is_real_time()
    }
}

fn starts_peer<F: Family>(text: &str) -> bool {
    let t = text.trim_start();
    t.starts_with("ref:")
        || t.starts_with("cmd:")
        || t.starts_with("cmd@")
        || manifest_spec(t.trim()).is_some()
        || F::parse_profile(t.trim()).is_ok()
}

/// `FILE.json` or `FILE.json@PROFILE`: a manifest, and the profile it is run as.
fn manifest_spec(text: &str) -> Option<(&str, Option<&str>)> {
    if text.ends_with(".json") {
        return Some((text, None));
    }
    let (path, profile) = text.rsplit_once('@')?;
    path.ends_with(".json").then_some((path, Some(profile)))
}

/// A manifest peer: the program it describes, run as `profile` (its manifest profile and options,
/// `3way+allow_legacy_start`) when given.
fn manifest_peer<F: Family>(
    side: &str,
    text: &str,
    path: &str,
    profile: Option<&str>,
    role: Role,
) -> Result<Peer, String> {
    let file = std::path::Path::new(path);
    let manifest = handshake_scenario::external::Manifest::read(file)
        .map_err(|e| format!("{side} `{text}`: {e}"))?;
    if let Some(p) = manifest.protocol.as_deref().filter(|p| *p != F::NAME) {
        return Err(format!(
            "{side} `{text}`: the manifest's protocol is {p}, the matrix's {}",
            F::NAME
        ));
    }
    F::validate_manifest(&manifest).map_err(|e| format!("{side} `{text}`: {e}"))?;
    if manifest.template(role).is_none() {
        return Err(format!(
            "{side} `{text}`: the manifest has no {side} command"
        ));
    }
    let name = manifest.name.clone();
    let iut = ExternalIut::from_manifest_file(manifest, file);
    let (iut, like, requires) = match profile {
        None => (iut, None, Vec::new()),
        Some(text_profile) => declared_profile::<F>(iut, text_profile, role)
            .map_err(|e| format!("{side} `{text}`: {e}"))?,
    };
    let label = match &like {
        Some(p) => format!("{name}@{p}"),
        None => name,
    };
    Ok(Peer {
        slug: slug(&label),
        name: label,
        iut: Iut::External(Box::new(iut)),
        line: Some(text.to_owned()),
        like,
        requires,
    })
}

/// A program declared to speak `text_profile` (`PROFILE[+OPTION…]`): it runs as that profile (the
/// judge knows it, as it knows a reference's), its options are required of every cell (it is
/// started with them on), and its cells are compared with the profile's expectations.
fn declared_profile<F: Family>(
    iut: ExternalIut,
    text_profile: &str,
    role: Role,
) -> Result<(ExternalIut, Option<String>, Vec<String>), String> {
    let p = F::parse_profile(text_profile).map_err(|e| e.to_string())?;
    // The first part is the profile; the rest are its options.
    let mut parts = text_profile.split('+');
    let base = parts.next().unwrap_or(text_profile);
    let options: Vec<&str> = parts.collect();
    let iut = iut
        .for_probe(base, &options)
        .ok_or_else(|| format!("it cannot be told to run as {p}"))?;
    let features = F::profile_features(&p, role);
    let requires = options
        .iter()
        .filter(|o| features.iter().any(|f| f == *o))
        .map(|o| (*o).to_owned())
        .collect();
    Ok((iut, Some(p.to_string()), requires))
}

/// Splits `--initiators`/`--responders` values into peer specs: commas separate peers, but a comma
/// inside a `cmd:` command line stays when what follows is not a new peer (`ref:`, `cmd:`, a profile).
pub fn split_peers<F: Family>(values: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in values {
        let mut in_cmd = false;
        let mut first = true;
        for part in value.split(',') {
            let new_peer = first || !in_cmd || starts_peer::<F>(part);
            match out.last_mut() {
                Some(last) if !new_peer => {
                    last.push(',');
                    last.push_str(part);
                }
                _ => {
                    let t = part.trim();
                    in_cmd = t.starts_with("cmd:") || t.starts_with("cmd@");
                    out.push(if in_cmd {
                        part.trim_start().to_owned()
                    } else {
                        t.to_owned()
                    });
                }
            }
            first = false;
        }
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

pub(crate) fn peer_of_spec<F: Family>(
    text: &str,
    role: Role,
    commands: &mut usize,
) -> Result<Peer, String> {
    let side = match role {
        Role::Initiator => F::VOCABULARY.role_names.0,
        Role::Responder => F::VOCABULARY.role_names.1,
    };
    if let Some((path, profile)) = manifest_spec(text) {
        return manifest_peer::<F>(side, text, path, profile, role);
    }
    if let Some(rest) = text.strip_prefix("cmd") {
        let (profile, line) = if let Some(line) = rest.strip_prefix(':') {
            (None, line)
        } else if let Some(rest) = rest.strip_prefix('@') {
            let (profile, line) = rest
                .split_once(':')
                .ok_or_else(|| format!("{side} `{text}`: expected cmd@PROFILE:COMMAND"))?;
            (Some(profile), line)
        } else {
            return Err(format!(
                "{side} `{text}`: expected ref:PROFILE, cmd:COMMAND or cmd@PROFILE:COMMAND"
            ));
        };
        let line = line.trim();
        if line.is_empty() {
            return Err(format!("{side} `{text}`: the command is empty"));
        }
        // The template must serve this side: `{target}` for an initiator, `{listen}` for a
        // responder (`{address}` serves both).
        let manifest =
            handshake_scenario::external::Manifest::from_command(line, F::VOCABULARY.placeholders)
                .map_err(|e| format!("{side} `{text}`: {e}"))?;
        let (want, names) = match role {
            Role::Initiator => ("{target}", ["{target", "{address"]),
            Role::Responder => ("{listen}", ["{listen", "{address"]),
        };
        if manifest.template(role).is_none() {
            return Err(format!(
                "{side} `{text}`: the command serves the other side; an {side} command names {want}"
            ));
        }
        // Without its address the program cannot meet the other side through the harness.
        if !names.iter().any(|n| line.contains(n)) {
            return Err(format!(
                "{side} `{text}`: the command names no address: an {side} command takes {want} (the address the harness gives it)"
            ));
        }
        *commands += 1;
        let name = format!("cmd-{commands}");
        let iut = ExternalIut::from_manifest(manifest, std::path::PathBuf::from("."));
        // `cmd@PROFILE:` declares what the command speaks, as `FILE.json@PROFILE` does.
        let (iut, like, requires) = match profile {
            None => (iut, None, Vec::new()),
            Some(p) => {
                declared_profile::<F>(iut, p, role).map_err(|e| format!("{side} `{text}`: {e}"))?
            }
        };
        return Ok(Peer {
            slug: name.clone(),
            name,
            iut: Iut::External(Box::new(iut)),
            line: Some(line.to_owned()),
            like,
            requires,
        });
    }
    let profile_text = text.strip_prefix("ref:").unwrap_or(text).trim();
    let profile = F::parse_profile(profile_text).map_err(|e| {
        format!("{side} `{text}`: {e} (a peer is ref:PROFILE, cmd:COMMAND or cmd@PROFILE:COMMAND)")
    })?;
    Ok(Peer {
        name: format!("ref:{profile_text}"),
        slug: slug(profile_text),
        iut: Iut::Reference {
            name: format!("ref:{profile}"),
            family: F::NAME,
            profile: profile.to_string(),
        },
        line: None,
        like: None,
        requires: Vec::new(),
    })
}
