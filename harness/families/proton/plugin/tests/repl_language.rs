//! The REPL's command language (`handshake_proton::repl::language`): what parses to what, every
//! error with its column and what was expected, display round trips, completion, and no panic on
//! any input.

use std::time::Duration;

use handshake_proton::repl::language::{
    command_names, complete, help, parse_line, parse_script, Command, Invocation, COMMANDS,
    MAX_REPEAT,
};
use rstest::rstest;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn one(repeat: u32, command: Command) -> Vec<(u32, Command)> {
    vec![(repeat, command)]
}

#[rstest]
#[case::empty("", vec![])]
#[case::blank("  \t ", vec![])]
#[case::comment_only("# nothing to do ; connect", vec![])]
#[case::semicolons_only(" ; ;; ", vec![])]
#[case::connect("connect", one(1, Command::Connect { timeout: None }))]
#[case::connect_secs("connect 2.5", one(1, Command::Connect { timeout: Some(ms(2_500)) }))]
#[case::connect_hour("connect 3600", one(1, Command::Connect { timeout: Some(ms(3_600_000)) }))]
#[case::send_event("send_event", one(1, Command::SendEvent { id: None }))]
#[case::send_event_id("send_event 7", one(1, Command::SendEvent { id: Some(7) }))]
#[case::commit("commit 40", one(1, Command::Commit { request: 40 }))]
#[case::commit_zero("commit 0", one(1, Command::Commit { request: 0 }))]
#[case::commit_max("commit 4294967295", one(1, Command::Commit { request: u32::MAX }))]
#[case::commit_hex("commit 0xFFFFFFFE", one(1, Command::Commit { request: 0xFFFF_FFFE }))]
#[case::commit_hex_upper_x("commit 0X10", one(1, Command::Commit { request: 16 }))]
#[case::read_action("read_action", one(1, Command::ReadAction))]
#[case::close("close", one(1, Command::Close))]
#[case::sleep_zero("sleep 0", one(1, Command::Sleep { duration: ms(0) }))]
#[case::sleep_half("sleep 0.5", one(1, Command::Sleep { duration: ms(500) }))]
#[case::sleep_bare_fraction("sleep .25", one(1, Command::Sleep { duration: ms(250) }))]
#[case::sleep_ms("sleep 1.001", one(1, Command::Sleep { duration: ms(1_001) }))]
#[case::reset("reset", one(1, Command::Reset))]
#[case::reset_stream("reset_stream", one(1, Command::ResetStream))]
#[case::wait_close("wait_close", one(1, Command::WaitClose { timeout: None }))]
#[case::wait_close_secs("wait_close 30", one(1, Command::WaitClose { timeout: Some(ms(30_000)) }))]
#[case::status("status", one(1, Command::Status))]
#[case::save("save out.json", one(1, Command::Save { path: "out.json".into() }))]
#[case::save_quoted("save \"my session.json\"", one(1, Command::Save { path: "my session.json".into() }))]
#[case::save_escapes(r#"save "a\"b\\c;d#e""#, one(1, Command::Save { path: r#"a"b\c;d#e"#.into() }))]
#[case::save_path("save ../x/y-z_1.json", one(1, Command::Save { path: "../x/y-z_1.json".into() }))]
#[case::help("help", one(1, Command::Help { topic: None }))]
#[case::help_topic("help commit", one(1, Command::Help { topic: Some("commit") }))]
#[case::help_quit("help quit", one(1, Command::Help { topic: Some("exit") }))]
#[case::exit("exit", one(1, Command::Exit))]
#[case::quit("quit", one(1, Command::Exit))]
#[case::repeat("5 send_event", one(5, Command::SendEvent { id: None }))]
#[case::repeat_max("10000 read_action", one(MAX_REPEAT, Command::ReadAction))]
#[case::repeat_args("3 commit 7", one(3, Command::Commit { request: 7 }))]
#[case::tabs("\tcommit\t7\t", one(1, Command::Commit { request: 7 }))]
#[case::trailing_comment("commit 7 # the answer is 9", one(1, Command::Commit { request: 7 }))]
#[case::comment_glued("commit 7#x", one(1, Command::Commit { request: 7 }))]
#[case::chain(
    "connect; 3 send_event; commit 40 # c",
    vec![
        (1, Command::Connect { timeout: None }),
        (3, Command::SendEvent { id: None }),
        (1, Command::Commit { request: 40 }),
    ]
)]
#[case::chain_tight(
    "commit 7;read_action;;close",
    vec![(1, Command::Commit { request: 7 }), (1, Command::ReadAction), (1, Command::Close)]
)]
#[case::quoted_semicolon(
    "save \"a;b\"; exit",
    vec![(1, Command::Save { path: "a;b".into() }), (1, Command::Exit)]
)]
fn parses(#[case] line: &str, #[case] expected: Vec<(u32, Command)>) {
    let got: Vec<(u32, Command)> = parse_line(line)
        .unwrap_or_else(|e| panic!("{line:?}: {e}"))
        .into_iter()
        .map(|i| (i.repeat, i.command))
        .collect();
    assert_eq!(got, expected, "{line:?}");
}

#[test]
fn invocations_know_their_columns() {
    let got: Vec<usize> = parse_line("connect; 3 send_event;  commit 40")
        .unwrap_or_else(|e| panic!("{e}"))
        .iter()
        .map(|i| i.column)
        .collect();
    assert_eq!(got, vec![1, 10, 25]);
}

#[rstest]
#[case::unknown(
    "comit 4",
    1,
    "unknown command `comit` (did you mean `commit`?): expected one of connect"
)]
#[case::unknown_far("frobnicate", 1, "unknown command `frobnicate`: expected one of")]
#[case::unknown_in_chain("connect; comit", 10, "did you mean `commit`?")]
#[case::commit_missing("commit", 7, "`commit` needs a request id: a u32 (0 to 4294967295, decimal or 0x hex), found the end of the command")]
#[case::commit_missing_in_chain("commit ; close", 8, "`commit` needs a request id")]
#[case::commit_word(
    "commit forty",
    8,
    "expected a u32 (0 to 4294967295, decimal or 0x hex), found `forty`"
)]
#[case::commit_negative("commit -1", 8, "expected a u32")]
#[case::commit_too_big("commit 4294967296", 8, "`4294967296` does not fit a u32")]
#[case::commit_hex_too_big("commit 0x100000000", 8, "does not fit a u32")]
#[case::commit_bad_hex("commit 0xZZ", 8, "expected a u32")]
#[case::commit_empty_hex("commit 0x", 8, "expected a u32")]
#[case::commit_two(
    "commit 1 2",
    10,
    "`commit` takes one argument (a request id), found another argument `2`"
)]
#[case::no_args(
    "read_action 5",
    13,
    "`read_action` takes no argument, found `5`: expected `;`, `#` or the end of the line"
)]
#[case::close_arg("close now", 7, "`close` takes no argument")]
#[case::exit_arg("exit 0", 6, "`exit` takes no argument")]
#[case::sleep_missing(
    "sleep",
    6,
    "`sleep` needs a number of seconds (like 2 or 0.5), found the end of the command"
)]
#[case::sleep_word(
    "sleep abc",
    7,
    "expected seconds (like 2 or 0.5: digits, at most 3 decimals, 0 to 3600), found `abc`"
)]
#[case::sleep_decimals("sleep 1.2345", 7, "`1.2345` has more than 3 decimals")]
#[case::sleep_dot("sleep 1.", 7, "expected seconds")]
#[case::sleep_only_dot("sleep .", 7, "expected seconds")]
#[case::sleep_negative("sleep -1", 7, "expected seconds")]
#[case::sleep_exponent("sleep 1e3", 7, "expected seconds")]
#[case::sleep_hour_plus("sleep 3600.001", 7, "is more than an hour")]
#[case::sleep_huge("sleep 99999999999999999999999", 7, "expected seconds")]
#[case::connect_zero("connect 0", 9, "`0` is no time at all: expected seconds (like 2 or 0.5: digits, at most 3 decimals, 0.001 to 3600)")]
#[case::connect_two("connect 1 2", 11, "`connect` takes one argument (seconds)")]
#[case::wait_close_zero("wait_close 0.000", 12, "no time at all")]
#[case::repeat_zero(
    "0 send_event",
    1,
    "expected a repeat count from 1 to 10000 or a command name, found `0`"
)]
#[case::repeat_too_many("10001 send_event", 1, "repeat count from 1 to 10000")]
#[case::repeat_huge("99999999999999999999 close", 1, "repeat count from 1 to 10000")]
#[case::repeat_word("2x send_event", 1, "found `2x`")]
#[case::repeat_alone(
    "5",
    2,
    "expected a command after the repeat count `5`, found the end of the command"
)]
#[case::repeat_before_semicolon("5; close", 2, "expected a command after the repeat count `5`")]
#[case::repeat_twice("2 3 close", 3, "unknown command `3`")]
#[case::quoted_command("\"connect\"", 1, "expected a command name, found `connect`")]
#[case::unterminated(
    "save \"my file",
    6,
    "unterminated quoted string: expected a closing `\"`"
)]
#[case::unterminated_escape("save \"ab\\", 6, "unterminated quoted string")]
#[case::bad_escape(
    "save \"a\\qb\"",
    8,
    "unknown escape `\\q` in a quoted string: expected `\\\"` or `\\\\`"
)]
#[case::empty_path("save \"\"", 6, "expected a file name, found an empty string")]
#[case::quote_in_word("save a\"b", 7, "a `\"` inside a word")]
#[case::glued_after_quote(
    "save \"a\"b",
    9,
    "expected a space, `;` or the end of the line after the closing `\"`, found `b`"
)]
#[case::save_missing("save", 5, "`save` needs a file name")]
#[case::save_two("save a b", 8, "put one with spaces in double quotes")]
#[case::help_unknown("help foo", 6, "no command `foo`: expected one of connect, send_event")]
#[case::unicode_columns("save \"é\"; comit", 11, "unknown command `comit`")]
fn rejects(#[case] line: &str, #[case] column: usize, #[case] message: &str) {
    let e = match parse_line(line) {
        Ok(v) => panic!("{line:?} parsed as {v:?}"),
        Err(e) => e,
    };
    assert_eq!(e.column, column, "{line:?}: {e}");
    assert!(
        e.message.contains(message),
        "{line:?}: {:?} does not contain {message:?}",
        e.message
    );
    assert!(e.to_string().starts_with(&format!("column {column}: ")));
}

#[test]
fn a_caret_points_at_the_column() {
    let e = parse_line("commit forty").expect_err("bad");
    assert_eq!(
        e.caret("commit forty", 8),
        "               ^ expected a u32 (0 to 4294967295, decimal or 0x hex), found `forty`"
    );
    assert_eq!(
        e.pointed("commit forty").lines().collect::<Vec<_>>(),
        vec![
            "commit forty",
            "       ^ expected a u32 (0 to 4294967295, decimal or 0x hex), found `forty`"
        ]
    );
}

#[test]
fn scripts_report_the_line() {
    let script = "connect\n# setup done\n3 send_event; commit x\nclose\n";
    let (line, e) = parse_script(script).expect_err("line 3 is bad");
    assert_eq!((line, e.column), (3, 22));
    let ok = parse_script("connect\n\n2 send_event # two\nclose")
        .unwrap_or_else(|(n, e)| panic!("{n}: {e}"));
    assert_eq!(ok.len(), 3);
}

#[rstest]
#[case("connect")]
#[case("connect 0.25")]
#[case("send_event")]
#[case("send_event 4294967295")]
#[case("commit 0")]
#[case("3 commit 17")]
#[case("sleep 0")]
#[case("sleep 12.5")]
#[case("wait_close 1.001")]
#[case("save plain.json")]
#[case("save \"with space.json\"")]
#[case(r#"save "q\"uote;#\\.json""#)]
#[case("help reset_stream")]
#[case("10000 exit")]
fn display_reads_back(#[case] line: &str) {
    let parsed = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    let shown: Vec<String> = parsed.iter().map(Invocation::to_string).collect();
    let again = parse_line(&shown.join("; ")).unwrap_or_else(|e| panic!("{shown:?}: {e}"));
    let strip = |v: Vec<Invocation>| -> Vec<(u32, Command)> {
        v.into_iter().map(|i| (i.repeat, i.command)).collect()
    };
    assert_eq!(strip(again), strip(parsed), "{line} shown as {shown:?}");
}

#[rstest]
#[case::everything("", 0, 0, command_names(), false)]
#[case::prefix("co", 2, 0, vec!["connect", "commit"], false)]
#[case::one("rese", 4, 0, vec!["reset", "reset_stream"], false)]
#[case::after_semicolon("connect; se", 11, 9, vec!["send_event"], false)]
#[case::after_count("5 re", 4, 2, vec!["read_action", "reset", "reset_stream"], false)]
#[case::after_help("help wa", 7, 5, vec!["wait_close"], false)]
#[case::after_count_help("2 help s", 8, 7, vec!["send_event", "sleep", "status", "save"], false)]
#[case::argument("commit 4", 8, 8, vec![], false)]
#[case::typing_a_count("5", 1, 1, vec![], false)]
#[case::in_comment("connect # co", 12, 12, vec![], false)]
#[case::path("save fi", 7, 5, vec![], true)]
#[case::quoted_path("save \"a;b", 9, 5, vec![], true)]
#[case::mid_line("commit 4; cl", 12, 10, vec!["close"], false)]
fn completes(
    #[case] line: &str,
    #[case] pos: usize,
    #[case] start: usize,
    #[case] candidates: Vec<&'static str>,
    #[case] path: bool,
) {
    let c = complete(line, pos);
    assert_eq!(c.path, path, "{line:?}");
    if !path {
        assert_eq!(c.start, start, "{line:?}");
        let mut got = c.candidates.clone();
        let mut want = candidates.clone();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{line:?}");
    }
}

#[test]
fn help_lists_every_command() {
    let all = help(None);
    for c in COMMANDS {
        assert!(all.contains(c.name), "{} missing from help", c.name);
        let one = help(Some(c.name));
        assert!(one.starts_with(c.name), "{one}");
        assert!(one.lines().all(|l| l.chars().count() <= 100), "{one}");
    }
}

/// Every string of up to 4 characters over an alphabet that touches every branch of the lexer,
/// and long mixtures: parsing and completion at every position never panic.
#[test]
fn never_panics() {
    const ALPHABET: &[char] = &[
        ' ', '\t', ';', '#', '"', '\\', '0', '5', '.', 'x', '-', 'é', 'c', 'e', 's',
    ];
    let mut lines: Vec<String> = vec![String::new()];
    let mut frontier: Vec<String> = vec![String::new()];
    for _ in 0..4 {
        let mut next = Vec::new();
        for s in &frontier {
            for c in ALPHABET {
                let mut t = s.clone();
                t.push(*c);
                next.push(t);
            }
        }
        lines.extend(next.iter().cloned());
        frontier = next;
    }
    // Command words followed by every short tail, and a pseudo-random long soup.
    for name in command_names().into_iter().chain(["quit", "3", "10001"]) {
        for tail in frontier.iter().take(2_000) {
            lines.push(format!("{name} {tail}"));
        }
    }
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..2_000 {
        let mut s = String::new();
        for _ in 0..(x % 60) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let pick = usize::try_from(x % 40).unwrap_or(0);
            match ALPHABET.get(pick) {
                Some(c) => s.push(*c),
                None => s.push_str(command_names()[pick % command_names().len()]),
            }
        }
        lines.push(s);
    }
    for line in &lines {
        let _ = parse_line(line);
        for (pos, _) in line.char_indices().chain([(line.len(), ' ')]) {
            let c = complete(line, pos);
            assert!(c.start <= pos, "{line:?} at {pos}");
        }
        // Not on a character boundary: no completion, no panic.
        let _ = complete(line, line.len() + 1);
    }
}
