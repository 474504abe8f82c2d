//! What a Proton expectation may rest on: the facts of `shared/protocols/proton.md`, and the
//! project's decisions beyond them — P1–P5 (the project profile) and the harness's H-decisions
//! where the facts are silent (README, "Proton decisions").

use handshake_scenario::Citations;

/// Facts (and as-coded behaviour the facts record).
pub const FACTS: &[(&str, &str)] = &[
    ("wire", "One QUIC connection, ALPN proton; three client bidi streams; u32 little-endian"),
    ("wire.discriminator", "First byte of a stream: 1 Event, 2 StateCommit, 3 Action; any other or repeated byte is a violation (close 1)"),
    ("wire.event", "Event ids echoed; strictly increasing per connection, the first ≥ 1 (close 5)"),
    ("wire.commit", "StateCommit answered with request + 2 (wrapping as coded)"),
    ("wire.action", "Action (as coded, pull): each client u32 answered with the counter 0, 1, 2, …"),
    ("wire.close_codes", "Application close codes 0–5; any violation closes the whole connection"),
    ("wire.second_connection", "A second connection while one is live gets transport CONNECTION_REFUSED (0x2)"),
    ("wire.stream_error", "An early FIN or a read ending inside a u32 is a stream error: close 5"),
    ("timeouts", "Idle 5 s, keep-alive 5 s, stream accept 5 s (close 3), each read/write 300 s (close 4), startup 10 s"),
    ("setup.order", "Streams are set up one at a time in the order opened; at most 3 bidi streams (a 4th is blocked by flow control)"),
    ("H2", "Stream setup timing: each next stream within accept_ms of the previous setup (close 3)"),
    ("H3", "Event ids ≥ 1 and strictly increasing (close 5), both profiles"),
    ("H6", "A read waiting more than op_ms for a whole u32, or a write that cannot complete, closes with 4"),
    ("H9", "After a connection ends the server accepts the next, without a new startup delay"),
    ("H10", "One connection at a time: a new one is refused with transport 0x2 while one is live"),
];

/// The project's decisions beyond the facts.
pub const PROFILE_DECISIONS: &[(&str, &str)] = &[
    ("P1", "StateCommit with checked arithmetic: requests that would overflow get close 5"),
    ("P2", "Action in pull (default) or push mode (action_push)"),
    ("P3", "A discriminator must arrive within disc_ms (1 s) of the stream's accept, else close 1"),
    ("P4", "0xFF on a 4th stream resets (close 0, reason reset) when the server allows 4 streams; reconnect at once"),
    ("P5", "A FIN from the client at a message boundary ends the connection with code 0"),
    ("H1", "Startup: no application data before startup_ms; `Server listening` when the wait is over"),
    ("H7", "A RESET_STREAM or STOP_SENDING from the client on any stream closes with 5"),
    ("H11", "The client opens 3 streams with discriminators 1, 2, 3, checks every answer, closes with 0"),
];

/// Proton's citations.
pub const CITATIONS: Citations = Citations {
    facts: FACTS,
    profile_decisions: PROFILE_DECISIONS,
};
