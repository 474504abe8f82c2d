//! The IUT's process: started in a process group of its own, stdout and stderr kept (each up to
//! [`OUTPUT_LIMIT`] bytes, line by line with times), its exit watched, and the whole group killed
//! afterwards (SIGTERM, then SIGKILL after a grace period; and SIGKILL whenever the handle is dropped,
//! so no path leaves it running). Process groups are signalled with `nix::sys::signal::killpg`: the
//! workspace forbids `unsafe`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::udp::Clock;
use handshake_core::Instant;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};
use tokio::sync::watch;

/// Bytes of stdout, and of stderr, kept per run.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// Process groups of IUTs still running (for [`kill_all`] on Ctrl-C).
static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Kills (SIGKILL) the process group of every IUT still running. For an interrupt handler.
pub fn kill_all() {
    let groups: Vec<i32> = LIVE
        .lock()
        .map(|g| g.iter().copied().collect())
        .unwrap_or_default();
    for g in groups {
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
}

/// Which output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout.
    Stdout,
    /// stderr.
    Stderr,
}

impl Stream {
    /// `stdout` / `stderr`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// What the IUT wrote.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// Lines kept, with the time each was read.
    pub lines: Vec<(Instant, Stream, String)>,
    /// Bytes kept per stream (stdout, stderr).
    pub kept: [usize; 2],
    /// Bytes read but not kept per stream.
    pub dropped: [usize; 2],
}

impl Output {
    fn push(&mut self, at: Instant, stream: Stream, line: &[u8]) {
        let i = stream as usize;
        let room = OUTPUT_LIMIT.saturating_sub(self.kept[i]);
        if room == 0 {
            self.dropped[i] += line.len();
            return;
        }
        let take = line.len().min(room);
        self.kept[i] += take;
        self.dropped[i] += line.len() - take;
        let text = String::from_utf8_lossy(&line[..take]);
        self.lines
            .push((at, stream, text.trim_end_matches(['\n', '\r']).to_owned()));
    }

    /// The text of one stream (kept part), lines joined with `\n`.
    pub fn text(&self, stream: Stream) -> String {
        self.lines
            .iter()
            .filter(|(_, s, _)| *s == stream)
            .map(|(_, _, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// How the process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// When the harness saw it.
    pub at: Instant,
    /// The exit code, when it exited (not killed by a signal).
    pub code: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
}

impl Exit {
    fn of(at: Instant, status: ExitStatus) -> Exit {
        use std::os::unix::process::ExitStatusExt;
        Exit {
            at,
            code: status.code(),
            signal: status.signal(),
        }
    }

    /// `exit code 0` / `killed by signal 15`.
    pub fn describe(&self) -> String {
        match (self.code, self.signal) {
            (Some(c), _) => format!("exit code {c}"),
            (None, Some(s)) => format!("killed by signal {s}{}", signal_name(s)),
            (None, None) => "ended".to_owned(),
        }
    }
}

fn signal_name(s: i32) -> String {
    Signal::try_from(s)
        .map(|s| format!(" ({s})"))
        .unwrap_or_default()
}

/// A running IUT.
#[derive(Debug)]
pub struct Process {
    pgid: Pid,
    /// Its process id (= process group id).
    pub pid: u32,
    output: Arc<Mutex<Output>>,
    exit: watch::Receiver<Option<Exit>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// Notified on every line read (for `ready: output`).
    pub line_read: Arc<tokio::sync::Notify>,
    /// Signals the harness sent, with times.
    pub signals_sent: Vec<(Instant, Signal)>,
    /// The clock its output and exit are stamped with (a kept process changes it per run).
    clock: Arc<Mutex<Clock>>,
}

impl Process {
    /// Starts `argv` in a new process group, stdout and stderr read line by line; stdin gets
    /// `stdin` and is then closed (closed at once when `None`).
    pub fn spawn(
        argv: &[String],
        cwd: Option<&PathBuf>,
        env: &std::collections::BTreeMap<String, String>,
        stdin: Option<String>,
        clock: Clock,
    ) -> Result<Process, String> {
        let (program, args) = argv.split_first().ok_or("empty command")?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        if let Some(dir) = cwd {
            command.current_dir(dir);
        }
        command.envs(env);
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot start `{program}`: {e}"))?;
        let pid = child.id().ok_or("the IUT exited at once")?;
        let pgid = Pid::from_raw(i32::try_from(pid).map_err(|_| "pid out of range")?);
        if let Ok(mut live) = LIVE.lock() {
            live.insert(pgid.as_raw());
        }
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Written in the background, then closed: a program that reads commands until EOF
            // (a REPL) sees the whole script; one that exits early just breaks the pipe.
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = pipe.write_all(text.as_bytes()).await;
                let _ = pipe.shutdown().await;
            });
        }
        let output = Arc::new(Mutex::new(Output::default()));
        let shared_clock = Arc::new(Mutex::new(clock));
        let line_read = Arc::new(tokio::sync::Notify::new());
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(read_lines(
                out,
                Stream::Stdout,
                Arc::clone(&output),
                Arc::clone(&line_read),
                Arc::clone(&shared_clock),
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(read_lines(
                err,
                Stream::Stderr,
                Arc::clone(&output),
                Arc::clone(&line_read),
                Arc::clone(&shared_clock),
            )));
        }
        let (tx, exit) = watch::channel(None);
        let exit_clock = Arc::clone(&shared_clock);
        tokio::spawn(async move {
            // Dropping the child when the run ends kills it (kill_on_drop); normally it is reaped here.
            if let Ok(status) = child.wait().await {
                let _ = tx.send(Some(Exit::of(now(&exit_clock), status)));
            }
            // Keep the sender alive until the run drops its receiver, so "exited" stays readable.
            tx.closed().await;
        });
        Ok(Process {
            pgid,
            pid,
            output,
            exit,
            readers,
            line_read,
            signals_sent: Vec::new(),
            clock: shared_clock,
        })
    }

    /// Makes a process kept running between runs ready for the next one: what it printed and the
    /// signals it got are forgotten, and from now on its output and exit are stamped on `clock`.
    pub fn begin_run(&mut self, clock: Clock) {
        if let Ok(mut c) = self.clock.lock() {
            *c = clock;
        }
        if let Ok(mut o) = self.output.lock() {
            *o = Output::default();
        }
        self.signals_sent.clear();
    }

    /// How it ended, if it has.
    pub fn exited(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// A receiver that changes when it exits.
    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit.clone()
    }

    /// A copy of the output so far.
    pub fn output(&self) -> Output {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    /// Whether a kept output line contains `text`.
    pub fn printed(&self, text: &str) -> bool {
        self.output
            .lock()
            .is_ok_and(|o| o.lines.iter().any(|(_, _, l)| l.contains(text)))
    }

    /// The peak resident memory of its process group so far, in kB: the sum of each live member's
    /// high-water mark (`VmHWM` in `/proc/PID/status`; Linux only, `None` elsewhere or when
    /// nothing of the group is left).
    pub fn peak_memory_kb(&self) -> Option<u64> {
        let pgid = self.pgid.as_raw();
        let mut total = None;
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses.
            let pgrp = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(2))
                .and_then(|g| g.parse::<i32>().ok());
            if pgrp != Some(pgid) {
                continue;
            }
            let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
                .ok()
                .and_then(|status| {
                    status
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                });
            if let Some(kb) = hwm {
                total = Some(total.unwrap_or(0) + kb);
            }
        }
        total
    }

    /// Waits up to `limit` for it to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<Exit> {
        let mut rx = self.exit.clone();
        let _ = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        self.exited()
    }

    fn signal(&mut self, signal: Signal, clock: Clock) {
        // ESRCH: nothing left in the group.
        if killpg(self.pgid, signal).is_ok() {
            self.signals_sent.push((clock.now(), signal));
        }
    }

    /// Ends the whole process group: SIGTERM, SIGKILL after `grace` if the process is still there,
    /// then SIGKILL for whatever is left of the group; waits (bounded) for the output to close.
    /// Returns how the process ended.
    pub async fn shut_down(&mut self, grace: Duration, clock: Clock) -> Option<Exit> {
        if self.exited().is_none() {
            self.signal(Signal::SIGTERM, clock);
            if self.wait_exit(grace).await.is_none() {
                self.signal(Signal::SIGKILL, clock);
                self.wait_exit(Duration::from_secs(2)).await;
            }
        }
        // Children it left behind in its group.
        let _ = killpg(self.pgid, Signal::SIGKILL);
        for reader in std::mem::take(&mut self.readers) {
            // A grandchild outside the group may hold the pipe open: do not wait for it forever.
            let abort = reader.abort_handle();
            if tokio::time::timeout(Duration::from_millis(500), reader)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.exited()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = killpg(self.pgid, Signal::SIGKILL);
        if let Ok(mut live) = LIVE.lock() {
            live.remove(&self.pgid.as_raw());
        }
    }
}

/// The time now on a shared clock.
fn now(clock: &Mutex<Clock>) -> Instant {
    clock
        .lock()
        .map(|c| c.now())
        .unwrap_or_else(|e| e.into_inner().now())
}

async fn read_lines(
    stream: impl AsyncRead + Unpin,
    which: Stream,
    output: Arc<Mutex<Output>>,
    notify: Arc<tokio::sync::Notify>,
    clock: Arc<Mutex<Clock>>,
) {
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bounded per line: a program writing without newlines cannot grow the buffer without end.
        match (&mut reader)
            .take(OUTPUT_LIMIT as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if let Ok(mut o) = output.lock() {
                    o.push(now(&clock), which, &line);
                }
                notify.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn peak_memory_covers_the_group_and_grows_with_it() {
        let clock = Clock::start();
        let argv =
            |script: &str| -> Vec<String> { vec!["python3".into(), "-c".into(), script.into()] };
        let env = std::collections::BTreeMap::new();
        let small = Process::spawn(
            &argv("import time; print('ready', flush=True); time.sleep(5)"),
            None,
            &env,
            None,
            clock,
        )
        .expect("python3 starts");
        let big = Process::spawn(
            &argv("import time; b = bytearray(200 * 1024 * 1024); print('ready', flush=True); time.sleep(5)"),
            None,
            &env,
            None,
            clock,
        )
        .expect("python3 starts");
        for p in [&small, &big] {
            for _ in 0..100 {
                if p.printed("ready") {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let (s, b) = (small.peak_memory_kb(), big.peak_memory_kb());
        assert!(s.is_some_and(|kb| kb > 1000), "{s:?}");
        assert!(b.is_some_and(|kb| kb > 200 * 1024), "{b:?}");
        for mut p in [small, big] {
            p.shut_down(Duration::from_millis(100), clock).await;
        }
    }
}
