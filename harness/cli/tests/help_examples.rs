//! The examples at the end of every `--help` are commands a user copies: each must parse as the
//! command line it claims to be, and those that need nothing outside the repository must succeed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use handshake_harness::cli::{command, EXAMPLES};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `harness …` command lines of an examples text: continuation lines joined, and what a shell
/// does after the command (`|`, `>`, `&`, a `#` comment) left out.
fn command_lines(text: &str) -> Vec<Vec<String>> {
    let joined = text.replace("\\\n", " ");
    joined
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("harness "))
        .map(|l| {
            let words = shlex::split(l).unwrap_or_else(|| panic!("unbalanced quotes: {l}"));
            words
                .into_iter()
                .take_while(|w| !matches!(w.as_str(), "|" | ">" | "&" | "#") && !w.starts_with('#'))
                .collect()
        })
        .collect()
}

#[test]
fn every_subcommand_has_examples_that_parse() {
    let cmd = command(&handshake_harness::families::REGISTRY);
    let mut commands = 0;
    for sub in cmd.get_subcommands().filter(|c| c.get_name() != "help") {
        let name = sub.get_name();
        let Some((_, text)) = EXAMPLES.iter().find(|(n, _)| *n == name) else {
            panic!("`harness {name}` has no examples");
        };
        let help = sub.clone().render_long_help().to_string();
        assert!(help.contains("Examples:"), "{name}: {help}");
        let lines = command_lines(text);
        assert!(!lines.is_empty(), "{name}: no command in its examples");
        for argv in lines {
            if let Err(e) =
                command(&handshake_harness::families::REGISTRY).try_get_matches_from(&argv)
            {
                panic!("{argv:?} does not parse: {e}");
            }
            commands += 1;
        }
    }
    assert!(commands >= 25, "{commands}");
}

#[test]
fn the_examples_that_need_nothing_else_succeed() {
    let offline = [
        "harness run --iut ref:udp_push --expectations vectors/expectations/ref-udp_push.json",
        "harness check pcaps/mediastream/clean_3way_scripted.pcapng",
        "harness decode --hex '5354415254'",
        "harness decode pcaps/mediastream/clean_3way_scripted.pcapng --json",
        "harness vectors",
        "harness schema iut-manifest",
        "harness completions fish",
        "harness man",
    ];
    let all: Vec<String> = EXAMPLES
        .iter()
        .flat_map(|(_, t)| command_lines(t))
        .map(|argv| argv.join(" "))
        .collect();
    for line in offline {
        let argv = shlex::split(line).expect("words");
        assert!(
            all.contains(&argv.join(" ")),
            "{line} is not one of the examples any more"
        );
        let o = Command::new(HARNESS)
            .args(&argv[1..])
            .current_dir(root())
            .stdin(Stdio::null())
            .output()
            .expect("harness runs");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{line}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stdout.is_empty(), "{line}: no output");
    }
}
