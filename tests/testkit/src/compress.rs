//! Compressed test inputs: gzip and bzip2 of bytes held in memory, at the
//! level a test or bench asks for (levels change the bytes, not what they
//! decode to).

use std::io::Write;

/// A compression level, for both formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The fastest (gzip 1, bzip2 1).
    Fast,
    /// The format's default (gzip 6, bzip2 6).
    Default,
}

/// `data` gzipped (one member).
pub fn gzip(data: &[u8], level: Level) -> Vec<u8> {
    let level = match level {
        Level::Fast => flate2::Compression::fast(),
        Level::Default => flate2::Compression::default(),
    };
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
    encoder.write_all(data).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// `data` bzip2-compressed (one stream).
pub fn bzip2(data: &[u8], level: Level) -> Vec<u8> {
    let level = match level {
        Level::Fast => bzip2::Compression::fast(),
        Level::Default => bzip2::Compression::default(),
    };
    let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), level);
    encoder.write_all(data).expect("bzip2 into memory");
    encoder.finish().expect("bzip2 into memory")
}
