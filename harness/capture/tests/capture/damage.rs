//! Damaged files are read up to the damage; non-captures are refused at `open`.

use handshake_capture::{open, CaptureError, CaptureWriter};

use crate::util::{addr, eth_udp, pcap, pcap_record_offsets, rec, Ng};

fn frames() -> Vec<Vec<u8>> {
    (0..3u8)
        .map(|i| eth_udp(addr("10.0.0.1:1000"), addr("10.0.0.2:2000"), &[i; 100]))
        .collect()
}

/// Reads everything: the datagrams' payload first bytes, then the error if any.
fn drain(bytes: &[u8]) -> (Vec<u8>, Option<CaptureError>) {
    let mut reader = open(bytes).expect("open");
    let mut firsts = Vec::new();
    let mut error = None;
    for item in reader.by_ref() {
        match item {
            Ok(d) => firsts.push(d.payload.first().copied().unwrap_or_default()),
            Err(e) => {
                assert!(error.is_none(), "second error {e}");
                error = Some(e);
            }
        }
    }
    assert!(reader.next().is_none(), "iterator is fused");
    (firsts, error)
}

#[test]
fn pcap_cut_in_the_middle_of_a_record() {
    let frames = frames();
    let records: Vec<_> = frames.iter().map(|f| rec(0, f)).collect();
    let offsets = pcap_record_offsets(&records);
    let bytes = pcap(1, false, false, &records);
    // Cut 30 bytes into the third record's data.
    let cut = &bytes[..offsets[2] + 16 + 30];
    let (got, err) = drain(cut);
    assert_eq!(got, vec![0, 1]);
    match err {
        Some(CaptureError::Damaged {
            offset,
            packet_number,
            reason,
        }) => {
            assert_eq!(offset, offsets[2]);
            assert_eq!(packet_number, 3);
            assert!(reason.contains("cut short"), "{reason}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn pcap_cut_in_a_record_header() {
    let frames = frames();
    let records: Vec<_> = frames.iter().map(|f| rec(0, f)).collect();
    let offsets = pcap_record_offsets(&records);
    let bytes = pcap(1, false, false, &records);
    let (got, err) = drain(&bytes[..offsets[1] + 5]);
    assert_eq!(got, vec![0]);
    assert!(matches!(
        err,
        Some(CaptureError::Damaged { offset, packet_number: 2, .. }) if offset == offsets[1]
    ));
}

#[test]
fn pcap_record_with_absurd_length_is_damage() {
    let frames = frames();
    let records: Vec<_> = frames.iter().map(|f| rec(0, f)).collect();
    let offsets = pcap_record_offsets(&records);
    let mut bytes = pcap(1, false, false, &records);
    bytes[offsets[1] + 8..offsets[1] + 12].copy_from_slice(&0x00ff_ffffu32.to_le_bytes());
    let (got, err) = drain(&bytes);
    assert_eq!(got, vec![0]);
    assert!(matches!(
        err,
        Some(CaptureError::Damaged {
            packet_number: 2,
            ..
        })
    ));
}

#[test]
fn pcapng_cut_in_the_middle_of_a_block() {
    let frames = frames();
    let mut ng = Ng::new();
    ng.section(false).interface(1, None, None);
    let mut starts = Vec::new();
    for f in &frames {
        starts.push(ng.out.len());
        ng.epb(0, 0, f);
    }
    let (got, err) = drain(&ng.out[..starts[2] + 40]);
    assert_eq!(got, vec![0, 1]);
    match err {
        Some(CaptureError::Damaged {
            offset,
            packet_number,
            ..
        }) => {
            assert_eq!(offset, starts[2]);
            assert_eq!(packet_number, 3);
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn pcapng_block_length_mismatch_is_damage() {
    let frames = frames();
    let mut ng = Ng::new();
    ng.section(false).interface(1, None, None);
    ng.epb(0, 0, &frames[0]);
    let second = ng.out.len();
    ng.epb(0, 0, &frames[1]);
    let end = ng.out.len();
    ng.epb(0, 0, &frames[2]);
    // Corrupt the trailing length of the second block.
    ng.out[end - 4] ^= 0x40;
    let (got, err) = drain(&ng.out);
    assert_eq!(got, vec![0]);
    assert!(matches!(err, Some(CaptureError::Damaged { offset, .. }) if offset == second));
}

#[test]
fn pcapng_packet_for_missing_interface_is_damage() {
    let frames = frames();
    let mut ng = Ng::new();
    ng.section(false)
        .interface(1, None, None)
        .epb(0, 0, &frames[0])
        .epb(3, 0, &frames[1]);
    let (got, err) = drain(&ng.out);
    assert_eq!(got, vec![0]);
    match err {
        Some(CaptureError::Damaged {
            reason,
            packet_number: 2,
            ..
        }) => {
            assert!(reason.contains("interface 3"), "{reason}");
        }
        other => panic!("expected Damaged, got {other:?}"),
    }
}

#[test]
fn written_pcapng_truncated_anywhere_never_yields_more_than_written() {
    let mut writer = CaptureWriter::new(Vec::new())
        .expect("start")
        .with_mtu(Some(576));
    for i in 0..4u8 {
        let payload = vec![i; 300 + 400 * usize::from(i)];
        writer
            .write_datagram(
                u64::from(i),
                addr("10.0.0.1:1"),
                addr("10.0.0.2:2"),
                &payload,
                None,
            )
            .expect("write");
    }
    let bytes = writer.finish().expect("finish");
    for len in 0..bytes.len() {
        let Ok(reader) = open(&bytes[..len]) else {
            continue;
        };
        let mut ok = 0;
        let mut errors = 0;
        for item in reader {
            match item {
                Ok(_) => ok += 1,
                Err(_) => errors += 1,
            }
        }
        assert!(
            ok <= 4 && errors <= 1,
            "len {len}: {ok} datagrams, {errors} errors"
        );
    }
}

#[test]
fn empty_and_garbage_are_not_captures() {
    for input in [&b""[..], b"\x0a\x0d", b"<!DOCTYPE html><html>", &[0u8; 64]] {
        match open(input) {
            Err(err @ CaptureError::NotACapture { .. }) => {
                let text = err.to_string();
                assert!(text.starts_with("not a pcap or pcapng capture"), "{text}");
                if input.is_empty() {
                    assert!(text.contains("empty"), "{text}");
                } else {
                    assert!(text.contains(&format!("{:02x}", input[0])), "{text}");
                }
            }
            other => panic!("expected NotACapture, got {other:?}"),
        }
    }
}

#[test]
fn cut_file_header_is_damage_at_offset_zero() {
    let bytes = pcap(1, false, false, &[]);
    assert!(matches!(
        open(&bytes[..10]),
        Err(CaptureError::Damaged {
            offset: 0,
            packet_number: 1,
            ..
        })
    ));
    let mut ng = Ng::new();
    ng.section(false);
    assert!(matches!(
        open(&ng.out[..20]),
        Err(CaptureError::Damaged { offset: 0, .. })
    ));
    // A header alone is a valid, empty capture.
    assert_eq!(open(&bytes).expect("open").count(), 0);
    assert_eq!(open(&ng.out).expect("open").count(), 0);
}
