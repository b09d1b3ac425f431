//! When a rule's files are due: its SLA windows, from the expected-arrival cron
//! evaluated in the SLA's time zone, plus the grace period. Pure: no I/O, no
//! clock; every instant is passed in.
//!
//! For the expected times `E_k` the deadline is `D_k = E_k + grace`, and window
//! `k` is `(D_{k-1}, D_k]`: an ingested file of the rule discovered in it meets
//! window `k`. A window also knows the next expected time `E_{k+1}`: a file
//! discovered before it, after the deadline, is this window's late file.
//!
//! The cron is evaluated on the zone's wall clock, and each wall-clock time is
//! then placed on the time line:
//! - a time that occurs once is that instant;
//! - a time that occurs twice (the hour repeated when clocks fall back) is its
//!   first occurrence: one window, not two;
//! - a time that does not exist (the hour skipped when clocks spring forward) is
//!   the first instant after the gap: the day keeps its window.
//!
//! Wall-clock times placed on the same instant (two times inside one gap, or a
//! skipped time and the time the gap ends on) are one expected time. croner's
//! own zone-aware search agrees for fixed-time schedules (`0 6 * * *`), but runs
//! other schedules (`*/30 1 * * *`, `0 1,2 * * *`) on both passes of a repeated
//! hour and drops their times inside a gap; evaluating the wall clock here gives
//! every schedule the one rule above (the tests show both).

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;
use serde::Serialize;

use crate::failure::FailureKind;
use crate::registry::{Sla, Tenant, parse_cron};

/// Most wall-clock occurrences looked at to find one expected time (they can
/// only pile up on one instant inside a gap or a repeated hour).
const MAX_STEPS: usize = 10_000;
/// Longest gap in the clock searched for its end (Samoa skipped a whole day).
const MAX_GAP_MINUTES: i64 = 2 * 24 * 60;
/// The longest grace taken: a year (and a day).
pub const MAX_GRACE_MINUTES: u32 = 366 * 24 * 60;
/// How far back the offsets are sampled to place a wall-clock time before an
/// instant: at most one change of offset happens within it.
const OFFSET_SPAN_DAYS: i64 = 2;

/// Why a rule's windows cannot be computed. A validated registry has a valid
/// cron and zone; what is left is a schedule with no occurrence (`0 6 31 2 *`)
/// or a grace that leaves the calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("invalid cron expression {expression:?}: {reason}")]
    Cron { expression: String, reason: String },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
    #[error("grace of {0} minutes is longer than {MAX_GRACE_MINUTES} (a year)")]
    Grace(u32),
    #[error("cron expression {expression:?} in {timezone}: {reason}")]
    Search {
        expression: String,
        timezone: String,
        reason: String,
    },
}

impl ScheduleError {
    /// A schedule that cannot be evaluated is a registry problem.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

/// One window of a rule: files discovered in `(start, deadline]` meet it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The previous window's deadline.
    pub start: DateTime<Utc>,
    /// When the file is expected (the cron occurrence, placed as above).
    pub expected: DateTime<Utc>,
    /// `expected` + grace.
    pub deadline: DateTime<Utc>,
    /// The next window's expected time: a file discovered from then on is
    /// taken for the next window's, not a late one of this window.
    pub next_expected: DateTime<Utc>,
}

/// Windows asked for, oldest first, and whether more deadlines lie in the
/// range beyond the limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    pub windows: Vec<Window>,
    pub more: bool,
}

/// A rule's SLA, ready to be evaluated.
#[derive(Debug, Clone)]
pub struct SlaSchedule {
    expression: String,
    cron: Cron,
    tz: Tz,
    grace: Duration,
}

impl SlaSchedule {
    /// The schedule of `expected` (5-field cron) in `timezone` (IANA) with
    /// `grace_minutes` of grace.
    pub fn new(expected: &str, timezone: &str, grace_minutes: u32) -> Result<Self, ScheduleError> {
        let cron = parse_cron(expected).map_err(|e| ScheduleError::Cron {
            expression: expected.to_owned(),
            reason: e.to_string(),
        })?;
        let tz: Tz = timezone
            .parse()
            .map_err(|_| ScheduleError::TimeZone(timezone.to_owned()))?;
        if grace_minutes > MAX_GRACE_MINUTES {
            return Err(ScheduleError::Grace(grace_minutes));
        }
        Ok(SlaSchedule {
            expression: expected.to_owned(),
            cron,
            tz,
            grace: Duration::minutes(i64::from(grace_minutes)),
        })
    }

    /// The schedule of a rule's `sla`, in its zone or else its tenant's.
    pub fn for_rule(tenant: &Tenant, sla: &Sla) -> Result<Self, ScheduleError> {
        SlaSchedule::new(&sla.expected, sla.timezone(tenant), sla.grace_minutes)
    }

    /// The time zone the cron is evaluated in.
    pub fn timezone(&self) -> Tz {
        self.tz
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    fn error(&self, reason: impl Into<String>) -> ScheduleError {
        ScheduleError::Search {
            expression: self.expression.clone(),
            timezone: self.tz.name().to_owned(),
            reason: reason.into(),
        }
    }

    fn add(&self, at: DateTime<Utc>, by: Duration) -> Result<DateTime<Utc>, ScheduleError> {
        at.checked_add_signed(by)
            .ok_or_else(|| self.error(format!("{at} + {by} is beyond the calendar")))
    }

    /// The instant wall-clock time `wall` stands for (see the module doc).
    fn place(&self, wall: NaiveDateTime) -> Result<DateTime<Utc>, ScheduleError> {
        match self.tz.from_local_datetime(&wall) {
            LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
            LocalResult::None => self.after_gap(wall),
        }
    }

    /// The first instant after the gap in the clock that `wall` falls in.
    fn after_gap(&self, wall: NaiveDateTime) -> Result<DateTime<Utc>, ScheduleError> {
        let exists = |w: NaiveDateTime| self.tz.from_local_datetime(&w).earliest();
        // Minute by minute to the first wall-clock time that exists, then back
        // second by second to where the gap ends (a minute in modern rules).
        let minute = wall
            .with_second(0)
            .and_then(|w| w.with_nanosecond(0))
            .unwrap_or(wall);
        let mut probe = minute;
        let mut found = None;
        for _ in 0..MAX_GAP_MINUTES {
            probe = probe
                .checked_add_signed(Duration::minutes(1))
                .ok_or_else(|| self.error(format!("{wall} is beyond the calendar")))?;
            if let Some(at) = exists(probe) {
                found = Some((probe, at));
                break;
            }
        }
        let Some((mut end, mut at)) = found else {
            return Err(self.error(format!(
                "{wall} lies in a gap of the clock longer than {MAX_GAP_MINUTES} minutes"
            )));
        };
        for _ in 0..60 {
            let Some(earlier) = end.checked_sub_signed(Duration::seconds(1)) else {
                break;
            };
            match exists(earlier) {
                Some(t) if earlier > wall => (end, at) = (earlier, t),
                _ => break,
            }
        }
        Ok(at.with_timezone(&Utc))
    }

    /// The cron's next wall-clock occurrence from `wall` (inclusive or not).
    fn next_wall(
        &self,
        wall: NaiveDateTime,
        inclusive: bool,
    ) -> Result<NaiveDateTime, ScheduleError> {
        self.cron
            .find_next_occurrence(&wall, inclusive)
            .map_err(|e| self.error(e.to_string()))
    }

    /// The cron's previous wall-clock occurrence from `wall`.
    fn previous_wall(
        &self,
        wall: NaiveDateTime,
        inclusive: bool,
    ) -> Result<NaiveDateTime, ScheduleError> {
        self.cron
            .find_previous_occurrence(&wall, inclusive)
            .map_err(|e| self.error(e.to_string()))
    }

    /// The first expected time strictly after `after`.
    pub fn expected_after(&self, after: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
        // Placing is monotonic (a later wall-clock time is never an earlier
        // instant), and the wall clock at `after` is placed at or before it, so
        // every expected time after `after` comes from a wall-clock time at or
        // after that one.
        let mut wall = self.next_wall(after.with_timezone(&self.tz).naive_local(), true)?;
        for _ in 0..MAX_STEPS {
            let at = self.place(wall)?;
            if at > after {
                return Ok(at);
            }
            wall = self.next_wall(wall, false)?;
        }
        Err(self.error(format!(
            "more than {MAX_STEPS} occurrences on one instant after {after}"
        )))
    }

    /// The last expected time strictly before `before`.
    pub fn expected_before(&self, before: DateTime<Utc>) -> Result<DateTime<Utc>, ScheduleError> {
        // A wall-clock time placed before `before` reads at most `before` on
        // the largest offset in force shortly before it (a repeated hour reads
        // later than the clock does now).
        let offset = |at: DateTime<Utc>| {
            use chrono::Offset;
            i64::from(
                self.tz
                    .offset_from_utc_datetime(&at.naive_utc())
                    .fix()
                    .local_minus_utc(),
            )
        };
        let mut largest = offset(before);
        for days in 1..=OFFSET_SPAN_DAYS {
            if let Some(at) = before.checked_sub_signed(Duration::days(days)) {
                largest = largest.max(offset(at));
            }
        }
        let latest = before
            .naive_utc()
            .checked_add_signed(Duration::seconds(largest))
            .ok_or_else(|| self.error(format!("{before} is beyond the calendar")))?;
        let mut wall = self.previous_wall(latest, true)?;
        for _ in 0..MAX_STEPS {
            let at = self.place(wall)?;
            if at < before {
                return Ok(at);
            }
            wall = self.previous_wall(wall, false)?;
        }
        Err(self.error(format!(
            "more than {MAX_STEPS} occurrences on one instant before {before}"
        )))
    }

    /// The windows whose deadline lies in `(after, until]`, oldest first, at
    /// most `limit` of them.
    pub fn windows(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Windows, ScheduleError> {
        let mut windows = Vec::new();
        if until <= after {
            return Ok(Windows {
                windows,
                more: false,
            });
        }
        // The first expected time whose deadline is after `after`.
        let mut expected = self.expected_after(self.add(after, -self.grace)?)?;
        let mut deadline = self.add(expected, self.grace)?;
        if deadline > until {
            return Ok(Windows {
                windows,
                more: false,
            });
        }
        let mut start = self.add(self.expected_before(expected)?, self.grace)?;
        loop {
            if windows.len() == limit {
                return Ok(Windows {
                    windows,
                    more: true,
                });
            }
            let next_expected = self.expected_after(expected)?;
            windows.push(Window {
                start,
                expected,
                deadline,
                next_expected,
            });
            start = deadline;
            expected = next_expected;
            deadline = self.add(expected, self.grace)?;
            if deadline > until {
                return Ok(Windows {
                    windows,
                    more: false,
                });
            }
        }
    }

    /// How many deadlines lie in `(after, until]`, counting no further than
    /// `cap` (a range of years of a minutely schedule is not walked through).
    pub fn count_deadlines(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        cap: usize,
    ) -> Result<usize, ScheduleError> {
        if until <= after || cap == 0 {
            return Ok(0);
        }
        let last = self.add(until, -self.grace)?;
        let mut expected = self.expected_after(self.add(after, -self.grace)?)?;
        let mut count = 0;
        while expected <= last && count < cap {
            count += 1;
            expected = self.expected_after(expected)?;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn schedule(cron: &str, tz: &str, grace: u32) -> SlaSchedule {
        SlaSchedule::new(cron, tz, grace).unwrap()
    }

    /// The expected times of the windows with a deadline in `(from, to]`.
    fn expected(s: &SlaSchedule, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let w = s.windows(at(from), at(to), 1000).unwrap();
        assert!(!w.more);
        w.windows.iter().map(|w| w.expected).collect()
    }

    fn times(list: &[&str]) -> Vec<DateTime<Utc>> {
        list.iter().map(|s| at(s)).collect()
    }

    /// croner's own zone-aware occurrences in `(from, to]`, for comparison.
    fn croner_in_zone(cron: &str, tz: Tz, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let cron = parse_cron(cron).unwrap();
        let mut out = Vec::new();
        let mut t = at(from).with_timezone(&tz);
        loop {
            t = cron.find_next_occurrence(&t, false).unwrap();
            if t.with_timezone(&Utc) > at(to) {
                return out;
            }
            out.push(t.with_timezone(&Utc));
        }
    }

    #[test]
    fn windows_chain_deadline_to_deadline_with_the_grace() {
        let s = schedule("0 6 * * *", "UTC", 30);
        let w = s
            .windows(at("2026-11-20T06:30:00Z"), at("2026-11-22T06:30:00Z"), 10)
            .unwrap();
        assert!(!w.more);
        assert_eq!(
            w.windows,
            [
                Window {
                    start: at("2026-11-20T06:30:00Z"),
                    expected: at("2026-11-21T06:00:00Z"),
                    deadline: at("2026-11-21T06:30:00Z"),
                    next_expected: at("2026-11-22T06:00:00Z"),
                },
                Window {
                    start: at("2026-11-21T06:30:00Z"),
                    expected: at("2026-11-22T06:00:00Z"),
                    deadline: at("2026-11-22T06:30:00Z"),
                    next_expected: at("2026-11-23T06:00:00Z"),
                },
            ]
        );
        // The range is open at the start, closed at the end; the limit says
        // more are left; a window's start is found even when it is not asked for.
        let w = s
            .windows(at("2026-11-20T06:29:59Z"), at("2026-11-22T06:29:59Z"), 1)
            .unwrap();
        assert_eq!(w.windows.len(), 1);
        assert_eq!(w.windows[0].deadline, at("2026-11-20T06:30:00Z"));
        assert_eq!(w.windows[0].start, at("2026-11-19T06:30:00Z"));
        assert!(w.more);
        assert!(
            s.windows(at("2026-11-21T06:31:00Z"), at("2026-11-22T06:29:00Z"), 10)
                .unwrap()
                .windows
                .is_empty()
        );
        assert_eq!(
            s.count_deadlines(at("2026-11-01T00:00:00Z"), at("2026-11-11T00:00:00Z"), 100)
                .unwrap(),
            10
        );
        assert_eq!(
            s.count_deadlines(at("2026-11-01T00:00:00Z"), at("2026-11-11T00:00:00Z"), 4)
                .unwrap(),
            4
        );
    }

    #[test]
    fn spring_forward_keeps_the_day_s_window_at_the_end_of_the_gap() {
        // Paris, 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00Z); 02:30
        // does not exist that day.
        let s = schedule("30 2 * * *", "Europe/Paris", 30);
        let got = expected(&s, "2026-03-27T12:00:00Z", "2026-03-30T12:00:00Z");
        assert_eq!(
            got,
            times(&[
                "2026-03-28T01:30:00Z", // 02:30 CET
                "2026-03-29T01:00:00Z", // 03:00 CEST, the first instant after the gap
                "2026-03-30T00:30:00Z", // 02:30 CEST
            ])
        );
        // croner's zone-aware search agrees for a fixed-time schedule.
        let tz: Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(
            croner_in_zone(
                "30 2 * * *",
                tz,
                "2026-03-27T11:30:00Z",
                "2026-03-30T11:30:00Z"
            ),
            got
        );

        // New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00Z). Two
        // times inside the gap, and the time the gap ends on, are one window.
        let s = schedule("0,30 2,3 * * *", "America/New_York", 15);
        let got = expected(&s, "2026-03-08T00:00:00Z", "2026-03-08T12:00:00Z");
        assert_eq!(
            got,
            times(&["2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"]),
            "02:00, 02:30 and 03:00 are 03:00 EDT; then 03:30 EDT"
        );
        let tz: Tz = "America/New_York".parse().unwrap();
        let s = schedule("0 2 * * *", "America/New_York", 0);
        assert_eq!(
            expected(&s, "2026-03-07T00:00:00Z", "2026-03-10T00:00:00Z"),
            times(&[
                "2026-03-07T07:00:00Z", // 02:00 EST
                "2026-03-08T07:00:00Z", // 03:00 EDT
                "2026-03-09T06:00:00Z", // 02:00 EDT
            ])
        );
        let s = schedule("0 1,2 * * *", "America/New_York", 0);
        let got = expected(&s, "2026-03-08T00:00:00Z", "2026-03-08T12:00:00Z");
        assert_eq!(
            got,
            times(&["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"]),
            "01:00 EST, and 02:00 moved to 03:00 EDT"
        );
        assert_eq!(
            croner_in_zone(
                "0 1,2 * * *",
                tz,
                "2026-03-08T00:00:00Z",
                "2026-03-08T12:00:00Z"
            ),
            times(&["2026-03-08T06:00:00Z"]),
            "croner drops 02:00 of a schedule with two hours"
        );
    }

    #[test]
    fn fall_back_gives_a_repeated_time_one_window_at_its_first_occurrence() {
        // Paris, 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00Z);
        // 02:30 happens at 00:30Z and again at 01:30Z.
        let s = schedule("30 2 * * *", "Europe/Paris", 30);
        let got = expected(&s, "2026-10-23T12:00:00Z", "2026-10-26T12:00:00Z");
        assert_eq!(
            got,
            times(&[
                "2026-10-24T00:30:00Z", // 02:30 CEST
                "2026-10-25T00:30:00Z", // 02:30 CEST, the first of the two
                "2026-10-26T01:30:00Z", // 02:30 CET
            ])
        );
        let w = s
            .windows(at("2026-10-25T00:00:00Z"), at("2026-10-26T12:00:00Z"), 10)
            .unwrap();
        assert_eq!(
            w.windows[1].start,
            at("2026-10-25T01:00:00Z"),
            "the next window starts at the deadline of the first 02:30"
        );
        let tz: Tz = "Europe/Paris".parse().unwrap();
        assert_eq!(
            croner_in_zone(
                "30 2 * * *",
                tz,
                "2026-10-23T11:30:00Z",
                "2026-10-26T11:30:00Z"
            ),
            got,
            "croner agrees for a fixed-time schedule"
        );

        // New York, 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00Z).
        // A schedule that is not fixed-time: 01:00 and 01:30 once each.
        let s = schedule("*/30 1 * * *", "America/New_York", 10);
        let got = expected(&s, "2026-11-01T00:00:00Z", "2026-11-01T12:00:00Z");
        assert_eq!(
            got,
            times(&["2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z"])
        );
        let tz: Tz = "America/New_York".parse().unwrap();
        assert_eq!(
            croner_in_zone(
                "*/30 1 * * *",
                tz,
                "2026-10-31T23:50:00Z",
                "2026-11-01T11:50:00Z"
            ),
            times(&[
                "2026-11-01T05:00:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-01T06:00:00Z",
                "2026-11-01T06:30:00Z",
            ]),
            "croner runs it on both passes of the repeated hour"
        );
        // An hourly schedule has 24 windows on the 25-hour day, the repeated
        // hour once; the window after the repeated 01:00 spans both passes.
        let s = schedule("0 * * * *", "America/New_York", 0);
        let w = s
            .windows(at("2026-11-01T04:00:00Z"), at("2026-11-02T05:00:00Z"), 100)
            .unwrap();
        assert_eq!(w.windows.len(), 24);
        let two = w
            .windows
            .iter()
            .find(|w| w.expected == at("2026-11-01T07:00:00Z"))
            .unwrap();
        assert_eq!(
            two.start,
            at("2026-11-01T05:00:00Z"),
            "02:00 EST after 01:00 EDT"
        );
        // And a window can start inside the repeated hour's second pass.
        assert_eq!(
            s.expected_after(at("2026-11-01T06:10:00Z")).unwrap(),
            at("2026-11-01T07:00:00Z")
        );
        assert_eq!(
            s.expected_before(at("2026-11-01T06:59:00Z")).unwrap(),
            at("2026-11-01T05:00:00Z"),
            "the 01:00 before 01:59 EST is the first 01:00"
        );
    }

    #[test]
    fn month_ends() {
        // The 28th to the 31st: April has no 31st, February (2026) only the 28th.
        let s = schedule("0 6 28-31 * *", "UTC", 60);
        assert_eq!(
            expected(&s, "2026-04-27T00:00:00Z", "2026-05-02T00:00:00Z"),
            times(&[
                "2026-04-28T06:00:00Z",
                "2026-04-29T06:00:00Z",
                "2026-04-30T06:00:00Z",
            ])
        );
        assert_eq!(
            expected(&s, "2026-02-20T00:00:00Z", "2026-03-28T12:00:00Z"),
            times(&["2026-02-28T06:00:00Z", "2026-03-28T06:00:00Z"])
        );
        // The last day of each month.
        let s = schedule("0 6 L * *", "UTC", 0);
        assert_eq!(
            expected(&s, "2026-01-31T12:00:00Z", "2026-05-01T00:00:00Z"),
            times(&[
                "2026-02-28T06:00:00Z",
                "2026-03-31T06:00:00Z",
                "2026-04-30T06:00:00Z",
            ])
        );
        assert_eq!(
            expected(&s, "2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"),
            times(&["2028-02-29T06:00:00Z"])
        );
        // The 31st: months without one are skipped, and the window of May 31
        // runs from March 31's deadline.
        let s = schedule("0 6 31 * *", "Europe/Paris", 30);
        let w = s
            .windows(at("2026-04-01T00:00:00Z"), at("2026-06-30T00:00:00Z"), 10)
            .unwrap();
        assert_eq!(w.windows.len(), 1);
        assert_eq!(w.windows[0].expected, at("2026-05-31T04:00:00Z"));
        assert_eq!(w.windows[0].start, at("2026-03-31T04:30:00Z"));
    }

    #[test]
    fn february_29_only_in_leap_years() {
        let s = schedule("0 6 29 2 *", "UTC", 30);
        assert!(
            expected(&s, "2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z").is_empty(),
            "2027 is not a leap year"
        );
        let w = s
            .windows(at("2027-01-01T00:00:00Z"), at("2028-12-31T00:00:00Z"), 10)
            .unwrap();
        assert_eq!(
            w.windows,
            [Window {
                start: at("2024-02-29T06:30:00Z"),
                expected: at("2028-02-29T06:00:00Z"),
                deadline: at("2028-02-29T06:30:00Z"),
                next_expected: at("2032-02-29T06:00:00Z"),
            }]
        );
        // 2100 is not a leap year: after 2096 comes 2104.
        assert_eq!(
            s.expected_after(at("2096-03-01T00:00:00Z")).unwrap(),
            at("2104-02-29T06:00:00Z")
        );
        // A daily schedule simply has one more day in a leap February.
        let daily = schedule("0 6 * 2 *", "UTC", 0);
        assert_eq!(
            daily
                .count_deadlines(at("2028-02-01T00:00:00Z"), at("2028-03-01T00:00:00Z"), 100)
                .unwrap(),
            29
        );
        assert_eq!(
            daily
                .count_deadlines(at("2027-02-01T00:00:00Z"), at("2027-03-01T00:00:00Z"), 100)
                .unwrap(),
            28
        );
    }

    #[test]
    fn weekday_schedules_stretch_monday_s_window_over_the_weekend() {
        // Friday 2026-11-20 and Monday 2026-11-23, 06:00 CET (05:00Z).
        let s = schedule("0 6 * * 1-5", "Europe/Paris", 30);
        let w = s
            .windows(at("2026-11-20T00:00:00Z"), at("2026-11-24T00:00:00Z"), 10)
            .unwrap();
        assert_eq!(
            w.windows,
            [
                Window {
                    start: at("2026-11-19T05:30:00Z"),
                    expected: at("2026-11-20T05:00:00Z"),
                    deadline: at("2026-11-20T05:30:00Z"),
                    next_expected: at("2026-11-23T05:00:00Z"),
                },
                Window {
                    start: at("2026-11-20T05:30:00Z"),
                    expected: at("2026-11-23T05:00:00Z"),
                    deadline: at("2026-11-23T05:30:00Z"),
                    next_expected: at("2026-11-24T05:00:00Z"),
                },
            ]
        );
        assert!(
            expected(&s, "2026-11-21T00:00:00Z", "2026-11-23T00:00:00Z").is_empty(),
            "no deadline on the weekend"
        );
    }

    #[test]
    fn impossible_schedules_and_out_of_range_graces_are_errors_not_panics() {
        let s = schedule("0 6 31 2 *", "UTC", 30);
        let err = s
            .windows(at("2026-01-01T00:00:00Z"), at("2026-12-31T00:00:00Z"), 10)
            .unwrap_err();
        assert!(matches!(err, ScheduleError::Search { .. }), "{err}");
        assert_eq!(err.kind(), FailureKind::Misconfigured);
        assert_eq!(
            SlaSchedule::new("0 6 * * *", "UTC", u32::MAX).unwrap_err(),
            ScheduleError::Grace(u32::MAX)
        );
        let s = schedule("0 6 * * *", "UTC", MAX_GRACE_MINUTES);
        let w = s
            .windows(at("2026-01-01T00:00:00Z"), at("2026-01-03T00:00:00Z"), 10)
            .unwrap();
        let expected: Vec<_> = w.windows.iter().map(|w| w.expected).collect();
        assert_eq!(
            expected,
            times(&["2024-12-31T06:00:00Z", "2025-01-01T06:00:00Z"]),
            "366 days of grace"
        );
        assert!(matches!(
            SlaSchedule::new("0 6 * * *", "Mars/Olympus", 30),
            Err(ScheduleError::TimeZone(_))
        ));
        assert!(matches!(
            SlaSchedule::new("0 6 * *", "UTC", 30),
            Err(ScheduleError::Cron { .. })
        ));
    }
}
