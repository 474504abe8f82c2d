//! Property tests of the codec laws, over the same `Arbitrary` types and check bodies as the fuzz
//! targets (arbtest: a few thousand random cases per run, seeds printed on failure).

use arbitrary::Arbitrary;
use handshake_mediastream_wire::{fuzzing, Datagram, Mode, OwnedDatagram};

/// parse ∘ emit = id over arbitrary owned datagrams.
#[test]
fn emit_then_parse_is_identity() {
    arbtest::arbtest(|u| {
        let data = u.bytes(u.len())?;
        fuzzing::check_roundtrip(data);
        Ok(())
    })
    .budget_ms(800);
}

/// Arbitrary bytes never panic; whatever parses re-emits to a fixed point.
#[test]
fn arbitrary_bytes_parse_or_fail_cleanly() {
    arbtest::arbtest(|u| {
        let data = u.bytes(u.len().min(200))?;
        fuzzing::check_parse(data);
        fuzzing::check_tlv_options(data);
        Ok(())
    })
    .budget_ms(800);
}

/// Valid datagrams with random bytes changed or cut: reaches the deep branches random bytes rarely hit.
#[test]
fn mutated_valid_datagrams_parse_or_fail_cleanly() {
    arbtest::arbtest(|u| {
        let owned = OwnedDatagram::arbitrary(u)?;
        let mut bytes = owned.to_vec();
        for _ in 0..u.int_in_range(0..=3)? {
            if bytes.is_empty() {
                break;
            }
            let at = u.choose_index(bytes.len())?;
            bytes[at] = u.arbitrary()?;
        }
        let keep = u.int_in_range(0..=bytes.len())?;
        bytes.truncate(keep);
        fuzzing::check_parse(&bytes);
        Ok(())
    })
    .budget_ms(800);
}

/// Every cut of a valid datagram shorter than its kind's minimum is `TooShort`, never another value.
#[test]
fn every_truncation_below_the_minimum_is_too_short() {
    arbtest::arbtest(|u| {
        let owned = OwnedDatagram::arbitrary(u)?;
        let datagram = owned.as_datagram();
        if datagram == Datagram::Start {
            return Ok(());
        }
        let bytes = datagram.to_vec();
        let min = datagram.kind().min_len();
        for cut in 0..min {
            let result = Datagram::parse(&bytes[..cut], Mode::ThreeWayOnly);
            assert!(
                matches!(
                    result,
                    Err(handshake_mediastream_wire::Error::TooShort { .. })
                ),
                "{:?} cut to {cut}: {result:?}",
                datagram.kind()
            );
        }
        Ok(())
    })
    .budget_ms(500);
}
