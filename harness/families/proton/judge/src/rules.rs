//! Proton's rule catalogue: every rule the judge enforces, with a stable id, a one-line statement,
//! and the fact or decision it rests on (`shared/protocols/proton.md`: the wire facts and the
//! project's profile decisions P1–P5; `notes/proton-spec.md`: the harness's decisions H1–H12).
//! Ids are namespaced by the family (`proton.event.order`); rules named `proton.client.*` judge
//! the client, `proton.decrypt` the capture itself, every other rule the server. Ids never
//! change meaning; retired ids are not reused.
//!
//! Basis: the facts (and the H decisions that only restate them or fill a silence the way the
//! original's code does) are [`Basis::Fact`]; P1–P5 are the project's own decisions
//! ([`Basis::Profile`]): shown, failing a gate only under `--strict-profile`.

pub use handshake_check::{Basis, Rule};

handshake_check::rules! {
    DECRYPT = ("proton.decrypt", Fact, "H12; RFC 9001 §5",
        "Every 1-RTT packet of the capture decrypts with the capture's secrets (Decryption Secrets Block or --keylog); a connection that does not cannot be judged.");
    ALPN = ("proton.alpn", Fact, "Wire facts (ALPN `proton`); Transport",
        "The server selects the ALPN protocol `proton`.");
    DISCRIMINATOR_KNOWN = ("proton.discriminator.known", Fact, "Wire facts (discriminators 1, 2, 3; any other byte is a violation); H2, H8",
        "The server serves no stream whose first byte is not 1, 2 or 3 (0xFF only on a 4th stream under P4): it writes nothing on it.");
    DISCRIMINATOR_UNIQUE = ("proton.discriminator.unique", Fact, "Wire facts (a repeated discriminator is a violation); H2",
        "The server serves no stream whose discriminator is already used on the connection: it writes nothing on it.");
    EVENT_ECHO = ("proton.event.echo", Fact, "Wire facts (Event: the server echoes the id); H3",
        "The server echoes every accepted event id, in order, as a u32 LE on the Event stream.");
    EVENT_ORDER = ("proton.event.order", Fact, "Wire facts (Event ids > 0, strictly increasing); H3",
        "An event id that is 0 or not above the last accepted one is not echoed, nothing after it is echoed, and the server closes with application code 5.");
    COMMIT_ANSWER = ("proton.commit.answer", Fact, "Wire facts (StateCommit: request + 2 as coded); H4",
        "The server answers every StateCommit request r with r + 2, in order (wrapping as coded, checked under P1).");
    COMMIT_OVERFLOW = ("proton.commit.overflow", Profile, "P1; H4",
        "project: a StateCommit request r >= 0xFFFF_FFFE gets no answer, nothing after it on the stream is answered, and the server closes with application code 5.");
    ACTION_COUNTER = ("proton.action.counter", Fact, "Wire facts (Action: the per-connection counter 0, 1, 2, ...); H5",
        "The server's actions are its per-connection counter 0, 1, 2, ... in order.");
    ACTION_PULL = ("proton.action.pull", Fact, "Wire facts (Action as coded: pull); H5",
        "In pull mode the server sends its k-th action only after the client's k-th u32 on the Action stream.");
    CLOSE_FIN = ("proton.close.fin", Profile, "P5; H7",
        "A FIN from the client at a u32 boundary after the stream's setup ends the connection: the server closes with application code 0.");
    CLOSE_STREAM_ERROR = ("proton.close.stream_error", Fact, "Wire facts (an early FIN or a read ending inside a u32: code 5); H7",
        "A FIN inside a u32, a FIN before the discriminator, a RESET_STREAM or a STOP_SENDING from the client makes the server close with application code 5.");
    CLOSE_BAD_DISCRIMINATOR = ("proton.close.bad_discriminator", Fact, "Wire facts (code 1: stream setup error, bad or duplicate discriminator); H2, H8",
        "A bad or repeated discriminator makes the server close with application code 1.");
    CLOSE_RESET = ("proton.close.reset", Profile, "P4; H8",
        "With the reset option, a 4th stream whose first byte is 0xFF makes the server close with application code 0.");
    CLOSE_CODE = ("proton.close.code", Fact, "Wire facts (application close codes 0-5)",
        "The server closes only with the application codes 0 to 5.");
    CLOSE_UNPROVOKED = ("proton.close.unprovoked", Fact, "Wire facts (close codes 1 and 5); H2, H7, H9",
        "The server closes with code 5 only after a stream error or protocol violation the capture shows, and with code 1 only after a bad discriminator (or, under P3, one that may have come late).");
    TIMER_ACCEPT = ("proton.timer.accept", Fact, "Wire facts (each stream accept 5 s: code 3); H2",
        "The server closes with code 3 when the next stream is not opened within accept_ms of the previous setup, and not sooner (within the tolerance).");
    TIMER_OP = ("proton.timer.op", Fact, "Wire facts (each read or write 300 s: code 4); H6",
        "The server closes with code 4 when a read waits more than op_ms for a whole u32, and not sooner (within the tolerance).");
    TIMER_DISCRIMINATOR = ("proton.timer.discriminator", Profile, "P3; H2",
        "project: the server closes with code 1 when a stream's discriminator has not arrived within disc_ms of its accept, and not sooner (within the tolerance).");
    SECOND_CONNECTION_REFUSED = ("proton.second_connection.refused", Fact, "Wire facts (a second connection is refused: CONNECTION_REFUSED as coded); H10",
        "A connection that starts while another is live is refused by the server with the transport error CONNECTION_REFUSED (0x2).");
    CLIENT_DISCRIMINATORS = ("proton.client.discriminators", Fact, "Wire facts (three streams, a discriminator first on each); H11",
        "The client opens the bidirectional streams 0, 4 and 8 and writes the discriminators 1, 2 and 3 as their first bytes (a 4th stream only to reset, under P4).");
    CLIENT_EVENT_IDS = ("proton.client.event_ids", Fact, "Wire facts (Event ids > 0, strictly increasing); H11",
        "The client's event ids start at 1 or above and strictly increase.");
    CLIENT_CLOSE = ("proton.client.close", Fact, "H11",
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
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        assert!(ALL.iter().all(|r| r.id.starts_with("proton.")));
        assert!(ALL
            .iter()
            .all(|r| !r.statement.contains('\n') && r.statement.ends_with('.')));
        assert!(ALL.iter().all(|r| !r.source.is_empty()));
        assert_eq!(by_id("proton.event.order"), Some(&EVENT_ORDER));
    }

    /// The project's profile decisions are Profile, everything else a Fact.
    #[test]
    fn profile_rules_rest_on_p_decisions() {
        for r in ALL {
            let p = r.source.starts_with('P');
            assert_eq!(r.basis == Basis::Profile, p, "{}", r.id);
        }
    }
}
