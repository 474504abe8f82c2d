//! Signaling framing (each message: a u32 big-endian length + protobuf bytes) and the decoders of
//! the protobuf wrappers.
//!
//! DT6: a length of 0 or above 65,536 bytes closes the signaling stream with `STREAM_ERROR`
//! ([`FramingError::error_code`]); 65,536 itself is accepted. The same framing carries DT7's media
//! authentication messages.

use prost::Message;

use crate::proto::media::{MediaClientMessage, MediaServerMessage};
use crate::proto::signaling::{ClientMessage, ErrorCode, ServerMessage};

/// The largest message length accepted (DT6: 64 KiB).
pub const MAX_MESSAGE_LEN: u32 = 65_536;
/// Length of the prefix.
pub const PREFIX_LEN: usize = 4;
/// DT6: participant names are at most this many bytes.
pub const MAX_PARTICIPANT_NAME_LEN: usize = 256;

/// What is wrong with the framing of a signaling stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum FramingError {
    /// A length of 0 (DT6).
    #[error("message length 0")]
    EmptyMessage,
    /// A length above 65,536 (DT6); nothing is read or allocated for it.
    #[error("message length {0} above the 65,536-byte limit")]
    TooLong(u32),
    /// Fewer bytes than the length prefix or the message it announces.
    #[error("truncated: {needed} bytes needed, {got} present")]
    Truncated {
        /// Bytes needed (prefix, or prefix + length).
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// FIN inside a length prefix (1–3 of its 4 bytes).
    #[error("FIN inside a length prefix ({0} of 4 bytes)")]
    FinInPrefix(u8),
    /// FIN inside a message.
    #[error("FIN inside a message ({got} of {len} bytes)")]
    FinInMessage {
        /// The message's length.
        len: u32,
        /// Bytes of it received.
        got: u32,
    },
}

impl FramingError {
    /// snake_case name.
    pub const fn name(&self) -> &'static str {
        match self {
            FramingError::EmptyMessage => "empty_message",
            FramingError::TooLong(_) => "too_long",
            FramingError::Truncated { .. } => "truncated",
            FramingError::FinInPrefix(_) => "fin_in_prefix",
            FramingError::FinInMessage { .. } => "fin_in_message",
        }
    }

    /// The error the signaling stream is closed with (DT6: `STREAM_ERROR`).
    pub const fn error_code(&self) -> ErrorCode {
        ErrorCode::StreamError
    }
}

/// Checks a length prefix against DT6.
pub const fn check_len(len: u32) -> Result<u32, FramingError> {
    if len == 0 {
        Err(FramingError::EmptyMessage)
    } else if len > MAX_MESSAGE_LEN {
        Err(FramingError::TooLong(len))
    } else {
        Ok(len)
    }
}

/// The first frame of `bytes`: its message and the bytes after it. No allocation.
pub fn split_frame(bytes: &[u8]) -> Result<(&[u8], &[u8]), FramingError> {
    let Some((prefix, rest)) = bytes.split_first_chunk::<PREFIX_LEN>() else {
        return Err(FramingError::Truncated {
            needed: PREFIX_LEN,
            got: bytes.len(),
        });
    };
    let len = check_len(u32::from_be_bytes(*prefix))?;
    // `len` ≤ 65,536: fits any usize this code builds for.
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    if rest.len() < len {
        return Err(FramingError::Truncated {
            needed: PREFIX_LEN.saturating_add(len),
            got: bytes.len(),
        });
    }
    Ok(rest.split_at(len))
}

/// A message as a frame: prefix + the bytes (`EmptyMessage` / `TooLong` as DT6 says).
pub fn encode_frame(message: &[u8]) -> Result<Vec<u8>, FramingError> {
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let len = check_len(len)?;
    let mut out = Vec::with_capacity(PREFIX_LEN + message.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(message);
    Ok(out)
}

/// A protobuf message as a frame (a message that encodes to nothing, such as a wrapper with no
/// message set, is `EmptyMessage`).
pub fn encode_message<M: Message>(message: &M) -> Result<Vec<u8>, FramingError> {
    let len = message.encoded_len();
    let len32 = check_len(u32::try_from(len).unwrap_or(u32::MAX))?;
    let mut out = Vec::with_capacity(PREFIX_LEN + len);
    out.extend_from_slice(&len32.to_be_bytes());
    message.encode_raw(&mut out);
    Ok(out)
}

/// Why a signaling message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The framing is wrong.
    #[error("framing: {0}")]
    Framing(#[from] FramingError),
    /// The bytes are not the protobuf message.
    #[error("protobuf: {0}")]
    Protobuf(#[from] prost::DecodeError),
    /// A wrapper (`ClientMessage`, `ServerMessage`, the media ones) with no message in its oneof.
    #[error("the wrapper carries no message")]
    NoMessage,
    /// Bytes after the one frame expected.
    #[error("{0} bytes after the frame")]
    TrailingBytes(usize),
}

impl DecodeError {
    /// snake_case name.
    pub const fn name(&self) -> &'static str {
        match self {
            DecodeError::Framing(e) => e.name(),
            DecodeError::Protobuf(_) => "protobuf",
            DecodeError::NoMessage => "no_message",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
        }
    }
}

/// A `ClientMessage` from a message's bytes (no prefix).
pub fn decode_client_message(message: &[u8]) -> Result<ClientMessage, DecodeError> {
    let m = ClientMessage::decode(message)?;
    if m.message.is_none() {
        return Err(DecodeError::NoMessage);
    }
    Ok(m)
}

/// A `ServerMessage` from a message's bytes (no prefix).
pub fn decode_server_message(message: &[u8]) -> Result<ServerMessage, DecodeError> {
    let m = ServerMessage::decode(message)?;
    if m.message.is_none() {
        return Err(DecodeError::NoMessage);
    }
    Ok(m)
}

/// A `MediaClientMessage` (DT7) from a message's bytes.
pub fn decode_media_client_message(message: &[u8]) -> Result<MediaClientMessage, DecodeError> {
    let m = MediaClientMessage::decode(message)?;
    if m.message.is_none() {
        return Err(DecodeError::NoMessage);
    }
    Ok(m)
}

/// A `MediaServerMessage` (DT7) from a message's bytes.
pub fn decode_media_server_message(message: &[u8]) -> Result<MediaServerMessage, DecodeError> {
    let m = MediaServerMessage::decode(message)?;
    if m.message.is_none() {
        return Err(DecodeError::NoMessage);
    }
    Ok(m)
}

/// What a session's first client message says the session is, when nothing else does (bare QUIC
/// with one ALPN for both servers, a WebTransport path that names neither): `true` for a media
/// authentication (`MediaClientMessage{ConnectRequest}`, DT7), `false` for signaling. Both
/// wrappers put their first message in field 1, so the bytes of a `ConnectRequest{join_token}`
/// also decode as a `JoinRequest` whose `meeting_id` is the token: a message is taken as media
/// authentication when, read as a `JoinRequest`, it carries nothing but that field (no token,
/// name or capabilities), and it decodes as a `ConnectRequest` with a token.
pub fn is_media_auth(message: &[u8]) -> bool {
    use crate::proto::media::media_client_message;
    use crate::proto::signaling::client_message;
    let as_media = matches!(
        decode_media_client_message(message),
        Ok(MediaClientMessage {
            message: Some(media_client_message::Message::ConnectRequest(ref r)),
        }) if !r.join_token.is_empty()
    );
    if !as_media {
        return false;
    }
    match decode_client_message(message) {
        Ok(ClientMessage {
            message: Some(client_message::Message::JoinRequest(j)),
        }) => j.join_token.is_empty() && j.participant_name.is_empty() && j.capabilities.is_none(),
        _ => true,
    }
}

/// The other side of [`is_media_auth`]: a first message that can only be signaling (a
/// `JoinRequest` with a token, name or capabilities, or another `ClientMessage`). A message that
/// is neither (undecodable, or an empty `JoinRequest` / `ConnectRequest`) says nothing.
pub fn is_signaling(message: &[u8]) -> bool {
    use crate::proto::signaling::client_message;
    match decode_client_message(message) {
        Ok(ClientMessage {
            message: Some(client_message::Message::JoinRequest(j)),
        }) => {
            !j.join_token.is_empty() || !j.participant_name.is_empty() || j.capabilities.is_some()
        }
        Ok(_) => true,
        Err(_) => false,
    }
}

fn exactly_one(frame: &[u8]) -> Result<&[u8], DecodeError> {
    let (message, rest) = split_frame(frame)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes(rest.len()));
    }
    Ok(message)
}

/// A `ClientMessage` from exactly one frame (prefix + message).
pub fn decode_client_frame(frame: &[u8]) -> Result<ClientMessage, DecodeError> {
    decode_client_message(exactly_one(frame)?)
}

/// A `ServerMessage` from exactly one frame (prefix + message).
pub fn decode_server_frame(frame: &[u8]) -> Result<ServerMessage, DecodeError> {
    decode_server_message(exactly_one(frame)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Prefix { got: u8, bytes: [u8; 4] },
    Message { len: u32 },
    Failed(FramingError),
}

/// Reads a signaling stream's messages from chunks of any size. A message's bytes are gathered in
/// a buffer the reader owns, sized only after the length passed the DT6 check (≤ 64 KiB).
#[derive(Debug, Clone)]
pub struct SignalingReader {
    state: State,
    buf: Vec<u8>,
    messages: u64,
}

impl Default for SignalingReader {
    fn default() -> Self {
        SignalingReader::new()
    }
}

impl SignalingReader {
    /// A reader at the start of a stream.
    pub const fn new() -> SignalingReader {
        SignalingReader {
            state: State::Prefix {
                got: 0,
                bytes: [0; 4],
            },
            buf: Vec::new(),
            messages: 0,
        }
    }

    /// The next whole message from `input` (consuming what it used), borrowed until the next call;
    /// `None` when `input` ran out first (bytes kept) or after an error.
    pub fn next(&mut self, input: &mut &[u8]) -> Option<Result<&[u8], FramingError>> {
        loop {
            match self.state {
                State::Failed(_) => return None,
                State::Prefix { mut got, mut bytes } => {
                    while got < 4 {
                        let (&b, rest) = input.split_first()?;
                        *input = rest;
                        if let Some(slot) = bytes.get_mut(usize::from(got)) {
                            *slot = b;
                        }
                        got += 1;
                        self.state = State::Prefix { got, bytes };
                    }
                    match check_len(u32::from_be_bytes(bytes)) {
                        Ok(len) => {
                            self.buf.clear();
                            self.buf.reserve(usize::try_from(len).unwrap_or(0));
                            self.state = State::Message { len };
                        }
                        Err(e) => {
                            self.state = State::Failed(e);
                            return Some(Err(e));
                        }
                    }
                }
                State::Message { len } => {
                    let want = usize::try_from(len)
                        .unwrap_or(usize::MAX)
                        .saturating_sub(self.buf.len());
                    let take = want.min(input.len());
                    let (head, rest) = input.split_at(take);
                    self.buf.extend_from_slice(head);
                    *input = rest;
                    if take < want {
                        return None;
                    }
                    self.state = State::Prefix {
                        got: 0,
                        bytes: [0; 4],
                    };
                    self.messages += 1;
                    return Some(Ok(&self.buf));
                }
            }
        }
    }

    /// How the stream ends at a FIN here: `Ok` at a message boundary.
    pub fn finish(&self) -> Result<(), FramingError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Prefix { got: 0, .. } => Ok(()),
            State::Prefix { got, .. } => Err(FramingError::FinInPrefix(got)),
            State::Message { len } => Err(FramingError::FinInMessage {
                len,
                got: u32::try_from(self.buf.len()).unwrap_or(u32::MAX),
            }),
        }
    }

    /// Messages read whole.
    pub const fn messages(&self) -> u64 {
        self.messages
    }

    /// The error it stopped at.
    pub const fn error(&self) -> Option<FramingError> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }
}
