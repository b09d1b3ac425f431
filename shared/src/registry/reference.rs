//! The registry's field reference for people (`docs/registry.md`), rendered
//! from the same JSON Schema editors use, so the reference, the schema and
//! the serde types can never disagree: one table per object (registry,
//! tenant, source, rule, and the objects inside them), and one list per
//! choice (formats, layers, secret references…). A test keeps the committed
//! copy in step.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::schema::registry_json_schema;

/// The objects in the order a reader meets them.
const OBJECTS: &[&str] = &[
    "Tenant",
    "Source",
    "Rule",
    "Sla",
    "Stability",
    "Limits",
    "TlsOptions",
];

/// The registry reference as Markdown.
pub fn registry_reference_markdown() -> String {
    let schema = registry_json_schema();
    let empty = Map::new();
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let mut out = String::from(
        "# Registry reference\n\n\
         Generated from the registry's JSON Schema (`docs/registry.schema.json`) by\n\
         `TRIBUTARY_BLESS=1 cargo test -p tributary registry`; do not edit by hand.\n\
         `examples/registry.yaml` uses every field. Unknown fields are refused.\n",
    );
    object(&mut out, "Registry (the file)", &schema);
    for name in OBJECTS {
        if let Some(def) = defs.get(*name) {
            object(&mut out, name, def);
        }
    }
    for (name, def) in defs {
        if !OBJECTS.contains(&name.as_str()) && def.get("type") != Some(&Value::from("object")) {
            choice(&mut out, name, def);
        }
    }
    out
}

fn text(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One object: its description, then a table of its fields.
fn object(out: &mut String, title: &str, def: &Value) {
    let _ = write!(out, "\n## {title}\n\n{}\n\n", text(def.get("description")));
    let required: Vec<&str> = def
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("| field | type | required | description |\n|---|---|---|---|\n");
    if let Some(properties) = def.get("properties").and_then(Value::as_object) {
        for (field, property) in properties {
            let _ = writeln!(
                out,
                "| `{field}` | {} | {} | {} |",
                type_of(property),
                if required.contains(&field.as_str()) {
                    "yes"
                } else {
                    ""
                },
                text(property.get("description")).replace('|', "\\|")
            );
        }
    }
}

/// One choice (an enum or a one-of): its description and its alternatives.
fn choice(out: &mut String, name: &str, def: &Value) {
    let _ = write!(out, "\n## {name}\n\n{}\n\n", text(def.get("description")));
    let alternatives = def
        .get("oneOf")
        .or_else(|| def.get("anyOf"))
        .and_then(Value::as_array);
    let Some(alternatives) = alternatives else {
        let _ = writeln!(out, "- {}", type_of(def));
        return;
    };
    for alternative in alternatives {
        let described = text(alternative.get("description"));
        let inner = alternative
            .get("properties")
            .and_then(Value::as_object)
            .and_then(|p| p.values().next())
            .map(|p| text(p.get("description")))
            .unwrap_or_default();
        let words = [described, inner]
            .into_iter()
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let _ = writeln!(
            out,
            "- {}{}",
            type_of(alternative),
            if words.is_empty() {
                String::new()
            } else {
                format!(": {words}")
            }
        );
    }
}

/// A short human form of a schema type: `string`, `[Rule]`, `Sla`, `"csv"`, …
fn type_of(value: &Value) -> String {
    if let Some(constant) = value.get("const") {
        return format!("`{constant}`");
    }
    if let Some(reference) = value.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("[{name}](#{})", name.to_lowercase());
    }
    if let Some(options) = value
        .get("anyOf")
        .or_else(|| value.get("oneOf"))
        .and_then(Value::as_array)
    {
        let kinds: Vec<String> = options
            .iter()
            .filter(|o| o.get("type") != Some(&Value::from("null")))
            .map(type_of)
            .collect();
        return kinds.join(" or ");
    }
    if let Some(properties) = value.get("properties").and_then(Value::as_object) {
        let keys: Vec<String> = properties.keys().map(|k| format!("`{{{k}: …}}`")).collect();
        return keys.join(" or ");
    }
    match value.get("type") {
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .filter(|k| *k != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        Some(Value::String(kind)) if kind == "array" => {
            format!(
                "list of {}",
                value.get("items").map_or("any".to_owned(), type_of)
            )
        }
        Some(Value::String(kind)) => kind.clone(),
        _ => "any".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The committed reference is what the schema renders to;
    /// `TRIBUTARY_BLESS=1` rewrites it.
    #[test]
    fn committed_reference_is_up_to_date() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/registry.md");
        let generated = registry_reference_markdown();
        if std::env::var_os("TRIBUTARY_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/registry.md is stale: run `TRIBUTARY_BLESS=1 cargo test -p tributary registry` and commit it"
        );
    }

    #[test]
    fn every_field_of_every_object_is_in_the_reference() {
        let reference = registry_reference_markdown();
        let schema = registry_json_schema();
        for name in OBJECTS {
            let properties = schema["$defs"][name]["properties"].as_object().unwrap();
            assert!(!properties.is_empty(), "{name}");
            for field in properties.keys() {
                assert!(
                    reference.contains(&format!("| `{field}` |")),
                    "{name}.{field} missing"
                );
            }
        }
        for section in [
            "## Rule",
            "## SecretRef",
            "## Layer",
            "`\"aes-256-gcm-hkdf-stream\"`",
        ] {
            assert!(reference.contains(section), "{section} missing");
        }
    }
}
