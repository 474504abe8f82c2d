//! `harness fuzz` end to end in virtual time: against a reference mutant it finds the mutant's bug
//! from mutated library scenarios, minimises it, and writes a scenario that `harness run` replays —
//! failing on the mutant, passing on the reference. Against the reference itself nothing is found.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const HARNESS: &str = env!("CARGO_BIN_EXE_harness");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn harness(args: &[&str]) -> Output {
    Command::new(HARNESS)
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {HARNESS}: {e}"))
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("handshake-fuzz-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The report `harness fuzz` wrote into `dir` (`fuzz.json`).
fn report_in(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("fuzz.json")).expect("fuzz.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn a_mutant_is_found_minimised_and_replayed() {
    let out = scratch("mutant");
    let o = harness(&[
        "fuzz",
        "--iut",
        "ref:darktower/v1!no-capacity-check",
        "--execs",
        "300",
        // Four seeds in five find it within 400 executions (3 did before inputs the reference
        // cannot run stopped counting as executions).
        "--seed",
        "1",
        "--out",
        out.to_str().expect("path"),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let summary = report_in(&out);
    let finding = &summary["findings"][0];
    assert_eq!(
        finding["kind"], "rule:darktower.controller.capacity",
        "{summary}"
    );
    assert!(finding["steps_after"].as_u64() <= Some(5), "{finding}");
    // The input as drawn is kept beside the minimised scenario, whole.
    let input: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(finding["input"].as_str().expect("input path")).expect("input"),
    )
    .expect("JSON");
    assert_eq!(
        input["peer"]["steps"].as_array().map(Vec::len),
        finding["steps_before"].as_u64().map(|n| n as usize),
        "{input}"
    );
    let scenario = finding["scenario"].as_str().expect("scenario path");
    let replay = harness(&[
        "run",
        scenario,
        "--iut",
        "ref:darktower/v1!no-capacity-check",
    ]);
    assert_eq!(
        replay.status.code(),
        Some(1),
        "the finding replays on the mutant"
    );
    let clean = harness(&["run", scenario, "--iut", "ref:darktower/v1"]);
    assert_eq!(clean.status.code(), Some(0), "the reference passes it");
    // In a corpus folder the input is a regression input: a resumed search finds the bug with
    // its replay alone, before any mutation.
    let corpus = out.join("regression-corpus");
    std::fs::create_dir_all(&corpus).expect("corpus dir");
    std::fs::copy(
        finding["input"].as_str().expect("input path"),
        corpus.join("crasher.json"),
    )
    .expect("copy the input");
    let again_out = out.join("again");
    let again = harness(&[
        "fuzz",
        "--iut",
        "ref:darktower/v1!no-capacity-check",
        "--execs",
        "1",
        "--corpus",
        corpus.to_str().expect("path"),
        "--out",
        again_out.to_str().expect("path"),
    ]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let again = report_in(&again_out);
    assert_eq!(again["findings"][0]["kind"], finding["kind"], "{again}");
    assert_eq!(again["findings"][0]["replayed"], true, "{again}");
    assert_eq!(
        finding["replayed"], false,
        "the first was found by a mutation"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_reference_gives_no_finding_and_the_corpus_resumes() {
    let out = scratch("reference");
    let corpus = out.join("corpus");
    let run = |execs: usize| {
        let o = harness(&[
            "fuzz",
            "--iut",
            "ref:darktower/v1",
            "--execs",
            &execs.to_string(),
            "--seed",
            "5",
            "--corpus",
            corpus.to_str().expect("path"),
            "--out",
            out.to_str().expect("path"),
        ]);
        let summary = report_in(&out);
        (o, summary)
    };
    let corpus_files = || std::fs::read_dir(&corpus).map(Iterator::count).unwrap_or(0);
    let (first, first_summary) = run(120);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stdout)
    );
    let kept = corpus_files();
    assert!(kept > 0, "new paths are kept");
    assert_eq!(first_summary["resumed"], 0, "{first_summary}");
    // Resumed, the corpus is replayed first: after exactly those runs the search knows every path
    // the first run knew (each path came with an input that joined the corpus), and none of the
    // replayed inputs joins it again.
    let (replay, replay_summary) = run(kept);
    assert_eq!(replay.status.code(), Some(0));
    assert_eq!(replay_summary["resumed"], kept as u64, "{replay_summary}");
    assert_eq!(
        replay_summary["paths"], first_summary["paths"],
        "{replay_summary}"
    );
    assert_eq!(corpus_files(), kept, "replayed inputs are not added again");
    // A broken corpus file is skipped with a warning, not fatal.
    std::fs::write(corpus.join("broken.json"), "{ nope").expect("write");
    let (second, _) = run(kept + 60);
    assert_eq!(second.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&second.stderr).contains("is not a JSON scenario"));
    let _ = std::fs::remove_dir_all(&out);
}

/// A copy of the Python media-stream manifest whose responder command is run by `prefix` (its
/// arguments follow); responder skeletons only.
fn wrapped_manifest(dir: &Path, name: &str, prefix: Vec<String>) -> PathBuf {
    let original = root().join("vectors/iut/python-mediastream.json");
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&original).expect("manifest")).expect("JSON");
    let iut_dir = root().join("vectors/iut");
    let iut_dir = iut_dir.canonicalize().expect("vectors/iut");
    let command = m["responder"]
        .as_str()
        .expect("responder command")
        .replace("{manifest_dir}", iut_dir.to_str().expect("path"));
    let mut argv = prefix;
    argv.extend(command.split_whitespace().map(str::to_owned));
    m["responder"] = serde_json::json!(argv);
    m.as_object_mut().expect("object").remove("initiator");
    m.as_object_mut().expect("object").remove("$schema");
    std::fs::create_dir_all(dir).expect("scratch dir");
    let path = dir.join(name);
    std::fs::write(&path, m.to_string()).expect("write manifest");
    path
}

/// The manifest whose responder first appends its process id to `log` (one line per process
/// started).
fn logging_manifest(dir: &Path, log: &Path) -> PathBuf {
    let prefix = [
        "sh",
        "-c",
        &format!("echo $$ >> '{}' && exec \"$@\"", log.display()),
        "sh",
    ];
    wrapped_manifest(dir, "logging.json", prefix.map(str::to_owned).to_vec())
}

/// The process ids `logging_manifest`'s responders wrote to `log`, one per process started.
fn started_pids(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The media-stream responder behind `vectors/iut/hang_proxy.py` in its slow mode (at a
/// client's datagram 2 s after it started or last stopped, it stops for 1.5 s, whatever the
/// input, then goes on), each start logged to `log` as its process id and command line.
fn slowed_manifest(dir: &Path, log: &Path) -> PathBuf {
    let proxy = root().join("vectors/iut/hang_proxy.py");
    let prefix = [
        "sh",
        "-c",
        &format!("echo \"$$ $*\" >> '{}' && exec \"$@\"", log.display()),
        "sh",
        "python3",
        proxy.to_str().expect("path"),
        "{listen_port}",
        "every:2:1.5",
    ];
    let path = wrapped_manifest(dir, "slowed.json", prefix.map(str::to_owned).to_vec());
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("manifest")).expect("JSON");
    for word in m["responder"].as_array_mut().expect("argv").iter_mut() {
        if word == "{listen}" {
            *word = serde_json::json!("@INNER@");
        }
    }
    std::fs::write(&path, m.to_string()).expect("write manifest");
    path
}

/// `harness fuzz` of the media-stream responder a manifest starts, with `extra` arguments.
fn fuzz_responder(manifest: &Path, report: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "fuzz",
        "--iut",
        manifest.to_str().expect("path"),
        "--family",
        "mediastream",
        "--role",
        "responder",
        "--out",
        report.to_str().expect("path"),
    ];
    args.extend_from_slice(extra);
    harness(&args)
}

/// An IUT whose command stops starting during the search (a script that deletes itself when first
/// run) ends it with an error and the report, not with "0 findings" over inputs never judged; one
/// that never starts is refused before the search.
#[test]
fn an_iut_that_cannot_be_started_is_an_error_not_a_pass() {
    let out = scratch("vanishing");
    std::fs::create_dir_all(&out).expect("scratch dir");
    let script = out.join("once.sh");
    std::fs::write(&script, "#!/bin/sh\nrm -f \"$0\"\nexec \"$@\"\n").expect("script");
    let chmod = Command::new("chmod").arg("+x").arg(&script).status();
    assert!(chmod.is_ok_and(|s| s.success()));
    let fuzz = |manifest: &Path| {
        let report = out.join("report");
        (
            fuzz_responder(manifest, &report, &["--time", "120", "--fresh-iut"]),
            report,
        )
    };
    let once = wrapped_manifest(&out, "once.json", vec![script.display().to_string()]);
    let (o, report) = fuzz(&once);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stopped: the last ")
            && stderr.contains(" inputs could not be run")
            && stderr.contains("cannot start"),
        "{stderr}"
    );
    let summary = report_in(&report);
    assert!(summary["errors"].as_u64() >= Some(20), "{summary}");
    // The script is gone now: the IUT cannot start at all.
    let (o, _) = fuzz(&once);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot run the skeleton of"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
}

/// By default the search keeps an external responder running from input to input (fewer starts
/// than inputs), with `--fresh-iut` it starts one per input, and neither finds anything in the
/// correct implementation (a kept process must not cause false findings).
#[test]
fn an_external_responder_serves_input_after_input() {
    let out = scratch("kept");
    let corpus = out.join("corpus");
    let corpus_arg = corpus.to_str().expect("path").to_owned();
    let starts = |fresh: bool, execs: usize| -> (usize, u64) {
        let log = out.join(format!("starts-{fresh}-{execs}.log"));
        let manifest = logging_manifest(&out, &log);
        let report = out.join(format!("report-{fresh}-{execs}"));
        let execs = execs.to_string();
        let mut args = vec!["--execs", &execs, "--jobs", "2", "--seed", "2"];
        if fresh {
            args.push("--fresh-iut");
        } else {
            args.extend(["--corpus", &corpus_arg]);
        }
        let o = fuzz_responder(&manifest, &report, &args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "no finding in the correct implementation: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let summary = report_in(&report);
        let started = started_pids(&log).len();
        let runs = summary["execs"].as_u64().unwrap_or(0);
        // Verdicts a fresh process did not show again are counted by kind (none expected here,
        // but the count is reported either way).
        assert!(summary["unconfirmed"].is_object(), "{summary}");
        (started, runs)
    };
    let (kept, runs) = starts(false, 12);
    assert!(runs >= 12, "{runs} inputs ran");
    assert!(kept < 12, "{kept} processes started for {runs} inputs");
    let (fresh, runs) = starts(true, 12);
    assert!(
        fresh as u64 >= runs,
        "{fresh} processes started for {runs} inputs"
    );
    // The corpus read is replayed on fresh processes even with kept ones, as `harness run` runs
    // an input: what a kept process kept from earlier inputs must not hide a regression input's bug.
    let inputs = std::fs::read_dir(&corpus).map(Iterator::count).unwrap_or(0);
    assert!(inputs >= 2, "the first run kept {inputs} inputs");
    let (replays, runs) = starts(false, inputs);
    assert_eq!(runs, inputs as u64);
    assert!(
        replays >= inputs,
        "{replays} processes started to replay {inputs} inputs"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Kept responders end with the search: every process it started is gone when `harness fuzz`
/// has exited. (Ended by the thread-local cache's destructors alone, some outlived the harness:
/// a scope's implicit join does not wait for them, and 13 responders of a 16-job campaign were
/// left running.)
#[test]
fn kept_responders_end_with_the_search() {
    let out = scratch("kept-end");
    let log = out.join("pids.log");
    let manifest = logging_manifest(&out, &log);
    let report = out.join("report");
    let o = fuzz_responder(
        &manifest,
        &report,
        &["--keep-iut", "--jobs", "16", "--execs", "64", "--seed", "4"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", report_in(&report));
    let pids = started_pids(&log);
    assert!(pids.len() >= 2, "{} processes started", pids.len());
    // A process still running has its command line; one that ended and was reaped has none. A
    // SIGKILL sent as the harness exits takes a moment to take effect on a loaded machine: a
    // process that outlives the harness for good is still there two seconds later.
    let running = || -> Vec<&String> {
        pids.iter()
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("mediastream_peer"))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut alive = running();
    while !alive.is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        alive = running();
    }
    assert!(
        alive.is_empty(),
        "still running after the search: {alive:?}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// A kept responder that is slow for a moment, whatever its input, misses probes but answers
/// when asked again on that very process: nothing it served is blamed (replayed on fresh
/// processes), so a missed probe costs two starts at most (the input's confirmation on a fresh
/// process, and the responder started afresh for the next inputs), and no finding is made.
#[test]
fn a_slow_kept_responder_is_asked_again_not_blamed() {
    let out = scratch("slowed");
    let log = out.join("pids.log");
    let manifest = slowed_manifest(&out, &log);
    let report = out.join("report");
    let o = fuzz_responder(
        &manifest,
        &report,
        &["--jobs", "2", "--execs", "60", "--seed", "5"],
    );
    let summary = report_in(&report);
    assert_eq!(o.status.code(), Some(0), "{summary}");
    let missed = summary["unconfirmed"]["hang"].as_u64().unwrap_or(0);
    assert!(missed >= 1, "no probe was missed: {summary}");
    let unconfirmed: u64 = summary["unconfirmed"]
        .as_object()
        .map(|kinds| kinds.values().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    // Each launch (profile, flags) has a process of its own: what is started beyond the first
    // of each command line (its listen port, the third word, left out) is a restart or a run on
    // a fresh process.
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    let commands: Vec<Vec<&str>> = lines
        .lines()
        .map(|line| {
            let mut words: Vec<&str> = line.split_whitespace().skip(1).collect();
            if words.len() > 2 {
                words.remove(2);
            }
            words
        })
        .collect();
    let distinct: std::collections::BTreeSet<&Vec<&str>> = commands.iter().collect();
    let again = (commands.len() - distinct.len()) as u64;
    // Two jobs may each start one at first.
    assert!(
        again <= distinct.len() as u64 + 2 * unconfirmed,
        "{again} processes started again, {} command lines, for {unconfirmed} unconfirmed \
         verdicts: {summary}",
        distinct.len()
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Over real UDP an input whose steps ask for more sends than the budget is not run, as in
/// virtual time: it would cost the IUT's time for thousands of datagrams.
#[test]
fn an_input_asking_for_thousands_of_sends_is_over_budget_over_real_udp_too() {
    let out = scratch("budget");
    std::fs::create_dir_all(&out).expect("scratch dir");
    let mut skeleton: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            root().join("vectors/scenarios/mediastream/responder_duplicate_start.json"),
        )
        .expect("scenario"),
    )
    .expect("JSON");
    skeleton["peer"]["steps"][0]["send"]["times"] = serde_json::json!(3000);
    skeleton.as_object_mut().expect("object").remove("$schema");
    let skeleton_path = out.join("flood.json");
    std::fs::write(&skeleton_path, skeleton.to_string()).expect("write skeleton");
    let log = out.join("starts.log");
    let manifest = logging_manifest(&out, &log);
    let report = out.join("report");
    let o = fuzz_responder(
        &manifest,
        &report,
        &[
            "--scenarios",
            skeleton_path.to_str().expect("path"),
            "--execs",
            "3",
            "--jobs",
            "1",
        ],
    );
    let summary = report_in(&report);
    assert_eq!(o.status.code(), Some(0), "{summary}");
    assert!(
        summary["over_budget"].as_u64() > Some(0),
        "no input was over budget: {summary}"
    );
    let started = started_pids(&log).len() as u64;
    let runs = summary["execs"].as_u64().unwrap_or(0);
    assert!(
        started <= runs,
        "{started} processes started for {runs} inputs run: {summary}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

/// Ctrl-C during a search: what was found so far stays — the finding's scenario and capture, the
/// report with the finding, marked interrupted — and the exit code says interrupted (130).
#[test]
fn ctrl_c_keeps_the_findings_so_far() {
    use std::io::{BufRead, BufReader};
    let out = scratch("sigint");
    let mut child = Command::new(HARNESS)
        .args([
            "fuzz",
            "--iut",
            "ref:darktower/v1!no-capacity-check",
            "--time",
            "300",
            "--seed",
            "3",
            "--out",
            out.to_str().expect("path"),
        ])
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let found = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.starts_with("finding 1:"));
    assert!(found.is_some(), "a finding before the interrupt");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).expect("SIGINT");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "{rest:?}");
    let summary = report_in(&out);
    assert_eq!(summary["interrupted"], true, "{summary}");
    let finding = &summary["findings"][0];
    for key in ["scenario", "capture"] {
        let path = finding[key].as_str().expect("a path");
        assert!(
            Path::new(path).is_file() || root().join(path).is_file(),
            "{key}: {path}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}
