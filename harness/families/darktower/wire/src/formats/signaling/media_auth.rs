//! `darktower.media_auth`: one message of the media authentication stream (DT7).

use handshake_formats::arbitrary::{self, Unstructured};
use handshake_formats::{Seed, Token, Verdict};
use serde_json::{json, Map};

use super::{case_of, message_json, object, prefix_tokens, protobuf};
use crate::proto::media::{media_server_message, ConnectResponse};
use crate::proto::signaling::ErrorCode;
use crate::signaling::{
    decode_media_client_message, decode_media_server_message, encode_frame, jwt_text, split_frame,
    DecodeError, MAX_MESSAGE_LEN,
};

use super::seeds::{error_message, media_client, media_server, JWT};

/// `darktower.media_auth`: one framed message of the media authentication stream (both ends read
/// only the first). Read as a `MediaClientMessage` (or, as the handler also takes it, a JWT behind
/// the prefix) and as a `MediaServerMessage`: field 1 of both is the same bytes, so `direction`
/// is `either` when both read it.
pub fn decode_media_auth(bytes: &[u8]) -> Verdict {
    let (body, rest) = match split_frame(bytes) {
        Ok(split) => split,
        Err(e) => return Verdict::refused(None, Map::new(), DecodeError::Framing(e)),
    };
    if !rest.is_empty() {
        return Verdict::refused(None, Map::new(), DecodeError::TrailingBytes(rest.len()));
    }
    let client = decode_media_client_message(body);
    let server = decode_media_server_message(body);
    let (direction, kind, mut fields) = match (&client, &server) {
        (Ok(c), Ok(s)) => {
            let (kind, fields) = case_of(&c.message);
            let mut f = object(json!({ "message": fields }));
            f.insert("as_server".into(), message_json(&s.message, body.len()));
            ("either", kind, f)
        }
        (Ok(c), Err(_)) => {
            let (kind, fields) = case_of(&c.message);
            ("client", kind, object(json!({ "message": fields })))
        }
        (Err(_), Ok(s)) => {
            let (kind, fields) = case_of(&s.message);
            ("server", kind, object(json!({ "message": fields })))
        }
        (Err(ce), Err(se)) => match (ce, jwt_text(body)) {
            (DecodeError::Protobuf(_), Some(token)) => (
                "client",
                "jwt".to_owned(),
                object(json!({ "token": token })),
            ),
            _ => {
                return Verdict::refused(
                    None,
                    Map::new(),
                    format!("as MediaClientMessage: {ce}; as MediaServerMessage: {se}"),
                )
            }
        },
    };
    fields.insert("direction".into(), json!(direction));
    fields.insert("length".into(), json!(body.len()));
    Verdict::accepted(kind, fields)
}

/// Changes one field of a media authentication message that reads: a protobuf field of the
/// message or of its wrapper, the length prefix, or bytes after the message.
pub fn mutate_media_auth(bytes: &mut Vec<u8>, u: &mut Unstructured<'_>) -> arbitrary::Result<bool> {
    let verdict = decode_media_auth(bytes);
    if !verdict.ok {
        return Ok(false);
    }
    if verdict.kind.as_deref() == Some("jwt") && u.ratio(3u8, 4u8)? {
        // The flow document's bare token: another token's shape.
        let token = *u.choose(&JWT_SHAPES)?;
        *bytes = encode_frame(token.as_bytes()).unwrap_or_default();
        return Ok(true);
    }
    if u.ratio(1u8, 32u8)? {
        let extra: [u8; 2] = u.arbitrary()?;
        bytes.extend(extra);
        return Ok(true);
    }
    protobuf::mutate_framed(bytes, u)
}

/// Tokens behind the prefix: whitespace around, an empty signature, two parts only, a character
/// outside base64url.
const JWT_SHAPES: [&str; 5] = [
    " eyJhbGciOiJIUzI1NiJ9.e30.c2ln\n",
    "eyJhbGciOiJIUzI1NiJ9.e30.",
    "eyJhbGciOiJIUzI1NiJ9.e30",
    "eyJhbGciOiJIUzI1NiJ9.e30.c2ln+",
    JWT,
];

/// The wrappers' keys, the members' keys, length prefixes at DT6's bounds, ErrorCode values, a
/// JWT's start.
pub fn media_auth_dictionary() -> Vec<Token> {
    let mut t = prefix_tokens();
    t.push(Token::new("key_connect", [0x0a]));
    t.push(Token::new("key_error", [0x12]));
    t.push(Token::new("key_error_code", [0x08]));
    t.push(Token::new("key_details", [0x1a]));
    t.push(Token::new("empty_member", [0x0a, 0x00]));
    for code in 0u8..=8 {
        t.push(Token::new("error_code", [code]));
    }
    t.push(Token::new(
        "jwt_start",
        *b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    ));
    t
}
/// Each message both ways (a ConnectRequest with a JWT, a short and an empty token; a
/// ConnectResponse with and without an id; errors), the flow document's framed JWT; the framing
/// errors, trailing bytes, a message no wrapper reads.
pub fn media_auth_seeds() -> Vec<Seed> {
    use media_server_message::Message as M;
    let request = media_client(JWT);
    vec![
        Seed::new("client-connect-request", request.clone()),
        Seed::new("client-connect-request-short", media_client("t")),
        Seed::new("client-connect-request-empty", media_client("")),
        Seed::new(
            "client-framed-jwt",
            encode_frame(JWT.as_bytes()).unwrap_or_default(),
        ),
        Seed::new(
            "server-connect-response",
            media_server(M::ConnectResponse(ConnectResponse {
                participant_id: "p-1".into(),
            })),
        ),
        Seed::new(
            "server-connect-response-empty",
            media_server(M::ConnectResponse(ConnectResponse::default())),
        ),
        Seed::new(
            "server-error-unauthorized",
            media_server(M::Error(error_message(ErrorCode::Unauthorized, "expired"))),
        ),
        Seed::new(
            "server-error-forbidden",
            media_server(M::Error(error_message(ErrorCode::Forbidden, ""))),
        ),
        Seed::new("invalid-empty", []),
        Seed::new("invalid-length-zero", [0u8; 4]),
        Seed::new("invalid-length-65537", (MAX_MESSAGE_LEN + 1).to_be_bytes()),
        Seed::new("invalid-truncated", request[..request.len() - 1].to_vec()),
        Seed::new(
            "invalid-trailing-bytes",
            [request.clone(), vec![0, 0]].concat(),
        ),
        Seed::new("invalid-two-messages", [request.clone(), request].concat()),
        Seed::new(
            "invalid-unknown-field-only",
            encode_frame(&[0x78, 0x01]).unwrap_or_default(),
        ),
        Seed::new(
            "invalid-protobuf",
            encode_frame(&[0x0a, 0x05, 0x0a]).unwrap_or_default(),
        ),
    ]
}
