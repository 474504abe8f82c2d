//! Small helpers for messages people read: counts with the right plural, and a suggestion for a
//! name that is close to a known one.

/// `count` of `noun`, with the plural when it is not one: `1 violation`, `2 violations`
/// (`noun` is the singular; the plural adds an `s`, or turns a consonant's `y` into `ies`:
/// `2 queries`).
pub fn count(count: impl Into<u64>, noun: &str) -> String {
    let count = count.into();
    if count == 1 {
        return format!("1 {noun}");
    }
    let consonant_y = noun.strip_suffix('y').filter(|stem| {
        stem.chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphabetic() && !"aeiou".contains(c))
    });
    match consonant_y {
        Some(stem) => format!("{count} {stem}ies"),
        None => format!("{count} {noun}s"),
    }
}

/// How often something happened: `once`, `twice`, `3 times`.
pub fn times(count: impl Into<u64>) -> String {
    match count.into() {
        1 => "once".to_owned(),
        2 => "twice".to_owned(),
        n => format!("{n} times"),
    }
}

/// The candidate closest to `given` when it is close enough to be a slip (a typo, a dash for an
/// underscore, a letter's case): at most a third of its letters differ, and at most 3. Ties go to
/// the first candidate. Two letters swapped count as one difference.
pub fn closest<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let normalized = |s: &str| s.to_lowercase().replace('-', "_");
    let given_normalized = normalized(given);
    let most = (given.chars().count() / 3).clamp(1, 3);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        if candidate == given {
            continue;
        }
        let distance = strsim::osa_distance(&given_normalized, &normalized(candidate));
        if distance <= most && best.is_none_or(|(b, _)| distance < b) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// ` (did you mean `NAME`?)` for the candidate [`closest`] to `given`, else nothing: to append to
/// a message about an unknown name.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(given, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Splits a reference profile `BASE!MUTANT` into its base and the mutant `parse` reads (`None`
/// without a `!`). An unknown mutant is an error naming `what` (`Proton mutant`), the closest
/// of `names` when it looks like a slip, and all of them.
pub fn split_mutant<'t, M>(
    text: &'t str,
    what: &str,
    names: &[&str],
    parse: impl Fn(&str) -> Option<M>,
) -> Result<(&'t str, Option<M>), String> {
    let Some((base, name)) = text.split_once('!') else {
        return Ok((text, None));
    };
    match parse(name) {
        Some(mutant) => Ok((base, Some(mutant))),
        None => Err(format!(
            "unknown {what} `{name}`{}: expected one of {}",
            did_you_mean(name, names.iter().copied()),
            names.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_one_without_a_plural() {
        assert_eq!(count(1u64, "violation"), "1 violation");
        assert_eq!(count(0u64, "violation"), "0 violations");
        assert_eq!(count(3usize as u64, "deviation"), "3 deviations");
        assert_eq!(count(2u64, "query"), "2 queries");
        assert_eq!(count(2u64, "day"), "2 days");
        assert_eq!(times(1u64), "once");
        assert_eq!(times(2u64), "twice");
        assert_eq!(times(5u64), "5 times");
    }

    #[test]
    fn suggests_a_close_name_only() {
        let names = ["3way", "legacy", "udp_push"];
        assert_eq!(closest("3wya", names), Some("3way"));
        assert_eq!(closest("udp-psh", names), Some("udp_push"));
        assert_eq!(closest("quic", names), None);
        assert_eq!(
            did_you_mean("optimstic_start", ["optimistic_start", "request_options"]),
            " (did you mean `optimistic_start`?)"
        );
        assert_eq!(did_you_mean("zzz", ["optimistic_start"]), "");
    }
}
