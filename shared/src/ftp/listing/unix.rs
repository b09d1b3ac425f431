//! Unix `ls -l` style `LIST` lines, as vsftpd, ProFTPD, Pure-FTPd, FileZilla
//! Server, libunftp and IIS (in Unix mode) print them:
//!
//! ```text
//! -rw-r--r--    1 1001     1001            6 Mar 05  2024 small.txt
//! lrwxrwxrwx    1 0        1001           27 Jul 07 11:02 R.pkg -> base/R.pkg
//! ```
//!
//! The columns between the permissions and the size vary (link count, owner,
//! group, any of them missing, group names with a space), so the parser looks
//! for the `size month day time-or-year` run rather than counting columns. The
//! name is everything after the single blank that follows the time or year.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use super::fields::{self, Field, Fields};
use super::local_time::{infer_year, local_to_utc};
use super::{EntryKind, Parsed, Precision, Skip};

/// Fields looked at after the permissions: up to four owner/group/link-count
/// columns, then size, month, day, time or year.
const MAX_FIELDS: usize = 8;

/// Where the month column is tried, most likely first: after link count, owner
/// and group (4); one of them missing (3); a group name with a space (5); two
/// missing (2); more (6, 7).
const MONTH_POSITIONS: [usize; 6] = [4, 3, 5, 2, 6, 7];

/// Parses one Unix-style line (line ending already removed).
pub(super) fn parse(line: &str, now: DateTime<Utc>, tz: Tz) -> Result<Parsed<'_>, Skip> {
    if is_total(line) {
        return Err(Skip::Total);
    }
    let mut fields = Fields::new(line);
    let perms = fields.next().ok_or(Skip::Unrecognised)?;
    let kind = kind_of(perms.text)?;

    let mut found: [Option<Field<'_>>; MAX_FIELDS] = [None; MAX_FIELDS];
    for (slot, field) in found.iter_mut().zip(fields) {
        *slot = Some(field);
    }
    let field = |i: usize| found.get(i).copied().flatten();

    for m in MONTH_POSITIONS {
        let (Some(size), Some(month), Some(day), Some(when)) =
            (field(m - 1), field(m), field(m + 1), field(m + 2))
        else {
            continue;
        };
        let Some(month) = fields::month(month.text) else {
            continue;
        };
        let Some(day) = fields::digits(day.text, 2) else {
            continue;
        };
        let Some(when) = When::read(when.text) else {
            continue;
        };
        if !size.text.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let size = fields::size(size.text).ok_or(Skip::InvalidSize)?;
        let (mtime, precision) = when.resolve(month, day, now, tz)?;
        let Some(name) = fields::after_one_blank(line, field_end(&found, m + 2)) else {
            return Err(Skip::EmptyName);
        };
        let (name, kind) = match kind {
            EntryKind::Symlink { .. } => {
                let (name, target) = name.split_once(" -> ").unwrap_or((name, ""));
                (
                    name,
                    EntryKind::Symlink {
                        target: target.to_owned(),
                    },
                )
            }
            other => (name, other),
        };
        return Ok(Parsed {
            name,
            kind,
            size: Some(size),
            mtime: Some(mtime),
            mtime_precision: precision,
        });
    }
    Err(Skip::Unrecognised)
}

/// The byte offset just past field `i`, which the caller knows exists.
fn field_end(found: &[Option<Field<'_>>], i: usize) -> usize {
    found
        .get(i)
        .copied()
        .flatten()
        .map_or(usize::MAX, |f| f.end)
}

/// `total 123` (or `total 12K`), the block count `ls -l` prints first.
fn is_total(line: &str) -> bool {
    let mut fields = Fields::new(line);
    matches!(
        (fields.next(), fields.next(), fields.next()),
        (Some(t), Some(n), None)
            if t.text == "total" && n.text.bytes().next().is_some_and(|b| b.is_ascii_digit())
    )
}

/// The entry kind from a permissions field such as `drwxr-xr-x` or `-rw-r--r--+`.
fn kind_of(perms: &str) -> Result<EntryKind, Skip> {
    let bytes = perms.as_bytes();
    let (Some(&type_char), Some(mode)) = (bytes.first(), bytes.get(1..10)) else {
        return Err(Skip::Unrecognised);
    };
    let mode_ok = mode.iter().all(|b| b"rwxsStTlL-".contains(b));
    // ACL (`+`), extended attributes (`@`) or SELinux context (`.`) markers.
    let suffix_ok = matches!(bytes.get(10..), Some([] | [b'+' | b'@' | b'.']));
    if !mode_ok || !suffix_ok {
        return Err(Skip::Unrecognised);
    }
    match type_char {
        b'-' => Ok(EntryKind::File),
        b'd' => Ok(EntryKind::Dir),
        b'l' => Ok(EntryKind::Symlink {
            target: String::new(),
        }),
        b'b' | b'c' | b'p' | b's' | b'D' | b'n' | b'P' | b'w' => Err(Skip::Special),
        _ => Err(Skip::Unrecognised),
    }
}

/// The last date column: a time of day (recent files) or a year (older ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Time { hour: u32, minute: u32 },
    Year(i32),
}

impl When {
    fn read(text: &str) -> Option<When> {
        if let Some((hour, minute)) = text.split_once(':') {
            let hour = fields::digits(hour, 2)?;
            let minute = fields::digits(minute, 2).filter(|_| minute.len() == 2)?;
            return (hour < 24 && minute < 60).then_some(When::Time { hour, minute });
        }
        if text.len() == 4 {
            let year = fields::digits(text, 4)?;
            return i32::try_from(year).ok().map(When::Year);
        }
        None
    }

    fn resolve(
        self,
        month: u32,
        day: u32,
        now: DateTime<Utc>,
        tz: Tz,
    ) -> Result<(DateTime<Utc>, Precision), Skip> {
        match self {
            When::Time { hour, minute } => infer_year(month, day, hour, minute, now, tz)
                .map(|t| (t, Precision::Minute))
                .ok_or(Skip::InvalidDate),
            When::Year(year) => NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|date| date.and_hms_opt(0, 0, 0))
                .and_then(|local| local_to_utc(local, tz))
                .map(|t| (t, Precision::Day))
                .ok_or(Skip::InvalidDate),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_decide_the_kind() {
        assert_eq!(kind_of("-rw-r--r--"), Ok(EntryKind::File));
        assert_eq!(kind_of("drwxr-xr-x"), Ok(EntryKind::Dir));
        assert_eq!(kind_of("-rwxrw-r--+"), Ok(EntryKind::File));
        assert_eq!(kind_of("-rwsrwSr-T"), Ok(EntryKind::File));
        assert_eq!(kind_of("----------"), Ok(EntryKind::File));
        assert_eq!(
            kind_of("lrwxrwxrwx"),
            Ok(EntryKind::Symlink {
                target: String::new()
            })
        );
        assert_eq!(kind_of("crw-rw-rw-"), Err(Skip::Special));
        assert_eq!(kind_of("brw-rw----"), Err(Skip::Special));
        assert_eq!(kind_of("prw-r--r--"), Err(Skip::Special));
        assert_eq!(kind_of("srwxrwxrwx"), Err(Skip::Special));
        assert_eq!(kind_of("Zrwxrwxrwx"), Err(Skip::Unrecognised));
        assert_eq!(kind_of("drwx------+111"), Err(Skip::Unrecognised));
        assert_eq!(kind_of("-rw"), Err(Skip::Unrecognised));
        assert_eq!(kind_of("-rw-r--r-é"), Err(Skip::Unrecognised));
    }

    #[test]
    fn time_or_year_column() {
        assert_eq!(
            When::read("3:33"),
            Some(When::Time {
                hour: 3,
                minute: 33
            })
        );
        assert_eq!(When::read("2009"), Some(When::Year(2009)));
        assert_eq!(When::read("24:00"), None);
        assert_eq!(When::read("12:60"), None);
        assert_eq!(When::read("12:5"), None);
        assert_eq!(When::read("209"), None);
        assert_eq!(When::read("30:01"), None);
    }

    #[test]
    fn total_lines() {
        assert!(is_total("total 1"));
        assert!(is_total("total 12K"));
        assert!(!is_total("total"));
        assert!(!is_total("total 1 more"));
    }
}
