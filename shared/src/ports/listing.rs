//! A directory listing as any source gives it: the entries (files, directories,
//! links, with their size, modification time and how precise that time is), and
//! the lines that were passed over and why. The FTP client parses `LIST`/`MLSD`
//! lines into it (`crate::ftp::listing`); the poller walks it.

use chrono::{DateTime, Utc};

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
    /// `.`/`..`): a listing counts these in [`Listing::ignored`] instead
    /// of reporting them in [`Listing::skipped`].
    pub fn is_expected(&self) -> bool {
        matches!(self, Skip::Blank | Skip::Total | Skip::SelfOrParent)
    }
}

/// A listing line (or entry) that could not be used, for the poller to log.
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
