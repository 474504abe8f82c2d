//! cargo-fuzz target of the fuzz kit's Rust example: the decoder of `src/lib.rs` against the
//! reference (`handshake_mutator::decode`), fed by the kit's structure-aware mutator.
//!
//! `cargo +nightly fuzz run decoder KIT/mediastream.datagram/corpus -- -dict=KIT/mediastream.datagram/mediastream.datagram.dict`
#![no_main]

use handshake_mutator::WireFormat;
use libfuzzer_sys::{fuzz_crossover, fuzz_mutator, fuzz_target};

const FORMAT: &str = "mediastream.datagram";

fn format() -> &'static WireFormat {
    handshake_mutator::format(FORMAT).expect("the media stream's datagram format is built in")
}

fuzz_target!(|data: &[u8]| {
    let mine = rust_decoder::decode(data);
    let reference = handshake_mutator::decode(format(), data);
    assert_eq!(
        mine.is_ok(),
        reference.ok,
        "differential: this decoder says {mine:?}, the reference {}",
        handshake_mutator::verdict_json(&reference)
    );
});

// The kit's mutation: the format's field mutator where the input parses, tokens and havoc where not.
fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    handshake_mutator::mutate_in_place(format(), data, size, max_size, u64::from(seed))
});

fuzz_crossover!(|a: &[u8], b: &[u8], out: &mut [u8], seed: u32| {
    handshake_mutator::cross_over_into(format(), a, b, out, u64::from(seed))
});
