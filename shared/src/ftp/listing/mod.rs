//! Parses FTP directory listings — `LIST` lines (Unix `ls -l` and DOS/IIS
//! styles) and `MLSD` lines (RFC 3659) — into [`ListEntry`] values the poller
//! can match rules against and record in the ledger.
//!
//! # Why our own parser and not `suppaftp::list`
//! The poller uses suppaftp as its FTP client, and suppaftp ships a listing
//! parser (`suppaftp::list`). Its source as read (`suppaftp/src/list.rs`) does
//! not meet what the poller needs:
//! - the missing year of `Mon DD HH:MM` lines is taken from `Utc::now().year()`,
//!   so a file from `Dec 31 23:45` listed just after New Year lands a year in the
//!   future, and the result cannot be tested against a fixed "now";
//! - listing times are read as UTC; there is no notion of the server's time zone,
//!   and the result is a bare `SystemTime` with no precision (minute vs day) and
//!   no "unknown" (a missing MLSD `modify` becomes the Unix epoch);
//! - the POSIX regex needs both owner and group columns and eats every space
//!   before the name (leading spaces lost); the DOS regex accepts only 2-digit
//!   years with AM/PM, not 4-digit years or the 24-hour clock;
//! - MLSD `cdir`/`pdir`/`OS.unix=slink` are syntax errors indistinguishable from
//!   garbage, fractional `modify` values fail, and the name is the text after the
//!   last `;` (names containing `;` break);
//! - nothing rejects `.`/`..`, names with `/` or control characters, or over-long
//!   lines, and its `UNIX.mode` handling indexes by char after checking the byte
//!   length, which panics on a hostile 3-byte value such as `éx`.
//!
//! So this module is a small hand-written parser with no dependency beyond
//! chrono/chrono-tz, and suppaftp is used only for the protocol.
//!
//! # Times
//! `LIST` times are wall-clock times in the server's time zone (a source setting,
//! passed as `tz`) and are converted to UTC:
//! - `Mon DD HH:MM` has no year. It is the **latest year in which that date-time
//!   is not more than one day after `now`** (one day of tolerance for clock skew
//!   and time zones). Years are tried from `now`'s year + 1 downwards, nine at
//!   most, so `Feb 29` finds the last leap year. Precision: [`Precision::Minute`].
//! - `Mon DD  YYYY` is midnight local time that day; precision [`Precision::Day`].
//! - DOS/IIS `MM-DD-YY  HH:MM[AM|PM]`: 2-digit years 70–99 are 19xx, 00–69 are
//!   20xx (the POSIX `%y` rule); precision [`Precision::Minute`].
//! - Daylight-saving transitions resolve to the **later** possible instant: a
//!   wall time repeated when clocks go back is read as its second occurrence
//!   (standard time), and a wall time skipped when clocks go forward is read with
//!   the offset in force before the gap, i.e. shifted forward by the gap (02:30 on
//!   the spring-forward night in Paris is 03:30 CEST, 01:30 UTC). Erring later
//!   means a minimum-age check never believes a file older than it can be.
//!
//! `MLSD` `modify` facts are UTC by definition; fractions of a second are dropped
//! so that the same file has the same mtime whichever way it was listed.
//!
//! # Hostile input
//! Every function here is total: any string gives an entry or a typed [`Skip`],
//! never a panic. Lines over [`MAX_LINE_BYTES`] are rejected before parsing,
//! names are checked by the rules in [`Skip`], and [`parse_listing`] keeps at most
//! [`LOG_PREFIX_CHARS`] characters of a skipped line. How many lines to read is
//! the caller's bound.

mod dos;
mod fields;
mod local_time;
mod mlsd;
mod unix;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use crate::ports::listing::{
    EntryKind, LOG_PREFIX_CHARS, ListEntry, Listing, MAX_LINE_BYTES, MAX_NAME_BYTES, Precision,
    Skip, Skipped, join_path,
};

/// Which listing command produced the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingStyle {
    /// `LIST` output: Unix `ls -l` or DOS/IIS lines (detected per line).
    List,
    /// `MLSD` output (RFC 3659 facts).
    Mlsd,
}

/// Parses one `LIST` line, Unix `ls -l` style or DOS/IIS style (a line starting
/// with a digit is DOS). `now` is when the listing was taken and `tz` the
/// server's time zone; see the module documentation for how times are read.
pub fn parse_list_line(line: &str, now: DateTime<Utc>, tz: Tz) -> Result<ListEntry, Skip> {
    let line = checked_line(line)?;
    let parsed = if line.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        dos::parse(line, tz)?
    } else {
        unix::parse(line, now, tz)?
    };
    parsed.into_entry(line)
}

/// Parses one `MLSD` line (`fact=value;fact=value; name`). Fact names and the
/// `type` value are case-insensitive; `modify` is UTC.
pub fn parse_mlsd_line(line: &str) -> Result<ListEntry, Skip> {
    let line = checked_line(line)?;
    mlsd::parse(line)?.into_entry(line)
}

/// Parses a whole listing. Entries come back in order; each unusable line is
/// reported once in [`Listing::skipped`], except expected ones (see
/// [`Skip::is_expected`]) which are only counted.
pub fn parse_listing(
    lines: impl IntoIterator<Item = impl AsRef<str>>,
    style: ListingStyle,
    now: DateTime<Utc>,
    tz: Tz,
) -> Listing {
    let mut listing = Listing::default();
    for (index, line) in lines.into_iter().enumerate() {
        let line = line.as_ref();
        let parsed = match style {
            ListingStyle::List => parse_list_line(line, now, tz),
            ListingStyle::Mlsd => parse_mlsd_line(line),
        };
        match parsed {
            Ok(entry) => listing.entries.push(entry),
            Err(reason) if reason.is_expected() => listing.ignored += 1,
            Err(reason) => listing.skipped.push(Skipped {
                line_no: index.saturating_add(1),
                reason,
                line_prefix: log_prefix(line),
            }),
        }
    }
    listing
}

/// What a format parser found, before the checks common to all formats.
struct Parsed<'a> {
    name: &'a str,
    kind: EntryKind,
    size: Option<u64>,
    mtime: Option<DateTime<Utc>>,
    mtime_precision: Precision,
}

impl Parsed<'_> {
    /// Applies the name rules and builds the entry.
    fn into_entry(self, raw: &str) -> Result<ListEntry, Skip> {
        check_name(self.name)?;
        if let EntryKind::Symlink { target } = &self.kind
            && target.chars().any(char::is_control)
        {
            return Err(Skip::ControlChar);
        }
        Ok(ListEntry {
            name: self.name.to_owned(),
            size: match self.kind {
                EntryKind::File => self.size,
                EntryKind::Dir | EntryKind::Symlink { .. } => None,
            },
            kind: self.kind,
            mtime: self.mtime,
            mtime_precision: self.mtime_precision,
            raw: raw.to_owned(),
        })
    }
}

/// Removes one line ending and applies the checks every line gets first.
fn checked_line(line: &str) -> Result<&str, Skip> {
    let line = line.strip_suffix('\n').unwrap_or(line);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.len() > MAX_LINE_BYTES {
        return Err(Skip::LineTooLong {
            len: line.len(),
            max: MAX_LINE_BYTES,
        });
    }
    if line.trim().is_empty() {
        return Err(Skip::Blank);
    }
    Ok(line)
}

/// The rules every entry name must pass.
fn check_name(name: &str) -> Result<(), Skip> {
    if name.is_empty() {
        return Err(Skip::EmptyName);
    }
    if name == "." || name == ".." {
        return Err(Skip::SelfOrParent);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Skip::NameTooLong {
            len: name.len(),
            max: MAX_NAME_BYTES,
        });
    }
    if name.contains('/') {
        return Err(Skip::NameHasSlash);
    }
    if name.chars().any(char::is_control) {
        return Err(Skip::ControlChar);
    }
    Ok(())
}

/// The first [`LOG_PREFIX_CHARS`] characters of `line`, control characters escaped.
fn log_prefix(line: &str) -> String {
    let mut prefix = String::new();
    for c in line.chars().take(LOG_PREFIX_CHARS) {
        if c.is_control() {
            prefix.extend(c.escape_default());
        } else {
            prefix.push(c);
        }
    }
    prefix
}
