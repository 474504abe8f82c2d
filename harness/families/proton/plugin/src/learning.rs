//! Proton's alphabet for model learning (`harness learn`): what a client can do to a server, and
//! what the server did, abstractly.
//!
//! The streams have fixed places: the Event stream is stream 0, StateCommit 4, Action 8 (the
//! client's first three bidirectional streams). A stream's discriminator is written once (a
//! `write` with `first`): an input that sets a stream up does nothing the second time, and a value
//! input says its stream's discriminator first if nothing did, so every byte after a
//! discriminator is a whole u32 (a discriminator written twice would shift the values, and the
//! model would count bytes). Event ids are `$fresh` (1, 2, 3, …: strictly increasing, H3).

use serde_json::Value;

/// What every query does after its last input: it closes its connection, so that a server
/// serving one at a time is free for the next (the end of a `peer` object).
macro_rules! closing_the_connection {
    () => {
        r#""finally": [{"close": {"code": 0}}, {"wait": {"ms": 20}}]}"#
    };
}

/// The preamble and `finally` every part's queries share but `startup`'s (see [`SETUP`]).
macro_rules! connected_with_three_streams {
    () => {
        concat!(
            r#""peer": {"steps": [
        {"connect": {}},
        {"expect": {"kind": "connected", "within_ms": 2000}},
        {"open_bi": {"count": 3}}
    ],
    "#,
            closing_the_connection!()
        )
    };
}

/// Every query starts connected, with the three bidirectional streams 0, 4 and 8 opened on the
/// client's side (which sends nothing until something is written on one): the Event, StateCommit
/// and Action stream's places; every query ends closing its connection (`finally`, outside every
/// window).
pub const SETUP: &str = concat!(
    r#""session": {"startup_ms": 0},"#,
    connected_with_three_streams!()
);

/// A server's inputs, each an action and its window (`WINDOW_MS`, set by `harness learn`):
/// `event_stream`, `commit_stream`, `action_stream` set a stream up (its discriminator);
/// `bad_stream` gives the Action stream's place the unknown discriminator 0x04, `dup_stream` the
/// Event stream's 0x01 (a repeated discriminator); `event` (a fresh
/// id), `commit` (request 40) and `action` (a pull) write one u32 on their stream; the edges of
/// H3 and P1: `event_zero` (id 0), `event_high` (id 200: every fresh id after it is smaller, and
/// a second one is equal), `commit_max` (request 0xFFFFFFFE, whose answer would overflow);
/// `fin` ends the Event stream, `fin_mid_u32` ends it two bytes into a u32 (P5), `reset` resets
/// the StateCommit stream (code 0), `stop_sending` stops the server's sending on the Event
/// stream (H7); `fourth_stream` writes a discriminator on a 4th stream (12, opening it), which a
/// server allowing 3 leaves blocked (`setup.order`, P4; each time: its answer needs no memory);
/// `second_connection` connects again while the first connection is live (H10); `close` closes
/// the connection with code 0. `wait` (5.1 s) lets every timer but the 300 s operation timeout
/// fire (P3's 1 s discriminator timeout, the 5 s accept and idle timeouts): the untimed model is
/// what happens within the windows, all short against them.
pub const SERVER: &[(&str, &str)] = &[
    EVENT_STREAM,
    COMMIT_STREAM,
    ACTION_STREAM,
    BAD_STREAM,
    DUP_STREAM,
    EVENT,
    COMMIT,
    ACTION,
    EVENT_ZERO,
    EVENT_HIGH,
    COMMIT_MAX,
    FIN,
    FIN_MID_U32,
    STOP_SENDING,
    FOURTH_STREAM,
    SECOND_CONNECTION,
    RESET,
    CLOSE,
    WAIT,
];

const EVENT_STREAM: (&str, &str) = (
    "event_stream",
    r#"[{"write": {"stream": 0, "hex": "01", "first": true}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const COMMIT_STREAM: (&str, &str) = (
    "commit_stream",
    r#"[{"write": {"stream": 4, "hex": "02", "first": true}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const ACTION_STREAM: (&str, &str) = (
    "action_stream",
    r#"[{"write": {"stream": 8, "hex": "03", "first": true}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const BAD_STREAM: (&str, &str) = (
    "bad_stream",
    r#"[{"write": {"stream": 8, "hex": "04", "first": true}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const DUP_STREAM: (&str, &str) = (
    "dup_stream",
    r#"[{"write": {"stream": 8, "hex": "01", "first": true}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const EVENT: (&str, &str) = (
    "event",
    r#"[{"write": {"stream": 0, "hex": "01", "first": true}}, {"write": {"stream": 0, "u32": ["$fresh"]}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const COMMIT: (&str, &str) = (
    "commit",
    r#"[{"write": {"stream": 4, "hex": "02", "first": true}}, {"write": {"stream": 4, "u32": [40]}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const ACTION: (&str, &str) = (
    "action",
    r#"[{"write": {"stream": 8, "hex": "03", "first": true}}, {"write": {"stream": 8, "u32": [42]}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const EVENT_ZERO: (&str, &str) = (
    "event_zero",
    r#"[{"write": {"stream": 0, "hex": "01", "first": true}}, {"write": {"stream": 0, "u32": [0]}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const EVENT_HIGH: (&str, &str) = (
    "event_high",
    r#"[{"write": {"stream": 0, "hex": "01", "first": true}}, {"write": {"stream": 0, "u32": [200]}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const COMMIT_MAX: (&str, &str) = (
    "commit_max",
    r#"[{"write": {"stream": 4, "hex": "02", "first": true}}, {"write": {"stream": 4, "u32": [4294967294]}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const FIN: (&str, &str) = (
    "fin",
    r#"[{"fin": {"stream": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const FIN_MID_U32: (&str, &str) = (
    "fin_mid_u32",
    r#"[{"write": {"stream": 0, "hex": "01", "first": true}}, {"write": {"stream": 0, "hex": "0100"}}, {"fin": {"stream": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const STOP_SENDING: (&str, &str) = (
    "stop_sending",
    r#"[{"stop_sending": {"stream": 0, "code": 9}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const FOURTH_STREAM: (&str, &str) = (
    "fourth_stream",
    r#"[{"write": {"stream": 12, "hex": "01"}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const SECOND_CONNECTION: (&str, &str) = (
    "second_connection",
    r#"[{"connect": {}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const RESET: (&str, &str) = (
    "reset",
    r#"[{"reset": {"stream": 4, "code": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const CLOSE: (&str, &str) = (
    "close",
    r#"[{"close": {"code": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
);
const WAIT: (&str, &str) = ("wait", r#"[{"wait": {"ms": 5100}}]"#);

/// The project's options on, as a launch offers them: P1's checked commits (`requires`) and P4's
/// reset discriminator. Off in [`SETUP`], where a server of either profile answers alike.
pub const OPTIONS_SETUP: &str = concat!(
    r#""iut": {"requires": ["checked_commits"], "reset_discriminator": true},
    "session": {"startup_ms": 0},"#,
    connected_with_three_streams!()
);

/// The inputs that tell P1's and P4's servers apart: the setup, a commit and its overflowing
/// edge, and `reset_stream`, 0xFF on a 4th stream (12); and `wait` (left out `--untimed`).
pub const OPTIONS: &[(&str, &str)] = &[
    EVENT_STREAM,
    COMMIT_STREAM,
    ACTION_STREAM,
    COMMIT,
    COMMIT_MAX,
    (
        "reset_stream",
        r#"[{"write": {"stream": 12, "hex": "ff"}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    WAIT,
];

/// P2's push, its interval (10 s) longer than any query: the first item, due once the three
/// streams are set up, is the only one a query sees, so a window's letter holds it.
pub const PUSH_SETUP: &str = concat!(
    r#""iut": {"action_push": true},
    "session": {"startup_ms": 0, "action_interval_ms": 10000},"#,
    connected_with_three_streams!()
);

/// The setup's inputs, the Action stream's as `action_stream_pushed` (an `action` it is answered
/// with rests on P2, not on the as-coded pull), and `wait`.
pub const PUSH: &[(&str, &str)] = &[
    EVENT_STREAM,
    COMMIT_STREAM,
    (
        "action_stream_pushed",
        r#"[{"write": {"stream": 8, "hex": "03", "first": true}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    WAIT,
];

/// The timers brought within a few 700-ms waits (`wait_700ms`), each far from another and from a
/// wait's edges (P3's discriminator timeout at its 1 s, which a program may not let a launch
/// change; the accept timeout at 2 s, the operation timeout at 3.3 s, the idle timeout out of the
/// way), on the project's profile (P3). A wait's window then holds a timer whichever inputs of a
/// few windows (80 ms over real UDP) came before it.
pub const TIMERS_SETUP: &str = concat!(
    r#""iut": {"requires": ["discriminator_timeout"]},
    "session": {"startup_ms": 0, "disc_ms": 1000, "accept_ms": 2000, "op_ms": 3300, "idle_ms": 20000},"#,
    connected_with_three_streams!()
);

/// The setup's inputs, one value (a read's timer starts again), and `wait_700ms`. A
/// discriminator written on the StateCommit stream first opens the Event stream too (RFC 9000
/// §2.1), which then waits for its own: P3's timer.
pub const TIMERS: &[(&str, &str)] = &[
    EVENT_STREAM,
    COMMIT_STREAM,
    ACTION_STREAM,
    EVENT,
    WAIT_700MS,
];

const WAIT_700MS: (&str, &str) = ("wait_700ms", r#"[{"wait": {"ms": 700}}]"#);

/// The idle timeout alone within a few 700-ms waits: 1.7 s, no keep-alive (the harness's own
/// endpoint offers an hour: the connection's idle timeout is the server's), the accept timeout
/// out of the way. A silent connection is over in the third wait after the last packet (1.7 s
/// after it: 220 ms from either edge of that wait over real UDP), one whose server idles twice
/// as long in the fifth.
pub const IDLE_SETUP: &str = concat!(
    r#""session": {"startup_ms": 0, "idle_ms": 1700, "keepalive_ms": 0, "accept_ms": 20000},"#,
    connected_with_three_streams!()
);

/// A value on each stream (its discriminator first, once) and `wait_700ms`: every input but the
/// wait sends something, so the time since the last packet is counted in waits alone (an input
/// that sent nothing, a stream set up again, would shift it by a window, and the idle timeout's
/// end across a wait's edge).
pub const IDLE: &[(&str, &str)] = &[EVENT, COMMIT, ACTION, WAIT_700MS];

/// The startup delay (1.5 s), on a fresh process each query (the delay is before its first
/// connection only): the queries start once the server's port is bound and connect at once
/// (whether the handshake completes during the delay, the facts do not say: no `connected` is
/// awaited), every other timer out of the way.
pub const STARTUP_SETUP: &str = concat!(
    r#""session": {"startup_ms": 1500, "idle_ms": 20000, "keepalive_ms": 0, "accept_ms": 20000},
    "peer": {"steps": [
        {"connect": {}},
        {"open_bi": {"count": 3}}
    ],
    "#,
    closing_the_connection!()
);

/// The setup's inputs, a value, and `wait_2s`: the delay is over within the first wait after
/// fewer than 300 windows (18 over real UDP), and never before it, so the model does not count
/// windows (with shorter waits, the number of inputs before them would decide which wait holds
/// the delay's end: a state for each).
pub const STARTUP: &[(&str, &str)] = &[
    EVENT_STREAM,
    COMMIT_STREAM,
    ACTION_STREAM,
    EVENT,
    ("wait_2s", r#"[{"wait": {"ms": 2000}}]"#),
];

/// The most inputs of the `startup` part with no wait among them that surely end within its
/// startup delay: 12 windows (80 ms each over real UDP) and the handshake, inside 1.5 s.
const SURELY_IN_STARTUP: usize = 12;

/// A client's query (a fresh process each, as a client connects when it starts): its plan is two
/// events, one commit and one action (told by the launch: a contract), and the preamble takes its
/// first event, which the client sends once its streams are set up, and what came with it (the
/// streams' openings: 50 ms). No `finally`: a client that
/// ends its plan closes the connection itself, and one that does not is stopped with its process.
pub const CLIENT_SETUP: &str = r#""session": {"startup_ms": 0, "events": 2, "commits": 1, "actions": 1},
    "peer": {"steps": [
        {"expect": {"kind": "u32", "where": {"stream": 0}, "within_ms": 5000}},
        {"wait": {"ms": 50}}
    ]}"#;

/// A client's inputs, the server's doings, each an answer to what the client last sent on the
/// stream (its values are its own: bound, never literal; an answer to nothing is left out):
/// `echo` (the last event id), `echo_other` (the id + 1), `commit_answer` (request + 2, as coded
/// and P1), `commit_other` (request + 3: neither + 2 nor the README's × 2 for the plan's request
/// 1), `action_answer` (the pull counter, 0 for the first), `action_other` (the counter + 7);
/// `server_fin` ends the server's side of the Event stream, `server_reset` resets its side of the StateCommit
/// stream, `server_close` closes the connection with 0. No `wait`: a client's timers are its
/// connection's (the idle timeout, 5 s as coded under a 5-s keep-alive, would count the waits
/// into tens of states) and its operation timeout (300 s), beyond any query; the alphabet is
/// untimed.
pub const CLIENT: &[(&str, &str)] = &[
    (
        "echo",
        r#"[{"write": {"stream": 0, "u32": [{"iut_sent": "last"}]}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "echo_other",
        r#"[{"write": {"stream": 0, "u32": [{"iut_sent": "last", "plus": 1}]}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "commit_answer",
        r#"[{"write": {"stream": 4, "u32": [{"iut_sent": "last", "plus": 2}]}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "commit_other",
        r#"[{"write": {"stream": 4, "u32": [{"iut_sent": "last", "plus": 3}]}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "action_answer",
        r#"[{"write": {"stream": 8, "u32": [{"iut_sent": "count", "plus": -1}]}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "action_other",
        r#"[{"write": {"stream": 8, "u32": [{"iut_sent": "count", "plus": 6}]}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "server_fin",
        r#"[{"fin": {"stream": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "server_reset",
        r#"[{"reset": {"stream": 4, "code": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
    (
        "server_close",
        r#"[{"close": {"code": 0}}, {"wait": {"ms": WINDOW_MS}}]"#,
    ),
];

/// A unit's output letter: what the server answered on which stream (`event`, `commit`,
/// `action`: the values are left out, as they are the IUT's or the input's), how it ended a
/// stream (`fin`, `reset`, `stop_sending`) or the connection (`close(CODE)`, `close(idle)`,
/// `close(transport CODE)`, `refused`), or that it left the client's stream `blocked` (its
/// MAX_STREAMS: only `fourth_stream` opens a stream after the setup). The harness's own doings
/// (its close, `connected`) are left out.
pub fn output(unit: &Value) -> Option<String> {
    let kind = unit.get("kind")?.as_str()?;
    let stream = unit.get("stream").and_then(Value::as_u64);
    Some(match kind {
        "u32" => match stream {
            Some(0) => "event".to_owned(),
            Some(4) => "commit".to_owned(),
            Some(8) => "action".to_owned(),
            _ => "u32".to_owned(),
        },
        "close" => {
            if unit.get("by").and_then(Value::as_str) != Some("iut") {
                return None;
            }
            match (
                unit.get("space").and_then(Value::as_str),
                unit.get("code").and_then(Value::as_u64),
            ) {
                (Some("application"), Some(code)) => format!("close({code})"),
                (Some(space), Some(code)) => format!("close({space} {code})"),
                (Some(space), None) => format!("close({space})"),
                _ => "close".to_owned(),
            }
        }
        "fin" | "reset" | "stop_sending" | "stream" | "refused" | "blocked" => kind.to_owned(),
        _ => return None,
    })
}

/// The unit a letter stands for (see [`output`]).
pub fn pattern(letter: &str) -> Option<Value> {
    let on = |stream: u64| serde_json::json!({"kind": "u32", "where": {"stream": stream}});
    Some(match letter {
        "event" => on(0),
        "commit" => on(4),
        "action" => on(8),
        "-" => return None,
        close if close.starts_with("close(") => {
            let inside = close.trim_start_matches("close(").trim_end_matches(')');
            match inside.parse::<u64>() {
                Ok(code) => {
                    serde_json::json!({"kind": "close", "where": {"by": "iut", "space": "application", "code": code}})
                }
                Err(_) if inside == "idle" => {
                    serde_json::json!({"kind": "close", "where": {"by": "iut", "space": "idle"}})
                }
                Err(_) => serde_json::json!({"kind": "close", "where": {"by": "iut"}}),
            }
        }
        kind => serde_json::json!({ "kind": kind }),
    })
}

/// One window's answer: where the server closed the connection in it, the close alone. What it
/// wrote just before closing races with the close (the original serves its three streams
/// concurrently: an Event echo and a close for the StateCommit stream's reset come in either
/// order, and what follows the close is never sent), so a real server answered such a window
/// two ways; the close is what the facts speak of.
pub fn window(letters: Vec<String>) -> Vec<String> {
    let closed = |l: &String| l.starts_with("close") || l == "refused";
    if letters.iter().any(closed) {
        letters.into_iter().filter(closed).collect()
    } else {
        letters
    }
}

/// What says how a server answers the last of `word`'s inputs with `letter` (see
/// [`handshake_scenario::Learning::basis`]): the wire facts, only while the connection is clean
/// (streams set up and values sent, nothing ended, no timer run) and the streams are set up in the
/// order the original reads them (0, then 4, then 8: `setup.order`). A value answered (an echo, a
/// commit's or an action's answer), and an early FIN's close, are the facts' only once all three
/// streams are set up: whether a server answers on a stream while a later one still waits for its
/// discriminator, the facts do not say (the reference waits; a stranger's server from the facts
/// alone answers at once).
pub fn basis(part: Option<&str>, word: &[&str], letter: &str) -> Option<&'static str> {
    let b = server_basis(part, word, letter)?;
    // A letter that carries an application close code (`close(5)`) stands for that code, and no
    // document names one: the code is the profile's (wire.close_codes), whatever fact says the
    // connection ends there (a letter cannot say "any close").
    let coded = letter
        .strip_prefix("close(")
        .and_then(|c| c.strip_suffix(')'))
        .is_some_and(|c| c.parse::<u64>().is_ok());
    let fact = matches!(
        b,
        "wire.event" | "wire.discriminator" | "wire.stream_error" | "H3" | "H6"
    );
    Some(if coded && fact { "wire.close_codes" } else { b })
}

fn server_basis(part: Option<&str>, word: &[&str], letter: &str) -> Option<&'static str> {
    let (last, before) = word.split_last()?;
    if CLIENT.iter().any(|(name, _)| name == last) {
        return client_basis(word, letter);
    }
    if part == Some("startup") {
        // A value answered within the startup delay, surely: before any wait, in a few windows.
        // When the first answer comes after it, the facts do not say (H1 is this project's).
        let early = !word.contains(&"wait_2s") && word.len() <= SURELY_IN_STARTUP;
        let value = matches!(letter, "event" | "commit" | "action");
        return (early && value).then_some("startup");
    }
    // The `timers` and `idle` parts' short waits: a close 3 there is the accept timeout's (H2,
    // only the code has one: a profile decision), a silent end the idle timeout's (a fact),
    // each well inside such a wait. (After the whole alphabet's 5.1-s `wait` the idle timeout
    // races with the accept timeout.)
    if *last == "wait_700ms" && letter == "close(3)" {
        return Some("H2");
    }
    if *last == "wait_700ms" && letter == "close(idle)" {
        return Some("timeouts");
    }
    // The `push` part's: an action unprompted is P2's.
    if letter == "action" && word.contains(&"action_stream_pushed") {
        let set_up = ["event_stream", "commit_stream", "action_stream_pushed"];
        return set_up.iter().all(|s| word.contains(s)).then_some("P2");
    }
    let stream_of = |input: &str| match input {
        "event_stream" | "event" | "event_zero" | "event_high" => Some(1),
        "commit_stream" | "commit" | "commit_max" => Some(2),
        "action_stream" | "action" => Some(3),
        _ => None,
    };
    if before.iter().any(|i| stream_of(i).is_none()) {
        return None;
    }
    // As coded a 4th stream is blocked (setup.limit); a server of the project's profile may
    // allow four for P4's reset discriminator (a profile decision): which one this alphabet's
    // server was given is not known here, so a deviation either way.
    if *last == "fourth_stream" {
        return Some("P4");
    }

    // How many streams are set up after `inputs`, and whether each came after those before it.
    let set_up = |inputs: &[&str]| {
        inputs.iter().try_fold(0, |level, i| match stream_of(i) {
            Some(s) if s <= level + 1 => Some(level.max(s)),
            Some(_) => None,
            None => Some(level),
        })
    };
    // The streams set up before the last input, in any order: once all three are, the setup
    // is over whichever came first (a server reads them in the order opened, 0, 4, 8, whatever
    // order their discriminators were written in).
    let mut set_before: Vec<u8> = before.iter().filter_map(|i| stream_of(i)).collect();
    set_before.sort_unstable();
    set_before.dedup();
    let complete = set_before.len() == 3;
    let before_last = set_up(before);
    let after_last = set_up(word);
    let value = |input: &str| match input {
        "event" | "event_zero" | "event_high" => Some("wire.event"),
        "commit" => Some("wire.commit"),
        "commit_max" => Some("P1"),
        "action" => Some("wire.action"),
        _ => None,
    };
    // An answer letter says that a u32 came on the stream, not its value: a StateCommit answer
    // is wire.commit.pairing's, an action that answers the client's request
    // wire.action.items'; an action after another input is pull against push (wire.action,
    // disputed).
    let answer = match letter {
        "event" => Some("wire.event"),
        "commit" => Some("wire.commit.pairing"),
        "action" if *last == "action" => Some("wire.action.items"),
        "action" => Some("wire.action"),
        _ => None,
    };
    if let Some(fact) = answer {
        return (after_last == Some(3)).then_some(fact);
    }
    match *last {
        // An event id 0 or equal to the last is H3's; one below the last wire.event's.
        "event_zero" | "event_high" if after_last == Some(3) => Some("H3"),
        "event" | "commit" | "commit_max" | "action" if after_last == Some(3) => value(last),
        "bad_stream" | "dup_stream" if set_before == [1, 2] => Some("wire.discriminator"),
        // A FIN before the first stream's discriminator fails its setup (1) in any server;
        // after a stream is set up, its early FIN is a stream error (5) once the server reads
        // it, which the reference does only once all three are set up and a server from the
        // facts alone may do at once: the facts say which close, not when, until the setup.
        "fin" if set_before.is_empty() => Some("P5"),
        "fin" if complete => Some("P5"),
        "fin_mid_u32" if complete => Some("wire.stream_error"),
        "reset" if before_last.is_some_and(|l| l >= 2) => Some("H7"),
        "stop_sending" if before_last.is_some_and(|l| l >= 1) => Some("H7"),
        "second_connection" => Some("wire.second_connection"),
        // A reset discriminator is read once the three streams are set up (`options`).
        "reset_stream" if complete => Some("P4"),
        _ => None,
    }
}

/// What says how a client answers: how it ends is H11's (it checks every answer, closing with 5
/// at a wrong one, and closes with 0 once its plan is done), a profile decision; what it sends
/// next is its plan's (a contract), and nothing in the facts says what a client does with a FIN,
/// a reset or an answer to nothing.
fn client_basis(word: &[&str], letter: &str) -> Option<&'static str> {
    let clean = word.iter().all(|i| {
        matches!(
            *i,
            "echo"
                | "echo_other"
                | "commit_answer"
                | "commit_other"
                | "action_answer"
                | "action_other"
        )
    });
    (clean && letter.starts_with("close(")).then_some("H11")
}

/// Proton's alphabet.
pub const LEARNING: handshake_scenario::Learning = handshake_scenario::Learning {
    alphabets: &[
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: None,
            setup: SETUP,
            inputs: SERVER,
            seeds: &[
                "event_stream commit_stream action_stream event commit action close",
                "event commit action fin",
                "event commit bad_stream",
                "event_stream wait",
                "event commit action wait",
                "event commit action event_high event_high",
                "event commit action second_connection event",
            ],
            // The server's answers come within the window; nothing runs on after it.
            settle_ms: 0,
            // Over aioquic a stream's setup and answer take several event-loop turns: with 25 ms, 80
            // answers came two ways (an echo in this window or the next); with 80 ms, none of them.
            real_time_window_ms: 80,
            // The original serves one connection at a time (H10): every query ends closing its
            // connection (the setup's `finally`), so a kept server is free for the next.
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("options"),
            setup: OPTIONS_SETUP,
            inputs: OPTIONS,
            seeds: &[
                "event_stream commit_stream action_stream reset_stream",
                "event_stream commit_stream action_stream commit_max commit",
            ],
            settle_ms: 0,
            real_time_window_ms: 80,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("push"),
            setup: PUSH_SETUP,
            inputs: PUSH,
            seeds: &["event_stream commit_stream action_stream_pushed"],
            settle_ms: 0,
            real_time_window_ms: 80,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("timers"),
            setup: TIMERS_SETUP,
            inputs: TIMERS,
            seeds: &[
                "event_stream wait_700ms wait_700ms wait_700ms",
                "commit_stream wait_700ms wait_700ms",
                "event_stream commit_stream action_stream wait_700ms wait_700ms wait_700ms wait_700ms wait_700ms",
                "event_stream commit_stream action_stream wait_700ms wait_700ms event wait_700ms wait_700ms wait_700ms",
            ],
            settle_ms: 0,
            real_time_window_ms: 80,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("idle"),
            setup: IDLE_SETUP,
            inputs: IDLE,
            seeds: &[
                "wait_700ms wait_700ms wait_700ms wait_700ms wait_700ms wait_700ms",
                "event commit action wait_700ms wait_700ms wait_700ms wait_700ms wait_700ms",
                "event commit action wait_700ms wait_700ms event wait_700ms wait_700ms wait_700ms",
            ],
            settle_ms: 0,
            real_time_window_ms: 80,
            fresh_process: false,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Responder,
            part: Some("startup"),
            setup: STARTUP_SETUP,
            inputs: STARTUP,
            seeds: &[
                "event_stream commit_stream action_stream event",
                "event_stream commit_stream action_stream event wait_2s event",
            ],
            settle_ms: 0,
            real_time_window_ms: 80,
            // The delay is before a process's first connection only.
            fresh_process: true,
        },
        handshake_scenario::Alphabet {
            role: handshake_scenario::Role::Initiator,
            part: None,
            setup: CLIENT_SETUP,
            inputs: CLIENT,
            seeds: &[
                "echo echo commit_answer action_answer",
                "echo_other",
                "echo echo commit_other",
                "echo echo commit_answer action_other",
                "echo echo echo",
                "server_fin echo",
            ],
            // A client ends by itself once its plan is done.
            settle_ms: 500,
            real_time_window_ms: 80,
            // A client connects when it starts.
            fresh_process: true,
        },
    ],
    output,
    pattern,
    basis,
    window,
};

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn a_window_with_a_close_answers_the_close_alone() {
        let w = |l: &[&str]| super::window(l.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(w(&["action", "close(5)", "event"]), ["close(5)"]);
        assert_eq!(w(&["action", "event"]), ["action", "event"]);
        assert_eq!(w(&["refused"]), ["refused"]);
    }

    #[test]
    fn a_value_is_the_facts_only_once_the_three_streams_are_set_up_in_order() {
        let basis =
            |word: &str, letter| super::basis(None, &word.split(' ').collect::<Vec<_>>(), letter);
        assert_eq!(
            basis("event_stream commit_stream action_stream event", "event"),
            Some("wire.event")
        );
        assert_eq!(
            basis("event commit action", "action"),
            Some("wire.action.items")
        );
        assert_eq!(
            basis("event commit action commit", "commit"),
            Some("wire.commit.pairing")
        );
        // An action after another input: pull against push, disputed.
        assert_eq!(
            basis("event commit action event", "action"),
            Some("wire.action")
        );
        // A stream's answer while a later stream has no discriminator yet: the facts are silent.
        assert_eq!(basis("event_stream commit", "commit"), None);
        // Set up out of order (the commit stream's discriminator before the event stream's).
        assert_eq!(basis("commit event", "commit"), None);
        assert_eq!(basis("commit event action", "event"), None);
        // A close: by the input that caused it; a letter with a code is the profile's code.
        assert_eq!(
            basis("event commit action event", "close(5)"),
            Some("wire.close_codes")
        );
        assert_eq!(
            basis("event commit bad_stream", "close(1)"),
            Some("wire.close_codes")
        );
        assert_eq!(basis("fin", "close(1)"), Some("P5"));
        assert_eq!(basis("event commit action fin", "close(5)"), Some("P5"));
        // An early FIN before the setup is done: which close the facts say, not when.
        assert_eq!(basis("event fin", "close(5)"), None);
        assert_eq!(basis("event_stream fin", "close(5)"), None);
        assert_eq!(basis("fin_mid_u32", "close(5)"), None);
        // After the whole setup, in whatever order the discriminators came.
        assert_eq!(basis("action commit event fin", "close(5)"), Some("P5"));
        assert_eq!(
            basis("commit event action fin_mid_u32", "close(5)"),
            Some("wire.close_codes")
        );
        assert_eq!(
            basis("commit event bad_stream", "close(1)"),
            Some("wire.close_codes")
        );
        // A 4th stream is blocked while the connection is up, whatever its streams are.
        assert_eq!(basis("event fourth_stream", "blocked"), Some("P4"));
        assert_eq!(basis("fourth_stream", "close(1)"), Some("P4"));
        assert_eq!(basis("close fourth_stream", "blocked"), None);
        assert_eq!(basis("event commit reset", "close(5)"), Some("H7"));
        assert_eq!(basis("event wait event", "event"), None);
        assert_eq!(basis("event_stream wait_700ms", "close(3)"), Some("H2"));
        assert_eq!(basis("event_stream wait", "close(3)"), None);
        assert_eq!(
            basis("event_stream wait_700ms wait_700ms", "close(idle)"),
            Some("timeouts")
        );
        assert_eq!(
            basis("action_stream_pushed commit_stream event_stream", "action"),
            Some("P2")
        );
        assert_eq!(basis("action_stream_pushed commit_stream", "action"), None);
        // The edges: an id not above the last, an overflowing request, a second connection.
        assert_eq!(
            basis("event commit action event_high event", "close(5)"),
            Some("wire.close_codes")
        );
        assert_eq!(
            basis("event commit action event_high event_high", "close(5)"),
            Some("wire.close_codes")
        );
        assert_eq!(
            basis("event commit action commit_max", "close(5)"),
            Some("P1")
        );
        assert_eq!(
            basis("commit event action reset_stream", "close(0)"),
            Some("P4")
        );
        assert_eq!(basis("event commit reset_stream", "close(0)"), None);
        assert_eq!(basis("event_stream", "refused"), None);
        assert_eq!(
            basis("event_stream second_connection", "refused"),
            Some("wire.second_connection")
        );
    }

    #[test]
    fn a_client_s_close_after_answers_alone_is_h11_s_and_nothing_else_is_judged() {
        let basis =
            |word: &str, letter| super::basis(None, &word.split(' ').collect::<Vec<_>>(), letter);
        assert_eq!(basis("echo echo commit_other", "close(5)"), Some("H11"));
        assert_eq!(
            basis("echo echo commit_answer action_answer", "close(0)"),
            Some("H11")
        );
        // What it sends next is its plan's (a contract).
        assert_eq!(basis("echo", "event"), None);
        // What a client does after a FIN, a reset or a close: the facts are silent.
        assert_eq!(basis("server_fin echo_other", "close(5)"), None);
        assert_eq!(basis("server_reset", "close(5)"), None);
    }

    #[test]
    fn in_the_startup_part_only_an_early_value_is_the_facts() {
        let basis = |word: &str, letter| {
            super::basis(
                Some("startup"),
                &word.split(' ').collect::<Vec<_>>(),
                letter,
            )
        };
        let setup = "event_stream commit_stream action_stream event";
        assert_eq!(basis(setup, "event"), Some("startup"));
        assert_eq!(basis(setup, "close(5)"), None);
        assert_eq!(basis(&format!("{setup} wait_2s"), "event"), None);
        let long = vec!["event"; super::SURELY_IN_STARTUP + 1].join(" ");
        assert_eq!(basis(&long, "event"), None);
    }

    #[test]
    fn the_alphabets_are_well_formed() {
        handshake_scenario::testing::assert_alphabets_parse(&super::LEARNING);
    }

    #[test]
    fn the_setup_is_an_object_whose_preamble_connects() {
        let setup: serde_json::Value =
            serde_json::from_str(&format!("{{{}}}", super::SETUP)).unwrap_or_default();
        assert_eq!(setup["peer"]["steps"][0], json!({"connect": {}}));
    }

    #[test]
    fn letters_name_the_stream_and_the_iut_s_closes_only() {
        let out = super::output;
        let u32_on = |stream: u64| json!({"kind": "u32", "conn": 0, "stream": stream, "value": 7});
        assert_eq!(out(&u32_on(0)).as_deref(), Some("event"));
        assert_eq!(out(&u32_on(4)).as_deref(), Some("commit"));
        assert_eq!(out(&u32_on(8)).as_deref(), Some("action"));
        let close = |by: &str| json!({"kind": "close", "conn": 0, "by": by, "space": "application", "code": 5, "reason": ""});
        assert_eq!(out(&close("iut")).as_deref(), Some("close(5)"));
        assert_eq!(out(&close("harness")), None);
        assert_eq!(
            out(&json!({"kind": "close", "by": "iut", "space": "idle", "code": null})).as_deref(),
            Some("close(idle)")
        );
        assert_eq!(out(&json!({"kind": "connected", "conn": 0})), None);
        assert_eq!(
            out(&json!({"kind": "blocked", "conn": 0, "what": "x"})).as_deref(),
            Some("blocked")
        );
    }
}
