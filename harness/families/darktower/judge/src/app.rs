//! From capture bytes to Dark Tower sessions: the capture read and decrypted
//! (`handshake_quic::rebuild`), then per connection the WebTransport / HTTP/3 layer (control
//! streams, the CONNECT, stream prefixes, quarter-id datagrams) or bare QUIC, leaving each
//! session's application streams and datagrams with the timing of their bytes; then the rules of
//! every layer, and the report.

use std::net::SocketAddr;

use handshake_quic::rebuild::{At, Conn, Side};
use handshake_webtransport_wire::error_code;
use handshake_webtransport_wire::frame::setting;
use handshake_webtransport_wire::{
    BidiPrefix, Datagram, FieldSection, OwnedFrame, Settings, StreamReader, UniStreamType,
};

use crate::log::Log;
use crate::rules;
use crate::{CodeView, Options, Report, Role, SessionView, Transport, REPORT_VERSION};

/// Everything read from a capture.
pub(crate) type Capture = handshake_quic_family::QuicCapture;

/// Reads and decrypts the capture.
pub(crate) fn read(bytes: &[u8], options: &Options) -> Result<Capture, String> {
    handshake_quic_family::read_capture(
        bytes,
        options.key_log.as_deref(),
        options.port,
        "nothing above QUIC is judged",
    )
    .map_err(String::from)
}

/// A RESET_STREAM or STOP_SENDING on an application stream.
#[derive(Clone, Debug)]
pub(crate) struct Code {
    pub by: Side,
    pub wire: u64,
    /// The Dark Tower code (DT9 unmapped, leniently: a raw code on WebTransport reads as itself).
    pub code: Option<u32>,
    pub at: At,
}

/// One application stream: a WebTransport stream (prefix stripped) or a bare QUIC stream.
#[derive(Debug)]
pub(crate) struct AppStream {
    pub quic_id: u64,
    pub bidi: bool,
    pub opener: Side,
    /// Application bytes, `[client, server]`.
    pub data: [Vec<u8>; 2],
    /// Bytes of WebTransport prefix before them.
    pub prefix: [usize; 2],
    /// FIN with every byte before it, and where.
    pub fin: [Option<At>; 2],
    pub resets: Vec<Code>,
    pub stops: Vec<Code>,
}

impl AppStream {
    /// The first RESET_STREAM `side` sent.
    pub fn reset_by(&self, side: Side) -> Option<&Code> {
        self.resets.iter().find(|c| c.by == side)
    }
    pub fn stop_by(&self, side: Side) -> Option<&Code> {
        self.stops.iter().find(|c| c.by == side)
    }
}

/// One application datagram.
#[derive(Debug, Clone)]
pub(crate) struct AppDatagram {
    pub by: Side,
    pub payload: Vec<u8>,
    pub at: At,
    /// WebTransport: it named session 0 (quarter stream id 0) and parsed; bare QUIC: always.
    pub session_ok: bool,
}

/// One session.
#[derive(Debug)]
pub(crate) struct Sess<'c> {
    pub conn: &'c Conn,
    pub transport: Option<Transport>,
    pub alpn: Option<String>,
    pub role: Role,
    pub path: Option<String>,
    /// WebTransport: the CONNECT answer's `:status`, and where.
    pub status: Option<(String, At)>,
    /// WebTransport: where the client's CONNECT was complete.
    pub connect_at: Option<At>,
    /// WebTransport: the first frame of each side's control stream (SETTINGS, or why not).
    pub settings: [Option<(Result<Settings, String>, At)>; 2],
    pub streams: Vec<AppStream>,
    pub datagrams: Vec<AppDatagram>,
    /// WebTransport: the client ended the session on the CONNECT stream (capsule, FIN, reset).
    pub wt_close: Option<At>,
    /// Decrypted and judged.
    pub judged: bool,
    /// The participant and meeting, once known (filled by the signaling and media models).
    pub participant: Option<String>,
    pub meeting: Option<String>,
    pub client_messages: Vec<String>,
    pub server_messages: Vec<String>,
    pub media_views: Vec<crate::MediaStreamView>,
}

impl<'c> Sess<'c> {
    /// Where byte `offset` of `side`'s application bytes on `s` first arrived.
    pub fn at(&self, s: &AppStream, side: Side, offset: usize) -> At {
        let flow = self
            .conn
            .streams
            .get(&s.quic_id)
            .map(|r| &r.flows[side.index()]);
        flow.and_then(|f| {
            f.at(s.prefix[side.index()].saturating_add(offset))
                .or(f.first)
        })
        .unwrap_or_default()
    }

    /// Where `side` first showed the stream.
    pub fn opened(&self, s: &AppStream, side: Side) -> Option<At> {
        self.conn.streams.get(&s.quic_id)?.opened_by(side)
    }

    /// The first client-opened bidirectional application stream (signaling / authentication).
    pub fn first_client_bidi(&self) -> Option<&AppStream> {
        self.streams
            .iter()
            .filter(|s| s.bidi && s.opener == Side::Client)
            .min_by_key(|s| s.quic_id)
    }

    /// The first CONNECTION_CLOSE (either side).
    pub fn closed(&self) -> Option<At> {
        self.conn.first_close().map(|c| c.at)
    }

    /// Whether the capture shows the connection going on more than `tol_ns` after `t`: a
    /// packet of either side then (the client's own close included: the server had the time to
    /// send what was due before it).
    pub fn alive_after(&self, t: At, tol_ns: u64) -> bool {
        self.conn
            .packets
            .iter()
            .any(|(at, _)| at.time_ns > t.time_ns.saturating_add(tol_ns))
    }

    /// The round trip from the capture point to the server and back, as the handshake shows it
    /// (the server's first packet after the client's first): what separates "passed the
    /// capture point before" from "reached the server before" for a client packet against a
    /// server packet.
    pub fn server_rtt_ns(&self) -> u64 {
        match (
            self.conn.first_of(Side::Client),
            self.conn.first_of(Side::Server),
        ) {
            (Some(c), Some(s)) => s.time_ns.saturating_sub(c.time_ns),
            _ => 0,
        }
    }

    pub fn server(&self) -> Option<SocketAddr> {
        self.conn.server
    }
}

fn alpn_text(alpn: Option<&Vec<u8>>) -> Option<String> {
    alpn.map(|a| String::from_utf8_lossy(a).into_owned())
}

/// The Dark Tower code a wire code stands for.
pub(crate) fn dt_code(transport: Option<Transport>, wire: u64) -> Option<u32> {
    // Either form (DT9 is a contract): a mapped code reads as its Dark Tower code in any
    // transport and a small raw one as itself.
    let raw = |limit: u64| {
        (wire <= limit)
            .then_some(wire)
            .and_then(|w| u32::try_from(w).ok())
    };
    match transport {
        Some(Transport::WebTransport) => error_code::from_http3(wire).or_else(|| raw(0xff)),
        _ => error_code::from_http3(wire).or_else(|| raw(u64::from(u32::MAX))),
    }
}

fn codes(
    rec: &handshake_quic::rebuild::StreamRec,
    transport: Option<Transport>,
) -> (Vec<Code>, Vec<Code>) {
    let resets = rec
        .resets
        .iter()
        .map(|(r, at)| Code {
            by: r.by,
            wire: r.code,
            code: dt_code(transport, r.code),
            at: *at,
        })
        .collect();
    let stops = rec
        .stops
        .iter()
        .map(|(r, at)| Code {
            by: r.by,
            wire: r.code,
            code: dt_code(transport, r.code),
            at: *at,
        })
        .collect();
    (resets, stops)
}

fn opener(id: u64) -> Side {
    if id & 1 == 0 {
        Side::Client
    } else {
        Side::Server
    }
}

/// The transport of a connection: the option, else its ALPN, else its bytes.
fn transport_of(conn: &Conn, options: &Options) -> Option<Transport> {
    if let Some(t) = options.transport {
        return Some(t);
    }
    match conn.alpn.as_deref() {
        Some(b"h3") => return Some(Transport::WebTransport),
        Some(a) if a.starts_with(b"darktower") => return Some(Transport::Quic),
        _ => {}
    }
    // No ALPN seen: HEADERS first on stream 0 and a control stream look like HTTP/3.
    let s0 = conn.streams.get(&0).map(|r| r.flows[0].data.as_slice());
    let control = conn
        .streams
        .iter()
        .any(|(id, r)| id & 3 == 2 && r.flows[0].data.first() == Some(&0));
    if s0.and_then(|d| d.first()) == Some(&0x01) && control {
        Some(Transport::WebTransport)
    } else if conn.streams.is_empty() && conn.datagrams.is_empty() {
        None
    } else {
        Some(Transport::Quic)
    }
}

fn first_frame(data: &[u8], fin: bool) -> Option<Result<OwnedFrame, String>> {
    let mut reader = StreamReader::new();
    reader.push(data);
    if fin {
        reader.finish();
    }
    match reader.next_frame() {
        Ok(Some(f)) => Some(Ok(f)),
        Ok(None) => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

fn frames(data: &[u8]) -> Vec<OwnedFrame> {
    let mut reader = StreamReader::new();
    reader.push(data);
    let mut out = Vec::new();
    while let Ok(Some(f)) = reader.next_frame() {
        out.push(f);
    }
    out
}

fn field(section: &[u8], name: &str) -> Option<String> {
    let fields = FieldSection::parse(section).ok()?.fields().ok()?;
    fields
        .iter()
        .find(|f| f.name == name.as_bytes())
        .map(|f| String::from_utf8_lossy(&f.value).into_owned())
}

/// Builds one session's application layer.
fn session<'c>(conn: &'c Conn, options: &Options) -> Sess<'c> {
    let transport = transport_of(conn, options);
    let mut sess = Sess {
        conn,
        transport,
        alpn: alpn_text(conn.alpn.as_ref()),
        role: Role::Unknown,
        path: None,
        status: None,
        connect_at: None,
        settings: [None, None],
        streams: Vec::new(),
        datagrams: Vec::new(),
        wt_close: None,
        judged: conn.undecrypted_1rtt == 0,
        participant: None,
        meeting: None,
        client_messages: Vec::new(),
        server_messages: Vec::new(),
        media_views: Vec::new(),
    };
    let wt = transport == Some(Transport::WebTransport);
    for (&id, rec) in &conn.streams {
        let by = opener(id);
        let bidi = id & 2 == 0;
        let odata = &rec.flows[by.index()].data;
        let ofin = rec.flows[by.index()].fin_complete().is_some();
        let fins = [
            rec.flows[0].fin_complete().map(|f| f.1),
            rec.flows[1].fin_complete().map(|f| f.1),
        ];
        let (resets, stops) = codes(rec, transport);
        let mut prefix = [0usize; 2];
        if wt {
            if id == 0 {
                // The CONNECT stream.
                for (i, f) in frames(odata).into_iter().enumerate() {
                    match f {
                        OwnedFrame::Headers(p) if i == 0 => {
                            sess.path = field(&p, ":path");
                            sess.connect_at = rec.flows[0].at(0);
                        }
                        OwnedFrame::Data(_) => {
                            sess.wt_close = sess.wt_close.or(rec.flows[0].marks_end());
                        }
                        _ => {}
                    }
                }
                if let Some(OwnedFrame::Headers(p)) = frames(&rec.flows[1].data).into_iter().next()
                {
                    if let Some(status) = field(&p, ":status") {
                        sess.status = Some((status, rec.flows[1].at(0).unwrap_or_default()));
                    }
                }
                let client_end = [
                    fins[0],
                    rec.resets
                        .iter()
                        .find(|(r, _)| r.by == Side::Client)
                        .map(|(_, at)| *at),
                    sess.wt_close,
                ];
                sess.wt_close = client_end.into_iter().flatten().min();
                continue;
            }
            if bidi {
                match BidiPrefix::parse(odata) {
                    Ok((BidiPrefix::WebTransport(_), n)) => prefix[by.index()] = n,
                    _ => continue,
                }
            } else {
                match UniStreamType::parse(odata) {
                    Ok((UniStreamType::Control, n)) => {
                        let rest = odata.get(n..).unwrap_or(&[]);
                        if let Some(first) = first_frame(rest, ofin) {
                            let at = rec.flows[by.index()].at(n).unwrap_or_default();
                            let settings = first.and_then(|f| match f {
                                OwnedFrame::Settings(s) => Ok(s),
                                other => Err(format!(
                                    "first frame of type {:#x}, not SETTINGS",
                                    other.as_frame().frame_type()
                                )),
                            });
                            sess.settings[by.index()].get_or_insert((settings, at));
                        }
                        continue;
                    }
                    Ok((UniStreamType::WebTransport(_), n)) => prefix[by.index()] = n,
                    _ => continue,
                }
            }
        }
        let data = [
            rec.flows[0].data.get(prefix[0]..).unwrap_or(&[]).to_vec(),
            rec.flows[1].data.get(prefix[1]..).unwrap_or(&[]).to_vec(),
        ];
        sess.streams.push(AppStream {
            quic_id: id,
            bidi,
            opener: by,
            data,
            prefix,
            fin: fins,
            resets,
            stops,
        });
    }
    for d in &conn.datagrams {
        let (payload, ok) = if wt {
            match Datagram::parse(&d.data) {
                Ok(dg) => (dg.payload.to_vec(), dg.quarter_stream_id.get() == 0),
                Err(_) => (Vec::new(), false),
            }
        } else {
            (d.data.clone(), true)
        };
        sess.datagrams.push(AppDatagram {
            by: d.by,
            payload,
            at: d.at,
            session_ok: ok,
        });
    }
    sess
}

trait FlowEnd {
    fn marks_end(&self) -> Option<At>;
}

impl FlowEnd for handshake_quic::rebuild::Flow {
    /// Where the last byte so far arrived.
    fn marks_end(&self) -> Option<At> {
        self.data
            .len()
            .checked_sub(1)
            .and_then(|last| self.at(last))
    }
}

/// Whether a session carries media (a client uni stream starting `DART`, or datagrams).
fn carries_media(s: &Sess<'_>) -> bool {
    s.datagrams.iter().any(|d| d.by == Side::Client)
        || s.streams
            .iter()
            .any(|st| !st.bidi && st.opener == Side::Client && st.data[0].starts_with(b"DART"))
}

/// What the session's first client message says its role is: a media authentication (DT7) is
/// the handler's, a signaling message the controller's (`None`: no whole first message, or one
/// that could be either).
fn sniff_role(s: &Sess<'_>) -> Option<Role> {
    let st = s.first_client_bidi()?;
    match handshake_darktower_wire::split_frame(&st.data[0]) {
        Ok((message, _)) if handshake_darktower_wire::is_media_auth(message) => Some(Role::Handler),
        Ok((message, _)) if handshake_darktower_wire::is_signaling(message) => {
            Some(Role::Controller)
        }
        // Neither for sure (an empty or undecodable message): the names decide.
        Ok(_) => None,
        // A length DT6 refuses: signaling's framing error, the controller's to answer.
        Err(handshake_darktower_wire::FramingError::EmptyMessage)
        | Err(handshake_darktower_wire::FramingError::TooLong(_)) => Some(Role::Controller),
        Err(_) => None,
    }
}

/// The first guess of a session's role (before the JoinResponses are read). Paths and ALPNs are
/// a contract (DH1) a client and server may settle as they like, so what the client did first
/// decides where it shows: its first message, then media streams or datagrams; the path or ALPN
/// only when the session shows neither.
fn role_guess(s: &Sess<'_>, options: &Options) -> Role {
    let server = s.server();
    if server.is_some() && server == options.controller {
        return Role::Controller;
    }
    if server.is_some() && server == options.handler {
        return Role::Handler;
    }
    if s.transport.is_none() {
        return Role::Unknown;
    }
    if let Some(role) = sniff_role(s) {
        return role;
    }
    if carries_media(s) {
        return Role::Handler;
    }
    match s.transport {
        Some(Transport::WebTransport) => match s.path.as_deref() {
            Some(p) if p.contains("media") => Role::Handler,
            Some(_) => Role::Controller,
            None => Role::Unknown,
        },
        Some(Transport::Quic) => match s.alpn.as_deref() {
            Some(a) if a.contains("media") => Role::Handler,
            Some(_) => Role::Controller,
            _ if s.first_client_bidi().is_some() => Role::Controller,
            _ => Role::Unknown,
        },
        None => Role::Unknown,
    }
}

/// The address a `media_handler_url` names (`quic://HOST:PORT…`, `https://HOST:PORT/media`).
pub(crate) fn url_address(url: &str) -> Option<SocketAddr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host_port = rest.split('/').next()?;
    host_port.parse().ok()
}

/// The judge's context shared by the models.
pub(crate) struct Ctx<'o> {
    pub options: &'o Options,
    pub tol_ns: u64,
    pub idle_ns: u64,
    pub end: At,
    /// Any TLS secret was given: without, undecrypted packets are only a note.
    pub secrets: bool,
    pub log: Log,
}

pub(crate) fn judge(cap: Capture, options: &Options) -> Report {
    let mut ctx = Ctx {
        options,
        tol_ns: options.tolerance.ns(),
        idle_ns: options.idle_timeout_ms.saturating_mul(1_000_000),
        end: cap.end,
        secrets: cap.secrets,
        log: Log::default(),
    };
    for n in &cap.notes {
        ctx.log.note(n.clone());
    }
    let mut sessions: Vec<Sess<'_>> = cap.conns.iter().map(|c| session(c, options)).collect();
    for s in &mut sessions {
        s.role = role_guess(s, options);
    }
    // Bare QUIC with one ALPN for both and nothing said yet: a session to a handler a
    // JoinResponse named. Only when the capture's peers do not use the media ALPN at all: with
    // it, ALPN decides (and a controller and handler on one port share the address a
    // JoinResponse names).
    let media_alpn = sessions
        .iter()
        .any(|s| s.alpn.as_deref() == Some("darktower-media"));
    let handlers = crate::signaling::handler_addresses(&sessions);
    for s in &mut sessions {
        if s.role == Role::Controller
            && !media_alpn
            && s.transport == Some(Transport::Quic)
            && options.controller.is_none()
            && sniff_role(s).is_none()
            && s.server().is_some_and(|a| handlers.contains(&a))
        {
            s.role = Role::Handler;
        }
    }
    transport_rules(&mut ctx, &mut sessions);
    crate::signaling::judge(&mut ctx, &mut sessions);
    crate::media::judge(&mut ctx, &mut sessions);
    client_rules(&mut ctx, &sessions);
    let views = sessions.iter().map(view).collect();
    let (violations, violation_count, notes) = ctx.log.into_parts();
    Report {
        version: REPORT_VERSION,
        datagrams: cap.datagrams,
        sessions: views,
        violations,
        violation_count,
        undecrypted: cap.undecrypted,
        damage: cap.damage,
        notes,
    }
}

/// Whether `side` of a session of this role is judged.
pub(crate) fn judged_side(options: &Options, role: Role, side: Side) -> bool {
    match side {
        Side::Client => options.judge.client,
        Side::Server => options.judge.server(role),
    }
}

fn view(s: &Sess<'_>) -> SessionView {
    let mut resets = Vec::new();
    let mut stops = Vec::new();
    for st in &s.streams {
        for c in &st.resets {
            resets.push(code_view(st.quic_id, c));
        }
        for c in &st.stops {
            stops.push(code_view(st.quic_id, c));
        }
    }
    SessionView {
        connection: s.conn.index,
        client: s.conn.client,
        server: s.conn.server,
        alpn: s.alpn.clone(),
        transport: s.transport,
        path: s.path.clone(),
        role: s.role,
        participant: s.participant.clone(),
        meeting: s.meeting.clone(),
        client_messages: s.client_messages.clone(),
        server_messages: s.server_messages.clone(),
        media_streams: s.media_views.clone(),
        client_datagrams: count(s, Side::Client),
        server_datagrams: count(s, Side::Server),
        resets,
        stop_sendings: stops,
        close: s.conn.first_close().map(|c| c.view.clone()),
        judged: s.judged && s.role != Role::Unknown,
    }
}

fn count(s: &Sess<'_>, side: Side) -> u64 {
    u64::try_from(s.datagrams.iter().filter(|d| d.by == side).count()).unwrap_or(u64::MAX)
}

fn code_view(stream: u64, c: &Code) -> CodeView {
    CodeView {
        stream,
        by: c.by,
        wire_code: c.wire,
        code: c.code,
        packet: c.at.packet,
    }
}

/// `darktower.decrypt`, `darktower.alpn`, `darktower.h3.*`, `darktower.reset.mapping`.
fn transport_rules(ctx: &mut Ctx<'_>, sessions: &mut [Sess<'_>]) {
    let options = ctx.options;
    for s in sessions.iter() {
        let conn = s.conn;
        if conn.undecrypted_1rtt > 0 && ctx.secrets {
            ctx.log.violation(
                conn.first_undecrypted_1rtt.unwrap_or_default(),
                &rules::DECRYPT,
                format!(
                    "connection {}: {} 1-RTT packets do not decrypt; the connection is not judged",
                    conn.index, conn.undecrypted_1rtt
                ),
            );
        }
        if !s.judged {
            continue;
        }
        let first = conn.first().unwrap_or_default();
        if s.role == Role::Unknown {
            ctx.log.note(format!(
                "connection {}: neither a controller nor a handler session could be told (ALPN {:?}, path {:?}); not judged",
                conn.index, s.alpn, s.path
            ));
        }
        if let Some(alpn) = &s.alpn {
            // RFC 7301 §3.2: one of the client's; which ones is a contract (DH1).
            let offered = &conn.offered_alpn;
            let ok = offered.is_empty() || offered.iter().any(|a| a == alpn.as_bytes());
            if !ok && judged_side(options, s.role, Side::Server) {
                let list: Vec<String> = offered
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect();
                ctx.log.violation(
                    conn.handshake_done.unwrap_or(first),
                    &rules::ALPN,
                    format!(
                        "connection {}: the server selected ALPN {alpn:?}, which the client did not offer ({})",
                        conn.index,
                        list.join(", ")
                    ),
                );
            }
        } else if s.judged && conn.handshake_done.is_some() {
            ctx.log.note(format!(
                "connection {}: the selected ALPN is not known",
                conn.index
            ));
        }
        if s.transport == Some(Transport::WebTransport) {
            for side in [Side::Client, Side::Server] {
                if !judged_side(options, s.role, side) {
                    continue;
                }
                let who = if side == Side::Client {
                    "client"
                } else {
                    "server"
                };
                match &s.settings[side.index()] {
                    Some((Ok(settings), at)) => {
                        let mut missing = Vec::new();
                        if settings.webtransport_sessions() == 0 {
                            missing.push("WebTransport with HTTP/3 datagrams");
                        }
                        if side == Side::Server
                            && settings.get(setting::ENABLE_CONNECT_PROTOCOL) != Some(1)
                        {
                            missing.push("ENABLE_CONNECT_PROTOCOL");
                        }
                        if !missing.is_empty() {
                            ctx.log.violation(
                                *at,
                                &rules::H3_SETTINGS,
                                format!(
                                    "connection {}: the {who}'s SETTINGS do not enable {}",
                                    conn.index,
                                    missing.join(", ")
                                ),
                            );
                        }
                    }
                    Some((Err(why), at)) => ctx.log.violation(
                        *at,
                        &rules::H3_SETTINGS,
                        format!(
                            "connection {}: the {who}'s control stream: {why}",
                            conn.index
                        ),
                    ),
                    None => {
                        // Blamed only when the side sent WebTransport traffic without it.
                        let used = s.streams.iter().any(|st| st.opener == side)
                            || s.datagrams.iter().any(|d| d.by == side)
                            || (side == Side::Server && s.status.is_some());
                        if used {
                            ctx.log.violation(
                                conn.first_of(side).unwrap_or(first),
                                &rules::H3_SETTINGS,
                                format!(
                                    "connection {}: the {who} sent WebTransport traffic but no control stream with SETTINGS",
                                    conn.index
                                ),
                            );
                        }
                    }
                }
            }
            if judged_side(options, s.role, Side::Server) {
                // Another status than 2xx refuses the session (a path the server does not
                // serve is a contract, DH1): blamed only when the server uses it anyway.
                let used = s
                    .streams
                    .iter()
                    .any(|st| st.opener == Side::Server || !st.data[1].is_empty())
                    || s.datagrams.iter().any(|d| d.by == Side::Server);
                match &s.status {
                    Some((status, at)) if !status.starts_with('2') && used => ctx.log.violation(
                        *at,
                        &rules::H3_CONNECT,
                        format!(
                            "connection {}: the CONNECT (:path {:?}) was answered with :status {status}, and the server used the session",
                            conn.index, s.path
                        ),
                    ),
                    None if s.connect_at.is_some()
                        && s.streams.iter().any(|st| st.opener == Side::Server) =>
                    {
                        ctx.log.violation(
                            s.connect_at.unwrap_or(first),
                            &rules::H3_CONNECT,
                            format!(
                                "connection {}: the server used the session without answering its CONNECT",
                                conn.index
                            ),
                        )
                    }
                    _ => {}
                }
            }
        }
        for st in &s.streams {
            for c in st.resets.iter().chain(&st.stops) {
                if !judged_side(options, s.role, c.by) {
                    continue;
                }
                // Mapped or raw is a contract (DT9): either is read. Only a reserved point of
                // the mapped range is no code at all.
                let problem = (s.transport == Some(Transport::WebTransport)
                    && error_code::is_reserved_point(c.wire))
                .then_some(
                    "a reserved (GREASE) point of the mapped range, which stands for no code",
                );
                if let Some(problem) = problem {
                    let kind = if st.resets.iter().any(|r| std::ptr::eq(r, c)) {
                        "RESET_STREAM"
                    } else {
                        "STOP_SENDING"
                    };
                    ctx.log.violation(
                        c.at,
                        &rules::RESET_MAPPING,
                        format!(
                            "connection {} stream {}: {kind} code {:#x} from the {:?}: {problem}",
                            conn.index, st.quic_id, c.wire, c.by
                        ),
                    );
                }
            }
        }
    }
}

/// `darktower.client.stop_answer`, `darktower.client.liveness`.
fn client_rules(ctx: &mut Ctx<'_>, sessions: &[Sess<'_>]) {
    if !ctx.options.judge.client {
        return;
    }
    for s in sessions.iter().filter(|s| s.judged) {
        let conn = s.conn;
        // DH3: STOP_SENDING(c) on a stream the client sends → RESET_STREAM(c).
        for st in &s.streams {
            let sends = st.opener == Side::Client || st.bidi;
            let Some(stop) = st.stop_by(Side::Server) else {
                continue;
            };
            if !sends {
                continue;
            }
            let fin_before = st.fin[0].is_some_and(|f| f <= stop.at);
            match st.reset_by(Side::Client) {
                // RFC 9000 §3.5: copying the code is only a SHOULD (DH3.code).
                Some(r) if r.code != stop.code => ctx.log.violation(
                    r.at,
                    &rules::CLIENT_STOP_CODE,
                    format!(
                        "connection {} stream {}: STOP_SENDING {:?} answered with RESET_STREAM {:?}",
                        conn.index, st.quic_id, stop.code, r.code
                    ),
                ),
                Some(_) => {}
                None if !fin_before
                    && s.alive_after(stop.at, ctx.tol_ns)
                    && s.closed().is_none_or(|c| c.time_ns > stop.at.time_ns.saturating_add(ctx.tol_ns)) =>
                {
                    ctx.log.violation(
                        stop.at,
                        &rules::CLIENT_STOP_ANSWER,
                        format!(
                            "connection {} stream {}: STOP_SENDING {:?} not answered with RESET_STREAM",
                            conn.index, st.quic_id, stop.code
                        ),
                    )
                }
                None => {}
            }
        }
        // DT10: no silence of the idle timeout from the client before a close.
        let until = [conn.first_close().map(|c| c.at), s.wt_close]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(ctx.end);
        let mut last: Option<At> = None;
        let mut silent: Option<(At, u64)> = None;
        let mut check = |from: At, to: At| {
            let gap = to.time_ns.saturating_sub(from.time_ns);
            if gap >= ctx.idle_ns.saturating_add(ctx.tol_ns) && silent.is_none() {
                silent = Some((from, gap));
            }
        };
        for (at, side) in &conn.packets {
            if *side != Side::Client || *at > until {
                continue;
            }
            if let Some(l) = last {
                check(l, *at);
            }
            last = Some(*at);
        }
        if let Some(l) = last {
            check(l, until);
        }
        if let Some((from, gap)) = silent {
            // The 15 s heartbeat is stated for the signaling connection (liveness); for the
            // media connection it is this project's reading (liveness.media).
            let rule = if s.role == Role::Controller {
                &rules::CLIENT_LIVENESS
            } else {
                &rules::CLIENT_MEDIA_LIVENESS
            };
            ctx.log.violation(
                from,
                rule,
                format!(
                    "connection {}: the client sent nothing for {} ms (idle timeout {} ms) before the connection was closed",
                    conn.index,
                    gap / 1_000_000,
                    ctx.options.idle_timeout_ms
                ),
            );
        }
    }
}

/// Where a message that ends at byte `end` (exclusive) of `side`'s bytes on `s` arrived.
pub(crate) fn message_at(sess: &Sess<'_>, s: &AppStream, side: Side, end: usize) -> At {
    sess.at(s, side, end.saturating_sub(1))
}

/// One length-prefixed message of a signaling or authentication stream.
#[derive(Debug, Clone)]
pub(crate) struct Framed {
    pub bytes: Vec<u8>,
    pub at: At,
}

/// The messages of one side of a signaling / authentication stream, and the framing error
/// that stopped the reading (with where it was detected).
pub(crate) fn read_framed(
    sess: &Sess<'_>,
    s: &AppStream,
    side: Side,
) -> (
    Vec<Framed>,
    Option<(handshake_darktower_wire::FramingError, At)>,
) {
    let data = &s.data[side.index()];
    let mut reader = handshake_darktower_wire::SignalingReader::new();
    let mut input: &[u8] = data;
    let mut out = Vec::new();
    loop {
        match reader.next(&mut input) {
            Some(Ok(msg)) => {
                let end = data.len() - input.len();
                out.push(Framed {
                    bytes: msg.to_vec(),
                    at: message_at(sess, s, side, end),
                });
            }
            Some(Err(e)) => {
                let end = data.len() - input.len();
                return (out, Some((e, message_at(sess, s, side, end))));
            }
            None => break,
        }
    }
    if let Some(fin) = s.fin[side.index()] {
        if let Err(e) = reader.finish() {
            return (out, Some((e, fin)));
        }
    }
    (out, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use handshake_quic::rebuild::{DatagramRec, ResetView, StopSendingView};
    use proptest::prelude::*;

    fn at(packet: u64) -> At {
        At {
            packet,
            time_ns: packet * 7_000_000_000,
        }
    }

    prop_compose! {
        fn stream()(id in 0u64..24, client in proptest::collection::vec(any::<u8>(), 0..300),
                    server in proptest::collection::vec(any::<u8>(), 0..300),
                    fins in any::<[bool; 2]>(), reset in proptest::option::of(any::<u64>()),
                    stop in proptest::option::of(any::<u64>()), prefix in any::<bool>())
                    -> StreamCase {
            (id, client, server, fins, reset, stop, prefix)
        }
    }

    type StreamCase = (
        u64,
        Vec<u8>,
        Vec<u8>,
        [bool; 2],
        Option<u64>,
        Option<u64>,
        bool,
    );

    fn build(streams: &[StreamCase], datagrams: &[Vec<u8>], alpn: usize) -> (Conn, At) {
        let alpns = [
            None,
            Some(b"h3".to_vec()),
            Some(b"darktower".to_vec()),
            Some(b"darktower-media".to_vec()),
        ];
        let mut conn = Conn {
            alpn: alpns.get(alpn).cloned().flatten(),
            ..Conn::default()
        };
        let mut packet = 1;
        for (id, client, server, fins, reset, stop, prefix) in streams.iter().cloned() {
            let rec = conn.streams.entry(id).or_default();
            // Sometimes a well-formed start (a WebTransport prefix, a signaling length).
            let mut c = if prefix {
                vec![0x54, 0x00, 0, 0, 0, 3]
            } else {
                Vec::new()
            };
            c.extend(client);
            let split = c.len() / 2;
            rec.flows[0].push(0, &c[..split], false, at(packet));
            rec.flows[0].push(split as u64, &c[split..], fins[0], at(packet + 1));
            rec.flows[1].push(0, &server, fins[1], at(packet + 2));
            if let Some(code) = reset {
                let view = ResetView {
                    by: Side::Client,
                    code,
                    final_size: 0,
                    packet,
                    time_ns: 0,
                };
                rec.resets.push((view, at(packet + 3)));
            }
            if let Some(code) = stop {
                let view = StopSendingView {
                    by: Side::Server,
                    code,
                    packet,
                    time_ns: 0,
                };
                rec.stops.push((view, at(packet + 1)));
            }
            conn.packets.push((at(packet), Side::Client));
            conn.packets.push((at(packet + 2), Side::Server));
            packet += 4;
        }
        for (i, d) in datagrams.iter().enumerate() {
            let by = if i % 2 == 0 {
                Side::Client
            } else {
                Side::Server
            };
            conn.datagrams.push(DatagramRec {
                by,
                data: d.clone(),
                at: at(packet),
            });
            packet += 1;
        }
        (conn, at(packet + 10))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any application bytes in any transport, role and option: a report, no panic.
        #[test]
        fn any_plaintext_is_judged_without_panic(
            streams in proptest::collection::vec(stream(), 0..8),
            datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..6),
            alpn in 0usize..4, secret in any::<bool>(),
        ) {
            for transport in [None, Some(Transport::WebTransport), Some(Transport::Quic)] {
                let (conn, end) = build(&streams, &datagrams, alpn);
                let options = Options {
                    transport,
                    token_secret: secret.then(|| "s".to_owned()),
                    judged_at_unix_s: None,
                    ..Options::default()
                };
                let cap = Capture {
                    conns: vec![conn, Conn { index: 1, ..Conn::default() }],
                    end,
                    secrets: true,
                    ..Capture::default()
                };
                let report = judge(cap, &options);
                prop_assert_eq!(report.sessions.len(), 2);
            }
        }
    }
}
