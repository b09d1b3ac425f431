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

/// Lines longer than this many bytes are skipped without being parsed.
pub const MAX_LINE_BYTES: usize = 4096;

/// Names longer than this many bytes are skipped (common file systems stop at 255).
pub const MAX_NAME_BYTES: usize = 1024;

/// How many characters of a skipped line [`Skipped::line_prefix`] keeps.
pub const LOG_PREFIX_CHARS: usize = 80;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// The entry's name inside the listed directory, exactly as listed (leading
    /// and trailing spaces kept). Never empty, `.`, `..`, and never contains `/`
    /// or a control character.
    pub name: String,
    /// File, directory or symbolic link.
    pub kind: EntryKind,
    /// Size in bytes, for files when the listing gives it. `None` for
    /// directories, and for symlinks (`ls` shows the length of the link text,
    /// not of the file it points to).
    pub size: Option<u64>,
    /// Last modification time in UTC, when the listing gives one.
    pub mtime: Option<DateTime<Utc>>,
    /// How precise [`ListEntry::mtime`] is (meaningless when it is `None`).
    pub mtime_precision: Precision,
    /// The listing line this entry came from (line ending removed), kept for
    /// forensics.
    pub raw: String,
}

/// What kind of entry a listing line describes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link. `target` is empty when the listing does not show it.
    Symlink {
        /// Where the link points, as listed (may be relative or absolute).
        target: String,
    },
}

/// The precision of a listed modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// Exact to the second (MLSD `modify`).
    Second,
    /// Seconds unknown (`Mon DD HH:MM`, DOS/IIS lines).
    Minute,
    /// Time of day unknown (`Mon DD  YYYY`, the form `ls` uses for old files).
    Day,
}

/// Which listing command produced the lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListingStyle {
    /// `LIST` output: Unix `ls -l` or DOS/IIS lines (detected per line).
    List,
    /// `MLSD` output (RFC 3659 facts).
    Mlsd,
}

/// Why a listing line gave no entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Skip {
    /// The line is longer than [`MAX_LINE_BYTES`].
    #[error("line is {len} bytes long, over the {max}-byte limit")]
    LineTooLong {
        /// The line's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The line is empty or only whitespace.
    #[error("blank line")]
    Blank,
    /// A `total N` summary line printed by `ls`.
    #[error("`total` summary line")]
    Total,
    /// The listed directory itself or its parent (`.`, `..`, MLSD `cdir`/`pdir`).
    #[error("entry for the listed directory itself or its parent")]
    SelfOrParent,
    /// Not a Unix, DOS/IIS or MLSD line this parser understands.
    #[error("not a Unix, DOS/IIS or MLSD listing line this parser understands")]
    Unrecognised,
    /// A device, FIFO, socket or other entry that is not a file, directory or link.
    #[error("not a file, directory or symlink (device, FIFO, socket or other special entry)")]
    Special,
    /// The size is not a whole number of bytes that fits in 64 bits.
    #[error("size is not a whole number of bytes that fits in 64 bits")]
    InvalidSize,
    /// The date or time does not exist or is malformed.
    #[error("date or time is malformed or does not exist")]
    InvalidDate,
    /// The name is empty.
    #[error("name is empty")]
    EmptyName,
    /// The name is longer than [`MAX_NAME_BYTES`].
    #[error("name is {len} bytes long, over the {max}-byte limit")]
    NameTooLong {
        /// The name's length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The name contains `/`, so it could address another directory.
    #[error("name contains `/`")]
    NameHasSlash,
    /// The name or the link target contains a control character (NUL, CR, LF, tab…).
    #[error("name or link target contains a control character")]
    ControlChar,
    /// An MLSD line with no facts before the name.
    #[error("MLSD line has no facts before the name")]
    MlsdNoFacts,
    /// An MLSD fact that is not `name=value;`.
    #[error("MLSD fact is malformed (expected `name=value;`)")]
    MlsdBadFact,
    /// An MLSD line with no `type` fact, so the entry's kind is unknown.
    #[error("MLSD line has no `type` fact")]
    MlsdNoType,
}

impl Skip {
    /// Whether this is a line every healthy listing contains (blank, `total`,
    /// `.`/`..`): [`parse_listing`] counts these in [`Listing::ignored`] instead
    /// of reporting them in [`Listing::skipped`].
    pub fn is_expected(&self) -> bool {
        matches!(self, Skip::Blank | Skip::Total | Skip::SelfOrParent)
    }
}

/// A line [`parse_listing`] could not use, for the poller to log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// 1-based line number in the listing.
    pub line_no: usize,
    /// Why the line was skipped.
    pub reason: Skip,
    /// The first [`LOG_PREFIX_CHARS`] characters of the line, control characters
    /// escaped (`\n`, `\u{1b}`), safe to put in a log.
    pub line_prefix: String,
}

/// A parsed listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// The usable entries, in listing order.
    pub entries: Vec<ListEntry>,
    /// Lines that were skipped for a reason worth a warning.
    pub skipped: Vec<Skipped>,
    /// How many expected non-entries (blank, `total`, `.`/`..`) were left out.
    pub ignored: usize,
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

/// Joins a directory path and an entry name with exactly one `/` between them
/// and no doubled slashes anywhere, since the poller identifies files by full
/// path: `join_path("/in/", "a.csv")` is `/in/a.csv`, `join_path("", "a.csv")`
/// is `a.csv` (relative to the login directory).
pub fn join_path(dir: &str, name: &str) -> String {
    let mut joined = String::with_capacity(dir.len() + name.len() + 1);
    joined.push_str(dir);
    if !dir.is_empty() && !name.is_empty() {
        joined.push('/');
    }
    joined.push_str(name);
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
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
