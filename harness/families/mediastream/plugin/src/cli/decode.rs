//! `harness decode`: one line (or one JSON object) per datagram, from hex, a raw datagram file, or a
//! pcap/pcapng capture.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use handshake_mediastream_wire::{verify_pattern, Datagram, Mode};
use serde::Serialize;

use super::input::{parse_hex, InputError};

/// Where the bytes of one decode input come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// Hex given on the command line.
    Hex(String),
    /// A file: a capture (by its magic number) or else one raw datagram.
    File(PathBuf),
}

/// What a decode run found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Datagrams decoded.
    pub datagrams: u64,
    /// Of those, how many failed to parse.
    pub malformed: u64,
    /// Capture packets skipped (not UDP, other port, damaged …).
    pub skipped: u64,
}

/// Why decoding could not go on (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Bad input.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A capture that cannot be read (or is damaged part-way; the packets before were printed).
    #[error("{path}: {source}")]
    Capture {
        /// The file.
        path: PathBuf,
        /// Why.
        source: handshake_capture::CaptureError,
    },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// One decoded datagram, as printed by `--json`.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    /// The input (hex argument or file).
    pub source: &'a str,
    /// Capture packet number (1-based), for captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<u64>,
    /// Capture time in ns since the Unix epoch, for captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ns: Option<u64>,
    /// UDP source, for captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<SocketAddr>,
    /// UDP destination, for captures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<SocketAddr>,
    /// Datagram length.
    pub len: usize,
    /// The decoded datagram.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub datagram: Option<Datagram<'a>>,
    /// For DATA and DATA+FRAG: whether the payload is the fill pattern (ctsTraffic `-verify:data`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_is_pattern: Option<bool>,
    /// The parse error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<handshake_mediastream_wire::Error>,
}

impl Record<'_> {
    fn text(&self) -> String {
        let mut line = String::new();
        if let Some(n) = self.packet {
            line.push_str(&format!("#{n} "));
        }
        if let Some(t) = self.time_ns {
            line.push_str(&format!("{}.{:09} ", t / 1_000_000_000, t % 1_000_000_000));
        }
        if let (Some(src), Some(dst)) = (self.src, self.dst) {
            line.push_str(&format!("{src} > {dst} "));
        }
        line.push_str(&format!("len={} ", self.len));
        match (&self.datagram, &self.error) {
            (Some(d), _) => line.push_str(&d.to_string()),
            (None, Some(e)) => line.push_str(&format!("MALFORMED: {e}")),
            (None, None) => {}
        }
        if self.payload_is_pattern == Some(false) {
            line.push_str(" (payload is not the fill pattern)");
        }
        line
    }
}

/// Options of a decode run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Classification order.
    pub mode: Mode,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// For captures: only datagrams to or from this UDP port.
    pub port: Option<u16>,
}

/// Decodes every source in order, writing to `out`.
pub fn run(
    sources: &[Source],
    options: &Options,
    out: &mut dyn Write,
) -> Result<Summary, DecodeError> {
    let mut summary = Summary::default();
    for (i, source) in sources.iter().enumerate() {
        match source {
            Source::Hex(hex) => {
                let bytes = parse_hex(hex).map_err(InputError::from)?;
                let name = format!("hex#{}", i + 1);
                emit(
                    out,
                    options,
                    &mut summary,
                    record(&name, &bytes, options.mode),
                )?;
            }
            Source::File(path) => decode_file(path, options, out, &mut summary)?,
        }
    }
    Ok(summary)
}

fn decode_file(
    path: &Path,
    options: &Options,
    out: &mut dyn Write,
    summary: &mut Summary,
) -> Result<(), DecodeError> {
    let bytes = std::fs::read(path).map_err(|source| InputError::Read {
        path: path.to_owned(),
        source,
    })?;
    let name = path.display().to_string();
    let capture_error = |source| DecodeError::Capture {
        path: path.to_owned(),
        source,
    };
    let mut reader = match handshake_capture::open(&bytes) {
        Ok(reader) => reader.with_port(options.port),
        // Not a capture: the whole file is one datagram.
        Err(handshake_capture::CaptureError::NotACapture { .. }) => {
            return emit(out, options, summary, record(&name, &bytes, options.mode));
        }
        Err(e) => return Err(capture_error(e)),
    };
    for item in reader.by_ref() {
        let udp = item.map_err(capture_error)?;
        let mut rec = record(&name, &udp.payload, options.mode);
        rec.packet = Some(udp.packet_number);
        rec.time_ns = Some(udp.timestamp_ns);
        rec.src = Some(udp.src);
        rec.dst = Some(udp.dst);
        emit(out, options, summary, rec)?;
    }
    summary.skipped += reader.skipped().total();
    Ok(())
}

fn record<'a>(source: &'a str, bytes: &'a [u8], mode: Mode) -> Record<'a> {
    let parsed = Datagram::parse(bytes, mode);
    let payload_is_pattern = parsed
        .ok()
        .and_then(|d| d.payload())
        .map(|p| verify_pattern(p).is_ok());
    Record {
        source,
        packet: None,
        time_ns: None,
        src: None,
        dst: None,
        len: bytes.len(),
        datagram: parsed.ok(),
        payload_is_pattern,
        error: parsed.err(),
    }
}

fn emit(
    out: &mut dyn Write,
    options: &Options,
    summary: &mut Summary,
    rec: Record<'_>,
) -> Result<(), DecodeError> {
    summary.datagrams += 1;
    if rec.error.is_some() {
        summary.malformed += 1;
    }
    if options.json {
        serde_json::to_writer(&mut *out, &rec).map_err(std::io::Error::from)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}", rec.text())?;
    }
    Ok(())
}
