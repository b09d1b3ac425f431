//! Remote (server-side) paths: `/`-separated strings, never local `Path`s.

/// `dir` and `name` joined with exactly one `/`.
pub fn join(dir: &str, name: &str) -> String {
    let name = name.trim_start_matches('/');
    if dir.is_empty() {
        name.to_owned()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// The last component of `path` (`"a.csv"` for `"/in/a.csv"`).
pub fn file_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// Every directory from the first component down to `path` itself, for `mkdir -p`:
/// `"/a/b/c"` gives `"/a"`, `"/a/b"`, `"/a/b/c"`; a relative path gives relative
/// prefixes. Empty and `.` components are skipped.
pub fn prefixes(path: &str) -> Vec<String> {
    let absolute = path.starts_with('/');
    let mut current = String::new();
    let mut out = Vec::new();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if absolute || !current.is_empty() {
            current.push('/');
        }
        current.push_str(part);
        out.push(current.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_names_and_directories() {
        assert_eq!(join("/in", "a b.csv"), "/in/a b.csv");
        assert_eq!(join("/in/", "/a.csv"), "/in/a.csv");
        assert_eq!(join("", "a.csv"), "a.csv");
        assert_eq!(file_name("/in/données 1.csv"), "données 1.csv");
        assert_eq!(file_name("a.csv"), "a.csv");
    }

    #[test]
    fn prefixes_walk_down_the_path() {
        assert_eq!(prefixes("/a/b/c/"), vec!["/a", "/a/b", "/a/b/c"]);
        assert_eq!(prefixes("archive/2026"), vec!["archive", "archive/2026"]);
        assert!(prefixes("/").is_empty());
    }
}
