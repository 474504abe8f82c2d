//! The family hooks Proton and Dark Tower answer alike (their endpoints' TLS secrets and turned-away
//! connections, an external program's key log, the units and end of a session in the peer's
//! events), written once: a plugin puts [`quic_hooks!`](crate::quic_hooks) in its
//! `impl Family`, and reads `harness check`'s `--keylog` with [`check_key_log`].

use std::path::PathBuf;

use handshake_check::CheckRequest;

#[doc(hidden)]
pub use handshake_scenario::external::manifest::Launch;
#[doc(hidden)]
pub use handshake_scenario::Event;

/// Where a program of a QUIC family writes its TLS secrets: the file its `{keylog}` placeholder
/// names (what [`handshake_scenario::Family::key_log_file`] answers for Proton and Dark Tower).
pub fn key_log_file(launch: &Launch) -> Option<PathBuf> {
    launch
        .values
        .iter()
        .find(|(name, _)| *name == "keylog")
        .map(|(_, path)| PathBuf::from(path))
}

/// The text of `harness check`'s `--keylog` file (an NSS key log), if one was given.
pub fn check_key_log(request: &CheckRequest) -> Result<Option<String>, crate::QuicInputError> {
    request
        .keylog
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path).map_err(|source| crate::QuicInputError::KeyLog {
                path: path.clone(),
                source,
            })
        })
        .transpose()
}

/// The QUIC family hooks of `impl Family for …`, for a family whose node has `key_log()` and
/// `turned_away()` (the harness's QUIC endpoints do): `ending` is the pattern of the peer's event
/// that ends a session, `unit` the function giving the unit (the family's typed
/// [`Unit`](handshake_scenario::Family::Unit)) an event stands for.
#[macro_export]
macro_rules! quic_hooks {
    (ending: $ending:pat, unit: $unit:path $(,)?) => {
        fn unit_of_event(event: &$crate::hooks::Event<Self>) -> Option<Self::Unit> {
            $unit(event)
        }
        fn is_ending(event: &$crate::hooks::Event<Self>) -> bool {
            matches!(event, $ending)
        }
        fn secrets(node: &Self::Node) -> String {
            node.key_log()
        }
        fn turned_away(node: &Self::Node) -> u64 {
            node.turned_away()
        }
        fn key_log_file(launch: &$crate::hooks::Launch) -> Option<std::path::PathBuf> {
            $crate::hooks::key_log_file(launch)
        }
    };
}
