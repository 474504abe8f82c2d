//! The scripted participants' steps: the bytes each step writes (valid unless the step changes a
//! field) and where.

use handshake_darktower_endpoint::token::{JoinMint, JoinTokenKind, MediaClaims, Secret};
use handshake_darktower_endpoint::{
    client::derive_stream_id, MeetingServer, ScriptClient, ServerAct, Target, Which,
};
use handshake_darktower_wire::proto::media::{
    media_client_message, ConnectRequest, MediaClientMessage,
};
use handshake_darktower_wire::proto::signaling::{
    client_message, ClientMessage, JoinRequest, ParticipantCapabilities, PublishStream,
    SubscribeStream, UnsubscribeStream,
};
use handshake_darktower_wire::{
    encode_message, Flags, FourCc, FrameRepr, FrameType, FrameV2Repr, StreamHeaderRepr, StreamType,
};
use handshake_scenario::script::Vars;
use serde_json::Value;

use crate::format::{
    AuthStep, DarkTowerStep, DatagramStep, JoinStep, MediaStep, SignalStep, WriteStep,
};
use crate::TOKEN_SECRET;

fn secret() -> Secret {
    Secret::new(TOKEN_SECRET)
}

fn encode<M: prost::Message>(m: &M) -> Result<Vec<u8>, String> {
    encode_message(m).map_err(|e| e.to_string())
}

fn var(vars: &Vars, name: &str) -> Result<String, String> {
    match vars.values.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(format!("no `{name}` yet (an earlier step must make it)")),
    }
}

/// Bounds on what one step may build: a scenario (or a fuzzer's mutation of one) must not make the
/// harness allocate without limit.
const MAX_FRAMES: u32 = 10_000;
const MAX_PAYLOAD: u32 = 1 << 20;
const MAX_NAME: usize = 1 << 16;

fn bounded(what: &str, value: u64, max: u64) -> Result<(), String> {
    if value > max {
        Err(format!("`{what}` {value} is above {max}"))
    } else {
        Ok(())
    }
}

/// Performs one step with the scripted participants.
pub fn act(
    step: &DarkTowerStep,
    script: &mut ScriptClient,
    now: handshake_core::Instant,
    meeting: &str,
    vars: &mut Vars,
) -> Result<(), String> {
    let unix = script.clock.unix_s(now);
    match step {
        DarkTowerStep::Join(j) => {
            let bytes = join_bytes(j, meeting, unix, vars)?;
            script.write(
                now,
                j.participant,
                Which::Signaling,
                Target::Control,
                &bytes,
                false,
            )
        }
        DarkTowerStep::Signal(s) => {
            let bytes = signal_bytes(s)?;
            script.write(
                now,
                s.participant,
                Which::Signaling,
                Target::Control,
                &bytes,
                false,
            )
        }
        DarkTowerStep::Authenticate(a) => {
            let joined = script.joined_id(a.participant).map(str::to_owned);
            let bytes = auth_bytes(a, meeting, script.clock.unix_us(now), vars, joined)?;
            script.write(
                now,
                a.participant,
                Which::Media,
                Target::Control,
                &bytes,
                false,
            )
        }
        DarkTowerStep::Media(m) => {
            let bytes = media_bytes(m, script.clock.unix_us(now))?;
            script.write(
                now,
                m.participant,
                Which::Media,
                Target::NewUni,
                &bytes,
                m.fin,
            )
        }
        DarkTowerStep::Datagram(d) => {
            let bytes = datagram_bytes(d, script.clock.unix_us(now))?;
            script.write(
                now,
                d.participant,
                Which::Media,
                Target::Datagram,
                &bytes,
                false,
            )
        }
        DarkTowerStep::Write(w) => {
            let (which, target) = write_target(w)?;
            let bytes = handshake_scenario::script::hex_bytes(&w.hex)?;
            script.write(now, w.participant, which, target, &bytes, w.fin)
        }
        DarkTowerStep::Fin(f) => {
            let (which, target) = match f.on.as_str() {
                "signaling" => (Which::Signaling, Target::Control),
                "auth" => (Which::Media, Target::Control),
                "media" => (Which::Media, Target::Uni(f.index)),
                other => {
                    return Err(format!(
                        "fin on `{other}`: expected signaling, auth or media"
                    ))
                }
            };
            script.write(now, f.participant, which, target, &[], true)
        }
        DarkTowerStep::Reset(r) => script.reset(now, r.participant, r.index, r.code),
        DarkTowerStep::Close(c) => {
            let which: &[Which] = match c.on.as_str() {
                "signaling" => &[Which::Signaling],
                "media" => &[Which::Media],
                "both" | "open" => &[Which::Signaling, Which::Media],
                other => {
                    return Err(format!(
                        "close `{other}`: expected signaling, media, both or open"
                    ))
                }
            };
            let mut closed = false;
            for w in which {
                closed |= script.close(now, c.participant, *w, c.code).is_ok();
            }
            if closed || c.on == "open" {
                Ok(())
            } else {
                Err(format!(
                    "participant {} has no session to close",
                    c.participant
                ))
            }
        }
        DarkTowerStep::Vanish(p) => script.vanish(p.participant),
        DarkTowerStep::Answer(_) | DarkTowerStep::Announce(_) => {
            Err("`answer` and `announce` are the meeting server's, facing a client IUT".to_owned())
        }
    }
}

/// A step as the harness's meeting server facing a client IUT (validated: `answer`, `announce`,
/// and `fin` and `close` on signaling). An answer with no request held does nothing: a learning
/// query may answer before the client asked.
pub fn act_on_client(
    step: &DarkTowerStep,
    server: &mut MeetingServer,
    now: handshake_core::Instant,
) -> Result<(), String> {
    let act = match step {
        DarkTowerStep::Answer(a) => match a.to.as_str() {
            "join" => ServerAct::AnswerJoin(a.error),
            "auth" => ServerAct::AnswerAuth(a.error),
            other => return Err(format!("answer to `{other}`: expected join or auth")),
        },
        DarkTowerStep::Announce(_) => ServerAct::AnnounceOther,
        DarkTowerStep::Fin(f) if f.on == "signaling" => ServerAct::FinishSignaling,
        DarkTowerStep::Close(c) if c.on == "signaling" => ServerAct::CloseSignaling(c.code),
        other => {
            return Err(format!(
                "`{}`: the meeting server facing a client answers, announces, or ends signaling",
                handshake_scenario::Action::label(other)
            ))
        }
    };
    server.act_on_client(now, act);
    Ok(())
}

fn write_target(w: &WriteStep) -> Result<(Which, Target), String> {
    Ok(match w.on.as_str() {
        "signaling" => (Which::Signaling, Target::Control),
        "auth" => (Which::Media, Target::Control),
        "new_media" => (Which::Media, Target::NewUni),
        "media" => (Which::Media, Target::Uni(w.index)),
        "datagram" => (Which::Media, Target::Datagram),
        other => {
            return Err(format!(
                "write on `{other}`: expected signaling, auth, new_media, media or datagram"
            ))
        }
    })
}

fn join_bytes(j: &JoinStep, meeting: &str, unix: u64, vars: &mut Vars) -> Result<Vec<u8>, String> {
    bounded("name_len", j.name_len.unwrap_or(0) as u64, MAX_NAME as u64)?;
    let meeting_id = j.meeting.clone().unwrap_or_else(|| meeting.to_owned());
    let token = match j.token.strip_prefix("same_as:") {
        Some(n) => var(vars, &format!("join_token.{n}"))?,
        None => {
            let kind = JoinTokenKind::parse(&j.token).ok_or_else(|| {
                format!(
                    "join token `{}`: expected valid, expired, forged, wrong_meeting, garbage or same_as:N",
                    j.token
                )
            })?;
            JoinMint {
                secret: secret(),
                meeting: meeting_id.clone(),
                kind,
                subject: Some(format!("participant-{}", j.participant)),
            }
            .token(unix)
        }
    };
    vars.values.insert(
        format!("join_token.{}", j.participant),
        Value::String(token.clone()),
    );
    let name = match (j.name_len, &j.name) {
        (Some(n), _) => "n".repeat(n),
        (None, Some(name)) => name.clone(),
        (None, None) => format!("participant-{}", j.participant),
    };
    encode(&ClientMessage {
        message: Some(client_message::Message::JoinRequest(JoinRequest {
            meeting_id,
            join_token: token,
            participant_name: name,
            capabilities: Some(ParticipantCapabilities {
                video_codecs: vec!["VP09".into()],
                audio_codecs: vec!["Opus".into()],
                supports_simulcast: false,
                max_video_streams: 0,
            }),
        })),
    })
}

fn signal_bytes(s: &SignalStep) -> Result<Vec<u8>, String> {
    let message = match (&s.publish, &s.subscribe, &s.unsubscribe) {
        (Some(p), None, None) => client_message::Message::PublishStream(PublishStream {
            stream_id: p.stream_id.clone(),
            stream_type: p.stream_type,
            metadata: None,
        }),
        (None, Some(id), None) => client_message::Message::SubscribeStream(SubscribeStream {
            stream_id: id.clone(),
            options: None,
        }),
        (None, None, Some(id)) => client_message::Message::UnsubscribeStream(UnsubscribeStream {
            stream_id: id.clone(),
        }),
        _ => return Err("`signal` takes exactly one of publish, subscribe, unsubscribe".into()),
    };
    encode(&ClientMessage {
        message: Some(message),
    })
}

/// A media token's `participant_id`: the step's, else the id the controller gave the participant
/// (a participant id is the controller's choice: never assumed), else one of the harness's own.
fn auth_bytes(
    a: &AuthStep,
    meeting: &str,
    unix_us: u64,
    vars: &mut Vars,
    joined: Option<String>,
) -> Result<Vec<u8>, String> {
    let unix = unix_us / 1_000_000;
    let participant_id = a
        .participant_id
        .clone()
        .or(joined)
        .unwrap_or_else(|| format!("participant-{}", a.participant));
    // Media tokens are single-use (darktower.md): the time in its id keeps a token of this run
    // from being one an earlier run against the same handler used (a kept process).
    let jti = format!("script-{}-{unix_us}-{}", a.participant, vars.fresh());
    let claims = |exp: u64| MediaClaims {
        meeting_id: meeting.to_owned(),
        participant_id: participant_id.clone(),
        exp,
        jti: jti.clone(),
    };
    let life = handshake_darktower_endpoint::token::MEDIA_TOKEN_LIFETIME_S;
    let token = match a.token.as_str() {
        "valid" => secret().sign(&claims(unix.saturating_add(life))),
        "expired" => secret().sign(&claims(
            unix.saturating_sub(handshake_darktower_endpoint::token::EXPIRED_AGO_S),
        )),
        "forged" => Secret::new("not-the-secret").sign(&claims(unix.saturating_add(life))),
        "join" => secret().join_token(meeting, unix.saturating_add(life)),
        "garbage" => "not.a.token".to_owned(),
        other => match other.strip_prefix("reuse:") {
            Some(n) => var(vars, &format!("media_token.{n}"))?,
            None => {
                return Err(format!(
                "media token `{other}`: expected valid, expired, forged, join, garbage or reuse:N"
            ))
            }
        },
    };
    vars.values.insert(
        format!("media_token.{}", a.participant),
        Value::String(token.clone()),
    );
    encode(&MediaClientMessage {
        message: Some(media_client_message::Message::ConnectRequest(
            ConnectRequest { join_token: token },
        )),
    })
}

fn four_cc(text: &str) -> Result<[u8; 4], String> {
    <[u8; 4]>::try_from(text.as_bytes()).map_err(|_| format!("`{text}` is not 4 bytes"))
}

/// The bytes of a `media` step: the header, then frames, then the changes the step asks for.
pub fn media_bytes(m: &MediaStep, timestamp_us: u64) -> Result<Vec<u8>, String> {
    bounded("frames", u64::from(m.frames), u64::from(MAX_FRAMES))?;
    bounded(
        "payload_bytes",
        u64::from(m.payload_bytes),
        u64::from(MAX_PAYLOAD),
    )?;
    // Frames × payload is bounded too (10,000 frames of 1 MiB would be 10 GB).
    bounded(
        "frames × payload_bytes",
        u64::from(m.frames) * u64::from(m.payload_bytes),
        64 << 20,
    )?;
    let audio = match m.kind.as_deref() {
        None | Some("video") => false,
        Some("audio") => true,
        Some(other) => return Err(format!("media kind `{other}`: expected video or audio")),
    };
    let id = derive_stream_id(&format!("script-{}", m.participant), 0);
    let header = StreamHeaderRepr {
        stream_type: if audio {
            StreamType::Audio
        } else {
            StreamType::Video
        },
        stream_id: id,
        codec: match &m.codec {
            Some(c) => FourCc(four_cc(c)?),
            None if audio => FourCc::OPUS,
            None => FourCc::VP09,
        },
    };
    let mut bytes = header.to_bytes().to_vec();
    if let Some(magic) = &m.magic {
        bytes[..4].copy_from_slice(&four_cc(magic)?);
    }
    if let Some(v) = m.version {
        bytes[4] = v;
    }
    if let Some(t) = m.stream_type {
        bytes[5] = t;
    }
    let payload = vec![0xa5; m.payload_bytes as usize];
    let frame_id = if m.wrong_stream_id {
        derive_stream_id(&format!("script-{}", m.participant), 1)
    } else {
        id
    };
    for i in 0..m.frames {
        let sequence = match &m.sequences {
            Some(list) => *list
                .get(i as usize)
                .ok_or("`sequences` is shorter than `frames`")?,
            None => m.first_sequence.wrapping_add(u64::from(i)),
        };
        let frame_type = match (audio, i) {
            (true, _) => FrameType::Audio,
            (false, 0) => FrameType::VideoKey,
            (false, _) => FrameType::VideoDelta,
        };
        let mut frame = FrameRepr {
            frame_type,
            stream_id: frame_id,
            timestamp_us,
            sequence,
            flags: Flags {
                end_of_frame: true,
                discardable: false,
            },
            payload: &payload,
        }
        .to_vec()
        .map_err(|e| e.to_string())?;
        if let Some(v) = m.frame_version {
            frame[0] = v;
        }
        if let Some(t) = m.frame_type {
            frame[1] = t;
        }
        if let Some(f) = m.flags {
            frame[38..40].copy_from_slice(&f.to_be_bytes());
        }
        if i + 1 == m.frames && m.payload_len_excess > 0 {
            let len = m.payload_bytes.saturating_add(m.payload_len_excess);
            frame[34..38].copy_from_slice(&len.to_be_bytes());
        }
        bytes.extend_from_slice(&frame);
    }
    if let Some(n) = m.truncate {
        bytes.truncate(n);
    }
    Ok(bytes)
}

/// The bytes of a `datagram` step.
pub fn datagram_bytes(d: &DatagramStep, timestamp_us: u64) -> Result<Vec<u8>, String> {
    bounded("payload_bytes", u64::from(d.payload_bytes), 65_535)?;
    let payload = vec![0x3c; d.payload_bytes as usize];
    let mut bytes = FrameV2Repr {
        frame_type: FrameType::VideoKey,
        user_id: handshake_darktower_endpoint::client::user_id(&format!(
            "script-{}",
            d.participant
        )),
        stream_id: 0,
        timestamp_us,
        sequence: d.sequence,
        flags: Flags {
            end_of_frame: true,
            discardable: false,
        },
        payload: &payload,
    }
    .to_vec()
    .map_err(|e| e.to_string())?;
    if let Some(v) = d.version {
        bytes[0] = v;
    }
    if let Some(t) = d.frame_type {
        bytes[1] = t;
    }
    if let Some(f) = d.flags {
        bytes[34..36].copy_from_slice(&f.to_be_bytes());
    }
    if let Some(n) = d.truncate {
        bytes.truncate(n);
    }
    Ok(bytes)
}
