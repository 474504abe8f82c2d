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
    ($($name:ident = ($id:literal, $applies:ident, $basis:ident, $source:literal, $statement:literal);)*) => {
        $(
            #[doc = $statement]
            pub const $name: Rule = Rule { id: $id, statement: $statement, source: $source, applies: Applies::$applies, basis: Basis::$basis };
        )*
        /// Every rule, in catalogue order.
        pub const ALL: &[Rule] = &[$($name),*];
    };
}

rules! {
    MALFORMED = ("wire.well_formed", All, Fact, "Wire facts; D11",
        "Every datagram is well formed: a known kind, long enough, version 1, valid TLV options.");
    CONTROL_ZERO_FIELDS = ("3way.control_zero_fields", ThreeWay, Fact, "Wire facts (SYN, SYN-ACK, ACK)",
        "Control frames carry seq, QPC, QPF and Reserved = 0, and SYN and ACK carry Flags = 0.");
    ORDER = ("3way.order", ThreeWay, Fact, "D1, D3, D5",
        "SYN, then SYN-ACK, then ACK: a SYN-ACK answers a received SYN, an ACK answers a received accepting SYN-ACK, each in its own direction.");
    NO_MEDIA_BEFORE_ACK = ("3way.no_media_before_ack", ThreeWay, Fact, "D6, D8, D15",
        "No media before the handshake allows it: pull, before the responder has received an ACK echoing the assigned id (optimistic: after a CONNECTION_ID carrying it); push, before the initiator has sent that ACK.");
    ACK_ECHOES_ID = ("3way.ack_echoes_id", ThreeWay, Fact, "D5, D6",
        "Every ACK confirms the id the SYN-ACK assigned.");
    CONNECTION_ID_MATCHES = ("3way.connection_id_matches", ThreeWay, Fact, "D6, D8",
        "In a 3-way session the CONNECTION_ID carries the id the SYN-ACK assigned.");
    CONNECTION_ID_ONCE = ("3way.connection_id_once", ThreeWay, Profile, "project profile: D6 sends it on the establishing ACK; D6 with D8 leaves a repeat open",
        "In a 3-way session the responder sends CONNECTION_ID once.");
    PUSH_NO_CONNECTION_ID = ("3way.push_no_connection_id", ThreeWay, Fact, "D15",
        "In a 3-way push session the responder sends no CONNECTION_ID.");
    SYN_BACKOFF = ("3way.syn_backoff", ThreeWay, Fact, "D2",
        "SYN re-sends follow D2: 500 ms, doubling, capped at 2000 ms, at most 4 SYNs; a re-send may come late (by up to half its interval) but not early.");
    SYN_ACK_IDEMPOTENT = ("3way.syn_ack_idempotent", ThreeWay, Fact, "D3, D7",
        "Repeated SYN-ACKs to one initiator carry the same id and the same Accept.");
    NO_CONTROL_TO_LEGACY = ("legacy.no_control_frames", All, Fact, "D9; legacy behaviour as coded",
        "Never a control frame towards a peer that opened with legacy START.");
    CONNECTION_ID_FIRST_ONCE = ("media.connection_id_first_once", All, Fact, "Legacy behaviour as coded; push branch as coded; D6",
        "The responder sends CONNECTION_ID before any media, and in a legacy pull session only once.");
    ONE_DIRECTION = ("media.one_direction", All, Fact, "Roles; the push branch as coded; D15",
        "Media flows one way: from the responder in a pull session, from the initiator in a push session.");
    SEQ_FROM_ONE = ("media.seq_from_1", All, Fact, "Frames and fragmentation as coded",
        "Sequence numbers start at 1 and rise by one per frame; all datagrams of a frame are sent together.");
    FRAGMENTATION = ("media.fragmentation", All, Fact, "Frames and fragmentation as coded",
        "A frame is cut into datagrams of M bytes, and when the remainder would be 1..26 bytes the previous datagram is shortened so the last is 27.");
    PAYLOAD_PATTERN = ("media.payload_pattern", All, Fact, "Payload fill pattern (-verify:data)",
        "Every media payload equals the fill pattern from offset 0.");
    MAX_DATAGRAM = ("media.max_datagram_size", All, Fact, "Frames and fragmentation as coded (-DatagramByteSize); D14",
        "No media or CONNECTION_ID datagram is larger than the maximum datagram size (the configured one, or the one the SYN-ACK accepted).");
    AFTER_LAST_FRAME = ("media.nothing_after_last_frame", All, Fact, "Frames: StreamLength x FrameRate, no end marker; D14",
        "No media follows the stream's last frame (StreamLength x FrameRate, with the frame rate the SYN-ACK accepted).");
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

    /// The README's rule table is the catalogue: every id with its statement and source.
    #[test]
    fn the_readme_table_is_the_catalogue() {
        let readme = include_str!("../../../README.md");
        for r in ALL {
            let row = format!("| `{}` | {} ({})", r.id, r.statement, r.source);
            assert!(readme.contains(&row), "README.md lacks the row of {}", r.id);
        }
    }
}
