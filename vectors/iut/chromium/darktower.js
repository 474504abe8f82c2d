// A Dark Tower client in the browser: Chromium's own WebTransport (QUIC, HTTP/3, TLS) carrying the
// Dark Tower signaling and media of shared/protocols/darktower.md (DT1-DT11) as the harness's notes
// DH1-DH16 decide (the reference client is DH15). Plain JS, no libraries: a minimal protobuf encoder
// and decoder for the few messages a client needs.
//
// The run's parameters come in the query string (chromium_client.py puts them there); the result is
// POSTed as JSON to /result, progress lines to /log, on the launcher's own http://localhost server.
'use strict';

const Q = new URLSearchParams(location.search);
const T0 = performance.now();
const te = new TextEncoder();
const td = new TextDecoder();

function intParam(name, dflt) {
  const v = Q.get(name);
  if (v === null || v.trim() === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Usage(`${name}: not a number: ${v}`);
  return n;
}

class Usage extends Error {}
class Unsupported extends Error {}
class Failure extends Error {}

// ---------------------------------------------------------------------------------------------
// Reporting to the launcher
// ---------------------------------------------------------------------------------------------

let logChain = Promise.resolve();
function log(text) {
  const line = `[page +${((performance.now() - T0) / 1000).toFixed(3)}s] ${text}`;
  console.log(line);
  // One at a time, so the launcher prints them in order.
  logChain = logChain.then(() => fetch('/log', { method: 'POST', body: line }).catch(() => {}));
}

let reported = false;
async function report(result) {
  if (reported) return;
  reported = true;
  document.title = `darktower: ${result.outcome}`;
  await logChain;
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      const r = await fetch('/result', { method: 'POST', body: JSON.stringify(result) });
      if (r.ok) return;
    } catch (e) { /* the launcher is busy: try again */ }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

function withTimeout(promise, ms, what) {
  if (!Number.isFinite(ms)) return promise;
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Failure(`${what}: nothing within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function hexToBytes(hex) {
  const h = hex.replace(/[^0-9a-fA-F]/g, '');
  if (h.length % 2 !== 0) throw new Usage(`cert_hash: odd number of hex digits`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.substr(2 * i, 2), 16);
  return out;
}

function bytesToHex(b) {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

function describeError(e) {
  if (e === undefined || e === null) return String(e);
  if (typeof WebTransportError !== 'undefined' && e instanceof WebTransportError) {
    return `WebTransportError(source=${e.source}, streamErrorCode=${e.streamErrorCode}): ${e.message}`;
  }
  return e.message ? `${e.name || 'Error'}: ${e.message}` : String(e);
}

// ---------------------------------------------------------------------------------------------
// Protobuf (proto3): just what the client's messages need
// ---------------------------------------------------------------------------------------------

function varint(n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`varint: ${n}`);
  const out = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return Uint8Array.from(out);
}

class PB {
  constructor() { this.parts = []; }
  key(field, wireType) { this.parts.push(varint(field * 8 + wireType)); return this; }
  // proto3 leaves default values out
  uint(field, v) { if (v) { this.key(field, 0); this.parts.push(varint(v)); } return this; }
  bytes(field, b) { this.key(field, 2); this.parts.push(varint(b.length), b); return this; }
  str(field, s) { if (s) this.bytes(field, te.encode(s)); return this; }
  strs(field, list) { for (const s of list) this.bytes(field, te.encode(s)); return this; }
  // a message field (a oneof member included) is present even when empty
  msg(field, pb) { return this.bytes(field, pb.finish()); }
  finish() { return concat(this.parts); }
}

// Field number -> values in order (varint: Number; length-delimited: Uint8Array).
function pbParse(buf) {
  const fields = new Map();
  const order = [];
  let pos = 0;
  const readVarint = () => {
    let result = 0;
    let mul = 1;
    for (let i = 0; ; i++) {
      if (pos >= buf.length) throw new Failure('protobuf: truncated varint');
      if (i >= 10) throw new Failure('protobuf: varint too long');
      const b = buf[pos++];
      result += (b & 0x7f) * mul;
      mul *= 128;
      if (!(b & 0x80)) return result;
    }
  };
  while (pos < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wt = key % 8;
    if (field === 0) throw new Failure('protobuf: field number 0');
    let v;
    if (wt === 0) v = readVarint();
    else if (wt === 2) {
      const n = readVarint();
      if (pos + n > buf.length) throw new Failure('protobuf: truncated length-delimited field');
      v = buf.subarray(pos, pos + n);
      pos += n;
    } else if (wt === 1) { pos += 8; v = null; }
    else if (wt === 5) { pos += 4; v = null; }
    else throw new Failure(`protobuf: wire type ${wt}`);
    if (pos > buf.length) throw new Failure('protobuf: truncated fixed field');
    if (!fields.has(field)) fields.set(field, []);
    fields.get(field).push(v);
    order.push(field);
  }
  return { fields, order };
}

const pbLast = (m, f) => { const a = m.fields.get(f); return a ? a[a.length - 1] : undefined; };
const pbAll = (m, f) => m.fields.get(f) || [];
const pbStr = (m, f) => { const v = pbLast(m, f); return v instanceof Uint8Array ? td.decode(v) : ''; };
const pbUint = (m, f) => { const v = pbLast(m, f); return typeof v === 'number' ? v : 0; };
const pbMsg = (m, f) => { const v = pbLast(m, f); return v instanceof Uint8Array ? pbParse(v) : null; };
// The oneof member set last (proto3: the last one on the wire wins).
function pbOneof(m, names) {
  let which = null;
  for (const f of m.order) if (names[f]) which = f;
  return which === null ? null : { name: names[which], body: pbParse(pbLast(m, which)) };
}

const ERROR_NAMES = ['UNKNOWN', 'INVALID_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT',
  'INTERNAL_ERROR', 'CAPACITY_EXCEEDED', 'STREAM_ERROR'];
const LEAVE_NAMES = ['VOLUNTARY', 'KICKED', 'CONNECTION_LOST', 'MEETING_ENDED'];
const SERVER_MESSAGE = { 1: 'join_response', 2: 'participant_joined', 3: 'participant_left',
  4: 'stream_published', 5: 'stream_quality_update', 6: 'error' };
const MEDIA_SERVER_MESSAGE = { 1: 'connect_response', 2: 'error' };
const AUDIO = 0;
const VIDEO_CAMERA = 1;

function errorText(m) {
  const code = pbUint(m, 1);
  return `ErrorMessage ${ERROR_NAMES[code] || code}: ${pbStr(m, 2)}`;
}

// Signaling and authentication framing (DT4, DT6): u32 big-endian length + message.
function framed(body) {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

function joinRequest(meeting, token, name) {
  const caps = new PB().strs(1, ['VP09']).strs(2, ['Opus']);
  const jr = new PB().str(1, meeting).str(2, token).str(3, name).msg(4, caps);
  return new PB().msg(1, jr).finish();
}

function publishStream(streamId, streamType, codec, fps) {
  const meta = new PB().str(1, codec);
  if (streamType === VIDEO_CAMERA) meta.msg(3, new PB().uint(1, 640).uint(2, 360).uint(3, Math.round(fps)));
  return new PB().msg(2, new PB().str(1, streamId).uint(2, streamType).msg(3, meta)).finish();
}

function subscribeStream(streamId) {
  return new PB().msg(3, new PB().str(1, streamId)).finish();
}

function connectRequest(token) {
  return new PB().msg(1, new PB().str(1, token)).finish();
}

// Reads length-prefixed messages off a WebTransport stream's readable side.
class MsgReader {
  constructor(readable, label) {
    this.reader = readable.getReader();
    this.buf = new Uint8Array(0);
    this.label = label;
  }

  // The next message's bytes; null at FIN. Throws on a reset, a bad length or a timeout.
  async next(timeoutMs) {
    for (;;) {
      if (this.buf.length >= 4) {
        const n = new DataView(this.buf.buffer, this.buf.byteOffset, 4).getUint32(0);
        if (n === 0 || n > 65536) throw new Failure(`${this.label}: message length ${n}`);
        if (this.buf.length >= 4 + n) {
          const body = this.buf.slice(4, 4 + n);
          this.buf = this.buf.slice(4 + n);
          return body;
        }
      }
      let r;
      try {
        r = await withTimeout(this.reader.read(), timeoutMs, `${this.label}: waiting for a message`);
      } catch (e) {
        if (e instanceof Failure) throw e;
        throw new Failure(`${this.label}: ${describeError(e)}`);
      }
      if (r.done) {
        if (this.buf.length) throw new Failure(`${this.label}: FIN inside a message`);
        return null;
      }
      this.buf = concat([this.buf, r.value]);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Media (DT1-DT5, DT10, DT11)
// ---------------------------------------------------------------------------------------------

const MAGIC = [0x44, 0x41, 0x52, 0x54]; // "DART"
const HEADER_LEN = 32;
const FRAME_HDR_LEN = 46;
const V2_HDR_LEN = 42;

function nowMicros() {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
}

function streamHeader(uuid, streamType, fourcc) {
  const b = new Uint8Array(HEADER_LEN);
  b.set(MAGIC, 0);
  b[4] = 1;
  b[5] = streamType === VIDEO_CAMERA ? 1 : 0;
  b.set(uuid, 6);
  b.set(te.encode(fourcc), 22);
  // 26..32 reserved, zero
  return b;
}

function frameV1(frameType, uuid, ts, seq, payload) {
  const b = new Uint8Array(FRAME_HDR_LEN + payload.length);
  const v = new DataView(b.buffer);
  b[0] = 1;
  b[1] = frameType;
  b.set(uuid, 2);
  v.setBigUint64(18, ts);
  v.setBigUint64(26, BigInt(seq));
  v.setUint32(34, payload.length);
  v.setUint16(38, 0x0001); // end of frame
  // 40..46 reserved, zero
  b.set(payload, FRAME_HDR_LEN);
  return b;
}

function frameV2(frameType, userId, streamId, ts, seq, payload) {
  const b = new Uint8Array(V2_HDR_LEN + payload.length);
  const v = new DataView(b.buffer);
  b[0] = 1;
  b[1] = frameType;
  v.setBigUint64(2, userId);
  v.setUint32(10, streamId);
  v.setBigUint64(14, ts);
  v.setBigUint64(22, BigInt(seq));
  v.setUint32(30, payload.length);
  v.setUint16(34, 0x0001);
  // 36..42 reserved, zero
  b.set(payload, V2_HDR_LEN);
  return b;
}

async function sha256(text) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', te.encode(text)));
}

// DH16: ids are the client's choice; these derive from the participant name.
async function sourceIds(name, kind) {
  const u = (await sha256(`darktower-chromium:${name}:${kind}`)).slice(0, 16);
  u[6] = (u[6] & 0x0f) | 0x50; // a name-based UUID (version 5 layout)
  u[8] = (u[8] & 0x3f) | 0x80;
  const h = bytesToHex(u);
  const uuidText = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  const user = new DataView((await sha256(`darktower-user:${name}`)).buffer).getBigUint64(0);
  const stream32 = new DataView((await sha256(`darktower-stream:${name}:${kind}`)).buffer).getUint32(0);
  return { uuid: u, uuidText, user, stream32 };
}

// ---------------------------------------------------------------------------------------------
// The client (DH15)
// ---------------------------------------------------------------------------------------------

const st = { participant: '-', sent: 0, failure: null, closing: false, stage: 'start' };

function fail(text) {
  if (!st.failure) {
    st.failure = new Failure(text);
    log(`failure: ${text}`);
  }
}

function checkAlive() {
  if (st.failure) throw st.failure;
}

function watchSession(wt, label) {
  wt.closed.then(
    (info) => {
      if (!st.closing) fail(`${label} session closed (closeCode=${info && info.closeCode}, reason=${JSON.stringify(info && info.reason)})`);
    },
    (e) => {
      if (!st.closing) fail(`${label} session ended: ${describeError(e)}`);
    },
  );
}

async function openSession(url, hashes, opMs, label) {
  const options = {};
  if (hashes) options.serverCertificateHashes = [{ algorithm: 'sha-256', value: hashes }];
  log(`${label}: WebTransport to ${url}`);
  let wt;
  try {
    wt = new WebTransport(url, options);
  } catch (e) {
    throw new Failure(`${label}: ${describeError(e)}`);
  }
  try {
    await withTimeout(wt.ready, opMs, `${label}: session set-up`);
  } catch (e) {
    throw new Failure(`${label}: session not established: ${describeError(e)}`);
  }
  log(`${label}: session ready`);
  return wt;
}

async function closeSession(wt, code, reason) {
  if (!wt) return;
  try {
    wt.close({ closeCode: code, reason });
  } catch (e) { /* already closed */ }
  await withTimeout(wt.closed.catch(() => {}), 2000, 'close').catch(() => {});
}

async function closeWriter(w) {
  if (!w) return;
  try {
    await withTimeout(w.close(), 2000, 'FIN');
  } catch (e) { /* reset or stopped already */ }
}

async function run(cfg) {
  let ctl = null;
  let med = null;
  const writers = []; // the streams this client writes (kept for the record)
  try {
    const hashes = cfg.certHash ? hexToBytes(cfg.certHash) : null;
    if (hashes && hashes.length !== 32) throw new Usage(`cert_hash: ${hashes.length} bytes, not 32 (SHA-256)`);

    // Signaling: the first client bidi stream of the controller session (DH7).
    ctl = await openSession(cfg.controllerUrl, hashes, cfg.opMs, 'controller');
    watchSession(ctl, 'controller');
    const sig = await ctl.createBidirectionalStream();
    const sigW = sig.writable.getWriter();
    writers.push(sigW);
    const sigR = new MsgReader(sig.readable, 'signaling');
    const send = (body) => sigW.write(framed(body)).catch((e) => {
      if (!st.closing) fail(`signaling write: ${describeError(e)}`);
    });
    send(joinRequest(cfg.meeting, cfg.joinToken, cfg.name));
    log(`JoinRequest sent (meeting ${JSON.stringify(cfg.meeting)}, name ${JSON.stringify(cfg.name)})`);

    const first = await sigR.next(cfg.opMs);
    if (first === null) throw new Failure('no JoinResponse: the controller finished the signaling stream');
    const sm = pbOneof(pbParse(first), SERVER_MESSAGE);
    if (!sm) throw new Failure('no JoinResponse: an empty ServerMessage');
    if (sm.name === 'error') throw new Failure(errorText(sm.body));
    if (sm.name !== 'join_response') throw new Failure(`expected JoinResponse, got ${sm.name}`);
    const jr = sm.body;
    st.participant = pbStr(jr, 1);
    const ms = pbMsg(jr, 3);
    const mediaUrl = ms ? pbStr(ms, 1) : '';
    const mediaToken = ms ? pbStr(ms, 2) : '';
    const existing = pbAll(jr, 2).map(pbParse);
    log(`joined as ${st.participant}, ${existing.length} present, media handler ${mediaUrl}`);
    if (!mediaUrl) throw new Failure('JoinResponse without media_server.media_handler_url');

    const subscribed = new Set();
    const subscribe = (id) => {
      if (id && !subscribed.has(id)) {
        subscribed.add(id);
        send(subscribeStream(id));
        log(`subscribed to ${id}`);
      }
    };
    for (const p of existing) for (const s of pbAll(p, 3)) subscribe(pbStr(pbParse(s), 1));

    // The rest of signaling, in the background: an ErrorMessage or the end of the stream fails.
    (async () => {
      for (;;) {
        let body;
        try {
          body = await sigR.next(Infinity);
        } catch (e) {
          if (!st.closing) fail(e.message);
          return;
        }
        if (body === null) {
          if (!st.closing) fail('signaling stream finished by the controller');
          return;
        }
        let m;
        try {
          m = pbOneof(pbParse(body), SERVER_MESSAGE);
        } catch (e) {
          fail(`undecodable ServerMessage: ${e.message}`);
          return;
        }
        if (!m) continue;
        if (m.name === 'error') {
          fail(errorText(m.body));
          return;
        }
        if (m.name === 'stream_published') {
          const stream = pbMsg(m.body, 2);
          log(`${pbStr(m.body, 1)} published ${stream ? pbStr(stream, 1) : '?'}`);
          if (stream) subscribe(pbStr(stream, 1));
        } else if (m.name === 'participant_joined') {
          const p = pbMsg(m.body, 1);
          log(`${p ? pbStr(p, 1) : '?'} joined`);
        } else if (m.name === 'participant_left') {
          const r = pbUint(m.body, 2);
          log(`${pbStr(m.body, 1)} left (${LEAVE_NAMES[r] || r})`);
        } else {
          log(`ServerMessage ${m.name}`);
        }
      }
    })();

    // Media: its own session, authenticated on its first bidi stream (DT7, DH11).
    med = await openSession(mediaUrl, hashes, cfg.opMs, 'media');
    watchSession(med, 'media');
    checkAlive();
    const auth = await med.createBidirectionalStream();
    const authW = auth.writable.getWriter();
    writers.push(authW);
    authW.write(framed(connectRequest(mediaToken))).catch((e) => {
      if (!st.closing) fail(`authentication write: ${describeError(e)}`);
    });
    const authR = new MsgReader(auth.readable, 'authentication');
    const ab = await authR.next(cfg.opMs);
    if (ab === null) throw new Failure('media authentication: the handler finished the stream without an answer');
    const am = pbOneof(pbParse(ab), MEDIA_SERVER_MESSAGE);
    if (!am) throw new Failure('media authentication: an empty MediaServerMessage');
    if (am.name === 'error') throw new Failure(`media authentication refused: ${errorText(am.body)}`);
    log(`media session authenticated as ${pbStr(am.body, 1)}`);
    checkAlive();

    // Sources: PublishStream to the controller first (DH15), then the media.
    let dgw = null;
    if (cfg.profile === 'v2' && cfg.publish.length) {
      const max = med.datagrams.maxDatagramSize;
      if (typeof max === 'number' && V2_HDR_LEN + cfg.payloadBytes > max) {
        throw new Unsupported(`v2: a ${V2_HDR_LEN + cfg.payloadBytes}-byte frame exceeds this browser's maxDatagramSize ${max}`);
      }
      const writable = typeof med.datagrams.createWritable === 'function'
        ? med.datagrams.createWritable() : med.datagrams.writable;
      dgw = writable.getWriter();
    }
    const sources = [];
    for (const kind of cfg.publish) {
      const ids = await sourceIds(cfg.name, kind);
      const type = kind === 'video' ? VIDEO_CAMERA : AUDIO;
      const codec = kind === 'video' ? 'VP09' : 'Opus';
      const streamName = cfg.profile === 'v1' ? ids.uuidText : String(ids.stream32);
      send(publishStream(streamName, type, codec, cfg.fps));
      log(`PublishStream ${streamName} (${kind}, ${codec})`);
      const src = { kind, type, ids, writer: null, stopped: null };
      if (cfg.profile === 'v1') {
        const uni = await med.createUnidirectionalStream();
        src.writer = uni.getWriter();
        writers.push(src.writer);
        src.writer.closed.catch((e) => {
          if (!st.closing) {
            src.stopped = e;
            fail(`media stream (${kind}) stopped by the handler: ${describeError(e)}`);
          }
        });
        src.writer.write(streamHeader(ids.uuid, type, codec)).catch(() => {});
      }
      sources.push(src);
    }

    const payload = new Uint8Array(cfg.payloadBytes);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + 3) & 0xff;
    const sendSource = async (src) => {
      const t0 = performance.now();
      for (let i = 0; i < cfg.frames; i++) {
        const delay = t0 + (i * 1000) / cfg.fps - performance.now();
        if (delay > 0) await sleep(delay);
        checkAlive();
        const ftype = src.type === AUDIO ? 0 : (i % 30 === 0 ? 1 : 2);
        if (src.writer) {
          await src.writer.ready;
          checkAlive();
          src.writer.write(frameV1(ftype, src.ids.uuid, nowMicros(), i, payload)).catch(() => {});
        } else {
          await dgw.ready;
          dgw.write(frameV2(ftype, src.ids.user, src.ids.stream32, nowMicros(), i, payload)).catch((e) => {
            log(`datagram ${i} not sent: ${describeError(e)}`);
          });
        }
        st.sent += 1;
      }
    };
    await Promise.all(sources.map(sendSource));
    log(`${st.sent} frames sent; lingering ${cfg.lingerMs} ms`);

    const end = performance.now() + cfg.lingerMs;
    while (performance.now() < end) {
      checkAlive();
      await sleep(Math.min(50, end - performance.now()));
    }
    checkAlive();

    // The end: FIN the media streams, then authentication and signaling, close both sessions (code 0).
    st.closing = true;
    for (const src of sources) await closeWriter(src.writer);
    await closeWriter(authW);
    await closeWriter(sigW);
    await Promise.all([closeSession(med, 0, 'done'), closeSession(ctl, 0, 'done')]);
    log('both sessions closed (code 0)');
    return { outcome: 'ok', participant: st.participant, sent: st.sent };
  } catch (e) {
    const unsupported = e instanceof Unsupported;
    const usage = e instanceof Usage;
    // The first failure is the cause (a stopped stream makes a pending write reject as well).
    const reason = (!unsupported && !usage && st.failure) ? st.failure.message
      : ((e instanceof Failure || unsupported || usage) ? e.message : describeError(e));
    if (!st.failure) log(`${unsupported ? 'unsupported' : 'failure'}: ${reason}`);
    st.closing = true;
    await Promise.all([closeSession(med, 0, 'failed'), closeSession(ctl, 0, 'failed')]);
    return {
      outcome: unsupported ? 'unsupported' : (usage ? 'usage' : 'fail'),
      reason,
      participant: st.participant,
      sent: st.sent,
    };
  }
}

function config() {
  const target = Q.get('target') || '';
  if (!target) throw new Usage('target: missing');
  const m = /^(.*):(\d+)$/.exec(target);
  if (!m) throw new Usage(`target: not HOST:PORT: ${target}`);
  const host = m[1].includes(':') && !m[1].startsWith('[') ? `[${m[1]}]` : m[1];
  const publish = (Q.get('publish') || 'video').split(',').map((s) => s.trim()).filter((s) => s && s !== 'none');
  for (const p of publish) if (p !== 'video' && p !== 'audio') throw new Usage(`publish: unknown source ${p}`);
  const cfg = {
    controllerUrl: `https://${host}:${m[2]}${Q.get('signaling_path') || '/signaling'}`,
    certHash: Q.get('cert_hash') || '',
    joinToken: Q.get('join_token') || '',
    meeting: Q.get('meeting') || '',
    name: Q.get('name') || 'chromium',
    publish: [...new Set(publish)],
    frames: intParam('frames', 5),
    fps: intParam('fps', 30),
    payloadBytes: intParam('payload_bytes', 100),
    lingerMs: intParam('linger_ms', 500),
    profile: Q.get('profile') || 'v1',
    opMs: intParam('op_ms', 20000),
  };
  if (!['v1', 'v2'].includes(cfg.profile)) throw new Usage(`profile: ${cfg.profile}: v1 or v2`);
  if (cfg.frames < 0 || cfg.fps <= 0 || cfg.payloadBytes < 0 || cfg.lingerMs < 0) {
    throw new Usage('frames, payload_bytes, linger_ms must be >= 0 and fps > 0');
  }
  if (!cfg.joinToken) throw new Usage('join_token: missing');
  if (!cfg.meeting) {
    // The meeting the join token names (DH4), as the reference does without --meeting.
    try {
      const claims = JSON.parse(atob(cfg.joinToken.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
      if (typeof claims.meeting_id === 'string') cfg.meeting = claims.meeting_id;
    } catch (e) { /* a garbage token: an empty meeting id */ }
  }
  return cfg;
}

async function main() {
  let result;
  try {
    if (!window.isSecureContext) throw new Unsupported('not a secure context: WebTransport is unavailable');
    if (typeof WebTransport === 'undefined') throw new Unsupported('this browser has no WebTransport');
    const cfg = config();
    log(`${navigator.userAgent}; ${cfg.profile}, ${cfg.frames} frames at ${cfg.fps} fps, ${cfg.payloadBytes}-byte payloads, publish [${cfg.publish}], linger ${cfg.lingerMs} ms`);
    result = await run(cfg);
  } catch (e) {
    result = {
      outcome: e instanceof Unsupported ? 'unsupported' : (e instanceof Usage ? 'usage' : 'fail'),
      reason: e.message || String(e),
      participant: st.participant,
      sent: st.sent,
    };
  }
  await report(result);
}

window.addEventListener('unhandledrejection', (ev) => log(`unhandled rejection: ${describeError(ev.reason)}`));
window.addEventListener('error', (ev) => log(`error: ${ev.message}`));
main();
