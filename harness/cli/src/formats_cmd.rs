//! The families' wire formats on the command line: `harness decode --format F` (the reference
//! decoder's verdicts, one JSON line per input, and `--stream` over stdin for a differential
//! check at fuzzing speed) and `harness fuzz-kit` (a corpus, a dictionary and a README per format
//! for libFuzzer, AFL++ and cargo-fuzz).

use std::io::{BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cli::{EXIT_FAILED, EXIT_INPUT, EXIT_OK};
use base64::Engine as _;
use clap::{ArgMatches, Args, FromArgMatches};
use handshake_formats::{kit, Seed, WireFormat};
use handshake_scenario::{DynFamily, Families, KitSources};

/// `harness decode`'s options for any family's formats (the media stream's capture decoding is
/// its own command's, used when none of these is given).
#[derive(Debug, Args)]
pub struct FormatArgs {
    /// Decode with this format's reference decoder (`harness fuzz-kit` lists them:
    /// mediastream.datagram, proton.stream, darktower.signaling …); prints one JSON verdict per
    /// input: {"ok", "kind", "fields", "error"} (`harness schema decode`).
    #[arg(long, value_name = "ID")]
    pub format: Option<String>,
    /// Decode with this family's first format (its others by --format).
    #[arg(long, value_name = "FAMILY")]
    pub family: Option<String>,
    /// Read one input per line on stdin (hex, or base64 with --encoding base64) and write one JSON
    /// verdict per line, in order, until the end of input; a line that is not hex (base64) gets a
    /// verdict naming the line, and the exit code is then 2.
    #[arg(long)]
    pub stream: bool,
    /// How --stream's lines spell their bytes.
    #[arg(long, value_enum, default_value_t = Encoding::Hex)]
    pub encoding: Encoding,
}

/// The inputs `decode` takes when no family's own `decode` command provides them.
#[derive(Debug, Args)]
pub struct FormatInputs {
    /// Files, one input each.
    pub files: Vec<PathBuf>,
    /// An input as hex; repeatable.
    #[arg(long, value_name = "HEX")]
    pub hex: Vec<String>,
}

/// How stream lines spell bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    /// Hex digits (whitespace ignored).
    Hex,
    /// Standard base64, padded or not.
    Base64,
}

/// The `decode` command: the registry's own (the media stream's) with the format options, or one
/// of its own when no family has one.
pub fn decode_command(existing: Option<clap::Command>) -> clap::Command {
    const FORMATS: &str = "With --format or --family: any family's reference decoder, one JSON \
        verdict per input ({\"ok\", \"kind\", \"fields\", \"error\"}; `harness schema decode`); \
        exit 0 when every input is accepted, 1 when one is refused, 2 on bad input. --stream reads \
        one input per line on stdin, for a differential check at fuzzing speed.";
    match existing {
        Some(c) => {
            let about = c.get_about().cloned();
            let long = c
                .get_long_about()
                .or(c.get_about())
                .map(ToString::to_string);
            let mut c = FormatArgs::augment_args(c);
            if let Some(a) = about {
                c = c.about(a);
            }
            c.long_about(format!("{}\n\n{FORMATS}", long.unwrap_or_default()))
        }
        None => FormatInputs::augment_args(FormatArgs::augment_args(clap::Command::new("decode")))
            .about("Decode inputs with a family's reference decoder: one JSON verdict per input")
            .long_about(FORMATS),
    }
}

/// Whether `matches` ask for a format's decoder (else the family's own `decode` runs).
pub fn wants_format(matches: &ArgMatches) -> bool {
    ["format", "family", "stream"].iter().any(|id| {
        matches!(
            matches.value_source(id),
            Some(clap::parser::ValueSource::CommandLine)
        )
    })
}

/// The format `--format`/`--family` name.
fn chosen(families: Families, args: &FormatArgs) -> Result<&'static WireFormat, String> {
    let all = || families.0.iter().flat_map(|f| f.formats());
    let ids = || all().map(|f| f.id).collect::<Vec<_>>().join(", ");
    match (&args.format, &args.family) {
        (Some(id), _) => all()
            .find(|f| f.id == id)
            .ok_or_else(|| format!("no format `{id}`: expected one of {}", ids())),
        (None, Some(name)) => {
            let family = families
                .get(name)
                .ok_or_else(|| format!("no family `{name}`"))?;
            family
                .formats()
                .first()
                .ok_or_else(|| format!("family `{name}` has no wire formats"))
        }
        (None, None) => Err(format!("give --format ID (one of {})", ids())),
    }
}

/// `harness decode --format|--family [--stream]`.
pub fn run_decode(families: Families, matches: &ArgMatches, out: &mut dyn Write) -> i32 {
    let args = match FormatArgs::from_arg_matches(matches) {
        Ok(a) => a,
        Err(e) => {
            let _ = e.print();
            return EXIT_INPUT;
        }
    };
    let format = match chosen(families, &args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    if args.stream {
        let stdin = std::io::stdin();
        return match stream(format, args.encoding, stdin.lock(), out) {
            Ok(0) => EXIT_OK,
            Ok(bad) => {
                eprintln!("error: {bad} input lines were not {:?}", args.encoding);
                EXIT_INPUT
            }
            Err(e) => {
                eprintln!("error: {e}");
                EXIT_INPUT
            }
        };
    }
    // Inputs: the family command's (`--hex`, files) by their ids, or ours.
    let strings = |id: &str| -> Vec<String> {
        matches
            .try_get_many::<String>(id)
            .ok()
            .flatten()
            .map(|v| v.cloned().collect())
            .unwrap_or_default()
    };
    let files: Vec<PathBuf> = matches
        .try_get_many::<PathBuf>("files")
        .ok()
        .flatten()
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let mut inputs = Vec::new();
    for hex in strings("hex") {
        match handshake_netfuzz::layout::hex_bytes(&hex) {
            Some(b) => inputs.push(b),
            None => {
                eprintln!("error: --hex {hex}: not hex");
                return EXIT_INPUT;
            }
        }
    }
    for path in &files {
        match std::fs::read(path) {
            Ok(b) => inputs.push(b),
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return EXIT_INPUT;
            }
        }
    }
    if inputs.is_empty() {
        eprintln!("error: nothing to decode: give --hex HEX, a file, or --stream");
        return EXIT_INPUT;
    }
    let mut refused = 0;
    for input in &inputs {
        let verdict = (format.decode)(input);
        refused += usize::from(!verdict.ok);
        if writeln!(out, "{}", handshake_formats::verdict_json(&verdict)).is_err() {
            return EXIT_INPUT;
        }
    }
    if refused > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

/// The streaming decoder: one verdict line per input line; returns how many lines were not in
/// `encoding` (each got a verdict saying so).
pub fn stream(
    format: &WireFormat,
    encoding: Encoding,
    input: impl BufRead,
    out: &mut dyn Write,
) -> std::io::Result<u64> {
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut bad = 0;
    for (n, line) in input.lines().enumerate() {
        let line = line?;
        let line = line.trim_end_matches('\r');
        let bytes = match encoding {
            Encoding::Hex => handshake_netfuzz::layout::hex_bytes(line),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(line.trim())
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(line.trim()))
                .ok(),
        };
        let verdict = match bytes {
            Some(b) => (format.decode)(&b),
            None => {
                bad += 1;
                handshake_formats::Verdict::refused(
                    None,
                    serde_json::Map::new(),
                    format!("input line {}: not {encoding:?}", n + 1).to_lowercase(),
                )
            }
        };
        serde_json::to_writer(&mut out, &verdict)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(bad)
}

/// `harness fuzz-kit`.
#[derive(Debug, Args)]
pub struct FuzzKitArgs {
    /// The families (default: every family with wire formats); repeatable.
    #[arg(long, value_name = "FAMILY")]
    pub family: Vec<String>,
    /// Only these formats; repeatable.
    #[arg(long, value_name = "ID")]
    pub format: Vec<String>,
    /// Where to write the kit: `DIR/<format>/corpus/`, `DIR/<format>/<format>.dict`, `DIR/README.md`
    /// (a format's corpus folder is emptied first).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The golden captures to take edge cases from: `DIR/<family>/*.pcapng` (the checkout's
    /// `pcaps`, when it is there).
    #[arg(long, value_name = "DIR", default_value = "pcaps")]
    pub captures: PathBuf,
    /// The byte test vectors to take edge cases from: `DIR/<family>/*.json` (the checkout's
    /// `vectors`, when it is there).
    #[arg(long, value_name = "DIR", default_value = "vectors")]
    pub vectors: PathBuf,
    /// At most this many inputs of one shape (what the reference decoder makes of them) from the
    /// library and the captures; the formats' own seeds are all kept.
    #[arg(long, default_value_t = 4)]
    pub per_shape: usize,
}

/// Writes the fuzz kit.
pub fn run_fuzz_kit(families: Families, args: FuzzKitArgs, out: &mut dyn Write) -> i32 {
    match fuzz_kit(families, &args, out) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("error: {e}");
            EXIT_INPUT
        }
    }
}

fn fuzz_kit(families: Families, args: &FuzzKitArgs, out: &mut dyn Write) -> Result<(), String> {
    let chosen: Vec<&dyn DynFamily> = if args.family.is_empty() {
        families
            .0
            .iter()
            .copied()
            .filter(|f| !f.formats().is_empty())
            .collect()
    } else {
        args.family
            .iter()
            .map(|n| families.get(n).ok_or_else(|| format!("no family `{n}`")))
            .collect::<Result<_, _>>()?
    };
    let known: Vec<&str> = chosen
        .iter()
        .flat_map(|f| f.formats())
        .map(|f| f.id)
        .collect();
    if let Some(bad) = args.format.iter().find(|id| !known.contains(&id.as_str())) {
        return Err(format!(
            "no format `{bad}` in these families: {}",
            known.join(", ")
        ));
    }
    let mut written: Vec<&WireFormat> = Vec::new();
    let mut counts = Vec::new();
    let mut sources = Vec::new();
    for family in chosen {
        if family.formats().is_empty() {
            return Err(format!("family `{}` has no wire formats", family.name()));
        }
        let kit_sources = gather(family.name(), args)?;
        sources.push(format!(
            "{}: {} library scenarios, {} golden captures, {} byte-vector files",
            family.name(),
            kit_sources.scenarios.len(),
            kit_sources.captures.len(),
            kit_sources.vectors.len()
        ));
        let found = (family.fuzz().kit_inputs)(&kit_sources);
        for format in family.formats() {
            if !args.format.is_empty() && !args.format.iter().any(|id| id == format.id) {
                continue;
            }
            let seeds: Vec<Seed> = found
                .iter()
                .filter(|i| i.format == format.id)
                .map(|i| Seed::new(i.name.clone(), i.bytes.clone()))
                .collect();
            let entries = kit::corpus(format, seeds, args.per_shape);
            let invalid = entries.iter().filter(|e| !e.verdict.ok).count();
            write_format(&args.out, format, &entries)?;
            let _ = writeln!(
                out,
                "{:22} {:4} corpus entries ({invalid} invalid), {} dictionary tokens",
                format.id,
                entries.len(),
                (format.dictionary)().len()
            );
            counts.push((entries.len(), invalid));
            written.push(format);
        }
    }
    let readme = kit::readme(&written, &counts, &sources.join("; "));
    std::fs::write(args.out.join("README.md"), readme)
        .map_err(|e| format!("{}: {e}", args.out.join("README.md").display()))?;
    let _ = writeln!(out, "fuzz kit written to {}", args.out.display());
    Ok(())
}

fn write_format(out: &Path, format: &WireFormat, entries: &[kit::Entry]) -> Result<(), String> {
    let dir = out.join(format.id);
    let corpus = dir.join("corpus");
    let fail = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    if corpus.exists() {
        std::fs::remove_dir_all(&corpus).map_err(|e| fail(&corpus, e))?;
    }
    std::fs::create_dir_all(&corpus).map_err(|e| fail(&corpus, e))?;
    for e in entries {
        let path = corpus.join(&e.file_name);
        std::fs::write(&path, &e.bytes).map_err(|err| fail(&path, err))?;
    }
    let dict = dir.join(format!("{}.dict", format.id));
    let text = handshake_formats::dictionary_file(&(format.dictionary)());
    std::fs::write(&dict, text).map_err(|e| fail(&dict, e))
}

/// The family's library scenarios (the built-in copy outside a checkout), golden captures and
/// byte vectors.
fn gather(family: &str, args: &FuzzKitArgs) -> Result<KitSources, String> {
    let mut sources = KitSources::default();
    let library = crate::library::resolve(&Path::new("vectors/scenarios").join(family))?;
    sources.scenarios = json_files(&library)?;
    sources.vectors = json_files(&args.vectors.join(family))?;
    let captures = args.captures.join(family);
    for path in files_under(&captures, "pcapng")
        .into_iter()
        .chain(files_under(&captures, "pcap"))
    {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        sources.captures.push((stem(&path), bytes));
    }
    Ok(sources)
}

/// The JSON files under `dir`, by file stem (a file that is not JSON is left out:
/// `harness scenarios validate` and `harness vectors` say why).
fn json_files(dir: &Path) -> Result<Vec<(String, serde_json::Value)>, String> {
    let mut out = Vec::new();
    for path in files_under(dir, "json") {
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if let Ok(value) = serde_json::from_str(&text) {
            out.push((stem(&path), value));
        }
    }
    Ok(out)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The files with extension `ext` under `dir`, sorted (none when `dir` is not there).
fn files_under(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(read) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in read.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == ext) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use handshake_formats::{InputUnit, Verdict};

    fn decode(b: &[u8]) -> Verdict {
        if b == [1, 2] {
            Verdict::accepted("pair", serde_json::Map::new())
        } else {
            Verdict::refused(None, serde_json::Map::new(), "not a pair")
        }
    }

    const PAIR: WireFormat = WireFormat {
        id: "t.pair",
        about: "",
        unit: InputUnit::Message,
        decode,
        mutate: |_, _| Ok(false),
        dictionary: Vec::new,
        seeds: Vec::new,
    };

    #[test]
    fn a_stream_gives_one_verdict_per_line_and_counts_bad_lines() {
        let mut out = Vec::new();
        let bad = stream(
            &PAIR,
            Encoding::Hex,
            &b"0102\n01 02\r\nzz\n\n"[..],
            &mut out,
        )
        .expect("in memory");
        assert_eq!(bad, 1);
        let lines: Vec<Verdict> = String::from_utf8_lossy(&out)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a verdict"))
            .collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].ok && lines[1].ok && !lines[2].ok && !lines[3].ok);
        assert_eq!(lines[2].error.as_deref(), Some("input line 3: not hex"));
        let mut out = Vec::new();
        assert_eq!(
            stream(&PAIR, Encoding::Base64, &b"AQI=\nAQI\n"[..], &mut out).ok(),
            Some(0)
        );
        assert_eq!(
            String::from_utf8_lossy(&out).matches("\"ok\":true").count(),
            2
        );
    }
}
