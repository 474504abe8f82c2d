//! Ctrl-C (SIGINT) and SIGTERM as a stop flag for a live capture ([`LiveCapture::run`] checks it
//! at least every 100 ms), so the capture file is finished and flushed instead of cut short.
//!
//! [`LiveCapture::run`]: crate::LiveCapture::run

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};

/// Why the stop flag could not be tied to the signals (Ctrl-C then kills the process as usual).
#[derive(Debug, thiserror::Error)]
pub enum StopOnSignalError {
    /// The signal thread, its runtime or its handlers could not be set up.
    #[error("{0}")]
    Setup(#[from] io::Error),
    /// The signal thread ended before saying whether its handlers were in place.
    #[error("the signal thread ended before its handlers were in place")]
    ThreadEnded,
}

/// Sets the stop flag on Ctrl-C (SIGINT) or SIGTERM, from a thread running a small tokio
/// runtime. Dropping it ends the thread; the handlers stay installed (a later Ctrl-C does
/// nothing more), which is harmless: the capture is over by then.
#[derive(Debug)]
pub struct StopOnSignal {
    done: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl StopOnSignal {
    /// Installs the handlers and waits until they are in place.
    ///
    /// # Errors
    ///
    /// [`StopOnSignalError`] when the thread, its runtime or the handlers cannot be set up.
    pub fn install(stop: Arc<AtomicBool>) -> Result<StopOnSignal, StopOnSignalError> {
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = mpsc::channel::<io::Result<()>>();
        let thread = std::thread::Builder::new()
            .name("capture-signals".to_owned())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(wait_for_signal(stop, ready_tx, done_rx));
            })?;
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(StopOnSignal {
                done: Some(done_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(StopOnSignalError::Setup(e)),
            Err(_) => Err(StopOnSignalError::ThreadEnded),
        }
    }
}

impl Drop for StopOnSignal {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(unix)]
async fn wait_for_signal(
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<io::Result<()>>,
    done: tokio::sync::oneshot::Receiver<()>,
) {
    use tokio::signal::unix::{signal, SignalKind};
    // Both handlers are registered here, before the capture starts.
    let (mut interrupt, mut terminate) = match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(i), Ok(t)) => (i, t),
        (Err(e), _) | (_, Err(e)) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    tokio::select! {
        _ = interrupt.recv() => stop.store(true, Ordering::Relaxed),
        _ = terminate.recv() => stop.store(true, Ordering::Relaxed),
        _ = done => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal(
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<io::Result<()>>,
    done: tokio::sync::oneshot::Receiver<()>,
) {
    let _ = ready.send(Ok(()));
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if result.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        }
        _ = done => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    /// Dropped without a signal the flag stays down; SIGTERM sets it (and, handled, does not end
    /// the test process). One test: a signal reaches every handler installed at the time.
    #[cfg(unix)]
    #[test]
    fn a_signal_and_only_a_signal_sets_the_flag() {
        let quiet = Arc::new(AtomicBool::new(false));
        drop(StopOnSignal::install(Arc::clone(&quiet)).expect("installed"));
        assert!(!quiet.load(Ordering::Relaxed));

        let stop = Arc::new(AtomicBool::new(false));
        let signals = StopOnSignal::install(Arc::clone(&stop)).expect("installed");
        nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM).expect("raised");
        let deadline = Instant::now() + Duration::from_secs(5);
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(stop.load(Ordering::Relaxed));
        drop(signals);
        assert!(!quiet.load(Ordering::Relaxed));
    }
}
