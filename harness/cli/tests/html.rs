//! The HTML report: a page made from real engine runs of a few scenarios (pass, expected failure,
//! failure, unsupported) and one made from a small interop matrix (with a differing cell) must be
//! self-contained (no network references, no scripts), hold a ladder SVG per capture, the matrix's
//! coloured cells and links that resolve to the files written beside it, and be deterministic.
//! When Chromium is installed, each page is rendered headless to a screenshot (a smoke test: the
//! PNG must exist and not be tiny); without it the screenshot is skipped with a message.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use handshake_harness::families::REGISTRY;
use handshake_harness::interop_cmd::{self, InteropArgs};
use handshake_report::html;
use handshake_report::{result_files, write_reports};
use handshake_scenario::results::{ResultEntry, RunReport, Status};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where the pages and screenshots go (kept after the test, to be looked at).
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("html-report")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn entry(file: &str, iut: &str, expected_failure: Option<&str>) -> ResultEntry {
    let path = root().join("vectors/scenarios/mediastream").join(file);
    let scenario = REGISTRY
        .families
        .load(&path)
        .unwrap_or_else(|e| panic!("{e}"));
    let iut = REGISTRY
        .families
        .parse_iut(iut)
        .unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed().unwrap_or(1);
    let outcome = scenario.run(&iut, seed);
    let status = Status::of(
        outcome.verdict,
        !outcome.deviations.is_empty(),
        expected_failure,
        false,
    );
    ResultEntry {
        duration_ms: outcome.transcript.last().map_or(0.0, |l| l.at_ms),
        outcome,
        status,
        expected_failure: expected_failure.map(str::to_owned),
        repetition: 1,
        seed,
    }
}

fn run_report() -> RunReport {
    RunReport {
        version: handshake_scenario::results::RESULTS_VERSION,
        seed: 1,
        partition: None,
        results: vec![
            entry("responder_scripted_handshake.json", "ref:3way", None),
            entry(
                "responder_legacy_start_not_served.json",
                "ref:3way+allow_legacy_start",
                Some("D9 by design: the option serves a START"),
            ),
            // Fails: a responder with AllowLegacyStart serves the START this scenario sends first.
            entry(
                "responder_bad_version_after_dropped_start.json",
                "ref:3way+allow_legacy_start",
                None,
            ),
            entry("initiator_lost_syn_ack.json", "ref:3way", None),
            entry("initiator_lost_syn_ack.json", "ref:legacy", None),
        ],
    }
}

fn assert_self_contained(page: &str) {
    assert!(page.starts_with("<!DOCTYPE html>"), "a whole page");
    assert!(page.ends_with("</html>\n"));
    for needle in ["http://", "https://", "<script", "<link", "@import", "url("] {
        assert!(
            !page.contains(needle),
            "the page must not contain `{needle}`"
        );
    }
}

/// Every `href="…"` of the page that is not an anchor resolves to a file in `dir`.
fn assert_links_resolve(page: &str, dir: &Path) -> usize {
    let mut n = 0;
    for part in page.split("href=\"").skip(1) {
        let href = part.split('"').next().unwrap_or_default();
        if let Some(id) = href.strip_prefix('#') {
            assert!(
                page.contains(&format!("id=\"{id}\"")),
                "anchor {href} exists"
            );
            continue;
        }
        assert!(
            dir.join(href).is_file(),
            "link {href} resolves in {}",
            dir.display()
        );
        n += 1;
    }
    n
}

fn chromium() -> Option<PathBuf> {
    [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ]
    .iter()
    .find_map(|name| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(name))
                .find(|p| p.is_file())
        })
    })
}

/// Renders `page` headless to `png`; `None` (with a message) when Chromium is not installed.
fn screenshot(page: &Path, png: &Path, height: u32) -> Option<u64> {
    let Some(chromium) = chromium() else {
        eprintln!(
            "note: Chromium not found (apt-get install -y chromium): screenshot of {} skipped",
            page.display()
        );
        return None;
    };
    let profile = png.with_extension("profile");
    let _ = std::fs::remove_dir_all(&profile);
    let _ = std::fs::remove_file(png);
    let page = std::fs::canonicalize(page).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--window-size=1280,{height}"))
        .arg(format!("file://{}", page.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", chromium.display()));
    let started = Instant::now();
    loop {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish the screenshot within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = std::fs::remove_dir_all(&profile);
    let size = std::fs::metadata(png)
        .map(|m| m.len())
        .unwrap_or_else(|e| panic!("no screenshot {}: {e}", png.display()));
    eprintln!("screenshot: {} ({size} bytes)", png.display());
    Some(size)
}

#[test]
fn run_report_page_is_self_contained_with_ladders_links_and_violations() {
    let report = run_report();
    let statuses: Vec<Status> = report.results.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        vec![
            Status::Pass,
            Status::Xfail,
            Status::Fail,
            Status::Pass,
            Status::Unsupported
        ]
    );
    let dir = out_dir("run");
    write_reports(&dir, &report).unwrap_or_else(|e| panic!("{e}"));
    let index = html::write_run_index(
        &dir,
        &report,
        &handshake_harness::families::REGISTRY.families,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(index, dir.join("index.html"));
    let page = std::fs::read_to_string(&index).unwrap_or_else(|e| panic!("{e}"));
    assert_self_contained(&page);
    // Deterministic: the same report gives the same bytes.
    assert_eq!(
        page,
        html::render_run(
            &report,
            &result_files(&report),
            &handshake_harness::families::REGISTRY.families
        )
    );

    // One ladder per result with a capture; the unsupported one has none.
    let with_capture = report
        .results
        .iter()
        .filter(|r| !r.outcome.capture.is_empty())
        .count();
    assert_eq!(with_capture, 4);
    assert_eq!(page.matches("<svg class=\"ladder\"").count(), with_capture);
    // Summary counts per status and IUT, a section per result, failures open.
    assert!(page.contains("results per status and IUT"));
    assert!(page.contains("<td>ref:3way+allow_legacy_start</td><td class=\"num\">0</td><td class=\"num\">1</td><td class=\"num\">1</td>"));
    assert_eq!(page.matches("<details id=\"r").count(), 5);
    assert!(
        page.contains("<details id=\"r3\" open>"),
        "the failure is open"
    );
    assert!(
        page.contains("<details id=\"r1\"><summary>"),
        "a pass is closed"
    );
    // Lifelines: the IUT is named.
    assert!(page.contains(">IUT (responder)<") && page.contains(">IUT (initiator)<"));
    // Dropped datagrams are drawn as such: initiator_lost_syn_ack loses SYN-ACKs.
    assert!(page.contains("class=\"dg dropped\""));
    assert!(page.contains("SYN-ACK accept id=&quot;"), "labels escaped");
    // DATA runs are folded.
    assert!(
        page.contains("DATA seq 2..50 ×49") || page.contains("DATA seq 1..50 ×50"),
        "folded DATA"
    );
    // The failure's reasons and fired rules are shown with the rule statement.
    let failing = &report.results[2].outcome;
    assert!(!failing.reasons.is_empty());
    for reason in &failing.reasons {
        assert!(page.contains(&html::esc(reason)), "reason shown: {reason}");
    }
    // Links to every pcapng and transcript (relative to the report directory) resolve.
    let links = assert_links_resolve(&page, &dir);
    assert!(links >= 4 + 5 + 3, "{links} links");
    for f in result_files(&report) {
        assert!(page.contains(&format!("href=\"{}\"", f.transcript)));
        if let Some(c) = f.capture {
            assert!(page.contains(&format!("href=\"{c}\"")));
        }
    }
    if let Some(size) = screenshot(&index, &dir.join("screenshot.png"), 2400) {
        assert!(
            size > 20_000,
            "screenshot of {size} bytes is too small to show the page"
        );
    }
}

#[test]
fn interop_page_has_the_coloured_matrix_with_links_and_a_ladder_per_cell() {
    let dir = out_dir("interop");
    // A small matrix with a wrong expectation, so one cell differs.
    let text = std::fs::read_to_string(root().join("vectors/interop/mediastream-matrix.json"))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    for cell in json["cells"].as_array_mut().into_iter().flatten() {
        if cell["initiator"] == "3way" && cell["responder"] == "legacy" {
            cell["negotiated_mode"] = "rejected".into();
        }
    }
    let expected = dir.join("expected.json");
    std::fs::write(&expected, json.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let args = InteropArgs {
        initiators: vec!["ref:legacy,ref:3way,ref:3way+fallback".into()],
        responders: vec!["ref:legacy,ref:3way,ref:3way+optimistic".into()],
        faults: "lossy-handshake".into(),
        matrix: root().join("vectors/interop/mediastream-matrix.json"),
        expected: Some(expected),
        report: Some(dir.join("report")),
        seed: 1,
        json: false,
        jobs: 2,
        tolerance_ms: 50,
        strict_profile: false,
    };
    assert_eq!(
        interop_cmd::run(
            &handshake_harness::families::REGISTRY,
            args,
            &mut Vec::new()
        ),
        1,
        "one cell differs"
    );
    let report = dir.join("report");
    let index = report.join("index.html");
    let page = std::fs::read_to_string(&index).unwrap_or_else(|e| panic!("{e}"));
    assert_self_contained(&page);
    assert_eq!(page.matches("<td class=\"cell ").count(), 9, "3 × 3 cells");
    for class in ["p-3way", "p-legacy", "p-legacy-fallback", "p-failed"] {
        assert!(
            page.contains(&format!("<td class=\"cell {class}")),
            "a {class} cell"
        );
    }
    assert_eq!(
        page.matches(" differs\" title=").count(),
        1,
        "one outlined cell"
    );
    assert!(page.contains("<td class=\"cell p-failed differs\""));
    assert!(
        page.contains("<details id=\"c2-1\" open>"),
        "the differing cell's section is open"
    );
    assert_eq!(page.matches("<svg class=\"ladder\"").count(), 9);
    assert!(
        page.contains(">initiator ref:3way<") && page.contains(">responder ref:3way+optimistic<")
    );
    assert!(
        page.contains("class=\"dg dropped\""),
        "the lossy profile's drops are drawn"
    );
    let links = assert_links_resolve(&page, &report);
    assert_eq!(
        links,
        2 + 9 + 9,
        "matrix.json, matrix.md, and each cell's pcapng twice"
    );
    if let Some(size) = screenshot(&index, &dir.join("screenshot.png"), 2000) {
        assert!(
            size > 20_000,
            "screenshot of {size} bytes is too small to show the page"
        );
    }
}
