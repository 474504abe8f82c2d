//! Layer 1 of the Dark Tower family: pure codecs (no I/O, no clocks, no allocation on the parse
//! path of the binary formats, no panics on any input).
//!
//! Dark Tower is a WebTransport/QUIC video-conferencing design. Its wire has three parts:
//!
//! - **media, v1** (the default profile): each client-opened unidirectional media stream (DT1)
//!   starts with a 32-byte [`StreamHeader`](header) and then carries [`Frame`]s of a 46-byte
//!   header plus payload. [`MediaStreamReader`] reads a stream from chunks as they arrive and
//!   enforces DT3 (a frame's stream id is the header's) and DT5 (a header cut short by FIN);
//!   every [`Error`] says the [`ResetCode`] it calls for.
//! - **media, v2** (the later design, DT11): [`FrameV2`]s of a 42-byte header plus payload, one per
//!   QUIC datagram.
//! - **signaling**: u32 big-endian length + protobuf ([`signaling`]): [`SignalingReader`] with the
//!   DT6 limits, and the prost messages of `proto/signaling.proto` and `proto/media.proto`
//!   ([`proto`]).
//!
//! Behind the `formats` feature, `formats` describes these wires for fuzzers of other parsers
//! (the fuzz kit): decoder verdicts, field mutators, dictionaries and seeds, and the field layouts
//! the network fuzzer shares with them.
//!
//! Views (`StreamHeader<T>`, `Frame<T>`, `FrameV2<T>`) are smoltcp-style: `new_checked` checks the
//! length once, after which no accessor can panic; the representations (`…Repr`) are small values
//! with `parse`, `emit` and `buffer_len`. Every multi-byte field is big-endian (DT4); reserved
//! bytes and flag bits are ignored on receipt and emitted as zero.
//!
//! ```
//! use handshake_darktower_wire::{FourCc, MediaEvent, MediaStreamReader, StreamHeaderRepr, StreamId, StreamType};
//!
//! let header = StreamHeaderRepr {
//!     stream_type: StreamType::Video,
//!     stream_id: StreamId([0x55; 16]),
//!     codec: FourCc::VP09,
//! };
//! let bytes = header.to_bytes();
//! assert_eq!(StreamHeaderRepr::parse(&bytes), Ok(header));
//!
//! // The same bytes in two chunks: the reader reports the header once both have arrived.
//! let mut reader = MediaStreamReader::new();
//! let (first, second) = bytes.split_at(10);
//! assert_eq!(reader.next(&mut &first[..]), None);
//! assert_eq!(reader.next(&mut &second[..]), Some(Ok(MediaEvent::Header(header))));
//! assert_eq!(reader.finish(), Ok(())); // a FIN here ends the stream cleanly
//! ```
//!
//! Facts and decisions: `shared/protocols/darktower.md`.
#![forbid(unsafe_code)]

mod error;
mod field;
pub mod frame;
pub mod frame_v2;
pub mod header;
pub mod reader;
pub mod reset;
pub mod signaling;

#[cfg(feature = "arbitrary")]
pub mod fuzzing;

#[cfg(feature = "formats")]
pub mod formats;

/// The protobuf messages, generated at build time from `proto/*.proto` (prost-build over a
/// descriptor set made by protox).
#[allow(missing_docs, clippy::all, clippy::pedantic, clippy::unwrap_used)]
pub mod proto {
    /// `package dark_tower.signaling` (`proto/signaling.proto`).
    pub mod signaling {
        include!(concat!(env!("OUT_DIR"), "/dark_tower.signaling.rs"));
    }
    /// `package dark_tower.media` (`proto/media.proto`, DT7).
    pub mod media {
        include!(concat!(env!("OUT_DIR"), "/dark_tower.media.rs"));
    }
}

pub use error::{EmitError, Error};
pub use frame::{
    Flags, Frame, FrameHeaderRepr, FrameRepr, FrameType, FRAME_HEADER_LEN, FRAME_VERSION,
};
pub use frame_v2::{FrameV2, FrameV2Repr, FRAME_V2_HEADER_LEN};
pub use header::{
    FourCc, StreamHeader, StreamHeaderRepr, StreamId, StreamType, HEADER_LEN, MAGIC, VERSION,
};
pub use reader::{MediaEvent, MediaStreamReader};
pub use reset::{from_http3, to_http3, ResetCode, HTTP3_ERROR_FIRST, HTTP3_ERROR_LAST};
pub use signaling::{
    decode_bare_join_request, decode_client_frame, decode_client_message,
    decode_first_client_message, decode_later_client_message, decode_media_client_message,
    decode_media_server_message, decode_server_frame, decode_server_message,
    decode_server_message_after, encode_frame, encode_message, is_media_auth, is_signaling,
    jwt_text, media_auth_prefix, media_auth_token, split_frame, DecodeError, Envelope,
    FramingError, SignalingReader, MAX_MESSAGE_LEN,
};
