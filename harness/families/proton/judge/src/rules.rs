//! Proton's rule catalogue: every rule the judge enforces, with a stable id, a one-line statement,
//! and the fact or decision it rests on (`shared/protocols/proton.md`: the wire facts, P5 among
//! them, and the project's profile decisions P1–P4; README: the harness's decisions H1–H12).
//! Ids are namespaced by the family (`proton.event.order`); rules named `proton.client.*` judge
//! the client, `proton.decrypt` the capture itself, every other rule the server. Ids never
//! change meaning; retired ids are not reused.
//!
//! Basis: a rule rests on decisions of one class (Proton's decision table, `harness decisions`):
//! facts — what `004_03a81090c55d4a0c.txt` states and what only the original's code shows where a
//! peer needs it (ALPN, byte order, discriminator values, event ids > 0) — make it a
//! [`Basis::Fact`]; a disputed reading (the StateCommit and Action values), the original's close
//! codes (silent in the documents) or one of the project's profile decisions makes it a
//! [`Basis::Profile`]: shown, failing a gate only under `--strict-profile`.
//!
//! Where the sources allow several readings every one passes, and only what is outside all of
//! them fails: so a rule whose evaluation needs a profile reading is split, the fact part standing
//! alone. A violation or stream error ends the connection (`proton.event.order`,
//! `proton.discriminator.fatal`, `proton.stream_error.fatal`, `proton.timer.op`: any close), and
//! the close code is the profile's (`proton.event.order_code`, `proton.close.bad_discriminator`,
//! `proton.close.stream_error`, `proton.timer.op_code`); a StateCommit answer is one of the
//! readings (`proton.commit.reading`), + 2 the profile's (`proton.commit.answer`); the Action
//! stream carries 4-byte items (`proton.action.items`), their values and pull or push the
//! profile's (`proton.action.counter`, `proton.action.pull`); a second connection is not served
//! (`proton.second_connection.unserved`), CONNECTION_REFUSED the profile's form
//! (`proton.second_connection.refused`).

pub use handshake_check::{Basis, Rule};

handshake_check::rules! {
    DECRYPT = ("proton.decrypt", Fact, "H12; RFC 9001 §5",
        "Every 1-RTT packet of the capture decrypts with the capture's secrets (Decryption Secrets Block or --keylog); a connection that does not cannot be judged.");
    ALPN = ("proton.alpn", Fact, "wire.alpn (ALPN `proton`, as coded)",
        "The server selects the ALPN protocol `proton`.");
    DISCRIMINATOR_KNOWN = ("proton.discriminator.known", Fact, "wire.discriminator, wire.discriminator.values (1, 2, 3; any other first byte is a violation)",
        "The server serves no stream whose first byte is not 1, 2 or 3 (0xFF only on a 4th stream under P4): it writes nothing on it.");
    DISCRIMINATOR_UNIQUE = ("proton.discriminator.unique", Fact, "wire.discriminator (a repeated discriminator is a violation)",
        "The server serves no stream whose discriminator is already used on the connection: it writes nothing on it.");
    EVENT_ECHO = ("proton.event.echo", Fact, "wire.event (the server echoes the id); H3",
        "The server echoes every accepted event id, in order, as a u32 LE on the Event stream.");
    EVENT_ORDER = ("proton.event.order", Fact, "wire.event (ids increase; a violation ends the connection); H3 (> 0, strictly); wire.fatal",
        "An event id that is 0 or not above the last accepted one is not echoed, nothing after it is echoed, and the connection ends (with any close; the code is proton.event.order_code's).");
    EVENT_ORDER_CODE = ("proton.event.order_code", Profile, "wire.close_codes (code 5: stream error, as coded)",
        "A server that ends the connection for an event id out of order closes with application code 5.");
    COMMIT_READING = ("proton.commit.reading", Fact, "wire.commit.pairing (one answer per request, in order); wire.commit.readings (r + 2 or r × 2, modulo 2^32, one reading per connection)",
        "The server answers StateCommit requests one for one and in order, each answer r + 2 or r × 2 (modulo 2^32), keeping to one of the two on a connection.");
    COMMIT_ANSWER = ("proton.commit.answer", Profile, "wire.commit (disputed: request + 2 as coded, × 2 in the transcripts)",
        "The server answers every StateCommit request r with r + 2, in order (wrapping as coded, checked under P1): the profile's reading.");
    COMMIT_OVERFLOW = ("proton.commit.overflow", Profile, "P1",
        "project: a StateCommit request r >= 0xFFFF_FFFE gets no answer, nothing after it on the stream is answered, and the server closes with application code 5.");
    ACTION_ITEMS = ("proton.action.items", Fact, "wire.action.items (4-byte items from the server)",
        "What the server writes on the Action stream is whole 4-byte items: it does not end the stream (FIN) inside one.");
    ACTION_COUNTER = ("proton.action.counter", Profile, "wire.action (disputed: the code's per-connection counter 0, 1, 2, ...)",
        "The server's actions are its per-connection counter 0, 1, 2, ... in order.");
    ACTION_PULL = ("proton.action.pull", Profile, "wire.action (disputed: pull as coded, push in the design)",
        "In pull mode the server sends its k-th action only after the client's k-th u32 on the Action stream.");
    // `proton.close.fin` (a FIN at a u32 boundary closes with 0) is retired: the original closes
    // with 5 there (P5, corrected); see `proton.close.stream_error`.
    CLOSE_STREAM_ERROR = ("proton.close.stream_error", Profile, "P5 (a FIN at a u32 boundary); wire.close_codes (code 5)",
        "After a stream's setup, a FIN from the client, at a u32 boundary or inside a u32, makes the server close with application code 5.");
    CLOSE_SETUP_ENDED = ("proton.close.setup_ended", Profile, "P5; wire.close_codes (code 1)",
        "A FIN or RESET_STREAM from the client on a stream before its discriminator makes the server close with application code 1 (the stream's setup fails).");
    CLOSE_STREAM_RESET = ("proton.close.stream_reset", Profile, "H7",
        "A RESET_STREAM from the client on a set-up stream, or a STOP_SENDING, makes the server close with application code 5.");
    DISCRIMINATOR_FATAL = ("proton.discriminator.fatal", Fact, "wire.discriminator, wire.discriminator.values (one of each of 1, 2, 3); wire.fatal",
        "A bad or repeated discriminator on one of the client's first three streams ends the connection (with any close; the code is proton.close.bad_discriminator's).");
    STREAM_ERROR_FATAL = ("proton.stream_error.fatal", Fact, "wire.stream_error (a truncated u32); wire.fatal",
        "After a stream's setup, a FIN from the client inside a u32 ends the connection (with any close; the code is proton.close.stream_error's).");
    CLOSE_BAD_DISCRIMINATOR = ("proton.close.bad_discriminator", Profile, "wire.close_codes (code 1: stream setup error, as coded)",
        "A bad or repeated discriminator makes the server close with application code 1.");
    CLOSE_RESET = ("proton.close.reset", Profile, "P4",
        "With the reset option, a 4th stream whose first byte is 0xFF makes the server close with application code 0.");
    CLOSE_CODE = ("proton.close.code", Profile, "wire.close_codes (application close codes 0-5, as coded)",
        "The server closes only with the application codes 0 to 5.");
    CLOSE_UNPROVOKED = ("proton.close.unprovoked", Profile, "wire.close_codes; P5",
        "The server closes with code 5 only after a stream error or protocol violation the capture shows, with code 1 only after a bad or repeated discriminator or a stream that ended before its discriminator (or, under P3, one that may have come late), and with code 0 only for P4's reset (the original's code 0 never reaches the wire).");
    TIMER_ACCEPT = ("proton.timer.accept", Profile, "H2 (each stream accept 5 s: code 3, as coded)",
        "The server closes with code 3 when the next stream is not opened within accept_ms of the previous setup, and not sooner (within the tolerance).");
    TIMER_OP = ("proton.timer.op", Fact, "timeouts (each read or write 5 minutes); H6",
        "A read that waits more than op_ms for a whole u32 ends the connection, within the tolerance (with any close; the code is proton.timer.op_code's).");
    TIMER_OP_CODE = ("proton.timer.op_code", Profile, "wire.close_codes (code 4: stream operation timeout, as coded)",
        "The server closes with application code 4 only for a read that waited op_ms for a whole u32, and not sooner (within the tolerance).");
    TIMER_DISCRIMINATOR = ("proton.timer.discriminator", Profile, "P3",
        "project: the server closes with code 1 when a stream's discriminator has not arrived within disc_ms of its accept, and not sooner (within the tolerance).");
    SECOND_CONNECTION_UNSERVED = ("proton.second_connection.unserved", Fact, "H10 (one connection at a time)",
        "A connection that begins while another to the same server is live is not served: the server writes no stream data on it and does not keep it open (it refuses it or closes it).");
    SECOND_CONNECTION_REFUSED = ("proton.second_connection.refused", Profile, "wire.second_connection (CONNECTION_REFUSED as coded)",
        "A connection that starts while another is live is refused by the server with the transport error CONNECTION_REFUSED (0x2).");
    CLIENT_ALPN = ("proton.client.alpn", Fact, "wire.alpn (ALPN `proton`, as coded)",
        "The client offers the ALPN protocol `proton`.");
    CLIENT_DISCRIMINATORS = ("proton.client.discriminators", Fact, "wire (three bidirectional streams); wire.discriminator, wire.discriminator.values",
        "The client opens bidirectional streams only, and each of its first three begins with its discriminator: 1, 2 and 3, each once (a 4th stream only to reset, under P4).");
    CLIENT_DISCRIMINATOR_ORDER = ("proton.client.discriminator_order", Profile, "H11",
        "The client writes the discriminators 1, 2 and 3 on the streams 0, 4 and 8, in that order.");
    CLIENT_ITEMS = ("proton.client.items", Fact, "wire (every item is 4 bytes)",
        "After a stream's discriminator the client writes whole u32s: it ends no stream (FIN) and closes no connection with part of one sent.");
    CLIENT_EVENT_IDS = ("proton.client.event_ids", Fact, "wire.event (increasing); H3 (the first > 0, strictly)",
        "The client's event ids start at 1 or above and strictly increase.");
    CLIENT_CLOSE = ("proton.client.close", Profile, "H11",
        "A client that got every answer right ends the connection with application code 0.");
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    handshake_check::rules::find(ALL, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_prefixed_and_statements_are_one_line() {
        handshake_check::rules::assert_well_formed(ALL, "proton.");
        assert_eq!(by_id("proton.event.order"), Some(&EVENT_ORDER));
    }

    /// A rule is Profile exactly when its source cites one of the project's profile decisions
    /// (the class of each id: `harness decisions`; `harness/cli/tests/decisions.rs` checks it
    /// against the table itself).
    #[test]
    fn profile_rules_cite_a_profile_decision() {
        const PROFILE: [&str; 16] = [
            "P1",
            "P2",
            "P3",
            "P4",
            "P5",
            "H1",
            "H2",
            "H7",
            "H9",
            "H11",
            "wire.commit",
            "wire.action",
            "wire.close_codes",
            "wire.second_connection",
            "setup.order",
            "timeouts.keepalive",
        ];
        for r in ALL {
            let cites = r
                .source
                .split([',', ';', ':', ' ', '(', ')'])
                .any(|w| PROFILE.contains(&w));
            assert_eq!(r.basis == Basis::Profile, cites, "{}", r.id);
        }
    }
}
