//! The shape of a family's steps, read from its scenario JSON Schema (the one `harness schema`
//! writes): for each step name, the fields it may have and what values they take. It lets the
//! mutator *set* a field the skeleton left out — a DART header's `stream_type`, a SYN's
//! `options_hex`, a frame's `version` — so inputs reach what no library scenario sends, while
//! every input stays a valid scenario of the family.

use std::collections::BTreeMap;

use arbitrary::Unstructured;
use serde_json::Value;

use crate::layout;

/// What a field takes.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldKind {
    /// An integer in `[min, max]`.
    Integer { min: u64, max: u64 },
    /// `true` or `false`.
    Bool,
    /// A string (the family may know its values: [`crate::mutate::Mutator`]).
    Text,
    /// One of these strings.
    OneOf(Vec<String>),
    /// An object of these fields.
    Object(BTreeMap<String, FieldKind>),
    /// One of several objects, told apart by their one key (the media stream's datagram kinds).
    Tagged(BTreeMap<String, FieldKind>),
    /// Anything else (arrays, free objects): left alone.
    Other,
}

/// The steps of a family: step name → the fields of its body.
#[derive(Debug, Clone, Default)]
pub struct Steps {
    steps: BTreeMap<String, FieldKind>,
}

/// References deeper than this are not followed (schemas may be recursive).
const MAX_DEPTH: usize = 8;

impl Steps {
    /// Reads the step shapes from a family's scenario schema: the variants of `$defs.Step` (the
    /// items of `peer.steps`), following references, that are single-key objects (`{"join": {…}}`).
    pub fn from_schema(schema: &Value) -> Steps {
        let defs = schema.get("$defs").cloned().unwrap_or(Value::Null);
        let mut steps = BTreeMap::new();
        if let Some(step) = defs.get("Step") {
            collect_steps(step, &defs, 0, &mut steps);
        }
        Steps { steps }
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The step names found.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.steps.keys().map(String::as_str)
    }

    /// The shape of step `name`'s body.
    pub fn body(&self, name: &str) -> Option<&FieldKind> {
        self.steps.get(name)
    }

    /// The kind of the field at `path` (object keys) of step `step`'s body, when the shape says.
    pub fn kind_at(&self, step: &str, path: &[String]) -> Option<&FieldKind> {
        let mut here = self.steps.get(step)?;
        for key in path {
            here = match here {
                FieldKind::Object(fields) | FieldKind::Tagged(fields) => fields.get(key)?,
                _ => return None,
            };
        }
        Some(here)
    }

    /// Sets one field of a step's `body` (present or not, at any depth the shape knows) to a value
    /// of its kind; `text` gives a string field's values (`None`: not known, the field is left),
    /// `edges` an integer field's edge values (half the time one of them, when there are any).
    /// Returns the path set, if any.
    pub fn set_field(
        &self,
        step: &str,
        body: &mut Value,
        text: &dyn Fn(&str, &[String]) -> Vec<String>,
        edges: &dyn Fn(&str, &[String]) -> &'static [u64],
        u: &mut Unstructured<'_>,
    ) -> arbitrary::Result<Option<Vec<String>>> {
        let Some(shape) = self.steps.get(step) else {
            return Ok(None);
        };
        let mut path = Vec::new();
        let dictionary = Dictionary { text, edges };
        set_in(shape, body, &mut path, step, &dictionary, u)
    }
}

fn collect_steps(node: &Value, defs: &Value, depth: usize, out: &mut BTreeMap<String, FieldKind>) {
    if depth > MAX_DEPTH {
        return;
    }
    let node = resolve(node, defs);
    if let Some((name, body)) = single_key(node) {
        if !["expect", "expect_none", "wait", "fault"].contains(&name.as_str()) {
            out.insert(name, kind_of(body, defs, 0));
        }
        return;
    }
    for key in ["oneOf", "anyOf"] {
        for v in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            collect_steps(v, defs, depth + 1, out);
        }
    }
}

/// `{"name": …}` with `required: ["name"]` and one property: the name and its schema.
fn single_key(v: &Value) -> Option<(String, &Value)> {
    let props = v.get("properties")?.as_object()?;
    if props.len() != 1 {
        return None;
    }
    let (name, body) = props.iter().next()?;
    let required = v.get("required")?.as_array()?;
    (required.len() == 1 && required[0] == *name).then(|| (name.clone(), body))
}

fn resolve<'a>(node: &'a Value, defs: &'a Value) -> &'a Value {
    let mut here = node;
    for _ in 0..MAX_DEPTH {
        match here.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix("#/$defs/").and_then(|n| defs.get(n)) {
                Some(d) => here = d,
                None => return here,
            },
            None => return here,
        }
    }
    here
}

fn kind_of(node: &Value, defs: &Value, depth: usize) -> FieldKind {
    if depth > MAX_DEPTH {
        return FieldKind::Other;
    }
    let node = resolve(node, defs);
    // `anyOf: [X, null]` (an optional reference).
    if let Some(any) = node.get("anyOf").and_then(Value::as_array) {
        if let Some(x) = any
            .iter()
            .find(|a| a.get("type") != Some(&Value::from("null")))
        {
            return kind_of(x, defs, depth + 1);
        }
    }
    if let Some(variants) = node.get("oneOf").and_then(Value::as_array) {
        let tagged: BTreeMap<String, FieldKind> = variants
            .iter()
            .filter_map(single_key)
            .map(|(k, b)| (k, kind_of(b, defs, depth + 1)))
            .collect();
        if !tagged.is_empty() {
            return FieldKind::Tagged(tagged);
        }
    }
    if let Some(values) = node.get("enum").and_then(Value::as_array) {
        return FieldKind::OneOf(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        );
    }
    let types: Vec<&str> = match node.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"integer") {
        let min = node.get("minimum").and_then(Value::as_u64).unwrap_or(0);
        let max = node.get("maximum").and_then(Value::as_u64).unwrap_or(
            match node.get("format").and_then(Value::as_str) {
                Some("uint8") => 0xff,
                Some("uint16") => 0xffff,
                Some("uint32") => 0xffff_ffff,
                _ => u64::MAX,
            },
        );
        return FieldKind::Integer { min, max };
    }
    if types.contains(&"boolean") {
        return FieldKind::Bool;
    }
    if types.contains(&"string") {
        return FieldKind::Text;
    }
    if types.contains(&"object") {
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            return FieldKind::Object(
                props
                    .iter()
                    .map(|(k, v)| (k.clone(), kind_of(v, defs, depth + 1)))
                    .collect(),
            );
        }
    }
    FieldKind::Other
}

/// What a family knows of its fields' values.
struct Dictionary<'d> {
    text: &'d dyn Fn(&str, &[String]) -> Vec<String>,
    edges: &'d dyn Fn(&str, &[String]) -> &'static [u64],
}

fn set_in(
    shape: &FieldKind,
    value: &mut Value,
    path: &mut Vec<String>,
    step: &str,
    dictionary: &Dictionary<'_>,
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<Option<Vec<String>>> {
    match shape {
        FieldKind::Object(fields) => {
            if !value.is_object() {
                *value = Value::Object(serde_json::Map::new());
            }
            let settable: Vec<(&String, &FieldKind)> = fields
                .iter()
                .filter(|(_, k)| **k != FieldKind::Other)
                .collect();
            if settable.is_empty() {
                return Ok(None);
            }
            let (name, kind) = settable[u.choose_index(settable.len())?];
            path.push(name.clone());
            let Some(obj) = value.as_object_mut() else {
                return Ok(None);
            };
            let child = obj.entry(name.clone()).or_insert(Value::Null);
            let set = set_in(kind, child, path, step, dictionary, u)?;
            if child.is_null() {
                obj.remove(name);
            }
            Ok(set)
        }
        FieldKind::Tagged(variants) => {
            // Keep the variant there (its fields change), or rarely switch to another one.
            let present = value
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .filter(|k| variants.contains_key(k));
            let tag = match present {
                Some(t) if u.ratio(7u8, 8u8)? => t,
                _ => {
                    let names: Vec<&String> = variants.keys().collect();
                    let t = names[u.choose_index(names.len())?].clone();
                    *value = serde_json::json!({ t.clone(): {} });
                    t
                }
            };
            let Some(kind) = variants.get(&tag) else {
                return Ok(None);
            };
            path.push(tag.clone());
            let Some(child) = value.get_mut(&tag) else {
                return Ok(None);
            };
            set_in(kind, child, path, step, dictionary, u)
        }
        FieldKind::Integer { min, max } => {
            let edges = (dictionary.edges)(step, path);
            let v = if !edges.is_empty() && u.ratio(1u8, 2u8)? {
                layout::edge_value(u, edges)?
            } else {
                layout::interesting_int(u, value.as_u64())?
            };
            let v = v.clamp(*min, *max);
            *value = Value::from(v);
            Ok(Some(path.clone()))
        }
        FieldKind::Bool => {
            *value = Value::Bool(!value.as_bool().unwrap_or(false));
            Ok(Some(path.clone()))
        }
        FieldKind::OneOf(choices) if !choices.is_empty() => {
            *value = Value::from(choices[u.choose_index(choices.len())?].clone());
            Ok(Some(path.clone()))
        }
        FieldKind::Text => {
            let choices = (dictionary.text)(step, path);
            if choices.is_empty() {
                return Ok(None);
            }
            *value = Value::from(choices[u.choose_index(choices.len())?].clone());
            Ok(Some(path.clone()))
        }
        FieldKind::OneOf(_) | FieldKind::Other => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "$defs": {
                "Step": { "oneOf": [
                    { "$ref": "#/$defs/FamilyStep" },
                    { "type": "object", "properties": { "wait": { "type": "object" } }, "required": ["wait"] }
                ]},
                "FamilyStep": { "oneOf": [
                    { "type": "object", "properties": { "media": { "$ref": "#/$defs/Media" } }, "required": ["media"] },
                    { "type": "object", "properties": { "send": { "$ref": "#/$defs/Send" } }, "required": ["send"] }
                ]},
                "Media": { "type": "object", "properties": {
                    "version": { "type": ["integer", "null"], "format": "uint8", "minimum": 0, "maximum": 255 },
                    "fin": { "type": "boolean" },
                    "codec": { "type": ["string", "null"] }
                }},
                "Send": { "type": "object", "properties": {
                    "datagram": { "$ref": "#/$defs/Datagram" }
                }},
                "Datagram": { "oneOf": [
                    { "type": "object", "properties": { "syn": { "type": "object", "properties": { "flags": { "type": "integer", "maximum": 255 } } } }, "required": ["syn"] },
                    { "type": "object", "properties": { "start": { "type": "object" } }, "required": ["start"] }
                ]}
            }
        })
    }

    #[test]
    fn steps_are_read_from_the_schema_and_generic_ones_left_out() {
        let steps = Steps::from_schema(&schema());
        assert_eq!(steps.names().collect::<Vec<_>>(), vec!["media", "send"]);
        let Some(FieldKind::Object(media)) = steps.body("media") else {
            panic!("media is an object");
        };
        assert_eq!(
            media.get("version"),
            Some(&FieldKind::Integer { min: 0, max: 255 })
        );
    }

    #[test]
    fn set_field_reaches_absent_and_nested_fields_within_bounds() {
        let steps = Steps::from_schema(&schema());
        let codecs = |_: &str, p: &[String]| {
            if p.last().map(String::as_str) == Some("codec") {
                vec!["AV01".to_owned()]
            } else {
                Vec::new()
            }
        };
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            let data = crate::seeded_bytes(seed, 256);
            let mut u = Unstructured::new(&data);
            let mut body = json!({});
            if let Ok(Some(path)) =
                steps.set_field("media", &mut body, &codecs, &|_, _| &[], &mut u)
            {
                seen.insert(path.join("."));
                if let Some(v) = body.get("version") {
                    assert!(v.as_u64().is_some_and(|v| v <= 255), "{body}");
                }
                if let Some(c) = body.get("codec") {
                    assert_eq!(c, "AV01");
                }
            }
            let mut send = json!({"datagram": {"syn": {}}});
            if let Ok(Some(path)) = steps.set_field("send", &mut send, &codecs, &|_, _| &[], &mut u)
            {
                seen.insert(path.join("."));
            }
        }
        assert!(seen.contains("version"), "{seen:?}");
        assert!(seen.contains("fin"), "{seen:?}");
        assert!(seen.contains("codec"), "{seen:?}");
        assert!(seen.contains("datagram.syn.flags"), "{seen:?}");
    }
}
