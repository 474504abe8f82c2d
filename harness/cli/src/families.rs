//! The registry: every protocol family this harness knows, one line of `families!` each (see
//! `docs/adding-a-family.md`).

handshake_plugin::families!(pub static REGISTRY = [
    handshake_mediastream::MediaStream,
    handshake_proton::Proton,
    handshake_darktower::DarkTower,
];);
