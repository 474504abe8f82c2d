//! The incremental reader of a v1 media stream: the 32-byte stream header, then frames, from
//! chunks of any size as QUIC delivers them. It never allocates: the header and each frame header
//! are assembled in fixed arrays, and payloads are handed out as slices of the input, piece by piece.

use crate::error::Error;
use crate::frame::{FrameHeaderRepr, FRAME_HEADER_LEN, FRAME_VERSION};
use crate::header::{StreamHeaderRepr, HEADER_LEN};
use crate::reset::ResetCode;

/// What [`MediaStreamReader::next`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaEvent<'a> {
    /// The stream header (first, once).
    Header(StreamHeaderRepr),
    /// A frame's 46-byte header (its stream id already checked against the header's, DT3); its
    /// payload follows as `Payload` pieces, then `FrameEnd`.
    FrameStart(FrameHeaderRepr),
    /// A non-empty piece of the current frame's payload, borrowed from the input.
    Payload(&'a [u8]),
    /// The current frame's payload is complete (at once for an empty payload).
    FrameEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Assembling the stream header (bytes so far in `buf`).
    Header,
    /// Assembling a frame header.
    FrameHeader,
    /// Inside a payload: the frame and the bytes still to come.
    Payload { frame: FrameHeaderRepr, left: u32 },
    /// Failed.
    Failed(Error),
}

/// Reads one media stream (see the module docs). After an error it reads nothing more; the error
/// says the reset code the stream calls for ([`MediaStreamReader::reset_code`]).
#[derive(Debug, Clone)]
pub struct MediaStreamReader {
    state: State,
    header: Option<StreamHeaderRepr>,
    buf: [u8; FRAME_HEADER_LEN],
    filled: usize,
    frames: u64,
    /// Reads on past a frame's version byte and a frame's stream id (see [`Self::tolerant`]).
    tolerant: bool,
    /// In tolerant mode: the first mismatch read past.
    soft: Option<Error>,
}

impl Default for MediaStreamReader {
    fn default() -> Self {
        MediaStreamReader::new()
    }
}

impl MediaStreamReader {
    /// A reader at the start of a stream.
    pub const fn new() -> MediaStreamReader {
        MediaStreamReader {
            state: State::Header,
            header: None,
            buf: [0; FRAME_HEADER_LEN],
            filled: 0,
            frames: 0,
            tolerant: false,
            soft: None,
        }
    }

    /// A reader that reads on past the mismatches whose values no source fixes: a frame's version
    /// byte (media.frame.version) and a frame stream id other than the header's (DT3). It reads
    /// such a frame as if they matched, so that what follows (lengths, a FIN inside a frame) can
    /// still be judged; [`Self::take_soft`] gives the first mismatch it read past.
    pub const fn tolerant() -> MediaStreamReader {
        let mut r = MediaStreamReader::new();
        r.tolerant = true;
        r
    }

    /// The first mismatch a [tolerant](Self::tolerant) reader read past, once.
    pub fn take_soft(&mut self) -> Option<Error> {
        self.soft.take()
    }

    /// The next event from `input`, consuming the bytes it used; `None` when `input` is used up
    /// without completing an event (partial bytes are kept), or after an error.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Option<Result<MediaEvent<'a>, Error>> {
        match self.state {
            State::Failed(_) => None,
            State::Header => {
                if !self.fill(input, HEADER_LEN) {
                    return None;
                }
                self.filled = 0;
                let parsed = self.buf.get(..HEADER_LEN).map_or(
                    Err(Error::Truncated {
                        needed: HEADER_LEN,
                        got: 0,
                    }),
                    StreamHeaderRepr::parse,
                );
                Some(match parsed {
                    Ok(header) => {
                        self.header = Some(header);
                        self.state = State::FrameHeader;
                        Ok(MediaEvent::Header(header))
                    }
                    Err(e) => Err(self.fail(e)),
                })
            }
            State::FrameHeader => {
                if !self.fill(input, FRAME_HEADER_LEN) {
                    return None;
                }
                self.filled = 0;
                let frame = match FrameHeaderRepr::parse(&self.buf) {
                    Ok(frame) => frame,
                    Err(Error::BadVersion(v)) if self.tolerant => {
                        let mut buf = self.buf;
                        buf[0] = FRAME_VERSION;
                        match FrameHeaderRepr::parse(&buf) {
                            Ok(frame) => {
                                self.soft.get_or_insert(Error::BadVersion(v));
                                frame
                            }
                            Err(e) => return Some(Err(self.fail(e))),
                        }
                    }
                    Err(e) => return Some(Err(self.fail(e))),
                };
                if let Some(header) = self.header {
                    if frame.stream_id != header.stream_id && self.tolerant {
                        self.soft.get_or_insert(Error::StreamIdMismatch {
                            expected: header.stream_id,
                            found: frame.stream_id,
                        });
                    } else if frame.stream_id != header.stream_id {
                        return Some(Err(self.fail(Error::StreamIdMismatch {
                            expected: header.stream_id,
                            found: frame.stream_id,
                        })));
                    }
                }
                self.state = State::Payload {
                    frame,
                    left: frame.payload_len,
                };
                Some(Ok(MediaEvent::FrameStart(frame)))
            }
            State::Payload { frame, left } => {
                if left == 0 {
                    self.state = State::FrameHeader;
                    self.frames += 1;
                    return Some(Ok(MediaEvent::FrameEnd));
                }
                if input.is_empty() {
                    return None;
                }
                let take = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
                let (piece, rest) = input.split_at(take);
                *input = rest;
                // `take` ≤ `left`, a u32.
                let taken = u32::try_from(take).unwrap_or(left);
                self.state = State::Payload {
                    frame,
                    left: left - taken.min(left),
                };
                Some(Ok(MediaEvent::Payload(piece)))
            }
        }
    }

    /// How the stream ends at a FIN here: `Ok` at a frame boundary after the header; DT5 `FinInHeader`
    /// inside (or before) the header; `FinInFrame` inside a frame.
    pub fn finish(&self) -> Result<(), Error> {
        match self.state {
            State::Failed(e) => Err(e),
            State::Header => Err(Error::FinInHeader { got: self.filled }),
            State::FrameHeader if self.filled == 0 => Ok(()),
            State::FrameHeader => Err(Error::FinInFrame {
                needed: FRAME_HEADER_LEN,
                got: self.filled,
            }),
            State::Payload { frame, left } => {
                let needed = frame.frame_len();
                let missing = usize::try_from(left).unwrap_or(usize::MAX);
                if missing == 0 {
                    // Only the FrameEnd event is pending: the frame is whole.
                    Ok(())
                } else {
                    Err(Error::FinInFrame {
                        needed,
                        got: needed.saturating_sub(missing),
                    })
                }
            }
        }
    }

    /// The stream header, once read.
    pub const fn header(&self) -> Option<StreamHeaderRepr> {
        self.header
    }

    /// Frames read whole.
    pub const fn frames(&self) -> u64 {
        self.frames
    }

    /// The error it stopped at.
    pub const fn error(&self) -> Option<Error> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The reset code the stream calls for so far (`None`: nothing wrong yet).
    pub const fn reset_code(&self) -> Option<ResetCode> {
        match self.state {
            State::Failed(e) => Some(e.reset_code()),
            _ => None,
        }
    }

    /// Copies from `input` into `buf` until `want` bytes are there; whether they are.
    fn fill(&mut self, input: &mut &[u8], want: usize) -> bool {
        let need = want.saturating_sub(self.filled);
        let take = need.min(input.len());
        let (head, rest) = input.split_at(take);
        if let Some(dst) = self.buf.get_mut(self.filled..self.filled + take) {
            dst.copy_from_slice(head);
        }
        *input = rest;
        self.filled += take;
        self.filled >= want
    }

    fn fail(&mut self, e: Error) -> Error {
        self.state = State::Failed(e);
        e
    }
}
