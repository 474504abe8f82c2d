//! Ctrl-C (SIGINT) and SIGTERM during a run. The first signal asks every run to stop where it is:
//! real-time runs end their IUT's process group, keep the capture so far and are reported as
//! interrupted; no new scenario starts; the caller writes the reports of what finished and exits
//! with 130 (143 for SIGTERM). A second signal, or a run that does not stop within
//! [`GRACE`], kills every IUT process group and exits at once.
//!
//! IUTs run in process groups of their own, so a terminal's Ctrl-C does not reach them: the
//! harness must end them itself.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Once;
use std::time::Duration;

use tokio::sync::Notify;

use crate::process;

/// How long runs may take to stop after the first signal before everything is killed.
pub const GRACE: Duration = Duration::from_secs(5);

static CODE: AtomicI32 = AtomicI32::new(0);
static STOPPED: AtomicBool = AtomicBool::new(false);
static NOTIFY: Notify = Notify::const_new();
static INSTALL: Once = Once::new();

/// What the first signal does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSignal {
    /// Ask runs to stop and let the caller report (see the module docs).
    Stop,
    /// Kill every IUT process group and exit at once.
    Exit,
}

/// Installs the handler (once per process; later calls are ignored).
pub fn install(on_signal: OnSignal) {
    INSTALL.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("interrupt".into())
            .spawn(move || signal_thread(on_signal));
    });
}

/// The exit code the interrupt calls for (130 or 143), once a signal came.
pub fn interrupted() -> Option<i32> {
    match CODE.load(Ordering::SeqCst) {
        0 => None,
        code => Some(code),
    }
}

/// Completes when the run is interrupted (at once if it already is).
pub async fn signalled() {
    let notified = NOTIFY.notified();
    let mut notified = std::pin::pin!(notified);
    notified.as_mut().enable();
    if interrupted().is_some() {
        return;
    }
    notified.await;
}

/// Says every run has stopped: the grace timer no longer kills the process (the caller is writing
/// its reports).
pub fn runs_stopped() {
    STOPPED.store(true, Ordering::SeqCst);
}

/// Marks the run interrupted, as the first signal would (for tests and embedders).
pub fn interrupt(code: i32) {
    CODE.store(code, Ordering::SeqCst);
    NOTIFY.notify_waiters();
}

fn signal_thread(on_signal: OnSignal) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    rt.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let code = next_signal(&mut term).await;
        if on_signal == OnSignal::Exit {
            exit_now(code);
        }
        eprintln!("interrupted: stopping the runs in progress and writing what finished (Ctrl-C again to quit at once)");
        interrupt(code);
        tokio::select! {
            second = next_signal(&mut term) => exit_now(second),
            () = tokio::time::sleep(GRACE) => {
                if !STOPPED.load(Ordering::SeqCst) {
                    eprintln!("interrupted: the runs did not stop within {} s", GRACE.as_secs());
                    exit_now(code)
                }
            }
        }
        let second = next_signal(&mut term).await;
        exit_now(second);
    });
}

/// The next SIGINT (130) or SIGTERM (143).
async fn next_signal(term: &mut Option<tokio::signal::unix::Signal>) -> i32 {
    let sigterm = async {
        match term {
            Some(t) => t.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => 130,
        Some(()) = sigterm => 143,
    }
}

fn exit_now(code: i32) {
    process::kill_all();
    eprintln!("interrupted: the IUTs' process groups were killed");
    std::process::exit(code);
}
