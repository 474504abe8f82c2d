//! Stream parameters (as ctsTraffic names them), handshake timers, and the profiles with their options.

use core::fmt;
use core::time::Duration;

use handshake_mediastream_wire::{
    frame_size, ConnectionId, FragmentPlan, FrameSizeError, PlanError,
};
use serde::{Deserialize, Serialize};

/// What the initiator checks in each datagram (ctsTraffic `-verify:`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verify {
    /// Payloads must equal the fill pattern (the default).
    #[default]
    Data,
    /// Only the connection is checked; payloads are not compared.
    Connection,
}

/// Who sends the media (the fork's `-pattern:push|pull`). Handshake roles never change: the
/// initiator always sends START/SYN and ACK, the responder CONNECTION_ID and SYN-ACK.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The classic direction: the responder (server) sends, the initiator (client) receives.
    #[default]
    Pull,
    /// The initiator (client) sends, the responder (server) receives (`bidirectional_media_stream`
    /// as coded for legacy; D15 for 3-way).
    Push,
}

impl Direction {
    /// `pull` / `push`.
    pub const fn name(self) -> &'static str {
        match self {
            Direction::Pull => "pull",
            Direction::Push => "push",
        }
    }
}

/// The media stream's parameters, mirroring ctsTraffic's options. Both sides must agree: there is no
/// end-of-stream marker, each side knows the length from StreamLength × FrameRate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// `-BitsPerSecond`.
    pub bits_per_second: u64,
    /// `-FrameRate` (frames per second).
    pub frame_rate: u32,
    /// `-StreamLength` in seconds.
    pub stream_length_secs: u32,
    /// `-BufferDepth` in seconds (the initiator's initial buffer).
    pub buffer_depth_secs: u32,
    /// `-DatagramByteSize`: the largest datagram, header included.
    pub datagram_byte_size: u32,
    /// `-verify:`.
    pub verify: Verify,
    /// `-pattern:`: who sends the media.
    pub direction: Direction,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            bits_per_second: 1_000_000,
            frame_rate: 100,
            stream_length_secs: 5,
            buffer_depth_secs: 1,
            datagram_byte_size: 1400,
            verify: Verify::Data,
            direction: Direction::Pull,
        }
    }
}

/// The largest frame: D12's reassembly limit per frame (16 MiB). A larger frame could never be
/// received, and its datagrams would be planned (and held) in memory.
pub const MAX_FRAME_SIZE: u64 = 16 * 1024 * 1024;
/// The longest stream accepted, seconds (a day).
pub const MAX_STREAM_LENGTH_SECS: u32 = 86_400;
// The option values' limits live in the wire layer, where the fuzz kit's mutators use them too.
pub use handshake_mediastream_wire::{
    MAX_BUFFER_DEPTH_SECS, MAX_DATAGRAM_BYTE_SIZE, MAX_FRAME_RATE,
};

/// Why a configuration cannot stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The frame-size rule failed.
    FrameSize(FrameSizeError),
    /// The fragmentation planner refused the sizes.
    Plan(PlanError),
    /// Zero frames (StreamLength 0).
    NoFrames,
    /// Push with the `udp_push` build: no build ever coded it.
    PushNotCoded,
    /// A parameter beyond what the harness accepts.
    OutOfRange {
        /// The parameter, as ctsTraffic names it.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The largest accepted.
        max: u64,
        /// Why that is the limit.
        why: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::FrameSize(e) => write!(f, "{e}"),
            ConfigError::Plan(e) => write!(f, "{e}"),
            ConfigError::NoFrames => {
                f.write_str("the stream has no frames: StreamLength must be at least 1 s")
            }
            ConfigError::PushNotCoded => f.write_str(
                "the udp_push build has no push direction (only legacy and 3way push exist)",
            ),
            ConfigError::OutOfRange {
                what,
                value,
                max,
                why,
            } => write!(f, "{what} = {value} is over the limit of {max} ({why})"),
        }
    }
}

impl std::error::Error for ConfigError {}

impl StreamConfig {
    /// Frame size F (headers included).
    pub fn frame_size(&self) -> Result<u64, ConfigError> {
        frame_size(self.bits_per_second, self.frame_rate).map_err(ConfigError::FrameSize)
    }

    /// How each frame is cut into datagrams.
    pub fn plan(&self) -> Result<FragmentPlan, ConfigError> {
        FragmentPlan::new(self.frame_size()?, u64::from(self.datagram_byte_size))
            .map_err(ConfigError::Plan)
    }

    /// Frames in the stream: StreamLength × FrameRate.
    pub fn frames(&self) -> u64 {
        u64::from(self.stream_length_secs) * u64::from(self.frame_rate)
    }

    /// Checks the configuration can stream, within the harness's limits (`MAX_*`). Every entry
    /// point (scenario files, `harness peer`, `harness check`, manifests) goes through here.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let limit = |what, value: u64, max: u64, why| {
            if value > max {
                Err(ConfigError::OutOfRange {
                    what,
                    value,
                    max,
                    why,
                })
            } else {
                Ok(())
            }
        };
        limit(
            "FrameRate",
            u64::from(self.frame_rate),
            u64::from(MAX_FRAME_RATE),
            "frames per second",
        )?;
        limit(
            "StreamLength",
            u64::from(self.stream_length_secs),
            u64::from(MAX_STREAM_LENGTH_SECS),
            "seconds: a day",
        )?;
        limit(
            "BufferDepth",
            u64::from(self.buffer_depth_secs),
            u64::from(MAX_BUFFER_DEPTH_SECS),
            "seconds: an hour",
        )?;
        limit(
            "DatagramByteSize",
            u64::from(self.datagram_byte_size),
            u64::from(MAX_DATAGRAM_BYTE_SIZE),
            "the largest UDP payload",
        )?;
        limit(
            "frame size (BitsPerSecond / 8 / FrameRate)",
            self.frame_size()?,
            MAX_FRAME_SIZE,
            "D12's 16 MiB reassembly limit per frame",
        )?;
        self.plan()?;
        if self.frames() == 0 {
            return Err(ConfigError::NoFrames);
        }
        Ok(())
    }

    /// When frame `index` (0-based) is due, relative to the stream's base: index · 1000/FrameRate ms,
    /// computed exactly so long streams do not drift.
    pub fn frame_offset(&self, index: u64) -> Duration {
        let rate = u128::from(self.frame_rate.max(1));
        let nanos = u128::from(index) * 1_000_000_000 / rate;
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The legacy START re-send interval as coded: trunc(1000 / FrameRate) + 500 ms (fixed, no cap).
    pub fn start_resend_interval(&self) -> Duration {
        Duration::from_millis(1000 / u64::from(self.frame_rate.max(1)) + 500)
    }

    /// IBF: frames in the initial buffer, min(frames, BufferDepth × FrameRate).
    pub fn initial_buffer_frames(&self) -> u64 {
        self.frames()
            .min(u64::from(self.buffer_depth_secs) * u64::from(self.frame_rate))
    }
}

/// A retransmission schedule: the first re-send after `initial`, doubling up to `max`, at most `sends`
/// transmissions in all; after the last one, one more interval passes before giving up.
/// D2 (SYN) and D7 (SYN-ACK) both default to 500 ms doubling, capped at 2000 ms, 4 sends: transmissions
/// at 0, 500, 1500, 3500 ms and the attempt given up at 5500 ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Backoff {
    /// The first interval.
    pub initial_ms: u64,
    /// The interval cap.
    pub max_ms: u64,
    /// Transmissions in all (the first included).
    pub sends: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial_ms: 500,
            max_ms: 2000,
            sends: 4,
        }
    }
}

impl Backoff {
    /// The wait after transmission number `sent` (1-based): initial · 2^(sent−1), capped.
    pub fn interval_after(&self, sent: u32) -> Duration {
        let doubled = self
            .initial_ms
            .saturating_mul(1u64.checked_shl(sent.saturating_sub(1)).unwrap_or(u64::MAX));
        Duration::from_millis(doubled.min(self.max_ms))
    }
}

/// The base behaviour of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileKind {
    /// Upstream ctsTraffic as coded.
    Legacy,
    /// The fork's `udp_push` build as coded (initiator START then SYNs; legacy responder and receive side).
    UdpPush,
    /// This project's normative 3-way reading (D1…D14).
    ThreeWay,
}

impl ProfileKind {
    /// The profile's name.
    pub const fn name(self) -> &'static str {
        match self {
            ProfileKind::Legacy => "legacy",
            ProfileKind::UdpPush => "udp_push",
            ProfileKind::ThreeWay => "3way",
        }
    }
}

/// A profile with its options and timers: everything that decides behaviour besides the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Profile {
    /// Base behaviour.
    pub kind: ProfileKind,
    /// D9 (responder): serve a legacy START like the legacy responder.
    pub allow_legacy_start: bool,
    /// D10 (initiator): fall back to legacy START after the SYN attempts fail.
    pub fallback_to_legacy: bool,
    /// D8 (responder): stream right after SYN-ACK without waiting for ACK.
    pub optimistic_start: bool,
    /// D14 (initiator): put the stream's parameters into the SYN as TLV options (types 1, 2, 3
    /// and 5) and run with what the SYN-ACK accepts.
    pub request_options: bool,
    /// D2: SYN retransmission.
    pub syn_backoff: Backoff,
    /// D7: SYN-ACK retransmission while waiting for ACK.
    pub syn_ack_backoff: Backoff,
    /// D4 (responder): most concurrent sessions; `None` = unlimited.
    pub session_limit: Option<usize>,
    /// D1 (initiator): DesiredConnectionId in SYN (zero = "assign one").
    #[serde(skip)]
    pub desired_id: ConnectionId,
    /// A deliberate fault (`harness mutants`); `None` in every real profile.
    #[serde(skip)]
    pub mutant: Option<super::Mutant>,
}

/// The 3-way profile: what a responder is taken to speak when nothing says otherwise (a running
/// responder given by address only).
impl Default for Profile {
    fn default() -> Self {
        Profile::new(ProfileKind::ThreeWay)
    }
}

/// A profile name that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError(pub String);

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProfileError {}

/// The profile names [`Profile::parse`] takes (for suggestions).
const PROFILE_NAMES: [&str; 3] = ["legacy", "udp_push", "3way"];
/// Short names [`Profile::parse`] also takes for 3-way options (for suggestions).
const THREE_WAY_OPTION_ALIASES: [&str; 2] = ["fallback", "optimistic"];
/// The options of a 3-way profile (for suggestions).
const THREE_WAY_OPTIONS: [&str; 4] = [
    "allow_legacy_start",
    "fallback_to_legacy",
    "optimistic_start",
    "request_options",
];

impl Profile {
    /// A profile with no options and default timers.
    pub const fn new(kind: ProfileKind) -> Profile {
        Profile {
            kind,
            allow_legacy_start: false,
            fallback_to_legacy: false,
            optimistic_start: false,
            request_options: false,
            syn_backoff: Backoff {
                initial_ms: 500,
                max_ms: 2000,
                sends: 4,
            },
            syn_ack_backoff: Backoff {
                initial_ms: 500,
                max_ms: 2000,
                sends: 4,
            },
            session_limit: None,
            desired_id: ConnectionId::ZERO,
            mutant: None,
        }
    }

    /// Whether this profile carries `mutant`.
    pub fn is(&self, mutant: super::Mutant) -> bool {
        self.mutant == Some(mutant)
    }

    /// Parses `legacy`, `udp_push`, `3way`, or `3way+option+option…` with the options
    /// `allow_legacy_start`, `fallback_to_legacy` (or `fallback`), `optimistic_start` (or `optimistic`),
    /// `request_options`.
    pub fn parse(text: &str) -> Result<Profile, ProfileError> {
        let names: Vec<&str> = super::Mutant::ALL.iter().map(|m| m.name()).collect();
        let (text, mutant) =
            handshake_core::words::split_mutant(text, "mutant", &names, super::Mutant::from_name)
                .map_err(ProfileError)?;
        let mut profile = Profile::parse_base(text)?;
        profile.mutant = mutant;
        Ok(profile)
    }

    fn parse_base(text: &str) -> Result<Profile, ProfileError> {
        let mut parts = text.split('+');
        let base = parts.next().unwrap_or_default();
        let kind = match base {
            "legacy" => ProfileKind::Legacy,
            "udp_push" | "udp-push" => ProfileKind::UdpPush,
            "3way" | "three_way" => ProfileKind::ThreeWay,
            other => {
                return Err(ProfileError(format!(
                    "unknown profile `{other}`{}: expected legacy, udp_push or 3way[+option…]",
                    handshake_core::words::did_you_mean(other, PROFILE_NAMES.iter().copied())
                )))
            }
        };
        let mut profile = Profile::new(kind);
        for option in parts {
            if kind != ProfileKind::ThreeWay {
                return Err(ProfileError(format!(
                    "profile `{base}` takes no options (`{option}`): options belong to 3way"
                )));
            }
            match option {
                "allow_legacy_start" => profile.allow_legacy_start = true,
                "fallback_to_legacy" | "fallback" => profile.fallback_to_legacy = true,
                "optimistic_start" | "optimistic" => profile.optimistic_start = true,
                "request_options" => profile.request_options = true,
                other => {
                    return Err(ProfileError(format!(
                        "unknown 3way option `{other}`{}: expected allow_legacy_start, fallback_to_legacy, optimistic_start or request_options",
                        handshake_core::words::did_you_mean(
                            other,
                            THREE_WAY_OPTIONS.iter().chain(&THREE_WAY_OPTION_ALIASES).copied()
                        )
                    )))
                }
            }
        }
        Ok(profile)
    }
}

impl fmt::Display for Profile {
    /// The canonical name: `3way+allow_legacy_start+fallback_to_legacy+optimistic_start+request_options` order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.name())?;
        for (on, name) in [
            (self.allow_legacy_start, "allow_legacy_start"),
            (self.fallback_to_legacy, "fallback_to_legacy"),
            (self.optimistic_start, "optimistic_start"),
            (self.request_options, "request_options"),
        ] {
            if on {
                write!(f, "+{name}")?;
            }
        }
        if let Some(m) = self.mutant {
            write!(f, "!{m}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("legacy", "legacy")]
    #[case("udp_push", "udp_push")]
    #[case("3way", "3way")]
    #[case(
        "3way+optimistic+allow_legacy_start",
        "3way+allow_legacy_start+optimistic_start"
    )]
    #[case("3way+fallback", "3way+fallback_to_legacy")]
    fn profiles_parse_to_canonical_names(#[case] text: &str, #[case] canonical: &str) {
        assert_eq!(
            Profile::parse(text).map(|p| p.to_string()),
            Ok(canonical.to_owned())
        );
    }

    #[rstest]
    #[case("quic", "unknown profile")]
    #[case("legacy+fallback", "takes no options")]
    #[case("3way+turbo", "unknown 3way option")]
    #[case("3wya", "unknown profile `3wya` (did you mean `3way`?)")]
    #[case("udp-psh", "(did you mean `udp_push`?)")]
    #[case("3way+optimstic_start", "(did you mean `optimistic_start`?)")]
    #[case("3way+optimstic", "(did you mean `optimistic`?)")]
    #[case(
        "3way!seq-from-O",
        "unknown mutant `seq-from-O` (did you mean `seq-from-0`?)"
    )]
    fn bad_profiles_say_why(#[case] text: &str, #[case] needle: &str) {
        let err = Profile::parse(text).expect_err("refused");
        assert!(err.0.contains(needle), "{err}");
    }

    /// D2: SYNs at 0, 500, 1500, 3500 ms; given up at 5500 ms.
    #[test]
    fn d2_schedule() {
        let b = Backoff::default();
        let waits: Vec<u64> = (1..=4)
            .map(|n| b.interval_after(n).as_millis() as u64)
            .collect();
        assert_eq!(waits, vec![500, 1000, 2000, 2000]);
    }

    #[test]
    fn legacy_resend_interval_and_frame_times() {
        let c = StreamConfig {
            frame_rate: 1000,
            ..StreamConfig::default()
        };
        assert_eq!(c.start_resend_interval(), Duration::from_millis(501));
        let c = StreamConfig {
            frame_rate: 30,
            ..StreamConfig::default()
        };
        assert_eq!(c.start_resend_interval(), Duration::from_millis(533));
        assert_eq!(c.frame_offset(3), Duration::from_millis(100));
        assert_eq!(c.frame_offset(1), Duration::from_nanos(33_333_333));
    }
}
