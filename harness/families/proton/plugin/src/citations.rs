//! Proton's decision table: what an expectation may rest on, each with its class (facts of
//! `docs/src/protocols/proton.md` as the original codes them, contracts the harness adapts to, and the
//! project's profile decisions P1–P4 and H-decisions where the facts are silent). The table is
//! `docs/decisions.md`'s Proton part.

use handshake_scenario::{Citations, Decision};

const CODE: &str = "the original's code (proton.md, wire facts)";
const AS_CODED: &str = "the original's code (proton.md, as-coded details)";

/// Every decision, in the order the table lists them.
pub const DECISIONS: &[Decision] = &[
    Decision::fact("wire", "One QUIC connection, ALPN proton; three client bidi streams; u32 little-endian", CODE),
    Decision::fact("wire.discriminator", "First byte of a stream: 1 Event, 2 StateCommit, 3 Action; any other or repeated byte is a violation (close 1)", CODE),
    Decision::fact("wire.event", "Event ids echoed; strictly increasing per connection, the first ≥ 1 (close 5)", CODE),
    Decision::fact("wire.commit", "StateCommit answered with request + 2 (wrapping as coded)", CODE),
    Decision::fact("wire.action", "Action (as coded, pull): each client u32 answered with the counter 0, 1, 2, …", CODE),
    Decision::fact("wire.close_codes", "Application close codes 0–5; any violation closes the whole connection", CODE),
    Decision::fact("wire.second_connection", "A second connection while one is live gets transport CONNECTION_REFUSED (0x2)", AS_CODED),
    Decision::fact("wire.stream_error", "After setup, an early FIN or a read ending inside a u32 is a stream error: close 5", AS_CODED),
    Decision::fact("P5", "A FIN or reset before a stream's discriminator fails setup (close 1); after setup every FIN ends a read early (close 5, at a u32 boundary too); the original's code 0 (\"Streams completed\") is sent after the connection has ended: it never reaches the wire", "corrected P5: the original's code"),
    Decision::fact("timeouts", "Idle 5 s, keep-alive 5 s, stream accept 5 s (close 3), each read/write 300 s (close 4), startup 10 s", CODE),
    Decision::fact("setup.order", "Streams are set up one at a time in the order opened; at most 3 bidi streams (a 4th is blocked by flow control)", AS_CODED),
    Decision::fact("H2", "Stream setup timing: each next stream within accept_ms of the previous setup (close 3)", AS_CODED),
    Decision::fact("H3", "Event ids ≥ 1 and strictly increasing (close 5), both profiles", AS_CODED),
    Decision::fact("H6", "A read waiting more than op_ms for a whole u32, or a write that cannot complete, closes with 4", "the original's code: read/write timeout 300 s, close code 4"),
    Decision::fact("H10", "One connection at a time: a new one is refused with transport 0x2 while one is live", AS_CODED),
    Decision::fact("startup", "The original's server serves no connection before its startup delay (10 s, 2 × idle)", AS_CODED),
    Decision::contract("ready", "How the harness knows a server is serving: a line it prints, a bound port or a delay (the manifest's `ready`)", "the original prints `Server listening…`; another program may say nothing"),
    Decision::contract("address", "Where the server listens: given on its command line, or fixed (the original: 127.0.0.1:5000)", "the manifest's `listen`"),
    Decision::contract("plan", "What a client does: how many Events, StateCommits and Actions, and when it closes", "the manifest's client template or the REPL's commands"),
    Decision::contract("H12", "Key log: a side given --keylog FILE appends its TLS secrets (NSS format)", "optional; without it the harness judges from its own endpoint"),
    Decision::profile("P1", "StateCommit with checked arithmetic: requests that would overflow get close 5", "proton.md P1: the project profile; as coded it wraps"),
    Decision::profile("P2", "Action in pull (default) or push mode (action_push)", "proton.md P2: the design text pushes; the code pulls"),
    Decision::profile("P3", "A discriminator must arrive within disc_ms (1 s) of the stream's accept, else close 1", "proton.md P3: design advice, not coded"),
    Decision::profile("P4", "0xFF on a 4th stream resets (close 0, reason reset) when the server allows 4 streams; reconnect at once", "proton.md P4: suggested by the design, never coded"),
    Decision::profile("H1", "Startup: a connection made during the startup delay is kept and served once the delay is over", "the facts give the original's delay (`startup`), not what its QUIC stack does with a connection meanwhile"),
    Decision::profile("H7", "A RESET_STREAM from the client on a set-up stream, or a STOP_SENDING on any stream, closes with 5", "the facts name early FINs, short reads and resets before setup (P5); resets after setup and STOP_SENDING are the project's reading"),
    Decision::profile("H9", "After a connection ends the server accepts the next, without a new startup delay", "the facts are silent on a second connection after the first ended"),
    Decision::profile("H11", "The client writes discriminators 1, 2, 3 in that order, checks every answer and closes with 0", "the facts fix the discriminators, not their order or how a client ends"),
];

/// Proton's citations.
pub const CITATIONS: Citations = Citations {
    decisions: DECISIONS,
};
