//! DOS-style `LIST` lines, the default of Microsoft IIS FTP (and Windows CE,
//! some embedded servers):
//!
//! ```text
//! 08-07-15  07:50PM                  718 Post_PRR_20150901.dat
//! 08-10-15  02:04PM       <DIR>          Billing
//! 05-26-1995  10:57AM               143712 $LDR$
//! 09-13-10  13:08       <DIR>          My Documents
//! ```
//!
//! IIS right-aligns sizes in a fixed-width column followed by one space, and
//! follows `<DIR>` with ten spaces; the name is what comes after those, so
//! names that start with a space survive. A `<DIR>` followed by fewer than ten
//! spaces (other servers) has all of them removed.

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::fields::{self, Fields};
use super::local_time::local_to_utc;
use super::{EntryKind, Parsed, Precision, Skip};

/// The blanks IIS writes after `<DIR>`.
const DIR_PADDING: &str = "          ";

/// Parses one DOS-style line (line ending already removed).
pub(super) fn parse(line: &str, tz: Tz) -> Result<Parsed<'_>, Skip> {
    let mut fields = Fields::new(line);
    let date = fields.next().ok_or(Skip::Unrecognised)?;
    let time = fields.next().ok_or(Skip::Unrecognised)?;
    let date = read_date(date.text)?;

    // `07:50PM`, `07:50 PM` or `13:08`.
    let mut size_or_dir = fields.next().ok_or(Skip::Unrecognised)?;
    let meridiem = match split_meridiem(time.text) {
        (_, Some(m)) => Some(m),
        (_, None) => {
            let m = read_meridiem(size_or_dir.text);
            if m.is_some() {
                size_or_dir = fields.next().ok_or(Skip::Unrecognised)?;
            }
            m
        }
    };
    let time = read_time(split_meridiem(time.text).0, meridiem)?;
    let mtime = local_to_utc(date.and_time(time), tz).ok_or(Skip::InvalidDate)?;

    let rest = line.get(size_or_dir.end..).ok_or(Skip::Unrecognised)?;
    let (kind, size, name) = if size_or_dir.text.eq_ignore_ascii_case("<DIR>") {
        let name = match rest.strip_prefix(DIR_PADDING) {
            Some(name) if !name.is_empty() => name,
            _ => rest.trim_start_matches([' ', '\t']),
        };
        (EntryKind::Dir, None, name)
    } else {
        let digits: String = size_or_dir.text.chars().filter(|c| *c != ',').collect();
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Skip::Unrecognised);
        }
        let size = fields::size(&digits).ok_or(Skip::InvalidSize)?;
        let name = fields::after_one_blank(line, size_or_dir.end).ok_or(Skip::EmptyName)?;
        (EntryKind::File, Some(size), name)
    };
    Ok(Parsed {
        name,
        kind,
        size,
        mtime: Some(mtime),
        mtime_precision: Precision::Minute,
    })
}

/// `MM-DD-YY` or `MM-DD-YYYY`. Two-digit years 70–99 are 19xx, 00–69 are 20xx.
fn read_date(text: &str) -> Result<NaiveDate, Skip> {
    let mut parts = text.split('-');
    let (Some(month), Some(day), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Skip::Unrecognised);
    };
    let (Some(month), Some(day)) = (fields::digits(month, 2), fields::digits(day, 2)) else {
        return Err(Skip::Unrecognised);
    };
    let year = match (year.len(), fields::digits(year, 4)) {
        (2, Some(y)) if y >= 70 => 1900 + y,
        (2, Some(y)) => 2000 + y,
        (4, Some(y)) => y,
        _ => return Err(Skip::Unrecognised),
    };
    let year = i32::try_from(year).map_err(|_| Skip::InvalidDate)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(Skip::InvalidDate)
}

/// AM or PM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Meridiem {
    Am,
    Pm,
}

fn read_meridiem(text: &str) -> Option<Meridiem> {
    if text.eq_ignore_ascii_case("AM") {
        Some(Meridiem::Am)
    } else if text.eq_ignore_ascii_case("PM") {
        Some(Meridiem::Pm)
    } else {
        None
    }
}

/// Splits `07:50PM` into `07:50` and PM.
fn split_meridiem(text: &str) -> (&str, Option<Meridiem>) {
    let cut = text.len().saturating_sub(2);
    match (text.get(..cut), text.get(cut..).and_then(read_meridiem)) {
        (Some(time), Some(m)) => (time, Some(m)),
        _ => (text, None),
    }
}

/// `HH:MM` on the 12-hour clock when `meridiem` is given, else the 24-hour clock.
fn read_time(text: &str, meridiem: Option<Meridiem>) -> Result<NaiveTime, Skip> {
    let (hour, minute) = text.split_once(':').ok_or(Skip::Unrecognised)?;
    let (Some(hour), Some(minute)) = (fields::digits(hour, 2), fields::digits(minute, 2)) else {
        return Err(Skip::Unrecognised);
    };
    let hour = match meridiem {
        None if hour < 24 => hour,
        Some(Meridiem::Am) if (1..=12).contains(&hour) => hour % 12,
        Some(Meridiem::Pm) if (1..=12).contains(&hour) => hour % 12 + 12,
        _ => return Err(Skip::InvalidDate),
    };
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or(Skip::InvalidDate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_with_two_and_four_digit_years() {
        assert_eq!(
            read_date("08-07-15"),
            Ok(NaiveDate::from_ymd_opt(2015, 8, 7).unwrap())
        );
        assert_eq!(
            read_date("12-04-69"),
            Ok(NaiveDate::from_ymd_opt(2069, 12, 4).unwrap())
        );
        assert_eq!(
            read_date("05-26-95"),
            Ok(NaiveDate::from_ymd_opt(1995, 5, 26).unwrap())
        );
        assert_eq!(
            read_date("05-26-1995"),
            Ok(NaiveDate::from_ymd_opt(1995, 5, 26).unwrap())
        );
        assert_eq!(read_date("20-05-97"), Err(Skip::InvalidDate));
        assert_eq!(read_date("02-30-24"), Err(Skip::InvalidDate));
        assert_eq!(read_date("1-2"), Err(Skip::Unrecognised));
        assert_eq!(read_date("01-02-195"), Err(Skip::Unrecognised));
    }

    #[test]
    fn twelve_and_twenty_four_hour_clocks() {
        let t = |h, m| Ok(NaiveTime::from_hms_opt(h, m, 0).unwrap());
        assert_eq!(read_time("12:08", Some(Meridiem::Am)), t(0, 8));
        assert_eq!(read_time("12:08", Some(Meridiem::Pm)), t(12, 8));
        assert_eq!(read_time("07:50", Some(Meridiem::Pm)), t(19, 50));
        assert_eq!(read_time("17:03", None), t(17, 3));
        assert_eq!(
            read_time("13:00", Some(Meridiem::Pm)),
            Err(Skip::InvalidDate)
        );
        assert_eq!(
            read_time("00:10", Some(Meridiem::Am)),
            Err(Skip::InvalidDate)
        );
        assert_eq!(read_time("24:00", None), Err(Skip::InvalidDate));
        assert_eq!(read_time("10:61", None), Err(Skip::InvalidDate));
        assert_eq!(split_meridiem("07:50pm"), ("07:50", Some(Meridiem::Pm)));
        assert_eq!(split_meridiem("AM"), ("", Some(Meridiem::Am)));
        assert_eq!(split_meridiem("é"), ("é", None));
    }
}
