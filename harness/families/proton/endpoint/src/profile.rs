//! Profiles: `as_coded` (the original program's behaviour) and `project` (P1–P4), each with its
//! timers (every one a parameter) and options.

use std::fmt;
use std::time::Duration;

use handshake_proton_wire::Arithmetic;

use crate::mutants::Mutant;

/// Which behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Base {
    /// The original's behaviour as coded.
    AsCoded,
    /// The project's profile: P1 checked commits, P2 push or pull, P3 discriminator timeout,
    /// P4 the 0xFF reset (option). (P5, the ends of streams, is a fact: both profiles.)
    Project,
}

impl Base {
    /// Its name.
    pub const fn name(self) -> &'static str {
        match self {
            Base::AsCoded => "as_coded",
            Base::Project => "project",
        }
    }
}

/// Every timer (defaults per profile: `Timers::of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// QUIC idle timeout.
    pub idle: Duration,
    /// QUIC keep-alive (`None`: none).
    pub keep_alive: Option<Duration>,
    /// Each next stream must be opened within this.
    pub accept: Duration,
    /// Each read or write within this.
    pub op: Duration,
    /// The server's wait before it serves its first connection.
    pub startup: Duration,
    /// P3: a stream's discriminator within this (`None`: no such timeout, as coded).
    pub discriminator: Option<Duration>,
    /// Push mode: one action every this long.
    pub action_interval: Duration,
}

impl Timers {
    /// The profile's defaults.
    pub const fn of(base: Base) -> Timers {
        let ms = Duration::from_millis;
        match base {
            Base::AsCoded => Timers {
                idle: ms(5_000),
                keep_alive: Some(ms(5_000)),
                accept: ms(5_000),
                op: ms(300_000),
                startup: ms(10_000),
                discriminator: None,
                action_interval: ms(100),
            },
            Base::Project => Timers {
                idle: ms(5_000),
                keep_alive: Some(ms(1_000)),
                accept: ms(5_000),
                op: ms(300_000),
                startup: ms(10_000),
                discriminator: Some(ms(1_000)),
                action_interval: ms(100),
            },
        }
    }
}

/// A profile: a base, its options, its timers, and perhaps a mutant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The behaviour.
    pub base: Base,
    /// P2: the server pushes actions (`project` only).
    pub action_push: bool,
    /// P4: a 4th stream with discriminator 0xFF resets (`project` only).
    pub reset_discriminator: bool,
    /// Its timers.
    pub timers: Timers,
    /// A deliberately wrong variant.
    pub mutant: Option<Mutant>,
}

/// `project`: what a server is taken to behave like when nothing says otherwise (a running server
/// given by address only).
impl Default for Profile {
    fn default() -> Self {
        Profile::new(Base::Project)
    }
}

impl Profile {
    /// The base profile with its default timers.
    pub const fn new(base: Base) -> Profile {
        Profile {
            base,
            action_push: false,
            reset_discriminator: false,
            timers: Timers::of(base),
            mutant: None,
        }
    }

    /// Parses `as_coded`, `project`, `project+action_push`, `project+reset_discriminator` …, with
    /// an optional `!mutant`.
    pub fn parse(text: &str) -> Result<Profile, String> {
        let (text, mutant) = handshake_core::words::split_mutant(
            text,
            "Proton mutant",
            &Mutant::ALL.map(Mutant::name),
            Mutant::parse,
        )?;
        let mut parts = text.split('+');
        let base = match parts.next() {
            Some("as_coded") => Base::AsCoded,
            Some("project") => Base::Project,
            other => {
                return Err(format!(
                    "unknown Proton profile `{}`, expected as_coded or project",
                    other.unwrap_or_default()
                ))
            }
        };
        let mut p = Profile::new(base);
        p.mutant = mutant;
        for option in parts {
            match option {
                "action_push" => p.action_push = true,
                "reset_discriminator" => p.reset_discriminator = true,
                other => {
                    return Err(format!(
                        "unknown Proton profile option `{other}`, expected action_push or reset_discriminator"
                    ))
                }
            }
            if base == Base::AsCoded {
                return Err(format!(
                    "`{option}` is a project option (P2, P4); as_coded has none"
                ));
            }
        }
        Ok(p)
    }

    /// StateCommit arithmetic: wrapping as coded, checked under P1.
    pub fn arithmetic(&self) -> Arithmetic {
        if self.base == Base::Project && !self.is(Mutant::CommitUnchecked) {
            Arithmetic::Checked
        } else {
            Arithmetic::Wrapping
        }
    }

    /// Whether it is mutant `m`.
    pub fn is(&self, m: Mutant) -> bool {
        self.mutant == Some(m)
    }

    /// The bidirectional streams a server lets a client open: 3, 4 with the reset option.
    pub fn max_bidi(&self) -> u32 {
        if self.reset_discriminator {
            4
        } else {
            3
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.name())?;
        if self.action_push {
            f.write_str("+action_push")?;
        }
        if self.reset_discriminator {
            f.write_str("+reset_discriminator")?;
        }
        if let Some(m) = self.mutant {
            write!(f, "!{}", m.name())?;
        }
        Ok(())
    }
}
