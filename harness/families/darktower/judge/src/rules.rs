//! Dark Tower's rule catalogue: every rule the judge enforces, with a stable id, a one-line
//! statement, and the decision-table ids it rests on (`harness decisions`, the plug-in's
//! `citations.rs`: the sources' facts, the profile decisions DT1–DT11 and the harness's DH1–DH16).
//! Ids are namespaced: `darktower.controller.*` judge the Meeting Controller,
//! `darktower.handler.*` the Media Handler, `darktower.client.*` the client; `darktower.decrypt`
//! the capture; `darktower.alpn`, `darktower.h3.*` and `darktower.reset.mapping` the side that
//! sent the offending bytes. Ids never change meaning; retired ids are not reused.
//!
//! Basis: each rule is as strong as the weakest decision it cites (the decision table,
//! `harness decisions`): a rule that rests on a profile decision is [`Basis::Profile`] (a
//! violation is a deviation); one that rests on facts, or on an RFC that a contract only
//! configures, is [`Basis::Fact`]. Contracts alone (DH1's ALPNs and paths, DT9's reset-code
//! mapping) are never judged: the harness adapts to them.

pub use handshake_check::{Basis, Rule};

handshake_check::rules! {
    DECRYPT = ("darktower.decrypt", Fact, "RFC 9001 §5; the capture's Decryption Secrets Block or key log",
        "Every 1-RTT packet of the capture decrypts with the capture's secrets; a connection that does not is not judged.");
    ALPN = ("darktower.alpn", Fact, "RFC 7301 §3.2; RFC 9001 §8.1",
        "The server selects one of the ALPNs the client offered (which ones is a contract, DH1: `h3` for WebTransport; over bare QUIC whatever the two sides speak).");
    H3_SETTINGS = ("darktower.h3.settings", Fact, "RFC 9114 §6.2.1, RFC 9297, draft-ietf-webtrans-http3",
        "In WebTransport mode each side's control stream starts with SETTINGS that enable HTTP/3 datagrams and WebTransport (the server's also extended CONNECT).");
    H3_CONNECT = ("darktower.h3.connect", Fact, "RFC 9220; draft-ietf-webtrans-http3 §3",
        "In WebTransport mode the server uses a session only after answering its extended CONNECT on stream 0 with a 2xx `:status` (which paths it serves is a contract, DH1: another status refuses the session).");
    RESET_MAPPING = ("darktower.reset.mapping", Fact, "RFC 9114 §8.1; draft-ietf-webtrans-http3 §4.4; DT9",
        "A RESET_STREAM or STOP_SENDING code in WebTransport's mapped HTTP/3 range is a mapped code, never one of the range's reserved (GREASE) points. Mapped or raw is a contract (DT9): either is read, neither is blamed.");
    CONTROLLER_FRAME = ("darktower.controller.frame", Fact, "signaling, signaling.wrapper; DT6.length",
        "Every message the controller sends on the signaling stream has a length of 1 to 65,536 bytes and decodes as a ServerMessage.");
    CONTROLLER_JOIN_ANSWER = ("darktower.controller.join_answer", Profile, "DT6.first_answer, DH7",
        "Before its JoinResponse the controller sends nothing but at most one ErrorMessage, then FIN and nothing more.");
    CONTROLLER_FATAL = ("darktower.controller.fatal", Profile, "DH7",
        "After joining, a fatal ErrorMessage (INVALID_REQUEST, STREAM_ERROR, UNAUTHORIZED, CAPACITY_EXCEEDED) is followed by the signaling stream's FIN and nothing more.");
    CONTROLLER_STREAM_ERROR = ("darktower.controller.stream_error", Profile, "DT6.stream_error",
        "A client message length of 0 or above 65,536 is answered with ErrorMessage STREAM_ERROR.");
    CONTROLLER_FIRST_MESSAGE = ("darktower.controller.first_message", Profile, "DT6.first_answer",
        "A first client message that is not a JoinRequest (or does not decode) is answered with ErrorMessage INVALID_REQUEST, not a JoinResponse.");
    CONTROLLER_NAME_LENGTH = ("darktower.controller.name_length", Profile, "DT6.name",
        "A JoinRequest whose participant_name is over 256 bytes is refused with ErrorMessage INVALID_REQUEST (a refusal of its token or meeting may come first), never answered with a JoinResponse.");
    CONTROLLER_UNDECODABLE = ("darktower.controller.undecodable", Profile, "DH7",
        "After joining, a client message that does not decode as a ClientMessage is answered with ErrorMessage INVALID_REQUEST.");
    CONTROLLER_PARTICIPANT_JOINED = ("darktower.controller.participant_joined", Fact, "participant_joined",
        "When a participant joins (not as a resume of a participant still present), every other participant present learns it: ParticipantJoined, or it is in their JoinResponse.");
    // `darktower.controller.stream_published` (reaches the others and never the publisher) is
    // retired: its halves rest on a fact (DH8.others) and an example reading (DH8).
    CONTROLLER_STREAM_PUBLISHED_OTHERS = ("darktower.controller.stream_published_others", Fact, "DH8.others",
        "A PublishStream of a new stream reaches every other participant present as StreamPublished (or in their JoinResponse).");
    CONTROLLER_STREAM_PUBLISHED_PUBLISHER = ("darktower.controller.stream_published_publisher", Profile, "DH8",
        "StreamPublished of a participant's own stream is not sent back to it (the flow document's sample sends it an ACK: both readings are allowed).");
    CONTROLLER_PARTICIPANT_LEFT = ("darktower.controller.participant_left", Profile, "DT10.notify",
        "When a participant's connection goes silent for the idle timeout, every other participant present (that knew of it) gets a ParticipantLeft for it.");
    CONTROLLER_LEAVE = ("darktower.controller.leave", Profile, "DH9; DT10.reason",
        "A participant that closes its session or ends its signaling stream leaves with ParticipantLeft(VOLUNTARY) to every other participant present; the reason is CONNECTION_LOST when it idled out.");
    CONTROLLER_PARTICIPANT_IDS = ("darktower.controller.participant_ids", Profile, "DH8, DH9",
        "Participant ids are unique in a meeting: the same id is given again only to a resume (same join token, same name).");
    CONTROLLER_CAPACITY = ("darktower.controller.capacity", Fact, "errors (meeting full: CAPACITY_EXCEEDED); DH6",
        "With the meeting capacity known: a join while as many participants as the capacity are surely present (a resume of one present aside) is refused with CAPACITY_EXCEEDED.");
    CONTROLLER_CAPACITY_COUNT = ("darktower.controller.capacity_count", Profile, "DH10",
        "With the meeting capacity known: no join is refused with CAPACITY_EXCEEDED while there is room, counting the participants present (a resume never counts twice).");
    CONTROLLER_TOKEN = ("darktower.controller.token", Fact, "DT8, DH4, DH6",
        "With the token secret known: a JoinRequest whose join token is forged or expired more than 60 s before the capture's time is refused with UNAUTHORIZED (or NOT_FOUND), a valid one for the request's meeting is not refused with UNAUTHORIZED, and a JoinResponse's media token is valid for its participant and meeting.");
    CONTROLLER_MEDIA_SERVER = ("darktower.controller.media_server", Fact, "media_server",
        "A JoinResponse gives the media handler: a non-empty media handler URL and a non-empty connection token (media_server).");
    CONTROLLER_JOIN_PARTICIPANT = ("darktower.controller.join_participant", Fact, "join_response.participant",
        "A JoinResponse names the participant the join created: a non-empty participant_id.");
    CONTROLLER_MEDIA_TOKEN_LIFE = ("darktower.controller.media_token_life", Fact, "DT8",
        "Real time, without the token secret: a JoinResponse's media token (its claims read unverified) expires no more than 5 minutes (+5 s of clock slack) after the JoinResponse by the real clock, which the judge never puts earlier than it was. With the secret, darktower.controller.token judges it.");
    CONTROLLER_TOKEN_LEEWAY = ("darktower.controller.token_leeway", Profile, "DT8.leeway",
        "With the token secret known: a join token expired less than 60 s ago (the later validator's leeway) is refused, not answered with a JoinResponse.");
    CONTROLLER_TOKEN_MEETING = ("darktower.controller.token_meeting", Profile, "DT8.meeting",
        "With the token secret known: a join token for another meeting than the JoinRequest's is refused, not answered with a JoinResponse.");
    HANDLER_FRAME = ("darktower.handler.frame", Profile, "DT7.wire, DH11",
        "Every message the handler sends on the authentication stream has a length of 1 to 65,536 bytes and decodes as a MediaServerMessage.");
    HANDLER_AUTH_ANSWER = ("darktower.handler.auth_answer", Profile, "DT7.wire, DH11",
        "The handler's first answer on the authentication stream is ConnectResponse or ErrorMessage UNAUTHORIZED; after the ErrorMessage, FIN and nothing more.");
    HANDLER_TOKEN = ("darktower.handler.token", Fact, "DT8; DH4",
        "With the token secret known: a media authentication with a forged, already used, or more than 60 s expired media token is never accepted (no success answer, DT7.wire); a valid unused one is not refused with an ErrorMessage, and a ConnectResponse names the token's participant_id.");
    HANDLER_TOKEN_LEEWAY = ("darktower.handler.token_leeway", Profile, "DT8.leeway",
        "With the token secret known: a media token expired less than 60 s ago (the later validator's leeway) is refused, never accepted.");
    HANDLER_EARLY_MEDIA = ("darktower.handler.early_media", Profile, "DT7, DH11",
        "A client media stream opened before the ConnectResponse was sent gets STOP_SENDING 0x02; one opened after it never does.");
    HANDLER_BAD_MEDIA = ("darktower.handler.bad_media", Profile, "DT2, DT3, DT5, DH12",
        "A media stream with a bad header (magic, version, stream type) or a bad frame (version, type, stream id other than the header's) gets STOP_SENDING 0x01 (optional when its FIN had already arrived); a valid one never does.");
    HANDLER_QUOTA = ("darktower.handler.quota", Profile, "DH12",
        "A media frame announcing a payload over 1 MiB gets STOP_SENDING 0x03.");
    HANDLER_FORWARD_HEADER = ("darktower.handler.forward_header", Fact, "media.forward, media.header",
        "Each stream the handler opens to route media to a client (unidirectional or, DT1 being disputed, bidirectional; not an answer to a unidirectional authentication) starts with the stream header's magic DART and version 0x01.");
    HANDLER_FORWARD_UNIDIRECTIONAL = ("darktower.handler.forward_unidirectional", Profile, "DT1",
        "The handler routes media on unidirectional streams it opens, not on bidirectional ones.");
    HANDLER_AUTH_CODE = ("darktower.handler.auth_code", Fact, "media.reset_codes, DT8",
        "A media authentication the handler refuses by resetting or stopping its bidirectional authentication stream (with no success answer on it) is reset or stopped with 0x02, authentication failed; a refusal by ErrorMessage or by closing the session is allowed too.");
    HANDLER_FORWARD = ("darktower.handler.forward", Profile, "DH13",
        "Each stream the handler opens carries a client media stream's 32-byte header and then its frames byte for byte from a frame boundary on, never to the source's own participant, and is reset only with 0x00.");
    HANDLER_DATAGRAM_FORWARD = ("darktower.handler.datagram_forward", Fact, "DT11, media.v2",
        "Every datagram the handler sends is a valid v2 frame (42-byte header, version 1, type 0-2, the payload length within the datagram): invalid ones are dropped, never forwarded.");
    HANDLER_DATAGRAM_UNCHANGED = ("darktower.handler.datagram_unchanged", Profile, "DH13",
        "Every datagram the handler sends is byte for byte one a client sent it before.");
    HANDLER_NO_INTERNAL_ERROR = ("darktower.handler.no_internal_error", Profile, "DH14",
        "The handler never resets or stops a stream with 0x04 (no internal error is modelled).");
    CLIENT_SIGNALING_FRAME = ("darktower.client.signaling_frame", Fact, "signaling, signaling.wrapper, DT7.wire; DT6.length",
        "Every message the client sends on a signaling or authentication stream has a length of 1 to 65,536 bytes and decodes as a ClientMessage / MediaClientMessage.");
    CLIENT_FIRST_MESSAGE = ("darktower.client.first_message", Fact, "DT6",
        "The client's first signaling message is a JoinRequest.");
    CLIENT_MEDIA_AFTER_AUTH = ("darktower.client.media_after_auth", Profile, "DT7.wait",
        "The client opens no media stream and sends no datagram on a media session before the ConnectResponse.");
    CLIENT_AUTH_FIRST = ("darktower.client.auth_first", Fact, "DT7.required",
        "The client opens no media stream and sends no media datagram on a media session before it has sent its authentication message (its token, in whichever carrier DT7.wire allows).");
    CLIENT_MEDIA_UNIDIRECTIONAL = ("darktower.client.media_unidirectional", Profile, "DT1",
        "The client sends its media on unidirectional streams: no bidirectional stream of its own but the signaling or authentication stream starts with a stream header's magic DART.");
    CLIENT_MEDIA_HEADER = ("darktower.client.media_header", Fact, "media.header",
        "Each client media stream starts with a valid 32-byte header: magic DART, version 1, stream type 0 or 1, not cut short by FIN.");
    CLIENT_MEDIA_FRAME = ("darktower.client.media_frame", Fact, "media.frame",
        "Each client media frame has frame type 0-2, and no FIN cuts it short.");
    CLIENT_FRAME_VERSION = ("darktower.client.frame_version", Profile, "media.frame.version",
        "Each client v1 media frame has version 1 (frames after one that does not are not read).");
    CLIENT_FRAME_STREAM_ID = ("darktower.client.frame_stream_id", Profile, "DT3",
        "Each client media frame carries its stream header's stream id.");
    CLIENT_TIMESTAMP = ("darktower.client.timestamp", Profile, "media.timestamp",
        "Each client frame's timestamp, read big-endian, is microseconds since the Unix epoch: a time between the years 2000 and 2100.");
    CLIENT_RESERVED = ("darktower.client.reserved", Profile, "DT4",
        "The client sends reserved bytes and reserved flag bits as zero (stream header, v1 and v2 frames).");
    CLIENT_SEQUENCE = ("darktower.client.sequence", Profile, "DT10.sequence",
        "Sequence numbers start at 0 on each v1 media stream and rise by one per frame: a repeat or decrease there, or a repeated v2 sequence of one user and stream, is a violation; a gap (and a v2 decrease, which reordering on the way can cause) is counted.");
    CLIENT_STOP_ANSWER = ("darktower.client.stop_answer", Fact, "DH3",
        "A STOP_SENDING the client receives on a stream it sends (not yet finished) is answered with RESET_STREAM.");
    CLIENT_STOP_CODE = ("darktower.client.stop_code", Profile, "DH3.code",
        "The RESET_STREAM answering a STOP_SENDING carries the STOP_SENDING's code.");
    CLIENT_LIVENESS = ("darktower.client.liveness", Fact, "liveness, DT10",
        "The client's signaling connection never goes silent for the idle timeout (keep-alive 15 s < idle 30 s) before it is closed.");
    CLIENT_MEDIA_LIVENESS = ("darktower.client.media_liveness", Profile, "liveness.media",
        "The client's media connection never goes silent for the idle timeout (keep-alive 15 s < idle 30 s) before it is closed.");
    CLIENT_DATAGRAM = ("darktower.client.datagram", Fact, "DT11, media.v2; RFC 9297 §2.1",
        "Every datagram a client sends is a valid v2 frame (42-byte header, version 1, type 0-2, the payload length within the datagram), in WebTransport mode after quarter stream id 0.");
}

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    handshake_check::rules::find(ALL, id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_prefixed_and_statements_are_one_line() {
        handshake_check::rules::assert_well_formed(ALL, "darktower.");
        assert_eq!(by_id("darktower.client.sequence"), Some(&CLIENT_SEQUENCE));
    }
}
