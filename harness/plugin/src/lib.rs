//! How a protocol family registers with the harness. A family's plug-in crate implements
//! [`Plugin`] for its [`Family`] type (only [`Plugin::check`] has no default), and the binary
//! lists it in one line of [`families!`], which builds the [`Registry`] every command runs over.
//! See `docs/adding-a-family.md`.
#![forbid(unsafe_code)]

use std::io::Write;
use std::marker::PhantomData;

use clap::{ArgMatches, Command, Subcommand};
use handshake_check::{CheckError, CheckRequest, Checked};
use handshake_interop::DynInterop;
use handshake_scenario::exit::INPUT as EXIT_INPUT;
use handshake_scenario::{DynFamily, Families, Family};

/// What a family gives the harness besides its scenarios and judge ([`Family`]): its commands,
/// its `harness peer` tools, its part of `harness check`, its JSON Schemas and its interop
/// matrices. Everything but the capture check has a default (none).
pub trait Plugin: Family {
    /// Its interop matrices (`harness interop --matrix` files of its `protocol`).
    fn interop() -> Option<&'static dyn DynInterop> {
        None
    }
    /// Its top-level commands (`harness decode` …).
    fn commands() -> Vec<Command> {
        Vec::new()
    }
    /// Runs its top-level command `name` (`None`: not its).
    fn run(_name: &str, _matches: &ArgMatches, _out: &mut dyn Write) -> Option<i32> {
        None
    }
    /// Its `harness peer` tools (the reference endpoints over real UDP); see [`subcommands`].
    fn peer_commands() -> Vec<Command> {
        Vec::new()
    }
    /// Runs `harness peer TOOL` given the `peer` command's matches (`None`: not its tool); see
    /// [`run_subcommand`].
    fn run_peer(_peer_matches: &ArgMatches) -> Option<i32> {
        None
    }
    /// Adds its options to `harness check`.
    fn check_args(command: Command) -> Command {
        command
    }
    /// Judges a capture as its traffic (`harness check --protocol NAME`).
    fn check(request: &CheckRequest, matches: &ArgMatches) -> Result<Checked, CheckError>;
    /// Its JSON Schemas for `harness schema NAME`, besides its scenarios': (name, text).
    fn schemas() -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// The subcommands of a clap [`Subcommand`] enum, for [`Plugin::peer_commands`].
pub fn subcommands<T: Subcommand>() -> Vec<Command> {
    T::augment_subcommands(Command::new("peer"))
        .get_subcommands()
        .cloned()
        .collect()
}

/// Runs the subcommand in `matches` with `run` when it is one of `T`'s (`None`: it is not), for
/// [`Plugin::run_peer`]; bad arguments are printed and exit with the input error code.
pub fn run_subcommand<T: Subcommand>(
    matches: &ArgMatches,
    run: impl FnOnce(T) -> i32,
) -> Option<i32> {
    let name = matches.subcommand_name()?;
    if !T::has_subcommand(name) {
        return None;
    }
    Some(match T::from_arg_matches(matches) {
        Ok(command) => run(command),
        Err(e) => {
            let _ = e.print();
            EXIT_INPUT
        }
    })
}

/// A [`Plugin`] behind the object-safe face [`DynPlugin`] (a `const`, for a `static` registry).
pub struct Plugged<P>(PhantomData<P>);

impl<P> Plugged<P> {
    /// The face of `P`.
    pub const fn new() -> Plugged<P> {
        Plugged(PhantomData)
    }
}

impl<P> Default for Plugged<P> {
    fn default() -> Self {
        Plugged::new()
    }
}

handshake_core::dyn_face! {
    /// A family's plug-in, as the command layer sees it.
    pub trait DynPlugin: Send, Sync;
    impl<P: Plugin> for Plugged<P>;

    /// The family's name.
    fn name(&self) -> &'static str {
        P::NAME
    }
    /// [`Plugin::interop`].
    fn interop(&self) -> Option<&'static dyn DynInterop> {
        P::interop()
    }
    /// [`Plugin::commands`].
    fn commands(&self) -> Vec<Command> {
        P::commands()
    }
    /// [`Plugin::run`].
    fn run(&self, name: &str, matches: &ArgMatches, out: &mut dyn Write) -> Option<i32> {
        P::run(name, matches, out)
    }
    /// [`Plugin::peer_commands`].
    fn peer_commands(&self) -> Vec<Command> {
        P::peer_commands()
    }
    /// [`Plugin::run_peer`].
    fn run_peer(&self, peer_matches: &ArgMatches) -> Option<i32> {
        P::run_peer(peer_matches)
    }
    /// [`Plugin::check_args`].
    fn check_args(&self, command: Command) -> Command {
        P::check_args(command)
    }
    /// [`Plugin::check`].
    fn check(&self, request: &CheckRequest, matches: &ArgMatches) -> Result<Checked, CheckError> {
        P::check(request, matches)
    }
    /// [`Plugin::schemas`].
    fn schemas(&self) -> Vec<(&'static str, String)> {
        P::schemas()
    }
}

/// The families a harness binary is built over, in the order its help texts list them (the
/// first is the default of files that do not name their `protocol`). Made by [`families!`].
#[derive(Clone, Copy)]
pub struct Registry {
    /// Their scenarios, judges and external-program rules.
    pub families: Families,
    /// Their plug-ins, in the same order.
    pub plugins: &'static [&'static dyn DynPlugin],
}

impl Registry {
    /// Their interop matrices.
    pub fn interop(&self) -> Vec<&'static dyn DynInterop> {
        self.plugins.iter().filter_map(|p| p.interop()).collect()
    }

    /// The plug-in of the family `name`.
    pub fn plugin(&self, name: &str) -> Option<&'static dyn DynPlugin> {
        self.plugins.iter().copied().find(|p| p.name() == name)
    }

    /// The family `name`.
    pub fn family(&self, name: &str) -> Option<&'static dyn DynFamily> {
        self.families.get(name)
    }
}

/// The registry line: `families!(pub static REGISTRY = [MediaStream, Proton, DarkTower]);` lists
/// [`Plugin`] types (a family's type, which implements both [`Family`] and [`Plugin`]).
#[macro_export]
macro_rules! families {
    ($vis:vis static $name:ident = [$($plugin:ty),+ $(,)?];) => {
        /// The families this harness is built over.
        $vis static $name: $crate::Registry = $crate::Registry {
            families: $crate::__Families(&[$(&$crate::__Registered::<$plugin>::new()),+]),
            plugins: &[$(&$crate::Plugged::<$plugin>::new()),+],
        };
    };
}

#[doc(hidden)]
pub use handshake_scenario::{Families as __Families, Registered as __Registered};
