//! How the harness's object-safe faces over generic code (a family's registry entry, a loaded
//! scenario, an interop matrix, a plug-in) are written: each method once, with its body over the
//! typed side. [`dyn_face!`](macro@crate::dyn_face) writes the trait and its one implementation from that
//! list, so a method cannot be declared in one place and forwarded (or documented) differently in
//! another.

/// Writes an object-safe trait and its implementation for a generic type from one list of
/// methods, each given once with its doc comment and its body (`self` is taken from the list, so
/// the bodies can use it):
///
/// ```ignore
/// handshake_core::dyn_face! {
///     /// The trait's docs.
///     pub trait Face: Send + Sync;
///     impl<F: Family> for Typed<F>;
///     provided {
///         // (optional) methods with a default body, written as in a trait
///     }
///     /// A method's docs.
///     fn name(&self) -> &'static str { F::NAME }
/// }
/// ```
#[macro_export]
macro_rules! dyn_face {
    (
        $(#[$trait_meta:meta])*
        pub trait $face:ident: $($bound:path),+;
        impl<$generic:ident: $typed_bound:path> for $typed:ty;
        $(provided { $($provided:tt)* })?
        $(
            $(#[$method_meta:meta])*
            fn $method:ident(&$receiver:ident $(, $arg:ident: $arg_ty:ty)* $(,)?) -> $ret:ty $body:block
        )*
    ) => {
        $(#[$trait_meta])*
        pub trait $face: $($bound +)+ {
            $(
                $(#[$method_meta])*
                fn $method(&$receiver $(, $arg: $arg_ty)*) -> $ret;
            )*
            $($($provided)*)?
        }

        impl<$generic: $typed_bound> $face for $typed {
            $(
                fn $method(&$receiver $(, $arg: $arg_ty)*) -> $ret $body
            )*
        }
    };
}
