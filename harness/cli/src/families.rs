//! The registry: every protocol family this harness knows. A new family is one line here (and its
//! own folder under `harness/families/`); see `docs/adding-a-family.md`.

use handshake_scenario::Families;

/// The families, in the order help texts list them.
pub static FAMILIES: Families = Families(&[&handshake_mediastream::FAMILY]);
