//! Proton's decision table: what an expectation may rest on, each with its strength and the source
//! locations it rests on. The sources are `004_03a81090c55d4a0c.txt` (the design prompt, its review
//! and the REPL's documentation with transcripts; "004" below) and the original's code,
//! `farazshaikh/quicprotocol` at 20e9100. Facts are what the document states (`must`) or what only
//! the code shows and a peer needs to talk to it (`as_coded`); where the document and the code (or
//! a transcript) disagree the row is `disputed`; the rest is the project's profile. The table is
//! `docs/decisions.md`'s Proton part.

use handshake_scenario::{Citations, Decision, Strength};

/// Every decision, in the order the table lists them.
pub const DECISIONS: &[Decision] = &[
    // ---- the wire ----
    Decision::must("wire", "One QUIC connection from one client; the client opens three bidirectional streams; every item on them is 4 bytes",
        "004_03a81090c55d4a0c.txt:4-6, 004_03a81090c55d4a0c.txt:10, 004_03a81090c55d4a0c.txt:15-22, 004_03a81090c55d4a0c.txt:45-46; farazshaikh/quicprotocol src/proton/server.rs:327-353 @20e9100. The design states it as how the protocol works."),
    Decision::as_coded("wire.alpn", "The TLS ALPN protocol is `proton`",
        "farazshaikh/quicprotocol src/proton/server.rs:246 @20e9100, farazshaikh/quicprotocol src/proton/client.rs:117 @20e9100. Only the code names it, and a peer must offer or select it to talk to the original at all; 004 is silent."),
    Decision::as_coded("wire.le", "Every 4-byte item is an unsigned 32-bit integer, little-endian",
        "farazshaikh/quicprotocol src/proton/server.rs:86 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:95 @20e9100, farazshaikh/quicprotocol src/proton/client.rs:64-67 @20e9100. 004:16-22 says only 4 bytes; the byte order is in the code and a peer must parse it."),
    Decision::must("wire.discriminator", "The first byte a client writes on each stream says which stream it is; one stream of each kind per connection: an unknown or repeated discriminator is a violation that ends the connection",
        "004_03a81090c55d4a0c.txt:6, 004_03a81090c55d4a0c.txt:9-10, 004_03a81090c55d4a0c.txt:155, 004_03a81090c55d4a0c.txt:30; farazshaikh/quicprotocol src/proton/server.rs:38-67 @20e9100. The design states the identifying byte and the one-of-each invariant; an invalid type byte is named as an error case and errors must end the connection (the close code is wire.close_codes)."),
    Decision::as_coded("wire.discriminator.values", "The discriminator values: 1 Event, 2 StateCommit, 3 Action",
        "farazshaikh/quicprotocol src/proton/mod.rs:5-7 @20e9100. 004:15-22 numbers the streams in this order but gives no byte values; a peer must send or recognise these."),
    Decision::must("wire.event", "Event: the client sends increasing 4-byte ids, the server answers each with the same id; an id out of order is a violation that ends the connection",
        "004_03a81090c55d4a0c.txt:16, 004_03a81090c55d4a0c.txt:48, 004_03a81090c55d4a0c.txt:30; farazshaikh/quicprotocol src/proton/server.rs:84-95 @20e9100. Stated as how the Event stream works; gaps are not forbidden."),
    Decision::must("wire.commit.pairing", "StateCommit: each 4-byte request gets one 4-byte answer on the same stream, in order; the answer may take minutes (3 to 4)",
        "004_03a81090c55d4a0c.txt:19, 004_03a81090c55d4a0c.txt:49; farazshaikh/quicprotocol src/proton/server.rs:131-154 @20e9100. Stated as how the stream works; the answer's value is wire.commit."),
    Decision::must("wire.commit.readings", "StateCommit's answer is computed from its request by one of the sources' readings, modulo 2^32: request + 2 (the code) or request × 2 (the transcripts); a server keeps to one reading on a connection",
        "farazshaikh/quicprotocol src/proton/server.rs:139 @20e9100 (request + 2); 004_03a81090c55d4a0c.txt:212-213 (42 → 84), 004_03a81090c55d4a0c.txt:274-275 (999 → 1998) (request × 2); 004_03a81090c55d4a0c.txt:19. Both sources give the answer as a function of the request; an answer that is neither reading breaks both. Which reading is the profile's is wire.commit; what a request that overflows gets is P1."),
    Decision::disputed("wire.commit", "StateCommit's answer value: the profile plays request + 2 (wrapping as coded)",
        "farazshaikh/quicprotocol src/proton/server.rs:139 @20e9100 answers request + 2; the REPL transcripts show request × 2 (004_03a81090c55d4a0c.txt:212-213: 42 → 84, 004_03a81090c55d4a0c.txt:274-275: 999 → 1998); the design prose gives no value (004_03a81090c55d4a0c.txt:19). Both readings are allowed."),
    Decision::must("wire.action.items", "Action: once identified, the stream carries 4-byte items from the server to the client",
        "004_03a81090c55d4a0c.txt:22, 004_03a81090c55d4a0c.txt:50; farazshaikh/quicprotocol src/proton/server.rs:184-191 @20e9100. Stated as how it works; when the items come and their values are wire.action."),
    Decision::disputed("wire.action", "Action's mode and values: the profile plays the code's pull (each client u32 answered with the counter 0, 1, 2, …)",
        "The code pulls: the client writes a u32 (42) and the server answers with a per-connection counter from 0 (farazshaikh/quicprotocol src/proton/server.rs:176-191 @20e9100, farazshaikh/quicprotocol src/proton/client.rs:94-98 @20e9100); the design has the server keep sending items unprompted (004_03a81090c55d4a0c.txt:21-22, 004_03a81090c55d4a0c.txt:50); the transcripts show a first action of 123 (004_03a81090c55d4a0c.txt:214-215, 004_03a81090c55d4a0c.txt:259). Each reading is allowed."),
    Decision::must("wire.fatal", "A protocol violation or an error on a stream ends the whole connection and all its streams",
        "004_03a81090c55d4a0c.txt:30 (MUST), 004_03a81090c55d4a0c.txt:16, 004_03a81090c55d4a0c.txt:19, 004_03a81090c55d4a0c.txt:22, 004_03a81090c55d4a0c.txt:56; farazshaikh/quicprotocol src/proton/server.rs:376-383 @20e9100. The per-stream lines say should, the design's line 30 says must for errors on streams."),
    Decision::silent("wire.close_codes", "The application close codes, as coded: 1 stream setup error, 2 stream accept error, 3 stream setup timeout, 4 stream operation timeout, 5 stream error or violation (0 never reaches the wire)",
        "Only the code has codes: farazshaikh/quicprotocol src/proton/server.rs:334 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:343-349 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:372-383 @20e9100; 004 says only that the connection ends (004_03a81090c55d4a0c.txt:16, 004_03a81090c55d4a0c.txt:30), and the original client reads no code (farazshaikh/quicprotocol src/proton/client.rs:58-70 @20e9100): a peer does not need them to talk, so they are the profile naming the original's behaviour."),
    Decision::must("wire.stream_error", "After setup, a read that ends inside a u32 (a truncated item) is a stream error: it ends the connection",
        "004_03a81090c55d4a0c.txt:30, 004_03a81090c55d4a0c.txt:156; farazshaikh/quicprotocol src/proton/server.rs:111-114 @20e9100. Items are 4 bytes (004:16-22) and errors on streams must end the connection; the close code is wire.close_codes."),
    Decision::silent("P5", "A FIN or reset before a stream's discriminator fails setup (close 1); after setup every FIN ends a read early (close 5, at a u32 boundary too); the original's code 0 (\"Streams completed\") is sent after the connection has ended: it never reaches the wire",
        "004 says nothing of a client ending or resetting a stream (004_03a81090c55d4a0c.txt:154 only lists a stream that sends no data as a case to test). The original's behaviour: farazshaikh/quicprotocol src/proton/server.rs:39 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:331-335 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:111-114 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:217-221 @20e9100; a correct peer never needs it."),
    Decision::silent("wire.second_connection", "How a second connection is refused: the transport error CONNECTION_REFUSED (0x2), as coded, and the live one goes on",
        "The original refuses through its QUIC stack's connection limit (farazshaikh/quicprotocol src/proton/server.rs:257-258 @20e9100); its own application close 0 (farazshaikh/quicprotocol src/proton/server.rs:314-320 @20e9100) is never reached. 004 says only that it is an error and closed out (004_03a81090c55d4a0c.txt:11-12) and the transcript prints `Connection refused` without a code (004_03a81090c55d4a0c.txt:238)."),
    Decision::must("H10", "One connection at a time: a second connection while one is live is not served (the live one goes on)",
        "004_03a81090c55d4a0c.txt:6, 004_03a81090c55d4a0c.txt:10-12, 004_03a81090c55d4a0c.txt:45; the transcript 004_03a81090c55d4a0c.txt:233-238 shows the second refused; farazshaikh/quicprotocol src/proton/server.rs:279-299 @20e9100. The single-connection invariant is stated as how it works; that a second one is closed out is a should (004:11-12), its form is wire.second_connection."),
    // ---- timers ----
    Decision::must("timeouts", "Idle timeout 5 s; each send and receive bounded by 5 minutes; the server's startup delay 10 s (2 × idle)",
        "004_03a81090c55d4a0c.txt:27-29, 004_03a81090c55d4a0c.txt:53-55; farazshaikh/quicprotocol src/proton/mod.rs:16-18 @20e9100. The design gives these values."),
    Decision::disputed("timeouts.keepalive", "Keep-alive interval: the profile plays the code's 5 s",
        "The design says a 1 s heartbeat (004_03a81090c55d4a0c.txt:26, 004_03a81090c55d4a0c.txt:53); the code sets 5 s on both sides (farazshaikh/quicprotocol src/proton/server.rs:252 @20e9100, farazshaikh/quicprotocol src/proton/client.rs:123 @20e9100). Either is allowed."),
    Decision::silent("H2", "Stream setup timing, as coded: each next stream must be accepted within accept_ms (5 s) of the previous setup, else close 3",
        "Only the code has an accept timer (farazshaikh/quicprotocol src/proton/server.rs:327-329 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:346-350 @20e9100); 004 has none (the review's 1 s identification timeout, 004_03a81090c55d4a0c.txt:124-128, is P3). A server needs no accept timer to talk; a client's side of it is setup.prompt."),
    Decision::as_coded("setup.prompt", "A client opens its three streams and writes their discriminators without pausing (the original closes when a next stream takes over 5 s)",
        "farazshaikh/quicprotocol src/proton/server.rs:329 @20e9100, farazshaikh/quicprotocol src/proton/client.rs:33-53 @20e9100. 004 is silent; a client must do this to keep a connection to the original."),
    Decision::silent("setup.order", "The server sets up streams one at a time, in the order they are opened",
        "The original's behaviour (farazshaikh/quicprotocol src/proton/server.rs:327-353 @20e9100); 004 says nothing of the order, and a peer that writes its discriminators at once does not need it."),
    Decision::as_coded("setup.limit", "At most 3 bidirectional streams (MAX_STREAMS 3): a 4th is blocked by flow control, not refused",
        "farazshaikh/quicprotocol src/proton/server.rs:254 @20e9100, farazshaikh/quicprotocol src/proton/mod.rs:8 @20e9100; 004_03a81090c55d4a0c.txt:5 gives three streams. The transport parameter is a value a peer reads."),
    Decision::as_coded("H3", "Event ids are ≥ 1 and strictly increasing: a first id 0 or an id equal to the last is a violation",
        "farazshaikh/quicprotocol src/proton/server.rs:29 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:89-90 @20e9100 (the last id starts at 0; `<=` is refused). 004_03a81090c55d4a0c.txt:16 says monotonically increasing and the review asks for strict monotonicity (004_03a81090c55d4a0c.txt:96) without fixing the first id; a client must meet it to talk to the original."),
    Decision::must("H6", "Each read (a whole u32) and write is bounded by op_ms (5 minutes): none is cut short sooner, and one that runs out ends the connection",
        "004_03a81090c55d4a0c.txt:16, 004_03a81090c55d4a0c.txt:19, 004_03a81090c55d4a0c.txt:22, 004_03a81090c55d4a0c.txt:29-30; farazshaikh/quicprotocol src/proton/server.rs:84 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:376-379 @20e9100. The 5-minute bound is the design's; the close code (4) is wire.close_codes."),
    Decision::must("startup", "The server serves no connection before its startup delay (10 s, 2 × idle)",
        "004_03a81090c55d4a0c.txt:28, 004_03a81090c55d4a0c.txt:55; farazshaikh/quicprotocol src/proton/server.rs:270-277 @20e9100. The design states the delay and what it is for."),
    // ---- contracts ----
    Decision::contract("ready", Strength::AsCoded, "How the harness knows a server is serving: a line it prints, a bound port or a delay (the manifest's `ready`)",
        "the original prints `Server listening on …` after its delay (farazshaikh/quicprotocol src/proton/server.rs:277 @20e9100); another program may say nothing"),
    Decision::contract("address", Strength::AsCoded, "Where the server listens: given on its command line, or fixed (the original: 127.0.0.1:5000)",
        "farazshaikh/quicprotocol src/main.rs:27 @20e9100; the manifest's `listen`"),
    Decision::contract("plan", Strength::Example, "What a client does: how many Events, StateCommits and Actions, and when it closes",
        "the REPL's commands (004_03a81090c55d4a0c.txt:178-199) or the original client's fixed loop (farazshaikh/quicprotocol src/main.rs:51-60 @20e9100); the manifest's client template"),
    Decision::contract("H12", Strength::Silent, "Key log: a side given --keylog FILE appends its TLS secrets (NSS format)",
        "the sources are silent (the original writes no key log); without it the harness judges from its own endpoint"),
    // ---- the profile ----
    Decision::silent("P1", "StateCommit with checked arithmetic: requests that would overflow get close 5",
        "004 says nothing of overflow; the code's `request + 2` (farazshaikh/quicprotocol src/proton/server.rs:139 @20e9100) wraps in a release build and panics in a debug one (the REPL doc runs `cargo run`, 004_03a81090c55d4a0c.txt:176)."),
    Decision::disputed("P2", "Action in pull (default) or push mode (action_push)",
        "The two readings of wire.action: the design pushes (004_03a81090c55d4a0c.txt:21-22), the code pulls (farazshaikh/quicprotocol src/proton/server.rs:176-191 @20e9100); the profile offers both."),
    Decision::should("P3", "A discriminator must arrive within disc_ms (1 s) of the stream's accept, else close 1",
        "The review suggests a short (e.g. 1 s) identification timeout, closing the stream (004_03a81090c55d4a0c.txt:124-128); closing the connection with 1 is the profile's form. The original waits up to 300 s for it (farazshaikh/quicprotocol src/proton/server.rs:39 @20e9100)."),
    Decision::should("P4", "0xFF on a 4th stream resets (close 0, reason reset) when the server allows 4 streams; reconnect at once",
        "The design wants a client to be able to reset stale state (004_03a81090c55d4a0c.txt:32) and the review proposes e.g. 0xFF as a reset discriminator (004_03a81090c55d4a0c.txt:138-146); the 4th stream and close 0 are the profile's form. Never coded: 0xFF is an unknown discriminator there (farazshaikh/quicprotocol src/proton/server.rs:66 @20e9100)."),
    Decision::silent("H1", "Startup: a connection made during the startup delay is kept and served once the delay is over",
        "004 gives the delay (startup), not what happens to a connection that arrives during it (004_03a81090c55d4a0c.txt:28); the original's endpoint exists before its delay (farazshaikh/quicprotocol src/proton/server.rs:261 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:275 @20e9100)."),
    Decision::silent("H7", "A RESET_STREAM from the client on a set-up stream, or a STOP_SENDING on any stream, closes with 5",
        "004 names no resets or STOP_SENDING; the original ends the connection with 5 when such a read or write fails (farazshaikh/quicprotocol src/proton/server.rs:111-114 @20e9100, farazshaikh/quicprotocol src/proton/server.rs:380-383 @20e9100)."),
    Decision::silent("H9", "After a connection ends the server accepts the next, without a new startup delay",
        "004 is silent on a second connection after the first ended (the transcript reconnects, 004_03a81090c55d4a0c.txt:229-230); the original loops without a new delay (farazshaikh/quicprotocol src/proton/server.rs:279-299 @20e9100)."),
    Decision::silent("H11", "The client writes discriminators 1, 2, 3 in that order, checks every answer and closes with 0",
        "004 fixes neither the order nor how a client ends. The original opens 1, 2, 3 in order and closes with 0 (farazshaikh/quicprotocol src/proton/client.rs:33-53 @20e9100, farazshaikh/quicprotocol src/proton/client.rs:246-252 @20e9100) but checks no answer."),
];

/// Proton's citations.
pub const CITATIONS: Citations = Citations {
    decisions: DECISIONS,
};
