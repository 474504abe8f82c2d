//! Pure codecs for the protocols handshake-harness tests.
//!
//! Layer 1 of the harness: no I/O, no clocks, no allocation on any parse path. Each protocol lives in
//! its own module and follows the same pattern (after smoltcp's `wire`):
//!
//! * **views** (`…Packet<T: AsRef<[u8]>>`) are zero-copy windows over a buffer. `new_checked` verifies the
//!   length once; after that no accessor can panic. Accessors never panic on an unchecked buffer either:
//!   a field that lies outside the buffer reads as zero (documented, never relied upon).
//! * **representations** (`Datagram<'a>`) are the decoded values. They borrow payloads from the buffer,
//!   so parsing allocates nothing; `OwnedDatagram` is the owned form for building and scripting.
//! * `parse` reads a representation from bytes; `emit` writes one into a caller's buffer (or a `Vec`).
//!   For every representation `r`, `parse(emit(r)) == r`, and for every byte string `b` that parses,
//!   `parse(emit(parse(b))) == parse(b)`. Both laws are property-tested and fuzzed.
//! * errors are small `Copy` values that name the datagram kind and the needed and actual lengths.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod mediastream;
