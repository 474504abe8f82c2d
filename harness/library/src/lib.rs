//! The libraries the `harness` binary carries, so that an installed harness works from any
//! directory: every family's scenarios, the reference profiles' expectations, the interop
//! matrices and fault profiles, and the JSON Schemas. They are a copy of the repository's
//! `vectors/{scenarios,expectations,interop,schema}` (the source of truth), inside this crate so
//! that it can be packaged; `tests/in_step.rs` fails when the copy and `vectors/` differ, and
//! `make library` copies them again.
#![forbid(unsafe_code)]

use include_dir::include_dir;
pub use include_dir::Dir;

/// The built-in folders, by their name under `vectors/`.
pub static PARTS: [(&str, Dir<'static>); 4] = [
    (
        "scenarios",
        include_dir!("$CARGO_MANIFEST_DIR/vectors/scenarios"),
    ),
    (
        "expectations",
        include_dir!("$CARGO_MANIFEST_DIR/vectors/expectations"),
    ),
    (
        "interop",
        include_dir!("$CARGO_MANIFEST_DIR/vectors/interop"),
    ),
    ("schema", include_dir!("$CARGO_MANIFEST_DIR/vectors/schema")),
];
