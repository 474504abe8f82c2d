//! The media stream's rule catalogue: every rule the checker enforces, with a stable id, a one-line
//! statement, and the fact or decision it rests on. Ids are namespaced by the family
//! (`mediastream.3way.order`); rules named `mediastream.3way.*` apply to sessions opened with SYN. Ids never change meaning; retired ids are
//! not reused.

pub use handshake_check::{Basis, Rule};

handshake_check::rules! {
    MALFORMED = ("mediastream.wire.well_formed", Fact, "wire, D11",
        "Every datagram is well formed: a known kind, long enough, version 1.");
    TLV_OPTIONS = ("mediastream.wire.tlv_options", Profile, "D14.tlv",
        "The options after a control frame's 41-byte body are TLVs: none runs past the end, and a known type has its value size.");
    CONTROL_ZERO_FIELDS = ("mediastream.3way.control_zero_fields", Profile, "wire.control_zero",
        "Control frames carry seq, QPC, QPF and Reserved = 0, and SYN and ACK carry Flags = 0.");
    OPENS_WITH_SYN = ("mediastream.3way.opens_with_syn", Fact, "D1",
        "A 3-way initiator opens with SYN: no START before its first SYN.");
    ORDER = ("mediastream.3way.order", Fact, "D1, D3, D5",
        "SYN, then SYN-ACK, then ACK: a SYN-ACK answers a received SYN, an ACK answers a received SYN-ACK, each in its own direction.");
    NO_ACK_AFTER_REJECT = ("mediastream.3way.no_ack_after_reject", Profile, "D5.repeat",
        "An initiator that received only rejecting SYN-ACKs (Accept=0) sends no ACK.");
    NO_ACK_TO_DROPPED_SYN_ACK = ("mediastream.3way.no_ack_to_dropped_syn_ack", Profile, "D11.kinds, D14.tlv",
        "An initiator that received only SYN-ACKs this project's reading drops (another version than 1, D11.kinds; options that overrun or have a wrong length, D14.tlv) sends no ACK. The sources do not say what an initiator does with them, so mediastream.3way.order counts them as SYN-ACKs.");
    VERSION_VALIDATED = ("mediastream.3way.version_validated", Fact, "D4.version",
        "A responder does not accept a SYN of another version than 1: no accepting SYN-ACK when every SYN it received had another version.");
    ACK_ID_VERIFIED = ("mediastream.3way.ack_id_verified", Fact, "D6",
        "A responder not started optimistic establishes only on an ACK echoing the id it assigned: no media after ACKs with other ids alone.");
    NO_MEDIA_BEFORE_SYN_ACK = ("mediastream.3way.no_media_before_syn_ack", Fact, "D6, D8",
        "In a 3-way pull session no media comes before the responder's accepting SYN-ACK, nor, from an optimistic responder, before a CONNECTION_ID carrying the id it assigned.");
    NO_MEDIA_BEFORE_ACK = ("mediastream.3way.no_media_before_ack", Profile, "D6.no_media_before_ack; D15",
        "No media before the handshake completes: pull (not optimistic), before the responder has received an ACK echoing the assigned id; push, before the initiator has sent that ACK.");
    ACK_ECHOES_ID = ("mediastream.3way.ack_echoes_id", Fact, "D5, D6, D12",
        "Every ACK confirms an id a SYN-ACK assigned: the first, or a later one the initiator adopted.");
    CONNECTION_ID_MATCHES = ("mediastream.3way.connection_id_matches", Fact, "D6, D8",
        "In a 3-way session the CONNECTION_ID carries the id the SYN-ACK assigned.");
    CONNECTION_ID_ONCE = ("mediastream.3way.connection_id_once", Profile, "connection_id_once_3way, D6.connection_id",
        "In a 3-way session the responder sends CONNECTION_ID once.");
    PUSH_NO_CONNECTION_ID = ("mediastream.3way.push_no_connection_id", Profile, "D15",
        "In a 3-way push session the responder sends no CONNECTION_ID.");
    SYN_RESENDS_BACK_OFF = ("mediastream.3way.syn_resends_back_off", Profile, "D2",
        "SYN re-sends back off: the second interval between SYNs is longer than the first, and none is shorter than the one before it.");
    SYN_BACKOFF = ("mediastream.3way.syn_backoff", Profile, "D2.values",
        "SYN re-sends follow D2's values: 500 ms, doubling, capped at 2000 ms, at most 4 SYNs; a re-send may come late (by up to half its interval) but not early.");
    SYN_ACK_IDEMPOTENT = ("mediastream.3way.syn_ack_idempotent", Profile, "D3.idempotent; D7",
        "Repeated SYN-ACKs to one initiator carry the same id and the same Accept.");
    NO_CONTROL_TO_LEGACY = ("mediastream.legacy.no_control_frames", Profile, "D9.as_legacy, legacy.receive",
        "Never a control frame towards a peer that opened with legacy START.");
    START_RESENDS = ("mediastream.legacy.start_resends", Profile, "legacy.initiator.resend",
        "A legacy pull initiator re-sends START every trunc(1000/FrameRate)+500 ms, a fixed interval (a re-send may come late by up to half of it, not early), until the first media arrives.");
    CONNECTION_ID_FIRST_ONCE = ("mediastream.media.connection_id_first_once", Profile, "legacy.responder.connection_id, D6.connection_id",
        "The responder sends CONNECTION_ID before any media, and in a legacy pull session only once.");
    PUSH_MEDIA_AFTER_CONNECTION_ID = ("mediastream.push.media_after_connection_id", Fact, "push.initiator",
        "In a legacy push session the initiator sends media only after the responder's CONNECTION_ID.");
    ONE_DIRECTION = ("mediastream.media.one_direction", Fact, "legacy.responder, D6, push.initiator, push.responder",
        "Media flows one way: from the responder in a pull session, from the initiator in a legacy push session.");
    PUSH_ONE_DIRECTION = ("mediastream.3way.push_one_direction", Profile, "D15",
        "In a 3-way push session only the initiator sends media.");
    SEQ_FROM_ONE = ("mediastream.media.seq_from_1", Fact, "frames.seq, frames.seq_from_1, frames.pacing",
        "Sequence numbers start at 1 and rise by one per frame; all datagrams of a frame are sent together.");
    FRAGMENTATION = ("mediastream.media.fragmentation", Profile, "frames.fragmentation",
        "A frame of F bytes (headers included) is cut into datagrams of M bytes, and when the remainder would be 1..26 bytes the previous datagram is shortened so the last is 27.");
    PAYLOAD_PATTERN = ("mediastream.media.payload_pattern", Fact, "payload.pattern",
        "Every media payload equals the fill pattern from offset 0.");
    MAX_DATAGRAM = ("mediastream.media.max_datagram_size", Fact, "frames.max_datagram, stream.parameters",
        "No media or CONNECTION_ID datagram is larger than the configured maximum datagram size.");
    AFTER_LAST_FRAME = ("mediastream.media.nothing_after_last_frame", Fact, "frames.pacing, stream.parameters",
        "No media follows the stream's last frame (StreamLength x FrameRate).");
    ACCEPTED_PARAMETERS = ("mediastream.media.accepted_parameters", Profile, "D14.tlv",
        "A session whose SYN-ACK accepted D14 options runs with them: no datagram above the accepted maximum, frames cut to it, none past the accepted frame count.");
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    handshake_check::rules::find(ALL, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_statements_are_one_line() {
        handshake_check::rules::assert_well_formed(ALL, "mediastream.");
        assert_eq!(by_id("mediastream.3way.order"), Some(&ORDER));
    }

    /// The manual's rule table (docs/src/families/mediastream.md) is the catalogue: every id with its statement and source.
    #[test]
    fn the_readme_table_is_the_catalogue() {
        let readme = include_str!("../../../../../docs/src/families/mediastream.md");
        for r in ALL {
            let row = format!("| `{}` | {} ({})", r.id, r.statement, r.source);
            assert!(
                readme.contains(&row),
                "the manual's media-stream chapter lacks the row of {}",
                r.id
            );
        }
    }
}
