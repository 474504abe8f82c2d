//! IUT manifests: the committed schema, the example manifests, validation, feature choice and
//! command building.

use std::path::{Path, PathBuf};

use handshake_mediastream::launch::{launch, launch_running};
use handshake_mediastream::{MediaScenario as Scenario, MediaStream, FAMILY};
use handshake_scenario::external::manifest::{split_words, Launch, Manifest, Values};
use handshake_scenario::external::ExternalIut;
use handshake_scenario::{Families, Family, Role};

static ONLY: Families = Families(&[&FAMILY]);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../..")
}

fn scenario(role: Role, requires: &[&str]) -> Scenario {
    let role = match role {
        Role::Responder => "responder",
        Role::Initiator => "initiator",
    };
    let requires: Vec<String> = requires.iter().map(|f| format!("\"{f}\"")).collect();
    let text = format!(
        r#"{{"id": "t", "title": "t", "protocol": "mediastream", "iut": {{"role": "{role}", "requires": [{}]}}, "peer": {{"reference": "3way"}}}}"#,
        requires.join(",")
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// What a manifest listing `profiles` and `options` (and a command for both roles) is launched with.
fn choose(profiles: &[&str], options: &[&str], s: &Scenario) -> Result<Launch, String> {
    let m = manifest(&format!(
        r#"{{"name": "x", "responder": "iut", "initiator": "iut", "profiles": {}, "options": {}}}"#,
        serde_json::to_string(profiles).unwrap_or_default(),
        serde_json::to_string(options).unwrap_or_default()
    ))?;
    launch(&m, s)
}

#[test]
fn committed_schema_is_current() {
    let path = root().join("vectors/schema/iut-manifest.schema.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let current = handshake_scenario::external::manifest::schema_json();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &current).unwrap_or_else(|e| panic!("{e}"));
        return;
    }
    assert!(
        committed == current,
        "{} is stale: run with UPDATE_SCHEMA=1",
        path.display()
    );
}

#[test]
fn example_manifests_load() {
    let dir = root().join("vectors/iut");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
    {
        let path = entry.path();
        // Other families' manifests (`"protocol": "proton"`) are loaded by their own tests.
        let other_family = std::fs::read_to_string(&path).is_ok_and(|t| {
            t.contains("\"protocol\"") && !t.contains("\"protocol\": \"mediastream\"")
        });
        if path.extension().is_some_and(|x| x == "json")
            && !path.to_string_lossy().ends_with(".expectations.json")
            && !other_family
        {
            ONLY.load_manifest(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
    let path = dir.join("harness-peer.json");
    let m = ONLY.load_manifest(&path).unwrap_or_else(|e| panic!("{e}"));
    let iut = ExternalIut::from_manifest_file(m, &path);
    assert_eq!(iut.name(), "harness-peer");
}

fn manifest(json: &str) -> Result<Manifest, String> {
    let m: Manifest = serde_json::from_str(json).map_err(|e| e.to_string())?;
    m.validate(
        MediaStream::VOCABULARY.placeholders,
        MediaStream::VOCABULARY.flags,
    )?;
    MediaStream::validate_manifest(&m)?;
    Ok(m)
}

#[test]
fn validation_catches_template_mistakes() {
    assert!(manifest(r#"{"name": "x"}"#).is_err(), "no command");
    assert!(
        manifest(r#"{"name": "x", "responder": "iut --listen {listn}"}"#)
            .err()
            .unwrap_or_default()
            .contains("unknown placeholder {listn}")
    );
    assert!(
        manifest(r#"{"name": "x", "responder": "iut --to {target}"}"#)
            .err()
            .unwrap_or_default()
            .contains("{target} has no value")
    );
    assert!(
        manifest(r#"{"name": "x", "initiator": "iut --listen {listen}"}"#)
            .err()
            .unwrap_or_default()
            .contains("{listen} has no value")
    );
    assert!(
        manifest(r#"{"name": "x", "responder": "iut 'unterminated"}"#)
            .err()
            .unwrap_or_default()
            .contains("unterminated")
    );
    assert!(manifest(r#"{"name": "x", "responder": "iut --f={flags}"}"#)
        .err()
        .unwrap_or_default()
        .contains("word of its own"));
    assert!(manifest(
        r#"{"name": "x", "responder": "iut", "flags": {"verify": "--verify {listen}"}}"#
    )
    .is_err());
    assert!(
        manifest(r#"{"name": "x", "responder": "iut", "flagz": {}}"#).is_err(),
        "unknown field"
    );
    assert!(manifest(
        r#"{"name": "x", "responder": ["iut", "--listen", "{listen}"], "ready": {"delay_ms": 10}}"#
    )
    .is_ok());
    assert!(Manifest::from_command(
        "iut --listen {listen} {flags}",
        MediaStream::VOCABULARY.placeholders
    )
    .is_ok());
    assert!(Manifest::from_command(
        "iut --port {lisen_port}",
        MediaStream::VOCABULARY.placeholders
    )
    .is_err());
}

#[test]
fn a_running_responder_that_is_not_there_is_refused_at_once() {
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .expect("a free port")
        .port();
    let err = ExternalIut::running(&format!("127.0.0.1:{port}")).expect_err("nothing listens");
    assert!(
        err.to_string().contains("nothing is listening on UDP port"),
        "{err}"
    );
}

#[test]
fn features_decide_unsupported() {
    let three_way = ["3way"];
    let both = ["3way", "legacy"];
    // Plain 3way.
    let l = choose(&three_way, &[], &scenario(Role::Responder, &["three_way"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((l.profile.as_str(), l.options.len()), ("3way", 0));
    assert_eq!(
        l.flags,
        [
            ("verify".to_owned(), Some("data".to_owned())),
            ("direction".to_owned(), Some("pull".to_owned()))
        ]
    );
    // Legacy START: a legacy profile, or a 3way responder with allow_legacy_start (the flag is added).
    assert!(choose(
        &three_way,
        &[],
        &scenario(Role::Responder, &["legacy_start"])
    )
    .err()
    .unwrap_or_default()
    .contains("lacks the feature `legacy_start`"));
    let l = choose(
        &three_way,
        &["allow_legacy_start"],
        &scenario(Role::Responder, &["legacy_start"]),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.options, ["allow_legacy_start"]);
    let l = choose(&both, &[], &scenario(Role::Initiator, &["legacy_start"]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.profile, "legacy");
    // Options belong to one role.
    assert!(choose(
        &three_way,
        &["optimistic_start"],
        &scenario(Role::Initiator, &["optimistic_start"])
    )
    .is_err());
    assert!(choose(
        &three_way,
        &["fallback_to_legacy"],
        &scenario(Role::Initiator, &["fallback_to_legacy"])
    )
    .is_ok());
    // Restart: only for IUTs started per scenario (a running one is judged by its profile).
    let p = MediaStream::parse_profile("3way").unwrap_or_else(|e| panic!("{e}"));
    assert!(launch_running(&p, &scenario(Role::Responder, &["three_way"])).is_ok());
    // 3way and legacy START from one profile: no single profile has both for an initiator.
    assert!(choose(
        &both,
        &[],
        &scenario(Role::Initiator, &["three_way", "legacy_start"])
    )
    .is_err());

    // A responder "already running": something must listen there, or the address is refused.
    let listening = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = listening.local_addr().expect("addr");
    let running = ExternalIut::running(&addr.to_string()).unwrap_or_else(|e| panic!("{e}"));
    assert!(running
        .launch_for(&scenario(Role::Responder, &["three_way"]))
        .is_ok());
    assert!(matches!(
        running.launch_for(&scenario(Role::Responder, &["restart"])),
        Err(handshake_scenario::LaunchError::Unsupported { reason })
            if reason.contains("lacks the feature `restart`")
    ));
    assert!(running.launch_for(&scenario(Role::Initiator, &[])).is_err());
    assert!(running
        .launch_for(&scenario(Role::Responder, &["optimistic_start"]))
        .is_err());
    let optimistic = ExternalIut::running(&format!("{addr}@3way+optimistic_start"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(optimistic
        .launch_for(&scenario(Role::Responder, &["optimistic_start"]))
        .is_ok());
}

#[test]
fn commands_are_built_word_by_word() {
    let m = manifest(
        r#"{"name": "x", "responder": "'{harness}' serve --on={listen} --p {listen_port} {flags} --rate {bits_per_second}",
            "initiator": ["iut", "{target_host}", "{target_port}"],
            "flags": {"allow_legacy_start": "--legacy ok", "verify": "--verify", "session_limit": "--max={session_limit}"},
            "options": ["allow_legacy_start", "optimistic_start"]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut s = scenario(Role::Responder, &["legacy_start", "optimistic_start"]);
    s.iut.fields.session_limit = Some(2);
    let l = launch(&m, &s).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.options, ["allow_legacy_start", "optimistic_start"]);
    let addr = "127.0.0.1:5000".parse().unwrap_or_else(|e| panic!("{e}"));
    let values = Values::new(
        Role::Responder,
        "responder",
        addr,
        &l,
        MediaStream::VOCABULARY.placeholders,
    )
    .with_run(7, Path::new("/x y/harness"), Path::new("/m"));
    let argv = m
        .command(Role::Responder, "responder", &l, &values)
        .unwrap_or_else(|e| panic!("{e}"));
    // optimistic_start has no flag (listed as always on); verify takes its value as a word.
    assert_eq!(
        argv,
        [
            "/x y/harness",
            "serve",
            "--on=127.0.0.1:5000",
            "--p",
            "5000",
            "--legacy",
            "ok",
            "--verify",
            "data",
            "--max=2",
            "--rate",
            "200000"
        ]
    );
    let s = scenario(Role::Initiator, &[]);
    let l = launch(&m, &s).unwrap_or_else(|e| panic!("{e}"));
    let values = Values::new(
        Role::Initiator,
        "initiator",
        addr,
        &l,
        MediaStream::VOCABULARY.placeholders,
    )
    .with_run(7, Path::new("/h"), Path::new("/m"));
    assert_eq!(
        m.command(Role::Initiator, "initiator", &l, &values)
            .unwrap_or_default(),
        ["iut", "127.0.0.1", "5000", "--verify", "data"]
    );
    // No session_limit flag: scenarios with a session limit are unsupported.
    let plain = Manifest::from_command("iut {listen}", MediaStream::VOCABULARY.placeholders)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut s = scenario(Role::Responder, &[]);
    s.iut.fields.session_limit = Some(1);
    assert!(launch(&plain, &s)
        .err()
        .unwrap_or_default()
        .contains("session_limit"));
    // A stream the command cannot be told of: the program is taken to stream the scenarios'
    // default, so the scenario is unsupported, not failed; the default stream runs.
    let mut s = scenario(Role::Responder, &[]);
    s.setup.stream.bits_per_second = 112_800;
    assert_eq!(
        launch(&plain, &s).err().unwrap_or_default(),
        "the IUT's command takes no {bits_per_second}: it cannot be run with bits_per_second 112800 (its default is taken to be 200000)"
    );
    let told = Manifest::from_command(
        "iut {listen} {bits_per_second}",
        MediaStream::VOCABULARY.placeholders,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(launch(&told, &s).is_ok());
    assert!(launch(&plain, &scenario(Role::Responder, &[])).is_ok());
    assert_eq!(
        split_words(r#"sh -c 'sleep 1 & sleep 2'"#).unwrap_or_default(),
        ["sh", "-c", "sleep 1 & sleep 2"]
    );
}

/// How a receiver checks payloads is a contract where the scenario does not test it: an initiator
/// whose manifest accepts `verify` connection only runs a plain scenario checking connection ids,
/// and a scenario that cites the fill pattern is `unsupported` on it.
#[test]
fn verify_is_adapted_to_unless_the_scenario_tests_it() {
    let m = manifest(
        r#"{"name": "x", "initiator": "iut --target {target} {flags}", "profiles": ["3way"],
            "flags": {"verify": "--verify {verify}"}, "accepts": {"verify": ["connection"]}}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let plain = scenario(Role::Initiator, &["three_way"]);
    let l = launch(&m, &plain).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        l.flags
            .iter()
            .any(|(n, v)| n == "verify" && v.as_deref() == Some("connection")),
        "{:?}",
        l.flags
    );
    let mut checks_payloads = plain.clone();
    checks_payloads.decisions.push("payload.pattern".into());
    let why = launch(&m, &checks_payloads).err().unwrap_or_default();
    assert!(why.contains("tests payload checking"), "{why}");
    // Without `accepts`, payloads are checked as the scenario says.
    let l = choose(&["3way"], &[], &plain).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.values.iter().any(|(n, v)| *n == "verify" && v == "data"));
}
