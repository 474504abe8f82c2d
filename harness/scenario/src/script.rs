//! The scripted peer: one interpreter of a scenario's steps, over either driver — in-process
//! endpoints in virtual time ([`crate::engine`]) or an external program over real UDP
//! ([`crate::external`]). A [`Driver`] owns the clock, the fault link and the sockets; the
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
use handshake_mediastream_endpoint::StreamConfig;
use handshake_mediastream_wire::{
    pattern_slice, ConnectionId, DataRepr, Datagram, FragmentRepr, Mode,
};
use handshake_net::{DatagramId, FaultRule, LinkEvent};
use serde_json::Value;

use crate::model::{
    ControlSpec, DatagramSpec, ExpectNoneStep, ExpectStep, FaultSpec, Scenario, Step,
};

/// What the interpreter needs from a driver. Virtual-time drivers complete every future at once.
pub(crate) trait Driver {
    /// The driver's clock.
    fn now(&self) -> Instant;
    /// Everything the link carried so far.
    fn trace(&self) -> &[LinkEvent];
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

/// Script state: variables, the step annotations for the capture, failures and transcript markers.
#[derive(Debug, Default)]
pub struct Script {
    /// Captured and set variables.
    pub vars: BTreeMap<String, Value>,
    /// Datagram → "step N" for capture comments.
    pub annotations: BTreeMap<DatagramId, String>,
    /// Failures of steps.
    pub failures: Vec<String>,
    /// Step markers for the transcript: (time, text).
    pub markers: Vec<(Instant, String)>,
    fresh: u8,
}

impl Script {
    fn id(&mut self, text: &str) -> Result<ConnectionId, String> {
        if text == "$fresh" {
            self.fresh = self.fresh.wrapping_add(1);
            return Ok(ConnectionId::from_uuid_bytes([0xf0 ^ self.fresh; 16]));
        }
        let resolved = self.resolve(text)?;
        ConnectionId::from_escaped(&resolved).map_err(|e| format!("id `{text}`: {e}"))
    }

    fn resolve(&self, text: &str) -> Result<String, String> {
        match text.strip_prefix('$') {
            Some(var) => match self.vars.get(var) {
                Some(Value::String(s)) => Ok(s.clone()),
                Some(other) => Ok(other.to_string()),
                None => Err(format!(
                    "variable `${var}` is not set (capture it in an earlier expect)"
                )),
            },
            None => Ok(text.to_owned()),
        }
    }

    /// The datagrams a send step stands for.
    pub fn build(
        &mut self,
        spec: &DatagramSpec,
        config: &StreamConfig,
        now: Instant,
    ) -> Result<Vec<Vec<u8>>, String> {
        let qpc_now = now.as_nanos() / 100;
        Ok(match spec {
            DatagramSpec::Start {} => vec![Datagram::Start.to_vec()],
            DatagramSpec::Syn(c) => vec![self.control(c, 0x0100, false)?],
            DatagramSpec::SynAck(c) => vec![self.control(c, 0x0101, true)?],
            DatagramSpec::Ack(c) => vec![self.control(c, 0x0102, true)?],
            DatagramSpec::ConnectionId { id } => {
                vec![Datagram::ConnectionId(self.id(id)?).to_vec()]
            }
            DatagramSpec::Data {
                seq,
                qpc,
                payload_len,
                payload_hex,
            } => {
                let payload = match payload_hex {
                    Some(hex) => hex_bytes(hex)?,
                    None => {
                        let len = payload_len.unwrap_or_else(|| {
                            config
                                .frame_size()
                                .map_or(0, |f| f as usize)
                                .saturating_sub(26)
                        });
                        pattern_slice(0, len).to_vec()
                    }
                };
                let repr = DataRepr {
                    seq: *seq,
                    qpc: qpc.unwrap_or(qpc_now),
                    qpf: 10_000_000,
                    payload: &payload,
                };
                vec![Datagram::Data(repr).to_vec()]
            }
            DatagramSpec::DataFrag {
                seq,
                offset,
                total_length,
                payload_len,
            } => {
                let repr = FragmentRepr {
                    seq: *seq,
                    qpc: qpc_now,
                    qpf: 10_000_000,
                    fragment_offset: *offset,
                    total_length: *total_length,
                    payload: pattern_slice(0, *payload_len),
                };
                vec![Datagram::Fragment(repr).to_vec()]
            }
            DatagramSpec::Frames { from, to } => {
                let plan = config.plan().map_err(|e| e.to_string())?;
                let mut out = Vec::new();
                let mut qpc = qpc_now;
                for seq in *from..=*to {
                    for d in plan.iter() {
                        qpc += 1;
                        let payload = pattern_slice(0, (d.len as usize).saturating_sub(26));
                        out.push(
                            Datagram::Data(DataRepr {
                                seq,
                                qpc,
                                qpf: 10_000_000,
                                payload,
                            })
                            .to_vec(),
                        );
                    }
                }
                out
            }
            DatagramSpec::Raw { hex } => vec![hex_bytes(hex)?],
        })
    }

    fn control(
        &mut self,
        c: &ControlSpec,
        flag: u16,
        default_assigned: bool,
    ) -> Result<Vec<u8>, String> {
        let id = match (&c.id, default_assigned) {
            (Some(text), _) => self.id(text)?,
            (None, true) => self.id("$assigned_id")?,
            (None, false) => ConnectionId::ZERO,
        };
        let mut bytes = vec![0u8; 67];
        bytes[..2].copy_from_slice(&flag.to_le_bytes());
        bytes[26] = c.version.unwrap_or(1);
        bytes[27] = c
            .flags
            .unwrap_or(u8::from(flag == 0x0101 && c.accept.unwrap_or(true)));
        bytes[30..67].copy_from_slice(id.as_bytes());
        if let Some(hex) = &c.options_hex {
            bytes.extend(hex_bytes(hex)?);
        }
        Ok(bytes)
    }

    /// Whether a decoded datagram matches `kind` and `fields`; captures unset `$variables` on success.
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
                Value::String(s) if s.starts_with('$') => match self.vars.get(&s[1..]) {
                    Some(v) if v != got => return false,
                    Some(_) => {}
                    None => bind.push((s[1..].to_owned(), got.clone())),
                },
                other if other != got => return false,
                _ => {}
            }
        }
        for (var, value) in bind {
            self.vars.insert(var, value);
        }
        for (var, field) in capture {
            if let Some(v) = decoded.get(field) {
                self.vars.insert(var.clone(), v.clone());
            }
        }
        true
    }
}

/// Bytes from hex (whitespace between digits ignored).
pub(crate) fn hex_bytes(hex: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = hex.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err(format!("hex `{hex}` has an odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|p| {
            std::str::from_utf8(p)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| format!("`{hex}` is not hex"))
        })
        .collect()
}

/// Decodes a datagram into the JSON object `expect` matches against.
pub fn decoded(payload: &[u8]) -> Value {
    match Datagram::parse(payload, Mode::LegacyAccepting) {
        Ok(d) => serde_json::to_value(d).unwrap_or(Value::Null),
        Err(e) => {
            serde_json::json!({"kind": "malformed", "error": serde_json::to_value(e).unwrap_or(Value::Null)})
        }
    }
}

/// Datagrams the IUT sent (as sent) to `to` (any address when `None`), from trace index `from` on:
/// (index, time, bytes).
pub(crate) fn iut_sent(
    trace: &[LinkEvent],
    iut: SocketAddr,
    to: Option<SocketAddr>,
    from: usize,
) -> impl Iterator<Item = (usize, Instant, &[u8])> {
    trace
        .iter()
        .enumerate()
        .skip(from)
        .filter_map(move |(i, e)| match e {
            LinkEvent::Sent {
                at,
                from,
                to: dst,
                injected: false,
                payload,
                ..
            } if *from == iut && to.is_none_or(|t| t == *dst) => Some((i, *at, payload.as_slice())),
            _ => None,
        })
}

/// The one-word label of a send step, with its truncation and repetition.
pub(crate) fn step_label(step: &Step) -> String {
    match step {
        Step::Send(s) => {
            let v = serde_json::to_value(&s.datagram).unwrap_or(Value::Null);
            let mut label = v
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default();
            if let Some(len) = s.truncate_to {
                label.push_str(&format!(" cut to {len} bytes"));
            }
            if s.times > 1 {
                label.push_str(&format!(" x{}", s.times));
            }
            label
        }
        _ => String::new(),
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
pub(crate) async fn run_steps<D: Driver>(
    driver: &mut D,
    script: &mut Script,
    scenario: &Scenario,
    origin: Instant,
) {
    let config = scenario.stream;
    let mut next_rule = scenario.faults.len() as u32 + 1;
    // Trace index after the datagram the last `expect` matched.
    let mut seen = 0usize;
    // Where the next step starts, in protocol time.
    let mut cursor = origin;
    for (n, step) in scenario.peer.steps.iter().enumerate() {
        let n = n + 1;
        if let Some(why) = driver.iut_gone() {
            script.failures.push(format!("step {n}: {why}"));
            break;
        }
        let start = cursor;
        let result = match step {
            Step::Send(send) => {
                script
                    .markers
                    .push((start, format!("step {n}: send {}", step_label(step))));
                send_step(driver, script, &config, send, n).await
            }
            Step::Wait(w) => {
                script
                    .markers
                    .push((start, format!("step {n}: wait {} ms", w.ms)));
                let end = start + ms(w.ms);
                while driver.advance(end, false).await {}
                Ok(end)
            }
            Step::Fault(spec) => {
                script
                    .markers
                    .push((start, format!("step {n}: fault {}", fault_label(spec))));
                let rule = driver.fault_rule(next_rule, spec);
                next_rule += 1;
                driver.add_rule(rule).map(|()| start)
            }
            Step::Expect(e) => {
                script.markers.push((
                    start,
                    format!("step {n}: expect {} within {} ms", e.kind, e.within_ms),
                ));
                expect(driver, script, &mut seen, start, e, n).await
            }
            Step::ExpectNone(e) => {
                script.markers.push((
                    start,
                    format!("step {n}: expect no {} for {} ms", e.kind, e.for_ms),
                ));
                expect_none(driver, script, seen, start, e, n).await
            }
        };
        match result {
            // In real time the driver's clock is past the step's protocol end; never go backwards.
            Ok(end) => cursor = end.max(start),
            Err(why) => {
                script.failures.push(if why.starts_with("step ") {
                    why
                } else {
                    format!("step {n}: {why}")
                });
                break;
            }
        }
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn send_step<D: Driver>(
    driver: &mut D,
    script: &mut Script,
    config: &StreamConfig,
    send: &crate::model::SendStep,
    n: usize,
) -> Result<Instant, String> {
    let datagrams = script.build(&send.datagram, config, driver.now())?;
    let from = driver.peer_address(send.from_port).await?;
    for _ in 0..send.times.max(1) {
        for mut bytes in datagrams.iter().cloned() {
            if let Some(len) = send.truncate_to {
                bytes.truncate(len);
            }
            let id = driver.inject(from, bytes).await?;
            script.annotations.insert(id, format!("step {n}"));
        }
    }
    Ok(driver.now())
}

/// Waits for a matching datagram from the IUT. Steps are ordered: the search starts after the datagram
/// the previous `expect` matched (`seen`), so datagrams sent together (CONNECTION_ID then DATA) can be
/// expected one after the other. Returns the matched datagram's time.
async fn expect<D: Driver>(
    driver: &mut D,
    script: &mut Script,
    seen: &mut usize,
    start: Instant,
    e: &ExpectStep,
    n: usize,
) -> Result<Instant, String> {
    let to = driver.peer_address(e.to_port).await?;
    let mut scan = *seen;
    loop {
        driver.collect().await;
        let deadline = start + ms(e.within_ms) + driver.slack();
        if let Some(iut) = driver.iut() {
            let mut found = None;
            for (i, at, payload) in iut_sent(driver.trace(), iut, Some(to), scan) {
                scan = i + 1;
                if at <= deadline
                    && script.matches(&e.kind, &e.fields, &decoded(payload), &e.capture)
                {
                    found = Some((i, at));
                    break;
                }
            }
            if let Some((i, at)) = found {
                *seen = i + 1;
                if let Some(event) = driver.trace().get(i) {
                    script
                        .annotations
                        .entry(event.id())
                        .or_insert_with(|| format!("step {n}"));
                }
                return Ok(at);
            }
        }
        if let Some(why) = driver.iut_gone() {
            return Err(format!(
                "step {n}: {why}, while the step waited for {}",
                e.kind
            ));
        }
        if !driver.advance(deadline, true).await {
            driver.collect().await;
            if driver.now() >= deadline {
                let fields = serde_json::to_string(&e.fields).unwrap_or_default();
                return Err(format!(
                    "step {n}: no {} {} from the IUT within {} ms{}",
                    e.kind,
                    fields,
                    e.within_ms,
                    slack_note(driver.slack())
                ));
            }
        }
    }
}

/// The IUT must send no matching datagram in the window (see the module docs). Returns the
/// window's end.
async fn expect_none<D: Driver>(
    driver: &mut D,
    script: &mut Script,
    seen: usize,
    start: Instant,
    e: &ExpectNoneStep,
    n: usize,
) -> Result<Instant, String> {
    let to = match e.to_port {
        Some(p) => Some(driver.peer_address(Some(p)).await?),
        None => None,
    };
    let end = start + ms(e.for_ms);
    while driver.advance(end, false).await {}
    driver.collect().await;
    let counted_until = end.saturating_sub(driver.slack().min(ms(e.for_ms) / 2));
    if let Some(iut) = driver.iut() {
        let none = BTreeMap::new();
        let mut found = None;
        for (_, at, payload) in iut_sent(driver.trace(), iut, to, seen) {
            let d = decoded(payload);
            if at >= start && at <= counted_until && script.matches(&e.kind, &e.fields, &d, &none) {
                found = Some(format!(
                    "step {n}: the IUT sent {d} at {:.3} ms{}",
                    at_ms(at),
                    slack_note(driver.slack())
                ));
                break;
            }
        }
        if let Some(why) = found {
            return Err(why);
        }
    }
    Ok(end)
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
