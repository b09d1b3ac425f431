//! Compiling a rule's `match` (glob or regex) into a matcher the poller runs on every
//! listed path.

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;

use super::model::PathMatch;

/// A compiled [`PathMatch`].
#[derive(Debug, Clone)]
pub struct PathMatcher {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    Glob(GlobMatcher),
    Regex(Regex),
}

/// A `match` pattern that does not compile, with the library's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("invalid glob `{pattern}`: {reason}")]
    Glob { pattern: String, reason: String },
    #[error("invalid regex `{pattern}`: {reason}")]
    Regex { pattern: String, reason: String },
}

impl PatternError {
    /// The library's reason alone, without the pattern.
    pub fn reason(&self) -> &str {
        match self {
            PatternError::Glob { reason, .. } | PatternError::Regex { reason, .. } => reason,
        }
    }
}

/// Largest compiled regex accepted (bounds memory whatever the pattern).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl PathMatch {
    /// Compiles the pattern. Globs use `literal_separator` (`*` and `?` do not cross
    /// `/`, `**` does); a regex must match the whole path.
    pub fn compile(&self) -> Result<PathMatcher, PatternError> {
        let inner = match self {
            PathMatch::Glob(pattern) => GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map(|glob| Inner::Glob(glob.compile_matcher()))
                .map_err(|err| PatternError::Glob {
                    pattern: pattern.clone(),
                    reason: err.kind().to_string(),
                })?,
            PathMatch::Regex(pattern) => {
                let build = |text: &str| {
                    regex::RegexBuilder::new(text)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .build()
                        .map_err(|err| PatternError::Regex {
                            pattern: pattern.clone(),
                            reason: regex_reason(&err),
                        })
                };
                // Compiled alone first so that errors point into the pattern as written
                // and so that a valid pattern cannot close the anchoring group early
                // (`a)|(b` would otherwise unanchor the whole expression).
                build(pattern)?;
                Inner::Regex(build(&format!("^(?:{pattern})$"))?)
            }
        };
        Ok(PathMatcher { inner })
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        match self {
            PathMatch::Glob(pattern) | PathMatch::Regex(pattern) => pattern,
        }
    }

    /// `glob` or `regex`.
    pub fn kind(&self) -> &'static str {
        match self {
            PathMatch::Glob(_) => "glob",
            PathMatch::Regex(_) => "regex",
        }
    }
}

/// The one-line reason of a regex error: syntax errors are rendered over several lines
/// (the pattern, a caret, then `error: …`); keep the `error:` line.
fn regex_reason(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .find_map(|line| line.trim().strip_prefix("error: "))
        .map(str::to_owned)
        .unwrap_or_else(|| text.split_whitespace().collect::<Vec<_>>().join(" "))
}

impl PathMatcher {
    /// Whether `path` (a full path as listed, e.g. `/outgoing/a.csv`) matches.
    pub fn is_match(&self, path: &str) -> bool {
        match &self.inner {
            Inner::Glob(glob) => glob.is_match(path),
            Inner::Regex(regex) => regex.is_match(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_star_does_not_cross_directories_but_double_star_does() {
        let m = PathMatch::Glob("/outgoing/sales_*.csv.gz".into())
            .compile()
            .unwrap();
        assert!(m.is_match("/outgoing/sales_2024-05-01.csv.gz"));
        assert!(!m.is_match("/outgoing/old/sales_2024-05-01.csv.gz"));
        assert!(!m.is_match("/outgoing/sales_1.csv.gz.tmp"));
        let deep = PathMatch::Glob("/feeds/**/*.xml".into()).compile().unwrap();
        assert!(deep.is_match("/feeds/2024/05/01/stock.xml"));
    }

    #[test]
    fn regex_must_match_the_whole_path() {
        let m = PathMatch::Regex(r"/exports/shipments_\d{8}\.jsonl".into())
            .compile()
            .unwrap();
        assert!(m.is_match("/exports/shipments_20240501.jsonl"));
        assert!(!m.is_match("/exports/shipments_20240501.jsonl.part"));
        assert!(!m.is_match("/old/exports/shipments_20240501.jsonl"));
    }

    #[test]
    fn bad_patterns_give_the_library_reason_on_one_line() {
        let err = PathMatch::Glob("/a/[b".into()).compile().unwrap_err();
        assert_eq!(err.reason(), "unclosed character class; missing ']'");
        let err = PathMatch::Regex("/a/(b".into()).compile().unwrap_err();
        assert_eq!(err.reason(), "unclosed group");
        assert_eq!(err.to_string(), "invalid regex `/a/(b`: unclosed group");
    }
}
