//! The signaling sessions: the controller's rules (DT6, DT8, DT10, DH7–DH9) and the client's on
//! the signaling stream, with a model of each meeting (who is present when).

use std::collections::BTreeSet;
use std::net::SocketAddr;

use handshake_darktower_wire::proto::signaling::{
    client_message::Message as Cm, server_message::Message as Sm, ClientMessage, ErrorCode,
    JoinRequest, JoinResponse, LeaveReason, ServerMessage,
};
use handshake_darktower_wire::signaling::MAX_PARTICIPANT_NAME_LEN;
use handshake_darktower_wire::{
    decode_first_client_message, decode_later_client_message, decode_server_message_after,
    Envelope, FramingError,
};
use handshake_quic::rebuild::{At, Side};

use crate::app::{read_framed, url_address, AppStream, Ctx, Framed, Sess};
use crate::rules;
use crate::Role;

/// The addresses JoinResponses name as `media_handler_url`.
pub(crate) fn handler_addresses(sessions: &[Sess<'_>]) -> BTreeSet<SocketAddr> {
    let mut out = BTreeSet::new();
    for s in sessions {
        let Some(st) = s.first_client_bidi() else {
            continue;
        };
        let mut reader = handshake_darktower_wire::SignalingReader::new();
        let mut input: &[u8] = &st.data[1];
        if let Some(Ok(msg)) = reader.next(&mut input) {
            if let Ok((
                ServerMessage {
                    message: Some(Sm::JoinResponse(r)),
                },
                _,
            )) = decode_server_message_after(msg, Envelope::Bare)
            {
                if let Some(a) = r
                    .media_server
                    .as_ref()
                    .and_then(|m| url_address(&m.media_handler_url))
                {
                    out.insert(a);
                }
            }
        }
    }
    out
}

pub(crate) fn client_name(m: &ClientMessage) -> String {
    match &m.message {
        Some(Cm::JoinRequest(_)) => "join_request",
        Some(Cm::PublishStream(_)) => "publish_stream",
        Some(Cm::SubscribeStream(_)) => "subscribe_stream",
        Some(Cm::UnsubscribeStream(_)) => "unsubscribe_stream",
        Some(Cm::StreamQualityUpdate(_)) => "stream_quality_update",
        None => "none",
    }
    .to_owned()
}

pub(crate) fn error_name(code: i32) -> String {
    ErrorCode::try_from(code)
        .map_or_else(|_| format!("code {code}"), |c| c.as_str_name().to_owned())
}

fn server_name(m: &ServerMessage) -> String {
    match &m.message {
        Some(Sm::JoinResponse(_)) => "join_response".to_owned(),
        Some(Sm::ParticipantJoined(_)) => "participant_joined".to_owned(),
        Some(Sm::ParticipantLeft(_)) => "participant_left".to_owned(),
        Some(Sm::StreamPublished(_)) => "stream_published".to_owned(),
        Some(Sm::StreamQualityUpdate(_)) => "stream_quality_update".to_owned(),
        Some(Sm::Error(e)) => format!("error({})", error_name(e.code)),
        None => "none".to_owned(),
    }
}

/// How a participant left, as the capture shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    Voluntary,
    Lost,
    /// Within the tolerance of the idle timeout: either reason.
    Either,
}

/// One signaling session, read.
struct Signal {
    sess: usize,
    stream_id: u64,
    client: Vec<(Option<ClientMessage>, Framed)>,
    client_err: Option<(FramingError, At)>,
    server: Vec<(Option<ServerMessage>, Framed)>,
    server_err: Option<(FramingError, At)>,
    server_fin: Option<At>,
    server_reset: Option<At>,
    request: Option<(JoinRequest, At)>,
    join: Option<(JoinResponse, At)>,
    leave: Option<(At, Expect)>,
}

impl Signal {
    fn server_msgs(&self) -> impl Iterator<Item = (&Sm, At)> {
        self.server.iter().filter_map(|(m, f)| {
            m.as_ref()
                .and_then(|m| m.message.as_ref())
                .map(|m| (m, f.at))
        })
    }
    /// The participant X this session's client learned of: in its JoinResponse or a
    /// ParticipantJoined.
    fn knows(&self, id: &str) -> bool {
        self.learned_since(id, At::default())
    }

    /// Whether it learned of `id` at `since` or later (a participant that left and resumes is
    /// announced again, DH9).
    fn learned_since(&self, id: &str, since: At) -> bool {
        self.join.as_ref().is_some_and(|(r, at)| {
            *at >= since
                && r.existing_participants
                    .iter()
                    .any(|p| p.participant_id == id)
        }) || self.server_msgs().any(|(m, at)| {
            at >= since
                && matches!(m, Sm::ParticipantJoined(j)
                if j.participant.as_ref().is_some_and(|p| p.participant_id == id))
        })
    }
}

fn read_signal(ctx: &Ctx<'_>, sessions: &[Sess<'_>], i: usize) -> Option<Signal> {
    let sess = sessions.get(i)?;
    let st = sess.first_client_bidi()?;
    let (cf, client_err) = read_framed(sess, st, Side::Client);
    let (sf, server_err) = read_framed(sess, st, Side::Server);
    // `signaling.wrapper` (disputed): the JoinRequest bare or wrapped, later messages either;
    // the answers to a bare JoinRequest may be bare.
    let mut envelope = Envelope::Wrapped;
    let client: Vec<_> = cf
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let decoded = if i == 0 {
                decode_first_client_message(&f.bytes).ok().map(|(m, e)| {
                    envelope = e;
                    m
                })
            } else {
                decode_later_client_message(&f.bytes).ok().map(|(m, _)| m)
            };
            (decoded, f)
        })
        .collect();
    let server: Vec<_> = sf
        .into_iter()
        .map(|f| {
            (
                decode_server_message_after(&f.bytes, envelope)
                    .ok()
                    .map(|(m, _)| m),
                f,
            )
        })
        .collect();
    let request = match client.first() {
        Some((
            Some(ClientMessage {
                message: Some(Cm::JoinRequest(r)),
            }),
            f,
        )) => Some((r.clone(), f.at)),
        _ => None,
    };
    let join = match server.first() {
        Some((
            Some(ServerMessage {
                message: Some(Sm::JoinResponse(r)),
            }),
            f,
        )) => Some((r.clone(), f.at)),
        _ => None,
    };
    let mut sig = Signal {
        sess: i,
        stream_id: st.quic_id,
        client,
        client_err,
        server,
        server_err,
        server_fin: st.fin[1],
        server_reset: st.reset_by(Side::Server).map(|c| c.at),
        request,
        join,
        leave: None,
    };
    sig.leave = leave(ctx, sess, st);
    Some(sig)
}

/// When the participant of this session left, and how (see the crate docs).
fn leave(ctx: &Ctx<'_>, sess: &Sess<'_>, st: &AppStream) -> Option<(At, Expect)> {
    let voluntary = [
        st.fin[0],
        st.reset_by(Side::Client).map(|c| c.at),
        sess.wt_close,
        sess.closed(),
    ]
    .into_iter()
    .flatten()
    .min();
    let limit = voluntary.unwrap_or(ctx.end);
    let mut last: Option<At> = None;
    let mut idle: Option<(At, Expect)> = None;
    let lo = ctx.idle_ns.saturating_sub(ctx.tol_ns);
    let hi = ctx.idle_ns.saturating_add(ctx.tol_ns);
    let client_packets = sess
        .conn
        .packets
        .iter()
        .filter(|(at, s)| *s == Side::Client && *at <= limit)
        .map(|(at, _)| *at);
    for at in client_packets.chain(std::iter::once(limit)) {
        if let Some(l) = last {
            let gap = at.time_ns.saturating_sub(l.time_ns);
            if gap >= lo {
                let when = At {
                    packet: at.packet,
                    time_ns: l.time_ns.saturating_add(ctx.idle_ns),
                };
                let certain = gap >= hi;
                // A silence that runs into the voluntary end within the tolerance: either.
                let expect = if certain {
                    Expect::Lost
                } else {
                    Expect::Either
                };
                idle = Some((when, expect));
                break;
            }
        }
        last = Some(at);
    }
    match (idle, voluntary) {
        (Some(i), _) => Some(i),
        (None, Some(v)) => Some((v, Expect::Voluntary)),
        (None, None) => None,
    }
}

fn fatal(code: i32, joined: bool) -> bool {
    let fatal_always = [
        ErrorCode::InvalidRequest,
        ErrorCode::StreamError,
        ErrorCode::Unauthorized,
        ErrorCode::CapacityExceeded,
    ];
    ErrorCode::try_from(code)
        .is_ok_and(|c| fatal_always.contains(&c) || (!joined && c == ErrorCode::NotFound))
}

struct Part {
    sig: usize,
    id: String,
    meeting: (Option<SocketAddr>, String),
    name: String,
    token: String,
    joined: At,
    leave: Option<(At, Expect)>,
    /// When the controller ended the participant's signaling stream (FIN or reset, as after a
    /// fatal ErrorMessage): from then on it may count the participant as gone.
    ended_by_controller: Option<At>,
    /// A later session took this id over while this one was present.
    replaced: bool,
    /// This session took the id over from one still present (the others see nothing).
    resumed_present: bool,
}

impl Part {
    fn present(&self, t: At) -> bool {
        self.joined.time_ns <= t.time_ns && self.leave.is_none_or(|(l, _)| l.time_ns > t.time_ns)
    }
}

pub(crate) fn judge(ctx: &mut Ctx<'_>, sessions: &mut [Sess<'_>]) {
    let indices: Vec<usize> = (0..sessions.len())
        .filter(|&i| sessions[i].judged && sessions[i].role == Role::Controller)
        .collect();
    let signals: Vec<Signal> = indices
        .iter()
        .filter_map(|&i| read_signal(ctx, sessions, i))
        .collect();
    for sig in &signals {
        if let Some(s) = sessions.get_mut(sig.sess) {
            s.client_messages = sig
                .client
                .iter()
                .map(|(m, _)| m.as_ref().map_or("undecodable".to_owned(), client_name))
                .collect();
            s.server_messages = sig
                .server
                .iter()
                .map(|(m, _)| m.as_ref().map_or("undecodable".to_owned(), server_name))
                .collect();
            s.participant = sig.join.as_ref().map(|(r, _)| r.participant_id.clone());
            s.meeting = sig.request.as_ref().map(|(r, _)| r.meeting_id.clone());
        }
    }
    let sessions: &[Sess<'_>] = sessions;
    if ctx.options.judge.client {
        for sig in &signals {
            client_signaling(ctx, sessions, sig);
        }
    }
    if !ctx.options.judge.controller {
        return;
    }
    for sig in &signals {
        controller_stream(ctx, sessions, sig);
    }
    meeting(ctx, sessions, &signals);
}

fn conn_index(sessions: &[Sess<'_>], sig: &Signal) -> usize {
    sessions.get(sig.sess).map_or(0, |s| s.conn.index)
}

fn client_signaling(ctx: &mut Ctx<'_>, sessions: &[Sess<'_>], sig: &Signal) {
    let c = conn_index(sessions, sig);
    if let Some((e, at)) = &sig.client_err {
        ctx.log.violation(
            *at,
            &rules::CLIENT_SIGNALING_FRAME,
            format!(
                "connection {c} stream {}: the client's framing: {e}",
                sig.stream_id
            ),
        );
    }
    for (m, f) in &sig.client {
        if m.is_none() {
            ctx.log.violation(
                f.at,
                &rules::CLIENT_SIGNALING_FRAME,
                format!(
                    "connection {c} stream {}: a {}-byte client message that decodes neither as a ClientMessage nor as a bare message (signaling.wrapper)",
                    sig.stream_id,
                    f.bytes.len()
                ),
            );
        }
    }
    if let Some((Some(m), f)) = sig.client.first() {
        if !matches!(m.message, Some(Cm::JoinRequest(_))) {
            ctx.log.violation(
                f.at,
                &rules::CLIENT_FIRST_MESSAGE,
                format!(
                    "connection {c} stream {}: the first signaling message is {}",
                    sig.stream_id,
                    client_name(m)
                ),
            );
        }
    }
}

/// The FIN (or reset) due after a fatal ErrorMessage at `at`, and nothing after it.
fn end_after_error(
    ctx: &mut Ctx<'_>,
    sessions: &[Sess<'_>],
    sig: &Signal,
    index: usize,
    at: At,
    rule: &'static handshake_check::Rule,
    what: &str,
) {
    let c = conn_index(sessions, sig);
    if let Some((m, f)) = sig.server.get(index + 1) {
        ctx.log.violation(
            f.at,
            rule,
            format!(
                "connection {c} stream {}: {} after the {what}",
                sig.stream_id,
                m.as_ref()
                    .map_or("an undecodable message".to_owned(), server_name)
            ),
        );
        return;
    }
    if sig.server_fin.is_none() && sig.server_reset.is_none() {
        let alive = sessions
            .get(sig.sess)
            .is_some_and(|s| s.alive_after(at, ctx.tol_ns));
        if alive {
            ctx.log.violation(
                at,
                rule,
                format!(
                    "connection {c} stream {}: no FIN after the {what} while the connection went on",
                    sig.stream_id
                ),
            );
        }
    }
}

/// A client-caused error the controller must answer.
struct Cause {
    at: At,
    rule: &'static handshake_check::Rule,
    expected: ErrorCode,
    /// Other codes accepted (a refusal of token or meeting that may come first).
    also: &'static [ErrorCode],
    pre_join: bool,
    what: String,
}

const REFUSALS: &[ErrorCode] = &[
    ErrorCode::Unauthorized,
    ErrorCode::NotFound,
    ErrorCode::CapacityExceeded,
];

fn cause(sig: &Signal) -> Option<Cause> {
    let framing = |pre_join: bool| {
        sig.client_err.as_ref().and_then(|(e, at)| {
            matches!(e, FramingError::EmptyMessage | FramingError::TooLong(_)).then(|| Cause {
                at: *at,
                rule: &rules::CONTROLLER_STREAM_ERROR,
                expected: ErrorCode::StreamError,
                also: &[],
                pre_join,
                what: format!("a client message {e}"),
            })
        })
    };
    let Some((first, f)) = sig.client.first() else {
        return framing(true);
    };
    match first.as_ref().and_then(|m| m.message.as_ref()) {
        None => {
            return Some(Cause {
                at: f.at,
                rule: &rules::CONTROLLER_FIRST_MESSAGE,
                expected: ErrorCode::InvalidRequest,
                also: &[],
                pre_join: true,
                what: "a first message that does not decode".to_owned(),
            })
        }
        Some(Cm::JoinRequest(r)) if r.participant_name.len() > MAX_PARTICIPANT_NAME_LEN => {
            return Some(Cause {
                at: f.at,
                rule: &rules::CONTROLLER_NAME_LENGTH,
                expected: ErrorCode::InvalidRequest,
                also: REFUSALS,
                pre_join: true,
                what: format!(
                    "a JoinRequest with a {}-byte participant_name",
                    r.participant_name.len()
                ),
            })
        }
        Some(Cm::JoinRequest(_)) => {}
        Some(other) => {
            return Some(Cause {
                at: f.at,
                rule: &rules::CONTROLLER_FIRST_MESSAGE,
                expected: ErrorCode::InvalidRequest,
                also: &[],
                pre_join: true,
                what: format!(
                    "a first message {}",
                    client_name(&ClientMessage {
                        message: Some(other.clone())
                    })
                ),
            })
        }
    }
    // Joined: later causes count only after a JoinResponse.
    sig.join.as_ref()?;
    for (m, f) in sig.client.iter().skip(1) {
        if m.is_none() {
            return Some(Cause {
                at: f.at,
                rule: &rules::CONTROLLER_UNDECODABLE,
                expected: ErrorCode::InvalidRequest,
                also: &[],
                pre_join: false,
                what: format!("a {}-byte message that does not decode", f.bytes.len()),
            });
        }
    }
    framing(false)
}

fn controller_stream(ctx: &mut Ctx<'_>, sessions: &[Sess<'_>], sig: &Signal) {
    let c = conn_index(sessions, sig);
    let sid = sig.stream_id;
    if let Some((e, at)) = &sig.server_err {
        ctx.log.violation(
            *at,
            &rules::CONTROLLER_FRAME,
            format!("connection {c} stream {sid}: the controller's framing: {e}"),
        );
    }
    for (m, f) in &sig.server {
        if m.is_none() {
            ctx.log.violation(
                f.at,
                &rules::CONTROLLER_FRAME,
                format!(
                    "connection {c} stream {sid}: a {}-byte message that does not decode as a ServerMessage",
                    f.bytes.len()
                ),
            );
        }
    }
    // Before the JoinResponse: at most one ErrorMessage, then FIN.
    let mut fatal_seen = false;
    if let Some((m, f)) = sig.server.first() {
        match m.as_ref().and_then(|m| m.message.as_ref()) {
            Some(Sm::JoinResponse(_)) => {}
            Some(Sm::Error(_)) => {
                fatal_seen = true;
                end_after_error(
                    ctx,
                    sessions,
                    sig,
                    0,
                    f.at,
                    &rules::CONTROLLER_JOIN_ANSWER,
                    "ErrorMessage",
                );
            }
            Some(other) => ctx.log.violation(
                f.at,
                &rules::CONTROLLER_JOIN_ANSWER,
                format!(
                    "connection {c} stream {sid}: {} before any JoinResponse",
                    server_name(&ServerMessage {
                        message: Some(other.clone())
                    })
                ),
            ),
            None => {}
        }
    }
    // After joining: a fatal ErrorMessage ends the stream.
    if sig.join.is_some() {
        for (i, (m, f)) in sig.server.iter().enumerate().skip(1) {
            if let Some(Sm::Error(e)) = m.as_ref().and_then(|m| m.message.as_ref()) {
                if fatal(e.code, true) {
                    fatal_seen = true;
                    let what = format!("fatal ErrorMessage {}", error_name(e.code));
                    end_after_error(ctx, sessions, sig, i, f.at, &rules::CONTROLLER_FATAL, &what);
                    break;
                }
            }
        }
    }
    let _ = fatal_seen;
    // Answers the client's content calls for.
    let Some(sess) = sessions.get(sig.sess) else {
        return;
    };
    let cause = cause(sig);
    if let Some(cause) = &cause {
        answer(ctx, sess, sig, cause);
    }
    // media_server (a fact): a JoinResponse names the media handler and a connection token.
    // Only the answer to a JoinRequest with a token (a media ConnectRequest read as signaling
    // has none: its bytes are a JoinRequest's with only field 1).
    let asked = sig
        .request
        .as_ref()
        .is_some_and(|(r, _)| !r.join_token.is_empty());
    let first_join = sig.server.first().filter(|_| asked).and_then(|(m, f)| {
        match m.as_ref()?.message.as_ref()? {
            Sm::JoinResponse(r) => Some((r.clone(), f.at)),
            _ => None,
        }
    });
    if let Some((_, at)) = first_join
        .as_ref()
        .filter(|(r, _)| r.participant_id.is_empty())
    {
        ctx.log.violation(
            *at,
            &rules::CONTROLLER_JOIN_PARTICIPANT,
            format!("connection {c} stream {sid}: a JoinResponse with no participant_id"),
        );
    }
    if let Some((r, at)) = &first_join {
        let missing = match &r.media_server {
            None => Some("no media_server"),
            Some(m) if m.media_handler_url.is_empty() => Some("an empty media handler URL"),
            Some(m) if m.connection_token.is_empty() => Some("an empty connection token"),
            Some(_) => None,
        };
        if let Some(missing) = missing {
            ctx.log.violation(
                *at,
                &rules::CONTROLLER_MEDIA_SERVER,
                format!("connection {c} stream {sid}: a JoinResponse with {missing}"),
            );
        }
    }
    // Real time without the secret: the media token's lifetime (DT8), by the real clock put no
    // earlier than it was (the capture's end taken as the time of judging).
    if let (None, Some(judged_at), Some((r, at))) = (
        &ctx.options.token_secret,
        ctx.options.judged_at_unix_s,
        &first_join,
    ) {
        let claims = r
            .media_server
            .as_ref()
            .and_then(|m| crate::token::peek(&m.connection_token));
        if let Some(cl) = claims {
            let behind_s = ctx.end.time_ns.saturating_sub(at.time_ns) / 1_000_000_000;
            let now_s = judged_at.saturating_sub(behind_s);
            if cl.exp > now_s.saturating_add(300 + 5) {
                ctx.log.violation(
                    *at,
                    &rules::CONTROLLER_MEDIA_TOKEN_LIFE,
                    format!(
                        "connection {c} stream {sid}: the JoinResponse's media token lives at least {} s, more than 5 minutes",
                        cl.exp.saturating_sub(now_s)
                    ),
                );
            }
        }
    }
    // Tokens (DT8, DH4), only with the secret.
    let Some(secret) = ctx.options.token_secret.clone() else {
        return;
    };
    if cause.as_ref().is_some_and(|c| c.pre_join) {
        return;
    }
    let Some((req, req_at)) = &sig.request else {
        return;
    };
    let now_s = req_at.time_ns / 1_000_000_000;
    // DT8 (a fact): forged, or expired beyond the later validator's leeway, is refused; the
    // leeway itself (DT8.leeway) and the meeting binding (DT8.meeting) are profile readings.
    let verdict = crate::token::judge(&secret, &req.join_token, now_s, false);
    let other_meeting = match &verdict {
        crate::token::Verdict::Valid(cl) | crate::token::Verdict::WithinLeeway(cl, _)
            if cl.meeting_id != req.meeting_id =>
        {
            Some(format!(
                "for meeting {:?}, not {:?}",
                cl.meeting_id, req.meeting_id
            ))
        }
        _ => None,
    };
    let first = sig.server.first().and_then(|(m, f)| {
        m.as_ref()
            .and_then(|m| m.message.clone())
            .map(|m| (m, f.at))
    });
    use crate::token::Verdict;
    let refusing = [ErrorCode::Unauthorized as i32, ErrorCode::NotFound as i32];
    if let (Some(why), Some((Sm::JoinResponse(_), at))) = (&other_meeting, &first) {
        ctx.log.violation(
            *at,
            &rules::CONTROLLER_TOKEN_MEETING,
            format!(
                "connection {c} stream {sid}: a join token {why} was answered with a JoinResponse"
            ),
        );
    }
    match (&verdict, first.clone()) {
        (Verdict::Refused(why), Some((Sm::JoinResponse(_), at))) => ctx.log.violation(
            at,
            &rules::CONTROLLER_TOKEN,
            format!("connection {c} stream {sid}: a join token that is {why} was answered with a JoinResponse"),
        ),
        (Verdict::WithinLeeway(_, why), Some((Sm::JoinResponse(_), at))) => ctx.log.violation(
            at,
            &rules::CONTROLLER_TOKEN_LEEWAY,
            format!("connection {c} stream {sid}: a join token {why}, within the {} s leeway, was answered with a JoinResponse", crate::token::EXP_LEEWAY_S),
        ),
        (Verdict::Refused(why), Some((Sm::Error(e), at))) if !refusing.contains(&e.code) => {
            ctx.log.violation(
                at,
                &rules::CONTROLLER_TOKEN,
                format!(
                    "connection {c} stream {sid}: a join token that is {why} was refused with {}",
                    error_name(e.code)
                ),
            )
        }
        (Verdict::Valid(claims), Some((Sm::Error(e), at)))
            if e.code == ErrorCode::Unauthorized as i32 && other_meeting.is_none() =>
        {
            ctx.log.violation(
                at,
                &rules::CONTROLLER_TOKEN,
                format!(
                    "connection {c} stream {sid}: a valid join token (expiring at {}, capture time {now_s}) was refused with UNAUTHORIZED",
                    claims.exp
                ),
            )
        }
        (_, Some((Sm::JoinResponse(r), at))) => {
            let token = r
                .media_server
                .as_ref()
                .map(|m| m.connection_token.clone())
                .unwrap_or_default();
            let now_s = at.time_ns / 1_000_000_000;
            let problem = match crate::token::verify(&secret, &token, now_s, true) {
                Err(why) => Some(format!("is {why}")),
                Ok(cl) if cl.participant_id.as_deref() != Some(r.participant_id.as_str()) => {
                    Some(format!("names participant {:?}", cl.participant_id))
                }
                Ok(cl) if cl.meeting_id != req.meeting_id => {
                    Some(format!("names meeting {:?}", cl.meeting_id))
                }
                // DT8: tokens live 5 minutes (a few seconds of clock slack).
                Ok(cl) if cl.exp > now_s.saturating_add(300 + 5) => Some(format!(
                    "lives {} s, more than 5 minutes",
                    cl.exp.saturating_sub(now_s)
                )),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                ctx.log.violation(
                    at,
                    &rules::CONTROLLER_TOKEN,
                    format!(
                        "connection {c} stream {sid}: the JoinResponse's media token {problem}"
                    ),
                );
            }
        }
        _ => {}
    }
}

fn answer(ctx: &mut Ctx<'_>, sess: &Sess<'_>, sig: &Signal, cause: &Cause) {
    let c = sess.conn.index;
    let sid = sig.stream_id;
    // A fatal error the controller sent before the cause arrived ends the stream: nothing due.
    let earlier_fatal = sig.server.iter().any(|(m, f)| {
        f.at < cause.at
            && matches!(m.as_ref().and_then(|m| m.message.as_ref()), Some(Sm::Error(e)) if fatal(e.code, !cause.pre_join))
    });
    if earlier_fatal || sig.server_fin.is_some_and(|f| f < cause.at) {
        return;
    }
    let ok =
        |code: i32| code == cause.expected as i32 || cause.also.iter().any(|a| *a as i32 == code);
    let reply = if cause.pre_join {
        sig.server.first().and_then(|(m, f)| {
            m.as_ref()
                .and_then(|m| m.message.as_ref())
                .map(|m| (m, f.at))
        })
    } else {
        sig.server
            .iter()
            .filter(|(_, f)| f.at >= cause.at)
            .filter_map(|(m, f)| {
                m.as_ref()
                    .and_then(|m| m.message.as_ref())
                    .map(|m| (m, f.at))
            })
            .find(|(m, _)| matches!(m, Sm::Error(e) if fatal(e.code, true)))
    };
    let expected = cause.expected.as_str_name();
    match reply {
        Some((Sm::Error(e), _)) if ok(e.code) => {}
        Some((Sm::Error(e), at)) => ctx.log.violation(
            at,
            cause.rule,
            format!(
                "connection {c} stream {sid}: {} was answered with {}, not {expected}",
                cause.what,
                error_name(e.code)
            ),
        ),
        Some((other, at)) => ctx.log.violation(
            at,
            cause.rule,
            format!(
                "connection {c} stream {sid}: {} was answered with {}, not {expected}",
                cause.what,
                server_name(&ServerMessage {
                    message: Some(other.clone())
                })
            ),
        ),
        None => {
            if sess.alive_after(cause.at, ctx.tol_ns) {
                ctx.log.violation(
                    cause.at,
                    cause.rule,
                    format!(
                        "connection {c} stream {sid}: {} was not answered with {expected} while the connection went on",
                        cause.what
                    ),
                );
            }
        }
    }
}

/// The meeting model: participant ids, ParticipantJoined, StreamPublished, ParticipantLeft.
fn meeting(ctx: &mut Ctx<'_>, sessions: &[Sess<'_>], signals: &[Signal]) {
    let mut parts: Vec<Part> = signals
        .iter()
        .enumerate()
        .filter_map(|(k, sig)| {
            let (resp, at) = sig.join.as_ref()?;
            let (req, _) = sig.request.as_ref()?;
            let server = sessions.get(sig.sess).and_then(Sess::server);
            Some(Part {
                sig: k,
                id: resp.participant_id.clone(),
                meeting: (server, req.meeting_id.clone()),
                name: req.participant_name.clone(),
                token: req.join_token.clone(),
                joined: *at,
                leave: sig.leave,
                ended_by_controller: [sig.server_fin, sig.server_reset]
                    .into_iter()
                    .flatten()
                    .min(),
                replaced: false,
                resumed_present: false,
            })
        })
        .collect();
    parts.sort_by_key(|p| p.joined);
    // Participant ids (DH8) and resumes (DH9).
    for i in 0..parts.len() {
        let (before, rest) = parts.split_at_mut(i);
        let Some(x) = rest.first_mut() else { continue };
        let same: Vec<&mut Part> = before
            .iter_mut()
            .filter(|p| p.meeting == x.meeting && p.id == x.id)
            .collect();
        if same.is_empty() {
            continue;
        }
        let resume = same.iter().all(|p| p.token == x.token && p.name == x.name);
        if !resume {
            let c = signals.get(x.sig).map_or(0, |s| conn_index(sessions, s));
            ctx.log.violation(
                x.joined,
                &rules::CONTROLLER_PARTICIPANT_IDS,
                format!(
                    "connection {c}: participant id {:?} given again in meeting {:?} to a join that is no resume (other token or name)",
                    x.id, x.meeting.1
                ),
            );
            continue;
        }
        for p in same {
            if p.leave
                .is_none_or(|(l, _)| l.time_ns.saturating_add(ctx.tol_ns) >= x.joined.time_ns)
            {
                p.replaced = true;
                x.resumed_present = true;
            }
        }
    }
    let tol = ctx.tol_ns;
    if let Some(capacity) = ctx.options.capacity {
        capacity_rule(ctx, sessions, signals, &parts, capacity);
    }
    for x in &parts {
        let Some(xs) = signals.get(x.sig) else {
            continue;
        };
        let xc = conn_index(sessions, xs);
        // StreamPublished never to the publisher.
        for (m, at) in xs.server_msgs() {
            if let Sm::StreamPublished(p) = m {
                if p.participant_id == x.id {
                    ctx.log.violation(
                        at,
                        &rules::CONTROLLER_STREAM_PUBLISHED_PUBLISHER,
                        format!(
                            "connection {xc}: StreamPublished of {:?}'s own stream {:?} sent to {:?}",
                            x.id,
                            p.stream.as_ref().map(|s| s.stream_id.clone()).unwrap_or_default(),
                            x.id
                        ),
                    );
                }
            }
        }
        let publishes: Vec<(String, At)> = {
            let mut seen = BTreeSet::new();
            xs.client
                .iter()
                .filter(|(_, f)| f.at >= x.joined)
                .filter_map(|(m, f)| match m.as_ref().and_then(|m| m.message.as_ref()) {
                    Some(Cm::PublishStream(p)) if seen.insert(p.stream_id.clone()) => {
                        Some((p.stream_id.clone(), f.at))
                    }
                    _ => None,
                })
                .collect()
        };
        for p in parts
            .iter()
            .filter(|p| p.meeting == x.meeting && p.id != x.id)
        {
            let Some(ps) = signals.get(p.sig) else {
                continue;
            };
            let Some(psess) = sessions.get(ps.sess) else {
                continue;
            };
            let pc = psess.conn.index;
            let listening = |t: At| {
                p.leave
                    .is_none_or(|(l, _)| l.time_ns > t.time_ns.saturating_add(tol))
                    && psess.alive_after(t, tol)
            };
            // ParticipantJoined (DH8).
            if !x.resumed_present
                && p.joined < x.joined
                && p.present(x.joined)
                && listening(x.joined)
                && !ps.learned_since(&x.id, xs.request.as_ref().map_or(x.joined, |r| r.1))
            {
                ctx.log.violation(
                    x.joined,
                    &rules::CONTROLLER_PARTICIPANT_JOINED,
                    format!(
                        "{:?} joined meeting {:?} (connection {xc}) but {:?} (connection {pc}) was not told",
                        x.id, x.meeting.1, p.id
                    ),
                );
            }
            // StreamPublished (DH8).
            for (stream, t) in &publishes {
                if p.joined < *t && p.present(*t) && listening(*t) {
                    let told = ps.server_msgs().any(|(m, _)| {
                        matches!(m, Sm::StreamPublished(sp) if sp.participant_id == x.id
                            && sp.stream.as_ref().is_some_and(|s| &s.stream_id == stream))
                    }) || ps.join.as_ref().is_some_and(|(r, _)| {
                        r.existing_participants.iter().any(|e| {
                            e.participant_id == x.id
                                && e.streams.iter().any(|s| &s.stream_id == stream)
                        })
                    });
                    if !told {
                        ctx.log.violation(
                            *t,
                            &rules::CONTROLLER_STREAM_PUBLISHED_OTHERS,
                            format!(
                                "{:?} published {stream:?} (connection {xc}) but {:?} (connection {pc}) was not told",
                                x.id, p.id
                            ),
                        );
                    }
                }
            }
            // ParticipantLeft (DT10; its reason and voluntary leaves: DT10.reason, DH9).
            if x.replaced {
                continue;
            }
            let Some((left_at, expect)) = x.leave else {
                continue;
            };
            let lefts: Vec<(i32, At)> = ps
                .server_msgs()
                .filter_map(|(m, at)| match m {
                    Sm::ParticipantLeft(l) if l.participant_id == x.id && at >= x.joined => {
                        Some((l.reason, at))
                    }
                    _ => None,
                })
                .collect();
            let voluntary = LeaveReason::Voluntary as i32;
            let lost = LeaveReason::ConnectionLost as i32;
            for (reason, at) in &lefts {
                let ok = match expect {
                    Expect::Voluntary => *reason == voluntary,
                    Expect::Lost => *reason == lost,
                    Expect::Either => *reason == voluntary || *reason == lost,
                };
                if !ok {
                    let want = match expect {
                        Expect::Voluntary => "VOLUNTARY",
                        Expect::Lost => "CONNECTION_LOST",
                        Expect::Either => "VOLUNTARY or CONNECTION_LOST",
                    };
                    ctx.log.violation(
                        *at,
                        &rules::CONTROLLER_LEAVE,
                        format!(
                            "{:?} (connection {pc}) was told {:?} left with {}, but the capture shows {want}",
                            p.id,
                            x.id,
                            LeaveReason::try_from(*reason)
                                .map_or_else(|_| format!("reason {reason}"), |r| r.as_str_name().to_owned())
                        ),
                    );
                }
            }
            // Missing: the idle timer may fire a little late (3 PTOs); allow twice the tolerance.
            let slack = if expect == Expect::Voluntary { 0 } else { tol };
            let due = At {
                packet: left_at.packet,
                time_ns: left_at.time_ns.saturating_add(slack),
            };
            if lefts.is_empty()
                && p.joined < left_at
                && p.present(due)
                && listening(due)
                && ps.knows(&x.id)
            {
                // An idle-out the others never learn of breaks DT10 (a fact); a voluntary
                // leave they never learn of, DH9 (this project's reading).
                let rule = if expect == Expect::Lost {
                    &rules::CONTROLLER_PARTICIPANT_LEFT
                } else {
                    &rules::CONTROLLER_LEAVE
                };
                ctx.log.violation(
                    left_at,
                    rule,
                    format!(
                        "{:?} (connection {xc}) left but {:?} (connection {pc}) got no ParticipantLeft",
                        x.id, p.id
                    ),
                );
            }
        }
    }
}

/// DH10 / documented errors: admissions and CAPACITY_EXCEEDED against the capacity. Presence
/// within the tolerance of a leave counts both ways (either reading is accepted), and so does a
/// participant whose signaling stream the controller ended (DT6's STREAM_ERROR closes the stream;
/// whether the participant is then gone the facts do not say: an independent controller drops it
/// at once, the reference keeps it until its session ends, as DH7 keeps the session).
fn capacity_rule(
    ctx: &mut Ctx<'_>,
    sessions: &[Sess<'_>],
    signals: &[Signal],
    parts: &[Part],
    capacity: u32,
) {
    let tol = ctx.tol_ns;
    let cap = usize::try_from(capacity).unwrap_or(usize::MAX);
    // Others surely present at `t` (joined before, leaving well after), and possibly present.
    let counts = |meeting: &(Option<SocketAddr>, String), t: At, except: Option<usize>| {
        let others = parts
            .iter()
            .enumerate()
            .filter(|(k, p)| Some(*k) != except && &p.meeting == meeting && !p.replaced)
            .map(|(_, p)| p);
        let mut sure = 0usize;
        let mut maybe = 0usize;
        for p in others {
            if p.joined >= t {
                continue;
            }
            let leaves_after = |slack_before: u64, slack_after: u64| {
                p.leave.is_none_or(|(l, _)| {
                    l.time_ns.saturating_add(slack_before) > t.time_ns.saturating_add(slack_after)
                })
            };
            let ended_by_controller = p
                .ended_by_controller
                .is_some_and(|e| e.time_ns <= t.time_ns.saturating_add(tol));
            if leaves_after(0, tol) && !ended_by_controller {
                sure += 1;
            }
            if leaves_after(tol, 0) {
                maybe += 1;
            }
        }
        (sure, maybe)
    };
    for (k, x) in parts.iter().enumerate() {
        if x.resumed_present {
            continue;
        }
        let (sure, _) = counts(&x.meeting, x.joined, Some(k));
        if sure >= cap {
            let c = signals.get(x.sig).map_or(0, |s| conn_index(sessions, s));
            ctx.log.violation(
                x.joined,
                &rules::CONTROLLER_CAPACITY,
                format!(
                    "connection {c}: {:?} admitted to meeting {:?} with {sure} others present (capacity {capacity})",
                    x.id, x.meeting.1
                ),
            );
        }
    }
    for sig in signals {
        let Some((
            Some(ServerMessage {
                message: Some(Sm::Error(e)),
            }),
            f,
        )) = sig.server.first()
        else {
            continue;
        };
        if e.code != ErrorCode::CapacityExceeded as i32 {
            continue;
        }
        let Some((req, _)) = &sig.request else {
            continue;
        };
        let server = sessions.get(sig.sess).and_then(Sess::server);
        let meeting = (server, req.meeting_id.clone());
        // A resume (same token and name as a participant present) never counts twice.
        let (_, maybe) = counts(&meeting, f.at, None);
        if maybe < cap {
            // How participants are counted (who is still present, a resume) is DH10's reading.
            ctx.log.violation(
                f.at,
                &rules::CONTROLLER_CAPACITY_COUNT,
                format!(
                    "connection {}: refused with CAPACITY_EXCEEDED with at most {maybe} present (capacity {capacity})",
                    conn_index(sessions, sig)
                ),
            );
        }
    }
}
