//! A directory listing as the server sent it: the raw lines and which command
//! produced them. Parsing the lines is the listing parser's job (`ftp::listing`).

pub use super::listing::ListingStyle;

/// The lines of one directory listing, line ends removed, empty lines dropped,
/// decoded as UTF-8 (invalid bytes replaced with U+FFFD).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawListing {
    /// The command that produced the lines.
    pub style: ListingStyle,
    /// The directory that was listed, as asked.
    pub dir: String,
    /// One entry per line, in the server's order.
    pub lines: Vec<String>,
}
