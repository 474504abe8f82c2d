//! DT8 / DH4–DH5: join and media tokens, HS256 JWTs. Expiry is judged against the caller's clock
//! (virtual time in the library), never the wall clock.

use std::collections::{BTreeMap, HashSet};

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// A media token's lifetime (DT8: 5 minutes).
pub const MEDIA_TOKEN_LIFETIME_S: u64 = 300;
/// How long ago the harness's "expired" tokens expired: beyond the later validator's 60 s leeway
/// (DT8.leeway), so refusing them is DT8's fact, not a reading of the leeway.
pub const EXPIRED_AGO_S: u64 = 120;

/// The claims of a join token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    /// The meeting it admits to.
    pub meeting_id: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Whom it was issued to (DH4: optional, ignored; the harness sets it so that two
    /// participants never share a token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
}

/// The claims of a media connection token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaClaims {
    /// The meeting.
    pub meeting_id: String,
    /// The participant it authenticates.
    pub participant_id: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Its unique id (single use, DH5).
    pub jti: String,
}

/// Why a token is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, a bad signature, another algorithm, a missing or mistyped claim.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// `exp` is not after now.
    #[error("token expired at {exp} (now {now})")]
    Expired {
        /// Its expiry.
        exp: u64,
        /// Now.
        now: u64,
    },
    /// A single-use token seen before.
    #[error("token already used")]
    Reused,
}

/// The HS256 secret shared by the controller (which signs media tokens) and the handler.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// The secret's UTF-8 bytes are the key (DH4).
    pub fn new(text: &str) -> Secret {
        Secret(text.as_bytes().to_vec())
    }

    /// Signs claims.
    pub fn sign<C: Serialize>(&self, claims: &C) -> String {
        // HMAC signing of serializable claims cannot fail; an empty token would be refused anyway.
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&self.0),
        )
        .unwrap_or_default()
    }

    /// A join token.
    pub fn join_token(&self, meeting_id: &str, exp: u64) -> String {
        self.sign(&JoinClaims {
            meeting_id: meeting_id.to_owned(),
            exp,
            sub: None,
        })
    }

    fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, TokenError> {
        let mut v = Validation::new(Algorithm::HS256);
        // Expiry against the harness's clock below, not jsonwebtoken's wall clock.
        v.validate_exp = false;
        v.required_spec_claims = HashSet::new();
        v.leeway = 0;
        decode::<C>(token, &DecodingKey::from_secret(&self.0), &v)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// Checks a join token at `now` (seconds since the epoch).
    pub fn verify_join(&self, token: &str, now: u64) -> Result<JoinClaims, TokenError> {
        let claims: JoinClaims = self.verify(token)?;
        live(claims.exp, now)?;
        Ok(claims)
    }

    /// Checks a media token at `now` (not whether it was used: see [`UsedTokens`]).
    pub fn verify_media(&self, token: &str, now: u64) -> Result<MediaClaims, TokenError> {
        let claims: MediaClaims = self.verify(token)?;
        live(claims.exp, now)?;
        Ok(claims)
    }
}

fn live(exp: u64, now: u64) -> Result<(), TokenError> {
    if exp <= now {
        Err(TokenError::Expired { exp, now })
    } else {
        Ok(())
    }
}

/// The join tokens a scenario can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JoinTokenKind {
    /// Signed with the secret, for the meeting, expiring in 5 minutes.
    Valid,
    /// Expired a second ago.
    Expired,
    /// Signed with another secret.
    Forged,
    /// Valid, for another meeting.
    WrongMeeting,
    /// Not a JWT.
    Garbage,
}

impl JoinTokenKind {
    /// From a scenario's word.
    pub fn parse(word: &str) -> Option<JoinTokenKind> {
        Some(match word {
            "valid" => JoinTokenKind::Valid,
            "expired" => JoinTokenKind::Expired,
            "forged" => JoinTokenKind::Forged,
            "wrong_meeting" => JoinTokenKind::WrongMeeting,
            "garbage" => JoinTokenKind::Garbage,
            _ => return None,
        })
    }
}

/// How a client gets its join token: minted at the moment it joins, on its own clock (so a run
/// in real time gets a token valid on the wall clock, one in virtual time a deterministic one).
#[derive(Clone, Debug)]
pub struct JoinMint {
    /// The secret.
    pub secret: Secret,
    /// The meeting it names.
    pub meeting: String,
    /// What kind.
    pub kind: JoinTokenKind,
    /// Whom it is issued to (`sub`).
    pub subject: Option<String>,
}

impl JoinMint {
    /// The token at `now_s` (seconds since the epoch).
    pub fn token(&self, now_s: u64) -> String {
        let sign = |secret: &Secret, meeting: &str, exp: u64| {
            secret.sign(&JoinClaims {
                meeting_id: meeting.to_owned(),
                exp,
                sub: self.subject.clone(),
            })
        };
        let valid = now_s + MEDIA_TOKEN_LIFETIME_S;
        match self.kind {
            JoinTokenKind::Valid => sign(&self.secret, &self.meeting, valid),
            JoinTokenKind::Expired => sign(
                &self.secret,
                &self.meeting,
                now_s.saturating_sub(EXPIRED_AGO_S),
            ),
            JoinTokenKind::Forged => sign(&Secret::new("not-the-secret"), &self.meeting, valid),
            JoinTokenKind::WrongMeeting => sign(&self.secret, "another-meeting", valid),
            JoinTokenKind::Garbage => "not.a.token".to_owned(),
        }
    }
}

/// The media tokens used so far (DH5), remembered until they expire.
#[derive(Debug, Default)]
pub struct UsedTokens {
    used: BTreeMap<String, u64>,
}

impl UsedTokens {
    /// Marks a token used; `Err(Reused)` if it was.
    pub fn take(&mut self, claims: &MediaClaims, now: u64) -> Result<(), TokenError> {
        self.used.retain(|_, exp| *exp > now);
        if self.used.contains_key(&claims.jti) {
            return Err(TokenError::Reused);
        }
        self.used.insert(claims.jti.clone(), claims.exp);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_token_round_trip_and_expiry() {
        let s = Secret::new("s3cret");
        let t = s.join_token("standup", 1000);
        assert!(t.starts_with("eyJ"), "{t}");
        assert_eq!(
            s.verify_join(&t, 999),
            Ok(JoinClaims {
                meeting_id: "standup".into(),
                exp: 1000,
                sub: None,
            })
        );
        assert_eq!(
            s.verify_join(&t, 1000),
            Err(TokenError::Expired {
                exp: 1000,
                now: 1000
            })
        );
    }

    #[test]
    fn forged_and_malformed_tokens_are_invalid() {
        let t = Secret::new("other").join_token("standup", 1000);
        let s = Secret::new("s3cret");
        assert!(matches!(s.verify_join(&t, 1), Err(TokenError::Invalid(_))));
        assert!(matches!(
            s.verify_join("abc", 1),
            Err(TokenError::Invalid(_))
        ));
        // A join token is not a media token: claims missing.
        let join = s.join_token("standup", 1000);
        assert!(matches!(
            s.verify_media(&join, 1),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn media_tokens_are_single_use() {
        let s = Secret::new("k");
        let claims = MediaClaims {
            meeting_id: "m".into(),
            participant_id: "p1".into(),
            exp: 500,
            jti: "j1".into(),
        };
        let token = s.sign(&claims);
        let mut used = UsedTokens::default();
        let c = s.verify_media(&token, 10).expect("valid");
        assert_eq!(used.take(&c, 10), Ok(()));
        assert_eq!(used.take(&c, 11), Err(TokenError::Reused));
    }
}
