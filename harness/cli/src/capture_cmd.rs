//! `harness capture`: live capture of UDP traffic on a network interface into a pcapng (or
//! classic pcap) file, without libpcap.
//!
//! `harness capture --interface lo --port 4444 -w out.pcapng [--count N] [--duration SECS]
//! [--format pcapng|pcap]`. Ctrl-C (SIGINT) or SIGTERM stops the capture cleanly; the file is
//! always finished and flushed, also after an error once packets were written. A live packet
//! count goes to stderr when it is a terminal; the last line on stdout is
//! `N packets written to FILE`.
//!
//! Exit codes: 0 the capture ran (whatever stopped it: count, duration, Ctrl-C); 1 it failed
//! after it started (reading the interface or writing the file), the file holds what was
//! captured; 2 usage, permission or interface errors, or the output file cannot be created
//! (nothing is written then).
//!
//! Needs root or the `CAP_NET_RAW` capability (`sudo setcap cap_net_raw+ep "$(command -v
//! harness)"`). Only Ethernet-type interfaces are supported (Linux `lo` included).

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use handshake_capture::{
    CaptureFormat, CaptureWriter, LiveCapture, LiveLimits, StopOnSignal, StopOnSignalError,
};

use handshake_scenario::exit::{FAILED as EXIT_FAILED, INPUT as EXIT_INPUT, OK as EXIT_OK};

/// `harness capture` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct CaptureArgs {
    /// Network interface to capture on (`lo` for the Linux loopback).
    #[arg(long, short = 'i', value_name = "NAME")]
    pub interface: String,
    /// Only UDP datagrams to or from this port (all UDP otherwise). Every IP fragment of a
    /// datagram whose first fragment matches is kept.
    #[arg(long)]
    pub port: Option<u16>,
    /// The capture file to write (replaced if it exists).
    #[arg(short = 'w', long = "write", value_name = "FILE")]
    pub output: PathBuf,
    /// Stop after this many packets (IP fragments count one each).
    #[arg(long, short = 'c', value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds (fractions allowed, e.g. 2.5).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub duration: Option<Duration>,
    /// File format. Default: pcap when FILE ends in `.pcap`, else pcapng. Both carry
    /// nanosecond wall-clock timestamps.
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
}

/// `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// pcapng (one Ethernet interface, nanosecond timestamps).
    Pcapng,
    /// Classic pcap (nanosecond magic).
    Pcap,
}

impl CaptureArgs {
    /// The format to write: `--format`, else from the file name.
    pub fn capture_format(&self) -> CaptureFormat {
        match self.format {
            Some(FormatArg::Pcapng) => CaptureFormat::PcapNg,
            Some(FormatArg::Pcap) => CaptureFormat::Pcap,
            None => CaptureFormat::for_path(&self.output),
        }
    }
}

/// Parses `--duration`: non-negative, finite seconds.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| {
        format!("{text:?} is not a usable duration: give a non-negative number of seconds")
    })
}

/// Runs `harness capture`; returns the exit code (see the module docs).
pub fn run(args: CaptureArgs) -> i32 {
    let format = args.capture_format();
    // The interface first: a permission or name error leaves no empty file behind.
    let mut live = match LiveCapture::open(&args.interface, args.port) {
        Ok(live) => live,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INPUT;
        }
    };
    let file = match File::create(&args.output) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot create {}: {e}", args.output.display());
            return EXIT_INPUT;
        }
    };
    let mut writer = match CaptureWriter::with_format(BufWriter::new(file), format) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: writing {}: {e}", args.output.display());
            return EXIT_INPUT;
        }
    };

    let stop = Arc::new(AtomicBool::new(false));
    let signals = match StopOnSignal::install(Arc::clone(&stop)) {
        Ok(signals) => Some(signals),
        // Ctrl-C then kills the process as usual and the file is cut short.
        Err(StopOnSignalError::ThreadEnded) => {
            eprintln!("warning: Ctrl-C will not stop the capture cleanly");
            None
        }
        Err(e) => {
            eprintln!("warning: Ctrl-C will not stop the capture cleanly: {e}");
            None
        }
    };
    eprintln!(
        "capturing UDP{} on {} into {} ({}){}",
        args.port.map(|p| format!(" port {p}")).unwrap_or_default(),
        args.interface,
        args.output.display(),
        match format {
            CaptureFormat::PcapNg => "pcapng",
            CaptureFormat::Pcap => "pcap",
        },
        if signals.is_some() {
            "; Ctrl-C to stop"
        } else {
            ""
        }
    );

    let limits = LiveLimits {
        count: args.count,
        duration: args.duration,
    };
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    let result = live.run(limits, &stop, &mut writer, |n| progress.update(n));
    progress.finish();
    drop(signals);

    // Whatever happened, finish the file so that what was captured is readable.
    let written = match &result {
        Ok(stats) => stats.written,
        Err(_) => progress.count,
    };
    // `finish` flushes the buffered file.
    let finished = writer.finish();
    let noun = if written == 1 { "packet" } else { "packets" };
    println!("{written} {noun} written to {}", args.output.display());
    let mut code = EXIT_OK;
    if let Err(e) = result {
        eprintln!("error: {e}");
        code = EXIT_FAILED;
    }
    if let Err(e) = finished {
        eprintln!("error: finishing {}: {e}", args.output.display());
        code = EXIT_FAILED;
    }
    code
}

/// The live packet count on stderr, at most ten times a second; nothing when not a terminal.
struct Progress {
    enabled: bool,
    count: u64,
    shown: Option<Instant>,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        Progress {
            enabled,
            count: 0,
            shown: None,
        }
    }

    fn update(&mut self, count: u64) {
        self.count = count;
        if !self.enabled {
            return;
        }
        let due = self
            .shown
            .is_none_or(|at| at.elapsed() >= Duration::from_millis(100));
        if due {
            eprint!("\r{count} packets");
            let _ = std::io::stderr().flush();
            self.shown = Some(Instant::now());
        }
    }

    fn finish(&self) {
        if self.enabled && self.shown.is_some() {
            eprintln!("\r{} packets", self.count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: CaptureArgs,
    }

    fn parse(line: &[&str]) -> Result<CaptureArgs, clap::Error> {
        let argv = std::iter::once("capture").chain(line.iter().copied());
        Wrapper::try_parse_from(argv).map(|w| w.args)
    }

    #[test]
    fn arguments() {
        let args =
            parse(&["--interface", "lo", "--port", "4444", "-w", "out.pcapng"]).expect("parses");
        assert_eq!(args.interface, "lo");
        assert_eq!(args.port, Some(4444));
        assert_eq!(args.capture_format(), CaptureFormat::PcapNg);
        assert_eq!(args.count, None);
        let args =
            parse(&["-i", "eth0", "-w", "x.PCAP", "-c", "5", "--duration", "2.5"]).expect("parses");
        assert_eq!(args.capture_format(), CaptureFormat::Pcap);
        assert_eq!(args.count, Some(5));
        assert_eq!(args.duration, Some(Duration::from_millis(2500)));
        let args = parse(&["-i", "lo", "-w", "x.pcap", "--format", "pcapng"]).expect("parses");
        assert_eq!(args.capture_format(), CaptureFormat::PcapNg);
        for bad in [
            &["-w", "x"][..],
            &["-i", "lo"],
            &["-i", "lo", "-w", "x", "--duration", "-1"],
            &["-i", "lo", "-w", "x", "--duration", "soon"],
            &["-i", "lo", "-w", "x", "--duration", "inf"],
            &["-i", "lo", "-w", "x", "--format", "json"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn unknown_interface_is_a_usage_error_and_writes_nothing() {
        let dir = std::env::temp_dir().join(format!("capture-cmd-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let output = dir.join("never.pcapng");
        let args = parse(&[
            "-i",
            "no-such-if0",
            "-w",
            output.to_str().unwrap_or("never.pcapng"),
        ])
        .expect("parses");
        assert_eq!(run(args), EXIT_INPUT);
        assert!(!output.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Root only (skipped with a message otherwise): a short capture on `lo` by count.
    #[test]
    fn captures_on_loopback_by_count() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let to = receiver.local_addr().expect("addr");
        match LiveCapture::open("lo", Some(to.port())) {
            Ok(_) => {}
            Err(e) => {
                eprintln!("loopback capture test skipped: {e}");
                return;
            }
        }
        let dir = std::env::temp_dir().join(format!("capture-cmd-lo-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let output = dir.join("lo.pcapng");
        let args = parse(&[
            "-i",
            "lo",
            "--port",
            &to.port().to_string(),
            "-w",
            output.to_str().unwrap_or("lo.pcapng"),
            "--count",
            "3",
            "--duration",
            "5",
        ])
        .expect("parses");
        let sender = std::thread::spawn(move || {
            let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            for _ in 0..50 {
                let _ = socket.send_to(b"ping", to);
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        assert_eq!(run(args), EXIT_OK);
        let _ = sender.join();
        let bytes = std::fs::read(&output).expect("file");
        let datagrams: Vec<_> = handshake_capture::open(&bytes)
            .expect("capture")
            .collect::<Result<_, _>>()
            .expect("read");
        assert_eq!(datagrams.len(), 3);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
