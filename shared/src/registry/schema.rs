//! The registry's JSON Schema, generated from the serde types (descriptions come from
//! their doc comments) so editors can complete and check registry files. The
//! committed copy at `docs/registry.schema.json` is kept in sync by a test.

use super::model::Registry;

/// The JSON Schema (draft 2020-12) of a registry file.
pub fn registry_json_schema() -> serde_json::Value {
    schemars::schema_for!(Registry).to_value()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use super::*;

    fn committed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/registry.schema.json")
    }

    fn generated_text() -> String {
        let mut text = serde_json::to_string_pretty(&registry_json_schema()).unwrap();
        text.push('\n');
        text
    }

    /// The committed schema is what the types generate; `TRIBUTARY_BLESS=1` rewrites it.
    #[test]
    fn committed_schema_is_up_to_date() {
        let path = committed_path();
        let generated = generated_text();
        if std::env::var_os("TRIBUTARY_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date with the registry types; refresh it with \
             `TRIBUTARY_BLESS=1 cargo test -p tributary registry` and commit it",
            path.display()
        );
    }

    fn definition<'a>(schema: &'a Value, name: &str) -> &'a Value {
        &schema["$defs"][name]
    }

    #[test]
    fn objects_require_their_mandatory_fields_and_reject_unknown_ones() {
        let schema = registry_json_schema();
        assert_eq!(schema["title"], "tributary registry");
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["required"],
            serde_json::json!(["version", "tenants"])
        );
        for (name, required) in [
            ("Tenant", vec!["id", "sources"]),
            (
                "Source",
                vec![
                    "id",
                    "host",
                    "protocol",
                    "username",
                    "password",
                    "directories",
                    "rules",
                ],
            ),
            ("Rule", vec!["id", "match", "dataset", "format"]),
            ("Sla", vec!["expected"]),
            ("TlsOptions", vec![]),
            ("Stability", vec![]),
            ("Limits", vec![]),
        ] {
            let def = definition(&schema, name);
            assert_eq!(def["additionalProperties"], false, "{name}");
            let actual: Vec<&str> = def["required"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            assert_eq!(actual, required, "{name}");
        }
        let source = definition(&schema, "Source");
        assert_eq!(
            source["properties"]["port"]["type"],
            serde_json::json!(["integer", "null"])
        );
        assert_eq!(source["properties"]["max_connections"]["default"], 2);
        assert!(
            source["properties"]["password"]["description"]
                .as_str()
                .unwrap()
                .contains("never the password itself")
        );
        let secret = definition(&schema, "SecretRef");
        assert_eq!(secret["oneOf"].as_array().unwrap().len(), 4);
        let rule = definition(&schema, "Rule");
        assert!(rule["properties"]["match"].is_object());
        let protocols = definition(&schema, "Protocol").to_string();
        for name in ["\"ftp\"", "\"ftps\"", "\"ftps-implicit\""] {
            assert!(protocols.contains(name), "{protocols}");
        }
    }

    /// Every key the example registry uses is a property the schema declares, so the
    /// schema cannot drift from the field names (a cheap stand-in for full validation).
    #[test]
    fn every_key_of_the_example_is_declared_by_the_schema() {
        fn declared(value: &Value, names: &mut BTreeSet<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::Object(properties)) = map.get("properties") {
                        names.extend(properties.keys().cloned());
                    }
                    map.values().for_each(|v| declared(v, names));
                }
                Value::Array(items) => items.iter().for_each(|v| declared(v, names)),
                _ => {}
            }
        }
        fn used(value: &Value, names: &mut BTreeSet<String>) {
            match value {
                Value::Object(map) => {
                    names.extend(map.keys().cloned());
                    map.values().for_each(|v| used(v, names));
                }
                Value::Array(items) => items.iter().for_each(|v| used(v, names)),
                _ => {}
            }
        }
        let mut known = BTreeSet::new();
        declared(&registry_json_schema(), &mut known);
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/registry.yaml"),
        )
        .unwrap();
        let example: Value = serde_saphyr::from_str(&example).unwrap();
        let mut keys = BTreeSet::new();
        used(&example, &mut keys);
        let unknown: Vec<&String> = keys.difference(&known).collect();
        assert!(unknown.is_empty(), "undeclared keys: {unknown:?}");
        assert!(keys.len() > 50, "{keys:?}");
    }
}
