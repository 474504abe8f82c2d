//! `harness proton repl` as a user runs it: the `harness` binary, non-interactive (commands on
//! stdin) against a real `harness peer proton-server` process over loopback UDP; its exit codes;
//! the saved file replayed by `harness run`; and (where util-linux `script` gives it a terminal)
//! the interactive mode with tab completion and history, with HOME unset.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::OnceLock;
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

fn knows_repl(bin: &Path) -> bool {
    Command::new(bin)
        .args(["proton", "repl", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The `harness` binary of this build (built here when missing or older than the REPL).
fn harness() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable");
        // target/<profile>/deps/<test> → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the target directory")
            .to_owned();
        let bin = profile_dir.join(format!("harness{}", std::env::consts::EXE_SUFFIX));
        if !knows_repl(&bin) {
            let mut build = Command::new(env!("CARGO"));
            build
                .args(["build", "-p", "handshake-harness", "--bin", "harness"])
                .current_dir(root());
            if let Some(target) = profile_dir.parent() {
                build.arg("--target-dir").arg(target);
            }
            match profile_dir.file_name().and_then(|n| n.to_str()) {
                Some("debug") | None => {}
                Some(profile) => {
                    build.args(["--profile", profile]);
                }
            }
            let status = build.status().expect("cargo build");
            assert!(status.success(), "cargo build -p handshake-harness failed");
            assert!(knows_repl(&bin), "{} has no `proton repl`", bin.display());
        }
        bin
    })
}

/// A file `name` in a fresh directory, removed with the returned guard.
fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("scratch directory: {e}"));
    let path = dir.path().join(name);
    (dir, path)
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A `harness peer proton-server` process, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `harness peer proton-server --startup-ms 0 EXTRA…` on a free loopback port and waits
/// for its `Server listening` line. (The peer does not print the port it bound, so the port is
/// chosen here; a lost race for it is retried.)
fn server(extra: &[&str]) -> Server {
    for _ in 0..5 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free port")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(harness())
            .args([
                "peer",
                "proton-server",
                "--listen",
                &addr,
                "--startup-ms",
                "0",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("harness peer proton-server");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("Server listening") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(20)).is_ok() {
            return Server { child, addr };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("harness peer proton-server did not start");
}

/// `harness proton repl ARGS` with `script` on stdin.
fn repl(args: &[&str], script: &str) -> Output {
    let mut child = Command::new(harness())
        .args(["proton", "repl"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("harness proton repl");
    if let Some(mut stdin) = child.stdin.take() {
        // The REPL may leave before reading it all (bad options, a line that does not parse).
        let _ = stdin.write_all(script.as_bytes());
    }
    child.wait_with_output().expect("the REPL's output")
}

#[test]
fn a_script_runs_against_a_real_server_and_its_save_replays() {
    let server = server(&[]);
    let (_scratch_file, file) = scratch("session.json");
    let script = format!(
        "connect\n3 send_event; commit 40   # the answer is 42\n\n2 read_action\nstatus\nsave {}\nclose\n",
        file.display()
    );
    let o = repl(&["--target", &server.addr], &script);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for want in [
        "proton> connect",
        &format!("conn 0: connected to {} (alpn proton)", server.addr),
        "proton> 3 send_event; commit 40   # the answer is 42",
        "Event       sent 1 on stream 0; echo 1 after",
        "Event       sent 3 on stream 0; echo 3 after",
        "StateCommit sent 40 on stream 4; answer 42 after",
        "Action      sent 42 on stream 8; counter 1 after",
        "(real time over UDP)",
        "saved 18 steps to",
        "conn 0: closed by this side: application 0 (normal)",
        "session: 0 command(s) failed",
    ] {
        assert!(out.contains(want), "missing {want:?}\n{}", text(&o));
    }
    let run = Command::new(harness())
        .args(["run"])
        .arg(&file)
        .args(["--iut", "ref:project"])
        .current_dir(root())
        .output()
        .expect("harness run");
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    assert!(
        String::from_utf8_lossy(&run.stdout).contains("1 passed, 0 failed"),
        "{}",
        text(&run)
    );
}

#[test]
fn a_broken_exchange_exits_1_and_the_close_is_printed() {
    let server = server(&[]);
    let o = repl(
        &["--target", &server.addr],
        "connect\nsend_event 3\nsend_event 2\nwait_close 5\nsend_event\n",
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        out.contains("conn 0: closed by the server: application 5 (stream_error)"),
        "{}",
        text(&o)
    );
    assert!(out.contains("FAILED send_event"), "{}", text(&o));
    // The script went on after the failure.
    assert!(out.contains("proton> wait_close 5"), "{}", text(&o));
    assert!(
        out.contains("not connected: connection 0 ended"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_line_that_does_not_parse_stops_with_2() {
    let o = repl(
        &["--target", "ref:project"],
        "connect\ncommit forty\nsend_event\n",
    );
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains("error: line 2, column 8: expected a u32 (0 to 4294967295, decimal or 0x hex), found `forty`"),
        "{}",
        text(&o)
    );
    // The caret stands under the echoed token.
    assert!(
        out.contains("proton> commit forty\n               ^ expected a u32"),
        "{}",
        text(&o)
    );
    assert!(!out.contains("proton> send_event"), "{}", text(&o));
}

#[test]
fn bad_options_exit_2() {
    for (args, want) in [
        (vec!["--target", "nowhere"], "--target `nowhere`"),
        (
            vec!["--target", "ref:nonsense"],
            "unknown Proton profile `nonsense`",
        ),
        (vec!["--op-timeout", "0"], "expected seconds above 0"),
        (vec!["--op-timeout", "soon"], "not a number of seconds"),
        (
            vec!["--idle-ms", "soon"],
            "invalid value 'soon' for '--idle-ms",
        ),
    ] {
        let o = repl(&args, "status\n");
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(want),
            "{args:?}: missing {want:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn a_silent_target_fails_in_bounded_time() {
    let silent = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = silent.local_addr().expect("addr").to_string();
    let started = std::time::Instant::now();
    let o = repl(
        &["--target", &addr, "--op-timeout", "0.5"],
        "connect 0.5\nsend_event\nwait_close\n",
    );
    assert!(started.elapsed() < Duration::from_secs(10), "{}", text(&o));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("no handshake with"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_reference_target_runs_in_virtual_time() {
    let (_scratch_file, file) = scratch("virtual.json");
    let started = std::time::Instant::now();
    let o = repl(
        &["--target", "ref:project+reset_discriminator"],
        &format!(
            "connect; send_event; reset_stream; connect; read_action\nreset\nsave \"{}\"\n",
            file.display()
        ),
    );
    // `reset` waits 2 × 5 s of virtual time.
    assert!(started.elapsed() < Duration::from_secs(8), "{}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("reset by the server"), "{}", text(&o));
    assert!(out.contains("[   10.0"), "{}", text(&o));
    let saved = std::fs::read_to_string(&file).expect("saved");
    assert!(saved.contains("\"reset_discriminator\": true"), "{saved}");
}

/// The interactive mode needs a terminal: util-linux `script` makes one.
#[test]
fn interactive_mode_completes_and_keeps_history_without_home() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed (it gives the REPL a terminal)");
        return;
    }
    let (_scratch_history, history) = scratch("history");
    let _ = std::fs::remove_file(&history);
    let command = format!(
        "{} proton repl --target ref:project --history {}",
        harness().display(),
        history.display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env_remove("HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let mut stdin = child.stdin.take().expect("stdin");
    // Typed slowly, as a person would: `conn` + Tab completes to `connect`.
    for keys in ["conn\t\r", "send_event\r", "comit 4\r", "exit\r"] {
        std::thread::sleep(Duration::from_millis(400));
        stdin.write_all(keys.as_bytes()).expect("type");
        stdin.flush().expect("flush");
    }
    std::thread::sleep(Duration::from_millis(400));
    drop(stdin);
    let o = child.wait_with_output().expect("output");
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        out.contains("conn 0: connected to ref:project"),
        "{}",
        text(&o)
    );
    assert!(out.contains("echo 1 after"), "{}", text(&o));
    assert!(out.contains("did you mean `commit`?"), "{}", text(&o));
    let kept = std::fs::read_to_string(&history).unwrap_or_default();
    for line in ["connect", "send_event", "comit 4", "exit"] {
        assert!(
            kept.lines().any(|l| l == line),
            "history lacks {line:?}: {kept:?}"
        );
    }
}
