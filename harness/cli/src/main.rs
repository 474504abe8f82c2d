#![forbid(unsafe_code)]

// Many small allocations per run (JSON values, transcript lines, captures): mimalloc is about
// twice as fast here as the system allocator (measured with `harness fuzz`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = std::panic::catch_unwind(|| {
        handshake_harness::cli::main(&handshake_harness::families::REGISTRY)
    });
    // Responders kept running between runs end with the harness, even after a panic (they are
    // one pool for all threads: no thread's end takes them along).
    handshake_scenario::external::ExternalIut::forget_all_kept();
    // Key logs and certificates handed to IUTs: nothing stays in the temporary directory.
    handshake_scenario::external::manifest::remove_scratch_dir();
    match code {
        Ok(code) => std::process::exit(code),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
