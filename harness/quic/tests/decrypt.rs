//! The native QUIC decryptor against RFC 9001 Appendix A, the prototype's capture
//! (`tests/data/demo.pcapng`, with its key log in a Decryption Secrets Block), live quinn-proto
//! connections (several at once, each cipher suite, key updates, Retry, 0-RTT), and arbitrary
//! bytes.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use handshake_quic::decrypt::{
    classify, CipherSuite, DecryptError, Decryptor, Direction, Packet, Space,
};
use handshake_quic::frame::Frame;
use proptest::prelude::*;

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// A tiny pcapng walker: little-endian sections, Ethernet / IPv4 / UDP, and the Decryption
// Secrets Block (0x0000000A, secrets type 'TLSK' = NSS key log).
// ---------------------------------------------------------------------------------------------

type Datagram = (SocketAddr, SocketAddr, Vec<u8>);

fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn read_pcapng(file: &[u8]) -> (String, Vec<Datagram>) {
    let mut key_log = String::new();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos + 12 <= file.len() {
        let ty = u32le(file, pos);
        let len = u32le(file, pos + 4) as usize;
        assert!(len >= 12 && pos + len <= file.len(), "bad block at {pos}");
        let body = &file[pos + 8..pos + len - 4];
        match ty {
            0x0A0D_0D0A => assert_eq!(u32le(body, 0), 0x1A2B_3C4D, "only little-endian sections"),
            0x0000_000A => {
                assert_eq!(u32le(body, 0), 0x544c_534b, "TLSK secrets");
                let n = u32le(body, 4) as usize;
                key_log.push_str(std::str::from_utf8(&body[8..8 + n]).expect("key log is UTF-8"));
            }
            6 => {
                let caplen = u32le(body, 12) as usize;
                let frame = &body[20..20 + caplen];
                if let Some(d) = udp_in_ethernet(frame) {
                    out.push(d);
                }
            }
            _ => {}
        }
        pos += len;
    }
    (key_log, out)
}

fn udp_in_ethernet(frame: &[u8]) -> Option<Datagram> {
    if frame.len() < 14 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = &frame[14..];
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    if ip[9] != 17 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let src_ip: [u8; 4] = ip[12..16].try_into().expect("IPv4 source");
    let dst_ip: [u8; 4] = ip[16..20].try_into().expect("IPv4 destination");
    let udp = &ip[ihl..total];
    let sp = u16::from_be_bytes([udp[0], udp[1]]);
    let dp = u16::from_be_bytes([udp[2], udp[3]]);
    let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    Some((
        SocketAddr::from((src_ip, sp)),
        SocketAddr::from((dst_ip, dp)),
        udp[8..ulen].to_vec(),
    ))
}

fn demo() -> (String, Vec<Datagram>) {
    read_pcapng(include_bytes!("data/demo.pcapng"))
}

fn decrypt_all(key_log: &str, datagrams: &[Datagram]) -> (Decryptor, Vec<(usize, Packet)>) {
    let mut d = Decryptor::new(key_log);
    let mut all = Vec::new();
    for (i, (s, t, p)) in datagrams.iter().enumerate() {
        all.extend(d.datagram(*s, *t, p).into_iter().map(|p| (i, p)));
    }
    (d, all)
}

/// Stream bytes per (connection, stream id, direction), reassembled from STREAM frames, with
/// whether the FIN was seen at the end.
fn streams(packets: &[(usize, Packet)]) -> BTreeMap<(usize, u64, Direction), (Vec<u8>, bool)> {
    let mut pieces: BTreeMap<(usize, u64, Direction), BTreeMap<u64, Vec<u8>>> = BTreeMap::new();
    let mut fins = BTreeMap::new();
    for (_, p) in packets {
        let (Some(c), Some(d), Ok(frames)) = (p.connection, p.direction, &p.frames) else {
            continue;
        };
        for f in frames {
            if let Frame::Stream {
                id,
                offset,
                fin,
                data,
            } = f
            {
                pieces
                    .entry((c, *id, d))
                    .or_default()
                    .insert(*offset, data.clone());
                if *fin {
                    fins.insert((c, *id, d), offset + data.len() as u64);
                }
            }
        }
    }
    pieces
        .into_iter()
        .map(|(k, parts)| {
            let mut buf = Vec::new();
            for (off, data) in parts {
                let off = off as usize;
                assert!(off <= buf.len(), "gap in stream {k:?}");
                if off + data.len() > buf.len() {
                    buf.extend_from_slice(&data[buf.len() - off..]);
                }
            }
            let fin = fins.get(&k) == Some(&(buf.len() as u64));
            (k, (buf, fin))
        })
        .collect()
}

fn frames_of(packets: &[(usize, Packet)], dir: Direction) -> Vec<Frame> {
    packets
        .iter()
        .filter(|(_, p)| p.direction == Some(dir))
        .filter_map(|(_, p)| p.frames.as_ref().ok())
        .flatten()
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------------
// RFC 9001 Appendix A
// ---------------------------------------------------------------------------------------------

const A2_CLIENT_INITIAL: &str = "c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f3991c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df621230c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c2084dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f89937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c7468449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663ac69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe5896425c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ffef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009ddc324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77fcb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450efc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03adea2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e72404790a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f440591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca06948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f0940054da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd46840647e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241e221af44860018ab0856972e194cd934";
/// The CRYPTO frame of A.2 (the ClientHello); PADDING follows up to 1162 bytes.
const A2_CRYPTO_FRAME: &str = "060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578616d706c652e636f6dff01000100000a00080006001d0017001800100007000504616c706e000500050100000000003300260024001d00209370b2c9caa47fbabaf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b0003020304000d0010000e0403050306030203080408050806002d00020101001c00024001003900320408ffffffffffffffff05048000ffff07048000ffff0801100104800075300901100f088394c8f03e51570806048000ffff";
const A3_SERVER_INITIAL: &str = "cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc42158407dd074ee";
const A3_PAYLOAD: &str = "02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf73988cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c940d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00020304";
const A4_RETRY: &str = "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba";

fn client() -> SocketAddr {
    "192.0.2.1:50000".parse().expect("address")
}
fn server() -> SocketAddr {
    "198.51.100.1:443".parse().expect("address")
}

#[test]
fn rfc9001_a2_client_initial() {
    let mut d = Decryptor::new("");
    let pkt = unhex(A2_CLIENT_INITIAL);
    assert_eq!(pkt.len(), 1200);
    assert_eq!(classify(&pkt), "initial");
    let p = d.datagram(client(), server(), &pkt);
    assert_eq!(p.len(), 1);
    let p = &p[0];
    assert_eq!(
        (p.connection, p.direction, p.space, p.number, p.size),
        (
            Some(0),
            Some(Direction::ClientToServer),
            Space::Initial,
            Some(2),
            1200
        )
    );
    assert_eq!(p.dcid, unhex("8394c8f03e515708"));
    assert_eq!(p.scid.as_deref(), Some(&[][..]));
    let crypto = unhex(A2_CRYPTO_FRAME);
    let expected = handshake_quic::frame::parse_frames(&crypto).expect("A.2 CRYPTO frame");
    let frames = p.frames.as_ref().expect("A.2 frames");
    assert_eq!(frames[0], expected[0]);
    assert!(matches!(&frames[0], Frame::Crypto { offset: 0, data } if data.len() == 0xf1));
    assert_eq!(frames[1], Frame::Padding(1162 - crypto.len()));
    let info = &d.connections()[0];
    assert_eq!(info.original_dcid, unhex("8394c8f03e515708"));
    assert_eq!(
        info.client_random.as_deref(),
        Some("ebf8fa56f12939b9584a3896472ec40bb863cfd3e86804fe3a47f06a2b69484c")
    );
    assert_eq!(info.offered_alpn, vec![b"alpn".to_vec()]);
    assert_eq!(info.server_name.as_deref(), Some("example.com"));
    assert_eq!(info.suite, None);
}

#[test]
fn rfc9001_a3_server_initial_and_a4_retry() {
    let mut d = Decryptor::new("");
    d.datagram(client(), server(), &unhex(A2_CLIENT_INITIAL));
    let p = d.datagram(server(), client(), &unhex(A3_SERVER_INITIAL));
    assert_eq!(p.len(), 1);
    assert_eq!(
        (p[0].connection, p[0].direction, p[0].space, p[0].number),
        (
            Some(0),
            Some(Direction::ServerToClient),
            Space::Initial,
            Some(1)
        )
    );
    assert_eq!(
        p[0].frames,
        Ok(handshake_quic::frame::parse_frames(&unhex(A3_PAYLOAD)).expect("A.3 frames"))
    );
    assert_eq!(
        p[0].frames.as_ref().expect("A.3 frames")[0],
        Frame::Ack {
            largest: 0,
            delay: 0,
            ranges: vec![(0, 0)],
            ecn: None
        }
    );
    assert_eq!(d.connections()[0].suite, Some(CipherSuite::Aes128GcmSha256));
    assert_eq!(
        d.connections()[0].server_cids,
        vec![unhex("f067a5502a4262b5")]
    );

    // A.4: a Retry for the same original DCID (its integrity tag is checked against it).
    let mut d = Decryptor::new("");
    d.datagram(client(), server(), &unhex(A2_CLIENT_INITIAL));
    let retry = unhex(A4_RETRY);
    assert_eq!(classify(&retry), "retry");
    let p = d.datagram(server(), client(), &retry);
    assert_eq!(
        (p[0].connection, p[0].space, p[0].frames.clone(), p[0].size),
        (Some(0), Space::Retry, Ok(vec![]), retry.len())
    );
    assert!(d.connections()[0].retry);
    let mut bad = retry.clone();
    *bad.last_mut().expect("non-empty") ^= 1;
    assert_eq!(
        d.datagram(server(), client(), &bad)[0].frames,
        Err(DecryptError::RetryIntegrity)
    );
}

#[test]
fn rfc9001_a5_chacha20_short_header_keys() {
    // The packet itself needs the largest packet number received before it (654360563), which
    // only a capture provides: see the unit test in decrypt.rs. Here: its keys through the API.
    let secret = unhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
    let k =
        handshake_quic::decrypt::KeyMaterial::derive(CipherSuite::Chacha20Poly1305Sha256, &secret)
            .expect("keys");
    assert_eq!(
        hex(&k.hp),
        "25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"
    );
    assert_eq!(
        classify(&unhex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb")),
        "1rtt"
    );
}

// ---------------------------------------------------------------------------------------------
// The prototype's capture
// ---------------------------------------------------------------------------------------------

/// (datagram, space, direction, packet number, key phase, frame names) as in
/// /work/notes/quic-proto/demo-output.txt.
type DemoPacket = (
    usize,
    &'static str,
    &'static str,
    u64,
    Option<u8>,
    &'static str,
);
#[rustfmt::skip]
const DEMO: &[DemoPacket] = &[
    (0, "Initial", "C->S", 0, None, "CRYPTO PADDING"),
    (1, "Initial", "S->C", 0, None, "ACK CRYPTO"),
    (1, "Handshake", "S->C", 0, None, "CRYPTO"),
    (1, "1-RTT", "S->C", 0, Some(0), "NEW_CONNECTION_ID NEW_CONNECTION_ID NEW_CONNECTION_ID NEW_CONNECTION_ID PADDING"),
    (2, "Initial", "C->S", 1, None, "ACK"),
    (2, "Handshake", "C->S", 0, None, "ACK CRYPTO"),
    (2, "1-RTT", "C->S", 0, Some(0), "NEW_CONNECTION_ID NEW_CONNECTION_ID NEW_CONNECTION_ID NEW_CONNECTION_ID PADDING"),
    (3, "1-RTT", "S->C", 1, Some(0), "HANDSHAKE_DONE CRYPTO RETIRE_CONNECTION_ID ACK"),
    (4, "1-RTT", "C->S", 1, Some(0), "STREAM STREAM STREAM"),
    (5, "1-RTT", "C->S", 2, Some(0), "ACK NEW_CONNECTION_ID"),
    (6, "1-RTT", "S->C", 2, Some(0), "STREAM STREAM STREAM ACK"),
    (7, "1-RTT", "C->S", 3, Some(1), "STREAM ACK"),
    (8, "1-RTT", "S->C", 3, Some(1), "ACK STREAM"),
    (9, "1-RTT", "C->S", 4, Some(1), "RESET_STREAM ACK"),
    (10, "1-RTT", "S->C", 4, Some(1), "STOP_SENDING PADDING"),
    (11, "1-RTT", "S->C", 5, Some(1), "MAX_STREAMS ACK"),
    (12, "1-RTT", "C->S", 5, Some(1), "RESET_STREAM DATAGRAM ACK"),
    (13, "1-RTT", "C->S", 6, Some(1), "ACK"),
    (14, "1-RTT", "S->C", 6, Some(1), "ACK"),
    (15, "1-RTT", "C->S", 7, Some(1), "ACK CONNECTION_CLOSE"),
    (16, "1-RTT", "S->C", 7, Some(1), "ACK CONNECTION_CLOSE"),
];

#[test]
fn demo_capture_decrypts_like_the_prototype() {
    let (key_log, datagrams) = demo();
    assert_eq!(datagrams.len(), 17);
    let (d, packets) = decrypt_all(&key_log, &datagrams);
    let got: Vec<_> = packets
        .iter()
        .map(|(i, p)| {
            let names: Vec<&str> = p
                .frames
                .as_ref()
                .unwrap_or_else(|e| panic!("datagram {i}: {p}: {e}"))
                .iter()
                .map(Frame::name)
                .collect();
            (
                *i,
                p.space.name(),
                p.direction.expect("direction").arrow(),
                p.number.expect("packet number"),
                p.key_phase.map(u8::from),
                names.join(" "),
            )
        })
        .collect();
    let want: Vec<_> = DEMO
        .iter()
        .map(|(i, s, d, n, k, f)| (*i, *s, *d, *n, *k, f.to_string()))
        .collect();
    assert_eq!(got, want);
    assert!(packets.iter().all(|(_, p)| p.connection == Some(0)));
    // Coalesced packets fill each datagram exactly.
    for (i, (_, _, payload)) in datagrams.iter().enumerate() {
        assert_eq!(
            packets
                .iter()
                .filter(|(j, _)| *j == i)
                .map(|(_, p)| p.size)
                .sum::<usize>(),
            payload.len()
        );
    }

    let info = d.connections();
    assert_eq!(info.len(), 1);
    let c = &info[0];
    assert_eq!(c.suite, Some(CipherSuite::Aes256GcmSha384));
    assert_eq!(hex(&c.original_dcid), "4186bcc3526246c815b732b469226681");
    assert_eq!(
        c.client_random.as_deref(),
        Some("5e5283ac0e09f7826ded6f74544d8ad42d0487516bd0be4752d17ae548d25975")
    );
    assert_eq!(c.alpn.as_deref(), Some(&b"proton"[..]));
    assert_eq!(c.offered_alpn, vec![b"proton".to_vec()]);
    // The prototype's idle timeout (5 s), both sides.
    assert_eq!(c.max_idle_timeout_ms, [Some(5_000), Some(5_000)]);
    assert_eq!(c.idle_timeout_ms(), Some(5_000));
    assert_eq!((c.client, c.server), (datagrams[0].0, datagrams[0].1));
    assert_eq!(c.key_updates, [1, 1]);
    assert!(c.server_cids.contains(&unhex("937acbc904067cbc")));
    assert!(c.client_cids.contains(&unhex("958e81a6e51ea689")));
    // EXPORTER_SECRET is a valid line QUIC does not need.
    assert_eq!(d.key_log_stats().used, 4);
    assert_eq!(d.ignored_key_log_lines(), 1);

    // Stream data per stream id and direction.
    let s = streams(&packets);
    let c2s = Direction::ClientToServer;
    let s2c = Direction::ServerToClient;
    assert_eq!(
        s[&(0, 0, c2s)],
        (unhex("0101000000 0200000005000000"), true)
    );
    assert_eq!(s[&(0, 4, c2s)], (unhex("0228000000"), false));
    assert_eq!(s[&(0, 8, c2s)], (unhex("032a000000"), false));
    assert_eq!(s[&(0, 0, s2c)], (unhex("01000000 0200000005000000"), true));
    assert_eq!(s[&(0, 4, s2c)], (unhex("2a000000"), false));
    assert_eq!(s[&(0, 8, s2c)], (unhex("00000000"), false));
    assert_eq!(s.len(), 6);

    let from_client = frames_of(&packets, c2s);
    let from_server = frames_of(&packets, s2c);
    assert!(from_client.contains(&Frame::ResetStream {
        id: 4,
        code: 7,
        final_size: 7
    }));
    assert!(from_client.contains(&Frame::ResetStream {
        id: 8,
        code: 9,
        final_size: 5
    }));
    assert!(from_server.contains(&Frame::StopSending { id: 8, code: 9 }));
    assert!(from_client.contains(&Frame::Datagram {
        data: b"hello datagram".to_vec()
    }));
    assert!(from_server.contains(&Frame::MaxStreams { bidi: true, max: 4 }));
    let close = Frame::ConnectionClose {
        application: true,
        code: 5,
        frame_type: None,
        reason: b"stream error".to_vec(),
    };
    assert_eq!(
        close.to_string(),
        "CONNECTION_CLOSE app code=0x5 reason=\"stream error\""
    );
    assert!(from_client.contains(&close));
    assert!(from_server.contains(&Frame::ConnectionClose {
        application: false,
        code: 0,
        frame_type: Some(0),
        reason: vec![]
    }));
}

#[test]
fn demo_capture_without_keys_decrypts_only_initials() {
    let (_, datagrams) = demo();
    let (d, packets) = decrypt_all("", &datagrams);
    assert_eq!(packets.len(), DEMO.len());
    for (i, p) in &packets {
        assert_eq!(p.connection, Some(0), "datagram {i}: {p}");
        if p.space == Space::Initial {
            assert!(p.frames.is_ok(), "datagram {i}: {p}");
        } else {
            assert_eq!(p.frames, Err(DecryptError::NoKeys), "datagram {i}: {p}");
        }
    }
    assert_eq!(
        packets
            .iter()
            .filter(|(_, p)| p.space == Space::Initial)
            .count(),
        3
    );
    let c = &d.connections()[0];
    assert_eq!(c.suite, Some(CipherSuite::Aes256GcmSha384)); // from the ServerHello
    assert_eq!(c.alpn, None); // EncryptedExtensions needs the handshake keys
                              // The ClientHello's transport parameters are readable, the server's are not.
    assert_eq!(c.max_idle_timeout_ms, [Some(5_000), None]);
    assert_eq!(c.idle_timeout_ms(), None);
}

#[test]
fn demo_capture_with_noisy_key_log_and_secrets_added_later() {
    let (key_log, datagrams) = demo();
    let noisy = format!(
        "# a comment\n\nnot a key log line\nCLIENT_RANDOM {} {}\n{key_log}garbage ü\n",
        "00".repeat(32),
        "11".repeat(48)
    );
    let (d, packets) = decrypt_all(&noisy, &datagrams);
    assert!(packets.iter().all(|(_, p)| p.frames.is_ok()));
    assert_eq!(d.ignored_key_log_lines(), 4);

    // Secrets that arrive mid-capture serve the packets after them.
    let mut d = Decryptor::new("");
    let mut ok = Vec::new();
    for (i, (s, t, p)) in datagrams.iter().enumerate() {
        if i == 3 {
            d.add_key_log(&key_log);
        }
        ok.extend(
            d.datagram(*s, *t, p)
                .into_iter()
                .map(|p| (i, p.frames.is_ok())),
        );
    }
    assert!(ok.iter().filter(|(i, _)| *i >= 3).all(|(_, ok)| *ok));
    assert!(ok.iter().any(|(_, ok)| !ok));
}

#[test]
fn demo_capture_reordered_around_the_key_update() {
    let (key_log, mut datagrams) = demo();
    // S->C #6 (key phase 0) after #8 (key phase 1): the previous generation still opens it.
    // C->S #4 (phase 0) after #7 and #9 (phase 1) too.
    let d6 = datagrams.remove(6);
    datagrams.insert(8, d6);
    let d4 = datagrams.remove(4);
    datagrams.insert(8, d4);
    let (d, packets) = decrypt_all(&key_log, &datagrams);
    for (i, p) in &packets {
        assert!(p.frames.is_ok(), "datagram {i}: {p}");
    }
    let pns: Vec<_> = packets
        .iter()
        .filter(|(_, p)| p.space == Space::OneRtt)
        .map(|(_, p)| {
            (
                p.direction.expect("direction").arrow(),
                p.number.expect("packet number"),
                p.key_phase.expect("key phase"),
            )
        })
        .collect();
    assert!(
        pns.contains(&("S->C", 2, false)) && pns.contains(&("C->S", 1, false)),
        "{pns:?}"
    );
    assert_eq!(d.connections()[0].key_updates, [1, 1]);
}

#[test]
fn demo_capture_corrupted_packet_fails_alone() {
    let (key_log, mut datagrams) = demo();
    let last = datagrams[9].2.len() - 1;
    datagrams[9].2[last] ^= 0x80; // the AEAD tag of C->S pn 4
    let (_, packets) = decrypt_all(&key_log, &datagrams);
    for (i, p) in &packets {
        if *i == 9 {
            assert_eq!(
                (p.connection, p.frames.clone()),
                (Some(0), Err(DecryptError::Aead))
            );
        } else {
            assert!(p.frames.is_ok(), "datagram {i}: {p}");
        }
    }
}

#[test]
fn demo_capture_classes() {
    let (_, datagrams) = demo();
    // quinn greases the fixed bit (RFC 9287) once it knows the peer allows it: such packets
    // are "other" to `classify` (header only), yet they decrypt.
    let classes: Vec<_> = datagrams
        .iter()
        .map(|(_, _, p)| (classify(p), p[0] & 0x40 != 0))
        .collect();
    assert_eq!(&classes[..2], &[("initial", true), ("initial", true)]);
    assert_eq!(classes[2], ("other", false));
    for (i, (c, fixed)) in classes.iter().enumerate().skip(3) {
        assert_eq!(*c, if *fixed { "1rtt" } else { "other" }, "datagram {i}");
    }
    assert!(classes.iter().any(|(c, _)| *c == "1rtt"));
    let (key_log, _) = demo();
    let (_, packets) = decrypt_all(&key_log, &datagrams);
    assert!(packets.iter().all(|(_, p)| p.frames.is_ok()));
}

/// Two copies of the demo connection from two client ports, interleaved: same CIDs, same
/// keys, so only the address pair tells them apart.
#[test]
fn identical_connections_from_two_ports_stay_apart() {
    let (key_log, datagrams) = demo();
    let (c1, s) = (datagrams[0].0, datagrams[0].1);
    let c2: SocketAddr = SocketAddr::new(c1.ip(), c1.port() + 1);
    let moved: Vec<Datagram> = datagrams
        .iter()
        .map(|(a, b, p)| {
            (
                if *a == c1 { c2 } else { *a },
                if *b == c1 { c2 } else { *b },
                p.clone(),
            )
        })
        .collect();
    let mut mixed = Vec::new();
    for (x, y) in datagrams.iter().zip(&moved) {
        mixed.push(x.clone());
        mixed.push(y.clone());
    }
    let (d, packets) = decrypt_all(&key_log, &mixed);
    let info = d.connections();
    assert_eq!(info.len(), 2);
    assert_eq!(
        (info[0].client, info[1].client, info[1].server),
        (c1, c2, s)
    );
    for (i, p) in &packets {
        assert!(p.frames.is_ok(), "datagram {i}: {p}");
        assert_eq!(p.connection, Some(i % 2), "datagram {i}: {p}");
    }
}

// ---------------------------------------------------------------------------------------------
// Live quinn-proto connections: several at once through one server, every cipher suite
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct MemKeyLog(Mutex<String>);

impl rustls::KeyLog for MemKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
        let mut s = self.0.lock().expect("key log lock");
        if !s.contains(&line) {
            s.push_str(&line);
        }
    }
}

use quinn_proto::{
    ClientConfig, Connection, ConnectionHandle, DatagramEvent, Dir, Endpoint, EndpointConfig,
    Event, ServerConfig, StreamEvent, VarInt,
};

struct Host {
    addr: SocketAddr,
    ep: Endpoint,
    conns: HashMap<ConnectionHandle, Connection>,
    retry: bool,
    /// Server: bytes received per (connection handle, stream); replies when FIN arrives.
    received: HashMap<(ConnectionHandle, u64), Vec<u8>>,
}

struct Net {
    now: Instant,
    hosts: Vec<Host>,
    queue: VecDeque<Datagram>,
    capture: Vec<Datagram>,
}

impl Net {
    fn host(&mut self, addr: SocketAddr) -> Option<&mut Host> {
        self.hosts.iter_mut().find(|h| h.addr == addr)
    }

    fn flush(&mut self) {
        let now = self.now;
        for h in &mut self.hosts {
            let mut buf = Vec::new();
            for (ch, conn) in h.conns.iter_mut() {
                loop {
                    let mut progressed = false;
                    while let Some(ev) = conn.poll_endpoint_events() {
                        progressed = true;
                        if let Some(cev) = h.ep.handle_event(*ch, ev) {
                            conn.handle_event(cev);
                        }
                    }
                    buf.clear();
                    while let Some(t) = conn.poll_transmit(now, 1, &mut buf) {
                        progressed = true;
                        self.queue
                            .push_back((h.addr, t.destination, buf[..t.size].to_vec()));
                        buf.clear();
                    }
                    if !progressed {
                        break;
                    }
                }
            }
            // Application: the server reads every stream and answers "re:<data>" at FIN.
            for (ch, conn) in h.conns.iter_mut() {
                while let Some(ev) = conn.poll() {
                    if let Event::Stream(StreamEvent::Opened { dir: Dir::Bi }) = ev {
                        while conn.streams().accept(Dir::Bi).is_some() {}
                    }
                }
                let ids: Vec<_> = (0..8u64).map(|i| i * 4).collect();
                for raw in ids {
                    let id: quinn_proto::StreamId =
                        quinn_proto::StreamId::new(quinn_proto::Side::Client, Dir::Bi, raw / 4);
                    let mut recv = conn.recv_stream(id);
                    let Ok(mut rs) = recv.read(true) else {
                        continue;
                    };
                    let mut fin = false;
                    loop {
                        match rs.next(usize::MAX) {
                            Ok(Some(chunk)) => h
                                .received
                                .entry((*ch, raw))
                                .or_default()
                                .extend_from_slice(&chunk.bytes),
                            Ok(None) => {
                                fin = true;
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let _ = rs.finalize();
                    if fin {
                        let mut reply = b"re:".to_vec();
                        reply.extend(h.received.get(&(*ch, raw)).cloned().unwrap_or_default());
                        let _ = conn.send_stream(id).write(&reply);
                        let _ = conn.send_stream(id).finish();
                    }
                }
            }
        }
    }

    fn deliver(&mut self, (src, dst, data): Datagram) {
        self.capture.push((src, dst, data.clone()));
        let now = self.now;
        let mut out = Vec::new();
        if let Some(h) = self.host(dst) {
            let mut buf = Vec::new();
            match h
                .ep
                .handle(now, src, None, None, BytesMut::from(&data[..]), &mut buf)
            {
                Some(DatagramEvent::NewConnection(inc)) => {
                    if h.retry && !inc.remote_address_validated() {
                        let t = h.ep.retry(inc, &mut buf).expect("retry");
                        out.push((h.addr, t.destination, buf[..t.size].to_vec()));
                    } else {
                        match h.ep.accept(inc, now, &mut buf, None) {
                            Ok((ch, conn)) => {
                                h.conns.insert(ch, conn);
                            }
                            Err(e) => {
                                if let Some(t) = e.response {
                                    out.push((h.addr, t.destination, buf[..t.size].to_vec()));
                                }
                            }
                        }
                    }
                }
                Some(DatagramEvent::ConnectionEvent(ch, ev)) => {
                    if let Some(c) = h.conns.get_mut(&ch) {
                        c.handle_event(ev);
                    }
                }
                Some(DatagramEvent::Response(t)) => {
                    out.push((h.addr, t.destination, buf[..t.size].to_vec()))
                }
                None => {}
            }
        }
        self.queue.extend(out);
    }

    /// Deliver everything in flight, interleaving senders, and fire timers up to `horizon`.
    fn settle(&mut self, horizon: Duration) {
        let limit = self.now + horizon;
        loop {
            self.flush();
            if let Some(d) = self.queue.pop_front() {
                self.now += Duration::from_millis(1);
                self.deliver(d);
                continue;
            }
            let next = self
                .hosts
                .iter_mut()
                .flat_map(|h| h.conns.values_mut().filter_map(|c| c.poll_timeout()))
                .min();
            match next {
                Some(t) if t <= limit => {
                    self.now = self.now.max(t);
                    for h in &mut self.hosts {
                        for c in h.conns.values_mut() {
                            if c.poll_timeout().is_some_and(|x| x <= self.now) {
                                c.handle_timeout(self.now);
                            }
                        }
                    }
                }
                _ => break,
            }
        }
    }

    fn conn(&mut self, addr: SocketAddr) -> &mut Connection {
        self.host(addr)
            .expect("host")
            .conns
            .values_mut()
            .next()
            .expect("a connection")
    }
}

fn transport() -> Arc<quinn_proto::TransportConfig> {
    let mut t = quinn_proto::TransportConfig::default();
    t.mtu_discovery_config(None);
    Arc::new(t)
}

fn server_host(
    addr: SocketAddr,
    keylog: Arc<MemKeyLog>,
    retry: bool,
) -> (Host, rustls::pki_types::CertificateDer<'static>) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("certificate");
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .expect("TLS 1.3")
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], key)
    .expect("server certificate");
    tls.alpn_protocols = vec![b"hq-test".to_vec()];
    tls.max_early_data_size = u32::MAX;
    tls.key_log = keylog;
    let quic =
        quinn_proto::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC server config");
    let mut cfg = ServerConfig::with_crypto(Arc::new(quic));
    cfg.transport_config(transport());
    let ep = Endpoint::new(
        Arc::new(EndpointConfig::default()),
        Some(Arc::new(cfg)),
        false,
        None,
    );
    (
        Host {
            addr,
            ep,
            conns: HashMap::new(),
            retry,
            received: HashMap::new(),
        },
        cert,
    )
}

fn client_config(
    suite: CipherSuite,
    keylog: Arc<MemKeyLog>,
    cert: &rustls::pki_types::CertificateDer<'static>,
) -> ClientConfig {
    let rs = match suite {
        CipherSuite::Aes128GcmSha256 => {
            rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        }
        CipherSuite::Aes256GcmSha384 => {
            rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384
        }
        CipherSuite::Chacha20Poly1305Sha256 => {
            rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256
        }
    };
    let mut provider = rustls::crypto::ring::default_provider();
    // The first suite is the one negotiated; AES-128-GCM must be there for the Initial keys.
    provider.cipher_suites = vec![
        rs,
        rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
    ];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).expect("root");
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"hq-test".to_vec()];
    tls.enable_early_data = true;
    tls.key_log = keylog;
    let mut cfg = ClientConfig::new(Arc::new(
        quinn_proto::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC client config"),
    ));
    cfg.transport_config(transport());
    cfg
}

fn client_host(addr: SocketAddr) -> Host {
    Host {
        addr,
        ep: Endpoint::new(Arc::new(EndpointConfig::default()), None, false, None),
        conns: HashMap::new(),
        retry: false,
        received: HashMap::new(),
    }
}

fn connect(net: &mut Net, client: SocketAddr, cfg: ClientConfig, server: SocketAddr) {
    let now = net.now;
    let h = net.host(client).expect("client host");
    let (ch, conn) =
        h.ep.connect(now, cfg, server, "localhost")
            .expect("connect");
    h.conns.insert(ch, conn);
}

fn send(net: &mut Net, client: SocketAddr, data: &[u8]) {
    let conn = net.conn(client);
    let id = conn.streams().open(Dir::Bi).expect("stream credit");
    conn.send_stream(id).write(data).expect("write");
    conn.send_stream(id).finish().expect("finish");
}

#[test]
fn three_interleaved_quinn_connections_one_per_suite_with_retry_and_key_update() {
    let keylog = Arc::new(MemKeyLog::default());
    let srv: SocketAddr = "127.0.0.1:4433".parse().expect("address");
    let (server, cert) = server_host(srv, keylog.clone(), true);
    let suites = [
        CipherSuite::Aes128GcmSha256,
        CipherSuite::Aes256GcmSha384,
        CipherSuite::Chacha20Poly1305Sha256,
    ];
    let clients: Vec<SocketAddr> = (0..3)
        .map(|i| SocketAddr::from(([127, 0, 0, 1], 5001 + i)))
        .collect();
    let mut net = Net {
        now: Instant::now(),
        hosts: vec![server],
        queue: VecDeque::new(),
        capture: Vec::new(),
    };
    for (c, suite) in clients.iter().zip(suites) {
        net.hosts.push(client_host(*c));
        connect(
            &mut net,
            *c,
            client_config(suite, keylog.clone(), &cert),
            srv,
        );
    }
    net.settle(Duration::from_millis(50));
    for (i, c) in clients.iter().enumerate() {
        assert!(
            !net.conn(*c).is_handshaking(),
            "client {i} still handshaking"
        );
        send(&mut net, *c, format!("hello from client {i}").as_bytes());
    }
    net.conn(clients[1]).force_key_update();
    net.settle(Duration::from_millis(50));
    send(&mut net, clients[1], b"after the key update");
    net.settle(Duration::from_millis(50));
    for (i, c) in clients.iter().enumerate() {
        let now = net.now;
        net.conn(*c).close(
            now,
            VarInt::from_u32(10 + i as u32),
            Bytes::from(format!("bye {i}")),
        );
    }
    net.settle(Duration::from_millis(10));

    let key_log = keylog.0.lock().expect("key log lock").clone();
    let (d, packets) = decrypt_all(&key_log, &net.capture);
    for (i, p) in &packets {
        assert!(p.frames.is_ok(), "datagram {i}: {p}");
        assert!(p.connection.is_some(), "datagram {i}: {p}");
    }
    let info = d.connections();
    assert_eq!(info.len(), 3);
    // Connection indices follow the first Initials; map them back to clients.
    let by_client: HashMap<SocketAddr, usize> = info.iter().map(|c| (c.client, c.index)).collect();
    let s = streams(&packets);
    for (i, c) in clients.iter().enumerate() {
        let ci = by_client[c];
        let conn = &info[ci];
        assert_eq!(conn.suite, Some(suites[i]), "client {i}");
        assert!(conn.retry, "client {i}");
        assert_eq!(conn.server, srv);
        assert_eq!(conn.alpn.as_deref(), Some(&b"hq-test"[..]));
        // quinn's default max_idle_timeout, both sides.
        assert_eq!(conn.max_idle_timeout_ms, [Some(30_000), Some(30_000)]);
        assert_eq!(conn.idle_timeout_ms(), Some(30_000));
        let mut other = conn.clone();
        for (sides, idle) in [
            ([Some(0), Some(700)], Some(700)),
            ([Some(900), Some(700)], Some(700)),
            ([Some(0), Some(0)], None),
            ([None, Some(700)], None),
        ] {
            other.max_idle_timeout_ms = sides;
            assert_eq!(other.idle_timeout_ms(), idle, "{sides:?}");
        }
        let hello = format!("hello from client {i}").into_bytes();
        assert_eq!(
            s[&(ci, 0, Direction::ClientToServer)],
            (hello.clone(), true)
        );
        assert_eq!(
            s[&(ci, 0, Direction::ServerToClient)],
            ([b"re:".to_vec(), hello].concat(), true)
        );
        let close = Frame::ConnectionClose {
            application: true,
            code: 10 + i as u64,
            frame_type: None,
            reason: format!("bye {i}").into_bytes(),
        };
        let closes: Vec<_> = packets
            .iter()
            .filter(|(_, p)| {
                p.connection == Some(ci) && p.direction == Some(Direction::ClientToServer)
            })
            .filter_map(|(_, p)| p.frames.as_ref().ok())
            .flatten()
            .filter(|f| **f == close)
            .collect();
        assert!(!closes.is_empty(), "client {i}: no close");
    }
    let ku = by_client[&clients[1]];
    assert_eq!(
        s[&(ku, 4, Direction::ClientToServer)],
        (b"after the key update".to_vec(), true)
    );
    assert!(info[ku].key_updates[0] >= 1, "{:?}", info[ku]);
    assert!(packets
        .iter()
        .any(|(_, p)| p.connection == Some(ku) && p.key_phase == Some(true)));
    // Interleaved: the first datagrams of the three connections come before any completes.
    let firsts: Vec<usize> = (0..3)
        .map(|ci| {
            packets
                .iter()
                .find(|(_, p)| p.connection == Some(ci))
                .expect("connection seen")
                .0
        })
        .collect();
    let last_initial = packets
        .iter()
        .filter(|(_, p)| p.space == Space::Initial)
        .map(|(i, _)| *i)
        .max()
        .expect("an Initial");
    assert!(firsts.iter().all(|f| *f < last_initial));
    // Retry packets are in the capture and checked.
    assert_eq!(
        packets
            .iter()
            .filter(|(_, p)| p.space == Space::Retry)
            .count(),
        3
    );
}

#[test]
fn zero_rtt_resumption_decrypts() {
    let keylog = Arc::new(MemKeyLog::default());
    let srv: SocketAddr = "127.0.0.1:4433".parse().expect("address");
    let cli: SocketAddr = "127.0.0.1:5001".parse().expect("address");
    let (server, cert) = server_host(srv, keylog.clone(), false);
    let mut net = Net {
        now: Instant::now(),
        hosts: vec![server, client_host(cli)],
        queue: VecDeque::new(),
        capture: Vec::new(),
    };
    let cfg = client_config(CipherSuite::Aes128GcmSha256, keylog.clone(), &cert);
    connect(&mut net, cli, cfg.clone(), srv);
    net.settle(Duration::from_millis(50));
    send(&mut net, cli, b"first");
    net.settle(Duration::from_millis(50));
    let now = net.now;
    net.conn(cli).close(now, VarInt::from_u32(0), Bytes::new());
    net.settle(Duration::from_millis(10));
    net.hosts[1].conns.clear();
    // Second connection resumes; data written before the handshake completes goes in 0-RTT.
    connect(&mut net, cli, cfg, srv);
    assert!(net.conn(cli).has_0rtt(), "no 0-RTT ticket");
    send(&mut net, cli, b"early data");
    net.settle(Duration::from_millis(50));
    assert!(net.conn(cli).accepted_0rtt());

    let key_log = keylog.0.lock().expect("key log lock").clone();
    assert!(key_log.contains("CLIENT_EARLY_TRAFFIC_SECRET"));
    let (d, packets) = decrypt_all(&key_log, &net.capture);
    for (i, p) in &packets {
        assert!(p.frames.is_ok(), "datagram {i}: {p}");
    }
    assert_eq!(d.connections().len(), 2);
    let early: Vec<_> = packets
        .iter()
        .filter(|(_, p)| p.space == Space::ZeroRtt)
        .collect();
    assert!(!early.is_empty());
    assert!(early.iter().all(|(_, p)| p.connection == Some(1)));
    let s = streams(&packets);
    assert_eq!(
        s[&(1, 0, Direction::ClientToServer)],
        (b"early data".to_vec(), true)
    );
}

// ---------------------------------------------------------------------------------------------
// Arbitrary input never panics
// ---------------------------------------------------------------------------------------------

fn primed() -> (Decryptor, Vec<Datagram>) {
    let (key_log, datagrams) = demo();
    let (d, _) = decrypt_all(&key_log, &datagrams);
    (d, datagrams)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_datagrams_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..1500), who in 0u8..4, key_log in ".{0,200}") {
        let (key, datagrams) = demo();
        let (src, dst) = match who {
            0 => (datagrams[0].0, datagrams[0].1),
            1 => (datagrams[0].1, datagrams[0].0),
            _ => ("10.9.9.9:1".parse().expect("address"), "10.9.9.8:2".parse().expect("address")),
        };
        let mut d = Decryptor::new(&format!("{key_log}\n{key}"));
        for (s, t, p) in &datagrams[..3] {
            d.datagram(*s, *t, p);
        }
        let packets = d.datagram(src, dst, &payload);
        prop_assert!(covers(&packets, &payload));
        for p in &packets {
            let _ = p.to_string();
        }
        let _ = classify(&payload);
        let _ = handshake_quic::frame::parse_frames(&payload);
    }

    #[test]
    fn mutated_capture_never_panics(flips in proptest::collection::vec((0usize..17, any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in proptest::option::of((0usize..17, any::<prop::sample::Index>()))) {
        let (mut d, mut datagrams) = primed();
        for (i, at, x) in flips {
            let p = &mut datagrams[i].2;
            let j = at.index(p.len());
            p[j] ^= x;
        }
        if let Some((i, at)) = cut {
            let p = &mut datagrams[i].2;
            let j = at.index(p.len());
            p.truncate(j);
        }
        // Fresh and primed decryptors both survive.
        let mut fresh = Decryptor::new(&demo().0);
        for (s, t, p) in &datagrams {
            let a = d.datagram(*s, *t, p);
            let b = fresh.datagram(*s, *t, p);
            prop_assert!(covers(&a, p));
            prop_assert!(covers(&b, p));
        }
    }
}

/// The packets cover the datagram, but for trailing zero padding.
fn covers(packets: &[handshake_quic::Packet], payload: &[u8]) -> bool {
    let used: usize = packets.iter().map(|p| p.size).sum();
    used <= payload.len() && payload[used..].iter().all(|b| *b == 0)
}

#[test]
fn zero_padding_after_the_packets_is_not_a_packet() {
    let mut dec = handshake_quic::Decryptor::new("");
    let src: std::net::SocketAddr = "192.0.2.1:1".parse().expect("addr");
    let dst: std::net::SocketAddr = "192.0.2.2:2".parse().expect("addr");
    // A long-header packet that does not decrypt, then 100 zero bytes.
    let mut datagram = vec![0xc0, 0, 0, 0, 1, 0, 0, 0, 5, 1, 2, 3, 4, 5];
    datagram.extend_from_slice(&[0u8; 100]);
    let packets = dec.datagram(src, dst, &datagram);
    assert_eq!(packets.len(), 1, "{packets:?}");
    assert!(covers(&packets, &datagram));
}

#[test]
fn link_class_reads_the_type_bits_of_a_greased_header() {
    // Long header, fixed bit cleared (RFC 9287), QUIC v1, Handshake type, empty CIDs.
    let greased = [0xa0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
    assert_eq!(handshake_quic::classify(&greased), "other");
    assert_eq!(handshake_quic::link_class(&greased), "handshake");
}
