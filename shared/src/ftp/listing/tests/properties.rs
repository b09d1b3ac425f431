//! Properties: the parsers never panic, and generated valid Unix lines parse
//! back to the name, size and date they were made from.

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Timelike, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::utc;
use crate::ftp::listing::{
    EntryKind, ListingStyle, Precision, parse_list_line, parse_listing, parse_mlsd_line,
};

const NOW: &str = "2026-11-21T12:00:00Z";
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn zone() -> impl Strategy<Value = Tz> {
    prop_oneof![
        Just(Tz::UTC),
        Just(chrono_tz::Europe::Paris),
        Just(chrono_tz::America::New_York),
        Just(chrono_tz::Asia::Kolkata),
    ]
}

/// Pieces of listing lines, to build near-valid garbage that reaches deep into
/// the parsers rather than failing on the first character.
fn near_valid_line() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("-rw-r--r--".to_owned()),
        Just("drwxr-xr-x".to_owned()),
        Just("lrwxrwxrwx".to_owned()),
        Just("->".to_owned()),
        Just("<DIR>".to_owned()),
        Just("total".to_owned()),
        Just("Feb".to_owned()),
        Just("29".to_owned()),
        Just("12:60".to_owned()),
        Just("23:59".to_owned()),
        Just("11-21-26".to_owned()),
        Just("07:50PM".to_owned()),
        Just("type=file;".to_owned()),
        Just("type=OS.unix=slink:".to_owned()),
        Just("modify=20240229235959.5;".to_owned()),
        Just("size=18446744073709551616;".to_owned()),
        "[0-9]{1,21}",
        "\\PC{0,6}",
        ".{0,4}",
    ];
    (
        prop::collection::vec(piece, 0..14),
        prop::collection::vec(prop_oneof![Just(" "), Just("  "), Just("\t"), Just("")], 14),
    )
        .prop_map(|(pieces, seps)| {
            pieces
                .iter()
                .zip(seps.iter())
                .map(|(p, s)| format!("{p}{s}"))
                .collect()
        })
}

/// Names a server could list: printable (no control characters), possibly with
/// spaces anywhere and non-ASCII, never `/`, `.` or `..`.
fn name() -> impl Strategy<Value = String> {
    "\\PC{1,40}".prop_filter("not a valid entry name", |n| {
        !n.contains('/') && n != "." && n != ".."
    })
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_text(line in "(?s).{0,200}", tz in zone(), minutes in -10_000_000i64..10_000_000) {
        let now = utc(NOW) + TimeDelta::minutes(minutes);
        let listed = parse_list_line(&line, now, tz);
        let mlsd = parse_mlsd_line(&line);
        // Whatever comes back is consistent with the rules.
        for entry in [listed, mlsd].into_iter().flatten() {
            prop_assert!(!entry.name.is_empty() && !entry.name.contains('/'));
            prop_assert!(!entry.name.chars().any(char::is_control));
        }
    }

    #[test]
    fn never_panics_on_near_valid_lines(line in near_valid_line(), tz in zone()) {
        let listing = parse_listing([&line], ListingStyle::List, utc(NOW), tz);
        prop_assert_eq!(listing.entries.len() + listing.skipped.len() + listing.ignored, 1);
        let listing = parse_listing([&line], ListingStyle::Mlsd, utc(NOW), tz);
        prop_assert_eq!(listing.entries.len() + listing.skipped.len() + listing.ignored, 1);
    }

    #[test]
    fn recent_unix_lines_round_trip(
        name in name(),
        size in any::<u64>(),
        is_dir in any::<bool>(),
        with_group in any::<bool>(),
        minutes_ago in 0i64..(364 * 24 * 60),
        tz in zone(),
    ) {
        let now = utc(NOW);
        let when = (now - TimeDelta::minutes(minutes_ago)).with_timezone(&tz);
        let date = format!(
            "{} {:>2} {:02}:{:02}",
            MONTHS[when.month0() as usize],
            when.day(),
            when.hour(),
            when.minute()
        );
        let line = unix_line(&name, size, is_dir, with_group, &date);
        let entry = parse_list_line(&line, now, tz).unwrap();
        prop_assert_eq!(&entry.name, &name);
        prop_assert_eq!(&entry.kind, if is_dir { &EntryKind::Dir } else { &EntryKind::File });
        prop_assert_eq!(entry.size, (!is_dir).then_some(size));
        prop_assert_eq!(entry.mtime_precision, Precision::Minute);
        // Same wall-clock minute in the server's zone (in a fall-back hour the
        // instant may be the other occurrence, by design).
        let local = entry.mtime.unwrap().with_timezone(&tz).naive_local();
        prop_assert_eq!(local, when.naive_local().with_second(0).unwrap().with_nanosecond(0).unwrap());
    }

    #[test]
    fn old_unix_lines_round_trip(
        name in name(),
        size in any::<u64>(),
        with_group in any::<bool>(),
        year in 1970i32..2100,
        ordinal in 1u32..=365,
        tz in zone(),
    ) {
        let day = NaiveDate::from_yo_opt(year, ordinal).unwrap();
        let date = format!("{} {:>2}  {}", MONTHS[day.month0() as usize], day.day(), year);
        let line = unix_line(&name, size, false, with_group, &date);
        let entry = parse_list_line(&line, utc(NOW), tz).unwrap();
        prop_assert_eq!(&entry.name, &name);
        prop_assert_eq!(entry.size, Some(size));
        prop_assert_eq!(entry.mtime_precision, Precision::Day);
        let local = entry.mtime.unwrap().with_timezone(&tz).naive_local();
        prop_assert_eq!(local, day.and_hms_opt(0, 0, 0).unwrap());
    }
}

/// An `ls -l` line in vsftpd's layout, with or without the group column.
fn unix_line(name: &str, size: u64, is_dir: bool, with_group: bool, date: &str) -> String {
    let perms = if is_dir { "drwxr-xr-x" } else { "-rw-r--r--" };
    let group = if with_group { " ftp     " } else { "" };
    format!("{perms}    1 1001    {group} {size:>12} {date} {name}")
}

#[test]
fn unix_line_helper_makes_vsftpd_lines() {
    let line = unix_line("a b", 6, false, true, "Mar 05  2024");
    assert_eq!(
        line,
        "-rw-r--r--    1 1001     ftp                 6 Mar 05  2024 a b"
    );
    let entry = parse_list_line(&line, utc(NOW), Tz::UTC).unwrap();
    let expected: DateTime<Utc> = utc("2024-03-05T00:00:00Z");
    assert_eq!(entry.mtime, Some(expected));
}
