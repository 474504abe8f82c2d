//! The seeds' messages: each case of both wrappers and of the media authentication messages.

use handshake_formats::Seed;

use crate::proto::media::{
    media_client_message, media_server_message, ConnectRequest, MediaClientMessage,
    MediaServerMessage,
};
use crate::proto::signaling::{
    client_message, server_message, ClientMessage, EncryptionKeys, ErrorCode, ErrorMessage,
    JoinRequest, JoinResponse, LeaveReason, MediaServerInfo, MediaStream, Participant,
    ParticipantCapabilities, ParticipantJoined, ParticipantLeft, PublishStream, ServerMessage,
    StreamMetadata, StreamPublished, StreamQualityUpdate, StreamType, SubscribeStream,
    SubscriptionOptions, UnsubscribeStream, VideoMetadata,
};
use crate::signaling::{encode_frame, encode_message, MAX_MESSAGE_LEN, MAX_PARTICIPANT_NAME_LEN};

pub(super) const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJtZWV0aW5nX2lkIjoibXRnLTEyMyIsImV4cCI6MTcwMDAwMDMwMH0.c2lnbmF0dXJl";

pub(super) fn join_minimal() -> JoinRequest {
    JoinRequest {
        meeting_id: "mtg-123".into(),
        join_token: JWT.into(),
        ..JoinRequest::default()
    }
}

pub(super) fn join_wrapped(r: JoinRequest) -> ClientMessage {
    ClientMessage {
        message: Some(client_message::Message::JoinRequest(r)),
    }
}

fn client_frame(m: client_message::Message) -> Vec<u8> {
    encode_message(&ClientMessage { message: Some(m) }).unwrap_or_default()
}

fn server_frame(m: server_message::Message) -> Vec<u8> {
    encode_message(&ServerMessage { message: Some(m) }).unwrap_or_default()
}

fn metadata() -> StreamMetadata {
    StreamMetadata {
        codec: "VP9".into(),
        max_bitrate: 2_500_000,
        video: Some(VideoMetadata {
            width: 1280,
            height: 720,
            framerate: 30,
            simulcast_layers: Vec::new(),
        }),
    }
}

fn participant(id: &str) -> Participant {
    Participant {
        participant_id: id.into(),
        name: "Bob".into(),
        streams: vec![MediaStream {
            stream_id: "s1".into(),
            stream_type: StreamType::VideoCamera as i32,
            metadata: Some(metadata()),
        }],
        joined_at: 1_700_000_000,
    }
}

fn client_cases() -> Vec<(&'static str, client_message::Message)> {
    use client_message::Message as M;
    vec![
        (
            "publish-stream",
            M::PublishStream(PublishStream {
                stream_id: "s0".into(),
                stream_type: StreamType::VideoCamera as i32,
                metadata: Some(metadata()),
            }),
        ),
        (
            "subscribe-stream",
            M::SubscribeStream(SubscribeStream {
                stream_id: "s1".into(),
                options: Some(SubscriptionOptions {
                    preferred_layer: "h".into(),
                    max_bitrate: 1_000_000,
                }),
            }),
        ),
        (
            "unsubscribe-stream",
            M::UnsubscribeStream(UnsubscribeStream {
                stream_id: "s1".into(),
            }),
        ),
        (
            "stream-quality-update",
            M::StreamQualityUpdate(StreamQualityUpdate {
                stream_id: "s1".into(),
                available_bitrate: 800_000,
                packet_loss: 0.25,
                rtt_ms: 40,
            }),
        ),
    ]
}

fn server_cases() -> Vec<(&'static str, server_message::Message)> {
    use server_message::Message as M;
    vec![
        (
            "participant-joined",
            M::ParticipantJoined(ParticipantJoined {
                participant: Some(participant("p-2")),
            }),
        ),
        (
            "participant-left",
            M::ParticipantLeft(ParticipantLeft {
                participant_id: "p-2".into(),
                reason: LeaveReason::ConnectionLost as i32,
            }),
        ),
        (
            "stream-published",
            M::StreamPublished(StreamPublished {
                participant_id: "p-2".into(),
                stream: Some(participant("p-2").streams.remove(0)),
            }),
        ),
        (
            "stream-quality-update",
            M::StreamQualityUpdate(StreamQualityUpdate {
                stream_id: "s1".into(),
                available_bitrate: 800_000,
                packet_loss: 0.125,
                rtt_ms: 40,
            }),
        ),
    ]
}

fn join_response() -> server_message::Message {
    server_message::Message::JoinResponse(JoinResponse {
        participant_id: "p-1".into(),
        existing_participants: vec![participant("p-0")],
        media_server: Some(MediaServerInfo {
            media_handler_url: "https://media.example:4433/".into(),
            connection_token: JWT.into(),
        }),
        encryption_keys: Some(EncryptionKeys {
            public_key: vec![0x04, 0xff, 0x00, 0x80],
            key_id: "k1".into(),
        }),
    })
}

pub(super) fn error_message(code: ErrorCode, text: &str) -> ErrorMessage {
    ErrorMessage {
        code: code as i32,
        message: text.into(),
        details: [("reason".to_owned(), "token".to_owned())].into(),
    }
}

/// Each client case after the JoinRequest DT6 puts first (wrapped, and bare as the flow document
/// sends it), each server case after a JoinResponse or alone, whole sessions both ways; the
/// framing errors of DT6, a body no wrapper reads, a stream that starts otherwise than DT6 says.
pub fn signaling_seeds() -> Vec<Seed> {
    let join = encode_message(&join_wrapped(join_minimal())).unwrap_or_default();
    let full = JoinRequest {
        participant_name: "Alice".into(),
        capabilities: Some(ParticipantCapabilities {
            video_codecs: vec!["VP8".into(), "VP9".into(), "AV1".into(), "H264".into()],
            audio_codecs: vec!["opus".into()],
            supports_simulcast: true,
            max_video_streams: 4,
        }),
        ..join_minimal()
    };
    let mut s = vec![
        Seed::new("client-join-request", join.clone()),
        Seed::new(
            "client-join-request-full",
            encode_message(&join_wrapped(full)).unwrap_or_default(),
        ),
        Seed::new(
            "client-join-request-bare",
            encode_message(&join_minimal()).unwrap_or_default(),
        ),
    ];
    let mut session = join.clone();
    for (name, m) in client_cases() {
        let frame = client_frame(m);
        session.extend_from_slice(&frame);
        s.push(Seed::new(
            format!("client-join-then-{name}"),
            [join.clone(), frame].concat(),
        ));
    }
    s.push(Seed::new("client-session", session));

    let response = server_frame(join_response());
    let mut session = response.clone();
    s.push(Seed::new("server-join-response", response.clone()));
    for (name, m) in server_cases() {
        let frame = server_frame(m);
        session.extend_from_slice(&frame);
        s.push(Seed::new(
            format!("server-join-response-then-{name}"),
            [response.clone(), frame].concat(),
        ));
    }
    s.push(Seed::new("server-session", session));
    s.push(Seed::new(
        "server-error",
        server_frame(server_message::Message::Error(error_message(
            ErrorCode::Unauthorized,
            "bad token",
        ))),
    ));
    s.push(Seed::new("empty-stream", []));

    s.push(Seed::new("invalid-length-zero", [0u8; 4]));
    s.push(Seed::new(
        "invalid-length-zero-after-message",
        [join.clone(), vec![0; 4]].concat(),
    ));
    s.push(Seed::new(
        "invalid-length-65537",
        [&(MAX_MESSAGE_LEN + 1).to_be_bytes()[..], &[0x0a; 16]].concat(),
    ));
    s.push(Seed::new("invalid-length-max", u32::MAX.to_be_bytes()));
    s.push(Seed::new("invalid-fin-in-prefix", join[..3].to_vec()));
    s.push(Seed::new(
        "invalid-fin-in-message",
        join[..join.len() - 1].to_vec(),
    ));
    s.push(Seed::new(
        "invalid-protobuf-length-beyond-end",
        encode_frame(&[0x0a, 0x05, 0x0a]).unwrap_or_default(),
    ));
    s.push(Seed::new(
        "invalid-no-message",
        encode_frame(&[0x78, 0x01]).unwrap_or_default(),
    ));
    let long_name = JoinRequest {
        participant_name: "n".repeat(MAX_PARTICIPANT_NAME_LEN + 1),
        join_token: "t".into(),
        ..JoinRequest::default()
    };
    s.push(Seed::new(
        "invalid-client-name-257-bytes",
        encode_message(&join_wrapped(long_name)).unwrap_or_default(),
    ));
    s
}

pub(super) fn media_client(token: &str) -> Vec<u8> {
    encode_message(&MediaClientMessage {
        message: Some(media_client_message::Message::ConnectRequest(
            ConnectRequest {
                join_token: token.into(),
            },
        )),
    })
    .unwrap_or_default()
}

pub(super) fn media_server(m: media_server_message::Message) -> Vec<u8> {
    encode_message(&MediaServerMessage { message: Some(m) }).unwrap_or_default()
}
