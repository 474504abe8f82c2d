//! Dark Tower's formats for fuzzers of other people's parsers (issue 77): the v1 stream header,
//! one v1 frame, one v2 datagram, a signaling stream and a media authentication message, each with
//! the crate's own parsers as reference decoder, a field-level mutator over the crate's
//! representations, a dictionary and seeds. [`layout`] holds the field layouts and one-field
//! mutations the network fuzzer (`harness fuzz`) shares with these mutators.

use handshake_formats::{InputUnit, WireFormat};
use serde_json::{Map, Value};

pub(crate) mod json;
pub mod layout;
mod media;
mod protobuf;
mod signaling;

pub use media::{
    decode_frame_v1, decode_frame_v2, decode_header, mutate_frame_v1, mutate_frame_v2,
    mutate_header,
};
pub use signaling::{decode_media_auth, decode_signaling, mutate_media_auth, mutate_signaling};

/// Dark Tower's formats, in the kit's order.
pub const FORMATS: &[WireFormat] = &[
    WireFormat {
        id: "darktower.header",
        about: "the 32-byte v1 media stream header: magic DART, version 1, stream type (0 audio, 1 video: DT2), 16-byte stream id, codec FourCC (unknown ones accepted), 6 reserved bytes (ignored); bytes after it are the stream's frames, counted as trailing_bytes (darktower.md, DT2, DT4, DT5)",
        unit: InputUnit::Message,
        decode: media::decode_header,
        mutate: media::mutate_header,
        dictionary: media::header_dictionary,
        seeds: media::header_seeds,
    },
    WireFormat {
        id: "darktower.frame_v1",
        about: "one v1 media frame: a 46-byte header (version 1, frame type 0-2, stream id, timestamp, sequence, payload length, flags, reserved) and its payload, big-endian (DT4); bytes after it are the next frame, counted as trailing_bytes; DT3 (the header's stream id) is not judged without the stream header",
        unit: InputUnit::Message,
        decode: media::decode_frame_v1,
        mutate: media::mutate_frame_v1,
        dictionary: media::frame_v1_dictionary,
        seeds: media::frame_v1_seeds,
    },
    WireFormat {
        id: "darktower.frame_v2",
        about: "one v2 media datagram (DT11): a 42-byte header (version 1, frame type 0-2, user id u64, stream id u32, timestamp, sequence, payload length, flags, reserved) and its payload; shorter than 42 + payload length, version != 1 or type > 2 is dropped; bytes after the payload are accepted as trailing_bytes",
        unit: InputUnit::Datagram,
        decode: media::decode_frame_v2,
        mutate: media::mutate_frame_v2,
        dictionary: media::frame_v2_dictionary,
        seeds: media::frame_v2_seeds,
    },
    WireFormat {
        id: "darktower.signaling",
        about: "one direction of the signaling stream: u32 big-endian length (1..=65,536, DT6) + protobuf, ending at a message boundary; read as client->server first (ClientMessage, the first a JoinRequest with a name of at most 256 bytes, DT6; the first may be bare and later ones either envelope, as the controller reads them), else as server->client (ServerMessage); fields.direction says which reading accepted it (both wrappers put their first case in field 1), fields.messages each message's case, length and fields",
        unit: InputUnit::Stream,
        decode: signaling::decode_signaling,
        mutate: signaling::mutate_signaling,
        dictionary: signaling::signaling_dictionary,
        seeds: signaling::signaling_seeds,
    },
    WireFormat {
        id: "darktower.media_auth",
        about: "one message of the media authentication stream (DT7): a u32 big-endian length + a MediaClientMessage (ConnectRequest; or a JWT, as the handler also takes it) or a MediaServerMessage (ConnectResponse, ErrorMessage), exactly one frame, since both ends read only the first message of the stream; fields.direction is client, server or either (field 1 reads both ways)",
        unit: InputUnit::Message,
        decode: signaling::decode_media_auth,
        mutate: signaling::mutate_media_auth,
        dictionary: signaling::media_auth_dictionary,
        seeds: signaling::media_auth_seeds,
    },
];

/// Lowercase hex, as the verdicts show bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A `json!({...})` object's map (anything else: empty).
fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}
