//! Reading a capture of any size from a file (or any [`Read`]) in bounded memory.
//!
//! [`open`](crate::open) reads a capture held whole in memory. [`read_stream`] reads it piece by
//! piece through a few reused buffers: records are framed from their headers only, each piece of
//! whole records goes through the same [`CaptureReader`] (its state carried from piece to piece),
//! and only a record cut by a buffer's end is copied, into a carry buffer. So memory stays at a few
//! buffers whatever the file's size, nothing of the file is copied twice, and the datagrams,
//! skips, damage and secrets are exactly what [`open`](crate::open) gives for the same bytes
//! (the tests compare both over every golden capture, cut at every size).

use std::io::Read;

use pcap_file::pcapng::blocks::SECTION_HEADER_BLOCK;

use crate::reader::{open, CaptureReader, SkipCounts, UdpDatagram};
use crate::{CaptureError, CaptureFormat};

/// A record claiming more than this is not waited for (a real one is at most a few hundred KiB:
/// a bigger claim is a broken length field): the reader gets the file's next `MAX_RECORD` bytes
/// as its end and calls the record damaged. Also the most memory a broken header costs.
pub const MAX_RECORD: usize = 64 << 20;

/// How [`read_stream`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamOptions {
    /// Bytes read at a time (at least 1).
    pub chunk: usize,
}

impl Default for StreamOptions {
    fn default() -> Self {
        // Measured on the 1,000,000-datagram bench capture: 64 KiB to 4 MiB are within 5 %.
        StreamOptions { chunk: 1 << 20 }
    }
}

/// What [`read_stream`] found besides the datagrams.
#[derive(Debug)]
pub struct StreamEnd {
    /// The container format.
    pub format: CaptureFormat,
    /// Packets skipped, by reason.
    pub skipped: SkipCounts,
    /// Packet records read.
    pub packets: u64,
    /// The TLS key log of the capture's Decryption Secrets Blocks (see
    /// [`CaptureReader::secrets`]).
    pub secrets: String,
    /// Set when the file is damaged or could not be read to its end: the datagrams given are
    /// those before it.
    pub damage: Option<CaptureError>,
}

/// Reads the capture in `source` and calls `each` with every UDP datagram (only those to or
/// from `port`, when given), in file order.
///
/// # Errors
///
/// As [`open`](crate::open) when the start of the file is not a capture; a read error at the
/// start is [`CaptureError::Io`]. Damage (and a read error) later in the file is
/// [`StreamEnd::damage`], after the datagrams before it.
pub fn read_stream<R: Read>(
    mut source: R,
    port: Option<u16>,
    options: StreamOptions,
    mut each: impl FnMut(UdpDatagram<'_>),
) -> Result<StreamEnd, CaptureError> {
    let chunk = options.chunk.max(1);
    let mut pieces = Pieces::new(port);
    let mut buf = Vec::with_capacity(chunk);
    loop {
        buf.clear();
        match fill(&mut source, &mut buf, chunk) {
            Ok(0) => break,
            Ok(_) => {
                if pieces.feed(&buf, &mut each)? {
                    break;
                }
            }
            Err(e) => {
                pieces.read_failed(e)?;
                break;
            }
        }
    }
    pieces.end(&mut each)
}

/// Reads into `buf` until it holds `chunk` bytes or the source ends: the bytes read.
fn fill(source: &mut impl Read, buf: &mut Vec<u8>, chunk: usize) -> std::io::Result<usize> {
    let limit = u64::try_from(chunk).unwrap_or(u64::MAX);
    source.by_ref().take(limit).read_to_end(buf)
}

/// Where the records of a capture end, read from their headers alone.
#[derive(Debug, Clone, Copy)]
enum Framer {
    /// Before the file header.
    Start,
    Pcap {
        big_endian: bool,
    },
    /// pcapng, in the byte order of the current section.
    PcapNg {
        big_endian: bool,
    },
}

/// What the framer says about the bytes at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// The next record (or file header, or block) is this long.
    Len(usize),
    /// Its header is not all there: this many bytes tell its length.
    NeedHeader(usize),
    /// Its header is no header (unknown magic, a length no record has): the reader must see the
    /// rest of the file, as the end, to say what is wrong.
    Broken,
}

const PCAP_FILE_HEADER: usize = 24;
const PCAP_RECORD_HEADER: usize = 16;
const PCAPNG_BLOCK_HEADER: usize = 12;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;

impl Framer {
    /// The length of the whole classic-pcap records at the start of `bytes` whose length is
    /// ordinary: [`Framer::frame`]'s loop for the common case (0 for pcapng or at the start).
    #[inline]
    fn pcap_records(&self, bytes: &[u8]) -> usize {
        let Framer::Pcap { big_endian } = *self else {
            return 0;
        };
        let mut at = 0;
        while let Some(header) = bytes
            .get(at..)
            .and_then(|b| b.first_chunk::<PCAP_RECORD_HEADER>())
        {
            let four = [header[8], header[9], header[10], header[11]];
            let captured = if big_endian {
                u32::from_be_bytes(four)
            } else {
                u32::from_le_bytes(four)
            } as usize;
            let end = at + PCAP_RECORD_HEADER + captured;
            if captured > MAX_RECORD || end > bytes.len() {
                break;
            }
            at = end;
        }
        at
    }

    fn frame(&mut self, bytes: &[u8]) -> Frame {
        let word = |at: usize, big: bool| {
            let four: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
            Some(if big {
                u32::from_be_bytes(four)
            } else {
                u32::from_le_bytes(four)
            })
        };
        let len = |n: u32| match usize::try_from(n) {
            Ok(n) if n <= MAX_RECORD => Frame::Len(n),
            _ => Frame::Broken,
        };
        match *self {
            Framer::Start => {
                let Some(magic) = word(0, true) else {
                    return Frame::NeedHeader(4);
                };
                match magic {
                    0xA1B2_C3D4 | 0xA1B2_3C4D => {
                        *self = Framer::Pcap { big_endian: true };
                        Frame::Len(PCAP_FILE_HEADER)
                    }
                    0xD4C3_B2A1 | 0x4D3C_B2A1 => {
                        *self = Framer::Pcap { big_endian: false };
                        Frame::Len(PCAP_FILE_HEADER)
                    }
                    SECTION_HEADER_BLOCK => {
                        *self = Framer::PcapNg { big_endian: false };
                        self.frame(bytes)
                    }
                    _ => Frame::Broken,
                }
            }
            Framer::Pcap { big_endian } => match word(8, big_endian) {
                None => Frame::NeedHeader(PCAP_RECORD_HEADER),
                Some(captured) => match len(captured) {
                    Frame::Len(n) => len_plus(n, PCAP_RECORD_HEADER),
                    other => other,
                },
            },
            Framer::PcapNg { big_endian } => {
                let Some(block_type) = word(0, big_endian) else {
                    return Frame::NeedHeader(PCAPNG_BLOCK_HEADER);
                };
                let mut big = big_endian;
                if block_type == SECTION_HEADER_BLOCK {
                    // The section's byte order is its byte-order magic's.
                    match word(8, true) {
                        None => return Frame::NeedHeader(PCAPNG_BLOCK_HEADER),
                        Some(BYTE_ORDER_MAGIC) => big = true,
                        Some(m) if m.swap_bytes() == BYTE_ORDER_MAGIC => big = false,
                        Some(_) => return Frame::Broken,
                    }
                    *self = Framer::PcapNg { big_endian: big };
                }
                match word(4, big) {
                    None => Frame::NeedHeader(PCAPNG_BLOCK_HEADER),
                    Some(total) if total < 12 || total % 4 != 0 => Frame::Broken,
                    Some(total) => len(total),
                }
            }
        }
    }
}

fn len_plus(n: usize, header: usize) -> Frame {
    match n.checked_add(header) {
        Some(total) => Frame::Len(total),
        None => Frame::Broken,
    }
}

/// The reading state between pieces: the reader (parked between pieces), the framer, the bytes
/// of a record cut by a buffer's end.
struct Pieces {
    port: Option<u16>,
    framer: Framer,
    reader: Option<CaptureReader<'static>>,
    /// The start of a record whose end is in a later buffer.
    carry: Vec<u8>,
    /// That record's length, once its header told it (the framer reads each header once).
    carry_len: Option<usize>,
    /// A broken header was met: the rest of the file is gathered in `carry` ([`Pieces::drain`]).
    draining: bool,
    /// Offset in the file of the first byte not yet handed to the reader.
    handed: usize,
    damage: Option<CaptureError>,
    /// The reader has seen the end (damage, or a broken header given as the end).
    done: bool,
}

impl Pieces {
    fn new(port: Option<u16>) -> Pieces {
        Pieces {
            port,
            framer: Framer::Start,
            reader: None,
            carry: Vec::new(),
            carry_len: None,
            draining: false,
            handed: 0,
            damage: None,
            done: false,
        }
    }

    /// Takes the next buffer of the file; `Ok(true)` when reading can stop (the reader has seen
    /// the end).
    fn feed(
        &mut self,
        buf: &[u8],
        each: &mut impl FnMut(UdpDatagram<'_>),
    ) -> Result<bool, CaptureError> {
        if self.draining {
            return self.drain(buf, each);
        }
        let mut at = 0;
        // First the record the previous buffer cut, completed from this one.
        while !self.carry.is_empty() {
            let want = match self.carry_len {
                Some(n) => n,
                None => match self.framer.frame(&self.carry) {
                    Frame::Len(n) => {
                        self.carry_len = Some(n);
                        n
                    }
                    Frame::NeedHeader(n) if n > self.carry.len() => n,
                    Frame::NeedHeader(_) | Frame::Broken => {
                        self.draining = true;
                        return self.drain(&buf[at..], each);
                    }
                },
            };
            if self.carry.len() < want {
                let take = (want - self.carry.len()).min(buf.len() - at);
                self.carry.extend_from_slice(&buf[at..at + take]);
                at += take;
                if self.carry.len() < want {
                    return Ok(false);
                }
                if self.carry_len.is_none() {
                    continue; // the header is whole now: it tells the length
                }
            }
            let carry = std::mem::take(&mut self.carry);
            self.carry_len = None;
            self.hand(&carry, true, each)?;
            self.carry = carry;
            self.carry.clear();
            if self.done {
                return Ok(true);
            }
        }
        // Then every whole record of this buffer, in one piece.
        let start = at;
        let mut broken = false;
        while at < buf.len() {
            at += self.framer.pcap_records(&buf[at..]);
            if at == buf.len() {
                break;
            }
            match self.framer.frame(&buf[at..]) {
                Frame::Len(n) if n <= buf.len() - at => at += n,
                Frame::Len(n) => {
                    self.carry_len = Some(n);
                    break;
                }
                Frame::NeedHeader(_) => break,
                Frame::Broken => {
                    broken = true;
                    break;
                }
            }
        }
        if broken {
            self.draining = true;
            self.carry.extend_from_slice(&buf[start..]);
            return self.drain(&[], each);
        }
        if at > start {
            self.hand(&buf[start..at], true, each)?;
            if self.done {
                return Ok(true);
            }
        }
        self.carry.extend_from_slice(&buf[at..]);
        Ok(false)
    }

    /// After a broken header, the reader must see the rest of the file as its end to say what is
    /// wrong (and how much remains): the rest is gathered, up to [`MAX_RECORD`] bytes.
    fn drain(
        &mut self,
        buf: &[u8],
        each: &mut impl FnMut(UdpDatagram<'_>),
    ) -> Result<bool, CaptureError> {
        let take = MAX_RECORD.saturating_sub(self.carry.len()).min(buf.len());
        self.carry.extend_from_slice(&buf[..take]);
        if self.carry.len() < MAX_RECORD {
            return Ok(false);
        }
        let carry = std::mem::take(&mut self.carry);
        self.hand(&carry, false, each)?;
        Ok(true)
    }

    /// Hands `piece` (whole records, unless it is the last: `more_follows` false) to the
    /// reader, which is opened on the first piece.
    fn hand(
        &mut self,
        piece: &[u8],
        more_follows: bool,
        each: &mut impl FnMut(UdpDatagram<'_>),
    ) -> Result<(), CaptureError> {
        let mut reader = match self.reader.take() {
            Some(parked) => parked.continue_on(piece, self.handed, more_follows),
            None => open(piece)?
                .with_port(self.port)
                .pausing_at_end(more_follows),
        };
        for item in reader.by_ref() {
            match item {
                Ok(datagram) => each(datagram),
                Err(e) => {
                    self.damage = Some(e);
                    break;
                }
            }
        }
        self.done = self.damage.is_some() || !more_follows;
        self.handed += piece.len();
        self.reader = Some(reader.continue_on(&[], self.handed, true));
        Ok(())
    }

    /// The file could not be read on: damage after what was read (an error at the start).
    fn read_failed(&mut self, e: std::io::Error) -> Result<(), CaptureError> {
        if self.reader.is_none() {
            return Err(CaptureError::Io(e));
        }
        self.damage = Some(CaptureError::Io(e));
        self.done = true;
        Ok(())
    }

    /// The end of the file: what is left (a record cut short, or nothing) goes to the reader as
    /// the end.
    fn end(mut self, each: &mut impl FnMut(UdpDatagram<'_>)) -> Result<StreamEnd, CaptureError> {
        if !self.done {
            let carry = std::mem::take(&mut self.carry);
            self.hand(&carry, false, each)?;
        }
        let reader = self.reader.ok_or_else(|| CaptureError::NotACapture {
            first_bytes: Vec::new(),
        })?;
        Ok(StreamEnd {
            format: reader.format(),
            skipped: *reader.skipped(),
            packets: reader.packets_read(),
            secrets: reader.secrets().to_owned(),
            damage: self.damage,
        })
    }
}
