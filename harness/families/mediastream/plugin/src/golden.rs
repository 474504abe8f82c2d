//! Golden captures (`pcaps/mediastream/`): one clean capture per interop pair, and one capture per
//! checker rule that breaks exactly that rule. They are generated here, deterministically; a test
//! regenerates them, compares them with the committed files, and asserts the checker's exact verdict.

use std::net::SocketAddr;

use handshake_capture::CaptureWriter;
use handshake_mediastream_wire::{
    pattern_slice, ConnectionId, ControlRepr, DataRepr, Datagram, FragmentPlan,
};

use crate::pair::{initiator_addr, responder_addr};

/// Capture time of virtual time zero: 2026-01-01T00:00:00Z.
pub const EPOCH_NS: u64 = handshake_core::EPOCH_NS;

/// One golden capture.
#[derive(Debug, Clone)]
pub struct Golden {
    /// File stem under `pcaps/mediastream/`.
    pub name: String,
    /// What it shows.
    pub description: String,
    /// `harness check` arguments besides the file (profile and stream options).
    pub check_args: Vec<String>,
    /// The rule it breaks (`None`: the capture is clean).
    pub breaks: Option<&'static str>,
    /// Rules it cannot help breaking too (what leads up to its rule: the SYN of another version
    /// a responder must not accept is itself malformed).
    pub also: Vec<&'static str>,
    /// The pcapng bytes.
    pub bytes: Vec<u8>,
}

/// A scripted exchange: packets with their time, direction, bytes and optional harness comment.
#[derive(Debug, Clone, Default)]
struct Script {
    packets: Vec<(u64, bool, Vec<u8>, Option<&'static str>)>,
}

const M: u64 = 1400;

fn id_a() -> ConnectionId {
    ConnectionId::from_uuid_bytes([0x5a; 16])
}

fn id_b() -> ConnectionId {
    ConnectionId::from_uuid_bytes([0xb7; 16])
}

impl Script {
    /// `at_us` microseconds after the start; `from_initiator` gives the direction.
    fn push(&mut self, at_us: u64, from_initiator: bool, bytes: Vec<u8>) -> &mut Self {
        self.packets.push((at_us, from_initiator, bytes, None));
        self
    }

    /// Frames as [`frames`](Self::frames), sent by the initiator (push).
    fn pushed_frames(&mut self, start_us: u64, first: u64, last: u64) -> &mut Self {
        let start = self.packets.len();
        self.frames(start_us, first, last, F, &plan, &same);
        for p in &mut self.packets[start..] {
            p.1 = true;
        }
        self
    }

    /// Frames `first..=last` of `frame_size` bytes from `start_us`, 10 ms apart, cut by `sizes_of`.
    fn frames(
        &mut self,
        start_us: u64,
        first: u64,
        last: u64,
        frame_size: u64,
        sizes_of: &dyn Fn(u64) -> Vec<u64>,
        seq_of: &dyn Fn(u64) -> u64,
    ) -> &mut Self {
        let mut qpc = 1000;
        for k in first..=last {
            let at = start_us + (k - first) * 10_000;
            for len in sizes_of(frame_size) {
                qpc += 1;
                self.push(at, false, data(seq_of(k), qpc, len));
            }
        }
        self
    }

    fn to_pcapng(&self) -> Vec<u8> {
        let (i, r): (SocketAddr, SocketAddr) = (initiator_addr(), responder_addr());
        let mut ordered = self.packets.clone();
        ordered.sort_by_key(|p| p.0);
        let mut writer = match CaptureWriter::new(Vec::new()) {
            Ok(w) => w,
            Err(_) => return Vec::new(),
        };
        for (at_us, from_initiator, bytes, comment) in &ordered {
            let (src, dst) = if *from_initiator { (i, r) } else { (r, i) };
            if writer
                .write_datagram(EPOCH_NS + at_us * 1000, src, dst, bytes, *comment)
                .is_err()
            {
                return Vec::new();
            }
        }
        writer.finish().unwrap_or_default()
    }
}

fn plan(frame_size: u64) -> Vec<u64> {
    FragmentPlan::new(frame_size, M)
        .map(|p| p.iter().map(|d| d.len).collect())
        .unwrap_or_default()
}

fn data(seq: u64, qpc: u64, len: u64) -> Vec<u8> {
    let payload_len = usize::try_from(len).unwrap_or(26).saturating_sub(26);
    Datagram::Data(DataRepr {
        seq,
        qpc,
        qpf: 10_000_000,
        payload: pattern_slice(0, payload_len),
    })
    .to_vec()
}

fn control(repr: ControlRepr<'static>) -> Vec<u8> {
    Datagram::Control(repr).to_vec()
}

fn syn() -> Vec<u8> {
    control(ControlRepr::syn(ConnectionId::ZERO))
}

/// A control frame with option bytes after its 67 bytes.
fn with_options(mut control: Vec<u8>, options: &[u8]) -> Vec<u8> {
    control.extend_from_slice(options);
    control
}

fn cid(id: ConnectionId) -> Vec<u8> {
    Datagram::ConnectionId(id).to_vec()
}

const FRAMES: u64 = 20;
const F: u64 = 2801;

fn same(seq: u64) -> u64 {
    seq
}

/// A clean 3-way exchange: SYN, SYN-ACK, ACK, CONNECTION_ID, 20 frames of 2801 bytes.
fn three_way() -> Script {
    let mut s = Script::default();
    s.push(0, true, syn())
        .push(200, false, control(ControlRepr::syn_ack_accept(id_a())))
        .push(400, true, control(ControlRepr::ack(id_a())))
        .push(600, false, cid(id_a()))
        .frames(600, 1, FRAMES, F, &plan, &same);
    s
}

/// A clean legacy exchange: START, CONNECTION_ID, 20 frames.
fn legacy() -> Script {
    let mut s = Script::default();
    s.push(0, true, b"START".to_vec())
        .push(200, false, cid(id_a()))
        .frames(200, 1, FRAMES, F, &plan, &same);
    s
}

fn golden(
    name: &str,
    description: &str,
    profile: &str,
    breaks: Option<&'static str>,
    script: &Script,
) -> Golden {
    Golden {
        name: name.to_owned(),
        description: description.to_owned(),
        check_args: vec!["--profile".into(), profile.into()],
        breaks,
        also: Vec::new(),
        bytes: script.to_pcapng(),
    }
}

/// The per-rule captures (and the two clean bases they are made from).
pub fn rule_captures() -> Vec<Golden> {
    let mut out = vec![
        golden(
            "clean_3way_scripted",
            "A clean scripted 3-way exchange: the base of the 3way rule captures.",
            "3way",
            None,
            &three_way(),
        ),
        golden(
            "clean_legacy_scripted",
            "A clean scripted legacy exchange: the base of the legacy rule captures.",
            "legacy",
            None,
            &legacy(),
        ),
    ];

    let mut s = three_way();
    s.push(55_000, false, vec![0x02, 0x00, 0xff]);
    out.push(golden(
        "rule_wire_well_formed",
        "The responder sends a 3-byte datagram with the unknown flag 0x0002 between frames.",
        "3way",
        Some("mediastream.wire.well_formed"),
        &s,
    ));

    let mut s = three_way();
    s.push(
        300,
        true,
        with_options(control(ControlRepr::ack(id_a())), &[5, 16, 0, 1, 2]),
    );
    out.push(golden(
        "rule_wire_tlv_options",
        "Before its ACK the initiator sends one whose option (type 5, length 16) runs past the end (D14.tlv, a profile decision: a deviation).",
        "3way",
        Some("mediastream.wire.tlv_options"),
        &s,
    ));

    let mut s = three_way();
    let mut bad_syn = syn();
    bad_syn[2] = 7;
    s.packets[0].2 = bad_syn;
    out.push(golden(
        "rule_3way_control_zero_fields",
        "The SYN carries sequence number 7 in its header.",
        "3way",
        Some("mediastream.3way.control_zero_fields"),
        &s,
    ));

    let mut s = three_way();
    s.packets[1].3 = Some("not delivered: dropped by harness: rule 1");
    s.push(300, false, control(ControlRepr::syn_ack_accept(id_a())));
    s.packets.retain(|p| p.0 != 400 || !p.1);
    s.push(250, true, control(ControlRepr::ack(id_a())));
    s.push(400, true, control(ControlRepr::ack(id_a())));
    out.push(golden("rule_3way_order", "The first SYN-ACK is lost, yet the initiator sends an ACK before the re-sent SYN-ACK arrives.", "3way", Some("mediastream.3way.order"), &s));

    let reason = ConnectionId::from_text_truncated("busy: try later");
    let mut s = Script::default();
    s.push(0, true, syn())
        .push(
            200,
            false,
            control(ControlRepr::syn_ack_reject("busy: try later")),
        )
        .push(400, true, control(ControlRepr::ack(reason)));
    out.push(golden(
        "rule_3way_no_ack_after_reject",
        "The initiator answers a rejecting SYN-ACK with an ACK (D5.repeat, a profile decision: a deviation).",
        "3way",
        Some("mediastream.3way.no_ack_after_reject"),
        &s,
    ));

    let mut s = Script::default();
    s.push(0, true, syn())
        .push(200, false, cid(id_a()))
        .frames(200, 1, FRAMES, F, &plan, &same);
    out.push(golden(
        "rule_3way_no_media_before_syn_ack",
        "A responder answers the SYN with CONNECTION_ID and media, never a SYN-ACK.",
        "3way",
        Some("mediastream.3way.no_media_before_syn_ack"),
        &s,
    ));

    let mut s = Script::default();
    s.push(0, true, syn())
        .push(200, false, control(ControlRepr::syn_ack_accept(id_a())))
        .push(300, false, cid(id_a()))
        .frames(300, 1, FRAMES, F, &plan, &same)
        .push(400, true, control(ControlRepr::ack(id_a())));
    out.push(golden(
        "rule_3way_no_media_before_ack",
        "A non-optimistic responder streams right after its SYN-ACK; the ACK comes later (D6.no_media_before_ack, a profile decision: a deviation).",
        "3way",
        Some("mediastream.3way.no_media_before_ack"),
        &s,
    ));

    let mut s = three_way();
    s.push(300, true, control(ControlRepr::ack(id_b())));
    out.push(golden(
        "rule_3way_ack_echoes_id",
        "The initiator first ACKs an id the SYN-ACK never assigned, then the right one.",
        "3way",
        Some("mediastream.3way.ack_echoes_id"),
        &s,
    ));

    let mut s = three_way();
    for p in &mut s.packets {
        p.0 += 1_000_000;
    }
    s.push(0, true, syn()).push(500_000, true, syn());
    out.push(golden(
        "rule_3way_syn_resends_back_off",
        "SYNs at 0, 500 and 1000 ms: the re-sends do not back off (D2).",
        "3way",
        Some("mediastream.3way.syn_resends_back_off"),
        &s,
    ));

    let mut s = three_way();
    for p in &mut s.packets {
        p.0 += 900_000;
    }
    s.push(0, true, syn()).push(300_000, true, syn());
    out.push(golden(
        "rule_3way_syn_backoff",
        "SYNs at 0, 300 and 900 ms: backing off, but not at D2's values (0, 500, 1500; a profile decision: a deviation).",
        "3way",
        Some("mediastream.3way.syn_backoff"),
        &s,
    ));

    let mut s = three_way();
    s.push(300, true, syn())
        .push(350, false, control(ControlRepr::syn_ack_accept(id_b())));
    out.push(golden(
        "rule_3way_syn_ack_idempotent",
        "A repeated SYN gets a SYN-ACK with a new id (D3.idempotent, a profile decision: a deviation).",
        "3way",
        Some("mediastream.3way.syn_ack_idempotent"),
        &s,
    ));

    // A SYN of version 2, accepted.
    let mut s = Script::default();
    let mut v2 = syn();
    v2[26] = 2;
    s.push(0, true, v2)
        .push(200, false, control(ControlRepr::syn_ack_accept(id_a())));
    let mut g = golden(
        "rule_3way_version_validated",
        "A responder accepts a SYN of version 2 (D4.version); the SYN itself is malformed.",
        "3way",
        Some("mediastream.3way.version_validated"),
        &s,
    );
    g.also.push("mediastream.wire.well_formed");
    out.push(g);

    // A SYN-ACK of version 2, ACKed.
    let mut s = Script::default();
    let mut v2 = control(ControlRepr::syn_ack_accept(id_a()));
    v2[26] = 2;
    s.push(0, true, syn())
        .push(200, false, v2)
        .push(400, true, control(ControlRepr::ack(id_a())));
    let mut g = golden(
        "rule_3way_no_ack_to_dropped_syn_ack",
        "The initiator ACKs a SYN-ACK of version 2 (D11.kinds, a profile decision: a deviation); the SYN-ACK itself is malformed.",
        "3way",
        Some("mediastream.3way.no_ack_to_dropped_syn_ack"),
        &s,
    );
    g.also.push("mediastream.wire.well_formed");
    out.push(g);

    // An ACK with another id, then media.
    let mut s = Script::default();
    s.push(0, true, syn())
        .push(200, false, control(ControlRepr::syn_ack_accept(id_a())))
        .push(400, true, control(ControlRepr::ack(id_b())))
        .push(600, false, cid(id_a()))
        .frames(600, 1, FRAMES, F, &plan, &same);
    let mut g = golden(
        "rule_3way_ack_id_verified",
        "A responder not started optimistic streams after an ACK confirming another id (D6); the ACK itself does not echo the id, and the media comes before a right ACK (D6.no_media_before_ack, a deviation).",
        "3way",
        Some("mediastream.3way.ack_id_verified"),
        &s,
    );
    g.also.extend([
        "mediastream.3way.ack_echoes_id",
        "mediastream.3way.no_media_before_ack",
    ]);
    out.push(g);

    let mut s = Script::default();
    s.push(0, true, b"START".to_vec());
    s.packets
        .extend(three_way().packets.into_iter().map(|mut p| {
            p.0 += 100;
            p
        }));
    let mut g = golden(
        "rule_3way_opens_with_syn",
        "A 3-way initiator sends a START before its first SYN (D1).",
        "3way",
        Some("mediastream.3way.opens_with_syn"),
        &s,
    );
    g.check_args
        .extend(["--initiator-profile".into(), "3way".into()]);
    out.push(g);

    // 20 frames of 2801 bytes 10 ms apart: 2,240,800 bit/s at 100 frames/s, re-sends every 510 ms.
    let mut s = Script::default();
    s.push(0, true, b"START".to_vec())
        .push(100_000, true, b"START".to_vec())
        .push(100_200, false, cid(id_a()))
        .frames(100_200, 1, FRAMES, F, &plan, &same);
    let mut g = golden(
        "rule_legacy_start_resends",
        "A legacy initiator re-sends its START after 100 ms, not trunc(1000/100)+500 = 510 ms.",
        "legacy",
        Some("mediastream.legacy.start_resends"),
        &s,
    );
    g.check_args.extend(
        [
            "--initiator-profile",
            "legacy",
            "--bits-per-second",
            "2240800",
            "--frame-rate",
            "100",
            "--stream-length",
            "1",
            "--direction",
            "pull",
        ]
        .map(String::from),
    );
    out.push(g);

    let mut s = legacy();
    s.push(100, false, control(ControlRepr::syn_ack_accept(id_a())));
    out.push(golden(
        "rule_legacy_no_control_frames",
        "A responder answers a legacy START with a SYN-ACK before serving it (D9.as_legacy, a profile decision: a deviation).",
        "3way+allow_legacy_start",
        Some("mediastream.legacy.no_control_frames"),
        &s,
    ));

    let mut s = legacy();
    s.push(30_000, false, cid(id_a()));
    out.push(golden(
        "rule_media_connection_id_first_once",
        "The legacy responder repeats CONNECTION_ID between frames.",
        "legacy",
        Some("mediastream.media.connection_id_first_once"),
        &s,
    ));

    let mut s = three_way();
    s.push(55_000, true, data(6, 9, 500));
    out.push(golden(
        "rule_media_one_direction",
        "In a pull session the initiator sends a DATA datagram between the responder's frames.",
        "3way",
        Some("mediastream.media.one_direction"),
        &s,
    ));

    let mut s = Script::default();
    s.push(0, true, syn())
        .push(200, false, control(ControlRepr::syn_ack_accept(id_a())))
        .push(400, true, control(ControlRepr::ack(id_a())))
        .pushed_frames(600, 1, FRAMES)
        .push(55_000, false, data(6, 9, 500));
    let mut g = golden(
        "rule_3way_push_one_direction",
        "In a 3-way push session the receiving responder sends a DATA datagram between the initiator's frames (D15, a profile decision: a deviation).",
        "3way",
        Some("mediastream.3way.push_one_direction"),
        &s,
    );
    g.check_args
        .extend(["--direction", "push"].map(String::from));
    out.push(g);

    let mut s = three_way();
    s.push(55_000, false, cid(id_a()));
    out.push(golden(
        "rule_3way_connection_id_once",
        "A 3-way responder repeats its CONNECTION_ID mid-stream (a profile rule: a deviation, not a failure).",
        "3way",
        Some("mediastream.3way.connection_id_once"),
        &s,
    ));

    let mut s = Script::default();
    s.push(0, true, syn())
        .push(200, false, control(ControlRepr::syn_ack_accept(id_a())))
        .push(400, true, control(ControlRepr::ack(id_a())))
        .push(500, false, cid(id_a()))
        .pushed_frames(600, 1, FRAMES);
    let mut g = golden(
        "rule_3way_push_no_connection_id",
        "A 3-way push responder sends a CONNECTION_ID after the ACK (D15, a profile decision: none in 3-way push; a deviation).",
        "3way",
        Some("mediastream.3way.push_no_connection_id"),
        &s,
    );
    g.check_args
        .extend(["--direction", "push"].map(String::from));
    out.push(g);

    // A legacy push sender that does not wait for the CONNECTION_ID.
    let mut s = Script::default();
    s.push(0, true, b"START".to_vec())
        .pushed_frames(100, 1, FRAMES)
        .push(300_000, false, cid(id_a()));
    let mut g = golden(
        "rule_push_media_after_connection_id",
        "A legacy push initiator streams right after its START, before the responder's CONNECTION_ID (push.initiator, as coded).",
        "legacy",
        Some("mediastream.push.media_after_connection_id"),
        &s,
    );
    g.also.push("mediastream.media.connection_id_first_once");
    g.check_args
        .extend(["--direction", "push"].map(String::from));
    out.push(g);

    let mut s = three_way();
    s.packets[3].2 = cid(id_b());
    out.push(golden(
        "rule_3way_connection_id_matches",
        "The CONNECTION_ID after the ACK carries an id other than the assigned one.",
        "3way",
        Some("mediastream.3way.connection_id_matches"),
        &s,
    ));

    let mut s = Script::default();
    s.push(0, true, b"START".to_vec())
        .push(200, false, cid(id_a()))
        .frames(200, 1, FRAMES, F, &plan, &|k| k - 1);
    out.push(golden(
        "rule_media_seq_from_1",
        "Sequence numbers start at 0.",
        "legacy",
        Some("mediastream.media.seq_from_1"),
        &s,
    ));

    let mut s = Script::default();
    s.push(0, true, b"START".to_vec())
        .push(200, false, cid(id_a()))
        .frames(200, 1, FRAMES, F, &|_| vec![1400, 1375, 26], &same);
    out.push(golden(
        "rule_media_fragmentation",
        "2801-byte frames cut as 1400 + 1375 + 26: a header-only tail instead of the 27-byte rule.",
        "legacy",
        Some("mediastream.media.fragmentation"),
        &s,
    ));

    let mut s = legacy();
    // Packet 8 is frame 3's first (1400-byte) datagram.
    if let Some(p) = s.packets.get_mut(8) {
        if let Some(b) = p.2.get_mut(100) {
            *b ^= 0x55;
        }
    }
    out.push(golden(
        "rule_media_payload_pattern",
        "One payload byte differs from the fill pattern.",
        "legacy",
        Some("mediastream.media.payload_pattern"),
        &s,
    ));

    let mut s = legacy();
    let mut big = cid(id_a());
    big.resize(1500, 0);
    s.packets[1].2 = big;
    out.push(golden(
        "rule_media_max_datagram_size",
        "A 1500-byte CONNECTION_ID (trailing bytes are legal, the size is not).",
        "legacy",
        Some("mediastream.media.max_datagram_size"),
        &s,
    ));

    let mut s = legacy();
    s.frames(
        200 + FRAMES * 10_000,
        FRAMES + 1,
        FRAMES + 1,
        F,
        &plan,
        &same,
    );
    let mut g = golden(
        "rule_media_nothing_after_last_frame",
        "A stream declared as 1 s at 20 frames/s (20 frames) sends a 21st frame.",
        "legacy",
        Some("mediastream.media.nothing_after_last_frame"),
        &s,
    );
    g.check_args
        .extend(["--frame-rate", "20", "--stream-length", "1"].map(String::from));
    out.push(g);

    // Type 5 (max datagram bytes) = 300, requested and accepted.
    let max_300 = [5, 4, 0, 0x2c, 0x01, 0, 0];
    let mut s = three_way();
    // SYN, SYN-ACK, ACK, CONNECTION_ID and two frames of three datagrams.
    s.packets.truncate(10);
    s.packets[0].2 = with_options(syn(), &max_300);
    s.packets[1].2 = with_options(control(ControlRepr::syn_ack_accept(id_a())), &max_300);
    out.push(golden(
        "rule_media_accepted_parameters",
        "The SYN-ACK accepts 300-byte datagrams (D14 option type 5), yet two frames go out in 1400-byte datagrams (D14.tlv, a profile decision: a deviation).",
        "3way",
        Some("mediastream.media.accepted_parameters"),
        &s,
    ));
    out
}

/// One clean capture per interop pair (from the initiator's side), judged against the responder's
/// profile with the stream's parameters.
pub fn pair_captures(
    matrix: &handshake_interop::matrix::MatrixFile<crate::MediaStream>,
) -> Vec<Golden> {
    let mut out = Vec::new();
    for cell in &matrix.cells {
        let (Ok(i), Ok(r)) = (
            handshake_mediastream_endpoint::Profile::parse(&cell.initiator),
            handshake_mediastream_endpoint::Profile::parse(&cell.responder),
        ) else {
            continue;
        };
        let link = handshake_net::VirtualLink::new(handshake_net::LinkConfig::with_seed(1));
        let Ok(run) = crate::pair::run_pair(i, r, matrix.setup.stream, link, 1) else {
            continue;
        };
        let name = format!(
            "pair_{}__{}",
            cell.initiator.replace('+', "_"),
            cell.responder.replace('+', "_")
        );
        let s = matrix.setup.stream;
        out.push(Golden {
            name,
            description: format!(
                "{} initiator, {} responder, no faults: {}",
                cell.initiator, cell.responder, cell.why
            ),
            check_args: [
                "--profile",
                &cell.responder,
                "--bits-per-second",
                &s.bits_per_second.to_string(),
                "--frame-rate",
                &s.frame_rate.to_string(),
                "--stream-length",
                &s.stream_length_secs.to_string(),
                "--datagram-byte-size",
                &s.datagram_byte_size.to_string(),
            ]
            .map(String::from)
            .to_vec(),
            breaks: None,
            also: Vec::new(),
            bytes: run.capture(initiator_addr()).unwrap_or_default(),
        });
    }
    out
}
