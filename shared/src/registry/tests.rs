//! Tests of the registry as a whole: the example, loading errors with positions,
//! validation messages, secrets never echoed, and the committed JSON Schema.

use std::path::{Path, PathBuf};

use super::*;
use crate::engine::spec::{Format, Layer, Limits};

/// The smallest valid registry; tests edit it.
const BASE: &str = "version: 1
tenants:
  - id: t
    sources:
      - id: s
        host: h
        protocol: ftp
        username: u
        password: {ssm: p}
        directories: [/in]
        rules:
          - id: r
            match: {glob: /in/*.csv}
            dataset: d
            format: csv
            layers: [gzip]
";

fn workspace_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

fn example() -> Registry {
    Registry::load_path(&workspace_file("examples/registry.yaml")).unwrap()
}

fn messages(registry: &Registry) -> Vec<String> {
    match registry.validate() {
        Ok(()) => Vec::new(),
        Err(problems) => problems.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn example_registry_loads_and_validates_with_no_problems() {
    let registry = example();
    assert_eq!(messages(&registry), Vec::<String>::new());
    assert_eq!(registry.tenants.len(), 3);
    let rules: Vec<&str> = registry
        .tenants
        .iter()
        .flat_map(|t| &t.sources)
        .flat_map(|s| &s.rules)
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(
        rules,
        [
            "acme-daily-sales",
            "acme-stock-feed",
            "northbank-ledger",
            "northbank-transactions",
            "swiftfreight-shipments",
            "swiftfreight-test-shipments"
        ]
    );
}

#[test]
fn example_rules_give_the_expected_engine_specs() {
    let registry = example();

    let (_, _, ledger) = registry.find_rule("northbank-ledger").unwrap();
    let spec = ledger.validation_spec("UTC");
    assert_eq!(spec.layers, Some(vec![Layer::Aes256Gcm, Layer::Gzip]));
    assert_eq!(spec.parse.format, Format::Tsv);
    assert_eq!(spec.parse.delimiter, b'\t');
    assert_eq!(spec.parse.quote, None);
    assert!(spec.parse.header);
    assert_eq!(spec.associated_data, b"northbank-ledger-v1");
    assert_eq!(spec.bounds.min_rows, Some(1));
    assert_eq!(spec.bounds.max_rows, None);
    assert_eq!(
        spec.bounds.required_columns,
        ["account", "booked_at", "amount", "currency"]
    );
    assert_eq!(
        spec.limits,
        Limits {
            max_whole_file_aead_bytes: 268_435_456,
            ..Limits::default()
        }
    );

    let (_, _, sales) = registry.find_rule("acme-daily-sales").unwrap();
    let spec = sales.validation_spec("Europe/Paris");
    let contract = spec.contract.as_ref().unwrap();
    assert_eq!(contract.columns.len(), 7);
    assert_eq!(contract.primary_key, ["store_id", "order_id"]);
    assert_eq!(contract.null_values, ["", "NULL"]);
    assert_eq!(contract.default_timezone, "Europe/Paris");
    assert_eq!(contract.on_invalid.max_invalid_ratio, Some(0.01));
    assert!(crate::contract::Contract::compile(contract).is_ok());
    assert_eq!(spec.layers, Some(vec![Layer::Gzip]));
    assert_eq!((spec.parse.delimiter, spec.parse.quote), (b';', Some(b'"')));
    assert_eq!(spec.bounds.min_bytes, Some(1024));
    assert_eq!(spec.bounds.max_decoded_bytes, Some(21_474_836_480));
    assert!(spec.bounds.require_utf8);
    assert_eq!(spec.limits, Limits::default());
    assert!(spec.associated_data.is_empty());

    let (tenant, _, stock) = registry.find_rule("acme-stock-feed").unwrap();
    let spec = stock.validation_spec("UTC");
    assert_eq!(spec.layers, None);
    assert_eq!(spec.parse.format, Format::Xml);
    assert_eq!(spec.parse.record_element.as_deref(), Some("Item"));
    assert!(!spec.parse.header);
    assert_eq!(spec.limits.max_xml_depth, 32);
    assert_eq!(spec.limits.max_record_bytes, 1_048_576);
    assert_eq!(
        spec.limits.max_decoded_bytes,
        Limits::default().max_decoded_bytes
    );
    assert_eq!(stock.sla.as_ref().unwrap().timezone(tenant), "UTC");
    assert_eq!(stock.post_action, PostAction::Delete);

    let (_, source, shipments) = registry.find_rule("swiftfreight-shipments").unwrap();
    assert!(shipments.validation_spec("UTC").parse.parse_json);
    assert_eq!(source.port(), 990);
    assert_eq!(
        source.tls.ca_bundle.as_deref(),
        Some("/etc/tributary/ca/swiftfreight-root.pem")
    );
    assert_eq!(shipments.post_action, PostAction::MoveTo("/archive".into()));
    let matcher = shipments.matcher().unwrap();
    assert!(matcher.is_match("/exports/2024/shipments_20240501.jsonl.gz"));
    assert!(!matcher.is_match("/exports/shipments_20240501.jsonl.done"));
}

#[test]
fn defaults_fill_in_what_the_registry_leaves_out() {
    let registry = Registry::from_yaml_str(BASE).unwrap();
    let (tenant, source, rule) = registry.find_rule("r").unwrap();
    assert_eq!(tenant.timezone, "UTC");
    assert_eq!(tenant.name, None);
    assert_eq!(source.port(), 21);
    assert!(source.passive);
    assert!(!source.recursive);
    assert_eq!(source.max_depth, 5);
    assert_eq!(source.poll_schedule, "*/15 * * * *");
    assert_eq!(source.max_connections, 2);
    assert_eq!(source.timezone, "UTC");
    assert_eq!(source.tls, TlsOptions::default());
    assert!(source.tls.verify_certificate);
    assert_eq!(source.nat_workaround, None);
    assert_eq!(
        (source.connect_timeout_secs, source.data_timeout_secs),
        (10, 60)
    );
    assert!(!source.paused);
    assert_eq!(rule.stability, Stability::default());
    assert!(rule.stability.require_unchanged);
    assert_eq!(rule.post_action, PostAction::Leave);
    assert_eq!(rule.notify, NotifyPolicy::Failures);
    assert_eq!(rule.sla, None);
    assert_eq!(rule.limits, None);
    let spec = rule.validation_spec("UTC");
    assert_eq!(spec.parse, crate::engine::spec::ParseSpec::new(Format::Csv));
    assert_eq!(spec.limits, Limits::default());

    let implicit = BASE.replace("protocol: ftp", "protocol: ftps-implicit");
    let registry = Registry::from_yaml_str(&implicit).unwrap();
    assert_eq!(registry.find_source("s").unwrap().1.port(), 990);
    let explicit_port = BASE.replace("protocol: ftp", "protocol: ftps\n        port: 2121");
    let registry = Registry::from_yaml_str(&explicit_port).unwrap();
    assert_eq!(registry.find_source("s").unwrap().1.port(), 2121);
    assert!(registry.find_rule("nope").is_none());
    assert!(registry.find_source("nope").is_none());
}

#[test]
fn post_action_and_quote_accept_their_short_forms() {
    let yaml = BASE.replace(
        "layers: [gzip]",
        "layers: [gzip]\n            post_action: delete\n            quote: none\n            delimiter: \"\\t\"",
    );
    let registry = Registry::from_yaml_str(&yaml).unwrap();
    let rule = &registry.tenants[0].sources[0].rules[0];
    assert_eq!(rule.post_action, PostAction::Delete);
    assert_eq!(rule.quote, Some(Quote::Disabled));
    assert_eq!(rule.validation_spec("UTC").parse.delimiter, b'\t');
    assert_eq!(rule.validation_spec("UTC").parse.quote, None);
}

/// The example converted to JSON (through a generic value) loads to the same registry.
#[test]
fn the_example_in_json_loads_to_the_same_registry() {
    let text = std::fs::read_to_string(workspace_file("examples/registry.yaml")).unwrap();
    let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
    let json = serde_json::to_string_pretty(&value).unwrap();
    assert_eq!(Registry::from_json_str(&json).unwrap(), example());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.json");
    std::fs::write(&path, &json).unwrap();
    assert_eq!(Registry::load_path(&path).unwrap(), example());
}

/// Inserts `line` (already indented) after the first line containing `after`.
fn insert_after(text: &str, after: &str, line: &str) -> String {
    let mut out = String::new();
    let mut done = false;
    for l in text.lines() {
        out.push_str(l);
        out.push('\n');
        if !done && l.contains(after) {
            out.push_str(line);
            out.push('\n');
            done = true;
        }
    }
    assert!(done, "{after:?} not found");
    out
}

#[test]
fn yaml_errors_name_the_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.yaml");
    let cases = [
        (
            insert_after(BASE, "dataset: d", "            foo: 1"),
            (15, 13),
            "unknown field `foo`, expected one of id, match, dataset, format, delimiter",
        ),
        (
            insert_after(BASE, "protocol: ftp", "        max_connections: many"),
            (8, 26),
            "invalid u32",
        ),
        (
            BASE.replace("[gzip]", "[gzip, zip]"),
            (16, 28),
            "unknown variant `zip`, expected one of aes-256-gcm, aes-256-gcm-hkdf-stream, gzip, bzip2",
        ),
        (
            BASE.replace("format: csv", "format: parquet"),
            (15, 21),
            "unknown variant `parquet`, expected one of csv, tsv, jsonl, xml",
        ),
    ];
    for (yaml, position, message) in cases {
        let err = Registry::from_yaml_str(&yaml).unwrap_err();
        assert_eq!(err.position(), Some(position), "{err}");
        assert!(
            err.to_string().starts_with(&format!(
                "line {}, column {}: {message}",
                position.0, position.1
            )),
            "{err}"
        );

        std::fs::write(&path, &yaml).unwrap();
        let err = Registry::load_path(&path).unwrap_err();
        let expected = format!(
            "{}:{}:{}: {message}",
            path.display(),
            position.0,
            position.1
        );
        assert!(err.to_string().starts_with(&expected), "{err}");
    }
}

/// serde_json reports the position where it noticed the error: the end of the
/// offending key or value.
#[test]
fn json_errors_name_the_file_line_and_column() {
    let base: serde_json::Value = serde_saphyr::from_str(BASE).unwrap();
    let base = serde_json::to_string_pretty(&base).unwrap();
    let cases = [
        (
            base.replace("\"dataset\": \"d\",", "\"dataset\": \"d\", \"foo\": 1,"),
            "\"foo\"",
            "unknown field `foo`, expected one of `id`, `match`",
        ),
        (
            base.replace(
                "\"host\": \"h\",",
                "\"host\": \"h\", \"max_connections\": \"many\",",
            ),
            "\"many\"",
            "invalid type: string \"many\", expected u32",
        ),
        (
            base.replace("\"gzip\"", "\"zip\""),
            "\"zip\"",
            "unknown variant `zip`, expected one of `aes-256-gcm`",
        ),
        (
            base.replace("\"csv\"", "\"parquet\""),
            "\"parquet\"",
            "unknown variant `parquet`, expected one of `csv`, `tsv`, `jsonl`, `xml`",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.json");
    for (json, token, message) in cases {
        let (line, column) = json
            .lines()
            .enumerate()
            .find_map(|(i, l)| {
                l.find(token)
                    .map(|c| (i as u64 + 1, (c + token.len()) as u64))
            })
            .unwrap();
        let err = Registry::from_json_str(&json).unwrap_err();
        assert_eq!(err.position(), Some((line, column)), "{err}");
        std::fs::write(&path, &json).unwrap();
        let err = Registry::load_path(&path).unwrap_err();
        let expected = format!("{}:{line}:{column}: {message}", path.display());
        assert!(err.to_string().starts_with(&expected), "{err}");
    }
}

#[test]
fn unreadable_oversized_and_hostile_input_is_an_error_not_a_panic() {
    let missing = Path::new("/nonexistent/registry.yaml");
    let err = Registry::load_path(missing).unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }));
    assert!(
        err.to_string()
            .starts_with("/nonexistent/registry.yaml: cannot read the registry: "),
        "{err}"
    );

    let huge = " ".repeat(MAX_REGISTRY_BYTES as usize + 1);
    let err = Registry::from_yaml_str(&huge).unwrap_err();
    assert!(matches!(err, LoadError::TooLarge { .. }), "{err}");

    // A billion laughs in a field that skips whatever it is given (an inline password).
    let mut bomb = String::from("        password: [&a1 [x,x,x,x,x,x,x,x,x,x]\n");
    for level in 2..=9 {
        let refs = vec![format!("*a{}", level - 1); 10].join(",");
        bomb.push_str(&format!("          , &a{level} [{refs}]\n"));
    }
    bomb.push_str("          ]\n");
    let yaml = BASE.replace("        password: {ssm: p}\n", &bomb);
    let err = Registry::from_yaml_str(&yaml).unwrap_err();
    assert!(
        err.to_string().contains("alias replay limit exceeded"),
        "{err}"
    );

    for garbage in [
        "",
        "[",
        "{a: [}",
        "version: 1\ntenants: {",
        "\u{0}\u{1}",
        "- - - -",
    ] {
        assert!(Registry::from_yaml_str(garbage).is_err(), "{garbage:?}");
        assert!(Registry::from_json_str(garbage).is_err(), "{garbage:?}");
    }
}

#[test]
fn check_id_accepts_what_fits_in_s3_keys() {
    for good in ["a", "0abc", "a-b_c", &"x".repeat(64)] {
        assert_eq!(check_id(good), Ok(()), "{good}");
    }
    for bad in ["", "-a", "_a", "Acme", "a.b", "a/b", "é", &"x".repeat(65)] {
        assert!(check_id(bad).is_err(), "{bad}");
    }
}

#[test]
fn an_empty_registry_is_reported() {
    let registry = Registry::from_yaml_str("version: 1\ntenants: []\n").unwrap();
    assert_eq!(
        messages(&registry),
        ["tenants: must list at least one tenant"]
    );
}

#[test]
fn schedules_that_never_fire_and_graces_beyond_a_year_are_reported() {
    let text = BASE.replace(
        "        directories: [/in]\n",
        "        directories: [/in]\n        poll_schedule: \"0 0 30 2 *\"\n",
    ) + "            sla: {expected: \"0 6 31 4 *\", grace_minutes: 600000}\n";
    let registry = Registry::from_yaml_str(&text).unwrap();
    assert_eq!(
        messages(&registry),
        [
            "tenants[0].sources[0].poll_schedule: cron expression \"0 0 30 2 *\" never fires (no month has that day)",
            "tenants[0].sources[0].rules[0].sla.expected: cron expression \"0 6 31 4 *\" never fires (no month has that day)",
            "tenants[0].sources[0].rules[0].sla.grace_minutes: must be at most 527040 (a year), got 600000",
        ]
    );
    // A leap day fires (every four years).
    let text = BASE.to_owned() + "            sla: {expected: \"0 6 29 2 *\"}\n";
    assert!(messages(&Registry::from_yaml_str(&text).unwrap()).is_empty());
}

/// One registry with every kind of mistake: all of them are reported, in document
/// order, and the secrets written inline appear nowhere.
#[test]
fn a_broken_registry_reports_every_problem_at_once() {
    let registry = Registry::from_yaml_str(BROKEN).unwrap();
    let expected = [
        "version: unsupported registry format version 2 (expected 1)",
        "tenants[0].id: \"Retail!\" is not a valid id: use 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit",
        "tenants[0].timezone: unknown time zone \"Mars/Olympus\" (expected an IANA name such as \"Europe/Paris\" or \"UTC\")",
        "tenants[0].sources[0].host: must not be empty",
        "tenants[0].sources[0].port: must not be 0",
        "tenants[0].sources[0].password: given inline; store it in Secrets Manager or SSM and reference it as {secrets_manager: NAME} or {ssm: NAME}",
        "tenants[0].sources[0].directories[1]: must be an absolute path (start with /), got \"relative/dir\"",
        "tenants[0].sources[0].poll_schedule: invalid cron expression \"0 0 6 * * *\": Invalid pattern: Pattern must have 5 fields when seconds are disallowed.",
        "tenants[0].sources[0].max_connections: must be between 1 and 64, got 0",
        "tenants[0].sources[0].timezone: unknown time zone \"Not/AZone\" (expected an IANA name such as \"Europe/Paris\" or \"UTC\")",
        "tenants[0].sources[0].tls.ca_bundle: only applies to protocols ftps and ftps-implicit (this source's protocol is ftp)",
        "tenants[0].sources[0].connect_timeout_secs: must be > 0",
        "tenants[0].sources[0].rules[0].match.glob: invalid glob: unclosed character class; missing ']'",
        "tenants[0].sources[0].rules[0].dataset: \"Sales\" is not a valid id: use 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit",
        "tenants[0].sources[0].rules[0].delimiter: must be a single ASCII character other than a line break, got \";;\"",
        "tenants[0].sources[0].rules[0].required_columns: needs a header row, but header is false",
        "tenants[0].sources[0].rules[0].record_element: only applies to format xml (this rule's format is csv)",
        "tenants[0].sources[0].rules[0].parse_json: only applies to format jsonl (this rule's format is csv)",
        "tenants[0].sources[0].rules[0].max_bytes: must be >= min_bytes (10)",
        "tenants[0].sources[0].rules[0].max_decoded_bytes: must be >= min_decoded_bytes (10)",
        "tenants[0].sources[0].rules[0].max_rows: must be >= min_rows (10)",
        "tenants[0].sources[0].rules[0].limits.max_record_bytes: must be > 0",
        "tenants[0].sources[0].rules[0].limits.max_xml_depth: must be > 0",
        "tenants[0].sources[0].rules[0].stability.marker_suffix: must not be empty",
        "tenants[0].sources[0].rules[0].sla.expected: invalid cron expression \"61 * * * *\": Component error: Number out of bounds.",
        "tenants[0].sources[0].rules[0].sla.timezone: unknown time zone \"Moon/Base\" (expected an IANA name such as \"Europe/Paris\" or \"UTC\")",
        "tenants[0].sources[0].rules[0].post_action.move_to: must be an absolute path (start with /), got \"archive\"",
        "tenants[0].sources[0].rules[1].id: duplicate rule id \"r1\" (first used at tenants[0].sources[0].rules[0].id)",
        "tenants[0].sources[0].rules[1].match.regex: invalid regex: unclosed group",
        "tenants[0].sources[0].rules[1].header: only applies to formats csv and tsv (this rule's format is jsonl)",
        "tenants[0].sources[0].rules[1].delimiter: only applies to formats csv and tsv (this rule's format is jsonl)",
        "tenants[0].sources[0].rules[1].quote: only applies to formats csv and tsv (this rule's format is jsonl)",
        "tenants[0].sources[0].rules[1].key: required: layers include aes-256-gcm",
        "tenants[0].sources[0].rules[2].required_columns: only applies to formats csv and tsv (this rule's format is xml)",
        "tenants[0].sources[0].rules[2].record_element: required for format xml",
        "tenants[0].sources[0].rules[2].key: given, but layers include no encryption layer (aes-256-gcm or aes-256-gcm-hkdf-stream)",
        "tenants[0].sources[0].rules[3].quote: must differ from the delimiter (\"|\")",
        "tenants[0].sources[0].rules[3].key: given inline; store it in Secrets Manager or SSM and reference it as {secrets_manager: NAME} or {ssm: NAME}",
        "tenants[0].sources[1].id: duplicate source id \"src-a\" (first used at tenants[0].sources[0].id)",
        "tenants[0].sources[1].password.ssm: must not be empty",
        "tenants[0].sources[1].directories: must list at least one directory",
        "tenants[0].sources[1].max_connections: must be between 1 and 64, got 65",
        "tenants[0].sources[1].rules: must list at least one rule",
        "tenants[1].sources: must list at least one source",
        "tenants[2].id: duplicate tenant id \"retail2\" (first used at tenants[1].id)",
        "tenants[2].sources: must list at least one source",
    ];
    assert_eq!(messages(&registry), expected);
}

#[test]
fn secrets_written_inline_never_show_up() {
    let registry = Registry::from_yaml_str(BROKEN).unwrap();
    let debug = format!("{registry:?} {registry:#?}");
    let problems = messages(&registry).join("\n");
    for secret in ["hunter2", "inline-key-material"] {
        assert!(!debug.contains(secret), "{secret} in Debug");
        assert!(!problems.contains(secret), "{secret} in problems");
    }
    assert!(debug.contains("<inline secret, redacted>"));

    // A load error right next to the inline secret does not quote it either.
    let yaml = BASE.replace(
        "        password: {ssm: p}\n",
        "        password: hunter2\n        pasword: hunter2\n",
    );
    let err = Registry::from_yaml_str(&yaml).unwrap_err();
    assert_eq!(err.position(), Some((10, 9)), "{err}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
    let json = r#"{"version": 1, "tenants": [{"id": "t", "sources": [{"id": "s", "host": "h",
        "protocol": "ftp", "username": "u", "password": "hunter2", "directories": 3}]}]}"#;
    let err = Registry::from_json_str(json).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err}");
}

const BROKEN: &str = r#"version: 2
tenants:
  - id: Retail!
    timezone: Mars/Olympus
    sources:
      - id: src-a
        host: ""
        port: 0
        protocol: ftp
        username: u
        password: hunter2-in-clear
        directories: [/in, relative/dir]
        poll_schedule: "0 0 6 * * *"
        max_connections: 0
        timezone: Not/AZone
        tls: {ca_bundle: /ca.pem}
        connect_timeout_secs: 0
        rules:
          - id: r1
            match: {glob: "/in/[a"}
            dataset: Sales
            format: csv
            delimiter: ";;"
            header: false
            required_columns: [a]
            record_element: Row
            parse_json: true
            min_bytes: 10
            max_bytes: 5
            min_decoded_bytes: 10
            max_decoded_bytes: 9
            min_rows: 10
            max_rows: 2
            limits: {max_xml_depth: 0, max_record_bytes: 0}
            stability: {marker_suffix: ""}
            sla: {expected: "61 * * * *", timezone: Moon/Base}
            post_action: {move_to: archive}
          - id: r1
            match: {regex: "/in/(a"}
            dataset: d
            format: jsonl
            header: true
            delimiter: ","
            quote: "'"
            layers: [aes-256-gcm, gzip]
          - id: r3
            match: {glob: /in/*.xml}
            dataset: d
            format: xml
            key: {ssm: /k}
            layers: [gzip]
            required_columns: [x]
          - id: r4
            match: {glob: /in/*.tsv}
            dataset: d
            format: csv
            delimiter: "|"
            quote: "|"
            key: inline-key-material
            layers: [aes-256-gcm-hkdf-stream]
            associated_data: ok
      - id: src-a
        host: h
        protocol: ftps
        username: u
        password: {ssm: ""}
        directories: []
        max_connections: 65
        rules: []
  - id: retail2
    sources: []
  - id: retail2
    sources: []
"#;

#[test]
fn the_schema_id_pattern_agrees_with_check_id() {
    let pattern = regex::Regex::new(ID_PATTERN).unwrap();
    for id in [
        "a",
        "0abc",
        "a-b_c",
        "-a",
        "_a",
        "Acme",
        "a.b",
        "",
        "é",
        &"x".repeat(64),
        &"x".repeat(65),
    ] {
        assert_eq!(pattern.is_match(id), check_id(id).is_ok(), "{id}");
    }
}

#[test]
fn data_contract_mistakes_are_reported_with_their_path() {
    let rule = "          - id: r2
            match: {glob: /in/*.tsv}
            dataset: d2
            format: csv
            columns:
              - {name: id, type: bigint, nullable: true}
              - {name: name, type: string, min: 1, pattern: \"(\"}
              - {name: amount, type: \"decimal(40,2)\"}
              - {name: kind, type: integer}
              - {name: dataset, type: string}
            primary_key: [id, missing]
            on_invalid: {action: reject_file, max_invalid_ratio: 2}
          - id: r3
            match: {glob: /in/*.xml}
            dataset: d3
            format: xml
            record_element: r
            columns: [{name: a, type: string}]
          - id: r4
            match: {glob: /in/*.json}
            dataset: d4
            format: jsonl
            primary_key: [a]
";
    let registry = Registry::from_yaml_str(&format!("{BASE}{rule}")).unwrap();
    let at = "tenants[0].sources[0].rules";
    assert_eq!(
        messages(&registry),
        [
            format!("{at}[1].columns[0].nullable: a primary-key column cannot be nullable"),
            format!(
                "{at}[1].columns[1].min: does not apply to type string (only to numbers, dates and timestamps)"
            ),
            format!("{at}[1].columns[1].pattern: does not compile: unclosed group"),
            format!(
                "{at}[1].columns[2].type: `decimal(40,2)`: the precision must be between 1 and 38, got 40"
            ),
            format!(
                "{at}[1].columns[3].type: unknown type `integer` (expected string, int, bigint, double, decimal(P,S), boolean, date or timestamp)"
            ),
            format!(
                "{at}[1].columns[4].name: `dataset` is a partition key of the data lake's layout (tenant, dataset, ingest_date); rename the column"
            ),
            format!("{at}[1].primary_key[1]: `missing` is not one of the columns"),
            format!(
                "{at}[1].on_invalid.max_invalid_ratio: only applies with `action: quarantine_rows` (with `reject_file` any invalid row rejects the file)"
            ),
            format!("{at}[1].on_invalid.max_invalid_ratio: must be between 0 and 1, got 2"),
            format!(
                "{at}[2].columns: data contracts apply to formats csv, tsv and jsonl (this rule's format is xml)"
            ),
            format!("{at}[3].primary_key: is part of a data contract, which needs `columns`"),
        ]
    );
}
