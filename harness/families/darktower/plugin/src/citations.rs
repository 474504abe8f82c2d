//! What a Dark Tower expectation may rest on: the facts of `shared/protocols/darktower.md`, its
//! decisions DT1–DT11, and the harness's DH1–DH16 where both are silent (README, "Dark Tower
//! decisions"). The DT and DH decisions fix what the design documents leave open — they are the
//! protocol every implementation under test is built to — so a miss fails like a fact's (as the
//! judge's rules do). Only the choices this profile alone asks for are profile decisions (a miss
//! is a deviation unless `--strict-profile`): DT4's zero reserved bytes, DH14's never-0x04.

use handshake_scenario::Citations;

/// Facts, and the decisions that fix what the design leaves open.
pub const FACTS: &[(&str, &str)] = &[
    ("signaling", "u32 big-endian length + protobuf ClientMessage / ServerMessage on the first client bidi stream"),
    ("errors", "Invalid/expired token → UNAUTHORIZED; meeting full → CAPACITY_EXCEEDED; meeting ended → NOT_FOUND"),
    ("liveness", "Keep-alive every 15 s; no traffic for 30 s → participant disconnected"),
    ("media.header", "32-byte stream header: DART, version 1, type, 16-byte stream id, FourCC, 6 reserved"),
    ("media.frame", "46-byte v1 frame header + payload: version 1, type 0–2, stream id, timestamp, sequence, length, flags"),
    ("media.reset_codes", "0x00 graceful, 0x01 invalid stream format, 0x02 authentication failed, 0x03 quota exceeded, 0x04 internal error"),
    ("media.v2", "42-byte v2 frame header in datagrams: version 1, type 0–2, user id, stream id, timestamp, sequence, length, flags"),
    ("DT1", "Media on client-opened unidirectional streams; the handler forwards on streams it opens"),
    ("DT2", "Header stream type 0x00 audio, 0x01 video; anything else → reset 0x01"),
    ("DT3", "A frame's stream id equals its header's; a mismatch → reset 0x01"),
    ("DT5", "Bad magic, version ≠ 1, or a header cut short by FIN → reset 0x01"),
    ("DT6", "ClientMessage/ServerMessage wrappers; length 0 or > 65,536 → STREAM_ERROR; JoinRequest first; names ≤ 256 bytes"),
    ("DT7", "Media authentication: ConnectRequest/ConnectResponse on the first media bidi stream; media before it → reset 0x02"),
    ("DT8", "JWT HS256 tokens, exp 5 minutes, media tokens single-use; invalid/expired/reused → UNAUTHORIZED / reset 0x02"),
    ("DT9", "Reset codes mapped into the HTTP/3 WebTransport error space (raw profile: unmapped; bare QUIC: raw)"),
    ("DT10", "30 s without traffic → ParticipantLeft(CONNECTION_LOST) to the others; sequences from 0, +1 per frame"),
    ("DT11", "v2 datagrams with version ≠ 1, type > 2 or shorter than 42 + length are dropped and counted"),
    ("DH1", "Transports: WebTransport (h3, CONNECT on stream 0) or bare QUIC (ALPN darktower / darktower-media)"),
    ("DH3", "Reset of a received stream = STOP_SENDING; a STOP_SENDING is answered with RESET_STREAM of its code"),
    ("DH6", "The controller serves the meetings it is given, with a capacity; others are NOT_FOUND"),
    ("DH7", "Fatal signaling errors: one ErrorMessage, then FIN; non-fatal ones go on"),
    ("DH8", "JoinResponse, ParticipantJoined to the others, StreamPublished to the others only"),
    ("DH9", "Leaving: VOLUNTARY on close or FIN, CONNECTION_LOST on idle; a join token reused with the same name resumes"),
    ("DH11", "ConnectRequest with a valid unused media token → ConnectResponse; else UNAUTHORIZED then FIN"),
    ("DH12", "Media stream checks; a frame over 1 MiB → 0x03; zero frames accepted"),
    ("DH13", "The handler forwards every participant's media to the others of its meeting, byte for byte"),
    ("DH15", "The reference client: join, subscribe, authenticate, publish, linger, close with 0"),
];

/// The choices only this profile asks for.
pub const PROFILE_DECISIONS: &[(&str, &str)] = &[
    (
        "DT4",
        "Big-endian; reserved bytes and bits sent as zero, ignored on receipt",
    ),
    (
        "DH14",
        "The handler never resets with 0x04 (no internal error is modelled)",
    ),
];

/// Dark Tower's citations.
pub const CITATIONS: Citations = Citations {
    facts: FACTS,
    profile_decisions: PROFILE_DECISIONS,
};
