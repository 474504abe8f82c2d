//! Proton's judge glue: what the judge is told about a run (and about a capture in `harness
//! check`).

use handshake_proton_endpoint::{Base, Profile};
use handshake_proton_judge::ProfileView;

use crate::format::Session;

/// The judge's view of the server's profile: its base and options, and the timers when the
/// profile is known (an unknown timer skips the rules that need it).
pub fn profile_view(profile: Option<&Profile>, session: &Session) -> ProfileView {
    let Some(p) = profile else {
        return ProfileView::default();
    };
    let p = session.apply(p.clone());
    let ms = |d: std::time::Duration| Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    ProfileView {
        base_as_coded: p.base == Base::AsCoded,
        action_push: p.action_push,
        reset_discriminator: p.reset_discriminator,
        accept_ms: ms(p.timers.accept),
        op_ms: ms(p.timers.op),
        disc_ms: p
            .timers
            .discriminator
            .and_then(ms)
            .filter(|_| p.base == Base::Project),
        startup_ms: ms(p.timers.startup),
    }
}

/// Whether a rule judges the side in `role` (the IUT): a run's other side is the harness's
/// scripted peer, whose deliberate violations (a bad discriminator, a wrong echo) are the test,
/// not a verdict.
pub fn concerns(rule: &str, role: handshake_scenario::Role) -> bool {
    let client_rule = rule.starts_with("proton.client.");
    let both = matches!(rule, "proton.decrypt" | "proton.alpn");
    both || (client_rule == (role == handshake_scenario::Role::Initiator))
}

/// The judge's options in `harness check` for `request` and Proton's `args` (profile default:
/// `project`).
pub fn check_options(
    request: &handshake_check::CheckRequest,
    args: &crate::check::ProtonCheckArgs,
) -> Result<handshake_proton_judge::Options, handshake_quic_family::QuicInputError> {
    let profile = Profile::parse(request.profile.as_deref().unwrap_or("project"))?;
    handshake_quic_family::check::refuse_mutant(profile.mutant.is_some())?;
    let session = Session {
        accept_ms: args.accept_ms,
        op_ms: args.op_ms,
        disc_ms: args.disc_ms,
        startup_ms: args.startup_ms,
        ..Session::default()
    };
    let mut view = profile_view(Some(&profile), &session);
    if !args.profile_timers {
        // Only the timers the user gave are known.
        view.accept_ms = args.accept_ms.and(view.accept_ms);
        view.op_ms = args.op_ms.and(view.op_ms);
        view.disc_ms = args.disc_ms.and(view.disc_ms);
        view.startup_ms = args.startup_ms.and(view.startup_ms);
    }
    Ok(handshake_proton_judge::Options {
        server: request.responder,
        profile: view,
        key_log: handshake_quic_family::hooks::check_key_log(request)?,
        port: request.port,
        tolerance: request.tolerance,
    })
}
