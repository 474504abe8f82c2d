//! `harness check FILE --profile 3way` without the CLI around it: a small binary for profiling
//! the judge and the reader (`cargo build --release --example check_file`).
//! Usage: check_file FILE [THREADS]

use handshake_mediastream_judge::{CheckOptions, Checker};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(path), threads) = (args.next(), args.next()) else {
        eprintln!("usage: check_file FILE [THREADS]");
        return std::process::ExitCode::from(2);
    };
    let threads = threads.and_then(|t| t.parse().ok()).unwrap_or(2);
    // The defaults are `--profile 3way --verify data`.
    let options = CheckOptions::default();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match handshake_check::check_stream(file, None, threads, Checker::new(options)) {
        Ok(v) => {
            println!(
                "{} datagrams, {} sessions, {} violations, {} skipped",
                v.report.datagrams,
                v.report.sessions.len(),
                v.report.violation_count(),
                v.skipped
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {path}: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
