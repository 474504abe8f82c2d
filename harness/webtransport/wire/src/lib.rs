//! Generic HTTP/3 + WebTransport framing over QUIC streams, as pure codecs: no I/O, no clocks, no
//! panics on any input. The harness speaks HTTP/3 itself over quinn-proto streams (so it can also
//! send malformed framing on purpose and judge decrypted captures); this crate is that layer, and
//! knows nothing of any protocol family.
//!
//! - [`varint`]: QUIC variable-length integers (shortest or forced length).
//! - [`frame`]: HTTP/3 frames (DATA, HEADERS, SETTINGS, GOAWAY, the rest raw), setting ids and the
//!   GREASE rule.
//! - [`stream`]: unidirectional stream types (control, push, QPACK encoder/decoder, WebTransport +
//!   session id), the bidirectional WebTransport signal (0x41 + session id), and [`StreamReader`],
//!   which reads a stream's prefix and frames from chunks as they arrive.
//! - [`datagram`]: HTTP datagrams (quarter stream id + payload).
//! - [`capsule`]: capsules, CLOSE_WEBTRANSPORT_SESSION.
//! - [`error_code`]: HTTP/3 error codes and the WebTransport ↔ HTTP/3 application code mapping.
//! - [`qpack`]: static-table QPACK field sections, the extended CONNECT fields; [`huffman`]: the
//!   HPACK/QPACK Huffman code.
//!
//! Wire facts and the differences between aioquic 1.2 and web-transport-quinn 0.13 are in
//! `notes/webtransport-wire.md` (outside the repository for now).
//!
//! ```
//! use handshake_webtransport_wire::{Frame, FieldSection, StreamReader, UniStreamType, qpack, frame::Settings};
//!
//! // A client's control stream: type 0x00, then SETTINGS enabling WebTransport.
//! let mut control = UniStreamType::Control.to_vec();
//! Frame::Settings(Settings::webtransport(1)).emit(&mut control);
//!
//! // Read back in two chunks.
//! let mut reader = StreamReader::new();
//! let (a, b) = control.split_at(3);
//! reader.push(a);
//! assert_eq!(reader.uni_type(), Ok(Some(UniStreamType::Control)));
//! assert_eq!(reader.next_frame(), Ok(None));
//! reader.push(b);
//! let frame = reader.next_frame().unwrap().unwrap();
//! assert!(matches!(frame.as_frame(), Frame::Settings(s) if s.webtransport_sessions() == 1));
//!
//! // The CONNECT's HEADERS frame.
//! let section = FieldSection::encode(&qpack::webtransport_connect("example.com", "/wt")).to_vec();
//! let headers = Frame::Headers(&section).to_vec();
//! assert_eq!(headers[0], 0x01);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod capsule;
pub mod datagram;
mod error;
pub mod error_code;
pub mod frame;
pub mod huffman;
pub mod qpack;
pub mod stream;
pub mod varint;

pub use datagram::Datagram;
pub use error::{Error, QpackError};
pub use frame::{Frame, OwnedFrame, Settings};
pub use qpack::{Field, FieldLine, FieldSection};
pub use stream::{BidiPrefix, StreamReader, UniStreamType};
pub use varint::VarInt;
