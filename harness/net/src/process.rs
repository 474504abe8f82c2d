//! The IUT's process: started in a process group of its own, stdout and stderr kept (each up to
//! [`OUTPUT_LIMIT`] bytes, line by line with times), its exit watched, and the whole group killed
//! afterwards (SIGTERM, then SIGKILL after a grace period; and SIGKILL whenever the handle is dropped,
//! so no path leaves it running). Process groups are signalled with `nix::sys::signal::killpg`: the
//! workspace forbids `unsafe`.

use std::collections::{BTreeSet, VecDeque};
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

/// Bytes of output a process kept running for many runs holds back, its oldest lines going first
/// (each run reads what came after its own start).
const ROLLING_LIMIT: usize = 4 * OUTPUT_LIMIT;

/// Everything read from a process, oldest first, stamped on the monotonic clock. A run's
/// [`Output`] is cut from it; until the process is kept for many runs ([`Process::keep_rolling`])
/// a stream's lines past [`OUTPUT_LIMIT`] are counted, not kept (its head says most).
#[derive(Debug, Default)]
struct Log {
    lines: VecDeque<(tokio::time::Instant, Stream, Vec<u8>)>,
    /// Lines read before `lines[0]` (dropped to stay within [`ROLLING_LIMIT`]).
    first: u64,
    /// Bytes kept in all, and per stream (stdout, stderr).
    bytes: usize,
    kept: [usize; 2],
    /// Bytes read but not kept per stream (not rolling).
    dropped: [usize; 2],
    rolling: bool,
}

impl Log {
    fn push(&mut self, stream: Stream, line: &[u8]) {
        let i = stream as usize;
        if !self.rolling && self.kept[i] >= OUTPUT_LIMIT {
            self.dropped[i] += line.len();
            return;
        }
        self.bytes += line.len();
        self.kept[i] += line.len();
        self.lines
            .push_back((tokio::time::Instant::now(), stream, line.to_vec()));
        while self.rolling && self.bytes > ROLLING_LIMIT && self.lines.len() > 1 {
            if let Some((_, _, old)) = self.lines.pop_front() {
                self.bytes -= old.len();
                self.first += 1;
            }
        }
    }

    /// The index the next line read will have.
    fn next(&self) -> u64 {
        self.first + self.lines.len() as u64
    }

    /// The lines from index `from` on.
    fn since(&self, from: u64) -> impl Iterator<Item = &(tokio::time::Instant, Stream, Vec<u8>)> {
        let skip = usize::try_from(from.saturating_sub(self.first)).unwrap_or(usize::MAX);
        self.lines.iter().skip(skip)
    }
}

/// The process group, killed (SIGKILL) when the last handle on it goes: a process kept for many
/// runs at once lives as long as one of them, or the pool, holds it.
#[derive(Debug)]
struct Group(Pid, Mutex<Members>);

impl Drop for Group {
    fn drop(&mut self) {
        let _ = killpg(self.0, Signal::SIGKILL);
        if let Ok(mut live) = LIVE.lock() {
            live.remove(&self.0.as_raw());
        }
    }
}

/// A process group's members as a scan of `/proc` last found them, and when.
#[derive(Debug, Default)]
struct Members {
    scanned: Option<std::time::Instant>,
    pids: Vec<u32>,
}

/// How long a scan of a group's members is used before the next: a kept process's memory is read
/// after each of its runs (some 200 a second in a fuzzing campaign), and a scan of all of `/proc`
/// each time was a third of the harness's CPU.
const MEMBERS_FRESH: Duration = Duration::from_millis(500);

/// The process ids in process group `pgid` (a scan of `/proc`; Linux only).
fn group_members(pgid: i32) -> Option<Vec<u32>> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
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
        if pgrp == Some(pgid) {
            pids.push(pid);
        }
    }
    Some(pids)
}

/// The high-water mark of resident memory of process `pid` (`VmHWM`), kB.
fn peak_resident_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
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

/// A running IUT, or (a [`view`](Process::view)) one run's handle on a process other runs use too.
#[derive(Debug)]
pub struct Process {
    group: Arc<Group>,
    /// Its process id (= process group id).
    pub pid: u32,
    log: Arc<Mutex<Log>>,
    exit: watch::Receiver<Option<Exit>>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// Notified on every line read (for `ready: output`).
    pub line_read: Arc<tokio::sync::Notify>,
    /// Signals the harness sent, with times.
    pub signals_sent: Vec<(Instant, Signal)>,
    /// The clock its exit is stamped with (the one it was started on).
    started_on: Clock,
    /// The clock of the run this handle serves, and the first line that run reads.
    run_clock: Clock,
    first_line: u64,
}

/// Why a process under test could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// No program was given.
    #[error("empty command")]
    EmptyCommand,
    /// The operating system refused to start it.
    #[error("cannot start `{program}`: {source}")]
    Start {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// It was gone before its process id could be read.
    #[error("the IUT exited at once")]
    ExitedAtOnce,
    /// Its process id does not fit a process group id.
    #[error("pid out of range")]
    PidOutOfRange,
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
    ) -> Result<Process, SpawnError> {
        let (program, args) = argv.split_first().ok_or(SpawnError::EmptyCommand)?;
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
        let mut child = command.spawn().map_err(|e| SpawnError::Start {
            program: program.clone(),
            source: e,
        })?;
        let pid = child.id().ok_or(SpawnError::ExitedAtOnce)?;
        let pgid = Pid::from_raw(i32::try_from(pid).map_err(|_| SpawnError::PidOutOfRange)?);
        if let Ok(mut live) = LIVE.lock() {
            live.insert(pgid.as_raw());
        }
        let group = Arc::new(Group(pgid, Mutex::default()));
        if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
            // Written in the background, then closed: a program that reads commands until EOF
            // (a REPL) sees the whole script; one that exits early just breaks the pipe.
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let _ = pipe.write_all(text.as_bytes()).await;
                let _ = pipe.shutdown().await;
            });
        }
        let log = Arc::new(Mutex::new(Log::default()));
        let line_read = Arc::new(tokio::sync::Notify::new());
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(tokio::spawn(read_lines(
                out,
                Stream::Stdout,
                Arc::clone(&log),
                Arc::clone(&line_read),
            )));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(tokio::spawn(read_lines(
                err,
                Stream::Stderr,
                Arc::clone(&log),
                Arc::clone(&line_read),
            )));
        }
        let (tx, exit) = watch::channel(None);
        tokio::spawn(async move {
            // Dropping the child when the run ends kills it (kill_on_drop); normally it is reaped here.
            if let Ok(status) = child.wait().await {
                let _ = tx.send(Some(Exit::of(clock.now(), status)));
            }
            // Keep the sender alive until the run drops its receiver, so "exited" stays readable.
            tx.closed().await;
        });
        Ok(Process {
            group,
            pid,
            log,
            exit,
            readers,
            line_read,
            signals_sent: Vec::new(),
            started_on: clock,
            run_clock: clock,
            first_line: 0,
        })
    }

    /// Another handle on this process, for a run served at the same time as others: it reads the
    /// output from [`begin_run`](Self::begin_run) on, and the process ends when the last handle
    /// goes (only the first reads its output to the end when shut down).
    pub fn view(&self) -> Process {
        Process {
            group: Arc::clone(&self.group),
            pid: self.pid,
            log: Arc::clone(&self.log),
            exit: self.exit.clone(),
            readers: Vec::new(),
            line_read: Arc::clone(&self.line_read),
            signals_sent: Vec::new(),
            started_on: self.started_on,
            run_clock: self.run_clock,
            first_line: self.first_line,
        }
    }

    /// From now on its output is held back as a rolling window (its newest lines), as a process
    /// kept running for many runs needs: each run reads what came after its start.
    pub fn keep_rolling(&self) {
        if let Ok(mut log) = self.log.lock() {
            log.rolling = true;
        }
    }

    /// Makes a process kept running between runs ready for the next one: what it printed before
    /// and the signals it got are left out, and from now on its output and exit are told on
    /// `clock`.
    pub fn begin_run(&mut self, clock: Clock) {
        self.first_line = self.log.lock().map_or(0, |l| l.next());
        self.run_clock = clock;
        self.signals_sent.clear();
    }

    /// A time of the run's clock.
    fn on_run_clock(&self, t: tokio::time::Instant) -> Instant {
        let since = t.saturating_duration_since(self.run_clock.to_tokio(Instant::ZERO));
        Instant::from_nanos(u64::try_from(since.as_nanos()).unwrap_or(u64::MAX))
    }

    /// How it ended, if it has.
    pub fn exited(&self) -> Option<Exit> {
        let exit = (*self.exit.borrow())?;
        Some(Exit {
            at: self.on_run_clock(self.started_on.to_tokio(exit.at)),
            ..exit
        })
    }

    /// A receiver that changes when it exits.
    pub fn exit_watch(&self) -> watch::Receiver<Option<Exit>> {
        self.exit.clone()
    }

    /// What it printed in this run so far (at most [`OUTPUT_LIMIT`] bytes per stream).
    pub fn output(&self) -> Output {
        let mut output = Output::default();
        if let Ok(log) = self.log.lock() {
            for (at, stream, line) in log.since(self.first_line) {
                output.push(self.on_run_clock(*at), *stream, line);
            }
            for (d, more) in output.dropped.iter_mut().zip(log.dropped) {
                *d += more;
            }
        }
        output
    }

    /// Whether a line it printed in this run contains `text`.
    pub fn printed(&self, text: &str) -> bool {
        self.log.lock().is_ok_and(|log| {
            log.since(self.first_line)
                .any(|(_, _, l)| String::from_utf8_lossy(l).contains(text))
        })
    }

    /// The peak resident memory of its process group so far, in kB: the sum of each live member's
    /// high-water mark (`VmHWM` in `/proc/PID/status`; Linux only, `None` elsewhere or when
    /// nothing of the group is left). The members are those a scan of `/proc` found at most
    /// `MEMBERS_FRESH` ago (the first call scans): a process started since is counted from the
    /// next scan on.
    pub fn peak_memory_kb(&self) -> Option<u64> {
        let pids = {
            let mut members = self.group.1.lock().ok()?;
            let stale = members
                .scanned
                .is_none_or(|at| at.elapsed() >= MEMBERS_FRESH);
            if stale {
                members.pids = group_members(self.group.0.as_raw())?;
                members.scanned = Some(std::time::Instant::now());
            }
            members.pids.clone()
        };
        pids.into_iter()
            .filter_map(peak_resident_kb)
            .reduce(|a, b| a + b)
    }

    /// Waits up to `limit` for it to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<Exit> {
        let mut rx = self.exit.clone();
        let _ = tokio::time::timeout(limit, rx.wait_for(Option::is_some)).await;
        self.exited()
    }

    fn signal(&mut self, signal: Signal, clock: Clock) {
        // ESRCH: nothing left in the group.
        if killpg(self.group.0, signal).is_ok() {
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
        let _ = killpg(self.group.0, Signal::SIGKILL);
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

async fn read_lines(
    stream: impl AsyncRead + Unpin,
    which: Stream,
    log: Arc<Mutex<Log>>,
    notify: Arc<tokio::sync::Notify>,
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
                if let Ok(mut l) = log.lock() {
                    l.push(which, &line);
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

    /// A member that joins the group after a read (a child the IUT starts) is counted once the
    /// members are scanned again, the same handle or another (a kept process's next run).
    #[tokio::test]
    async fn a_child_started_later_is_counted_at_the_next_scan() {
        let clock = Clock::start();
        let env = std::collections::BTreeMap::new();
        let script = "import subprocess, sys, time\n\
            print('ready', flush=True)\n\
            time.sleep(1)\n\
            subprocess.Popen([sys.executable, '-c', 'import time; b = bytearray(200 * 1024 * 1024); print(1, flush=True); time.sleep(5)'])\n\
            time.sleep(5)\n";
        let mut parent = Process::spawn(
            &["python3".to_owned(), "-c".to_owned(), script.to_owned()],
            None,
            &env,
            None,
            clock,
        )
        .expect("python3 starts");
        for _ in 0..100 {
            if parent.printed("ready") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let before = parent.peak_memory_kb();
        let view = parent.view();
        let mut after = None;
        for _ in 0..60 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = view.peak_memory_kb();
            if after.is_some_and(|kb| kb > 200 * 1024) {
                break;
            }
        }
        assert!(before.is_some_and(|kb| kb < 100 * 1024), "{before:?}");
        assert!(
            after.is_some_and(|kb| kb > 200 * 1024),
            "{before:?} then {after:?}"
        );
        parent.shut_down(Duration::from_millis(100), clock).await;
    }
}
