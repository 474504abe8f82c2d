#![forbid(unsafe_code)]

// Many small allocations per run (JSON values, transcript lines, captures): mimalloc is about
// twice as fast here as the system allocator (measured with `harness fuzz`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = handshake_harness::cli::main();
    // Key logs and certificates handed to IUTs: nothing stays in the temporary directory.
    handshake_scenario::external::manifest::remove_scratch_dir();
    std::process::exit(code);
}
