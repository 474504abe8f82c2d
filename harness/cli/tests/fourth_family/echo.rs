//! A toy family written only against the seam: `ECHO <seq> <text>` datagrams over UDP, answered
//! by `REPLY <seq> <text>`. Its wire, endpoints, judge, observations and launch rules are all
//! here; nothing outside this folder knows it, but for the registry line in `main.rs`.

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_check::{Judge, Judgement, Packet, Violation};
use handshake_core::{Endpoint, Instant, Transmit};
use handshake_interop::verdict::{self, CellSeen};
use handshake_interop::InteropFamily;
use handshake_scenario::engine::{Simulated, INITIATOR};
use handshake_scenario::external::manifest::{Launch, Manifest};
use handshake_scenario::outcome::Observations;
use handshake_scenario::{
    ActCtx, Citations, DatagramLabel, Datagrams, Decision, Family, FamilyError, JudgeCtx,
    LaunchError, NoFields, ObserveCtx, ProfileError, Role, Scenario, ScenarioOutcome, Vocabulary,
};
use serde::{Deserialize, Serialize};

// ---- Wire -----------------------------------------------------------------------------------

/// One datagram, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `ECHO <seq> <text>`.
    Echo { seq: u32, text: String },
    /// `REPLY <seq> <text>`.
    Reply { seq: u32, text: String },
}

impl Message {
    pub fn parse(payload: &[u8]) -> Option<Message> {
        let text = std::str::from_utf8(payload).ok()?;
        let mut parts = text.splitn(3, ' ');
        let (word, seq, rest) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
        let seq = seq.parse().ok()?;
        let text = rest.to_owned();
        match word {
            "ECHO" => Some(Message::Echo { seq, text }),
            "REPLY" => Some(Message::Reply { seq, text }),
            _ => None,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        match self {
            Message::Echo { seq, text } => format!("ECHO {seq} {text}"),
            Message::Reply { seq, text } => format!("REPLY {seq} {text}"),
        }
        .into_bytes()
    }

    fn unit(&self) -> EchoUnit {
        match self {
            Message::Echo { seq, text } => EchoUnit::Echo {
                seq: *seq,
                text: text.clone(),
            },
            Message::Reply { seq, text } => EchoUnit::Reply {
                seq: *seq,
                text: text.clone(),
            },
        }
    }
}

/// What a datagram of the IUT stands for (`{"kind": "echo", "seq": 1, "text": "one"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EchoUnit {
    Echo { seq: u32, text: String },
    Reply { seq: u32, text: String },
    Malformed,
}

pub struct EchoDatagrams;

impl Datagrams for EchoDatagrams {
    const CLASSES: &'static [&'static str] = &["echo", "reply", "malformed"];
    fn classify(payload: &[u8]) -> &'static str {
        match Message::parse(payload) {
            Some(Message::Echo { .. }) => "echo",
            Some(Message::Reply { .. }) => "reply",
            None => "malformed",
        }
    }
    fn describe(payload: &[u8]) -> DatagramLabel {
        DatagramLabel::text(String::from_utf8_lossy(payload).into_owned())
    }
}

// ---- Reference endpoints --------------------------------------------------------------------

/// `echo`, or `shout`: a wrong server that answers in capitals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EchoProfile {
    pub shout: bool,
}

impl fmt::Display for EchoProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.shout { "shout" } else { "echo" })
    }
}

#[derive(Debug, Clone)]
pub enum EchoEvent {
    Replied { seq: u32 },
    Done { ok: bool },
}

impl fmt::Display for EchoEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EchoEvent::Replied { seq } => write!(f, "reply {seq}"),
            EchoEvent::Done { ok } => write!(f, "done, ok={ok}"),
        }
    }
}

/// The texts a reference client sends.
pub const TEXTS: [&str; 3] = ["one", "two", "three"];

#[derive(Debug)]
pub enum EchoNode {
    Server {
        shout: bool,
        out: VecDeque<Transmit>,
    },
    Client {
        out: VecDeque<Transmit>,
        events: VecDeque<EchoEvent>,
        answered: Vec<bool>,
        deadline: Instant,
        verdict: Option<Result<(), String>>,
    },
}

impl EchoNode {
    fn client(remote: SocketAddr, now: Instant) -> EchoNode {
        let out = TEXTS
            .iter()
            .enumerate()
            .map(|(i, text)| Transmit {
                destination: remote,
                payload: Message::Echo {
                    seq: i as u32 + 1,
                    text: (*text).to_owned(),
                }
                .encode(),
            })
            .collect();
        EchoNode::Client {
            out,
            events: VecDeque::new(),
            answered: vec![false; TEXTS.len()],
            deadline: now + Duration::from_secs(1),
            verdict: None,
        }
    }

    pub fn verdict(&self) -> Option<Result<(), String>> {
        match self {
            EchoNode::Client { verdict, .. } => verdict.clone(),
            EchoNode::Server { .. } => None,
        }
    }

    fn finish(&mut self, result: Result<(), String>) {
        if let EchoNode::Client {
            events, verdict, ..
        } = self
        {
            if verdict.is_none() {
                events.push_back(EchoEvent::Done { ok: result.is_ok() });
                *verdict = Some(result);
            }
        }
    }
}

impl Endpoint for EchoNode {
    type Event = EchoEvent;

    fn handle_datagram(&mut self, _now: Instant, source: SocketAddr, payload: &[u8]) {
        match (self, Message::parse(payload)) {
            (EchoNode::Server { shout, out }, Some(Message::Echo { seq, text })) => {
                let text = if *shout { text.to_uppercase() } else { text };
                out.push_back(Transmit {
                    destination: source,
                    payload: Message::Reply { seq, text }.encode(),
                });
            }
            (node @ EchoNode::Client { .. }, Some(Message::Reply { seq, text })) => {
                let EchoNode::Client {
                    events, answered, ..
                } = &mut *node
                else {
                    return;
                };
                let index = (seq as usize).wrapping_sub(1);
                let wrong = TEXTS.get(index).is_none_or(|want| *want != text);
                if let Some(slot) = answered.get_mut(index) {
                    *slot = true;
                }
                events.push_back(EchoEvent::Replied { seq });
                let all = answered.iter().all(|a| *a);
                if wrong {
                    node.finish(Err(format!("reply {seq} has the wrong text `{text}`")));
                } else if all {
                    node.finish(Ok(()));
                }
            }
            _ => {}
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let EchoNode::Client { deadline, .. } = self {
            if now >= *deadline {
                self.finish(Err("not every echo was answered within a second".into()));
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            EchoNode::Server { out, .. } | EchoNode::Client { out, .. } => out.pop_front(),
        }
    }

    fn poll_event(&mut self) -> Option<EchoEvent> {
        match self {
            EchoNode::Client { events, .. } => events.pop_front(),
            EchoNode::Server { .. } => None,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            EchoNode::Client {
                deadline,
                verdict: None,
                ..
            } => Some(*deadline),
            _ => None,
        }
    }

    fn is_finished(&self) -> bool {
        matches!(
            self,
            EchoNode::Client {
                verdict: Some(_),
                ..
            }
        )
    }
}

// ---- Scenario vocabulary --------------------------------------------------------------------

/// The one step: send an `ECHO` to the IUT.
#[derive(Debug, Clone, Deserialize, Serialize, handshake_scenario::__schemars::JsonSchema)]
#[schemars(crate = "handshake_scenario::__schemars")]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum EchoStep {
    Echo { seq: u32, text: String },
}

impl handshake_scenario::Action for EchoStep {
    const NAMES: &'static [&'static str] = &["echo"];
    fn label(&self) -> String {
        match self {
            EchoStep::Echo { seq, .. } => format!("echo {seq}"),
        }
    }
}

// ---- Judge ----------------------------------------------------------------------------------

handshake_check::rules! {
    SAME_TEXT = ("echo.reply.same_text", Fact, "E1", "A reply carries the text of the echo it answers.");
}

#[derive(Debug, Default)]
pub struct EchoJudge {
    asked: std::collections::HashMap<u32, String>,
    report: EchoReport,
}

#[derive(Debug, Default)]
pub struct EchoReport {
    pub violations: Vec<Violation>,
    pub replies: u32,
    pub datagrams: u64,
}

impl Judge for EchoJudge {
    type Report = EchoReport;
    fn push(&mut self, packet: &Packet<'_>) {
        self.report.datagrams += 1;
        match Message::parse(packet.payload) {
            Some(Message::Echo { seq, text }) => {
                self.asked.insert(seq, text);
            }
            Some(Message::Reply { seq, text }) => {
                self.report.replies += 1;
                if self.asked.get(&seq).is_some_and(|asked| *asked != text) {
                    self.report.violations.push(Violation {
                        packet: packet.number,
                        time_ns: packet.time_ns,
                        src: Some(packet.src),
                        rule: SAME_TEXT.id,
                        statement: SAME_TEXT.statement,
                        detail: format!("reply {seq} says `{text}`"),
                    });
                }
            }
            None => {}
        }
    }
    fn finish(self) -> EchoReport {
        self.report
    }
}

impl Judgement for EchoReport {
    fn violations(&self) -> Vec<Violation> {
        self.violations.clone()
    }
}

#[derive(Debug, Default, Serialize)]
pub struct EchoObservations {
    pub replies: u32,
    pub client_ok: Option<bool>,
}

impl Observations for EchoObservations {
    fn render(&self, out: &mut String) {
        out.push_str(&format!("replies: {}\n", self.replies));
    }
    fn facts(&self) -> Vec<(String, String)> {
        vec![("replies".into(), self.replies.to_string())]
    }
}

/// A client IUT's cell is its run's verdict; a server IUT's whether the harness's client got every
/// reply (the family's own rule: the generic crates know no client).
fn client_cell_ok(outcome: &ScenarioOutcome, observed: &EchoObservations, role: Role) -> bool {
    match role {
        Role::Initiator => outcome.verdict == handshake_scenario::Verdict::Pass,
        Role::Responder => observed.client_ok.unwrap_or(false),
    }
}

// ---- The family -----------------------------------------------------------------------------

pub const VOCABULARY: Vocabulary = Vocabulary {
    role_names: ("client", "server"),
    rules: ALL,
    citations: Citations {
        decisions: &[Decision::must(
            "E1",
            "A reply carries its echo's text.",
            "the toy's spec",
        )],
    },
    features: &[],
    units: &[
        ("echo", &["kind", "seq", "text"]),
        ("reply", &["kind", "seq", "text"]),
        ("malformed", &["kind"]),
    ],
    placeholders: &[],
    flags: &[],
};

#[derive(Debug, Clone, Copy, Default)]
pub struct Echo;

impl Family for Echo {
    const NAME: &'static str = "echo";
    const VOCABULARY: &'static Vocabulary = &VOCABULARY;
    type Setup = NoFields;
    type IutFields = NoFields;
    type PeerFields = NoFields;
    type ExpectFields = NoFields;
    type Action = EchoStep;
    type Datagrams = EchoDatagrams;
    type Unit = EchoUnit;
    type Profile = EchoProfile;
    type Node = EchoNode;
    type Report = EchoReport;
    type Observations = EchoObservations;

    fn parse_profile(text: &str) -> Result<EchoProfile, ProfileError> {
        match text {
            "echo" => Ok(EchoProfile { shout: false }),
            "shout" => Ok(EchoProfile { shout: true }),
            other => Err(ProfileError(format!(
                "unknown echo profile `{other}`: expected echo"
            ))),
        }
    }

    fn profile_features(_: &EchoProfile, _: Role) -> Vec<String> {
        vec!["restart".into()]
    }

    fn node(
        profile: &EchoProfile,
        role: Role,
        _s: &Scenario<Self>,
        _iut: bool,
        remote: SocketAddr,
        _seed: u64,
        now: Instant,
    ) -> Result<EchoNode, FamilyError> {
        Ok(match role {
            Role::Responder => EchoNode::Server {
                shout: profile.shout,
                out: VecDeque::new(),
            },
            Role::Initiator => EchoNode::client(remote, now),
        })
    }

    fn unit_of_datagram(payload: &[u8]) -> Option<EchoUnit> {
        Some(Message::parse(payload).map_or(EchoUnit::Malformed, |m| m.unit()))
    }
    fn act(action: &EchoStep, ctx: &mut ActCtx<'_, Self>) -> Result<(), FamilyError> {
        let EchoStep::Echo { seq, text } = action;
        let payload = Message::Echo {
            seq: *seq,
            text: text.clone(),
        }
        .encode();
        ctx.send.push((None, payload));
        Ok(())
    }

    fn judge(capture: &[u8], _ctx: &JudgeCtx<'_, Self>) -> Result<EchoReport, FamilyError> {
        let verdict = handshake_check::check_capture(capture, None, EchoJudge::default())
            .map_err(|e| FamilyError::harness(e.to_string()))?;
        Ok(verdict.report)
    }

    fn observe(ctx: &ObserveCtx<'_, Self>, report: &EchoReport) -> EchoObservations {
        let client = match ctx.role {
            Role::Initiator => ctx.iut,
            Role::Responder => ctx.peer,
        };
        EchoObservations {
            replies: report.replies,
            client_ok: client.and_then(EchoNode::verdict).map(|v| v.is_ok()),
        }
    }

    fn launch(manifest: &Manifest, _s: &Scenario<Self>) -> Result<Launch, LaunchError> {
        Ok(Launch {
            profile: manifest
                .profiles
                .as_ref()
                .and_then(|p| p.first().cloned())
                .unwrap_or_else(|| "echo".into()),
            options: Vec::new(),
            flags: Vec::new(),
            values: Vec::new(),
            mutant: None,
            plant: None,
        })
    }
}

/// What a completed cell did.
const DONE: &str = "every echo answered with its text";

impl InteropFamily for Echo {
    type CellExpect = verdict::CellExpect;
    type CellSeen = CellSeen;
    const PATHS: &'static [&'static str] = verdict::PATHS;

    fn seen_pair(run: &Simulated<Self>, _: &EchoReport, _: &Scenario<Self>) -> CellSeen {
        let client = run.node(INITIATOR);
        let verdict = client.map(EchoNode::verdict);
        let end = match &verdict {
            None => verdict::ClientEnd::Absent,
            Some(None) => verdict::ClientEnd::Unfinished,
            Some(Some(Ok(()))) => verdict::ClientEnd::Done,
            Some(Some(Err(why))) => verdict::ClientEnd::Failed(why),
        };
        CellSeen::of_client(end, DONE)
    }

    fn seen_external(
        outcome: &ScenarioOutcome,
        observed: &EchoObservations,
        role: Role,
        _: &EchoReport,
        _: &Scenario<Self>,
    ) -> Result<CellSeen, FamilyError> {
        Ok(CellSeen::of(
            client_cell_ok(outcome, observed, role),
            &outcome.reasons,
            DONE,
        ))
    }

    fn cell_expect(_: Role) -> NoFields {
        NoFields {}
    }
}

/// Its interop matrices.
pub static INTEROP: handshake_interop::Interop<Echo> = handshake_interop::Interop::new();

/// The plug-in: its interop matrices and its part of `harness check`; every other item is the
/// default (no commands, no peer tools, no schemas of its own).
impl handshake_plugin::Plugin for Echo {
    fn interop() -> Option<&'static dyn handshake_interop::DynInterop> {
        Some(&INTEROP)
    }
    fn check(
        request: &handshake_check::CheckRequest,
        _matches: &clap::ArgMatches,
    ) -> Result<handshake_check::Checked, handshake_check::CheckError> {
        use handshake_check::{CheckError, Checked};
        let bytes = request.read_capture().ok_or(CheckError::Said)?;
        let verdict = handshake_check::check_capture(&bytes, request.port, EchoJudge::default())
            .map_err(|e| CheckError::Input(format!("{}: {e}", request.file.display())))?;
        let report = verdict.report;
        let mut json = serde_json::Map::new();
        json.insert("replies".into(), report.replies.into());
        let violations = report.violations.len();
        Ok(Checked::of_violations(
            report.datagrams,
            verdict.damage.map(|d| d.to_string()),
            None,
            &report.violations,
            |_| false,
            json,
            Box::new(move |out, word| handshake_check::write_verdict_line(out, word, violations)),
        ))
    }
}
