//! Turning the server's wall-clock times into UTC: DST gaps and overlaps, and
//! the year `ls` leaves out of recent files.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

/// How many years back from `now`'s year + 1 a yearless date is tried: enough
/// to reach the previous 29 February across a non-leap century year.
const YEARS_TRIED: i32 = 9;

/// The UTC instant of a wall-clock time in `tz`. A time repeated when clocks go
/// back is its later occurrence; a time skipped when clocks go forward is read
/// with the offset in force before the gap (shifted forward by the gap).
pub(super) fn local_to_utc(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(_, later) => Some(later.with_timezone(&Utc)),
        LocalResult::None => {
            // The offset a day earlier is the one in force before the gap (zones
            // do not change offset twice within a day).
            let day_before = local.checked_sub_signed(TimeDelta::days(1))?;
            let before = tz.offset_from_utc_datetime(&day_before).fix();
            let utc = local
                .checked_sub_signed(TimeDelta::seconds(i64::from(before.local_minus_utc())))?;
            Some(utc.and_utc())
        }
    }
}

/// The instant of `month`/`day` `hour:minute` in `tz`, in the latest year for
/// which it is not more than one day after `now`.
pub(super) fn infer_year(
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    now: DateTime<Utc>,
    tz: Tz,
) -> Option<DateTime<Utc>> {
    let limit = now.checked_add_signed(TimeDelta::days(1)).unwrap_or(now);
    let newest = now.with_timezone(&tz).year().saturating_add(1);
    let oldest = newest.saturating_sub(YEARS_TRIED - 1);
    for year in (oldest..=newest).rev() {
        let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
            continue;
        };
        let Some(utc) = date
            .and_hms_opt(hour, minute, 0)
            .and_then(|local| local_to_utc(local, tz))
        else {
            continue;
        };
        if utc <= limit {
            return Some(utc);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn local(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn spring_forward_gap_moves_forward_by_the_gap() {
        // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST.
        let t = local_to_utc(local("2026-03-29 02:30"), chrono_tz::Europe::Paris);
        assert_eq!(t, Some(utc("2026-03-29T01:30:00Z")));
        // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT.
        let t = local_to_utc(local("2026-03-08 02:15"), chrono_tz::America::New_York);
        assert_eq!(t, Some(utc("2026-03-08T07:15:00Z")));
    }

    #[test]
    fn fall_back_overlap_takes_the_later_instant() {
        // Paris, 2026-10-25: 02:30 happens at 00:30Z (CEST) and 01:30Z (CET).
        let t = local_to_utc(local("2026-10-25 02:30"), chrono_tz::Europe::Paris);
        assert_eq!(t, Some(utc("2026-10-25T01:30:00Z")));
        // New York, 2026-11-01: 01:30 happens at 05:30Z (EDT) and 06:30Z (EST).
        let t = local_to_utc(local("2026-11-01 01:30"), chrono_tz::America::New_York);
        assert_eq!(t, Some(utc("2026-11-01T06:30:00Z")));
    }

    #[test]
    fn year_is_the_latest_not_more_than_a_day_ahead() {
        let now = utc("2027-01-01T00:30:00Z");
        let t = infer_year(12, 31, 23, 45, now, Tz::UTC);
        assert_eq!(t, Some(utc("2026-12-31T23:45:00Z")));
        // Tomorrow is allowed (clock skew), the day after is last year.
        let now = utc("2026-11-21T12:00:00Z");
        assert_eq!(
            infer_year(11, 22, 10, 0, now, Tz::UTC),
            Some(utc("2026-11-22T10:00:00Z"))
        );
        assert_eq!(
            infer_year(11, 23, 10, 0, now, Tz::UTC),
            Some(utc("2025-11-23T10:00:00Z"))
        );
        // On 31 December, 1 January is tomorrow: next year.
        let now = utc("2026-12-31T12:00:00Z");
        assert_eq!(
            infer_year(1, 1, 9, 0, now, Tz::UTC),
            Some(utc("2027-01-01T09:00:00Z"))
        );
    }

    #[test]
    fn february_29_goes_back_to_the_last_leap_year() {
        let now = utc("2027-03-01T00:00:00Z");
        assert_eq!(
            infer_year(2, 29, 8, 0, now, Tz::UTC),
            Some(utc("2024-02-29T08:00:00Z"))
        );
        let now = utc("2028-03-01T00:00:00Z");
        assert_eq!(
            infer_year(2, 29, 8, 0, now, Tz::UTC),
            Some(utc("2028-02-29T08:00:00Z"))
        );
        // Across 2100, which is not a leap year: back to 2096.
        let now = utc("2103-06-01T00:00:00Z");
        assert_eq!(
            infer_year(2, 29, 8, 0, now, Tz::UTC),
            Some(utc("2096-02-29T08:00:00Z"))
        );
        assert_eq!(infer_year(2, 30, 8, 0, now, Tz::UTC), None);
        assert_eq!(infer_year(4, 31, 8, 0, now, Tz::UTC), None);
    }

    #[test]
    fn year_inference_uses_the_servers_new_year() {
        // 23:30 UTC on 31 Dec is already 1 Jan in Paris: "Jan 01 00:10" Paris
        // time (23:10Z) is twenty minutes ago, so this year, not last.
        let now = utc("2026-12-31T23:30:00Z");
        assert_eq!(
            infer_year(1, 1, 0, 10, now, chrono_tz::Europe::Paris),
            Some(utc("2026-12-31T23:10:00Z"))
        );
    }
}
