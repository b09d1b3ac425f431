//! Where a file lands: the object key, rendered from a template and sanitised.
//!
//! The default layout is
//! `raw/tenant={tenant}/dataset={dataset}/ingest_date={ingest_date}/{file}`.
//!
//! # Determinism
//! A file version always gets the same key, so a retried ingestion overwrites the
//! object instead of landing a second copy. That is why `{ingest_date}` is the
//! UTC date of the `discovered_at` instant the poller put in the message (fixed
//! once the version is claimed), not the date of the attempt: a retry after
//! midnight would otherwise land in another partition. `{file}` is the base name
//! of the FTP path without the extensions of the layers undone
//! (`sales.csv.gz.enc` → `sales.csv`); directories are not part of it.
//!
//! # Sanitising
//! Every placeholder value becomes exactly one key segment:
//! 1. normalised to Unicode NFC (so `é` typed two ways gives one key);
//! 2. every byte outside S3's safe set — ASCII letters and digits and
//!    `! - _ . * ' ( )` — is percent-encoded (`%XX`, UTF-8 bytes, `%` itself
//!    included), so control characters, `/`, spaces and non-ASCII never reach the
//!    key and distinct names stay distinct;
//! 3. `.` and `..` become `%2E` and `%2E%2E`, an empty value becomes `_`;
//! 4. a segment longer than [`MAX_SEGMENT_BYTES`] is cut deterministically:
//!    a prefix (never splitting an escape or a character), `_`, 16 hex digits of the SHA-256 of the whole segment, and the
//!    last extension when it is short (`….csv`), so the object keeps its type;
//! 5. the whole key is at most [`MAX_KEY_BYTES`] (S3's limit), or an error.
//!
//! The template's literal text is checked once, when it is parsed.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;

use crate::engine::layers::infer::layers_from_name;
use crate::engine::spec::Layer;
use crate::failure::FailureKind;

/// The default key template.
pub const DEFAULT_TEMPLATE: &str =
    "raw/tenant={tenant}/dataset={dataset}/ingest_date={ingest_date}/{file}";

/// S3's limit on the UTF-8 length of a key.
pub const MAX_KEY_BYTES: usize = 1024;

/// The longest segment a placeholder renders to (most filesystems' name limit,
/// which the local object store maps segments to).
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Characters kept as they are besides ASCII letters and digits (S3's "safe
/// characters").
const SAFE_PUNCTUATION: &[u8] = b"!-_.*'()";

/// Hex digits of the hash that ends a cut segment.
const HASH_HEX: usize = 16;

/// An extension at most this long survives a cut.
const MAX_KEPT_EXTENSION: usize = 16;

/// A value the template can insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Tenant,
    Dataset,
    IngestDate,
    File,
}

impl Placeholder {
    /// The placeholder's name inside braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Tenant => "tenant",
            Placeholder::Dataset => "dataset",
            Placeholder::IngestDate => "ingest_date",
            Placeholder::File => "file",
        }
    }

    fn parse(name: &str) -> Option<Self> {
        [
            Placeholder::Tenant,
            Placeholder::Dataset,
            Placeholder::IngestDate,
            Placeholder::File,
        ]
        .into_iter()
        .find(|p| p.name() == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Value(Placeholder),
}

/// Why a key template is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("key template {template:?}: unknown placeholder {{{name}}}")]
    UnknownPlaceholder { template: String, name: String },
    #[error("key template {template:?}: unclosed '{{'")]
    Unclosed { template: String },
    #[error("key template {template:?} has no {{file}} placeholder")]
    NoFile { template: String },
    #[error("key template {template:?}: {reason}")]
    UnsafeLiteral { template: String, reason: String },
}

impl TemplateError {
    /// A bad template is configuration.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

/// Why no key could be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("object key for {file:?} would be {len} bytes, more than {MAX_KEY_BYTES}")]
    TooLong { file: String, len: usize },
}

impl KeyError {
    /// Only a template with long literal text can produce an over-long key:
    /// configuration.
    pub fn kind(&self) -> FailureKind {
        FailureKind::Misconfigured
    }
}

/// What a key is rendered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInput<'a> {
    pub tenant: &'a str,
    pub dataset: &'a str,
    /// The date of the message's `discovered_at` (UTC), see the module docs.
    pub ingest_date: NaiveDate,
    /// The file's path or name on the FTP server, extensions included.
    pub path: &'a str,
    /// The rule's layers (`None`: inferred from the name, as the engine does).
    pub layers: Option<&'a [Layer]>,
}

/// A parsed, validated key template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyTemplate {
    pieces: Vec<Piece>,
}

impl Default for KeyTemplate {
    fn default() -> Self {
        KeyTemplate {
            pieces: vec![
                Piece::Literal("raw/tenant=".into()),
                Piece::Value(Placeholder::Tenant),
                Piece::Literal("/dataset=".into()),
                Piece::Value(Placeholder::Dataset),
                Piece::Literal("/ingest_date=".into()),
                Piece::Value(Placeholder::IngestDate),
                Piece::Literal("/".into()),
                Piece::Value(Placeholder::File),
            ],
        }
    }
}

impl KeyTemplate {
    /// Parses `template`: `{tenant}`, `{dataset}`, `{ingest_date}` and `{file}`
    /// are the placeholders, `{file}` is required, and the literal text must be
    /// safe on its own (no leading `/`, no empty, `.` or `..` segment, only S3's
    /// safe characters plus `/` and `=`).
    pub fn parse(template: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find('{') {
                Some(0) => {
                    let Some(end) = rest.find('}') else {
                        return Err(TemplateError::Unclosed {
                            template: template.into(),
                        });
                    };
                    let name = &rest[1..end];
                    let placeholder = Placeholder::parse(name).ok_or_else(|| {
                        TemplateError::UnknownPlaceholder {
                            template: template.into(),
                            name: name.into(),
                        }
                    })?;
                    pieces.push(Piece::Value(placeholder));
                    rest = &rest[end + 1..];
                }
                Some(at) => {
                    pieces.push(Piece::Literal(rest[..at].into()));
                    rest = &rest[at..];
                }
                None => {
                    pieces.push(Piece::Literal(rest.into()));
                    rest = "";
                }
            }
        }
        if !pieces.contains(&Piece::Value(Placeholder::File)) {
            return Err(TemplateError::NoFile {
                template: template.into(),
            });
        }
        check_literals(template, &pieces)?;
        Ok(KeyTemplate { pieces })
    }

    /// The text every key begins with: the literal before the first
    /// placeholder (`raw/tenant=` for the default template).
    pub fn fixed_prefix(&self) -> &str {
        match self.pieces.first() {
            Some(Piece::Literal(text)) => text,
            _ => "",
        }
    }

    /// The object key for `input`; see the module docs for the rules it meets.
    pub fn render(&self, input: &KeyInput<'_>) -> Result<String, KeyError> {
        let mut key = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => key.push_str(text),
                Piece::Value(Placeholder::Tenant) => key.push_str(&segment(input.tenant)),
                Piece::Value(Placeholder::Dataset) => key.push_str(&segment(input.dataset)),
                Piece::Value(Placeholder::IngestDate) => {
                    key.push_str(&input.ingest_date.format("%Y-%m-%d").to_string());
                }
                Piece::Value(Placeholder::File) => {
                    key.push_str(&segment(file_stem(input.path, input.layers)));
                }
            }
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(KeyError::TooLong {
                file: input.path.into(),
                len: key.len(),
            });
        }
        Ok(key)
    }
}

/// Checks the literal text as if every placeholder rendered to a safe word.
fn check_literals(template: &str, pieces: &[Piece]) -> Result<(), TemplateError> {
    let unsafe_literal = |reason: &str| TemplateError::UnsafeLiteral {
        template: template.into(),
        reason: reason.into(),
    };
    let mut shape = String::new();
    for piece in pieces {
        match piece {
            Piece::Literal(text) => {
                if let Some(c) = text
                    .bytes()
                    .find(|b| !(is_safe(*b) || *b == b'/' || *b == b'='))
                {
                    return Err(unsafe_literal(&format!(
                        "character {:?} is outside the safe set",
                        char::from(c)
                    )));
                }
                shape.push_str(text);
            }
            Piece::Value(_) => shape.push('x'),
        }
    }
    if shape.starts_with('/') {
        return Err(unsafe_literal("keys must not start with '/'"));
    }
    if shape
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(unsafe_literal("empty, '.' or '..' segment"));
    }
    if shape.len() + 3 * MAX_SEGMENT_BYTES > MAX_KEY_BYTES {
        return Err(unsafe_literal("literal text too long to fit every key"));
    }
    Ok(())
}

/// The base name of `path` without the extensions of the layers undone.
///
/// With explicit layers, trailing extensions are removed while they name the
/// next layer (`.enc`/`.aes` for either AES layer, `.tink` for the Tink
/// streaming one, `.gz`/`.gzip`, `.bz2`/`.bzip2`);
/// without, the engine's inference from the name decides.
pub fn file_stem<'a>(path: &'a str, layers: Option<&[Layer]>) -> &'a str {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some(layers) = layers else {
        return layers_from_name(name).1;
    };
    let mut stem = name;
    for layer in layers {
        let Some((rest, ext)) = stem.rsplit_once('.') else {
            break;
        };
        if rest.is_empty() || !extension_names(ext, *layer) {
            break;
        }
        stem = rest;
    }
    stem
}

fn extension_names(ext: &str, layer: Layer) -> bool {
    match ext.to_ascii_lowercase().as_str() {
        "enc" | "aes" => matches!(layer, Layer::Aes256Gcm | Layer::Aes256GcmHkdfStream),
        "tink" => layer == Layer::Aes256GcmHkdfStream,
        "gz" | "gzip" => layer == Layer::Gzip,
        "bz2" | "bzip2" => layer == Layer::Bzip2,
        _ => false,
    }
}

fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || SAFE_PUNCTUATION.contains(&b)
}

/// One sanitised key segment for `value` (see the module docs).
pub fn segment(value: &str) -> String {
    let normalised: String = value.nfc().collect();
    let encoded = match normalised.as_str() {
        "" => "_".to_owned(),
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => {
            let mut out = String::with_capacity(normalised.len());
            for b in normalised.bytes() {
                if is_safe(b) {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
            out
        }
    };
    cut(encoded)
}

/// Shortens an encoded segment to [`MAX_SEGMENT_BYTES`], keeping it unique.
fn cut(encoded: String) -> String {
    if encoded.len() <= MAX_SEGMENT_BYTES {
        return encoded;
    }
    let hash = hex::encode(Sha256::digest(encoded.as_bytes()));
    let extension = encoded
        .rfind('.')
        .map(|at| &encoded[at..])
        .filter(|ext| ext.len() <= MAX_KEPT_EXTENSION && !ext.contains('%'))
        .unwrap_or("");
    let keep = MAX_SEGMENT_BYTES - 1 - HASH_HEX - extension.len();
    // The encoded text is ASCII; do not split a `%XX` escape.
    let mut end = keep;
    if let Some(pct) = encoded[..end].rfind('%')
        && pct + 3 > end
    {
        end = pct;
    }
    // Nor a character: back up while the next escape is a UTF-8 continuation byte.
    while end >= 3 && continuation_at(&encoded, end) {
        end -= 3;
    }
    format!("{}_{}{}", &encoded[..end], &hash[..HASH_HEX], extension)
}

/// Whether `encoded[at..]` starts with the escape of a UTF-8 continuation byte.
fn continuation_at(encoded: &str, at: usize) -> bool {
    encoded
        .get(at..at + 3)
        .and_then(|e| e.strip_prefix('%'))
        .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        .is_some_and(|b| (0x80..0xC0).contains(&b))
}

/// `key` with `~TAG` before the file name's first extension
/// (`a/orders.csv.gz` → `a/orders~TAG.csv.gz`): the key of a second, different
/// file that would land on a key another file already holds. `tag` must be
/// key-safe (the ingester uses hex).
pub fn with_version_tag(key: &str, tag: &str) -> String {
    let (dir, file) = key.rsplit_once('/').map_or(("", key), |(d, f)| (d, f));
    let (stem, ext) = match file.find('.') {
        Some(0) | None => (file, ""),
        Some(dot) => file.split_at(dot),
    };
    if dir.is_empty() {
        format!("{stem}~{tag}{ext}")
    } else {
        format!("{dir}/{stem}~{tag}{ext}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 5, 1).unwrap()
    }

    fn input(path: &str) -> KeyInput<'_> {
        KeyInput {
            tenant: "acme",
            dataset: "sales",
            ingest_date: date(),
            path,
            layers: None,
        }
    }

    /// Every rule a rendered key must meet.
    fn assert_safe(key: &str) {
        assert!(key.len() <= MAX_KEY_BYTES, "{key}");
        assert!(!key.starts_with('/'), "{key}");
        assert!(key.is_ascii(), "{key}");
        assert!(!key.chars().any(|c| c.is_control()), "{key}");
        for s in key.split('/') {
            assert!(!s.is_empty() && s != "." && s != "..", "{key}");
            assert!(s.len() <= MAX_SEGMENT_BYTES, "{key}");
            assert!(
                s.bytes().all(|b| is_safe(b) || b == b'%' || b == b'='),
                "{key}"
            );
        }
    }

    #[test]
    fn default_layout_strips_undone_extensions() {
        let key = KeyTemplate::default()
            .render(&input("/in/daily/sales.csv.gz.enc"))
            .unwrap();
        assert_eq!(
            key,
            "raw/tenant=acme/dataset=sales/ingest_date=2024-05-01/sales.csv"
        );
        assert_eq!(
            KeyTemplate::parse(DEFAULT_TEMPLATE).unwrap(),
            KeyTemplate::default()
        );
    }

    #[test]
    fn explicit_layers_strip_only_matching_extensions() {
        let layers = [Layer::Aes256GcmHkdfStream, Layer::Gzip];
        assert_eq!(file_stem("x/sales.csv.gz.enc", Some(&layers)), "sales.csv");
        assert_eq!(file_stem("sales.csv.gz", Some(&layers)), "sales.csv.gz");
        assert_eq!(file_stem("sales.csv.gz", Some(&[])), "sales.csv.gz");
        assert_eq!(file_stem("sales.dat", Some(&[Layer::Gzip])), "sales.dat");
        assert_eq!(file_stem(".gz", Some(&[Layer::Gzip])), ".gz");
        // A Tink stream's usual suffix, for that layer only.
        let tink = [Layer::Aes256GcmHkdfStream, Layer::Bzip2];
        assert_eq!(file_stem("tx.csv.bz2.tink", Some(&tink)), "tx.csv");
        assert_eq!(
            file_stem("tx.csv.tink", Some(&[Layer::Aes256Gcm])),
            "tx.csv.tink"
        );
    }

    #[test]
    fn hostile_names_are_encoded() {
        let t = KeyTemplate::default();
        let key = |p: &str| t.render(&input(p)).unwrap();
        assert!(key("..").ends_with("/%2E%2E"));
        assert!(key("a/.").ends_with("/%2E"));
        assert!(key("dir/").ends_with("/_"));
        assert!(key("a b%c.csv").ends_with("/a%20b%25c.csv"));
        assert!(key("x\u{0}\n.csv").ends_with("/x%00%0A.csv"));
        assert!(key("a=b.csv").ends_with("/a%3Db.csv"));
        assert!(key("naïve.csv").ends_with("/na%C3%AFve.csv"));
        for p in ["..", ".", "dir/", "\u{7f}", "日本.csv"] {
            assert_safe(&key(p));
        }
    }

    #[test]
    fn unicode_is_normalised_to_nfc() {
        let t = KeyTemplate::default();
        let composed = t.render(&input("caf\u{e9}.csv")).unwrap();
        let decomposed = t.render(&input("cafe\u{301}.csv")).unwrap();
        assert_eq!(composed, decomposed);
    }

    #[test]
    fn long_names_are_cut_deterministically_and_keep_their_extension() {
        let t = KeyTemplate::default();
        let a = format!("{}.csv", "a".repeat(2000));
        let b = format!("{}b.csv", "a".repeat(1999));
        let ka = t.render(&input(&a)).unwrap();
        assert_eq!(ka, t.render(&input(&a)).unwrap());
        assert_ne!(ka, t.render(&input(&b)).unwrap());
        assert!(ka.ends_with(".csv"), "{ka}");
        assert_safe(&ka);
        // Neither an escape nor a character is split.
        let c = "é".repeat(500);
        let kc = t.render(&input(&c)).unwrap();
        assert_safe(&kc);
        let last = kc.rsplit('/').next().unwrap();
        let (prefix, _) = last.rsplit_once('_').unwrap();
        assert_eq!(prefix.len() % 6, 0, "{prefix}");
    }

    #[test]
    fn templates_are_validated() {
        assert!(matches!(
            KeyTemplate::parse("raw/{tenant}/{nope}/{file}"),
            Err(TemplateError::UnknownPlaceholder { name, .. }) if name == "nope"
        ));
        assert!(matches!(
            KeyTemplate::parse("raw/{tenant}/x"),
            Err(TemplateError::NoFile { .. })
        ));
        assert!(matches!(
            KeyTemplate::parse("raw/{file"),
            Err(TemplateError::Unclosed { .. })
        ));
        for bad in [
            "/raw/{file}",
            "raw//{file}",
            "raw/../{file}",
            "raw/./{file}",
            "raw dir/{file}",
            "{file}/",
        ] {
            let err = KeyTemplate::parse(bad).unwrap_err();
            assert!(matches!(err, TemplateError::UnsafeLiteral { .. }), "{bad}");
            assert_eq!(err.kind(), FailureKind::Misconfigured);
        }
        let custom = KeyTemplate::parse("landing/{dataset}/{tenant}-{file}").unwrap();
        assert_eq!(
            custom.render(&input("in/x.csv.gz")).unwrap(),
            "landing/sales/acme-x.csv"
        );
        assert_eq!(custom.fixed_prefix(), "landing/");
        assert_eq!(KeyTemplate::default().fixed_prefix(), "raw/tenant=");
        assert_eq!(
            KeyTemplate::parse("{tenant}/{file}")
                .unwrap()
                .fixed_prefix(),
            ""
        );
    }

    proptest! {
        #[test]
        fn any_name_gives_a_safe_key(path in any::<String>()) {
            let key = KeyTemplate::default().render(&input(&path)).unwrap();
            assert_safe(&key);
            prop_assert!(key.starts_with("raw/tenant=acme/dataset=sales/ingest_date=2024-05-01/"));
        }

        #[test]
        fn distinct_safe_names_stay_distinct(
            a in "[A-Za-z0-9!_.*'()-]{1,200}",
            b in "[A-Za-z0-9!_.*'()-]{1,200}",
        ) {
            prop_assume!(a != b);
            let t = KeyTemplate::default();
            // No layer extension here, so the stem is the name itself.
            let ia = KeyInput { layers: Some(&[]), ..input(&a) };
            let ib = KeyInput { layers: Some(&[]), ..input(&b) };
            prop_assert_ne!(t.render(&ia).unwrap(), t.render(&ib).unwrap());
        }

        #[test]
        fn distinct_unicode_names_stay_distinct(a in "\\PC{1,60}", b in "\\PC{1,60}") {
            let (na, nb): (String, String) = (a.nfc().collect(), b.nfc().collect());
            prop_assume!(na != nb && !na.contains('/') && !nb.contains('/'));
            prop_assert_ne!(segment(&na), segment(&nb));
        }
    }

    #[test]
    fn a_version_tag_goes_before_the_first_extension() {
        assert_eq!(
            with_version_tag("raw/d=x/orders.csv.gz", "ab12"),
            "raw/d=x/orders~ab12.csv.gz"
        );
        assert_eq!(with_version_tag("raw/README", "ab12"), "raw/README~ab12");
        assert_eq!(with_version_tag("raw/.hidden", "ab12"), "raw/.hidden~ab12");
        assert_eq!(with_version_tag("top.csv", "ab12"), "top~ab12.csv");
    }
}
