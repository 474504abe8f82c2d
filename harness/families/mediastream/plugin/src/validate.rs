//! What the schema cannot say about the media stream's parts of a scenario: the stream's limits,
//! modes, metric names and drop reasons in `expect`, connection ids and variables in `send`, and the
//! number of datagrams one `send` stands for.

use handshake_mediastream_endpoint::DropReason;
use handshake_mediastream_wire::CONNECTION_ID_LEN;
use handshake_scenario::format::{MAX_PAYLOAD, MAX_TIMES};
use handshake_scenario::json::Seg;
use handshake_scenario::validate::{key, path, sub, Validator};
use handshake_scenario::Scenario;

use crate::format::{
    ControlSpec, DatagramSpec, MediaStep, SendStep, MAX_DATAGRAMS_PER_SEND, METRIC_NAMES,
    NEGOTIATED_MODES,
};
use crate::MediaStream;

/// The family's keys of `s`.
pub fn scenario(s: &Scenario<MediaStream>, v: &mut Validator<'_>) {
    if let Err(e) = s.setup.stream.validate() {
        v.problem(path(&[key("stream")]), e.to_string());
    }
    if let Some(stream) = &s.peer.fields.stream {
        if let Err(e) = stream.validate() {
            v.problem(path(&[key("peer"), key("stream")]), e.to_string());
        }
    }
    let expect = &s.expect.fields;
    if let Some(mode) = &expect.negotiated_mode {
        if !NEGOTIATED_MODES.contains(&mode.as_str()) {
            v.problem(
                path(&[key("expect"), key("negotiated_mode")]),
                format!(
                    "unknown negotiated mode `{mode}`: expected one of {}",
                    NEGOTIATED_MODES.join(", ")
                ),
            );
        }
    }
    for name in expect.metrics.keys() {
        if !METRIC_NAMES.contains(&name.as_str()) {
            v.problem(
                path(&[
                    key("expect"),
                    key("metrics"),
                    Seg::KeyName(name.clone().into()),
                ]),
                format!(
                    "unknown metric `{name}`: expected one of {}",
                    METRIC_NAMES.join(", ")
                ),
            );
        }
    }
    for name in expect.validation_errors.keys() {
        if !DropReason::ALL.iter().any(|r| r.name() == name) {
            let known: Vec<&str> = DropReason::ALL.iter().map(|r| r.name()).collect();
            v.problem(
                path(&[
                    key("expect"),
                    key("validation_errors"),
                    Seg::KeyName(name.clone().into()),
                ]),
                format!(
                    "unknown drop reason `{name}`: expected one of {}",
                    known.join(", ")
                ),
            );
        }
    }
}

/// One `send` step at `at` (`…steps[N].send`).
pub fn step(s: &Scenario<MediaStream>, step: &MediaStep, at: &[Seg], v: &mut Validator<'_>) {
    match step {
        MediaStep::Send(send) => self::send(s, send, at, v),
    }
}

fn id(v: &mut Validator<'_>, at: Vec<Seg>, text: &str) {
    if v.variable(at.clone(), text) {
        return;
    }
    if let Err(e) = handshake_mediastream_wire::ConnectionId::from_escaped(text) {
        v.problem(
            at,
            format!(
                "`{text}` is not a connection id: {e} (at most {CONNECTION_ID_LEN} bytes, escaped)"
            ),
        );
    }
}

fn control(v: &mut Validator<'_>, at: &[Seg], c: &ControlSpec, default_assigned: bool) {
    match &c.id {
        Some(text) => id(v, sub(at, &[key("id")]), text),
        None if default_assigned => id(v, at.to_vec(), "$assigned_id"),
        None => {}
    }
    if let Some(hex) = &c.options_hex {
        v.hex(sub(at, &[key("options_hex")]), hex);
    }
}

fn send(s: &Scenario<MediaStream>, send: &SendStep, at: &[Seg], v: &mut Validator<'_>) {
    v.at_most(
        sub(at, &[key("times")]),
        "times",
        u64::from(send.times),
        MAX_TIMES,
    );
    if send.times == 0 {
        v.problem(
            sub(at, &[key("times")]),
            "times is 0: a send step sends at least once",
        );
    }
    if let Some(len) = send.truncate_to {
        v.at_most(
            sub(at, &[key("truncate_to")]),
            "truncate_to",
            len as u64,
            MAX_PAYLOAD as u64,
        );
    }
    let d = sub(at, &[key("datagram")]);
    let datagrams: u64 = match &send.datagram {
        DatagramSpec::Start {} => 1,
        DatagramSpec::Syn(c) => {
            control(v, &sub(&d, &[key("syn")]), c, false);
            1
        }
        DatagramSpec::SynAck(c) => {
            control(v, &sub(&d, &[key("syn_ack")]), c, true);
            1
        }
        DatagramSpec::Ack(c) => {
            control(v, &sub(&d, &[key("ack")]), c, true);
            1
        }
        DatagramSpec::ConnectionId { id: text } => {
            id(v, sub(&d, &[key("connection_id"), key("id")]), text);
            1
        }
        DatagramSpec::Data {
            payload_len,
            payload_hex,
            ..
        } => {
            if let Some(len) = payload_len {
                v.at_most(
                    sub(&d, &[key("data"), key("payload_len")]),
                    "payload_len",
                    *len as u64,
                    MAX_PAYLOAD as u64,
                );
            }
            if let Some(hex) = payload_hex {
                v.hex(sub(&d, &[key("data"), key("payload_hex")]), hex);
            }
            1
        }
        DatagramSpec::DataFrag { payload_len, .. } => {
            v.at_most(
                sub(&d, &[key("data_frag"), key("payload_len")]),
                "payload_len",
                *payload_len as u64,
                MAX_PAYLOAD as u64,
            );
            1
        }
        DatagramSpec::Frames { from, to } => {
            if to < from {
                v.problem(
                    sub(&d, &[key("frames")]),
                    format!("frames from {from} to {to}: `to` is before `from`"),
                );
            }
            let per_frame = s.setup.stream.plan().map_or(1, |p| p.iter().count() as u64);
            to.saturating_sub(*from)
                .saturating_add(1)
                .saturating_mul(per_frame)
        }
        DatagramSpec::Raw { hex } => {
            v.hex(sub(&d, &[key("raw"), key("hex")]), hex);
            1
        }
    };
    v.at_most(
        at.to_vec(),
        "the datagrams this step sends (times x datagrams)",
        datagrams.saturating_mul(u64::from(send.times)),
        MAX_DATAGRAMS_PER_SEND,
    );
}
