//! Network fuzzing of implementations under test (issue: fuzzing implementations over the
//! network, findings that become scenarios) — the family-agnostic core. What runs an input
//! (a scenario, in virtual time or against an external process) is the scenario engine's; this
//! crate decides *what* to run and *what to keep*:
//!
//! - [`mutate`]: inputs are scenarios (their steps as JSON), so every input — and every finding —
//!   is a scenario `harness run` can replay. Step-level mutations (drop, duplicate, swap, delay)
//!   and value-level ones (numbers to boundaries and bit flips, hex payloads through byte havoc,
//!   booleans flipped), all driven by `arbitrary` from a seeded stream: the same seed gives the
//!   same inputs. A family refines the value mutations through the seam (its layouts: TLV types
//!   and lengths, protobuf fields, DART headers …).
//! - [`schema`]: the shapes of a family's steps, read from its scenario schema, so a mutation can
//!   set a field the library never set; [`layout`]: length prefixes, TLVs, protobuf fields and
//!   boundary integers for the families' own mutators.
//! - [`novelty`]: AFLNet's idea — the sequence of response kinds an input provokes is its state
//!   path; an input that reaches a path never seen stays in the corpus.
//! - [`minimize`]: delta debugging (ddmin) over steps, then over the bytes of each payload.
//! - [`corpus`]: inputs on disk, one JSON file each, named by content, so a second run resumes.
//! - [`campaign`]: the campaign that puts these together — the search loop (seeded draws in a
//!   sliding window, `jobs` workers), the corpus kept by novelty, findings confirmed, minimised
//!   and deduplicated — against an [`campaign::Executor`] that runs and judges one input (the
//!   harness's is the scenario engine's, in `harness fuzz`), telling an [`campaign::Observer`]
//!   as it goes and returning a [`campaign::CampaignResult`].
#![forbid(unsafe_code)]

/// The `arbitrary` the mutators are written against (a family's mutator uses this one).
pub use arbitrary;

pub mod campaign;
pub mod corpus;
pub mod layout;
pub mod minimize;
pub mod mutate;
pub mod novelty;
pub mod schema;

pub use handshake_formats::bytes::seeded_bytes;
