//! The year `ls` leaves out, and server time zones, through `parse_list_line`.

use chrono_tz::Tz;
use chrono_tz::{America::New_York, Europe::Paris};

use super::utc;
use crate::ftp::listing::{Precision, Skip, parse_list_line};

/// The mtime of a one-byte file listed with the given date columns.
fn mtime_of(date: &str, now: &str, tz: Tz) -> Result<String, Skip> {
    let line = format!("-rw-r--r--    1 ftp      ftp             1 {date} data.csv");
    parse_list_line(&line, utc(now), tz).map(|e| {
        let t = e.mtime.unwrap();
        let expected = if date.contains(':') {
            Precision::Minute
        } else {
            Precision::Day
        };
        assert_eq!(e.mtime_precision, expected, "{date}");
        t.to_rfc3339()
    })
}

fn ok(t: &str) -> Result<String, Skip> {
    Ok(utc(t).to_rfc3339())
}

#[test]
fn new_year() {
    // Listed half an hour into 2027: last night's file is from 2026.
    assert_eq!(
        mtime_of("Dec 31 23:45", "2027-01-01T00:30:00Z", Tz::UTC),
        ok("2026-12-31T23:45:00Z")
    );
    // Listed on New Year's Eve: a file dated tomorrow morning (skew) is 2027.
    assert_eq!(
        mtime_of("Jan 01 09:00", "2026-12-31T12:00:00Z", Tz::UTC),
        ok("2027-01-01T09:00:00Z")
    );
}

#[test]
fn one_day_of_clock_skew() {
    let now = "2026-11-21T12:00:00Z";
    assert_eq!(
        mtime_of("Nov 22 10:00", now, Tz::UTC),
        ok("2026-11-22T10:00:00Z")
    );
    assert_eq!(
        mtime_of("Nov 23 10:00", now, Tz::UTC),
        ok("2025-11-23T10:00:00Z")
    );
    assert_eq!(
        mtime_of("Nov 21 11:59", now, Tz::UTC),
        ok("2026-11-21T11:59:00Z")
    );
}

#[test]
fn february_29() {
    assert_eq!(
        mtime_of("Feb 29 10:00", "2027-03-01T00:00:00Z", Tz::UTC),
        ok("2024-02-29T10:00:00Z")
    );
    assert_eq!(
        mtime_of("Feb 29 10:00", "2028-02-28T12:00:00Z", Tz::UTC),
        ok("2028-02-29T10:00:00Z")
    );
    assert_eq!(
        mtime_of("Feb 29  2024", "2027-03-01T00:00:00Z", Tz::UTC),
        ok("2024-02-29T00:00:00Z")
    );
    assert_eq!(
        mtime_of("Feb 29  2023", "2027-03-01T00:00:00Z", Tz::UTC),
        Err(Skip::InvalidDate)
    );
    assert_eq!(
        mtime_of("Feb 30 10:00", "2027-03-01T00:00:00Z", Tz::UTC),
        Err(Skip::InvalidDate)
    );
}

#[test]
fn server_time_zones() {
    // Paris is UTC+1 in winter, UTC+2 in summer.
    assert_eq!(
        mtime_of("Jan 15 14:00", "2026-07-01T12:00:00Z", Paris),
        ok("2026-01-15T13:00:00Z")
    );
    assert_eq!(
        mtime_of("Jun 30 14:00", "2026-07-01T12:00:00Z", Paris),
        ok("2026-06-30T12:00:00Z")
    );
    assert_eq!(
        mtime_of("Mar 05  2024", "2026-07-01T12:00:00Z", Paris),
        ok("2024-03-04T23:00:00Z")
    );
    // New York is UTC-4 in summer, UTC-5 in winter.
    assert_eq!(
        mtime_of("Jul 04 09:00", "2026-11-21T12:00:00Z", New_York),
        ok("2026-07-04T13:00:00Z")
    );
    assert_eq!(
        mtime_of("Feb 01 23:30", "2026-11-21T12:00:00Z", New_York),
        ok("2026-02-02T04:30:00Z")
    );
    // DOS/IIS lines are local time too.
    let e = parse_list_line(
        "07-04-26  09:00AM                    5 a.csv",
        utc("2026-11-21T12:00:00Z"),
        New_York,
    )
    .unwrap();
    assert_eq!(e.mtime, Some(utc("2026-07-04T13:00:00Z")));
}

#[test]
fn year_follows_the_servers_calendar() {
    // 23:30Z on 31 December is already 00:30 on 1 January in Paris, so a Paris
    // file from "Jan 01 00:10" is twenty minutes old, not a year.
    assert_eq!(
        mtime_of("Jan 01 00:10", "2026-12-31T23:30:00Z", Paris),
        ok("2026-12-31T23:10:00Z")
    );
    // 02:00Z on 1 January is still 21:00 on 31 December in New York: "Dec 31
    // 20:00" there is this (the server's) year.
    assert_eq!(
        mtime_of("Dec 31 20:00", "2027-01-01T02:00:00Z", New_York),
        ok("2027-01-01T01:00:00Z")
    );
}

#[test]
fn dst_boundaries() {
    let now = "2026-11-21T12:00:00Z";
    // Spring forward: Paris 02:30 on 29 March 2026 does not exist; read with the
    // winter offset, it is 01:30Z (03:30 CEST).
    assert_eq!(
        mtime_of("Mar 29 02:30", now, Paris),
        ok("2026-03-29T01:30:00Z")
    );
    // Just before and after the gap.
    assert_eq!(
        mtime_of("Mar 29 01:59", now, Paris),
        ok("2026-03-29T00:59:00Z")
    );
    assert_eq!(
        mtime_of("Mar 29 03:00", now, Paris),
        ok("2026-03-29T01:00:00Z")
    );
    // Fall back: Paris 02:30 on 25 October 2026 happens twice; the later one
    // (CET) is taken.
    assert_eq!(
        mtime_of("Oct 25 02:30", now, Paris),
        ok("2026-10-25T01:30:00Z")
    );
    // New York: 01:30 on 1 November 2026 happens twice; EST is taken.
    assert_eq!(
        mtime_of("Nov 01 01:30", now, New_York),
        ok("2026-11-01T06:30:00Z")
    );
    // New York: 02:15 on 8 March 2026 does not exist: 07:15Z (03:15 EDT).
    assert_eq!(
        mtime_of("Mar 08 02:15", now, New_York),
        ok("2026-03-08T07:15:00Z")
    );
}
