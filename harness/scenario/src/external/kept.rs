//! Responder processes kept running from one run to the next ([`ExternalIut::keep_running`]).
//!
//! A network fuzzer sends thousands of short inputs; starting an interpreter for each costs more
//! than the input (≈ 200 ms of Python start-up against a 10 ms scenario). A responder started
//! with the same command line serves the next input too, from a fresh harness port (a new session
//! for it), so it is kept until it ends, its command line is not wanted for a while, or
//! [`forget`] is called (the fuzzer does when an input left it not serving).
//!
//! Kept processes are one pool for the whole harness, their output read on a runtime of their own
//! (so that any thread's run can use them). A process is either a thread's own
//! ([`Sharing::PerThread`]: one run at a time, what `harness learn` needs to blame the word a
//! process served last) or shared ([`Sharing::Sessions`]: up to that many runs of any thread at
//! once, each on sessions of its own, as a responder serving many tuples does). Initiators are
//! never kept: they start their session when they start.
//!
//! [`ExternalIut::keep_running`]: super::ExternalIut::keep_running

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::thread::ThreadId;

use handshake_net::process::Process;

/// Idle kept processes per owner (a thread, or the shared pool per command line's worth); the
/// least recently used goes first.
const IDLE_PER_OWNER: usize = 6;

/// Idle shared processes in all.
const IDLE_SHARED: usize = 48;

/// How a kept process may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// By the thread that started it, one run at a time.
    PerThread,
    /// By up to this many runs of any thread at once.
    Sessions(usize),
}

/// A responder left running after a run (or a run's handle on one).
#[derive(Debug)]
pub(super) struct Kept {
    pub process: Process,
    /// Where it listens.
    pub addr: SocketAddr,
    /// The command line and stdin text it was started with, and its working directory.
    pub words: Vec<String>,
    pub stdin: Option<String>,
    pub cwd: Option<PathBuf>,
    /// Runs it has served (the one holding this handle included).
    pub runs: u64,
    pub sharing: Sharing,
}

/// A pool entry: the pool's own handle, and the runs holding one now.
#[derive(Debug)]
struct Entry {
    kept: Kept,
    owner: Option<ThreadId>,
    in_use: usize,
}

impl Entry {
    fn room(&self) -> bool {
        match self.kept.sharing {
            Sharing::PerThread => self.in_use == 0 && self.owner == Some(me()),
            Sharing::Sessions(n) => self.in_use < n,
        }
    }
}

static POOL: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

thread_local! {
    /// The shared process this thread's last run used (for [`forget`]).
    static USED: Cell<Option<u32>> = const { Cell::new(None) };
    /// Ends this thread's own processes when it ends (shared ones stay for the other threads).
    static GUARD: ForgetOnExit = const { ForgetOnExit };
    static RUNTIME: OnceCell<tokio::runtime::Runtime> = const { OnceCell::new() };
    /// The one kept process this thread's runs may use, while a [`Pinned`] lives.
    static PINNED: Cell<Option<u32>> = const { Cell::new(None) };
}

/// While it lives, the calling thread's runs use only the kept process it names, and start none:
/// to ask that very process whether it still serves.
pub struct Pinned(Option<u32>);

impl Drop for Pinned {
    fn drop(&mut self) {
        PINNED.with(|p| p.set(self.0));
    }
}

/// Pins the calling thread's runs to kept process `pid` (see [`Pinned`]).
pub fn pin(pid: u32) -> Pinned {
    Pinned(PINNED.with(|p| p.replace(Some(pid))))
}

/// The kept process the calling thread's runs are pinned to.
pub(super) fn pinned() -> Option<u32> {
    PINNED.with(Cell::get)
}

/// Whether kept process `pid` is still in the pool, and running.
pub(super) fn in_pool(pid: u32) -> bool {
    pool()
        .iter()
        .any(|e| e.kept.process.pid == pid && e.kept.process.exited().is_none())
}

struct ForgetOnExit;

impl Drop for ForgetOnExit {
    fn drop(&mut self) {
        leave(me(), None);
    }
}

fn me() -> ThreadId {
    std::thread::current().id()
}

fn pool() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    POOL.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn used(pid: u32) {
    GUARD.with(|_| ());
    USED.with(|u| u.set(Some(pid)));
}

/// A handle on a kept process `wanted` accepts with room for one more run (a process that has
/// ended is dropped on the way). The pool keeps it meanwhile; [`put`] or [`retire`] gives it back.
pub(super) fn take(wanted: impl Fn(&Kept) -> bool) -> Option<Kept> {
    let mut pool = pool();
    pool.retain(|e| e.kept.process.exited().is_none());
    let pinned = pinned();
    let i = pool.iter().position(|e| {
        e.room() && pinned.is_none_or(|pid| e.kept.process.pid == pid) && wanted(&e.kept)
    })?;
    let mut entry = pool.remove(i);
    entry.in_use += 1;
    entry.kept.runs += 1;
    let k = &entry.kept;
    let handle = Kept {
        process: k.process.view(),
        addr: k.addr,
        words: k.words.clone(),
        stdin: k.stdin.clone(),
        cwd: k.cwd.clone(),
        runs: k.runs,
        sharing: k.sharing,
    };
    used(k.process.pid);
    pool.insert(0, entry);
    Some(handle)
}

/// Keeps a process a run has just started and found ready, held by that run until [`put`] or
/// [`retire`]: from now on other runs may share it too.
pub(super) fn add(kept: Kept) {
    used(kept.process.pid);
    kept.process.keep_rolling();
    let owner = (kept.sharing == Sharing::PerThread).then(me);
    let evicted = {
        let mut pool = pool();
        pool.insert(
            0,
            Entry {
                kept,
                owner,
                in_use: 1,
            },
        );
        evict(&mut pool, owner)
    };
    // Dropping the last handle on a process kills its group.
    drop(evicted);
}

/// A run is done with a process that still serves: another may take it.
pub(super) fn put(pid: u32) {
    let mut pool = pool();
    if let Some(e) = pool.iter_mut().find(|e| e.kept.process.pid == pid) {
        e.in_use = e.in_use.saturating_sub(1);
    }
}

/// Processes starting at once to be kept: a fuzzer's jobs starting an interpreter each at the
/// same moment took seconds each on 2 cores and missed their start-up timeouts (64 jobs: 26
/// inputs/s, against 184 with 48); the others wait for a process to share.
const STARTS_AT_ONCE: usize = 4;

static STARTING: Mutex<usize> = Mutex::new(0);

/// Leave to start a process to keep, while fewer than [`STARTS_AT_ONCE`] are starting.
pub(super) struct Starting(());

impl Drop for Starting {
    fn drop(&mut self) {
        let mut n = STARTING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *n = n.saturating_sub(1);
    }
}

/// [`Starting`], unless [`STARTS_AT_ONCE`] processes are starting now.
pub(super) fn may_start() -> Option<Starting> {
    let mut n = STARTING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    (*n < STARTS_AT_ONCE).then(|| {
        *n += 1;
        Starting(())
    })
}

/// The idle entries past the limit of `owner`'s.
fn evict(pool: &mut Vec<Entry>, owner: Option<ThreadId>) -> Vec<Entry> {
    let limit = if owner.is_some() {
        IDLE_PER_OWNER
    } else {
        IDLE_SHARED
    };
    let mut idle = 0;
    let mut out = Vec::new();
    let mut i = 0;
    while i < pool.len() {
        let e = &pool[i];
        if e.owner == owner && e.in_use == 0 {
            idle += 1;
            if idle > limit {
                out.push(pool.remove(i));
                continue;
            }
        }
        i += 1;
    }
    out
}

/// A run's process that no longer serves leaves the pool; whether other runs still hold it (then
/// it ends when the last of them does, not now).
pub(super) fn retire(pid: u32) -> bool {
    let mut pool = pool();
    let Some(i) = pool.iter().position(|e| e.kept.process.pid == pid) else {
        return false;
    };
    let entry = pool.remove(i);
    drop(pool);
    let others = entry.in_use > 1;
    drop(entry);
    others
}

/// The process the calling thread's last run on a kept process used (until [`forget`]).
pub fn last_used() -> Option<u32> {
    USED.with(Cell::get)
}

/// Ends every process this thread keeps, and takes out of the pool the shared one its last run
/// used (it ends when the last run on it does): the next run starts its IUT afresh.
pub fn forget() {
    let last = USED.with(Cell::take);
    leave(me(), last);
}

/// Takes `owner`'s processes, and the shared one `last`, out of the pool (each ends when the last
/// run on it does).
fn leave(owner: ThreadId, last: Option<u32>) {
    let gone: Vec<Entry> = {
        let mut pool = pool();
        let (gone, stay) = std::mem::take(&mut *pool)
            .into_iter()
            .partition(|e| e.owner == Some(owner) || Some(e.kept.process.pid) == last);
        *pool = stay;
        gone
    };
    drop(gone);
}

/// Ends every kept process (the harness is about to exit).
pub fn forget_all() {
    let gone = std::mem::take(&mut *pool());
    drop(gone);
}

/// Starts a process that may be kept: on the kept processes' runtime, which reads its output and
/// watches its exit whichever thread's run uses it.
pub(super) fn spawn_keepable<T>(spawn: impl FnOnce() -> T) -> Result<T, String> {
    static SHARED: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let rt = SHARED.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kept-iut-output")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))
    });
    let rt = rt.as_ref().map_err(Clone::clone)?;
    let _entered = rt.enter();
    Ok(spawn())
}

/// Runs `future` on this thread's runtime (built on first use, and kept for the thread's runs).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(sharing: Sharing, words: &str) -> Kept {
        let argv = vec!["sleep".to_owned(), "30".to_owned()];
        let env = std::collections::BTreeMap::new();
        let clock = handshake_net::udp::Clock::start;
        let process = spawn_keepable(|| Process::spawn(&argv, None, &env, None, clock()))
            .and_then(|p| p.map_err(|e| e.to_string()))
            .expect("sleep starts");
        Kept {
            process,
            addr: SocketAddr::from(([127, 0, 0, 1], 9)),
            words: vec![words.to_owned()],
            stdin: None,
            cwd: None,
            runs: 1,
            sharing,
        }
    }

    fn handle(k: &Kept) -> Kept {
        Kept {
            process: k.process.view(),
            addr: k.addr,
            words: k.words.clone(),
            stdin: None,
            cwd: None,
            runs: 1,
            sharing: k.sharing,
        }
    }

    /// A shared process serves as many runs at once as its sessions, any thread's; a thread's
    /// own serves that thread one run at a time; one retired while others use it lives on for
    /// them, out of the pool.
    #[test]
    fn the_pool_shares_a_process_by_its_sessions() {
        let is = |w: &'static str| move |k: &Kept| k.words == [w];
        let shared = sleeper(Sharing::Sessions(2), "shared");
        let pid = shared.process.pid;
        add(handle(&shared));
        // The run that started it holds one session: one more fits, then none.
        let second = take(is("shared")).expect("a second session");
        assert_eq!((second.process.pid, second.runs), (pid, 2));
        assert!(take(is("shared")).is_none());
        // Another thread's run may take it once a session is free.
        put(pid);
        let other = std::thread::spawn(move || take(is("shared")).map(|k| k.process.pid));
        assert_eq!(other.join().ok().flatten(), Some(pid));

        let own = sleeper(Sharing::PerThread, "own");
        let own_pid = own.process.pid;
        add(handle(&own));
        put(own_pid);
        let elsewhere = std::thread::spawn(move || take(is("own")).is_some());
        assert_eq!(elsewhere.join().ok(), Some(false));
        assert_eq!(take(is("own")).map(|k| k.process.pid), Some(own_pid));

        // Retired with two runs on it (this one's and the other thread's): it lives on for them.
        assert!(retire(pid));
        assert!(take(is("shared")).is_none());
        assert!(second.process.exited().is_none());

        // Pinned, a thread's runs take the one process named, while it is in the pool.
        let (a, b) = (
            sleeper(Sharing::Sessions(4), "twin"),
            sleeper(Sharing::Sessions(4), "twin"),
        );
        let (a_pid, b_pid) = (a.process.pid, b.process.pid);
        for k in [&a, &b] {
            add(handle(k));
            put(k.process.pid);
        }
        let twin = |_: ()| take(is("twin")).map(|k| k.process.pid);
        assert_eq!(twin(()), Some(b_pid), "the newest first");
        {
            let _pinned = pin(a_pid);
            assert_eq!(twin(()), Some(a_pid));
            assert!(in_pool(a_pid));
        }
        retire(a_pid);
        assert_eq!(twin(()), Some(b_pid), "unpinned, any");
        let _pinned = pin(a_pid);
        assert!(!in_pool(a_pid));
        assert_eq!(twin(()), None, "pinned, not another in its place");
        forget_all();
    }
}
