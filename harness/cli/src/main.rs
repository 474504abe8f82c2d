#![forbid(unsafe_code)]

fn main() {
    std::process::exit(handshake_harness::cli::main());
}
