//! What a family's hooks and the run around them can fail with, told apart by kind so that the
//! engine decides an outcome's verdict from the variant, not from which hook returned it. Each
//! variant's `Display` is the bare reason: it is the line the outcome prints.

/// Why a family hook (or a step of the run around it) did not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FamilyError {
    /// The program/scenario combination cannot run (a missing feature, a role or a part the IUT
    /// lacks): not a failure, the outcome is `unsupported`.
    #[error("{reason}")]
    Unsupported {
        /// Why, as the outcome prints it.
        reason: String,
    },
    /// A scenario, manifest or profile the harness refuses.
    #[error("{0}")]
    BadInput(String),
    /// The implementation under test did something the harness cannot go on from.
    #[error("{0}")]
    IutFailure(String),
    /// The harness itself could not do its part (a capture it cannot write or read, a socket).
    #[error("{0}")]
    HarnessFault(String),
}

impl FamilyError {
    /// [`FamilyError::Unsupported`].
    pub fn unsupported(reason: impl Into<String>) -> FamilyError {
        FamilyError::Unsupported {
            reason: reason.into(),
        }
    }

    /// [`FamilyError::BadInput`].
    pub fn bad_input(why: impl Into<String>) -> FamilyError {
        FamilyError::BadInput(why.into())
    }

    /// [`FamilyError::IutFailure`].
    pub fn iut(why: impl Into<String>) -> FamilyError {
        FamilyError::IutFailure(why.into())
    }

    /// [`FamilyError::HarnessFault`].
    pub fn harness(why: impl Into<String>) -> FamilyError {
        FamilyError::HarnessFault(why.into())
    }

    /// The same kind of error with its reason rewritten (a prefix saying where it arose).
    pub fn map_reason(self, f: impl FnOnce(String) -> String) -> FamilyError {
        match self {
            FamilyError::Unsupported { reason } => FamilyError::Unsupported { reason: f(reason) },
            FamilyError::BadInput(why) => FamilyError::BadInput(f(why)),
            FamilyError::IutFailure(why) => FamilyError::IutFailure(f(why)),
            FamilyError::HarnessFault(why) => FamilyError::HarnessFault(f(why)),
        }
    }
}

/// A profile name a family does not know (its [`crate::Family::parse_profile`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

impl From<ProfileError> for FamilyError {
    fn from(e: ProfileError) -> FamilyError {
        FamilyError::BadInput(e.0)
    }
}

/// Why an external IUT cannot be started for a scenario ([`crate::Family::launch`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// The program cannot run this scenario: the outcome is `unsupported`.
    #[error("{reason}")]
    Unsupported {
        /// Why, as the outcome prints it.
        reason: String,
    },
    /// The manifest (or the profile given with `--iut-addr`) cannot be used.
    #[error("{0}")]
    BadManifest(String),
}

impl LaunchError {
    /// [`LaunchError::Unsupported`].
    pub fn unsupported(reason: impl Into<String>) -> LaunchError {
        LaunchError::Unsupported {
            reason: reason.into(),
        }
    }
}

impl From<LaunchError> for FamilyError {
    fn from(e: LaunchError) -> FamilyError {
        match e {
            LaunchError::Unsupported { reason } => FamilyError::Unsupported { reason },
            LaunchError::BadManifest(why) => FamilyError::BadInput(why),
        }
    }
}
