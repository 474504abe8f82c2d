//! `darktower_header`: see `handshake_darktower_wire::fuzzing::check_stream_header` for the law it checks (the
//! stable-toolchain corpus replay test runs the same function).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handshake_darktower_wire::fuzzing::check_stream_header(data);
});
