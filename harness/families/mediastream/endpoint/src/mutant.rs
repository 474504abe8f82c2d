//! Deliberately wrong variants of the reference endpoints, each breaking one rule or decision. They
//! measure the scenario library's power (`harness mutants`: every mutant must be caught) and show users
//! what the suite can find. Selected as `ref:3way!media-before-ack`.

named_enum! {
    /// One deliberate fault in the reference implementation.
    Mutant {
        /// Responder: media right after SYN-ACK without being optimistic (breaks D6.no_media_before_ack).
        MediaBeforeAck = "media-before-ack",
        /// Responder: a repeated SYN gets a SYN-ACK with a new id (breaks D3.idempotent).
        NewIdPerSyn = "new-id-per-syn",
        /// Responder: answers a legacy START with a SYN-ACK before serving it (breaks D9.as_legacy).
        SynAckToStart = "syn-ack-to-start",
        /// Responder: serves START without AllowLegacyStart (breaks D9).
        StartWithoutAllow = "start-without-allow",
        /// Responder: CONNECTION_ID after the first frame instead of before (breaks the legacy order, D6).
        ConnectionIdNotFirst = "connection-id-not-first",
        /// Responder: CONNECTION_ID sent twice.
        ConnectionIdTwice = "connection-id-twice",
        /// Responder: sequence numbers from 0.
        SeqFromZero = "seq-from-0",
        /// Responder: frames cut into M-byte datagrams without the 27-byte tail rule.
        WrongFragmentationTail = "wrong-fragmentation-tail",
        /// Responder: datagrams up to 100 bytes above the configured maximum.
        OversizeDatagrams = "oversize-datagrams",
        /// Responder: one frame more than StreamLength × FrameRate.
        ExtraFrame = "extra-frame",
        /// Responder: payloads are the fill pattern from offset 1.
        PatternOffByOne = "pattern-off-by-one",
        /// Responder: no SYN-ACK re-sends while waiting for the ACK (breaks D7).
        NoSynAckRetransmit = "no-syn-ack-retransmit",
        /// Responder: establishes on an ACK with any id (breaks D6.no_media_before_ack).
        AcceptMismatchedAck = "accept-mismatched-ack",
        /// Responder: accepts a SYN of another version (breaks D4.triggers).
        AcceptBadVersion = "accept-bad-version",
        /// Initiator: SYN re-sent every 500 ms, no doubling (breaks D2).
        NoSynBackoff = "no-syn-backoff",
        /// Initiator: a fifth SYN (breaks D2.values: at most 4 SYNs).
        FifthSyn = "fifth-syn",
        /// Initiator: a START before its first SYN (breaks D1).
        StartBeforeSyn = "start-before-syn",
        /// Legacy initiator: START re-sent every trunc(1000/FrameRate) ms, without the +500
        /// (breaks the legacy initiator as coded).
        StartResendNo500 = "start-resend-no-500",
        /// Initiator: the ACK does not echo the assigned id (breaks D5).
        AckNotEchoingId = "ack-not-echoing-id",
        /// Initiator: answers a rejecting SYN-ACK with an ACK (breaks D5.repeat).
        AckOnReject = "ack-on-reject",
        /// Initiator: duplicate DATA counted into the frame (no D13 dedup).
        DuplicateCountedAsGood = "duplicate-counted-as-good",
        /// Initiator: takes media before it knows the session (breaks D8).
        MediaBeforeSessionAccepted = "media-before-session-accepted",
        /// Initiator: a malformed datagram aborts the 3-way stream (breaks D11).
        AbortOnMalformed = "abort-on-malformed",
        /// Push initiator: media before its ACK (breaks D15).
        PushMediaBeforeAck = "push-media-before-ack",
        /// Push responder: streams media back to the sending initiator (breaks D15 and the
        /// branch as coded: the receiving server does not stream).
        PushResponderStreams = "push-responder-streams",
        /// Push responder: media on a pending session does not establish it, so a lost ACK loses
        /// media (breaks D15).
        PushMediaNotEstablishing = "push-media-not-establishing",
        /// Push responder: sends a CONNECTION_ID in a 3-way push session (breaks D15).
        PushConnectionId = "push-connection-id",
        /// Responder: the SYN-ACK accepts requested D14 options but the stream ignores them.
        OptionsEchoedNotHonoured = "options-echoed-not-honoured",
    }
}

impl Mutant {
    /// The profile it mutates: the base whose behaviour it changes.
    pub fn base(self) -> &'static str {
        match self {
            Mutant::SynAckToStart => "3way+allow_legacy_start",
            // Once per session is a fact of legacy sessions (3-way leaves it to the profile).
            Mutant::ConnectionIdTwice | Mutant::StartResendNo500 => "legacy",
            _ => "3way",
        }
    }

    /// The mutant named `name`.
    pub fn from_name(name: &str) -> Option<Mutant> {
        Mutant::ALL.iter().copied().find(|m| m.name() == name)
    }
}
