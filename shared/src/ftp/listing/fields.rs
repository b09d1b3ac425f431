//! Splitting a listing line into blank-separated fields while remembering where
//! each one ends, so the name can be cut from the original line with its spaces
//! intact. Also the small number and month readers the formats share.

/// A field of a line: its text and the byte offset just past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Field<'a> {
    pub(super) text: &'a str,
    pub(super) end: usize,
}

/// Iterates over the fields of a line separated by runs of spaces or tabs.
/// Separators are ASCII, so every offset it yields is a char boundary.
pub(super) struct Fields<'a> {
    line: &'a str,
    pos: usize,
}

impl<'a> Fields<'a> {
    pub(super) fn new(line: &'a str) -> Self {
        Fields { line, pos: 0 }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let bytes = self.line.as_bytes();
        while bytes.get(self.pos).copied().is_some_and(is_blank) {
            self.pos += 1;
        }
        let start = self.pos;
        while bytes.get(self.pos).is_some_and(|b| !is_blank(*b)) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        let text = self.line.get(start..self.pos)?;
        Some(Field {
            text,
            end: self.pos,
        })
    }
}

/// Whether `b` separates fields.
pub(super) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The rest of `line` after the field ending at `end` and exactly one blank:
/// where a name starts in `ls` and IIS output. `None` if no blank follows.
pub(super) fn after_one_blank(line: &str, end: usize) -> Option<&str> {
    let rest = line.get(end..)?;
    let first = *rest.as_bytes().first()?;
    if is_blank(first) { rest.get(1..) } else { None }
}

/// Reads an all-ASCII-digit field (no sign, no spaces) of at most `max_len`
/// digits as a number.
pub(super) fn digits(text: &str, max_len: usize) -> Option<u32> {
    if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads a byte count: ASCII digits only, fitting in a `u64`.
pub(super) fn size(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Reads an English three-letter month abbreviation, any case, as 1–12.
pub(super) fn month(text: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    MONTHS
        .iter()
        .zip(1..)
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|(_, number)| number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_keep_offsets_into_the_line() {
        let line = "a  bc\t d";
        let fields: Vec<_> = Fields::new(line).collect();
        assert_eq!(
            fields,
            vec![
                Field { text: "a", end: 1 },
                Field { text: "bc", end: 5 },
                Field { text: "d", end: 8 },
            ]
        );
        assert_eq!(Fields::new("   ").next(), None);
    }

    #[test]
    fn after_one_blank_keeps_further_spaces() {
        assert_eq!(after_one_blank("x  name ", 1), Some(" name "));
        assert_eq!(after_one_blank("x", 1), None);
        assert_eq!(after_one_blank("xy", 1), None);
    }

    #[test]
    fn numbers_and_months() {
        assert_eq!(digits("07", 2), Some(7));
        assert_eq!(digits("123", 2), None);
        assert_eq!(digits("+1", 2), None);
        assert_eq!(size("18446744073709551615"), Some(u64::MAX));
        assert_eq!(size("18446744073709551616"), None);
        assert_eq!(size("-1"), None);
        assert_eq!(month("DEC"), Some(12));
        assert_eq!(month("jan"), Some(1));
        assert_eq!(month("Janu"), None);
    }
}
