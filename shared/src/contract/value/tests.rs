//! The value parsers, value by value, against the table in docs/contracts.md.

use super::*;

fn parser(ty: &str) -> ValueParser {
    ValueParser::new(ColumnType::parse(ty).unwrap(), None, Zone::Utc, false).unwrap()
}

fn parse<'a>(ty: &str, text: &'a str) -> Result<Value<'a>, ValueError> {
    parser(ty).parse(text.as_bytes())
}

#[test]
fn integers_are_digits_with_a_sign_within_range() {
    assert_eq!(parse("int", "-12"), Ok(Value::Int(-12)));
    assert_eq!(parse("int", "+7"), Ok(Value::Int(7)));
    assert_eq!(parse("int", "007"), Ok(Value::Int(7)));
    assert_eq!(parse("int", " 42\t"), Ok(Value::Int(42)));
    assert_eq!(parse("int", "2147483647"), Ok(Value::Int(i32::MAX)));
    assert_eq!(parse("int", "-2147483648"), Ok(Value::Int(i32::MIN)));
    assert_eq!(parse("int", "2147483648"), Err(ValueError::OutOfRange));
    assert_eq!(
        parse("bigint", "-9223372036854775808"),
        Ok(Value::BigInt(i64::MIN))
    );
    assert_eq!(
        parse("bigint", "9223372036854775807"),
        Ok(Value::BigInt(i64::MAX))
    );
    assert_eq!(
        parse("bigint", "9223372036854775808"),
        Err(ValueError::OutOfRange)
    );
    assert_eq!(
        parse("bigint", "123456789012345678901234567890"),
        Err(ValueError::OutOfRange)
    );
    for bad in [
        "1.5", "1.0", "1e3", "0x10", "1_000", "1,000", "", "-", "+", " ", "abc", "١٢",
    ] {
        assert_eq!(parse("bigint", bad), Err(ValueError::Syntax), "{bad:?}");
    }
}

#[test]
fn doubles_refuse_non_finite_unless_allowed_and_never_overflow_silently() {
    assert_eq!(parse("double", "-1.5"), Ok(Value::Double(-1.5)));
    assert_eq!(parse("double", ".5"), Ok(Value::Double(0.5)));
    assert_eq!(parse("double", "2."), Ok(Value::Double(2.0)));
    assert_eq!(parse("double", "6.02e23"), Ok(Value::Double(6.02e23)));
    assert_eq!(parse("double", "1e400"), Err(ValueError::OutOfRange));
    assert_eq!(parse("double", "-1e400"), Err(ValueError::OutOfRange));
    for non_finite in ["NaN", "nan", "inf", "-inf", "+Infinity", "INF"] {
        assert_eq!(
            parse("double", non_finite),
            Err(ValueError::NonFinite),
            "{non_finite}"
        );
    }
    let allowing = ValueParser::new(ColumnType::Double, None, Zone::Utc, true).unwrap();
    assert!(matches!(allowing.parse(b"NaN"), Ok(Value::Double(v)) if v.is_nan()));
    assert_eq!(
        allowing.parse(b"-inf"),
        Ok(Value::Double(f64::NEG_INFINITY))
    );
    assert_eq!(allowing.parse(b"1e400"), Err(ValueError::OutOfRange));
    for bad in ["0x1p3", "1_0", "1,5", "", "e5", "."] {
        assert_eq!(parse("double", bad), Err(ValueError::Syntax), "{bad:?}");
    }
}

#[test]
fn decimals_are_exact_and_never_rounded() {
    assert_eq!(parse("decimal(12,2)", "12.34"), Ok(Value::Decimal(1234)));
    assert_eq!(parse("decimal(12,2)", "-.5"), Ok(Value::Decimal(-50)));
    assert_eq!(parse("decimal(12,2)", "7"), Ok(Value::Decimal(700)));
    assert_eq!(parse("decimal(12,2)", "7."), Ok(Value::Decimal(700)));
    assert_eq!(parse("decimal(12,2)", "1.500"), Ok(Value::Decimal(150)));
    assert_eq!(
        parse("decimal(12,2)", "0000000000001.5"),
        Ok(Value::Decimal(150))
    );
    assert_eq!(
        parse("decimal(12,2)", "1.005"),
        Err(ValueError::TooManyDecimals)
    );
    assert_eq!(
        parse("decimal(12,2)", "9999999999.99"),
        Ok(Value::Decimal(999_999_999_999))
    );
    assert_eq!(
        parse("decimal(12,2)", "10000000000"),
        Err(ValueError::TooManyDigits)
    );
    assert_eq!(
        parse("decimal(38,0)", "99999999999999999999999999999999999999"),
        Ok(Value::Decimal(10i128.pow(38) - 1))
    );
    assert_eq!(
        parse("decimal(38,2)", "1234567890123456789012345678901234567890"),
        Err(ValueError::TooManyDigits)
    );
    assert_eq!(parse("decimal(5,5)", "0.12345"), Ok(Value::Decimal(12345)));
    assert_eq!(parse("decimal(5,5)", "1.2"), Err(ValueError::TooManyDigits));
    for bad in ["1e3", ".", "", "1.2.3", "--1", "1,5", "NaN"] {
        assert_eq!(
            parse("decimal(12,2)", bad),
            Err(ValueError::Syntax),
            "{bad:?}"
        );
    }
}

#[test]
fn booleans_take_the_usual_spellings_only() {
    for t in ["true", "TRUE", "t", "Yes", "y", "1"] {
        assert_eq!(parse("boolean", t), Ok(Value::Boolean(true)), "{t}");
    }
    for f in ["false", "F", "no", "N", "0"] {
        assert_eq!(parse("boolean", f), Ok(Value::Boolean(false)), "{f}");
    }
    for bad in ["on", "off", "2", "tru", ""] {
        assert_eq!(parse("boolean", bad), Err(ValueError::Syntax), "{bad:?}");
    }
}

#[test]
fn dates_are_real_days() {
    assert_eq!(parse("date", "1970-01-01"), Ok(Value::Date(0)));
    assert_eq!(parse("date", "2024-02-29"), Ok(Value::Date(19_782)));
    assert_eq!(parse("date", "1969-12-31"), Ok(Value::Date(-1)));
    assert_eq!(parse("date", "2026-02-30"), Err(ValueError::NoSuchDate));
    assert_eq!(parse("date", "2025-02-29"), Err(ValueError::NoSuchDate));
    for bad in [
        "2026-1-5",
        "2026/01/05",
        "infinity",
        "epoch",
        "2026-01-05T00:00",
        "20260105",
    ] {
        assert_eq!(parse("date", bad), Err(ValueError::Syntax), "{bad:?}");
    }
    let dmy = ValueParser::new(ColumnType::Date, Some("%d/%m/%Y"), Zone::Utc, false).unwrap();
    assert_eq!(dmy.parse(b"29/02/2024"), Ok(Value::Date(19_782)));
    assert_eq!(dmy.parse(b"30/02/2024"), Err(ValueError::NoSuchDate));
    assert_eq!(dmy.parse(b"2024-02-29"), Err(ValueError::Syntax));
}

#[test]
fn timestamps_are_utc_microseconds() {
    fn at(text: &str) -> Result<Value<'_>, ValueError> {
        parse("timestamp", text)
    }
    assert_eq!(at("1970-01-01T00:00:00Z"), Ok(Value::Timestamp(0)));
    assert_eq!(at("1970-01-01 00:00"), Ok(Value::Timestamp(0)));
    assert_eq!(at("1970-01-01T01:00:00+01:00"), Ok(Value::Timestamp(0)));
    assert_eq!(at("1970-01-01T01:00:00+0100"), Ok(Value::Timestamp(0)));
    assert_eq!(at("1969-12-31T23:00:00-01"), Ok(Value::Timestamp(0)));
    assert_eq!(at("1970-01-01T00:00:00.000001Z"), Ok(Value::Timestamp(1)));
    assert_eq!(at("1970-01-01T00:00:00.5"), Ok(Value::Timestamp(500_000)));
    assert_eq!(
        at("1970-01-01T00:00:00.123456000"),
        Ok(Value::Timestamp(123_456))
    );
    assert_eq!(
        at("1970-01-01T00:00:00.1234567"),
        Err(ValueError::FinerThanMicros)
    );
    assert_eq!(at("1970-01-01T24:00:00"), Err(ValueError::NoSuchDate));
    assert_eq!(at("1970-01-01T23:59:60"), Err(ValueError::NoSuchDate));
    assert_eq!(at("2026-02-30T00:00:00"), Err(ValueError::NoSuchDate));
    for bad in [
        "1970-01-01",
        "1970-01-01T",
        "1970-01-01T1:00",
        "1970-01-01T00:00:00.",
        "1970-01-01T00:00:00 Z",
        "1970-01-01T00:00:00+1",
    ] {
        assert_eq!(at(bad), Err(ValueError::Syntax), "{bad:?}");
    }
}

#[test]
fn local_timestamps_follow_the_zone_and_its_daylight_saving() {
    let paris = Zone::from_name("Europe/Paris").unwrap();
    let p = ValueParser::new(ColumnType::Timestamp, None, paris, false).unwrap();
    // Winter: UTC+1.
    assert_eq!(
        p.parse(b"2026-01-15T10:00:00"),
        Ok(Value::Timestamp(1_768_467_600_000_000))
    );
    // An explicit offset wins over the zone.
    assert_eq!(
        p.parse(b"2026-01-15T09:00:00Z"),
        Ok(Value::Timestamp(1_768_467_600_000_000))
    );
    // 2026-03-29 02:30 does not exist in Paris; 2026-10-25 02:30 happens twice.
    assert_eq!(
        p.parse(b"2026-03-29T02:30:00"),
        Err(ValueError::SkippedLocalTime)
    );
    let earlier = p.parse(b"2026-10-25T02:30:00");
    let summer = ValueParser::new(ColumnType::Timestamp, None, Zone::Utc, false)
        .unwrap()
        .parse(b"2026-10-25T00:30:00");
    assert_eq!(earlier, summer, "the earlier of the two instants (UTC+2)");

    let formatted =
        ValueParser::new(ColumnType::Timestamp, Some("%d/%m/%Y %H:%M"), paris, false).unwrap();
    assert_eq!(
        formatted.parse(b"15/01/2026 10:00"),
        Ok(Value::Timestamp(1_768_467_600_000_000))
    );
    assert_eq!(formatted.parse(b"15/01/2026"), Err(ValueError::Syntax));
    let with_offset = ValueParser::new(
        ColumnType::Timestamp,
        Some("%Y-%m-%d %H:%M:%S%.f %z"),
        paris,
        false,
    )
    .unwrap();
    assert_eq!(
        with_offset.parse(b"2026-01-15 09:00:00.25 +0000"),
        Ok(Value::Timestamp(1_768_467_600_250_000))
    );
    assert!(ValueParser::new(ColumnType::Timestamp, Some("%Q"), paris, false).is_err());
}

#[test]
fn strings_are_kept_exactly_and_must_be_utf8() {
    assert_eq!(parse("string", " a b "), Ok(Value::String(" a b ")));
    assert_eq!(parser("string").parse(b"\xff"), Err(ValueError::NotUtf8));
}

#[test]
fn keys_are_equal_exactly_when_values_are() {
    let key = |v: Value<'_>| {
        let mut out = Vec::new();
        v.write_key(&mut out);
        out
    };
    assert_eq!(
        key(parse("bigint", "007").unwrap()),
        key(parse("bigint", "7").unwrap())
    );
    assert_eq!(key(Value::Double(0.0)), key(Value::Double(-0.0)));
    assert_ne!(
        key(parse("decimal(5,2)", "1.5").unwrap()),
        key(parse("decimal(5,2)", "1.05").unwrap())
    );
}

proptest::proptest! {
    /// Every i64 and every decimal written back in its plain form reads back to itself.
    #[test]
    fn integers_and_decimals_round_trip(v in proptest::num::i64::ANY, scale in 0u8..=6) {
        let text = v.to_string();
        proptest::prop_assert_eq!(parse("bigint", &text), Ok(Value::BigInt(v)));
        let ty = ColumnType::Decimal { precision: 38, scale };
        let p = ValueParser::new(ty, None, Zone::Utc, false).unwrap();
        let magnitude = i128::from(v).unsigned_abs();
        let divisor = 10u128.pow(u32::from(scale));
        let text = format!(
            "{}{}.{:0width$}",
            if v < 0 { "-" } else { "" },
            magnitude / divisor,
            magnitude % divisor,
            width = usize::from(scale)
        );
        proptest::prop_assert_eq!(p.parse(text.as_bytes()), Ok(Value::Decimal(i128::from(v))));
    }

    /// No input makes a parser panic.
    #[test]
    fn no_input_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
        for ty in ["string", "int", "bigint", "double", "decimal(38,10)", "boolean", "date", "timestamp"] {
            let _ = parse_bytes(ty, &bytes);
        }
    }
}

fn parse_bytes(ty: &str, bytes: &[u8]) -> Result<(), ValueError> {
    parser(ty).parse(bytes).map(|_| ())
}
