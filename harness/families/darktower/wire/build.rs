//! Compiles `proto/*.proto` into prost types. protox (pure Rust) parses the files into a
//! FileDescriptorSet, so no `protoc` binary is needed; prost-build generates the code from it.

use std::error::Error;

const PROTOS: [&str; 2] = ["proto/signaling.proto", "proto/media.proto"];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    prost_build::Config::new()
        // Maps as BTreeMap: deterministic encoding order, so re-encoding is a fixed point.
        .btree_map(["."])
        .type_attribute(
            ".",
            "#[cfg_attr(feature = \"arbitrary\", derive(arbitrary::Arbitrary))]",
        )
        .compile_fds(descriptors)?;
    Ok(())
}
