//! Reading a capture of any size from a file (or any [`Read`]) in bounded memory.
//!
//! [`open`] reads a capture held whole in memory. [`read_stream`] reads it piece by
//! piece through a few reused buffers: records are framed from their headers only, each piece of
//! whole records goes through the same [`CaptureReader`] (its state carried from piece to piece),
//! and only a record cut by a buffer's end is copied, into a carry buffer. So memory stays at a few
//! buffers whatever the file's size, nothing of the file is copied twice, and the datagrams,
//! skips, damage and secrets are exactly what [`open`] gives for the same bytes
//! (the tests compare both over every golden capture, cut at every size).

use std::io::Read;
use std::sync::mpsc;

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
        // Measured on the 1,000,000-datagram bench capture with two threads: 256 KiB to 1 MiB
        // are alike, 2 MiB is slower (the buffers no longer stay in the caches).
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
/// As [`open`] when the start of the file is not a capture; a read error at the
/// start is [`CaptureError::Io`]. Damage (and a read error) later in the file is
/// [`StreamEnd::damage`], after the datagrams before it.
pub fn read_stream<R: Read>(
    source: R,
    port: Option<u16>,
    options: StreamOptions,
    each: impl FnMut(UdpDatagram<'_>),
) -> Result<StreamEnd, CaptureError> {
    /// Decodes each piece as it is framed; two buffers in turn (the next takes the record the
    /// last one cut).
    struct Inline<F> {
        decoder: Decoder,
        each: F,
        spare: Vec<u8>,
    }
    impl<F: FnMut(UdpDatagram<'_>)> PieceSink for Inline<F> {
        fn fresh(&mut self) -> Vec<u8> {
            std::mem::take(&mut self.spare)
        }
        fn piece(&mut self, buffer: Vec<u8>, len: usize, more_follows: bool) -> bool {
            let wanted = self
                .decoder
                .decode(&buffer[..len], more_follows, &mut self.each);
            self.spare = buffer;
            wanted
        }
    }
    let mut inline = Inline {
        decoder: Decoder::new(port),
        each,
        spare: Vec::new(),
    };
    let read_error = frame_stream(source, options, &mut inline);
    inline.decoder.end(read_error)
}

/// [`read_stream`] on two threads: a second thread reads the file and frames its records, and
/// this one decodes them and calls `each`. The same datagrams in the same order, and the same
/// end. Nothing is copied between the threads: the buffers go over whole and come back.
///
/// # Errors
///
/// As [`read_stream`].
pub fn read_stream_threaded<R: Read + Send>(
    source: R,
    port: Option<u16>,
    options: StreamOptions,
    mut each: impl FnMut(UdpDatagram<'_>),
) -> Result<StreamEnd, CaptureError> {
    /// Pieces framed and not yet decoded, at most (each a buffer of about a chunk): enough to
    /// ride out the decoder's uneven pace (measured: 2 to 6 alike).
    const IN_FLIGHT: usize = 3;
    struct Piece {
        buffer: Vec<u8>,
        len: usize,
        more_follows: bool,
    }
    /// The framing thread's side: pieces go to the decoder, buffers come back.
    struct Handover {
        pieces: mpsc::SyncSender<Piece>,
        free: mpsc::Receiver<Vec<u8>>,
    }
    impl PieceSink for Handover {
        fn fresh(&mut self) -> Vec<u8> {
            self.free.try_recv().unwrap_or_default()
        }
        fn piece(&mut self, buffer: Vec<u8>, len: usize, more_follows: bool) -> bool {
            let piece = Piece {
                buffer,
                len,
                more_follows,
            };
            // An error: the decoder has seen the end and wants no more.
            self.pieces.send(piece).is_ok()
        }
    }
    let (pieces_tx, pieces_rx) = mpsc::sync_channel::<Piece>(IN_FLIGHT);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let framing = scope.spawn(move || {
            let mut handover = Handover {
                pieces: pieces_tx,
                free: free_rx,
            };
            frame_stream(source, options, &mut handover)
        });
        let mut decoder = Decoder::new(port);
        for piece in pieces_rx.iter() {
            let bytes = &piece.buffer[..piece.len];
            if !decoder.decode(bytes, piece.more_follows, &mut each) {
                break;
            }
            // The framing thread is gone only once it has framed its last piece.
            let _ = free_tx.send(piece.buffer);
        }
        // The framing thread stops at its next piece.
        drop(pieces_rx);
        let read_error = match framing.join() {
            Ok(read_error) => read_error,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        decoder.end(read_error)
    })
}

/// Where [`frame_stream`] puts the pieces it frames.
trait PieceSink {
    /// A buffer to read into (emptied by the framer; its capacity is reused).
    fn fresh(&mut self) -> Vec<u8>;
    /// The next piece: the first `len` bytes of `buffer` are whole records (all of them when
    /// `more_follows` is false: the rest of the file). `false`: no more pieces are wanted.
    fn piece(&mut self, buffer: Vec<u8>, len: usize, more_follows: bool) -> bool;
}

/// Reads `source` into buffers and gives them to `sink` in pieces of whole records: the start
/// of a record a buffer's end cut is copied to the front of the next buffer. The read error that
/// stopped it, if one did.
fn frame_stream<R: Read>(
    mut source: R,
    options: StreamOptions,
    sink: &mut impl PieceSink,
) -> Option<std::io::Error> {
    let chunk = options.chunk.max(1);
    let mut framing = Framing::new();
    let mut buf = sink.fresh();
    buf.clear();
    loop {
        let want = framing.wanted(buf.len(), chunk);
        // Room for a chunk exactly: reading would otherwise double the buffer (a chunk and the
        // carried bytes are just over a chunk), and two threads keep several buffers alive.
        buf.reserve_exact(want.min(chunk));
        match fill(&mut source, &mut buf, want) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Some(e),
        }
        if !framing.draining {
            framing.frame_records(&buf);
        }
        if framing.draining {
            // The decoder must see the rest of the file as its end to say what is wrong (and how
            // much remains): it gets what the buffer holds once that is MAX_RECORD bytes.
            if buf.len() < MAX_RECORD {
                continue;
            }
            buf.truncate(MAX_RECORD);
            let len = buf.len();
            sink.piece(buf, len, false);
            return None;
        }
        if framing.framed == 0 {
            continue; // the first record is not whole yet: read on into this buffer
        }
        let mut next = sink.fresh();
        next.clear();
        next.extend_from_slice(&buf[framing.framed..]);
        let len = std::mem::take(&mut framing.framed);
        if !sink.piece(std::mem::replace(&mut buf, next), len, true) {
            return None;
        }
    }
    let len = buf.len();
    sink.piece(buf, len, false);
    None
}

/// Appends to `buf` until `want` more bytes are read or the source ends: the bytes read.
fn fill(source: &mut impl Read, buf: &mut Vec<u8>, want: usize) -> std::io::Result<usize> {
    let limit = u64::try_from(want).unwrap_or(u64::MAX);
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

/// The framing state of the buffer at hand: how far its records are framed.
struct Framing {
    framer: Framer,
    /// The bytes at the front of the buffer that are whole records.
    framed: usize,
    /// The length of the record after them, once its header told it (the framer reads each
    /// header once).
    pending: Option<usize>,
    /// A broken header was met: the rest of the file is gathered, up to [`MAX_RECORD`] bytes,
    /// for the decoder to see as the end.
    draining: bool,
}

impl Framing {
    fn new() -> Framing {
        Framing {
            framer: Framer::Start,
            framed: 0,
            pending: None,
            draining: false,
        }
    }

    /// How many bytes to read next into a buffer holding `held`: a chunk, or what the record
    /// under way still lacks if that is more.
    fn wanted(&self, held: usize, chunk: usize) -> usize {
        let lacking = if self.draining {
            MAX_RECORD.saturating_sub(held)
        } else {
            match self.pending {
                Some(n) => (self.framed + n).saturating_sub(held),
                None => 0,
            }
        };
        chunk.max(lacking)
    }

    /// Frames the whole records of `buf` after those framed already.
    fn frame_records(&mut self, buf: &[u8]) {
        loop {
            if let Some(n) = self.pending {
                if buf.len() - self.framed < n {
                    return;
                }
                self.framed += n;
                self.pending = None;
            }
            self.framed += self.framer.pcap_records(&buf[self.framed..]);
            if self.framed == buf.len() {
                return;
            }
            match self.framer.frame(&buf[self.framed..]) {
                Frame::Len(n) => self.pending = Some(n),
                Frame::NeedHeader(_) => return,
                Frame::Broken => {
                    // Everything from the buffer's front goes to the decoder as the end.
                    self.draining = true;
                    return;
                }
            }
        }
    }
}

/// The decoding state between pieces: the reader, parked between them.
struct Decoder {
    port: Option<u16>,
    reader: Option<CaptureReader<'static>>,
    /// Offset in the file of the next piece.
    base: usize,
    damage: Option<CaptureError>,
    /// The first piece was not a capture.
    not_a_capture: Option<CaptureError>,
    /// The reader has seen the end (damage, or the last piece), or there is none.
    done: bool,
}

impl Decoder {
    fn new(port: Option<u16>) -> Decoder {
        Decoder {
            port,
            reader: None,
            base: 0,
            damage: None,
            not_a_capture: None,
            done: false,
        }
    }

    /// Decodes `piece` (whole records, unless it is the last: `more_follows` false); the reader
    /// is opened on the first piece. Whether more pieces are wanted: not after the end, damage, or
    /// a first piece that is not a capture.
    fn decode(
        &mut self,
        piece: &[u8],
        more_follows: bool,
        each: &mut impl FnMut(UdpDatagram<'_>),
    ) -> bool {
        let mut reader = match self.reader.take() {
            Some(parked) => parked.continue_on(piece, self.base, more_follows),
            None => match open(piece) {
                Ok(reader) => reader.with_port(self.port).pausing_at_end(more_follows),
                Err(e) => {
                    self.not_a_capture = Some(e);
                    self.done = true;
                    return false;
                }
            },
        };
        self.damage = reader.for_each_datagram(each);
        self.done = self.damage.is_some() || !more_follows;
        self.base += piece.len();
        self.reader = Some(reader.continue_on(&[], self.base, true));
        !self.done
    }

    /// What was found besides the datagrams, once the framer has stopped with `read_error`
    /// (damage after what was read, or the error itself at the start).
    fn end(mut self, read_error: Option<std::io::Error>) -> Result<StreamEnd, CaptureError> {
        if let Some(e) = self.not_a_capture {
            return Err(e);
        }
        if let (Some(e), false) = (read_error, self.done) {
            if self.reader.is_none() {
                return Err(CaptureError::Io(e));
            }
            self.damage = Some(CaptureError::Io(e));
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
