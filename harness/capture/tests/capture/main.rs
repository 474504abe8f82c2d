//! Integration tests of the public reader / writer API.

mod damage;
mod link_types;
mod props;
mod roundtrip;
mod skips;
mod util;
