//! The media sessions: the handler's rules (DT2–DT5, DT7, DT8, DT11, DH11–DH14) and the
//! client's on its media streams and datagrams.

use std::collections::{BTreeMap, BTreeSet};

use handshake_darktower_wire::proto::media::{
    media_client_message::Message as Mc, media_server_message::Message as Ms,
};
use handshake_darktower_wire::proto::signaling::ErrorCode;
use handshake_darktower_wire::{
    decode_media_client_message, decode_media_server_message, media_auth_token, Error, Flags,
    FourCc, Frame, FrameHeaderRepr, FrameRepr, FrameType, FrameV2, FrameV2Repr, MediaEvent,
    MediaStreamReader, StreamHeader, StreamHeaderRepr, StreamId, StreamType, FRAME_HEADER_LEN,
    HEADER_LEN,
};
use handshake_quic::rebuild::{At, Side};

use crate::app::{read_framed, Ctx, Framed, Sess};
use crate::signaling::error_name;
use crate::{rules, MediaStreamView, Role};

/// DH12: the per-stream flow-control window; a longer payload could never arrive.
const MAX_PAYLOAD: u32 = 1 << 20;

/// One v1 media stream, read.
#[derive(Debug, Default)]
struct Parsed {
    header: Option<StreamHeaderRepr>,
    /// (start offset, length, sequence) of each whole frame.
    frames: Vec<(usize, usize, u64)>,
    /// The format error, where its bytes end (offset), whether in the header, where the frame
    /// it is in starts.
    error: Option<(Error, usize, bool, usize)>,
    /// A frame announcing more than 1 MiB: its start and its payload length.
    quota: Option<(usize, u32)>,
    /// The first offset that is not valid media (the bad frame's start), else the length.
    valid_end: usize,
}

fn parse(data: &[u8], fin: bool) -> Parsed {
    let mut p = Parsed::default();
    let mut reader = MediaStreamReader::new();
    let mut input: &[u8] = data;
    let mut frame_start = 0usize;
    let mut current: Option<(usize, u64, usize)> = None;
    loop {
        match reader.next(&mut input) {
            None => break,
            Some(Ok(MediaEvent::Header(h))) => {
                p.header = Some(h);
                frame_start = HEADER_LEN;
            }
            Some(Ok(MediaEvent::FrameStart(f))) => {
                if f.payload_len > MAX_PAYLOAD {
                    p.quota = Some((frame_start, f.payload_len));
                    p.valid_end = frame_start;
                    return p;
                }
                current = Some((frame_start, f.sequence, f.frame_len()));
            }
            Some(Ok(MediaEvent::Payload(_))) => {}
            Some(Ok(MediaEvent::FrameEnd)) => {
                if let Some((start, seq, len)) = current.take() {
                    p.frames.push((start, len, seq));
                    frame_start = start.saturating_add(len);
                }
            }
            Some(Err(e)) => {
                let end = data.len() - input.len();
                let in_header = p.header.is_none();
                p.error = Some((e, end, in_header, if in_header { 0 } else { frame_start }));
                p.valid_end = if in_header { 0 } else { frame_start };
                return p;
            }
        }
    }
    if fin {
        if let Err(e) = reader.finish() {
            let in_header = p.header.is_none();
            p.error = Some((
                e,
                data.len(),
                in_header,
                if in_header { 0 } else { frame_start },
            ));
            p.valid_end = if in_header { 0 } else { frame_start };
            return p;
        }
    }
    p.valid_end = data.len();
    p
}

/// Where a stream whose frames [`parse`] stopped at a mismatch no source fixes (a frame's version
/// byte, media.frame.version; a frame's stream id, DT3) breaks a fact further on, read as if those
/// matched: a bad frame type, a FIN inside a frame (a Payload Length that is not the payload's
/// size, media.frame). The error and where its bytes end.
fn fact_past_soft(data: &[u8], fin: bool) -> Option<(Error, usize)> {
    let mut reader = MediaStreamReader::tolerant();
    let mut input: &[u8] = data;
    loop {
        match reader.next(&mut input) {
            None => break,
            Some(Ok(MediaEvent::FrameStart(f))) if f.payload_len > MAX_PAYLOAD => return None,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Some((e, data.len() - input.len())),
        }
    }
    if fin {
        if let Err(e) = reader.finish() {
            return Some((e, data.len()));
        }
    }
    None
}

/// Whether the bytes after the last whole unit (a stream header or frame header not yet complete)
/// already make it invalid: completed with valid bytes, it would still fail. DH12 says what is
/// 0x01, not when, so a handler may stop at the first bad byte (a magic `DARU` after 4 bytes)
/// where the reference waits for the whole header.
fn prefix_decides(data: &[u8], p: &Parsed) -> bool {
    match &p.header {
        None => {
            if data.is_empty() || data.len() >= HEADER_LEN {
                return false;
            }
            let valid = StreamHeaderRepr {
                stream_type: StreamType::Audio,
                stream_id: StreamId([0; 16]),
                codec: FourCc(*b"Opus"),
            };
            let mut buf = [0u8; HEADER_LEN];
            if valid.emit(&mut buf).is_err() {
                return false;
            }
            buf[..data.len()].copy_from_slice(data);
            StreamHeaderRepr::parse(&buf).is_err()
        }
        Some(header) => {
            let start = p
                .frames
                .last()
                .map_or(HEADER_LEN, |(s, l, _)| s.saturating_add(*l));
            let rest = data.get(start..).unwrap_or(&[]);
            if rest.is_empty() || rest.len() >= FRAME_HEADER_LEN {
                return false;
            }
            let valid = FrameRepr {
                frame_type: FrameType::Audio,
                stream_id: header.stream_id,
                timestamp_us: 0,
                sequence: 0,
                flags: Flags::default(),
                payload: &[],
            };
            let Ok(mut buf) = valid.to_vec() else {
                return false;
            };
            buf[..rest.len()].copy_from_slice(rest);
            FrameHeaderRepr::parse(&buf)
                .ok()
                .is_none_or(|f| f.stream_id != header.stream_id)
        }
    }
}

/// One media session, read.
struct MediaSess {
    sess: usize,
    auth_stream: Option<u64>,
    client: Vec<(Option<Mc>, Framed)>,
    client_err: Option<(handshake_darktower_wire::FramingError, At)>,
    server: Vec<(Option<Ms>, Framed)>,
    server_err: Option<(handshake_darktower_wire::FramingError, At)>,
    server_fin: Option<At>,
    /// The ConnectResponse: where, and its participant.
    auth: Option<(At, String)>,
    /// Where the ConnectRequest arrived.
    request_at: Option<At>,
    token: Option<String>,
    meeting: Option<String>,
    /// DT7.wire (disputed): the flow document's carriers — the client uni stream that carried
    /// the token, and whether datagrams did (raw or length-prefixed JWT).
    auth_uni: Option<u64>,
    auth_datagram: bool,
    /// The bidi authentication stream carried a bare JWT (no MediaClientMessage): its framing is
    /// not judged.
    raw_bidi: bool,
}

fn read_media(sessions: &[Sess<'_>], i: usize) -> Option<MediaSess> {
    let sess = sessions.get(i)?;
    let mut m = MediaSess {
        sess: i,
        auth_stream: None,
        client: Vec::new(),
        client_err: None,
        server: Vec::new(),
        server_err: None,
        server_fin: None,
        auth: None,
        request_at: None,
        token: None,
        meeting: None,
        auth_uni: None,
        auth_datagram: false,
        raw_bidi: false,
    };
    if let Some(st) = sess.first_client_bidi() {
        m.auth_stream = Some(st.quic_id);
        let (cf, ce) = read_framed(sess, st, Side::Client);
        let (sf, se) = read_framed(sess, st, Side::Server);
        m.client = cf
            .into_iter()
            .map(|f| {
                (
                    decode_media_client_message(&f.bytes)
                        .ok()
                        .and_then(|x| x.message),
                    f,
                )
            })
            .collect();
        m.server = sf
            .into_iter()
            .map(|f| {
                (
                    decode_media_server_message(&f.bytes)
                        .ok()
                        .and_then(|x| x.message),
                    f,
                )
            })
            .collect();
        m.client_err = ce;
        m.server_err = se;
        m.server_fin = st.fin[1];
        if let Some((Some(Mc::ConnectRequest(r)), f)) = m.client.first() {
            m.request_at = Some(f.at);
            m.token = Some(r.join_token.clone());
        } else if let Some(token) = media_auth_token(&st.data[0]) {
            // A JWT as it is (behind a length or not) on the bidi stream.
            m.raw_bidi = m.client.first().is_none_or(|(x, _)| x.is_none());
            m.request_at = Some(sess.at(st, Side::Client, 0));
            m.token = Some(token);
            if m.raw_bidi {
                m.client.clear();
                m.client_err = None;
            }
        }
        // DT7.wire: any answer that is no refusal (an ErrorMessage; a reset, a stop or a close
        // are no answer) is the success answer; a ConnectResponse names the participant.
        match m.server.first() {
            Some((Some(Ms::ConnectResponse(r)), f)) => {
                m.auth = Some((f.at, r.participant_id.clone()));
            }
            Some((None, f)) => m.auth = Some((f.at, String::new())),
            Some((Some(Ms::Error(_)), _)) => {}
            None => {
                if let Some((_, at)) = m.server_err.filter(|_| !st.data[1].is_empty()) {
                    m.auth = Some((at, String::new()));
                }
            }
        }
    }
    if m.token.is_none() {
        // The flow document's carriers: a client uni stream, else a datagram, with the token.
        let uni = sess
            .streams
            .iter()
            .filter(|s| !s.bidi && s.opener == Side::Client && !s.data[0].starts_with(b"DART"))
            .find_map(|s| media_auth_token(&s.data[0]).map(|t| (s, t)));
        if let Some((st, token)) = uni {
            m.auth_uni = Some(st.quic_id);
            m.request_at = Some(sess.at(st, Side::Client, 0));
            m.token = Some(token);
        } else if let Some((d, token)) = sess
            .datagrams
            .iter()
            .filter(|d| d.by == Side::Client)
            .find_map(|d| media_auth_token(&d.payload).map(|t| (d, t)))
        {
            m.auth_datagram = true;
            m.request_at = Some(d.at);
            m.token = Some(token);
        }
        if m.token.is_some() {
            // The answer: the handler's first datagram that is no v2 frame, or its first stream
            // that is no media stream (the flow document's "Auth Success" has no form).
            let request = m.request_at.unwrap_or_default();
            let by_datagram = sess
                .datagrams
                .iter()
                .filter(|d| d.by == Side::Server && d.at >= request)
                .find(|d| FrameV2Repr::parse(&d.payload).is_err())
                .map(|d| (d.at, answer_participant(&d.payload)));
            let by_stream = sess
                .streams
                .iter()
                .filter(|s| s.opener == Side::Server && !s.data[1].is_empty())
                .filter(|s| !s.data[1].starts_with(b"DART"))
                .filter(|s| s.reset_by(Side::Server).is_none())
                .map(|s| (sess.at(s, Side::Server, 0), answer_participant(&s.data[1])))
                .filter(|(at, _)| *at >= request)
                .min_by_key(|(at, _)| at.packet);
            m.auth = match (by_datagram, by_stream) {
                (Some(a), Some(b)) => Some(if a.0.packet <= b.0.packet { a } else { b }),
                (a, b) => a.or(b),
            };
        }
    }
    m.meeting = m
        .token
        .as_deref()
        .and_then(crate::token::peek)
        .map(|c| c.meeting_id);
    Some(m)
}

/// The participant a success answer names: a framed (or bare) ConnectResponse's, else none.
fn answer_participant(bytes: &[u8]) -> String {
    let message = handshake_darktower_wire::split_frame(bytes)
        .map(|(m, _)| m)
        .unwrap_or(bytes);
    match decode_media_server_message(message).map(|m| m.message) {
        Ok(Some(Ms::ConnectResponse(r))) => r.participant_id,
        _ => String::new(),
    }
}

fn ms_name(m: &Option<Ms>) -> String {
    match m {
        Some(Ms::ConnectResponse(_)) => "connect_response".to_owned(),
        Some(Ms::Error(e)) => format!("error({})", error_name(e.code)),
        None => "undecodable".to_owned(),
    }
}

pub(crate) fn judge(ctx: &mut Ctx<'_>, sessions: &mut [Sess<'_>]) {
    let indices: Vec<usize> = (0..sessions.len())
        .filter(|&i| sessions[i].judged && sessions[i].role == Role::Handler)
        .collect();
    let medias: Vec<MediaSess> = indices
        .iter()
        .filter_map(|&i| read_media(sessions, i))
        .collect();
    // Every stream parsed once.
    let mut parsed: BTreeMap<(usize, u64), Parsed> = BTreeMap::new();
    for m in &medias {
        let Some(sess) = sessions.get(m.sess) else {
            continue;
        };
        for st in sess.streams.iter().filter(|s| !s.bidi) {
            let side = st.opener;
            let fin = st.fin[side.index()].is_some();
            parsed.insert((m.sess, st.quic_id), parse(&st.data[side.index()], fin));
        }
    }
    for m in &medias {
        let Some(sess) = sessions.get_mut(m.sess) else {
            continue;
        };
        sess.client_messages = m
            .client
            .iter()
            .map(|(x, _)| match x {
                Some(Mc::ConnectRequest(_)) => "connect_request".to_owned(),
                None => "undecodable".to_owned(),
            })
            .collect();
        sess.server_messages = m.server.iter().map(|(x, _)| ms_name(x)).collect();
        sess.participant = m.auth.as_ref().map(|a| a.1.clone());
        sess.meeting = m.meeting.clone();
        let mut views = Vec::new();
        for st in sess.streams.iter().filter(|s| !s.bidi) {
            let Some(p) = parsed.get(&(m.sess, st.quic_id)) else {
                continue;
            };
            let side = st.opener;
            views.push(MediaStreamView {
                stream: st.quic_id,
                by: side,
                header: p.header.map(|h| format!("{} {}", h.stream_id, h.codec)),
                frames: u64::try_from(p.frames.len()).unwrap_or(u64::MAX),
                bytes: u64::try_from(st.data[side.index()].len()).unwrap_or(u64::MAX),
                fin: st.fin[side.index()].is_some(),
                error: p.error.map(|e| e.0.to_string()).or_else(|| {
                    p.quota
                        .map(|q| format!("payload length {} over 1 MiB", q.1))
                }),
                gaps: gaps(p),
            });
        }
        sess.media_views = views;
    }
    let sessions: &[Sess<'_>] = sessions;
    if ctx.options.judge.handler {
        let mut used_jti: BTreeMap<(Option<std::net::SocketAddr>, String), At> = BTreeMap::new();
        // Tokens are used up in the order their ConnectRequests arrived (DT8), whatever the
        // connections' order: a token a later connection used first is used when an earlier
        // connection presents it.
        let mut by_arrival: Vec<&MediaSess> = medias.iter().collect();
        by_arrival.sort_by_key(|m| m.request_at);
        for m in by_arrival {
            handler_auth(ctx, sessions, m, &mut used_jti);
        }
        for m in &medias {
            handler_streams(ctx, sessions, m, &parsed);
        }
        forward(ctx, sessions, &medias, &parsed);
        datagram_forward(ctx, sessions, &medias);
    }
    if ctx.options.judge.client {
        for m in &medias {
            client_media(ctx, sessions, m, &parsed);
        }
    }
}

fn gaps(p: &Parsed) -> u64 {
    let mut n = 0;
    for w in p.frames.windows(2) {
        if let [(_, _, a), (_, _, b)] = w {
            if *b > a.saturating_add(1) {
                n += 1;
            }
        }
    }
    n
}

fn handler_auth(
    ctx: &mut Ctx<'_>,
    sessions: &[Sess<'_>],
    m: &MediaSess,
    used: &mut BTreeMap<(Option<std::net::SocketAddr>, String), At>,
) {
    let Some(sess) = sessions.get(m.sess) else {
        return;
    };
    let c = sess.conn.index;
    let sid = m.auth_stream.unwrap_or_default();
    if let Some((e, at)) = &m.server_err {
        ctx.log.violation(
            *at,
            &rules::HANDLER_FRAME,
            format!("connection {c} stream {sid}: the handler's framing: {e}"),
        );
    }
    // DT7.wire is a contract (disputed): an answer in another form than a MediaServerMessage
    // (the flow document's "Auth Success" has no layout) counts as success, and is not judged.
    for (x, f) in &m.server {
        if x.is_none() {
            ctx.log.note(format!(
                "connection {c} stream {sid}: a {}-byte handler message that is no MediaServerMessage, read as a success answer (DT7.wire, a contract)",
                f.bytes.len()
            ));
        }
    }
    // media.reset_codes (a fact): a refusal by reset or stop of the authentication stream is
    // 0x02, authentication failed.
    let success = m
        .server
        .iter()
        .any(|(x, _)| !matches!(x, Some(Ms::Error(_))));
    if let (false, Some(st)) = (
        success,
        sess.streams
            .iter()
            .find(|s| s.bidi && Some(s.quic_id) == m.auth_stream),
    ) {
        for (how, code) in st
            .resets
            .iter()
            .map(|r| ("RESET_STREAM", r))
            .chain(st.stops.iter().map(|r| ("STOP_SENDING", r)))
            .filter(|(_, r)| r.by == Side::Server)
        {
            if let Some(n) = code.code.filter(|n| *n != 2) {
                ctx.log.violation(
                    code.at,
                    &rules::HANDLER_AUTH_CODE,
                    format!("connection {c} stream {sid}: the authentication refused with {how} {n:#04x}, not 0x02 (authentication failed)"),
                );
            }
        }
    }
    if let Some((first, f)) = m.server.first() {
        match first {
            // What may follow a ConnectResponse is not decided (DT7): nothing is judged.
            Some(Ms::ConnectResponse(_)) => {}
            Some(Ms::Error(e)) if e.code == ErrorCode::Unauthorized as i32 => {
                if let Some((x, g)) = m.server.get(1) {
                    ctx.log.violation(
                        g.at,
                        &rules::HANDLER_AUTH_ANSWER,
                        format!("connection {c} stream {sid}: {} after the ErrorMessage", ms_name(x)),
                    );
                } else if m.server_fin.is_none()
                    && sess
                        .streams
                        .iter()
                        .find(|s| s.quic_id == sid)
                        .and_then(|s| s.reset_by(Side::Server))
                        .is_none()
                    && sess.alive_after(f.at, ctx.tol_ns)
                {
                    ctx.log.violation(
                        f.at,
                        &rules::HANDLER_AUTH_ANSWER,
                        format!("connection {c} stream {sid}: no FIN after the ErrorMessage UNAUTHORIZED while the connection went on"),
                    );
                }
            }
            Some(Ms::Error(e)) => ctx.log.violation(
                f.at,
                &rules::HANDLER_AUTH_ANSWER,
                format!(
                    "connection {c} stream {sid}: the first answer is ErrorMessage {}, not UNAUTHORIZED",
                    error_name(e.code)
                ),
            ),
            None => {}
        }
    }
    // Tokens.
    let Some(secret) = ctx.options.token_secret.clone() else {
        return;
    };
    let (Some(token), Some(request_at)) = (m.token.as_ref(), m.request_at) else {
        return;
    };
    let now_s = request_at.time_ns / 1_000_000_000;
    // DT8 (a fact): forged, expired beyond the later validator's leeway, or used before, is
    // never accepted; within the leeway is DT8.leeway's reading.
    let mut leeway: Option<String> = None;
    let verdict = match crate::token::judge(&secret, token, now_s, true) {
        crate::token::Verdict::Valid(c) => Ok(c),
        crate::token::Verdict::WithinLeeway(c, why) => {
            leeway = Some(why);
            Ok(c)
        }
        crate::token::Verdict::Refused(why) => Err(why),
    };
    let verdict = match verdict {
        Ok(claims) => {
            // Single use (DT8): the same token, or (DH4) another with the same `jti`.
            let used_before = |key: String| {
                used.get(&(sess.server(), key))
                    .is_some_and(|first| *first < request_at)
            };
            if used_before(format!("token {token}"))
                || claims
                    .jti
                    .as_ref()
                    .is_some_and(|j| used_before(format!("jti {j}")))
            {
                Err("already used".to_owned())
            } else {
                Ok(claims)
            }
        }
        Err(e) => Err(e),
    };
    if let (Some(why), Ok(_), Some((at, _))) = (&leeway, &verdict, &m.auth) {
        ctx.log.violation(
            *at,
            &rules::HANDLER_TOKEN_LEEWAY,
            format!("connection {c} stream {sid}: a media token {why}, within the {} s leeway, was accepted", crate::token::EXP_LEEWAY_S),
        );
    }
    // DT7.wire: the success answer is whatever is no refusal (`auth`); a ConnectResponse names
    // its participant.
    let refusal = match m.server.first() {
        Some((Some(Ms::Error(e)), f)) => Some((e.code, f.at)),
        _ => None,
    };
    match (&verdict, &m.auth, refusal) {
        (Err(why), Some((at, _)), _) => ctx.log.violation(
            *at,
            &rules::HANDLER_TOKEN,
            format!("connection {c} stream {sid}: a media token that is {why} was accepted"),
        ),
        (Ok(claims), Some((at, pid)), _) => {
            if !pid.is_empty() && claims.participant_id.as_deref() != Some(pid.as_str()) {
                ctx.log.violation(
                    *at,
                    &rules::HANDLER_TOKEN,
                    format!(
                        "connection {c} stream {sid}: ConnectResponse names {pid:?}, the token {:?}",
                        claims.participant_id
                    ),
                );
            }
            used.insert((sess.server(), format!("token {token}")), request_at);
            if let Some(j) = &claims.jti {
                used.insert((sess.server(), format!("jti {j}")), request_at);
            }
        }
        (Ok(_), None, Some((code, at))) if leeway.is_none() => ctx.log.violation(
            at,
            &rules::HANDLER_TOKEN,
            format!(
                "connection {c} stream {sid}: a valid unused media token was refused with {}",
                error_name(code)
            ),
        ),
        _ => {}
    }
}

/// What the handler must do with a client media stream.
fn handler_streams(
    ctx: &mut Ctx<'_>,
    sessions: &[Sess<'_>],
    m: &MediaSess,
    parsed: &BTreeMap<(usize, u64), Parsed>,
) {
    let Some(sess) = sessions.get(m.sess) else {
        return;
    };
    let c = sess.conn.index;
    let tol = ctx.tol_ns;
    for st in &sess.streams {
        for code in st
            .resets
            .iter()
            .chain(&st.stops)
            .filter(|x| x.by == Side::Server)
        {
            if code.code == Some(4) {
                ctx.log.violation(
                    code.at,
                    &rules::HANDLER_NO_INTERNAL_ERROR,
                    format!(
                        "connection {c} stream {}: the handler used code 0x04",
                        st.quic_id
                    ),
                );
            }
        }
        if st.bidi || st.opener != Side::Client {
            continue;
        }
        let Some(p) = parsed.get(&(m.sess, st.quic_id)) else {
            continue;
        };
        let Some(opened) = sess.opened(st, Side::Client) else {
            continue;
        };
        let auth = m.auth.as_ref().map(|a| a.0);
        // Before: it reached the handler in a datagram before the ConnectRequest's, or passed
        // the capture point more than the server round trip before the ConnectResponse did.
        // After: it passed the capture point after the ConnectResponse (the handler had sent it
        // then). In between (the same flight as the request): either answer.
        let rtt = sess.server_rtt_ns();
        let early = auth.is_none_or(|a| {
            m.request_at.is_some_and(|r| opened < r)
                || opened.time_ns.saturating_add(rtt) < a.time_ns
        });
        let late = auth.is_some_and(|a| opened.packet > a.packet);
        let stop = st.stop_by(Side::Server);
        let client_reset = st.reset_by(Side::Client).map(|r| r.at);
        // The stream had ended when `t`'s bytes came (its FIN with them: every byte arrived, no
        // STOP_SENDING is possible any more, RFC 9000 §3.5; or the client reset it).
        let ended_before =
            |t: At| st.fin[0].is_some_and(|f| f <= t) || client_reset.is_some_and(|r| r <= t);
        let sid = st.quic_id;
        // DT7: before the ConnectResponse → 0x02.
        if early {
            match stop {
                Some(s) if matches!(s.code, Some(0 | 1 | 3)) => ctx.log.violation(
                    s.at,
                    &rules::HANDLER_EARLY_MEDIA,
                    format!(
                        "connection {c} stream {sid}: a media stream opened before the ConnectResponse was stopped with {:?}, not 0x02",
                        s.code
                    ),
                ),
                // 0x02, 0x04 (blamed by its own rule), or no Dark Tower code.
                Some(_) => {}
                None if !ended_before(opened) && sess.alive_after(opened, tol) => {
                    ctx.log.violation(
                        opened,
                        &rules::HANDLER_EARLY_MEDIA,
                        format!(
                            "connection {c} stream {sid}: a media stream opened before the ConnectResponse got no STOP_SENDING 0x02"
                        ),
                    )
                }
                None => {}
            }
            continue;
        }
        if late {
            if let Some(s) = stop.filter(|s| s.code == Some(2)) {
                ctx.log.violation(
                    s.at,
                    &rules::HANDLER_EARLY_MEDIA,
                    format!("connection {c} stream {sid}: a media stream opened after the ConnectResponse was stopped with 0x02"),
                );
                continue;
            }
        }
        // In between (the same flight as the request), 0x02 says the handler took the stream as
        // early: DH11 decides before DH12's format checks, which then have nothing to judge.
        if !late && stop.is_some_and(|s| s.code == Some(2)) {
            continue;
        }
        // Only the codes of the format rules are theirs to judge (0x00 graceful is allowed, 0x04
        // has its own rule, a code that is no Dark Tower code is the mapping rule's).
        let stop = stop.filter(|s| matches!(s.code, Some(1 | 3)));
        // DH12: over 1 MiB → 0x03.
        if let Some((start, len)) = p.quota {
            let at = sess.at(st, Side::Client, start.saturating_add(45));
            match stop {
                Some(s) if s.code == Some(3) => {}
                Some(s) => ctx.log.violation(
                    s.at,
                    &rules::HANDLER_QUOTA,
                    format!("connection {c} stream {sid}: a frame of {len} payload bytes was stopped with {:?}, not 0x03", s.code),
                ),
                None if !ended_before(at) && sess.alive_after(at, tol) => ctx.log.violation(
                    at,
                    &rules::HANDLER_QUOTA,
                    format!("connection {c} stream {sid}: a frame of {len} payload bytes got no STOP_SENDING 0x03"),
                ),
                None => {}
            }
            continue;
        }
        // DT2, DT3, DT5, DH12: format errors → 0x01.
        if let Some((e, end, _, _)) = p.error {
            let at = sess.at(st, Side::Client, end.saturating_sub(1));
            let by_fin = matches!(e, Error::FinInHeader { .. } | Error::FinInFrame { .. });
            match stop {
                Some(s) if s.code == Some(1) => {}
                Some(s) => ctx.log.violation(
                    s.at,
                    &rules::HANDLER_BAD_MEDIA,
                    format!("connection {c} stream {sid}: a media stream with {e} was stopped with {:?}, not 0x01", s.code),
                ),
                None if !by_fin && !ended_before(at) && sess.alive_after(at, tol) => {
                    ctx.log.violation(
                        at,
                        &rules::HANDLER_BAD_MEDIA,
                        format!("connection {c} stream {sid}: a media stream with {e} got no STOP_SENDING 0x01"),
                    )
                }
                None => {}
            }
            continue;
        }
        if let Some(s) = stop {
            if s.code == Some(1) && prefix_decides(&st.data[0], p) {
                continue;
            }
            let rule = if s.code == Some(3) {
                &rules::HANDLER_QUOTA
            } else {
                &rules::HANDLER_BAD_MEDIA
            };
            ctx.log.violation(
                s.at,
                rule,
                format!(
                    "connection {c} stream {sid}: a valid media stream was stopped with {:?}",
                    s.code
                ),
            );
        }
    }
}

/// DH13: what the handler forwards on the streams it opens.
fn forward(
    ctx: &mut Ctx<'_>,
    sessions: &[Sess<'_>],
    medias: &[MediaSess],
    parsed: &BTreeMap<(usize, u64), Parsed>,
) {
    // Sources: every client media stream with a valid header, per handler address.
    struct Source<'a> {
        server: Option<std::net::SocketAddr>,
        participant: Option<&'a str>,
        conn: usize,
        data: &'a [u8],
        boundaries: Vec<usize>,
        valid_end: usize,
    }
    let mut sources = Vec::new();
    for m in medias {
        let Some(sess) = sessions.get(m.sess) else {
            continue;
        };
        for st in sess
            .streams
            .iter()
            .filter(|s| !s.bidi && s.opener == Side::Client)
        {
            let Some(p) = parsed.get(&(m.sess, st.quic_id)) else {
                continue;
            };
            if p.header.is_none() {
                continue;
            }
            let mut boundaries = vec![HEADER_LEN];
            boundaries.extend(p.frames.iter().map(|(s, l, _)| s.saturating_add(*l)));
            sources.push(Source {
                server: sess.server(),
                participant: m.auth.as_ref().map(|a| a.1.as_str()),
                conn: sess.conn.index,
                data: &st.data[0],
                boundaries,
                valid_end: p.valid_end,
            });
        }
    }
    // Media sessions authenticated as each participant: with two (two media tokens of one
    // participant, which a client may hold), forwarding one's media to the other is forwarding to
    // another session, which DH13 does not decide: only a session's own media sent back to it is.
    let mut sessions_of: BTreeMap<&str, usize> = BTreeMap::new();
    for m in medias.iter() {
        if let Some(a) = &m.auth {
            *sessions_of.entry(a.1.as_str()).or_default() += 1;
        }
    }
    for m in medias {
        let Some(sess) = sessions.get(m.sess) else {
            continue;
        };
        let c = sess.conn.index;
        let me = m
            .auth
            .as_ref()
            .map(|a| a.1.as_str())
            .filter(|p| sessions_of.get(p).copied().unwrap_or(0) < 2);
        // media.forward with media.header (facts): what the handler opens to route media starts
        // with the header's magic and version, on either stream kind (DT1 is disputed; a
        // bidirectional one is a deviation). An answer to a unidirectional authentication is not
        // media: the handler's first unidirectional stream then is not judged here.
        let answer_uni = m.auth_uni.and_then(|_| {
            sess.streams
                .iter()
                .find(|s| !s.bidi && s.opener == Side::Server)
                .map(|s| s.quic_id)
        });
        for st in sess
            .streams
            .iter()
            .filter(|s| s.opener == Side::Server && Some(s.quic_id) != answer_uni)
        {
            let data = &st.data[1];
            let sid = st.quic_id;
            if st.bidi && !data.starts_with(b"DAR") {
                continue;
            }
            let bad = if data.len() >= 4 && data.get(..4) != Some(b"DART".as_slice()) {
                Some(format!(
                    "magic {:02x?}, not DART",
                    data.get(..4).unwrap_or(&[])
                ))
            } else if data.len() >= 5 && data[4] != handshake_darktower_wire::header::VERSION {
                Some(format!("header version {:#04x}, not 0x01", data[4]))
            } else {
                None
            };
            if let Some(bad) = bad {
                ctx.log.violation(
                    sess.at(st, Side::Server, 4.min(data.len().saturating_sub(1))),
                    &rules::HANDLER_FORWARD_HEADER,
                    format!("connection {c} stream {sid}: a stream the handler opened to route media starts with {bad}"),
                );
            }
            if st.bidi {
                if let Some(opened) = sess.opened(st, Side::Server) {
                    ctx.log.violation(
                        opened,
                        &rules::HANDLER_FORWARD_UNIDIRECTIONAL,
                        format!("connection {c} stream {sid}: media routed on a bidirectional stream the handler opened"),
                    );
                }
            }
        }
        for st in sess
            .streams
            .iter()
            .filter(|s| !s.bidi && s.opener == Side::Server)
        {
            let data = &st.data[1];
            let sid = st.quic_id;
            let fin = st.fin[1].is_some();
            for r in st.resets.iter().filter(|r| r.by == Side::Server) {
                if r.code != Some(0) && r.code != Some(4) {
                    ctx.log.violation(
                        r.at,
                        &rules::HANDLER_FORWARD,
                        format!("connection {c} stream {sid}: a forwarded stream reset with {:?}, not 0x00", r.code),
                    );
                }
            }
            if data.len() < HEADER_LEN {
                if fin {
                    ctx.log.violation(
                        sess.at(st, Side::Server, data.len().saturating_sub(1)),
                        &rules::HANDLER_FORWARD,
                        format!("connection {c} stream {sid}: a forwarded stream ends after {} bytes, inside its header", data.len()),
                    );
                }
                continue;
            }
            let header = data.get(..HEADER_LEN).unwrap_or(&[]);
            let rest = data.get(HEADER_LEN..).unwrap_or(&[]);
            let head_at = sess.at(st, Side::Server, HEADER_LEN - 1);
            if let Err(e) = StreamHeaderRepr::parse(header) {
                ctx.log.violation(
                    head_at,
                    &rules::HANDLER_FORWARD,
                    format!(
                        "connection {c} stream {sid}: a forwarded stream's header is invalid: {e}"
                    ),
                );
                continue;
            }
            let candidates: Vec<&Source<'_>> = sources
                .iter()
                .filter(|s| s.server == sess.server() && s.data.get(..HEADER_LEN) == Some(header))
                .collect();
            if candidates.is_empty() {
                ctx.log.violation(
                    head_at,
                    &rules::HANDLER_FORWARD,
                    format!("connection {c} stream {sid}: a forwarded stream's header is no client stream's"),
                );
                continue;
            }
            let matches = |s: &Source<'_>| {
                s.boundaries.iter().any(|&b| {
                    let end = b.saturating_add(rest.len());
                    end <= s.valid_end
                        && s.data.get(b..end) == Some(rest)
                        && (!fin || s.boundaries.contains(&end))
                })
            };
            let matching: Vec<&&Source<'_>> = candidates.iter().filter(|s| matches(s)).collect();
            if matching.is_empty() {
                // Where it first differs from the best candidate: the longest matching prefix.
                let longest = candidates
                    .iter()
                    .flat_map(|s| {
                        s.boundaries.iter().map(|&b| {
                            let src = s.data.get(b..s.valid_end).unwrap_or(&[]);
                            src.iter().zip(rest).take_while(|(a, b)| a == b).count()
                        })
                    })
                    .max()
                    .unwrap_or(0);
                ctx.log.violation(
                    sess.at(st, Side::Server, HEADER_LEN.saturating_add(longest)),
                    &rules::HANDLER_FORWARD,
                    format!(
                        "connection {c} stream {sid}: forwarded bytes differ from every client stream with its header from byte {} on (of {})",
                        HEADER_LEN.saturating_add(longest),
                        data.len()
                    ),
                );
                continue;
            }
            let own = |s: &&&Source<'_>| (me.is_some() && s.participant == me) || s.conn == c;
            if matching.iter().all(own) {
                ctx.log.violation(
                    head_at,
                    &rules::HANDLER_FORWARD,
                    format!("connection {c} stream {sid}: a stream forwarded back to its own participant {me:?}"),
                );
            }
        }
    }
}

/// DT11, DH13: the handler's datagrams.
fn datagram_forward(ctx: &mut Ctx<'_>, sessions: &[Sess<'_>], medias: &[MediaSess]) {
    let mut sent: BTreeMap<Option<std::net::SocketAddr>, Vec<(&[u8], At)>> = BTreeMap::new();
    for m in medias {
        let Some(sess) = sessions.get(m.sess) else {
            continue;
        };
        for d in sess
            .datagrams
            .iter()
            .filter(|d| d.by == Side::Client && d.session_ok)
        {
            sent.entry(sess.server())
                .or_default()
                .push((&d.payload, d.at));
        }
    }
    let mut dropped = 0u64;
    for m in medias {
        let Some(sess) = sessions.get(m.sess) else {
            continue;
        };
        let c = sess.conn.index;
        for d in sess.datagrams.iter().filter(|d| d.by == Side::Server) {
            if let Err(e) = FrameV2Repr::parse(&d.payload) {
                ctx.log.violation(
                    d.at,
                    &rules::HANDLER_DATAGRAM_FORWARD,
                    format!("connection {c}: the handler sent a datagram that is no valid v2 frame: {e}"),
                );
                continue;
            }
            let known = sent.get(&sess.server()).is_some_and(|v| {
                v.iter()
                    .any(|(p, at)| *p == d.payload.as_slice() && *at <= d.at)
            });
            if !known {
                ctx.log.violation(
                    d.at,
                    &rules::HANDLER_DATAGRAM_UNCHANGED,
                    format!("connection {c}: the handler sent a datagram no client sent it"),
                );
            }
        }
        dropped += sess
            .datagrams
            .iter()
            .filter(|d| d.by == Side::Client && FrameV2Repr::parse(&d.payload).is_err())
            .count() as u64;
    }
    if dropped > 0 {
        ctx.log.note(format!(
            "{dropped} invalid v2 datagrams from clients (to be dropped, DT11)"
        ));
    }
}

fn client_media(
    ctx: &mut Ctx<'_>,
    sessions: &[Sess<'_>],
    m: &MediaSess,
    parsed: &BTreeMap<(usize, u64), Parsed>,
) {
    let Some(sess) = sessions.get(m.sess) else {
        return;
    };
    let c = sess.conn.index;
    // The authentication stream's framing.
    if let Some((e, at)) = &m.client_err {
        ctx.log.violation(
            *at,
            &rules::CLIENT_SIGNALING_FRAME,
            format!("connection {c}: the client's authentication stream framing: {e}"),
        );
    }
    for (x, f) in &m.client {
        if x.is_none() {
            ctx.log.violation(
                f.at,
                &rules::CLIENT_SIGNALING_FRAME,
                format!(
                    "connection {c}: a client message that does not decode as a MediaClientMessage"
                ),
            );
        }
    }
    // DT1: media goes on unidirectional streams; a bidirectional one of the client's, other
    // than the authentication stream, that starts as a media stream does carries media.
    let auth_stream = sess.first_client_bidi().map(|s| s.quic_id);
    for st in sess
        .streams
        .iter()
        .filter(|s| s.bidi && s.opener == Side::Client && Some(s.quic_id) != auth_stream)
    {
        if st.data[0].starts_with(b"DART") {
            if let Some(opened) = sess.opened(st, Side::Client) {
                ctx.log.violation(
                    opened,
                    &rules::CLIENT_MEDIA_UNIDIRECTIONAL,
                    format!(
                        "connection {c} stream {}: media (a DART stream header) on a bidirectional stream",
                        st.quic_id
                    ),
                );
            }
        }
    }
    // DT7.wait (disputed): nothing before the success answer (capture order). DT7.required (a
    // fact): nothing before the client's own authentication message.
    let auth = m.auth.as_ref().map(|a| a.0);
    let before = |at: At| auth.is_none_or(|a| at.packet < a.packet);
    let before_request = |at: At| m.request_at.is_none_or(|r| at.packet < r.packet);
    let mut gaps_total = 0u64;
    for st in sess
        .streams
        .iter()
        .filter(|s| !s.bidi && s.opener == Side::Client && Some(s.quic_id) != m.auth_uni)
    {
        let sid = st.quic_id;
        if let Some(opened) = sess.opened(st, Side::Client) {
            if before_request(opened) {
                ctx.log.violation(
                    opened,
                    &rules::CLIENT_AUTH_FIRST,
                    format!(
                        "connection {c} stream {sid}: a media stream opened before the client sent its authentication message{}",
                        if m.request_at.is_none() { " (it sent none)" } else { "" }
                    ),
                );
            }
            if before(opened) {
                ctx.log.violation(
                    opened,
                    &rules::CLIENT_MEDIA_AFTER_AUTH,
                    format!("connection {c} stream {sid}: a media stream opened before the ConnectResponse"),
                );
            }
        }
        let Some(p) = parsed.get(&(m.sess, sid)) else {
            continue;
        };
        let data = &st.data[0];
        if let Some((e, end, in_header, _)) = p.error {
            let rule = if in_header {
                &rules::CLIENT_MEDIA_HEADER
            } else if matches!(e, Error::StreamIdMismatch { .. }) {
                &rules::CLIENT_FRAME_STREAM_ID
            } else if matches!(e, Error::BadVersion(_)) {
                // The v1 frame's version value is no fact (media.frame.version).
                &rules::CLIENT_FRAME_VERSION
            } else {
                &rules::CLIENT_MEDIA_FRAME
            };
            ctx.log.violation(
                sess.at(st, Side::Client, end.saturating_sub(1)),
                rule,
                format!("connection {c} stream {sid}: {e}"),
            );
            // Past a profile mismatch the facts are still judged (media.frame: the types, the
            // Payload Length, no FIN inside a frame).
            if !in_header && matches!(e, Error::StreamIdMismatch { .. } | Error::BadVersion(_)) {
                let fin = st.fin[Side::Client.index()].is_some();
                if let Some((e, end)) = fact_past_soft(data, fin) {
                    ctx.log.violation(
                        sess.at(st, Side::Client, end.saturating_sub(1)),
                        &rules::CLIENT_MEDIA_FRAME,
                        format!("connection {c} stream {sid}: read past that mismatch: {e}"),
                    );
                }
            }
        }
        // DT4: reserved bytes.
        if let Ok(view) = StreamHeader::new_checked(data.get(..HEADER_LEN).unwrap_or(&[])) {
            if p.header.is_some() && view.reserved() != [0; 6] {
                ctx.log.violation(
                    sess.at(st, Side::Client, HEADER_LEN - 1),
                    &rules::CLIENT_RESERVED,
                    format!(
                        "connection {c} stream {sid}: stream header reserved bytes {:02x?}",
                        view.reserved()
                    ),
                );
            }
        }
        for (start, len, _) in &p.frames {
            let bytes = data.get(*start..start.saturating_add(*len)).unwrap_or(&[]);
            if let Some(ts) = Frame::new_checked(bytes)
                .ok()
                .map(|f| f.timestamp_us())
                .filter(|ts| !plausible_unix_us(*ts))
            {
                ctx.log.violation(
                    sess.at(st, Side::Client, *start),
                    &rules::CLIENT_TIMESTAMP,
                    format!("connection {c} stream {sid}: frame at byte {start}: timestamp {ts} µs is no time since the epoch between 2000 and 2100"),
                );
                break;
            }
        }
        for (start, len, _) in &p.frames {
            let bytes = data.get(*start..start.saturating_add(*len)).unwrap_or(&[]);
            if let Ok(f) = Frame::new_checked(bytes) {
                if f.reserved() != [0; 6] || f.flags() & !0x0003 != 0 {
                    ctx.log.violation(
                        sess.at(st, Side::Client, *start),
                        &rules::CLIENT_RESERVED,
                        format!(
                            "connection {c} stream {sid}: frame at byte {start}: flags {:#06x}, reserved {:02x?}",
                            f.flags(),
                            f.reserved()
                        ),
                    );
                    break;
                }
            }
        }
        // DT10: sequence numbers.
        let mut prev: Option<u64> = None;
        for (start, _, seq) in &p.frames {
            let problem = match prev {
                None if *seq != 0 => Some(format!("the first frame has sequence {seq}, not 0")),
                Some(q) if *seq <= q => Some(format!("sequence {seq} after {q}")),
                Some(q) if *seq > q.saturating_add(1) => {
                    gaps_total += 1;
                    None
                }
                _ => None,
            };
            if let Some(problem) = problem {
                ctx.log.violation(
                    sess.at(st, Side::Client, *start),
                    &rules::CLIENT_SEQUENCE,
                    format!("connection {c} stream {sid}: {problem}"),
                );
                break;
            }
            prev = Some(*seq);
        }
    }
    // Datagrams (DT11).
    let mut last: BTreeMap<(u64, u32), BTreeSet<u64>> = BTreeMap::new();
    let mut decreases = 0u64;
    for d in sess.datagrams.iter().filter(|d| d.by == Side::Client) {
        // The flow document's authentication datagram (and its repeats) is no media.
        if m.auth_datagram && media_auth_token(&d.payload).is_some() {
            continue;
        }
        if before_request(d.at) {
            ctx.log.violation(
                d.at,
                &rules::CLIENT_AUTH_FIRST,
                format!(
                    "connection {c}: a datagram before the client sent its authentication message"
                ),
            );
        }
        if before(d.at) {
            ctx.log.violation(
                d.at,
                &rules::CLIENT_MEDIA_AFTER_AUTH,
                format!("connection {c}: a datagram before the ConnectResponse"),
            );
        }
        if !d.session_ok {
            ctx.log.violation(
                d.at,
                &rules::CLIENT_DATAGRAM,
                format!("connection {c}: a datagram that names no session 0 (quarter stream id)"),
            );
            continue;
        }
        let f = match FrameV2Repr::parse(&d.payload) {
            Ok(f) => f,
            Err(e) => {
                ctx.log.violation(
                    d.at,
                    &rules::CLIENT_DATAGRAM,
                    format!("connection {c}: a datagram that is no valid v2 frame: {e}"),
                );
                continue;
            }
        };
        if !plausible_unix_us(f.timestamp_us) {
            ctx.log.violation(
                d.at,
                &rules::CLIENT_TIMESTAMP,
                format!(
                    "connection {c}: v2 frame timestamp {} µs is no time since the epoch between 2000 and 2100",
                    f.timestamp_us
                ),
            );
        }
        if let Ok(view) = FrameV2::new_checked(d.payload.as_slice()) {
            if view.reserved() != [0; 6] || view.flags() & !0x0003 != 0 {
                ctx.log.violation(
                    d.at,
                    &rules::CLIENT_RESERVED,
                    format!(
                        "connection {c}: v2 frame flags {:#06x}, reserved {:02x?}",
                        view.flags(),
                        view.reserved()
                    ),
                );
            }
        }
        let seen = last.entry((f.user_id, f.stream_id)).or_default();
        if seen.contains(&f.sequence) {
            ctx.log.violation(
                d.at,
                &rules::CLIENT_SEQUENCE,
                format!(
                    "connection {c}: v2 user {} stream {}: sequence {} repeated",
                    f.user_id, f.stream_id, f.sequence
                ),
            );
        } else if seen.last().is_some_and(|l| *l > f.sequence) {
            decreases += 1;
        } else if seen
            .last()
            .is_some_and(|l| f.sequence > l.saturating_add(1))
        {
            gaps_total += 1;
        }
        seen.insert(f.sequence);
    }
    if gaps_total > 0 {
        ctx.log.note(format!(
            "connection {c}: {gaps_total} sequence gaps (DT10: counted, no violation)"
        ));
    }
    if decreases > 0 {
        ctx.log.note(format!(
            "connection {c}: {decreases} v2 datagrams with a lower sequence than an earlier one (reordering on the way cannot be told apart)"
        ));
    }
}

/// Whether `us` reads as a time since the Unix epoch a client could have now: between the years
/// 2000 and 2100 (a timestamp written in the wrong byte order is thousands of years off).
fn plausible_unix_us(us: u64) -> bool {
    const Y2000_US: u64 = 946_684_800_000_000;
    const Y2100_US: u64 = 4_102_444_800_000_000;
    (Y2000_US..Y2100_US).contains(&us)
}
