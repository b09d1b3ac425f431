//! Skipping a UTF-8 byte order mark at the very start of a file, whatever the
//! chunking: the first chunk may hold only one or two of its three bytes.

/// The UTF-8 encoding of U+FEFF.
pub(crate) const UTF8_BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// Removes a leading UTF-8 BOM from a stream fed chunk by chunk.
#[derive(Debug, Default)]
pub(crate) struct BomSkipper {
    /// How many BOM bytes the stream started with so far.
    matched: usize,
    /// Whether the start of the stream was decided (BOM skipped or absent).
    done: bool,
}

impl BomSkipper {
    /// Splits the next chunk into bytes held back earlier that turned out to be
    /// data (a BOM prefix followed by something else), then the chunk's data.
    pub(crate) fn skip<'a>(&mut self, chunk: &'a [u8]) -> (&'static [u8], &'a [u8]) {
        if self.done {
            return (&[], chunk);
        }
        let wanted = UTF8_BOM.get(self.matched..).unwrap_or_default();
        let common = chunk
            .iter()
            .zip(wanted)
            .take_while(|(got, want)| got == want)
            .count();
        let rest = chunk.get(common..).unwrap_or_default();
        self.matched += common;
        if self.matched == UTF8_BOM.len() {
            self.done = true;
            (&[], rest)
        } else if rest.is_empty() {
            // The chunk ended inside a possible BOM: decide with the next one.
            (&[], rest)
        } else {
            self.done = true;
            (self.held_back(), rest)
        }
    }

    /// Whether a whole BOM was skipped.
    pub(crate) fn skipped_bom(&self) -> bool {
        self.done && self.matched == UTF8_BOM.len()
    }

    /// At the end of the stream: the BOM prefix still held back, which is data.
    pub(crate) fn finish(&mut self) -> &'static [u8] {
        if self.done {
            return &[];
        }
        self.done = true;
        self.held_back()
    }

    fn held_back(&self) -> &'static [u8] {
        if self.matched == UTF8_BOM.len() {
            &[]
        } else {
            UTF8_BOM.get(..self.matched).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in chunks of `size` and returns the bytes that pass.
    fn strip(input: &[u8], size: usize) -> Vec<u8> {
        let mut skipper = BomSkipper::default();
        let mut out = Vec::new();
        for chunk in input.chunks(size) {
            let (held, rest) = skipper.skip(chunk);
            out.extend_from_slice(held);
            out.extend_from_slice(rest);
        }
        out.extend_from_slice(skipper.finish());
        out
    }

    #[test]
    fn a_bom_is_skipped_and_anything_else_kept_whatever_the_chunking() {
        let cases: [(&[u8], &[u8]); 7] = [
            (b"\xEF\xBB\xBFa,b", b"a,b"),
            (b"\xEF\xBB\xBF", b""),
            (b"\xEF\xBBa", b"\xEF\xBBa"),
            (b"\xEF\xBB", b"\xEF\xBB"),
            (b"\xEFa", b"\xEFa"),
            (b"a\xEF\xBB\xBF", b"a\xEF\xBB\xBF"),
            (b"\xEF\xBB\xBF\xEF\xBB\xBF", b"\xEF\xBB\xBF"),
        ];
        for (input, expected) in cases {
            for size in 1..=4 {
                assert_eq!(
                    strip(input, size),
                    expected,
                    "input {input:?}, chunks of {size}"
                );
            }
        }
    }
}
