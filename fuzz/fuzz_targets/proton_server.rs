//! `proton_server`: see `handshake_proton::fuzzing::check_server_session` for the law it checks
//! (a scripted QUIC client against the reference server in virtual time, the capture judged; the
//! stable-toolchain corpus replay test runs the same function).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    handshake_proton::fuzzing::check_server_session(data);
});
