//! Reading one value as written in a file into its typed form, exactly: nothing
//! is rounded, truncated or guessed (docs/contracts.md has the table).
//!
//! Why not `arrow-cast`, which parses text into the same Arrow types: its
//! decimal parser truncates digits past the scale, its booleans accept `on` and
//! prefixes, its timestamps go through nanoseconds (years 1677–2262 only) and it
//! ignores a format for them. The parsers here are small, exact and reject with
//! a reason; calendars and time zones come from chrono and chrono-tz, and the
//! default ISO forms have a fast path that reads fixed positions.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use super::types::ColumnType;

/// A typed value, borrowed from the record it was read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    String(&'a str),
    Int(i32),
    BigInt(i64),
    Double(f64),
    /// The value × 10^scale of its column.
    Decimal(i128),
    Boolean(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01T00:00:00Z.
    Timestamp(i64),
}

impl Value<'_> {
    /// Orders two values of the same column (for `min` and `max`); `None` for
    /// values of different types, strings and booleans, or a NaN.
    pub fn partial_cmp_same_type(&self, other: &Value<'_>) -> Option<std::cmp::Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::BigInt(a), Value::BigInt(b)) => Some(a.cmp(b)),
            (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
            (Value::Decimal(a), Value::Decimal(b)) => Some(a.cmp(b)),
            (Value::Date(a), Value::Date(b)) => Some(a.cmp(b)),
            (Value::Timestamp(a), Value::Timestamp(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// Appends bytes that are equal for two values exactly when the values are
    /// (the key of `unique`, `primary_key` and `allowed`).
    pub fn write_key(&self, out: &mut Vec<u8>) {
        match *self {
            Value::String(s) => out.extend_from_slice(s.as_bytes()),
            Value::Int(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::BigInt(v) | Value::Timestamp(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Double(v) => {
                // -0.0 equals 0.0, and every NaN is the same value.
                let v = if v == 0.0 {
                    0.0
                } else if v.is_nan() {
                    f64::NAN
                } else {
                    v
                };
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Value::Decimal(v) => out.extend_from_slice(&v.to_le_bytes()),
            Value::Boolean(v) => out.push(u8::from(v)),
            Value::Date(v) => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// Why a value is not of its column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueError {
    /// Not the type's syntax at all.
    Syntax,
    /// The bytes are not UTF-8.
    NotUtf8,
    /// A well-formed number outside the type's range (or a double that overflows).
    OutOfRange,
    /// More digits before the point than `decimal(P,S)` allows.
    TooManyDigits,
    /// A non-zero digit past the decimal's scale: it would have to be rounded.
    TooManyDecimals,
    /// `NaN` or an infinity in a column that does not allow them.
    NonFinite,
    /// A date or time that does not exist (`2026-02-30`, hour 25).
    NoSuchDate,
    /// A fraction of a second finer than a microsecond.
    FinerThanMicros,
    /// A local time skipped by a daylight-saving change in the column's zone.
    SkippedLocalTime,
}

impl ValueError {
    /// What is wrong, for a row error's message (never the value itself).
    pub fn describe(self, ty: ColumnType) -> String {
        match self {
            ValueError::Syntax => format!("not a valid {ty}"),
            ValueError::NotUtf8 => "not valid UTF-8".to_owned(),
            ValueError::OutOfRange => format!("out of the range of {ty}"),
            ValueError::TooManyDigits => format!("too many digits before the point for {ty}"),
            ValueError::TooManyDecimals => {
                format!("more decimals than {ty} holds (values are never rounded)")
            }
            ValueError::NonFinite => {
                "NaN or infinity, and the column does not allow them".to_owned()
            }
            ValueError::NoSuchDate => format!("not a real {ty} (no such day or time)"),
            ValueError::FinerThanMicros => "finer than a microsecond".to_owned(),
            ValueError::SkippedLocalTime => {
                "a local time that does not exist in the column's time zone \
                 (skipped by a daylight-saving change)"
                    .to_owned()
            }
        }
    }
}

/// A time zone for timestamps without an offset; UTC is kept apart to skip the
/// zone lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Utc,
    Named(Tz),
}

impl Zone {
    /// The zone of an IANA name (`UTC`, `Europe/Paris`).
    pub fn from_name(name: &str) -> Option<Zone> {
        if name == "UTC" || name == "Etc/UTC" {
            return Some(Zone::Utc);
        }
        name.parse::<Tz>().ok().map(Zone::Named)
    }

    /// The UTC instant of a local time here: the earlier one when the time
    /// occurs twice, none when it was skipped.
    fn to_utc(self, local: NaiveDateTime) -> Result<NaiveDateTime, ValueError> {
        match self {
            Zone::Utc => Ok(local),
            Zone::Named(tz) => match tz.from_local_datetime(&local) {
                LocalResult::Single(at) => Ok(at.naive_utc()),
                LocalResult::Ambiguous(earlier, _) => Ok(earlier.naive_utc()),
                LocalResult::None => Err(ValueError::SkippedLocalTime),
            },
        }
    }
}

/// How to read the values of one column: its type and what shapes them.
#[derive(Debug, Clone)]
pub struct ValueParser {
    ty: ColumnType,
    /// `date`/`timestamp` with a format: its parsed items.
    format: Option<Vec<Item<'static>>>,
    zone: Zone,
    allow_non_finite: bool,
}

/// A strftime format that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid format: {0}")]
pub struct BadFormat(String);

impl ValueParser {
    /// A parser for `ty`; `format` only for dates and timestamps, `zone` only
    /// matters for timestamps.
    pub fn new(
        ty: ColumnType,
        format: Option<&str>,
        zone: Zone,
        allow_non_finite: bool,
    ) -> Result<ValueParser, BadFormat> {
        let format = match format {
            Some(text) => Some(
                StrftimeItems::new(text)
                    .parse_to_owned()
                    .map_err(|e| BadFormat(e.to_string()))?,
            ),
            None => None,
        };
        Ok(ValueParser {
            ty,
            format,
            zone,
            allow_non_finite,
        })
    }

    /// The column's type.
    pub fn column_type(&self) -> ColumnType {
        self.ty
    }

    /// Reads `raw` (not null: the caller compared it with `null_values`).
    pub fn parse<'a>(&self, raw: &'a [u8]) -> Result<Value<'a>, ValueError> {
        if self.ty == ColumnType::String {
            return std::str::from_utf8(raw)
                .map(Value::String)
                .map_err(|_| ValueError::NotUtf8);
        }
        let text = trim(raw);
        match self.ty {
            ColumnType::String => Err(ValueError::Syntax),
            ColumnType::Int => parse_integer(text).and_then(|v| {
                i32::try_from(v)
                    .map(Value::Int)
                    .map_err(|_| ValueError::OutOfRange)
            }),
            ColumnType::BigInt => parse_integer(text).map(Value::BigInt),
            ColumnType::Double => parse_double(text, self.allow_non_finite).map(Value::Double),
            ColumnType::Decimal { precision, scale } => {
                parse_decimal(text, precision, scale).map(Value::Decimal)
            }
            ColumnType::Boolean => parse_boolean(text).map(Value::Boolean),
            ColumnType::Date => self.parse_date(text).map(Value::Date),
            ColumnType::Timestamp => self.parse_timestamp(text).map(Value::Timestamp),
        }
    }

    fn parse_date(&self, text: &[u8]) -> Result<i32, ValueError> {
        let date = match &self.format {
            None => iso_date(text)?,
            Some(items) => {
                let text = std::str::from_utf8(text).map_err(|_| ValueError::Syntax)?;
                let mut parsed = Parsed::new();
                chrono::format::parse(&mut parsed, text, items.iter())
                    .map_err(|_| ValueError::Syntax)?;
                parsed.to_naive_date().map_err(|_| ValueError::NoSuchDate)?
            }
        };
        days_since_epoch(date)
    }

    fn parse_timestamp(&self, text: &[u8]) -> Result<i64, ValueError> {
        let (local, offset_secs, nanos) = match &self.format {
            None => iso_timestamp(text)?,
            Some(items) => {
                let text = std::str::from_utf8(text).map_err(|_| ValueError::Syntax)?;
                let mut parsed = Parsed::new();
                chrono::format::parse(&mut parsed, text, items.iter())
                    .map_err(|_| ValueError::Syntax)?;
                let date = parsed.to_naive_date().map_err(|_| ValueError::NoSuchDate)?;
                let time = parsed.to_naive_time().map_err(|_| ValueError::NoSuchDate)?;
                let nanos = parsed.nanosecond().unwrap_or(0);
                (date.and_time(time), parsed.offset(), nanos)
            }
        };
        if nanos % 1000 != 0 {
            return Err(ValueError::FinerThanMicros);
        }
        let utc = match offset_secs {
            Some(offset) => local
                .checked_sub_signed(chrono::TimeDelta::seconds(i64::from(offset)))
                .ok_or(ValueError::OutOfRange)?,
            None => self.zone.to_utc(local)?,
        };
        Ok(utc.and_utc().timestamp_micros())
    }
}

/// Drops leading and trailing spaces and tabs (every type but `string`).
pub(crate) fn trim(raw: &[u8]) -> &[u8] {
    let start = raw
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(raw.len());
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |last| last + 1);
    raw.get(start..end).unwrap_or_default()
}

/// `[+-]?[0-9]+` as an `i64`.
fn parse_integer(text: &[u8]) -> Result<i64, ValueError> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ValueError::Syntax);
    }
    // Accumulate negatively so that i64::MIN is reachable.
    let mut value: i64 = 0;
    for &d in digits {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_sub(i64::from(d - b'0')))
            .ok_or(ValueError::OutOfRange)?;
    }
    if negative {
        Ok(value)
    } else {
        value.checked_neg().ok_or(ValueError::OutOfRange)
    }
}

/// Decimal notation with an optional exponent, or a non-finite literal.
fn parse_double(text: &[u8], allow_non_finite: bool) -> Result<f64, ValueError> {
    let text = std::str::from_utf8(text).map_err(|_| ValueError::Syntax)?;
    // std's grammar: sign, digits, point, exponent, `inf`, `infinity`, `nan` in
    // any case; no hex, no separators.
    let value: f64 = text.parse().map_err(|_| ValueError::Syntax)?;
    if value.is_finite() {
        return Ok(value);
    }
    let literal = text
        .trim_start_matches(['+', '-'])
        .starts_with(['i', 'I', 'n', 'N']);
    if !literal {
        // Digits that overflow to infinity (`1e400`).
        Err(ValueError::OutOfRange)
    } else if allow_non_finite {
        Ok(value)
    } else {
        Err(ValueError::NonFinite)
    }
}

/// `[+-]?(digits[.digits]|.digits)`: the sign, the digits before the point
/// and those after it, as written; `None` for anything else.
pub(crate) fn split_decimal(text: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (negative, body) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let (whole, fraction) = match body.iter().position(|&b| b == b'.') {
        Some(at) => (
            body.get(..at).unwrap_or_default(),
            body.get(at + 1..).unwrap_or_default(),
        ),
        None => (body, &[][..]),
    };
    if (whole.is_empty() && fraction.is_empty())
        || !whole.iter().all(u8::is_ascii_digit)
        || !fraction.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    Some((negative, whole, fraction))
}

/// `[+-]?(digits[.digits]|.digits)` as the value × 10^scale, never rounded.
fn parse_decimal(text: &[u8], precision: u8, scale: u8) -> Result<i128, ValueError> {
    let (negative, whole, fraction) = split_decimal(text).ok_or(ValueError::Syntax)?;
    let scale = usize::from(scale);
    let whole = whole
        .iter()
        .position(|&b| b != b'0')
        .map_or(&[][..], |first| whole.get(first..).unwrap_or_default());
    if whole.len() > usize::from(precision).saturating_sub(scale) {
        return Err(ValueError::TooManyDigits);
    }
    let (kept, dropped) = fraction.split_at(fraction.len().min(scale));
    if dropped.iter().any(|&b| b != b'0') {
        return Err(ValueError::TooManyDecimals);
    }
    // At most 38 digits: within i128.
    let mut value: i128 = 0;
    for &d in whole.iter().chain(kept) {
        value = value * 10 + i128::from(d - b'0');
    }
    for _ in kept.len()..scale {
        value *= 10;
    }
    Ok(if negative { -value } else { value })
}

/// `true`/`false`, `t`/`f`, `yes`/`no`, `y`/`n`, `1`/`0`, in any case.
fn parse_boolean(text: &[u8]) -> Result<bool, ValueError> {
    const TRUE: [&[u8]; 5] = [b"true", b"t", b"yes", b"y", b"1"];
    const FALSE: [&[u8]; 5] = [b"false", b"f", b"no", b"n", b"0"];
    if TRUE.iter().any(|t| text.eq_ignore_ascii_case(t)) {
        Ok(true)
    } else if FALSE.iter().any(|f| text.eq_ignore_ascii_case(f)) {
        Ok(false)
    } else {
        Err(ValueError::Syntax)
    }
}

fn days_since_epoch(date: NaiveDate) -> Result<i32, ValueError> {
    // chrono's dates span ±262,143 years: the day count fits an i32.
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).ok_or(ValueError::OutOfRange)?;
    i32::try_from(date.signed_duration_since(epoch).num_days()).map_err(|_| ValueError::OutOfRange)
}

/// `n` ASCII digits as a number.
fn digits(text: &[u8]) -> Option<u32> {
    if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        text.iter()
            .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0')),
    )
}

/// Exactly `YYYY-MM-DD`.
fn iso_date(text: &[u8]) -> Result<NaiveDate, ValueError> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *text else {
        return Err(ValueError::Syntax);
    };
    let (Some(year), Some(month), Some(day)) = (
        digits(&[y0, y1, y2, y3]),
        digits(&[m0, m1]),
        digits(&[d0, d1]),
    ) else {
        return Err(ValueError::Syntax);
    };
    let year = i32::try_from(year).map_err(|_| ValueError::Syntax)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(ValueError::NoSuchDate)
}

/// `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|±HH[:MM]|±HHMM]`: the local date and
/// time, the offset in seconds east of UTC when one is written, and the
/// fraction's nanoseconds (to check it against microseconds).
fn iso_timestamp(text: &[u8]) -> Result<(NaiveDateTime, Option<i32>, u32), ValueError> {
    let date = iso_date(text.get(..10).ok_or(ValueError::Syntax)?)?;
    let rest = match text.get(10..) {
        Some([b'T' | b't' | b' ', rest @ ..]) => rest,
        _ => return Err(ValueError::Syntax),
    };
    let two = |at: &[u8]| -> Result<u32, ValueError> {
        match at {
            [a, b] => digits(&[*a, *b]).ok_or(ValueError::Syntax),
            _ => Err(ValueError::Syntax),
        }
    };
    let hour = two(rest.get(..2).ok_or(ValueError::Syntax)?)?;
    let rest = match rest.get(2..) {
        Some([b':', rest @ ..]) => rest,
        _ => return Err(ValueError::Syntax),
    };
    let minute = two(rest.get(..2).ok_or(ValueError::Syntax)?)?;
    let mut rest = rest.get(2..).unwrap_or_default();
    let mut second = 0;
    let mut nanos = 0;
    if let [b':', tail @ ..] = rest {
        second = two(tail.get(..2).ok_or(ValueError::Syntax)?)?;
        rest = tail.get(2..).unwrap_or_default();
        if let [b'.', tail @ ..] = rest {
            let len = tail.iter().take_while(|b| b.is_ascii_digit()).count();
            if len == 0 || len > 9 {
                return Err(ValueError::Syntax);
            }
            let (fraction, tail) = tail.split_at(len);
            nanos = digits(fraction).ok_or(ValueError::Syntax)? * 10u32.pow(9 - len as u32);
            rest = tail;
        }
    }
    let offset = match rest {
        [] => None,
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (hours, minutes) = match tail {
                [h0, h1] => (two(&[*h0, *h1])?, 0),
                [h0, h1, b':', m0, m1] | [h0, h1, m0, m1] => (two(&[*h0, *h1])?, two(&[*m0, *m1])?),
                _ => return Err(ValueError::Syntax),
            };
            if hours > 23 || minutes > 59 {
                return Err(ValueError::NoSuchDate);
            }
            let seconds =
                i32::try_from(hours * 3600 + minutes * 60).map_err(|_| ValueError::Syntax)?;
            Some(if *sign == b'-' { -seconds } else { seconds })
        }
        _ => return Err(ValueError::Syntax),
    };
    // A leap second (`:60`) is not accepted: chrono would read it as one.
    if second > 59 {
        return Err(ValueError::NoSuchDate);
    }
    let time =
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or(ValueError::NoSuchDate)?;
    Ok((date.and_time(time), offset, nanos))
}

#[cfg(test)]
mod tests;
