//! Responder processes kept running from one run to the next ([`ExternalIut::keep_running`]).
//!
//! A network fuzzer sends thousands of short inputs; starting an interpreter for each costs more
//! than the input (≈ 200 ms of Python start-up against a 10 ms scenario). A responder started
//! with the same command line serves the next input too, from a fresh harness port (a new session
//! for it), so it is kept — per thread, since each thread runs on its own async runtime, which
//! also owns the tasks reading the process's output — until it ends, its command line is not
//! wanted for a while, or [`forget`] is called (the fuzzer does when an input left it not
//! serving). Initiators are never kept: they start their session when they start.
//!
//! [`ExternalIut::keep_running`]: super::ExternalIut::keep_running

use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use handshake_net::process::Process;

/// Kept processes per thread (distinct command lines); the least recently used goes first.
const PER_THREAD: usize = 6;

/// A responder left running after a run.
#[derive(Debug)]
pub(super) struct Kept {
    pub process: Process,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The command line and stdin text it was started with, and its working directory.
    pub words: Vec<String>,
    pub stdin: Option<String>,
    pub cwd: Option<PathBuf>,
    /// Runs it has served.
    pub runs: u64,
}

thread_local! {
    static KEPT: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
    static RUNTIME: OnceCell<tokio::runtime::Runtime> = const { OnceCell::new() };
}

/// Takes out the kept process `wanted` accepts (a process that has ended is dropped on the way).
pub(super) fn take(wanted: impl Fn(&Kept) -> bool) -> Option<Kept> {
    KEPT.with(|k| {
        let mut kept = k.borrow_mut();
        kept.retain(|p| p.process.exited().is_none());
        let i = kept.iter().position(wanted)?;
        Some(kept.remove(i))
    })
}

/// Keeps `process` for a later run (most recently used first).
pub(super) fn put(process: Kept) {
    let evicted = KEPT.with(|k| {
        let mut kept = k.borrow_mut();
        kept.insert(0, process);
        let keep = kept.len().min(PER_THREAD);
        kept.split_off(keep)
    });
    // Dropping a process kills its group.
    drop(evicted);
}

/// Ends every process this thread keeps (the next run starts its IUT afresh).
pub fn forget() {
    let gone = KEPT.with(|k| std::mem::take(&mut *k.borrow_mut()));
    drop(gone);
}

/// Runs `future` on this thread's runtime (built on first use; it outlives the run, as the kept
/// processes' reading tasks must).
pub(super) fn block_on<T>(future: impl Future<Output = T>) -> Result<T, String> {
    RUNTIME.with(|cell| {
        if cell.get().is_none() {
            let _ = cell.set(runtime()?);
        }
        cell.get()
            .map(|rt| rt.block_on(future))
            .ok_or_else(|| "no async runtime".to_owned())
    })
}

/// A single-threaded async runtime for one run (or, kept, for a thread's runs).
pub(super) fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}
