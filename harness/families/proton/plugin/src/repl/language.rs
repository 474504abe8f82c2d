//! The Proton REPL's command language, pure (no I/O): one line is a chain of commands separated
//! by `;`, each optionally preceded by a repeat count (`5 send_event`), and a `#` starts a comment
//! that runs to the end of the line. It is the original `client_repl`'s language (`connect [secs]`,
//! `send_event`, `commit <id>`, `read_action`, `close`, `sleep <secs>`, `reset`, `help`, `exit`)
//! plus `reset_stream`, `wait_close [secs]`, `status` and `save FILE`.
//!
//! ```
//! use handshake_proton::repl::language::{parse_line, Command};
//!
//! let line = parse_line("connect; 3 send_event; commit 40 # the answer is 42").unwrap();
//! assert_eq!(line.len(), 3);
//! assert_eq!(line[1].repeat, 3);
//! assert_eq!(line[2].command, Command::Commit { request: 40 });
//!
//! let err = parse_line("commit forty").unwrap_err();
//! assert_eq!(err.column, 8);
//! assert!(err.message.contains("expected a u32"));
//! ```
//!
//! Every error names the 1-based column (in characters) of the token it is about and what was
//! expected there. The parser never panics, whatever the input.

use std::fmt;
use std::time::Duration;

/// The most a repeat count may be (a saved session holds at most 10,000 steps anyway).
pub const MAX_REPEAT: u32 = 10_000;

/// The longest `connect`, `sleep` or `wait_close` may wait: one hour (a scenario's longest
/// window).
pub const MAX_SECS: u64 = 3_600;

/// One command of the language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `connect [secs]`: connect (ALPN `proton`), open the three bidirectional streams and write
    /// their discriminators 1, 2, 3; wait up to `secs` (default 5) for the handshake.
    Connect {
        /// How long to wait for the handshake (`None`: the default).
        timeout: Option<Duration>,
    },
    /// `send_event [id]`: send the next event id (1, 2, 3 … per connection), or `id`.
    SendEvent {
        /// An explicit id (`None`: the next one).
        id: Option<u32>,
    },
    /// `commit <id>`: a StateCommit request; the server answers id + 2.
    Commit {
        /// The request.
        request: u32,
    },
    /// `read_action`: write 42 on the Action stream and read the counter (pull).
    ReadAction,
    /// `close`: close the connection with application code 0.
    Close,
    /// `sleep <secs>`.
    Sleep {
        /// How long.
        duration: Duration,
    },
    /// `reset`: close, then wait 2 × idle.
    Reset,
    /// `reset_stream`: P4: a 4th stream whose discriminator is 0xFF.
    ResetStream,
    /// `wait_close [secs]`: wait for the connection to end and print how.
    WaitClose {
        /// How long (`None`: the operation timeout).
        timeout: Option<Duration>,
    },
    /// `status`: the session so far.
    Status,
    /// `save FILE`: the session so far as a scenario.
    Save {
        /// Where.
        path: String,
    },
    /// `help [command]`.
    Help {
        /// One command's help (`None`: all).
        topic: Option<&'static str>,
    },
    /// `exit` (or `quit`).
    Exit,
}

impl Command {
    /// Its name as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Connect { .. } => "connect",
            Command::SendEvent { .. } => "send_event",
            Command::Commit { .. } => "commit",
            Command::ReadAction => "read_action",
            Command::Close => "close",
            Command::Sleep { .. } => "sleep",
            Command::Reset => "reset",
            Command::ResetStream => "reset_stream",
            Command::WaitClose { .. } => "wait_close",
            Command::Status => "status",
            Command::Save { .. } => "save",
            Command::Help { .. } => "help",
            Command::Exit => "exit",
        }
    }
}

impl fmt::Display for Command {
    /// The command as it would be typed (`commit 40`, `sleep 0.5`, `save "a b.json"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        match self {
            Command::Connect { timeout: Some(d) }
            | Command::WaitClose { timeout: Some(d) }
            | Command::Sleep { duration: d } => write!(f, " {}", seconds(*d)),
            Command::SendEvent { id: Some(id) } => write!(f, " {id}"),
            Command::Commit { request } => write!(f, " {request}"),
            Command::Save { path } => write!(f, " {}", quote(path)),
            Command::Help { topic: Some(t) } => write!(f, " {t}"),
            _ => Ok(()),
        }
    }
}

/// `d` in seconds as the language writes it (`2`, `0.5`, `0.125`).
pub fn seconds(d: Duration) -> String {
    let ms = d.as_millis();
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:03}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// A word as the language reads it back: bare when it can be, else in double quotes.
pub fn quote(word: &str) -> String {
    let bare = !word.is_empty()
        && word
            .chars()
            .all(|c| !c.is_whitespace() && !matches!(c, ';' | '#' | '"' | '\\'));
    if bare {
        return word.to_owned();
    }
    let mut s = String::from("\"");
    for c in word.chars() {
        if matches!(c, '"' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s.push('"');
    s
}

/// One command with its repeat count, as written on a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// How many times (1 without a count).
    pub repeat: u32,
    /// The command.
    pub command: Command,
    /// The 1-based column where it starts (its count, or its name).
    pub column: usize,
}

impl fmt::Display for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.repeat != 1 {
            write!(f, "{} ", self.repeat)?;
        }
        write!(f, "{}", self.command)
    }
}

/// A line that does not parse: where (1-based column, in characters) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The column of the token at fault (one past the end of the line for a missing token).
    pub column: usize,
    /// What is wrong and what was expected there.
    pub message: String,
}

impl ParseError {
    fn at(column: usize, message: impl Into<String>) -> ParseError {
        ParseError {
            column,
            message: message.into(),
        }
    }

    /// A caret under the column of `line` (shown after `indent` columns, e.g. a prompt), then
    /// the message.
    pub fn caret(&self, line: &str, indent: usize) -> String {
        let pad: String = line
            .chars()
            .take(self.column.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!("{}{pad}^ {}", " ".repeat(indent), self.message)
    }

    /// The line with a caret under the column, then the message.
    pub fn pointed(&self, line: &str) -> String {
        format!("{line}\n{}", self.caret(line, 0))
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

/// A command's name, its arguments as help shows them, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    /// The name.
    pub name: &'static str,
    /// Its arguments (`<id>`, `[secs]`).
    pub args: &'static str,
    /// One line.
    pub summary: &'static str,
    /// More detail for `help NAME`.
    pub detail: &'static str,
}

/// Every command, in the order `help` lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "connect",
        args: "[secs]",
        summary: "connect, open the 3 streams and send their discriminators 1, 2, 3",
        detail: "Connects to the target (QUIC, ALPN proton), opens three bidirectional streams \
                 (0 Event, 4 StateCommit, 8 Action) and writes their discriminators 1, 2, 3. \
                 Waits up to secs (default 5) for the handshake. While a connection is live a \
                 second connect makes a second connection (a server must refuse it: H10).",
    },
    CommandInfo {
        name: "send_event",
        args: "[id]",
        summary: "send the next event id (1, 2, 3 … per connection) and print the echo",
        detail: "Writes a u32 event id on the Event stream and waits for its echo. Without an \
                 id it sends the next one of the connection (1, 2, 3 …); with an id it sends \
                 that one (ids must strictly increase: a server closes with 5 otherwise) and \
                 counts on from it.",
    },
    CommandInfo {
        name: "commit",
        args: "<id>",
        summary: "send a StateCommit request and print the answer (id + 2)",
        detail: "Writes the u32 request on the StateCommit stream (decimal or 0x hex) and waits \
                 for the answer, request + 2 (wrapping as coded; a P1 server closes with 5 for \
                 requests from 0xFFFFFFFE).",
    },
    CommandInfo {
        name: "read_action",
        args: "",
        summary: "write 42 on the Action stream and print the counter (pull)",
        detail: "Writes 42 on the Action stream and waits for the server's counter, 0, 1, 2 … \
                 per connection (pull, as coded).",
    },
    CommandInfo {
        name: "close",
        args: "",
        summary: "close the connection with application code 0",
        detail: "Closes the current connection with application code 0.",
    },
    CommandInfo {
        name: "sleep",
        args: "<secs>",
        summary: "wait, printing whatever the server does meanwhile",
        detail: "Waits secs seconds (at most 3 decimals); what the server does meanwhile (a \
                 close on a timer …) is printed as it happens.",
    },
    CommandInfo {
        name: "reset",
        args: "",
        summary: "close, then wait 2 × idle (the server's idle timeout, --idle-ms)",
        detail: "Closes the current connection with code 0, then waits twice the server's idle \
                 timeout (--idle-ms, default 5000) so that the server has forgotten it.",
    },
    CommandInfo {
        name: "reset_stream",
        args: "",
        summary: "P4: open a 4th stream with discriminator 0xFF (the server closes with 0)",
        detail: "Opens a 4th bidirectional stream and writes 0xFF, the reset discriminator of \
                 P4. A server with the reset_discriminator option closes with code 0 and takes \
                 a new connection at once; without it the 4th stream is blocked (MAX_STREAMS 3).",
    },
    CommandInfo {
        name: "wait_close",
        args: "[secs]",
        summary: "wait for the connection to end and print how (code and name)",
        detail: "Waits up to secs (default: --op-timeout) for the current connection to end and \
                 prints how: the application code and its name, e.g. 5 (stream_error).",
    },
    CommandInfo {
        name: "status",
        args: "",
        summary: "the connections, counters and steps recorded so far",
        detail: "Prints the target, every connection with its state and counters, and how many \
                 scenario steps `save` would write.",
    },
    CommandInfo {
        name: "save",
        args: "FILE",
        summary: "write the session so far as a scenario that replays it as a test",
        detail: "Writes the session so far as a Proton scenario (iut role server): the steps \
                 that were done and the expectations of what was observed (echoes, commit \
                 answers, action counters, the close). Replay it with \
                 `harness run FILE --iut ref:project` or against any server. A path with spaces \
                 goes in double quotes.",
    },
    CommandInfo {
        name: "help",
        args: "[command]",
        summary: "this list, or one command's help",
        detail: "Lists the commands, or explains one.",
    },
    CommandInfo {
        name: "exit",
        args: "",
        summary: "close any connection and leave (also `quit`, Ctrl-D)",
        detail: "Closes any live connection with code 0 and leaves the REPL.",
    },
];

/// The names `help` and completion know (`quit` is an alias of `exit`).
pub fn command_names() -> Vec<&'static str> {
    COMMANDS.iter().map(|c| c.name).collect()
}

/// The help text of one command or of all, with the line syntax.
pub fn help(topic: Option<&str>) -> String {
    if let Some(info) = topic.and_then(|t| COMMANDS.iter().find(|c| c.name == t)) {
        let usage = format!("{} {}", info.name, info.args);
        let mut s = format!("{}\n", usage.trim_end());
        for line in wrap(info.detail, 92) {
            s.push_str(&format!("  {line}\n"));
        }
        return s;
    }
    let mut s = String::from("Commands:\n");
    for c in COMMANDS {
        let usage = format!("{} {}", c.name, c.args);
        s.push_str(&format!("  {:<20} {}\n", usage.trim_end(), c.summary));
    }
    s.push_str(
        "Chain commands with `;`, repeat one with a leading count (`5 send_event`), comment with \
         `#`.\nExample: connect; 3 send_event; commit 40; read_action; save session.json\n",
    );
    s
}

/// `text` in lines of at most `width` characters (longer words stand alone).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

// ---- Tokens.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A bare word.
    Word(String),
    /// A double-quoted string (escapes resolved).
    Quoted(String),
    /// `;`.
    Semi,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    tok: Tok,
    /// 1-based column of its first character.
    column: usize,
}

impl Token {
    fn text(&self) -> &str {
        match &self.tok {
            Tok::Word(w) | Tok::Quoted(w) => w,
            Tok::Semi => ";",
        }
    }

    fn shown(&self) -> String {
        match &self.tok {
            Tok::Word(w) => format!("`{w}`"),
            Tok::Quoted(w) => format!("`{}`", quote(w)),
            Tok::Semi => "`;`".into(),
        }
    }
}

/// Splits a line into words, quoted strings and `;`, up to a `#` outside quotes.
fn tokenize(line: &str) -> Result<(Vec<Token>, usize), ParseError> {
    let chars: Vec<char> = line.chars().collect();
    let end = chars.len() + 1;
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '#' {
            return Ok((tokens, i + 1));
        } else if c == ';' {
            tokens.push(Token {
                tok: Tok::Semi,
                column: i + 1,
            });
            i += 1;
        } else if c == '"' {
            let start = i;
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(ParseError::at(
                            start + 1,
                            "unterminated quoted string: expected a closing `\"`",
                        ))
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some('\\') => match chars.get(i + 1) {
                        Some(&e) if e == '"' || e == '\\' => {
                            text.push(e);
                            i += 2;
                        }
                        Some(&e) => {
                            return Err(ParseError::at(
                                i + 1,
                                format!(
                                    "unknown escape `\\{e}` in a quoted string: expected `\\\"` or `\\\\`"
                                ),
                            ))
                        }
                        None => {
                            return Err(ParseError::at(
                                start + 1,
                                "unterminated quoted string: expected a closing `\"`",
                            ))
                        }
                    },
                    Some(&ch) => {
                        text.push(ch);
                        i += 1;
                    }
                }
            }
            if let Some(&next) = chars.get(i) {
                if !next.is_whitespace() && next != ';' && next != '#' {
                    return Err(ParseError::at(
                        i + 1,
                        format!("expected a space, `;` or the end of the line after the closing `\"`, found `{next}`"),
                    ));
                }
            }
            tokens.push(Token {
                tok: Tok::Quoted(text),
                column: start + 1,
            });
        } else {
            let start = i;
            let mut text = String::new();
            while let Some(&ch) = chars.get(i) {
                if ch.is_whitespace() || ch == ';' || ch == '#' {
                    break;
                }
                if ch == '"' {
                    return Err(ParseError::at(
                        i + 1,
                        "a `\"` inside a word: quote the whole word (\"like this\")",
                    ));
                }
                text.push(ch);
                i += 1;
            }
            tokens.push(Token {
                tok: Tok::Word(text),
                column: start + 1,
            });
        }
    }
    Ok((tokens, end))
}

// ---- Parsing.

/// Parses one line into its commands, in order (none for a blank or comment line).
pub fn parse_line(line: &str) -> Result<Vec<Invocation>, ParseError> {
    let (tokens, end) = tokenize(line)?;
    let mut out = Vec::new();
    for segment in tokens.split(|t| t.tok == Tok::Semi) {
        // The column just past the segment: its `;`, or the end of the line.
        let seg_end = segment
            .last()
            .map(|last| {
                tokens
                    .iter()
                    .find(|t| t.tok == Tok::Semi && t.column > last.column)
                    .map_or(end, |t| t.column)
            })
            .unwrap_or(end);
        if let Some(inv) = parse_segment(segment, seg_end)? {
            out.push(inv);
        }
    }
    Ok(out)
}

/// Parses a whole script (one command line per text line); errors name the line too.
pub fn parse_script(text: &str) -> Result<Vec<Invocation>, (usize, ParseError)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        out.extend(parse_line(line).map_err(|e| (n + 1, e))?);
    }
    Ok(out)
}

fn parse_segment(seg: &[Token], end: usize) -> Result<Option<Invocation>, ParseError> {
    let Some(first) = seg.first() else {
        return Ok(None);
    };
    let mut rest = seg;
    let mut repeat = 1;
    if let Tok::Word(w) = &first.tok {
        if w.starts_with(|c: char| c.is_ascii_digit()) {
            repeat = parse_repeat(first)?;
            rest = &seg[1..];
            if rest.is_empty() {
                return Err(ParseError::at(
                    end,
                    format!(
                        "expected a command after the repeat count `{w}`, found the end of the command"
                    ),
                ));
            }
        }
    }
    let name_tok = &rest[0];
    let name = match &name_tok.tok {
        Tok::Word(w) => w.as_str(),
        _ => {
            return Err(ParseError::at(
                name_tok.column,
                format!("expected a command name, found {}", name_tok.shown()),
            ))
        }
    };
    let args = &rest[1..];
    let command = parse_command(name, name_tok.column, args, end)?;
    Ok(Some(Invocation {
        repeat,
        command,
        column: first.column,
    }))
}

fn parse_repeat(t: &Token) -> Result<u32, ParseError> {
    let text = t.text();
    let bad = || {
        ParseError::at(
            t.column,
            format!(
                "expected a repeat count from 1 to {MAX_REPEAT} or a command name, found `{text}`"
            ),
        )
    };
    if !text.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=MAX_REPEAT).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// The closest command name to a misspelled one (edit distance ≤ 2).
fn suggestion(name: &str) -> Option<&'static str> {
    let mut best: Option<(usize, &'static str)> = None;
    for candidate in command_names().into_iter().chain(["quit"]) {
        let d = distance(name, candidate);
        if d <= 2 && best.is_none_or(|(b, _)| d < b) {
            best = Some((d, candidate));
        }
    }
    best.map(|(_, c)| c)
}

fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            let del = prev[j + 1] + 1;
            let ins = cur[j] + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn parse_command(
    name: &str,
    column: usize,
    args: &[Token],
    end: usize,
) -> Result<Command, ParseError> {
    let no_args = |command: Command| -> Result<Command, ParseError> {
        match args.first() {
            None => Ok(command),
            Some(t) => Err(ParseError::at(
                t.column,
                format!(
                    "`{name}` takes no argument, found {}: expected `;`, `#` or the end of the line",
                    t.shown()
                ),
            )),
        }
    };
    let at_most_one = |what: &str| -> Result<Option<&Token>, ParseError> {
        if let Some(extra) = args.get(1) {
            return Err(ParseError::at(
                extra.column,
                format!(
                    "`{name}` takes {what}, found another argument {}: expected `;`, `#` or the end of the line",
                    extra.shown()
                ),
            ));
        }
        Ok(args.first())
    };
    let required = |what: &str, token: Option<&Token>| -> Result<Token, ParseError> {
        token.cloned().ok_or_else(|| {
            ParseError::at(
                end,
                format!("`{name}` needs {what}, found the end of the command"),
            )
        })
    };
    Ok(match name {
        "connect" => Command::Connect {
            timeout: at_most_one("one argument (seconds)")?
                .map(|t| parse_secs(t, false))
                .transpose()?,
        },
        "send_event" => Command::SendEvent {
            id: at_most_one("one argument (an event id)")?
                .map(parse_u32)
                .transpose()?,
        },
        "commit" => {
            let t = required(
                "a request id: a u32 (0 to 4294967295, decimal or 0x hex)",
                at_most_one("one argument (a request id)")?,
            )?;
            Command::Commit {
                request: parse_u32(&t)?,
            }
        }
        "read_action" => no_args(Command::ReadAction)?,
        "close" => no_args(Command::Close)?,
        "sleep" => {
            let t = required(
                "a number of seconds (like 2 or 0.5)",
                at_most_one("one argument (seconds)")?,
            )?;
            Command::Sleep {
                duration: parse_secs(&t, true)?,
            }
        }
        "reset" => no_args(Command::Reset)?,
        "reset_stream" => no_args(Command::ResetStream)?,
        "wait_close" => Command::WaitClose {
            timeout: at_most_one("one argument (seconds)")?
                .map(|t| parse_secs(t, false))
                .transpose()?,
        },
        "status" => no_args(Command::Status)?,
        "save" => {
            let t = required(
                "a file name (in double quotes if it has spaces)",
                at_most_one("one argument (a file name; put one with spaces in double quotes)")?,
            )?;
            if t.text().is_empty() {
                return Err(ParseError::at(
                    t.column,
                    "expected a file name, found an empty string",
                ));
            }
            Command::Save {
                path: t.text().to_owned(),
            }
        }
        "help" => Command::Help {
            topic: match at_most_one("one argument (a command name)")? {
                None => None,
                Some(t) => {
                    let topic = if t.text() == "quit" { "exit" } else { t.text() };
                    Some(
                        command_names()
                            .into_iter()
                            .find(|n| *n == topic)
                            .ok_or_else(|| {
                                ParseError::at(
                                    t.column,
                                    format!(
                                        "no command {}: expected one of {}",
                                        t.shown(),
                                        command_names().join(", ")
                                    ),
                                )
                            })?,
                    )
                }
            },
        },
        "exit" | "quit" => no_args(Command::Exit)?,
        other => {
            let hint = suggestion(other)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(ParseError::at(
                column,
                format!(
                    "unknown command `{other}`{hint}: expected one of {}",
                    command_names().join(", ")
                ),
            ));
        }
    })
}

/// A u32: decimal, or hex with `0x`.
fn parse_u32(t: &Token) -> Result<u32, ParseError> {
    let text = t.text();
    let expected = "expected a u32 (0 to 4294967295, decimal or 0x hex)";
    let (digits, radix) = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => (hex, 16),
        None => (text, 10),
    };
    let all_digits = !digits.is_empty() && digits.chars().all(|c| c.is_digit(radix));
    if !all_digits {
        return Err(ParseError::at(
            t.column,
            format!("{expected}, found {}", t.shown()),
        ));
    }
    u32::from_str_radix(digits, radix).map_err(|_| {
        ParseError::at(
            t.column,
            format!("{} does not fit a u32: {expected}", t.shown()),
        )
    })
}

/// Seconds: digits with at most 3 decimals (milliseconds), at most [`MAX_SECS`]; zero only when
/// `zero_ok`.
fn parse_secs(t: &Token, zero_ok: bool) -> Result<Duration, ParseError> {
    let text = t.text();
    let expected = format!(
        "expected seconds (like 2 or 0.5: digits, at most 3 decimals, {} to {MAX_SECS})",
        if zero_ok { "0" } else { "0.001" }
    );
    let bad = || ParseError::at(t.column, format!("{expected}, found {}", t.shown()));
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if (whole.is_empty() && frac.is_empty())
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (text.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    if frac.len() > 3 {
        return Err(ParseError::at(
            t.column,
            format!("{} has more than 3 decimals: {expected}", t.shown()),
        ));
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let frac_ms: u64 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
    if whole > MAX_SECS || (whole == MAX_SECS && frac_ms > 0) {
        return Err(ParseError::at(
            t.column,
            format!("{} is more than an hour: {expected}", t.shown()),
        ));
    }
    let ms = whole * 1000 + frac_ms;
    if ms == 0 && !zero_ok {
        return Err(ParseError::at(
            t.column,
            format!("{} is no time at all: {expected}", t.shown()),
        ));
    }
    Ok(Duration::from_millis(ms))
}

// ---- Completion.

/// What may complete the word under the cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Byte offset in the line where the word starts (it is replaced).
    pub start: usize,
    /// Command names that begin with the word.
    pub candidates: Vec<&'static str>,
    /// The word is a file name (`save FILE`): complete it from the file system.
    pub path: bool,
}

/// Completion at byte offset `pos` of `line`: command names where a command may stand (at the
/// start of the line, after `;`, after a repeat count, after `help`), file names after `save`.
pub fn complete(line: &str, pos: usize) -> Completion {
    let none = Completion {
        start: pos,
        candidates: Vec::new(),
        path: false,
    };
    let Some(before) = line.get(..pos) else {
        return none;
    };
    // Find the current command's text: after the last `;` outside quotes; stop inside comments.
    let mut in_quote = false;
    let mut seg_start = 0;
    let mut escaped = false;
    for (i, c) in before.char_indices() {
        if in_quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_quote = false;
            }
            continue;
        }
        match c {
            '"' => in_quote = true,
            ';' => seg_start = i + 1,
            '#' => return none,
            _ => {}
        }
    }
    let segment = &before[seg_start..];
    let word_start = segment.rfind(char::is_whitespace).map_or(0, |i| {
        i + segment[i..].chars().next().map_or(1, char::len_utf8)
    });
    let word = &segment[word_start..];
    let previous: Vec<&str> = segment[..word_start].split_whitespace().collect();
    let start = seg_start + word_start;
    let is_count = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    let names = |prefix: &str| -> Vec<&'static str> {
        command_names()
            .into_iter()
            .filter(|n| n.starts_with(prefix))
            .collect()
    };
    // A leading repeat count does not change what stands after it.
    let words = match previous.split_first() {
        Some((first, rest)) if is_count(first) => rest,
        _ => previous.as_slice(),
    };
    match words {
        [] if !is_count(word) || !previous.is_empty() => Completion {
            start,
            candidates: names(word),
            path: false,
        },
        ["help"] => Completion {
            start,
            candidates: names(word),
            path: false,
        },
        ["save"] => Completion {
            start,
            candidates: Vec::new(),
            path: true,
        },
        _ => none,
    }
}
