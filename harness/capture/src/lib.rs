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
//! - Payloads and pcapng packet comments borrow from the input; only datagrams reassembled from
//!   IP fragments own their payload. A datagram sent as IPv4 fragments or with the IPv6 fragment
//!   header is yielded once, whole, with the packet number, time and comment of its last
//!   fragment. Reassembly is bounded (64 KiB per
//!   datagram, 64 datagrams in progress, 30 s capture-time timeout) and counts what it drops.
//! - Anything that is not a decodable UDP datagram (ARP, TCP, ICMP, unsupported link types,
//!   frames cut by the snap length, bad IP headers) is skipped and counted by reason in
//!   [`CaptureReader::skipped`]; it is never an error. UDP checksums are not checked.
//! - A damaged file (truncated record, bad block) is read up to the damage, then the iterator
//!   yields one [`CaptureError::Damaged`] with the byte offset, and ends.
//! - The reader never panics, whatever the input bytes.
//!
//! [`read_stream`] reads a capture of any size from a file (any `Read`) through a few reused
//! buffers, in bounded memory, and gives exactly what [`open`] gives for the same bytes.
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
//! [`CaptureWriter::write_frame`] writes an already-built Ethernet frame as is.
//!
//! # TLS decryption secrets
//!
//! [`CaptureWriter::write_secrets`] stores a TLS key log (NSS key log format) in a pcapng
//! Decryption Secrets Block, so Wireshark and tshark decrypt the capture on their own. It must
//! come before the first packet: tshark 4.0 decrypts a packet only with the secrets read before
//! it. Reading, [`CaptureReader::secrets`] collects them as the packets are read, and
//! [`decryption_secrets`] gets them by walking the block headers only.
//!
//! # Virtual-link traces
//!
//! [`trace::write_trace`] writes the trace of a [`handshake_net::VirtualLink`] as the capture
//! one endpoint would have made: what it sent, what it received, and (marked with a comment
//! starting `not delivered: `) what the harness kept from it, each with a comment saying what
//! the harness did.
//!
//! # Live capture
//!
//! [`live::capture`] / [`LiveCapture`] capture UDP traffic from an Ethernet-type interface
//! (Linux `lo` included) with `pnet_datalink`, without libpcap; they need root or
//! `CAP_NET_RAW`.

#![forbid(unsafe_code)]

mod decode;
mod defrag;
mod error;
pub mod live;
mod reader;
mod secrets;
pub mod stop_signal;
pub mod stream;
pub mod trace;
mod writer;

pub use error::CaptureError;
pub use live::{LiveCapture, LiveLimits, LiveStats};
pub use reader::{open, CaptureReader, SkipCounts, UdpDatagram};
pub use secrets::decryption_secrets;
pub use stop_signal::{StopOnSignal, StopOnSignalError};
pub use stream::{read_stream, read_stream_threaded, StreamEnd, StreamOptions};
pub use trace::{write_trace, TraceOptions, ALTERED_IN_TRANSIT, NOT_DELIVERED, RECEIVED_CHANGED};
pub use writer::{CaptureFormat, CaptureWriter, USER_APPLICATION};
