//! Rule catalogues: every rule a family's judge enforces, with a stable id, a one-line statement, the
//! fact or decision it rests on, and whether that is a fact or one of this project's profile
//! decisions. Ids never change meaning; retired ids are not reused.

use serde::Serialize;

/// What a rule rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// A fact of the protocol, or one of the decisions the facts make normative.
    Fact,
    /// One of this project's own profile decisions beyond the facts: a violation is a deviation,
    /// shown but never failing a gate unless the user asks for `--strict-profile`.
    Profile,
}

/// One rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `3way.no_media_before_ack`.
    pub id: &'static str,
    /// What must hold, in one line.
    pub statement: &'static str,
    /// The fact or decision it enforces.
    pub source: &'static str,
    /// What it rests on.
    pub basis: Basis,
}

/// Declares a catalogue: one `pub const` per rule and `ALL`, every rule in catalogue order.
///
/// ```
/// handshake_check::rules! {
///     ORDER = ("demo.order", Fact, "Fact 1", "Requests come before answers.");
/// }
/// assert_eq!(ALL[0].id, "demo.order");
/// ```
#[macro_export]
macro_rules! rules {
    ($($name:ident = ($id:literal, $basis:ident, $source:literal, $statement:literal);)*) => {
        $(
            #[doc = $statement]
            pub const $name: $crate::Rule = $crate::Rule {
                id: $id,
                statement: $statement,
                source: $source,
                basis: $crate::Basis::$basis,
            };
        )*
        /// Every rule, in catalogue order.
        pub const ALL: &[$crate::Rule] = &[$($name),*];
    };
}

/// Panics unless `catalogue` is well formed: unique ids, each starting with `prefix`, each with a
/// source, statements of one line ending with a full stop. For every family's catalogue test.
pub fn assert_well_formed(catalogue: &[Rule], prefix: &str) {
    let mut ids: Vec<_> = catalogue.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), catalogue.len(), "rule ids are unique");
    for r in catalogue {
        assert!(r.id.starts_with(prefix), "{} starts with {prefix}", r.id);
        assert!(!r.source.is_empty(), "{} has a source", r.id);
        assert!(
            !r.statement.contains('\n') && r.statement.ends_with('.'),
            "{}'s statement is one line ending with a full stop",
            r.id
        );
    }
}

/// The rule with this id in `catalogue`.
pub fn find<'a>(catalogue: &'a [Rule], id: &str) -> Option<&'a Rule> {
    catalogue.iter().find(|r| r.id == id)
}

/// The rule `id` names in the catalogue of family `family`: its whole id (`mediastream.3way.order`)
/// or the id within the family (`3way.order`, as a family's own files may write it).
pub fn find_in<'a>(catalogue: &'a [Rule], family: &str, id: &str) -> Option<&'a Rule> {
    find(catalogue, id).or_else(|| {
        let whole = format!("{family}.{id}");
        find(catalogue, &whole)
    })
}
