//! The scripted peer: one interpreter of a scenario's steps, over either driver — in-process
//! endpoints in virtual time ([`crate::engine`]) or an external program over real UDP
//! ([`crate::external`]). A `Driver` owns the clock, the fault link and the sockets; the
//! interpreter owns the step semantics, which are the same in both:
//!
//! * Steps run in order from the **script clock's origin**: the start of the run for a responder
//!   IUT, and the IUT's first datagram for an initiator IUT (startup is not protocol behaviour, so
//!   an interpreter that takes a second to start is judged from the moment it speaks).
//! * Each step starts where the previous one ended in protocol time: at the arrival of the
//!   datagram an `expect` matched, at the end of a `wait` or `expect_none` window, right after a
//!   `send`. Arrival times are the kernel's receive stamps in real time, so the harness's own
//!   scheduling delays never shift a window.
//! * `expect` searches what the IUT sent after the datagram the previous `expect` matched, up to
//!   `within_ms` after the step's start — widened in real time by the driver's slack (the
//!   tolerance plus the harness's own measured timer lateness): only lateness matters here.
//! * `expect_none` waits `for_ms` but counts only what the IUT sent in the first
//!   `for_ms − min(slack, for_ms / 2)`: only earliness matters here.
//! * Every wait ends at a deadline.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use handshake_core::Instant;
use handshake_net::{DatagramId, FaultRule, IdTable, LinkEvent, SimEvent};
use serde_json::Value;

use crate::family::{ActCtx, Class, Event, Family};
use crate::format::{Action, ExpectNoneStep, ExpectStep, FaultSpec, Scenario, Step};

/// What the interpreter needs from a driver. Virtual-time drivers complete every future at once.
pub(crate) trait Driver<F: Family> {
    /// The driver's clock.
    fn now(&self) -> Instant;
    /// Everything the link carried so far.
    fn trace(&self) -> &[LinkEvent];
    /// The events of the endpoints the harness runs, in order.
    fn events(&self) -> &[SimEvent<Event<F>>];
    /// The peer's own address on the link.
    fn peer_addr(&self) -> SocketAddr;
    /// The scenario port number of the peer's own address.
    fn peer_port(&self) -> u16;
    /// The scenario port number of a harness address (the peer's own address is the peer's port).
    fn scenario_port(&self, addr: SocketAddr) -> Option<u16>;
    /// The endpoint at the peer's own address (a reference peer, or the family's scripted one).
    fn peer_node(&mut self) -> Option<&mut F::Node>;
    /// The IUT's address (`None` while an initiator IUT has not spoken yet).
    fn iut(&self) -> Option<SocketAddr>;
    /// How much later than a window's end an IUT datagram still counts (zero in virtual time).
    fn slack(&self) -> Duration;
    /// Why the IUT can send nothing more, if so (its process ended).
    fn iut_gone(&self) -> Option<String>;
    /// The fault link rule for a scenario fault.
    fn fault_rule(&self, id: u32, spec: &FaultSpec) -> FaultRule;
    /// Adds a link rule from now on.
    fn add_rule(&mut self, rule: FaultRule) -> Result<(), String>;
    /// The harness address standing for the peer's scenario port (`None`: the peer's own).
    async fn peer_address(&mut self, port: Option<u16>) -> Result<SocketAddr, String>;
    /// Puts `payload` on the link from `from` to the IUT, now.
    async fn inject(&mut self, from: SocketAddr, payload: Vec<u8>) -> Result<DatagramId, String>;
    /// Does what is due now and takes in what the IUT has sent.
    async fn collect(&mut self);
    /// Lets time pass towards `deadline`; with `wake_on_iut` it may return as soon as the IUT has
    /// sent something new. Returns `false`, having done everything due up to the deadline, when
    /// the deadline has passed and nothing more can come before it.
    async fn advance(&mut self, deadline: Instant, wake_on_iut: bool) -> bool;
}

/// Variables of a script: set by `expect` (captured fields, `$name` in `where`) and read by later
/// steps (`$name`).
#[derive(Debug, Default)]
pub struct Vars {
    /// Captured and set variables.
    pub values: BTreeMap<String, Value>,
    fresh: u8,
}

impl Vars {
    /// A new number for `$fresh` (1, 2, …, wrapping).
    pub fn fresh(&mut self) -> u8 {
        self.fresh = self.fresh.wrapping_add(1);
        self.fresh
    }

    /// `text`, or the value of the variable `$name` it names (`$name|DEFAULT`: DEFAULT while
    /// `$name` is not set, as after an `optional` expect that matched nothing).
    pub fn resolve(&self, text: &str) -> Result<String, UnsetVariable> {
        match text.strip_prefix('$') {
            Some(var) => {
                let (var, default) = match var.split_once('|') {
                    Some((v, d)) => (v, Some(d)),
                    None => (var, None),
                };
                match (self.values.get(var), default) {
                    (Some(Value::String(s)), _) => Ok(s.clone()),
                    (Some(other), _) => Ok(other.to_string()),
                    (None, Some(d)) => Ok(d.to_owned()),
                    (None, None) => Err(UnsetVariable(var.to_owned())),
                }
            }
            None => Ok(text.to_owned()),
        }
    }

    /// Whether a decoded unit matches `kind` and `fields`; captures unset `$variables` on success.
    pub fn matches(
        &mut self,
        kind: &str,
        fields: &BTreeMap<String, Value>,
        decoded: &Value,
        capture: &BTreeMap<String, String>,
    ) -> bool {
        if kind != "any" && decoded.get("kind").and_then(Value::as_str) != Some(kind) {
            return false;
        }
        let mut bind = Vec::new();
        for (field, want) in fields {
            let Some(got) = decoded.get(field) else {
                return false;
            };
            match want {
                Value::String(s) if s == "*" => {}
                Value::String(s) if s.starts_with('$') => match self.values.get(&s[1..]) {
                    Some(v) if v != got => return false,
                    Some(_) => {}
                    None => bind.push((s[1..].to_owned(), got.clone())),
                },
                other if other != got => return false,
                _ => {}
            }
        }
        for (var, value) in bind {
            self.values.insert(var, value);
        }
        for (var, field) in capture {
            if let Some(v) = decoded.get(field) {
                self.values.insert(var.clone(), v.clone());
            }
        }
        true
    }
}

/// Something the IUT did that a step can expect: a decoded datagram it sent (as sent), or what the
/// peer's endpoint reported of it.
#[derive(Debug, Clone)]
pub struct Unit {
    /// When.
    pub at: Instant,
    /// The scenario port of the peer's host it concerns (the datagram's destination).
    pub port: Option<u16>,
    /// The datagram's place in the link trace, for the capture's step comments.
    pub trace_index: Option<usize>,
    /// The decoded unit (`kind` and fields).
    value: UnitValue,
}

/// A unit's decoded value. A datagram is decoded when a step first looks at it: most never are (a
/// stream's media, which an expectation skips by port or after its match), and decoding every one
/// cost a twentieth of a fuzz input's run.
#[derive(Debug, Clone)]
enum UnitValue {
    /// A datagram not decoded yet (its payload is at `trace_index` in the link trace).
    Undecoded,
    Decoded(Value),
    /// A datagram that stands for no unit in its family.
    NotAUnit,
}

/// The step each datagram belongs to, for the capture's comments (`step N`, written once per
/// step: a step that sends a datagram 500 times formatted it 500 times).
#[derive(Debug, Default, Clone)]
pub struct Annotations {
    steps: IdTable<usize>,
    /// `step N` at N − 1.
    labels: Vec<String>,
}

impl Annotations {
    /// `id` belongs to step `n` (1-based).
    pub fn insert(&mut self, id: DatagramId, n: usize) {
        self.label(n);
        self.steps.insert(id, n);
    }

    /// `id` belongs to step `n` unless it already belongs to one.
    pub fn insert_if_absent(&mut self, id: DatagramId, n: usize) {
        self.label(n);
        self.steps.insert_if_absent(id, n);
    }

    /// `step N` of `id`'s step.
    pub fn get(&self, id: DatagramId) -> Option<&str> {
        let n = *self.steps.get(id)?;
        self.labels.get(n.checked_sub(1)?).map(String::as_str)
    }

    fn label(&mut self, n: usize) {
        while self.labels.len() < n {
            self.labels.push(format!("step {}", self.labels.len() + 1));
        }
    }
}

/// Script state: variables, the units seen, the step annotations for the capture, failures and
/// transcript markers.
#[derive(Debug, Default)]
pub struct Script {
    /// Captured and set variables.
    pub vars: Vars,
    /// Datagram → "step N" for capture comments.
    pub annotations: Annotations,
    /// Failures of steps.
    pub failures: Vec<String>,
    /// Misses of steps that rest on profile decisions only (deviations, not failures).
    pub deviations: Vec<String>,
    /// Misses of steps that rest on contracts only: the two sides do not speak alike, so the
    /// scenario cannot run (`unsupported`).
    pub unmet_contracts: Vec<String>,
    /// Misses of steps that rest on a MAY: not judged, reported.
    pub notes: Vec<String>,
    /// The step whose deviation (or MAY) ended the script early: the expectations on the script's
    /// end are then not judged.
    pub cut_short: Option<usize>,
    /// Step markers for the transcript: (time, text).
    pub markers: Vec<(Instant, String)>,
    /// Step markers keep their time but no text: a run judged for a fuzz search never shows
    /// them (formatting one per step was a twentieth of its time), and where they stand still
    /// ends a run of folded lines as it would.
    pub unmarked: bool,
    /// Whether the run ends by decoding every unit the IUT sent into
    /// [`iut_units`](Self::iut_units) (a learning query's answer; a run's steps decode only the
    /// units they look at).
    pub keep_units: bool,
    /// Every unit the IUT sent while the steps ran, decoded, with its time (when
    /// [`keep_units`](Self::keep_units)).
    pub iut_units: Vec<(Instant, Value)>,
    units: Vec<Unit>,
    trace_read: usize,
    events_read: usize,
}

impl Script {
    /// A step marker at `at` (without its text when [`unmarked`](Self::unmarked)).
    fn mark(&mut self, at: Instant, text: impl FnOnce() -> String) {
        let text = if self.unmarked { String::new() } else { text() };
        self.markers.push((at, text));
    }

    /// Takes in the units the driver has seen since the last call.
    fn refresh<F: Family, D: Driver<F>>(&mut self, driver: &D) {
        let Some(iut) = driver.iut() else {
            return;
        };
        let trace = driver.trace();
        for (i, e) in trace.iter().enumerate().skip(self.trace_read) {
            if let LinkEvent::Sent {
                at,
                from,
                to,
                injected: false,
                ..
            } = e
            {
                if *from != iut {
                    continue;
                }
                self.units.push(Unit {
                    at: *at,
                    port: driver.scenario_port(*to),
                    trace_index: Some(i),
                    value: UnitValue::Undecoded,
                });
            }
        }
        self.trace_read = trace.len();
        let peer = driver.peer_addr();
        let events = driver.events();
        for e in events.iter().skip(self.events_read) {
            if e.endpoint != peer {
                continue;
            }
            if let Some(value) = F::unit_of_event(&e.event).map(|u| crate::family::unit_json(&u)) {
                self.units.push(Unit {
                    at: e.at,
                    port: driver.scenario_port(peer),
                    trace_index: None,
                    value: UnitValue::Decoded(value),
                });
            }
        }
        self.events_read = events.len();
    }

    /// Decodes unit `i` if it was not yet.
    fn decode<F: Family, D: Driver<F>>(&mut self, driver: &D, i: usize) {
        let Some(unit) = self.units.get_mut(i) else {
            return;
        };
        if let UnitValue::Undecoded = unit.value {
            let payload = unit
                .trace_index
                .and_then(|t| driver.trace().get(t))
                .and_then(|e| match e {
                    LinkEvent::Sent { payload, .. } => Some(payload),
                    _ => None,
                });
            unit.value = match payload.and_then(|p| F::unit_of_datagram(p)) {
                Some(u) => UnitValue::Decoded(crate::family::unit_json(&u)),
                None => UnitValue::NotAUnit,
            };
        }
    }

    /// A matched unit `i` in another form than the profile prefers is a deviation naming the form
    /// the program chose (never a failure: the facts allowed it), or a note where the preferred
    /// form rests on a MAY (`may`).
    fn prefer(&mut self, i: usize, n: usize, p: &crate::format::Preferred, may: bool) {
        let none = BTreeMap::new();
        if self.unit_matches(i, &p.kind, &p.fields, &none) {
            return;
        }
        let chose = match self.units.get(i).map(|u| &u.value) {
            Some(UnitValue::Decoded(v)) => v.to_string(),
            _ => String::from("something else"),
        };
        let fields = serde_json::to_string(&p.fields).unwrap_or_default();
        let text = format!(
            "step {n}: the IUT chose {chose}, an allowed outcome, where the profile prefers {} {fields} (rests on {})",
            p.kind, p.basis
        );
        if may {
            self.notes.push(text);
        } else {
            self.deviations.push(text);
        }
    }

    /// Whether unit `i` (decoded) matches `kind` and `fields`, capturing as [`Vars::matches`].
    fn unit_matches(
        &mut self,
        i: usize,
        kind: &str,
        fields: &BTreeMap<String, Value>,
        capture: &BTreeMap<String, String>,
    ) -> bool {
        match self.units.get(i).map(|u| &u.value) {
            Some(UnitValue::Decoded(value)) => self.vars.matches(kind, fields, value, capture),
            _ => false,
        }
    }
}

/// Bytes from hex (whitespace between digits ignored).
pub fn hex_bytes(hex: &str) -> Result<Vec<u8>, HexError> {
    // Decoded in one pass (every fuzz input's datagrams and options come as hex).
    let nibble = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let odd = || HexError::OddDigits(hex.to_owned());
    let mut bytes = Vec::with_capacity(hex.len() / 2);
    let mut high: Option<u8> = None;
    for b in hex.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let Some(n) = nibble(b) else {
            // An odd count is the first thing said, as it always was.
            let digits = hex.bytes().filter(|b| !b.is_ascii_whitespace()).count();
            return Err(if digits % 2 != 0 {
                odd()
            } else {
                HexError::NotHex(hex.to_owned())
            });
        };
        match high.take() {
            Some(h) => bytes.push(h << 4 | n),
            None => high = Some(n),
        }
    }
    match high {
        Some(_) => Err(odd()),
        None => Ok(bytes),
    }
}

pub(crate) fn fault_label(f: &FaultSpec) -> String {
    serde_json::to_string(f).unwrap_or_default()
}

fn at_ms(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e6
}

fn slack_note(slack: Duration) -> String {
    if slack.is_zero() {
        String::new()
    } else {
        format!(" (+{:.1} ms tolerance)", slack.as_secs_f64() * 1e3)
    }
}

/// Runs the scenario's steps from `origin` (the script clock's zero, see the module docs). Stops at
/// the first failing step (recorded in `script.failures`).
pub(crate) async fn run_steps<F: Family, D: Driver<F>>(
    driver: &mut D,
    script: &mut Script,
    scenario: &Scenario<F>,
    origin: Instant,
) {
    let mut next_rule = scenario.faults.len() as u32 + 1;
    // Units after the one the last `expect` matched.
    let mut seen = 0usize;
    // Where the next step starts, in protocol time.
    let mut cursor = origin;
    // Where the actions right before the next step began (none after any other step): what an
    // `expect` with `since_step` answers to.
    let mut actions_began: Option<Instant> = None;
    for (n, step) in scenario.peer.steps.iter().enumerate() {
        let n = n + 1;
        if let Some(why) = driver.iut_gone() {
            script.failures.push(format!("step {n}: {why}"));
            break;
        }
        let start = cursor;
        let since = actions_began.unwrap_or(start);
        actions_began = match step {
            Step::Action(_) => Some(since),
            _ => None,
        };
        let result = match step {
            Step::Action(action) => {
                script.mark(start, || format!("step {n}: {}", action.label()));
                act(driver, script, scenario, action, n).await
            }
            Step::Wait(w) => {
                script.mark(start, || format!("step {n}: wait {} ms", w.ms));
                let end = start + ms(w.ms);
                while driver.advance(end, false).await {}
                Ok(end)
            }
            Step::Fault(spec) => {
                script.mark(start, || format!("step {n}: fault {}", fault_label(spec)));
                let rule = driver.fault_rule(next_rule, spec);
                next_rule += 1;
                driver.add_rule(rule).map(|()| start)
            }
            Step::Expect(e) => {
                script.mark(start, || {
                    format!("step {n}: expect {} within {} ms", e.kind, e.within_ms)
                });
                expect(driver, script, &mut seen, (start, since), e, n).await
            }
            Step::ExpectNone(e) => {
                script.mark(start, || {
                    format!("step {n}: expect no {} for {} ms", e.kind, e.for_ms)
                });
                expect_none(driver, script, seen, start, e, n).await
            }
        };
        match result {
            // In real time the driver's clock is past the step's protocol end; never go backwards.
            Ok(end) => cursor = end.max(start),
            Err(why) => {
                let why = if why.starts_with("step ") {
                    why
                } else {
                    format!("step {n}: {why}")
                };
                // A miss is what the step's basis makes it: a deviation when it rests on a
                // profile decision, a note on a MAY. The steps after it cannot run: the scenario
                // ends there, and what the script's end would have shown is not judged.
                match step_basis(step).map(|b| (b, F::VOCABULARY.citations.verdict_class(b))) {
                    Some((basis, Class::Profile)) => {
                        script
                            .deviations
                            .push(format!("{why} (rests on {basis}: a profile decision)"));
                        script.cut_short = Some(n);
                    }
                    Some((basis, Class::Informational)) => {
                        script
                            .notes
                            .push(format!("{why} (rests on {basis}: a MAY, not judged)"));
                        script.cut_short = Some(n);
                    }
                    Some((basis, Class::Contract)) => script.unmet_contracts.push(format!(
                        "{why} (rests on {basis}: a contract the IUT does not speak)"
                    )),
                    _ => script.failures.push(why),
                }
                break;
            }
        }
    }
    if script.keep_units {
        script.refresh(driver);
        for i in 0..script.units.len() {
            script.decode(driver, i);
        }
        script.iut_units = script
            .units
            .iter()
            .filter_map(|u| match &u.value {
                UnitValue::Decoded(v) => Some((u.at, v.clone())),
                _ => None,
            })
            .collect();
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The basis a step names (an `expect` or `expect_none`).
fn step_basis<A>(step: &Step<A>) -> Option<&str> {
    match step {
        Step::Expect(e) => e.basis.as_deref(),
        Step::ExpectNone(e) => e.basis.as_deref(),
        _ => None,
    }
}

/// One of the family's steps: the family acts (commands to the peer's endpoint, datagrams to send),
/// then the datagrams go on the link, each marked with the step.
async fn act<F: Family, D: Driver<F>>(
    driver: &mut D,
    script: &mut Script,
    scenario: &Scenario<F>,
    action: &F::Action,
    n: usize,
) -> Result<Instant, String> {
    let now = driver.now();
    let mut ctx = ActCtx {
        now,
        scenario,
        vars: &mut script.vars,
        peer: driver.peer_node(),
        send: Vec::new(),
    };
    F::act(action, &mut ctx).map_err(|e| e.to_string())?;
    let datagrams = ctx.send;
    for (port, bytes) in datagrams {
        let from = driver.peer_address(port).await?;
        let id = driver.inject(from, bytes).await?;
        script.annotations.insert(id, n);
    }
    driver.collect().await;
    Ok(driver.now())
}

/// Whether a unit is addressed where a step looks (`None`: anywhere).
fn at_port<F: Family, D: Driver<F>>(driver: &D, unit: &Unit, port: Option<Option<u16>>) -> bool {
    match port {
        None => true,
        Some(p) => unit.port == Some(p.unwrap_or_else(|| driver.peer_port())),
    }
}

/// Waits for a matching unit. Steps are ordered: the search starts after the unit the previous
/// `expect` matched (`seen`), so datagrams sent together (CONNECTION_ID then DATA) can be expected
/// one after the other. Returns the matched unit's time.
async fn expect<F: Family, D: Driver<F>>(
    driver: &mut D,
    script: &mut Script,
    seen: &mut usize,
    (start, since): (Instant, Instant),
    e: &ExpectStep,
    n: usize,
) -> Result<Instant, String> {
    let mut scan = *seen;
    // After the window has passed, one more look at what came in with it (in real time a datagram
    // stamped before the deadline may be read after it).
    let mut last_look = false;
    loop {
        driver.collect().await;
        script.refresh(driver);
        let deadline = start + ms(e.within_ms) + driver.slack();
        let mut found = None;
        while let Some(unit) = script.units.get(scan) {
            scan += 1;
            let in_time = unit.at <= deadline && (!e.since_step || unit.at >= since);
            if at_port(driver, unit, Some(e.to_port)) && in_time {
                let (at, index, i) = (unit.at, unit.trace_index, scan - 1);
                script.decode(driver, i);
                let none = BTreeMap::new();
                if script.unit_matches(i, &e.kind, &e.fields, &e.capture)
                    || e.any_of
                        .iter()
                        .any(|o| script.unit_matches(i, &o.kind, &o.fields, &none))
                {
                    if let Some(p) = &e.prefer {
                        let may =
                            F::VOCABULARY.citations.verdict_class(&p.basis) == Class::Informational;
                        script.prefer(i, n, p, may);
                    }
                    found = Some((at, index));
                    break;
                }
            }
        }
        if let Some((at, index)) = found {
            *seen = scan;
            if let Some(event) = index.and_then(|i| driver.trace().get(i)) {
                script.annotations.insert_if_absent(event.id(), n);
            }
            return Ok(at);
        }
        if last_look {
            if e.optional {
                return Ok(start + ms(e.within_ms));
            }
            let fields = serde_json::to_string(&e.fields).unwrap_or_default();
            let mut wanted = format!("{} {}", e.kind, fields);
            for o in &e.any_of {
                let fields = serde_json::to_string(&o.fields).unwrap_or_default();
                wanted.push_str(&format!(" or {} {}", o.kind, fields));
            }
            return Err(format!(
                "step {n}: no {wanted} from the IUT within {} ms{}",
                e.within_ms,
                slack_note(driver.slack())
            ));
        }
        if let Some(why) = driver.iut_gone() {
            return Err(format!(
                "step {n}: {why}, while the step waited for {}",
                e.kind
            ));
        }
        if !driver.advance(deadline, true).await && driver.now() >= deadline {
            last_look = true;
        }
    }
}

/// The IUT must do nothing matching in the window (see the module docs). Returns the window's end.
async fn expect_none<F: Family, D: Driver<F>>(
    driver: &mut D,
    script: &mut Script,
    seen: usize,
    start: Instant,
    e: &ExpectNoneStep,
    n: usize,
) -> Result<Instant, String> {
    let end = start + ms(e.for_ms);
    while driver.advance(end, false).await {}
    driver.collect().await;
    script.refresh(driver);
    let counted_until = end.saturating_sub(driver.slack().min(ms(e.for_ms) / 2));
    let none = BTreeMap::new();
    let port = e.to_port.map(Some);
    let mut found = None;
    for i in seen..script.units.len() {
        let Some(unit) = script.units.get(i) else {
            break;
        };
        if !at_port(driver, unit, port) || unit.at < start || unit.at > counted_until {
            continue;
        }
        let at = unit.at;
        script.decode(driver, i);
        if script.unit_matches(i, &e.kind, &e.fields, &none) {
            let value = match script.units.get(i).map(|u| &u.value) {
                Some(UnitValue::Decoded(v)) => v.to_string(),
                _ => String::new(),
            };
            found = Some(format!(
                "step {n}: the IUT sent {value} at {:.3} ms{}",
                at_ms(at),
                slack_note(driver.slack())
            ));
            break;
        }
    }
    match found {
        Some(why) => Err(why),
        None => Ok(end),
    }
}

/// Runs a future that never waits (a virtual-time driver's) to completion.
pub(crate) fn block_on_ready<F: Future>(future: F) -> Result<F::Output, String> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Ok(v),
        std::task::Poll::Pending => Err("a virtual-time step waited for real time".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::hex_bytes;
    use rstest::rstest;

    #[rstest]
    #[case("", Ok(vec![]))]
    #[case("0aFF", Ok(vec![0x0a, 0xff]))]
    #[case(" 0a f\tf\n", Ok(vec![0x0a, 0xff]))]
    #[case("abc", Err("hex `abc` has an odd number of digits"))]
    #[case("zzz", Err("hex `zzz` has an odd number of digits"))]
    #[case("zz", Err("`zz` is not hex"))]
    // A sign is not a digit (it once read as the pair `+f` = 0x0f).
    #[case("+f", Err("`+f` is not hex"))]
    fn hex_is_read_in_pairs_of_digits(#[case] hex: &str, #[case] want: Result<Vec<u8>, &str>) {
        assert_eq!(
            hex_bytes(hex).map_err(|e| e.to_string()),
            want.map_err(str::to_owned)
        );
    }
}

/// A `$variable` a step uses that no earlier `expect` captured (and that gives no `|default`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("variable `${0}` is not set (capture it in an earlier expect)")]
pub struct UnsetVariable(pub String);

/// Hex a scenario gives that cannot be read as bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// An odd number of digits.
    #[error("hex `{0}` has an odd number of digits")]
    OddDigits(String),
    /// A character that is not a hex digit (or white space).
    #[error("`{0}` is not hex")]
    NotHex(String),
}

/// Family code that speaks in messages takes these as their text.
impl From<UnsetVariable> for String {
    fn from(e: UnsetVariable) -> String {
        e.to_string()
    }
}

impl From<HexError> for String {
    fn from(e: HexError) -> String {
        e.to_string()
    }
}

/// A step that cannot be performed as written is the scenario's fault.
impl From<UnsetVariable> for crate::FamilyError {
    fn from(e: UnsetVariable) -> crate::FamilyError {
        crate::FamilyError::bad_input(e.to_string())
    }
}

impl From<HexError> for crate::FamilyError {
    fn from(e: HexError) -> crate::FamilyError {
        crate::FamilyError::bad_input(e.to_string())
    }
}
