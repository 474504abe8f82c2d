//! Dark Tower's decision table: what an expectation may rest on, each with its class. The design
//! documents' facts (`docs/src/protocols/darktower.md`) may fail an implementation; DT1–DT11 and the
//! harness's DH1–DH16 fill what the documents leave open, so most are profile decisions (a miss is
//! a deviation unless `--strict-profile`), and those that only say how two sides find each other
//! (transports, ALPNs, paths, secrets, meetings, a client's plan) are contracts the harness adapts
//! to. The table is `docs/decisions.md`'s Dark Tower part.

use handshake_scenario::{Citations, Decision};

const DOCS: &str = "the design documents at ef4e7f79 (darktower.md)";
const PROTO: &str = "proto/signaling.proto (darktower.md, signaling)";
const SILENT: &str = "the design documents are silent: this project's reading";

/// Every decision, in the order the table lists them.
pub const DECISIONS: &[Decision] = &[
    Decision::fact("signaling", "u32 big-endian length + protobuf ClientMessage / ServerMessage on the first client bidi stream", PROTO),
    Decision::fact("errors", "Invalid/expired token → UNAUTHORIZED; meeting full → CAPACITY_EXCEEDED; meeting ended → NOT_FOUND", "the documented errors"),
    Decision::fact("liveness", "Keep-alive every 15 s; no traffic for 30 s → participant disconnected", DOCS),
    Decision::fact("media.header", "32-byte stream header: DART, version 1, type, 16-byte stream id, FourCC, 6 reserved", DOCS),
    Decision::fact("media.frame", "46-byte v1 frame header + payload: version 1, type 0–2, stream id, timestamp, sequence, length, flags", DOCS),
    Decision::fact("media.reset_codes", "0x00 graceful, 0x01 invalid stream format, 0x02 authentication failed, 0x03 quota exceeded, 0x04 internal error", DOCS),
    Decision::fact("media.v2", "42-byte v2 frame header in datagrams: version 1, type 0–2, user id, stream id, timestamp, sequence, length, flags", "the later codec (61cbe660)"),
    Decision::fact("participant_joined", "The participants present learn of a newcomer (ParticipantJoined, or the newcomer in a JoinResponse)", PROTO),
    Decision::fact("DT6", "A signaling length of 0 or above 65,536 is refused; the first client message must be a JoinRequest (else INVALID_REQUEST); a participant name over 256 bytes is refused (INVALID_REQUEST)", "the flow document (JoinRequest first); the later controller's limits and answers"),
    Decision::fact("DT7.required", "A client authenticates its media session before it sends media", "the flow document §2.1"),
    Decision::fact("DT8", "Join tokens are JWT HS256; tokens live 5 minutes; media tokens are single-use; an invalid, expired or reused media token → UNAUTHORIZED / reset 0x02, an invalid or expired join token → UNAUTHORIZED", "the flow document, API contracts and database schema (TTL 5 min, one-time use)"),
    Decision::fact("DT10", "30 s without traffic → the participant is disconnected, and the others learn it (ParticipantLeft)", "the flow document's keep-alive and idle timeout"),
    Decision::fact("DT11", "v2 datagrams with version ≠ 1, type > 2 or shorter than 42 + length are dropped", "the later codec (61cbe660)"),
    Decision::fact("DH3", "Reset of a received stream = STOP_SENDING; a STOP_SENDING is answered with RESET_STREAM of its code", "RFC 9000 §3.5, §19.5"),
    Decision::contract("DH1", "Transports and how sessions are found: WebTransport (h3, its CONNECT path) or bare QUIC (its ALPNs)", "where and how a client reaches a server: offered, or read from the manifest"),
    Decision::contract("DT9", "Reset codes over WebTransport: mapped into the HTTP/3 error space or raw; over bare QUIC raw", "the design and the later code disagree; each side is told which (the manifest's reset_codes)"),
    Decision::contract("DT7.wire", "Media authentication messages: MediaClientMessage{ConnectRequest{join_token}} / MediaServerMessage{ConnectResponse | ErrorMessage} on the first media bidi stream", "undefined in v1: both sides must agree to talk at all"),
    Decision::contract("DH4", "Token keys and claims: HS256 with the shared secret; join claims meeting_id, exp; media claims meeting_id, participant_id, exp, jti", "the secret and claims are shared configuration"),
    Decision::contract("DH6", "The meetings a controller serves, their capacity and which have ended", "the controller's configuration (the manifest)"),
    Decision::contract("DH15.plan", "What a client does: join, publish, send N frames at a rate, linger, close", "the client's plan (the manifest's client template)"),
    Decision::profile("DT2", "A header stream type other than 0x00 or 0x01 (VIDEO_SCREEN = 2 included) → reset 0x01", "the types are documented, the reset for others is this project's"),
    Decision::profile("DT3", "A frame's stream id must equal its header's; a mismatch → reset 0x01", "both carry a stream id; no source links them"),
    Decision::profile("DT5", "Bad magic, version ≠ 1, or a header cut short by FIN → reset 0x01", "the reset codes are documented, not their triggers"),
    Decision::profile("DT6.stream_error", "A refused signaling length is answered with ErrorMessage STREAM_ERROR", "the later controller sends no ErrorMessage for it"),
    Decision::profile("DT8.join_reuse", "A join token may be used again until it expires: with another participant name it joins another participant (with the same name it resumes, DH9)", "only media tokens are single-use in the sources"),
    Decision::profile("DT10.reason", "A participant that idled out leaves with reason CONNECTION_LOST", "the enum value exists; no source ties it to the timeout"),
    Decision::profile("DT10.sequence", "Sequence numbers per media stream start at 0 and rise by one per frame", SILENT),
    Decision::profile("DT1", "Media on client-opened unidirectional streams; the handler forwards on streams it opens", "the flow document says unidirectional, API_CONTRACTS bidirectional"),
    Decision::profile("DT4", "Reserved bytes and bits are sent as zero", SILENT),
    Decision::profile("DT7", "Media streams opened before a successful ConnectResponse are reset with 0x02", "media authentication is undefined in v1"),
    Decision::profile("DH7", "Fatal signaling errors: one ErrorMessage, then FIN; non-fatal ones (unknown subscribe, duplicate publish) go on", SILENT),
    Decision::profile("DH8", "StreamPublished goes to the others, not the publisher; subscriptions and quality updates get no answer", SILENT),
    Decision::profile("DH9", "Leaving: VOLUNTARY on close or FIN; a join token reused with the same name resumes the same participant", SILENT),
    Decision::profile("DH10", "Capacity counts participants present; a resume never counts twice", SILENT),
    Decision::profile("DH11", "A ConnectRequest with an invalid or used token → ErrorMessage UNAUTHORIZED then FIN", SILENT),
    Decision::profile("DH12", "Frame version ≠ 1 or type > 2 → 0x01; a frame over 1 MiB → 0x03; zero frames accepted", SILENT),
    Decision::profile("DH13", "The handler forwards every participant's media to the other participants of its meeting, byte for byte; a source that ends early → the forward is reset with 0x00", SILENT),
    Decision::profile("DH14", "The handler never resets with 0x04 (no internal error is modelled)", SILENT),
    Decision::profile("DH15", "The client subscribes to what it learns of, authenticates, publishes, then closes both sessions with 0 and exits 0; non-zero on an error", SILENT),
];

/// Dark Tower's citations.
pub const CITATIONS: Citations = Citations {
    decisions: DECISIONS,
};
