//! The streaming reader says exactly what the in-memory reader says about the same bytes: the
//! same datagrams in the same order, skips, records read, secrets and damage, whatever the
//! buffer size (down to one byte, so that every record is cut by a buffer's end), on one thread
//! and on two. Over every golden capture, cut short and corrupted.

use std::path::{Path, PathBuf};

use handshake_capture::{
    open, read_stream, read_stream_threaded, SkipCounts, StreamOptions, UdpDatagram,
};
use proptest::prelude::*;

/// Everything a reader says about a capture.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    datagrams: Vec<UdpDatagram<'static>>,
    damage: Option<String>,
    skipped: SkipCounts,
    packets: u64,
    secrets: String,
}

fn in_memory(bytes: &[u8], port: Option<u16>) -> Result<Outcome, String> {
    let mut reader = open(bytes).map_err(|e| e.to_string())?.with_port(port);
    let mut datagrams = Vec::new();
    let mut damage = None;
    for item in reader.by_ref() {
        match item {
            Ok(d) => datagrams.push(d.into_owned()),
            Err(e) => damage = Some(e.to_string()),
        }
    }
    Ok(Outcome {
        datagrams,
        damage,
        skipped: *reader.skipped(),
        packets: reader.packets_read(),
        secrets: reader.secrets().to_owned(),
    })
}

fn streamed(bytes: &[u8], port: Option<u16>, options: StreamOptions) -> Result<Outcome, String> {
    let one = streamed_on(bytes, port, options, false);
    assert_eq!(
        one,
        streamed_on(bytes, port, options, true),
        "one thread and two"
    );
    one
}

fn streamed_on(
    bytes: &[u8],
    port: Option<u16>,
    options: StreamOptions,
    threaded: bool,
) -> Result<Outcome, String> {
    let mut datagrams = Vec::new();
    let each = |d: UdpDatagram<'_>| datagrams.push(d.into_owned());
    let end = if threaded {
        read_stream_threaded(bytes, port, options, each)
    } else {
        read_stream(bytes, port, options, each)
    }
    .map_err(|e| e.to_string())?;
    Ok(Outcome {
        datagrams,
        damage: end.damage.map(|e| e.to_string()),
        skipped: end.skipped,
        packets: end.packets,
        secrets: end.secrets,
    })
}

fn agree(bytes: &[u8], port: Option<u16>, chunk: usize) {
    let options = StreamOptions { chunk };
    assert_eq!(
        streamed(bytes, port, options),
        in_memory(bytes, port),
        "{options:?}, {} bytes",
        bytes.len()
    );
}

fn golden_captures() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("pcaps/ is readable")
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "pcap" || e == "pcapng") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pcaps"),
        &mut out,
    );
    assert!(out.len() > 50, "the golden captures are there");
    out
}

#[test]
fn golden_captures_whole_and_cut_short() {
    for path in golden_captures() {
        let bytes = std::fs::read(&path).expect("readable");
        for chunk in [1 << 20, 4096, 61] {
            agree(&bytes, None, chunk);
        }
        agree(&bytes, Some(4444), 97);
        for cut in [
            1,
            10,
            24,
            30,
            bytes.len() / 3,
            bytes.len() / 2 + 1,
            bytes.len() - 1,
        ] {
            agree(&bytes[..cut.min(bytes.len())], None, 64);
        }
    }
}

#[test]
fn one_byte_buffers() {
    // The smallest buffers cut every header and every record; a few files suffice.
    for path in golden_captures().iter().step_by(16) {
        let bytes = std::fs::read(path).expect("readable");
        agree(&bytes, None, 1);
        agree(&bytes, None, 3);
    }
}

#[test]
fn not_a_capture() {
    for bytes in [&b""[..], b"\x0a\x0d", b"hello, world, this is text"] {
        assert_eq!(
            streamed(bytes, None, StreamOptions::default()).err(),
            in_memory(bytes, None).err()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    /// Corrupted bytes anywhere (length fields above all) and any cut: the same outcome.
    #[test]
    fn corrupted_captures(
        file in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        chunk in 1usize..400,
    ) {
        let files = golden_captures();
        let mut bytes = std::fs::read(file.get(&files)).expect("readable");
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1).max(bytes.len() / 2));
        let options = StreamOptions { chunk };
        prop_assert_eq!(streamed(&bytes, None, options), in_memory(&bytes, None));
    }
}

/// A source that gives these bytes, then fails.
struct FailsAfter<'a>(&'a [u8]);

impl std::io::Read for FailsAfter<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() {
            return Err(std::io::Error::other("the disk went away"));
        }
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn a_read_error_is_damage_after_the_datagrams_before_it() {
    let path = golden_captures()
        .into_iter()
        .max_by_key(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .expect("a capture");
    let bytes = std::fs::read(&path).expect("readable");
    let whole = in_memory(&bytes, None).expect("a capture").datagrams;
    let options = StreamOptions { chunk: 64 };
    let read = |threaded: bool, good: &[u8]| {
        let mut datagrams = Vec::new();
        let each = |d: UdpDatagram<'_>| datagrams.push(d.into_owned());
        let end = if threaded {
            read_stream_threaded(FailsAfter(good), None, options, each)
        } else {
            read_stream(FailsAfter(good), None, options, each)
        };
        (
            end.map(|e| e.damage.map(|d| d.to_string()))
                .map_err(|e| e.to_string()),
            datagrams,
        )
    };
    for threaded in [false, true] {
        // At the start it is the error itself.
        let (end, datagrams) = read(threaded, &[]);
        assert!(
            end.is_err_and(|e| e.contains("the disk went away")),
            "{threaded}"
        );
        assert!(datagrams.is_empty());
        // Later it is damage, after a prefix of the datagrams.
        let (end, datagrams) = read(threaded, &bytes[..bytes.len() / 2]);
        let damage = end.expect("a capture").expect("damage");
        assert!(
            damage.contains("the disk went away"),
            "{threaded}: {damage}"
        );
        assert!(
            !datagrams.is_empty() && datagrams.len() < whole.len(),
            "{threaded}"
        );
        assert_eq!(datagrams[..], whole[..datagrams.len()], "{threaded}");
    }
}
