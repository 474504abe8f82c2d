//! `harness proton repl`: the options, the line source (rustyline on a terminal — history, tab
//! completion — or plain lines from a pipe, each echoed) and the loop that runs the session.
//!
//! The line source runs on its own thread and hands over one line at a time; this thread owns the
//! session and its driver, and keeps the connection served (ACKs, the server's closes printed as
//! they happen) while the user types. Exit codes: 0 every command succeeded, 1 a command failed
//! (the server broke an exchange, did not answer in time …), 2 bad options, or (not on a
//! terminal) a line that does not parse.

use std::io::{BufRead, IsTerminal, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgMatches, Args, FromArgMatches};
use handshake_proton_endpoint::Profile;
use handshake_quic::KeyLog;
use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::FileHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Editor, ExternalPrinter, Helper};

use crate::format::Session;
use crate::repl::driver::{UdpDriver, VirtualDriver};
use crate::repl::language::{self, parse_line};
use crate::repl::save::effective_session;
use crate::repl::session::{Driver, Options, Outcome, Output, Repl};

/// The prompt.
pub const PROMPT: &str = "proton> ";

/// The history file in the home directory.
pub const HISTORY_FILE: &str = ".proton_history";

/// `harness proton repl`.
#[derive(Debug, Clone, Args)]
pub struct ReplArgs {
    /// The server: HOST:PORT, or ref:PROFILE for the reference server in-process in virtual time
    /// (ref:project, ref:as_coded, ref:project+reset_discriminator …).
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub target: String,
    /// The longest any exchange, reset_stream or wait_close waits, in seconds.
    #[arg(long, default_value = "10", value_parser = parse_timeout)]
    pub op_timeout: Duration,
    /// The server's timers (`reset` waits twice the idle timeout; saved scenarios record them
    /// and assume a startup delay of 0 unless given: the REPL talks to a server already
    /// listening).
    #[command(flatten)]
    pub timers: crate::cli::TimerArgs,
    /// The history file (default ~/.proton_history).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Append the connection's TLS secrets (NSS key log) to this file (real targets).
    #[arg(long)]
    pub keylog: Option<PathBuf>,
    /// Seed of the client's QUIC randomness.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds (like 10 or 2.5)"))?;
    if !secs.is_finite() || secs <= 0.0 || secs > language::MAX_SECS as f64 {
        return Err(format!(
            "`{text}`: expected seconds above 0 and at most {}",
            language::MAX_SECS
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

impl ReplArgs {
    /// The server's timers as given (what saved scenarios record).
    pub fn session(&self) -> Session {
        self.timers.session()
    }

    /// The session options.
    pub fn options(&self, target: String) -> Options {
        Options {
            target,
            op_timeout: self.op_timeout,
            idle: Duration::from_millis(self.timers.idle_ms.unwrap_or(5_000)),
            session: self.session(),
            ..Options::default()
        }
    }

    /// The driver for `--target`, with the target as shown.
    pub fn driver(&self) -> Result<(Box<dyn Driver>, String), String> {
        if let Some(profile) = self.target.strip_prefix("ref:") {
            let p = Profile::parse(profile)?;
            let shown = format!("ref:{p}");
            let d = VirtualDriver::new(&p, &effective_session(&self.session()), self.seed)?;
            return Ok((Box::new(d), shown));
        }
        let target = resolve(&self.target)?;
        let keys = Arc::new(match &self.keylog {
            Some(path) => KeyLog::with_file(path.clone()),
            None => KeyLog::default(),
        });
        let d = UdpDriver::new(target, self.seed, keys)?;
        Ok((Box::new(d), target.to_string()))
    }
}

fn resolve(text: &str) -> Result<SocketAddr, String> {
    let expected = "expected HOST:PORT (e.g. 127.0.0.1:5000) or ref:PROFILE";
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("--target `{text}`: {e}: {expected}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("--target `{text}` resolves to no address: {expected}"))
}

/// `harness proton`.
pub fn command() -> clap::Command {
    let repl = ReplArgs::augment_args(clap::Command::new("repl"))
        .about("An interactive client of any Proton server: prints each exchange with its timing; `save FILE` writes the session as a scenario")
        .long_about(
            "An interactive client of any Proton server over real UDP (or of the reference server \
             in-process: --target ref:PROFILE). Commands: connect [secs], send_event [id], commit <id>, \
             read_action, close, sleep <secs>, reset, reset_stream, wait_close [secs], status, \
             save FILE, help, exit; `;` chains commands, a leading number repeats one, `#` \
             comments. On a terminal: line editing, history (~/.proton_history) and tab \
             completion. From a pipe (`harness proton repl --target ADDR < script.txt`): each \
             line is echoed and run; exit 0 when every command succeeded, 1 when one failed, 2 \
             on a line that does not parse.",
        );
    clap::Command::new("proton")
        .about("Proton tools: `harness proton repl`, an interactive client that writes scenarios")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(repl)
}

/// Runs `harness proton …` (`None`: `name` is not Proton's).
pub fn run(name: &str, matches: &ArgMatches, out: &mut dyn Write) -> Option<i32> {
    if name != "proton" {
        return None;
    }
    Some(match matches.subcommand() {
        Some(("repl", m)) => match ReplArgs::from_arg_matches(m) {
            Ok(args) => {
                let input = if std::io::stdin().is_terminal() {
                    Input::Terminal {
                        history: history_path(args.history.clone()),
                    }
                } else {
                    Input::Lines(Box::new(std::io::BufReader::new(std::io::stdin())))
                };
                run_repl(&args, input, out)
            }
            Err(e) => {
                let _ = e.print();
                EXIT_INPUT
            }
        },
        _ => EXIT_INPUT,
    })
}

/// `--history`, or `~/.proton_history`; `None` (with a warning) when there is no home directory.
fn history_path(given: Option<PathBuf>) -> Option<PathBuf> {
    if given.is_some() {
        return given;
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Some(PathBuf::from(home).join(HISTORY_FILE)),
        None => {
            eprintln!(
                "warning: HOME is not set: the history is not kept (give --history FILE to keep it)"
            );
            None
        }
    }
}

/// Where the commands come from.
pub enum Input {
    /// A terminal: rustyline with history in this file (`None`: none kept).
    Terminal {
        /// The history file.
        history: Option<PathBuf>,
    },
    /// Lines from a pipe or file, each echoed before it runs.
    Lines(Box<dyn BufRead + Send>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Terminal { history } => f
                .debug_struct("Terminal")
                .field("history", history)
                .finish(),
            Input::Lines(_) => f.write_str("Lines"),
        }
    }
}

/// What the line source hands over.
enum FromReader {
    /// A line (1-based number).
    Line(usize, String),
    /// Prints above the prompt while the user types.
    Printer(Box<dyn ExternalPrinter + Send>),
    /// The input ended.
    Eof,
    /// The input cannot be read (why).
    Broken(String),
}

/// Writes lines to the command's output, flushed at once.
struct Lines<'a>(&'a mut dyn Write);

impl Output for Lines<'_> {
    fn line(&mut self, text: &str) {
        let _ = writeln!(self.0, "{text}");
        let _ = self.0.flush();
    }
}

/// Prints above rustyline's prompt.
struct Above<'a>(&'a mut (dyn ExternalPrinter + Send));

impl Output for Above<'_> {
    fn line(&mut self, text: &str) {
        let _ = self.0.print(format!("{text}\n"));
    }
}

/// Runs the REPL on `input` with the options of `args`; returns the exit code.
pub fn run_repl(args: &ReplArgs, input: Input, out: &mut dyn Write) -> i32 {
    let (mut driver, target) = match args.driver() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    if args.keylog.is_some() && !driver.real_time() {
        eprintln!("warning: --keylog is for real targets: the in-process server's secrets are not written");
    }
    let interactive = matches!(input, Input::Terminal { .. });
    let mut repl = Repl::new(args.options(target.clone()), driver.now());
    if interactive {
        let _ = writeln!(
            out,
            "Proton REPL, target {target} ({}). `help` lists the commands; `exit` or Ctrl-D leaves.",
            if driver.real_time() {
                "real time over UDP"
            } else {
                "the reference server in-process, virtual time"
            }
        );
        let _ = out.flush();
    }
    let (to_main, from_reader) = mpsc::channel::<FromReader>();
    let (to_reader, next_line) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || match input {
        Input::Terminal { history } => read_terminal(history, &to_main, &next_line),
        Input::Lines(lines) => read_lines(lines, &to_main, &next_line),
    });
    let mut printer: Option<Box<dyn ExternalPrinter + Send>> = None;
    let mut parse_error = false;
    let mut input_error = false;
    'session: loop {
        let message = loop {
            if !driver.real_time() {
                break from_reader.recv().unwrap_or(FromReader::Eof);
            }
            match from_reader.try_recv() {
                Ok(m) => break m,
                Err(mpsc::TryRecvError::Disconnected) => break FromReader::Eof,
                Err(mpsc::TryRecvError::Empty) => {
                    // Serve the connection while the user types.
                    let until = driver.now() + Duration::from_millis(20);
                    match printer.as_deref_mut() {
                        Some(p) => repl.idle(driver.as_mut(), until, &mut Above(p)),
                        None => repl.idle(driver.as_mut(), until, &mut Lines(out)),
                    }
                }
            }
        };
        match message {
            FromReader::Printer(p) => {
                printer = Some(p);
                continue;
            }
            FromReader::Eof => break,
            FromReader::Broken(why) => {
                eprintln!("error: {why}");
                input_error = true;
                break;
            }
            FromReader::Line(n, text) => {
                if !interactive && !text.trim().is_empty() {
                    Lines(out).line(&format!("{PROMPT}{text}"));
                }
                match parse_line(&text) {
                    Ok(invocations) => {
                        for inv in &invocations {
                            if repl.execute(driver.as_mut(), inv, &mut Lines(out)) == Outcome::Exit
                            {
                                break 'session;
                            }
                        }
                    }
                    // The caret stands under the input as the terminal (or the echo) shows it.
                    Err(e) if interactive => Lines(out).line(&e.caret(&text, PROMPT.len())),
                    Err(e) => {
                        Lines(out).line(&e.caret(&text, PROMPT.len()));
                        eprintln!("error: line {n}, column {}: {}", e.column, e.message);
                        parse_error = true;
                        break;
                    }
                }
                if to_reader.send(()).is_err() {
                    break;
                }
            }
        }
    }
    repl.shutdown(driver.as_mut(), &mut Lines(out));
    drop(to_reader);
    drop(from_reader);
    let _ = reader.join();
    let failures = repl.failures();
    if !interactive {
        Lines(out).line(&format!(
            "session: {} command(s) failed{}",
            failures,
            if parse_error {
                ", stopped at a line that does not parse"
            } else {
                ""
            }
        ));
    }
    if parse_error || input_error {
        EXIT_INPUT
    } else if failures > 0 {
        EXIT_FAILED
    } else {
        EXIT_OK
    }
}

fn read_lines(
    input: Box<dyn BufRead + Send>,
    to_main: &mpsc::Sender<FromReader>,
    next_line: &mpsc::Receiver<()>,
) {
    for (n, line) in input.lines().enumerate() {
        let message = match line {
            Ok(text) => FromReader::Line(n + 1, text),
            Err(e) => {
                let _ = to_main.send(FromReader::Broken(format!(
                    "line {}: cannot read the commands: {e} (they must be UTF-8 text)",
                    n + 1
                )));
                return;
            }
        };
        if to_main.send(message).is_err() || next_line.recv().is_err() {
            return;
        }
    }
    let _ = to_main.send(FromReader::Eof);
}

/// Tab completion: command names where a command may stand, file names after `save`.
struct ReplHelper {
    files: FilenameCompleter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &rustyline::Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let c = language::complete(line, pos);
        if c.path {
            return self.files.complete(line, pos, ctx);
        }
        Ok((
            c.start,
            c.candidates
                .into_iter()
                .map(|name| Pair {
                    display: name.to_owned(),
                    replacement: name.to_owned(),
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {}

impl Validator for ReplHelper {}

impl Helper for ReplHelper {}

fn read_terminal(
    history: Option<PathBuf>,
    to_main: &mpsc::Sender<FromReader>,
    next_line: &mpsc::Receiver<()>,
) {
    let config = Config::builder()
        .completion_type(CompletionType::List)
        .auto_add_history(false)
        .history_ignore_space(true)
        .build();
    let mut rl: Editor<ReplHelper, FileHistory> = match Editor::with_config(config) {
        Ok(rl) => rl,
        Err(e) => {
            let _ = to_main.send(FromReader::Broken(format!(
                "cannot start the line editor: {e}"
            )));
            return;
        }
    };
    rl.set_helper(Some(ReplHelper {
        files: FilenameCompleter::new(),
    }));
    if let Some(path) = &history {
        match rl.load_history(path) {
            Ok(()) => {}
            Err(ReadlineError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => eprintln!(
                "warning: cannot read the history {}: {e} (going on without it)",
                path.display()
            ),
        }
    }
    if let Ok(p) = rl.create_external_printer() {
        let _ = to_main.send(FromReader::Printer(Box::new(p)));
    }
    let mut history_warned = false;
    let mut n = 0;
    loop {
        match rl.readline(PROMPT) {
            Ok(line) => {
                n += 1;
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                    if let Some(path) = &history {
                        if let Err(e) = rl.append_history(path) {
                            if !history_warned {
                                eprintln!(
                                    "warning: cannot write the history {}: {e} (going on without it)",
                                    path.display()
                                );
                                history_warned = true;
                            }
                        }
                    }
                }
                if to_main.send(FromReader::Line(n, line)).is_err() || next_line.recv().is_err() {
                    return;
                }
            }
            // Ctrl-C at the prompt drops the line, as in a shell.
            Err(ReadlineError::Interrupted) => {}
            Err(ReadlineError::Eof) => {
                let _ = to_main.send(FromReader::Eof);
                return;
            }
            Err(e) => {
                let _ = to_main.send(FromReader::Broken(format!("cannot read the terminal: {e}")));
                return;
            }
        }
    }
}
