//! The FTP listing parser (LIST and MLSD) on arbitrary lines a hostile or
//! broken server could send: no panic, every entry's name is a single path
//! segment (no `/`, no `..`, no control characters), and each line is either
//! an entry, ignored or skipped with a reason.
#![no_main]

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use tributary::ftp::listing::{ListingStyle, parse_listing};

fuzz_target!(|data: &[u8]| {
    let style = if data.first().is_some_and(|b| b & 1 == 1) {
        ListingStyle::Mlsd
    } else {
        ListingStyle::List
    };
    let text = String::from_utf8_lossy(data.get(1..).unwrap_or_default());
    let lines: Vec<&str> = text.split(['\n', '\r']).collect();
    let now = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().unwrap();
    let listing = parse_listing(&lines, style, now, chrono_tz::Europe::Paris);
    assert_eq!(
        listing.entries.len() + listing.ignored + listing.skipped.len(),
        lines.len()
    );
    for entry in &listing.entries {
        assert!(!entry.name.is_empty() && entry.name != "." && entry.name != "..");
        assert!(!entry.name.contains('/'), "{:?}", entry.name);
        assert!(!entry.name.chars().any(char::is_control), "{:?}", entry.name);
    }
});
