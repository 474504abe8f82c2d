//! The rule catalogue: every rule the checker enforces, with a stable id, a one-line statement, the
//! fact or decision it rests on, and the profiles it applies to. Ids never change meaning; retired ids are
//! not reused.

use serde::Serialize;

/// A profile family a rule applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Applies {
    /// Every profile.
    All,
    /// Sessions opened with SYN (3-way).
    ThreeWay,
}

/// What a rule rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A fact of the protocol, or one of the decisions D1… the facts make normative.
    Fact,
    /// One of this project's own profile decisions beyond the facts: a violation is a deviation,
    /// shown but never failing a gate unless the user asks for `--strict-profile`.
    Profile,
}

/// One rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `3way.no_media_before_ack`.
    pub id: &'static str,
    /// What must hold, in one line.
    pub statement: &'static str,
    /// The fact or decision (mediastream.md) it enforces.
    pub source: &'static str,
    /// Where it applies.
    pub applies: Applies,
    /// What it rests on.
    pub basis: Basis,
}

macro_rules! rules {
    ($($name:ident = ($id:literal, $applies:ident, $source:literal, $statement:literal);)*) => {
        $(
            #[doc = $statement]
            pub const $name: Rule = Rule { id: $id, statement: $statement, source: $source, applies: Applies::$applies, basis: Basis::Fact };
        )*
        /// Every rule, in catalogue order.
        pub const ALL: &[Rule] = &[$($name),*];
    };
}

rules! {
    MALFORMED = ("wire.well_formed", All, "Wire facts; D11",
        "Every datagram is well formed: a known kind, long enough, version 1, valid TLV options.");
    CONTROL_ZERO_FIELDS = ("3way.control_zero_fields", ThreeWay, "Wire facts (SYN, SYN-ACK, ACK)",
        "Control frames carry seq, QPC, QPF and Reserved = 0, and SYN and ACK carry Flags = 0.");
    ORDER = ("3way.order", ThreeWay, "D1, D3, D5",
        "SYN, then SYN-ACK, then ACK: a SYN-ACK answers a received SYN, an ACK answers a received accepting SYN-ACK, each in its own direction.");
    NO_MEDIA_BEFORE_ACK = ("3way.no_media_before_ack", ThreeWay, "D6, D8",
        "No media before the responder has received an ACK echoing the assigned id; an optimistic responder only after a CONNECTION_ID carrying the assigned id.");
    ACK_ECHOES_ID = ("3way.ack_echoes_id", ThreeWay, "D5, D6",
        "Every ACK confirms the id the SYN-ACK assigned.");
    CONNECTION_ID_MATCHES = ("3way.connection_id_matches", ThreeWay, "D6, D8",
        "In a 3-way session the CONNECTION_ID carries the id the SYN-ACK assigned.");
    SYN_BACKOFF = ("3way.syn_backoff", ThreeWay, "D2",
        "SYN re-sends follow D2: 500 ms, doubling, capped at 2000 ms, at most 4 SYNs.");
    SYN_ACK_IDEMPOTENT = ("3way.syn_ack_idempotent", ThreeWay, "D3, D7",
        "Repeated SYN-ACKs to one initiator carry the same id and the same Accept.");
    NO_CONTROL_TO_LEGACY = ("legacy.no_control_frames", All, "D9; legacy behaviour as coded",
        "Never a control frame towards a peer that opened with legacy START.");
    CONNECTION_ID_FIRST_ONCE = ("media.connection_id_first_once", All, "Legacy behaviour as coded; D6",
        "The responder sends CONNECTION_ID once, before any media.");
    SEQ_FROM_ONE = ("media.seq_from_1", All, "Frames and fragmentation as coded",
        "Sequence numbers start at 1 and rise by one per frame; all datagrams of a frame are sent together.");
    FRAGMENTATION = ("media.fragmentation", All, "Frames and fragmentation as coded",
        "A frame is cut into datagrams of M bytes, and when the remainder would be 1..26 bytes the previous datagram is shortened so the last is 27.");
    PAYLOAD_PATTERN = ("media.payload_pattern", All, "Payload fill pattern (-verify:data)",
        "Every media payload equals the fill pattern from offset 0.");
    MAX_DATAGRAM = ("media.max_datagram_size", All, "Frames and fragmentation as coded (-DatagramByteSize)",
        "No datagram is larger than the configured maximum datagram size.");
    AFTER_LAST_FRAME = ("media.nothing_after_last_frame", All, "Frames: StreamLength x FrameRate, no end marker",
        "No datagram follows the stream's last frame.");
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_statements_are_one_line() {
        let mut ids: Vec<_> = ALL.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), ALL.len());
        assert!(ALL
            .iter()
            .all(|r| !r.statement.contains('\n') && r.statement.ends_with('.')));
        assert_eq!(by_id("3way.order"), Some(&ORDER));
    }
}
