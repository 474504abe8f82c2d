//! DT8 / DH4: HS256 join and media tokens, verified against the capture's time.

use std::collections::HashSet;

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// The claims the judge reads (join: `meeting_id`, `exp`; media: also `participant_id`, `jti`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct Claims {
    pub meeting_id: String,
    pub exp: u64,
    #[serde(default)]
    pub participant_id: Option<String>,
    #[serde(default)]
    pub jti: Option<String>,
}

fn validation() -> Validation {
    let mut v = Validation::new(Algorithm::HS256);
    v.validate_exp = false;
    v.validate_nbf = false;
    v.validate_aud = false;
    v.leeway = 0;
    v.required_spec_claims = HashSet::new();
    v
}

/// The token's claims when it verifies with `secret` and is not expired at `now_s` (DH4: `exp <=
/// now` is expired, no leeway); a media token must carry `participant_id` (DT8's claims; `jti` is
/// DH4's, a contract between a controller and its handler, so it may be absent).
pub(crate) fn verify(secret: &str, token: &str, now_s: u64, media: bool) -> Result<Claims, String> {
    let data = decode::<Claims>(
        token,
        &DecodingKey::from_secret(secret.as_bytes()),
        &validation(),
    )
    .map_err(|e| format!("invalid: {e}"))?;
    let claims = data.claims;
    if media && claims.participant_id.is_none() {
        return Err("invalid: a media token needs participant_id".to_owned());
    }
    if claims.exp <= now_s {
        return Err(format!("expired at {} (capture time {now_s})", claims.exp));
    }
    Ok(claims)
}

/// The later validator's leeway past `exp` (jsonwebtoken's default, DT8.leeway): a token is
/// expired as a fact only this long after its `exp`; within it, refusing or accepting are both
/// readings of the sources.
pub(crate) const EXP_LEEWAY_S: u64 = 60;

/// A token judged against DT8's facts and the DT8.leeway reading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Verifies and is not expired (no leeway).
    Valid(Claims),
    /// Expired, but within [`EXP_LEEWAY_S`]: the profile refuses it, the original accepts it.
    WithinLeeway(Claims, String),
    /// Forged, malformed, or expired beyond the leeway: refused as a fact.
    Refused(String),
}

/// Judges a token at `now_s` (see [`Verdict`]).
pub(crate) fn judge(secret: &str, token: &str, now_s: u64, media: bool) -> Verdict {
    match verify(secret, token, now_s, media) {
        Ok(c) => Verdict::Valid(c),
        Err(why) => match verify(secret, token, now_s.saturating_sub(EXP_LEEWAY_S), media) {
            Ok(c) => Verdict::WithinLeeway(c, why),
            Err(_) => Verdict::Refused(why),
        },
    }
}

/// The claims read without checking the signature or expiry (to group sessions by meeting).
pub(crate) fn peek(token: &str) -> Option<Claims> {
    let mut v = validation();
    v.insecure_disable_signature_validation();
    decode::<Claims>(token, &DecodingKey::from_secret(&[]), &v)
        .ok()
        .map(|d| d.claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, EncodingKey, Header};
    use serde::Serialize;

    #[derive(Serialize)]
    struct Media<'a> {
        meeting_id: &'a str,
        participant_id: &'a str,
        exp: u64,
        jti: &'a str,
    }

    fn media(secret: &str, exp: u64) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &Media {
                meeting_id: "standup",
                participant_id: "p1",
                exp,
                jti: "j1",
            },
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap_or_default()
    }

    #[test]
    fn verifies_signature_expiry_and_claims() {
        let t = media("s", 100);
        assert_eq!(
            verify("s", &t, 99, true).map(|c| c.jti),
            Ok(Some("j1".into()))
        );
        assert!(verify("s", &t, 100, true).is_err_and(|e| e.starts_with("expired")));
        assert!(verify("other", &t, 0, true).is_err_and(|e| e.starts_with("invalid")));
        assert!(verify("s", "not.a.jwt", 0, false).is_err());
        assert_eq!(peek(&t).map(|c| c.meeting_id), Some("standup".into()));
        assert_eq!(peek("garbage"), None);
    }
}
