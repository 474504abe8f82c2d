//! What an expectation may rest on: each family lists its facts (and the decisions the facts make
//! normative) and this project's own profile decisions beyond the facts ([`crate::Citations`]). A
//! scenario's `decisions`, an expectation's `basis` and a profile block's `decision` cite these ids;
//! a check that rests on a profile decision reports a deviation, never a failure, unless
//! `--strict-profile`.

/// The ids of a `basis` text: comma-separated.
pub fn ids(basis: &str) -> impl Iterator<Item = &str> {
    basis.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// The source locations a decision's `source` text names, in order: a source document with a line
/// (`001_03b132d5e807e566.txt:112`, or a range `:112-118`), a repository's file with a line and a
/// commit (`microsoft/ctsTraffic ctsTraffic/ctsMediaStreamServer.cpp:210 @0123abc`), an RFC's
/// section (`RFC 9000 §3.5`). Anything else in the text is explanation.
pub fn locations(source: &'static str) -> Vec<&'static str> {
    let words: Vec<(usize, &'static str)> = word_spans(source);
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let (at, w) = words[i];
        let w_clean = w.trim_end_matches([',', ';', ')', '.']);
        if is_document_line(w_clean) {
            found.push(&source[at..at + w_clean.len()]);
        } else if w == "RFC"
            && words
                .get(i + 1)
                .is_some_and(|(_, n)| n.chars().all(|c| c.is_ascii_digit()))
            && words.get(i + 2).is_some_and(|(_, s)| s.starts_with('§'))
        {
            let (end_at, end) = words[i + 2];
            let end = end.trim_end_matches([',', ';', ')']).trim_end_matches('.');
            found.push(&source[at..end_at + end.len()]);
            i += 2;
        } else if is_repository(w_clean)
            && words
                .get(i + 1)
                .is_some_and(|(_, p)| is_path_line(p.trim_end_matches([',', ';'])))
            && words.get(i + 2).is_some_and(|(_, c)| is_commit(c))
        {
            let (end_at, end) = words[i + 2];
            let end = end.trim_end_matches([',', ';', ')', '.']);
            found.push(&source[at..end_at + end.len()]);
            i += 2;
        }
        i += 1;
    }
    found
}

fn word_spans(text: &str) -> Vec<(usize, &str)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_whitespace() || c == '(', start) {
            (true, Some(s)) => {
                spans.push((s, &text[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, &text[s..]));
    }
    spans
}

/// `NNN_<16 hex>.txt:LINE` or `:LINE-LINE`.
fn is_document_line(w: &str) -> bool {
    let Some((file, line)) = w.split_once(".txt:") else {
        return false;
    };
    let Some((n, hash)) = file.split_once('_') else {
        return false;
    };
    n.len() == 3
        && n.chars().all(|c| c.is_ascii_digit())
        && hash.len() == 16
        && hash.chars().all(|c| c.is_ascii_hexdigit())
        && is_line_range(line)
}

fn is_line_range(s: &str) -> bool {
    let mut parts = s.split('-');
    parts.all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// `owner/name`.
fn is_repository(w: &str) -> bool {
    let mut parts = w.split('/');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        })
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// `path:LINE` or `path:LINE-LINE`.
fn is_path_line(w: &str) -> bool {
    w.rsplit_once(':')
        .is_some_and(|(path, line)| !path.is_empty() && is_line_range(line))
}

/// `@` and 7 to 40 hex digits.
fn is_commit(w: &str) -> bool {
    let w = w.trim_end_matches([',', ';', ')', '.']);
    w.strip_prefix('@')
        .is_some_and(|h| (7..=40).contains(&h.len()) && h.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::locations;

    #[test]
    fn locations_are_documents_repositories_and_rfcs() {
        let text = "001_03b132d5e807e566.txt:112-118 says so; microsoft/ctsTraffic \
                    ctsTraffic/ctsMediaStreamServer.cpp:210 @0123abcd, and RFC 9000 §3.5. \
                    Not: 001.txt:3, owner/repo file.rs @beef, RFC §2";
        assert_eq!(
            locations(text),
            vec![
                "001_03b132d5e807e566.txt:112-118",
                "microsoft/ctsTraffic ctsTraffic/ctsMediaStreamServer.cpp:210 @0123abcd",
                "RFC 9000 §3.5",
            ]
        );
    }
}
