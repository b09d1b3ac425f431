//! Inference rules on small samples, and the round trip the command exists
//! for: the proposal, compiled as a contract, accepts the file it came from.

use std::io::Cursor;

use serde::Deserialize;
use tributary_testkit::compress::{Level, bzip2, gzip};

use super::*;
use crate::contract::Contract;
use crate::engine::spec::ValidationSpec;

fn csv(text: &str) -> Inference {
    infer(
        Cursor::new(text.as_bytes()),
        &InferOptions::new(Format::Csv),
    )
    .unwrap()
}

fn jsonl(text: &str) -> Inference {
    infer(
        Cursor::new(text.as_bytes()),
        &InferOptions::new(Format::Jsonl),
    )
    .unwrap()
}

fn column<'a>(inference: &'a Inference, name: &str) -> &'a InferredColumn {
    inference
        .columns
        .iter()
        .find(|c| c.spec.name == name)
        .unwrap_or_else(|| panic!("no column {name} in {inference:?}"))
}

fn type_of(inference: &Inference, name: &str) -> String {
    column(inference, name).spec.r#type.clone()
}

/// One column's inferred type, format and notes from its values (csv, header `v`).
fn one(values: &[&str]) -> (String, Option<String>, Vec<String>) {
    let mut text = String::from("v\n");
    for value in values {
        text.push_str(value);
        text.push('\n');
    }
    let inference = csv(&text);
    let column = column(&inference, "v");
    (
        column.spec.r#type.clone(),
        column.spec.format.clone(),
        column.notes.clone(),
    )
}

fn ty(values: &[&str]) -> String {
    one(values).0
}

/// Runs the engine on `data` with the proposal as the rule's contract.
fn check_with_proposal(data: &[u8], name: &str, format: Format, inference: &Inference) {
    let mut spec = ValidationSpec::new(format);
    spec.contract = Some(inference.contract_spec("UTC"));
    let report = crate::engine::validate(Cursor::new(data), name, &spec, None, io::sink()).unwrap();
    assert!(
        report.accepted(),
        "{:?}\n{}",
        report.reasons,
        inference.to_yaml()
    );
}

#[test]
fn each_type_is_the_narrowest_that_reads_every_value() {
    assert_eq!(ty(&["true", "no", "Y", "F"]), "boolean");
    assert_eq!(ty(&["0", "1", "1"]), "int", "0/1 reads as int first");
    assert_eq!(ty(&["-12", "+7", " 42 "]), "int");
    assert_eq!(ty(&["1", "2147483648"]), "bigint");
    assert_eq!(ty(&["12.50", "-3.1", "1000"]), "decimal(6,2)");
    assert_eq!(ty(&["0.001", "-.5"]), "decimal(3,3)");
    assert_eq!(
        ty(&["123456789012345678901234567890"]),
        "decimal(30,0)",
        "past bigint, still exact"
    );
    assert_eq!(ty(&["1.5", "6.02e23"]), "double", "an exponent");
    assert_eq!(
        ty(&["1234567890123456789012345678901234567.5", "0.12"]),
        "double",
        "more than 38 digits in all"
    );
    assert_eq!(ty(&["2026-02-28", "1999-12-31"]), "date");
    assert_eq!(
        ty(&["2026-02-28T10:00:00Z", "2026-02-28 10:00:00.5+02:00"]),
        "timestamp"
    );
    assert_eq!(ty(&["2026-02-28", "2026-02-30"]), "string", "no such day");
    assert_eq!(ty(&["2026-02-28", "2026-02-28T10:00:00"]), "string");
    assert_eq!(ty(&["abc", "12"]), "string");
    assert_eq!(
        ty(&["inf", "-inf"]),
        "string",
        "non-finite values alone are no numbers"
    );
    let (ty, _, _) = one(&["1.5", "NaN"]);
    assert_eq!(ty, "double");
    let inference = csv("v\n1.5\nNaN\n");
    assert!(column(&inference, "v").spec.allow_non_finite);
}

#[test]
fn booleans_and_integers_are_read_by_the_checkers_parsers() {
    // `on`/`off` are not booleans to the checker: nor to inference.
    assert_eq!(ty(&["on", "off"]), "string");
    assert_eq!(ty(&["1_000"]), "string");
    assert_eq!(ty(&["0x10"]), "string");
}

#[test]
fn date_layouts_are_tried_and_day_month_ambiguity_is_said() {
    let (ty, format, notes) = one(&["25/12/2025", "01/02/2026"]);
    assert_eq!((ty.as_str(), format.as_deref()), ("date", Some("%d/%m/%Y")));
    assert!(notes.is_empty(), "{notes:?}");

    let (ty, format, notes) = one(&["12/25/2025", "01/02/2026"]);
    assert_eq!((ty.as_str(), format.as_deref()), ("date", Some("%m/%d/%Y")));
    assert!(notes.is_empty(), "{notes:?}");

    let (ty, format, notes) = one(&["01/02/2026", "03/04/2026"]);
    assert_eq!((ty.as_str(), format.as_deref()), ("date", Some("%d/%m/%Y")));
    assert_eq!(notes.len(), 1);
    assert!(notes[0].starts_with("ambiguous"), "{notes:?}");
    assert!(notes[0].contains("%m/%d/%Y"));

    let (ty, format, notes) = one(&["25/12/2025 10:30", "01/02/2026 23:59"]);
    assert_eq!(
        (ty.as_str(), format.as_deref()),
        ("timestamp", Some("%d/%m/%Y %H:%M"))
    );
    assert!(notes.is_empty());

    let (ty, format, notes) = one(&["01/02/2026 10:30:00"]);
    assert_eq!(
        (ty.as_str(), format.as_deref()),
        ("timestamp", Some("%d/%m/%Y %H:%M:%S"))
    );
    assert!(notes[0].starts_with("ambiguous"));

    let (ty, format, _) = one(&["2026-1-5 9:05:00"]);
    assert_eq!(
        (ty.as_str(), format.as_deref()),
        ("timestamp", Some("%Y-%m-%d %H:%M:%S"))
    );
    assert_eq!(one(&["2026-01-05 09:05:00"]).1, None, "ISO needs no format");
    assert_eq!(one(&["31.12.2025"]).1.as_deref(), Some("%d.%m.%Y"));

    // Both day-first and month-first fail on some value: no date.
    assert_eq!(ty_of(&["25/12/2025", "12/25/2025"]), "string");
    // `%Y` would read `25` as the year 25: a two-digit year is no layout here.
    assert_eq!(ty_of(&["25/12/25"]), "string");
}

fn ty_of(values: &[&str]) -> String {
    ty(values)
}

#[test]
fn nulls_make_a_column_nullable_and_custom_null_values_apply() {
    let inference = csv("a,b,c\n1,,x\n2,3,\n");
    assert_eq!(column(&inference, "a").spec.nullable, Some(false));
    assert_eq!(column(&inference, "b").spec.nullable, None);
    assert_eq!(column(&inference, "b").nulls, 1);
    assert_eq!(type_of(&inference, "b"), "int");
    assert_eq!(column(&inference, "c").spec.nullable, None);

    // A quoted empty value is the empty value: null by default.
    let inference = csv("a\n\"\"\n5\n");
    assert_eq!(column(&inference, "a").spec.nullable, None);
    assert_eq!(type_of(&inference, "a"), "int");

    let mut options = InferOptions::new(Format::Csv);
    options.null_values = vec![String::new(), "NULL".into()];
    let inference = infer(Cursor::new(&b"n\n1\nNULL\n\"\"\n"[..]), &options).unwrap();
    assert_eq!(type_of(&inference, "n"), "int");
    assert_eq!(column(&inference, "n").nulls, 2);
    assert!(
        inference
            .to_yaml()
            .contains("null_values: [\"\", \"NULL\"]\n"),
        "{}",
        inference.to_yaml()
    );
    assert!(!csv("a\n1\n").to_yaml().contains("null_values"));

    // Two spaces are not null with the default null values: not an int either.
    assert_eq!(ty(&["1", "  "]), "string");

    let inference = csv("a,b\n,\n,\n");
    let a = column(&inference, "a");
    assert_eq!((a.spec.r#type.as_str(), a.spec.nullable), ("string", None));
    assert!(a.notes[0].contains("no value"));
}

#[test]
fn a_unique_present_column_is_suggested_as_the_key_never_enforced() {
    let inference = csv("day,id,code,name\n2026-01-01,1,a,x\n2026-01-02,2,b,x\n2026-01-03,3,c,y\n");
    assert_eq!(inference.key_suggestion.as_deref(), Some("id"));
    let yaml = inference.to_yaml();
    assert!(yaml.contains("\n# primary_key: [id]"), "{yaml}");
    assert!(inference.contract_spec("UTC").primary_key.is_empty());

    // Duplicates as typed values (`7` and `007`), a null, one row: no suggestion.
    assert_eq!(csv("id\n7\n007\n").key_suggestion, None);
    assert_eq!(csv("id\n1\n\"\"\n3\n").key_suggestion, None);
    assert_eq!(csv("id\n1\n").key_suggestion, None);
    assert_eq!(csv("id,s\n1,a\n1,b\n").key_suggestion.as_deref(), Some("s"));
}

#[test]
fn the_values_remembered_for_a_key_are_bounded() {
    let text: String = std::iter::once("id,n\n".to_owned())
        .chain((0..100).map(|i| format!("{i},{i}\n")))
        .collect();
    let options = InferOptions::new(Format::Csv);
    let within = infer_within(Cursor::new(text.as_bytes()), &options, 1000).unwrap();
    assert_eq!(within.key_suggestion.as_deref(), Some("id"));
    let over = infer_within(Cursor::new(text.as_bytes()), &options, 150).unwrap();
    assert_eq!(over.key_suggestion, None);
    assert!(
        over.notes[0].contains("no primary key is suggested"),
        "{:?}",
        over.notes
    );
    assert_eq!(type_of(&over, "id"), "int", "types are still inferred");
}

#[test]
fn leading_zeros_are_pointed_out() {
    let (ty, _, notes) = one(&["00123", "00456"]);
    assert_eq!(ty, "int");
    assert!(notes[0].contains("leading zeros"), "{notes:?}");
    assert!(one(&["0", "10"]).2.is_empty());
}

#[test]
fn jsonl_fields_are_columns_in_first_seen_order_and_missing_ones_are_null() {
    let inference = jsonl(
        "{\"id\": 1, \"name\": \"a\", \"amount\": 12.50}\n\
         \n\
         {\"name\": \"b\", \"id\": 2, \"amount\": \"3.1\", \"flag\": true}\n\
         {\"id\": 3, \"name\": null, \"amount\": 7, \"flag\": false, \"n\": \"12\"}\n",
    );
    let names: Vec<_> = inference
        .columns
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    assert_eq!(names, ["id", "name", "amount", "flag", "n"]);
    assert_eq!(inference.rows, 3);
    assert_eq!(type_of(&inference, "id"), "int");
    assert_eq!(column(&inference, "id").spec.nullable, Some(false));
    assert_eq!(type_of(&inference, "name"), "string");
    assert_eq!(column(&inference, "name").nulls, 1);
    assert_eq!(type_of(&inference, "amount"), "decimal(4,2)");
    assert_eq!(type_of(&inference, "flag"), "boolean");
    assert_eq!(column(&inference, "flag").nulls, 1, "missing in record 1");
    assert_eq!(column(&inference, "n").nulls, 2);
    assert_eq!(inference.key_suggestion.as_deref(), Some("id"));
}

#[test]
fn jsonl_values_no_type_accepts_are_warned_about() {
    // A JSON number is never a string to the checker, and text is not a number.
    let inference =
        jsonl("{\"a\": 1, \"b\": [1], \"c\": 1}\n{\"a\": \"x\", \"b\": 2, \"c\": \"2\"}\n");
    let a = column(&inference, "a");
    assert_eq!(a.spec.r#type, "string");
    assert!(a.notes[0].starts_with("WARNING: no type"), "{:?}", a.notes);
    let b = column(&inference, "b");
    assert!(b.notes[0].contains("objects or arrays"), "{:?}", b.notes);
    assert_eq!(type_of(&inference, "c"), "int");
    assert_eq!(inference.key_suggestion.as_deref(), Some("c"));
}

#[test]
fn jsonl_lines_the_contract_rejects_are_counted_not_used() {
    let inference = jsonl("\u{feff}{\"a\": 1}\n[1, 2]\nnot json\n{\"a\": 2, \"a\": 3}\n");
    assert_eq!(inference.rows, 4);
    assert_eq!(type_of(&inference, "a"), "int");
    let notes = inference.notes.join("\n");
    assert!(
        notes.contains("2 sampled lines are not JSON objects"),
        "{notes}"
    );
    assert!(
        notes.contains("1 sampled records repeat a field"),
        "{notes}"
    );
    assert!(notes.contains("the other 1 rows"), "{notes}");
}

#[test]
fn csv_rows_of_another_width_are_counted_not_used() {
    let inference = csv("a,b\n1,2\n3\n4,5,6\n7,8\n");
    assert_eq!(inference.rows, 4);
    assert!(inference.notes[0].starts_with("2 sampled rows have another number of fields"));
    assert_eq!(column(&inference, "a").values, 2);
}

#[test]
fn without_a_header_columns_are_numbered() {
    let mut options = InferOptions::new(Format::Csv);
    options.parse.header = false;
    let inference = infer(Cursor::new(&b"1,x\n2,y\n"[..]), &options).unwrap();
    let names: Vec<_> = inference
        .columns
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    assert_eq!(names, ["column_1", "column_2"]);
    assert_eq!(inference.rows, 2);
    assert_eq!(type_of(&inference, "column_1"), "int");
}

#[test]
fn tsv_a_delimiter_quotes_and_a_bom_read_as_the_engine_reads_them() {
    let mut options = InferOptions::new(Format::Tsv);
    let text = "\u{feff}id\tnote\n1\t\"a\tb\"\n2\t\"line\nbreak\"\n";
    let inference = infer(Cursor::new(text.as_bytes()), &options).unwrap();
    assert_eq!(
        inference.columns[0].spec.name, "id",
        "the BOM is not in the name"
    );
    assert_eq!(inference.rows, 2);
    assert_eq!(type_of(&inference, "note"), "string");
    options.parse = ParseSpec::new(Format::Csv);
    options.parse.delimiter = b';';
    let inference = infer(Cursor::new(&b"a;b\n1,5;x\n"[..]), &options).unwrap();
    assert_eq!(type_of(&inference, "a"), "string", "1,5 is not a number");
    options.parse.quote = Some(b';');
    assert!(matches!(
        infer(Cursor::new(&b"a\n"[..]), &options),
        Err(InferError::Misconfigured { .. })
    ));
}

#[test]
fn columns_a_contract_cannot_name_are_left_out_and_extra_columns_ignored() {
    let inference = csv("id,,dup,dup,Tenant,ok\n1,2,3,4,5,6\n");
    let names: Vec<_> = inference
        .columns
        .iter()
        .map(|c| c.spec.name.as_str())
        .collect();
    assert_eq!(names, ["id", "ok"]);
    let skipped: Vec<_> = inference.skipped.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(skipped, ["", "dup", "Tenant"]);
    assert_eq!(inference.extra_columns(), ExtraColumns::Ignore);
    let yaml = inference.to_yaml();
    assert!(yaml.contains("\nextra_columns: ignore\n"), "{yaml}");
    assert!(
        yaml.contains("# left out: dup (the name appears more than once)"),
        "{yaml}"
    );
    check_with_proposal(
        b"id,,dup,dup,Tenant,ok\n1,2,3,4,5,6\n",
        "x.csv",
        Format::Csv,
        &inference,
    );
}

#[test]
fn sampling_stops_after_the_rows_asked_for() {
    /// Fails if read past `data`.
    struct ThenFail(Cursor<Vec<u8>>);
    impl Read for ThenFail {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("read past the sample")),
                n => Ok(n),
            }
        }
    }
    // Larger than the reader's buffer, so that stopping is what saves it.
    let mut text = String::from("id\n");
    for i in 0..100_000 {
        text.push_str(&format!("{i}\n"));
    }
    let mut options = InferOptions::new(Format::Csv);
    options.rows = 10;
    let inference = infer(ThenFail(Cursor::new(text.clone().into_bytes())), &options).unwrap();
    assert_eq!(inference.rows, 10);
    assert!(inference.truncated);
    assert!(
        inference
            .to_yaml()
            .starts_with("# sampled 10 rows, the limit")
    );

    let json: String = (0..100_000).map(|i| format!("{{\"id\": {i}}}\n")).collect();
    options.parse = ParseSpec::new(Format::Jsonl);
    let inference = infer(ThenFail(Cursor::new(json.into_bytes())), &options).unwrap();
    assert_eq!(inference.rows, 10);

    options.parse = ParseSpec::new(Format::Csv);
    options.rows = 1_000_000;
    let inference = infer(Cursor::new(text.into_bytes()), &options).unwrap();
    assert_eq!((inference.rows, inference.truncated), (100_000, false));
}

#[test]
fn a_record_longer_than_the_limit_stops_the_read() {
    let mut options = InferOptions::new(Format::Csv);
    options.limits.max_record_bytes = 1000;
    let mut long = b"a\n".to_vec();
    long.extend(std::iter::repeat_n(b'x', 1_000_000));
    let error = infer(Cursor::new(long.clone()), &options).unwrap_err();
    assert!(
        matches!(
            error,
            InferError::RecordTooLong {
                record: 2,
                max: 1000
            }
        ),
        "{error:?}"
    );
    options.parse = ParseSpec::new(Format::Jsonl);
    let error = infer(Cursor::new(long), &options).unwrap_err();
    assert!(
        matches!(error, InferError::RecordTooLong { record: 2, .. }),
        "{error:?}"
    );
    let mut line = b"{\"a\": \"".to_vec();
    line.extend(std::iter::repeat_n(b'x', 991));
    line.extend(b"\"}\n");
    assert_eq!(line.len(), 1001, "1000 bytes and the line break");
    assert!(infer(Cursor::new(line), &options).is_ok());
}

#[test]
fn files_without_columns_and_other_formats_are_errors() {
    for empty in ["", "\n\n"] {
        assert!(matches!(
            infer(
                Cursor::new(empty.as_bytes()),
                &InferOptions::new(Format::Csv)
            ),
            Err(InferError::NoColumns)
        ));
        assert!(matches!(
            infer(
                Cursor::new(empty.as_bytes()),
                &InferOptions::new(Format::Jsonl)
            ),
            Err(InferError::NoColumns)
        ));
    }
    assert!(matches!(
        infer(Cursor::new(&b"<a/>"[..]), &InferOptions::new(Format::Xml)),
        Err(InferError::UnsupportedFormat(Format::Xml))
    ));
    let mut options = InferOptions::new(Format::Csv);
    options.timezone = "Mars/Olympus".into();
    assert!(matches!(
        infer(Cursor::new(&b"a\n1\n"[..]), &options),
        Err(InferError::UnknownTimezone(_))
    ));
}

#[test]
fn layers_are_undone_as_check_would() {
    let text = b"id,amount\n1,2.50\n2,3\n";
    let options = InferOptions::new(Format::Csv);
    let inference = infer_file(
        Cursor::new(gzip(text, Level::Default)),
        "s.csv.gz",
        &options,
    )
    .unwrap();
    assert_eq!(inference.layers, [Layer::Gzip]);
    assert_eq!(type_of(&inference, "amount"), "decimal(3,2)");
    // Magic bytes, whatever the name.
    let inference =
        infer_file(Cursor::new(bzip2(text, Level::Default)), "s.csv", &options).unwrap();
    assert_eq!(inference.layers, [Layer::Bzip2]);
    assert_eq!(inference.rows, 2);
    assert!(matches!(
        infer_file(Cursor::new(text.to_vec()), "s.csv.gz.enc", &options),
        Err(InferError::Encrypted {
            layer: Layer::Aes256Gcm
        })
    ));
    let mut cut = gzip(text, Level::Default);
    cut.truncate(cut.len() / 2);
    let error = infer_file(Cursor::new(cut), "s.csv.gz", &options).unwrap_err();
    assert!(matches!(error, InferError::Decode(_)), "{error:?}");
}

#[test]
fn the_format_comes_from_the_name_under_its_layers() {
    assert_eq!(format_from_name("/in/sales.csv"), Some(Format::Csv));
    assert_eq!(format_from_name("sales.TSV.gz"), Some(Format::Tsv));
    assert_eq!(format_from_name("events.jsonl.bz2"), Some(Format::Jsonl));
    assert_eq!(format_from_name("events.ndjson"), Some(Format::Jsonl));
    assert_eq!(format_from_name("feed.xml"), None);
    assert_eq!(format_from_name("noext"), None);
}

/// The fields `to_yaml` writes, read back as the registry reads a rule's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fields {
    columns: Vec<ColumnSpec>,
    #[serde(default)]
    null_values: Option<Vec<String>>,
    #[serde(default)]
    extra_columns: Option<ExtraColumns>,
}

#[test]
fn the_yaml_reads_back_as_the_same_columns_whatever_the_names() {
    let header =
        "id,\"we:ird # name\",true,\"- x\",\"a\"\"b\",\"caf\u{e9}\",\"x\u{1}y\",%d,\"[1]\"";
    let text = format!("{header}\n1,2,3,4,5,6,7,25/12/2025,9\n");
    let mut options = InferOptions::new(Format::Csv);
    options.null_values = vec!["NULL".into(), "a\"\\b".into()];
    let inference = infer(Cursor::new(text.as_bytes()), &options).unwrap();
    assert_eq!(inference.columns.len(), 9);
    let yaml = inference.to_yaml();
    let back: Fields = serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let expected: Vec<ColumnSpec> = inference.columns.iter().map(|c| c.spec.clone()).collect();
    assert_eq!(back.columns, expected, "{yaml}");
    assert_eq!(back.null_values, Some(options.null_values.clone()));
    assert_eq!(back.extra_columns, None);
    let compiled = Contract::compile(&inference.contract_spec("UTC"));
    assert!(compiled.is_ok(), "{compiled:?}");
}

#[test]
fn the_proposal_accepts_the_file_it_came_from() {
    let csv_text = "order_id,store,amount,ratio,paid,day,sold_at,local,note,empty\n\
        1001,7,12.50,1e-3,yes,2026-01-31,2026-01-31T10:00:00Z,25/01/2026 10:30,a,\n\
        1002,7,-3.1,2.5,no,2026-02-01,2026-02-01 11:00:00+01:00,01/02/2026 23:59,\"b, c\",\n\
        1003,8,0,0,y,2026-02-02,2026-02-02T00:00:00.123456Z,13/02/2026 00:00,,\n";
    let options = InferOptions::new(Format::Csv);
    let gz = gzip(csv_text.as_bytes(), Level::Default);
    let inference = infer_file(Cursor::new(gz.clone()), "sales.csv.gz", &options).unwrap();
    let types: Vec<_> = inference
        .columns
        .iter()
        .map(|c| (c.spec.name.as_str(), c.spec.r#type.as_str()))
        .collect();
    assert_eq!(
        types,
        [
            ("order_id", "int"),
            ("store", "int"),
            ("amount", "decimal(4,2)"),
            ("ratio", "double"),
            ("paid", "boolean"),
            ("day", "date"),
            ("sold_at", "timestamp"),
            ("local", "timestamp"),
            ("note", "string"),
            ("empty", "string"),
        ]
    );
    check_with_proposal(&gz, "sales.csv.gz", Format::Csv, &inference);

    let json = "{\"id\": 1, \"at\": \"2026-01-31T10:00:00Z\", \"v\": 1.25, \"tags\": \"x\"}\n\
        {\"id\": 2, \"v\": null, \"ok\": true}\n";
    let inference = jsonl(json);
    check_with_proposal(json.as_bytes(), "e.jsonl", Format::Jsonl, &inference);
}
