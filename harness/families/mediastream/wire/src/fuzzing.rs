//! The bodies of the fuzz targets, shared with the stable-toolchain corpus replay test so CI runs the
//! very checks the fuzzer runs. Each panics (the fuzzer's crash signal) when a law is broken.

use arbitrary::{Arbitrary, Unstructured};

use super::{Datagram, Mode, Options, OwnedDatagram};

/// `mediastream_parse`: arbitrary bytes never panic in either mode; whatever parses re-emits to bytes
/// that parse to the same value, and re-emitting those is a fixed point.
pub fn check_parse(data: &[u8]) {
    for mode in Mode::ALL {
        let _ = super::classify(data, mode);
        let Ok(datagram) = Datagram::parse(data, mode) else {
            continue;
        };
        assert_eq!(super::classify(data, mode), Ok(datagram.kind()));
        let emitted = datagram.to_vec();
        assert_eq!(emitted.len(), datagram.buffer_len());
        let reparsed = Datagram::parse(&emitted, mode);
        assert_eq!(reparsed, Ok(datagram), "emit then parse changed the value");
        // Canonical bytes: a second emission is identical.
        assert_eq!(datagram.to_vec(), emitted);
        let _ = datagram.to_string();
    }
}

/// `mediastream_roundtrip`: an arbitrary owned datagram emits, parses back equal, and its bytes are
/// the emitted ones (`START` needs the legacy-accepting mode).
pub fn check_roundtrip(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(owned) = OwnedDatagram::arbitrary(&mut u) else {
        return;
    };
    let datagram = owned.as_datagram();
    let bytes = datagram.to_vec();
    let parsed = Datagram::parse(&bytes, Mode::LegacyAccepting);
    assert_eq!(parsed, Ok(datagram), "parse(emit(r)) != r");
    if datagram != Datagram::Start {
        assert_eq!(Datagram::parse(&bytes, Mode::ThreeWayOnly), Ok(datagram));
    }
    assert_eq!(parsed.map(OwnedDatagram::from), Ok(owned));
}

/// `tlv_options`: arbitrary option bytes never panic; a valid list re-encodes to the same bytes, option
/// by option, and iterating it yields each TLV once.
pub fn check_tlv_options(data: &[u8]) {
    let Ok(options) = Options::parse(data) else {
        return;
    };
    let list: Vec<_> = options.iter().collect();
    let mut encoded = vec![0; super::options_len(&list)];
    let written = super::emit_options(&list, &mut encoded);
    assert_eq!(written, Ok(data.len()));
    assert_eq!(encoded, data, "TLV re-encoding differs");
}
