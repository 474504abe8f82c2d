//! Compiles `proto/*.proto` into prost types. protox (pure Rust) parses the files into a
//! FileDescriptorSet, so no `protoc` binary is needed; prost-build generates the code from it.

use std::error::Error;

const PROTOS: [&str; 2] = ["proto/signaling.proto", "proto/media.proto"];

/// The wrappers' oneofs, whose case names the verdicts give.
const ONEOFS: [&str; 4] = [
    ".dark_tower.signaling.ClientMessage.message",
    ".dark_tower.signaling.ServerMessage.message",
    ".dark_tower.media.MediaClientMessage.message",
    ".dark_tower.media.MediaServerMessage.message",
];

/// Fields shown other than as their Rust type: bytes as hex, enums by name.
const SERIALIZE_WITH: [(&str, &str); 5] = [
    (
        ".dark_tower.signaling.EncryptionKeys.public_key",
        "hex_bytes",
    ),
    (
        ".dark_tower.signaling.MediaStream.stream_type",
        "stream_type",
    ),
    (
        ".dark_tower.signaling.PublishStream.stream_type",
        "stream_type",
    ),
    (
        ".dark_tower.signaling.ParticipantLeft.reason",
        "leave_reason",
    ),
    (".dark_tower.signaling.ErrorMessage.code", "error_code"),
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let descriptors = protox::compile(PROTOS, ["proto"])?;
    let mut config = prost_build::Config::new();
    config
        // Maps as BTreeMap: deterministic encoding order, so re-encoding is a fixed point.
        .btree_map(["."])
        .type_attribute(
            ".",
            "#[cfg_attr(feature = \"arbitrary\", derive(arbitrary::Arbitrary))]",
        )
        // The fuzz kit's verdicts show a decoded message as JSON: its oneof case in snake_case,
        // bytes as hex, enum values by name.
        .type_attribute(
            ".",
            "#[cfg_attr(feature = \"formats\", derive(serde::Serialize))]",
        );
    for oneof in ONEOFS {
        config.type_attribute(
            oneof,
            "#[cfg_attr(feature = \"formats\", serde(rename_all = \"snake_case\"))]",
        );
    }
    for (field, with) in SERIALIZE_WITH {
        config.field_attribute(
            field,
            format!("#[cfg_attr(feature = \"formats\", serde(serialize_with = \"crate::formats::json::{with}\"))]"),
        );
    }
    config.compile_fds(descriptors)?;
    Ok(())
}
