//! How the protobuf messages' fields show in a verdict where their Rust type says too little:
//! bytes as hex, enum values by name (a value outside the enum as its number). `build.rs` names
//! these functions in the generated types' serde attributes.

use serde::Serializer;

use crate::proto::signaling::{ErrorCode, LeaveReason, StreamType};

/// `bytes` fields as lowercase hex.
#[allow(clippy::ptr_arg)] // serde's `serialize_with` hands the field's own type.
pub fn hex_bytes<S: Serializer>(bytes: &Vec<u8>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&super::hex(bytes))
}

/// A `StreamType` by name.
pub fn stream_type<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    match StreamType::try_from(*value) {
        Ok(v) => s.serialize_str(v.as_str_name()),
        Err(_) => s.serialize_i32(*value),
    }
}

/// A `LeaveReason` by name.
pub fn leave_reason<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    match LeaveReason::try_from(*value) {
        Ok(v) => s.serialize_str(v.as_str_name()),
        Err(_) => s.serialize_i32(*value),
    }
}

/// An `ErrorCode` by name.
pub fn error_code<S: Serializer>(value: &i32, s: S) -> Result<S::Ok, S::Error> {
    match ErrorCode::try_from(*value) {
        Ok(v) => s.serialize_str(v.as_str_name()),
        Err(_) => s.serialize_i32(*value),
    }
}
