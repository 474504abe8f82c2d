//! `harness learn` on the QUIC families: Proton's server and client and Dark Tower's controller and
//! handler are learned exactly in virtual time, and a mutant's or a profile's difference is found.
//!
//! A query is a QUIC (Dark Tower: WebTransport) connection or two from scratch, some 5–10 ms in a
//! debug build: Proton's whole alphabet takes about 40 s to learn there (27 states; 3 s in a
//! release build), Dark Tower's controller 8 s. These tests narrow the alphabets with `--inputs`
//! to the part each looks at.

use std::process::Output;

use serde_json::Value;

mod learning_common;
use learning_common::{harness, misses, out_dir, text};

/// `harness learn ARGS --out OUT`: its output, `learn.json` and `model.dot`.
fn learn(test: &str, args: &[&str]) -> (Output, Value, String) {
    let out = out_dir(test);
    let mut all = vec!["learn"];
    all.extend_from_slice(args);
    all.extend(["--out", out.to_str().unwrap_or(".")]);
    let o = harness(&all);
    let summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("learn.json")).unwrap_or_default())
            .unwrap_or_default();
    let dot = std::fs::read_to_string(out.join("model.dot")).unwrap_or_default();
    (o, summary, dot)
}

/// Learning finished (no bound stopped it) with `states` states and no query answered two ways.
fn learned(summary: &Value, which: &str, states: u64) {
    let m = &summary[which];
    assert_eq!(m["states"], states, "{summary}");
    assert!(m["stopped_by"].is_null(), "{summary}");
    assert_eq!(m["non_deterministic"], serde_json::json!([]), "{summary}");
}

/// The Event stream against the others' setup (H2: the server serves once all three streams are
/// set up). `event` says the Event stream's discriminator first (once), so the Event stream's own
/// setup shows nothing apart; what counts is which of the StateCommit and Action streams are set up
/// (none, StateCommit, Action: 3) and whether an event waits to be echoed (×2), and both set up
/// (1 state: the next event is echoed at once): 7.
#[test]
fn proton_events_wait_for_the_three_streams() {
    let (o, summary, dot) = learn(
        "events",
        &[
            "--iut",
            "ref:as_coded",
            "--inputs",
            "event_stream,commit_stream,action_stream,event",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    learned(&summary, "model", 7);
    // The event waiting is echoed when the third stream is set up.
    assert!(dot.contains("action_stream / event"), "{dot}");
    assert!(dot.contains("event / event"), "{dot}");
}

/// A RESET_STREAM on the StateCommit stream: before its discriminator its setup fails when its
/// turn comes (P5: close 1), after it the connection closes at once (H7: 5), whether or not the
/// Action stream is set up. States: nothing yet, the Event stream set up, the StateCommit stream
/// set up alone, both set up, reset before the setup (waiting for the Event stream), closed: 6
/// (the Action stream's setup changes nothing here).
#[test]
fn proton_a_reset_closes_with_1_before_the_setup_and_5_after() {
    let (o, summary, dot) = learn(
        "reset",
        &[
            "--iut",
            "ref:as_coded",
            "--inputs",
            "event_stream,commit_stream,action_stream,reset",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    learned(&summary, "model", 6);
    assert!(dot.contains("reset / close(1)"), "{dot}");
    assert!(dot.contains("reset / close(5)"), "{dot}");
}

/// `setup-end-code-five` closes with 5 for a FIN before the Event stream's discriminator: P5 is a
/// fact, so the replayed difference is a violation (exit 1).
#[test]
fn proton_a_mutant_s_close_code_is_a_violation() {
    let (o, summary, _) = learn(
        "mutant",
        &[
            "--iut",
            "ref:as_coded!setup-end-code-five",
            "--diff",
            "ref:as_coded",
            "--inputs",
            "event_stream,fin",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after fin: the IUT close(5) / the reference close(1): violation"),
        "{t}"
    );
    // Nothing yet, and the rest: once the Event stream is set up nothing shows over these two
    // inputs (a FIN after the setup is read when the server serves, all three streams set up), as
    // after the close.
    learned(&summary, "model", 2);
    learned(&summary, "reference", 2);
}

/// `fin-at-boundary-normal` closes with 0 for a FIN at a u32 boundary after the setup, where P5
/// says 5, whichever order the three discriminators came in: the streams are read in the order
/// opened (0, 4, 8), so after `action commit event` the setup is over as after `event commit
/// action`, and the difference there is a violation.
#[test]
fn proton_an_early_fin_after_a_setup_in_any_order_is_judged() {
    let (o, _, _) = learn(
        "fin_any_order",
        &[
            "--iut",
            "ref:as_coded!fin-at-boundary-normal",
            "--diff",
            "ref:as_coded",
            "--inputs",
            "action,commit,event,fin",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    // The difference's own check (P5's close 5 expected), beside the rule the capture breaks.
    assert!(
        t.contains("after action commit event fin: the IUT - - action+commit+event close(0) / the reference - - action+commit+event close(5): violation"),
        "{t}"
    );
    assert!(
        t.contains(r#"no close {"by":"iut","code":5,"space":"application"} from the IUT"#),
        "{t}"
    );
}

/// A 4th stream (12), opened by writing its discriminator, is blocked by the server's
/// MAX_STREAMS 3 whatever the three others are doing (`setup.order`): a letter of its own, said
/// each time it is asked, so that it adds no state (the events' model has 1: nothing is echoed
/// before the other two streams are set up).
#[test]
fn proton_a_fourth_stream_is_blocked() {
    let (o, summary, dot) = learn(
        "fourth_stream",
        &["--iut", "ref:as_coded", "--inputs", "event,fourth_stream"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(dot.contains("fourth_stream / blocked"), "{dot}");
    assert!(!dot.contains("fourth_stream / -"), "{dot}");
    learned(&summary, "model", 1);
}

/// With `wait` (5.1 s: past every timer but the 300 s operation timeout) the profiles differ. The
/// StateCommit stream's discriminator opens stream 0 too (QUIC opens lower ids implicitly), which
/// says nothing: the project's P3 closes it after 1 s (code 1); as coded nothing times a
/// discriminator out but the 300 s read, so the 5 s idle timeout ends the connection (the keep-alive
/// is 5 s too). A profile difference, not a violation. Each: nothing yet (the 5 s accept timeout,
/// code 3), stream 0 waiting for its discriminator, closed: 3.
#[test]
fn proton_the_profiles_differ_in_their_timers() {
    let (o, summary, _) = learn(
        "profiles",
        &[
            "--iut",
            "ref:project",
            "--diff",
            "ref:as_coded",
            "--inputs",
            "commit_stream,wait",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("after commit_stream wait: the IUT - close(1) / the reference - close(idle)"),
        "{t}"
    );
    assert!(
        t.contains("1 difference from ref:as_coded: 0 violations"),
        "{t}"
    );
    learned(&summary, "model", 3);
    learned(&summary, "reference", 3);
}

/// The controller, participant 1 joined and publishing before every query: before a join (any
/// other message is fatal: an error, then FIN), joined, joined and published (a second publish of
/// the same stream is CONFLICT), signaling over, and signaling ended by an undecodable message
/// while still present (a `leave` then tells participant 1): 5, as over the whole alphabet (FIN,
/// an expired token and `subscribe` add no state; narrowed here, the two models take 8 s instead of
/// 16 in a debug build). v1 and v2 differ in media only.
#[test]
fn darktower_controller_v1_and_v2() {
    let (o, summary, dot) = learn(
        "controller",
        &[
            "--iut",
            "ref:v2",
            "--part",
            "controller",
            "--diff",
            "ref:v1",
            "--inputs",
            "join,join_forged,publish,garbage,leave",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("0 differences from ref:v1"), "{t}");
    learned(&summary, "model", 5);
    learned(&summary, "reference", 5);
    assert!(
        dot.contains("join / join_response+p1:participant_joined"),
        "{dot}"
    );
    assert!(dot.contains("publish / p1:stream_published"), "{dot}");
    assert!(
        dot.contains("join_forged / error(UNAUTHORIZED)+fin"),
        "{dot}"
    );
    assert!(dot.contains("leave / p1:participant_left"), "{dot}");
}

/// The handler, participant 1 authenticated before every query: not authenticated yet (media is
/// stopped with 0x02), authenticated (media is forwarded to participant 1; a bad header is stopped
/// with 0x01), refused (it never will be): 3, as over the whole alphabet (a datagram is forwarded
/// once authenticated and dropped silently before; a FIN on the authentication stream before it
/// leads where a refusal does).
#[test]
fn darktower_handler_v1_and_v2() {
    let (o, summary, dot) = learn(
        "handler",
        &[
            "--iut",
            "ref:v2",
            "--part",
            "handler",
            "--diff",
            "ref:v1",
            "--inputs",
            "auth,auth_forged,media,bad_media",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("0 differences from ref:v1"), "{t}");
    learned(&summary, "model", 3);
    learned(&summary, "reference", 3);
    assert!(dot.contains("media / stopped(2)"), "{dot}");
    assert!(dot.contains("media / p1:frame"), "{dot}");
    assert!(dot.contains("bad_media / stopped(1)"), "{dot}");
}

/// `no-capacity-check` admits a third participant to the learning's meeting for two (the setup's
/// capacity, offered at launch): once participant 0 has joined, the documented errors say
/// CAPACITY_EXCEEDED, a violation; and the ended meeting `retro` is no difference.
#[test]
fn darktower_a_third_participant_in_a_full_meeting_is_a_violation() {
    let (o, _, dot) = learn(
        "controller-capacity",
        &[
            "--iut",
            "ref:v1!no-capacity-check",
            "--part",
            "controller",
            "--diff",
            "ref:v1",
            "--inputs",
            "join,join_third,join_ended",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after join join_third: the IUT") && t.contains("error(CAPACITY_EXCEEDED)"),
        "{t}"
    );
    assert!(dot.contains("join_ended / error(NOT_FOUND)"), "{dot}");
}

/// `expired-join-accepted` lets an expired join token in: DT8 is a fact, a violation (exit 1).
#[test]
fn darktower_an_expired_token_accepted_is_a_violation() {
    let (o, _, _) = learn(
        "controller-mutant",
        &[
            "--iut",
            "ref:v1!expired-join-accepted",
            "--part",
            "controller",
            "--diff",
            "ref:v1",
            "--inputs",
            "join,join_expired",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after join_expired: the IUT join_response+p1:participant_joined / the reference error(UNAUTHORIZED)+fin: violation"),
        "{t}"
    );
}

/// `auth-failure-code-1` stops media before authentication with 0x01, not DT7's 0x02 (a profile
/// decision): found, and a violation, as a reference mutant is held to the whole reading (a
/// program would deviate).
#[test]
fn darktower_a_handler_mutant_s_stop_code_is_found() {
    let (o, _, _) = learn(
        "handler-mutant",
        &[
            "--iut",
            "ref:v1!auth-failure-code-1",
            "--part",
            "handler",
            "--diff",
            "ref:v1",
            "--inputs",
            "auth,media",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after media: the IUT stopped(1) / the reference stopped(2): violation"),
        "{t}"
    );
    assert!(t.contains("a profile decision"), "{t}");
}

/// Proton's client, its plan two events, a commit and an action, answered by a server whose
/// answers are made of what the client last sent: one state per answer awaited (2 echoes, the
/// commit's, the action's) and the closed one. The whole alphabet: a wrong answer closes with 5.
#[test]
fn proton_a_client_s_plan_is_learned_answer_by_answer() {
    let (o, summary, dot) = learn(
        "client",
        &[
            "--iut",
            "ref:project",
            "--role",
            "client",
            "--inputs",
            "echo,echo_other,commit_answer,action_answer",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    learned(&summary, "model", 5);
    assert!(dot.contains("echo / event"), "{dot}");
    assert!(dot.contains("echo / commit"), "{dot}");
    assert!(dot.contains("commit_answer / action"), "{dot}");
    assert!(dot.contains("action_answer / close(0)"), "{dot}");
    assert!(dot.contains("echo_other / close(5)"), "{dot}");
}

/// A client mutant closing with 5 at the end of its plan differs where H11 says 0: a profile
/// decision, which a reference mutant is held to (a violation, exit 1); one whose first event id
/// is 0 breaks a fact in the preamble itself (the setup's finding).
#[test]
fn proton_a_client_mutant_is_found_at_its_end_or_in_the_setup() {
    let (o, _, _) = learn(
        "client-mutant",
        &[
            "--iut",
            "ref:project!client-closes-with-five",
            "--diff",
            "ref:project",
            "--role",
            "client",
            "--inputs",
            "echo,commit_answer,action_answer",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("the IUT event commit action close(5) / the reference event commit action close(0): violation"),
        "{t}"
    );
    let (o, _, _) = learn(
        "client-setup",
        &[
            "--iut",
            "ref:project!client-event-ids-from-zero",
            "--diff",
            "ref:project",
            "--role",
            "client",
            "--inputs",
            "echo",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("proton.client.event_ids"), "{t}");
}

/// Dark Tower's client step by step: the harness's meeting server holds its JoinRequest and its
/// ConnectRequest for the inputs to answer, so its plan is learned answer by answer: waiting for
/// the join's answer, for the authentication's, and done (a refusal, a FIN or a close end it).
#[test]
fn darktower_a_client_is_learned_answer_by_answer() {
    let (o, summary, dot) = learn(
        "darktower-client",
        &[
            "--iut",
            "ref:v1",
            "--family",
            "darktower",
            "--role",
            "client",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    learned(&summary, "model", 3);
    assert!(dot.contains("join_ok / auth_request"), "{dot}");
    assert!(dot.contains("auth_ok / closed+frame+publish"), "{dot}");
    assert!(dot.contains("join_refused / closed"), "{dot}");
    assert!(dot.contains("auth_ok / -\\n"), "{dot}");
}

/// A client opening its media before the ConnectResponse breaks DT7 where the reference waits
/// (a fact: a violation); one whose sequence numbers start at 1 answers the same letters, and
/// the replay of the transition that sends its frame breaks DT10 (a reference mutant is held to
/// the whole reading).
#[test]
fn darktower_client_mutants_are_found_on_a_difference_or_a_transition() {
    for (mutant, inputs, said) in [
        (
            "media-before-auth",
            "join_ok,auth_ok",
            "darktower.client.media_after_auth",
        ),
        (
            "sequence-from-one",
            "join_ok,auth_ok",
            "darktower.client.sequence",
        ),
    ] {
        let iut = format!("ref:v1!{mutant}");
        let (o, _, _) = learn(
            &format!("darktower-client-{mutant}"),
            &[
                "--iut",
                &iut,
                "--family",
                "darktower",
                "--diff",
                "ref:v1",
                "--role",
                "client",
                "--inputs",
                inputs,
            ],
        );
        let t = text(&o);
        assert_eq!(o.status.code(), Some(1), "{mutant}: {t}");
        assert!(t.contains(said), "{mutant}: {t}");
    }
}

/// Over real UDP, the stranger's server allowing a 4th stream (`four-streams`) is found where
/// the reference leaves it `blocked`: the replay's check counts what came from the input's own
/// write (a write the IUT's MAX_STREAMS holds back is `blocked` at once, before the check step
/// starts), so the unmutated program, which blocks it, passes it and the mutant alone fails.
#[test]
fn proton_a_stranger_s_fourth_stream_allowed_is_found_over_real_udp() {
    let (o, _, _) = learn(
        "stranger-four-streams",
        &[
            "--iut",
            "vectors/iut/strangers/proton.json!four-streams",
            "--inputs",
            "fourth_stream,event_stream",
            "--diff",
            "ref:as_coded",
            "--strict-profile",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after fourth_stream: the IUT - / the reference blocked: violation"),
        "{t}"
    );
}

#[test]
fn parts_are_named() {
    let o = harness(&["learn", "--iut", "ref:v1", "--part", "mixer"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--part mixer: expected one of controller, handler, handler-v2"),
        "{}",
        text(&o)
    );
    let o = harness(&["learn", "--iut", "ref:as_coded", "--part", "controller"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(
            "--part controller: expected one of options, push, timers, idle, startup, or none (the whole server)"
        ),
        "{}",
        text(&o)
    );
}

/// The inputs that reach DT6's, DT8's, DT3's and DT11's limits (a 257-byte name, a message of
/// length 0, a reused media token, a frame naming another stream, a v2 datagram of version 2)
/// find the reference mutants that break them, each as a violation.
#[test]
fn darktower_the_edge_inputs_find_their_mutants() {
    const CONTROLLER: &str = "join,join_long_name,empty_message";
    const HANDLER: &str = "auth,auth_reused,media_wrong_id,datagram,datagram_bad_version";
    let mutants = [
        ("long-name-accepted", "controller", CONTROLLER),
        ("empty-message-ignored", "controller", CONTROLLER),
        ("media-token-reusable", "handler", HANDLER),
        ("stream-id-mismatch-accepted", "handler", HANDLER),
        ("bad-datagram-forwarded", "handler", HANDLER),
    ];
    let missed = misses(&mutants, |(mutant, part, inputs)| {
        let iut = format!("ref:v2!{mutant}");
        let (o, _, _) = learn(
            mutant,
            &[
                "--iut",
                &iut,
                "--part",
                part,
                "--diff",
                "ref:v2",
                "--inputs",
                inputs,
                "--fail-fast",
            ],
        );
        (o.status.code() != Some(1)).then(|| format!("{iut}: {}", text(&o)))
    });
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// The inputs at H3's, P1's, H10's and the discriminators' edges (an event id 0, an id 200 then
/// smaller or equal ones, an overflowing commit request, a second connection, a repeated
/// discriminator, a FIN inside a u32) find the reference mutants that break them, each as a violation.
#[test]
fn proton_the_edge_inputs_find_their_mutants() {
    const INPUTS: &str =
        "event,commit,action,event_zero,event_high,commit_max,second_connection,dup_stream,fin_mid_u32";
    let mutants = [
        ("as_coded", "discriminator-twice-accepted"),
        ("as_coded", "fin-inside-u32-normal"),
        ("as_coded", "equal-event-id-accepted"),
        ("as_coded", "event-id-zero-accepted"),
        ("as_coded", "second-connection-accepted"),
        ("project", "commit-unchecked"),
    ];
    let missed = misses(&mutants, |(profile, mutant)| {
        let iut = format!("ref:{profile}!{mutant}");
        let reference = format!("ref:{profile}");
        let (o, _, _) = learn(
            mutant,
            &[
                "--iut",
                &iut,
                "--diff",
                &reference,
                "--inputs",
                INPUTS,
                "--fail-fast",
            ],
        );
        (o.status.code() != Some(1)).then(|| format!("{iut}: {}", text(&o)))
    });
    assert!(missed.is_empty(), "{}", missed.join("\n"));
}

/// A mutant of the stranger's controller writes its signaling lengths little-endian: the learning
/// setup (a participant joining) breaks DT6's framing on it, and nothing after could be learned.
/// That is the finding (exit 1, `differences/setup.json`), not an error.
#[test]
fn darktower_a_setup_a_mutant_breaks_is_a_violation() {
    let venv = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/pyenv/bin/python3"
    );
    assert!(
        std::path::Path::new(venv).exists(),
        "the stranger's program runs in the venv: `make pyenv` makes it (`make test` does)"
    );
    let out = out_dir("setup-broken");
    let o = harness(&[
        "learn",
        "--iut",
        "vectors/iut/strangers/darktower.json!mc-length-le",
        "--part",
        "controller",
        "--diff",
        "ref:v1",
        "--inputs",
        "join",
        "--fail-fast",
        "--out",
        out.to_str().unwrap_or("."),
    ]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("violation: the learning setup does not complete")
            && t.contains("rule darktower.controller.frame broke"),
        "{t}"
    );
    assert!(out.join("differences/setup.json").exists(), "{t}");
}

/// The `timers` part brings P3's discriminator timeout within two 700-ms waits: a discriminator
/// written on the StateCommit stream first opens the Event stream too, which waits for its own;
/// `no-discriminator-timeout` leaves it waiting where the project's profile closes with 1 (a
/// profile decision, held against a reference mutant as a violation).
#[test]
fn proton_timers_within_short_waits_find_a_missing_discriminator_timeout() {
    let (o, _, dot) = learn(
        "timers",
        &[
            "--iut",
            "ref:project!no-discriminator-timeout",
            "--part",
            "timers",
            "--diff",
            "ref:project",
            "--inputs",
            "commit_stream,wait_700ms",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains(
            "after commit_stream wait_700ms wait_700ms: the IUT - - - / the reference - - close(1): violation"
        ),
        "{t}"
    );
    assert!(!dot.contains("close(1)"), "{dot}");
}

/// The `idle` part's connection is over in the third 700-ms wait after its last packet (the
/// server's 1.7 s idle timeout; the harness's endpoint offers an hour): waits are counted to 3,
/// and an event (a packet) starts the count again.
#[test]
fn proton_idle_ends_a_silent_connection_in_the_third_short_wait() {
    let (o, summary, dot) = learn(
        "idle",
        &[
            "--iut",
            "ref:as_coded",
            "--part",
            "idle",
            "--inputs",
            "event,wait_700ms",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(
        t.contains("| wait_700ms wait_700ms | event → -, to 0 · wait_700ms → close(idle)"),
        "{t}"
    );
    assert!(dot.contains("close(idle)"), "{dot}");
    // Waits since the last packet (0, 1, 2), and over.
    learned(&summary, "model", 4);
}

/// The `startup` part starts each query as the server's port is bound: a value answered before
/// the startup delay is over is a violation (`startup`, a fact), which `no-startup-delay` does.
#[test]
fn proton_startup_finds_a_server_that_serves_at_once() {
    let (o, _, _) = learn(
        "startup",
        &[
            "--iut",
            "ref:as_coded!no-startup-delay",
            "--part",
            "startup",
            "--diff",
            "ref:as_coded",
            "--untimed",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("event / the reference"), "{t}");
    assert!(t.contains("violation: step"), "{t}");
}

/// The `options` part runs the project's profile with its options on: an overflowing StateCommit
/// request after the setup closes with 5 (P1), which `commit-unchecked` answers instead.
#[test]
fn proton_options_find_an_unchecked_commit() {
    let (o, _, _) = learn(
        "options",
        &[
            "--iut",
            "ref:project!commit-unchecked",
            "--part",
            "options",
            "--diff",
            "ref:project",
            "--inputs",
            "event_stream,commit_stream,action_stream,commit_max",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(t.contains("close(5): violation"), "{t}");
}

/// The `handler-v2` part runs the v2 profile, whose datagrams DT11 speaks of: one with version 2
/// is dropped, and `bad-datagram-forwarded` forwards it to participant 1 (DT11, a fact).
#[test]
fn darktower_a_v2_datagram_of_another_version_forwarded_is_a_violation() {
    let (o, _, _) = learn(
        "handler-v2",
        &[
            "--iut",
            "ref:v2!bad-datagram-forwarded",
            "--part",
            "handler-v2",
            "--diff",
            "ref:v2",
            "--inputs",
            "auth,datagram_bad_version",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(
        t.contains("after auth datagram_bad_version: the IUT connect_response bad_datagram / the reference connect_response -: violation"),
        "{t}"
    );
}

/// `vanish`: participant 0 falls silent and its session idles out within the input's window;
/// participant 1 is told it left. `idle-left-voluntary` says VOLUNTARY where DT10's reason is
/// CONNECTION_LOST: the letters agree, and the rules find it on the learned transition.
#[test]
fn darktower_a_participant_that_idled_out_leaving_voluntarily_is_found_on_its_transition() {
    let (o, _, dot) = learn(
        "controller-vanish",
        &[
            "--iut",
            "ref:v1!idle-left-voluntary",
            "--part",
            "controller",
            "--diff",
            "ref:v1",
            "--inputs",
            "join,vanish",
        ],
    );
    let t = text(&o);
    assert_eq!(o.status.code(), Some(1), "{t}");
    assert!(dot.contains("vanish / p1:participant_left"), "{dot}");
    assert!(
        t.contains("transition after join vanish: violation: rule darktower.controller.leave"),
        "{t}"
    );
}
