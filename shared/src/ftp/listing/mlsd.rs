//! `MLSD` lines (RFC 3659 §7): facts, one space, the name.
//!
//! ```text
//! type=file;size=6;modify=20240305060708;UNIX.mode=0644;UNIX.uid=1001;unique=fe00g9aa211; small.txt
//! Type=dir;Modify=20141022065102.999;UNIX.mode=0775; source
//! type=OS.unix=slink:/foobar;perm=;unique=keVO1+4G4; foobar
//! ```
//!
//! Fact names and the `type` value are case-insensitive. The name is everything
//! after the first space, so names with spaces, leading spaces or `;` survive.
//! Some servers indent the whole line; a line that starts with blanks followed by
//! something shaped like facts is read as if the blanks were not there.

use chrono::{DateTime, NaiveDate, Utc};

use super::fields;
use super::{EntryKind, Parsed, Precision, Skip};

/// Parses one MLSD line (line ending already removed).
pub(super) fn parse(line: &str) -> Result<Parsed<'_>, Skip> {
    let (facts, name) = split_facts(line)?;
    let mut kind = None;
    let mut size = None;
    let mut mtime = None;
    for fact in facts_of(facts)? {
        let (fact, value) = fact?;
        if fact.eq_ignore_ascii_case("type") {
            kind = Some(read_type(value)?);
        } else if fact.eq_ignore_ascii_case("size") {
            size = Some(fields::size(value).ok_or(Skip::InvalidSize)?);
        } else if fact.eq_ignore_ascii_case("modify") {
            mtime = Some(read_modify(value).ok_or(Skip::InvalidDate)?);
        }
    }
    let kind = kind.ok_or(Skip::MlsdNoType)?;
    Ok(Parsed {
        name,
        kind,
        size,
        mtime,
        mtime_precision: Precision::Second,
    })
}

/// Splits a line into its facts (ending in `;`) and the name.
fn split_facts(line: &str) -> Result<(&str, &str), Skip> {
    let (facts, name) = line.split_once(' ').ok_or(Skip::Unrecognised)?;
    if !facts.is_empty() {
        return Ok((facts, name));
    }
    // A leading space means "no facts" in RFC 3659, unless what follows the
    // indentation is itself facts (seen in the wild).
    let unindented = line.trim_start_matches(' ');
    match unindented.split_once(' ') {
        Some((facts, name)) if looks_like_facts(facts) => Ok((facts, name)),
        _ => Err(Skip::MlsdNoFacts),
    }
}

fn looks_like_facts(text: &str) -> bool {
    text.ends_with(';') && text.split(';').next().is_some_and(|f| f.contains('='))
}

/// The `name=value` pairs of a facts string such as `type=file;size=6;`.
fn facts_of(facts: &str) -> Result<impl Iterator<Item = Result<(&str, &str), Skip>>, Skip> {
    let body = facts.strip_suffix(';').ok_or(Skip::MlsdBadFact)?;
    Ok(body.split(';').map(|fact| match fact.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name, value)),
        _ => Err(Skip::MlsdBadFact),
    }))
}

/// The entry kind from a `type` value.
fn read_type(value: &str) -> Result<EntryKind, Skip> {
    const SLINK: &str = "os.unix=slink";
    if value.eq_ignore_ascii_case("file") {
        return Ok(EntryKind::File);
    }
    if value.eq_ignore_ascii_case("dir") {
        return Ok(EntryKind::Dir);
    }
    if value.eq_ignore_ascii_case("cdir") || value.eq_ignore_ascii_case("pdir") {
        return Err(Skip::SelfOrParent);
    }
    if value.eq_ignore_ascii_case("os.unix=symlink") {
        return Ok(EntryKind::Symlink {
            target: String::new(),
        });
    }
    let head = value.get(..SLINK.len());
    if head.is_some_and(|h| h.eq_ignore_ascii_case(SLINK)) {
        let rest = value.get(SLINK.len()..).unwrap_or_default();
        if rest.is_empty() || rest.starts_with(':') {
            return Ok(EntryKind::Symlink {
                target: rest.get(1..).unwrap_or_default().to_owned(),
            });
        }
    }
    Err(Skip::Special)
}

/// `YYYYMMDDHHMMSS` with an optional `.fraction`, in UTC. The fraction is
/// checked and dropped.
fn read_modify(value: &str) -> Option<DateTime<Utc>> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
    if whole.len() != 14 || fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let part = |range: std::ops::Range<usize>| whole.get(range).and_then(|p| fields::digits(p, 4));
    let year = i32::try_from(part(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, part(4..6)?, part(6..8)?)?
        .and_hms_opt(part(8..10)?, part(10..12)?, part(12..14)?)
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modify_values() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().ok();
        assert_eq!(read_modify("20240305060708"), t("2024-03-05T06:07:08Z"));
        assert_eq!(read_modify("20141022065102.999"), t("2014-10-22T06:51:02Z"));
        assert_eq!(read_modify("2014"), None);
        assert_eq!(read_modify("20141205180002Z"), None);
        assert_eq!(read_modify("2014102206510x2.999"), None);
        assert_eq!(read_modify("20141022065102."), None);
        assert_eq!(read_modify("20141322065102"), None);
        assert_eq!(read_modify("+2014102206510"), None);
        assert_eq!(read_modify("2014102206510é"), None);
    }

    #[test]
    fn type_values() {
        assert_eq!(read_type("File"), Ok(EntryKind::File));
        assert_eq!(read_type("DIR"), Ok(EntryKind::Dir));
        assert_eq!(read_type("cdir"), Err(Skip::SelfOrParent));
        assert_eq!(read_type("PDIR"), Err(Skip::SelfOrParent));
        assert_eq!(
            read_type("OS.unix=slink:/foobar"),
            Ok(EntryKind::Symlink {
                target: "/foobar".to_owned()
            })
        );
        assert_eq!(
            read_type("OS.unix=slink:"),
            Ok(EntryKind::Symlink {
                target: String::new()
            })
        );
        assert_eq!(
            read_type("OS.unix=symlink"),
            Ok(EntryKind::Symlink {
                target: String::new()
            })
        );
        assert_eq!(read_type("OS.unix=slinky"), Err(Skip::Special));
        assert_eq!(read_type("OS.unix=chr-13/29"), Err(Skip::Special));
        assert_eq!(read_type(""), Err(Skip::Special));
        assert_eq!(read_type("é"), Err(Skip::Special));
    }

    #[test]
    fn facts_and_name() {
        assert_eq!(split_facts("type=file; a b"), Ok(("type=file;", "a b")));
        assert_eq!(split_facts("type=file;  lead"), Ok(("type=file;", " lead")));
        assert_eq!(
            split_facts("     Type=file;Size=1; x"),
            Ok(("Type=file;Size=1;", "x"))
        );
        assert_eq!(split_facts(" /no/facts"), Err(Skip::MlsdNoFacts));
        assert_eq!(split_facts("nospace"), Err(Skip::Unrecognised));
        assert!(facts_of("Type=dir").is_err());
        let facts: Vec<_> = facts_of("a=1;perm=;").unwrap().collect();
        assert_eq!(facts, vec![Ok(("a", "1")), Ok(("perm", ""))]);
        let facts: Vec<_> = facts_of("Size;").unwrap().collect();
        assert_eq!(facts, vec![Err(Skip::MlsdBadFact)]);
    }
}
