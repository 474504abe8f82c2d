//! `mediastream_roundtrip`: see `handshake_mediastream_wire::fuzzing::check_roundtrip` for the law it checks
//! (the stable-toolchain corpus replay test runs the same function).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handshake_mediastream_wire::fuzzing::check_roundtrip(data);
});
