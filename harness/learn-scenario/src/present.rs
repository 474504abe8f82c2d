//! How a learned model is shown: a table of its states (each by the shortest word that reaches
//! it and what it answers), and an HTML page with the model drawn (SVG, rendered in Rust from
//! its DOT text by `layout-rs`) and the transitions that differ from the reference's in red.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use handshake_learn::Mealy;
use handshake_report::html::esc as escape;

/// One row per state: the shortest word that reaches it, and its transitions grouped by what
/// they answer and where they go (`syn → syn_ack, to 1`; a group that stays says nothing of
/// where). Markdown.
pub fn state_table(mealy: &Mealy<String, String>) -> String {
    let mut text = String::from("| state | reached by | what it answers |\n|---|---|---|\n");
    for (state, reached, answers) in rows(mealy) {
        let _ = writeln!(text, "| {state} | {reached} | {} |", answers.join(" · "));
    }
    text
}

/// The rows of [`state_table`]: (state, the word that reaches it, its answer groups).
fn rows(mealy: &Mealy<String, String>) -> Vec<(usize, String, Vec<String>)> {
    let access = mealy.access_words();
    mealy
        .states()
        .map(|state| {
            let reached = match access.get(state).cloned().flatten() {
                Some(w) if w.is_empty() => "(the start)".to_owned(),
                Some(w) => w.join(" "),
                None => "(unreachable)".to_owned(),
            };
            let mut groups: BTreeMap<(String, usize), Vec<String>> = BTreeMap::new();
            for (_, input, output, to) in mealy.transitions().filter(|(s, ..)| *s == state) {
                groups
                    .entry((output.clone(), to))
                    .or_default()
                    .push(input.clone());
            }
            let answers = groups
                .into_iter()
                .map(|((output, to), inputs)| {
                    let whither = if to == state {
                        String::new()
                    } else {
                        format!(", to {to}")
                    };
                    format!("{} → {output}{whither}", inputs.join(", "))
                })
                .collect();
            (state, reached, answers)
        })
        .collect()
}

/// The SVG drawing of a DOT text, `None` where the renderer cannot draw it (it is a young
/// crate: a panic in it costs the picture, never the run).
pub fn svg(dot: &str) -> Option<String> {
    let dot = dot.to_owned();
    std::panic::catch_unwind(move || {
        let mut parser = layout::gv::DotParser::new(&dot);
        let graph = parser.process().ok()?;
        let mut builder = layout::gv::GraphBuilder::new();
        builder.visit_graph(&graph);
        let mut visual = builder.get();
        let mut writer = layout::backends::svg::SVGWriter::new();
        visual.do_it(false, false, false, &mut writer);
        Some(writer.finalize())
    })
    .ok()
    .flatten()
}

/// What the HTML page shows besides the model.
pub struct Page<'a> {
    /// The IUT's name.
    pub iut: &'a str,
    /// The summary line (states, inputs, queries).
    pub headline: &'a str,
    /// The model's DOT text, its differing transitions highlighted.
    pub dot: &'a str,
    /// The differences and violations, one line each.
    pub findings: &'a [String],
}

/// The HTML page: the headline, the drawing, the state table and the findings.
pub fn html(mealy: &Mealy<String, String>, page: &Page) -> String {
    let picture = svg(page.dot).unwrap_or_else(|| {
        "<p>(the drawing could not be made: see model.dot, e.g. with Graphviz's <code>dot -Tsvg</code>)</p>"
            .to_owned()
    });
    let mut html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>learned model: {}</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}}\
         .finding{{font-family:monospace;white-space:pre-wrap}}</style></head><body>\n\
         <h1>Learned model: {}</h1>\n<p>{}</p>\n",
        escape(page.iut),
        escape(page.iut),
        escape(page.headline)
    );
    html.push_str("<h2>States</h2>\n<table><tr><th>state</th><th>reached by</th><th>what it answers</th></tr>\n");
    for (state, reached, answers) in rows(mealy) {
        let _ = writeln!(
            html,
            "<tr><td>{state}</td><td>{}</td><td>{}</td></tr>",
            escape(&reached),
            answers
                .iter()
                .map(|a| escape(a))
                .collect::<Vec<_>>()
                .join("<br>")
        );
    }
    html.push_str("</table>\n<h2>Model</h2>\n<p>Transitions marked <code>!</code> and drawn red answer otherwise than the reference's model.</p>\n");
    html.push_str(&picture);
    if !page.findings.is_empty() {
        html.push_str("\n<h2>Differences and violations</h2>\n<ol>\n");
        for f in page.findings {
            let _ = writeln!(html, "<li class=\"finding\">{}</li>", escape(f));
        }
        html.push_str("</ol>\n");
    }
    html.push_str("\n</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Mealy<String, String> {
        Mealy::from_fn(
            vec!["ack".to_owned(), "syn".to_owned()],
            3,
            |state, input| match (state, input.as_str()) {
                (0, "syn") => (1, "syn_ack".to_owned()),
                (1, "ack") => (2, "connection_id".to_owned()),
                (s, "syn") => (s, "syn_ack".to_owned()),
                (s, _) => (s, "-".to_owned()),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_table_names_each_state_by_its_shortest_word() {
        let table = state_table(&handshake());
        assert!(
            table.contains("| 0 | (the start) | ack → - · syn → syn_ack, to 1 |"),
            "{table}"
        );
        assert!(
            table.contains("| 2 | syn ack | ack → - · syn → syn_ack |"),
            "{table}"
        );
    }

    #[test]
    fn the_drawing_is_an_svg_with_the_highlighted_edge_red() {
        let m = handshake();
        let dot = m.to_dot_highlighting(String::clone, String::clone, |s, i| s == 1 && i == "ack");
        let svg = svg(&dot).unwrap_or_default();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("#ff0000"), "{}", &svg[..svg.len().min(3000)]);
    }
}
