//! Read and write UDP datagrams in pcap / pcapng capture files.
//!
//! The crate knows nothing about the protocols carried: it only turns captures into UDP
//! datagrams (addresses, ports, time, payload) and back.
//!
//! # Reading
//!
//! [`open`] takes the whole capture as a byte slice, detects classic pcap (microsecond or
//! nanosecond, either byte order) or pcapng by its magic number, and returns a
//! [`CaptureReader`]: an iterator of `Result<UdpDatagram, CaptureError>`.
//!
//! - Payloads borrow from the input; only datagrams reassembled from IP fragments own theirs.
//!   A datagram sent as IPv4 fragments or with the IPv6 fragment header is yielded once, whole,
//!   with the packet number and time of its last fragment. Reassembly is bounded (64 KiB per
//!   datagram, 64 datagrams in progress, 30 s capture-time timeout) and counts what it drops.
//! - Anything that is not a decodable UDP datagram (ARP, TCP, ICMP, unsupported link types,
//!   frames cut by the snap length, bad IP headers) is skipped and counted by reason in
//!   [`CaptureReader::skipped`]; it is never an error. UDP checksums are not checked.
//! - A damaged file (truncated record, bad block) is read up to the damage, then the iterator
//!   yields one [`CaptureError::Damaged`] with the byte offset, and ends.
//! - The reader never panics, whatever the input bytes.
//!
//! ```
//! # fn main() -> Result<(), handshake_capture::CaptureError> {
//! use handshake_capture::{open, CaptureWriter};
//!
//! let mut writer = CaptureWriter::new(Vec::new())?;
//! let (a, b) = ("192.0.2.1:5000".parse().unwrap(), "192.0.2.2:443".parse().unwrap());
//! writer.write_datagram(1_700_000_000_123_456_789, a, b, b"hello", Some("first"))?;
//! let bytes = writer.finish()?;
//!
//! let mut reader = open(&bytes)?.with_port(Some(443));
//! let datagram = reader.next().unwrap()?;
//! assert_eq!((datagram.src, datagram.dst), (a, b));
//! assert_eq!(datagram.timestamp_ns, 1_700_000_000_123_456_789);
//! assert_eq!(&datagram.payload[..], b"hello");
//! assert!(reader.next().is_none());
//! assert_eq!(reader.skipped().total(), 0);
//! # Ok(())
//! # }
//! ```
//!
//! # Writing
//!
//! [`CaptureWriter`] writes Ethernet / IPv4 or IPv6 / UDP frames with correct lengths and
//! checksums into pcapng (default, with per-record comments) or classic pcap (comments
//! dropped), with nanosecond timestamps. Output is deterministic: the same calls give the
//! same bytes. Large datagrams are one oversized frame unless an MTU is set with
//! [`CaptureWriter::with_mtu`], which splits them into IP fragments.

#![forbid(unsafe_code)]

mod decode;
mod defrag;
mod error;
mod reader;
mod writer;

pub use error::CaptureError;
pub use reader::{open, CaptureReader, SkipCounts, UdpDatagram};
pub use writer::{CaptureFormat, CaptureWriter, USER_APPLICATION};
