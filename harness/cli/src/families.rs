//! The registry: every protocol family this harness knows, one line of `families!` each (see
//! `docs/adding-a-family.md`).

use handshake_scenario::Families;

handshake_plugin::families!(pub static REGISTRY = [
    handshake_mediastream::MediaStream,
    handshake_proton::Proton,
    handshake_darktower::DarkTower,
];);

/// The families' scenarios and judges.
pub static FAMILIES: Families = REGISTRY.families;

/// `harness check --protocol`'s default: the family of files that do not say
/// ([`Families::default_name`], the first registered; a test keeps the two equal).
pub const DEFAULT_PROTOCOL: &str = "mediastream";

#[cfg(test)]
mod tests {
    #[test]
    fn check_s_default_protocol_is_the_registry_s_default_family() {
        assert_eq!(super::DEFAULT_PROTOCOL, super::FAMILIES.default_name());
    }
}
