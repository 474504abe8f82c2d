#![forbid(unsafe_code)]

// Many small allocations per run (JSON values, transcript lines, captures): mimalloc is about
// twice as fast here as the system allocator (measured with `harness fuzz`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(handshake_harness::cli::main());
}
