//! Deliberately wrong variants of the reference endpoints, each breaking one fact or profile
//! decision: the library must catch every one (`harness mutants`). None breaks only a contract
//! (DT9's reset-code mapping, DH1's ALPNs and paths): the harness adapts to those, so no scenario
//! could tell such a variant from a correct program.

macro_rules! mutants {
    ($($variant:ident = ($name:literal, $role:literal, $breaks:literal);)*) => {
        /// A mutant of the reference controller, handler or client.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Mutant {
            $(
                #[doc = $breaks]
                $variant,
            )*
        }

        impl Mutant {
            /// Every mutant.
            pub const ALL: &'static [Mutant] = &[$(Mutant::$variant),*];

            /// Its name (`profile+mutant=NAME`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Mutant::$variant => $name,)*
                }
            }

            /// The role it changes: `controller`, `handler` or `client`.
            pub const fn role(self) -> &'static str {
                match self {
                    $(Mutant::$variant => $role,)*
                }
            }

            /// What it breaks.
            pub const fn breaks(self) -> &'static str {
                match self {
                    $(Mutant::$variant => $breaks,)*
                }
            }
        }
    };
}

mutants! {
    NoCapacityCheck = ("no-capacity-check", "controller",
        "breaks errors: a full meeting admits one more instead of CAPACITY_EXCEEDED");
    ExpiredJoinAccepted = ("expired-join-accepted", "controller",
        "breaks DT8: a join token expired beyond the 60 s leeway is accepted instead of UNAUTHORIZED");
    NoParticipantJoined = ("no-participant-joined", "controller",
        "breaks participant_joined: the others are not told ParticipantJoined");
    // `published-to-publisher` is retired: StreamPublished back to the publisher is the flow
    // document's own sample (an ACK, 002_36b09c9622eb105d.txt:157-162), not a break.
    IdleLeftVoluntary = ("idle-left-voluntary", "controller",
        "breaks DT10.reason: a participant that idled out leaves with VOLUNTARY instead of CONNECTION_LOST");
    EmptyMessageIgnored = ("empty-message-ignored", "controller",
        "breaks DT6.stream_error: a signaling length of 0 is skipped, not answered with an ErrorMessage");
    LongNameAccepted = ("long-name-accepted", "controller",
        "breaks DT6.name: a 257-byte participant name is accepted instead of INVALID_REQUEST");
    JoinNotFirst = ("join-not-first", "controller",
        "breaks DT6.first_answer: a first message other than JoinRequest is ignored instead of INVALID_REQUEST");
    BadMagicAccepted = ("bad-magic-accepted", "handler",
        "breaks DT5: a media stream header with bad magic is accepted instead of reset 0x01");
    MediaBeforeAuthAccepted = ("media-before-auth-accepted", "handler",
        "breaks DT7: a media stream before ConnectResponse is read instead of reset 0x02");
    AuthFailureCode1 = ("auth-failure-code-1", "handler",
        "breaks DT7: media before authentication is reset with 0x01 instead of 0x02");
    MediaTokenReusable = ("media-token-reusable", "handler",
        "breaks DT8: a single-use media token is accepted a second time");
    StreamIdMismatchAccepted = ("stream-id-mismatch-accepted", "handler",
        "breaks DT3: a frame whose stream id differs from the header's is dropped silently instead of reset 0x01");
    BadDatagramForwarded = ("bad-datagram-forwarded", "handler",
        "breaks DT11: a v2 datagram with version != 1 is forwarded instead of dropped");
    ForwardAltered = ("forward-altered", "handler",
        "breaks DH13: forwarded frames carry a different sequence number than the source's");
    SequenceFromOne = ("sequence-from-one", "client",
        "breaks DT10.sequence: the client's frame sequence numbers start at 1 instead of 0");
    MediaBeforeAuth = ("media-before-auth", "client",
        "breaks DT7.wait: the client opens its media streams after its ConnectRequest but before the ConnectResponse");
    NoKeepAlive = ("no-keep-alive", "client",
        "breaks liveness: the client sends no keep-alive, so a quiet signaling session idles out");
    StopSendingIgnored = ("stop-sending-ignored", "client",
        "breaks DH3: a STOP_SENDING is not answered with RESET_STREAM");
}

impl Mutant {
    /// The mutant a name names.
    pub fn parse(name: &str) -> Option<Mutant> {
        Mutant::ALL.iter().copied().find(|m| m.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_parse_back() {
        for m in Mutant::ALL {
            assert_eq!(Mutant::parse(m.name()), Some(*m));
            assert!(["controller", "handler", "client"].contains(&m.role()));
        }
        let mut names: Vec<_> = Mutant::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Mutant::ALL.len());
    }
}
