//! Deliberately wrong variants of the reference endpoints, each breaking one rule: the library
//! must catch every one (`harness mutants`).

/// A mutant of the reference server or client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutant {
    /// Server: StateCommit answers request × 2 (the README's examples), not + 2.
    CommitTimesTwo,
    /// Server: an event id equal to the previous one is echoed.
    EqualEventIdAccepted,
    /// Server: a first event id 0 is echoed.
    EventIdZeroAccepted,
    /// Server: a bad discriminator closes with code 5, not 1.
    WrongCloseCodeBadDiscriminator,
    /// Server: a second connection is accepted while one is live.
    SecondConnectionAccepted,
    /// Server: the action counter starts at 1.
    ActionCounterFromOne,
    /// Server: no stream accept timeout (code 3 never comes).
    NoAcceptTimeout,
    /// Server: a FIN at a message boundary after the setup is ignored.
    FinIgnored,
    /// Server: a FIN at a message boundary after the setup closes with 0 (the old reading of
    /// P5), not 5.
    FinAtBoundaryNormal,
    /// Server: a FIN or RESET_STREAM before a stream's discriminator closes with 5, not 1.
    SetupEndCodeFive,
    /// Server: the action counter skips a value at the 4th action (0, 1, 2, 4, …).
    ActionCounterSkips,
    /// Server: a repeated discriminator is accepted.
    DiscriminatorTwiceAccepted,
    /// Server (project): StateCommit wraps instead of closing with code 5 (breaks P1).
    CommitUnchecked,
    /// Server (project): no discriminator timeout (breaks P3).
    NoDiscriminatorTimeout,
    /// Server: a FIN inside a u32 closes with code 0, not 5.
    FinInsideU32Normal,
    /// Server: a RESET_STREAM from the client on a set-up stream is ignored.
    ResetStreamIgnored,
    /// Server: serves during the startup delay.
    NoStartupDelay,
    /// Client: event ids start at 0.
    ClientEventIdsFromZero,
    /// Client: ends with application code 5 instead of 0.
    ClientClosesWithFive,
    /// Client: writes discriminators 1, 3, 2.
    ClientDiscriminatorsOutOfOrder,
}

impl Mutant {
    /// Every mutant.
    pub const ALL: [Mutant; 20] = [
        Mutant::CommitTimesTwo,
        Mutant::EqualEventIdAccepted,
        Mutant::EventIdZeroAccepted,
        Mutant::WrongCloseCodeBadDiscriminator,
        Mutant::SecondConnectionAccepted,
        Mutant::ActionCounterFromOne,
        Mutant::NoAcceptTimeout,
        Mutant::FinIgnored,
        Mutant::FinAtBoundaryNormal,
        Mutant::SetupEndCodeFive,
        Mutant::ActionCounterSkips,
        Mutant::DiscriminatorTwiceAccepted,
        Mutant::CommitUnchecked,
        Mutant::NoDiscriminatorTimeout,
        Mutant::FinInsideU32Normal,
        Mutant::ResetStreamIgnored,
        Mutant::NoStartupDelay,
        Mutant::ClientEventIdsFromZero,
        Mutant::ClientClosesWithFive,
        Mutant::ClientDiscriminatorsOutOfOrder,
    ];

    /// Its name (`commit-times-two`).
    pub const fn name(self) -> &'static str {
        match self {
            Mutant::CommitTimesTwo => "commit-times-two",
            Mutant::EqualEventIdAccepted => "equal-event-id-accepted",
            Mutant::EventIdZeroAccepted => "event-id-zero-accepted",
            Mutant::WrongCloseCodeBadDiscriminator => "wrong-close-code-bad-discriminator",
            Mutant::SecondConnectionAccepted => "second-connection-accepted",
            Mutant::ActionCounterFromOne => "action-counter-from-one",
            Mutant::NoAcceptTimeout => "no-accept-timeout",
            Mutant::FinIgnored => "fin-ignored",
            Mutant::FinAtBoundaryNormal => "fin-at-boundary-normal",
            Mutant::SetupEndCodeFive => "setup-end-code-five",
            Mutant::ActionCounterSkips => "action-counter-skips",
            Mutant::DiscriminatorTwiceAccepted => "discriminator-twice-accepted",
            Mutant::CommitUnchecked => "commit-unchecked",
            Mutant::NoDiscriminatorTimeout => "no-discriminator-timeout",
            Mutant::FinInsideU32Normal => "fin-inside-u32-normal",
            Mutant::ResetStreamIgnored => "reset-stream-ignored",
            Mutant::NoStartupDelay => "no-startup-delay",
            Mutant::ClientEventIdsFromZero => "client-event-ids-from-zero",
            Mutant::ClientClosesWithFive => "client-closes-with-five",
            Mutant::ClientDiscriminatorsOutOfOrder => "client-discriminators-out-of-order",
        }
    }

    /// The mutant a name names.
    pub fn parse(name: &str) -> Option<Mutant> {
        Mutant::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The base profile it mutates (`project` for the P-decisions, else `as_coded`).
    pub const fn base(self) -> &'static str {
        match self {
            Mutant::CommitUnchecked | Mutant::NoDiscriminatorTimeout => "project",
            _ => "as_coded",
        }
    }

    /// Whether it mutates the server (else the client).
    pub const fn server(self) -> bool {
        !matches!(
            self,
            Mutant::ClientEventIdsFromZero
                | Mutant::ClientClosesWithFive
                | Mutant::ClientDiscriminatorsOutOfOrder
        )
    }

    /// What it breaks, in one line.
    pub const fn breaks(self) -> &'static str {
        match self {
            Mutant::CommitTimesTwo => {
                "server, breaks wire.commit (disputed): answers request × 2, the transcripts' reading, instead of the profile's + 2"
            }
            Mutant::EqualEventIdAccepted => {
                "server, breaks H3: an event id equal to the last is echoed"
            }
            Mutant::EventIdZeroAccepted => {
                "server, breaks H3: a first event id 0 is echoed"
            }
            Mutant::WrongCloseCodeBadDiscriminator => {
                "server, breaks wire.close_codes (silent): a bad discriminator closes with 5, not 1"
            }
            Mutant::SecondConnectionAccepted => {
                "server, breaks H10: a second connection while one is live is accepted and kept open"
            }
            Mutant::ActionCounterFromOne => {
                "server, breaks wire.action (disputed): the action counter starts at 1"
            }
            Mutant::NoAcceptTimeout => {
                "server, breaks H2 (silent): no stream accept timeout (code 3)"
            }
            Mutant::FinIgnored => {
                "server, breaks P5 (silent): a FIN at a u32 boundary after the setup does not close with code 5"
            }
            Mutant::FinAtBoundaryNormal => {
                "server, breaks P5 (silent): a FIN at a u32 boundary after the setup closes with 0 (the old reading), not 5"
            }
            Mutant::SetupEndCodeFive => {
                "server, breaks P5 (silent): a FIN or RESET_STREAM before a stream's discriminator closes with 5, not 1"
            }
            Mutant::ActionCounterSkips => {
                "server, breaks wire.action (disputed): the action counter skips 3 (0, 1, 2, 4, …)"
            }
            Mutant::DiscriminatorTwiceAccepted => {
                "server, breaks wire.discriminator: a repeated discriminator is accepted"
            }
            Mutant::CommitUnchecked => {
                "server, breaks P1: an overflowing StateCommit wraps instead of closing with code 5"
            }
            Mutant::NoDiscriminatorTimeout => "server, breaks P3: no discriminator timeout",
            Mutant::FinInsideU32Normal => {
                "server, breaks wire.close_codes (silent): a FIN inside a u32 ends the connection with 0, not 5"
            }
            Mutant::ResetStreamIgnored => {
                "server, breaks H7: a RESET_STREAM on a set-up stream does not close with 5"
            }
            Mutant::NoStartupDelay => {
                "server, breaks startup: serves before the startup delay is over"
            }
            Mutant::ClientEventIdsFromZero => "client, breaks H3: the first event id is 0",
            Mutant::ClientClosesWithFive => {
                "client, breaks H11: ends with application code 5, not 0"
            }
            Mutant::ClientDiscriminatorsOutOfOrder => {
                "client, breaks H11: writes discriminators 1, 3, 2"
            }
        }
    }
}
