//! Integration tests of the public reader / writer API.

mod comments;
mod damage;
mod fast_path;
mod link_types;
mod live;
mod props;
mod roundtrip;
mod secrets;
mod skips;
mod stream;
mod trace;
mod util;
