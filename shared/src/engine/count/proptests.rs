//! Property tests of the counters: csv against the `csv` crate and a plain
//! reference state machine, and every counter against re-chunked input.

use proptest::prelude::*;

use super::testing::{count, count_chunked, csv_crate_records, max_record, outcome, spec};
use super::{CountError, RowStats};
use crate::engine::spec::{Format, ParseSpec};

/// csv-core's NFA (`csv_core::Reader::transition_nfa`) for the default
/// configuration, transcribed one state per byte, without any shortcut: the
/// number of records it ends, and whether the input ends inside a quoted field.
fn reference(input: &[u8], delimiter: u8, quote: Option<u8>) -> (u64, bool) {
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum S {
        StartRecord,
        EndRecord,
        StartField,
        EndFieldDelim,
        EndFieldTerm,
        InField,
        InQuotedField,
        InDoubleEscapedQuote,
        InRecordTerm,
        Crlf,
    }
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let term = |c: u8| c == b'\r' || c == b'\n';
    let is_quote = |c: u8| quote == Some(c);
    let mut state = S::StartRecord;
    let mut records = 0;
    for &c in input {
        loop {
            // (next state, whether the byte is consumed)
            let (next, consumed) = match state {
                S::StartRecord if term(c) => (S::StartRecord, true),
                S::StartRecord => (S::StartField, false),
                S::EndRecord => (S::StartRecord, false),
                S::StartField if is_quote(c) => (S::InQuotedField, true),
                S::StartField if c == delimiter => (S::EndFieldDelim, true),
                S::StartField if term(c) => (S::EndFieldTerm, false),
                S::StartField => (S::InField, true),
                S::EndFieldDelim => (S::StartField, false),
                S::EndFieldTerm => (S::InRecordTerm, false),
                S::InField if c == delimiter => (S::EndFieldDelim, true),
                S::InField if term(c) => (S::EndFieldTerm, false),
                S::InField => (S::InField, true),
                S::InQuotedField if is_quote(c) => (S::InDoubleEscapedQuote, true),
                S::InQuotedField => (S::InQuotedField, true),
                S::InDoubleEscapedQuote if is_quote(c) => (S::InQuotedField, true),
                S::InDoubleEscapedQuote if c == delimiter => (S::EndFieldDelim, true),
                S::InDoubleEscapedQuote if term(c) => (S::EndFieldTerm, false),
                S::InDoubleEscapedQuote => (S::InField, true),
                S::InRecordTerm if c == b'\r' => (S::Crlf, true),
                S::InRecordTerm => (S::EndRecord, true),
                S::Crlf if c == b'\n' => (S::StartRecord, true),
                S::Crlf => (S::StartRecord, false),
            };
            if state == S::InRecordTerm {
                records += 1;
            }
            state = next;
            if consumed {
                break;
            }
        }
    }
    let in_quotes = state == S::InQuotedField;
    if !matches!(state, S::StartRecord | S::EndRecord | S::Crlf) {
        records += 1;
    }
    (records, in_quotes)
}

/// Fields drawn from an alphabet that exercises quoting.
fn field() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop::sample::select(vec!['a', 'b', ',', '"', '\n', '\r', ' ']),
        0..6,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// Bytes from the alphabet that matters to the csv state machine.
fn csvish_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop::sample::select(vec![b'a', b',', b'"', b'\n', b'\r', b' ', b'\t']),
        0..64,
    )
}

/// The csv/tsv/jsonl specs the chunking property runs over.
fn any_spec() -> impl Strategy<Value = ParseSpec> {
    (0..6usize, any::<bool>()).prop_map(|(which, flag)| match which {
        0 => spec(Format::Csv, flag),
        1 => spec(Format::Tsv, flag),
        2 => ParseSpec {
            quote: None,
            ..spec(Format::Csv, flag)
        },
        3 => ParseSpec {
            delimiter: b' ',
            quote: Some(b'a'),
            ..spec(Format::Csv, flag)
        },
        _ => ParseSpec {
            parse_json: flag,
            ..ParseSpec::new(Format::Jsonl)
        },
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever `csv::Writer` writes, the counter reads as many records as the
    /// `csv` crate reads back, and the same header.
    #[test]
    fn written_records_are_counted_like_the_csv_crate(
        records in proptest::collection::vec(proptest::collection::vec(field(), 0..4), 0..8),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let terminator = if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') };
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(terminator)
            .from_writer(if bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() });
        for record in &records {
            writer.write_record(record).unwrap();
        }
        let bytes = writer.into_inner().unwrap();
        let expected = csv_crate_records(&bytes, &spec(Format::Csv, true));
        let stats = count(&bytes, &spec(Format::Csv, true)).unwrap();
        prop_assert_eq!(stats.records, expected.len() as u64);
        prop_assert_eq!(stats.rows, (expected.len() as u64).saturating_sub(1));
        prop_assert_eq!(stats.header.map(|h| h.names(usize::MAX)), expected.into_iter().next());
    }

    /// On arbitrary bytes the counter agrees with the `csv` crate whenever it
    /// accepts, and rejects exactly the inputs that end inside a quoted field.
    #[test]
    fn arbitrary_bytes_are_counted_like_the_csv_crate_or_rejected_for_an_open_quote(
        bytes in csvish_bytes(),
        tab in any::<bool>(),
        quoting in any::<bool>(),
    ) {
        let spec = ParseSpec {
            delimiter: if tab { b'\t' } else { b',' },
            quote: quoting.then_some(b'"'),
            ..spec(Format::Csv, true)
        };
        let (reference_records, ends_in_quotes) = reference(&bytes, spec.delimiter, spec.quote);
        match count(&bytes, &spec) {
            Ok(stats) => {
                prop_assert!(!ends_in_quotes);
                let expected = csv_crate_records(&bytes, &spec);
                prop_assert_eq!(stats.records, expected.len() as u64);
                prop_assert_eq!(stats.records, reference_records);
                prop_assert_eq!(stats.header.map(|h| h.names(usize::MAX)), expected.into_iter().next());
            }
            Err(CountError::Malformed { record, reason, .. }) => {
                prop_assert!(ends_in_quotes, "rejected {:?}: {}", bytes, reason);
                prop_assert!(reason.starts_with("unbalanced quote"));
                prop_assert_eq!(record, reference_records);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    /// The same input read through any small buffer gives the same stats or the
    /// same error, record limits included.
    #[test]
    fn the_result_does_not_depend_on_the_chunking(
        bytes in csvish_bytes(),
        bom in any::<bool>(),
        capacity in 1..64usize,
        spec in any_spec(),
        max in prop::sample::select(vec![3u64, 8, 1 << 20]),
    ) {
        let input = if bom { [&b"\xEF\xBB\xBF"[..], &bytes].concat() } else { bytes };
        let limits = max_record(max);
        let whole = outcome(super::count_rows(&input[..], &spec, &limits));
        prop_assert_eq!(count_chunked(&input, capacity, &spec, &limits), whole);
    }
}

#[test]
fn the_reference_machine_agrees_with_the_csv_crate_on_known_cases() {
    // Guards the oracle itself with cases whose answer is known.
    let cases: [(&[u8], u64, bool); 6] = [
        (b"", 0, false),
        (b"a\r\n\r\nb", 2, false),
        (b"\"a\nb\"\n", 1, false),
        (b"\"a\"\"", 1, true),
        (b"x\n\"", 2, true),
        (b"\xEF\xBB\xBF\"a\"\"b\",c", 1, false),
    ];
    for (input, records, in_quotes) in cases {
        assert_eq!(
            reference(input, b',', Some(b'"')),
            (records, in_quotes),
            "{input:?}"
        );
        assert_eq!(
            csv_crate_records(input, &spec(Format::Csv, false)).len() as u64,
            records
        );
    }
    assert_eq!(
        count(b"x\n\"", &spec(Format::Csv, false)).map_err(|e| e.to_string()),
        Err::<RowStats, _>(
            "malformed csv file: unbalanced quote: record 2 opens a quoted field that never closes"
                .to_owned()
        )
    );
}
