//! The reference endpoints' mutants (`handshake_mediastream_endpoint::Mutant`), each with what it
//! breaks.

use handshake_mediastream_endpoint::Mutant;
use handshake_scenario::ReferenceMutant;

/// Every mutant.
pub fn all() -> Vec<ReferenceMutant> {
    Mutant::ALL
        .iter()
        .map(|m| ReferenceMutant {
            name: m.name(),
            base: m.base(),
            breaks: breaks(*m),
        })
        .collect()
}

/// The doc line of a mutant (what it breaks).
fn breaks(m: Mutant) -> &'static str {
    match m {
        Mutant::MediaBeforeAck => {
            "responder streams before the ACK without being optimistic (D6.no_media_before_ack)"
        }
        Mutant::NewIdPerSyn => "a repeated SYN gets a new id (D3.idempotent)",
        Mutant::SynAckToStart => "a legacy START is answered with a SYN-ACK (D9.as_legacy)",
        Mutant::StartWithoutAllow => "START served without AllowLegacyStart (D9)",
        Mutant::ConnectionIdNotFirst => "CONNECTION_ID after the first frame (D6.connection_id)",
        Mutant::ConnectionIdTwice => "CONNECTION_ID sent twice (connection_id_once_3way)",
        Mutant::SeqFromZero => "sequence numbers from 0 (frames.seq_from_1)",
        Mutant::WrongFragmentationTail => "no 27-byte tail rule (frames.fragmentation)",
        Mutant::OversizeDatagrams => "datagrams above the maximum size (frames.max_datagram)",
        Mutant::ExtraFrame => "one frame after the last (frames.size)",
        Mutant::PatternOffByOne => "payload pattern from offset 1 (payload.pattern)",
        Mutant::NoSynAckRetransmit => "no SYN-ACK re-sends (D7)",
        Mutant::AcceptMismatchedAck => "establishes on an ACK with another id (D6)",
        Mutant::AcceptBadVersion => "accepts a SYN of another version (D4.version)",
        Mutant::NoSynBackoff => "SYN every 500 ms, no doubling (D2)",
        Mutant::FifthSyn => "a fifth SYN (D2.values)",
        Mutant::StartBeforeSyn => "a START before the first SYN (D1)",
        Mutant::StartResendNo500 => "START re-sent without the +500 ms (legacy.initiator.resend)",
        Mutant::AckNotEchoingId => "ACK does not echo the assigned id (D5)",
        Mutant::AckOnReject => "ACK answers a rejecting SYN-ACK (D5.repeat)",
        Mutant::DuplicateCountedAsGood => "duplicate DATA counted into the frame (D13)",
        Mutant::MediaBeforeSessionAccepted => "media taken before the session is known (D8)",
        Mutant::AbortOnMalformed => "a malformed datagram aborts a 3-way stream (D11)",
        Mutant::PushMediaBeforeAck => "push initiator sends media before its ACK (D15)",
        Mutant::PushResponderStreams => {
            "push responder streams media back (D15; the branch as coded)"
        }
        Mutant::PushMediaNotEstablishing => {
            "push responder drops media on a pending session: a lost ACK loses media (D15)"
        }
        Mutant::PushConnectionId => "push responder sends a CONNECTION_ID in 3-way push (D15)",
        Mutant::OptionsEchoedNotHonoured => {
            "SYN-ACK accepts the requested options, the stream ignores them (D14.tlv)"
        }
    }
}
