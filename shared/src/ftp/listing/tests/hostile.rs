//! Hostile and broken listings: every rejection reason, and a large garbage
//! listing processed without a panic and with bounded log output.

use chrono_tz::Tz;

use super::utc;
use crate::ftp::listing::{
    LOG_PREFIX_CHARS, ListingStyle, MAX_LINE_BYTES, MAX_NAME_BYTES, Skip, parse_list_line,
    parse_listing, parse_mlsd_line,
};

const NOW: &str = "2026-11-21T12:00:00Z";

fn list(line: &str) -> Result<(), Skip> {
    parse_list_line(line, utc(NOW), Tz::UTC).map(|_| ())
}

fn mlsd(line: &str) -> Result<(), Skip> {
    parse_mlsd_line(line).map(|_| ())
}

/// A valid Unix line for a file with the given name.
fn file_named(name: &str) -> String {
    format!("-rw-r--r--    1 ftp      ftp             1 Nov 20 10:00 {name}")
}

#[test]
fn every_rejection_reason() {
    let long = file_named(&"x".repeat(MAX_LINE_BYTES));
    assert_eq!(
        list(&long),
        Err(Skip::LineTooLong {
            len: long.len(),
            max: MAX_LINE_BYTES
        })
    );
    assert!(matches!(
        mlsd(&format!("type=file; {}", "x".repeat(5000))),
        Err(Skip::LineTooLong { .. })
    ));
    assert_eq!(list(""), Err(Skip::Blank));
    assert_eq!(list(" \t \r\n"), Err(Skip::Blank));
    assert_eq!(mlsd("\r\n"), Err(Skip::Blank));
    assert_eq!(list("total 42"), Err(Skip::Total));
    assert_eq!(list(&file_named(".")), Err(Skip::SelfOrParent));
    assert_eq!(list(&file_named("..")), Err(Skip::SelfOrParent));
    assert_eq!(mlsd("type=cdir; /srv/in"), Err(Skip::SelfOrParent));
    assert_eq!(mlsd("type=file; .."), Err(Skip::SelfOrParent));
    assert_eq!(list("hello world"), Err(Skip::Unrecognised));
    assert_eq!(
        list("<html><body>403 Forbidden</body></html>"),
        Err(Skip::Unrecognised)
    );
    assert_eq!(list("-rw-r--r-- 1 a b c"), Err(Skip::Unrecognised));
    assert_eq!(
        list("crw-rw-rw-    1 root     root       1,   3 Jan 01  2020 null"),
        Err(Skip::Special)
    );
    assert_eq!(
        list("prw-r--r--    1 root     root          0 Jan 01  2020 fifo"),
        Err(Skip::Special)
    );
    assert_eq!(mlsd("type=OS.unix=chr-13/29; tty"), Err(Skip::Special));
    assert_eq!(
        list("-rw-r--r--    1 ftp ftp 99999999999999999999 Jan 01  2020 big"),
        Err(Skip::InvalidSize)
    );
    assert_eq!(
        list("01-01-20  10:00AM  99999999999999999999 big"),
        Err(Skip::InvalidSize)
    );
    assert_eq!(mlsd("type=file;size=-1; x"), Err(Skip::InvalidSize));
    assert_eq!(
        list("-rw-r--r--    1 ftp ftp 1 Feb 30  2020 x"),
        Err(Skip::InvalidDate)
    );
    assert_eq!(
        list("-rw-r--r--    1 ftp ftp 1 Apr 31 10:00 x"),
        Err(Skip::InvalidDate)
    );
    assert_eq!(list("02-30-20  10:00AM  1 x"), Err(Skip::InvalidDate));
    assert_eq!(list("01-01-20  13:00PM  1 x"), Err(Skip::InvalidDate));
    assert_eq!(
        mlsd("type=file;modify=20241301000000; x"),
        Err(Skip::InvalidDate)
    );
    assert_eq!(
        list("-rw-r--r--    1 ftp ftp 1 Jan 01  2020"),
        Err(Skip::EmptyName)
    );
    assert_eq!(
        list("-rw-r--r--    1 ftp ftp 1 Jan 01  2020 "),
        Err(Skip::EmptyName)
    );
    assert_eq!(list("01-01-20  10:00AM  1"), Err(Skip::EmptyName));
    assert_eq!(mlsd("type=file; "), Err(Skip::EmptyName));
    let name = "é".repeat(MAX_NAME_BYTES / 2 + 1);
    assert_eq!(
        list(&file_named(&name)),
        Err(Skip::NameTooLong {
            len: name.len(),
            max: MAX_NAME_BYTES
        })
    );
    assert_eq!(
        list(&file_named("../../etc/passwd")),
        Err(Skip::NameHasSlash)
    );
    assert_eq!(list(&file_named("/abs")), Err(Skip::NameHasSlash));
    assert_eq!(mlsd("type=file; a/b"), Err(Skip::NameHasSlash));
    for name in [
        "a\0b",
        "a\rb",
        "a\nb",
        "a\tb",
        "\u{1b}[31mred",
        "a\u{7f}",
        "a\u{85}b",
    ] {
        assert_eq!(list(&file_named(name)), Err(Skip::ControlChar), "{name:?}");
        assert_eq!(
            mlsd(&format!("type=file; {name}")),
            Err(Skip::ControlChar),
            "{name:?}"
        );
    }
    assert_eq!(
        list("lrwxrwxrwx    1 ftp ftp 5 Jan 01  2020 l -> \u{7}bell"),
        Err(Skip::ControlChar)
    );
    assert_eq!(mlsd(" no facts here"), Err(Skip::MlsdNoFacts));
    assert_eq!(mlsd("type=file;size; x"), Err(Skip::MlsdBadFact));
    assert_eq!(mlsd("=file; x"), Err(Skip::MlsdBadFact));
    assert_eq!(
        mlsd("size=1;modify=20240101000000; x"),
        Err(Skip::MlsdNoType)
    );
}

#[test]
fn unknown_and_odd_facts_are_ignored() {
    // A 3-byte, 2-char UNIX.mode value panics suppaftp's MLSD parser (it checks
    // the byte length, then indexes chars); here unknown facts are not read.
    let entry = parse_mlsd_line("type=file;UNIX.mode=éx;size=3; a.csv").unwrap();
    assert_eq!(entry.name, "a.csv");
    assert_eq!(entry.size, Some(3));
}

#[test]
fn messages_are_clear() {
    assert_eq!(
        Skip::LineTooLong {
            len: 5000,
            max: 4096
        }
        .to_string(),
        "line is 5000 bytes long, over the 4096-byte limit"
    );
    assert_eq!(Skip::NameHasSlash.to_string(), "name contains `/`");
    assert_eq!(
        Skip::Special.to_string(),
        "not a file, directory or symlink (device, FIFO, socket or other special entry)"
    );
}

#[test]
fn skipped_lines_are_logged_short_and_escaped() {
    let lines = [
        format!("\u{1b}[2J\0{}", "A".repeat(10_000)),
        "-rw-r--r-- 1 a b 1 Jan 01  2020 ok.csv".to_owned(),
        "日本語のゴミ行".to_owned(),
    ];
    let listing = parse_listing(&lines, ListingStyle::List, utc(NOW), Tz::UTC);
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.skipped.len(), 2);
    let first = &listing.skipped[0];
    assert_eq!(first.line_no, 1);
    assert!(matches!(
        first.reason,
        Skip::LineTooLong { len: 10_005, .. }
    ));
    assert_eq!(
        first.line_prefix,
        format!("\\u{{1b}}[2J\\u{{0}}{}", "A".repeat(LOG_PREFIX_CHARS - 5))
    );
    let third = &listing.skipped[1];
    assert_eq!(third.line_no, 3);
    assert_eq!(third.reason, Skip::Unrecognised);
    assert_eq!(third.line_prefix, "日本語のゴミ行");
}

#[test]
fn hundred_thousand_mixed_lines() {
    let mut lines = Vec::with_capacity(100_000);
    for i in 0..100_000usize {
        let line = match i % 10 {
            0 => format!("-rw-r--r--    1 ftp      ftp      {i:>8} Nov 20 10:00 file {i}.csv"),
            1 => format!("11-20-26  10:00AM  {i:>18} dos{i}.csv"),
            2 => format!("\u{1b}[2J\0garbage {i}\u{7}"),
            3 => format!("total {i}"),
            4 if i % 1000 == 4 => "A".repeat(MAX_LINE_BYTES + 1),
            4 => "drwxr-xr-x    2 ftp      ftp          4096 Nov 20 10:00 .".to_owned(),
            5 => file_named(&format!("../escape{i}")),
            6 => String::new(),
            7 => format!("lrwxrwxrwx    1 ftp ftp 9 Nov 20 10:00 link{i} -> target{i}"),
            8 => format!("brw-rw----    1 root disk 8, {i} Nov 20 10:00 sda{i}"),
            _ => format!("日本語 ☃ {i} \u{202e}"),
        };
        lines.push(line);
    }
    let listing = parse_listing(&lines, ListingStyle::List, utc(NOW), Tz::UTC);
    assert_eq!(listing.entries.len(), 30_000);
    assert_eq!(listing.ignored, 20_000 + 9_900);
    assert_eq!(listing.skipped.len(), 40_100);
    // Escaping makes a character at most 10 bytes (`\u{10ffff}`).
    assert!(listing.skipped.iter().all(|s| {
        s.line_prefix.len() <= 10 * LOG_PREFIX_CHARS && !s.line_prefix.chars().any(char::is_control)
    }));
    let too_long = listing
        .skipped
        .iter()
        .filter(|s| matches!(s.reason, Skip::LineTooLong { .. }))
        .count();
    assert_eq!(too_long, 100);
    assert_eq!(listing.entries[0].name, "file 0.csv");
    assert_eq!(listing.entries[1].name, "dos1.csv");
    assert_eq!(listing.entries[1].size, Some(1));

    // The same garbage read as MLSD: nothing usable, nothing panics.
    let listing = parse_listing(&lines, ListingStyle::Mlsd, utc(NOW), Tz::UTC);
    assert!(listing.entries.is_empty());
    assert_eq!(
        listing.entries.len() + listing.skipped.len() + listing.ignored,
        100_000
    );
}
