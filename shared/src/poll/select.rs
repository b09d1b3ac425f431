//! Which listed files the poller takes: the first rule whose pattern matches the
//! path, whether the file is complete yet (a minimum age, size and mtime unchanged
//! since the previous poll, a marker file), and the identity of the version seen.
//!
//! Everything here is pure: the poller (and `tributary ls`) loads what the
//! previous poll saw, calls [`select`], and stores [`observe`]'s output for the
//! next poll.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ports::FileVersion;
use crate::ports::listing::{EntryKind, ListEntry, Precision, join_path};
use crate::registry::{PathMatcher, PatternError, Rule, Source};

/// A regular file seen in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Full path on the server.
    pub path: String,
    pub size: Option<u64>,
    pub mtime: Option<DateTime<Utc>>,
    pub precision: Precision,
    /// The listing line, for forensics.
    pub raw: String,
}

impl ListedFile {
    /// The file of a listing entry in `dir`; `None` for directories and symlinks
    /// (a link's listed size is that of the link, not of the file).
    pub fn from_entry(dir: &str, entry: &ListEntry) -> Option<ListedFile> {
        (entry.kind == EntryKind::File).then(|| ListedFile {
            path: join_path(dir, &entry.name),
            size: entry.size,
            mtime: entry.mtime,
            precision: entry.mtime_precision,
            raw: entry.raw.clone(),
        })
    }

    /// The latest instant the file may really have been modified at, given the
    /// listing's precision (`10:15` may mean 10:15:59).
    fn latest_mtime(&self) -> Option<DateTime<Utc>> {
        let slack = match self.precision {
            Precision::Second => Duration::zero(),
            Precision::Minute => Duration::seconds(59),
            Precision::Day => Duration::seconds(86_399),
        };
        self.mtime.map(|t| t + slack)
    }
}

/// What a poll saw of a path, remembered until the next poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub size: Option<u64>,
    pub mtime: Option<DateTime<Utc>>,
    pub seen_at: DateTime<Utc>,
}

/// Whether a matched file may be taken now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "why", rename_all = "snake_case")]
pub enum Readiness {
    /// Complete: hand it to the ingester.
    Ready,
    /// Maybe still being written; every unmet condition, joined by `; `.
    NotYet(String),
}

/// The poller's view of one listed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub file: ListedFile,
    /// The first rule (in registry order) whose pattern matches, if any.
    pub rule_id: Option<String>,
    /// Whether it may be taken now (`NotYet` for a file no rule matches).
    pub readiness: Readiness,
    /// The version seen, when the listing gave a size.
    pub version: Option<FileVersion>,
}

/// The rules of a source with their patterns compiled once.
pub struct SourceRules<'a> {
    source: &'a Source,
    matchers: Vec<(&'a Rule, PathMatcher)>,
    marker_suffixes: Vec<&'a str>,
}

impl<'a> SourceRules<'a> {
    /// Compiles the source's patterns (a validated registry never fails here).
    pub fn compile(source: &'a Source) -> Result<Self, PatternError> {
        let matchers = source
            .rules
            .iter()
            .map(|rule| rule.matcher().map(|m| (rule, m)))
            .collect::<Result<Vec<_>, _>>()?;
        let marker_suffixes = source
            .rules
            .iter()
            .filter_map(|r| r.stability.marker_suffix.as_deref())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(SourceRules {
            source,
            matchers,
            marker_suffixes,
        })
    }

    /// The first rule matching `path`.
    pub fn rule_for(&self, path: &str) -> Option<&'a Rule> {
        self.matchers
            .iter()
            .find(|(_, m)| m.is_match(path))
            .map(|(rule, _)| *rule)
    }

    /// Whether `path` is the marker of a listed file (`x.csv.done` next to
    /// `x.csv`): a marker is never data itself. A file that merely ends like a
    /// marker, with no file it would mark, stays a candidate.
    pub fn is_marker(&self, path: &str, present: &HashSet<&str>) -> bool {
        self.marker_suffixes.iter().any(|suffix| {
            path.strip_suffix(suffix)
                .is_some_and(|stem| !stem.is_empty() && present.contains(stem))
        })
    }
}

/// Decides, for every listed file of `rules`' source, its rule and readiness.
/// `previous` maps paths to what earlier polls saw (see [`observe`]); `now` is
/// the listing time. A rule's "unchanged" condition holds only once the file
/// has looked the same for at least `min_unchanged`, so two polls a moment
/// apart (a duplicate poll message, a manual poll during a scheduled one)
/// cannot take a file whose writer merely paused.
pub fn select(
    rules: &SourceRules<'_>,
    files: &[ListedFile],
    previous: &HashMap<String, Observation>,
    now: DateTime<Utc>,
    min_unchanged: Duration,
) -> Vec<Candidate> {
    let present: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    files
        .iter()
        .filter(|f| !rules.is_marker(&f.path, &present))
        .map(|file| {
            let version = file.size.map(|size| FileVersion {
                source: rules.source.id.clone(),
                path: file.path.clone(),
                size,
                mtime: file.mtime,
            });
            let Some(rule) = rules.rule_for(&file.path) else {
                return Candidate {
                    file: file.clone(),
                    rule_id: None,
                    readiness: Readiness::NotYet("matches no rule".into()),
                    version,
                };
            };
            let unmet = unmet_conditions(
                rule,
                file,
                previous.get(&file.path),
                &present,
                now,
                min_unchanged,
            );
            Candidate {
                file: file.clone(),
                rule_id: Some(rule.id.clone()),
                readiness: if unmet.is_empty() {
                    Readiness::Ready
                } else {
                    Readiness::NotYet(unmet.join("; "))
                },
                version,
            }
        })
        .collect()
}

fn unmet_conditions(
    rule: &Rule,
    file: &ListedFile,
    previous: Option<&Observation>,
    present: &HashSet<&str>,
    now: DateTime<Utc>,
    min_unchanged: Duration,
) -> Vec<String> {
    let stability = &rule.stability;
    let mut unmet = Vec::new();
    if file.size.is_none() {
        unmet.push("the listing gives no size".to_string());
    }
    if let Some(min_age) = stability.min_age_secs {
        match file.latest_mtime() {
            None => unmet.push(format!(
                "the listing gives no modification time, so min_age_secs ({min_age}) cannot be checked"
            )),
            Some(latest) => {
                let age = (now - latest).num_seconds();
                if age < i64::try_from(min_age).unwrap_or(i64::MAX) {
                    unmet.push(format!(
                        "modified {}s ago, the rule wants at least {min_age}s",
                        age.max(0)
                    ));
                }
            }
        }
    }
    if stability.require_unchanged {
        match previous {
            None => unmet.push("first seen now; taken once unchanged at the next poll".into()),
            Some(seen) if seen.size != file.size || seen.mtime != file.mtime => {
                unmet.push(format!(
                    "changed since the previous poll (size {} → {})",
                    show(seen.size),
                    show(file.size)
                ));
            }
            Some(seen) if seen.seen_at >= now || now - seen.seen_at < min_unchanged => {
                unmet.push(format!(
                    "unchanged for {}s so far, taken once unchanged for {}s",
                    (now - seen.seen_at).num_seconds().max(0),
                    min_unchanged.num_seconds()
                ));
            }
            Some(_) => {}
        }
    }
    if let Some(suffix) = stability.marker_suffix.as_deref() {
        let marker = format!("{}{suffix}", file.path);
        if !present.contains(marker.as_str()) {
            unmet.push(format!("no marker file {marker} yet"));
        }
    }
    unmet
}

fn show(size: Option<u64>) -> String {
    size.map_or_else(|| "unknown".into(), |s| s.to_string())
}

/// What to remember of this poll's files for the next one: each file's size
/// and mtime, and since when it has looked like that (`seen_at` is kept from
/// `previous` while the file is unchanged).
pub fn observe(
    files: &[ListedFile],
    previous: &HashMap<String, Observation>,
    now: DateTime<Utc>,
) -> Vec<(String, Observation)> {
    files
        .iter()
        .map(|f| {
            let since = previous
                .get(&f.path)
                .filter(|seen| seen.size == f.size && seen.mtime == f.mtime && seen.seen_at <= now)
                .map_or(now, |seen| seen.seen_at);
            (
                f.path.clone(),
                Observation {
                    size: f.size,
                    mtime: f.mtime,
                    seen_at: since,
                },
            )
        })
        .collect()
}
