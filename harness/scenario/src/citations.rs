//! What an expectation may rest on: each family lists its facts (and the decisions the facts make
//! normative) and this project's own profile decisions beyond the facts ([`crate::Citations`]). A
//! scenario's `decisions`, an expectation's `basis` and a profile block's `decision` cite these ids;
//! a check that rests on a profile decision reports a deviation, never a failure, unless
//! `--strict-profile`.

/// The ids of a `basis` text: comma-separated.
pub fn ids(basis: &str) -> impl Iterator<Item = &str> {
    basis.split(',').map(str::trim).filter(|s| !s.is_empty())
}
